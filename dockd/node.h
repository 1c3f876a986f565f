/* node: the dock's node table and every node life-cycle operation
 * (create, start, stop, destroy, reconcile). Each operation records its
 * intent in the node's state file before its side effects; a node being
 * operated on is busy and refuses a second operation (409). */
#ifndef ISC_NODE_H
#define ISC_NODE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentproto.h"
#include "config.h"
#include "err.h"
#include "spec.h"
#include "state.h"

#define NODE_PREFIX "isc-"          /* the dock owns libvirt objects named isc-* */
#define NODE_POOL   "isc-ephemeral" /* storage pool of ephemeral volumes */

/* Create directories and the volume pool, load the records, reconcile them
 * with libvirt and the disk, remove orphans, rebuild the firewall. */
int node_init(const struct dock_config *cfg, struct dock_err *err);
void node_fini(void);

/* SIGHUP with a changed egress_private: one firewall batch replacing the
 * private ranges by the built-in ones, the running subnet pool and next's
 * egress_private (fw_set_private). Takes node_lock. */
int node_private_apply(const struct dock_config *next, struct dock_err *err);

int node_create(const struct node_spec *spec, struct json_object **out, struct dock_err *err);
/* What a start asks for, and what came of it. */
struct node_start_opts {
	bool so_rebase;  /* pin the node to its image's current base first (audited) */
	bool so_rekey;   /* the disk's key is gone: a fresh disk with a new key may be made */
	bool so_already; /* out: the node was running; nothing was done */
	bool so_rekeyed; /* out: its disk was re-keyed (a fresh disk, its data lost) */
};
/* A node already running: 0 and so_already. A disk whose key is gone from
 * libvirt (libvirtd restarted) is refused (409) without so_rekey. A node
 * paused by quarantine: 409. */
int node_start(const char *name, struct node_start_opts *o, struct dock_err *err);
/* A node not running (stopped, defined): 0 and *already, nothing done. */
int node_stop(const char *name, bool *already, struct dock_err *err);
/* A node whose QEMU runs (or is paused) is refused (409) unless force. */
int node_destroy(const char *name, bool force, struct dock_err *err);
/* How many nodes' records name image `image` (whatever their state); their
 * names, comma-separated, in out (cut short at size). */
size_t node_image_users(const char *image, char *out, size_t size);

struct json_object *node_list_json(void);
int node_inspect_json(const char *name, struct json_object **out, struct dock_err *err);

/* Agent channel side: the running nodes' socket paths, and what arrived. */
struct node_agent_target {
	char nat_name[NODE_NAME_MAX + 1];
	char nat_socket[PATH_MAX];
	char nat_service[32]; /* the profile's service process name, or "" */
	bool nat_shutdown;    /* send the agent a shutdown request (a cleanse) */
};
size_t node_agent_targets(struct node_agent_target *out, size_t max);
void node_agent_message(const char *name, const struct agent_msg *msg);
void node_agent_connected(const char *name, bool connected);
/* The reader's counters of malformed, over-long and rate-dropped lines. */
void node_agent_hostile(const char *name, uint64_t bad, uint64_t overlong, uint64_t dropped);
/* The reader's count of audit lines over the audit budget (agentreader.h):
 * dropped at the dock and counted in the guest audit log, never hostile. */
void node_agent_audit_dropped(const char *name, uint64_t total);
/* The id of node name (its guest audit log's key) into id (33 bytes);
 * "" and -ENOENT when no such node. */
int node_gaudit_id(const char *name, char *id);

/* Quarantine's extras (NULL: none). A paused node stays "quarantined" in
 * ls; inspect says "paused"; release resumes it. The snapshot is refused,
 * and nothing else done, without forensic_pubkey. */
struct node_quarantine_opts {
	bool nq_pause;               /* pause the domain as well */
	bool nq_snapshot;            /* a forensic snapshot first (taken paused) */
	struct json_object *nq_snap; /* out: that snapshot's description, or NULL */
};

/* Firewall policy: publish/unpublish "HOSTPORT:NODEPORT[/tcp|/udp]",
 * quarantine on/off, and the policy in force as JSON (with a "text" form). */
int node_publish(const char *name, const char *spec, bool on, struct dock_err *err);
int node_quarantine(const char *name, bool on, struct node_quarantine_opts *opt,
		    struct dock_err *err);
int node_fw_show_json(const char *name, struct json_object **out, struct dock_err *err);

/* What a logs request asks for (node-logs.c). */
struct node_logs_opts {
	bool nlo_firewall; /* the kernel's records of its dropped packets */
	bool nlo_raw;      /* the console's bytes as the guest wrote them */
	long nlo_tail;     /* the last this many lines; -1: all */
	int64_t nlo_since; /* the boots that began at or after (UNIX time); 0: all */
};

/* The console log, kept across boots: rotated at start and its boot marked
 * (node_console_boot); read as one stream over the rotated files. The
 * view: {"node","source","lines":[...]}, the lines the options select
 * (console lines carry no time: since selects boots by their markers),
 * escaped for terminals (escape.h); raw adds "raw", the same lines' bytes
 * as they are, base64. Bounded: at most NODE_LOGS_VIEW_LINES lines and 1 MiB
 * of the log; "omitted" counts the selected lines left out. The firewall's
 * records (the kernel's buffer holds them) take tail, not since. */
#define NODE_LOGS_VIEW_LINES 10000
int node_logs_json(const char *name, const struct node_logs_opts *o, struct json_object **out,
		   struct dock_err *err);

/* Following the console log: the selected lines, then new ones as the
 * guest writes them, across boots and rotations, until the node is
 * destroyed. node_follow_read: > 0 bytes into buf (whole escaped lines,
 * each ending in a newline, or with raw the bytes as they are), 0 nothing
 * new yet, -1 the end (the node is gone). node_follow_ready: whether a read
 * would give something or the end (cheap: a stat; for api-stream's ticker).
 * One follower is used by one thread at a time. */
struct node_follow;
int node_follow_open(const char *name, const struct node_logs_opts *o, struct node_follow **out,
		     struct dock_err *err);
ssize_t node_follow_read(struct node_follow *f, char *buf, size_t size);
bool node_follow_ready(struct node_follow *f);
void node_follow_close(struct node_follow *f);

/* Self-cleansing: halt, crypto-shred the ephemeral disk, fresh disk with
 * a new key, start (on demand, or by node_tick when the lifetime is up). */
int node_cleanse(const char *name, struct dock_err *err);
/* Tests only (dockd --test-hooks): a cleanse entering this phase ("rekey",
 * ...) records it and then stops for good, so a test can kill the dock. */
void node_test_pause_at(const char *phase);
/* A forensic snapshot of the node's encrypted disk (forensic.h), with
 * memory: of its memory too, dumped while it is paused. */
int node_snapshot(const char *name, bool memory, struct json_object **out, struct dock_err *err);
/* Called about every second by the main loop: starts due cleanses. */
void node_tick(void);

/* The validation table ({"node","checks","summary"}), see checks.h. */
int node_status_json(const char *name, struct json_object **out, struct dock_err *err);

#endif
