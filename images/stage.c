/*
 * stage.c: the root tree an image is made of, staged in the build's temp
 * dir: micro's fixed directories, busybox and its applet links, the agent,
 * the recipe's root_files and root_overlay (an overlay replaces, never
 * turns a file into a directory or back), and the check that the declared
 * service's user, group and paths exist in it (build-int.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-int.h"
#include "imgio.h"

#define PASSWD_MAX_BYTES (64 * 1024)

/* --- busybox -------------------------------------------------------------------- */

/* Ask the static busybox which applets it has and where they belong. */
int applets_load(const char *tmp, struct applets *ap, struct dock_err *err)
{
	char list[PATH_MAX], *argv[] = { BUSYBOX_PATH, "--list-full", NULL };
	size_t len;
	int r, fd;

	if ((r = elf_check_static(BUSYBOX_PATH, "busybox", err)) < 0)
		return r;
	if ((r = path_join(list, sizeof(list), tmp, "busybox.list", err)) < 0)
		return r;
	if ((fd = file_create(list, 0644, err)) < 0)
		return fd;
	r = tool_run(argv, fd, err);
	close(fd);
	if (r == 0)
		r = file_read_all(list, 64 * 1024, &ap->ap_buf, &len, err);
	unlink(list);
	if (r < 0)
		return r;
	for (char *save = NULL, *a = strtok_r(ap->ap_buf, "\n", &save); a;
	     a = strtok_r(NULL, "\n", &save)) {
		if (strchr(a, '/') == NULL)
			continue; /* "linuxrc" at the top: not wanted */
		if (a[0] == '/' || strstr(a, "..") ||
		    strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_-.[/") != strlen(a))
			return err_set(err, IMG_ERR, EINVAL,
				       "busybox --list-full: unexpected entry \"%.64s\"", a);
		if (strcmp(a, &BUSYBOX_PATH[1]) == 0)
			continue;
		if (ap->ap_n == sizeof(ap->ap_list) / sizeof(ap->ap_list[0]))
			return err_set(err, IMG_ERR, E2BIG,
				       "busybox --list-full: too many applets");
		ap->ap_list[ap->ap_n++] = a;
	}
	if (ap->ap_n == 0)
		return err_set(err, IMG_ERR, EINVAL, "busybox --list-full listed no applets");
	return 0;
}

/* --- the root tree ---------------------------------------------------------------- */

/* Staging tree for mke2fs -d. */
struct stage {
	const char *sg_root;
	const char *sg_image; /* for messages */
	bool sg_replace;      /* an overlay: entries replace what is there */
};

static int stage_tree_entry(void *ctx, const char *rel, const char *src, const struct stat *st,
			    struct dock_err *err)
{
	const struct stage *sg = ctx;
	char dst[PATH_MAX], target[PATH_MAX];
	struct stat old;
	ssize_t n;
	int r;

	if ((r = path_join(dst, sizeof(dst), sg->sg_root, rel, err)) < 0)
		return r;
	if (sg->sg_replace && lstat(dst, &old) == 0) {
		if (S_ISDIR(old.st_mode) != S_ISDIR(st->st_mode))
			return err_set(err, IMG_ERR, EEXIST,
				       "%s: overlay entry %s would replace the %s /%s with a %s",
				       sg->sg_image, src,
				       S_ISDIR(old.st_mode) ? "directory" : "file", rel,
				       S_ISDIR(st->st_mode) ? "directory" : "file");
		if (!S_ISDIR(old.st_mode)) {
			if (unlink(dst) < 0)
				return err_set(err, IMG_ERR, errno, "%s: %s", dst, strerror(errno));
			img_log("%s: overlay replaces /%s", sg->sg_image, rel);
		}
	}
	if (S_ISDIR(st->st_mode)) {
		/* A directory the tree already has keeps its mode (Debian's /etc/audit is 0750). */
		if (lstat(dst, &old) == 0 && S_ISDIR(old.st_mode))
			return 0;
		return dir_make(dst, 0755, err);
	}
	if (S_ISREG(st->st_mode))
		return file_copy(src, dst, tree_mode(st), err);
	n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	target[n] = '\0';
	if (symlink(target, dst) < 0)
		return err_set(err, IMG_ERR, errno, "%s: symlink: %s", dst, strerror(errno));
	return 0;
}

static int stage_symlink(const char *root, const char *rel, const char *target,
			 struct dock_err *err)
{
	char dst[PATH_MAX], *slash;
	int r;

	if ((r = path_join(dst, sizeof(dst), root, rel, err)) < 0)
		return r;
	slash = strrchr(dst, '/');
	*slash = '\0';
	r = dir_make(dst, 0755, err);
	*slash = '/';
	if (r < 0)
		return r;
	if (symlink(target, dst) < 0 && errno != EEXIST)
		return err_set(err, IMG_ERR, errno, "%s: symlink: %s", dst, strerror(errno));
	return 0;
}

/*
 * The recipe's trees: root_files, then root_overlay replacing what it
 * names. replace_files: root_files may replace too (a Debian tree already
 * holds /etc/fstab and friends).
 */
int stage_trees(struct build *b, const char *root, bool replace_files, struct dock_err *err)
{
	struct stage sg = { .sg_root = root,
			    .sg_image = b->bd_rc.rc_name,
			    .sg_replace = replace_files };
	size_t count = 0;
	int r;

	if (b->bd_rc.rc_root_files[0] &&
	    (r = tree_walk(b->bd_rc.rc_root_files, "", 0, &count, stage_tree_entry, &sg, err)) < 0)
		return r;
	sg.sg_replace = true;
	count = 0;
	if (b->bd_rc.rc_root_overlay[0] &&
	    (r = tree_walk(b->bd_rc.rc_root_overlay, "", 0, &count, stage_tree_entry, &sg, err)) <
		    0)
		return r;
	return 0;
}

int stage_root(struct build *b, char *root, struct dock_err *err)
{
	/* Mount points and fixed directories; the root stays read-only at run time. */
	static const char *const dirs[] = { "bin",  "sbin",    "usr/bin", "usr/sbin", "etc",
					    "root", "proc",    "sys",     "dev",      "run",
					    "tmp",  "scratch", "var" };
	char path[PATH_MAX], hostname[IMG_NAME_MAX + 8];
	int r;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((r = path_join(path, sizeof(path), root, dirs[i], err)) < 0 ||
		    (r = dir_make(path, 0755, err)) < 0)
			return r;
	if ((r = path_join(path, sizeof(path), root, "tmp", err)) < 0 || chmod(path, 01777) < 0)
		return r < 0 ? r
			     : err_set(err, IMG_ERR, errno, "%s: chmod: %s", path, strerror(errno));
	if ((r = path_join(path, sizeof(path), root, "bin/busybox", err)) < 0 ||
	    (r = file_copy(BUSYBOX_PATH, path, 0755, err)) < 0)
		return r;
	/* Applet links now: a read-only root cannot run busybox --install at boot. */
	for (size_t i = 0; i < b->bd_applets.ap_n; i++)
		if ((r = stage_symlink(root, b->bd_applets.ap_list[i], BUSYBOX_PATH, err)) < 0)
			return r;
	if ((r = path_join(path, sizeof(path), root, "usr/sbin/isc-agent", err)) < 0 ||
	    (r = file_copy(b->bd_agent, path, 0755, err)) < 0)
		return r;
	snprintf(hostname, sizeof(hostname), "isc-%s\n", b->bd_rc.rc_name);
	if ((r = path_join(path, sizeof(path), root, "etc/hostname", err)) < 0 ||
	    (r = file_write(path, hostname, 0644, err)) < 0)
		return r;
	/* udhcpc writes the resolver config to /run: /etc is read-only. */
	if ((r = stage_symlink(root, "etc/resolv.conf", "/run/resolv.conf", err)) < 0)
		return r;
	return stage_trees(b, root, false, err);
}

/*
 * Find NAME in a passwd- or group-format file of the staged root: its third
 * field (the uid or gid) and, when want4 is set, its fourth (passwd: the
 * primary gid). The image's own files are the truth the service runs under,
 * so the manifest takes its numbers from them.
 */
static int stage_lookup_id(const char *root, const char *file, const char *name, const char *where,
			   unsigned long *id, unsigned long *want4, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], *save = NULL;
	size_t len, nl = strlen(name);
	int r;

	if ((r = path_join(path, sizeof(path), root, file, err)) < 0)
		return r;
	if ((r = file_read_all(path, PASSWD_MAX_BYTES, &buf, &len, err)) < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long v[2] = { 0, 0 };
		char *f, *end;

		if (strncmp(line, name, nl) != 0 || line[nl] != ':')
			continue;
		f = strchr(line + nl + 1, ':'); /* the ':' past the password field */
		for (int i = 0; i < (want4 ? 2 : 1); i++) {
			if (!f)
				return err_set(err, IMG_ERR, EINVAL,
					       "%s: /%s: the entry for %s is cut short", where,
					       file, name);
			errno = 0;
			v[i] = strtoul(f + 1, &end, 10);
			if (errno || end == f + 1 || *end != ':' || v[i] >= 65534)
				return err_set(
					err, IMG_ERR, EINVAL,
					"%s: /%s: the entry for %s has no usable id (0-65533)",
					where, file, name);
			f = end;
		}
		*id = v[0];
		if (want4)
			*want4 = v[1];
		return 0;
	}
	return err_set(err, IMG_ERR, ENOENT, "%s: %s is not in the image's /%s", where, name, file);
}

/* Check the declared service against the staged root: own ids that exist, paths that exist. */
int stage_check_service(struct build *b, const char *root, struct dock_err *err)
{
	const struct recipe *rc = &b->bd_rc;
	const char *uwhere = rc->rc_where[recipe_key_bit("service_user")];
	const char *gwhere = rc->rc_where[recipe_key_bit("service_group")];
	unsigned long user_gid;
	int r;

	if (!rc->rc_svc_name[0])
		return 0;
	if ((r = stage_lookup_id(root, "etc/passwd", rc->rc_svc_user, uwhere, &b->bd_svc_uid,
				 &user_gid, err)) < 0 ||
	    (r = stage_lookup_id(root, "etc/group", rc->rc_svc_group, gwhere, &b->bd_svc_gid, NULL,
				 err)) < 0)
		return r;
	if (b->bd_svc_uid == 0)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: service user %s has uid 0; a service runs under its own ids",
			       uwhere, rc->rc_svc_user);
	if (b->bd_svc_gid == 0)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: service group %s has gid 0; a service runs under its own ids",
			       gwhere, rc->rc_svc_group);
	if (user_gid != b->bd_svc_gid)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: service user %s has primary gid %lu in the image, not %s's %lu",
			       gwhere, rc->rc_svc_user, user_gid, rc->rc_svc_group, b->bd_svc_gid);
	for (int list = 0; list < 2; list++) {
		size_t n = list ? rc->rc_svc_n_readonly : rc->rc_svc_n_writable;

		for (size_t i = 0; i < n; i++) {
			const char *p = list ? rc->rc_svc_readonly[i] : rc->rc_svc_writable[i];
			char path[PATH_MAX];
			struct stat st;

			if (snprintf(path, sizeof(path), "%s%s", root, p) >= (int)sizeof(path))
				return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", p);
			if (lstat(path, &st) < 0)
				return err_set(
					err, IMG_ERR, ENOENT,
					"%s: service path %s does not exist in the image",
					rc->rc_where[recipe_key_bit(list ? "service_readonly"
									 : "service_writable")],
					p);
		}
	}
	return 0;
}
