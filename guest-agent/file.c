/*
 * file.c: read the guest's /proc, /sys and /etc files, under the --root
 * prefix so fixture trees can stand in for a guest. Bounded everywhere:
 * lines, bytes per file, and only regular files are opened.
 */
#include "facts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Bytes read from one file at most. /proc/net/tcp of a busy server is a
 * few MiB; a bigger file is reported as an error instead of read forever.
 */
#define FILE_READ_MAX (64ULL << 20)

static int file_path(const struct fact_env *e, const char *path, char *full, size_t size)
{
	int r = snprintf(full, size, "%s%s", e->fe_root, path);

	return (r < 0 || (size_t)r >= size) ? -ENAMETOOLONG : 0;
}

int file_open(const struct fact_env *e, const char *path)
{
	char full[PATH_MAX];
	struct stat st;
	int fd, r;

	if ((r = file_path(e, path, full, sizeof(full))) < 0)
		return r;
	/* O_NONBLOCK: opening a FIFO planted here must not wait for a writer. */
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		r = -FILE_ENOTREG;
	else
		return fd;
	close(fd);
	return r;
}

bool file_exists(const struct fact_env *e, const char *path)
{
	char full[PATH_MAX];

	return file_path(e, path, full, sizeof(full)) == 0 && access(full, F_OK) == 0;
}

long file_proc_pid(const char *d_name)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(d_name, &end, 10);
	return errno || *end || end == d_name || pid <= 0 ? -1 : pid;
}

ssize_t file_read_value(const struct fact_env *e, const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd, r;

	if (size == 0)
		return -EINVAL;
	fd = file_open(e, path);
	if (fd < 0)
		return fd;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - (size_t)total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return (ssize_t)strlen(buf);
}

int file_read_int(const struct fact_env *e, const char *path, long long *val)
{
	char buf[64], *end;
	ssize_t n = file_read_value(e, path, buf, sizeof(buf));
	long long v;

	if (n < 0)
		return (int)n;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf)
		return -EBADMSG;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return -EBADMSG;
	*val = v;
	return 0;
}

int file_lines_open(struct file_lines *fl, const struct fact_env *e, const char *path)
{
	int fd = file_open(e, path);

	if (fd < 0)
		return fd;
	fl->fl_fd = fd;
	fl->fl_len = 0;
	fl->fl_pos = 0;
	fl->fl_eof = false;
	fl->fl_skip = false;
	fl->fl_total = 0;
	return 0;
}

void file_lines_close(struct file_lines *fl)
{
	if (fl->fl_fd >= 0)
		close(fl->fl_fd);
	fl->fl_fd = -1;
}

/* Top up the buffer after moving the unread part to its start. */
static int file_lines_fill(struct file_lines *fl)
{
	ssize_t n;

	if (fl->fl_pos > 0) {
		memmove(fl->fl_buf, fl->fl_buf + fl->fl_pos, fl->fl_len - fl->fl_pos);
		fl->fl_len -= fl->fl_pos;
		fl->fl_pos = 0;
	}
	/* The last byte of fl_buf is never filled: room for a NUL. */
	while (!fl->fl_eof && fl->fl_len < sizeof(fl->fl_buf) - 1) {
		n = read(fl->fl_fd, fl->fl_buf + fl->fl_len, sizeof(fl->fl_buf) - 1 - fl->fl_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			fl->fl_eof = true;
			break;
		}
		fl->fl_len += (size_t)n;
		fl->fl_total += (uint64_t)n;
		if (fl->fl_total > FILE_READ_MAX)
			return -EFBIG;
		/* One read per call is enough to find the next newline. */
		break;
	}
	return 0;
}

int file_lines_next(struct file_lines *fl, char **line)
{
	int r;

	for (;;) {
		char *start = fl->fl_buf + fl->fl_pos;
		size_t avail = fl->fl_len - fl->fl_pos;
		char *nl = memchr(start, '\n', avail);

		if (fl->fl_skip) {
			/* The rest of a line that was cut: drop it. */
			if (nl) {
				fl->fl_pos += (size_t)(nl - start) + 1;
				fl->fl_skip = false;
				continue;
			}
			fl->fl_pos = fl->fl_len;
		} else if (nl) {
			size_t len = (size_t)(nl - start);

			*nl = '\0';
			fl->fl_pos += len + 1;
			if (len > FILE_LINE_MAX - 1)
				start[FILE_LINE_MAX - 1] = '\0';
			*line = start;
			return 1;
		} else if (avail >= FILE_LINE_MAX - 1) {
			/* Over-long line: hand out its head, skip its tail. */
			fl->fl_pos += FILE_LINE_MAX - 1;
			start[FILE_LINE_MAX - 1] = '\0';
			fl->fl_skip = true;
			*line = start;
			return 1;
		} else if (fl->fl_eof) {
			if (avail == 0)
				return 0;
			/* A last line without a newline. */
			start[avail] = '\0';
			fl->fl_pos = fl->fl_len;
			*line = start;
			return 1;
		}
		if (fl->fl_eof)
			return 0;
		if ((r = file_lines_fill(fl)) < 0)
			return r;
	}
}

void file_unescape_octal(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int file_split(char *s, char **fields, int max)
{
	int n = 0;

	while (n < max) {
		s += strspn(s, " \t");
		if (!*s)
			break;
		fields[n++] = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
	return n;
}
