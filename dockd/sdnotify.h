/* sdnotify: the daemon's side of systemd's service protocol, without
 * libsystemd: readiness and status to $NOTIFY_SOCKET (sd_notify(3)) and
 * the listening socket systemd passes (LISTEN_PID, LISTEN_FDS: fd 3,
 * sd_listen_fds(3)). Outside systemd both are no-ops. */
#ifndef ISC_SDNOTIFY_H
#define ISC_SDNOTIFY_H

#include <stddef.h>

/* Read and clear the environment (NOTIFY_SOCKET, LISTEN_*: children must
 * not inherit them). Once, early in main, before any thread starts. */
void sdnotify_init(void);

/* Send "KEY=VALUE\n..." (READY=1, STATUS=..., STOPPING=1) to the service
 * manager: 1 sent, 0 no manager listening, or a negative errno. */
int sdnotify_send(const char *state);

/* The listening socket systemd passed (fd 3, close-on-exec), or -1. */
int sdnotify_listen_fd(void);

/* Parse a NOTIFY_SOCKET value into a socket address: an absolute path or
 * "@name" (abstract). The address length, or -EINVAL (empty, relative,
 * longer than sun_path). Pure. */
struct sockaddr_un;
int sdnotify_addr(const char *value, struct sockaddr_un *sa);

#endif
