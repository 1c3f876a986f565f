/* image: an image directory <image_dir>/<name>/ and its manifest.json, as
 * written by isc-image. The manifest and struct image are common/manifest.h
 * (shared with isc-image export); the dock adds the digest check before a
 * node boots an image. */
#ifndef ISC_IMAGE_H
#define ISC_IMAGE_H

#include <stddef.h>

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

#endif
