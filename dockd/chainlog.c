/* chainlog: the appender of a chained log (the contract is chainlog.h):
 * open and check against the checkpoint, append with a reserve, rotate,
 * rewrite the checkpoint, send the syslog copy. One appender per file,
 * serialised by the chainlog's mutex and an flock. */
#include "chainlog-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "escape.h"
#include "file.h"
#include "log.h"
#include "sha256.h"

#define CHAINLOG_PRI_NOTICE ((10 << 3) | 5) /* LOG_AUTHPRIV | LOG_NOTICE */
#define CHAINLOG_PRI_CRIT   ((10 << 3) | 2) /* LOG_AUTHPRIV | LOG_CRIT */

/* ---- the lines' hashes ---- */

void chainlog_digest(const char *body, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)body, (unsigned long long)len);
	crypto_hash_sha256_update(&st, (const unsigned char *)"}", 1);
	crypto_hash_sha256_final(&st, h);
	for (size_t i = 0; i < sizeof(h); i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[CHAINLOG_HASH_HEX] = '\0';
}

bool chainlog_is_hash(const char *s)
{
	if (strlen(s) != CHAINLOG_HASH_HEX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* ---- the syslog copy ---- */

static int chainlog_sock_connect(struct chainlog *cl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (cl->cl_sock >= 0)
		return 0;
	cl->cl_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (cl->cl_sock < 0)
		return -errno;
	memcpy(sa.sun_path, cl->cl_sockpath, sizeof(cl->cl_sockpath));
	if (connect(cl->cl_sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(cl->cl_sock);
		cl->cl_sock = -1;
		return -errno;
	}
	return 0;
}

/* One datagram, RFC 3164 as the system logger takes it. Never blocks the
 * dock: a logger that is away or full costs the copy, counted. The message
 * is escaped (escape.h; a record as JSON, so it still parses to the same
 * strings): json-c leaves DEL, C1 controls and bytes that are not UTF-8
 * as they are, and a SIEM's terminal or parser should see neither. */
static void chainlog_send(struct chainlog *cl, int pri, const char *what, const char *msg,
			  size_t len, unsigned esc_flags)
{
	char buf[CHAINLOG_LINE_MAX + 512], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (cl->cl_sockpath[0] == '\0')
		return;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
	n = snprintf(buf, sizeof(buf), "<%d>%s %s[%d]: %s head seq=%" PRIu64 " hash=%s: ", pri, ts,
		     cl->cl_tag, (int)getpid(), what, cl->cl_head.ck_seq, cl->cl_head.ck_hash);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	/* What does not fit is left out whole, never half an escape. */
	escape_buf(buf + n, sizeof(buf) - (size_t)n, msg, len, esc_flags);
	n += (int)strlen(buf + n);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (chainlog_sock_connect(cl) == 0 &&
		    send(cl->cl_sock, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
			return;
		/* The logger restarted: reconnect once. */
		if (cl->cl_sock >= 0)
			close(cl->cl_sock);
		cl->cl_sock = -1;
	}
	cl->cl_syslog_drops++;
}

void chainlog_syslog_crit(struct chainlog *cl, const char *msg)
{
	pthread_mutex_lock(&cl->cl_lock);
	chainlog_send(cl, CHAINLOG_PRI_CRIT, "CRITICAL", msg, strlen(msg), 0);
	pthread_mutex_unlock(&cl->cl_lock);
}

/* ---- the checkpoint and the reserve ---- */

/* In place, fixed length, fsynced: rewriting it allocates nothing, so it
 * works on a full filesystem. */
static int chainlog_ckpt_write(struct chainlog *cl)
{
	char buf[CHAINLOG_CKPT_LEN];

	chainlog_ckpt_format(&cl->cl_head, buf);
	if (pwrite(cl->cl_ckfd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return errno != 0 ? -errno : -EIO;
	return fdatasync(cl->cl_ckfd) < 0 ? -errno : 0;
}

/* Keep co_reserve bytes allocated past the end (and past extra bytes about
 * to be written); false when the filesystem has no room for them. Only the
 * missing part is asked for, and not at all when statfs says it cannot
 * fit: a failed fallocate on tmpfs gives back unwritten pages of its range,
 * which would eat the reserve one page per refused record. */
static bool chainlog_topup(struct chainlog *cl, size_t extra)
{
	off_t size = (off_t)cl->cl_head.ck_size;
	off_t want = size + (off_t)extra + (off_t)cl->cl_o.co_reserve, from;
	struct statvfs sv;

	if (cl->cl_o.co_reserve == 0 || cl->cl_no_falloc || cl->cl_alloc_end >= want)
		return true;
	from = cl->cl_alloc_end > size ? (cl->cl_alloc_end + 4095) / 4096 * 4096 : size;
	if (from >= want) {
		cl->cl_alloc_end = want;
		return true;
	}
	if (fstatvfs(cl->cl_fd, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)(want - from) + 4096)
		return false;
	if (fallocate(cl->cl_fd, FALLOC_FL_KEEP_SIZE, from, want - from) == 0) {
		cl->cl_alloc_end = want;
		return true;
	}
	if (errno == EOPNOTSUPP) {
		log_warn("log %s: the filesystem cannot preallocate: no reserve", cl->cl_path);
		cl->cl_no_falloc = true;
		return true;
	}
	return false;
}

/* ---- open ---- */

/* Open (create) path for appending, flock'ed. */
static int chainlog_open_fd(const char *path, bool create, int *out, struct dock_err *err)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0),
		      0600);

	if (fd < 0)
		return errno == ENOENT && !create
			? -ENOENT
			: err_set(err, 500, errno, "log %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK
			? err_set(err, 500, EBUSY, "log %s: in use by another process", path)
			: err_set(err, 500, e, "log %s: flock: %s", path, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, 500, EINVAL, "log %s: not a regular file", path);
	}
	*out = fd;
	return 0;
}

/* What the scan s of the current file and the checkpoint say, into rep. */
static void chainlog_judge(const struct chainlog_scan *s, bool exists, int ckr,
			   const struct chainlog_ckpt *ck, struct chainlog_report *rep)
{
	if (ckr == -EBADMSG) {
		rep->cr_found = CHAINLOG_DAMAGED; /* cr_why says why */
		return;
	}
	if (ckr < 0) {
		if (!exists || s->cs_size == 0)
			rep->cr_found = CHAINLOG_FRESH;
		else if (s->cs_end == CHAINLOG_END_WHOLE)
			rep->cr_found = CHAINLOG_LEGACY;
		else
			snprintf(rep->cr_why, sizeof(rep->cr_why), "no checkpoint, and %.480s",
				 s->cs_why);
		if (rep->cr_why[0] != '\0')
			rep->cr_found = CHAINLOG_DAMAGED;
		return;
	}
	rep->cr_found = CHAINLOG_OK;
	if (s->cs_end == CHAINLOG_END_BROKEN)
		snprintf(rep->cr_why, sizeof(rep->cr_why), "%s", s->cs_why);
	else
		chainlog_ckpt_judge(ck, s, exists, rep->cr_why, sizeof(rep->cr_why));
	if (s->cs_end == CHAINLOG_END_TORN) {
		/* A crash mid-write leaves the records up to the checkpoint
		 * and part of the next: nothing else looks like that. */
		bool at_ckpt = s->cs_records > 0
			? s->cs_last_seq == ck->ck_seq && strcmp(s->cs_last_hash, ck->ck_hash) == 0
			: ck->ck_seq < ck->ck_first;
		if (!at_ckpt)
			snprintf(rep->cr_why, sizeof(rep->cr_why),
				 "a torn last line after seq %" PRIu64
				 ", where the checkpoint says seq %" PRIu64,
				 s->cs_last_seq, ck->ck_seq);
		else if (rep->cr_why[0] == '\0')
			rep->cr_found = CHAINLOG_TRIMMED;
	}
	if (rep->cr_why[0] != '\0')
		rep->cr_found = CHAINLOG_DAMAGED;
}

/* The head to go on from, after an open that found s (not damage). */
static void chainlog_head_from(struct chainlog *cl, const struct chainlog_scan *s, int ckr,
			       const struct chainlog_ckpt *ck)
{
	struct chainlog_ckpt *h = &cl->cl_head;

	memset(h, 0, sizeof(*h));
	memcpy(h->ck_hash, chainlog_zero_hash, sizeof(h->ck_hash));
	h->ck_first = 1;
	if (ckr == 0)
		*h = *ck;
	if (s->cs_records > 0) {
		h->ck_seq = s->cs_last_seq;
		memcpy(h->ck_hash, s->cs_last_hash, sizeof(h->ck_hash));
		h->ck_first = s->cs_first_seq;
	}
	if (ckr < 0) /* a log from before checkpoints: count its rotated files */
		for (char f[PATH_MAX + 32]; h->ck_files < CHAINLOG_FILES_MAX; h->ck_files++) {
			snprintf(f, sizeof(f), "%s.%" PRIu64, cl->cl_path, h->ck_files + 1);
			if (access(f, F_OK) != 0)
				break;
		}
	h->ck_size = (uint64_t)s->cs_good_end;
}

/* Damage: keep the file aside with its digest; the next record restarts
 * the chain from the old head. */
static int chainlog_set_aside(struct chainlog *cl, int *fd, const struct chainlog_scan *s, int ckr,
			      const struct chainlog_ckpt *ck, struct chainlog_report *rep,
			      struct dock_err *err)
{
	struct chainlog_ckpt old;

	chainlog_head_from(cl, s, ckr == 0 ? 0 : -ENOENT, ck);
	old = ckr == 0 ? *ck : cl->cl_head;
	rep->cr_head = old;
	if (*fd >= 0) {
		snprintf(rep->cr_kept, sizeof(rep->cr_kept), "%s.damaged.%lld", cl->cl_path,
			 (long long)time(NULL));
		if (sha256_file(cl->cl_path, rep->cr_sha256, NULL, NULL) < 0)
			rep->cr_sha256[0] = '\0';
		if (rename(cl->cl_path, rep->cr_kept) < 0)
			return err_set(err, 500, errno, "log %s: cannot keep it aside as %s: %s",
				       cl->cl_path, rep->cr_kept, strerror(errno));
		close(*fd);
		*fd = -1;
	}
	memset(&cl->cl_head, 0, sizeof(cl->cl_head));
	memcpy(cl->cl_head.ck_hash, old.ck_hash, sizeof(old.ck_hash));
	cl->cl_head.ck_first = 1;
	cl->cl_head.ck_files = old.ck_files;
	return chainlog_open_fd(cl->cl_path, true, fd, err);
}

static void chainlog_setup(struct chainlog *cl, const struct chainlog_opts *o)
{
	cl->cl_o = *o;
	snprintf(cl->cl_path, sizeof(cl->cl_path), "%s", o->co_path);
	snprintf(cl->cl_ckpath, sizeof(cl->cl_ckpath), "%s.head", o->co_path);
	snprintf(cl->cl_sockpath, sizeof(cl->cl_sockpath), "%s",
		 o->co_syslog != NULL ? o->co_syslog : "");
	snprintf(cl->cl_tag, sizeof(cl->cl_tag), "%s", o->co_tag != NULL ? o->co_tag : "chainlog");
	cl->cl_alloc_end = 0;
	cl->cl_no_falloc = false;
	cl->cl_syslog_drops = 0;
}

/* Check the file against the checkpoint, then trim, keep aside or go on. */
static int chainlog_check(struct chainlog *cl, int *fd, struct chainlog_report *rep,
			  struct dock_err *err)
{
	struct chainlog_scan s = { 0 };
	struct chainlog_ckpt ck = { 0 };
	int ckr, r;

	ckr = chainlog_ckpt_read(cl->cl_ckpath, &ck, rep->cr_why, sizeof(rep->cr_why));
	s.cs_at_seq = ckr == 0 ? ck.ck_seq : 0;
	r = chainlog_scan_file(cl->cl_path, cl->cl_o.co_parse, &s);
	if (r < 0 && (r != -ENOENT || *fd >= 0))
		return err_set(err, 500, -r, "log %s: read: %s", cl->cl_path, strerror(-r));
	chainlog_judge(&s, *fd >= 0, ckr, &ck, rep);
	if (rep->cr_found == CHAINLOG_DAMAGED)
		return chainlog_set_aside(cl, fd, &s, ckr, &ck, rep, err);
	chainlog_head_from(cl, &s, ckr, &ck);
	rep->cr_head = cl->cl_head;
	if (rep->cr_found == CHAINLOG_TRIMMED) {
		rep->cr_trimmed = (uint64_t)(s.cs_size - s.cs_good_end);
		if (ftruncate(*fd, s.cs_good_end) < 0 || fsync(*fd) < 0)
			return err_set(err, 500, errno, "log %s: cannot trim its torn tail: %s",
				       cl->cl_path, strerror(errno));
	}
	if (*fd < 0)
		return chainlog_open_fd(cl->cl_path, true, fd, err);
	return 0;
}

int chainlog_open(struct chainlog *cl, const struct chainlog_opts *o, struct chainlog_report *rep,
		  struct dock_err *err)
{
	int fd = -1, r;

	memset(rep, 0, sizeof(*rep));
	pthread_mutex_lock(&cl->cl_lock);
	if (cl->cl_fd >= 0) {
		pthread_mutex_unlock(&cl->cl_lock);
		return err_set(err, 500, EBUSY, "log %s: already open", o->co_path);
	}
	chainlog_setup(cl, o);
	r = chainlog_open_fd(cl->cl_path, false, &fd, err);
	if (r < 0 && r != -ENOENT)
		goto out;
	r = chainlog_check(cl, &fd, rep, err);
	if (r < 0)
		goto out;
	cl->cl_ckfd = open(cl->cl_ckpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (cl->cl_ckfd < 0) {
		r = err_set(err, 500, errno, "log %s: checkpoint %s: %s", cl->cl_path,
			    cl->cl_ckpath, strerror(errno));
		goto out;
	}
	cl->cl_fd = fd;
	fd = -1;
	file_sync_dir(cl->cl_path);
	r = chainlog_ckpt_write(cl);
	if (r < 0) {
		err_set(err, 500, -r, "log %s: checkpoint %s: %s", cl->cl_path, cl->cl_ckpath,
			strerror(-r));
		close(cl->cl_fd);
		close(cl->cl_ckfd);
		cl->cl_fd = cl->cl_ckfd = -1;
		goto out;
	}
	chainlog_topup(cl, 0);
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&cl->cl_lock);
	return r;
}

void chainlog_close(struct chainlog *cl)
{
	pthread_mutex_lock(&cl->cl_lock);
	if (cl->cl_fd >= 0)
		close(cl->cl_fd);
	if (cl->cl_ckfd >= 0)
		close(cl->cl_ckfd);
	if (cl->cl_sock >= 0)
		close(cl->cl_sock);
	cl->cl_fd = cl->cl_ckfd = cl->cl_sock = -1;
	memset(&cl->cl_head, 0, sizeof(cl->cl_head));
	pthread_mutex_unlock(&cl->cl_lock);
}

bool chainlog_is_open(struct chainlog *cl)
{
	bool open;

	pthread_mutex_lock(&cl->cl_lock);
	open = cl->cl_fd >= 0;
	pthread_mutex_unlock(&cl->cl_lock);
	return open;
}

void chainlog_head(struct chainlog *cl, struct chainlog_ckpt *out)
{
	pthread_mutex_lock(&cl->cl_lock);
	*out = cl->cl_head;
	pthread_mutex_unlock(&cl->cl_lock);
}

/* ---- append ---- */

/* The current file becomes <path>.N; the chain goes on in a new one. */
static int chainlog_rotate(struct chainlog *cl, struct dock_err *err)
{
	char to[PATH_MAX + 32];
	struct dock_err why = { 0 };
	int fd = -1, r;

	snprintf(to, sizeof(to), "%s.%" PRIu64, cl->cl_path, cl->cl_head.ck_files + 1);
	/* The reserve goes back first: the new file needs the room. */
	if (ftruncate(cl->cl_fd, (off_t)cl->cl_head.ck_size) < 0 || link(cl->cl_path, to) < 0)
		return err_set(err, 503, errno, "log %s: cannot rotate to %s: %s", cl->cl_path, to,
			       strerror(errno));
	cl->cl_alloc_end = (off_t)cl->cl_head.ck_size;
	r = unlink(cl->cl_path) < 0 ? -errno : chainlog_open_fd(cl->cl_path, true, &fd, &why);
	if (r < 0) {
		/* The old file is still ours: go on in it, under its name. */
		if (access(cl->cl_path, F_OK) == 0 || link(to, cl->cl_path) == 0)
			unlink(to);
		return err_set(err, 503, -r, "log %s: cannot rotate: %s", cl->cl_path,
			       why.de_msg[0] ? why.de_msg : strerror(-r));
	}
	close(cl->cl_fd);
	cl->cl_fd = fd;
	file_sync_dir(cl->cl_path);
	cl->cl_head.ck_files++;
	cl->cl_head.ck_first = cl->cl_head.ck_seq + 1;
	cl->cl_head.ck_size = 0;
	cl->cl_alloc_end = 0;
	/* A crash before the next line finds a checkpoint naming no record
	 * of the new file. */
	chainlog_ckpt_write(cl);
	chainlog_topup(cl, 0);
	return 0;
}

/* Write line whole and fsync it, or take it back out. */
static int chainlog_write(struct chainlog *cl, const char *line, size_t len, struct dock_err *err)
{
	int r = file_write_fd(cl->cl_fd, line, len);

	if (r == 0 && fsync(cl->cl_fd) < 0)
		r = -errno;
	if (r == 0)
		return 0;
	/* Half a record never stays: the chain goes on from the last whole
	 * one. (If even that fails, the next open trims the torn tail.) */
	if (ftruncate(cl->cl_fd, (off_t)cl->cl_head.ck_size) == 0)
		cl->cl_alloc_end = (off_t)cl->cl_head.ck_size;
	return err_set(err, 503, -r, "%s: write: %s", cl->cl_path, strerror(-r));
}

int chainlog_append(struct chainlog *cl, chainlog_build_fn build, void *ctx, bool use_reserve,
		    struct dock_err *err)
{
	char line[CHAINLOG_LINE_MAX + 2], hash[CHAINLOG_HASH_HEX + 1];
	size_t len = 0;
	int r;

	pthread_mutex_lock(&cl->cl_lock);
	if (cl->cl_fd < 0) {
		r = err_set(err, 503, EBADF, "log %s: not open", cl->cl_path);
		goto out;
	}
	r = build(ctx, cl->cl_head.ck_seq + 1, cl->cl_head.ck_hash, line, &len, hash, err);
	if (r < 0)
		goto out;
	/* Only records that may use the reserve eat into it. */
	if (!chainlog_topup(cl, len) && !use_reserve) {
		r = err_set(err, 503, ENOSPC,
			    "%s: the filesystem is full (its reserve is kept for stop and destroy)",
			    cl->cl_path);
		goto out;
	}
	if (cl->cl_o.co_rotate > 0 && cl->cl_head.ck_size > 0 &&
	    cl->cl_head.ck_size + len > cl->cl_o.co_rotate) {
		r = chainlog_rotate(cl, err);
		if (r < 0)
			goto out;
	}
	r = chainlog_write(cl, line, len, err);
	if (r < 0)
		goto out;
	cl->cl_head.ck_seq++;
	memcpy(cl->cl_head.ck_hash, hash, sizeof(hash));
	cl->cl_head.ck_size += len;
	/* The record is in; a checkpoint that lags one record is what a
	 * crash here leaves too, and the next append rewrites it. */
	if (chainlog_ckpt_write(cl) < 0)
		log_warn("log %s: checkpoint %s: %s", cl->cl_path, cl->cl_ckpath, strerror(errno));
	chainlog_topup(cl, 0);
	chainlog_send(cl, CHAINLOG_PRI_NOTICE, "record", line, len - 1, ESCAPE_JSON);
out:
	pthread_mutex_unlock(&cl->cl_lock);
	return r;
}
