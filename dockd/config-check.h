/* config-check: what `dockd -t` checks beyond the file's syntax, as `nginx -t`
 * does: the groups it names exist, each directory exists or can be made the
 * way dockd makes it, each file it names can be read. */
#ifndef ISC_CONFIG_CHECK_H
#define ISC_CONFIG_CHECK_H

#include "config.h"

/* One problem: "KEY VALUE: what is wrong" (a whole line, no newline). */
typedef void (*config_problem_fn)(void *ctx, const char *line);

/* Checks the host against `cfg` as the calling user (run it as the user
 * dockd runs as); each problem once through `report`, in the order of the
 * keys. Returns the number of problems. */
unsigned config_check_host(const struct dock_config *cfg, config_problem_fn report, void *ctx);

/* dockd -t: the problems on stderr, one line each ("dockd: CONF: ..."), and
 * 1; or "configuration OK" on stdout and 0. */
int config_check_report(const char *conf, const struct dock_config *cfg);

#endif
