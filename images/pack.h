/*
 * pack.h: a staged root tree into a UEFI-bootable GPT disk (pack.c): an
 * ESP with the tree's GRUB EFI binary, and the root as a read-only ext4,
 * assembled with the libguestfs C API and stored as a compressed qcow2.
 */
#ifndef ISC_PACK_H
#define ISC_PACK_H

#include <stdint.h>

#include "err.h"

struct pack_spec {
	const char *ps_name;      /* image name: fixed UUIDs are derived from it */
	const char *ps_root;      /* the staged tree (consumed: removed once packed) */
	const char *ps_tmp;       /* scratch directory for the intermediate files */
	const char *ps_out;       /* the qcow2 to write */
	long long ps_epoch;       /* SOURCE_DATE_EPOCH for timestamps */
	char *ps_rootfs_sha256;   /* out: the root filesystem's digest (65 bytes) */
	uint64_t *ps_rootfs_size; /* out: its size */
};

/* Where the tree's GRUB EFI binary is (relative to the root): made by
 * debian.c, copied to the ESP's removable-media path by pack_efi(, err). */
#define PACK_GRUB_EFI "boot/grub/isc/BOOTX64.EFI"
/* The GRUB stub the ESP carries beside it (EFI/debian/grub.cfg). */
#define PACK_GRUB_STUB "boot/grub/isc/stub.cfg"

/* The root filesystem's UUID for an image name (fixed: same name, same UUID). */
void pack_root_uuid(const char *name, char out[37]);

int pack_efi(const struct pack_spec *ps, struct dock_err *err);

/* The root filesystem of a packed image (qcow) as a tar archive at tar
 * (numeric owners, xattrs), read through libguestfs, read-only; name: messages. */
int pack_tar_root(const char *qcow, const char *name, const char *tar, struct dock_err *err);

#endif
