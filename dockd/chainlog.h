/* chainlog: an append-only, hash-chained log of one line per record, with
 * an anchor outside the file. What a record looks like is the user's
 * business (audit.h defines the dock's); a chainlog only needs each line's
 * seq, prev and hash (a parse callback) and is handed whole lines to append.
 *
 * What it promises:
 *   - append: a line is fsynced before chainlog_append returns 0; a line
 *     that cannot be written whole is taken back out and the call fails
 *     (fail closed). Headroom of co_reserve bytes is kept preallocated past
 *     the end (fallocate, KEEP_SIZE); when the filesystem is full only
 *     appends that may use the reserve get through.
 *   - checkpoint: <path>.head holds the head (last seq + hash, the first
 *     seq of the current file, the number of rotated files, the file's
 *     size), rewritten in place and fsynced after every append. It cannot
 *     stop a host root from rewriting both files; the syslog copy can show
 *     that: every record goes, with the head, to a unix datagram socket
 *     (co_syslog, the system logger by default) as AUTHPRIV.NOTICE.
 *   - rotation: past co_rotate bytes the file becomes <path>.N (N = 1, 2, ..)
 *     and the chain goes on in a new <path>: seq and prev continue, so the
 *     files verify as one chain.
 *   - open: the current file is checked against the checkpoint. A torn tail
 *     (a last line without newline) is trimmed only when the records before
 *     it end exactly at the checkpoint. Any other disagreement (truncated,
 *     rolled back, rewritten, deleted) is damage: the file is kept aside as
 *     <path>.damaged.<unix time> with its sha256, and the next record starts
 *     a new chain (seq 1) whose prev is the old head's hash. A log without a
 *     checkpoint (from before checkpoints) is trusted as found, once.
 *   - verify: the rotated files and the current one as one chain (a seq 1
 *     record with a non-zero prev is a restart, counted), then the head
 *     against the checkpoint. */
#ifndef ISC_CHAINLOG_H
#define ISC_CHAINLOG_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define CHAINLOG_LINE_MAX  8192 /* bytes of one record, newline excluded */
#define CHAINLOG_HASH_HEX  64
#define CHAINLOG_CKPT_LEN  256 /* the checkpoint file: one padded line */
#define CHAINLOG_WHY_MAX   512
#define CHAINLOG_FILES_MAX 100000 /* rotated files a verify follows */
#define CHAINLOG_DEV_LOG   "/dev/log"

/* What the chain needs of a line. */
struct chainlog_link {
	uint64_t cl_seq;
	char cl_prev[CHAINLOG_HASH_HEX + 1];
	char cl_hash[CHAINLOG_HASH_HEX + 1];
	bool cl_hash_ok; /* cl_hash is the line's own hash */
};

/* hex(SHA-256(body[0..len) + "}")) into out (CHAINLOG_HASH_HEX + 1 bytes):
 * the hash of a line whose text before its last member, the hash, is
 * body[0..len). */
void chainlog_digest(const char *body, size_t len, char *out);
/* s is a hash as lines carry it: CHAINLOG_HASH_HEX lowercase hex digits. */
bool chainlog_is_hash(const char *s);

/* One line (no newline) into its link; < 0 when it is not a record. */
typedef int (*chainlog_parse_fn)(const char *line, size_t len, struct chainlog_link *link,
				 struct dock_err *err);
/* The line for seq after prev: line (with its newline), *len, hash. */
typedef int (*chainlog_build_fn)(void *ctx, uint64_t seq, const char *prev, char *line, size_t *len,
				 char *hash, struct dock_err *err);

struct chainlog_opts {
	const char *co_path;   /* the current file */
	const char *co_syslog; /* datagram socket for the copy; NULL: none (tests) */
	const char *co_tag;    /* syslog tag */
	uint64_t co_reserve;   /* bytes kept preallocated past the end */
	uint64_t co_rotate;    /* rotate past this many bytes; 0: never */
	chainlog_parse_fn co_parse;
};

struct chainlog_ckpt {
	uint64_t ck_seq; /* last record, 0: none */
	char ck_hash[CHAINLOG_HASH_HEX + 1];
	uint64_t ck_first; /* seq of the current file's first record */
	uint64_t ck_files; /* rotated files <path>.1 .. <path>.N */
	uint64_t ck_size;  /* bytes of the current file at the head */
};

enum chainlog_found {
	CHAINLOG_FRESH,   /* no log, no checkpoint */
	CHAINLOG_OK,      /* agrees with its checkpoint */
	CHAINLOG_LEGACY,  /* a log without a checkpoint: trusted as found */
	CHAINLOG_TRIMMED, /* a torn last line was cut off at the checkpoint */
	CHAINLOG_DAMAGED, /* kept aside; the next record restarts the chain */
};

/* What chainlog_open found. */
struct chainlog_report {
	enum chainlog_found cr_found;
	char cr_why[CHAINLOG_WHY_MAX];         /* DAMAGED: truncated / rolled back / ... */
	char cr_kept[PATH_MAX + 32];           /* DAMAGED: where the file went ("" none) */
	char cr_sha256[CHAINLOG_HASH_HEX + 1]; /* of the kept file */
	uint64_t cr_trimmed;                   /* TRIMMED: bytes cut */
	struct chainlog_ckpt cr_head;          /* the head found (old head if DAMAGED) */
};

struct chainlog {
	pthread_mutex_t cl_lock;
	int cl_fd, cl_ckfd, cl_sock;
	struct chainlog_opts cl_o;
	char cl_path[PATH_MAX];
	char cl_ckpath[PATH_MAX + 8];
	char cl_sockpath[108];
	char cl_tag[32];
	struct chainlog_ckpt cl_head;
	off_t cl_alloc_end; /* preallocated up to here */
	bool cl_no_falloc;  /* the filesystem cannot preallocate */
	uint64_t cl_syslog_drops;
};

#define CHAINLOG_INIT                                                                           \
	{                                                                                       \
		.cl_lock = PTHREAD_MUTEX_INITIALIZER, .cl_fd = -1, .cl_ckfd = -1, .cl_sock = -1 \
	}

/* Open (create) the log, flock it, check it against its checkpoint and
 * say what was found in *rep. -EBUSY if already open. */
int chainlog_open(struct chainlog *cl, const struct chainlog_opts *o, struct chainlog_report *rep,
		  struct dock_err *err);
void chainlog_close(struct chainlog *cl);
bool chainlog_is_open(struct chainlog *cl);

/* Append the line build makes. use_reserve: may write into the reserve
 * when the filesystem is full (records of stop, destroy, and of what
 * already happened); otherwise a full filesystem refuses the record with
 * -ENOSPC. On failure nothing was added. */
int chainlog_append(struct chainlog *cl, chainlog_build_fn build, void *ctx, bool use_reserve,
		    struct dock_err *err);

/* The head (last seq and hash). */
void chainlog_head(struct chainlog *cl, struct chainlog_ckpt *out);

/* A critical line to the syslog socket (AUTHPRIV.CRIT), e.g. damage found. */
void chainlog_syslog_crit(struct chainlog *cl, const char *msg);

/* The checkpoint text (CHAINLOG_CKPT_LEN bytes) for ck, and back; the
 * parser takes untrusted bytes (a fuzz target). */
void chainlog_ckpt_format(const struct chainlog_ckpt *ck, char buf[CHAINLOG_CKPT_LEN]);
int chainlog_ckpt_parse(const char *buf, size_t len, struct chainlog_ckpt *ck,
			struct dock_err *err);

struct chainlog_verdict {
	uint64_t cv_records;  /* intact records, all files */
	uint64_t cv_files;    /* files read */
	uint64_t cv_restarts; /* chains restarted after damage */
	uint64_t cv_bad_line; /* 0: the chain is whole */
	char cv_bad_file[PATH_MAX + 32];
	bool cv_ckpt_ok;                    /* agrees with the checkpoint (or none) */
	char cv_ckpt_why[CHAINLOG_WHY_MAX]; /* truncation, rollback, deletion */
};

/* Verify path's rotated files and path as one chain, then the checkpoint.
 * 0 when both hold; -EBADMSG with err saying the first problem (*v says
 * which); other negative errnos: could not read. */
int chainlog_verify(const char *path, chainlog_parse_fn parse, struct chainlog_verdict *v,
		    struct dock_err *err);

/* Call fn on each whole line of path (not over CHAINLOG_LINE_MAX);
 * fn returning < 0 stops. */
int chainlog_each(const char *path, int (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		  struct dock_err *err);

#endif
