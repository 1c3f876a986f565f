/* fw: builds and sends the nf_tables batches behind fw.h. Each call checks
 * all of its input, then builds one batch in memory (the first build failure
 * is kept and reported at send), then sends it on a fresh netlink socket and
 * reads one ack per message: the first error, in message order, is the one
 * reported, named by what that message does. */
#include "fw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* nft's own datatype ids and byte-order tags (nftables' datatype.h and
 * expression.h). Not kernel ABI, but `nft list` reads them back to print the
 * set keys, so we store what nft itself stores for `type ifname` and
 * `type ipv4_addr`. */
#define FW_TYPE_IPADDR 7
#define FW_TYPE_IFNAME 41
#define FW_BYTEORDER_HOST 1
#define FW_BYTEORDER_BIG 2

#define FW_SET_ID_BRIDGES 1        /* refer to a set created in the same batch */
#define FW_SET_ID_SUBNETS 2

#define FW_COMMENT "ISC dock policy, owned by dockd: do not edit, fw_init rebuilds it"

/* Nodes per element message: the element list is one netlink nest whose
 * length is a u16, so a message must stay well under 64 KiB. */
#define FW_CHUNK_NODES 64
/* Bytes reserved before building a message. libnftnl writes attributes
 * without bounds checks, so these are generous upper bounds: a rule here is
 * under 400 bytes, an element under 40. */
#define FW_MSG_ROOM 2048
#define FW_ELEM_ROOM 64
#define FW_ACK_TIMEOUT_S 10        /* a dock never hangs on a silent kernel */
#define FW_SEQ_BEGIN 1u            /* batch begin; message i has FW_SEQ_BEGIN + 1 + i */
#define FW_WHAT_MAX 112
#define FW_SAFE_MAX 48             /* how much of a bad input a message quotes */

/* A checked node in the form the messages need. */
struct fw_elem {
	const char *fe_name;
	char fe_bridge[IFNAMSIZ];  /* zero-padded: the set key is all 16 bytes */
	char fe_cidr[20];
	uint32_t fe_first;         /* host order: the network address */
	uint32_t fe_end;           /* host order: one past the last address */
};

struct fw_msg {
	char fm_what[FW_WHAT_MAX]; /* what the message does, for the error */
	bool fm_acked;
};

/* One batch being built. */
struct fw_batch {
	char *fb_buf;
	size_t fb_len;
	size_t fb_cap;
	struct fw_msg *fb_msgs;
	uint32_t fb_nmsgs;
	uint32_t fb_msgs_cap;
	int fb_errno;              /* first build failure, reported at send */
};

enum fw_set { FW_BRIDGES, FW_SUBNETS };

/* ---- input ------------------------------------------------------------ */

/* A copy of untrusted text fit to quote in a one-line message. */
static const char *fw_safe(const char *s, char *out, size_t outsz)
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && n + 4 < outsz && i < FW_SAFE_MAX; i++)
		out[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	if (s[i] != '\0' && n + 4 <= outsz) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static bool fw_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool fw_is_bridge_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* `prefix` starts the message ("node web1: bridge"). */
static int fw_check_word(const char *prefix, const char *s, size_t max, bool (*ok)(char),
			 const char *allowed, struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8];
	size_t i;

	if (s == NULL)
		return err_set(err, 400, EINVAL, "%s is missing", prefix);
	if (s[0] == '\0')
		return err_set(err, 400, EINVAL, "%s is empty", prefix);
	for (i = 0; s[i] != '\0'; i++) {
		if (i == max)
			return err_set(err, 400, ENAMETOOLONG, "%s \"%s\" is longer than %zu characters",
				       prefix, fw_safe(s, q, sizeof(q)), max);
		if (!ok(s[i]))
			return err_set(err, 400, EINVAL, "%s \"%s\" may only contain %s", prefix,
				       fw_safe(s, q, sizeof(q)), allowed);
	}
	return 0;
}

static int fw_parse_prefix(const char *s, unsigned *prefix)
{
	unsigned v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9')  /* no sign, no space, no leading zero */
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 2 || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*prefix = v;
	return 0;
}

/* "a.b.c.d/p" into fe_first/fe_end; `who` is "node web1". */
static int fw_parse_cidr(const char *who, const char *cidr, struct fw_elem *e,
			 struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8], addr[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	const char *slash;
	struct in_addr a;
	unsigned prefix;
	uint32_t host, mask;

	if (cidr == NULL)
		return err_set(err, 400, EINVAL, "%s: subnet is missing", who);
	slash = strchr(cidr, '/');
	if (slash == NULL)
		return err_set(err, 400, EINVAL, "%s: subnet \"%s\" has no /prefix", who,
			       fw_safe(cidr, q, sizeof(q)));
	if ((size_t)(slash - cidr) >= sizeof(addr))
		return err_set(err, 400, EINVAL, "%s: subnet \"%s\" is not an IPv4 CIDR", who,
			       fw_safe(cidr, q, sizeof(q)));
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	/* inet_pton takes dotted quads only: no octal, hex or short forms. */
	if (inet_pton(AF_INET, addr, &a) != 1)
		return err_set(err, 400, EINVAL, "%s: subnet \"%s\" is not an IPv4 CIDR", who,
			       fw_safe(cidr, q, sizeof(q)));
	if (fw_parse_prefix(slash + 1, &prefix) < 0 || prefix < FW_PREFIX_MIN ||
	    prefix > FW_PREFIX_MAX)
		return err_set(err, 400, EINVAL, "%s: subnet \"%s\" needs a prefix of /%d to /%d",
			       who, fw_safe(cidr, q, sizeof(q)), FW_PREFIX_MIN, FW_PREFIX_MAX);
	host = ntohl(a.s_addr);
	mask = ~0u << (32 - prefix);
	if ((host & ~mask) != 0) {
		a.s_addr = htonl(host & mask);
		inet_ntop(AF_INET, &a, net, sizeof(net));
		return err_set(err, 400, EINVAL,
			       "%s: subnet \"%s\" has host bits set (the network is %s/%u)", who,
			       fw_safe(cidr, q, sizeof(q)), net, prefix);
	}
	/* Nobody's subnet: "this network", loopback, multicast and reserved.
	 * Refusing 224/3 also keeps every interval's end below 2^32, so each
	 * subnet is exactly a start and an end element in node_subnets. */
	if ((host >> 24) == 0 || (host >> 24) == 127 || (host >> 24) >= 224)
		return err_set(err, 400, EINVAL,
			       "%s: subnet \"%s\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3", who,
			       fw_safe(cidr, q, sizeof(q)));
	e->fe_first = host;
	e->fe_end = host + (1u << (32 - prefix));
	snprintf(e->fe_cidr, sizeof(e->fe_cidr), "%s/%u", addr, prefix);
	return 0;
}

static int fw_node_parse(const struct fw_node *node, struct fw_elem *e, struct dock_err *err)
{
	char who[FW_NAME_MAX + 8], what[FW_NAME_MAX + 16];
	int r;

	if (node == NULL)
		return err_set(err, 400, EINVAL, "firewall: node is missing");
	r = fw_check_word("firewall: node name", node->fn_name, FW_NAME_MAX, fw_is_name_char,
			  "A-Z, a-z, 0-9, '.', '_' and '-'", err);
	if (r < 0)
		return r;
	snprintf(who, sizeof(who), "node %s", node->fn_name);
	snprintf(what, sizeof(what), "%s: bridge", who);
	r = fw_check_word(what, node->fn_bridge, FW_BRIDGE_MAX, fw_is_bridge_char,
			  "a-z, 0-9 and '-'", err);
	if (r < 0)
		return r;
	memset(e, 0, sizeof(*e));
	e->fe_name = node->fn_name;
	memcpy(e->fe_bridge, node->fn_bridge, strlen(node->fn_bridge));
	return fw_parse_cidr(who, node->fn_subnet_cidr, e, err);
}

int fw_node_check(const struct fw_node *node, struct dock_err *err)
{
	struct fw_elem e;

	return fw_node_parse(node, &e, err);
}

/* ---- batch building --------------------------------------------------- */

static void fw_batch_fail(struct fw_batch *b, int errnum)
{
	if (b->fb_errno == 0)
		b->fb_errno = errnum;
}

/* libnftnl setters return < 0 only when they cannot allocate. */
static void fw_oom_if(struct fw_batch *b, int rc)
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

static uint32_t fw_seq(uint32_t index)
{
	return FW_SEQ_BEGIN + 1 + index;
}

/* Start message number fb_nmsgs, with `room` bytes reserved for it. */
static struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags,
				     size_t room, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags,
				     size_t room, const char *fmt, ...)
{
	char *p = fw_batch_room(b, room);
	va_list ap;

	if (p == NULL)
		return NULL;
	if (b->fb_nmsgs == b->fb_msgs_cap) {
		uint32_t cap = b->fb_msgs_cap != 0 ? b->fb_msgs_cap * 2 : 16;
		struct fw_msg *m = realloc(b->fb_msgs, cap * sizeof(*m));

		if (m == NULL) {
			fw_batch_fail(b, ENOMEM);
			return NULL;
		}
		b->fb_msgs = m;
		b->fb_msgs_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->fb_msgs[b->fb_nmsgs].fm_what, FW_WHAT_MAX, fmt, ap);
	va_end(ap);
	b->fb_msgs[b->fb_nmsgs].fm_acked = false;
	return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags | NLM_F_ACK,
				     fw_seq(b->fb_nmsgs++));
}

static void fw_msg_end(struct fw_batch *b, struct nlmsghdr *nlh, size_t room)
{
	/* Past the reserved room libnftnl has already written over the heap:
	 * a bug in the bounds above, and nothing is safe to do but stop. */
	if (nlh->nlmsg_len > room)
		abort();
	b->fb_len += MNL_ALIGN(nlh->nlmsg_len);
}

static void fw_batch_free(struct fw_batch *b)
{
	free(b->fb_buf);
	free(b->fb_msgs);
	memset(b, 0, sizeof(*b));
}

static void fw_batch_begin(struct fw_batch *b)
{
	char *p = fw_batch_room(b, FW_MSG_ROOM);

	if (p != NULL)
		b->fb_len += MNL_ALIGN(nftnl_batch_begin(p, FW_SEQ_BEGIN)->nlmsg_len);
}

static void fw_batch_end(struct fw_batch *b)
{
	char *p = fw_batch_room(b, FW_MSG_ROOM);

	if (p != NULL)
		b->fb_len += MNL_ALIGN(nftnl_batch_end(p, fw_seq(b->fb_nmsgs))->nlmsg_len);
}

/* ---- objects ---------------------------------------------------------- */

static void fw_table_msg(struct fw_batch *b, uint16_t type, uint16_t flags, bool comment,
			 const char *what)
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
			fw_oom_if(b, nftnl_table_set_data(t, NFTNL_TABLE_USERDATA,
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

static const struct fw_set_def {
	const char *sd_name;
	uint32_t sd_id;
	uint32_t sd_key_type;
	uint32_t sd_key_len;
	uint32_t sd_flags;
	uint32_t sd_byteorder;
} fw_sets[] = {
	[FW_BRIDGES] = { FW_SET_BRIDGES, FW_SET_ID_BRIDGES, FW_TYPE_IFNAME, IFNAMSIZ, 0,
			 FW_BYTEORDER_HOST },
	[FW_SUBNETS] = { FW_SET_SUBNETS, FW_SET_ID_SUBNETS, FW_TYPE_IPADDR, 4, NFT_SET_INTERVAL,
			 FW_BYTEORDER_BIG },
};

/* A set handle naming one of ours; with_id when it was created in this
 * batch (the kernel then finds it by id as well as by name). */
static struct nftnl_set *fw_set_ref(struct fw_batch *b, enum fw_set which, bool with_id)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s == NULL) {
		fw_batch_fail(b, ENOMEM);
		return NULL;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	fw_oom_if(b, nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE));
	fw_oom_if(b, nftnl_set_set_str(s, NFTNL_SET_NAME, fw_sets[which].sd_name));
	if (with_id)
		nftnl_set_set_u32(s, NFTNL_SET_ID, fw_sets[which].sd_id);
	return s;
}

static void fw_set_create(struct fw_batch *b, enum fw_set which)
{
	const struct fw_set_def *d = &fw_sets[which];
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(16);
	struct nftnl_set *s = fw_set_ref(b, which, true);
	struct nlmsghdr *nlh;

	if (ud == NULL || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, d->sd_byteorder))
		fw_batch_fail(b, ENOMEM);
	if (s != NULL && b->fb_errno == 0) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->sd_flags);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->sd_key_type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->sd_key_len);
		fw_oom_if(b, nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
						nftnl_udata_buf_len(ud)));
		nlh = fw_msg_begin(b, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, FW_MSG_ROOM,
				   "create set %s", d->sd_name);
		if (nlh != NULL) {
			nftnl_set_nlmsg_build_payload(nlh, s);
			fw_msg_end(b, nlh, FW_MSG_ROOM);
		}
	}
	if (ud != NULL)
		nftnl_udata_buf_free(ud);
	if (s != NULL)
		nftnl_set_free(s);
}

static void fw_elem_add(struct fw_batch *b, struct nftnl_set *s, const void *key, uint32_t len,
			uint32_t flags)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (e == NULL) {
		fw_batch_fail(b, ENOMEM);
		return;
	}
	fw_oom_if(b, nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len));
	if (flags != 0)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(s, e);
}

/* One message per FW_CHUNK_NODES nodes: their bridges, or their subnets as
 * [first, end) intervals. type is NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM;
 * verb ("add", "remove") is what the caller is doing, for the message. */
static void fw_elems(struct fw_batch *b, uint16_t type, uint16_t flags, const char *verb,
		     enum fw_set which, bool set_in_batch, const struct fw_elem *elems, size_t n)
{
	const char *prep = strcmp(verb, "add") == 0 ? "to" : "from";

	for (size_t i = 0; i < n && b->fb_errno == 0; i += FW_CHUNK_NODES) {
		size_t k = n - i < FW_CHUNK_NODES ? n - i : FW_CHUNK_NODES;
		size_t room = FW_MSG_ROOM + k * 2 * FW_ELEM_ROOM;
		const struct fw_elem *e = &elems[i], *last = &elems[i + k - 1];
		struct nftnl_set *s = fw_set_ref(b, which, set_in_batch);
		struct nlmsghdr *nlh;

		if (s == NULL)
			return;
		for (size_t j = 0; j < k; j++) {
			if (which == FW_BRIDGES) {
				fw_elem_add(b, s, e[j].fe_bridge, IFNAMSIZ, 0);
			} else {
				uint32_t first = htonl(e[j].fe_first), end = htonl(e[j].fe_end);

				fw_elem_add(b, s, &first, sizeof(first), 0);
				fw_elem_add(b, s, &end, sizeof(end), NFT_SET_ELEM_INTERVAL_END);
			}
		}
		if (k == 1)
			nlh = fw_msg_begin(b, type, flags, room, "%s node %s's %s %s %s set %s", verb,
					   e->fe_name, which == FW_BRIDGES ? "bridge" : "subnet",
					   which == FW_BRIDGES ? e->fe_bridge : e->fe_cidr, prep,
					   fw_sets[which].sd_name);
		else
			nlh = fw_msg_begin(b, type, flags, room, "%s nodes %s..%s (%zu) %s set %s",
					   verb, e->fe_name, last->fe_name, k, prep,
					   fw_sets[which].sd_name);
		if (nlh != NULL) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			fw_msg_end(b, nlh, room);
		}
		nftnl_set_free(s);
	}
}

static void fw_chain_create(struct fw_batch *b, const char *name, const char *type,
			    uint32_t hook, int32_t prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (c == NULL) {
		fw_batch_fail(b, ENOMEM);
		return;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	fw_oom_if(b, nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, FW_TABLE));
	fw_oom_if(b, nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name));
	fw_oom_if(b, nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type));
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	/* Traffic that is no node's is none of the dock's business. */
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = fw_msg_begin(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, FW_MSG_ROOM,
			   "create chain %s", name);
	if (nlh != NULL) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		fw_msg_end(b, nlh, FW_MSG_ROOM);
	}
	nftnl_chain_free(c);
}

/* ---- rules: each helper appends expressions; a NULL rule is a no-op so a
 * rule reads as a line of nft syntax and failures surface at fw_rule_add. */

static struct nftnl_expr *fw_expr(struct fw_batch *b, struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e;

	if (r == NULL)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (e == NULL)
		fw_batch_fail(b, ENOMEM);
	return e;
}

static void fw_put(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e != NULL)
		nftnl_rule_add_expr(r, e);
}

/* meta iifname / oifname / nfproto into register 1 */
static void fw_meta(struct fw_batch *b, struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = fw_expr(b, r, "meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	fw_put(r, e);
}

/* register 1 in @set (or not in it) */
static void fw_lookup(struct fw_batch *b, struct nftnl_rule *r, enum fw_set which, bool negate)
{
	struct nftnl_expr *e = fw_expr(b, r, "lookup");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		fw_oom_if(b, nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, fw_sets[which].sd_name));
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, fw_sets[which].sd_id);
		if (negate)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	fw_put(r, e);
}

static void fw_cmp(struct fw_batch *b, struct nftnl_rule *r, uint32_t op, const void *data,
		   uint32_t len)
{
	struct nftnl_expr *e = fw_expr(b, r, "cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		fw_oom_if(b, nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len));
	}
	fw_put(r, e);
}

/* ct state & states != 0 */
static void fw_ct_state_any(struct fw_batch *b, struct nftnl_rule *r, uint32_t states)
{
	struct nftnl_expr *ct = fw_expr(b, r, "ct");
	struct nftnl_expr *bw;
	uint32_t zero = 0;

	if (ct != NULL) {
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_put(r, ct);
	bw = fw_expr(b, r, "bitwise");
	if (bw != NULL) {
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		fw_oom_if(b, nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &states, sizeof(states)));
		fw_oom_if(b, nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero)));
	}
	fw_put(r, bw);
	fw_cmp(b, r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* ip saddr (IPv4 only: in an inet table the nfproto test comes first) */
static void fw_ip_saddr(struct fw_batch *b, struct nftnl_rule *r)
{
	uint8_t ipv4 = NFPROTO_IPV4;
	struct nftnl_expr *e;

	fw_meta(b, r, NFT_META_NFPROTO);
	fw_cmp(b, r, NFT_CMP_EQ, &ipv4, sizeof(ipv4));
	e = fw_expr(b, r, "payload");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 12);  /* struct iphdr saddr */
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	fw_put(r, e);
}

static void fw_verdict(struct fw_batch *b, struct nftnl_rule *r, uint32_t verdict)
{
	struct nftnl_expr *e = fw_expr(b, r, "immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	}
	fw_put(r, e);
}

static struct nftnl_rule *fw_rule_new(struct fw_batch *b, const char *chain)
{
	struct nftnl_rule *r;

	if (b->fb_errno != 0)
		return NULL;
	r = nftnl_rule_alloc();
	if (r == NULL) {
		fw_batch_fail(b, ENOMEM);
		return NULL;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	fw_oom_if(b, nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FW_TABLE));
	fw_oom_if(b, nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain));
	return r;
}

/* Append the rule to its chain; `text` is the rule in nft syntax. */
static void fw_rule_add(struct fw_batch *b, struct nftnl_rule *r, const char *text)
{
	struct nlmsghdr *nlh;

	if (r == NULL)
		return;
	nlh = fw_msg_begin(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, FW_MSG_ROOM,
			   "add rule %s: %s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), text);
	if (nlh != NULL) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		fw_msg_end(b, nlh, FW_MSG_ROOM);
	}
	nftnl_rule_free(r);
}

/* The policy of fw.h, rule by rule; the text is what `nft list` shows. */
static void fw_policy(struct fw_batch *b)
{
	struct nftnl_rule *r;

	fw_chain_create(b, "forward", "filter", NF_INET_FORWARD, NF_IP_PRI_FILTER);
	fw_chain_create(b, "postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC);

	/* Nodes never reach each other. First, so no later accept can let
	 * node-to-node traffic through. */
	r = fw_rule_new(b, "forward");
	fw_meta(b, r, NFT_META_IIFNAME);
	fw_lookup(b, r, FW_BRIDGES, false);
	fw_meta(b, r, NFT_META_OIFNAME);
	fw_lookup(b, r, FW_BRIDGES, false);
	fw_verdict(b, r, NF_DROP);
	fw_rule_add(b, r, "iifname @node_bridges oifname @node_bridges drop");

	/* Replies to what a node started. */
	r = fw_rule_new(b, "forward");
	fw_meta(b, r, NFT_META_OIFNAME);
	fw_lookup(b, r, FW_BRIDGES, false);
	fw_ct_state_any(b, r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	fw_verdict(b, r, NF_ACCEPT);
	fw_rule_add(b, r, "oifname @node_bridges ct state established,related accept");

	/* Nothing else inbound. Published ports will be accepted before this. */
	r = fw_rule_new(b, "forward");
	fw_meta(b, r, NFT_META_OIFNAME);
	fw_lookup(b, r, FW_BRIDGES, false);
	fw_verdict(b, r, NF_DROP);
	fw_rule_add(b, r, "oifname @node_bridges drop");

	/* Outbound: nodes leave with the host's address. */
	r = fw_rule_new(b, "postrouting");
	fw_ip_saddr(b, r);
	fw_lookup(b, r, FW_SUBNETS, false);
	fw_meta(b, r, NFT_META_OIFNAME);
	fw_lookup(b, r, FW_BRIDGES, true);
	fw_put(r, fw_expr(b, r, "masq"));
	fw_rule_add(b, r, "ip saddr @node_subnets oifname != @node_bridges masquerade");
}

/* ---- sending ---------------------------------------------------------- */

static int fw_kernel_error(const struct fw_batch *b, uint32_t index, int errnum,
			   struct dock_err *err)
{
	const char *what = b->fb_msgs[index].fm_what;

	if (errnum == EEXIST)
		return err_set(err, 409, errnum,
			       "firewall: kernel refused to %s: it overlaps an element already there",
			       what);
	if (errnum == ENOENT)
		return err_set(err, 500, errnum,
			       "firewall: kernel could not %s: %s (is table inet %s there? fw_init makes it)",
			       what, strerror(errnum), FW_TABLE);
	return err_set(err, 500, errnum, "firewall: kernel refused to %s (message %u of %u): %s",
		       what, index + 1, b->fb_nmsgs, strerror(errnum));
}

/* Read one ack per message. The kernel answers in message order, so the
 * first error read is the first message that failed; the rest are
 * consequences. An error on the batch begin is a failure of the whole batch
 * (commit, or no memory to queue the errors). */
static int fw_batch_acks(struct fw_batch *b, struct mnl_socket *nl, struct dock_err *err)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t portid = mnl_socket_get_portid(nl), pending = b->fb_nmsgs;

	while (pending > 0) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_set(err, 500, ETIMEDOUT,
				       "firewall: no answer from the kernel after %d s (%u of %u messages acknowledged)",
				       FW_ACK_TIMEOUT_S, b->fb_nmsgs - pending, b->fb_nmsgs);
		if (len < 0)
			return err_set(err, 500, errno, "firewall: reading netlink acks: %s",
				       strerror(errno));
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;
			uint32_t index;

			if (!mnl_nlmsg_portid_ok(nlh, portid) || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return err_set(err, 500, EBADMSG,
					       "firewall: truncated netlink ack from the kernel");
			e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_seq == FW_SEQ_BEGIN && e->error != 0)
				return err_set(err, 500, -e->error,
					       "firewall: kernel refused the batch of %u messages: %s",
					       b->fb_nmsgs, strerror(-e->error));
			index = nlh->nlmsg_seq - fw_seq(0);
			if (nlh->nlmsg_seq < fw_seq(0) || index >= b->fb_nmsgs ||
			    b->fb_msgs[index].fm_acked)
				continue;
			if (e->error != 0)
				return fw_kernel_error(b, index, -e->error, err);
			b->fb_msgs[index].fm_acked = true;
			pending--;
		}
	}
	return 0;
}

static int fw_batch_send(struct fw_batch *b, struct dock_err *err)
{
	struct timeval tv = { .tv_sec = FW_ACK_TIMEOUT_S };
	struct mnl_socket *nl = NULL;
	int one = 1, r;
	ssize_t sent;

	fw_batch_end(b);
	if (b->fb_errno != 0)
		return err_set(err, 500, b->fb_errno, "firewall: building the batch: %s",
			       strerror(b->fb_errno));
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (nl == NULL)
		return err_set(err, 500, errno, "firewall: opening a netfilter netlink socket: %s",
			       strerror(errno));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = err_set(err, 500, errno, "firewall: binding the netlink socket: %s",
			    strerror(errno));
		goto out;
	}
	/* Acks carry only the header of the message they answer. */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = err_set(err, 500, errno, "firewall: setting the netlink ack timeout: %s",
			    strerror(errno));
		goto out;
	}
	/* The whole batch goes in one datagram, which must fit the send
	 * buffer. FW_NODES_MAX keeps it under the usual default; a host with a
	 * smaller wmem_default gets a bigger buffer (we hold CAP_NET_ADMIN). */
	if (b->fb_len > 65536) {
		int size = (int)b->fb_len + 4096;

		if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &size,
			       sizeof(size)) < 0)
			(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &size,
					 sizeof(size));
	}
	sent = mnl_socket_sendto(nl, b->fb_buf, b->fb_len);
	if (sent < 0 || (size_t)sent != b->fb_len) {
		r = err_set(err, 500, sent < 0 ? errno : EMSGSIZE,
			    "firewall: sending a batch of %u messages (%zu bytes): %s", b->fb_nmsgs,
			    b->fb_len, strerror(sent < 0 ? errno : EMSGSIZE));
		goto out;
	}
	r = fw_batch_acks(b, nl, err);
out:
	mnl_socket_close(nl);
	return r;
}

/* Make sure the table exists, so that deleting it in the same batch cannot
 * fail: the portable form of "delete if present" (NFT_MSG_DESTROYTABLE
 * needs Linux 6.3). */
static void fw_table_delete(struct fw_batch *b)
{
	fw_table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, false,
		     "make sure table inet " FW_TABLE " exists before deleting it");
	fw_table_msg(b, NFT_MSG_DELTABLE, 0, false, "delete table inet " FW_TABLE);
}

/* ---- the calls -------------------------------------------------------- */

static bool fw_overlap(const struct fw_elem *a, const struct fw_elem *c)
{
	return a->fe_first < c->fe_end && c->fe_first < a->fe_end;
}

int fw_init(const struct fw_node *nodes, size_t n, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_elem *elems = NULL;
	int r;

	if (n > FW_NODES_MAX)
		return err_set(err, 400, E2BIG, "firewall: %zu nodes, more than the limit of %d", n,
			       FW_NODES_MAX);
	if (n > 0 && nodes == NULL)
		return err_set(err, 400, EINVAL, "firewall: %zu nodes but no node array", n);
	if (n > 0) {
		elems = calloc(n, sizeof(*elems));
		if (elems == NULL)
			return err_set(err, 500, ENOMEM, "firewall: no memory for %zu nodes", n);
	}
	for (size_t i = 0; i < n; i++) {
		r = fw_node_parse(&nodes[i], &elems[i], err);
		if (r < 0)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(elems[i].fe_bridge, elems[j].fe_bridge) == 0) {
				r = err_set(err, 400, EINVAL, "node %s: bridge %s is node %s's too",
					    elems[i].fe_name, elems[i].fe_bridge, elems[j].fe_name);
				goto out;
			}
			if (fw_overlap(&elems[i], &elems[j])) {
				r = err_set(err, 400, EINVAL,
					    "node %s: subnet %s overlaps node %s's subnet %s",
					    elems[i].fe_name, elems[i].fe_cidr, elems[j].fe_name,
					    elems[j].fe_cidr);
				goto out;
			}
		}
	}

	fw_batch_begin(&b);
	fw_table_delete(&b);
	fw_table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, true,
		     "create table inet " FW_TABLE);
	fw_set_create(&b, FW_BRIDGES);
	fw_set_create(&b, FW_SUBNETS);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "add", FW_BRIDGES, true, elems, n);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "add", FW_SUBNETS, true, elems, n);
	fw_policy(&b);
	r = fw_batch_send(&b, err);
out:
	fw_batch_free(&b);
	free(elems);
	return r;
}

int fw_node_add(const struct fw_node *node, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_elem e;
	int r;

	r = fw_node_parse(node, &e, err);
	if (r < 0)
		return r;
	/* No NLM_F_EXCL: adding what is already there is a no-op, so a dock
	 * that restarts half-way can simply add again. */
	fw_batch_begin(&b);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_BRIDGES, false, &e, 1);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_SUBNETS, false, &e, 1);
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	return r;
}

int fw_node_remove(const struct fw_node *node, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_elem e;
	int r;

	r = fw_node_parse(node, &e, err);
	if (r < 0)
		return r;
	/* Add, then delete, in one batch: deleting an absent element fails
	 * with ENOENT, and this makes absent elements a no-op without a read
	 * before the write (NFT_MSG_DESTROYSETELEM needs Linux 6.3). A subnet
	 * that overlaps a different one in the set still fails, as it should:
	 * the caller's view of the node is wrong. */
	fw_batch_begin(&b);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_BRIDGES, false, &e, 1);
	fw_elems(&b, NFT_MSG_DELSETELEM, 0, "remove", FW_BRIDGES, false, &e, 1);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_SUBNETS, false, &e, 1);
	fw_elems(&b, NFT_MSG_DELSETELEM, 0, "remove", FW_SUBNETS, false, &e, 1);
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	return r;
}

int fw_teardown(struct dock_err *err)
{
	struct fw_batch b = { 0 };
	int r;

	fw_batch_begin(&b);
	fw_table_delete(&b);
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	return r;
}
