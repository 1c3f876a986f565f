/*
 * pack.h: a staged root tree into a UEFI-bootable GPT disk (pack.c): an
 * ESP with systemd-boot, the kernel and the initramfs, and the root as a
 * read-only ext4, assembled with the libguestfs C API and stored as a
 * compressed qcow2.
 */
#ifndef ISC_PACK_H
#define ISC_PACK_H

struct pack_spec {
	const char *ps_name;    /* image name: fixed UUIDs are derived from it */
	const char *ps_root;    /* the staged tree (consumed: removed once packed) */
	const char *ps_kver;    /* its kernel, /boot/vmlinuz-KVER */
	const char *ps_cmdline; /* kernel options; root= is added */
	const char *ps_tmp;     /* scratch directory for the intermediate files */
	const char *ps_out;     /* the qcow2 to write */
	long long ps_epoch;     /* >= 0: SOURCE_DATE_EPOCH for timestamps */
};

int pack_efi(const struct pack_spec *ps);

#endif
