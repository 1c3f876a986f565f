/* gaudit: the guest audit trail. Each node's kernel audit records (agent
 * protocol 4, agentproto.h) go to a log of its own, kept by the dock where
 * the guest cannot reach it: <state_dir>/guest-audit/<node id>/audit.log,
 * keyed by the node's id (a name can be reused), append-only and
 * hash-chained through chainlog (chainlog.h: fsync, checkpoint, rotation,
 * damage kept aside). The log outlives cleanses and restarts of node and
 * dock; destroy marks it, and the dock sweeps it guest_audit_retention
 * days later; a purge removes it at once (the caller audits it).
 *
 * One record per line, a JSON object in this member order:
 *
 *   {"seq":N,"time":"2026-12-05T10:00:00Z","node":"web1","boot":"<boot id>",
 *    "kind":"record","serial":N,"sec":N,"ms":N,"rtype":N,"type":"EXECVE",
 *    "msg":"argc=2 a0=\"ls\" ...","truncated":true,"prev":"<64 hex>","hash":"<64 hex>"}
 *
 * "time" is when the dock wrote it; "kind" is "record" (a kernel record,
 * its members as above, "truncated" only when true) or one of the dock's
 * own marks, whose other members are in "detail":
 *   "boot"        a new boot id (the first record of it, or its hello);
 *   "gap"         serials that never arrived: {"from","to","missing"};
 *   "lost"        a loss counter that grew: {"agent_dropped","kernel_lost",
 *                 "overrun","dock_dropped"} (totals) and "grew" (which);
 *   "dock-start"  the first record after the dock started: what arrived
 *                 while it was away is judged by the next serial;
 *   "cleanse"     the node was cleansed (its next boot is a new one);
 *   "destroy"     the node was destroyed: kept guest_audit_retention.
 * The chain and the hash are the dock trail's (audit.h): hash =
 * hex(SHA-256(line minus its final `,"hash":"<64 hex>"}` plus `}`)).
 *
 * Writing never blocks the agent channel: records are queued (bounded:
 * GAUDIT_QUEUE_MAX records, GAUDIT_QUEUE_BYTES bytes) for one writer
 * thread; a full queue, or a state_dir below min_free_mib, drops them,
 * counted per node (the dock-dropped count, written as a "lost" mark).
 * A copy of each line goes to syslog with the tag "isc-guest-audit",
 * at most GAUDIT_SYSLOG_PER_SEC lines a second (the rest counted and said). */
#ifndef ISC_GAUDIT_H
#define ISC_GAUDIT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto.h"
#include "err.h"

#define GAUDIT_DIR            "guest-audit"
#define GAUDIT_ID_MAX         33 /* 32 hex + NUL */
#define GAUDIT_NAME_MAX       32
#define GAUDIT_BOOT_MAX       40
#define GAUDIT_LINE_MAX       8192
#define GAUDIT_QUEUE_MAX      8192
#define GAUDIT_QUEUE_BYTES    (8u << 20)
#define GAUDIT_SYSLOG_PER_SEC 100
#define GAUDIT_WINDOW         64   /* serials a late record may trail the newest by */
#define GAUDIT_OPEN_MAX       32   /* logs held open at once */
#define GAUDIT_READ_MAX       5000 /* records a read returns at most */
#define GAUDIT_ROTATE_DEFAULT (32ULL << 20)

struct gaudit_opts {
	const char *go_state_dir;
	const char *go_syslog;    /* datagram socket of the copy; NULL: none */
	uint64_t go_min_free_mib; /* below it records are dropped, counted */
	uint64_t go_rotate;       /* 0: GAUDIT_ROTATE_DEFAULT */
	uint64_t go_retention_s;  /* a destroyed node's log is kept this long */
};

/* Start the writer thread. */
int gaudit_start(const struct gaudit_opts *o, struct dock_err *err);
/* Write what is queued, close the logs, stop the writer. */
void gaudit_stop(void);
/* Wait until what was queued before the call is written (tests, purge). */
void gaudit_flush(void);

/* Queue a kernel record of node id (name, boot id for the marks). false:
 * dropped (queue full, disk below its floor), counted for the node. */
bool gaudit_record(const char *id, const char *name, const char *boot, const struct agent_audit *a);
/* Queue a mark ("boot", "cleanse", "destroy", "lost"); detail is taken
 * (may be NULL). */
bool gaudit_mark(const char *id, const char *name, const char *boot, const char *kind,
		 struct json_object *detail);

/* What the writer knows of node id's stream (for the `audit` row). */
struct gaudit_stats {
	char gs_boot[GAUDIT_BOOT_MAX]; /* the boot the counts are of */
	uint64_t gs_records;           /* records of this boot written */
	uint64_t gs_missing;           /* serials of this boot never arrived */
	uint64_t gs_explained;         /* ... of them while the dock was away (dock-start) */
	uint64_t gs_dock_dropped;      /* dropped by the dock (queue, disk), all time */
	int64_t gs_last;               /* unix time of the last record written, 0 none */
	uint64_t gs_first_serial, gs_last_serial;
};
void gaudit_stats(const char *id, struct gaudit_stats *out);
/* Count records the dock could not take (the reader's budget). */
void gaudit_dock_dropped(const char *id, uint64_t n);

/* ---- the serial tracker: pure, unit-tested ---- */

/* Serials of one boot: the newest, and which of the GAUDIT_WINDOW before it
 * arrived. A serial that falls out of the window unseen is missing. */
struct gaudit_track {
	uint64_t gt_first, gt_hi; /* 0: none yet */
	uint64_t gt_seen;         /* bit i: serial gt_hi - i arrived */
	uint64_t gt_missing;
};
/* Take serial s; returns how many serials it found missing now (0 mostly),
 * the run in *from..*to (the lowest and highest missing). */
uint64_t gaudit_track(struct gaudit_track *t, uint64_t s, uint64_t *from, uint64_t *to);
/* The first serial after the dock was away: every serial between the last
 * stored and s is missing now (the agent resends what it kept in serial
 * order, so none of them can still come), then s is taken as above. */
/* The stream went quiet (GAUDIT_SETTLE_S without a record): serials of
 * the window that have not come will not; counted missing now. */
uint64_t gaudit_track_settle(struct gaudit_track *t, uint64_t *from, uint64_t *to);
#define GAUDIT_SETTLE_S 3
uint64_t gaudit_track_resume(struct gaudit_track *t, uint64_t s, uint64_t *from, uint64_t *to);

/* ---- lines: pure ---- */

/* The kernel's name of a netlink audit type ("EXECVE"), or NULL. */
const char *gaudit_type_name(uint32_t rtype);
/* Does a record of this type only ever follow its event's SYSCALL record
 * (PATH, CWD, EXECVE, PROCTITLE, EOE, ...)? The first record after the dock
 * was away being one says the event's head was lost in flight. */
bool gaudit_type_follows(uint32_t rtype);
/* The type number of a name (as --type takes it), or -1. */
int gaudit_type_parse(const char *name);
/* Parse a line (bounded: GAUDIT_LINE_MAX, depth 3, 24 members): its seq,
 * whether its hash is its own, and *rec (a new object; rec may be NULL).
 * The fuzz target. */
int gaudit_parse_line(const char *line, size_t len, uint64_t *seq, bool *hash_ok,
		      struct json_object **rec, struct dock_err *err);
/* An EXECVE record's arguments (a0="ls" a1=6869 ...) decoded into a
 * JSON array of escaped strings (escape.h); NULL when none. */
struct json_object *gaudit_execve_args(const char *msg);

/* ---- reading (gaudit-read.c) ---- */

/* The log directory of node name or id: the live node's id when given,
 * else the newest log kept for that name (a destroyed node's), else id. */
int gaudit_resolve(const char *state_dir, const char *name_or_id, const char *live_id, char *id_out,
		   struct dock_err *err);
/* Records of id with time >= since (0 all) and type rtype (< 0 all), the
 * newest max (0: GAUDIT_READ_MAX), oldest first, each with "args" when an
 * EXECVE. */
int gaudit_read(const char *state_dir, const char *id, int64_t since, int rtype, size_t max,
		struct json_object **out, struct dock_err *err);
/* {"intact","records","files","restarts","problem",...} as audit_verify_json. */
int gaudit_verify(const char *state_dir, const char *id, struct json_object **out,
		  struct dock_err *err);
/* Remove id's log now (the writer closes it first). */
int gaudit_purge(const char *state_dir, const char *id, struct dock_err *err);
/* Remove logs of destroyed nodes older than retention_s; returns how many. */
int gaudit_sweep(const char *state_dir, uint64_t retention_s, int64_t now);

#endif
