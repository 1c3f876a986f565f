/* node-int: private to the node room (dockd/node*.c), as crun's
 * cgroup-internal.h: the node in memory, the table and its lock (node.c),
 * the names of a node's resources, and what one sibling offers the others.
 * node.h stays the contract for the rest of the dock; nothing outside the
 * node room includes this header (the unit test of node-spec.c aside). */
#ifndef ISC_NODE_INT_H
#define ISC_NODE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"
#include "fw.h"
#include "image.h"
#include "netpool.h"
#include "node.h"
#include "profile.h"
#include "render.h"
#include "timing.h"

#define NODE_MAX 1024
/* QEMU's own memory on top of guest RAM (TCG's code cache included). */
#define NODE_QEMU_OVERHEAD_MIB 512

/* The agent path's budget of one node for the current minute (node-hello.c). */
struct node_agent_rate {
	int64_t ar_window;                     /* unix time the minute began */
	unsigned ar_boots, ar_lines;           /* boot-id changes and log lines in it */
	uint64_t ar_boots_over, ar_lines_over; /* over the limits: counted, said once */
};

/* One agent report: the facts of one `report` sequence number. */
struct node_report {
	uint64_t rp_seq;
	int64_t rp_time; /* when report_end arrived */
	bool rp_have[AF_COUNT];
	struct agent_fact rp_facts[AF_COUNT];
	uint64_t rp_protocol;      /* the reporting agent's protocol (its hello), 0 unknown */
	uint32_t rp_announced;     /* the facts its hello announced (protocol 3) */
	uint8_t rp_miss[AF_COUNT]; /* n_fact_miss as this report left it */
};

struct node {
	struct node_rec n_rec;
	const char *n_op;       /* operation in progress, NULL when idle */
	const char *n_op_phase; /* its step now (a static string), NULL none said */
	bool n_agent_connected;
	int64_t n_last_heartbeat;
	uint64_t n_heartbeats;
	struct node_report *n_report;  /* last complete report */
	struct node_report *n_pending; /* being received */
	uint64_t n_agent_protocol;     /* protocol of the last hello, 0 none yet */
	uint32_t n_agent_facts;        /* facts that hello announced (protocol 3) */
	uint8_t n_fact_miss[AF_COUNT]; /* consecutive reports each fact was missing or in error */
	uint64_t n_bad, n_overlong, n_dropped; /* hostile input, from the reader */
	bool n_hostile_handled;                /* the on_hostile policy ran for this boot */
	bool n_silent_handled;                 /* the on_silent policy ran for this silence */
	bool n_want_shutdown;  /* cleanse: agentchan sends the agent a shutdown request */
	bool n_shutdown_acked; /* ... and the agent acknowledged it */
	bool n_paused;         /* quarantine --pause: the domain is paused */
	int64_t n_resumed_at;  /* when release resumed it: silence counts from then */
	int64_t n_fail_since
		[CHECKS_MAX]; /* by row: first report of this boot saying FAIL, 0 none */
	bool n_have_profile;
	struct profile n_profile;
	struct timing n_timing; /* the last create/start/cleanse, not persisted */
	struct node_agent_rate n_rate;
	uint64_t n_hellos;           /* hellos received since the dock started */
	bool n_hello_dirty;          /* the record's hello waits for the writer */
	char n_hello_saved_boot[40]; /* the boot id whose hello was last persisted */
	/* The guest audit stream (agent protocol 4, node-gaudit.c). */
	bool n_audit_on;                          /* this boot's agent forwards audit */
	bool n_audit_have_status;                 /* an audit_status of this boot came */
	struct agent_audit_status n_audit_status; /* the last one */
	int64_t n_audit_status_at;                /* when it came */
	uint64_t n_audit_reader_dropped; /* the current reader's count of audit lines over budget */
	uint64_t n_audit_dock_dropped;   /* all readers', since the dock started */
	bool n_audit_gap_handled;        /* on_audit_gap ran for this stretch */
	uint64_t n_audit_gap_seen;       /* the unexplained gap it ran for */
	char n_audit_boot[40];           /* the boot the stream's state is of */
};

/* The table (node.c): every node the dock knows, guarded by node_lock, as
 * are the fields of struct node the agent channel and the ticker touch. */
extern const struct dock_config *node_cfg;
extern pthread_mutex_t node_lock;
extern struct node *node_table[NODE_MAX];
extern size_t node_count;

/* ---- names of a node's resources ---------------------------------------- */

struct node_names {
	char nn_domain[NODE_NAME_MAX + 16];
	char nn_network[NODE_NAME_MAX + 16];
	char nn_volume[NODE_NAME_MAX + 16];
	char nn_socket[PATH_MAX];
	char nn_console[PATH_MAX];
	char nn_nvram[PATH_MAX]; /* UEFI variable store of efi images' nodes */
	struct netpool_subnet nn_subnet;
};

/* A node's UEFI variables: state_dir/nvram/NAME_VARS.fd (libvirt's own
 * naming), made by libvirt from ovmf_vars at the first start. */
#define NODE_NVRAM_DIR    "nvram"
#define NODE_NVRAM_SUFFIX "_VARS.fd"
#define NVARS(a)          (sizeof(a) / sizeof((a)[0]))

/* The node as the firewall sees it; the view owns what fw_node borrows. */
struct node_fwview {
	struct fw_node fv_node;
	struct fw_publish fv_pub[NODE_PUBLISH_MAX];
	const char *fv_allow[NODE_ALLOW_MAX];
};

/* ---- node-fw.c: the host ports a publish may take ---------------------- */

/* Within publish_ports and no socket listening on it: 0, else 400 (range)
 * or 409 (taken) with err naming the port and the range or listener. */
int node_publish_allowed(const struct fw_publish *p, struct dock_err *err);
/* At start, before the firewall is rebuilt: mark the record's ports that
 * may not be installed (nr_withheld), log and audit each. */
void node_publish_screen(struct node_rec *r);

/* ---- node.c: the table, its lock, the record's transitions, timing ---- */

void node_names(const struct node_rec *r, struct node_names *nn);
struct node *node_find_locked(const char *name);
void node_free(struct node *n);
void node_remove_locked(struct node *n);
/* The node's profile, cached; a missing or broken one is logged once. */
void node_load_profile(struct node *n);
/* Mark the node busy with `op`; refuse if unknown or busy. */
int node_acquire(const char *name, const char *op, struct node **out, struct dock_err *err);
void node_release(struct node *n);
/* The step the node's operation is in now, for the views ("op_phase"):
 * a static string, e.g. "rekey"; NULL none. Takes node_lock. */
void node_op_phase(struct node *n, const char *phase);
/* Write n's record; a write that failed for want of space is tried again
 * once the records' reserve is given back (diskguard.h). node_lock held. */
int node_save_locked(struct node *n, struct dock_err *err);
/* Record a transition (before the side effect it announces). */
int node_commit(struct node *n, enum node_state st, const char *reason, struct dock_err *err);
/* Adds the time since `since` to a phase of the node's current operation;
 * returns now, the next phase's start. */
int64_t node_time(struct node *n, enum timing_phase p, int64_t since);
void node_timing_begin(struct node *n, const char *op, int64_t now);
/* The operation is complete: one line with every phase, for the log. */
void node_timing_end_locked(struct node *n, int64_t now);

/* ---- node-spec.c: the create request into the record, pure ------------- */

/* What the translation needs from outside, read by the caller beforehand. */
struct node_spec_in {
	const struct node_spec *si_spec;
	const struct dock_config *si_cfg; /* the dock's size limits */
	const struct image *si_image;     /* the image's recommended sizes */
	const char *si_profile;           /* the profile chosen (node_spec_profile) */
	int64_t si_now;                   /* the creation time */
};
/* Every published port parses (the firewall's syntax); err names the bad one. */
int node_spec_check_publish(const struct node_spec *spec, struct dock_err *err);
/* The profile a node is judged by: the one asked for, else the image's own
 * if it has one (image_has_own), else none (""). */
void node_spec_profile(const struct node_spec *spec, bool image_has_own, char *out, size_t size);
/* A size the request left out (is_default): what the image recommends if
 * more than asked, within the dock's limit max; else what was asked. */
uint64_t node_spec_size(uint64_t asked, bool is_default, uint64_t recommended, uint64_t max);
/* The record's fields from the request: name, image, profile, sizes and
 * resource limits, the creation time, published ports in canonical form, egress, lifetime, and
 * the on_hostile/on_silent policies. Subnet, MAC and on_fail are not set. */
void node_spec_rec(const struct node_spec_in *in, struct node_rec *rec);
/* on_fail: the request's, else the profile's (profile_on_fail, may be
 * NULL or ""), else alert. */
void node_spec_on_fail(const struct node_spec *spec, const char *profile_on_fail,
		       struct node_rec *rec);

/* ---- node-life.c: the libvirt objects every operation shares ----------- */

int node_render(const char *tmpl, const struct render_var *v, size_t n, char **xml,
		struct dock_err *err);
/* A fresh ephemeral disk: volume, new key, LUKS header, secret. */
int node_make_disk(struct node *n, const struct node_names *nn, struct dock_err *err);
int node_domain_xml(const struct node_rec *r, const struct node_names *nn, char **xml,
		    struct dock_err *err);
/* Delete a node's UEFI variable store; absence is success. */
int node_nvram_remove(const char *name, const char *path, struct dock_err *err);
/* Remove every trace; safe to repeat. */
int node_teardown(const struct node_rec *rec, struct dock_err *err);
/* The image node n boots: loaded, verified (verify), its base digest the
 * node's pin (pin.h; a node not pinned yet is pinned now). */
int node_boot_image(struct node *n, bool verify, struct dock_err *err);
/* Start an existing node (verify: hash its image first). */
int node_do_start(struct node *n, bool verify, struct dock_err *err);

/* ---- node-fw.c: the node as the firewall sees it ------------------------ */

void node_fw(const struct node_rec *r, const struct node_names *nn, struct node_fwview *fv);

/* ---- node-policy.c: judging reports, policies --------------------------- */

/* A report just completed (node_lock held): FAIL checks, on_fail. */
void node_judge_report_locked(struct node *n);

/* ---- node-hello.c: the hello without stalls, the agent path's budget ---- */

/* A hello from the agent (node_lock held): into the record; persisted by
 * a worker outside node_lock when it changes the record, at most once per
 * boot id and NODE_HELLO_BOOTS_PER_MIN boot changes a minute. */
void node_hello_locked(struct node *n, const struct agent_hello *h);
/* Hand n's record to the worker that writes it outside node_lock. */
void node_hello_persist_locked(struct node *n);
/* One more log line of the agent path for n: false over the minute's budget. */
bool node_agent_log_ok_locked(struct node *n);
/* A minute over: say what went over the limits in it. */
void node_agent_rate_roll_locked(struct node *n, int64_t now);

/* ---- node-gaudit.c: the guest audit stream ---------------------------- */

/* A hello (node_lock held, after node_hello_locked): forwarding or not. */
void node_gaudit_hello_locked(struct node *n, const struct agent_msg *m);
/* An audit or audit_status line (node_lock held): queued for the log. */
void node_gaudit_msg_locked(struct node *n, const struct agent_msg *m);
/* A mark in n's guest audit log ("cleanse", "destroy"), if it has one. */
void node_gaudit_mark_locked(struct node *n, const char *kind, const char *why);
/* The stream's view for the `audit` row. */
void node_gaudit_view_locked(const struct node *n, struct audit_view *out);
/* node_tick (node_lock held): an unexplained gap, a stream stopped while
 * the agent heartbeats, audit disabled: true once per stretch, *why said. */
bool node_gaudit_broken_locked(struct node *n, int64_t now, char *why, size_t size);

/* ---- node-cleanse.c and its phases (node-cleanse-phases.c) -------------- */

/* Run the cleanse phases from..to; the caller holds the node busy. */
int node_do_cleanse(struct node *n, enum node_phase from, enum node_phase to, struct dock_err *err);
/* A cleanse in a thread of its own (n already busy "cleansing"). */
void *node_cleanse_thread(void *arg);
/* The phases in order: data, not code. */
typedef int (*node_cleanse_step)(struct node *n, const struct node_names *nn, struct dock_err *err);
extern const node_cleanse_step node_cleanse_steps[NODE_PHASE_COUNT];

/* ---- node-vmm.c: the uid of a node's QEMU (vmm.h) ----------------------- */

/* Give n a uid of its own from vmm_uid_range: held by no other node, not
 * in the user or group database, carried by no file in the dock's
 * directories. node_lock held; 409 naming vmm_uid_range when exhausted. */
int node_vmm_uid_locked(struct node *n, struct dock_err *err);
/* A node without a uid (an older dock's record) gets one, recorded. */
int node_vmm_ensure(struct node *n, struct dock_err *err);
/* At dock start (node_lock held): two records with one uid, the later
 * loses it (a new one at its next start); a uid outside the range is kept. */
void node_vmm_reconcile_locked(void);
/* The domain's DAC seclabel, "+UID:+GID" (GID vmm_group's), or "" for a
 * node without a uid; 500 when vmm_group is unknown or root's. */
int node_vmm_label(const struct node_rec *r, char *buf, size_t size, struct dock_err *err);
/* A node's own copies of its image's kernel and initrd, made now:
 * state_dir/boot/NAME.vmlinuz, NAME.initrd. libvirt gives a domain's kernel
 * and initrd to the domain's uid (DAC relabel), so nodes cannot share the
 * image's; the image's stay root's. */
#define NODE_BOOT_DIR "boot"
int node_vmm_boot_files(const struct node_rec *r, const char *kernel, const char *initrd,
			char *k_out, char *i_out, size_t size, struct dock_err *err);
/* Remove them; absence is success. */
void node_vmm_boot_remove(const char *name);
/* The live QEMU of a domain (libvirt's pidfile, its command line naming
 * the domain), or -1. */
pid_t node_vmm_pid(const char *domain);
/* The `vmm` row: the live QEMU read from /proc, judged (vmm_judge). */
void node_vmm_facts(const struct node_rec *r, const struct node_names *nn, enum check_status *st,
		    char *ev, size_t size);

/* ---- node-resctl.c: the limits in force (resctl.h) ---------------------- */

/* The live XML's limits (domain_xml NULL: not running), the QEMU's
 * cgroup's and the network's of the node's firewall read-back (fw: NULL
 * or zeros when none), for the `resources` row. */
void node_resctl_facts(const struct node_rec *r, const struct node_names *nn,
		       const char *domain_xml, const struct fw_show_node *fw,
		       struct resctl_live *rl);

/* ---- node-snapshot.c: forensic snapshots, quarantine's pause ------------ */

/* A forensic snapshot is a security event: its digest goes to the trail. */
void node_audit_snapshot(const char *name, struct json_object *snap);
/* Pause (on) or resume acquired node n's domain for quarantine. */
int node_quarantine_pause(struct node *n, bool on, struct dock_err *err);
/* A forensic snapshot of acquired node n. */
int node_snapshot_acquired(struct node *n, const char *reason, bool memory,
			   struct json_object **out, struct dock_err *err);

/* ---- node-logs.c: the console log kept across boots -------------------- */

/* Before a boot (node_do_start): rotate the console log when it is over
 * NODE_CONSOLE_ROTATE bytes (virtlogd's naming: path.0 the newest of
 * NODE_CONSOLE_BACKUPS), then append the boot marker line
 * "-- isc: boot 2026-12-05T10:00:00Z --". A failure is logged, not fatal:
 * the console log is not what the node needs to run. */
void node_console_boot(const char *name, const char *path);
/* The console log and its rotated files removed; absence is fine. */
void node_console_remove(const char *path);

/* ---- flows.c: a lab's flows (flows.h) ------------------------------------ */

/* At start, after fw_init: every lab's recorded flows into the table
 * (those of nodes that exist; the record follows). Failures are logged. */
void flows_init(void);
/* A node's flows leave its lab's record and the table (node_teardown). */
void flows_node_gone(const char *name);

#endif
