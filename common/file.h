/* file: the dock's small files (config, templates, manifests, profiles,
 * node records): read whole with a size bound, written atomically. */
#ifndef ISC_FILE_H
#define ISC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Read all of path (no symlink at the last component) into a malloc'd,
 * NUL-terminated buffer. 0, or -errno; -E2BIG when over max bytes. */
int file_read(const char *path, size_t max, char **buf, size_t *len);

/* All of data to fd, across short writes and EINTR. 0, or -errno. */
int file_write_fd(int fd, const void *data, size_t len);

/* Write data to path atomically: temp file, fsync, rename, fsync dir. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct dock_err *err);

/* fsync the directory holding path (after an unlink or rename). */
void file_sync_dir(const char *path);

#endif
