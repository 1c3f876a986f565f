/* image: the dock's side of an image: its files' digests verified against
 * the manifest (common/manifest.c parses it), with a bounded cache of the
 * files already verified; an image's removal (image rm). */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

/*
 * Files whose digest was verified, by identity: a file whose device,
 * inode, size, mtime and ctime are unchanged has the same content (ctime
 * cannot be set back), so a start or a status of a golden image (~150 MB)
 * does not hash it again. Bounded; the oldest entry is replaced.
 */
#define IMAGE_VERIFIED_MAX 64

static struct image_verified {
	dev_t iv_dev;
	ino_t iv_ino;
	off_t iv_size;
	struct timespec iv_mtime, iv_ctime;
	char iv_sha256[65];
} image_verified[IMAGE_VERIFIED_MAX];
static size_t image_verified_next;
static pthread_mutex_t image_verified_lock = PTHREAD_MUTEX_INITIALIZER;

static bool image_same_file(const struct image_verified *v, const struct stat *st,
			    const char *sha256)
{
	return v->iv_dev == st->st_dev && v->iv_ino == st->st_ino && v->iv_size == st->st_size &&
		v->iv_mtime.tv_sec == st->st_mtim.tv_sec &&
		v->iv_mtime.tv_nsec == st->st_mtim.tv_nsec &&
		v->iv_ctime.tv_sec == st->st_ctim.tv_sec &&
		v->iv_ctime.tv_nsec == st->st_ctim.tv_nsec && strcmp(v->iv_sha256, sha256) == 0;
}

static bool image_verified_known(const struct stat *st, const char *sha256)
{
	bool known = false;

	pthread_mutex_lock(&image_verified_lock);
	for (size_t i = 0; i < IMAGE_VERIFIED_MAX && !known; i++)
		known = image_same_file(&image_verified[i], st, sha256);
	pthread_mutex_unlock(&image_verified_lock);
	return known;
}

static void image_verified_add(const struct stat *st, const char *sha256)
{
	struct image_verified *v;

	pthread_mutex_lock(&image_verified_lock);
	v = &image_verified[image_verified_next];
	image_verified_next = (image_verified_next + 1) % IMAGE_VERIFIED_MAX;
	v->iv_dev = st->st_dev;
	v->iv_ino = st->st_ino;
	v->iv_size = st->st_size;
	v->iv_mtime = st->st_mtim;
	v->iv_ctime = st->st_ctim;
	snprintf(v->iv_sha256, sizeof(v->iv_sha256), "%s", sha256);
	pthread_mutex_unlock(&image_verified_lock);
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int image_qcow2_standalone(const unsigned char *hdr, size_t n, const char **why)
{
	/* qcow2 header: magic "QFI\xfb", version (be32) at 4, the backing
	 * file's offset (be64) at 8; from version 3 the incompatible features
	 * (be64) at 72, whose bit 2 is an external data file. */
	if (n < 20 || memcmp(hdr, "QFI\xfb", 4) != 0) {
		*why = "is not a qcow2 file";
		return -EINVAL;
	}
	if (be64(hdr + 8) != 0) {
		*why = "names a backing file";
		return -EINVAL;
	}
	if (hdr[7] >= 3 && (n < 80 || (be64(hdr + 72) & 4) != 0)) {
		*why = n < 80 ? "has a short qcow2 header" : "names an external data file";
		return -EINVAL;
	}
	return 0;
}

/* The dock's digest covers the base file only: a base that names another
 * file (a backing file, an external data file) would boot content nobody
 * verified, so it is refused whatever its digest. */
static int image_base_check(const struct image *im, const char *path, struct dock_err *err)
{
	unsigned char hdr[104];
	const char *why = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return err_set(err, 500, errno, "image \"%s\": %s: %s", im->im_name, path,
			       strerror(errno));
	n = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	if (n < 0)
		return err_set(err, 500, errno, "image \"%s\": %s: %s", im->im_name, path,
			       strerror(errno));
	if (image_qcow2_standalone(hdr, (size_t)n, &why) < 0)
		return err_set(
			err, 409, EINVAL,
			"image \"%s\": base %s %s (a base disk must stand alone; refusing it)",
			im->im_name, im->im_base->if_name, why);
	return 0;
}

int image_verify(const struct image *im, struct dock_err *err)
{
	for (size_t i = 0; i < im->im_n_files; i++) {
		const struct image_file *f = &im->im_files[i];
		char path[PATH_MAX], hex[65];
		struct stat before, after;

		if (image_path(im, f, path, sizeof(path)) < 0)
			return err_set(err, 500, ENAMETOOLONG, "image \"%s\": path too long",
				       im->im_name);
		if (f == im->im_base && image_base_check(im, path, err) < 0)
			return -EINVAL;
		bool have = stat(path, &before) == 0;

		if (have && image_verified_known(&before, f->if_sha256))
			continue;
		if (sha256_file(path, hex, NULL, err) < 0) {
			err_prefix(err, "image \"%s\": ", im->im_name);
			return -EIO;
		}
		if (strcmp(hex, f->if_sha256) != 0)
			return err_set(
				err, 409, EBADMSG,
				"image \"%s\": %s digest mismatch: manifest says %.12s..., file has %.12s... (refusing to start)",
				im->im_name, f->if_name, f->if_sha256, hex);
		/* Remembered only if nothing changed while it was read. */
		if (have && stat(path, &after) == 0 &&
		    memcmp(&before.st_mtim, &after.st_mtim, sizeof(after.st_mtim)) == 0 &&
		    memcmp(&before.st_ctim, &after.st_ctim, sizeof(after.st_ctim)) == 0 &&
		    before.st_ino == after.st_ino && before.st_size == after.st_size)
			image_verified_add(&after, f->if_sha256);
	}
	return 0;
}

/* ---- removal ------------------------------------------------------------- */

/* One of the image's files, by name in its directory dfd; absence is
 * success (a removal interrupted before). */
static int image_rm_file(int dfd, const struct image *im, const char *file, struct image_rm *out,
			 struct dock_err *err)
{
	struct stat st;

	if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 || unlinkat(dfd, file, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, 500, errno, "image \"%s\": removing %s/%s: %s", im->im_name,
			       im->im_dir, file, strerror(errno));
	}
	out->ir_files++;
	if (S_ISREG(st.st_mode))
		out->ir_bytes += (uint64_t)st.st_size;
	return 0;
}

int image_remove(const char *image_dir, const char *name, struct image_rm *out,
		 struct dock_err *err)
{
	struct image im;
	struct stat st;
	int dfd, r;

	memset(out, 0, sizeof(*out));
	r = image_load(image_dir, name, &im, err);
	if (r < 0)
		return r;
	if (lstat(im.im_dir, &st) < 0)
		return err_set(err, 500, errno, "image \"%s\": %s: %s", name, im.im_dir,
			       strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		if (unlink(im.im_dir) < 0)
			return err_set(err, 500, errno, "image \"%s\": removing the link %s: %s",
				       name, im.im_dir, strerror(errno));
		out->ir_link = true;
		return 0;
	}
	dfd = open(im.im_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_set(err, 500, errno, "image \"%s\": %s: %s", name, im.im_dir,
			       strerror(errno));
	/* The manifest first: a removal cut short leaves no half image. */
	r = image_rm_file(dfd, &im, "manifest.json", out, err);
	for (size_t i = 0; r == 0 && i < im.im_n_files; i++)
		r = image_rm_file(dfd, &im, im.im_files[i].if_name, out, err);
	close(dfd);
	if (r < 0)
		return r;
	if (rmdir(im.im_dir) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			return err_set(err, 500, errno, "image \"%s\": removing %s: %s", name,
				       im.im_dir, strerror(errno));
		out->ir_dir_kept = true; /* someone else's files: not ours to remove */
	}
	return 0;
}
