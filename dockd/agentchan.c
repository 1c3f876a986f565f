/* agentchan: poll loop over the readers of running nodes' agent channels. */
#include "agentchan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentreader.h"
#include "log.h"
#include "node.h"

#define AGENTCHAN_MAX      256
#define AGENTCHAN_RETRY_MS 1000

struct chan {
	char ch_name[NODE_NAME_MAX + 1];
	char ch_socket[PATH_MAX];
	char ch_service[32];
	int ch_fd;    /* the channel; the dock only writes requests to it */
	int ch_ctl;   /* messages from the reader */
	pid_t ch_pid; /* the reader */
	int64_t ch_next_try_ms;
	int64_t ch_next_report_ms;
	bool ch_seen;
	bool ch_shutdown;      /* node wants its agent to power off */
	bool ch_shutdown_sent; /* on this connection */
	/* This reader's counters (AR_STATS), and the fields the dock had to
	 * repair in its messages (agentproto_sanitise): counted as malformed. */
	uint64_t ch_bad, ch_overlong, ch_dropped, ch_repaired;
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
	int status;

	if (ch->ch_pid > 0) {
		kill(ch->ch_pid, SIGKILL);
		if (waitpid(ch->ch_pid, &status, 0) == ch->ch_pid && WIFSIGNALED(status) &&
		    WTERMSIG(status) != SIGKILL)
			log_warn("node %s: agent reader died of signal %d; channel reset",
				 ch->ch_name, WTERMSIG(status));
		ch->ch_pid = -1;
	}
	if (ch->ch_ctl >= 0)
		close(ch->ch_ctl);
	if (ch->ch_fd >= 0) {
		close(ch->ch_fd);
		node_agent_connected(ch->ch_name, false);
	}
	ch->ch_ctl = ch->ch_fd = -1;
	ch->ch_next_try_ms = agentchan_now_ms() + AGENTCHAN_RETRY_MS;
}

static void agentchan_request(struct chan *ch, const char *line)
{
	size_t len = strlen(line);

	/* Non-blocking: a guest that does not read cannot stall the dock. */
	if (send(ch->ch_fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		log_debug("node %s: agent request not sent: %s", ch->ch_name, strerror(errno));
}

static void agentchan_ask_report(struct chan *ch)
{
	struct json_object *o = json_object_new_object();
	char line[128];

	json_object_object_add(o, "type", json_object_new_string("report"));
	if (ch->ch_service[0] != '\0')
		json_object_object_add(o, "service", json_object_new_string(ch->ch_service));
	snprintf(line, sizeof(line), "%s\n",
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	agentchan_request(ch, line);
	ch->ch_next_report_ms = agentchan_now_ms() + AGENTCHAN_REPORT_EVERY_S * 1000;
}

static void agentchan_connect(struct chan *ch)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(ch->ch_socket) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, ch->ch_socket, strlen(ch->ch_socket) + 1);
	ch->ch_next_try_ms = agentchan_now_ms() + AGENTCHAN_RETRY_MS;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	r = agentreader_spawn(fd, &ch->ch_ctl, &ch->ch_pid);
	if (r < 0) {
		log_err("node %s: cannot start the agent reader: %s", ch->ch_name, strerror(-r));
		close(fd);
		return;
	}
	ch->ch_fd = fd;
	ch->ch_shutdown_sent = false;
	ch->ch_bad = ch->ch_overlong = ch->ch_dropped = ch->ch_repaired = 0;
	node_agent_connected(ch->ch_name, true);
	log_debug("node %s: agent channel connected (reader pid %d)", ch->ch_name, (int)ch->ch_pid);
	/* After a dock restart the agent's first hello is gone: ask again. */
	agentchan_request(ch, "{\"type\":\"hello\"}\n");
	agentchan_ask_report(ch);
}

static void agentchan_drain(struct chan *ch)
{
	struct agentreader_out out;

	/* At most a bounded number per wake-up: the reader rate-limits too. */
	for (int i = 0; i < 64; i++) {
		int r = agentreader_recv(ch->ch_ctl, &out);

		if (r == -EAGAIN)
			return;
		if (r == -EBADMSG) {
			log_warn("node %s: agent reader sent a malformed message; channel reset",
				 ch->ch_name);
			agentchan_close(ch);
			return;
		}
		if (r < 0) {
			log_debug("node %s: agent channel closed", ch->ch_name);
			agentchan_close(ch);
			return;
		}
		if (r > 0 && ch->ch_repaired == 0)
			log_warn("node %s: agent reader sent %d out-of-range field(s); repaired, "
				 "counted as malformed input",
				 ch->ch_name, r);
		ch->ch_repaired += (unsigned)r;
		if (out.ao_kind == AR_STATS) {
			ch->ch_bad = out.ao_bad;
			ch->ch_overlong = out.ao_overlong;
			ch->ch_dropped = out.ao_dropped;
		}
		if (out.ao_kind == AR_STATS && out.ao_audit_dropped > 0)
			node_agent_audit_dropped(ch->ch_name, out.ao_audit_dropped);
		if (out.ao_kind == AR_STATS || r > 0)
			node_agent_hostile(ch->ch_name, ch->ch_bad + ch->ch_repaired,
					   ch->ch_overlong, ch->ch_dropped);
		if (out.ao_kind == AR_MSG)
			node_agent_message(ch->ch_name, &out.ao_msg);
	}
}

/* Follow the set of running nodes: open channels for new ones, drop gone. */
static void agentchan_sync(void)
{
	static struct node_agent_target targets[AGENTCHAN_MAX];
	size_t nt = node_agent_targets(targets, AGENTCHAN_MAX);
	int64_t now = agentchan_now_ms();

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
			ch->ch_fd = ch->ch_ctl = ch->ch_pid = -1;
			chans[n_chans++] = ch;
		}
		snprintf(ch->ch_service, sizeof(ch->ch_service), "%s", targets[t].nat_service);
		ch->ch_shutdown = targets[t].nat_shutdown;
		ch->ch_seen = true;
	}
	for (size_t i = 0; i < n_chans;) {
		struct chan *ch = chans[i];
		if (!ch->ch_seen) {
			agentchan_close(ch);
			free(ch);
			chans[i] = chans[--n_chans];
			continue;
		}
		if (ch->ch_fd < 0 && now >= ch->ch_next_try_ms)
			agentchan_connect(ch);
		else if (ch->ch_fd >= 0 && now >= ch->ch_next_report_ms)
			agentchan_ask_report(ch);
		/* Once per connection: a reconnected agent is asked again. */
		if (ch->ch_fd >= 0 && ch->ch_shutdown && !ch->ch_shutdown_sent) {
			agentchan_request(ch, "{\"type\":\"shutdown\"}\n");
			log_info("node %s: shutdown request sent to the agent", ch->ch_name);
		}
		ch->ch_shutdown_sent = ch->ch_fd >= 0 && ch->ch_shutdown;
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
		node_tick();
		for (size_t i = 0; i < n_chans; i++) {
			if (chans[i]->ch_ctl < 0)
				continue;
			pfd[np].fd = chans[i]->ch_ctl;
			pfd[np].events = POLLIN;
			who[np++] = chans[i];
		}
		if (poll(pfd, np, 250) <= 0)
			continue;
		for (size_t i = 0; i < np; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				agentchan_drain(who[i]);
	}
	for (size_t i = 0; i < n_chans; i++) {
		agentchan_close(chans[i]);
		free(chans[i]);
	}
	n_chans = 0;
}
