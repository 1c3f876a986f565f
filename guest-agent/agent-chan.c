/*
 * agent-chan: the channel to the dock: the virtio-serial port (found by
 * name, reopened after an error, host (dis)connects seen by poll and
 * SIGIO) or, for tests, a unix socket; the bounded output queue and the
 * audit buffer written after it (audit.c); input
 * split into lines, an oversized line discarded up to its newline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-int.h"

/* --- output queue --------------------------------------------------------- */

/*
 * Write as much as the channel takes now, without blocking, from two
 * queues of whole lines: the output queue (hello, reports, heartbeats,
 * audit_status) and the audit buffer. A line half written is finished
 * first; between lines the output queue goes first, so audit records never
 * take its room nor delay a heartbeat by more than the line being written.
 */
void agent_flush(struct agent *a)
{
	while (a->ag_connected) {
		bool audit = audit_mid(a) || (!a->ag_out_mid && a->ag_out_len == 0);
		const char *p = a->ag_out;
		size_t len = audit ? audit_peek(a, &p) : a->ag_out_len;
		ssize_t n;

		if (len == 0)
			return;
		n = write(a->ag_fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			agent_broken(a, errno);
			return;
		}
		if (audit) {
			audit_consumed(a, (size_t)n);
			continue;
		}
		a->ag_out_mid = n > 0 && a->ag_out[n - 1] != '\n';
		memmove(a->ag_out, a->ag_out + n, a->ag_out_len - (size_t)n);
		a->ag_out_len -= (size_t)n;
	}
}

void agent_send(struct agent *a, const char *line, size_t len)
{
	if (len > AGENT_LINE_MAX || len > sizeof(a->ag_out) - a->ag_out_len) {
		if (a->ag_dropped++ == 0)
			agent_log("output queue full, dropping messages (dock not reading?)");
		return;
	}
	memcpy(a->ag_out + a->ag_out_len, line, len);
	a->ag_out_len += len;
	agent_flush(a);
}

/*
 * Split buffered input into lines. A line longer than the limit is
 * discarded up to and including its newline (the resync rule).
 */
static void agent_take_input(struct agent *a, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t chunk = nl ? (size_t)(nl - data) : len;

		if (a->ag_in_discard) {
			/* dropping the rest of an oversized line */
		} else if (a->ag_in_len + chunk + (nl ? 1 : 0) > AGENT_LINE_MAX) {
			agent_log("dock line over %d bytes discarded", AGENT_LINE_MAX);
			a->ag_in_discard = true;
			a->ag_in_len = 0;
		} else {
			memcpy(a->ag_in + a->ag_in_len, data, chunk);
			a->ag_in_len += chunk;
		}
		if (!nl)
			return;
		if (!a->ag_in_discard)
			agent_handle_line(a, a->ag_in, a->ag_in_len);
		a->ag_in_discard = false;
		a->ag_in_len = 0;
		data = nl + 1;
		len -= chunk + 1;
	}
}

/* --- channel -------------------------------------------------------------- */

static void agent_close(struct agent *a)
{
	if (a->ag_fd >= 0)
		close(a->ag_fd);
	a->ag_fd = -1;
	a->ag_connected = false;
}

/* The host side went away: forget half-sent output and half-read input. */
static void agent_disconnected(struct agent *a, const char *why)
{
	agent_log("dock disconnected (%s)", why);
	a->ag_connected = false;
	a->ag_out_len = 0;
	a->ag_out_mid = false;
	a->ag_in_len = 0;
	a->ag_in_discard = false;
	agent_report_reset(a);
	audit_disconnected(a);
	/* A unix socket cannot be reconnected in place; a virtio port can. */
	if (a->ag_kind == CHAN_UNIX)
		agent_close(a);
}

/* An I/O error (port unplugged, socket reset): reopen from scratch. */
void agent_broken(struct agent *a, int err)
{
	agent_disconnected(a, strerror(err));
	agent_close(a);
}

void agent_connected(struct agent *a)
{
	agent_log("dock connected");
	a->ag_connected = true;
	a->ag_out_len = 0;
	a->ag_out_mid = false;
	a->ag_in_len = 0;
	a->ag_in_discard = false;
	agent_report_reset(a);
	audit_disconnected(a);
	/*
	 * Hello first on every (re)connect: a restarted dock learns who we are;
	 * then audit_status, then a report, so it learns the facts without
	 * asking; the audit records held meanwhile follow, between its lines.
	 */
	a->ag_next_beat_ms = agent_now_ms() + (int64_t)a->ag_heartbeat * 1000;
	agent_req_hello(a, NULL);
	agent_report_pump(a);
}

/* Find /dev/<vport> whose /sys/class/virtio-ports/<vport>/name is ours. */
static int agent_find_port(const struct agent *a, char *path, size_t size)
{
	static const char by_name[] = "/dev/virtio-ports/" AGENT_PORT_NAME;
	char dir[PATH_MAX], name[AGENT_VALUE_MAX], rel[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = -ENOENT;

	if (access(by_name, F_OK) == 0) {
		snprintf(path, size, "%s", by_name);
		return 0;
	}
	if (snprintf(dir, sizeof(dir), "%s/sys/class/virtio-ports", a->ag_env.fe_root) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(rel, sizeof(rel), "/sys/class/virtio-ports/%s/name", de->d_name) >=
		    (int)sizeof(rel))
			continue;
		if (file_read_value(&a->ag_env, rel, name, sizeof(name)) < 0 ||
		    strcmp(name, AGENT_PORT_NAME) != 0)
			continue;
		if (snprintf(path, size, "/dev/%s", de->d_name) >= (int)size)
			continue;
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

static int agent_open_port(struct agent *a)
{
	char path[PATH_MAX];
	int fd, r;

	if (a->ag_port)
		snprintf(path, sizeof(path), "%s", a->ag_port);
	else if ((r = agent_find_port(a, path, sizeof(path))) < 0)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/*
	 * Non-blocking so a slow or absent host never stalls the loop; O_ASYNC
	 * because virtio_console signals host (dis)connects with SIGIO while
	 * poll() reports POLLHUP continuously as long as the host is away.
	 */
	if (fcntl(fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK | O_ASYNC) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	agent_log("port %s open", path);
	a->ag_fd = fd;
	return 0;
}

static int agent_open_unix(struct agent *a)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(a->ag_unix) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, a->ag_unix, strlen(a->ag_unix) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	a->ag_fd = fd;
	return 0;
}

int agent_open(struct agent *a)
{
	int r = a->ag_kind == CHAN_UNIX ? agent_open_unix(a) : agent_open_port(a);

	if (r < 0) {
		if (!a->ag_said_waiting)
			agent_log("waiting for %s: %s",
				  a->ag_unix           ? a->ag_unix
					  : a->ag_port ? a->ag_port
						       : AGENT_PORT_NAME,
				  strerror(-r));
		a->ag_said_waiting = true;
		return r;
	}
	a->ag_said_waiting = false;
	return 0;
}

/* Is the host side of the virtio port open? Never blocks. */
bool agent_host_present(const struct agent *a)
{
	struct pollfd p = { .fd = a->ag_fd, .events = POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return false;
	return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Read what is there; a closed or broken channel ends the connection. */
void agent_read(struct agent *a)
{
	char buf[AGENT_LINE_MAX];

	while (a->ag_connected) {
		ssize_t n = read(a->ag_fd, buf, sizeof(buf));

		if (n > 0) {
			agent_take_input(a, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			/* virtio_console: EOF means the host closed its side. */
			agent_disconnected(a, "end of file");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			agent_broken(a, errno);
		return;
	}
}
