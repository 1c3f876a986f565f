/* audit: the dock's tamper-evident audit trail. Every administrative action
 * and every security event becomes one line of an append-only, hash-chained
 * log (<state_dir>/audit.log), fsynced, and a copy of the line goes to
 * syslog (LOG_AUTHPRIV|LOG_NOTICE) so a tampered file can be compared with
 * what left the machine.
 *
 * One record per line, a JSON object whose members come in this order:
 *
 *   {"seq":N,"time":"2024-05-01T12:00:00Z","who":{"uid":N}|"dock",
 *    "action":"create","node":"web1"|null,"result":"ok"|"error: ...",
 *    "detail":{...},"prev":"<64 hex>","hash":"<64 hex>"}
 *
 * The chain, precisely:
 *   - seq is 1 on the first line and grows by exactly 1 per line;
 *   - prev is the previous line's "hash", 64 '0's on the first line;
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

/* Open (create, mode 0600) the log for appending and recover seq and the
 * last hash from its last line only (a bounded read; the whole chain is
 * audit_verify's job). The file is flock'ed for as long as it is open: one
 * appender. to_syslog: also send each line to syslog. -EBADMSG when the last
 * line is damaged (not a record, truncated, bad hash): the dock refuses to
 * extend a chain it cannot vouch for; move the file aside after
 * `iscadm audit verify`. -EBUSY if already open here or in another process. */
int audit_open(const char *path, bool to_syslog, struct dock_err *err);

/* Close the log. Safe to call when not open. */
void audit_close(void);

/* Append one record. Thread-safe. uid: the peer's uid, or AUDIT_UID_DOCK.
 * action: required, one word (at most AUDIT_ACTION_MAX - 1 bytes, else
 * -EINVAL). node and result may be NULL (null / "ok"); longer strings are
 * truncated. detail is borrowed and may be NULL ({}). The record is on disk
 * (fsynced) when this returns 0; on failure nothing was added. */
int audit_append(int64_t uid, const char *action, const char *node, const char *result,
		 struct json_object *detail, struct dock_err *err);

/* Sequence number of the last record appended (0: none yet / not open). */
uint64_t audit_last_seq(void);

/* The records of path for node (NULL: all) with time >= since (0: all), the
 * most recent max of them (0 or above AUDIT_READ_MAX: AUDIT_READ_MAX), oldest
 * first. *out: a new JSON array of the records as written. Lines that are not
 * records are skipped (audit_verify reports them). */
int audit_read(const char *path, const char *node, int64_t since, size_t max,
	       struct json_object **out, struct dock_err *err);

/* Check the whole chain of path, streaming. 0 when intact, *records the
 * number of records. Otherwise -EBADMSG, *records the intact records before
 * the break, *bad_line the 1-based line of the first broken record, and err
 * says why ("line 7 (seq 7): hash mismatch", prev mismatch, seq gap,
 * unparsable, overlong, truncated). Other negative errnos: the file could
 * not be read. */
int audit_verify(const char *path, uint64_t *records, uint64_t *bad_line, struct dock_err *err);

/* Parse one line (no newline) into rec, checking its own hash (ar_hash_ok)
 * but not its place in the chain. Bounded by the limits above; the fuzz
 * target. -EINVAL/-E2BIG with err naming the problem. */
int audit_parse_line(const char *line, size_t len, struct audit_record *rec, struct dock_err *err);

#endif
