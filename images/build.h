/*
 * build.h: the image builder's commands as the CLI (isc-image.c) calls
 * them. build_image() builds one recipe into OUT/NAME, whole or not at all;
 * it returns 0 or a negative errno with err saying why (`ls` and `rm` are
 * imgdir.h's).
 */
#ifndef ISC_BUILD_H
#define ISC_BUILD_H

#include <stdbool.h>

#include "err.h"

int build_image(const char *recipe_arg, const char *exe_dir, const char *out, const char *agent,
		const char *kver, struct dock_err *err);
/* No progress on stderr (isc-image build --quiet); by default a build shows
 * its steps (common/progress.h): a live line on a terminal, else a line each. */
void build_quiet(bool quiet);

#endif
