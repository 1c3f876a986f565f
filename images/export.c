/*
 * export: a built image as OVF 1.x, OVA or a compressed qcow2 image
 * directory (export.h; what is written and why: images/EXPORT.md). The
 * manifest goes through the dock's own bounded, fuzzed parser (image.c);
 * qemu-img runs through posix_spawnp, never a shell; the OVF descriptor is
 * written with libxml2's xmlTextWriter; the OVA's ustar headers are written
 * here, so the archive is the same bytes for the same image.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "export.h"

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
#include <libxml/xmlwriter.h>
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
#define EXPORT_QEMU_INFO_MAX  (64 * 1024)
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
/* ustar keeps a member's size in 11 octal digits: 8 GiB - 1. */
#define USTAR_SIZE_MAX  077777777777ULL
#define USTAR_BLOCK     512
/* The descriptor qemu-img embeds in a streamOptimized VMDK: 20 sectors. */
#define VMDK_DESC_MAX_SECTORS 64
#define VMDK_SECTOR     512

/* OVF 1.x and the CIM schemas it uses; VMware's for the firmware key that
 * VMware and virt-v2v (input/OVF.ml) read. */
#define NS_OVF  "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_RASD "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
#define NS_VSSD "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
#define NS_VMW  "http://www.vmware.com/schema/ovf"
#define OVF_DISK_FORMAT "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
#define OVF_NETWORK "VM Network"
/* CIM_OperatingSystem 96 is "Debian 64-Bit"; VMware's matching guest id.
 * vmx-14 (ESXi 6.7) is the oldest hardware family that knows this id with
 * EFI firmware. */
#define OVF_OS_ID       "96"
#define OVF_OS_VMW      "debian10_64Guest"
#define OVF_SYSTEM_TYPE "vmx-14"

enum export_format { EXPORT_OVF, EXPORT_OVA, EXPORT_QCOW2 };

static const struct export_format_name {
	const char *ef_name;
	enum export_format ef_format;
} export_formats[] = {
	{ "ovf", EXPORT_OVF },
	{ "ova", EXPORT_OVA },
	{ "qcow2", EXPORT_QCOW2 },
};

struct export_job {
	enum export_format ej_format;
	bool ej_force;
	const char *ej_out;
	struct image ej_image;
	struct json_object *ej_manifest;  /* the same manifest, for what struct image leaves out */
	char ej_base[PATH_MAX];           /* the image's base disk */
	time_t ej_mtime;                  /* the image's build time: every member's mtime */
	uint64_t ej_memory_mib, ej_vcpus;
	uint64_t ej_capacity;             /* virtual size of the base disk, bytes */
	uint64_t ej_populated;            /* bytes the base disk holds (qemu-img's actual-size) */
	char ej_final[PATH_MAX];          /* OUT/NAME.ova, OUT/NAME-ovf or OUT/NAME */
	char ej_tmp[PATH_MAX];            /* OUT/.NAME.export-XXXXXX, gone at the end either way */
};

/* --- files ------------------------------------------------------------------ */

static int export_path(char *buf, size_t size, const char *dir, const char *name, struct dock_err *err)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return err_set(err, 400, ENAMETOOLONG, "path too long: %s/%s", dir, name);
	return 0;
}

static int export_write_all(int fd, const void *data, size_t len, const char *path, struct dock_err *err)
{
	int r = file_write_fd(fd, data, len);

	return r < 0 ? err_set(err, 500, -r, "%s: write: %s", path, strerror(-r)) : 0;
}

/* Append exactly size bytes of in to out: a source that changes size while
 * it is copied is an error, not a short member. */
static int export_copy_fd(int in, int out, uint64_t size, const char *src, const char *dst,
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

static int export_open_new(const char *path, struct dock_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	return fd;
}

/* fsync and close fd; the file's content is final. */
static int export_finish_fd(int fd, const char *path, struct dock_err *err)
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
static int export_tool(const struct export_job *ej, char *const argv[], const char *out_path,
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
		r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
						     O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errpath, O_WRONLY | O_CREAT | O_TRUNC,
						     0600);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return err_set(err, 500, r, "cannot run %s: %s", argv[0], strerror(r));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return err_set(err, 500, errno, "%s: waitpid: %s", argv[0], strerror(errno));
	}
	export_tool_msg(errpath, msg, sizeof(msg));
	unlink(errpath);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return err_set(err, 500, EIO, "%s %s failed with exit status %d%s%s", argv[0], argv[1],
			       WEXITSTATUS(status), msg[0] ? ": " : "", msg);
	return err_set(err, 500, EIO, "%s %s killed by signal %d", argv[0], argv[1], WTERMSIG(status));
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
	if (JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "memory_mib", false, EXPORT_MEMORY_MIN_MIB,
				  EXPORT_MEMORY_MAX_MIB, &ej->ej_memory_mib, err)) ||
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
static int export_verify(const struct export_job *ej, const struct image_file *f, struct dock_err *err)
{
	char path[PATH_MAX], hex[65];
	uint64_t size = 0;

	if (image_path(&ej->ej_image, f, path, sizeof(path)) < 0)
		return err_set(err, 400, ENAMETOOLONG, "image \"%s\": path too long", ej->ej_image.im_name);
	if (sha256_file(path, hex, &size, err) < 0)
		return -EIO;
	if (strcmp(hex, f->if_sha256) != 0 || size != f->if_size)
		return err_set(err, 409, EBADMSG,
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
		return err_set(err, 500, -r, "qemu-img info %s: output: %s", ej->ej_base, strerror(-r));
	r = jsonin_parse("qemu-img info", buf, len, &export_info_limits, &info, err);
	free(buf);
	if (r < 0)
		return r;
	ej->ej_populated = 0;
	if (jsonin_u64(info, "qemu-img info", "virtual-size", true, 1, INT64_MAX, &ej->ej_capacity, err) < 0 ||
	    JSONIN_BAD(jsonin_u64(info, "qemu-img info", "actual-size", false, 0, INT64_MAX, &ej->ej_populated,
				  err)))
		r = -EINVAL;
	else if (json_object_object_get_ex(info, "backing-filename", &backing))
		r = err_set(err, 400, EINVAL, "%s has a backing file: an export must stand alone", ej->ej_base);
	json_object_put(info);
	if (ej->ej_populated == 0 || ej->ej_populated > ej->ej_capacity)
		ej->ej_populated = ej->ej_capacity;
	return r;
}

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
		r = err_set(err, 500, EIO, "%s: unexpected descriptor at sector %llu, %llu sectors", path,
			    (unsigned long long)off, (unsigned long long)sectors);
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
		r = err_set(err, 500, errno ? errno : EIO, "%s: cannot rewrite the descriptor", path);
out:
	close(fd);
	return r;
}

/* The streamOptimized VMDK OVF importers expect; lsilogic is the adapter
 * type VMware records for its SCSI controllers, pvscsi included. */
static int export_vmdk(struct export_job *ej, char *path, struct dock_err *err)
{
	char *argv[] = { "qemu-img", "convert", "-f", "qcow2", "-O", "vmdk",
			 "-o", "subformat=streamOptimized,adapter_type=lsilogic", ej->ej_base, path, NULL };
	int r;

	if ((r = export_tool(ej, argv, NULL, err)) < 0 || (r = export_vmdk_cid(ej, path, err)) < 0)
		return r;
	return 0;
}

/* --- OVF descriptor --------------------------------------------------------- */

/* xmlTextWriter calls that stop at the first failure; checked once at the end. */
struct ovf_writer {
	xmlTextWriterPtr ow_w;
	bool ow_bad;
};

static void ovf_start(struct ovf_writer *o, const char *name)
{
	if (!o->ow_bad && xmlTextWriterStartElement(o->ow_w, (const xmlChar *)name) < 0)
		o->ow_bad = true;
}

static void ovf_attr(struct ovf_writer *o, const char *name, const char *value)
{
	if (!o->ow_bad && xmlTextWriterWriteAttribute(o->ow_w, (const xmlChar *)name, (const xmlChar *)value) < 0)
		o->ow_bad = true;
}

static void ovf_attr_u64(struct ovf_writer *o, const char *name, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);
	ovf_attr(o, name, buf);
}

static void ovf_end(struct ovf_writer *o)
{
	if (!o->ow_bad && xmlTextWriterEndElement(o->ow_w) < 0)
		o->ow_bad = true;
}

static void ovf_elem(struct ovf_writer *o, const char *name, const char *text)
{
	if (!o->ow_bad && xmlTextWriterWriteElement(o->ow_w, (const xmlChar *)name, (const xmlChar *)text) < 0)
		o->ow_bad = true;
}

/* One <Item>: rasd name/value pairs, NULL-terminated, in the alphabetical
 * order the CIM RASD schema's sequence requires. */
static void ovf_item(struct ovf_writer *o, const char *const *kv)
{
	ovf_start(o, "Item");
	for (; kv[0]; kv += 2)
		ovf_elem(o, kv[0], kv[1]);
	ovf_end(o);
}

static void ovf_hardware(struct ovf_writer *o, const struct export_job *ej)
{
	char cpus[24], cpus_name[48], mem[24], mem_name[48];

	snprintf(cpus, sizeof(cpus), "%llu", (unsigned long long)ej->ej_vcpus);
	snprintf(cpus_name, sizeof(cpus_name), "%llu virtual CPU(s)", (unsigned long long)ej->ej_vcpus);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)ej->ej_memory_mib);
	snprintf(mem_name, sizeof(mem_name), "%llu MB of memory", (unsigned long long)ej->ej_memory_mib);

	ovf_start(o, "VirtualHardwareSection");
	ovf_elem(o, "Info", "Virtual hardware requirements");
	ovf_start(o, "System");
	ovf_elem(o, "vssd:ElementName", "Virtual Hardware Family");
	ovf_elem(o, "vssd:InstanceID", "0");
	ovf_elem(o, "vssd:VirtualSystemIdentifier", ej->ej_image.im_name);
	ovf_elem(o, "vssd:VirtualSystemType", OVF_SYSTEM_TYPE);
	ovf_end(o);
	/* virt-v2v reads VirtualQuantity of type 4 as MiB whatever the units. */
	ovf_item(o, (const char *const[]){ "rasd:AllocationUnits", "hertz * 10^6", "rasd:Description",
					   "Number of virtual CPUs", "rasd:ElementName", cpus_name,
					   "rasd:InstanceID", "1", "rasd:ResourceType", "3",
					   "rasd:VirtualQuantity", cpus, NULL });
	ovf_item(o, (const char *const[]){ "rasd:AllocationUnits", "byte * 2^20", "rasd:Description",
					   "Memory size", "rasd:ElementName", mem_name, "rasd:InstanceID", "2",
					   "rasd:ResourceType", "4", "rasd:VirtualQuantity", mem, NULL });
	/* Paravirtual SCSI and vmxnet3: the Debian cloud kernel drives these
	 * (vmw_pvscsi, vmxnet3) and not LSI Logic, AHCI or E1000; virt-v2v
	 * swaps them for virtio either way. */
	ovf_item(o, (const char *const[]){ "rasd:Address", "0", "rasd:Description", "SCSI Controller",
					   "rasd:ElementName", "SCSI Controller 0", "rasd:InstanceID", "3",
					   "rasd:ResourceSubType", "VirtualSCSI", "rasd:ResourceType", "6", NULL });
	ovf_item(o, (const char *const[]){ "rasd:AddressOnParent", "0", "rasd:ElementName", "Hard Disk 1",
					   "rasd:HostResource", "ovf:/disk/vmdisk1", "rasd:InstanceID", "4",
					   "rasd:Parent", "3", "rasd:ResourceType", "17", NULL });
	ovf_item(o, (const char *const[]){ "rasd:AddressOnParent", "7", "rasd:AutomaticAllocation", "true",
					   "rasd:Connection", OVF_NETWORK, "rasd:Description",
					   "VmxNet3 ethernet adapter on \"" OVF_NETWORK "\"", "rasd:ElementName",
					   "Network adapter 1", "rasd:InstanceID", "5", "rasd:ResourceSubType",
					   "VmxNet3", "rasd:ResourceType", "10", NULL });
	if (ej->ej_image.im_boot == IMAGE_BOOT_EFI) {
		ovf_start(o, "vmw:Config");
		ovf_attr(o, "ovf:required", "false");
		ovf_attr(o, "vmw:key", "firmware");
		ovf_attr(o, "vmw:value", "efi");
		ovf_end(o);
	}
	ovf_end(o);
}

/* The OVF 1.x descriptor (images/ovf/envelope.rng is what we promise). */
static int export_ovf(const struct export_job *ej, const char *path, const char *disk, uint64_t disk_size,
		      struct dock_err *err)
{
	struct ovf_writer o = { .ow_w = xmlNewTextWriterFilename(path, 0), .ow_bad = false };
	const char *name = ej->ej_image.im_name;
	char product[IMAGE_NAME_MAX + 16];

	if (o.ow_w == NULL)
		return err_set(err, 500, EIO, "%s: cannot create the OVF descriptor", path);
	snprintf(product, sizeof(product), "ISC image %s", name);
	if (xmlTextWriterSetIndent(o.ow_w, 1) < 0 || xmlTextWriterSetIndentString(o.ow_w, (const xmlChar *)"  ") < 0 ||
	    xmlTextWriterStartDocument(o.ow_w, NULL, "UTF-8", NULL) < 0)
		o.ow_bad = true;
	ovf_start(&o, "Envelope");
	ovf_attr(&o, "xmlns", NS_OVF);
	ovf_attr(&o, "xmlns:ovf", NS_OVF);
	ovf_attr(&o, "xmlns:rasd", NS_RASD);
	ovf_attr(&o, "xmlns:vssd", NS_VSSD);
	ovf_attr(&o, "xmlns:vmw", NS_VMW);
	ovf_attr(&o, "ovf:version", "1.0");
	ovf_attr(&o, "xml:lang", "en-US");

	ovf_start(&o, "References");
	ovf_start(&o, "File");
	ovf_attr(&o, "ovf:href", disk);
	ovf_attr(&o, "ovf:id", "file1");
	ovf_attr_u64(&o, "ovf:size", disk_size);
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "DiskSection");
	ovf_elem(&o, "Info", "Virtual disk information");
	ovf_start(&o, "Disk");
	ovf_attr_u64(&o, "ovf:capacity", ej->ej_capacity);
	ovf_attr(&o, "ovf:capacityAllocationUnits", "byte");
	ovf_attr(&o, "ovf:diskId", "vmdisk1");
	ovf_attr(&o, "ovf:fileRef", "file1");
	ovf_attr(&o, "ovf:format", OVF_DISK_FORMAT);
	ovf_attr_u64(&o, "ovf:populatedSize", ej->ej_populated);
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "NetworkSection");
	ovf_elem(&o, "Info", "The list of logical networks");
	ovf_start(&o, "Network");
	ovf_attr(&o, "ovf:name", OVF_NETWORK);
	ovf_elem(&o, "Description", "The " OVF_NETWORK " network");
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "VirtualSystem");
	ovf_attr(&o, "ovf:id", name);
	ovf_elem(&o, "Info", "An ISC service image");
	ovf_elem(&o, "Name", name);
	ovf_start(&o, "ProductSection");
	ovf_elem(&o, "Info", "The image this appliance was exported from");
	ovf_elem(&o, "Product", product);
	ovf_elem(&o, "Version", ej->ej_image.im_built[0] ? ej->ej_image.im_built : "unknown");
	ovf_end(&o);
	ovf_start(&o, "OperatingSystemSection");
	ovf_attr(&o, "ovf:id", OVF_OS_ID);
	ovf_attr(&o, "vmw:osType", OVF_OS_VMW);
	ovf_elem(&o, "Info", "The kind of installed guest operating system");
	ovf_elem(&o, "Description", "Debian GNU/Linux (64-bit)");
	ovf_end(&o);
	ovf_hardware(&o, ej);
	ovf_end(&o); /* VirtualSystem */
	ovf_end(&o); /* Envelope */

	if (!o.ow_bad && xmlTextWriterEndDocument(o.ow_w) < 0)
		o.ow_bad = true;
	xmlFreeTextWriter(o.ow_w); /* flushes and closes */
	if (o.ow_bad)
		return err_set(err, 500, EIO, "%s: cannot write the OVF descriptor", path);
	return 0;
}

/* SHA256(file)= hex, one line per file, in the order given. */
static int export_mf(const char *dir, const char *mf, const char *const *names, struct dock_err *err)
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
		return err_set(err, 400, ENAMETOOLONG, "%s: name too long for a ustar member", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, 500, EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > USTAR_SIZE_MAX) {
		close(fd);
		return err_set(err, 400, EFBIG, "%s: %lld bytes, more than a ustar member holds (8 GiB)", path,
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
		r = export_write_all(out, zeros, USTAR_BLOCK - (size_t)(st.st_size % USTAR_BLOCK), ova, err);
	return r;
}

/* DSP0243: the descriptor first, then the manifest, then the files in the
 * order of References; two zero blocks end the archive. */
static int export_ova(const struct export_job *ej, const char *ova, const char *const *names,
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

/* --- formats ---------------------------------------------------------------- */

/* NAME.ovf, NAME.mf and NAME-disk1.vmdk in the temp dir. */
static int export_ovf_files(struct export_job *ej, char names[3][IMAGE_NAME_MAX + 16], struct dock_err *err)
{
	char vmdk[PATH_MAX], ovf[PATH_MAX];
	const char *members[3] = { names[0], names[2], NULL };
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
	text = json_object_to_json_string_ext(ej->ej_manifest, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
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
	char *argv[] = { "qemu-img", "convert", "-c", "-f", "qcow2", "-O", "qcow2", ej->ej_base, dst, NULL };
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
			return err_set(err, 400, ENAMETOOLONG, "%s/%s: path too long", im->im_dir, f->if_name);
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
		return err_set(err, 500, errno, "rename %s to %s: %s", from, ej->ej_final, strerror(errno));
	/* --force over a directory: swap, and the old one leaves with the temp dir. */
	if (renameat2(AT_FDCWD, ej->ej_tmp, AT_FDCWD, ej->ej_final, RENAME_EXCHANGE) < 0)
		return err_set(err, 500, errno, "exchange %s with %s: %s", ej->ej_tmp, ej->ej_final, strerror(errno));
	file_sync_dir(ej->ej_final);
	return 0;
}

static int export_job_run(struct export_job *ej, const char *images, const char *name, struct dock_err *err)
{
	static const char *const suffix[] = { [EXPORT_OVF] = "-ovf", [EXPORT_OVA] = ".ova", [EXPORT_QCOW2] = "" };
	char names[3][IMAGE_NAME_MAX + 16], ova[PATH_MAX];
	struct stat st;
	int r, n;

	if ((r = image_load(images, name, &ej->ej_image, err)) < 0)
		return r;
	if ((r = image_path(&ej->ej_image, ej->ej_image.im_base, ej->ej_base, sizeof(ej->ej_base))) < 0)
		return err_set(err, 400, -r, "image \"%s\": path too long", name);
	n = snprintf(ej->ej_final, sizeof(ej->ej_final), "%s/%s%s", ej->ej_out, name, suffix[ej->ej_format]);
	if (n < 0 || (size_t)n >= sizeof(ej->ej_final))
		return err_set(err, 400, ENAMETOOLONG, "output path too long: %s", ej->ej_out);
	if (!ej->ej_force && lstat(ej->ej_final, &st) == 0)
		return err_set(err, 409, EEXIST, "%s exists (--force replaces it)", ej->ej_final);
	if (ej->ej_format == EXPORT_QCOW2 && ej->ej_force && lstat(ej->ej_final, &st) == 0 &&
	    stat(ej->ej_image.im_dir, &st) == 0) {
		struct stat out;

		/* Replacing the image with its own export would destroy it. */
		if (stat(ej->ej_final, &out) == 0 && out.st_dev == st.st_dev && out.st_ino == st.st_ino)
			return err_set(err, 400, EINVAL, "%s is the image itself: choose another --out", ej->ej_final);
	}
	if ((r = export_manifest(ej, err)) < 0)
		return r;
	export_mtime(ej);
	for (size_t i = 0; i < ej->ej_image.im_n_files; i++)
		if ((ej->ej_format == EXPORT_QCOW2 || &ej->ej_image.im_files[i] == ej->ej_image.im_base) &&
		    (r = export_verify(ej, &ej->ej_image.im_files[i], err)) < 0)
			return r;

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
		if ((r = export_qcow2(ej, err)) < 0)
			return r;
		return export_commit(ej, NULL, err);
	}
	if ((r = export_ovf_files(ej, names, err)) < 0)
		return r;
	if (ej->ej_format == EXPORT_OVF)
		return export_commit(ej, NULL, err);
	if ((r = export_path(ova, sizeof(ova), ej->ej_tmp, strrchr(ej->ej_final, '/') + 1, err)) < 0 ||
	    (r = export_ova(ej, ova, (const char *const[]){ names[0], names[1], names[2], NULL }, err)) < 0)
		return r;
	return export_commit(ej, ova, err);
}

static void export_usage(FILE *f)
{
	fprintf(f, "usage: isc-image export NAME --format ovf|ova|qcow2 [--out DIR] [--images DIR] [--force]\n"
		   "Writes OUT/NAME.ova, OUT/NAME-ovf/ (NAME.ovf, NAME.mf, NAME-disk1.vmdk) or OUT/NAME/ (an image\n"
		   "directory with a compressed base.qcow2). Default --out: " EXPORT_DEFAULT_OUT
		   ", --images: " EXPORT_DEFAULT_IMAGES ".\n");
}

int export_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "images", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct export_job ej; /* large: not on the stack */
	struct dock_err err = { 0 };
	const char *images = EXPORT_DEFAULT_IMAGES, *format = NULL, *name;
	size_t i;
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
	if (format == NULL) {
		fprintf(stderr, "isc-image: export %s: --format is required: ovf, ova or qcow2\n", name);
		return 2;
	}
	for (i = 0; i < sizeof(export_formats) / sizeof(export_formats[0]); i++)
		if (strcmp(format, export_formats[i].ef_name) == 0)
			break;
	if (i == sizeof(export_formats) / sizeof(export_formats[0])) {
		fprintf(stderr, "isc-image: export %s: unknown format \"%s\" (ovf, ova or qcow2)\n", name, format);
		return 2;
	}
	ej.ej_format = export_formats[i].ef_format;
	if (sodium_init() < 0) {
		fprintf(stderr, "isc-image: libsodium failed to initialise\n");
		return 1;
	}
	umask(022);
	r = export_job_run(&ej, images, name, &err);
	/* A failed export leaves nothing but what was there before. */
	if (ej.ej_tmp[0])
		nftw(ej.ej_tmp, export_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_object_put(ej.ej_manifest);
	if (r < 0) {
		fprintf(stderr, "isc-image: export %s: %s\n", name, err_isset(&err) ? err.de_msg : strerror(-r));
		return 1;
	}
	if (ej.ej_format != EXPORT_QCOW2 && ej.ej_image.im_boot != IMAGE_BOOT_EFI)
		fprintf(stderr, "isc-image: export %s: warning: the image boots by direct kernel boot, "
				"its disk has no boot loader: other hypervisors will not boot it\n", name);
	printf("%s\n", ej.ej_final);
	return 0;
}
