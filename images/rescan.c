/*
 * rescan.c: `isc-image scan NAME` (rescan.h): the OpenSCAP scan of an image
 * that exists, as its build ran it (scan.h), with the profiles, tailoring
 * and floor of its recipe as they are now. The root tree is read back from
 * base.qcow2 through libguestfs (or taken from --root, an unpacked tree);
 * the results replace the image's scan-*.arf.xml / .html and the manifest's
 * "scan" block, the manifest written whole by rename. base.qcow2 is never
 * written: a node's pin to its digest holds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rescan.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "imgio.h"
#include "manifest.h"
#include "pack.h"
#include "recipe.h"
#include "scan.h"

#define RESCAN_MAX_DEPTH 16

/* The image's manifest.json, parsed (json-c, bounded by size and depth). */
static int rescan_manifest(const char *path, json_object **m, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	struct json_tokener *tok;
	size_t len;
	int r;

	if ((r = file_read_all(path, IMAGE_MANIFEST_MAX, &buf, &len, err)) < 0)
		return r;
	if (!(tok = json_tokener_new_ex(RESCAN_MAX_DEPTH)))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	*m = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (!*m || !json_object_is_type(*m, json_type_object)) {
		json_object_put(*m);
		*m = NULL;
		return err_set(err, IMG_ERR, EINVAL, "%s: not a JSON object", path);
	}
	return 0;
}

/* The recipe the manifest names, with its scap_* keys. */
static int rescan_recipe(json_object *m, const char *name, const char *exe_dir, struct recipe *rc,
			 struct dock_err *err)
{
	json_object *rec, *rn;
	char path[PATH_MAX];
	int r;

	if (!json_object_object_get_ex(m, "recipe", &rec) ||
	    !json_object_object_get_ex(rec, "name", &rn) ||
	    !json_object_is_type(rn, json_type_string) ||
	    !recipe_name_valid(json_object_get_string(rn)))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: its manifest names no recipe: not a golden (boot = efi) image",
			       name);
	if ((r = recipe_find(json_object_get_string(rn), exe_dir, path, sizeof(path), err)) < 0 ||
	    (r = recipe_parse(path, rc, err)) < 0)
		return r;
	if (rc->rc_n_scap_profiles == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: recipe %s declares no scap_profiles",
			       name, path);
	return 0;
}

/* The tree: --root as given, else base.qcow2 unpacked into tmp/root. */
static int rescan_tree(const char *img, const char *name, const char *tmp, const char *root_arg,
		       char *root, size_t size, struct dock_err *err)
{
	char qcow[PATH_MAX], tar[PATH_MAX];
	int r;

	if (root_arg) {
		snprintf(root, size, "%s", root_arg);
		return 0;
	}
	if ((r = path_join(qcow, sizeof(qcow), img, "base.qcow2", err)) < 0 ||
	    (r = path_join(tar, sizeof(tar), tmp, "root.tar", err)) < 0 ||
	    (r = path_join(root, size, tmp, "root", err)) < 0 ||
	    (r = dir_make(root, 0755, err)) < 0 || (r = pack_tar_root(qcow, name, tar, err)) < 0)
		return r;
	r = tool_runc((const char *const[]){ "tar", "-x", "-p", "--numeric-owner", "--xattrs", "-f",
					     tar, "-C", root, NULL },
		      -1, err);
	unlink(tar);
	return r;
}

/* The results into the image: the scan's files, then the manifest by rename. */
static int rescan_commit(const char *img, const char *tmp, json_object *m, json_object *block,
			 const struct scan_spec *ss, struct dock_err *err)
{
	char from[PATH_MAX], to[PATH_MAX], name[96];
	const char *text;
	int r;

	for (size_t i = 0; i < ss->ss_n_profiles; i++)
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof(name), "scan-%s.%s", ss->ss_profiles[i],
				 k ? "html" : "arf.xml");
			if ((r = path_join(from, sizeof(from), tmp, name, err)) < 0 ||
			    (r = path_join(to, sizeof(to), img, name, err)) < 0)
				return r;
			if (rename(from, to) < 0)
				return err_set(err, IMG_ERR, errno, "rename %s to %s: %s", from, to,
					       strerror(errno));
		}
	json_object_object_add(m, "scan", json_object_get(block));
	text = json_object_to_json_string_ext(
		m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = path_join(from, sizeof(from), tmp, "manifest.json", err)) < 0 ||
	    (r = path_join(to, sizeof(to), img, "manifest.json", err)) < 0 ||
	    (r = file_write(from, text, 0644, err)) < 0 || (r = file_sync(from, err)) < 0)
		return r;
	if (rename(from, to) < 0)
		return err_set(err, IMG_ERR, errno, "rename %s to %s: %s", from, to,
			       strerror(errno));
	return file_sync(img, err);
}

static int rescan_run(const char *images, const char *name, const char *exe_dir,
		      const char *root_arg, char *tmp, json_object **m, struct dock_err *err)
{
	static struct recipe rc; /* large: not on the stack */
	struct scan_spec ss = { 0 };
	char img[PATH_MAX], path[PATH_MAX], root[PATH_MAX], cache[PATH_MAX];
	json_object *block = NULL;
	int r, s;

	if (!recipe_name_valid(name))
		return err_set(err, IMG_ERR, EINVAL, "\"%.64s\" is not an image name", name);
	if ((r = path_join(img, sizeof(img), images, name, err)) < 0 ||
	    (r = path_join(path, sizeof(path), img, "manifest.json", err)) < 0 ||
	    (r = path_join(cache, sizeof(cache), images, ".cache/scap", err)) < 0 ||
	    (r = rescan_manifest(path, m, err)) < 0 ||
	    (r = rescan_recipe(*m, name, exe_dir, &rc, err)) < 0)
		return r;
	if (snprintf(tmp, PATH_MAX, "%s/.%s.scan-XXXXXX", images, name) >= PATH_MAX)
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", images);
	if (!mkdtemp(tmp)) {
		r = err_set(err, IMG_ERR, errno, "%s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		return r;
	}
	if ((r = rescan_tree(img, name, tmp, root_arg, root, sizeof(root), err)) < 0)
		return r;
	ss.ss_name = name;
	ss.ss_root = root;
	ss.ss_outdir = tmp;
	ss.ss_cache = cache;
	ss.ss_tailoring = rc.rc_scap_tailoring;
	ss.ss_floor = rc.rc_scap_floor;
	for (size_t i = 0; i < rc.rc_n_scap_profiles; i++)
		snprintf(ss.ss_profiles[ss.ss_n_profiles++], SCAN_PROFILE_MAX + 1, "%s",
			 rc.rc_scap_profiles[i]);
	/* Under the floor the scan is recorded all the same, and said. */
	s = scan_run(&ss, &block, err);
	if (block && (r = rescan_commit(img, tmp, *m, block, &ss, err)) < 0)
		s = r;
	json_object_put(block);
	return s;
}

int rescan_image(const char *images, const char *name, const char *exe_dir, const char *root_arg,
		 struct dock_err *err)
{
	char tmp[PATH_MAX] = "";
	json_object *m = NULL;
	int r = rescan_run(images, name, exe_dir, root_arg, tmp, &m, err);

	json_object_put(m);
	if (tmp[0])
		dir_remove_tree(tmp);
	if (r == 0)
		img_log("%s: scanned; manifest.json updated", name);
	return r;
}
