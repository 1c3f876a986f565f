/* fw-names-nft: egress allow entries by name in table inet isc. Entry i of
 * the node on bridge B has set names_B_I (ipv4_addr, flags timeout): the
 * node's resolver (libvirt's dnsmasq, nftset=) pins each answer into it
 * for FW_NAME_TIMEOUT_MS. Chain names-B holds one rule per entry,
 * `ip daddr @names_B_I tcp dport PORT accept`; chain egress jumps to it
 * through verdict map node_names, after the private ranges' drop (a name
 * answering a private address opens nothing: DNS rebinding) and before
 * egress_denied's. A node without entries by name has none of these. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

/* `iifname vmap @node_names`, in chain egress */
void fw_names_rule(struct fw_batch *b)
{
	struct nftnl_rule *r = fw_rule_new(b, FW_EGRESS_CHAIN);

	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_lookup(b, r, FW_NODE_NAMES, false, NFT_REG_VERDICT);
	fw_rule_add(b, r, "iifname vmap @node_names");
}

/* Set names_BRIDGE_I: created (excl), made sure of, or deleted. Its
 * comment is the entry, for fw show. */
static void fw_names_set_msg(struct fw_batch *b, const struct fw_info *fi, size_t i, uint16_t type,
			     uint16_t flags, const char *verb)
{
	char name[FW_NAME_SET_MAX], text[FW_NAME_COMMENT_MAX + 1];
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(FW_NAME_COMMENT_MAX + 32);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (fw_name_set(fi->fi_bridge, i, name, sizeof(name)) < 0)
		fw_batch_fail(b, ENAMETOOLONG);
	fw_name_format(&fi->fi_names[i], text, sizeof(text));
	if (s == NULL || ud == NULL ||
	    !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, FW_BYTEORDER_BIG) ||
	    !nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_COMMENT, text))
		fw_batch_fail(b, ENOMEM);
	if (b->fb_errno == 0) {
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		fw_oom_if(b, nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE));
		fw_oom_if(b, nftnl_set_set_str(s, NFTNL_SET_NAME, name));
		if (type == NFT_MSG_NEWSET) {
			/* the kernel wants an id; the message's index is unique in
			 * the batch and above fw_set_id's (nothing refers to it) */
			nftnl_set_set_u32(s, NFTNL_SET_ID, FW_NSETS + 1 + b->fb_nmsgs);
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
			nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, FW_TYPE_IPADDR);
			nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
			nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FW_NAME_TIMEOUT_MS);
			fw_oom_if(b,
				  nftnl_set_set_data(s, NFTNL_SET_USERDATA,
						     nftnl_udata_buf_data(ud),
						     nftnl_udata_buf_len(ud)));
		}
		nlh = fw_msg_begin(b, type, flags, FW_MSG_ROOM + FW_NAME_COMMENT_MAX, "%s set %s",
				   verb, name);
		if (nlh != NULL) {
			nftnl_set_nlmsg_build_payload(nlh, s);
			fw_msg_end(b, nlh, FW_MSG_ROOM + FW_NAME_COMMENT_MAX);
		}
	}
	if (ud != NULL)
		nftnl_udata_buf_free(ud);
	if (s != NULL)
		nftnl_set_free(s);
}

/* `ip daddr @names_BRIDGE_I PROTO dport PORT accept` */
static void fw_names_entry_rule(struct fw_batch *b, const struct fw_info *fi, size_t i)
{
	const struct fw_name_entry *e = &fi->fi_names[i];
	struct nftnl_rule *r = fw_rule_new(b, fi->fi_names_chain);
	char set[FW_NAME_SET_MAX], text[FW_WHAT_MAX];
	uint16_t port = htons(e->ne_port);

	if (fw_name_set(fi->fi_bridge, i, set, sizeof(set)) < 0)
		fw_batch_fail(b, ENAMETOOLONG);
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1); /* ip daddr */
	fw_lookup_set(b, r, set, 0, NFT_REG_1, false, -1);
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG_1);
	fw_cmp(b, r, NFT_CMP_EQ, &e->ne_proto, sizeof(e->ne_proto));
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1); /* th dport */
	fw_cmp(b, r, NFT_CMP_EQ, &port, sizeof(port));
	fw_verdict(b, r, NF_ACCEPT, NULL);
	snprintf(text, sizeof(text), "ip daddr @%s %s dport %u accept", set,
		 fw_proto_name(e->ne_proto), e->ne_port);
	fw_rule_add(b, r, text);
}

void fw_names_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table)
{
	if (fi->fi_nnames == 0)
		return;
	/* the sets first: the chain's rules look them up */
	for (size_t i = 0; i < fi->fi_nnames; i++)
		fw_names_set_msg(b, fi, i, NFT_MSG_NEWSET,
				 new_table ? NLM_F_CREATE | NLM_F_EXCL : NLM_F_CREATE,
				 new_table ? "create" : "make sure of");
	fw_chain_fresh(b, fi->fi_names_chain, new_table);
	for (size_t i = 0; i < fi->fi_nnames; i++)
		fw_names_entry_rule(b, fi, i);
}

void fw_names_remove(struct fw_batch *b, const struct fw_info *fi)
{
	/* names never change on a node (fw_node_update refuses it): its
	 * record's entries are the sets the table may hold */
	if (fi->fi_nnames == 0)
		return;
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, fi->fi_names_chain, NULL, 0, 0,
		     "make sure of");
	fw_node_set(b, fi, FW_NODE_NAMES, true);
	/* the chain with its rules, then the sets nothing looks up any more */
	fw_chain_msg(b, NFT_MSG_DELCHAIN, 0, fi->fi_names_chain, NULL, 0, 0, "delete");
	for (size_t i = 0; i < fi->fi_nnames; i++) {
		fw_names_set_msg(b, fi, i, NFT_MSG_NEWSET, NLM_F_CREATE, "make sure of");
		fw_names_set_msg(b, fi, i, NFT_MSG_DELSET, 0, "delete");
	}
}
