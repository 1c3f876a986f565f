/*
 * build-int.h: private to the builder's sibling rooms around one build:
 * build.c (the steps in order), stage.c (the root tree, busybox's applets)
 * and imgmanifest.c (manifest.json). struct build is the state one build
 * carries from step to step.
 */
#ifndef ISC_BUILD_INT_H
#define ISC_BUILD_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "debian.h"
#include "err.h"
#include "kernel.h"
#include "recipe.h"

#define BUSYBOX_PATH "/bin/busybox"

struct applets {
	char *ap_buf;
	char *ap_list[1024]; /* "bin/ls", "sbin/init", ... */
	size_t ap_n;
};

struct build {
	struct recipe bd_rc;
	char bd_kver[128];
	char bd_agent[PATH_MAX];
	char bd_out[PATH_MAX];
	char bd_tmp[PATH_MAX];   /* out/.NAME.build-XXXXXX until committed */
	char bd_final[PATH_MAX]; /* out/NAME */
	time_t bd_time;          /* "built": SOURCE_DATE_EPOCH or now */
	struct moddep bd_mods;
	struct applets bd_applets;
	unsigned long bd_svc_uid, bd_svc_gid; /* of the service user and group, from the image */
	bool bd_efi;                          /* boot = efi: a Debian golden image */
	struct debian_info bd_deb;            /* boot = efi: mirror, kernel, packages */
	/* Reproducibility (repro.h): the epoch every timestamp is clamped to and
	 * where it came from ("env", "git", "fixed"), the root filesystem's digest. */
	long long bd_epoch;
	const char *bd_epoch_source;
	char bd_rootfs_sha256[65];
	uint64_t bd_rootfs_size;
	struct json_object *bd_scan; /* the manifest's "scan" block, or NULL */
};

/* stage.c: the applets the static busybox has, listed through a file in tmp. */
int applets_load(const char *tmp, struct applets *ap, struct dock_err *err);
/* stage.c: micro's root tree in root (busybox, applets, agent, the recipe's trees). */
int stage_root(struct build *b, char *root, struct dock_err *err);
/* stage.c: the recipe's root_files then root_overlay over root; replace_files:
 * root_files may replace what the tree holds too. */
int stage_trees(struct build *b, const char *root, bool replace_files, struct dock_err *err);
/* stage.c: the declared service's ids (into bd_svc_uid/gid) and paths, from root. */
int stage_check_service(struct build *b, const char *root, struct dock_err *err);
/* imgmanifest.c: digests every built file and writes bd_tmp/manifest.json. */
int manifest_build(struct build *b, struct dock_err *err);

#endif
