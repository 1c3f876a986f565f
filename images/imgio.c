/*
 * imgio.c: what every part of the image builder uses: one-line messages,
 * bounded file reads, exact-mode file writes, directory trees, external
 * tools run through posix_spawnp (never a shell), digests and name-derived
 * UUIDs. Functions return 0 or a negative errno and fill the error object.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "imgio.h"

#include "file.h"
#include "progress.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

extern char **environ;

/* --- messages ------------------------------------------------------------- */

/* read(2) again after a signal; bytes read, 0 at the end, or -errno. */
static ssize_t read_intr(int fd, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);

		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

__attribute__((format(printf, 1, 0))) static void img_vlog(const char *fmt, va_list ap)
{
	progress_hold(NULL); /* a build's live line, if any, makes way */
	fputs("isc-image: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void img_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	img_vlog(fmt, ap);
	va_end(ap);
}

void img_log_err(struct dock_err *err)
{
	if (err_isset(err))
		img_log("%s", err->de_msg);
	err_clear(err);
}

/* snprintf that treats truncation as the error it is. */
int path_join(char *buf, size_t size, const char *a, const char *b, struct dock_err *err)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= size)
		return err_set(err, IMG_ERR, ENAMETOOLONG, "path too long: %s/%s", a, b);
	return 0;
}

/* --- files ---------------------------------------------------------------- */

/* Read a whole file of at most max bytes; NUL-terminated; *out owned by caller. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct dock_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t have = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, IMG_ERR, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return err_set(err, IMG_ERR, EFBIG, "%s: %lld bytes, more than the limit of %zu",
			       path, (long long)st.st_size, max);
	buf = malloc(max + 1);
	if (!buf)
		return err_set(err, IMG_ERR, ENOMEM, "%s: out of memory", path);
	for (;;) {
		ssize_t n = read_intr(fd, buf + have, max + 1 - have);

		if (n < 0)
			return err_set(err, IMG_ERR, (int)-n, "%s: %s", path, strerror((int)-n));
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max)
			return err_set(err, IMG_ERR, EFBIG, "%s: grew past the limit of %zu bytes",
				       path, max);
	}
	buf[have] = '\0';
	*out = buf;
	buf = NULL;
	*len = have;
	return 0;
}

int fd_write_all(int fd, const void *data, size_t len, const char *what, struct dock_err *err)
{
	int r = file_write_fd(fd, data, len);

	return r < 0 ? err_set(err, IMG_ERR, r, "%s: write: %s", what, strerror(-r)) : 0;
}

/* Create dst (must not exist) with exactly this mode, whatever the umask. */
int file_create(const char *dst, mode_t mode, struct dock_err *err)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", dst, strerror(errno));
	if (fchmod(fd, mode) < 0) {
		int r = err_set(err, IMG_ERR, errno, "%s: chmod: %s", dst, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int file_write(const char *dst, const char *content, mode_t mode, struct dock_err *err)
{
	_cleanup_close_ int fd = file_create(dst, mode, err);

	if (fd < 0)
		return fd;
	return fd_write_all(fd, content, strlen(content), dst, err);
}

int file_copy(const char *src, const char *dst, mode_t mode, struct dock_err *err)
{
	_cleanup_close_ int in = -1, out = -1;
	char buf[65536];

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	out = file_create(dst, mode, err);
	if (out < 0)
		return out;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
		if (n == 0)
			return 0;
		if ((r = fd_write_all(out, buf, (size_t)n, dst, err)) < 0)
			return r;
	}
}

int file_sync(const char *path, struct dock_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return err_set(err, IMG_ERR, errno, "%s: fsync: %s", path, strerror(errno));
	return 0;
}

/* mkdir -p with an exact mode on every directory it creates. */
int dir_make(const char *path, mode_t mode, struct dock_err *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, mode) == 0) {
			if (chmod(buf, mode) < 0)
				return err_set(err, IMG_ERR, errno, "%s: chmod: %s", buf,
					       strerror(errno));
		} else if (errno != EEXIST) {
			return err_set(err, IMG_ERR, errno, "%s: mkdir: %s", buf, strerror(errno));
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* The first failure of a removal walk, for dir_remove() (nftw passes no context;
 * the CLI has one thread). */
static int rm_errno;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0) {
		if (rm_errno == 0)
			rm_errno = errno;
		img_log("cannot remove %s: %s", path, strerror(errno));
	}
	return 0;
}

void dir_remove_tree(const char *path)
{
	nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int dir_remove(const char *path, struct dock_err *err)
{
	rm_errno = 0;
	if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && rm_errno == 0)
		rm_errno = errno ? errno : EIO;
	if (rm_errno != 0)
		return err_set(err, IMG_ERR, rm_errno, "%s: not wholly removed: %s", path,
			       strerror(rm_errno));
	return 0;
}

/*
 * Refuse dynamically linked binaries: the initramfs and the micro root have
 * no C library. A static ELF has no PT_INTERP program header.
 */
int elf_check_static(const char *path, const char *what, struct dock_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (fd < 0)
		return err_set(err, IMG_ERR, errno, "%s %s: %s", what, path, strerror(errno));
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64)
		return err_set(err, IMG_ERR, EINVAL, "%s %s: not an x86-64 ELF executable", what,
			       path);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return err_set(err, IMG_ERR, EINVAL, "%s %s: truncated ELF program headers",
				       what, path);
		if (ph.p_type == PT_INTERP)
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s %s is dynamically linked; the image needs a static binary",
				what, path);
	}
	return 0;
}

/* --- running tools ---------------------------------------------------------- */

int tool_run(char *const argv[], int out_fd, struct dock_err *err)
{
	return tool_run_fds(argv, out_fd, -1, err);
}

/* Run argv[0] (PATH lookup): stdin from /dev/null, stdout to out_fd or /dev/null,
 * stderr to err_fd or shown. */
int tool_run_fds(char *const argv[], int out_fd, int err_fd, struct dock_err *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r, status;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return err_set(err, IMG_ERR, ENOMEM, "%s: cannot prepare to run it", argv[0]);
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = out_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)
				: posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
								   O_WRONLY, 0);
	if (r == 0 && err_fd >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return err_set(err, IMG_ERR, r, "cannot run %s: %s", argv[0], strerror(r));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return err_set(err, IMG_ERR, errno, "%s: waitpid: %s", argv[0],
				       strerror(errno));
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return err_set(err, IMG_ERR, EIO, "%s failed with exit status %d", argv[0],
			       WEXITSTATUS(status));
	return err_set(err, IMG_ERR, EIO, "%s killed by signal %d", argv[0], WTERMSIG(status));
}

/* --- overlay trees ----------------------------------------------------------------- */

/* Byte order, whatever the locale: the same tree gives the same archive and root. */
static int tree_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int tree_not_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

static void tree_names_free(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The entries of dir/rel in name order, each given to fn, directories walked into. */
static int tree_walk_names(const char *root, const char *rel, const char *dir, int depth,
			   size_t *count, tree_fn fn, void *ctx, struct dirent **names, int n,
			   struct dock_err *err)
{
	int r;

	for (int i = 0; i < n; i++) {
		const struct dirent *de = names[i];
		char src[PATH_MAX], sub[PATH_MAX];
		struct stat st;

		if (++*count > TREE_MAX_ENTRIES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d entries", root,
				       TREE_MAX_ENTRIES);
		if ((r = path_join(src, sizeof(src), dir, de->d_name, err)) < 0)
			return r;
		if (rel[0])
			r = path_join(sub, sizeof(sub), rel, de->d_name, err);
		else if (snprintf(sub, sizeof(sub), "%s", de->d_name) >= (int)sizeof(sub))
			r = err_set(err, IMG_ERR, ENAMETOOLONG, "%s: name too long", src);
		else
			r = 0;
		if (r < 0)
			return r;
		if (lstat(src, &st) < 0)
			return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: only files, directories and symlinks belong in an image tree",
				src);
		if ((r = fn(ctx, sub, src, &st, err)) < 0)
			return r;
		if (S_ISDIR(st.st_mode) &&
		    (r = tree_walk(root, sub, depth + 1, count, fn, ctx, err)) < 0)
			return r;
	}
	return 0;
}

int tree_walk(const char *root, const char *rel, int depth, size_t *count, tree_fn fn, void *ctx,
	      struct dock_err *err)
{
	struct dirent **names = NULL;
	char dir[PATH_MAX];
	int r, n;

	if (depth > TREE_MAX_DEPTH)
		return err_set(err, IMG_ERR, ELOOP, "%s/%s: nested deeper than %d", root, rel,
			       TREE_MAX_DEPTH);
	if (rel[0])
		r = path_join(dir, sizeof(dir), root, rel, err);
	else if (snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir))
		r = err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", root);
	else
		r = 0;
	if (r < 0)
		return r;
	n = scandir(dir, &names, tree_not_dots, tree_name_cmp);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", dir, strerror(errno));
	r = tree_walk_names(root, rel, dir, depth, count, fn, ctx, names, n, err);
	tree_names_free(names, n);
	return r;
}

/* Modes are normalised: what QEMU's user must read is world-readable. */
mode_t tree_mode(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return 0755;
	return (st->st_mode & 0111) ? 0755 : 0644;
}

/*
 * A name-derived, fixed UUID (RFC 4122 layout, version 4 bits): the same
 * recipe always gives the same filesystem UUID and directory hash seed.
 */
void fixed_uuid(const char *purpose, const char *name, char out[37])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char in[128];
	int n = snprintf(in, sizeof(in), "isc-image %s %s", purpose, name);

	crypto_hash_sha256(h, (const unsigned char *)in, (unsigned long long)n);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
		 h[13], h[14], h[15]);
}

int tool_runc(const char *const argv[], int out_fd, struct dock_err *err)
{
	return tool_runc_fds(argv, out_fd, -1, err);
}

int tool_runc_fds(const char *const argv[], int out_fd, int err_fd, struct dock_err *err)
{
	char *v[TOOL_ARGS_MAX];
	size_t n = 0;

	while (n < TOOL_ARGS_MAX - 1 && argv[n])
		n++;
	if (argv[n])
		return err_set(err, IMG_ERR, E2BIG, "%s: more than %d arguments", argv[0],
			       TOOL_ARGS_MAX - 1);
	/* posix_spawn takes char *const[]: it does not write the strings. */
	memcpy(v, argv, n * sizeof(v[0]));
	v[n] = NULL;
	return tool_run_fds(v, out_fd, err_fd, err);
}
