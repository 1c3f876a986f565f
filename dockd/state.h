/* state: one record per node, <state_dir>/nodes/<name>.json, written
 * atomically (temp file, fsync, rename, fsync dir). A record is written
 * before every side effect it announces, so a restart can finish or undo. */
#ifndef ISC_STATE_H
#define ISC_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "resctl.h"
#include "validate.h"

enum node_state {
	NODE_CREATING, /* intent recorded; resources may be half made */
	NODE_DEFINED,  /* everything exists, never started */
	NODE_STARTING,
	NODE_RUNNING,
	NODE_STOPPING,
	NODE_STOPPED,
	NODE_DESTROYING, /* intent recorded; resources may be half removed */
	NODE_FAILED,
	NODE_CLEANSING, /* intent recorded: halt, fresh disk with a new key, start */
	NODE_STATE_COUNT
};

/* The phase of a cleanse (NODE_CLEANSING), recorded before its side effect:
 * a dock killed in one redoes that phase at start, rolling back what it
 * half made (node.c). */
enum node_phase {
	NODE_PHASE_NONE,
	NODE_PHASE_SHUTDOWN,   /* agent shutdown request, ACPI, power off */
	NODE_PHASE_SNAPSHOT,   /* forensic copy of the old disk (when enabled) */
	NODE_PHASE_REKEY,      /* old secret and volume gone, fresh disk, new key */
	NODE_PHASE_START,      /* domain started on the fresh disk */
	NODE_PHASE_WAIT_AGENT, /* until the new boot's agent says hello */
	NODE_PHASE_COUNT
};
const char *state_phase_name(enum node_phase p);

struct agent_hello {
	uint64_t ah_protocol;
	char ah_agent[32];
	char ah_boot_id[40];
	char ah_kernel[65];
	char ah_hostname[65];
	int64_t ah_received; /* unix time */
};

/* What the dock does when a node's agent floods it with hostile input,
 * falls silent past the deadline, or a check turns FAIL. */
enum node_action {
	NODE_ACT_ALERT,
	NODE_ACT_QUARANTINE,
	NODE_ACT_CLEANSE,
	NODE_ACT_DESTROY,
	NODE_ACT_COUNT
};
const char *state_action_name(enum node_action a);
int state_parse_action(const char *s, enum node_action *out);

/* The record's format. 1: no "version" member (0ca61eb and before); 2: the
 * member, and "base_sha256", the pin of the base image; 3: "vmm_uid", the
 * uid (and gid) of the node's QEMU (vmm.h), absent in a record of an older
 * dock until the node's next start. Optional members a version does not
 * need (a record without "limits" has no resource limit beyond vCPUs and
 * memory) leave it as it is. A record of an older version is read
 * and written back as this one at dock start; a newer one is refused (its
 * file and both versions named), never misread. */
#define STATE_VERSION 3

#define NODE_PUBLISH_MAX 16
#define NODE_ALLOW_MAX   16
/* An allow entry's slot: "NAME:65535/tcp" for a 253-character name (fw.h);
 * records keep them as JSON strings, so older ones load unchanged. */
#define NODE_ALLOW_LEN   264
#define NODE_FAILING_MAX 32 /* checks.h CHECKS_MAX */

struct node_rec {
	unsigned nr_version; /* as read (state_from_json); written as STATE_VERSION */
	char nr_name[NODE_NAME_MAX + 1];
	/* 32 hex digits naming this node for good (its guest audit log,
	 * gaudit.h): random at create; a record without "id" (an older dock's)
	 * gets one derived from its name and creation time (state_node_id),
	 * the same at every load, written back with the record. */
	char nr_id[33];
	enum node_state nr_state;
	enum node_phase nr_phase; /* with NODE_CLEANSING, or where a failed cleanse stopped */
	char nr_reason[256];      /* why failed, empty otherwise */
	char nr_image[IMAGE_NAME_MAX + 1];
	char nr_base_sha256[65];        /* the image's base disk at create (pin.h); "" not pinned */
	uint32_t nr_vmm_uid;            /* its QEMU's uid and gid (vmm.h); 0 none yet */
	char nr_profile[64];            /* policy the checks judge against; may be empty */
	char nr_lab[NODE_NAME_MAX + 1]; /* the lab it belongs to (lab.h); "" none, absent before */
	uint64_t nr_memory_mib;
	uint64_t nr_vcpus;
	uint64_t nr_scratch_mib;
	struct resctl nr_limits; /* "limits": CPU, disk, network (resctl.h); none when absent */
	unsigned nr_subnet;      /* index in the subnet pool */
	char nr_mac[18];
	char nr_secret_uuid[37];  /* empty until the secret exists */
	char nr_volume[PATH_MAX]; /* ephemeral volume path */
	int64_t nr_created;
	/* Firewall policy, as fw_init rebuilds it at start. */
	char nr_published[NODE_PUBLISH_MAX][24]; /* "8080:80/tcp" */
	size_t nr_n_published;
	/* Not persisted: the published ports this start did not install (bit i
	 * for nr_published[i]: outside publish_ports, or taken), and why. */
	uint32_t nr_withheld;
	char nr_withheld_why[200];
	bool nr_egress_deny;
	char nr_egress_allow[NODE_ALLOW_MAX][NODE_ALLOW_LEN]; /* CIDR or NAME[:PORT/PROTO] */
	size_t nr_n_allow;
	bool nr_quarantined;
	bool nr_egress_public_only; /* knows private ranges are closed (else announced at start) */
	uint64_t nr_lifetime_s;     /* 0: no maximum lifetime */
	int64_t nr_cleanse_at;      /* unix time of the next automatic cleanse, 0 none */
	uint64_t nr_cleanses;       /* how many times the node was cleansed */
	enum node_action nr_on_hostile; /* default quarantine */
	enum node_action nr_on_silent;  /* default alert */
	enum node_action nr_on_fail;    /* a check turning FAIL; default alert */
	enum node_action
		nr_on_audit_gap; /* the guest audit stream broken or stopped; default alert */
	/* The checks that were FAIL in the last report: "turned FAIL" is
	 * against these, across dock restarts and cleanses. */
	char nr_failing[NODE_FAILING_MAX][24];
	size_t nr_n_failing;
	bool nr_have_hello;
	struct agent_hello nr_hello;
};

/* The id of a record without one: hex(SHA-256("isc-node-id" NUL name NUL
 * created))[0..32). Pure. */
void state_node_id(const char *name, int64_t created, char out[33]);

const char *state_name(enum node_state s);
int state_parse_name(const char *s, enum node_state *out);

/* Serialise / parse a record (parse is bounded: records may be edited). */
char *state_to_json(const struct node_rec *rec); /* malloc'd */
int state_from_json(const char *buf, size_t len, struct node_rec *rec, struct dock_err *err);

int state_save(const char *state_dir, const struct node_rec *rec, struct dock_err *err);
/* state_save in two steps, for a writer that must not hold a lock while
 * it waits for the disk: begin writes and fsyncs the record to a temp
 * file of its own (its path in tmp); end, under the writer's lock, renames
 * it over the record when keep (the record is still current), else
 * removes it; state_sync_dir then makes the rename durable. */
int state_save_begin(const char *state_dir, const struct node_rec *rec, char *tmp, size_t size,
		     struct dock_err *err);
int state_save_end(const char *state_dir, const char *name, const char *tmp, bool keep,
		   struct dock_err *err);
void state_sync_dir(const char *state_dir);
int state_load(const char *state_dir, const char *name, struct node_rec *rec, struct dock_err *err);
int state_remove(const char *state_dir, const char *name, struct dock_err *err);
/* Names of all records; *names is malloc'd, free each and the array. */
int state_list(const char *state_dir, char ***names, size_t *n, struct dock_err *err);

struct json_object;
/* Add the record's policies to o: "on_hostile", "on_silent", "on_fail" (the
 * record file and the inspect view carry them in this order). */
void state_policies_json(struct json_object *o, const struct node_rec *r);

#endif
