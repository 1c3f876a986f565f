/* image: manifest parsing and digest verification. */
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

#include "file.h"
#include "jsonin.h"
#include "sha256.h"

const struct jsonin_limits image_manifest_limits = {
	.jl_max_bytes = IMAGE_MANIFEST_MAX,
	.jl_max_depth = 8,
	.jl_max_fields = 2048, /* "packages": one element per installed package */
};

static int image_hex_ok(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A file name inside the image directory: no slash, no dot-files. */
static int image_fname_ok(const char *s)
{
	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static const struct image_file *image_find(const struct image *im, const char *name)
{
	for (size_t i = 0; i < im->im_n_files; i++)
		if (strcmp(im->im_files[i].if_name, name) == 0)
			return &im->im_files[i];
	return NULL;
}

static int image_parse_files(struct json_object *arr, struct image *im, struct dock_err *err)
{
	size_t n = json_object_array_length(arr);

	if (n == 0 || n > IMAGE_MAX_FILES)
		return err_set(err, 400, E2BIG, "manifest: \"files\" must list 1..%d files",
			       IMAGE_MAX_FILES);
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(arr, i);
		struct image_file *imf = &im->im_files[i];
		uint64_t size;
		char what[48];

		snprintf(what, sizeof(what), "manifest: files[%zu]", i);
		if (!json_object_is_type(f, json_type_object))
			return err_set(err, 400, EINVAL, "%s: must be an object", what);
		if (jsonin_str(f, what, "name", true, imf->if_name, sizeof(imf->if_name), err) < 0 ||
		    jsonin_str(f, what, "role", true, imf->if_role, sizeof(imf->if_role), err) < 0 ||
		    jsonin_str(f, what, "sha256", true, imf->if_sha256, sizeof(imf->if_sha256),
			       err) < 0 ||
		    jsonin_u64(f, what, "size", true, 0, INT64_MAX, &size, err) < 0)
			return -EINVAL;
		imf->if_size = size;
		if (!image_fname_ok(imf->if_name))
			return err_set(err, 400, EINVAL, "%s: bad file name \"%s\"", what,
				       imf->if_name);
		if (!image_hex_ok(imf->if_sha256))
			return err_set(err, 400, EINVAL, "%s: sha256 must be 64 lower-case hex digits",
				       what);
		if (image_find(im, imf->if_name) != NULL)
			return err_set(err, 400, EINVAL, "%s: file \"%s\" listed twice", what,
				       imf->if_name);
		im->im_n_files = i + 1;
	}
	return 0;
}

static const struct image_file *image_role_file(const struct image *im, const char *role)
{
	for (size_t i = 0; i < im->im_n_files; i++)
		if (strcmp(im->im_files[i].if_role, role) == 0)
			return &im->im_files[i];
	return NULL;
}

int image_manifest_parse(const char *buf, size_t len, struct image *im, struct dock_err *err)
{
	struct json_object *o = NULL, *boot, *files, *rec, *svc;
	char mode[16], fname[IMAGE_FILE_NAME_MAX];
	uint64_t format;
	int r = -EINVAL;

	memset(im, 0, sizeof(*im));
	if (jsonin_parse("manifest", buf, len, &image_manifest_limits, &o, err) < 0)
		return -EINVAL;
	if (jsonin_u64(o, "manifest", "format", true, 1, 1, &format, err) < 0 ||
	    jsonin_str(o, "manifest", "name", true, im->im_name, sizeof(im->im_name), err) < 0 ||
	    validate_name("image", im->im_name, IMAGE_NAME_MAX, err) < 0)
		goto out;
	if (JSONIN_BAD(jsonin_str(o, "manifest", "built", false, im->im_built, sizeof(im->im_built),
				  err)))
		goto out;
	if (!json_object_object_get_ex(o, "files", &files) ||
	    !json_object_is_type(files, json_type_array)) {
		err_set(err, 400, EINVAL, "manifest: \"files\" must be an array");
		goto out;
	}
	if (image_parse_files(files, im, err) < 0)
		goto out;
	if (!json_object_object_get_ex(o, "boot", &boot) ||
	    !json_object_is_type(boot, json_type_object)) {
		err_set(err, 400, EINVAL, "manifest: \"boot\" must be an object");
		goto out;
	}
	if (jsonin_str(boot, "manifest: boot", "mode", true, mode, sizeof(mode), err) < 0)
		goto out;
	if (strcmp(mode, "kernel") == 0) {
		im->im_boot = IMAGE_BOOT_KERNEL;
	} else if (strcmp(mode, "efi") == 0) {
		im->im_boot = IMAGE_BOOT_EFI;
	} else {
		err_set(err, 400, EINVAL, "manifest: boot mode must be \"kernel\" or \"efi\"");
		goto out;
	}
	if (JSONIN_BAD(jsonin_str(boot, "manifest: boot", "cmdline", false, im->im_cmdline,
		       sizeof(im->im_cmdline), err)))
		goto out;
	if (json_object_object_get_ex(o, "recommended", &rec)) {
		/* Bounds of sanity only: the dock's own limits apply at create. */
		if (!json_object_is_type(rec, json_type_object)) {
			err_set(err, 400, EINVAL, "manifest: \"recommended\" must be an object");
			goto out;
		}
		if (JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "memory_mib", false, 64,
					  1024 * 1024, &im->im_memory_mib, err)) ||
		    JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "scratch_mib", false, 16,
					  64ULL * 1024 * 1024, &im->im_scratch_mib, err)))
			goto out;
	}
	if (json_object_object_get_ex(o, "service", &svc)) {
		if (profile_from_service(svc, im->im_name, &im->im_service, err) < 0) {
			err_prefix(err, "manifest: ");
			goto out;
		}
		im->im_have_service = true;
	}
	im->im_base = image_role_file(im, "base");
	if (im->im_base == NULL) {
		err_set(err, 400, EINVAL, "manifest: no file with role \"base\"");
		goto out;
	}
	if (im->im_boot == IMAGE_BOOT_KERNEL) {
		if (jsonin_str(boot, "manifest: boot", "kernel", true, fname, sizeof(fname), err) < 0)
			goto out;
		im->im_kernel = image_find(im, fname);
		if (jsonin_str(boot, "manifest: boot", "initrd", true, fname, sizeof(fname), err) < 0)
			goto out;
		im->im_initrd = image_find(im, fname);
		if (im->im_kernel == NULL || im->im_initrd == NULL) {
			err_set(err, 400, EINVAL,
				"manifest: boot kernel/initrd must name files listed in \"files\"");
			goto out;
		}
	}
	r = 0;
out:
	json_object_put(o);
	return r;
}

int image_path(const struct image *im, const struct image_file *f, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", im->im_dir, f->if_name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int image_load(const char *image_dir, const char *name, struct image *im, struct dock_err *err)
{
	char path[PATH_MAX], *buf;
	size_t len = 0;
	int r;

	if (validate_name("image", name, IMAGE_NAME_MAX, err) < 0)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/manifest.json", image_dir, name) >=
	    sizeof(path))
		return err_set(err, 400, ENAMETOOLONG, "image \"%s\": path too long", name);
	r = file_read(path, IMAGE_MANIFEST_MAX, &buf, &len);
	if (r == -ENOENT)
		return err_set(err, 404, ENOENT, "image \"%s\" not found in %s", name, image_dir);
	if (r < 0)
		return err_set(err, r == -E2BIG ? 400 : 500, -r, "image \"%s\": %s: %s", name,
			       path, strerror(-r));
	r = image_manifest_parse(buf, len, im, err);
	free(buf);
	if (r < 0) {
		err_prefix(err, "image \"%s\": ", name);
		return r;
	}
	if (strcmp(im->im_name, name) != 0)
		return err_set(err, 400, EINVAL, "image \"%s\": manifest names it \"%s\"", name,
			       im->im_name);
	snprintf(im->im_dir, sizeof(im->im_dir), "%s/%s", image_dir, name);
	return 0;
}

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

static bool image_same_file(const struct image_verified *v, const struct stat *st, const char *sha256)
{
	return v->iv_dev == st->st_dev && v->iv_ino == st->st_ino && v->iv_size == st->st_size &&
	       v->iv_mtime.tv_sec == st->st_mtim.tv_sec && v->iv_mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       v->iv_ctime.tv_sec == st->st_ctim.tv_sec && v->iv_ctime.tv_nsec == st->st_ctim.tv_nsec &&
	       strcmp(v->iv_sha256, sha256) == 0;
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

int image_verify(const struct image *im, struct dock_err *err)
{
	for (size_t i = 0; i < im->im_n_files; i++) {
		const struct image_file *f = &im->im_files[i];
		char path[PATH_MAX], hex[65];
		struct stat before, after;

		if (image_path(im, f, path, sizeof(path)) < 0)
			return err_set(err, 500, ENAMETOOLONG, "image \"%s\": path too long",
				       im->im_name);
		bool have = stat(path, &before) == 0;

		if (have && image_verified_known(&before, f->if_sha256))
			continue;
		if (sha256_file(path, hex, NULL, err) < 0) {
			err_prefix(err, "image \"%s\": ", im->im_name);
			return -EIO;
		}
		if (strcmp(hex, f->if_sha256) != 0)
			return err_set(err, 409, EBADMSG,
				       "image \"%s\": %s digest mismatch: manifest says %.12s..., file has %.12s... (refusing to start)",
				       im->im_name, f->if_name, f->if_sha256, hex);
		/* Remembered only if nothing changed while it was read. */
		if (have && stat(path, &after) == 0 && memcmp(&before.st_mtim, &after.st_mtim, sizeof(after.st_mtim)) == 0 &&
		    memcmp(&before.st_ctim, &after.st_ctim, sizeof(after.st_ctim)) == 0 &&
		    before.st_ino == after.st_ino && before.st_size == after.st_size)
			image_verified_add(&after, f->if_sha256);
	}
	return 0;
}
