/*
 * imgio.h: the image builder's shared helpers (imgio.c): messages, files,
 * trees, tools, digests. Every fallible function returns 0 (or an fd) or a
 * negative errno and fills the error object (common/err.h) with one line
 * saying what failed; the CLI prints it.
 */
#ifndef ISC_IMGIO_H
#define ISC_IMGIO_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"

/* Overlay trees (images/<recipe>/...) copied into an image. */
#define TREE_MAX_DEPTH   16
#define TREE_MAX_ENTRIES 4096

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_     __attribute__((cleanup(freep)))
#define _cleanup_close_    __attribute__((cleanup(closep)))
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

/* "isc-image: ..." on stderr: progress, warnings, and (from the CLI) the error. */
void img_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The builder's errors reach a person through the CLI, never an API: the
 * status of a struct dock_err is this one value. */
#define IMG_ERR 500
/* Print the error err holds, if any, as one img_log line and clear it: the
 * CLI's last word, or a failure its caller tolerates and goes on. */
void img_log_err(struct dock_err *err);

/* "a/b" into buf; truncation is an error. */
int path_join(char *buf, size_t size, const char *a, const char *b, struct dock_err *err);
/* A whole regular file of at most max bytes, NUL-terminated; *out is the caller's. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct dock_err *err);
int fd_write_all(int fd, const void *data, size_t len, const char *what, struct dock_err *err);
/* Create dst (must not exist) with exactly this mode; returns the fd. */
int file_create(const char *dst, mode_t mode, struct dock_err *err);
int file_write(const char *dst, const char *content, mode_t mode, struct dock_err *err);
int file_copy(const char *src, const char *dst, mode_t mode, struct dock_err *err);
int file_sync(const char *path, struct dock_err *err);
/* mkdir -p, then exactly this mode on the last component. */
int dir_make(const char *path, mode_t mode, struct dock_err *err);
/* rm -rf, best effort (cleanup paths). */
void dir_remove_tree(const char *path);
/* rm -rf that reports: each failure logged, the first one in err. */
int dir_remove(const char *path, struct dock_err *err);
/* A statically linked ELF executable, or a clear refusal naming `what`. */
int elf_check_static(const char *path, const char *what, struct dock_err *err);
/* Run argv[0] (PATH lookup) with stdin from /dev/null, stdout to out_fd
 * (-1: /dev/null), stderr inherited; 0 when it exits 0. */
int tool_run(char *const argv[], int out_fd, struct dock_err *err);
/* The same with stderr to err_fd (-1: inherited). */
int tool_run_fds(char *const argv[], int out_fd, int err_fd, struct dock_err *err);
/* The same for an argv of const strings (at most TOOL_ARGS_MAX - 1 of them). */
#define TOOL_ARGS_MAX 64
int tool_runc(const char *const argv[], int out_fd, struct dock_err *err);
int tool_runc_fds(const char *const argv[], int out_fd, int err_fd, struct dock_err *err);

/* Called for each entry under a tree, parents before children. */
typedef int (*tree_fn)(void *ctx, const char *rel, const char *src, const struct stat *st,
		       struct dock_err *err);
/* Walk root/rel (files, directories and symlinks only), bounded in depth and entries. */
int tree_walk(const char *root, const char *rel, int depth, size_t *count, tree_fn fn, void *ctx,
	      struct dock_err *err);
/* Modes are normalised: what QEMU's user must read is world-readable. */
mode_t tree_mode(const struct stat *st);

/* A name-derived, fixed UUID (RFC 4122 layout): same purpose + name, same UUID. */
void fixed_uuid(const char *purpose, const char *name, char out[37]);

#endif
