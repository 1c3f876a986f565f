/*
 * repro.h: what makes two builds of one recipe alike (repro.c). One
 * SOURCE_DATE_EPOCH for every timestamp the build writes, the root tree
 * packed by mke2fs with a name-derived UUID and hash seed, entries in name
 * order and every inode's times fixed; and the inputs that determine the
 * result, which the manifest records: the recipe's digest and the host
 * packages whose files went in.
 */
#ifndef ISC_REPRO_H
#define ISC_REPRO_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "recipe.h"

/* When neither the environment nor git says: 2020-01-01T00:00:00Z. */
#define REPRO_EPOCH_FIXED 1577836800LL
/* SOURCE_DATE_EPOCH's largest value: 9999-12-31T23:59:59Z. */
#define REPRO_EPOCH_MAX 253402300799LL

/*
 * The build's SOURCE_DATE_EPOCH: the environment's, else the commit time of
 * the last git commit touching the recipe or its trees (when the recipe is
 * in a git work tree), else REPRO_EPOCH_FIXED. *source: "env", "git" or
 * "fixed". tmp: a scratch directory. A malformed environment value is an error.
 */
int repro_epoch(const struct recipe *rc, const char *tmp, long long *epoch, const char **source,
		struct dock_err *err);

/* The ext4 root filesystem of an image. */
struct repro_fs {
	const char *rf_root;  /* the staged tree (mke2fs -d) */
	const char *rf_img;   /* the raw image written */
	const char *rf_label; /* filesystem label */
	const char *rf_uuid;  /* filesystem UUID */
	const char *rf_name;  /* the image's name: the hash seed derives from it */
	const char *rf_tmp;   /* scratch directory (outside rf_root) */
	uint64_t rf_mib;      /* size */
	long long rf_epoch;
};

/*
 * mke2fs -d of the tree, no journal, then every inode's times made the
 * epoch's: mtimes clamped to it, atimes equal to the mtimes, ctimes and
 * creation times the epoch (mke2fs copies the build's ctimes). hex gets the
 * image's sha256 and *size its bytes: the root filesystem digest.
 */
int repro_mkfs(const struct repro_fs *rf, char hex[65], uint64_t *size, struct dock_err *err);

/* sha256 over the recipe file, its base recipe and the trees it copies in
 * (names in byte order, types, modes as the image gets them, contents). */
int repro_recipe_digest(const struct recipe *rc, char hex[65], struct dock_err *err);

/* {"package": "version" | null} of the host's dpkg for these packages
 * (null: not installed, or no dpkg). NULL only when out of memory. */
json_object *repro_host_packages(const char *tmp, const char *const *pkgs, size_t n);

#endif
