/* image: an image directory <image_dir>/<name>/ and its manifest.json, as
 * written by isc-image. The manifest and struct image are common/manifest.h
 * (shared with isc-image export); the dock adds the digest check before a
 * node boots an image, and the removal of an image no node uses. */
#ifndef ISC_IMAGE_H
#define ISC_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "manifest.h"
#include "profile.h"

/* Recompute the sha256 of every file and compare with the manifest; a file
 * unchanged since it was last verified (same inode, size, mtime, ctime) is
 * not read again. */
int image_verify(const struct image *im, struct dock_err *err);
/* 0 when hdr (the first n bytes of a base disk) is a qcow2 header naming
 * neither a backing file nor an external data file; else -EINVAL and *why. */
int image_qcow2_standalone(const unsigned char *hdr, size_t n, const char **why);

/* What image_remove removed. */
struct image_rm {
	size_t ir_files;   /* files removed, the manifest among them */
	uint64_t ir_bytes; /* their size */
	bool ir_link; /* the image's directory was a symbolic link: the link went, not its target */
	bool ir_dir_kept; /* files the manifest does not list were left, with their directory */
};
/* Remove image name from image_dir: its manifest first (from then on the
 * dock knows no such image), then each file the manifest lists, then the
 * directory when nothing else is left in it. An image directory that is a
 * symbolic link: the link only. Unknown image: 404; a manifest that does
 * not parse: its 400 (nothing removed). Whether nodes use the image is the
 * caller's to ask first (node_image_users). */
int image_remove(const char *image_dir, const char *name, struct image_rm *out,
		 struct dock_err *err);

#endif
