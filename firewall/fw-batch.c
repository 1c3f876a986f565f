/* fw-batch: one nf_tables batch being built in memory: its buffer, its
 * messages (each with what it does, for the error the kernel may send back)
 * and the first build failure, kept and reported at send. Also the table's
 * own messages. */
#include "fw-int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

void fw_batch_fail(struct fw_batch *b, int errnum)
{
	if (b->fb_errno == 0)
		b->fb_errno = errnum;
}

/* libnftnl setters return < 0 only when they cannot allocate. */
void fw_oom_if(struct fw_batch *b, int rc)
{
	if (rc < 0)
		fw_batch_fail(b, ENOMEM);
}

static char *fw_batch_room(struct fw_batch *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->fb_errno != 0)
		return NULL;
	if (b->fb_cap - b->fb_len >= need)
		return b->fb_buf + b->fb_len;
	for (cap = b->fb_cap != 0 ? b->fb_cap : 16384; cap - b->fb_len < need; cap *= 2)
		;
	p = realloc(b->fb_buf, cap);
	if (p == NULL) {
		fw_batch_fail(b, ENOMEM);
		return NULL;
	}
	memset(p + b->fb_cap, 0, cap - b->fb_cap);
	b->fb_buf = p;
	b->fb_cap = cap;
	return p + b->fb_len;
}

uint32_t fw_seq(uint32_t index)
{
	return FW_SEQ_BEGIN + 1 + index;
}

/* Start message number fb_nmsgs, with `room` bytes reserved for it. Only
 * the batch's last message asks for an ack (fw_batch_send sets it): the
 * kernel reports every failing message anyway, and one ack per message
 * would overflow the socket's receive buffer on a big batch. */
struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags, size_t room,
			      const char *fmt, ...)
{
	char *p = fw_batch_room(b, room);
	struct fw_msg *m;
	va_list ap;

	if (p == NULL)
		return NULL;
	if (b->fb_nmsgs == b->fb_msgs_cap) {
		uint32_t cap = b->fb_msgs_cap != 0 ? b->fb_msgs_cap * 2 : 16;

		m = realloc(b->fb_msgs, cap * sizeof(*m));
		if (m == NULL) {
			fw_batch_fail(b, ENOMEM);
			return NULL;
		}
		b->fb_msgs = m;
		b->fb_msgs_cap = cap;
	}
	m = &b->fb_msgs[b->fb_nmsgs];
	memset(m, 0, sizeof(*m));
	va_start(ap, fmt);
	vsnprintf(m->fm_what, FW_WHAT_MAX, fmt, ap);
	va_end(ap);
	b->fb_last = b->fb_len;
	return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags, fw_seq(b->fb_nmsgs++));
}

/* Tell the error path what the last message begun was for. */
void fw_msg_kind(struct fw_batch *b, enum fw_kind kind, const struct fw_info *fi,
		 const struct fw_publish *p)
{
	struct fw_msg *m;

	if (b->fb_errno != 0 || b->fb_nmsgs == 0)
		return;
	m = &b->fb_msgs[b->fb_nmsgs - 1];
	m->fm_kind = kind;
	m->fm_node = fi;
	if (p != NULL)
		m->fm_pub = *p;
}

void fw_msg_end(struct fw_batch *b, struct nlmsghdr *nlh, size_t room)
{
	/* Past the reserved room libnftnl has already written over the heap:
	 * a bug in the bounds above, and nothing is safe to do but stop. */
	if (nlh->nlmsg_len > room)
		abort();
	b->fb_len += MNL_ALIGN(nlh->nlmsg_len);
}

void fw_batch_free(struct fw_batch *b)
{
	free(b->fb_buf);
	free(b->fb_msgs);
	memset(b, 0, sizeof(*b));
}

void fw_batch_begin(struct fw_batch *b)
{
	char *p = fw_batch_room(b, FW_MSG_ROOM);

	if (p != NULL)
		b->fb_len += MNL_ALIGN(nftnl_batch_begin(p, FW_SEQ_BEGIN)->nlmsg_len);
}

void fw_batch_end(struct fw_batch *b)
{
	char *p = fw_batch_room(b, FW_MSG_ROOM);

	if (p == NULL)
		return;
	if (b->fb_nmsgs > 0)
		((struct nlmsghdr *)(void *)(b->fb_buf + b->fb_last))->nlmsg_flags |= NLM_F_ACK;
	b->fb_len += MNL_ALIGN(nftnl_batch_end(p, fw_seq(b->fb_nmsgs))->nlmsg_len);
}

/* ---- objects ------------------------------------------------------------ */

void fw_table_msg(struct fw_batch *b, uint16_t type, uint16_t flags, bool comment, const char *what)
{
	struct nftnl_udata_buf *ud = NULL;
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (t == NULL) {
		fw_batch_fail(b, ENOMEM);
		return;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	fw_oom_if(b, nftnl_table_set_str(t, NFTNL_TABLE_NAME, FW_TABLE));
	if (comment) {
		ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
		if (ud == NULL || !nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, FW_COMMENT))
			fw_batch_fail(b, ENOMEM);
		else
			fw_oom_if(b,
				  nftnl_table_set_data(t, NFTNL_TABLE_USERDATA,
						       nftnl_udata_buf_data(ud),
						       nftnl_udata_buf_len(ud)));
	}
	nlh = fw_msg_begin(b, type, flags, FW_MSG_ROOM, "%s", what);
	if (nlh != NULL) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		fw_msg_end(b, nlh, FW_MSG_ROOM);
	}
	if (ud != NULL)
		nftnl_udata_buf_free(ud);
	nftnl_table_free(t);
}
