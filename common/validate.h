/* validate: the rules for names and sizes that users type, shared by dockd
 * (which enforces them) and iscadm (which parses sizes). */
#ifndef ISC_VALIDATE_H
#define ISC_VALIDATE_H

#include <stdint.h>

#include "err.h"

#define NODE_NAME_MAX  31 /* [a-z][a-z0-9-]{0,30} */
#define IMAGE_NAME_MAX 63

/* `what` names the kind of thing in the message ("node", "image"). */
int validate_name(const char *what, const char *name, size_t max, struct dock_err *err);

/* Parse "256M", "1G", "512" (MiB), "1048576K" into MiB. Fractions of a MiB
 * and overflow are errors. */
int validate_size_mib(const char *what, const char *text, uint64_t *mib, struct dock_err *err);

#endif
