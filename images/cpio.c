/*
 * cpio.c: a newc ("070701") archive written entry by entry, as the
 * kernel's initramfs unpacker reads it: parents before children, every
 * header and datum padded to 4 bytes, one fixed mtime (cpio.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgio.h"

static void cpio_pad(struct cpio *c)
{
	long pos = ftell(c->cp_f);

	while (pos > 0 && pos % 4) {
		fputc(0, c->cp_f);
		pos++;
	}
}

int cpio_header(struct cpio *c, const char *name, uint32_t mode, uint32_t size, uint32_t rmaj,
		uint32_t rmin, struct dock_err *err)
{
	size_t nl = strlen(name) + 1;

	fprintf(c->cp_f, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", ++c->cp_ino,
		mode, 0, 0, S_ISDIR(mode) ? 2u : 1u, c->cp_mtime, size, 0, 0, rmaj, rmin, nl, 0);
	fwrite(name, 1, nl, c->cp_f);
	cpio_pad(c);
	if (ferror(c->cp_f))
		return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
	return 0;
}

static int cpio_data(struct cpio *c, const void *data, size_t len, struct dock_err *err)
{
	if (len && fwrite(data, 1, len, c->cp_f) != len)
		return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
	cpio_pad(c);
	return 0;
}

int cpio_dir(struct cpio *c, const char *name, struct dock_err *err)
{
	for (size_t i = 0; i < c->cp_n_dirs; i++)
		if (strcmp(c->cp_dirs[i], name) == 0)
			return 0;
	if (c->cp_n_dirs == CPIO_MAX_DIRS)
		return err_set(err, IMG_ERR, E2BIG, "initramfs: more than %d directories",
			       CPIO_MAX_DIRS);
	if (!(c->cp_dirs[c->cp_n_dirs] = strdup(name)))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	c->cp_n_dirs++;
	return cpio_header(c, name, S_IFDIR | 0755, 0, 0, 0, err);
}

/* The kernel's unpacker does not create missing parents: write them first. */
static int cpio_parents(struct cpio *c, const char *name, struct dock_err *err)
{
	char buf[PATH_MAX];
	int r;

	snprintf(buf, sizeof(buf), "%s", name);
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if ((r = cpio_dir(c, buf, err)) < 0)
			return r;
		*p = '/';
	}
	return 0;
}

int cpio_symlink(struct cpio *c, const char *name, const char *target, struct dock_err *err)
{
	int r;

	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFLNK | 0777, (uint32_t)strlen(target), 0, 0, err)) < 0)
		return r;
	return cpio_data(c, target, strlen(target), err);
}

int cpio_text(struct cpio *c, const char *name, const char *text, struct dock_err *err)
{
	int r;

	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFREG | 0644, (uint32_t)strlen(text), 0, 0, err)) < 0)
		return r;
	return cpio_data(c, text, strlen(text), err);
}

int cpio_file(struct cpio *c, const char *name, const char *src, uint32_t perm,
	      struct dock_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char buf[65536];
	int r;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > UINT32_MAX)
		return err_set(err, IMG_ERR, EINVAL, "%s: not a regular file under 4 GiB", src);
	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFREG | perm, (uint32_t)st.st_size, 0, 0, err)) < 0)
		return r;
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, IMG_ERR, n < 0 ? errno : EIO, "%s: %s", src,
				       n < 0 ? strerror(errno) : "file shrank");
		if (n > left)
			n = (ssize_t)left;
		if (fwrite(buf, 1, (size_t)n, c->cp_f) != (size_t)n)
			return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
		left -= n;
	}
	cpio_pad(c);
	return 0;
}

int cpio_tree_entry(void *ctx, const char *rel, const char *src, const struct stat *st,
		    struct dock_err *err)
{
	struct cpio *c = ctx;
	char target[PATH_MAX];
	ssize_t n;

	if (S_ISDIR(st->st_mode))
		return cpio_parents(c, rel, err) < 0 ? -EIO : cpio_dir(c, rel, err);
	if (S_ISREG(st->st_mode))
		return cpio_file(c, rel, src, tree_mode(st), err);
	n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	target[n] = '\0';
	return cpio_symlink(c, rel, target, err);
}

void cpio_free(struct cpio *c)
{
	for (size_t i = 0; i < c->cp_n_dirs; i++)
		free(c->cp_dirs[i]);
	if (c->cp_f)
		fclose(c->cp_f);
	c->cp_f = NULL;
}
