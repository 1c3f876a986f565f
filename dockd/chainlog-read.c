/* chainlog-read: the readers of a chained log (chainlog.h): the bounded
 * line reader, one file read as a piece of chain, the checkpoint's parser
 * and judge, and verify across rotated files. The files are untrusted:
 * bounded lines, every record checked. */
#include "chainlog-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* Several lines at a time, and always room for one of the maximum length. */
#define CHAINLOG_READ_BUF (64 * 1024)

const char chainlog_zero_hash[CHAINLOG_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

enum chainlog_kind {
	CHAINLOG_LINE_WHOLE,   /* ended by a newline */
	CHAINLOG_LINE_LONG,    /* over CHAINLOG_LINE_MAX */
	CHAINLOG_LINE_UNENDED, /* the file's last bytes, without a newline */
};

/* Lines of a file, streamed through a fixed buffer. */
struct chainlog_lines {
	int lr_fd;
	char *lr_buf;
	size_t lr_start, lr_end;
	bool lr_eof;
	uint64_t lr_lineno;
	off_t lr_off;      /* file offset of lr_buf[lr_end] */
	off_t lr_line_end; /* offset just past the line returned last */
};

static int chainlog_fill(struct chainlog_lines *rd)
{
	ssize_t n;

	if (rd->lr_start > 0) {
		memmove(rd->lr_buf, rd->lr_buf + rd->lr_start, rd->lr_end - rd->lr_start);
		rd->lr_end -= rd->lr_start;
		rd->lr_start = 0;
	}
	do
		n = read(rd->lr_fd, rd->lr_buf + rd->lr_end, CHAINLOG_READ_BUF - rd->lr_end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		rd->lr_eof = true;
	rd->lr_end += (size_t)n;
	rd->lr_off += n;
	return 0;
}

/* Offset in the file of lr_buf[i]. */
static off_t chainlog_off(const struct chainlog_lines *rd, size_t i)
{
	return rd->lr_off - (off_t)(rd->lr_end - i);
}

/* The next line: 1 (*line, *len, *kind), 0 at the end, or -errno. */
static int chainlog_next(struct chainlog_lines *rd, const char **line, size_t *len,
			 enum chainlog_kind *kind)
{
	bool skipping = false;
	char *nl;
	int r;

	for (;;) {
		nl = memchr(rd->lr_buf + rd->lr_start, '\n', rd->lr_end - rd->lr_start);
		if (nl != NULL) {
			*line = rd->lr_buf + rd->lr_start;
			*len = (size_t)(nl - *line);
			rd->lr_start = (size_t)(nl - rd->lr_buf) + 1;
			rd->lr_line_end = chainlog_off(rd, rd->lr_start);
			rd->lr_lineno++;
			*kind = skipping || *len > CHAINLOG_LINE_MAX ? CHAINLOG_LINE_LONG
								     : CHAINLOG_LINE_WHOLE;
			return 1;
		}
		if (rd->lr_end - rd->lr_start > CHAINLOG_LINE_MAX) {
			/* Too long to be a record: look for its end without
			 * keeping it. */
			skipping = true;
			rd->lr_start = rd->lr_end = 0;
		}
		if (rd->lr_eof) {
			if (rd->lr_start == rd->lr_end && !skipping)
				return 0;
			*line = rd->lr_buf + rd->lr_start;
			*len = rd->lr_end - rd->lr_start;
			rd->lr_start = rd->lr_end;
			rd->lr_line_end = rd->lr_off;
			rd->lr_lineno++;
			*kind = skipping ? CHAINLOG_LINE_LONG : CHAINLOG_LINE_UNENDED;
			return 1;
		}
		r = chainlog_fill(rd);
		if (r < 0)
			return r;
	}
}

static int chainlog_lines_open(const char *path, struct chainlog_lines *rd)
{
	memset(rd, 0, sizeof(*rd));
	rd->lr_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rd->lr_fd < 0)
		return -errno;
	rd->lr_buf = malloc(CHAINLOG_READ_BUF);
	if (rd->lr_buf == NULL) {
		close(rd->lr_fd);
		return -ENOMEM;
	}
	return 0;
}

static void chainlog_lines_close(struct chainlog_lines *rd)
{
	free(rd->lr_buf);
	if (rd->lr_fd >= 0)
		close(rd->lr_fd);
	rd->lr_buf = NULL;
	rd->lr_fd = -1;
}

int chainlog_each(const char *path, int (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		  struct dock_err *err)
{
	struct chainlog_lines rd;
	enum chainlog_kind kind;
	const char *line;
	size_t len;
	int r = chainlog_lines_open(path, &rd);

	if (r < 0)
		return err_set(err, r == -ENOENT ? 404 : 500, -r, "log %s: %s", path, strerror(-r));
	while ((r = chainlog_next(&rd, &line, &len, &kind)) > 0)
		if (kind == CHAINLOG_LINE_WHOLE && fn(ctx, line, len) < 0)
			break;
	chainlog_lines_close(&rd);
	if (r < 0)
		return err_set(err, 500, -r, "log %s: read: %s", path, strerror(-r));
	return 0;
}

/* Is link the next one after s's last record? Says why not in s. */
static bool chainlog_follows(struct chainlog_scan *s, const struct chainlog_link *l, uint64_t ln)
{
	if (s->cs_records == 0)
		return true; /* the file's first record: the caller links files */
	if (l->cl_seq != s->cs_last_seq + 1)
		snprintf(s->cs_why, sizeof(s->cs_why),
			 "line %" PRIu64 ": seq %" PRIu64 " where %" PRIu64
			 " was expected (a record is missing, repeated or moved)",
			 ln, l->cl_seq, s->cs_last_seq + 1);
	else if (strcmp(l->cl_prev, s->cs_last_hash) != 0)
		snprintf(s->cs_why, sizeof(s->cs_why),
			 "line %" PRIu64 " (seq %" PRIu64
			 "): prev is not the hash of the record before it",
			 ln, l->cl_seq);
	else
		return true;
	return false;
}

/* One line into s; false (s says why) when the chain stops here. */
static bool chainlog_scan_line(struct chainlog_scan *s, chainlog_parse_fn parse, const char *line,
			       size_t len, enum chainlog_kind kind, uint64_t ln)
{
	struct dock_err why = { 0 };
	struct chainlog_link l;

	s->cs_end = CHAINLOG_END_BROKEN;
	if (kind == CHAINLOG_LINE_LONG) {
		snprintf(s->cs_why, sizeof(s->cs_why), "line %" PRIu64 ": longer than %d bytes", ln,
			 CHAINLOG_LINE_MAX);
		return false;
	}
	if (kind == CHAINLOG_LINE_UNENDED) {
		s->cs_end = CHAINLOG_END_TORN;
		snprintf(s->cs_why, sizeof(s->cs_why),
			 "line %" PRIu64 ": truncated (the file does not end with a newline)", ln);
		return false;
	}
	memset(&l, 0, sizeof(l));
	if (parse(line, len, &l, &why) < 0) {
		snprintf(s->cs_why, sizeof(s->cs_why), "line %" PRIu64 ": not a record: %.400s", ln,
			 why.de_msg);
		return false;
	}
	if (!l.cl_hash_ok) {
		snprintf(s->cs_why, sizeof(s->cs_why),
			 "line %" PRIu64 " (seq %" PRIu64
			 "): hash mismatch, the record was altered",
			 ln, l.cl_seq);
		return false;
	}
	if (!chainlog_follows(s, &l, ln))
		return false;
	if (s->cs_records == 0) {
		s->cs_first_seq = l.cl_seq;
		memcpy(s->cs_first_prev, l.cl_prev, sizeof(s->cs_first_prev));
	}
	if (l.cl_seq == s->cs_at_seq)
		memcpy(s->cs_at_hash, l.cl_hash, sizeof(s->cs_at_hash));
	s->cs_records++;
	s->cs_last_seq = l.cl_seq;
	memcpy(s->cs_last_hash, l.cl_hash, sizeof(s->cs_last_hash));
	s->cs_end = CHAINLOG_END_WHOLE;
	return true;
}

int chainlog_scan_file(const char *path, chainlog_parse_fn parse, struct chainlog_scan *s)
{
	struct chainlog_lines rd;
	enum chainlog_kind kind;
	const char *line;
	size_t len;
	int r = chainlog_lines_open(path, &rd);

	s->cs_records = s->cs_first_seq = s->cs_last_seq = s->cs_bad_line = 0;
	s->cs_good_end = s->cs_size = 0;
	s->cs_end = CHAINLOG_END_WHOLE;
	s->cs_why[0] = s->cs_at_hash[0] = '\0';
	memcpy(s->cs_last_hash, chainlog_zero_hash, sizeof(s->cs_last_hash));
	memcpy(s->cs_first_prev, chainlog_zero_hash, sizeof(s->cs_first_prev));
	if (r < 0)
		return r;
	while ((r = chainlog_next(&rd, &line, &len, &kind)) > 0) {
		if (!chainlog_scan_line(s, parse, line, len, kind, rd.lr_lineno)) {
			s->cs_bad_line = rd.lr_lineno;
			break;
		}
		s->cs_good_end = rd.lr_line_end;
	}
	s->cs_size = lseek(rd.lr_fd, 0, SEEK_END);
	chainlog_lines_close(&rd);
	return r < 0 ? r : 0;
}

/* ---- the checkpoint ---- */

void chainlog_ckpt_format(const struct chainlog_ckpt *ck, char buf[CHAINLOG_CKPT_LEN])
{
	int n = snprintf(buf, CHAINLOG_CKPT_LEN,
			 "isc-chainlog-head 1 seq=%" PRIu64 " hash=%s first=%" PRIu64
			 " files=%" PRIu64 " size=%" PRIu64,
			 ck->ck_seq, ck->ck_hash, ck->ck_first, ck->ck_files, ck->ck_size);

	/* Fixed length, so that rewriting it in place never allocates. */
	if (n < 0 || n > CHAINLOG_CKPT_LEN - 1)
		n = 0;
	memset(buf + n, ' ', (size_t)(CHAINLOG_CKPT_LEN - 1 - n));
	buf[CHAINLOG_CKPT_LEN - 1] = '\n';
}

/* "key=<digits>" at *p, advancing it; bounded, no overflow. */
static int chainlog_ckpt_u64(const char **p, const char *end, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	uint64_t v = 0;
	const char *s = *p;

	if ((size_t)(end - s) < kl + 2 || memcmp(s, key, kl) != 0 || s[kl] != '=')
		return -EINVAL;
	s += kl + 1;
	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s < end && *s == ' ')
		s++;
	*p = s;
	*out = v;
	return 0;
}

int chainlog_ckpt_parse(const char *buf, size_t len, struct chainlog_ckpt *ck, struct dock_err *err)
{
	static const char magic[] = "isc-chainlog-head 1 ";
	const char *p = buf, *end = buf + len;
	struct chainlog_ckpt c = { 0 };

	if (len != CHAINLOG_CKPT_LEN || buf[len - 1] != '\n' ||
	    memcmp(buf, magic, sizeof(magic) - 1) != 0)
		return err_set(err, 400, EINVAL,
			       "checkpoint: not an isc-chainlog-head line of %d bytes",
			       CHAINLOG_CKPT_LEN);
	p += sizeof(magic) - 1;
	if (chainlog_ckpt_u64(&p, end, "seq", &c.ck_seq) < 0 || end - p < 6 + CHAINLOG_HASH_HEX ||
	    memcmp(p, "hash=", 5) != 0)
		return err_set(err, 400, EINVAL, "checkpoint: bad seq or hash");
	p += 5;
	for (int i = 0; i < CHAINLOG_HASH_HEX; i++, p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return err_set(err, 400, EINVAL, "checkpoint: hash is not 64 hex digits");
		c.ck_hash[i] = *p;
	}
	if (*p++ != ' ' || chainlog_ckpt_u64(&p, end, "first", &c.ck_first) < 0 ||
	    chainlog_ckpt_u64(&p, end, "files", &c.ck_files) < 0 ||
	    chainlog_ckpt_u64(&p, end, "size", &c.ck_size) < 0)
		return err_set(err, 400, EINVAL, "checkpoint: bad first, files or size");
	for (; p < end - 1; p++)
		if (*p != ' ')
			return err_set(err, 400, EINVAL, "checkpoint: trailing bytes");
	if (c.ck_files > CHAINLOG_FILES_MAX || (c.ck_seq > 0 && c.ck_first > c.ck_seq + 1))
		return err_set(err, 400, EINVAL, "checkpoint: impossible values");
	*ck = c;
	return 0;
}

int chainlog_ckpt_read(const char *ckpath, struct chainlog_ckpt *ck, char *why, size_t why_size)
{
	struct dock_err e = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int r = file_read(ckpath, CHAINLOG_CKPT_LEN + 1, &buf, &len);

	if (r == -ENOENT)
		return r;
	if (r < 0 || chainlog_ckpt_parse(buf, len, ck, &e) < 0) {
		snprintf(why, why_size, "the checkpoint %s is unreadable (%s)", ckpath,
			 r < 0 ? strerror(-r) : e.de_msg);
		free(buf);
		return -EBADMSG;
	}
	free(buf);
	return 0;
}

void chainlog_ckpt_judge(const struct chainlog_ckpt *ck, const struct chainlog_scan *s, bool exists,
			 char *why, size_t n)
{
	why[0] = '\0';
	if (ck->ck_seq == 0 || ck->ck_seq < ck->ck_first)
		return; /* the checkpoint names no record of this file */
	if (!exists)
		snprintf(why, n, "deleted: the log is gone, its checkpoint names seq %" PRIu64,
			 ck->ck_seq);
	else if (s->cs_records == 0)
		snprintf(why, n,
			 "deleted: the log holds no record, its checkpoint names seq %" PRIu64,
			 ck->ck_seq);
	else if (s->cs_first_seq != ck->ck_first)
		snprintf(why, n,
			 "rewritten: the log starts at seq %" PRIu64
			 ", the checkpoint says %" PRIu64,
			 s->cs_first_seq, ck->ck_first);
	else if (s->cs_last_seq < ck->ck_seq)
		snprintf(why, n,
			 "truncated or rolled back: the log ends at seq %" PRIu64
			 ", the checkpoint says seq %" PRIu64,
			 s->cs_last_seq, ck->ck_seq);
	else if (strcmp(s->cs_at_hash, ck->ck_hash) != 0)
		snprintf(why, n,
			 "rolled back or rewritten: the record at seq %" PRIu64
			 " is not the one the checkpoint names",
			 ck->ck_seq);
}

/* Does the file s read continue the chain before it (last_seq, last)?
 * A first record of seq 1 starts a chain: a restart when its prev is not
 * zero. */
static bool chainlog_links(const struct chainlog_scan *s, uint64_t last_seq, const char *last,
			   struct chainlog_verdict *v)
{
	if (s->cs_records == 0)
		return true;
	if (s->cs_first_seq == 1) {
		if (strcmp(s->cs_first_prev, chainlog_zero_hash) != 0)
			v->cv_restarts++;
		return true;
	}
	return v->cv_records > 0 && s->cs_first_seq == last_seq + 1 &&
		strcmp(s->cs_first_prev, last) == 0;
}

/* The checkpoint (read once, before the files: a record appended while
 * verify reads is after it) against what verify read. */
static void chainlog_verify_ckpt(int ckr, const struct chainlog_ckpt *ck, uint64_t rotated,
				 bool exists, struct chainlog_scan *s, struct chainlog_verdict *v)
{
	v->cv_ckpt_ok = ckr == -ENOENT; /* a log from before checkpoints */
	if (ckr < 0)
		return; /* -EBADMSG: cv_ckpt_why says why */
	if (rotated < ck->ck_files)
		snprintf(v->cv_ckpt_why, sizeof(v->cv_ckpt_why),
			 "deleted: %" PRIu64 " rotated files where the checkpoint counts %" PRIu64,
			 rotated, ck->ck_files);
	else
		chainlog_ckpt_judge(ck, s, exists, v->cv_ckpt_why, sizeof(v->cv_ckpt_why));
	v->cv_ckpt_ok = v->cv_ckpt_why[0] == '\0';
}

int chainlog_verify(const char *path, chainlog_parse_fn parse, struct chainlog_verdict *v,
		    struct dock_err *err)
{
	char file[PATH_MAX + 32], ckpath[PATH_MAX + 8], last[CHAINLOG_HASH_HEX + 1];
	struct chainlog_ckpt ck;
	struct chainlog_scan s;
	uint64_t last_seq = 0, i;
	bool exists = true, current = false;
	int r, ckr;

	memset(v, 0, sizeof(*v));
	memcpy(last, chainlog_zero_hash, sizeof(last));
	snprintf(ckpath, sizeof(ckpath), "%s.head", path);
	/* The head's seq, looked for in the current file. */
	ckr = chainlog_ckpt_read(ckpath, &ck, v->cv_ckpt_why, sizeof(v->cv_ckpt_why));
	s.cs_at_seq = ckr == 0 ? ck.ck_seq : 0;
	for (i = 1; !current && i <= CHAINLOG_FILES_MAX + 1; i++) {
		snprintf(file, sizeof(file), "%s.%" PRIu64, path, i);
		if (access(file, F_OK) != 0) {
			current = true;
			snprintf(file, sizeof(file), "%s", path);
		}
		r = chainlog_scan_file(file, parse, &s);
		if (r == -ENOENT && current) {
			exists = false;
			break;
		}
		if (r < 0)
			return err_set(err, 500, -r, "log %s: %s", file, strerror(-r));
		v->cv_files++;
		if (!chainlog_links(&s, last_seq, last, v)) {
			snprintf(s.cs_why, sizeof(s.cs_why),
				 "line 1: seq %" PRIu64
				 " does not continue the chain before it (%s)",
				 s.cs_first_seq,
				 v->cv_records == 0 ? "the first record must be seq 1"
						    : "a file or records are missing");
			s.cs_bad_line = 1;
			s.cs_end = CHAINLOG_END_BROKEN;
			s.cs_records = 0;
		}
		v->cv_records += s.cs_records;
		if (s.cs_end != CHAINLOG_END_WHOLE) {
			v->cv_bad_line = s.cs_bad_line;
			snprintf(v->cv_bad_file, sizeof(v->cv_bad_file), "%s", file);
			return err_set(err, 400, EBADMSG, "log %s: %s", file, s.cs_why);
		}
		if (s.cs_records > 0) {
			last_seq = s.cs_last_seq;
			memcpy(last, s.cs_last_hash, sizeof(last));
		}
	}
	chainlog_verify_ckpt(ckr, &ck, i - 2 + (exists ? 0 : 1), exists, &s, v);
	if (!v->cv_ckpt_ok)
		return err_set(err, 400, EBADMSG, "log %s: %s", path, v->cv_ckpt_why);
	return 0;
}
