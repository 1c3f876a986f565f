/*
 * rescan.h: `isc-image scan NAME` (rescan.c): rescans an image that exists
 * with its recipe's scap_profiles, scap_tailoring and scap_floor, and
 * records the result in the image (scan-*.arf.xml, scan-*.html, the
 * manifest's "scan" block). root_arg: an unpacked root tree to scan instead
 * of reading base.qcow2 back (NULL: read it). Under the floor the scan is
 * recorded and -EDOM returned, the failing rules named.
 */
#ifndef ISC_RESCAN_H
#define ISC_RESCAN_H

#include "err.h"

int rescan_image(const char *images, const char *name, const char *exe_dir, const char *root_arg,
		 struct dock_err *err);

#endif
