/* api-listen: where the API listens (socket activation, or bind). */
#include "api-listen.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

int api_listen_open(const char *path, gid_t gid, bool *activated, struct dock_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = sdnotify_listen_fd();

	*activated = fd >= 0;
	if (fd >= 0) {
		log_info("api: listening on the socket systemd passed (fd %d)", fd);
		return fd;
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, 400, ENAMETOOLONG, "socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, 500, errno, "socket: %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = errno;

		close(fd);
		return err_set(err, 500, e, "%s: %s", path, strerror(e));
	}
	/* The kernel checks connect() against the mode; peer creds decide after. */
	if (chown(path, 0, gid == (gid_t)-1 ? 0 : gid) < 0 || chmod(path, 0660) < 0)
		log_warn("api: %s: cannot set owner/mode: %s", path, strerror(errno));
	log_info("api: listening on %s", path);
	return fd;
}
