/* node-logs: a node's logs. The serial console's log is kept across boots:
 * domain.xml has virtlogd append to it, and before each boot the dock
 * rotates it when it is big and appends a boot marker line. It is read as
 * one stream over its rotated files (oldest first): the view selects by
 * boot (since) and by count (tail); a follower streams the selection and
 * then what the guest writes, across boots and rotations. And the
 * firewall's logged drops (fw_log_lines).
 *
 * Rotation: virtlogd itself rotates a log while the domain runs (its
 * max_size, 2 MiB by default; max_backups, 3) as path -> path.0, path.0 ->
 * path.1, ...; the dock rotates the same way, at start, when the log is
 * larger than console_log_max_mib (dockd.conf, 1 by default), keeping
 * console_log_files rotated files (3 by default, at most 9), so whichever
 * of the two rotates, the files form one chain and the total stays
 * bounded (1 + max(console_log_files, max_backups) files of at most
 * max(console_log_max_mib, max_size) each). The dock rotates only while
 * the domain is down: virtlogd has the file closed. The settings are read
 * at each start (live on a reload); the chain is read over every name a
 * setting allows, so files kept under a larger one are still read (and
 * dropped at the next rotation). */
#include "node-int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "timearg.h"

/* The names a log may have: path, path.0 ... path.8. */
#define NODE_LOG_FILES (CONFIG_CONSOLE_FILES_MAX + 1)
/* A longer line is cut into pieces of this size. */
#define NODE_LOG_LINE_MAX 4096
/* The view's bound on the log it shows (escaped at most 4 times as long). */
#define NODE_LOG_VIEW_BYTES (1024 * 1024)
#define NODE_LOG_CHUNK      (16 * 1024)
#define NODE_BOOT_HEAD      "-- isc: boot "
#define NODE_BOOT_TAIL      " --"

/* ---- the chain of files --------------------------------------------------- */

/* A place in the chain: file f (0 the oldest), offset off in it, v the
 * offset in the whole chain as it was when it was opened. */
struct node_pos {
	int np_f;
	off_t np_off;
	int64_t np_v;
};

/* The console log's files, opened once: a rename (a rotation) does not
 * move what is read. Limited reading stops at the sizes seen at open;
 * following reads the last file as it grows and moves to a new one. */
struct node_chain {
	char nc_path[PATH_MAX];
	int nc_fd[NODE_LOG_FILES];
	off_t nc_size[NODE_LOG_FILES];
	int64_t nc_base[NODE_LOG_FILES];
	int nc_cur;
	off_t nc_off;  /* the file offset just past what nc_buf holds */
	bool nc_grown; /* following: read past the end the log had at open */
	size_t nc_at, nc_len;
	char nc_buf[NODE_LOG_CHUNK];
	/* the line being read, and where it began */
	char nc_line[NODE_LOG_LINE_MAX];
	size_t nc_line_len;
	struct node_pos nc_line_pos;
};

static void node_chain_name(const char *path, int f, char *buf, size_t size)
{
	if (f == NODE_LOG_FILES - 1)
		snprintf(buf, size, "%s", path);
	else
		snprintf(buf, size, "%s.%d", path, NODE_LOG_FILES - 2 - f);
}

static void node_chain_open(struct node_chain *c, const char *path)
{
	int64_t v = 0;

	snprintf(c->nc_path, sizeof(c->nc_path), "%s", path);
	for (int f = 0; f < NODE_LOG_FILES; f++) {
		char name[PATH_MAX + 8];
		struct stat st;
		node_chain_name(path, f, name, sizeof(name));
		c->nc_fd[f] = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		c->nc_size[f] = c->nc_fd[f] >= 0 && fstat(c->nc_fd[f], &st) == 0 ? st.st_size : 0;
		c->nc_base[f] = v;
		v += c->nc_size[f];
	}
	c->nc_cur = 0;
	c->nc_off = 0;
	c->nc_grown = false;
	c->nc_at = c->nc_len = c->nc_line_len = 0;
}

static void node_chain_close(struct node_chain *c)
{
	for (int f = 0; f < NODE_LOG_FILES; f++)
		if (c->nc_fd[f] >= 0)
			close(c->nc_fd[f]);
}

static void node_chain_seek(struct node_chain *c, const struct node_pos *p)
{
	c->nc_cur = p->np_f;
	c->nc_off = p->np_off;
	c->nc_at = c->nc_len = c->nc_line_len = 0;
}

static struct node_pos node_chain_here(const struct node_chain *c)
{
	struct node_pos p = { c->nc_cur, c->nc_off - (off_t)(c->nc_len - c->nc_at), 0 };

	p.np_v = c->nc_base[p.np_f] + p.np_off;
	return p;
}

/* Following, at the end of the last file: has the log been rotated (a new
 * file at the path) or truncated? Moves to the new file when the old one
 * has nothing more. */
static bool node_chain_moved(struct node_chain *c)
{
	int last = NODE_LOG_FILES - 1, fd;
	struct stat st, cur = { 0 };
	char b;

	if (c->nc_fd[last] >= 0 && fstat(c->nc_fd[last], &cur) == 0 && cur.st_size < c->nc_off) {
		c->nc_off = 0; /* truncated */
		c->nc_grown = true;
		return true;
	}
	if (stat(c->nc_path, &st) < 0 || (c->nc_fd[last] >= 0 && st.st_ino == cur.st_ino))
		return false;
	/* Renamed away: the last bytes written before the rename first. */
	if (c->nc_fd[last] >= 0 && pread(c->nc_fd[last], &b, 1, c->nc_off) > 0)
		return true;
	fd = open(c->nc_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (c->nc_fd[last] >= 0)
		close(c->nc_fd[last]);
	c->nc_fd[last] = fd;
	c->nc_off = 0;
	c->nc_grown = true;
	return true;
}

/* More bytes into nc_buf; false at the end (limited: the sizes at open;
 * following: nothing more for now). */
static bool node_chain_fill(struct node_chain *c, bool follow)
{
	while (c->nc_at >= c->nc_len) {
		bool last = c->nc_cur == NODE_LOG_FILES - 1;
		size_t want = sizeof(c->nc_buf);
		ssize_t n = 0;
		if (!(follow && last) && c->nc_size[c->nc_cur] - c->nc_off < (off_t)want)
			want = (size_t)(c->nc_size[c->nc_cur] - c->nc_off);
		if (c->nc_fd[c->nc_cur] >= 0 && want > 0)
			n = pread(c->nc_fd[c->nc_cur], c->nc_buf, want, c->nc_off);
		if (n > 0) {
			c->nc_grown |= last && c->nc_off + n > c->nc_size[NODE_LOG_FILES - 1];
			c->nc_off += n;
			c->nc_at = 0;
			c->nc_len = (size_t)n;
			return true;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (!last) {
			c->nc_cur++;
			c->nc_off = 0;
		} else if (!follow || !node_chain_moved(c)) {
			return false;
		}
	}
	return true;
}

/* The next line (without its newline and the CR of CRLF; empty lines
 * skipped) into nc_line[0..*len), where it began in *pos. At the end:
 * limited, a last line without a newline is a line; following, it is kept
 * until its newline comes (or it fills NODE_LOG_LINE_MAX). */
static bool node_chain_line(struct node_chain *c, bool follow, size_t *len, struct node_pos *pos)
{
	for (;;) {
		bool end = !node_chain_fill(c, follow), done = end;
		/* Following, a new partial line waits for its end; one that was
		 * there when the log was opened is a line, as the view has it. */
		if (end && follow && (c->nc_grown || c->nc_line_len == 0))
			return false;
		if (!end) {
			const char *p = c->nc_buf + c->nc_at, *nl;
			size_t avail = c->nc_len - c->nc_at,
			       room = sizeof(c->nc_line) - c->nc_line_len;
			size_t take;
			bool cut = false;
			if (c->nc_line_len == 0)
				c->nc_line_pos = node_chain_here(c);
			nl = memchr(p, '\n', avail);
			take = nl != NULL ? (size_t)(nl - p) : avail;
			if (take > room) { /* a long line: a piece, cut between characters */
				take = escape_cut(p, take, room);
				cut = true;
			}
			memcpy(c->nc_line + c->nc_line_len, p, take);
			c->nc_line_len += take;
			c->nc_at += take;
			if (!cut && nl != NULL)
				c->nc_at++; /* the newline */
			done = cut || nl != NULL;
		}
		if (!done)
			continue;
		*len = c->nc_line_len;
		*pos = c->nc_line_pos;
		c->nc_line_len = 0;
		if (*len > 0 && c->nc_line[*len - 1] == '\r')
			(*len)--;
		if (*len > 0)
			return true;
		if (end)
			return false;
	}
}

/* ---- selecting: since (boots) and tail (lines) ----------------------------- */

/* "-- isc: boot TIME --": a boot marker's time, or -1. */
static int64_t node_boot_marker(const char *s, size_t len)
{
	size_t h = strlen(NODE_BOOT_HEAD), t = strlen(NODE_BOOT_TAIL);
	time_t when;

	if (len < h + t || memcmp(s, NODE_BOOT_HEAD, h) != 0 ||
	    memcmp(s + len - t, NODE_BOOT_TAIL, t) != 0 ||
	    timearg_rfc3339(s + h, len - h - t, &when) < 0)
		return -1;
	return (int64_t)when;
}

/* Where the selection starts, how many lines it has; the end of the chain. */
struct node_sel {
	struct node_pos ns_start;
	uint64_t ns_lines;
	int64_t ns_end;
	bool ns_found; /* since: a boot at or after it */
};

/* The first pass: the first boot marker at or after since (none: nothing
 * selected; since 0: everything), and the lines from there. */
static void node_select(struct node_chain *c, int64_t since, struct node_sel *s)
{
	struct node_pos pos;
	size_t len;
	int64_t when;

	memset(s, 0, sizeof(*s));
	s->ns_found = since <= 0;
	while (node_chain_line(c, false, &len, &pos)) {
		if (!s->ns_found && (when = node_boot_marker(c->nc_line, len)) >= since) {
			s->ns_found = true;
			s->ns_start = pos;
		}
		s->ns_lines += s->ns_found;
	}
	for (int f = 0; f < NODE_LOG_FILES; f++)
		s->ns_end += c->nc_size[f];
	if (!s->ns_found) { /* the end: nothing before it is selected */
		s->ns_start.np_f = NODE_LOG_FILES - 1;
		s->ns_start.np_off = c->nc_size[NODE_LOG_FILES - 1];
		s->ns_start.np_v = s->ns_end;
	}
}

/* The second pass: past the lines tail leaves out and those over the
 * bounds (max_bytes: of the log from the first line kept to its end; 0:
 * none); the chain is left at the first line kept. Returns how many lines
 * the bounds left out beyond what tail asked. */
static uint64_t node_select_tail(struct node_chain *c, const struct node_sel *s, long tail,
				 uint64_t max_lines, int64_t max_bytes)
{
	uint64_t want = tail >= 0 && (uint64_t)tail < s->ns_lines ? (uint64_t)tail : s->ns_lines;
	uint64_t keep = want < max_lines ? want : max_lines, skip = s->ns_lines - keep, i;
	struct node_pos pos;
	size_t len;

	node_chain_seek(c, &s->ns_start);
	for (i = 0; node_chain_line(c, false, &len, &pos); i++)
		if (i >= skip && (max_bytes <= 0 || s->ns_end - pos.np_v <= max_bytes)) {
			node_chain_seek(c, &pos);
			return i - (s->ns_lines - want);
		}
	return want;
}

/* ---- the view ---------------------------------------------------------------- */

/* The raw form: the bytes from the chain's position to its end at open,
 * base64 (they are at most NODE_LOG_VIEW_BYTES). */
static void node_console_raw(struct node_chain *c, const struct node_sel *s,
			     struct json_object *out)
{
	struct node_pos at = node_chain_here(c);
	size_t n = (size_t)(s->ns_end - at.np_v), got = 0,
	       b64len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *bin = malloc(n + 1);
	char *b64 = malloc(b64len);

	while (bin != NULL && b64 != NULL && got < n && node_chain_fill(c, false)) {
		size_t k = c->nc_len - c->nc_at < n - got ? c->nc_len - c->nc_at : n - got;
		memcpy(bin + got, c->nc_buf + c->nc_at, k);
		c->nc_at += k;
		got += k;
	}
	if (bin != NULL && b64 != NULL) {
		sodium_bin2base64(b64, b64len, bin, got, sodium_base64_VARIANT_ORIGINAL);
		json_object_object_add(out, "raw", json_object_new_string(b64));
	}
	free(bin);
	free(b64);
}

/* The console's lines the options select into out: "lines", each escaped
 * (escape.h) so that no client, JSON or terminal, meets a control sequence
 * or bytes that are not UTF-8 the guest wrote (tabs kept, the CR of CRLF
 * dropped); with raw also "raw", the bytes of the same lines as they are,
 * base64 (`iscadm logs --raw`); "omitted", the selected lines over the
 * view's bounds. */
static void node_console_view(const char *path, const struct node_logs_opts *o,
			      struct json_object *out)
{
	struct json_object *a = json_object_new_array();
	struct node_chain *c = malloc(sizeof(*c));
	char *esc = malloc(ESCAPE_SIZE(NODE_LOG_LINE_MAX));
	struct node_sel s;
	struct node_pos start, pos;
	uint64_t omitted = 0;
	size_t len;

	if (c != NULL && esc != NULL) {
		node_chain_open(c, path);
		node_select(c, o->nlo_since, &s);
		omitted = node_select_tail(c, &s, o->nlo_tail, NODE_LOGS_VIEW_LINES,
					   NODE_LOG_VIEW_BYTES);
		start = node_chain_here(c);
		while (node_chain_line(c, false, &len, &pos)) {
			escape_buf(esc, ESCAPE_SIZE(NODE_LOG_LINE_MAX), c->nc_line, len,
				   ESCAPE_KEEP_TAB);
			json_object_array_add(a, json_object_new_string(esc));
		}
		if (o->nlo_raw) {
			node_chain_seek(c, &start);
			node_console_raw(c, &s, out);
		}
		node_chain_close(c);
	}
	json_object_object_add(out, "lines", a);
	json_object_object_add(out, "omitted", json_object_new_int64((int64_t)omitted));
	free(c);
	free(esc);
}

/* The node's console log path, and its record's birth (a node made again
 * under the same name is another node). */
static int node_logs_target(const char *name, char *path, size_t size, int64_t *created,
			    struct dock_err *err)
{
	struct node_names nn;
	struct node_rec r;
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL)
		r = n->n_rec;
	pthread_mutex_unlock(&node_lock);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	node_names(&r, &nn);
	snprintf(path, size, "%s", nn.nn_console);
	if (created != NULL)
		*created = r.nr_created;
	return 0;
}

int node_logs_json(const char *name, const struct node_logs_opts *o, struct json_object **out,
		   struct dock_err *err)
{
	char path[PATH_MAX];
	long fw_lines = o->nlo_tail >= 0 ? o->nlo_tail : NODE_LOGS_VIEW_LINES;

	if (o->nlo_firewall && o->nlo_since > 0)
		return err_set(err, 400, EINVAL,
			       "since: the firewall's records carry the kernel's time since "
			       "its boot, not a date; use tail");
	if (node_logs_target(name, path, sizeof(path), NULL, err) < 0)
		return -ENOENT;
	*out = json_object_new_object();
	json_object_object_add(*out, "node", json_object_new_string(name));
	json_object_object_add(*out, "source",
			       json_object_new_string(o->nlo_firewall ? "firewall" : "console"));
	if (o->nlo_firewall)
		json_object_object_add(*out, "lines",
				       fw_log_lines(name,
						    fw_lines < NODE_LOGS_VIEW_LINES
							    ? (size_t)fw_lines
							    : NODE_LOGS_VIEW_LINES));
	else
		node_console_view(path, o, *out);
	return 0;
}

/* ---- following ------------------------------------------------------------- */

struct node_follow {
	char nf_name[NODE_NAME_MAX + 1];
	int64_t nf_created;
	bool nf_raw;
	struct node_chain nf_chain;
	/* escaped lines not yet taken */
	char nf_out[ESCAPE_SIZE(NODE_LOG_LINE_MAX) + 1];
	size_t nf_out_at, nf_out_len;
};

int node_follow_open(const char *name, const struct node_logs_opts *o, struct node_follow **out,
		     struct dock_err *err)
{
	struct node_follow *f;
	char path[PATH_MAX];
	int64_t created;
	struct node_sel s;

	if (o->nlo_firewall)
		return err_set(err, 400, EINVAL, "follow: only the console log can be followed");
	if (node_logs_target(name, path, sizeof(path), &created, err) < 0)
		return -ENOENT;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	snprintf(f->nf_name, sizeof(f->nf_name), "%s", name);
	f->nf_created = created;
	f->nf_raw = o->nlo_raw;
	node_chain_open(&f->nf_chain, path);
	node_select(&f->nf_chain, o->nlo_since, &s);
	node_select_tail(&f->nf_chain, &s, o->nlo_tail, UINT64_MAX, 0);
	*out = f;
	return 0;
}

/* Is the node gone (destroyed, or made again under its name)? */
static bool node_follow_gone(const struct node_follow *f)
{
	struct node *n;
	bool gone;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(f->nf_name);
	gone = n == NULL || n->n_rec.nr_created != f->nf_created;
	pthread_mutex_unlock(&node_lock);
	return gone;
}

ssize_t node_follow_read(struct node_follow *f, char *buf, size_t size)
{
	struct node_chain *c = &f->nf_chain;
	struct node_pos pos;
	size_t len;

	while (f->nf_out_at >= f->nf_out_len) {
		if (f->nf_raw) {
			if (!node_chain_fill(c, true))
				return node_follow_gone(f) ? -1 : 0;
			len = c->nc_len - c->nc_at < size ? c->nc_len - c->nc_at : size;
			memcpy(buf, c->nc_buf + c->nc_at, len);
			c->nc_at += len;
			return (ssize_t)len;
		}
		if (!node_chain_line(c, true, &len, &pos))
			return node_follow_gone(f) ? -1 : 0;
		escape_buf(f->nf_out, sizeof(f->nf_out) - 1, c->nc_line, len, ESCAPE_KEEP_TAB);
		f->nf_out_len = strlen(f->nf_out);
		f->nf_out[f->nf_out_len++] = '\n';
		f->nf_out_at = 0;
	}
	len = f->nf_out_len - f->nf_out_at < size ? f->nf_out_len - f->nf_out_at : size;
	memcpy(buf, f->nf_out + f->nf_out_at, len);
	f->nf_out_at += len;
	return (ssize_t)len;
}

bool node_follow_ready(struct node_follow *f)
{
	const struct node_chain *c = &f->nf_chain;
	int last = NODE_LOG_FILES - 1;
	struct stat st, cur = { 0 };

	if (f->nf_out_at < f->nf_out_len || c->nc_at < c->nc_len || c->nc_cur < last)
		return true;
	if (c->nc_fd[last] >= 0 && fstat(c->nc_fd[last], &cur) == 0 && cur.st_size != c->nc_off)
		return true;
	if (stat(c->nc_path, &st) == 0 && (c->nc_fd[last] < 0 || st.st_ino != cur.st_ino))
		return true;
	return node_follow_gone(f);
}

void node_follow_close(struct node_follow *f)
{
	if (f == NULL)
		return;
	node_chain_close(&f->nf_chain);
	free(f);
}

/* ---- at boot, at destroy --------------------------------------------------- */

/* path -> path.0 -> ... -> path.<backups-1>; older files (kept under a
 * larger console_log_files) are removed. */
static void node_console_rotate(const char *name, const char *path, int backups)
{
	char from[PATH_MAX + 8], to[PATH_MAX + 8];

	for (int i = NODE_LOG_FILES - 2; i >= backups; i--) {
		snprintf(to, sizeof(to), "%s.%d", path, i);
		if (unlink(to) < 0 && errno != ENOENT)
			log_warn("node %s: console log: remove %s: %s", name, to, strerror(errno));
	}
	for (int i = backups - 1; i >= 0; i--) {
		if (i == 0)
			snprintf(from, sizeof(from), "%s", path);
		else
			snprintf(from, sizeof(from), "%s.%d", path, i - 1);
		snprintf(to, sizeof(to), "%s.%d", path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warn("node %s: console log: rename %s to %s: %s", name, from, to,
				 strerror(errno));
	}
}

/* The last byte of the log (its newest non-empty file), '\n' for none. */
static char node_console_last(const char *path)
{
	char name[PATH_MAX + 8], last = '\n';

	for (int f = NODE_LOG_FILES - 1; f >= 0; f--) {
		struct stat st;
		int fd;
		node_chain_name(path, f, name, sizeof(name));
		fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_size > 0) {
			if (pread(fd, &last, 1, st.st_size - 1) != 1)
				last = '\n';
			close(fd);
			break;
		}
		close(fd);
	}
	return last;
}

void node_console_boot(const char *name, const char *path)
{
	char line[TIMEARG_RFC3339_SIZE + 48], when[TIMEARG_RFC3339_SIZE], last;
	/* console_log_*: live, read at each start (bounded by config.c) */
	uint64_t max = node_cfg->dc_console_log_max_mib * 1024 * 1024;
	int backups = (int)node_cfg->dc_console_log_files, fd, n;
	struct stat st;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size > max)
		node_console_rotate(name, path, backups);
	/* The marker on a line of its own, whatever the guest wrote last: the
	 * files are read as one stream, a line may go on into the next. */
	last = node_console_last(path);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warn("node %s: console log %s: %s", name, path, strerror(errno));
		return;
	}
	timearg_format(time(NULL), when, sizeof(when));
	n = snprintf(line, sizeof(line), "%s" NODE_BOOT_HEAD "%s" NODE_BOOT_TAIL "\n",
		     last == '\n' ? "" : "\n", when);
	if (write(fd, line, (size_t)n) != n)
		log_warn("node %s: console log %s: the boot marker: %s", name, path,
			 strerror(errno));
	close(fd);
}

void node_console_remove(const char *path)
{
	char name[PATH_MAX + 8];

	for (int f = 0; f < NODE_LOG_FILES; f++) {
		node_chain_name(path, f, name, sizeof(name));
		unlink(name);
	}
}
