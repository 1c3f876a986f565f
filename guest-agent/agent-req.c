/*
 * agent-req: the dock's requests and the agent's own messages. A request is
 * read from hostile input with a bounded scanner (depth, lengths; nothing
 * truncated silently) and dispatched through a table; the hello and the
 * heartbeat are built here (PROTOCOL.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "agent-int.h"

/* Nesting accepted in dock requests; requests are flat objects today. */
#define AGENT_JSON_DEPTH 8
/* Longest request type name we recognise; longer ones are unknown anyway. */
#define AGENT_TYPE_MAX 32
/*
 * systemd powers off on SIGRTMIN+4 as glibc counts: 34 + 4. musl's SIGRTMIN
 * is 35 (it keeps one more for itself), so SIGRTMIN + 4 here would be 39,
 * which systemd takes as "reboot". The number, then.
 */
#define AGENT_SIG_SYSTEMD_POWEROFF 38

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
	while (s->js_p < s->js_end &&
	       (*s->js_p == ' ' || *s->js_p == '\t' || *s->js_p == '\r' || *s->js_p == '\n'))
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
			case '"':
			case '\\':
			case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (s->js_end - s->js_p < 4)
					return -EINVAL;
				for (int i = 0; i < 4; i++)
					if (s->js_p[i] == '\0' ||
					    !strchr("0123456789abcdefABCDEF", s->js_p[i]))
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
				if ((r = json_string(&s, rq->rq_service, sizeof(rq->rq_service))) <
				    0)
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

/* --- messages ------------------------------------------------------------- */

static void agent_send_hello(struct agent *a)
{
	char boot_id[AGENT_VALUE_MAX], kernel[AGENT_VALUE_MAX], host[AGENT_VALUE_MAX];
	char e_boot[AGENT_VALUE_MAX], e_kernel[AGENT_VALUE_MAX], e_host[AGENT_VALUE_MAX];
	char line[AGENT_LINE_MAX], facts[256];
	struct utsname uts;
	bool have_uts = uname(&uts) == 0;
	int n;

	if (file_read_value(&a->ag_env, "/proc/sys/kernel/random/boot_id", boot_id,
			    sizeof(boot_id)) < 0)
		boot_id[0] = '\0';
	/* Same values as uname(2), read as files so --root fixtures cover them. */
	if (file_read_value(&a->ag_env, "/proc/sys/kernel/osrelease", kernel, sizeof(kernel)) < 0)
		snprintf(kernel, sizeof(kernel), "%s", have_uts ? uts.release : "");
	if (file_read_value(&a->ag_env, "/proc/sys/kernel/hostname", host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "%s", have_uts ? uts.nodename : "");
	json_escape(e_boot, sizeof(e_boot), boot_id);
	json_escape(e_kernel, sizeof(e_kernel), kernel);
	json_escape(e_host, sizeof(e_host), host);
	agent_report_fact_ids(facts, sizeof(facts));
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"hello\",\"protocol\":%d,\"agent\":\"%s\",\"boot_id\":\"%s\","
		     "\"kernel\":\"%s\",\"hostname\":\"%s\",\"facts\":[%s],\"audit\":%s}\n",
		     AGENT_PROTOCOL, AGENT_VERSION, e_boot, e_kernel, e_host, facts,
		     a->ag_audit.aa_forward ? "true" : "false");
	if (n > 0 && (size_t)n < sizeof(line))
		agent_send(a, line, (size_t)n);
}

void agent_send_heartbeat(struct agent *a)
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

/* --- dock requests ---------------------------------------------------------- */

/* A hello is always followed by audit_status and a report (PROTOCOL.md). */
void agent_req_hello(struct agent *a, const struct agent_req *rq)
{
	(void)rq;
	agent_send_hello(a);
	audit_send_status(a);
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

void agent_handle_line(struct agent *a, const char *line, size_t len)
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
