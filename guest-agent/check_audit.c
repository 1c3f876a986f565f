/*
 * check_audit.c: fact "audit", the kernel audit status (AUDIT_GET over
 * NETLINK_AUDIT): enabled, the pid of the collecting daemon, its backlog
 * and how many records were lost.
 */
#include "facts.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/audit.h>
#include <linux/netlink.h>

/* The first members of struct audit_status, there in every kernel. */
#define AUDIT_STATUS_MIN (8 * sizeof(uint32_t))

struct audit_reply {
	struct audit_status ar_status;
	bool ar_have;
};

static int audit_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct audit_reply *out = arg;
	size_t len = nlh->nlmsg_len - NLMSG_HDRLEN;

	if (nlh->nlmsg_type != AUDIT_GET)
		return 0;
	if (len < AUDIT_STATUS_MIN)
		return -EBADMSG;
	/* Older kernels send a shorter struct, newer ones a longer one. */
	memset(&out->ar_status, 0, sizeof(out->ar_status));
	memcpy(&out->ar_status, nl_msg_data(nlh),
	       len < sizeof(out->ar_status) ? len : sizeof(out->ar_status));
	out->ar_have = true;
	return 1;
}

void check_audit(struct jline *j, const struct fact_env *e)
{
	/*
	 * No NLM_F_ACK: some kernels send the status from a helper thread,
	 * after the ack; an error still comes back as NLMSG_ERROR.
	 */
	struct nlmsghdr req = { .nlmsg_len = NLMSG_HDRLEN,
				.nlmsg_type = AUDIT_GET,
				.nlmsg_flags = NLM_F_REQUEST };
	struct audit_reply out = { .ar_have = false };
	int r = nl_query(e, "audit", NETLINK_AUDIT, &req, audit_reply, &out);

	if (r == -EPROTONOSUPPORT) {
		jl_error(j, "%s", "no audit support in the kernel");
		return;
	}
	if (r < 0) {
		jl_error_errno(j, "AUDIT_GET", r);
		return;
	}
	if (!out.ar_have) {
		jl_error(j, "%s", "AUDIT_GET: no status in the reply");
		return;
	}
	jl_int(j, "enabled", out.ar_status.enabled);
	jl_int(j, "pid", out.ar_status.pid);
	jl_int(j, "backlog", out.ar_status.backlog);
	jl_int(j, "lost", out.ar_status.lost);
	jl_int(j, "backlog_limit", out.ar_status.backlog_limit);
	jl_int(j, "failure", out.ar_status.failure);
}
