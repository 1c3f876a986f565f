/* gaudit-read: reading the guest audit trail back (the API's), verifying
 * it, finding a destroyed node's log by name, the purge and the sweep. */
#include "gaudit-int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "jsonin.h"

/* The meta file of id: its name and when it was destroyed (0 not). */
static int gaudit_meta_read(const char *state_dir, const char *id, char *name, size_t size,
			    int64_t *destroyed)
{
	static const struct jsonin_limits lim = { 4096, 2, 8 };
	char path[PATH_MAX], *buf = NULL;
	struct json_object *o = NULL;
	size_t len;
	int r;

	*destroyed = 0;
	name[0] = '\0';
	if ((r = gaudit_path(state_dir, id, "meta", path, sizeof(path))) < 0 ||
	    (r = file_read(path, 4096, &buf, &len)) < 0)
		return r;
	r = jsonin_parse("guest audit meta", buf, len, &lim, &o, NULL);
	free(buf);
	if (r < 0)
		return -EINVAL;
	if (jsonin_str(o, "meta", "name", true, name, size, NULL) < 0 ||
	    JSONIN_BAD(jsonin_i64(o, "meta", "destroyed", false, 0, INT64_MAX, destroyed, NULL)))
		r = -EINVAL;
	json_object_put(o);
	return r;
}

int gaudit_resolve(const char *state_dir, const char *name_or_id, const char *live_id, char *id_out,
		   struct dock_err *err)
{
	char top[PATH_MAX], name[GAUDIT_NAME_MAX], path[PATH_MAX];
	int64_t best = -1, destroyed;
	struct dirent *de;
	DIR *d;

	if (live_id != NULL && live_id[0] != '\0') {
		snprintf(id_out, GAUDIT_ID_MAX, "%s", live_id);
		return 0;
	}
	if (gaudit_path(state_dir, name_or_id, NULL, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0) {
		snprintf(id_out, GAUDIT_ID_MAX, "%s", name_or_id);
		return 0;
	}
	d = gaudit_top(state_dir, top, sizeof(top)) == 0 ? opendir(top) : NULL;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (gaudit_meta_read(state_dir, de->d_name, name, sizeof(name), &destroyed) < 0 ||
		    strcmp(name, name_or_id) != 0)
			continue;
		/* The most recently destroyed of that name (a live one has none). */
		if (destroyed > best) {
			best = destroyed;
			memcpy(id_out, de->d_name, GAUDIT_ID_MAX); /* meta read: a 32-hex id */
		}
	}
	if (d != NULL)
		closedir(d);
	if (best < 0)
		return err_set(err, 404, ENOENT, "node \"%s\": no guest audit log", name_or_id);
	return 0;
}

struct gread {
	int64_t rd_since;
	int rd_rtype;
	size_t rd_max;
	struct json_object *rd_out; /* a ring of the newest rd_max, as an array */
	size_t rd_next;             /* where the next one goes once full */
	bool rd_full;
};

static int gaudit_time(struct json_object *rec, int64_t *out)
{
	struct json_object *v;
	struct tm tm = { 0 };
	const char *s;

	if (!json_object_object_get_ex(rec, "time", &v) ||
	    (s = json_object_get_string(v)) == NULL ||
	    strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int gaudit_read_line(void *ctx, const char *line, size_t len)
{
	struct gread *rd = ctx;
	struct json_object *rec, *v, *args;
	int64_t t = 0;
	uint64_t seq;
	bool ok;

	if (gaudit_parse_line(line, len, &seq, &ok, &rec, NULL) < 0)
		return 0; /* verify reports it */
	if ((rd->rd_since > 0 && (gaudit_time(rec, &t) < 0 || t < rd->rd_since)) ||
	    (rd->rd_rtype >= 0 &&
	     (!json_object_object_get_ex(rec, "rtype", &v) ||
	      json_object_get_int64(v) != rd->rd_rtype))) {
		json_object_put(rec);
		return 0;
	}
	if (json_object_object_get_ex(rec, "rtype", &v) && json_object_get_int64(v) == 1309 &&
	    json_object_object_get_ex(rec, "msg", &v) &&
	    (args = gaudit_execve_args(json_object_get_string(v))) != NULL)
		json_object_object_add(rec, "args", args);
	if (!rd->rd_full) {
		json_object_array_add(rd->rd_out, rec);
		rd->rd_full = json_object_array_length(rd->rd_out) == rd->rd_max;
	} else {
		json_object_array_put_idx(rd->rd_out, rd->rd_next, rec);
		rd->rd_next = (rd->rd_next + 1) % rd->rd_max;
	}
	return 0;
}

/* The rotated files of path (.N, the oldest first: N highest), then path. */
static int gaudit_each_file(const char *path, int (*fn)(void *, const char *, size_t), void *ctx,
			    struct dock_err *err)
{
	char f[PATH_MAX + 16];
	int n = 0, r;

	for (;;) {
		snprintf(f, sizeof(f), "%s.%d", path, n + 1);
		if (access(f, F_OK) < 0)
			break;
		n++;
	}
	/* chainlog rotates the current file to the next free .N: .1 oldest. */
	for (int i = 1; i <= n; i++) {
		snprintf(f, sizeof(f), "%s.%d", path, i);
		if ((r = chainlog_each(f, fn, ctx, err)) < 0)
			return r;
	}
	return chainlog_each(path, fn, ctx, err);
}

int gaudit_read(const char *state_dir, const char *id, int64_t since, int rtype, size_t max,
		struct json_object **out, struct dock_err *err)
{
	struct gread rd = { since, rtype, max == 0 || max > GAUDIT_READ_MAX ? GAUDIT_READ_MAX : max,
			    NULL,  0,     false };
	char path[PATH_MAX];
	struct json_object *sorted;
	size_t n;
	int r;

	if (gaudit_path(state_dir, id, "audit.log", path, sizeof(path)) < 0)
		return err_set(err, 400, EINVAL, "guest audit: bad node id \"%s\"", id);
	if (access(path, F_OK) < 0)
		return err_set(err, 404, ENOENT, "guest audit: no log for node id %s", id);
	/* No flush: a read during a flood must not wait for the queue. */
	rd.rd_out = json_object_new_array();
	r = gaudit_each_file(path, gaudit_read_line, &rd, err);
	if (r < 0) {
		json_object_put(rd.rd_out);
		return r;
	}
	/* The ring in order: oldest first. */
	sorted = json_object_new_array();
	n = json_object_array_length(rd.rd_out);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(sorted,
				      json_object_get(json_object_array_get_idx(
					      rd.rd_out, (rd.rd_next + i) % n)));
	json_object_put(rd.rd_out);
	*out = sorted;
	return 0;
}

int gaudit_verify(const char *state_dir, const char *id, struct json_object **out,
		  struct dock_err *err)
{
	char path[PATH_MAX];
	struct chainlog_verdict v;
	struct dock_err why = { 0 };
	struct json_object *o;
	int r;

	if (gaudit_path(state_dir, id, "audit.log", path, sizeof(path)) < 0)
		return err_set(err, 400, EINVAL, "guest audit: bad node id \"%s\"", id);
	if (access(path, F_OK) < 0)
		return err_set(err, 404, ENOENT, "guest audit: no log for node id %s", id);
	gaudit_flush();
	memset(&v, 0, sizeof(v));
	r = chainlog_verify(path, gaudit_link, &v, &why);
	if (r < 0 && r != -EBADMSG)
		return err_set(err, 500, -r, "guest audit: cannot read %s: %s", path, why.de_msg);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "intact", json_object_new_boolean(r == 0));
	json_object_object_add(o, "records", json_object_new_int64((int64_t)v.cv_records));
	json_object_object_add(o, "files", json_object_new_int64((int64_t)v.cv_files));
	json_object_object_add(o, "restarts", json_object_new_int64((int64_t)v.cv_restarts));
	json_object_object_add(o, "chain_ok", json_object_new_boolean(v.cv_bad_line == 0));
	json_object_object_add(o, "checkpoint_ok", json_object_new_boolean(v.cv_ckpt_ok));
	json_object_object_add(o, "bad_line", json_object_new_int64((int64_t)v.cv_bad_line));
	json_object_object_add(o, "bad_file", json_object_new_string(v.cv_bad_file));
	json_object_object_add(o, "problem", r == 0 ? NULL : json_object_new_string(why.de_msg));
	*out = o;
	return 0;
}

/* Every file of one log directory, then the directory. */
static int gaudit_rmdir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int fd;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	fd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	if (rmdir(dir) < 0)
		return -errno;
	file_sync_dir(dir);
	return 0;
}

int gaudit_purge(const char *state_dir, const char *id, struct dock_err *err)
{
	char dir[PATH_MAX];
	int r;

	if (gaudit_path(state_dir, id, NULL, dir, sizeof(dir)) < 0)
		return err_set(err, 400, EINVAL, "guest audit: bad node id \"%s\"", id);
	if (access(dir, F_OK) < 0)
		return err_set(err, 404, ENOENT, "guest audit: no log for node id %s", id);
	gaudit_forget(id);
	r = gaudit_rmdir(dir);
	if (r < 0)
		return err_set(err, 500, -r, "guest audit: cannot remove %s", dir);
	return 0;
}

int gaudit_sweep(const char *state_dir, uint64_t retention_s, int64_t now)
{
	char top[PATH_MAX], dir[PATH_MAX], name[GAUDIT_NAME_MAX];
	int64_t destroyed;
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = gaudit_top(state_dir, top, sizeof(top)) == 0 ? opendir(top) : NULL;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (gaudit_meta_read(state_dir, de->d_name, name, sizeof(name), &destroyed) < 0 ||
		    destroyed == 0 || now - destroyed < (int64_t)retention_s)
			continue;
		if (gaudit_path(state_dir, de->d_name, NULL, dir, sizeof(dir)) == 0 &&
		    gaudit_rmdir(dir) == 0)
			n++;
	}
	if (d != NULL)
		closedir(d);
	return n;
}
