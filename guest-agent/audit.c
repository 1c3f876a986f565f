/*
 * audit.c: forward the kernel's audit records to the dock (protocol 4).
 * Reads the audit multicast group (AUDIT_NLGRP_READLOG: read-only, never
 * the audit daemon, so the kernel never waits for the agent), keeps the
 * records as `audit` lines in a bounded buffer that is the channel's
 * second queue, loads the image's rules and enables audit at start, and
 * says how it goes in `audit_status`. The pure half is audit-rec.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/netlink.h>

#include "agent-int.h"

#if !defined(__x86_64__)
#error "audit.c: the rules' syscall numbers and architectures are x86_64's (b64) and i386's (b32)"
#endif

#define AUDIT_RULES_PATH "/etc/isc/audit.rules"
/* A valid rules file is at most this long (64 lines of 128 bytes). */
#define AUDIT_RULES_FILE_MAX (AUDIT_RULES_LINES * (AUDIT_RULES_LINE_MAX + 1))
/* The key of the agent's rules (key="isc" in the SYSCALL record). */
#define AUDIT_RULE_KEY "isc"
/*
 * The socket's receive buffer: room for a burst of a few hundred records
 * while the agent is busy; past it the kernel drops records for us and
 * recv() says ENOBUFS (counted as "overrun").
 */
#define AUDIT_RCVBUF (1024 * 1024)
/* One record: the kernel's MAX_AUDIT_MESSAGE_LENGTH is 8970 bytes. */
#define AUDIT_RECV_MAX 16384
/* Datagrams taken per turn of the loop, so heartbeats keep their time. */
#define AUDIT_READ_BATCH 256
/* A full buffer is said at most this often (the count is in audit_status). */
#define AUDIT_FULL_LOG_MS 60000

static uint32_t audit_rbuf[AUDIT_RECV_MAX / sizeof(uint32_t)];

/* --- the buffer --------------------------------------------------------------- */

static void audit_push(struct agent_audit *aa, const char *line, size_t n)
{
	static int64_t said_ms = -AUDIT_FULL_LOG_MS;

	if (aa->aa_count >= AUDIT_BUF_RECORDS || aa->aa_end - aa->aa_head + n > AUDIT_BUF_BYTES) {
		int64_t now = agent_now_ms();

		aa->aa_dropped++;
		if (now - said_ms >= AUDIT_FULL_LOG_MS) {
			agent_log(
				"audit: buffer full (%d records or %d KiB): records dropped, %llu so far",
				AUDIT_BUF_RECORDS, AUDIT_BUF_BYTES / 1024,
				(unsigned long long)aa->aa_dropped);
			said_ms = now;
		}
		return;
	}
	if (aa->aa_end + n > AUDIT_BUF_BYTES) {
		memmove(aa->aa_buf, aa->aa_buf + aa->aa_head, aa->aa_end - aa->aa_head);
		aa->aa_end -= aa->aa_head;
		aa->aa_head = 0;
	}
	memcpy(aa->aa_buf + aa->aa_end, line, n);
	aa->aa_end += n;
	aa->aa_count++;
}

size_t audit_peek(const struct agent *a, const char **p)
{
	const struct agent_audit *aa = &a->ag_audit;
	const char *nl;

	if (aa->aa_count == 0)
		return 0;
	*p = aa->aa_buf + aa->aa_head + aa->aa_sent;
	if (aa->aa_sent == 0)
		return aa->aa_end - aa->aa_head;
	nl = memchr(*p, '\n', aa->aa_end - aa->aa_head - aa->aa_sent);
	return nl ? (size_t)(nl - *p) + 1 : 0;
}

void audit_consumed(struct agent *a, size_t n)
{
	struct agent_audit *aa = &a->ag_audit;
	const char *p = aa->aa_buf + aa->aa_head + aa->aa_sent;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k;

		if (!nl) {
			aa->aa_sent += n;
			break;
		}
		k = (size_t)(nl - p) + 1;
		aa->aa_head += aa->aa_sent + k;
		aa->aa_sent = 0;
		aa->aa_count--;
		p += k;
		n -= k;
	}
	if (aa->aa_count == 0)
		aa->aa_head = aa->aa_end = aa->aa_sent = 0;
}

bool audit_mid(const struct agent *a)
{
	return a->ag_audit.aa_sent > 0;
}

void audit_disconnected(struct agent *a)
{
	/* The dock drops a line it got only part of: send it again, whole. */
	a->ag_audit.aa_sent = 0;
}

/* --- records ------------------------------------------------------------------ */

static void audit_record(struct agent_audit *aa, unsigned rtype, const char *text, size_t len)
{
	static bool said_bad;
	char line[AGENT_LINE_MAX];
	struct audit_rec r;
	size_t n;

	if (audit_rec_parse(text, len, &r) < 0) {
		aa->aa_dropped++;
		if (!said_bad)
			agent_log(
				"audit: a record of type %u without the audit(...) prefix dropped (counted)",
				rtype);
		said_bad = true;
		return;
	}
	n = audit_rec_line(line, sizeof(line), rtype, &r);
	if (n > 0)
		audit_push(aa, line, n);
}

/* The records in one datagram (or replay chunk); the bytes walked. */
static size_t audit_walk(struct agent_audit *aa, const char *p, size_t len)
{
	size_t done = 0;

	while (len - done >= NLMSG_HDRLEN) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)(p + done);

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - done)
			break;
		/* Records are the user (1100..) and kernel (1300..) types; not replies. */
		if (nlh->nlmsg_type >= AUDIT_FIRST_USER_MSG &&
		    nlh->nlmsg_type <= AUDIT_LAST_USER_MSG2)
			audit_record(aa, nlh->nlmsg_type, (const char *)nl_msg_data(nlh),
				     nlh->nlmsg_len - NLMSG_HDRLEN);
		done += NLMSG_ALIGN(nlh->nlmsg_len);
		if (done > len)
			done = len;
	}
	return done;
}

int audit_fd(const struct agent *a)
{
	return a->ag_audit.aa_fd;
}

void audit_read(struct agent *a)
{
	struct agent_audit *aa = &a->ag_audit;

	for (int i = 0; aa->aa_fd >= 0 && i < AUDIT_READ_BATCH; i++) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(aa->aa_fd, audit_rbuf, sizeof(audit_rbuf),
				     MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				aa->aa_overrun++;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && !aa->aa_said_error) {
				agent_log("audit: recv: %s", strerror(errno));
				aa->aa_said_error = true;
			}
			return;
		}
		/* Only the kernel (port 0) sends records. */
		if (fromlen != sizeof(from) || from.nl_pid != 0)
			continue;
		if ((size_t)n > sizeof(audit_rbuf)) {
			aa->aa_dropped++; /* longer than any record the kernel makes */
			continue;
		}
		audit_walk(aa, (const char *)audit_rbuf, (size_t)n);
	}
}

/* --replay: DIR/audit-records holds the records as the kernel sends them. */
static void audit_replay(struct agent *a)
{
	struct agent_audit *aa = &a->ag_audit;
	char path[PATH_MAX];
	size_t have = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/audit-records", a->ag_env.fe_replay) >=
	    (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	aa->aa_forward = true;
	for (;;) {
		ssize_t n = read(fd, (char *)audit_rbuf + have, sizeof(audit_rbuf) - have);
		size_t done;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		done = audit_walk(aa, (const char *)audit_rbuf, have);
		if (done == 0 && have == sizeof(audit_rbuf))
			break; /* a message longer than any record: the rest is garbage */
		memmove(audit_rbuf, (char *)audit_rbuf + done, have - done);
		have -= done;
	}
	close(fd);
	agent_log("audit: %u records replayed from %s", aa->aa_count, path);
}

/* --- the kernel's audit configuration ------------------------------------------ */

static int audit_ignore(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(void)arg;
	return 0;
}

struct audit_get {
	struct audit_status ag_status;
	bool ag_have;
};

static int audit_get_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct audit_get *out = arg;
	size_t len = nlh->nlmsg_len - NLMSG_HDRLEN;

	if (nlh->nlmsg_type != AUDIT_GET)
		return 0;
	/* enabled, failure, pid, rate_limit, backlog_limit, lost: every kernel has them. */
	if (len < 6 * sizeof(uint32_t))
		return -EBADMSG;
	memset(&out->ag_status, 0, sizeof(out->ag_status));
	memcpy(&out->ag_status, nl_msg_data(nlh),
	       len < sizeof(out->ag_status) ? len : sizeof(out->ag_status));
	out->ag_have = true;
	return 1;
}

/* AUDIT_GET: 0 with *st filled, or a negative errno. */
static int audit_get(const struct fact_env *e, struct audit_status *st)
{
	/* No NLM_F_ACK: the status may come after the ack (check_audit.c). */
	struct nlmsghdr req = { .nlmsg_len = NLMSG_HDRLEN,
				.nlmsg_type = AUDIT_GET,
				.nlmsg_flags = NLM_F_REQUEST };
	struct audit_get out = { .ag_have = false };
	int r = nl_query(e, "audit", NETLINK_AUDIT, &req, audit_get_reply, &out);

	if (r < 0)
		return r;
	if (!out.ag_have)
		return -ENODATA;
	*st = out.ag_status;
	return 0;
}

static int audit_count_reply(const struct nlmsghdr *nlh, void *arg)
{
	if (nlh->nlmsg_type == AUDIT_LIST_RULES)
		(*(long *)arg)++;
	return 0;
}

/* The rules in the kernel (an AUDIT_LIST_RULES dump), or a negative errno. */
static long audit_count_rules(const struct fact_env *e)
{
	/* No NLM_F_ACK: the list comes from a kernel thread, after an ack. */
	struct nlmsghdr req = { .nlmsg_len = NLMSG_HDRLEN,
				.nlmsg_type = AUDIT_LIST_RULES,
				.nlmsg_flags = NLM_F_REQUEST };
	long n = 0;
	int r = nl_query(e, "audit-rules", NETLINK_AUDIT, &req, audit_count_reply, &n);

	return r < 0 ? r : n;
}

/* One rule "-a always,exit -F arch=ARCH -S ... -k isc"; 0 or a negative errno. */
static int audit_add_rule(const struct fact_env *e, const struct audit_rules *rs, bool b64)
{
	static uint32_t
		req[(NLMSG_HDRLEN + sizeof(struct audit_rule_data) + 64) / sizeof(uint32_t)];
	struct nlmsghdr *nlh = (struct nlmsghdr *)req;
	struct audit_rule_data *rd = (struct audit_rule_data *)((char *)req + NLMSG_HDRLEN);
	size_t keylen = sizeof(AUDIT_RULE_KEY) - 1;

	memset(req, 0, sizeof(req));
	rd->flags = AUDIT_FILTER_EXIT;
	rd->action = AUDIT_ALWAYS;
	rd->field_count = 2;
	rd->fields[0] = AUDIT_ARCH;
	rd->values[0] = b64 ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_I386;
	rd->fieldflags[0] = AUDIT_EQUAL;
	rd->fields[1] = AUDIT_FILTERKEY;
	rd->values[1] = (uint32_t)keylen;
	rd->fieldflags[1] = AUDIT_EQUAL;
	rd->buflen = (uint32_t)keylen;
	memcpy(rd->buf, AUDIT_RULE_KEY, keylen);
	for (unsigned i = 0; i < rs->ars_n; i++) {
		unsigned nr = b64 ? rs->ars_b64[i] : rs->ars_b32[i];

		rd->mask[nr / 32] |= 1U << (nr % 32);
	}
	nlh->nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof(*rd) + keylen);
	nlh->nlmsg_type = AUDIT_ADD_RULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	return nl_query(e, "audit-add-rule", NETLINK_AUDIT, nlh, audit_ignore, NULL);
}

/* AUDIT_SET enabled=1, unless it is on (or locked) already. */
static void audit_enable(const struct fact_env *e)
{
	struct nlmsghdr *nlh;
	struct audit_status *st;
	static uint32_t req[(NLMSG_HDRLEN + sizeof(struct audit_status)) / sizeof(uint32_t) + 1];
	struct audit_status now;
	int r;

	if ((r = audit_get(e, &now)) < 0) {
		agent_log("audit: AUDIT_GET: %s", strerror(-r));
		return;
	}
	if (now.enabled != 0)
		return;
	memset(req, 0, sizeof(req));
	nlh = (struct nlmsghdr *)req;
	st = (struct audit_status *)((char *)req + NLMSG_HDRLEN);
	st->mask = AUDIT_STATUS_ENABLED;
	st->enabled = 1;
	nlh->nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof(*st));
	nlh->nlmsg_type = AUDIT_SET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if ((r = nl_query(e, "audit-set", NETLINK_AUDIT, nlh, audit_ignore, NULL)) < 0)
		agent_log("audit: AUDIT_SET enabled=1: %s", strerror(-r));
}

/* --- start ------------------------------------------------------------------------ */

/* The image's rules, or the built-in ones if it has none (or a broken file). */
static void audit_rules_load(const struct fact_env *e, struct audit_rules *rs)
{
	static char text[AUDIT_RULES_FILE_MAX + 1];
	char err[160];
	size_t len = 0;
	int fd = file_open(e, AUDIT_RULES_PATH);

	if (fd < 0) {
		if (fd != -ENOENT)
			agent_log("audit: %s: %s; built-in rules", AUDIT_RULES_PATH, strerror(-fd));
		audit_rules_default(rs);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, sizeof(text) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(text))
			break;
	}
	close(fd);
	if (len == sizeof(text))
		snprintf(err, sizeof(err), "over %d bytes", AUDIT_RULES_FILE_MAX);
	if (len == sizeof(text) || audit_rules_parse(text, len, rs, err, sizeof(err)) < 0) {
		agent_log("audit: %s: %s; built-in rules instead", AUDIT_RULES_PATH, err);
		audit_rules_default(rs);
	}
}

/* The multicast socket; -errno if the kernel or the agent's rights say no. */
static int audit_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = 1U << (AUDIT_NLGRP_READLOG - 1) };
	int size = AUDIT_RCVBUF, fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
	if (fd < 0)
		return -errno;
	/* FORCE passes rmem_max (CAP_NET_ADMIN); without it, what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Joining the group needs CAP_AUDIT_READ; it never makes us the daemon. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void audit_start(struct agent *a)
{
	struct agent_audit *aa = &a->ag_audit;
	struct audit_rules rs;
	char names[256];
	int r, r32;

	aa->aa_fd = -1;
	audit_rules_load(&a->ag_env, &rs);
	audit_rules_names(&rs, names, sizeof(names));
	if (a->ag_env.fe_netlink == FACT_NL_REPLAY) {
		agent_log("audit: rules: %s (not loaded: netlink replay)",
			  rs.ars_n ? names : "none");
		audit_replay(a);
		return;
	}
	if (a->ag_env.fe_netlink != FACT_NL_KERNEL)
		return;
	if ((r = audit_open()) < 0) {
		agent_log("audit: not forwarding: %s",
			  r == -EPROTONOSUPPORT ? "no audit support in the kernel" : strerror(-r));
		return;
	}
	aa->aa_fd = r;
	aa->aa_forward = true;
	/* After the join, so the kernel's CONFIG_CHANGE records of these are read too. */
	r = r32 = 0;
	if (rs.ars_n > 0 && (r = audit_add_rule(&a->ag_env, &rs, true)) == -EEXIST)
		r = 0; /* a restarted agent finds its rules */
	if (rs.ars_n > 0 && (r32 = audit_add_rule(&a->ag_env, &rs, false)) == -EEXIST)
		r32 = 0;
	if (r < 0 || r32 < 0)
		agent_log("audit: AUDIT_ADD_RULE: %s", strerror(r < 0 ? -r : -r32));
	audit_enable(&a->ag_env);
	agent_log("audit: forwarding records; rules: %s (b64, b32)", rs.ars_n ? names : "none");
}

/* --- audit_status ------------------------------------------------------------------- */

void audit_send_status(struct agent *a)
{
	const struct agent_audit *aa = &a->ag_audit;
	struct audit_status st;
	long long enabled = -1, lost = -1;
	long rules = audit_count_rules(&a->ag_env);
	char line[256];
	int n;

	if (audit_get(&a->ag_env, &st) == 0) {
		enabled = st.enabled;
		lost = st.lost;
	}
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"audit_status\",\"dropped\":%llu,\"kernel_lost\":%lld,"
		     "\"buffered\":%u,\"enabled\":%lld,\"rules\":%ld,\"overrun\":%llu}\n",
		     (unsigned long long)aa->aa_dropped, lost, aa->aa_count, enabled,
		     rules < 0 ? -1 : rules, (unsigned long long)aa->aa_overrun);
	if (n > 0 && (size_t)n < sizeof(line))
		agent_send(a, line, (size_t)n);
}
