/*
 * export-pack.c: the files of an OVF export and their packing
 * (export-int.h): the streamOptimized VMDK (qemu-img, then its random CID
 * made fixed), the SHA256 .mf, and the OVA as a ustar archive written here
 * so that the same image gives the same bytes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export-int.h"
#include "sha256.h"

/* The descriptor qemu-img embeds in a streamOptimized VMDK: 20 sectors. */
#define VMDK_DESC_MAX_SECTORS 64
#define VMDK_SECTOR           512
/* ustar keeps a member's size in 11 octal digits: 8 GiB - 1. */
#define USTAR_SIZE_MAX 077777777777ULL
#define USTAR_BLOCK    512

/* --- VMDK ------------------------------------------------------------------- */

static uint64_t export_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * qemu-img gives every VMDK a random content id (CID) in its embedded
 * descriptor, printed without leading zeros: the only bytes that differ
 * between two conversions of the same disk. Rewrite the descriptor with an
 * 8-digit CID taken from the base disk's digest, so the same image exports
 * to the same bytes. The file is ours, fresh from qemu-img, and still the
 * header is read with bounds.
 */
static int export_vmdk_cid(const struct export_job *ej, const char *path, struct dock_err *err)
{
	unsigned char hdr[VMDK_SECTOR];
	char desc[VMDK_DESC_MAX_SECTORS * VMDK_SECTOR + 1], out[sizeof(desc)], cid[9];
	uint64_t off, sectors;
	size_t area, n, head;
	const char *p;
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || memcmp(hdr, "KDMV", 4) != 0) {
		r = err_set(err, 500, EIO, "%s: not a sparse VMDK", path);
		goto out;
	}
	off = export_le64(hdr + 28);
	sectors = export_le64(hdr + 36);
	if (off == 0 || off > 1024 || sectors == 0 || sectors > VMDK_DESC_MAX_SECTORS) {
		r = err_set(err, 500, EIO, "%s: unexpected descriptor at sector %llu, %llu sectors",
			    path, (unsigned long long)off, (unsigned long long)sectors);
		goto out;
	}
	area = (size_t)sectors * VMDK_SECTOR;
	if (pread(fd, desc, area, (off_t)(off * VMDK_SECTOR)) != (ssize_t)area) {
		r = err_set(err, 500, EIO, "%s: short descriptor", path);
		goto out;
	}
	desc[area] = '\0';
	p = strstr(desc, "\nCID=");
	n = p ? strspn(p + 5, "0123456789abcdef") : 0;
	if (n == 0 || n > 8 || p[5 + n] != '\n') {
		r = err_set(err, 500, EIO, "%s: no CID line in the descriptor", path);
		goto out;
	}
	/* Any value but ffffffff, which means "no parent". */
	snprintf(cid, sizeof(cid), "%.8s", ej->ej_image.im_base->if_sha256);
	if (strcmp(cid, "ffffffff") == 0)
		cid[7] = 'e';
	head = (size_t)(p + 5 - desc);
	memset(out, 0, sizeof(out));
	if (head + 8 + strlen(p + 5 + n) >= area) {
		r = err_set(err, 500, EIO, "%s: no room in the descriptor", path);
		goto out;
	}
	memcpy(out, desc, head);
	memcpy(out + head, cid, 8);
	memcpy(out + head + 8, p + 5 + n, strlen(p + 5 + n));
	if (pwrite(fd, out, area, (off_t)(off * VMDK_SECTOR)) != (ssize_t)area)
		r = err_set(err, 500, errno ? errno : EIO, "%s: cannot rewrite the descriptor",
			    path);
out:
	close(fd);
	return r;
}

/* The streamOptimized VMDK OVF importers expect; lsilogic is the adapter
 * type VMware records for its SCSI controllers, pvscsi included. */
int export_vmdk(struct export_job *ej, char *path, struct dock_err *err)
{
	char *argv[] = {
		"qemu-img",  "convert", "-f", "qcow2",
		"-O",        "vmdk",    "-o", "subformat=streamOptimized,adapter_type=lsilogic",
		ej->ej_base, path,      NULL
	};
	int r;

	if ((r = export_tool(ej, argv, NULL, err)) < 0 || (r = export_vmdk_cid(ej, path, err)) < 0)
		return r;
	return 0;
}

/* SHA256(file)= hex, one line per file, in the order given. */
int export_mf(const char *dir, const char *mf, const char *const *names, struct dock_err *err)
{
	char path[PATH_MAX], hex[65], line[PATH_MAX + 96];
	int fd, r = 0;

	if (export_path(path, sizeof(path), dir, mf, err) < 0)
		return -ENAMETOOLONG;
	fd = export_open_new(path, err);
	if (fd < 0)
		return fd;
	for (; *names && r == 0; names++) {
		char member[PATH_MAX];

		if ((r = export_path(member, sizeof(member), dir, *names, err)) < 0 ||
		    (r = sha256_file(member, hex, NULL, err)) < 0)
			break;
		snprintf(line, sizeof(line), "SHA256(%s)= %s\n", *names, hex);
		r = export_write_all(fd, line, strlen(line), path, err);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return export_finish_fd(fd, path, err);
}

/* --- OVA: ustar, written here so that it is byte-for-byte reproducible ------ */

struct ustar_header {
	char uh_name[100];
	char uh_mode[8];
	char uh_uid[8];
	char uh_gid[8];
	char uh_size[12];
	char uh_mtime[12];
	char uh_chksum[8];
	char uh_typeflag;
	char uh_linkname[100];
	char uh_magic[6];
	char uh_version[2];
	char uh_uname[32];
	char uh_gname[32];
	char uh_devmajor[8];
	char uh_devminor[8];
	char uh_prefix[155];
	char uh_pad[12];
};
_Static_assert(sizeof(struct ustar_header) == USTAR_BLOCK, "a ustar header is one block");

/* Zero-padded octal filling width - 1 digits and a NUL; callers check the range. */
static void ustar_octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

static int ova_member(int out, const char *ova, const char *dir, const char *name, time_t mtime,
		      struct dock_err *err)
{
	static const char zeros[USTAR_BLOCK];
	struct ustar_header h;
	const unsigned char *p = (const unsigned char *)&h;
	char path[PATH_MAX];
	struct stat st;
	unsigned sum = 0;
	int fd, r;

	if (export_path(path, sizeof(path), dir, name, err) < 0)
		return -ENAMETOOLONG;
	if (strlen(name) >= sizeof(h.uh_name))
		return err_set(err, 400, ENAMETOOLONG, "%s: name too long for a ustar member",
			       name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, 500, EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > USTAR_SIZE_MAX) {
		close(fd);
		return err_set(err, 400, EFBIG,
			       "%s: %lld bytes, more than a ustar member holds (8 GiB)", path,
			       (long long)st.st_size);
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.uh_name, name, strlen(name));
	ustar_octal(h.uh_mode, sizeof(h.uh_mode), 0644);
	ustar_octal(h.uh_uid, sizeof(h.uh_uid), 0);
	ustar_octal(h.uh_gid, sizeof(h.uh_gid), 0);
	ustar_octal(h.uh_size, sizeof(h.uh_size), (uint64_t)st.st_size);
	ustar_octal(h.uh_mtime, sizeof(h.uh_mtime), (uint64_t)mtime);
	h.uh_typeflag = '0';
	memcpy(h.uh_magic, "ustar", 6);
	memcpy(h.uh_version, "00", 2);
	memcpy(h.uh_uname, "root", 4);
	memcpy(h.uh_gname, "root", 4);
	ustar_octal(h.uh_devmajor, sizeof(h.uh_devmajor), 0);
	ustar_octal(h.uh_devminor, sizeof(h.uh_devminor), 0);
	/* The checksum is summed with its own field as blanks. */
	memset(h.uh_chksum, ' ', sizeof(h.uh_chksum));
	for (size_t i = 0; i < sizeof(h); i++)
		sum += p[i];
	ustar_octal(h.uh_chksum, 7, sum);
	r = export_write_all(out, &h, sizeof(h), ova, err);
	if (r == 0)
		r = export_copy_fd(fd, out, (uint64_t)st.st_size, path, ova, err);
	close(fd);
	if (r == 0 && st.st_size % USTAR_BLOCK)
		r = export_write_all(out, zeros, USTAR_BLOCK - (size_t)(st.st_size % USTAR_BLOCK),
				     ova, err);
	return r;
}

/* DSP0243: the descriptor first, then the manifest, then the files in the
 * order of References; two zero blocks end the archive. */
int export_ova(const struct export_job *ej, const char *ova, const char *const *names,
	       struct dock_err *err)
{
	static const char zeros[2 * USTAR_BLOCK];
	int fd, r = 0;

	fd = export_open_new(ova, err);
	if (fd < 0)
		return fd;
	for (; *names && r == 0; names++)
		r = ova_member(fd, ova, ej->ej_tmp, *names, ej->ej_mtime, err);
	if (r == 0)
		r = export_write_all(fd, zeros, sizeof(zeros), ova, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	return export_finish_fd(fd, ova, err);
}
