/* gaudit-int: private to the guest audit room (dockd/gaudit*.c). */
#ifndef ISC_GAUDIT_INT_H
#define ISC_GAUDIT_INT_H

#include <limits.h>
#include <stddef.h>

#include "chainlog.h"
#include "gaudit.h"

/* state_dir/guest-audit into buf; -ENAMETOOLONG. */
int gaudit_top(const char *state_dir, char *buf, size_t size);
/* state_dir/guest-audit/<id>[/<file>] into buf; -ENAMETOOLONG, -EINVAL for an id
 * that is not 32 lower-case hex digits. */
int gaudit_path(const char *state_dir, const char *id, const char *file, char *buf, size_t size);
/* The chain's view of a line (chainlog_parse_fn). */
int gaudit_link(const char *line, size_t len, struct chainlog_link *l, struct dock_err *err);
/* The writer lets go of id's log (a purge), waiting for it. */
void gaudit_forget(const char *id);

#endif
