/* sdnotify: sd_notify and sd_listen_fds, the few lines dockd needs of
 * them (the protocol is stable and documented in sd_notify(3)). */
#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SDNOTIFY_LISTEN_FD 3 /* SD_LISTEN_FDS_START */
#define SDNOTIFY_MSG_MAX   4096

static char sdnotify_socket[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
static int sdnotify_listen = -1;

int sdnotify_addr(const char *value, struct sockaddr_un *sa)
{
	size_t n = value != NULL ? strlen(value) : 0;

	if (n < 2 || (value[0] != '/' && value[0] != '@') || n > sizeof(sa->sun_path) ||
	    (value[0] == '/' && n == sizeof(sa->sun_path)))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, value, n);
	if (value[0] == '@') /* abstract: a leading NUL, the length says where it ends */
		sa->sun_path[0] = '\0';
	else
		n++; /* the path's NUL */
	return (int)(offsetof(struct sockaddr_un, sun_path) + n);
}

/* LISTEN_PID must name us: the variables may be stale, inherited from a
 * parent that was activated itself. */
static void sdnotify_init_listen(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end = NULL;
	long p, n;

	if (pid == NULL || fds == NULL)
		return;
	errno = 0;
	p = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || p != (long)getpid())
		return;
	n = strtol(fds, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 64)
		return;
	/* One socket is ours; more would be a unit's mistake: only fd 3 is
	 * used, the others stay open as passed. */
	if (fcntl(SDNOTIFY_LISTEN_FD, F_SETFD, FD_CLOEXEC) == 0)
		sdnotify_listen = SDNOTIFY_LISTEN_FD;
}

void sdnotify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	if (s != NULL && strlen(s) < sizeof(sdnotify_socket))
		snprintf(sdnotify_socket, sizeof(sdnotify_socket), "%s", s);
	sdnotify_init_listen();
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int sdnotify_send(const char *state)
{
	struct sockaddr_un sa;
	size_t len = strnlen(state, SDNOTIFY_MSG_MAX + 1);
	int salen, fd, e = 0;

	if (sdnotify_socket[0] == '\0')
		return 0;
	salen = sdnotify_addr(sdnotify_socket, &sa);
	if (salen < 0 || len > SDNOTIFY_MSG_MAX)
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A datagram: whole or not at all; a manager gone means no one waits. */
	if (sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
		   (socklen_t)salen) < 0)
		e = errno;
	close(fd);
	return e != 0 ? -e : 1;
}

int sdnotify_listen_fd(void)
{
	return sdnotify_listen;
}
