/*
 * kernel.h: the kernel an image boots and the modules its initramfs loads
 * (kernel.c). kernel_pick() chooses the version; moddep_resolve() turns a
 * recipe's module names into files under /lib/modules/VER in load order,
 * dependencies first, every one a plain .ko busybox insmod can load.
 */
#ifndef ISC_KERNEL_H
#define ISC_KERNEL_H

#include <stddef.h>

#include "err.h"
#include "recipe.h"

#define BOOT_DIR       "/boot"
#define MODULES_DIR    "/lib/modules"
#define KERNEL_FLAVOUR "-cloud-amd64"
#define MODLOAD_MAX    128 /* modules in the initramfs, dependencies included */

struct moddep_entry {
	char *me_path; /* relative to /lib/modules/<ver> */
	char *me_deps; /* space-separated paths, as in modules.dep */
	char me_name[IMG_MODNAME_MAX + 1];
	enum { ME_NEW, ME_VISITING, ME_DONE } me_mark;
};

struct moddep {
	char *md_buf;
	struct moddep_entry *md_entries;
	size_t md_n;
	size_t md_order[MODLOAD_MAX]; /* load order, dependencies first */
	size_t md_n_order;
};

/* want NULL: the newest BOOT_DIR/vmlinuz-*KERNEL_FLAVOUR with modules installed. */
int kernel_pick(const char *want, char *ver, size_t size, struct dock_err *err);
/* Read modules.dep of kernel ver and order rc's modules with their dependencies. */
int moddep_resolve(const struct recipe *rc, const char *ver, struct moddep *md,
		   struct dock_err *err);
void moddep_free(struct moddep *md);

#endif
