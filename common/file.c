/* file: bounded reads, atomic writes. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int file_read(const char *path, size_t max, char **buf, size_t *len)
{
	size_t got = 0;
	ssize_t n = 0;
	char *b;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	b = malloc(max + 2);
	if (b == NULL) {
		close(fd);
		return -ENOMEM;
	}
	/* One byte more than allowed tells "too large" from "exactly max". */
	while (got <= max && (n = read(fd, b + got, max + 1 - got)) > 0)
		got += (size_t)n;
	e = n < 0 ? errno : 0;
	close(fd);
	if (e != 0 || got > max) {
		free(b);
		return e != 0 ? -e : -E2BIG;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

void file_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int dfd;

	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

int file_write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct dock_err *err)
{
	char tmp[PATH_MAX];
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(err, 500, ENAMETOOLONG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", tmp, strerror(errno));
	if ((r = file_write_fd(fd, data, len)) < 0) {
		close(fd);
		unlink(tmp);
		return err_set(err, 500, -r, "%s: %s", tmp, strerror(-r));
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(err, 500, e, "%s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(err, 500, e, "%s: rename: %s", path, strerror(e));
	}
	file_sync_dir(path);
	return 0;
}
