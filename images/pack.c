/*
 * pack.c: the golden image's disk. The root tree becomes an ext4 image
 * (repro.h: mke2fs -d, fixed UUID, hash seed and inode times; no
 * journal: it is never written);
 * libguestfs then lays out a GPT disk with an ESP (the tree's standalone
 * GRUB as EFI/BOOT/BOOTX64.EFI, which finds the root by UUID and reads its
 * /boot/grub/grub.cfg) and the root partition (the discoverable-partitions
 * type for x86-64 root), copies the
 * ext4 image in, and checks that inspection recognises the system — what
 * virt-v2v and other importers rely on. qemu-img stores it compressed.
 *
 * libguestfs runs its appliance under KVM where that works; where the CPU
 * has no vmx/svm flag it is told force_tcg (FIELD-NOTES), unless the
 * caller set LIBGUESTFS_BACKEND_SETTINGS itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pack.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <guestfs.h>

#include "imgio.h"
#include "repro.h"

#define SECTOR     512ULL
#define MIB        (1024ULL * 1024)
#define ESP_MIB    96ULL
#define ESP_LABEL  "ESP"
#define ROOT_LABEL "isc-root"
/* UEFI: EFI System Partition; systemd's discoverable partitions: x86-64 root. */
#define GPT_TYPE_ESP  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GPT_TYPE_ROOT "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
#define CPUINFO_MAX   (4 * 1024 * 1024)

static uint64_t pack_tree_bytes;

static int pack_size_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	pack_tree_bytes += ((uint64_t)st->st_size + 4095) / 4096 * 4096 + 256; /* data + inode */
	return 0;
}

static void guestfs_closep(guestfs_h **g)
{
	if (*g)
		guestfs_close(*g);
}

/* KVM only where the CPU says it has it (FIELD-NOTES: /dev/kvm alone lies). */
static void pack_backend(guestfs_h *g)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	static char *const tcg[] = { "force_tcg", NULL };
	struct dock_err err = { 0 };

	if (getenv("LIBGUESTFS_BACKEND_SETTINGS"))
		return;
	if (file_read_all("/proc/cpuinfo", CPUINFO_MAX, &buf, &len, &err) == 0 &&
	    (strstr(buf, " vmx") || strstr(buf, " svm")))
		return;
	img_log_err(&err);
	guestfs_set_backend_settings(g, tcg);
}

static int pack_fail(guestfs_h *g, const char *what, struct dock_err *err)
{
	return err_set(err, IMG_ERR, EIO, "libguestfs: %s: %s", what,
		       guestfs_last_error(g) ? guestfs_last_error(g) : "failed");
}

void pack_root_uuid(const char *name, char out[37])
{
	fixed_uuid("fs-uuid", name, out);
}

/* The ESP's files, staged in esp/ of the scratch directory. */
static int pack_stage_esp(const struct pack_spec *ps, const char *esp, struct dock_err *err)
{
	static const struct {
		const char *src, *dst;
	} files[] = { { PACK_GRUB_EFI, "EFI/BOOT/BOOTX64.EFI" },
		      { PACK_GRUB_STUB, "EFI/debian/grub.cfg" } };
	static const char *const dirs[] = { "EFI/BOOT", "EFI/debian" };
	char src[PATH_MAX], dst[PATH_MAX];
	int r;

	for (size_t i = 0; i < 2; i++)
		if ((r = path_join(dst, sizeof(dst), esp, dirs[i], err)) < 0 ||
		    (r = dir_make(dst, 0755, err)) < 0)
			return r;
	for (size_t i = 0; i < 2; i++)
		if ((r = path_join(src, sizeof(src), ps->ps_root, files[i].src, err)) < 0 ||
		    (r = path_join(dst, sizeof(dst), esp, files[i].dst, err)) < 0 ||
		    (r = file_copy(src, dst, 0644, err)) < 0)
			return r;
	return 0;
}

/* The root tree as an ext4 image of about its size (repro.h); returns its size in bytes. */
static int pack_root_fs(const struct pack_spec *ps, const char *img, const char *uuid,
			uint64_t *bytes, struct dock_err *err)
{
	struct repro_fs rf = { .rf_root = ps->ps_root,
			       .rf_img = img,
			       .rf_label = ROOT_LABEL,
			       .rf_uuid = uuid,
			       .rf_name = ps->ps_name,
			       .rf_tmp = ps->ps_tmp,
			       .rf_epoch = ps->ps_epoch };
	int r;

	pack_tree_bytes = 0;
	if (nftw(ps->ps_root, pack_size_entry, 64, FTW_PHYS) != 0)
		return err_set(err, IMG_ERR, EIO, "%s: could not size the tree", ps->ps_root);
	/* Room for metadata and a little slack; read-only, so no more. */
	rf.rf_mib = pack_tree_bytes / MIB * 6 / 5 + 64;
	if ((r = repro_mkfs(&rf, ps->ps_rootfs_sha256, ps->ps_rootfs_size, err)) < 0)
		return r;
	*bytes = rf.rf_mib * MIB;
	return 0;
}

static int pack_upload_esp(guestfs_h *g, const char *esp, long long epoch, struct dock_err *err)
{
	static const char *const files[] = { "EFI/BOOT/BOOTX64.EFI", "EFI/debian/grub.cfg" };
	static const char *const dirs[] = { "/EFI/BOOT", "/EFI/debian" };

	for (size_t i = 0; i < 2; i++)
		if (guestfs_mkdir_p(g, dirs[i]) < 0)
			return pack_fail(g, dirs[i], err);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char src[PATH_MAX], dst[PATH_MAX];
		int r;

		if ((r = path_join(src, sizeof(src), esp, files[i], err)) < 0)
			return r;
		snprintf(dst, sizeof(dst), "/%s", files[i]);
		if (guestfs_upload(g, src, dst) < 0)
			return pack_fail(g, dst, err);
		if (epoch >= 0 && guestfs_utimens(g, dst, epoch, 0, epoch, 0) < 0)
			return pack_fail(g, dst, err);
	}
	return 0;
}

/*
 * The system must be what importers will see: a Debian root on the root
 * partition. (The ext4 image being copied is attached too, as /dev/sdb, and
 * inspection sees it as well: only /dev/sda counts.)
 */
static int pack_inspect(guestfs_h *g, const char *name, struct dock_err *err)
{
	char **roots = guestfs_inspect_os(g);
	int r = -ENOENT;

	if (!roots)
		return pack_fail(g, "inspect_os", err);
	for (size_t i = 0; roots[i]; i++) {
		char *distro, *product;

		if (r != -ENOENT || strcmp(roots[i], "/dev/sda2") != 0)
			continue;
		distro = guestfs_inspect_get_distro(g, roots[i]);
		product = guestfs_inspect_get_product_name(g, roots[i]);
		if (!distro || strcmp(distro, "debian") != 0)
			r = err_set(err, IMG_ERR, EINVAL,
				    "%s: inspection sees \"%s\" on %s, not debian", name,
				    distro ? distro : "?", roots[i]);
		else
			r = 0;
		if (r == 0)
			img_log("%s: inspection: %s on %s", name, product ? product : distro,
				roots[i]);
		free(distro);
		free(product);
	}
	if (r == -ENOENT)
		r = err_set(err, IMG_ERR, ENOENT,
			    "%s: inspection finds no operating system on the root partition", name);
	for (size_t i = 0; roots[i]; i++)
		free(roots[i]);
	free(roots);
	return r;
}

static int pack_disk(const struct pack_spec *ps, const char *raw, const char *rootimg,
		     uint64_t root_bytes, const char *esp, struct dock_err *err)
{
	__attribute__((cleanup(guestfs_closep))) guestfs_h *g = NULL;
	uint64_t esp_start = MIB / SECTOR, esp_end = esp_start + ESP_MIB * MIB / SECTOR - 1;
	uint64_t root_start = esp_end + 1, root_end = root_start + root_bytes / SECTOR - 1;
	/* 1 MiB for the backup GPT at the end. */
	uint64_t total = (root_end + 1) * SECTOR + MIB;
	char guid[3][37];

	fixed_uuid("disk-guid", ps->ps_name, guid[0]);
	fixed_uuid("esp-guid", ps->ps_name, guid[1]);
	fixed_uuid("root-guid", ps->ps_name, guid[2]);
	if (!(g = guestfs_create()))
		return err_set(err, IMG_ERR, ENOMEM, "libguestfs: cannot create a handle");
	guestfs_set_identifier(g, "isc-image");
	pack_backend(g);
	if (guestfs_disk_create(g, raw, "raw", (int64_t)total, -1) < 0)
		return pack_fail(g, raw, err);
	if (guestfs_add_drive_opts(g, raw, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw", -1) < 0 ||
	    guestfs_add_drive_opts(g, rootimg, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
				   GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
		return pack_fail(g, "add_drive", err);
	img_log("%s: libguestfs appliance starting (GPT disk of %llu MiB)", ps->ps_name,
		(unsigned long long)(total / MIB));
	if (guestfs_launch(g) < 0)
		return pack_fail(g, "launch", err);
	if (guestfs_part_init(g, "/dev/sda", "gpt") < 0 ||
	    guestfs_part_set_disk_guid(g, "/dev/sda", guid[0]) < 0 ||
	    guestfs_part_add(g, "/dev/sda", "p", (int64_t)esp_start, (int64_t)esp_end) < 0 ||
	    guestfs_part_add(g, "/dev/sda", "p", (int64_t)root_start, (int64_t)root_end) < 0 ||
	    guestfs_part_set_gpt_type(g, "/dev/sda", 1, GPT_TYPE_ESP) < 0 ||
	    guestfs_part_set_gpt_guid(g, "/dev/sda", 1, guid[1]) < 0 ||
	    guestfs_part_set_name(g, "/dev/sda", 1, "ESP") < 0 ||
	    guestfs_part_set_gpt_type(g, "/dev/sda", 2, GPT_TYPE_ROOT) < 0 ||
	    guestfs_part_set_gpt_guid(g, "/dev/sda", 2, guid[2]) < 0 ||
	    guestfs_part_set_name(g, "/dev/sda", 2, ROOT_LABEL) < 0)
		return pack_fail(g, "partitioning /dev/sda", err);
	if (guestfs_copy_device_to_device(g, "/dev/sdb", "/dev/sda2",
					  GUESTFS_COPY_DEVICE_TO_DEVICE_SPARSE, 1, -1) < 0)
		return pack_fail(g, "copying the root filesystem", err);
	if (guestfs_mkfs(g, "vfat", "/dev/sda1") < 0 ||
	    guestfs_set_label(g, "/dev/sda1", ESP_LABEL) < 0 ||
	    guestfs_mount(g, "/dev/sda1", "/") < 0)
		return pack_fail(g, "the ESP", err);
	if (pack_upload_esp(g, esp, ps->ps_epoch, err) < 0)
		return -EIO;
	if (guestfs_umount_all(g) < 0)
		return pack_fail(g, "umount", err);
	if (pack_inspect(g, ps->ps_name, err) < 0)
		return -EINVAL;
	if (guestfs_shutdown(g) < 0)
		return pack_fail(g, "shutdown", err);
	return 0;
}

int pack_efi(const struct pack_spec *ps, struct dock_err *err)
{
	char rootimg[PATH_MAX], raw[PATH_MAX], esp[PATH_MAX], uuid[37];
	const char *qemu_img[] = { "qemu-img", "convert", "-c", "-f",       "raw",
				   "-O",       "qcow2",   raw,  ps->ps_out, NULL };
	uint64_t root_bytes = 0;
	int r;

	if ((r = path_join(rootimg, sizeof(rootimg), ps->ps_tmp, "root.ext4", err)) < 0 ||
	    (r = path_join(raw, sizeof(raw), ps->ps_tmp, "disk.raw", err)) < 0 ||
	    (r = path_join(esp, sizeof(esp), ps->ps_tmp, "esp", err)) < 0)
		return r;
	pack_root_uuid(ps->ps_name, uuid);
	if ((r = pack_stage_esp(ps, esp, err)) < 0 ||
	    (r = pack_root_fs(ps, rootimg, uuid, &root_bytes, err)) < 0)
		return r;
	dir_remove_tree(ps->ps_root);
	r = pack_disk(ps, raw, rootimg, root_bytes, esp, err);
	unlink(rootimg);
	dir_remove_tree(esp);
	if (r < 0)
		return r;
	img_log("%s: compressing the disk into %s", ps->ps_name, ps->ps_out);
	r = tool_runc(qemu_img, -1, err);
	unlink(raw);
	if (r < 0)
		return r;
	if (chmod(ps->ps_out, 0644) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", ps->ps_out, strerror(errno));
	return 0;
}

/* --- reading a packed image back (isc-image scan) ------------------------------------------- */

int pack_tar_root(const char *qcow, const char *name, const char *tar, struct dock_err *err)
{
	__attribute__((cleanup(guestfs_closep))) guestfs_h *g = NULL;
	_cleanup_free_ char *dev = NULL;

	if (!(g = guestfs_create()))
		return err_set(err, IMG_ERR, ENOMEM, "libguestfs: cannot create a handle");
	guestfs_set_identifier(g, "isc-image");
	pack_backend(g);
	if (guestfs_add_drive_opts(g, qcow, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
				   GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
		return pack_fail(g, qcow, err);
	img_log("%s: libguestfs appliance starting (reading the root filesystem)", name);
	if (guestfs_launch(g) < 0)
		return pack_fail(g, "launch", err);
	if (!(dev = guestfs_findfs_label(g, ROOT_LABEL)))
		return pack_fail(g, "the root filesystem (label " ROOT_LABEL ")", err);
	if (guestfs_mount_ro(g, dev, "/") < 0)
		return pack_fail(g, "mount", err);
	if (guestfs_tar_out_opts(g, "/", tar, GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1,
				 GUESTFS_TAR_OUT_OPTS_XATTRS, 1, -1) < 0)
		return pack_fail(g, "tar-out", err);
	if (guestfs_umount_all(g) < 0 || guestfs_shutdown(g) < 0)
		return pack_fail(g, "shutdown", err);
	return 0;
}
