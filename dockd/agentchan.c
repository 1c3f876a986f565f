/* agentchan: poll loop over the agent sockets of running nodes. */
#include "agentchan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"
#include "log.h"
#include "node.h"

#define AGENTCHAN_MAX 256
#define AGENTCHAN_RETRY_MS 1000

struct chan {
	char ch_name[NODE_NAME_MAX + 1];
	char ch_socket[PATH_MAX];
	int ch_fd;
	int64_t ch_next_try_ms;
	int64_t ch_window_start_ms;
	unsigned ch_window_lines;
	uint64_t ch_dropped;      /* rate limit */
	uint64_t ch_bad;          /* unparsable lines */
	int64_t ch_last_warn_ms;
	bool ch_seen;
	struct agentproto_reader ch_rd;
};

static struct chan *chans[AGENTCHAN_MAX];
static size_t n_chans;

static int64_t agentchan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void agentchan_close(struct chan *ch)
{
	if (ch->ch_fd >= 0) {
		close(ch->ch_fd);
		ch->ch_fd = -1;
		node_agent_connected(ch->ch_name, false);
	}
	memset(&ch->ch_rd, 0, sizeof(ch->ch_rd));
	ch->ch_next_try_ms = agentchan_now_ms() + AGENTCHAN_RETRY_MS;
}

static void agentchan_connect(struct chan *ch)
{
	static const char ask[] = "{\"type\":\"hello\"}\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(ch->ch_socket) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, ch->ch_socket, strlen(ch->ch_socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		ch->ch_next_try_ms = agentchan_now_ms() + AGENTCHAN_RETRY_MS;
		return;
	}
	ch->ch_fd = fd;
	node_agent_connected(ch->ch_name, true);
	log_debug("node %s: agent channel connected", ch->ch_name);
	/* Ask for a hello: after a dock restart the agent's first one is gone. */
	if (write(fd, ask, sizeof(ask) - 1) < 0)
		log_debug("node %s: agent channel: hello request not sent: %s", ch->ch_name,
			  strerror(errno));
}

static void agentchan_warn(struct chan *ch, const char *what)
{
	int64_t now = agentchan_now_ms();

	/* Hostile input is counted always, logged at most every 10 s. */
	if (now - ch->ch_last_warn_ms < 10000)
		return;
	ch->ch_last_warn_ms = now;
	log_warn("node %s: agent channel: %s (bad lines %llu, over-long %llu, rate-dropped %llu)",
		 ch->ch_name, what, (unsigned long long)ch->ch_bad,
		 (unsigned long long)ch->ch_rd.ar_overlong, (unsigned long long)ch->ch_dropped);
}

static void agentchan_line(void *ctx, const char *line, size_t len)
{
	struct chan *ch = ctx;
	struct dock_err e = { 0 };
	struct agent_msg msg;
	int64_t now = agentchan_now_ms();

	if (now - ch->ch_window_start_ms >= 1000) {
		ch->ch_window_start_ms = now;
		ch->ch_window_lines = 0;
	}
	if (++ch->ch_window_lines > AGENTCHAN_LINES_PER_SEC) {
		ch->ch_dropped++;
		agentchan_warn(ch, "too many lines, dropping");
		return;
	}
	if (agentproto_parse(line, len, &msg, &e) < 0) {
		ch->ch_bad++;
		agentchan_warn(ch, e.de_msg);
		return;
	}
	node_agent_message(ch->ch_name, &msg);
}

static void agentchan_read(struct chan *ch)
{
	char buf[4096];
	ssize_t n;

	/* One read per wake-up: a flooding guest cannot monopolise the loop. */
	n = read(ch->ch_fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		log_debug("node %s: agent channel closed", ch->ch_name);
		agentchan_close(ch);
		return;
	}
	if (n > 0) {
		uint64_t before = ch->ch_rd.ar_overlong;
		agentproto_feed(&ch->ch_rd, buf, (size_t)n, agentchan_line, ch);
		if (ch->ch_rd.ar_overlong != before)
			agentchan_warn(ch, "over-long line dropped");
	}
}

/* Follow the set of running nodes: open channels for new ones, drop gone. */
static void agentchan_sync(void)
{
	static struct node_agent_target targets[AGENTCHAN_MAX];
	size_t nt = node_agent_targets(targets, AGENTCHAN_MAX);

	for (size_t i = 0; i < n_chans; i++)
		chans[i]->ch_seen = false;
	for (size_t t = 0; t < nt; t++) {
		struct chan *ch = NULL;
		for (size_t i = 0; i < n_chans; i++)
			if (strcmp(chans[i]->ch_name, targets[t].nat_name) == 0)
				ch = chans[i];
		if (ch == NULL) {
			if (n_chans >= AGENTCHAN_MAX)
				continue;
			ch = calloc(1, sizeof(*ch));
			if (ch == NULL)
				continue;
			memcpy(ch->ch_name, targets[t].nat_name, sizeof(ch->ch_name));
			memcpy(ch->ch_socket, targets[t].nat_socket, sizeof(ch->ch_socket));
			ch->ch_fd = -1;
			chans[n_chans++] = ch;
		}
		ch->ch_seen = true;
	}
	for (size_t i = 0; i < n_chans;) {
		if (!chans[i]->ch_seen) {
			agentchan_close(chans[i]);
			free(chans[i]);
			chans[i] = chans[--n_chans];
			continue;
		}
		if (chans[i]->ch_fd < 0 && agentchan_now_ms() >= chans[i]->ch_next_try_ms)
			agentchan_connect(chans[i]);
		i++;
	}
}

void agentchan_run(volatile sig_atomic_t *stop)
{
	struct pollfd pfd[AGENTCHAN_MAX];
	struct chan *who[AGENTCHAN_MAX];

	while (!*stop) {
		size_t np = 0;

		agentchan_sync();
		for (size_t i = 0; i < n_chans; i++) {
			if (chans[i]->ch_fd < 0)
				continue;
			pfd[np].fd = chans[i]->ch_fd;
			pfd[np].events = POLLIN;
			who[np++] = chans[i];
		}
		if (poll(pfd, np, 250) <= 0)
			continue;
		for (size_t i = 0; i < np; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				agentchan_read(who[i]);
	}
	for (size_t i = 0; i < n_chans; i++) {
		agentchan_close(chans[i]);
		free(chans[i]);
	}
	n_chans = 0;
}
