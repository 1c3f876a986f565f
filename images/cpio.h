/*
 * cpio.h: the initramfs's archive writer (cpio.c). The caller opens
 * cp_f and sets cp_path (for messages) and cp_mtime; every entry's missing
 * parent directories are written first, each directory once; the caller
 * ends with the "TRAILER!!!" header and cpio_free().
 */
#ifndef ISC_CPIO_H
#define ISC_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "err.h"

#define CPIO_MAX_DIRS 1024 /* directories in one archive */

struct cpio {
	FILE *cp_f;
	const char *cp_path;
	uint32_t cp_ino;
	uint32_t cp_mtime;
	char *cp_dirs[CPIO_MAX_DIRS]; /* directories already written */
	size_t cp_n_dirs;
	int cp_err; /* first write error */
};

int cpio_header(struct cpio *c, const char *name, uint32_t mode, uint32_t size, uint32_t rmaj,
		uint32_t rmin, struct dock_err *err);
int cpio_dir(struct cpio *c, const char *name, struct dock_err *err);
int cpio_symlink(struct cpio *c, const char *name, const char *target, struct dock_err *err);
/* A regular file of mode 0644 holding text. */
int cpio_text(struct cpio *c, const char *name, const char *text, struct dock_err *err);
/* The regular file src as name with permissions perm. */
int cpio_file(struct cpio *c, const char *name, const char *src, uint32_t perm,
	      struct dock_err *err);
/* A tree_fn (imgio.h): one entry of an overlay tree; ctx is the struct cpio. */
int cpio_tree_entry(void *ctx, const char *rel, const char *src, const struct stat *st,
		    struct dock_err *err);
/* Close the file and forget the directories. */
void cpio_free(struct cpio *c);

#endif
