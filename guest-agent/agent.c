/*
 * isc-agent: the ISC guest agent. Speaks newline-delimited JSON to the dock
 * over the virtio-serial port org.isc.agent.0 (protocol: PROTOCOL.md).
 * Static, dependency-free, never executes anything; reads only /proc, /sys,
 * sshd's configuration and netlink. This file is the channel, the requests
 * and the report schedule; the facts come from check_*.c (facts.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "facts.h"

#define AGENT_VERSION   "0.3.0"
#define AGENT_PROTOCOL  2
#define AGENT_PORT_NAME "org.isc.agent.0"
/*
 * Output not yet taken by the host. A dock that stops reading must not make
 * the agent grow without bound: past this, new messages are dropped.
 */
#define AGENT_OUTQ_SIZE (4 * AGENT_LINE_MAX)
/* Nesting accepted in dock requests; requests are flat objects today. */
#define AGENT_JSON_DEPTH 8
/* Longest request type name we recognise; longer ones are unknown anyway. */
#define AGENT_TYPE_MAX  32
/* Longest service name a report request may give (comm uses 15 of them). */
#define AGENT_SERVICE_MAX 64
/* Small /proc and /sys values we report (boot id, release, hostname). */
#define AGENT_VALUE_MAX 256
#define AGENT_RETRY_MS  1000
#define AGENT_HEARTBEAT_DEFAULT 5
#define AGENT_HEARTBEAT_MAX     3600
#define AGENT_REPORT_DEFAULT    30
#define AGENT_REPORT_MAX        86400
/*
 * systemd powers off on SIGRTMIN+4 as glibc counts: 34 + 4. musl's SIGRTMIN
 * is 35 (it keeps one more for itself), so SIGRTMIN + 4 here would be 39,
 * which systemd takes as "reboot". The number, then.
 */
#define AGENT_SIG_SYSTEMD_POWEROFF 38

enum agent_chan_kind { CHAN_VIRTIO, CHAN_UNIX };

struct agent {
	/* options */
	const char *ag_port;          /* explicit device, or NULL to search */
	const char *ag_unix;          /* unix socket path instead of a port */
	struct fact_env ag_env;       /* root prefix, netlink mode, service */
	unsigned ag_heartbeat;        /* seconds */
	unsigned ag_report_interval;  /* seconds; 0: no periodic reports */
	pid_t ag_init_pid;            /* who powers off on a shutdown request: 1, or a test's */

	/* channel */
	enum agent_chan_kind ag_kind;
	int ag_fd;
	bool ag_connected;            /* the host side has the port open */
	bool ag_said_waiting;         /* "waiting for port" logged once */
	uint64_t ag_seq;              /* heartbeats sent by this process */
	uint64_t ag_dropped;          /* messages dropped on a full queue */
	int64_t ag_next_beat_ms;      /* monotonic deadline of next heartbeat */

	/* reports: at most one being sent, at most one more asked for */
	char ag_service[AGENT_SERVICE_MAX + 1];        /* last name the dock gave */
	char ag_report_service[AGENT_SERVICE_MAX + 1]; /* the one in use */
	uint64_t ag_report_seq;       /* reports started by this process */
	bool ag_report_active;
	bool ag_report_pending;
	size_t ag_report_next;        /* next fact of the active report */
	int64_t ag_next_report_ms;    /* monotonic deadline of the periodic report */
	struct jline ag_line;         /* the fact line being built */

	/* input: one partial line; in discard mode until the next newline */
	char ag_in[AGENT_LINE_MAX];
	size_t ag_in_len;
	bool ag_in_discard;

	/* output queue: whole lines, in order */
	char ag_out[AGENT_OUTQ_SIZE];
	size_t ag_out_len;
};

static void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void agent_log(const char *fmt, ...)
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

static int64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void agent_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	/* An interrupted sleep only shortens one retry interval. */
	nanosleep(&ts, NULL);
}

/* --- JSON out ------------------------------------------------------------ */

/*
 * Escape src as the inside of a JSON string into dst (NUL-terminated).
 * Bytes outside printable ASCII become '?', so the output is always valid
 * ASCII; an escape sequence is never cut in half by truncation.
 */
static void json_escape(char *dst, size_t size, const char *src)
{
	size_t o = 0;

	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		bool esc = c == '"' || c == '\\';

		if (o + (esc ? 2 : 1) >= size)
			break;
		if (esc)
			dst[o++] = '\\';
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

/* --- JSON in: just enough to read {"type":"..."} from hostile input ------ */

struct json_scan {
	const char *js_p;
	const char *js_end;
};

static void json_skip_ws(struct json_scan *s)
{
	while (s->js_p < s->js_end && (*s->js_p == ' ' || *s->js_p == '\t' || *s->js_p == '\r' || *s->js_p == '\n'))
		s->js_p++;
}

static bool json_eat(struct json_scan *s, char c)
{
	json_skip_ws(s);
	if (s->js_p < s->js_end && *s->js_p == c) {
		s->js_p++;
		return true;
	}
	return false;
}

/*
 * Parse a string at the cursor; if out is not NULL store it (escapes
 * decoded, non-ASCII as '?'). A value longer than out is consumed whole and
 * reported as -E2BIG, never silently truncated.
 */
static int json_string(struct json_scan *s, char *out, size_t size)
{
	bool too_long = false;
	size_t o = 0;

	if (!json_eat(s, '"'))
		return -EINVAL;
	while (s->js_p < s->js_end) {
		unsigned char c = (unsigned char)*s->js_p++;

		if (c == '"') {
			if (out)
				out[o] = '\0';
			return too_long ? -E2BIG : 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (s->js_p >= s->js_end)
				return -EINVAL;
			c = (unsigned char)*s->js_p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				if (s->js_end - s->js_p < 4)
					return -EINVAL;
				for (int i = 0; i < 4; i++)
					if (s->js_p[i] == '\0' || !strchr("0123456789abcdefABCDEF", s->js_p[i]))
						return -EINVAL;
				s->js_p += 4;
				c = '?';
				break;
			default:
				return -EINVAL;
			}
		} else if (c >= 0x7f) {
			c = '?';
		}
		if (!out)
			continue;
		if (o + 1 >= size)
			too_long = true;
		else
			out[o++] = (char)c;
	}
	return -EINVAL;
}

static int json_skip_value(struct json_scan *s, int depth);

static int json_skip_container(struct json_scan *s, int depth, char close, bool keys)
{
	int r;

	if (depth >= AGENT_JSON_DEPTH)
		return -ELOOP;
	if (json_eat(s, close))
		return 0;
	for (;;) {
		if (keys) {
			if ((r = json_string(s, NULL, 0)) < 0)
				return r;
			if (!json_eat(s, ':'))
				return -EINVAL;
		}
		if ((r = json_skip_value(s, depth + 1)) < 0)
			return r;
		if (json_eat(s, close))
			return 0;
		if (!json_eat(s, ','))
			return -EINVAL;
	}
}

static int json_skip_value(struct json_scan *s, int depth)
{
	static const char *const literals[] = { "true", "false", "null" };
	const char *start;

	json_skip_ws(s);
	if (s->js_p >= s->js_end)
		return -EINVAL;
	switch (*s->js_p) {
	case '"':
		return json_string(s, NULL, 0);
	case '{':
		s->js_p++;
		return json_skip_container(s, depth, '}', true);
	case '[':
		s->js_p++;
		return json_skip_container(s, depth, ']', false);
	default:
		break;
	}
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		size_t l = strlen(literals[i]);

		if ((size_t)(s->js_end - s->js_p) >= l && memcmp(s->js_p, literals[i], l) == 0) {
			s->js_p += l;
			return 0;
		}
	}
	start = s->js_p;
	while (s->js_p < s->js_end && *s->js_p != '\0' && strchr("0123456789+-.eE", *s->js_p))
		s->js_p++;
	return s->js_p > start ? 0 : -EINVAL;
}

struct agent_req {
	char rq_type[AGENT_TYPE_MAX];
	char rq_service[AGENT_SERVICE_MAX + 1];
	bool rq_has_service;
};

/*
 * A request is one JSON object with a string member "type" (exactly once)
 * and, for a report, an optional string member "service" (at most once,
 * at most AGENT_SERVICE_MAX bytes). Anything else is -EINVAL (the caller
 * ignores the line); other members are skipped.
 */
static int json_request(const char *line, size_t len, struct agent_req *rq)
{
	struct json_scan s = { .js_p = line, .js_end = line + len };
	char key[AGENT_TYPE_MAX];
	bool have_type = false;
	int r;

	rq->rq_has_service = false;
	if (!json_eat(&s, '{'))
		return -EINVAL;
	if (!json_eat(&s, '}')) {
		for (;;) {
			r = json_string(&s, key, sizeof(key));
			if (r < 0 && r != -E2BIG)
				return r;
			if (!json_eat(&s, ':'))
				return -EINVAL;
			if (r == 0 && strcmp(key, "type") == 0) {
				if (have_type)
					return -EINVAL;
				if ((r = json_string(&s, rq->rq_type, sizeof(rq->rq_type))) < 0)
					return r;
				have_type = true;
			} else if (r == 0 && strcmp(key, "service") == 0) {
				if (rq->rq_has_service)
					return -EINVAL;
				if ((r = json_string(&s, rq->rq_service, sizeof(rq->rq_service))) < 0)
					return r;
				rq->rq_has_service = true;
			} else if ((r = json_skip_value(&s, 1)) < 0) {
				return r;
			}
			if (json_eat(&s, '}'))
				break;
			if (!json_eat(&s, ','))
				return -EINVAL;
		}
	}
	json_skip_ws(&s);
	if (s.js_p != s.js_end || !have_type)
		return -EINVAL;
	return 0;
}

/* --- output queue --------------------------------------------------------- */

static void agent_broken(struct agent *a, int err);

/* Write as much of the queue as the channel takes now, without blocking. */
static void agent_flush(struct agent *a)
{
	while (a->ag_out_len > 0 && a->ag_connected) {
		ssize_t n = write(a->ag_fd, a->ag_out, a->ag_out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			agent_broken(a, errno);
			return;
		}
		memmove(a->ag_out, a->ag_out + n, a->ag_out_len - (size_t)n);
		a->ag_out_len -= (size_t)n;
	}
}

static void agent_send(struct agent *a, const char *line, size_t len)
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

/* --- messages ------------------------------------------------------------- */

static void agent_send_hello(struct agent *a)
{
	char boot_id[AGENT_VALUE_MAX], kernel[AGENT_VALUE_MAX], host[AGENT_VALUE_MAX];
	char e_boot[AGENT_VALUE_MAX], e_kernel[AGENT_VALUE_MAX], e_host[AGENT_VALUE_MAX];
	char line[AGENT_LINE_MAX];
	struct utsname uts;
	bool have_uts = uname(&uts) == 0;
	int n;

	if (file_read_value(&a->ag_env, "/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id)) < 0)
		boot_id[0] = '\0';
	/* Same values as uname(2), read as files so --root fixtures cover them. */
	if (file_read_value(&a->ag_env, "/proc/sys/kernel/osrelease", kernel, sizeof(kernel)) < 0)
		snprintf(kernel, sizeof(kernel), "%s", have_uts ? uts.release : "");
	if (file_read_value(&a->ag_env, "/proc/sys/kernel/hostname", host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "%s", have_uts ? uts.nodename : "");
	json_escape(e_boot, sizeof(e_boot), boot_id);
	json_escape(e_kernel, sizeof(e_kernel), kernel);
	json_escape(e_host, sizeof(e_host), host);
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"hello\",\"protocol\":%d,\"agent\":\"%s\",\"boot_id\":\"%s\","
		     "\"kernel\":\"%s\",\"hostname\":\"%s\"}\n",
		     AGENT_PROTOCOL, AGENT_VERSION, e_boot, e_kernel, e_host);
	if (n > 0 && (size_t)n < sizeof(line))
		agent_send(a, line, (size_t)n);
}

static void agent_send_heartbeat(struct agent *a)
{
	char buf[AGENT_VALUE_MAX], line[128];
	unsigned long long uptime = 0;
	int n;

	if (file_read_value(&a->ag_env, "/proc/uptime", buf, sizeof(buf)) > 0) {
		char *end;

		errno = 0;
		uptime = strtoull(buf, &end, 10);
		if (errno || end == buf)
			uptime = 0;
	}
	n = snprintf(line, sizeof(line), "{\"type\":\"heartbeat\",\"seq\":%llu,\"uptime\":%llu}\n",
		     (unsigned long long)++a->ag_seq, uptime);
	if (n > 0 && (size_t)n < sizeof(line))
		agent_send(a, line, (size_t)n);
}

/* --- reports -------------------------------------------------------------- */

/* The facts of a report, in the order they are sent: data, not code. */
static const struct agent_fact {
	const char *af_id;
	void (*af_check)(struct jline *j, const struct fact_env *e);
} agent_facts[] = {
	{ "listen", check_listen },
	{ "aslr", check_aslr },
	{ "net", check_net },
	{ "swap", check_swap },
	{ "mounts", check_mounts },
	{ "audit", check_audit },
	{ "nft", check_nft },
	{ "service", check_service },
	{ "sysctl", check_sysctl },
	{ "sshd", check_sshd },
};

#define AGENT_NFACTS (sizeof(agent_facts) / sizeof(agent_facts[0]))

static void agent_report_start(struct agent *a)
{
	a->ag_report_active = true;
	a->ag_report_next = 0;
	a->ag_report_seq++;
	/* The name in force when the report starts applies to all of it. */
	memcpy(a->ag_report_service, a->ag_service, sizeof(a->ag_report_service));
	if (a->ag_report_interval > 0)
		a->ag_next_report_ms = agent_now_ms() + (int64_t)a->ag_report_interval * 1000;
}

/* Ask for a report: now, or right after the one being sent (never more). */
static void agent_report_request(struct agent *a)
{
	if (a->ag_report_active)
		a->ag_report_pending = true;
	else
		agent_report_start(a);
}

/* Forget a report cut by a disconnect: the next hello starts a new one. */
static void agent_report_reset(struct agent *a)
{
	a->ag_report_active = false;
	a->ag_report_pending = false;
}

/*
 * Send the active report a line at a time, each one only when the queue
 * has room for a whole line: a report is never cut by a full queue, and a
 * dock that stops reading stalls it instead of growing the agent.
 */
static void agent_report_pump(struct agent *a)
{
	struct jline *j = &a->ag_line;
	char end[128];
	int n;

	while (a->ag_connected && a->ag_report_active && sizeof(a->ag_out) - a->ag_out_len >= AGENT_LINE_MAX) {
		if (a->ag_report_next < AGENT_NFACTS) {
			const struct agent_fact *f = &agent_facts[a->ag_report_next++];
			struct fact_env env = a->ag_env;

			env.fe_service = a->ag_report_service[0] ? a->ag_report_service : NULL;
			jl_init(j);
			jl_str(j, "type", "fact");
			jl_int(j, "report", (long long)a->ag_report_seq);
			jl_str(j, "id", f->af_id);
			f->af_check(j, &env);
			agent_send(a, j->jl_buf, jl_finish(j));
			continue;
		}
		n = snprintf(end, sizeof(end), "{\"type\":\"report_end\",\"report\":%llu,\"facts\":%zu}\n",
			     (unsigned long long)a->ag_report_seq, AGENT_NFACTS);
		agent_send(a, end, (size_t)n);
		a->ag_report_active = false;
		if (a->ag_report_pending) {
			a->ag_report_pending = false;
			agent_report_start(a);
		}
	}
}

/* --- dock requests ---------------------------------------------------------- */

/* A hello is always followed by a report (PROTOCOL.md). */
static void agent_req_hello(struct agent *a, const struct agent_req *rq)
{
	(void)rq;
	agent_send_hello(a);
	agent_report_request(a);
}

static void agent_req_report(struct agent *a, const struct agent_req *rq)
{
	/* The name sticks for later reports; "" forgets it. */
	if (rq->rq_has_service)
		memcpy(a->ag_service, rq->rq_service, sizeof(a->ag_service));
	agent_report_request(a);
}

/*
 * A graceful power-off: acknowledge, then ask init, the only process that
 * can stop the services in order. systemd (it made /run/systemd/system)
 * powers off on SIGRTMIN+4, busybox init on SIGUSR2. The agent never
 * executes a program, so no `poweroff` command; and it does not wait: a
 * dock that hears nothing falls back to ACPI, then to power off.
 */
static void agent_req_shutdown(struct agent *a, const struct agent_req *rq)
{
	static const char ack[] = "{\"type\":\"shutdown_ack\"}\n";
	bool systemd = file_exists(&a->ag_env, "/run/systemd/system");
	int sig = systemd ? AGENT_SIG_SYSTEMD_POWEROFF : SIGUSR2;

	(void)rq;
	agent_send(a, ack, sizeof(ack) - 1);
	agent_log("shutdown requested by the dock: signal %d (%s) to pid %ld", sig,
		  systemd ? "systemd: SIGRTMIN+4" : "busybox init: SIGUSR2", (long)a->ag_init_pid);
	if (kill(a->ag_init_pid, sig) < 0)
		agent_log("shutdown: kill %ld: %s", (long)a->ag_init_pid, strerror(errno));
}

/* Dock requests: data, not a switch. */
static const struct agent_request {
	const char *rq_type;
	void (*rq_handle)(struct agent *a, const struct agent_req *rq);
} agent_requests[] = {
	{ "hello", agent_req_hello },
	{ "report", agent_req_report },
	{ "shutdown", agent_req_shutdown },
};

static void agent_handle_line(struct agent *a, const char *line, size_t len)
{
	struct agent_req rq;

	if (json_request(line, len, &rq) < 0)
		return; /* not a request we understand: ignored by protocol */
	for (size_t i = 0; i < sizeof(agent_requests) / sizeof(agent_requests[0]); i++) {
		if (strcmp(rq.rq_type, agent_requests[i].rq_type) == 0) {
			agent_requests[i].rq_handle(a, &rq);
			return;
		}
	}
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
	a->ag_in_len = 0;
	a->ag_in_discard = false;
	agent_report_reset(a);
	/* A unix socket cannot be reconnected in place; a virtio port can. */
	if (a->ag_kind == CHAN_UNIX)
		agent_close(a);
}

/* An I/O error (port unplugged, socket reset): reopen from scratch. */
static void agent_broken(struct agent *a, int err)
{
	agent_disconnected(a, strerror(err));
	agent_close(a);
}

static void agent_connected(struct agent *a)
{
	agent_log("dock connected");
	a->ag_connected = true;
	a->ag_out_len = 0;
	a->ag_in_len = 0;
	a->ag_in_discard = false;
	agent_report_reset(a);
	/*
	 * Hello first on every (re)connect: a restarted dock learns who we are;
	 * then a report, so it learns the facts without asking.
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
	if (snprintf(dir, sizeof(dir), "%s/sys/class/virtio-ports", a->ag_env.fe_root) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(rel, sizeof(rel), "/sys/class/virtio-ports/%s/name", de->d_name) >= (int)sizeof(rel))
			continue;
		if (file_read_value(&a->ag_env, rel, name, sizeof(name)) < 0 || strcmp(name, AGENT_PORT_NAME) != 0)
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

static int agent_open(struct agent *a)
{
	int r = a->ag_kind == CHAN_UNIX ? agent_open_unix(a) : agent_open_port(a);

	if (r < 0) {
		if (!a->ag_said_waiting)
			agent_log("waiting for %s: %s", a->ag_unix ? a->ag_unix : a->ag_port ? a->ag_port : AGENT_PORT_NAME,
				  strerror(-r));
		a->ag_said_waiting = true;
		return r;
	}
	a->ag_said_waiting = false;
	return 0;
}

/* Is the host side of the virtio port open? Never blocks. */
static bool agent_host_present(const struct agent *a)
{
	struct pollfd p = { .fd = a->ag_fd, .events = POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return false;
	return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Read what is there; a closed or broken channel ends the connection. */
static void agent_read(struct agent *a)
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

/* Heartbeat and periodic report, when due. */
static void agent_timers(struct agent *a)
{
	int64_t now = agent_now_ms();

	if (now >= a->ag_next_beat_ms) {
		agent_send_heartbeat(a);
		a->ag_next_beat_ms += (int64_t)a->ag_heartbeat * 1000;
		/* After a long stall, resume the rhythm instead of bursting. */
		if (a->ag_next_beat_ms <= now)
			a->ag_next_beat_ms = now + (int64_t)a->ag_heartbeat * 1000;
	}
	if (a->ag_connected && a->ag_report_interval > 0 && now >= a->ag_next_report_ms) {
		agent_report_request(a);
		/* Also when it only became pending: ask once per interval. */
		a->ag_next_report_ms = now + (int64_t)a->ag_report_interval * 1000;
	}
}

/* One turn of the loop while the host is connected. */
static void agent_serve(struct agent *a)
{
	struct pollfd p = { .fd = a->ag_fd, .events = POLLIN };
	int64_t next = a->ag_next_beat_ms, wait;

	if (a->ag_report_interval > 0 && a->ag_next_report_ms < next)
		next = a->ag_next_report_ms;
	wait = next - agent_now_ms();
	if (a->ag_out_len > 0)
		p.events |= POLLOUT;
	if (wait < 0)
		wait = 0;
	if (poll(&p, 1, (int)wait) < 0) {
		if (errno != EINTR) {
			agent_log("poll: %s", strerror(errno));
			agent_sleep_ms(AGENT_RETRY_MS);
		}
		return;
	}
	if (p.revents & POLLNVAL) {
		agent_broken(a, EBADF);
		return;
	}
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		agent_read(a);
	if (a->ag_connected && (p.revents & POLLOUT))
		agent_flush(a);
	if (a->ag_connected)
		agent_timers(a);
	agent_report_pump(a);
}

/* Host side closed: sleep until SIGIO says it changed, re-checking every second. */
static void agent_wait_host(void)
{
	struct timespec ts = { .tv_sec = AGENT_RETRY_MS / 1000, .tv_nsec = 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigtimedwait(&set, NULL, &ts);
}

static void agent_run(struct agent *a)
{
	for (;;) {
		if (a->ag_fd < 0) {
			if (agent_open(a) < 0) {
				agent_sleep_ms(AGENT_RETRY_MS);
				continue;
			}
			if (a->ag_kind == CHAN_UNIX)
				agent_connected(a);
		}
		if (!a->ag_connected) {
			if (agent_host_present(a))
				agent_connected(a);
			else
				agent_wait_host();
			continue;
		}
		agent_serve(a);
	}
}

static void agent_usage(FILE *f)
{
	fprintf(f, "usage: isc-agent [--port DEVICE | --unix SOCKET] [--root DIR] [--heartbeat SECONDS]\n"
		   "                 [--report-interval SECONDS] [--no-netlink | --netlink-replay DIR]\n"
		   "                 [--init-pid PID]\n"
		   "  --port DEVICE        virtio-serial device (default: the port named " AGENT_PORT_NAME ")\n"
		   "  --unix SOCKET        connect to a unix stream socket instead (tests)\n"
		   "  --root DIR           prefix for /proc, /sys and /etc reads (fixture tests)\n"
		   "  --heartbeat SECONDS  heartbeat interval, 1..%d (default %d)\n"
		   "  --report-interval SECONDS\n"
		   "                       periodic report, 0 (none) or 1..%d (default %d)\n"
		   "  --no-netlink         do not query the kernel: audit, nft and addresses say \"disabled\"\n"
		   "  --netlink-replay DIR take the kernel's netlink replies from files in DIR (tests)\n"
		   "  --init-pid PID       signal PID instead of init (1) on a shutdown request (tests)\n",
		AGENT_HEARTBEAT_MAX, AGENT_HEARTBEAT_DEFAULT, AGENT_REPORT_MAX, AGENT_REPORT_DEFAULT);
}

/* A number of seconds in [min, max] for option name, or -1 (logged). */
static long agent_seconds(const char *name, const char *arg, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		agent_log("--%s: \"%s\" is not a number of seconds in %lu..%lu", name, arg, min, max);
		return -1;
	}
	return (long)v;
}

int main(int argc, char **argv)
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
	static struct agent a; /* large buffers: not on the stack */
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t set;
	int c;

	a.ag_env.fe_root = "";
	a.ag_heartbeat = AGENT_HEARTBEAT_DEFAULT;
	a.ag_report_interval = AGENT_REPORT_DEFAULT;
	a.ag_env.fe_netlink = FACT_NL_KERNEL;
	a.ag_fd = -1;
	a.ag_init_pid = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		long v;

		switch (c) {
		case 'p':
			a.ag_port = optarg;
			break;
		case 'u':
			a.ag_unix = optarg;
			break;
		case 'r':
			a.ag_env.fe_root = optarg;
			break;
		case 'b':
			if ((v = agent_seconds("heartbeat", optarg, 1, AGENT_HEARTBEAT_MAX)) < 0)
				return 2;
			a.ag_heartbeat = (unsigned)v;
			break;
		case 'i':
			if ((v = agent_seconds("report-interval", optarg, 0, AGENT_REPORT_MAX)) < 0)
				return 2;
			a.ag_report_interval = (unsigned)v;
			break;
		case 'n':
			a.ag_env.fe_netlink = FACT_NL_DISABLED;
			break;
		case 'R':
			a.ag_env.fe_netlink = FACT_NL_REPLAY;
			a.ag_env.fe_replay = optarg;
			break;
		case 'I': {
			char *end;
			long pid;

			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || pid < 1 || pid > INT32_MAX) {
				agent_log("--init-pid: \"%s\" is not a process id", optarg);
				return 2;
			}
			a.ag_init_pid = (pid_t)pid;
			break;
		}
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
	if (optind != argc || (a.ag_port && a.ag_unix)) {
		agent_usage(stderr);
		return 2;
	}
	a.ag_kind = a.ag_unix ? CHAN_UNIX : CHAN_VIRTIO;

	/* A vanished socket peer is an error return, not a fatal signal. */
	sigaction(SIGPIPE, &sa, NULL);
	/* SIGIO is only ever collected with sigtimedwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigprocmask(SIG_BLOCK, &set, NULL);

	agent_log("%s started (protocol %d, heartbeat %us, report every %us)", AGENT_VERSION, AGENT_PROTOCOL,
		  a.ag_heartbeat, a.ag_report_interval);
	agent_run(&a);
	return 1;
}
