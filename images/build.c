/*
 * build.c: one image built, as the data flows (build_run): the recipe, the
 * kernel and modules, the agent, then for boot = kernel the initramfs
 * (cpio.h) and the staged root packed by mke2fs into base.qcow2, for
 * boot = efi the Debian tree (debian.h) packed by pack.h; the manifest last,
 * and the finished directory swapped into place. A failed build leaves no
 * half image.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-int.h"
#include "build.h"
#include "cpio.h"
#include "imgio.h"
#include "pack.h"
#include "progress.h"
#include "repro.h"
#include "scan.h"

/* The build's milestones on stderr (progress.h): a live line on a terminal,
 * a line per step on a pipe; none when quiet. */
static struct progress build_pg;
static bool build_is_quiet;

void build_quiet(bool quiet)
{
	build_is_quiet = quiet;
}

/* --- boot = kernel: the initramfs and the base disk ------------------------------------- */

static int build_initrd(struct build *b, struct dock_err *err)
{
	struct cpio c = { .cp_mtime = (uint32_t)b->bd_epoch };
	char cpio_path[PATH_MAX], img_path[PATH_MAX], src[PATH_MAX], name[PATH_MAX],
		load[8192] = "";
	char *argv[] = { "gzip", "-n", "-9", "-c", cpio_path, NULL };
	size_t count = 0, used = 0;
	int r, fd;

	if ((r = path_join(cpio_path, sizeof(cpio_path), b->bd_tmp, "initrd.cpio", err)) < 0 ||
	    (r = path_join(img_path, sizeof(img_path), b->bd_tmp, "initrd.img", err)) < 0)
		return r;
	if ((fd = file_create(cpio_path, 0644, err)) < 0)
		return fd;
	c.cp_path = cpio_path;
	c.cp_f = fdopen(fd, "w");
	if (!c.cp_f) {
		close(fd);
		return err_set(err, IMG_ERR, errno, "%s: %s", cpio_path, strerror(errno));
	}
	/* Without /dev/console in the archive the kernel starts /init with no stdio. */
	if ((r = cpio_dir(&c, "dev", err)) < 0 ||
	    (r = cpio_header(&c, "dev/console", S_IFCHR | 0600, 0, 5, 1, err)) < 0)
		goto out;
	for (const char *const *d = (const char *const[]){ "proc", "sys", "newroot", "etc", NULL };
	     *d; d++)
		if ((r = cpio_dir(&c, *d, err)) < 0)
			goto out;
	if ((r = cpio_file(&c, "bin/busybox", BUSYBOX_PATH, 0755, err)) < 0)
		goto out;
	for (size_t i = 0; i < b->bd_applets.ap_n; i++)
		if ((r = cpio_symlink(&c, b->bd_applets.ap_list[i], BUSYBOX_PATH, err)) < 0)
			goto out;
	for (size_t i = 0; i < b->bd_mods.md_n_order; i++) {
		const char *p = b->bd_mods.md_entries[b->bd_mods.md_order[i]].me_path;
		int n;

		snprintf(src, sizeof(src), MODULES_DIR "/%s/%s", b->bd_kver, p);
		snprintf(name, sizeof(name), "lib/modules/%s/%s", b->bd_kver, p);
		if ((r = cpio_file(&c, name, src, 0644, err)) < 0)
			goto out;
		n = snprintf(load + used, sizeof(load) - used, "/%s\n", name);
		if (n < 0 || (size_t)n >= sizeof(load) - used) {
			r = err_set(err, IMG_ERR, E2BIG, "initramfs: module list too long");
			goto out;
		}
		used += (size_t)n;
	}
	if ((r = cpio_text(&c, "etc/modules.load", load, err)) < 0)
		goto out;
	if (b->bd_rc.rc_initrd_files[0] &&
	    (r = tree_walk(b->bd_rc.rc_initrd_files, "", 0, &count, cpio_tree_entry, &c, err)) < 0)
		goto out;
	if ((r = cpio_header(&c, "TRAILER!!!", 0, 0, 0, 0, err)) < 0)
		goto out;
	if (fflush(c.cp_f) != 0 || ferror(c.cp_f)) {
		r = err_set(err, IMG_ERR, EIO, "%s: write error", cpio_path);
		goto out;
	}
	cpio_free(&c);
	if ((fd = file_create(img_path, 0644, err)) < 0)
		return fd;
	r = tool_run(argv, fd, err);
	close(fd);
	unlink(cpio_path);
	return r;
out:
	cpio_free(&c);
	return r;
}

static uint64_t tree_bytes;

static int tree_size_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	tree_bytes += ((uint64_t)st->st_size + 4095) / 4096 * 4096;
	return 0;
}

static int build_base(struct build *b, struct dock_err *err)
{
	char root[PATH_MAX], raw[PATH_MAX], qcow[PATH_MAX], label[32], uuid[37];
	char *qemu_img[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow, NULL };
	struct repro_fs rf = { .rf_root = root,
			       .rf_img = raw,
			       .rf_label = label,
			       .rf_uuid = uuid,
			       .rf_name = b->bd_rc.rc_name,
			       .rf_tmp = b->bd_tmp,
			       .rf_epoch = b->bd_epoch };
	int r;

	if ((r = path_join(root, sizeof(root), b->bd_tmp, "root", err)) < 0 ||
	    (r = path_join(raw, sizeof(raw), b->bd_tmp, "base.raw", err)) < 0 ||
	    (r = path_join(qcow, sizeof(qcow), b->bd_tmp, "base.qcow2", err)) < 0)
		return r;
	if ((r = dir_make(root, 0755, err)) < 0 || (r = stage_root(b, root, err)) < 0 ||
	    (r = stage_check_service(b, root, err)) < 0)
		return r;
	tree_bytes = 0;
	nftw(root, tree_size_entry, 32, FTW_PHYS);
	/* Content plus room for metadata; the qcow2 only stores what is used. */
	rf.rf_mib = tree_bytes / (1024 * 1024) * 2 + 16;
	snprintf(label, sizeof(label), "isc-%.12s", b->bd_rc.rc_name);
	fixed_uuid("fs-uuid", b->bd_rc.rc_name, uuid);
	if ((r = repro_mkfs(&rf, b->bd_rootfs_sha256, &b->bd_rootfs_size, err)) < 0)
		return r;
	dir_remove_tree(root);
	if ((r = tool_run(qemu_img, -1, err)) < 0)
		return r;
	unlink(raw);
	if (chmod(qcow, 0644) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", qcow, strerror(errno));
	return 0;
}

/* Swap the finished directory into place; a previous image is removed after. */
static int build_commit(struct build *b, struct dock_err *err)
{
	if (chmod(b->bd_tmp, 0755) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", b->bd_tmp, strerror(errno));
	if (file_sync(b->bd_tmp, err) < 0)
		return -EIO;
	if (rename(b->bd_tmp, b->bd_final) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			return err_set(err, IMG_ERR, errno, "rename %s to %s: %s", b->bd_tmp,
				       b->bd_final, strerror(errno));
		if (renameat2(AT_FDCWD, b->bd_tmp, AT_FDCWD, b->bd_final, RENAME_EXCHANGE) < 0)
			return err_set(err, IMG_ERR, errno, "exchange %s with %s: %s", b->bd_tmp,
				       b->bd_final, strerror(errno));
		/* bd_tmp now holds the previous image. */
		dir_remove_tree(b->bd_tmp);
	}
	b->bd_tmp[0] = '\0';
	return file_sync(b->bd_out, err);
}

static int build_time(time_t *t, struct dock_err *err)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;
	unsigned long long v;

	if (!sde || !*sde) {
		*t = time(NULL);
		return 0;
	}
	errno = 0;
	v = strtoull(sde, &end, 10);
	if (errno || *end || sde[0] == '-' || v > 253402300799ULL) /* 9999-12-31 */
		return err_set(err, IMG_ERR, EINVAL,
			       "SOURCE_DATE_EPOCH \"%s\" is not a time in seconds", sde);
	*t = (time_t)v;
	return 0;
}

/*
 * The epoch every timestamp of the image is clamped to (repro.h), also
 * handed to the tools run in the tree (shadow's dates, initramfs-tools'
 * mtimes honour SOURCE_DATE_EPOCH).
 */
static int build_epoch(struct build *b, struct dock_err *err)
{
	char v[32];
	int r;

	if ((r = repro_epoch(&b->bd_rc, b->bd_tmp, &b->bd_epoch, &b->bd_epoch_source, err)) < 0)
		return r;
	snprintf(v, sizeof(v), "%lld", b->bd_epoch);
	setenv("SOURCE_DATE_EPOCH", v, 1);
	img_log("%s: SOURCE_DATE_EPOCH %lld (%s)", b->bd_rc.rc_name, b->bd_epoch,
		b->bd_epoch_source);
	return 0;
}

/*
 * The recipe's OpenSCAP scan of the finished tree (images/scan.h): results
 * beside the image, the "scan" block for the manifest; under the recipe's
 * floor the build fails. ISC_IMAGE_SCAP_EXTRA adds profiles (make bench).
 */
static int build_scan(struct build *b, const char *root, const char *out, struct dock_err *err)
{
	struct scan_spec ss = { 0 };
	const char *extra = getenv("ISC_IMAGE_SCAP_EXTRA");
	char cache[PATH_MAX], buf[256], *save = NULL;
	int r;

	if ((r = path_join(cache, sizeof(cache), out, ".cache/scap", err)) < 0)
		return r;
	ss.ss_name = b->bd_rc.rc_name;
	ss.ss_root = root;
	ss.ss_outdir = b->bd_tmp;
	ss.ss_cache = cache;
	ss.ss_tailoring = b->bd_rc.rc_scap_tailoring;
	ss.ss_floor = b->bd_rc.rc_scap_floor;
	for (size_t i = 0; i < b->bd_rc.rc_n_scap_profiles; i++)
		snprintf(ss.ss_profiles[ss.ss_n_profiles++], SCAN_PROFILE_MAX + 1, "%s",
			 b->bd_rc.rc_scap_profiles[i]);
	snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
	for (char *p = strtok_r(buf, " ,", &save); p; p = strtok_r(NULL, " ,", &save)) {
		if (!scan_profile_valid(p) || ss.ss_n_profiles == SCAN_MAX_PROFILES)
			return err_set(err, IMG_ERR, EINVAL,
				       "ISC_IMAGE_SCAP_EXTRA: \"%.48s\": not a profile name, or "
				       "more than %d profiles",
				       p, SCAN_MAX_PROFILES);
		snprintf(ss.ss_profiles[ss.ss_n_profiles++], SCAN_PROFILE_MAX + 1, "%s", p);
	}
	return scan_run(&ss, &b->bd_scan, err);
}

/*
 * boot = efi: debootstrap, the recipe's trees, the hardening, then the
 * packed GPT disk as base.qcow2. Downloaded packages are kept in
 * OUT/.cache/debootstrap for the next build.
 */
static int build_debian(struct build *b, struct dock_err *err)
{
	char root[PATH_MAX], cache[PATH_MAX], qcow[PATH_MAX], out[PATH_MAX];
	struct pack_spec ps = { 0 };
	int r;

	/* debootstrap wants an absolute cache path; bd_out exists by now. */
	if (!realpath(b->bd_out, out))
		return err_set(err, IMG_ERR, errno, "%s: %s", b->bd_out, strerror(errno));
	if ((r = path_join(root, sizeof(root), b->bd_tmp, "root", err)) < 0 ||
	    (r = path_join(cache, sizeof(cache), out, ".cache/debootstrap", err)) < 0 ||
	    (r = path_join(qcow, sizeof(qcow), b->bd_tmp, "base.qcow2", err)) < 0)
		return r;
	/* The tools run in the tree must never ask, and speak plainly. */
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	progress_step(&build_pg, "debootstrap %s", b->bd_rc.rc_suite);
	if ((r = debian_bootstrap(&b->bd_rc, root, cache, &b->bd_deb, err)) < 0)
		return r;
	progress_step(&build_pg, "the recipe's trees, hardening");
	if ((r = stage_trees(b, root, true, err)) < 0 ||
	    (r = debian_harden(&b->bd_rc, root, b->bd_agent, b->bd_epoch, &b->bd_deb, err)) < 0 ||
	    (r = stage_check_service(b, root, err)) < 0)
		return r;
	if (b->bd_rc.rc_n_scap_profiles > 0) {
		progress_step(&build_pg, "SCAP scan (OpenSCAP, offline, read-only)");
		if ((r = build_scan(b, root, out, err)) < 0)
			return r;
	}
	progress_step(&build_pg, "packing the disk (libguestfs)");
	snprintf(b->bd_kver, sizeof(b->bd_kver), "%s", b->bd_deb.di_kver);
	ps.ps_name = b->bd_rc.rc_name;
	ps.ps_root = root;
	ps.ps_tmp = b->bd_tmp;
	ps.ps_out = qcow;
	ps.ps_epoch = b->bd_epoch;
	ps.ps_rootfs_sha256 = b->bd_rootfs_sha256;
	ps.ps_rootfs_size = &b->bd_rootfs_size;
	return pack_efi(&ps, err);
}

/* The agent to install: next to isc-image (the build tree), else where
 * `make install` puts it (PREFIX/lib/isc: not a command of the host). */
static int build_find_agent(const char *exe_dir, char *out, size_t size, struct dock_err *err)
{
	int r = path_join(out, size, exe_dir, "isc-agent", err);

	if (r < 0 || access(out, F_OK) == 0)
		return r;
	r = path_join(out, size, exe_dir, "../lib/isc/isc-agent", err);
	if (r < 0 || access(out, F_OK) == 0)
		return r;
	/* Neither: the first is the one a message names. */
	return path_join(out, size, exe_dir, "isc-agent", err);
}

static int build_run(struct build *b, const char *recipe_arg, const char *exe_dir,
		     const char *agent, const char *kver, struct dock_err *err)
{
	char recipe[PATH_MAX], vmlinuz[PATH_MAX], dst[PATH_MAX], what[IMG_NAME_MAX + 32];
	int r;

	if ((r = build_time(&b->bd_time, err)) < 0)
		return r;
	if ((r = recipe_find(recipe_arg, exe_dir, recipe, sizeof(recipe), err)) < 0 ||
	    (r = recipe_parse(recipe, &b->bd_rc, err)) < 0)
		return r;
	b->bd_efi = strcmp(b->bd_rc.rc_boot, "efi") == 0;
	if (!b->bd_efi && (r = kernel_pick(kver, b->bd_kver, sizeof(b->bd_kver), err)) < 0)
		return r;
	if (agent)
		snprintf(b->bd_agent, sizeof(b->bd_agent), "%s", agent);
	else if ((r = build_find_agent(exe_dir, b->bd_agent, sizeof(b->bd_agent), err)) < 0)
		return r;
	if ((r = elf_check_static(b->bd_agent, "agent", err)) < 0)
		return r;
	if (b->bd_efi && geteuid() != 0)
		return err_set(err, IMG_ERR, EPERM,
			       "%s: a boot = efi image is built as root (debootstrap, chroot)",
			       recipe);
	if (!b->bd_efi && (r = moddep_resolve(&b->bd_rc, b->bd_kver, &b->bd_mods, err)) < 0)
		return r;
	snprintf(what, sizeof(what), "isc-image: build %s", b->bd_rc.rc_name);
	progress_init(&build_pg, stderr, build_is_quiet, what);
	if (b->bd_efi)
		img_log("%s: recipe %s, Debian %s, UEFI", b->bd_rc.rc_name, recipe,
			b->bd_rc.rc_suite);
	else
		img_log("%s: recipe %s, kernel %s, %zu modules", b->bd_rc.rc_name, recipe,
			b->bd_kver, b->bd_mods.md_n_order);

	if ((r = dir_make(b->bd_out, 0755, err)) < 0)
		return r;
	if ((r = path_join(b->bd_final, sizeof(b->bd_final), b->bd_out, b->bd_rc.rc_name, err)) < 0)
		return r;
	if (snprintf(b->bd_tmp, sizeof(b->bd_tmp), "%s/.%s.build-XXXXXX", b->bd_out,
		     b->bd_rc.rc_name) >= (int)sizeof(b->bd_tmp))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "output path too long");
	if (!mkdtemp(b->bd_tmp)) {
		r = err_set(err, IMG_ERR, errno, "%s: %s", b->bd_tmp, strerror(errno));
		b->bd_tmp[0] = '\0';
		return r;
	}
	if ((r = build_epoch(b, err)) < 0)
		return r;
	if (b->bd_efi) {
		if ((r = build_debian(b, err)) < 0)
			return r;
	} else {
		if ((r = applets_load(b->bd_tmp, &b->bd_applets, err)) < 0)
			return r;
		snprintf(vmlinuz, sizeof(vmlinuz), BOOT_DIR "/vmlinuz-%s", b->bd_kver);
		if ((r = path_join(dst, sizeof(dst), b->bd_tmp, "vmlinuz", err)) < 0 ||
		    (r = file_copy(vmlinuz, dst, 0644, err)) < 0)
			return r;
		progress_step(&build_pg, "initramfs (busybox, %zu modules)", b->bd_mods.md_n_order);
		if ((r = build_initrd(b, err)) < 0)
			return r;
		progress_step(&build_pg, "root filesystem (mke2fs, qemu-img)");
		if ((r = build_base(b, err)) < 0)
			return r;
	}
	progress_step(&build_pg, "manifest (digests)");
	if ((r = manifest_build(b, err)) < 0)
		return r;
	if ((r = build_commit(b, err)) < 0)
		return r;
	img_log("%s: built %s", b->bd_rc.rc_name, b->bd_final);
	return 0;
}

int build_image(const char *recipe_arg, const char *exe_dir, const char *out, const char *agent,
		const char *kver, struct dock_err *err)
{
	static struct build b; /* large: not on the stack */
	int r;

	memset(&b, 0, sizeof(b));
	memset(&build_pg, 0, sizeof(build_pg));
	build_pg.pg_quiet = true; /* until build_run starts it */
	snprintf(b.bd_out, sizeof(b.bd_out), "%s", out);
	r = build_run(&b, recipe_arg, exe_dir, agent, kver, err);
	progress_end(&build_pg, r < 0 ? NULL : "built");
	/* A failed build leaves no half image: only the temp dir held it. */
	if (b.bd_tmp[0])
		dir_remove_tree(b.bd_tmp);
	moddep_free(&b.bd_mods);
	free(b.bd_applets.ap_buf);
	json_object_put(b.bd_deb.di_packages);
	json_object_put(b.bd_scan);
	return r;
}
