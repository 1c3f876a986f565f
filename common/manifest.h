/* manifest: an image directory <image_dir>/<name>/ and its manifest.json,
 * as isc-image writes it and as the dock and `isc-image export` read it. The
 * manifest is untrusted input: parsed with limits, every file name confined
 * to the image directory. The functions keep the image_ prefix of struct
 * image; the dock adds digest verification (dockd/image.h). */
#ifndef ISC_MANIFEST_H
#define ISC_MANIFEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct json_object;
#include "policy.h"
#include "validate.h"

#define IMAGE_MANIFEST_MAX (512 * 1024) /* a golden image lists its ~300 packages */

/* The bounds every reader of a manifest.json applies (dock, isc-image export). */
extern const struct jsonin_limits image_manifest_limits;
#define IMAGE_MAX_FILES     16
#define IMAGE_FILE_NAME_MAX 64
#define IMAGE_CMDLINE_MAX   1024
/* "inputs" and "reproducible" (optional; manifests before them load as they are). */
#define IMAGE_BUILDER_MAX       128 /* "isc-image 0.5.0 (commit 0123456789ab)" */
#define IMAGE_HOST_PACKAGES_MAX 32  /* a build names five or so */
#define IMAGE_PACKAGE_NAME_MAX  64
#define IMAGE_PACKAGE_VER_MAX   128
#define IMAGE_DIFFERS_MAX       8
#define IMAGE_DIFFERS_WHAT_MAX  128
#define IMAGE_DIFFERS_WHY_MAX   512
#define IMAGE_EPOCH_MAX         253402300799LL /* 9999-12-31T23:59:59Z */

enum image_boot { IMAGE_BOOT_KERNEL, IMAGE_BOOT_EFI };

/* "scan" (optional): the build's OpenSCAP scan (images/scan.h), bounded. */
#define IMAGE_SCAN_MAX_PROFILES 4
#define IMAGE_SCAN_PROFILE_MAX  48
#define IMAGE_SCAN_MAX_FAILING  256
#define IMAGE_SCAN_RULE_MAX     160
#define IMAGE_SCAN_COUNT_MAX    100000 /* rules in one profile */

struct image_scan_profile {
	char sp_id[IMAGE_SCAN_PROFILE_MAX + 1];
	uint64_t sp_pass, sp_fail, sp_notapplicable, sp_notchecked, sp_error;
	int sp_score_cp; /* pass / (pass + fail) in hundredths of a percent; -1: none judged */
};

struct image_scan {
	bool is_have;
	char is_scanner[64];
	char is_content_sha256[65];
	char is_tailoring_sha256[65]; /* "" = the stock profiles */
	int is_floor;                 /* percent, -1: none */
	struct image_scan_profile is_profiles[IMAGE_SCAN_MAX_PROFILES];
	size_t is_n_profiles;
	int is_score_cp; /* the lowest profile's, -1: none */
};

struct image_file {
	char if_name[IMAGE_FILE_NAME_MAX];
	char if_role[16]; /* base, kernel, initrd, other */
	char if_sha256[65];
	uint64_t if_size;
};

struct image {
	char im_name[IMAGE_NAME_MAX + 1];
	char im_dir[PATH_MAX];
	char im_built[40];
	enum image_boot im_boot;
	char im_cmdline[IMAGE_CMDLINE_MAX];
	uint64_t im_memory_mib; /* "recommended": what the guest needs; 0 = no word */
	uint64_t im_scratch_mib;
	bool im_have_service; /* "service": the policy its nodes are judged by */
	struct profile im_service;
	/* "inputs": what determined the root filesystem (im_have_inputs). */
	bool im_have_inputs;
	char im_builder[IMAGE_BUILDER_MAX + 1];
	uint64_t im_source_date_epoch;
	char im_epoch_from[8]; /* env, git, fixed */
	char im_recipe_sha256[65];
	/* "reproducible": the root filesystem's digest (im_have_repro). */
	bool im_have_repro;
	char im_rootfs_sha256[65];
	size_t im_n_differs; /* parts named not bit-identical */
	struct image_file im_files[IMAGE_MAX_FILES];
	size_t im_n_files;
	const struct image_file *im_base, *im_kernel, *im_initrd; /* into im_files */
	struct image_scan im_scan;
};

/* Parse a manifest (the fuzz target). im_dir is left empty. */
int image_manifest_parse(const char *buf, size_t len, struct image *im, struct dock_err *err);
/* The "scan" member of a manifest (scan: the member's value, NULL when
 * absent: is_have false). The score comes from the counts, not the text. */
int image_scan_parse(struct json_object *scan, struct image_scan *sc, struct dock_err *err);
/* "96.55%", or "-" without a scan or without a judged rule. */
const char *image_scan_score_str(const struct image_scan *sc, char *buf, size_t size);
/* Load <image_dir>/<name>/manifest.json. Unknown name: 404. */
int image_load(const char *image_dir, const char *name, struct image *im, struct dock_err *err);
/* Absolute path of one of the image's files. */
int image_path(const struct image *im, const struct image_file *f, char *buf, size_t size);

#endif
