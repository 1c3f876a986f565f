/* audit: the dock's tamper-evident audit trail. Every administrative action
 * and every security event becomes one line of an append-only, hash-chained
 * log (<state_dir>/audit.log), fsynced, kept by chainlog (chainlog.h): the
 * head in a checkpoint beside it, a copy of each line with the head sent to
 * syslog (AUTHPRIV.NOTICE, both in the foreground and as a daemon), rotation
 * into audit.log.1, .2, ... that verifies as one chain, and a reserve of
 * preallocated space so that stop and destroy can be recorded on a full
 * disk.
 *
 * An action is recorded twice: its intent ("result":"intent") before it
 * happens, and what came of it ("ok" / "error: ...") after. An action whose
 * intent cannot be written is not done (fail closed).
 *
 * One record per line, a JSON object whose members come in this order:
 *
 *   {"seq":N,"time":"2024-05-01T12:00:00Z","who":{"uid":N}|"dock",
 *    "action":"create","node":"web1"|null,"result":"ok"|"intent"|"error: ...",
 *    "detail":{...},"prev":"<64 hex>","hash":"<64 hex>"}
 *
 * The chain, precisely:
 *   - seq is 1 on the first line and grows by exactly 1 per line, across
 *     the rotated files too;
 *   - prev is the previous line's "hash", 64 '0's on the first line. A
 *     chain restarted after damage begins with an "audit-restart" record of
 *     seq 1 whose prev is the old head's hash and whose detail names the
 *     damaged file and its sha256;
 *   - hash = hex(SHA-256(B)) where B is the line's exact bytes with the
 *     trailing `,"hash":"<64 hex>"` removed, i.e. the line minus its final
 *     75 bytes `,"hash":"<64 hex>"}` plus a closing `}`. The hash member is
 *     always last, so an auditor needs no JSON canonicalisation; per line:
 *       printf '%s' "$line" | sed 's/,"hash":"[0-9a-f]\{64\}"}$/}/' | sha256sum
 *     prints the line's hash.
 * Editing any byte of a line breaks that line's hash; deleting, inserting or
 * reordering lines breaks seq or prev. Rewriting the whole tail consistently
 * needs write access to the file and leaves the syslog copy disagreeing: the
 * chain detects tampering, it does not prevent it.
 *
 * Lines are at most AUDIT_LINE_MAX bytes; the appender truncates overlong
 * strings and replaces an oversized or unrepresentable detail with
 * {"dropped":"..."} rather than lose the event. Readers treat the file as
 * untrusted input: bounded lines, bounded JSON, fixed struct. */
#ifndef ISC_AUDIT_H
#define ISC_AUDIT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AUDIT_LINE_MAX   8192 /* bytes of one record, newline excluded */
#define AUDIT_DEPTH_MAX  5    /* record 1, who/detail 2, detail nests 3 more */
#define AUDIT_FIELDS_MAX 32   /* members of any object / elements of any array */
#define AUDIT_ACTION_MAX 64   /* "create", "check-fail", ... incl. NUL */
#define AUDIT_NODE_MAX   64   /* names are 31 bytes; a refused request's is cut here */
#define AUDIT_RESULT_MAX 1024 /* "ok" or "error: <one line>" incl. NUL */
#define AUDIT_HASH_HEX   64   /* hex SHA-256 */
#define AUDIT_READ_MAX   4096 /* records audit_read returns at most */
#define AUDIT_UID_DOCK   (-1) /* who: the dock itself */

struct audit_record {
	uint64_t ar_seq;
	int64_t ar_time; /* unix seconds of "time" */
	int64_t ar_uid;  /* peer uid, AUDIT_UID_DOCK for "dock" */
	char ar_action[AUDIT_ACTION_MAX];
	char ar_node[AUDIT_NODE_MAX]; /* "" for null */
	char ar_result[AUDIT_RESULT_MAX];
	char ar_prev[AUDIT_HASH_HEX + 1];
	char ar_hash[AUDIT_HASH_HEX + 1]; /* as written in the line */
	bool ar_hash_ok;                  /* ar_hash is the SHA-256 of the line */
};

#define AUDIT_RESULT_INTENT  "intent"
#define AUDIT_ROTATE_DEFAULT (64ULL << 20) /* bytes of audit.log before it rotates */

struct audit_opts {
	const char *ao_syslog; /* datagram socket of the syslog copy; NULL: none */
	uint64_t ao_reserve;   /* bytes kept preallocated for stop and destroy */
	uint64_t ao_rotate;    /* 0: AUDIT_ROTATE_DEFAULT */
};

/* Open (create, mode 0600) the log for appending, flock'ed: one appender.
 * o NULL: no syslog copy, no reserve. The log is checked against its
 * checkpoint (chainlog.h) and what was found is the chain's next record:
 * "audit-trusted" (a log from before checkpoints, trusted once),
 * "audit-torn-tail" (a torn last line trimmed at the checkpoint), or
 * "audit-restart" (damage: truncated, rolled back, rewritten or deleted;
 * the file is kept aside and audit_alarm() says so). -EBUSY if already
 * open here or in another process. */
int audit_open(const char *path, const struct audit_opts *o, struct dock_err *err);

/* Close the log. Safe to call when not open. */
void audit_close(void);

/* The damage audit_open found, one line ("" none): shown by the dock
 * until it stops. */
const char *audit_alarm(void);

/* Append one record of what happened. Thread-safe. uid: the peer's uid, or
 * AUDIT_UID_DOCK. action: required, one word (at most AUDIT_ACTION_MAX - 1
 * bytes, else -EINVAL). node and result may be NULL (null / "ok"); longer
 * strings are truncated. detail is borrowed and may be NULL ({}). The record
 * is on disk (fsynced) when this returns 0, written from the reserve if the
 * filesystem is full; on failure nothing was added. */
int audit_append(int64_t uid, const char *action, const char *node, const char *result,
		 struct json_object *detail, struct dock_err *err);

/* Record the intent of an action before doing it ("result":"intent").
 * use_reserve: stop and destroy, the ways to free space, may use the
 * reserve; others are refused on a full filesystem. On failure (-errno,
 * err with status 503 naming the audit log) the action must not be done. */
int audit_intent(int64_t uid, const char *action, const char *node, struct json_object *detail,
		 bool use_reserve, struct dock_err *err);

/* Sequence number of the last record appended (0: none yet / not open). */
uint64_t audit_last_seq(void);

/* The records of path for node (NULL: all) with time >= since (0: all), the
 * most recent max of them (0 or above AUDIT_READ_MAX: AUDIT_READ_MAX), oldest
 * first. *out: a new JSON array of the records as written. Lines that are not
 * records are skipped (audit_verify reports them). */
int audit_read(const char *path, const char *node, int64_t since, size_t max,
	       struct json_object **out, struct dock_err *err);

/* A page of the records. ap_cursor false: as audit_read (the most recent
 * ap_limit); true: the first ap_limit records with seq > ap_after, oldest
 * first. Out: ap_matched, the records that match (node, since, cursor) in
 * all; ap_more, some of them were left out (older ones without the cursor,
 * newer ones with it). */
struct audit_page {
	bool ap_cursor;
	uint64_t ap_after;
	size_t ap_limit; /* 0 or above AUDIT_READ_MAX: AUDIT_READ_MAX */
	size_t ap_matched;
	bool ap_more;
};
int audit_read_page(const char *path, const char *node, int64_t since, struct audit_page *p,
		    struct json_object **out, struct dock_err *err);

/* The rotated files and path as one chain, then the checkpoint, streaming. 0 when intact, *records the
 * number of records. Otherwise -EBADMSG, *records the intact records before
 * the break, *bad_line the 1-based line of the first broken record, and err
 * says why ("line 7 (seq 7): hash mismatch", prev mismatch, seq gap,
 * unparsable, overlong, truncated, or against the checkpoint: truncated or
 * rolled back, rewritten, deleted; *bad_line 0 then). Other negative
 * errnos: the file could not be read. */
int audit_verify(const char *path, uint64_t *records, uint64_t *bad_line, struct dock_err *err);

/* The same as the API's answer: {"intact","records","files","restarts",
 * "chain_ok","checkpoint_ok","bad_line","bad_file","problem",
 * "startup_alarm"}; intact is false when the chain or the checkpoint
 * disagree. Negative errno only when the files cannot be read. */
int audit_verify_json(const char *path, struct json_object **out, struct dock_err *err);

/* Parse one line (no newline) into rec, checking its own hash (ar_hash_ok)
 * but not its place in the chain. Bounded by the limits above; the fuzz
 * target. -EINVAL/-E2BIG with err naming the problem. */
int audit_parse_line(const char *line, size_t len, struct audit_record *rec, struct dock_err *err);

#endif
