/*
 * apt.h: where a boot = efi image's packages come from (apt.c). The
 * answer is a URL for debootstrap: rc->rc_mirror, else $ISC_MIRROR (http://,
 * https:// or file:///), else the first apt source of this machine that
 * serves rc->rc_suite; none is an error naming the recipe.
 */
#ifndef ISC_APT_H
#define ISC_APT_H

#include <stddef.h>

#include "err.h"
#include "recipe.h"

int apt_mirror(const struct recipe *rc, char *out, size_t size, struct dock_err *err);

#endif
