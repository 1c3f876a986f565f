/* sha256: the digest of a file, as the dock (image manifests, forensic
 * snapshots) and the image builder (manifests, OVF .mf) both record it. */
#ifndef ISC_SHA256_H
#define ISC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_HEX_LEN 64

/* sha256 of all of path as 64 lowercase hex chars + NUL; *size (may be
 * NULL) gets the byte count. 0, or -errno with err naming the file. */
/* The digest of len bytes of buf, as 64 hex digits. */
void sha256_hex(const void *buf, size_t len, char hex[SHA256_HEX_LEN + 1]);

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *size,
		struct dock_err *err);

#endif
