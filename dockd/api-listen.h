/* api-listen: the API's listening socket: the one systemd passed
 * (dockd.socket: socket activation, its owner and mode set by the unit),
 * or one of our own bound at run_dir/dockd.sock. */
#ifndef ISC_API_LISTEN_H
#define ISC_API_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

/* The listening fd, or a negative errno (err filled). Our own socket gets
 * root:gid (gid -1: root:root) and 0660; *activated says whose it is (an
 * activated socket is never unlinked: it outlives us, for the next start). */
int api_listen_open(const char *path, gid_t gid, bool *activated, struct dock_err *err);

#endif
