/* fw-rule: the pieces a chain and a rule are made of. Chain messages, and
 * one helper per nft expression, so that a rule reads as a line of nft
 * syntax; a failure is kept in the batch and surfaces at send. */
#include "fw-int.h"

#include <errno.h>
#include <string.h>

#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

void fw_chain_msg(struct fw_batch *b, uint16_t type, uint16_t flags, const char *name,
		  const char *kind, uint32_t hook, int32_t prio, const char *verb)
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
	if (kind != NULL) {
		fw_oom_if(b, nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, kind));
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		/* Traffic that is no node's is none of the dock's business. */
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = fw_msg_begin(b, type, flags, FW_MSG_ROOM, "%s chain %s", verb, name);
	if (nlh != NULL) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		fw_msg_end(b, nlh, FW_MSG_ROOM);
	}
	nftnl_chain_free(c);
}

void fw_chain_create(struct fw_batch *b, const char *name, const char *kind, uint32_t hook,
		     int32_t prio)
{
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, name, kind, hook, prio,
		     "create");
}

/* Each helper appends expressions; a NULL rule is a no-op so a rule reads
 * as a line of nft syntax and failures surface at fw_rule_add. Registers
 * are the ones nft itself picks for the same text. */

struct nftnl_expr *fw_expr(struct fw_batch *b, struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e;

	if (r == NULL)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (e == NULL)
		fw_batch_fail(b, ENOMEM);
	return e;
}

void fw_put(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e != NULL)
		nftnl_rule_add_expr(r, e);
}

void fw_meta(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr(b, r, "meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	fw_put(r, e);
}

/* sreg in @set (or not, negate); dreg < 0: a set, else a map into dreg */
void fw_lookup_set(struct fw_batch *b, struct nftnl_rule *r, const char *set, uint32_t id,
		   uint32_t sreg, bool negate, int dreg)
{
	struct nftnl_expr *e = fw_expr(b, r, "lookup");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		if (dreg >= 0)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
		fw_oom_if(b, nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set));
		if (id != 0)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
		if (negate)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	fw_put(r, e);
}

/* One of ours, from register 1. */
void fw_lookup(struct fw_batch *b, struct nftnl_rule *r, enum fw_set which, bool negate, int dreg)
{
	fw_lookup_set(b, r, fw_sets[which].sd_name, fw_set_id(which), NFT_REG_1, negate, dreg);
}

void fw_cmp(struct fw_batch *b, struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = fw_expr(b, r, "cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		fw_oom_if(b, nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len));
	}
	fw_put(r, e);
}

void fw_payload(struct fw_batch *b, struct nftnl_rule *r, uint32_t base, uint32_t offset,
		uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr(b, r, "payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	fw_put(r, e);
}

/* meta nfproto ipv4 (or ipv6): in an inet table, before any IPv4 header field */
void fw_nfproto(struct fw_batch *b, struct nftnl_rule *r, uint8_t proto)
{
	fw_meta(b, r, NFT_META_NFPROTO, NFT_REG_1);
	fw_cmp(b, r, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* ct KEY & bits != 0 */
void fw_ct_bits(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t bits)
{
	struct nftnl_expr *ct = fw_expr(b, r, "ct");
	struct nftnl_expr *bw;
	uint32_t zero = 0;

	if (ct != NULL) {
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_put(r, ct);
	bw = fw_expr(b, r, "bitwise");
	if (bw != NULL) {
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		fw_oom_if(b, nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &bits, sizeof(bits)));
		fw_oom_if(b, nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero)));
	}
	fw_put(r, bw);
	fw_cmp(b, r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

void fw_verdict(struct fw_batch *b, struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = fw_expr(b, r, "immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain != NULL)
			fw_oom_if(b, nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain));
	}
	fw_put(r, e);
}

struct nftnl_rule *fw_rule_new(struct fw_batch *b, const char *chain)
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

/* Append the rule to its chain; `text` is the rule as `nft list` shows it. */
void fw_rule_add(struct fw_batch *b, struct nftnl_rule *r, const char *text)
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

/* `iifname @set` / `oifname @set` and the like: name into reg 1, lookup. */
void fw_if_in(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, enum fw_set which,
	      bool negate)
{
	fw_meta(b, r, key, NFT_REG_1);
	fw_lookup(b, r, which, negate, -1);
}

/* A one-lookup rule: `iifname @set verdict [chain]`. */
void fw_if_rule(struct fw_batch *b, const char *chain, uint32_t key, enum fw_set which, int verdict,
		const char *to, const char *text)
{
	struct nftnl_rule *r = fw_rule_new(b, chain);

	fw_if_in(b, r, key, which, false);
	fw_verdict(b, r, verdict, to);
	fw_rule_add(b, r, text);
}
