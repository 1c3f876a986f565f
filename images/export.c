/*
 * export: a built image as OVF 1.x, OVA or a compressed qcow2 image
 * directory (export.h; what is written and why: images/EXPORT.md). This
 * file is the command, the job (verify, write in a temp dir, commit) and
 * the qcow2 format; export-ovf.c writes the OVF descriptor (libxml2's
 * xmlTextWriter), export-pack.c the VMDK, the .mf and the OVA's ustar
 * (written here, so the archive is the same bytes for the same image),
 * around export-int.h. The manifest goes through the dock's own bounded,
 * fuzzed parser (common/manifest.c); qemu-img runs through posix_spawnp,
 * never a shell.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "export.h"
#include "export-int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "err.h"
#include "file.h"
#include "manifest.h"
#include "jsonin.h"
#include "sha256.h"

extern char **environ;

#define EXPORT_DEFAULT_IMAGES "build/images"
#define EXPORT_DEFAULT_OUT    "build/exports"
/* `qemu-img info` of one image without a backing chain is about 1 KiB. */
#define EXPORT_QEMU_INFO_MAX (64 * 1024)
/* How much of a failed tool's first stderr line goes into our one line. */
#define EXPORT_TOOL_MSG_MAX   4096
#define EXPORT_TOOL_MSG_SHOWN 200
/* Hardware the manifest may recommend ("recommended": memory_mib, vcpus):
 * bounds that catch typos, well inside what VMware and KVM accept. */
#define EXPORT_MEMORY_DEFAULT_MIB 1024
#define EXPORT_MEMORY_MIN_MIB     64
#define EXPORT_MEMORY_MAX_MIB     (1024 * 1024)
#define EXPORT_VCPUS_DEFAULT      1
#define EXPORT_VCPUS_MAX          256

static const struct export_format_name {
	const char *ef_name;
	enum export_format ef_format;
} export_formats[] = {
	{ "ovf", EXPORT_OVF },
	{ "ova", EXPORT_OVA },
	{ "qcow2", EXPORT_QCOW2 },
};

/* --- files ------------------------------------------------------------------ */

int export_path(char *buf, size_t size, const char *dir, const char *name, struct dock_err *err)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return err_set(err, 400, ENAMETOOLONG, "path too long: %s/%s", dir, name);
	return 0;
}

int export_write_all(int fd, const void *data, size_t len, const char *path, struct dock_err *err)
{
	int r = file_write_fd(fd, data, len);

	return r < 0 ? err_set(err, 500, -r, "%s: write: %s", path, strerror(-r)) : 0;
}

/* Append exactly size bytes of in to out: a source that changes size while
 * it is copied is an error, not a short member. */
int export_copy_fd(int in, int out, uint64_t size, const char *src, const char *dst,
		   struct dock_err *err)
{
	static unsigned char buf[1 << 20];
	uint64_t left = size;

	while (left > 0) {
		ssize_t n = read(in, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, 500, errno, "%s: read: %s", src, strerror(errno));
		if (n == 0)
			return err_set(err, 500, EIO, "%s: shrank while it was copied", src);
		if (export_write_all(out, buf, (size_t)n, dst, err) < 0)
			return -EIO;
		left -= (uint64_t)n;
	}
	return 0;
}

int export_open_new(const char *path, struct dock_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	return fd;
}

/* fsync and close fd; the file's content is final. */
int export_finish_fd(int fd, const char *path, struct dock_err *err)
{
	int r = 0;

	if (fsync(fd) < 0)
		r = err_set(err, 500, errno, "%s: fsync: %s", path, strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = err_set(err, 500, errno, "%s: close: %s", path, strerror(errno));
	return r;
}

static int export_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* --- tools ------------------------------------------------------------------ */

/* The first line of a tool's stderr, for our one line about its failure. */
static void export_tool_msg(const char *path, char *msg, size_t size)
{
	char *buf = NULL;
	size_t len = 0;

	msg[0] = '\0';
	if (file_read(path, EXPORT_TOOL_MSG_MAX, &buf, &len) < 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(msg, size, "%.*s", EXPORT_TOOL_MSG_SHOWN, buf);
	free(buf);
}

/* Run argv (PATH lookup, no shell): stdin /dev/null, stdout into out_path
 * (or /dev/null), stderr kept in the temp dir for the error message. */
int export_tool(const struct export_job *ej, char *const argv[], const char *out_path,
		struct dock_err *err)
{
	posix_spawn_file_actions_t fa;
	char errpath[PATH_MAX], msg[EXPORT_TOOL_MSG_SHOWN + 1];
	pid_t pid;
	int r, status;

	if (export_path(errpath, sizeof(errpath), ej->ej_tmp, ".stderr", err) < 0)
		return -ENAMETOOLONG;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return err_set(err, 500, ENOMEM, "cannot prepare to run %s", argv[0]);
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
						     out_path ? out_path : "/dev/null",
						     O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errpath,
						     O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return err_set(err, 500, r, "cannot run %s: %s", argv[0], strerror(r));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return err_set(err, 500, errno, "%s: waitpid: %s", argv[0],
				       strerror(errno));
	}
	export_tool_msg(errpath, msg, sizeof(msg));
	unlink(errpath);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return err_set(err, 500, EIO, "%s %s failed with exit status %d%s%s", argv[0],
			       argv[1], WEXITSTATUS(status), msg[0] ? ": " : "", msg);
	return err_set(err, 500, EIO, "%s %s killed by signal %d", argv[0], argv[1],
		       WTERMSIG(status));
}

/* --- the image -------------------------------------------------------------- */

static const struct jsonin_limits export_info_limits = {
	.jl_max_bytes = EXPORT_QEMU_INFO_MAX,
	.jl_max_depth = 8,
	.jl_max_fields = 64,
};

/* The manifest again, as JSON: "recommended" hardware, and the qcow2 export
 * rewrites it. image_load() has parsed it with the same limits already. */
static int export_manifest(struct export_job *ej, struct dock_err *err)
{
	struct json_object *rec;
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int r;

	ej->ej_memory_mib = EXPORT_MEMORY_DEFAULT_MIB;
	ej->ej_vcpus = EXPORT_VCPUS_DEFAULT;
	if (export_path(path, sizeof(path), ej->ej_image.im_dir, "manifest.json", err) < 0)
		return -ENAMETOOLONG;
	r = file_read(path, IMAGE_MANIFEST_MAX, &buf, &len);
	if (r < 0)
		return err_set(err, 500, -r, "%s: %s", path, strerror(-r));
	r = jsonin_parse(path, buf, len, &image_manifest_limits, &ej->ej_manifest, err);
	free(buf);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(ej->ej_manifest, "recommended", &rec))
		return 0;
	if (!json_object_is_type(rec, json_type_object))
		return err_set(err, 400, EINVAL, "%s: \"recommended\" must be an object", path);
	if (JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "memory_mib", false,
				  EXPORT_MEMORY_MIN_MIB, EXPORT_MEMORY_MAX_MIB, &ej->ej_memory_mib,
				  err)) ||
	    JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "vcpus", false, 1, EXPORT_VCPUS_MAX,
				  &ej->ej_vcpus, err)))
		return -EINVAL;
	return 0;
}

/* Every member of the export carries the image's build time ("built", which
 * the builder took from SOURCE_DATE_EPOCH when set): same image, same bytes. */
static void export_mtime(struct export_job *ej)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(ej->ej_image.im_built, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ej->ej_mtime = end && *end == '\0' ? timegm(&tm) : 0;
	if (ej->ej_mtime < 0)
		ej->ej_mtime = 0;
}

/* The files must be the ones the manifest recorded: an export hands the
 * image to people who cannot ask the dock whether it was tampered with. */
static int export_verify(const struct export_job *ej, const struct image_file *f,
			 struct dock_err *err)
{
	char path[PATH_MAX], hex[65];
	uint64_t size = 0;

	if (image_path(&ej->ej_image, f, path, sizeof(path)) < 0)
		return err_set(err, 400, ENAMETOOLONG, "image \"%s\": path too long",
			       ej->ej_image.im_name);
	if (sha256_file(path, hex, &size, err) < 0)
		return -EIO;
	if (strcmp(hex, f->if_sha256) != 0 || size != f->if_size)
		return err_set(
			err, 409, EBADMSG,
			"%s does not match the image's manifest (sha256 %.12s..., manifest says %.12s...): refusing to export",
			path, hex, f->if_sha256);
	return 0;
}

/* Virtual size and allocated bytes of the base disk. -f qcow2: the format
 * is the manifest's, never probed; a backing file would make the export
 * depend on a file it does not carry. */
static int export_disk_info(struct export_job *ej, struct dock_err *err)
{
	char *argv[] = { "qemu-img", "info", "--output=json", "-f", "qcow2", ej->ej_base, NULL };
	struct json_object *info = NULL, *backing;
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int r;

	if (export_path(path, sizeof(path), ej->ej_tmp, ".qemu-img-info.json", err) < 0)
		return -ENAMETOOLONG;
	if ((r = export_tool(ej, argv, path, err)) < 0)
		return r;
	r = file_read(path, EXPORT_QEMU_INFO_MAX, &buf, &len);
	unlink(path);
	if (r < 0)
		return err_set(err, 500, -r, "qemu-img info %s: output: %s", ej->ej_base,
			       strerror(-r));
	r = jsonin_parse("qemu-img info", buf, len, &export_info_limits, &info, err);
	free(buf);
	if (r < 0)
		return r;
	ej->ej_populated = 0;
	if (jsonin_u64(info, "qemu-img info", "virtual-size", true, 1, INT64_MAX, &ej->ej_capacity,
		       err) < 0 ||
	    JSONIN_BAD(jsonin_u64(info, "qemu-img info", "actual-size", false, 0, INT64_MAX,
				  &ej->ej_populated, err)))
		r = -EINVAL;
	else if (json_object_object_get_ex(info, "backing-filename", &backing))
		r = err_set(err, 400, EINVAL, "%s has a backing file: an export must stand alone",
			    ej->ej_base);
	json_object_put(info);
	if (ej->ej_populated == 0 || ej->ej_populated > ej->ej_capacity)
		ej->ej_populated = ej->ej_capacity;
	return r;
}

/* --- formats ---------------------------------------------------------------- */

static int export_copy_file(const char *src, const char *dst, struct dock_err *err);

/*
 * The image's OpenSCAP results (scan-PROFILE.arf.xml and .html, named by
 * the manifest's "scan" profiles, whose ids are [a-z0-9_]) copied into
 * the temp dir after the OVF's own files: names[3..], *n counts them all.
 */
static int export_scan_files(struct export_job *ej, char names[][IMAGE_NAME_MAX + 16], size_t *n,
			     struct dock_err *err)
{
	const struct image_scan *sc = &ej->ej_image.im_scan;
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	int r;

	for (size_t i = 0; sc->is_have && i < sc->is_n_profiles; i++)
		for (int k = 0; k < 2; k++) {
			char *name = names[*n];

			snprintf(name, IMAGE_NAME_MAX + 16, "scan-%.48s.%s",
				 sc->is_profiles[i].sp_id, k ? "html" : "arf.xml");
			if ((r = export_path(src, sizeof(src), ej->ej_image.im_dir, name, err)) <
				    0 ||
			    (r = export_path(dst, sizeof(dst), ej->ej_tmp, name, err)) < 0)
				return r;
			if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
				continue; /* a rescan may have dropped a profile's files */
			if ((r = export_copy_file(src, dst, err)) < 0)
				return r;
			(*n)++;
		}
	return 0;
}

/* NAME.ovf, NAME.mf, NAME-disk1.vmdk and the scan's results in the temp dir. */
static int export_ovf_files(struct export_job *ej, char names[][IMAGE_NAME_MAX + 16], size_t *n,
			    struct dock_err *err)
{
	char vmdk[PATH_MAX], ovf[PATH_MAX];
	const char *members[EXPORT_MAX_MEMBERS + 1];
	size_t m = 0;
	struct stat st;
	int r;

	snprintf(names[0], IMAGE_NAME_MAX + 16, "%s.ovf", ej->ej_image.im_name);
	snprintf(names[1], IMAGE_NAME_MAX + 16, "%s.mf", ej->ej_image.im_name);
	snprintf(names[2], IMAGE_NAME_MAX + 16, "%s-disk1.vmdk", ej->ej_image.im_name);
	if ((r = export_path(vmdk, sizeof(vmdk), ej->ej_tmp, names[2], err)) < 0 ||
	    (r = export_path(ovf, sizeof(ovf), ej->ej_tmp, names[0], err)) < 0)
		return r;
	if ((r = export_disk_info(ej, err)) < 0 || (r = export_vmdk(ej, vmdk, err)) < 0)
		return r;
	if (stat(vmdk, &st) < 0)
		return err_set(err, 500, errno, "%s: %s", vmdk, strerror(errno));
	if ((r = export_ovf(ej, ovf, names[2], (uint64_t)st.st_size, err)) < 0)
		return r;
	*n = 3;
	if ((r = export_scan_files(ej, names, n, err)) < 0)
		return r;
	for (size_t i = 0; i < *n; i++)
		if (i != 1) /* the .mf lists every member but itself */
			members[m++] = names[i];
	members[m] = NULL;
	return export_mf(ej->ej_tmp, names[1], members, err);
}

static int export_copy_file(const char *src, const char *dst, struct dock_err *err)
{
	struct stat st;
	int in, out, r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(err, 500, errno, "%s: %s", src, strerror(errno));
	if (fstat(in, &st) < 0) {
		close(in);
		return err_set(err, 500, errno, "%s: %s", src, strerror(errno));
	}
	out = export_open_new(dst, err);
	if (out < 0) {
		close(in);
		return out;
	}
	r = export_copy_fd(in, out, (uint64_t)st.st_size, src, dst, err);
	close(in);
	if (r < 0) {
		close(out);
		return r;
	}
	return export_finish_fd(out, dst, err);
}

/* The manifest as it was, but for the new base disk's size and digest. */
static int export_qcow2_manifest(struct export_job *ej, const char *base, struct dock_err *err)
{
	struct json_object *files, *f, *v;
	char path[PATH_MAX], hex[65];
	const char *text;
	uint64_t size = 0;

	if (sha256_file(base, hex, &size, err) < 0)
		return -EIO;
	if (!json_object_object_get_ex(ej->ej_manifest, "files", &files))
		return err_set(err, 400, EINVAL, "manifest: no \"files\"");
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		f = json_object_array_get_idx(files, i);
		if (!json_object_object_get_ex(f, "name", &v) ||
		    strcmp(json_object_get_string(v), ej->ej_image.im_base->if_name) != 0)
			continue;
		json_object_object_add(f, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(f, "sha256", json_object_new_string(hex));
	}
	text = json_object_to_json_string_ext(
		ej->ej_manifest, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL)
		return err_set(err, 500, ENOMEM, "manifest: out of memory");
	if (export_path(path, sizeof(path), ej->ej_tmp, "manifest.json", err) < 0)
		return -ENAMETOOLONG;
	return file_write_atomic(path, text, strlen(text), 0644, err);
}

/* A compressed copy of the image directory: base.qcow2 (qemu-img -c), the
 * other files as they are, the manifest with the new base's digest. */
static int export_qcow2(struct export_job *ej, struct dock_err *err)
{
	const struct image *im = &ej->ej_image;
	char dst[PATH_MAX], src[PATH_MAX];
	char *argv[] = { "qemu-img", "convert", "-c",        "-f", "qcow2",
			 "-O",       "qcow2",   ej->ej_base, dst,  NULL };
	int r;

	if ((r = export_disk_info(ej, err)) < 0)
		return r;
	if ((r = export_path(dst, sizeof(dst), ej->ej_tmp, im->im_base->if_name, err)) < 0 ||
	    (r = export_tool(ej, argv, NULL, err)) < 0)
		return r;
	for (size_t i = 0; i < im->im_n_files; i++) {
		const struct image_file *f = &im->im_files[i];

		if (f == im->im_base)
			continue;
		if (image_path(im, f, src, sizeof(src)) < 0)
			return err_set(err, 400, ENAMETOOLONG, "%s/%s: path too long", im->im_dir,
				       f->if_name);
		if ((r = export_path(dst, sizeof(dst), ej->ej_tmp, f->if_name, err)) < 0 ||
		    (r = export_copy_file(src, dst, err)) < 0)
			return r;
	}
	if ((r = export_path(dst, sizeof(dst), ej->ej_tmp, im->im_base->if_name, err)) < 0)
		return r;
	return export_qcow2_manifest(ej, dst, err);
}

/* --- the job ---------------------------------------------------------------- */

/* Put the finished temp dir (or, for an OVA, the one file in it) in place.
 * Without --force an existing output is never replaced, even one that
 * appeared while we worked. */
static int export_commit(struct export_job *ej, const char *ova, struct dock_err *err)
{
	const char *from = ova ? ova : ej->ej_tmp;
	unsigned flags = ej->ej_force ? 0 : RENAME_NOREPLACE;

	if (!ova && chmod(ej->ej_tmp, 0755) < 0)
		return err_set(err, 500, errno, "%s: chmod: %s", ej->ej_tmp, strerror(errno));
	file_sync_dir(ova ? ova : ej->ej_tmp);
	if (renameat2(AT_FDCWD, from, AT_FDCWD, ej->ej_final, flags) == 0) {
		if (!ova)
			ej->ej_tmp[0] = '\0';
		file_sync_dir(ej->ej_final);
		return 0;
	}
	if (errno == EEXIST && !ej->ej_force)
		return err_set(err, 409, EEXIST, "%s exists (--force replaces it)", ej->ej_final);
	if (ova || (errno != EEXIST && errno != ENOTEMPTY && errno != EISDIR))
		return err_set(err, 500, errno, "rename %s to %s: %s", from, ej->ej_final,
			       strerror(errno));
	/* --force over a directory: swap, and the old one leaves with the temp dir. */
	if (renameat2(AT_FDCWD, ej->ej_tmp, AT_FDCWD, ej->ej_final, RENAME_EXCHANGE) < 0)
		return err_set(err, 500, errno, "exchange %s with %s: %s", ej->ej_tmp, ej->ej_final,
			       strerror(errno));
	file_sync_dir(ej->ej_final);
	return 0;
}

/* The OVA's members in order: the descriptor, the .mf, the disk, the scan's results. */
static const char *const *export_members(char names[][IMAGE_NAME_MAX + 16], size_t n,
					 const char **members)
{
	for (size_t i = 0; i < n; i++)
		members[i] = names[i];
	members[n] = NULL;
	return members;
}

static int export_job_run(struct export_job *ej, const char *images, const char *name,
			  struct dock_err *err)
{
	static const char *const suffix[] = {
		[EXPORT_OVF] = "-ovf", [EXPORT_OVA] = ".ova", [EXPORT_QCOW2] = ""
	};
	char names[EXPORT_MAX_MEMBERS][IMAGE_NAME_MAX + 16], ova[PATH_MAX],
		what[IMAGE_NAME_MAX + 32];
	const char *members[EXPORT_MAX_MEMBERS + 1];
	size_t n_names = 0;
	struct stat st;
	int r, n;

	if ((r = image_load(images, name, &ej->ej_image, err)) < 0)
		return r;
	if ((r = image_path(&ej->ej_image, ej->ej_image.im_base, ej->ej_base,
			    sizeof(ej->ej_base))) < 0)
		return err_set(err, 400, -r, "image \"%s\": path too long", name);
	n = snprintf(ej->ej_final, sizeof(ej->ej_final), "%s/%s%s", ej->ej_out, name,
		     suffix[ej->ej_format]);
	if (n < 0 || (size_t)n >= sizeof(ej->ej_final))
		return err_set(err, 400, ENAMETOOLONG, "output path too long: %s", ej->ej_out);
	if (!ej->ej_force && lstat(ej->ej_final, &st) == 0)
		return err_set(err, 409, EEXIST, "%s exists (--force replaces it)", ej->ej_final);
	if (ej->ej_format == EXPORT_QCOW2 && ej->ej_force && lstat(ej->ej_final, &st) == 0 &&
	    stat(ej->ej_image.im_dir, &st) == 0) {
		struct stat out;

		/* Replacing the image with its own export would destroy it. */
		if (stat(ej->ej_final, &out) == 0 && out.st_dev == st.st_dev &&
		    out.st_ino == st.st_ino)
			return err_set(err, 400, EINVAL,
				       "%s is the image itself: choose another --out",
				       ej->ej_final);
	}
	if ((r = export_manifest(ej, err)) < 0)
		return r;
	export_mtime(ej);
	for (size_t i = 0; i < ej->ej_image.im_n_files; i++)
		if ((ej->ej_format == EXPORT_QCOW2 ||
		     &ej->ej_image.im_files[i] == ej->ej_image.im_base) &&
		    (r = export_verify(ej, &ej->ej_image.im_files[i], err)) < 0)
			return r;
	/* A refusal (the checks above) is one line; the milestones start here. */
	snprintf(what, sizeof(what), "isc-image: export %s", name);
	progress_init(&ej->ej_pg, stderr, ej->ej_quiet, what);

	if (mkdir(ej->ej_out, 0755) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "%s: %s", ej->ej_out, strerror(errno));
	n = snprintf(ej->ej_tmp, sizeof(ej->ej_tmp), "%s/.%s.export-XXXXXX", ej->ej_out, name);
	if (n < 0 || (size_t)n >= sizeof(ej->ej_tmp)) {
		ej->ej_tmp[0] = '\0';
		return err_set(err, 400, ENAMETOOLONG, "output path too long: %s", ej->ej_out);
	}
	if (!mkdtemp(ej->ej_tmp)) {
		r = err_set(err, 500, errno, "%s: %s", ej->ej_tmp, strerror(errno));
		ej->ej_tmp[0] = '\0';
		return r;
	}
	if (ej->ej_format == EXPORT_QCOW2) {
		progress_step(&ej->ej_pg, "compressing the disk (qcow2)");
		if ((r = export_qcow2(ej, err)) < 0)
			return r;
		return export_commit(ej, NULL, err);
	}
	progress_step(&ej->ej_pg, "converting the disk (VMDK), writing the descriptor");
	if ((r = export_ovf_files(ej, names, &n_names, err)) < 0)
		return r;
	if (ej->ej_format == EXPORT_OVF)
		return export_commit(ej, NULL, err);
	progress_step(&ej->ej_pg, "packing the OVA");
	if ((r = export_path(ova, sizeof(ova), ej->ej_tmp, strrchr(ej->ej_final, '/') + 1, err)) <
		    0 ||
	    (r = export_ova(ej, ova, export_members(names, n_names, members), err)) < 0)
		return r;
	return export_commit(ej, ova, err);
}

static void export_usage(FILE *f)
{
	fprintf(f,
		"usage: isc-image export NAME --format ovf|ova|qcow2 [--out DIR] [--images DIR] [--force]\n"
		"                        [--quiet]\n"
		"Writes OUT/NAME.ova, OUT/NAME-ovf/ (NAME.ovf, NAME.mf, NAME-disk1.vmdk) or OUT/NAME/ (an image\n"
		"directory with a compressed base.qcow2). Default --out: " EXPORT_DEFAULT_OUT
		", --images: " EXPORT_DEFAULT_IMAGES ".\n"
		"Progress on stderr: a live line on a terminal, a line per step otherwise; --quiet: none.\n");
}

/* --format: 0, or -EINVAL with one line said. */
static int export_format_pick(const char *name, const char *format, struct export_job *ej)
{
	if (format == NULL) {
		fprintf(stderr, "isc-image: export %s: --format is required: ovf, ova or qcow2\n",
			name);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(export_formats) / sizeof(export_formats[0]); i++) {
		if (strcmp(format, export_formats[i].ef_name) == 0) {
			ej->ej_format = export_formats[i].ef_format;
			return 0;
		}
	}
	fprintf(stderr, "isc-image: export %s: unknown format \"%s\" (ovf, ova or qcow2)\n", name,
		format);
	return -EINVAL;
}

int export_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "images", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct export_job ej; /* large: not on the stack */
	struct dock_err err = { 0 };
	const char *images = EXPORT_DEFAULT_IMAGES, *format = NULL, *name;
	int c, r;

	memset(&ej, 0, sizeof(ej));
	ej.ej_out = EXPORT_DEFAULT_OUT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			ej.ej_out = optarg;
			break;
		case 'i':
			images = optarg;
			break;
		case 'F':
			ej.ej_force = true;
			break;
		case 'q':
			ej.ej_quiet = true;
			break;
		case 'h':
			export_usage(stdout);
			return 0;
		default:
			export_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		export_usage(stderr);
		return 2;
	}
	name = argv[optind];
	if (export_format_pick(name, format, &ej) < 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "isc-image: libsodium failed to initialise\n");
		return 1;
	}
	umask(022);
	ej.ej_pg.pg_quiet = true; /* until export_job_run starts it */
	r = export_job_run(&ej, images, name, &err);
	progress_end(&ej.ej_pg, r < 0 ? NULL : "exported");
	/* A failed export leaves nothing but what was there before. */
	if (ej.ej_tmp[0])
		nftw(ej.ej_tmp, export_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_object_put(ej.ej_manifest);
	if (r < 0) {
		fprintf(stderr, "isc-image: export %s: %s\n", name,
			err_isset(&err) ? err.de_msg : strerror(-r));
		return 1;
	}
	if (ej.ej_format != EXPORT_QCOW2 && ej.ej_image.im_boot != IMAGE_BOOT_EFI)
		fprintf(stderr,
			"isc-image: export %s: warning: the image boots by direct kernel boot, "
			"its disk has no boot loader: other hypervisors will not boot it\n",
			name);
	printf("%s\n", ej.ej_final);
	return 0;
}
