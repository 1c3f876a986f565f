/* version.h: the project's version, one line for every binary's --version.
 * ISC_VERSION comes from the VERSION file and ISC_COMMIT from git, both
 * through the generated build/gen/isc-build.h (rewritten by the Makefile
 * only when they change); a tree without git says "unknown". Header-only:
 * isc-unseal links no common/ object. */
#ifndef ISC_VERSION_H
#define ISC_VERSION_H

#if defined(__has_include)
#if __has_include(<isc-build.h>)
#include <isc-build.h> /* generated: build/gen */
#endif
#endif

#ifndef ISC_VERSION
#define ISC_VERSION "unknown"
#endif
#ifndef ISC_COMMIT
#define ISC_COMMIT "unknown"
#endif

/* "PROG VERSION (commit C)" */
#define ISC_VERSION_LINE(prog) prog " " ISC_VERSION " (commit " ISC_COMMIT ")"

#endif
