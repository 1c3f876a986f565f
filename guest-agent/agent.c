/*
 * isc-agent: the ISC guest agent. Speaks newline-delimited JSON to the dock
 * over the virtio-serial port org.isc.agent.0 (protocol: PROTOCOL.md).
 * Static, dependency-free, never executes anything; reads only /proc, /sys,
 * sshd's configuration, the audit rules file and netlink. This file is the process: options,
 * signals and the main loop; the channel, the requests and the report
 * schedule are its siblings (agent-int.h); the facts come from check_*.c
 * (facts.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent-int.h"

#define AGENT_RETRY_MS          1000
#define AGENT_HEARTBEAT_DEFAULT 5
#define AGENT_HEARTBEAT_MAX     3600
#define AGENT_REPORT_DEFAULT    30
#define AGENT_REPORT_MAX        86400

void agent_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* Best effort: stderr is the console; nothing to do if it fails. */
	if (write(STDERR_FILENO, "isc-agent: ", 11) < 0 || write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

int64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait up to ms without the channel: audit records that come meanwhile go
 * to their buffer (the dock is away). A SIGIO (the host side of the port
 * changed) ends the wait early; it is blocked everywhere else, so one that
 * came while the agent was busy ends the next wait at once.
 */
static void agent_idle(struct agent *a, int ms)
{
	int64_t end = agent_now_ms() + ms, left;
	sigset_t mask;

	sigprocmask(SIG_BLOCK, NULL, &mask);
	sigdelset(&mask, SIGIO);
	while ((left = end - agent_now_ms()) > 0) {
		struct pollfd p = { .fd = audit_fd(a), .events = POLLIN };
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L };

		if (ppoll(&p, 1, &ts, &mask) < 0) {
			if (errno == EINTR)
				return;
			agent_log("ppoll: %s", strerror(errno));
			/* Nothing left to wait with but time. */
			nanosleep(&ts, NULL);
			return;
		}
		if (p.revents & POLLIN)
			audit_read(a);
	}
}

/* One turn of the loop while the host is connected. */
static void agent_serve(struct agent *a)
{
	struct pollfd p[2] = { { .fd = a->ag_fd, .events = POLLIN },
			       { .fd = audit_fd(a), .events = POLLIN } };
	int64_t next = a->ag_next_beat_ms, wait;
	const char *unused;

	if (a->ag_report_interval > 0 && a->ag_next_report_ms < next)
		next = a->ag_next_report_ms;
	wait = next - agent_now_ms();
	if (a->ag_out_len > 0 || audit_peek(a, &unused) > 0)
		p[0].events |= POLLOUT;
	if (wait < 0)
		wait = 0;
	if (poll(p, 2, (int)wait) < 0) {
		if (errno != EINTR) {
			agent_log("poll: %s", strerror(errno));
			agent_idle(a, AGENT_RETRY_MS);
		}
		return;
	}
	if (p[0].revents & POLLNVAL) {
		agent_broken(a, EBADF);
		return;
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		agent_read(a);
	if (p[1].revents & POLLIN)
		audit_read(a);
	if (a->ag_connected && (p[0].revents & POLLOUT || p[1].revents & POLLIN))
		agent_flush(a);
	if (a->ag_connected)
		agent_timers(a);
	agent_report_pump(a);
}

static void agent_run(struct agent *a)
{
	for (;;) {
		if (a->ag_fd < 0) {
			if (agent_open(a) < 0) {
				agent_idle(a, AGENT_RETRY_MS);
				continue;
			}
			if (a->ag_kind == CHAN_UNIX)
				agent_connected(a);
		}
		if (!a->ag_connected) {
			if (agent_host_present(a))
				agent_connected(a);
			else
				agent_idle(a, AGENT_RETRY_MS);
			continue;
		}
		agent_serve(a);
	}
}

static void agent_usage(FILE *f)
{
	fprintf(f,
		"usage: isc-agent [--port DEVICE | --unix SOCKET] [--root DIR] [--heartbeat SECONDS]\n"
		"                 [--report-interval SECONDS] [--no-netlink | --netlink-replay DIR]\n"
		"                 [--init-pid PID]\n"
		"  --port DEVICE        virtio-serial device (default: the port named " AGENT_PORT_NAME
		")\n"
		"  --unix SOCKET        connect to a unix stream socket instead (tests)\n"
		"  --root DIR           prefix for /proc, /sys and /etc reads (fixture tests)\n"
		"  --heartbeat SECONDS  heartbeat interval, 1..%d (default %d)\n"
		"  --report-interval SECONDS\n"
		"                       periodic report, 0 (none) or 1..%d (default %d)\n"
		"  --no-netlink         do not query the kernel: audit, nft and addresses say \"disabled\"\n"
		"  --netlink-replay DIR take the kernel's netlink replies from files in DIR (tests)\n"
		"  --init-pid PID       signal PID instead of init (1) on a shutdown request (tests)\n",
		AGENT_HEARTBEAT_MAX, AGENT_HEARTBEAT_DEFAULT, AGENT_REPORT_MAX,
		AGENT_REPORT_DEFAULT);
}

/* A number of seconds in [min, max] for option name, or -1 (logged). */
static long agent_seconds(const char *name, const char *arg, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		agent_log("--%s: \"%s\" is not a number of seconds in %lu..%lu", name, arg, min,
			  max);
		return -1;
	}
	return (long)v;
}

/* --init-pid: a process id, or -1 (logged). */
static int agent_init_pid(const char *arg, pid_t *out)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(arg, &end, 10);
	if (errno || end == arg || *end || pid < 1 || pid > INT32_MAX) {
		agent_log("--init-pid: \"%s\" is not a process id", arg);
		return -1;
	}
	*out = (pid_t)pid;
	return 0;
}

/* The command line into a; -1 to go on, or the exit status (help, version,
 * a bad option). */
static int agent_options(struct agent *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "unix", required_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'r' },
		{ "heartbeat", required_argument, NULL, 'b' },
		{ "report-interval", required_argument, NULL, 'i' },
		{ "no-netlink", no_argument, NULL, 'n' },
		{ "netlink-replay", required_argument, NULL, 'R' },
		{ "init-pid", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		long v;

		switch (c) {
		case 'p':
			a->ag_port = optarg;
			break;
		case 'u':
			a->ag_unix = optarg;
			break;
		case 'r':
			a->ag_env.fe_root = optarg;
			break;
		case 'b':
			if ((v = agent_seconds("heartbeat", optarg, 1, AGENT_HEARTBEAT_MAX)) < 0)
				return 2;
			a->ag_heartbeat = (unsigned)v;
			break;
		case 'i':
			if ((v = agent_seconds("report-interval", optarg, 0, AGENT_REPORT_MAX)) < 0)
				return 2;
			a->ag_report_interval = (unsigned)v;
			break;
		case 'n':
			a->ag_env.fe_netlink = FACT_NL_DISABLED;
			break;
		case 'R':
			a->ag_env.fe_netlink = FACT_NL_REPLAY;
			a->ag_env.fe_replay = optarg;
			break;
		case 'I':
			if (agent_init_pid(optarg, &a->ag_init_pid) < 0)
				return 2;
			break;
		case 'h':
			agent_usage(stdout);
			return 0;
		case 'V':
			printf("isc-agent %s (protocol %d)\n", AGENT_VERSION, AGENT_PROTOCOL);
			return 0;
		default:
			agent_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (a->ag_port && a->ag_unix)) {
		agent_usage(stderr);
		return 2;
	}
	return -1;
}

static void agent_sigio(int sig)
{
	(void)sig; /* its only work: interrupt agent_idle()'s ppoll() */
}

static void agent_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN }, io = { .sa_handler = agent_sigio };
	sigset_t set;

	/* A vanished socket peer is an error return, not a fatal signal. */
	sigaction(SIGPIPE, &sa, NULL);
	/* SIGIO is only ever let in by agent_idle()'s ppoll(). */
	sigaction(SIGIO, &io, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	static struct agent a; /* large buffers: not on the stack */
	int rc;

	a.ag_env.fe_root = "";
	a.ag_heartbeat = AGENT_HEARTBEAT_DEFAULT;
	a.ag_report_interval = AGENT_REPORT_DEFAULT;
	a.ag_env.fe_netlink = FACT_NL_KERNEL;
	a.ag_fd = -1;
	a.ag_init_pid = 1;
	if ((rc = agent_options(&a, argc, argv)) >= 0)
		return rc;
	a.ag_kind = a.ag_unix ? CHAN_UNIX : CHAN_VIRTIO;
	agent_signals();

	agent_log("%s started (protocol %d, heartbeat %us, report every %us)", AGENT_VERSION,
		  AGENT_PROTOCOL, a.ag_heartbeat, a.ag_report_interval);
	audit_start(&a);
	agent_run(&a);
	return 1;
}
