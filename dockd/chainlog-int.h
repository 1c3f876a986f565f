/* chainlog-int: what chainlog.c (the appender) and chainlog-read.c (the
 * readers) share; not a contract for anyone else. */
#ifndef ISC_CHAINLOG_INT_H
#define ISC_CHAINLOG_INT_H

#include "chainlog.h"

extern const char chainlog_zero_hash[CHAINLOG_HASH_HEX + 1];

enum chainlog_end {
	CHAINLOG_END_WHOLE,  /* every line a record, in chain */
	CHAINLOG_END_TORN,   /* the last bytes are a line without newline */
	CHAINLOG_END_BROKEN, /* a line that is not a record, or out of chain */
};

/* One file read as a piece of chain. */
struct chainlog_scan {
	uint64_t cs_records;
	uint64_t cs_first_seq; /* 0: no record */
	char cs_first_prev[CHAINLOG_HASH_HEX + 1];
	uint64_t cs_last_seq;
	char cs_last_hash[CHAINLOG_HASH_HEX + 1];
	off_t cs_good_end; /* bytes up to the end of the last good record */
	off_t cs_size;
	enum chainlog_end cs_end;
	uint64_t cs_bad_line;
	char cs_why[CHAINLOG_WHY_MAX];
	uint64_t cs_at_seq;                     /* in: a seq to look for */
	char cs_at_hash[CHAINLOG_HASH_HEX + 1]; /* out: its hash, "" if absent */
};

/* Read path as a piece of chain; stops at the first problem. -ENOENT when
 * there is no file; other -errno when it cannot be read. */
int chainlog_scan_file(const char *path, chainlog_parse_fn parse, struct chainlog_scan *s);

/* Read the checkpoint of path (<path>.head): 0, -ENOENT, or -EBADMSG
 * with why filled. */
int chainlog_ckpt_read(const char *ckpath, struct chainlog_ckpt *ck, char *why, size_t why_size);

/* The head against the checkpoint for a current file scanned as s; ""
 * when they agree, else why ("truncated or rolled back: ..."). torn_ok:
 * a torn tail right after the checkpoint is not a disagreement. */
void chainlog_ckpt_judge(const struct chainlog_ckpt *ck, const struct chainlog_scan *s, bool exists,
			 char *why, size_t why_size);

#endif
