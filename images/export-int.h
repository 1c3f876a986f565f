/*
 * export-int.h: private to export.c, export-ovf.c and export-pack.c, the
 * siblings of `isc-image export` (export.h is the public contract): the
 * job one export carries, the file and tool helpers every step uses, and
 * each sibling's step. Functions return 0 or a negative errno and fill err.
 */
#ifndef ISC_EXPORT_INT_H
#define ISC_EXPORT_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "progress.h"
#include "err.h"
#include "manifest.h"

struct json_object;

enum export_format { EXPORT_OVF, EXPORT_OVA, EXPORT_QCOW2 };

/* An OVF's files: the descriptor, the .mf, the disk, two per scanned profile. */
#define EXPORT_MAX_MEMBERS (3 + 2 * IMAGE_SCAN_MAX_PROFILES)

struct export_job {
	enum export_format ej_format;
	bool ej_force;
	const char *ej_out;
	struct image ej_image;
	struct json_object *ej_manifest; /* the same manifest, for what struct image leaves out */
	char ej_base[PATH_MAX];          /* the image's base disk */
	time_t ej_mtime;                 /* the image's build time: every member's mtime */
	uint64_t ej_memory_mib, ej_vcpus;
	uint64_t ej_capacity;    /* virtual size of the base disk, bytes */
	uint64_t ej_populated;   /* bytes the base disk holds (qemu-img's actual-size) */
	char ej_final[PATH_MAX]; /* OUT/NAME.ova, OUT/NAME-ovf or OUT/NAME */
	char ej_tmp[PATH_MAX];   /* OUT/.NAME.export-XXXXXX, gone at the end either way */
	bool ej_quiet;           /* --quiet: no progress */
	struct progress ej_pg;   /* the milestones on stderr (progress.h) */
};

/* export.c: dir/name into buf; truncation is an error. */
int export_path(char *buf, size_t size, const char *dir, const char *name, struct dock_err *err);
int export_write_all(int fd, const void *data, size_t len, const char *path, struct dock_err *err);
/* export.c: append exactly size bytes of in to out. */
int export_copy_fd(int in, int out, uint64_t size, const char *src, const char *dst,
		   struct dock_err *err);
/* export.c: a new file (must not exist), mode 0644; returns the fd. */
int export_open_new(const char *path, struct dock_err *err);
/* export.c: fsync and close fd; the file's content is final. */
int export_finish_fd(int fd, const char *path, struct dock_err *err);
/* export.c: run argv without a shell, stdout into out_path (NULL: nowhere);
 * a failure's message carries the first line of the tool's stderr. */
int export_tool(const struct export_job *ej, char *const argv[], const char *out_path,
		struct dock_err *err);

/* export-pack.c: the base disk as a streamOptimized VMDK at path, with a fixed CID. */
int export_vmdk(struct export_job *ej, char *path, struct dock_err *err);
/* export-pack.c: dir/mf listing SHA256(name)= hex for each of names (NULL-terminated). */
int export_mf(const char *dir, const char *mf, const char *const *names, struct dock_err *err);
/* export-pack.c: the OVA at ova: names (NULL-terminated) from ej_tmp as ustar members. */
int export_ova(const struct export_job *ej, const char *ova, const char *const *names,
	       struct dock_err *err);
/* export-ovf.c: the OVF descriptor at path for the VMDK disk of disk_size bytes. */
int export_ovf(const struct export_job *ej, const char *path, const char *disk, uint64_t disk_size,
	       struct dock_err *err);

#endif
