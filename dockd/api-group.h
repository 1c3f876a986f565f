/* api-group: the API socket's group (dockd.conf's socket_group). A group that
 * does not exist when the dock starts (made later by systemd-sysusers or
 * groupadd) is looked for again every API_GROUP_RETRY_S seconds by a small
 * thread; once it exists the socket is given to it (root:GROUP, 0660) and
 * its members may use the API, without a restart. */
#ifndef ISC_API_GROUP_H
#define ISC_API_GROUP_H

#include <sys/types.h>

#define API_GROUP_RETRY_S 2

/* The group's gid, or (gid_t)-1 while it does not exist; any thread. */
gid_t api_group_gid(void);

/* Look the group up now and give the socket at `path` to it (root's group
 * while it does not exist; mode 0660); if it does not exist, start the
 * thread that looks again. Called once the socket is bound. */
void api_group_start(const char *group, const char *path);

/* Stops the thread, if it runs. */
void api_group_stop(void);

#endif
