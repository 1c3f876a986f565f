/*
 * netlink.c: one request to the kernel over netlink and a bounded walk of
 * its replies, hand-rolled (no libmnl): audit status, nf_tables and
 * interface addresses are the only queries. In tests the replies come
 * from files (--netlink-replay), so the same parser runs on fixtures.
 */
#include "facts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>

/*
 * One receive: the kernel sizes dump messages to at most 32 KiB (it caps
 * its idea of our buffer there), so a bigger reply is a protocol error.
 */
#define NL_BUF_SIZE 32768
/* Waiting for the kernel: a reply that does not come is an error, not a hang. */
#define NL_TIMEOUT_S 1
/* Reply messages to one query: a ruleset with more chains is cut short. */
#define NL_MSGS_MAX 65536

static uint32_t nl_buf[NL_BUF_SIZE / sizeof(uint32_t)];
static uint32_t nl_seq;

const void *nl_msg_data(const struct nlmsghdr *nlh)
{
	return (const char *)nlh + NLMSG_HDRLEN;
}

const void *nl_attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

size_t nl_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

int nl_attrs(const void *data, size_t len, const struct nlattr **tb, unsigned max)
{
	const char *p = data;

	for (unsigned i = 0; i <= max; i++)
		tb[i] = NULL;
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)(const void *)p;
		unsigned type = a->nla_type & NLA_TYPE_MASK;
		size_t step;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return -EBADMSG;
		if (type <= max)
			tb[type] = a;
		step = NLA_ALIGN(a->nla_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

int nl_attr_str(const struct nlattr *a, char *buf, size_t size)
{
	const char *s = nl_attr_data(a);
	size_t len = nl_attr_len(a);
	const char *nul = memchr(s, '\0', len);

	if (!nul || size == 0)
		return -EBADMSG;
	if ((size_t)(nul - s) >= size)
		return -E2BIG;
	memcpy(buf, s, (size_t)(nul - s) + 1);
	return 0;
}

int nl_attr_be32(const struct nlattr *a, uint32_t *val)
{
	const unsigned char *b = nl_attr_data(a);

	if (nl_attr_len(a) != 4)
		return -EBADMSG;
	*val = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

/* Outcome of a reply message or of a batch of them. */
enum nl_step { NL_MORE, NL_END };

/* One reply message: NL_MORE, or NL_END with *result set. */
static int nl_one(const struct nlmsghdr *nlh, nl_reply_fn fn, void *arg, bool *intr, int *result)
{
	int r;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		*intr = true;
	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
		return NL_MORE;
	case NLMSG_DONE:
		*result = *intr ? -EINTR : 0;
		return NL_END;
	case NLMSG_ERROR:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int))) {
			*result = -EBADMSG;
		} else {
			const struct nlmsgerr *err = nl_msg_data(nlh);

			/* An ack (0) ends a request that has no other reply. */
			*result = err->error > 0 ? -EBADMSG : err->error;
		}
		return NL_END;
	default:
		r = fn(nlh, arg);
		if (r == 0)
			return NL_MORE;
		*result = r < 0 ? r : 0;
		return NL_END;
	}
}

/*
 * Walk the messages in one receive. Returns NL_MORE (keep receiving),
 * NL_END with *result set, or a negative errno for a malformed batch.
 */
static int nl_walk(const char *p, size_t len, uint32_t seq, bool check_seq, nl_reply_fn fn,
		   void *arg, unsigned *count, bool *intr, int *result)
{
	while (len > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)p;
		size_t step;

		if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
			return -EBADMSG;
		if (++*count > NL_MSGS_MAX)
			return -E2BIG;
		/* A late answer to an earlier query is skipped. */
		if (!check_seq || nlh->nlmsg_seq == seq) {
			if (nl_one(nlh, fn, arg, intr, result) == NL_END)
				return NL_END;
		}
		step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return NL_MORE;
}

/* Replay: the file's bytes are everything the kernel would have sent. */
static int nl_replay(const struct fact_env *e, const char *name, nl_reply_fn fn, void *arg)
{
	char path[PATH_MAX];
	unsigned count = 0;
	bool intr = false;
	size_t len = 0;
	ssize_t n;
	int fd, r, result = 0;

	if (snprintf(path, sizeof(path), "%s/%s", e->fe_replay, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ECANCELED : -errno;
	while (len < sizeof(nl_buf)) {
		n = read(fd, (char *)nl_buf + len, sizeof(nl_buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = nl_walk((const char *)nl_buf, len, 0, false, fn, arg, &count, &intr, &result);
	if (r < 0)
		return r;
	/* No DONE, error or wanted message: as if the kernel fell silent. */
	return r == NL_END ? result : -ETIMEDOUT;
}

int nl_query(const struct fact_env *e, const char *name, int proto, struct nlmsghdr *req,
	     nl_reply_fn fn, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = NL_TIMEOUT_S };
	unsigned count = 0;
	bool intr = false;
	int fd, r, result = 0;

	if (e->fe_netlink == FACT_NL_DISABLED)
		return -ECANCELED;
	if (e->fe_netlink == FACT_NL_REPLAY)
		return nl_replay(e, name, fn, arg);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	req->nlmsg_seq = ++nl_seq;
	req->nlmsg_pid = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, nl_buf, sizeof(nl_buf), MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
			break;
		}
		if ((size_t)n > sizeof(nl_buf)) {
			r = -EMSGSIZE;
			break;
		}
		/* Only the kernel (port 0) answers; anything else is not ours. */
		if (fromlen != sizeof(from) || from.nl_pid != 0)
			continue;
		r = nl_walk((const char *)nl_buf, (size_t)n, req->nlmsg_seq, true, fn, arg, &count,
			    &intr, &result);
		if (r < 0)
			break;
		if (r == NL_END) {
			r = result;
			break;
		}
	}
	close(fd);
	return r;
}
