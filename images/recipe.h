/*
 * recipe.h: a parsed recipe (images/recipes/NAME), what every builder
 * reads. The parser lives in recipe.c; its limits are here.
 */
#ifndef ISC_RECIPE_H
#define ISC_RECIPE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Same rules as the dock: common/validate.h IMAGE_NAME_MAX, common/manifest.h IMAGE_CMDLINE_MAX. */
#define IMG_NAME_MAX    63
#define IMG_CMDLINE_MAX 1023
#define IMG_MODNAME_MAX 56 /* MODULE_NAME_LEN - 1 */
/* Recipes are small hand-written files; anything bigger is a mistake. */
#define RECIPE_MAX_BYTES   (64 * 1024)
#define RECIPE_LINE_MAX    1024
#define RECIPE_MAX_LINES   256
#define RECIPE_MAX_MODULES 32
#define RECIPE_FORMAT      1
#define RECIPE_MAX_NEST    1  /* a recipe may name a base; a base may not */
#define RECIPE_MAX_KEYS    32 /* one bit each in rc_seen / rc_have */
/* The service a recipe declares (copied into manifest.json "service"). */
#define SVC_NAME_MAX        15 /* TASK_COMM_LEN - 1: the process name */
#define SVC_ID_MAX          32 /* user and group names, as useradd allows */
#define SVC_MAX_PORTS       16
#define SVC_PORT_MAX        12 /* "65535/tcp" */
#define SVC_MAX_PATHS       16 /* per list: writable, readonly */
#define SVC_PATH_MAX        255
#define SVC_EXEC_MAX        512
#define RECIPE_MIRROR_MAX   255
#define RECIPE_MAX_PACKAGES 64
#define RECIPE_PACKAGE_MAX  64   /* Debian package names */
#define RECIPE_SWAP_MAX     4096 /* MiB */
/* The SCAP scan of a boot = efi image (images/scan.h). */
#define RECIPE_SCAP_MAX         4
#define RECIPE_SCAP_PROFILE_MAX 48

struct recipe {
	char rc_path[PATH_MAX];
	char rc_dir[PATH_MAX]; /* relative paths in values start here */
	char rc_name[IMG_NAME_MAX + 1];
	char rc_boot[16];
	char rc_cmdline[IMG_CMDLINE_MAX + 1];
	char rc_modules[RECIPE_MAX_MODULES][IMG_MODNAME_MAX + 1];
	size_t rc_n_modules;
	char rc_modules_where[PATH_MAX + 32]; /* "file:line" of the modules key */
	char rc_initrd_files[PATH_MAX];       /* "" when absent */
	char rc_root_files[PATH_MAX];
	char rc_root_overlay[PATH_MAX]; /* copied over root_files, replacing */
	char rc_base[IMG_NAME_MAX + 1]; /* "" or the recipe this one extends */
	/* The service; rc_svc_name "" when the recipe declares none. */
	char rc_svc_name[SVC_NAME_MAX + 1];
	char rc_svc_user[SVC_ID_MAX + 1];
	char rc_svc_group[SVC_ID_MAX + 1];
	char rc_svc_ports[SVC_MAX_PORTS][SVC_PORT_MAX + 1];
	size_t rc_svc_n_ports;
	char rc_svc_writable[SVC_MAX_PATHS][SVC_PATH_MAX + 1];
	size_t rc_svc_n_writable;
	char rc_svc_readonly[SVC_MAX_PATHS][SVC_PATH_MAX + 1];
	size_t rc_svc_n_readonly;
	char rc_svc_exec[SVC_EXEC_MAX + 1]; /* boot = efi: the service's command line */
	/* boot = efi: a Debian image made by debootstrap (images/debian.c). */
	char rc_suite[32];
	char rc_mirror[RECIPE_MIRROR_MAX + 1]; /* "" = the machine's apt sources */
	char rc_packages[RECIPE_MAX_PACKAGES][RECIPE_PACKAGE_MAX + 1];
	size_t rc_n_packages;
	bool rc_ssh;          /* sshd enabled (key-only either way) */
	unsigned rc_swap_mib; /* encrypted swap on the ephemeral disk */
	/* scap_profiles, scap_tailoring, scap_floor: the build's OpenSCAP scan. */
	char rc_scap_profiles[RECIPE_SCAP_MAX][RECIPE_SCAP_PROFILE_MAX + 1];
	size_t rc_n_scap_profiles;
	char rc_scap_tailoring[PATH_MAX];              /* "" = the stock profiles */
	int rc_scap_floor;                             /* percent, or -1 */
	char rc_where[RECIPE_MAX_KEYS][PATH_MAX + 32]; /* "file:line" each key was last set at */
	unsigned rc_seen;                              /* bit per recipe_keys[] entry, this file */
	unsigned rc_have;                              /* the same, this file or its base */
	int rc_nest;                                   /* 0: the recipe built, 1: its base */
};

/* Find the recipe file: arg with a '/' is a path; a bare name is looked up
 * next to the binary in exe_dir (../images/recipes, ../share/isc/images/recipes),
 * then in ./images/recipes. */
int recipe_find(const char *arg, const char *exe_dir, char *path, size_t size,
		struct dock_err *err);
/* Read the recipe at path (and its base) into rc and check it whole. */
int recipe_parse(const char *path, struct recipe *rc, struct dock_err *err);
/* Index of a key in the recipe grammar: its bit in rc_seen/rc_have, its rc_where[]. */
size_t recipe_key_bit(const char *name);
/* A recipe or image name: [a-z][a-z0-9-]*, at most IMG_NAME_MAX bytes. */
bool recipe_name_valid(const char *name);

#endif
