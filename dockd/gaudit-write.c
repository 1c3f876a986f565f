/* gaudit-write: the guest audit trail's writer. The agent channel queues
 * (never waits for the disk); one thread writes each node's chained log,
 * follows its serials, marks what is missing and sends the syslog copy. */
#include "gaudit-int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "file.h"
#include "log.h"

#define GAUDIT_NODES_MAX 4096
#define GAUDIT_TAG       "isc-guest-audit"
#define GAUDIT_PRI       ((10 << 3) | 6) /* LOG_AUTHPRIV | LOG_INFO */

enum gitem_kind { GI_RECORD, GI_MARK, GI_FORGET };

struct gitem {
	struct gitem *gi_next;
	enum gitem_kind gi_kind;
	char gi_id[GAUDIT_ID_MAX], gi_name[GAUDIT_NAME_MAX], gi_boot[GAUDIT_BOOT_MAX];
	char gi_mark[16];
	struct json_object *gi_detail;
	size_t gi_size;
	struct agent_audit gi_rec; /* last: allocated to the length of its msg */
};

/* What the writer knows of one node's log. */
struct gnode {
	char gn_id[GAUDIT_ID_MAX], gn_name[GAUDIT_NAME_MAX], gn_boot[GAUDIT_BOOT_MAX];
	struct gaudit_track gn_track;
	uint64_t gn_records, gn_dock_dropped, gn_dropped_marked;
	int64_t gn_last, gn_used;
	bool gn_started;     /* the dock-start mark is written */
	bool gn_after_start; /* no record since: a gap now is the dock's absence */
	uint64_t gn_explained;
	uint64_t gn_restart_hi; /* the last serial the log held when the dock started, 0 none */
	struct chainlog *gn_log;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
static struct gitem *g_head, *g_tail;
static size_t g_count, g_bytes;
static uint64_t g_queued, g_written; /* items ever queued / handled */
static bool g_running, g_stopping;
static pthread_t g_thread;
static struct gnode *g_nodes[GAUDIT_NODES_MAX];
static size_t g_n_nodes;
static char g_state_dir[PATH_MAX], g_syslog[108];
static struct gaudit_opts g_o;
static volatile int g_low_disk; /* state_dir below min_free_mib, judged each second */

/* ---- the node table (g_lock) ---- */

static struct gnode *gnode_find_locked(const char *id, bool create)
{
	struct gnode *g;

	for (size_t i = 0; i < g_n_nodes; i++)
		if (strcmp(g_nodes[i]->gn_id, id) == 0)
			return g_nodes[i];
	if (!create || g_n_nodes >= GAUDIT_NODES_MAX || (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	snprintf(g->gn_id, sizeof(g->gn_id), "%s", id);
	g_nodes[g_n_nodes++] = g;
	return g;
}

void gaudit_stats(const char *id, struct gaudit_stats *out)
{
	struct gnode *g;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&g_lock);
	g = gnode_find_locked(id, false);
	if (g != NULL) {
		memcpy(out->gs_boot, g->gn_boot, sizeof(out->gs_boot));
		out->gs_records = g->gn_records;
		out->gs_missing = g->gn_track.gt_missing;
		out->gs_explained = g->gn_explained;
		out->gs_dock_dropped = g->gn_dock_dropped;
		out->gs_last = g->gn_last;
		out->gs_first_serial = g->gn_track.gt_first;
		out->gs_last_serial = g->gn_track.gt_hi;
	}
	pthread_mutex_unlock(&g_lock);
}

void gaudit_dock_dropped(const char *id, uint64_t n)
{
	struct gnode *g;

	pthread_mutex_lock(&g_lock);
	g = gnode_find_locked(id, true);
	if (g != NULL)
		g->gn_dock_dropped += n;
	pthread_mutex_unlock(&g_lock);
}

/* ---- the queue ---- */

/* it at the queue's tail, counted, the writer woken; g_lock held. */
static void gaudit_push_locked(struct gitem *it)
{
	if (g_tail != NULL)
		g_tail->gi_next = it;
	else
		g_head = it;
	g_tail = it;
	g_count++;
	g_bytes += it->gi_size;
	g_queued++;
	pthread_cond_signal(&g_work);
}

static bool gaudit_enqueue(struct gitem *it)
{
	bool ok;

	pthread_mutex_lock(&g_lock);
	ok = g_running && !g_stopping && g_count < GAUDIT_QUEUE_MAX &&
		g_bytes + it->gi_size <= GAUDIT_QUEUE_BYTES &&
		!(it->gi_kind == GI_RECORD && g_low_disk);
	if (ok) {
		gaudit_push_locked(it);
	} else if (it->gi_kind == GI_RECORD) {
		struct gnode *g = gnode_find_locked(it->gi_id, true);
		if (g != NULL)
			g->gn_dock_dropped++;
	}
	pthread_mutex_unlock(&g_lock);
	if (!ok) {
		json_object_put(it->gi_detail);
		free(it);
	}
	return ok;
}

static struct gitem *gitem_new(enum gitem_kind k, const char *id, const char *name,
			       const char *boot, size_t msg_len)
{
	size_t size =
		sizeof(struct gitem) - sizeof(((struct gitem *)0)->gi_rec.aa_msg) + msg_len + 1;
	struct gitem *it = calloc(1, size < sizeof(struct gitem) ? sizeof(struct gitem) : size);

	if (it == NULL)
		return NULL;
	it->gi_kind = k;
	it->gi_size = size;
	snprintf(it->gi_id, sizeof(it->gi_id), "%s", id);
	snprintf(it->gi_name, sizeof(it->gi_name), "%s", name != NULL ? name : "");
	snprintf(it->gi_boot, sizeof(it->gi_boot), "%s", boot != NULL ? boot : "");
	return it;
}

bool gaudit_record(const char *id, const char *name, const char *boot, const struct agent_audit *a)
{
	size_t n = strnlen(a->aa_msg, sizeof(a->aa_msg) - 1);
	struct gitem *it = gitem_new(GI_RECORD, id, name, boot, n);

	if (it == NULL) {
		gaudit_dock_dropped(id, 1);
		return false;
	}
	memcpy(&it->gi_rec, a, offsetof(struct agent_audit, aa_msg));
	memcpy(it->gi_rec.aa_msg, a->aa_msg, n);
	it->gi_rec.aa_msg[n] = '\0';
	return gaudit_enqueue(it);
}

bool gaudit_mark(const char *id, const char *name, const char *boot, const char *kind,
		 struct json_object *detail)
{
	struct gitem *it = gitem_new(GI_MARK, id, name, boot, 0);

	if (it == NULL) {
		json_object_put(detail);
		return false;
	}
	snprintf(it->gi_mark, sizeof(it->gi_mark), "%s", kind);
	it->gi_detail = detail;
	return gaudit_enqueue(it);
}

void gaudit_flush(void)
{
	pthread_mutex_lock(&g_lock);
	for (uint64_t want = g_queued; g_running && g_written < want;)
		pthread_cond_wait(&g_done, &g_lock);
	pthread_mutex_unlock(&g_lock);
}

void gaudit_forget(const char *id)
{
	struct gitem *it = gitem_new(GI_FORGET, id, NULL, NULL, 0);

	if (it == NULL)
		return;
	it->gi_size = 0; /* always taken: a purge must not wait on a full queue */
	pthread_mutex_lock(&g_lock);
	if (!g_running) {
		pthread_mutex_unlock(&g_lock);
		free(it);
		return;
	}
	gaudit_push_locked(it);
	pthread_mutex_unlock(&g_lock);
	gaudit_flush();
}

/* ---- the syslog copy: GAUDIT_SYSLOG_PER_SEC lines a second ---- */

static void gaudit_syslog(const char *name, const char *line, size_t len)
{
	static int sock = -1;
	static int64_t sec;
	static unsigned sent;
	static uint64_t held;
	static char buf[GAUDIT_LINE_MAX * 2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t now = (int64_t)time(NULL);
	int n;

	if (g_syslog[0] == '\0')
		return;
	if (now != sec) {
		sec = now;
		sent = 0;
	}
	if (++sent > GAUDIT_SYSLOG_PER_SEC) {
		held++;
		return;
	}
	if (sock < 0) {
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, g_syslog, sizeof(g_syslog));
		if (sock >= 0 && connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(sock);
			sock = -1;
		}
		if (sock < 0)
			return;
	}
	n = snprintf(buf, sizeof(buf), "<%d>" GAUDIT_TAG "[%d]: node %s: ", GAUDIT_PRI,
		     (int)getpid(), name);
	if (held > 0 && sent == 1) /* the first line of a second says what the last held back */
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "(%" PRIu64 " lines not copied: over %d a second) ", held,
			      GAUDIT_SYSLOG_PER_SEC);
	held = sent == 1 ? 0 : held;
	escape_buf(buf + n, sizeof(buf) - (size_t)n, line, len, ESCAPE_JSON);
	if (send(sock, buf, strlen(buf), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		close(sock);
		sock = -1;
	}
}

/* ---- building a line ---- */

struct gbuild {
	const struct gnode *gb_node;
	const char *gb_kind;
	struct json_object *gb_fields; /* members after "kind" */
	char *gb_copy;                 /* the line built, for the syslog copy */
	size_t gb_copy_len;
};

static int gaudit_build(void *ctx, uint64_t seq, const char *prev, char *line, size_t *len,
			char *hash, struct dock_err *err)
{
	struct gbuild *b = ctx;
	struct json_object *o = json_object_new_object();
	time_t now = time(NULL);
	char ts[32];
	struct tm tm;
	const char *body;
	size_t n;

	if (o == NULL)
		return err_set(err, 500, ENOMEM, "guest audit: out of memory");
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
	json_object_object_add(o, "time", json_object_new_string(ts));
	json_object_object_add(o, "node", json_object_new_string(b->gb_node->gn_name));
	json_object_object_add(o, "boot", json_object_new_string(b->gb_node->gn_boot));
	json_object_object_add(o, "kind", json_object_new_string(b->gb_kind));
	if (b->gb_fields != NULL) {
		json_object_object_foreach(b->gb_fields, k, v)
		{
			json_object_object_add(o, k, json_object_get(v));
		}
	}
	json_object_object_add(o, "prev", json_object_new_string(prev));
	body = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = body != NULL ? strlen(body) : 0;
	if (n < 2 || n + 80 > GAUDIT_LINE_MAX) {
		json_object_put(o);
		return err_set(err, 400, E2BIG, "guest audit: a record of %zu bytes", n);
	}
	memcpy(line, body, n - 1);
	json_object_put(o);
	chainlog_digest(line, n - 1, hash);
	*len = n - 1 + (size_t)snprintf(line + n - 1, 80, ",\"hash\":\"%s\"}\n", hash);
	free(b->gb_copy);
	b->gb_copy = strndup(line, *len - 1);
	b->gb_copy_len = *len - 1;
	return 0;
}

static void gaudit_write(struct gnode *g, const char *kind, struct json_object *fields)
{
	struct gbuild b = { g, kind, fields, NULL, 0 };
	struct dock_err err = { 0 };

	if (g->gn_log == NULL)
		return;
	if (chainlog_append(g->gn_log, gaudit_build, &b, false, &err) < 0) {
		pthread_mutex_lock(&g_lock);
		g->gn_dock_dropped++;
		pthread_mutex_unlock(&g_lock);
		log_warn("node %s: guest audit: %s", g->gn_name, err.de_msg);
		free(b.gb_copy);
		return;
	}
	if (b.gb_copy != NULL)
		gaudit_syslog(g->gn_name, b.gb_copy, b.gb_copy_len);
	free(b.gb_copy);
}

static void gaudit_write_mark(struct gnode *g, const char *kind, struct json_object *detail)
{
	struct json_object *f = json_object_new_object();

	json_object_object_add(f, "detail", detail != NULL ? detail : json_object_new_object());
	gaudit_write(g, kind, f);
	json_object_put(f);
}

/* ---- opening a node's log ---- */

/* The meta file beside the log: the node's name (reading by name after a
 * destroy) and when it was destroyed (the sweep). */
static void gaudit_meta(const struct gnode *g, int64_t destroyed)
{
	struct json_object *m = json_object_new_object();
	char path[PATH_MAX];
	const char *s;

	if (m == NULL || gaudit_path(g_state_dir, g->gn_id, "meta", path, sizeof(path)) < 0) {
		json_object_put(m);
		return;
	}
	json_object_object_add(m, "name", json_object_new_string(g->gn_name));
	json_object_object_add(m, "destroyed", json_object_new_int64(destroyed));
	s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
	file_write_atomic(path, s, strlen(s), 0600, NULL);
	json_object_put(m);
}

/* The last boot and serial the log holds (its last 64 KiB), so serials
 * lost while the dock was down show as a gap. Read into a copy, taken
 * under the lock: gaudit_stats reads the node meanwhile. */
static void gaudit_tail(struct gnode *g, const char *path)
{
	char *buf = NULL, *p, boot[GAUDIT_BOOT_MAX];
	struct gaudit_track t;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	long off;

	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (off = ftell(f)) > 0) {
		long from = off > 65536 ? off - 65536 : 0;
		buf = malloc((size_t)(off - from) + 1);
		if (buf != NULL && fseek(f, from, SEEK_SET) == 0)
			len = fread(buf, 1, (size_t)(off - from), f);
	}
	fclose(f);
	if (buf == NULL)
		return;
	buf[len] = '\0';
	pthread_mutex_lock(&g_lock);
	memcpy(boot, g->gn_boot, sizeof(boot));
	t = g->gn_track;
	pthread_mutex_unlock(&g_lock);
	for (p = buf; p != NULL && *p != '\0';) {
		char *nl = strchr(p, '\n');
		struct json_object *rec, *v;
		uint64_t seq, a, b;
		bool ok;
		if (nl == NULL)
			break;
		if (gaudit_parse_line(p, (size_t)(nl - p), &seq, &ok, &rec, NULL) == 0) {
			const char *rb = json_object_object_get_ex(rec, "boot", &v)
				? json_object_get_string(v)
				: "";
			if (strcmp(rb, boot) != 0) {
				snprintf(boot, sizeof(boot), "%s", rb);
				memset(&t, 0, sizeof(t));
			}
			if (json_object_object_get_ex(rec, "serial", &v))
				gaudit_track(&t, (uint64_t)json_object_get_int64(v), &a, &b);
			json_object_put(rec);
		}
		p = nl + 1;
	}
	free(buf);
	/* What the log holds counts as seen: a restart invents no gap. */
	t.gt_seen = ~0ULL;
	t.gt_missing = 0;
	pthread_mutex_lock(&g_lock);
	memcpy(g->gn_boot, boot, sizeof(boot));
	g->gn_track = t;
	pthread_mutex_unlock(&g_lock);
}

static bool gaudit_exists(const char *id)
{
	char path[PATH_MAX];
	struct stat st;

	return gaudit_path(g_state_dir, id, "audit.log", path, sizeof(path)) == 0 &&
		stat(path, &st) == 0;
}

/* Hold at most GAUDIT_OPEN_MAX logs open: close the least used. */
static void gaudit_close_lru(void)
{
	struct gnode *old = NULL;
	size_t open = 0;

	for (size_t i = 0; i < g_n_nodes; i++) {
		if (g_nodes[i]->gn_log == NULL)
			continue;
		open++;
		if (old == NULL || g_nodes[i]->gn_used < old->gn_used)
			old = g_nodes[i];
	}
	if (open >= GAUDIT_OPEN_MAX && old != NULL) {
		chainlog_close(old->gn_log);
		free(old->gn_log);
		old->gn_log = NULL;
	}
}

static int gaudit_open(struct gnode *g)
{
	char dir[PATH_MAX], path[PATH_MAX], top[PATH_MAX];
	struct chainlog_opts co = { 0 };
	struct chainlog_report rep;
	struct dock_err err = { 0 };
	struct stat st;
	bool fresh;

	if (g->gn_log != NULL)
		return 0;
	gaudit_close_lru();
	if (gaudit_top(g_state_dir, top, sizeof(top)) == 0)
		mkdir(top, 0700);
	if (gaudit_path(g_state_dir, g->gn_id, NULL, dir, sizeof(dir)) < 0 ||
	    gaudit_path(g_state_dir, g->gn_id, "audit.log", path, sizeof(path)) < 0)
		return -EINVAL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	fresh = stat(path, &st) < 0;
	if (!fresh) {
		gaudit_tail(g, path);
		g->gn_restart_hi = g->gn_track.gt_hi;
	}
	g->gn_log = malloc(sizeof(*g->gn_log));
	if (g->gn_log == NULL)
		return -ENOMEM;
	*g->gn_log = (struct chainlog)CHAINLOG_INIT;
	co.co_path = path;
	co.co_tag = GAUDIT_TAG;
	co.co_rotate = g_o.go_rotate != 0 ? g_o.go_rotate : GAUDIT_ROTATE_DEFAULT;
	co.co_parse = gaudit_link;
	if (chainlog_open(g->gn_log, &co, &rep, &err) < 0) {
		log_warn("node %s: guest audit log %s: %s", g->gn_name, path, err.de_msg);
		free(g->gn_log);
		g->gn_log = NULL;
		return -EIO;
	}
	if (fresh)
		gaudit_meta(g, 0);
	if (rep.cr_found == CHAINLOG_DAMAGED) {
		struct json_object *d = json_object_new_object();
		log_warn("node %s: guest audit log %s damaged (%s); kept as %s", g->gn_name, path,
			 rep.cr_why, rep.cr_kept);
		json_object_object_add(d, "why", json_object_new_string(rep.cr_why));
		json_object_object_add(d, "kept", json_object_new_string(rep.cr_kept));
		json_object_object_add(d, "sha256", json_object_new_string(rep.cr_sha256));
		gaudit_write_mark(g, "restart", d);
	}
	return 0;
}

/* A gap from..to: a "gap" mark; one that starts just past what the log
 * held when the dock started is the dock's absence (explained). */
static void gaudit_gap(struct gnode *g, uint64_t from, uint64_t to, uint64_t miss, bool settled)
{
	struct json_object *d = json_object_new_object();
	bool away = g->gn_after_start ||
		(g->gn_restart_hi != 0 && from > g->gn_restart_hi &&
		 from <= g->gn_restart_hi + 4 * GAUDIT_WINDOW);

	if (away) {
		pthread_mutex_lock(&g_lock);
		g->gn_explained += miss;
		pthread_mutex_unlock(&g_lock);
		json_object_object_add(d, "after", json_object_new_string("dock-start"));
	}
	json_object_object_add(d, "from", json_object_new_int64((int64_t)from));
	json_object_object_add(d, "to", json_object_new_int64((int64_t)to));
	json_object_object_add(d, "missing", json_object_new_int64((int64_t)miss));
	if (settled)
		json_object_object_add(d, "settled", json_object_new_boolean(true));
	gaudit_write_mark(g, "gap", d);
}

/* ---- the writer ---- */

static void gaudit_handle_record(struct gnode *g, const struct agent_audit *a)
{
	struct json_object *f;
	const char *tn = gaudit_type_name(a->aa_rtype);
	uint64_t from = 0, to = 0, miss;
	bool headless;

	pthread_mutex_lock(&g_lock);
	/* The first record after the dock was away, of a serial the log does
	 * not hold, that only ever follows a SYSCALL: the event's first
	 * records were lost in flight (the channel drops what it carried when
	 * the dock went): that serial is marked too, never a silent hole. */
	headless = g->gn_after_start && a->aa_serial > g->gn_track.gt_hi &&
		g->gn_track.gt_hi != 0 && gaudit_type_follows(a->aa_rtype);
	miss = g->gn_after_start ? gaudit_track_resume(&g->gn_track, a->aa_serial, &from, &to)
				 : gaudit_track(&g->gn_track, a->aa_serial, &from, &to);
	if (headless) {
		g->gn_track.gt_missing++;
		from = miss > 0 ? from : a->aa_serial;
		to = a->aa_serial;
		miss++;
	}
	pthread_mutex_unlock(&g_lock);
	if (miss > 0)
		gaudit_gap(g, from, to, miss, false);
	f = json_object_new_object();
	if (f == NULL)
		return;
	json_object_object_add(f, "serial", json_object_new_int64((int64_t)a->aa_serial));
	json_object_object_add(f, "sec", json_object_new_int64(a->aa_sec));
	json_object_object_add(f, "ms", json_object_new_int64(a->aa_ms));
	json_object_object_add(f, "rtype", json_object_new_int64(a->aa_rtype));
	if (tn != NULL)
		json_object_object_add(f, "type", json_object_new_string(tn));
	json_object_object_add(f, "msg", json_object_new_string(a->aa_msg));
	if (a->aa_truncated)
		json_object_object_add(f, "truncated", json_object_new_boolean(true));
	gaudit_write(g, "record", f);
	json_object_put(f);
	g->gn_after_start = false;
	pthread_mutex_lock(&g_lock);
	g->gn_records++;
	g->gn_last = (int64_t)time(NULL);
	pthread_mutex_unlock(&g_lock);
}

/* Quiet streams: the serials still missing from their window are gone
 * (nothing arrives GAUDIT_SETTLE_S late), marked now rather than when 64
 * more serials push them out. */
static void gaudit_settle(int64_t now)
{
	size_t n;

	pthread_mutex_lock(&g_lock);
	n = g_n_nodes;
	pthread_mutex_unlock(&g_lock);
	for (size_t i = 0; i < n; i++) {
		struct gnode *g = g_nodes[i];
		uint64_t from, to, miss;

		if (g->gn_log == NULL || g->gn_last == 0 || now - g->gn_last < GAUDIT_SETTLE_S)
			continue;
		pthread_mutex_lock(&g_lock);
		miss = gaudit_track_settle(&g->gn_track, &from, &to);
		pthread_mutex_unlock(&g_lock);
		if (miss > 0)
			gaudit_gap(g, from, to, miss, true);
	}
}

static void gaudit_close_node(struct gnode *g)
{
	if (g->gn_log != NULL) {
		chainlog_close(g->gn_log);
		free(g->gn_log);
		g->gn_log = NULL;
	}
}

/* The dock's own drops since the last mark, at most one mark a second. */
static void gaudit_mark_dropped(struct gnode *g, int64_t now)
{
	static int64_t last;
	uint64_t d;
	struct json_object *det;

	pthread_mutex_lock(&g_lock);
	d = g->gn_dock_dropped;
	pthread_mutex_unlock(&g_lock);
	if (d == g->gn_dropped_marked || now == last || g->gn_log == NULL)
		return;
	last = now;
	det = json_object_new_object();
	json_object_object_add(det, "dock_dropped", json_object_new_int64((int64_t)d));
	json_object_object_add(det, "grew", json_object_new_string("dock_dropped"));
	gaudit_write_mark(g, "lost", det);
	g->gn_dropped_marked = d;
}

static void gaudit_handle(struct gitem *it)
{
	struct gnode *g;
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&g_lock);
	g = gnode_find_locked(it->gi_id, it->gi_kind != GI_FORGET);
	if (g != NULL && it->gi_name[0] != '\0')
		memcpy(g->gn_name, it->gi_name, sizeof(g->gn_name));
	pthread_mutex_unlock(&g_lock);
	if (g == NULL)
		return;
	if (it->gi_kind == GI_FORGET) {
		gaudit_close_node(g);
		pthread_mutex_lock(&g_lock);
		g->gn_started = false;
		memset(&g->gn_track, 0, sizeof(g->gn_track));
		g->gn_records = 0;
		g->gn_boot[0] = '\0';
		pthread_mutex_unlock(&g_lock);
		return;
	}
	if (it->gi_kind == GI_MARK && g->gn_log == NULL && !gaudit_exists(g->gn_id))
		return; /* a node that never forwarded (an older agent) gets no log */
	if (gaudit_open(g) < 0) {
		gaudit_dock_dropped(g->gn_id, it->gi_kind == GI_RECORD);
		return;
	}
	g->gn_used = now;
	if (!g->gn_started) {
		struct json_object *d = json_object_new_object();
		g->gn_started = true;
		g->gn_after_start = true;
		json_object_object_add(d, "last_boot", json_object_new_string(g->gn_boot));
		json_object_object_add(d, "last_serial",
				       json_object_new_int64((int64_t)g->gn_track.gt_hi));
		gaudit_write_mark(g, "dock-start", d);
	}
	if (it->gi_boot[0] != '\0' && strcmp(it->gi_boot, g->gn_boot) != 0) {
		pthread_mutex_lock(&g_lock);
		memcpy(g->gn_boot, it->gi_boot, sizeof(g->gn_boot));
		memset(&g->gn_track, 0, sizeof(g->gn_track));
		g->gn_records = g->gn_explained = 0;
		g->gn_after_start = false;
		g->gn_restart_hi = 0;
		pthread_mutex_unlock(&g_lock);
		gaudit_write_mark(g, "boot", NULL);
	}
	if (it->gi_kind == GI_RECORD) {
		gaudit_handle_record(g, &it->gi_rec);
	} else {
		gaudit_write_mark(g, it->gi_mark, json_object_get(it->gi_detail));
		if (strcmp(it->gi_mark, "destroy") == 0) {
			gaudit_meta(g, now);
			gaudit_close_node(g);
		}
	}
	gaudit_mark_dropped(g, now);
}

/* Below min_free_mib on state_dir's filesystem records are refused. */
static void gaudit_judge_disk(void)
{
	struct statvfs sv;

	if (g_o.go_min_free_mib == 0 || statvfs(g_state_dir, &sv) < 0)
		return;
	g_low_disk = (uint64_t)sv.f_bavail * sv.f_frsize < (g_o.go_min_free_mib << 20);
}

static void *gaudit_thread(void *arg)
{
	int64_t judged = 0, swept = 0;

	(void)arg;
	pthread_mutex_lock(&g_lock);
	for (;;) {
		struct gitem *it;
		int64_t now = (int64_t)time(NULL);
		struct timespec ts;

		if (now != judged || now - swept >= 3600) {
			pthread_mutex_unlock(&g_lock);
			if (now != judged) {
				gaudit_judge_disk();
				gaudit_settle(now);
			}
			if (now - swept >= 3600 && g_o.go_retention_s > 0)
				gaudit_sweep(g_state_dir, g_o.go_retention_s, now);
			swept = now - swept >= 3600 ? now : swept;
			judged = now;
			pthread_mutex_lock(&g_lock);
		}
		if (g_head == NULL) {
			if (g_stopping)
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&g_work, &g_lock, &ts);
			continue;
		}
		it = g_head;
		g_head = it->gi_next;
		if (g_head == NULL)
			g_tail = NULL;
		g_count--;
		g_bytes -= it->gi_size;
		pthread_mutex_unlock(&g_lock);
		gaudit_handle(it);
		json_object_put(it->gi_detail);
		free(it);
		pthread_mutex_lock(&g_lock);
		g_written++;
		pthread_cond_broadcast(&g_done);
	}
	pthread_mutex_unlock(&g_lock);
	return NULL;
}

int gaudit_start(const struct gaudit_opts *o, struct dock_err *err)
{
	char top[PATH_MAX];
	int r;

	g_o = *o;
	snprintf(g_state_dir, sizeof(g_state_dir), "%s", o->go_state_dir);
	snprintf(g_syslog, sizeof(g_syslog), "%s", o->go_syslog != NULL ? o->go_syslog : "");
	if (gaudit_top(g_state_dir, top, sizeof(top)) < 0 ||
	    (mkdir(top, 0700) < 0 && errno != EEXIST))
		return err_set(err, 500, errno, "guest audit: cannot make %s", top);
	g_stopping = false;
	g_running = true;
	r = pthread_create(&g_thread, NULL, gaudit_thread, NULL);
	if (r != 0) {
		g_running = false;
		return err_set(err, 500, r, "guest audit: cannot start its writer");
	}
	return 0;
}

void gaudit_stop(void)
{
	pthread_mutex_lock(&g_lock);
	if (!g_running) {
		pthread_mutex_unlock(&g_lock);
		return;
	}
	g_stopping = true;
	pthread_cond_signal(&g_work);
	pthread_mutex_unlock(&g_lock);
	pthread_join(g_thread, NULL);
	pthread_mutex_lock(&g_lock);
	g_running = false;
	for (size_t i = 0; i < g_n_nodes; i++) {
		gaudit_close_node(g_nodes[i]);
		free(g_nodes[i]);
	}
	g_n_nodes = 0;
	pthread_cond_broadcast(&g_done);
	pthread_mutex_unlock(&g_lock);
}
