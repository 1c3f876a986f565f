/* fw-bw: a node's network bandwidth, enforced in the forward path (no tc:
 * libvirt's <bandwidth> needs qdiscs and policers a kernel may lack).
 * Verdict map node_bw sends a packet whose input or output interface is a
 * limited node's bridge to that node's chain bw-NAME, which drops what
 * goes over its byte rate: from the node (out, replies of its published
 * services too) and to it (in, published ports' DNAT traffic and replies
 * too). A node change is its chain and one element, whatever the number
 * of nodes; nodes without limits have neither. */
#include "fw-int.h"

#include <stdio.h>

#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

/* The limit's burst: a tenth of a second, at least 64 KiB (so that a slow
 * limit still carries a TSO segment). The kernel's bucket holds a second's
 * worth beside it: what a transfer may gain on the rate. */
static uint32_t fw_bw_burst(uint64_t bps)
{
	uint64_t b = bps / 10;

	return b < 65536 ? 65536 : b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

void fw_bw_rules(struct fw_batch *b)
{
	struct nftnl_rule *r;

	r = fw_rule_new(b, "forward");
	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_lookup(b, r, FW_NODE_BW, false, NFT_REG_VERDICT);
	fw_rule_add(b, r, "iifname vmap @node_bw");
	r = fw_rule_new(b, "forward");
	fw_meta(b, r, NFT_META_OIFNAME, NFT_REG_1);
	fw_lookup(b, r, FW_NODE_BW, false, NFT_REG_VERDICT);
	fw_rule_add(b, r, "oifname vmap @node_bw");
}

/* `IFKEY "BRIDGE" limit rate over BPS bytes/second burst N bytes drop` */
static void fw_bw_rule(struct fw_batch *b, const struct fw_info *fi, uint32_t key, uint64_t bps)
{
	struct nftnl_rule *r = fw_rule_new(b, fi->fi_bw_chain);
	struct nftnl_expr *e;
	char text[FW_WHAT_MAX];

	fw_meta(b, r, key, NFT_REG_1);
	fw_cmp(b, r, NFT_CMP_EQ, fi->fi_bridge, IFNAMSIZ);
	e = fw_expr(b, r, "limit");
	if (e != NULL) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, bps);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1); /* per second */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, fw_bw_burst(bps));
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKT_BYTES);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	}
	fw_put(r, e);
	fw_verdict(b, r, NF_DROP, NULL);
	snprintf(text, sizeof(text),
		 "%s \"%s\" limit rate over %llu bytes/second burst %u bytes drop",
		 key == NFT_META_IIFNAME ? "iifname" : "oifname", fi->fi_bridge,
		 (unsigned long long)bps, fw_bw_burst(bps));
	fw_rule_add(b, r, text);
}

void fw_bw_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table)
{
	if (fi->fi_in_bps == 0 && fi->fi_out_bps == 0)
		return;
	fw_chain_fresh(b, fi->fi_bw_chain, new_table);
	if (fi->fi_out_bps != 0)
		fw_bw_rule(b, fi, NFT_META_IIFNAME, fi->fi_out_bps);
	if (fi->fi_in_bps != 0)
		fw_bw_rule(b, fi, NFT_META_OIFNAME, fi->fi_in_bps);
}

void fw_bw_remove(struct fw_batch *b, const struct fw_info *fi)
{
	/* the chain made sure of, so that its element can be added (then
	 * deleted) whatever the table held; the chain goes last */
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, fi->fi_bw_chain, NULL, 0, 0,
		     "make sure of");
	fw_node_set(b, fi, FW_NODE_BW, true);
	fw_chain_msg(b, NFT_MSG_DELCHAIN, 0, fi->fi_bw_chain, NULL, 0, 0, "delete");
}
