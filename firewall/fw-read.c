/* fw-read: reading the table back. A few netlink dumps (tables, chains,
 * our sets, their elements, our rules), the rules reduced to signatures
 * that ignore what the kernel fills in itself, and the expected policy
 * decoded from a batch built the same way; other tables' base chains are
 * read only to warn about drops that override ours. */
#include "fw-int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* A rule as a line of text that names every expression and the attributes
 * that carry the policy, not those the kernel fills in on its own (nat's
 * max registers, log's level, counter values): the same for what we send
 * and what the kernel dumps back, and different when someone edits it. */
static const struct fw_sig_attr {
	const char *sa_expr;
	uint16_t sa_attr;
	char sa_kind; /* u: u32, U: u64, z: u32 where absent is 0, s: string, d: bytes */
} fw_sig_attrs[] = {
	{ "meta", NFTNL_EXPR_META_KEY, 'u' },
	{ "meta", NFTNL_EXPR_META_DREG, 'u' },
	{ "meta", NFTNL_EXPR_META_SREG, 'u' },
	{ "cmp", NFTNL_EXPR_CMP_SREG, 'u' },
	{ "cmp", NFTNL_EXPR_CMP_OP, 'u' },
	{ "cmp", NFTNL_EXPR_CMP_DATA, 'd' },
	{ "lookup", NFTNL_EXPR_LOOKUP_SREG, 'u' },
	{ "lookup", NFTNL_EXPR_LOOKUP_DREG, 'u' },
	{ "lookup", NFTNL_EXPR_LOOKUP_SET, 's' },
	{ "lookup", NFTNL_EXPR_LOOKUP_FLAGS, 'z' },
	{ "payload", NFTNL_EXPR_PAYLOAD_BASE, 'u' },
	{ "payload", NFTNL_EXPR_PAYLOAD_OFFSET, 'u' },
	{ "payload", NFTNL_EXPR_PAYLOAD_LEN, 'u' },
	{ "payload", NFTNL_EXPR_PAYLOAD_DREG, 'u' },
	{ "ct", NFTNL_EXPR_CT_KEY, 'u' },
	{ "ct", NFTNL_EXPR_CT_DREG, 'u' },
	{ "ct", NFTNL_EXPR_CT_DIR, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_SREG, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_DREG, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_LEN, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_MASK, 'd' },
	{ "bitwise", NFTNL_EXPR_BITWISE_XOR, 'd' },
	{ "immediate", NFTNL_EXPR_IMM_DREG, 'u' },
	{ "immediate", NFTNL_EXPR_IMM_VERDICT, 'u' },
	{ "immediate", NFTNL_EXPR_IMM_CHAIN, 's' },
	{ "fib", NFTNL_EXPR_FIB_RESULT, 'u' },
	{ "fib", NFTNL_EXPR_FIB_FLAGS, 'u' },
	{ "fib", NFTNL_EXPR_FIB_DREG, 'u' },
	{ "nat", NFTNL_EXPR_NAT_TYPE, 'u' },
	{ "nat", NFTNL_EXPR_NAT_FAMILY, 'u' },
	{ "nat", NFTNL_EXPR_NAT_REG_ADDR_MIN, 'u' },
	{ "nat", NFTNL_EXPR_NAT_REG_PROTO_MIN, 'u' },
	{ "limit", NFTNL_EXPR_LIMIT_RATE, 'U' },
	{ "limit", NFTNL_EXPR_LIMIT_UNIT, 'U' },
	{ "limit", NFTNL_EXPR_LIMIT_BURST, 'u' },
	{ "limit", NFTNL_EXPR_LIMIT_TYPE, 'u' },
	{ "log", NFTNL_EXPR_LOG_PREFIX, 's' },
};

/* The signature, malloc'd; the counter's values go to pkts/bytes. */
static char *fw_rule_sig(const struct nftnl_rule *r, uint64_t *pkts, uint64_t *bytes)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct fw_str sig = { 0 };
	struct nftnl_expr *e;

	while (it != NULL && (e = nftnl_expr_iter_next(it)) != NULL) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		fw_str_add(&sig, "[%s", name);
		if (strcmp(name, "counter") == 0 && pkts != NULL) {
			*pkts = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
			*bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		}
		for (size_t i = 0; i < sizeof(fw_sig_attrs) / sizeof(fw_sig_attrs[0]); i++) {
			const struct fw_sig_attr *a = &fw_sig_attrs[i];
			const uint8_t *d;
			uint32_t len = 0;

			if (strcmp(a->sa_expr, name) != 0)
				continue;
			if (!nftnl_expr_is_set(e, a->sa_attr)) {
				if (a->sa_kind == 'z')
					fw_str_add(&sig, " 0");
				continue;
			}
			switch (a->sa_kind) {
			case 'u':
			case 'z':
				fw_str_add(&sig, " %u", nftnl_expr_get_u32(e, a->sa_attr));
				break;
			case 'U':
				fw_str_add(&sig, " %llu",
					   (unsigned long long)nftnl_expr_get_u64(e, a->sa_attr));
				break;
			case 's':
				fw_str_add(&sig, " \"%s\"", nftnl_expr_get_str(e, a->sa_attr));
				break;
			default:
				d = nftnl_expr_get(e, a->sa_attr, &len);
				fw_str_add(&sig, " ");
				for (uint32_t k = 0; d != NULL && k < len; k++)
					fw_str_add(&sig, "%02x", d[k]);
				break;
			}
		}
		fw_str_add(&sig, "]");
	}
	if (it != NULL)
		nftnl_expr_iter_destroy(it);
	fw_str_add(&sig, "%s", "");
	return fw_str_take(&sig);
}

/* Grow *v (of *n elements of size sz) by one zeroed element. */
void *fw_grow(void *vp, size_t *n, size_t sz, bool *oom)
{
	void **v = vp;
	char *p;

	if (*oom)
		return NULL;
	if ((*n & (*n - 1)) == 0) { /* at 0, 1, 2, 4...: double */
		p = realloc(*v, (*n == 0 ? 1 : *n * 2) * sz);
		if (p == NULL) {
			*oom = true;
			return NULL;
		}
		*v = p;
	}
	p = (char *)*v + *n * sz;
	memset(p, 0, sz);
	(*n)++;
	return p;
}

void fw_read_free(struct fw_read *rd)
{
	for (size_t i = 0; i < rd->nrules; i++)
		free(rd->rules[i].rr_sig);
	free(rd->rules);
	free(rd->chains);
	free(rd->sets);
	for (int s = 0; s < FW_NSETS; s++)
		free(rd->elems[s]);
	memset(rd, 0, sizeof(*rd));
}

/* A bandwidth rule's limit (fw-bw.c): a byte rate "over" per second, and
 * the interface key the rule compares before it. */
static void fw_read_limit(const struct nftnl_rule *r, struct fw_rrule *rr)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	uint32_t key = 0;

	while (it != NULL && (e = nftnl_expr_iter_next(it)) != NULL) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (strcmp(name, "meta") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_META_KEY))
			key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
		else if (strcmp(name, "limit") == 0 &&
			 nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE) == NFT_LIMIT_PKT_BYTES &&
			 nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS) == NFT_LIMIT_F_INV &&
			 nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT) == 1) {
			rr->rr_limit_bps = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
			rr->rr_limit_if = key;
		}
	}
	if (it != NULL)
		nftnl_expr_iter_destroy(it);
}

static void fw_read_rule(struct fw_read *rd, const struct nftnl_rule *r)
{
	struct fw_rrule *rr = fw_grow(&rd->rules, &rd->nrules, sizeof(*rr), &rd->oom);

	if (rr == NULL)
		return;
	snprintf(rr->rr_chain, sizeof(rr->rr_chain), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	rr->rr_sig = fw_rule_sig(r, &rr->rr_pkts, &rr->rr_bytes);
	if (rr->rr_sig == NULL)
		rd->oom = true;
	if (strncmp(rr->rr_chain, FW_BW_PREFIX, strlen(FW_BW_PREFIX)) == 0)
		fw_read_limit(r, rr);
}

static void fw_read_chain(struct fw_read *rd, const struct nftnl_chain *c)
{
	struct fw_rchain *rc = fw_grow(&rd->chains, &rd->nchains, sizeof(*rc), &rd->oom);

	if (rc == NULL)
		return;
	snprintf(rc->rc_name, sizeof(rc->rc_name), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		rc->rc_base = true;
		snprintf(rc->rc_type, sizeof(rc->rc_type), "%s",
			 nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
		rc->rc_hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		rc->rc_prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		rc->rc_policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
	}
}

/* The expected policy: what fw_policy (and fw_node_chain_rules for a node
 * named `node`, if not NULL) sends, decoded like the kernel's dumps. */
int fw_expected(struct fw_read *ex, const char *node)
{
	struct fw_batch b = { 0 };
	struct fw_info *fi = NULL;
	const struct nlmsghdr *nlh;
	int left;

	if (node != NULL) {
		fi = calloc(1, sizeof(*fi));
		if (fi == NULL)
			return -ENOMEM;
		fi->fi_name = node;
		snprintf(fi->fi_chain, sizeof(fi->fi_chain), FW_CHAIN_PREFIX "%s", node);
		fw_node_chain_rules(&b, fi);
	} else {
		fw_policy(&b);
	}
	for (nlh = (const void *)b.fb_buf, left = (int)b.fb_len;
	     b.fb_errno == 0 && mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();

			if (r != NULL && nftnl_rule_nlmsg_parse(nlh, r) == 0)
				fw_read_rule(ex, r);
			else
				ex->oom = true;
			if (r != NULL)
				nftnl_rule_free(r);
		} else if (type == NFT_MSG_NEWCHAIN) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			if (c != NULL && nftnl_chain_nlmsg_parse(nlh, c) == 0)
				fw_read_chain(ex, c);
			else
				ex->oom = true;
			if (c != NULL)
				nftnl_chain_free(c);
		}
	}
	if (b.fb_errno != 0)
		ex->oom = true;
	fw_batch_free(&b);
	free(fi);
	return ex->oom ? -ENOMEM : 0;
}

static int fw_table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_read *rd = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (t == NULL)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == NFPROTO_INET &&
	    strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), FW_TABLE) == 0)
		rd->table = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

void fw_warn(struct fw_show *s, const char *fmt, ...)
{
	va_list ap;

	if (s->fs_nwarnings == FW_WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(s->fs_warnings[s->fs_nwarnings++], sizeof(s->fs_warnings[0]), fmt, ap);
	va_end(ap);
}

static const char *fw_family_name(uint32_t family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_NETDEV:
		return "netdev";
	default:
		return "?";
	}
}

/* Our chains are recorded; other tables' base chains that drop by policy
 * on the hooks node traffic takes are warned about: a packet must be
 * accepted by every base chain on its hook, so their drop wins over our
 * accept. (IPv6 and bridge-family chains do not see node traffic.) */
static int fw_chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_read *rd = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	uint32_t family, hook;

	if (c == NULL)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	if (family == NFPROTO_INET &&
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), FW_TABLE) == 0) {
		fw_read_chain(rd, c);
		goto out;
	}
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) != NF_DROP ||
	    (family != NFPROTO_INET && family != NFPROTO_IPV4))
		goto out;
	hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	if (hook == NF_INET_FORWARD)
		fw_warn(rd->show,
			"table %s %s: chain %s (hook forward, priority %d) has policy drop: node traffic it does not accept is dropped (outbound and published ports), whatever table inet %s says",
			fw_family_name(family), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
			nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), FW_TABLE);
	else if (hook == NF_INET_LOCAL_IN)
		fw_warn(rd->show,
			"table %s %s: chain %s (hook input, priority %d) has policy drop: nodes get DHCP and DNS from their gateway only if it accepts them",
			fw_family_name(family), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
			nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO));
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* The set's comment: a TLV of its user data (type, length, text with NUL). */
static void fw_set_comment(const struct nftnl_set *s, char *buf, size_t size)
{
	uint32_t len = 0;
	const uint8_t *u = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);

	buf[0] = '\0';
	for (uint32_t i = 0; u != NULL && i + 2 <= len && i + 2u + u[i + 1] <= len;
	     i += 2u + u[i + 1]) {
		if (u[i] == NFTNL_UDATA_SET_COMMENT && u[i + 1] > 0) {
			snprintf(buf, size, "%.*s", u[i + 1] - 1, (const char *)u + i + 2);
			return;
		}
	}
}

static int fw_set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_read *rd = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct fw_rset *rs;

	if (s == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    (rs = fw_grow(&rd->sets, &rd->nsets, sizeof(*rs), &rd->oom)) != NULL) {
		snprintf(rs->rs_name, sizeof(rs->rs_name), "%s",
			 nftnl_set_get_str(s, NFTNL_SET_NAME));
		rs->rs_flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
		rs->rs_key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
		rs->rs_key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
		if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
			rs->rs_data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
		fw_set_comment(s, rs->rs_comment, sizeof(rs->rs_comment));
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

struct fw_elem_read {
	struct fw_read *er_rd;
	enum fw_set er_set;
};

static void fw_key_copy(struct fw_key *k, const void *v, uint32_t len)
{
	if (v != NULL && len <= sizeof(k->k_buf)) {
		memcpy(k->k_buf, v, len);
		k->k_len = len;
	}
}

static int fw_elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_elem_read *er = data;
	struct fw_read *rd = er->er_rd;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	struct nftnl_set_elem *e;

	if (s == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		it = nftnl_set_elems_iter_create(s);
	while (it != NULL && (e = nftnl_set_elems_iter_next(it)) != NULL) {
		struct fw_relem *re = fw_grow(&rd->elems[er->er_set], &rd->nelems[er->er_set],
					      sizeof(*re), &rd->oom);
		const uint8_t *u;
		const void *v;
		uint32_t len = 0;

		if (re == NULL)
			break;
		v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		fw_key_copy(&re->re_key, v, len);
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
			fw_key_copy(&re->re_end, v, len);
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
			fw_key_copy(&re->re_data, v, len);
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
			snprintf(re->re_chain, sizeof(re->re_chain), "%s",
				 nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
			re->re_flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
		u = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
		if (u != NULL && len >= 3 && u[0] == NFTNL_UDATA_SET_ELEM_COMMENT &&
		    u[1] + 2u <= len)
			snprintf(re->re_comment, sizeof(re->re_comment), "%.*s", u[1] - 1,
				 (const char *)u + 2);
	}
	if (it != NULL)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int fw_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_read *rd = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0)
		fw_read_rule(rd, r);
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* Send one request and feed every reply to cb until the kernel is done;
 * -errno on failure (-ENOENT: no such table or set). */
static int fw_dump(struct mnl_socket *nl, char *buf, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	uint32_t seq = req->nlmsg_seq, portid = mnl_socket_get_portid(nl);

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, FW_DUMP_BUF);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc < 0)
			return errno != 0 ? -errno : -EIO;
	}
}

/* Everything fw_show needs, in a few dumps. */
int fw_read_all(struct fw_read *rd, struct dock_err *err)
{
	char req[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char *buf = malloc(FW_DUMP_BUF);
	struct mnl_socket *nl = fw_socket(err);
	struct nlmsghdr *nlh;
	uint32_t seq = 1;
	int r = -ENOMEM;

	if (nl == NULL) {
		free(buf);
		return -EIO;
	}
	if (buf == NULL)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, seq++);
	r = fw_dump(nl, buf, nlh, fw_table_cb, rd);
	if (r == 0) {
		nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP,
					    seq++);
		r = fw_dump(nl, buf, nlh, fw_chain_cb, rd);
	}
	if (r == 0 && rd->table) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nftnl_rule *ru = nftnl_rule_alloc();

		if (s == NULL || ru == NULL ||
		    nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
		    nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, FW_TABLE) < 0) {
			r = -ENOMEM;
		} else {
			nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP,
						    seq++);
			nftnl_set_nlmsg_build_payload(nlh, s);
			r = fw_dump(nl, buf, nlh, fw_set_cb, rd);
		}
		for (int i = 0; i < FW_NSETS && r == 0; i++) {
			struct fw_elem_read er = { rd, (enum fw_set)i };
			bool present = false;

			for (size_t k = 0; k < rd->nsets; k++)
				present |= strcmp(rd->sets[k].rs_name, fw_sets[i].sd_name) == 0;
			if (!present)
				continue;
			if (nftnl_set_set_str(s, NFTNL_SET_NAME, fw_sets[i].sd_name) < 0) {
				r = -ENOMEM;
				break;
			}
			nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, NFPROTO_INET,
						    NLM_F_DUMP, seq++);
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			r = fw_dump(nl, buf, nlh, fw_elem_cb, &er);
		}
		if (r == 0) {
			nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP,
						    seq++);
			nftnl_rule_nlmsg_build_payload(nlh, ru);
			r = fw_dump(nl, buf, nlh, fw_rule_cb, rd);
		}
		if (s != NULL)
			nftnl_set_free(s);
		if (ru != NULL)
			nftnl_rule_free(ru);
	}
	if (r == 0 && rd->oom)
		r = -ENOMEM;
out:
	if (r < 0) {
		err_set(err, 500, -r, "firewall: reading the ruleset: %s", strerror(-r));
		fw_socket_drop();
	}
	free(buf);
	return r;
}
