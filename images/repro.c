/*
 * repro.c: two builds of one recipe from the same package versions give
 * the same root filesystem (repro.h). The tree's entries go to mke2fs in
 * byte order (scandir's alphasort under LC_ALL=C), the filesystem's own
 * times come from E2FSPROGS_FAKE_TIME, and the times mke2fs copies from
 * the staged tree are fixed: mtimes clamped before, ctimes (which no
 * syscall sets) and atimes (which reading a directory moves) rewritten
 * with debugfs after.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "repro.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "imgio.h"
#include "sha256.h"

#define REPRO_OUT_MAX (256 * 1024) /* what git, dpkg-query and debugfs may print */

/* --- SOURCE_DATE_EPOCH ---------------------------------------------------------- */

/* Is dir inside a git work tree (a ".git" in it or above)? */
static bool repro_in_git(const char *dir)
{
	char real[PATH_MAX], path[PATH_MAX + 8];

	if (!realpath(dir, real))
		return false;
	for (;;) {
		char *slash;

		snprintf(path, sizeof(path), "%s/.git", real);
		if (access(path, F_OK) == 0)
			return true;
		slash = strrchr(real, '/');
		if (!slash || slash == real)
			return false;
		*slash = '\0';
	}
}

/* Run argv with stdout into tmp/NAME (stderr dropped) and read it back; *out is the
 * caller's. any_status: what it printed counts even when it fails. */
static int repro_capture(const char *const argv[], const char *tmp, const char *name,
			 bool any_status, char **out, struct dock_err *err)
{
	_cleanup_close_ int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char path[PATH_MAX];
	size_t len;
	int fd, r;

	if ((r = path_join(path, sizeof(path), tmp, name, err)) < 0)
		return r;
	if ((fd = file_create(path, 0600, err)) < 0)
		return fd;
	r = tool_runc_fds(argv, fd, null, err);
	close(fd);
	if (r < 0 && any_status) {
		err_clear(err);
		r = 0;
	}
	if (r == 0)
		r = file_read_all(path, REPRO_OUT_MAX, out, &len, err);
	unlink(path);
	return r;
}

/* The commit time of the last commit touching the recipe, its base or its trees; -1: none. */
static long long repro_epoch_git(const struct recipe *rc, const char *tmp)
{
	_cleanup_free_ char *out = NULL;
	struct dock_err err = { 0 };
	char base[PATH_MAX + IMG_NAME_MAX + 2], abs[5][PATH_MAX];
	const char *argv[16] = { "git", "-C", rc->rc_dir, "log", "-1", "--format=%ct", "--" };
	const char *paths[] = { rc->rc_path, base, rc->rc_initrd_files, rc->rc_root_files,
				rc->rc_root_overlay };
	size_t n = 7;
	long long v;
	char *end;

	if (!repro_in_git(rc->rc_dir))
		return -1;
	snprintf(base, sizeof(base), "%s/%s", rc->rc_dir, rc->rc_base);
	/* Absolute: git takes relative paths from rc_dir, the recipe's are from here. */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if ((i == 1 && !rc->rc_base[0]) || !paths[i][0])
			continue;
		if (!realpath(paths[i], abs[i]))
			return -1;
		argv[n++] = abs[i];
	}
	argv[n] = NULL;
	/* Not our repository (git refuses another user's), or no commit: say so, go on. */
	if (repro_capture(argv, tmp, "git-epoch", false, &out, &err) < 0) {
		img_log_err(&err);
		return -1;
	}
	errno = 0;
	v = strtoll(out, &end, 10);
	if (errno || end == out || (*end && *end != '\n') || v < 0 || v > REPRO_EPOCH_MAX)
		return -1;
	return v;
}

int repro_epoch(const struct recipe *rc, const char *tmp, long long *epoch, const char **source,
		struct dock_err *err)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");
	unsigned long long n;
	char *end;

	if (v && *v) {
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno || *end || v[0] < '0' || v[0] > '9' ||
		    n > (unsigned long long)REPRO_EPOCH_MAX)
			return err_set(err, IMG_ERR, EINVAL,
				       "SOURCE_DATE_EPOCH \"%s\" is not a time in seconds", v);
		*epoch = (long long)n;
		*source = "env";
		return 0;
	}
	*epoch = repro_epoch_git(rc, tmp);
	*source = "git";
	if (*epoch < 0) {
		*epoch = REPRO_EPOCH_FIXED;
		*source = "fixed";
	}
	return 0;
}

/* --- the root filesystem ------------------------------------------------------------ */

/* nftw passes no context: one walk at a time, in one build. */
static long long repro_walk_epoch;
static FILE *repro_script;
static size_t repro_root_len;

/* mtime clamped to the epoch, atime the same, no nanoseconds: what mke2fs copies. */
static int repro_clamp_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct timespec ts[2] = { { 0 } };

	(void)flag;
	(void)ftw;
	ts[0].tv_sec = ts[1].tv_sec =
		st->st_mtime < (time_t)repro_walk_epoch ? st->st_mtime : (time_t)repro_walk_epoch;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		/* One line per entry, then the walk's caller fails the build. */
		img_log("%s: utimensat: %s", path, strerror(errno));
		return -e;
	}
	return 0;
}

/* A path as one debugfs word: in double quotes, a quote doubled (systemd's
 * unit names hold backslashes, which debugfs takes as they are). */
static void repro_script_path(const char *rel)
{
	fputc('"', repro_script);
	if (!rel[0])
		fputc('/', repro_script);
	for (const char *p = rel; *p; p++) {
		if (*p == '"')
			fputc('"', repro_script);
		fputc(*p, repro_script);
	}
	fputc('"', repro_script);
}

/* debugfs lines per entry, by path: its ctime, and its atime again (reading
 * a directory, mke2fs moves it). */
static int repro_script_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + repro_root_len;
	long long t = st->st_mtime < repro_walk_epoch ? (long long)st->st_mtime : repro_walk_epoch;

	(void)flag;
	(void)ftw;
	if (strchr(rel, '\n')) {
		img_log("%s: a name with a newline: debugfs cannot be given it", path);
		return -EINVAL;
	}
	fputs("sif ", repro_script);
	repro_script_path(rel);
	fprintf(repro_script, " ctime @%lld\nsif ", repro_walk_epoch);
	repro_script_path(rel);
	fprintf(repro_script, " atime @%lld\n", t);
	return ferror(repro_script) ? -EIO : 0;
}

/* Write the debugfs script: a sif line per entry of the tree. */
static int repro_write_script(const struct repro_fs *rf, const char *script, struct dock_err *err)
{
	int fd = file_create(script, 0600, err), r;

	if (fd < 0)
		return fd;
	if (!(repro_script = fdopen(fd, "w"))) {
		close(fd);
		return err_set(err, IMG_ERR, errno, "%s: %s", script, strerror(errno));
	}
	repro_walk_epoch = rf->rf_epoch;
	repro_root_len = strlen(rf->rf_root);
	r = nftw(rf->rf_root, repro_script_entry, 64, FTW_PHYS | FTW_MOUNT);
	if (fclose(repro_script) != 0 && r == 0)
		r = -EIO;
	repro_script = NULL;
	if (r != 0)
		return err_set(err, IMG_ERR, EIO, "%s: could not list the tree for debugfs",
			       rf->rf_root);
	return 0;
}

/* debugfs -w -f script img; it exits 0 whatever fails, so its stderr is the verdict. */
static int repro_debugfs(const struct repro_fs *rf, const char *script, struct dock_err *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int efd = -1;
	const char *argv[] = { "debugfs", "-w", "-f", script, rf->rf_img, NULL };
	char errpath[PATH_MAX];
	size_t len;
	int r;

	if ((r = path_join(errpath, sizeof(errpath), rf->rf_tmp, "debugfs.err", err)) < 0 ||
	    (efd = file_create(errpath, 0600, err)) < 0)
		return r < 0 ? r : efd;
	r = tool_runc_fds(argv, -1, efd, err);
	if (r == 0)
		r = file_read_all(errpath, REPRO_OUT_MAX, &text, &len, err);
	unlink(errpath);
	if (r < 0)
		return r;
	/* Any line but its banner ("debugfs 1.47.0 (5-Feb-2023)") is a failure. */
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, "debugfs 1.", 10) != 0)
			return err_set(err, IMG_ERR, EIO, "%s: debugfs: %s", rf->rf_img, l);
	return 0;
}

/* Set name to value for the tools run now; *saved: what to put back (NULL: unset). */
static char *repro_env_swap(const char *name, const char *value)
{
	const char *old = getenv(name);
	char *saved = old ? strdup(old) : NULL;

	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	return saved;
}

int repro_mkfs(const struct repro_fs *rf, char hex[65], uint64_t *size, struct dock_err *err)
{
	char seed[37], ext[96], mib[32], fake[32], script[PATH_MAX];
	const char *mke2fs[] = {
		"mke2fs", "-q", "-F",           "-t",       "ext4",       "-b", "4096",      "-m",
		"0",      "-O", "^has_journal", "-L",       rf->rf_label, "-U", rf->rf_uuid, "-E",
		ext,      "-d", rf->rf_root,    rf->rf_img, mib,          NULL
	};
	char *old_lc, *old_fake;
	int r;

	fixed_uuid("hash-seed", rf->rf_name, seed);
	snprintf(ext, sizeof(ext), "hash_seed=%s,root_owner=0:0", seed);
	snprintf(mib, sizeof(mib), "%lluM", (unsigned long long)rf->rf_mib);
	snprintf(fake, sizeof(fake), "%lld", rf->rf_epoch);
	if ((r = path_join(script, sizeof(script), rf->rf_tmp, "ctimes.debugfs", err)) < 0)
		return r;
	if ((r = repro_write_script(rf, script, err)) < 0)
		return r;
	repro_walk_epoch = rf->rf_epoch;
	if (nftw(rf->rf_root, repro_clamp_entry, 64, FTW_PHYS | FTW_MOUNT) != 0)
		return err_set(err, IMG_ERR, EIO, "%s: could not clamp the times", rf->rf_root);
	/* mke2fs -d sorts each directory with alphasort: byte order under C. */
	old_lc = repro_env_swap("LC_ALL", "C");
	old_fake = repro_env_swap("E2FSPROGS_FAKE_TIME", fake);
	r = tool_runc(mke2fs, -1, err);
	if (r == 0)
		r = repro_debugfs(rf, script, err);
	free(repro_env_swap("LC_ALL", old_lc));
	free(repro_env_swap("E2FSPROGS_FAKE_TIME", old_fake));
	free(old_lc);
	free(old_fake);
	unlink(script);
	if (r < 0)
		return r;
	return sha256_file(rf->rf_img, hex, size, err);
}

/* --- the recipe's digest ------------------------------------------------------------ */

static void repro_hash_str(crypto_hash_sha256_state *h, const char *s)
{
	crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s));
}

/* "LABEL SIZE\n" and the bytes of the file. */
static int repro_hash_file(crypto_hash_sha256_state *h, const char *label, const char *path,
			   struct dock_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char buf[65536];
	char head[PATH_MAX + 64];
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", path, strerror(errno));
	snprintf(head, sizeof(head), "%s %lld\n", label, (long long)st.st_size);
	repro_hash_str(h, head);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, IMG_ERR, errno, "%s: %s", path, strerror(errno));
		crypto_hash_sha256_update(h, buf, (unsigned long long)n);
	}
	return 0;
}

static int repro_hash_entry(void *ctx, const char *rel, const char *src, const struct stat *st,
			    struct dock_err *err)
{
	crypto_hash_sha256_state *h = ctx;
	char line[2 * PATH_MAX + 32], target[PATH_MAX];
	ssize_t n;

	if (S_ISREG(st->st_mode)) {
		snprintf(line, sizeof(line), "f %s %o", rel, (unsigned)tree_mode(st));
		return repro_hash_file(h, line, src, err);
	}
	if (S_ISDIR(st->st_mode)) {
		snprintf(line, sizeof(line), "d %s\n", rel);
	} else {
		n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
		target[n] = '\0';
		snprintf(line, sizeof(line), "l %s %s\n", rel, target);
	}
	repro_hash_str(h, line);
	return 0;
}

int repro_recipe_digest(const struct recipe *rc, char hex[65], struct dock_err *err)
{
	static const char *const labels[] = { "initrd_files", "root_files", "root_overlay" };
	const char *const trees[] = { rc->rc_initrd_files, rc->rc_root_files, rc->rc_root_overlay };
	crypto_hash_sha256_state h;
	unsigned char d[crypto_hash_sha256_BYTES];
	char base[PATH_MAX + IMG_NAME_MAX + 2];
	int r;

	crypto_hash_sha256_init(&h);
	if ((r = repro_hash_file(&h, "recipe", rc->rc_path, err)) < 0)
		return r;
	if (rc->rc_base[0]) {
		snprintf(base, sizeof(base), "%s/%s", rc->rc_dir, rc->rc_base);
		if ((r = repro_hash_file(&h, "base", base, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		size_t count = 0;

		if (!trees[i][0])
			continue;
		repro_hash_str(&h, labels[i]);
		repro_hash_str(&h, "\n");
		if ((r = tree_walk(trees[i], "", 0, &count, repro_hash_entry, &h, err)) < 0)
			return r;
	}
	crypto_hash_sha256_final(&h, d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* --- the host's packages ------------------------------------------------------------- */

json_object *repro_host_packages(const char *tmp, const char *const *pkgs, size_t n)
{
	const char *argv[TOOL_ARGS_MAX] = { "dpkg-query", "-W", "-f=${Package}\t${Version}\n" };
	_cleanup_free_ char *out = NULL;
	json_object *o = json_object_new_object();
	struct dock_err err = { 0 };
	size_t a = 3;
	char *save = NULL;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n && a < TOOL_ARGS_MAX - 1; i++) {
		argv[a++] = pkgs[i];
		json_object_object_add(o, pkgs[i], NULL);
	}
	argv[a] = NULL;
	/* dpkg-query exits 1 when one is not installed; it prints the others. */
	if (repro_capture(argv, tmp, "dpkg-query", true, &out, &err) < 0)
		return o;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t');

		if (!tab)
			continue;
		*tab = '\0';
		/* Only what was asked: a name dpkg-query widened (arch-qualified) is dropped. */
		if (json_object_object_get_ex(o, l, NULL))
			json_object_object_add(o, l, json_object_new_string(tab + 1));
	}
	return o;
}
