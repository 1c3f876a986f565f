/*
 * scan.h: an OpenSCAP scan of a golden image's root tree, offline and
 * read-only (images/scap/README.md). The content is Debian's SCAP Security
 * Guide datastream for Debian 11 with only its version check widened to
 * Debian 12, derived here byte for byte as images/scap/derive-content does;
 * each profile is scanned twice: tailored (the recipe's tailoring, the
 * score, the ARF results and the HTML report kept beside the image) and
 * stock (how an outside auditor runs it: the failing rules recorded).
 */
#ifndef ISC_SCAN_H
#define ISC_SCAN_H

#include <stddef.h>

#include <json-c/json.h>

#include "err.h"

#define SCAN_MAX_PROFILES 4
#define SCAN_PROFILE_MAX  48 /* "anssi_np_nt28_restrictive" */
#define SCAN_MAX_FAILING  256
/* Debian's package and the datastream in it the content derives from. */
#define SCAN_SOURCE_DEFAULT "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml"
#define SCAN_CONTENT_NAME   "ssg-debian11-bookworm-ds.xml"

struct scan_spec {
	const char *ss_name;      /* the image: messages */
	const char *ss_root;      /* the tree to scan (never written) */
	const char *ss_outdir;    /* scan-PROFILE.arf.xml and .html go here */
	const char *ss_cache;     /* the derived content is kept here */
	const char *ss_tailoring; /* the tailoring file, or "" */
	char ss_profiles[SCAN_MAX_PROFILES][SCAN_PROFILE_MAX + 1];
	size_t ss_n_profiles;
	int ss_floor; /* percent the tailored score must reach; -1: none */
};

/* A profile name as the recipe and the manifest carry it: [a-z0-9_]+. */
int scan_profile_valid(const char *p);
/* Scan ss->ss_root for each profile; *block: the manifest's "scan" object
 * (the caller owns it), set also when the score is under the floor, which
 * returns -EDOM and names the failing rules. */
int scan_run(const struct scan_spec *ss, json_object **block, struct dock_err *err);
/* The lowest tailored score of a "scan" block in percent, or -1 (none). */
double scan_block_score(json_object *block);

#endif
