/*
 * imgdir.c: the image directory: dockd.conf's image_dir (the one key
 * isc-image reads, so a build lands where dockd looks), `isc-image ls`
 * (what each image's manifest.json says, read leniently: a listing shows
 * what it can) and `isc-image rm`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "imgdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "escape.h"
#include "file.h"
#include "imgio.h"
#include "manifest.h"
#include "recipe.h"
#include "text.h"

#define IMGDIR_CONFIG_MAX  (64 * 1024) /* dockd's own bound on dockd.conf */
#define IMGDIR_PATH_MAX    200         /* dockd's CONFIG_DIR_MAX: socket paths, XML */
#define IMGDIR_MAX_IMAGES  1024
#define MANIFEST_MAX_DEPTH 8

/* --- where: dockd.conf's image_dir ---------------------------------------------------- */

/* The last "image_dir = PATH" line of text (dockd's rule), checked as dockd checks it. */
static int imgdir_config_key(const char *path, char *text, struct img_dir *d, struct dock_err *err)
{
	char *line, *val = NULL;
	unsigned n = 0, at = 0;

	for (line = text; line != NULL; n++) {
		char *nl = strchr(line, '\n'), *key, *eq;

		if (nl)
			*nl = '\0';
		key = text_trim(line);
		if (*key != '#' && (eq = strchr(key, '=')) != NULL) {
			*eq = '\0';
			if (strcmp(text_trim(key), "image_dir") == 0) {
				val = text_trim(eq + 1);
				at = n + 1;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (val == NULL) {
		snprintf(d->id_path, sizeof(d->id_path), "%s", IMGDIR_DEFAULT);
		snprintf(d->id_from, sizeof(d->id_from), "dockd's default, no image_dir in %s",
			 path);
		return 0;
	}
	if (val[0] != '/' || strlen(val) >= IMGDIR_PATH_MAX)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s:%u: image_dir must be an absolute path of 1..%d characters",
			       path, at, IMGDIR_PATH_MAX - 1);
	snprintf(d->id_path, sizeof(d->id_path), "%s", val);
	snprintf(d->id_from, sizeof(d->id_from), "image_dir in %s", path);
	return 0;
}

int imgdir_resolve(const char *images, const char *config, struct img_dir *d, struct dock_err *err)
{
	const char *path = config ? config : IMGDIR_CONFIG;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (images != NULL) {
		if (images[0] == '\0')
			return err_set(err, IMG_ERR, EINVAL, "--images: an empty directory name");
		snprintf(d->id_path, sizeof(d->id_path), "%s", images);
		snprintf(d->id_from, sizeof(d->id_from), "--images");
		return 0;
	}
	r = file_read(path, IMGDIR_CONFIG_MAX, &text, &len);
	if (r == -ENOENT && config == NULL) {
		snprintf(d->id_path, sizeof(d->id_path), "%s", IMGDIR_DEFAULT);
		snprintf(d->id_from, sizeof(d->id_from), "dockd's default, %s absent", path);
		return 0;
	}
	if (r < 0)
		return err_set(err, IMG_ERR, -r,
			       "config %s: %s (it says where the images are; --images DIR "
			       "names the directory instead)",
			       path, r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
	return imgdir_config_key(path, text, d, err);
}

/* --- ls --------------------------------------------------------------------------------- */

/* What ls shows of one image; "" and -1 where the manifest does not say. */
struct img_entry {
	char ie_name[IMG_NAME_MAX + 1];
	char ie_built[40];
	char ie_kver[128];
	char ie_boot[16];
	char ie_sha[65];
	int64_t ie_size;
	int ie_scap_cp; /* the scan's lowest score, hundredths of a percent; -1: none */
	bool ie_ok;     /* its manifest was read */
};

/* The manifest's "scan" (common/manifest.h's bounded reading): its score. */
static void ls_scan_score(json_object *m, struct img_entry *e)
{
	struct image_scan sc;
	json_object *scan = NULL;

	json_object_object_get_ex(m, "scan", &scan);
	e->ie_scap_cp = image_scan_parse(scan, &sc, NULL) == 0 ? sc.is_score_cp : -1;
}

static void json_copy(json_object *o, const char *key, char *dst, size_t size)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

static void ls_base(json_object *m, struct img_entry *e)
{
	json_object *files, *boot;

	if (json_object_object_get_ex(m, "boot", &boot) &&
	    json_object_is_type(boot, json_type_object))
		json_copy(boot, "mode", e->ie_boot, sizeof(e->ie_boot));
	if (!json_object_object_get_ex(m, "files", &files) ||
	    !json_object_is_type(files, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(files) && i < IMAGE_MAX_FILES; i++) {
		json_object *f = json_object_array_get_idx(files, i), *sz;
		char role[16] = "";

		json_copy(f, "role", role, sizeof(role));
		if (strcmp(role, "base") != 0)
			continue;
		json_copy(f, "sha256", e->ie_sha, sizeof(e->ie_sha));
		if (json_object_object_get_ex(f, "size", &sz) &&
		    json_object_is_type(sz, json_type_int))
			e->ie_size = json_object_get_int64(sz);
	}
}

static int ls_read(const struct img_dir *d, struct img_entry *e, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	struct json_tokener *tok;
	char path[PATH_MAX];
	json_object *m;
	size_t len;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s/manifest.json", d->id_path, e->ie_name) >=
	    (int)sizeof(path))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s/%s: path too long", d->id_path,
			       e->ie_name);
	if ((r = file_read_all(path, IMAGE_MANIFEST_MAX, &buf, &len, err)) < 0)
		return r;
	if (!(tok = json_tokener_new_ex(MANIFEST_MAX_DEPTH)))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	m = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (!m || !json_object_is_type(m, json_type_object)) {
		json_object_put(m);
		return err_set(err, IMG_ERR, EINVAL, "%s: not a JSON object", path);
	}
	json_copy(m, "built", e->ie_built, sizeof(e->ie_built));
	json_copy(m, "kernel_version", e->ie_kver, sizeof(e->ie_kver));
	ls_base(m, e);
	ls_scan_score(m, e);
	json_object_put(m);
	e->ie_ok = true;
	return 0;
}

static int ls_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct img_entry *)a)->ie_name,
		      ((const struct img_entry *)b)->ie_name);
}

/* The names of the images in d into e[] (at most max), sorted. */
static int ls_scan(const struct img_dir *d, struct img_entry *e, size_t max, size_t *n,
		   struct dock_err *err)
{
	_cleanup_closedir_ DIR *dir = opendir(d->id_path);
	struct dirent *de;

	if (!dir)
		return err_set(err, IMG_ERR, errno, "image directory %s (%s): %s", d->id_path,
			       d->id_from, strerror(errno));
	*n = 0;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (!recipe_name_valid(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (*n == max)
			return err_set(err, IMG_ERR, E2BIG,
				       "image directory %s: more than %zu images", d->id_path, max);
		memset(&e[*n], 0, sizeof(e[*n]));
		snprintf(e[*n].ie_name, sizeof(e[*n].ie_name), "%.*s", IMG_NAME_MAX, de->d_name);
		e[*n].ie_size = -1;
		e[*n].ie_scap_cp = -1;
		(*n)++;
	}
	qsort(e, *n, sizeof(e[0]), ls_name_cmp);
	return 0;
}

static void ls_json(const struct img_dir *d, const struct img_entry *e, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		json_object *o = json_object_new_object();
		char path[PATH_MAX + IMG_NAME_MAX + 2];

		if (!o || !e[i].ie_ok) {
			json_object_put(o);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", d->id_path, e[i].ie_name);
#define STR_OR_NULL(s) ((s)[0] ? json_object_new_string(s) : NULL)
		json_object_object_add(o, "name", json_object_new_string(e[i].ie_name));
		json_object_object_add(o, "path", json_object_new_string(path));
		json_object_object_add(o, "built", STR_OR_NULL(e[i].ie_built));
		json_object_object_add(o, "kernel_version", STR_OR_NULL(e[i].ie_kver));
		json_object_object_add(o, "boot", STR_OR_NULL(e[i].ie_boot));
		json_object_object_add(o, "base_size",
				       e[i].ie_size >= 0 ? json_object_new_int64(e[i].ie_size)
							 : NULL);
		json_object_object_add(o, "base_sha256", STR_OR_NULL(e[i].ie_sha));
		json_object_object_add(
			o, "scap_score",
			e[i].ie_scap_cp >= 0 ? json_object_new_double((double)e[i].ie_scap_cp / 100)
					     : NULL);
#undef STR_OR_NULL
		json_object_array_add(a, o);
	}
	if (a && json_object_array_length(a) == 0)
		printf("[]\n");
	else
		printf("%s\n",
		       a ? json_object_to_json_string_ext(
				   a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
			 : "[]");
	json_object_put(a);
}

/* A manifest is anyone's file: what reaches the terminal is escaped. */
static const char *ls_cell(char *buf, size_t size, const char *s)
{
	return escape_str(buf, size, s[0] ? s : "?", 0);
}

static void ls_table(const struct img_entry *e, size_t n)
{
	int wn = 4, wb = 5, wk = 6;
	char b1[ESCAPE_SIZE(40)], b2[ESCAPE_SIZE(128)], b3[ESCAPE_SIZE(65)], size[32], scap[16];

	for (size_t i = 0; i < n; i++) {
		if (!e[i].ie_ok)
			continue;
		if ((int)strlen(e[i].ie_name) > wn)
			wn = (int)strlen(e[i].ie_name);
		if ((int)strlen(ls_cell(b1, sizeof(b1), e[i].ie_built)) > wb)
			wb = (int)strlen(b1);
		if ((int)strlen(ls_cell(b2, sizeof(b2), e[i].ie_kver)) > wk)
			wk = (int)strlen(b2);
	}
	printf("%-*s  %-*s  %-*s  %8s  %7s  %s\n", wn, "NAME", wb, "BUILT", wk, "KERNEL", "BASE",
	       "SCAP", "BASE SHA256");
	for (size_t i = 0; i < n; i++) {
		if (!e[i].ie_ok)
			continue;
		snprintf(size, sizeof(size), "?");
		if (e[i].ie_size >= 0)
			snprintf(size, sizeof(size), "%.1fM", (double)e[i].ie_size / (1024 * 1024));
		snprintf(scap, sizeof(scap), "-");
		if (e[i].ie_scap_cp >= 0)
			snprintf(scap, sizeof(scap), "%d.%02d%%", e[i].ie_scap_cp / 100,
				 e[i].ie_scap_cp % 100);
		printf("%-*s  %-*s  %-*s  %8s  %7s  %s\n", wn, e[i].ie_name, wb,
		       ls_cell(b1, sizeof(b1), e[i].ie_built), wk,
		       ls_cell(b2, sizeof(b2), e[i].ie_kver), size, scap,
		       ls_cell(b3, sizeof(b3), e[i].ie_sha));
	}
}

int imgdir_ls(const struct img_dir *d, bool json, struct dock_err *err)
{
	_cleanup_free_ struct img_entry *e = calloc(IMGDIR_MAX_IMAGES, sizeof(*e));
	size_t n = 0;
	int r, bad = 0;

	if (!e)
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	if ((r = ls_scan(d, e, IMGDIR_MAX_IMAGES, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		/* A directory without manifest.json is a build's leftover or not ours. */
		if (snprintf(path, sizeof(path), "%s/%s/manifest.json", d->id_path, e[i].ie_name) >=
			    (int)sizeof(path) ||
		    access(path, F_OK) < 0)
			continue;
		if (ls_read(d, &e[i], err) < 0) {
			img_log_err(err); /* the others are still listed */
			bad = 1;
		}
	}
	if (json)
		ls_json(d, e, n);
	else
		ls_table(e, n);
	return bad ? -EINVAL : 0;
}

/* --- rm --------------------------------------------------------------------------------- */

int imgdir_rm(const struct img_dir *d, const char *name, struct dock_err *err)
{
	char path[PATH_MAX], gone[PATH_MAX], mf[PATH_MAX];
	struct stat st;

	if (!recipe_name_valid(name))
		return err_set(err, IMG_ERR, EINVAL,
			       "\"%s\" is not an image name ([a-z][a-z0-9-]*, at most %d "
			       "characters)",
			       name, IMG_NAME_MAX);
	if (snprintf(path, sizeof(path), "%s/%s", d->id_path, name) >= (int)sizeof(path) ||
	    snprintf(mf, sizeof(mf), "%s/manifest.json", path) >= (int)sizeof(mf) ||
	    snprintf(gone, sizeof(gone), "%s/.%s.rm-XXXXXX", d->id_path, name) >= (int)sizeof(gone))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s/%s: path too long", d->id_path,
			       name);
	if (lstat(path, &st) < 0)
		return err_set(err, IMG_ERR, errno, "no image of that name in %s (%s): %s",
			       d->id_path, d->id_from, strerror(errno));
	if (!S_ISDIR(st.st_mode) || lstat(mf, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s is not an image (not a directory holding manifest.json); "
			       "left as it is",
			       path);
	/* rename() replaces an empty directory: the image vanishes in one step. */
	if (!mkdtemp(gone))
		return err_set(err, IMG_ERR, errno, "%s: %s", gone, strerror(errno));
	if (rename(path, gone) < 0) {
		int e = errno;

		rmdir(gone);
		return err_set(err, IMG_ERR, e, "%s: cannot remove: %s", path, strerror(e));
	}
	file_sync_dir(path);
	return dir_remove(gone, err);
}
