/* node: the dock's node table and every node life-cycle operation
 * (create, start, stop, destroy, reconcile). Each operation records its
 * intent in the node's state file before its side effects; a node being
 * operated on is busy and refuses a second operation (409). */
#ifndef ISC_NODE_H
#define ISC_NODE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

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

/* The last lines of the node's console log, or (firewall) the kernel's
 * records of its dropped packets: {"node","source","lines":[...]}. The
 * console's lines are escaped for terminals (escape.h); raw adds "raw",
 * the same lines' bytes as they are, base64. */
int node_logs_json(const char *name, bool firewall, bool raw, struct json_object **out,
		   struct dock_err *err);

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
