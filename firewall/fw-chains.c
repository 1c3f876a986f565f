/* fw-chains: the policy of firewall/README.md, one function per chain,
 * rule by rule, each with the text `nft list` shows for it; and each node's
 * drop chain, where every drop is counted and logged. Nodes come and go as
 * set elements only: these chains are the same for every dock. */
#include "fw-int.h"

#include <stdio.h>

#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter_ipv4.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

/* The node's drop chain: every drop of the policy ends here, through
 * node_drop, so that it is counted and logged with the node's prefix. */
void fw_node_chain_rules(struct fw_batch *b, const struct fw_info *fi)
{
	char prefix[sizeof(FW_LOG_PREFIX_FMT) + FW_NAME_MAX], text[FW_WHAT_MAX];
	struct nftnl_rule *r = fw_rule_new(b, fi->fi_chain);
	struct nftnl_expr *e;

	snprintf(prefix, sizeof(prefix), FW_LOG_PREFIX_FMT, fi->fi_name);
	e = fw_expr(b, r, "limit");
	if (e != NULL) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, FW_LOG_RATE);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1); /* per second */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, FW_LOG_BURST);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	}
	fw_put(r, e);
	e = fw_expr(b, r, "log");
	if (e != NULL)
		fw_oom_if(b, nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix));
	fw_put(r, e);
	snprintf(text, sizeof(text), "limit rate %d/second burst %d packets log prefix \"%s\"",
		 FW_LOG_RATE, FW_LOG_BURST, prefix);
	fw_rule_add(b, r, text);

	r = fw_rule_new(b, fi->fi_chain);
	fw_put(r, fw_expr(b, r, "counter"));
	fw_verdict(b, r, NF_DROP, NULL);
	fw_rule_add(b, r, "counter drop");
}

/* Where every drop goes: the node's chain through node_drop; a bridge
 * missing from the map still drops, unlogged. */
static void fw_chains_drop(struct fw_batch *b)
{
	struct nftnl_rule *r;

	fw_chain_create(b, FW_DROP_FROM, NULL, 0, 0);
	fw_chain_create(b, FW_DROP_TO, NULL, 0, 0);
	for (int to = 0; to < 2; to++) {
		const char *chain = to ? FW_DROP_TO : FW_DROP_FROM;

		r = fw_rule_new(b, chain);
		fw_meta(b, r, to ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG_1);
		fw_lookup(b, r, FW_NODE_DROP, false, NFT_REG_VERDICT);
		fw_rule_add(b, r, to ? "oifname vmap @node_drop" : "iifname vmap @node_drop");
		r = fw_rule_new(b, chain);
		fw_verdict(b, r, NF_DROP, NULL);
		fw_rule_add(b, r, "drop");
	}
}

/* Before conntrack: what a node sends is checked first, and what is
 * dropped here leaves no conntrack entry. */
static void fw_chain_prerouting(struct fw_batch *b)
{
	uint8_t ipv6 = NFPROTO_IPV6;
	uint16_t ether = ARPHRD_ETHER;
	struct nftnl_rule *r;

	fw_chain_create(b, "prerouting", "filter", NF_INET_PRE_ROUTING, NF_IP_PRI_RAW);
	fw_if_rule(b, "prerouting", NFT_META_IIFNAME, FW_QUARANTINED, NFT_GOTO, FW_DROP_FROM,
		   "iifname @quarantined goto " FW_DROP_FROM);
	/* Nodes are IPv4 only; their IPv6 chatter (router solicitations, MLD)
	 * is no attempt worth a log line. */
	r = fw_rule_new(b, "prerouting");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, false);
	fw_nfproto(b, r, ipv6);
	fw_verdict(b, r, NF_DROP, NULL);
	fw_rule_add(b, r, "iifname @node_bridges meta nfproto ipv6 drop");
	/* Anti-spoofing: a node's bridge carries only its address and MAC
	 * (and 0.0.0.0 with its MAC, for DHCP). */
	r = fw_rule_new(b, "prerouting");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, false);
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_meta(b, r, NFT_META_IIFTYPE, NFT_REG_1);
	fw_cmp(b, r, NFT_CMP_EQ, &ether, sizeof(ether));
	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_2); /* ip saddr */
	fw_payload(b, r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_05);    /* ether saddr */
	fw_lookup(b, r, FW_ADDRS, true, -1);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(
		b, r,
		"iifname @node_bridges iifname . ip saddr . ether saddr != @node_addrs goto " FW_DROP_FROM);
}

/* Publishing: the host's port, reached from anywhere but a node. */
static void fw_chain_publish(struct fw_batch *b)
{
	uint32_t local = RTN_LOCAL;
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	fw_chain_create(b, "publish", "nat", NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST);
	r = fw_rule_new(b, "publish");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, true);
	e = fw_expr(b, r, "fib");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	fw_put(r, e);
	fw_cmp(b, r, NFT_CMP_EQ, &local, sizeof(local));
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG_1);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01); /* th dport */
	fw_lookup(b, r, FW_PUBLISHED, false, NFT_REG_1);
	e = fw_expr(b, r, "nat");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
	}
	fw_put(r, e);
	fw_rule_add(
		b, r,
		"iifname != @node_bridges fib daddr type local dnat ip to meta l4proto . th dport map @published");
}

/* A node reaches the host only for DHCP and DNS on its gateway. */
static void fw_chain_input(struct fw_batch *b)
{
	struct nftnl_rule *r;

	fw_chain_create(b, "input", "filter", NF_INET_LOCAL_IN, NF_IP_PRI_FILTER);
	r = fw_rule_new(b, "input");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, false);
	fw_ct_bits(b, r, NFT_CT_STATE,
		   NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(b, r, "iifname @node_bridges ct state established,related accept");
	r = fw_rule_new(b, "input");
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_2); /* ip daddr */
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG32_05);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_06);
	fw_lookup(b, r, FW_SERVICES, false, -1);
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(b, r, "iifname . ip daddr . meta l4proto . th dport @host_services accept");
	fw_if_rule(b, "input", NFT_META_IIFNAME, FW_BRIDGES, NFT_GOTO, FW_DROP_FROM,
		   "iifname @node_bridges goto " FW_DROP_FROM);
}

/* What the host forwards to and from nodes: quarantine, isolation, replies
 * and published connections in, egress deny out. */
static void fw_chain_forward(struct fw_batch *b)
{
	uint8_t zero8 = 0;
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	fw_chain_create(b, "forward", "filter", NF_INET_FORWARD, NF_IP_PRI_FILTER);
	fw_if_rule(b, "forward", NFT_META_OIFNAME, FW_QUARANTINED, NFT_GOTO, FW_DROP_TO,
		   "oifname @quarantined goto " FW_DROP_TO);
	/* Bandwidth first: every packet from or to a limited node counts
	 * (fw-bw.c), whatever accepts it below. */
	fw_bw_rules(b);
	/* Nodes reach each other only along a flow (fw-flows.c); else
	 * never. The drop comes before any other accept, so that no later
	 * accept can let node-to-node traffic through. */
	fw_flows_rules(b);
	r = fw_rule_new(b, "forward");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, false);
	fw_if_in(b, r, NFT_META_OIFNAME, FW_BRIDGES, false);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(b, r, "iifname @node_bridges oifname @node_bridges goto " FW_DROP_FROM);
	/* Replies to what a node started, and published connections. */
	r = fw_rule_new(b, "forward");
	fw_if_in(b, r, NFT_META_OIFNAME, FW_BRIDGES, false);
	fw_ct_bits(b, r, NFT_CT_STATE,
		   NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(b, r, "oifname @node_bridges ct state established,related accept");
	/* A new inbound connection only through a publish's DNAT. */
	r = fw_rule_new(b, "forward");
	fw_if_in(b, r, NFT_META_OIFNAME, FW_BRIDGES, false);
	fw_ct_bits(b, r, NFT_CT_STATUS, IPS_DST_NAT);
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1); /* ip daddr */
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG32_01);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
	fw_lookup(b, r, FW_PUBLISHED_TO, false, -1);
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(
		b, r,
		"oifname @node_bridges ct status dnat ip daddr . meta l4proto . th dport @published_to accept");
	fw_if_rule(b, "forward", NFT_META_OIFNAME, FW_BRIDGES, NFT_GOTO, FW_DROP_TO,
		   "oifname @node_bridges goto " FW_DROP_TO);
	/* What a node starts (original direction, established too, so that a
	 * change of policy cuts running connections) is checked in chain
	 * egress; replies of published services still leave. */
	r = fw_rule_new(b, "forward");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_BRIDGES, false);
	e = fw_expr(b, r, "ct");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_put(r, e);
	fw_cmp(b, r, NFT_CMP_EQ, &zero8, sizeof(zero8)); /* IP_CT_DIR_ORIGINAL */
	fw_verdict(b, r, NFT_JUMP, FW_EGRESS_CHAIN);
	fw_rule_add(b, r, "iifname @node_bridges ct direction original jump " FW_EGRESS_CHAIN);
}

/* A node's outbound traffic: what its allow-list names (address, and
 * protocol and port when the entry gives them) goes on; else the private
 * ranges are dropped in either mode, then its entries by name accept
 * their answers, then egress deny drops the rest. A packet whose
 * transport header cannot be read matches no entry, so it is dropped. */
static void fw_chain_egress(struct fw_batch *b)
{
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	fw_chain_create(b, FW_EGRESS_CHAIN, NULL, 0, 0);
	r = fw_rule_new(b, FW_EGRESS_CHAIN);
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_2); /* ip daddr */
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG32_05);
	/* what nft emits for a host-order part of an interval key: a
	 * byteorder of one byte in units of two, which changes nothing (the
	 * kernel converts len / size = 0 units); kept to be nft's bytecode */
	e = fw_expr(b, r, "byteorder");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG32_05);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG32_05);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	}
	fw_put(r, e);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_06); /* th dport */
	fw_lookup(b, r, FW_EGRESS_ALLOWED, false, -1);
	fw_verdict(b, r, NFT_RETURN, NULL);
	fw_rule_add(b, r, "iifname . ip daddr . meta l4proto . th dport @egress_allowed return");
	r = fw_rule_new(b, FW_EGRESS_CHAIN);
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1); /* ip daddr */
	fw_lookup(b, r, FW_PRIVATE, false, -1);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(b, r, "ip daddr @private_ranges goto " FW_DROP_FROM);
	/* Entries by name (fw-names-nft.c): after the private ranges, so
	 * that a name answering a private address opens nothing. */
	fw_names_rule(b);
	fw_if_rule(b, FW_EGRESS_CHAIN, NFT_META_IIFNAME, FW_EGRESS_DENIED, NFT_GOTO, FW_DROP_FROM,
		   "iifname @egress_denied goto " FW_DROP_FROM);
	/* IPv6 never gets here (prerouting drops it); should it, it stops. */
	r = fw_rule_new(b, FW_EGRESS_CHAIN);
	fw_nfproto(b, r, NFPROTO_IPV6);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(b, r, "meta nfproto ipv6 goto " FW_DROP_FROM);
}

/* The host itself does not reach a quarantined node either. */
static void fw_chain_output(struct fw_batch *b)
{
	fw_chain_create(b, "output", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_FILTER);
	fw_if_rule(b, "output", NFT_META_OIFNAME, FW_QUARANTINED, NFT_GOTO, FW_DROP_TO,
		   "oifname @quarantined goto " FW_DROP_TO);
}

/* Outbound: nodes leave with the host's address. */
static void fw_chain_postrouting(struct fw_batch *b)
{
	struct nftnl_rule *r;

	fw_chain_create(b, "postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC);
	r = fw_rule_new(b, "postrouting");
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	fw_lookup(b, r, FW_SUBNETS, false, -1);
	fw_if_in(b, r, NFT_META_OIFNAME, FW_BRIDGES, true);
	fw_put(r, fw_expr(b, r, "masq"));
	fw_rule_add(b, r, "ip saddr @node_subnets oifname != @node_bridges masquerade");
}

/* The fixed part of the policy, chain by chain, rule by rule; the text is
 * what `nft list` shows. Nodes come and go as set elements only. */
void fw_policy(struct fw_batch *b)
{
	fw_chains_drop(b);
	fw_chain_egress(b);
	fw_chain_prerouting(b);
	fw_chain_publish(b);
	fw_chain_input(b);
	fw_chain_forward(b);
	fw_chain_output(b);
	fw_chain_postrouting(b);
}

/* The node's chain, made complete: created if absent, emptied, filled. */
static void fw_chain_flush(struct fw_batch *b, const char *chain)
{
	struct nftnl_rule *r = fw_rule_new(b, chain); /* no handle: every rule of the chain */
	struct nlmsghdr *nlh;

	if (r == NULL)
		return;
	nlh = fw_msg_begin(b, NFT_MSG_DELRULE, 0, FW_MSG_ROOM, "flush chain %s", chain);
	if (nlh != NULL) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		fw_msg_end(b, nlh, FW_MSG_ROOM);
	}
	nftnl_rule_free(r);
}

void fw_chain_fresh(struct fw_batch *b, const char *chain, bool new_table)
{
	if (new_table) {
		fw_chain_create(b, chain, NULL, 0, 0);
		return;
	}
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain, NULL, 0, 0, "make sure of");
	fw_chain_flush(b, chain);
}

void fw_node_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table)
{
	fw_chain_fresh(b, fi->fi_chain, new_table);
	fw_node_chain_rules(b, fi);
}
