/* fw-flows: node-to-node flows. Set node_flows holds one element
 * `from-bridge . to-bridge . proto . port` per flow; two rules in forward,
 * before the node-to-node drop, look a packet up in it: what a node sends
 * to another node's flow port, and the replies (conntrack's reply
 * direction, whose source port is the flow's port: no NAT between nodes).
 * A flow change is a few elements in one batch, whatever the number of
 * nodes and flows. */
#include "fw-int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

/* ff_from and ff_to joined for the element's comment, "FROM>TO". */
#define FW_FLOW_LABEL (2 * FW_NAME_MAX + 2)

static bool fw_flow_word(const char *s, size_t max, bool bridge)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			(!bridge && ((c >= 'A' && c <= 'Z') || c == '.' || c == '_'));

		if (i == max || !ok)
			return false;
	}
	return true;
}

int fw_flow_check(const struct fw_flow *f, struct dock_err *err)
{
	if (!fw_flow_word(f->ff_from, FW_NAME_MAX, false) ||
	    !fw_flow_word(f->ff_to, FW_NAME_MAX, false))
		return err_set(err, 400, EINVAL, "flow: node names must be 1..%d of [A-Za-z0-9._-]",
			       FW_NAME_MAX);
	if (!fw_flow_word(f->ff_from_bridge, FW_BRIDGE_MAX, true) ||
	    !fw_flow_word(f->ff_to_bridge, FW_BRIDGE_MAX, true))
		return err_set(err, 400, EINVAL,
			       "flow %s -> %s: bridges must be 1..%d of [a-z0-9-]", f->ff_from,
			       f->ff_to, FW_BRIDGE_MAX);
	if (strcmp(f->ff_from_bridge, f->ff_to_bridge) == 0)
		return err_set(err, 400, EINVAL, "flow %s -> %s: a node's flow to itself",
			       f->ff_from, f->ff_to);
	if (f->ff_proto != IPPROTO_TCP && f->ff_proto != IPPROTO_UDP)
		return err_set(err, 400, EINVAL, "flow %s -> %s: protocol %u is not tcp or udp",
			       f->ff_from, f->ff_to, f->ff_proto);
	if (f->ff_port == 0)
		return err_set(err, 400, EINVAL, "flow %s -> %s: port 0", f->ff_from, f->ff_to);
	return 0;
}

/* The elements of flows f[0..n); labels[i] holds flow i's comment. */
static void fw_flow_elems(struct fw_batch *b, const struct fw_flow *f, size_t n,
			  char (*labels)[FW_FLOW_LABEL], struct fw_els *out)
{
	for (size_t i = 0; i < n; i++) {
		char from[IFNAMSIZ] = { 0 }, to[IFNAMSIZ] = { 0 };
		struct fw_el *e = fw_el_push(b, out, f[i].ff_from);

		if (e == NULL)
			return;
		snprintf(from, sizeof(from), "%s", f[i].ff_from_bridge);
		snprintf(to, sizeof(to), "%s", f[i].ff_to_bridge);
		fw_key_ifname(&e->e_key, from);
		fw_key_ifname(&e->e_key, to);
		fw_key_proto(&e->e_key, f[i].ff_proto);
		fw_key_port(&e->e_key, f[i].ff_port);
		snprintf(labels[i], FW_FLOW_LABEL, "%s>%s", f[i].ff_from, f[i].ff_to);
		e->e_comment = labels[i];
	}
}

int fw_flows_set(const struct fw_flow *old, size_t nold, const struct fw_flow *add, size_t nadd,
		 struct dock_err *err)
{
	char(*labels)[FW_FLOW_LABEL] = NULL;
	struct fw_els rm = { 0 }, in = { 0 };
	struct fw_batch b = { 0 };
	int r = 0;

	if (nold > FW_FLOWS_MAX || nadd > FW_FLOWS_MAX)
		return err_set(err, 400, E2BIG, "firewall: more than %d flows in one change",
			       FW_FLOWS_MAX);
	if ((nold > 0 && old == NULL) || (nadd > 0 && add == NULL))
		return err_set(err, 400, EINVAL, "firewall: flows counted but missing");
	for (size_t i = 0; i < nold && r == 0; i++)
		r = fw_flow_check(&old[i], err);
	for (size_t i = 0; i < nadd && r == 0; i++)
		r = fw_flow_check(&add[i], err);
	if (r < 0)
		return r;
	labels = calloc(nold + nadd + 1, sizeof(*labels));
	if (labels == NULL)
		return err_set(err, 500, ENOMEM, "firewall: no memory for %zu flows", nold + nadd);
	fw_batch_begin(&b);
	fw_flow_elems(&b, old, nold, labels, &rm);
	fw_flow_elems(&b, add, nadd, labels + nold, &in);
	/* remove: add, then delete (absence is no error); then add */
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_FLOWS, false, rm.v, rm.n);
	fw_elems(&b, NFT_MSG_DELSETELEM, 0, "remove", FW_FLOWS, false, rm.v, rm.n);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_FLOWS, false, in.v, in.n);
	if (rm.n == 0 && in.n == 0)
		fw_table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE, false,
			     "make sure table inet " FW_TABLE " exists");
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	free(rm.v);
	free(in.v);
	free(labels);
	return r;
}

/* `ct direction reply` */
static void flows_reply(struct fw_batch *b, struct nftnl_rule *r)
{
	uint8_t reply = 1; /* IP_CT_DIR_REPLY */
	struct nftnl_expr *e = fw_expr(b, r, "ct");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_put(r, e);
	fw_cmp(b, r, NFT_CMP_EQ, &reply, sizeof(reply));
}

/* The node_flows key into registers 1..3 and 9: the interface the flow
 * comes from, the one it goes to, the protocol and the port at PORT_OFF of
 * the transport header (the flow's dport, or its reply's sport). */
static void flows_key(struct fw_batch *b, struct nftnl_rule *r, uint32_t from_if, uint32_t to_if,
		      uint32_t port_off)
{
	fw_meta(b, r, from_if, NFT_REG_1);
	fw_meta(b, r, to_if, NFT_REG_2);
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG_3);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, port_off, 2, NFT_REG32_09);
	fw_lookup(b, r, FW_FLOWS, false, -1);
	fw_verdict(b, r, NF_ACCEPT, NULL);
}

/* Two rules: a flow's packets and its replies. ICMP errors about a
 * flow's connections are not let through: nft cannot key node_flows on
 * conntrack's port in a concatenation, and a rule on the bridges alone
 * would take any error a node forges about another node's connections
 * (the kernel relates an ICMP error by its embedded header, not by its
 * sender). */
void fw_flows_rules(struct fw_batch *b)
{
	struct nftnl_rule *r;

	r = fw_rule_new(b, "forward");
	flows_key(b, r, NFT_META_IIFNAME, NFT_META_OIFNAME, 2); /* th dport */
	fw_rule_add(b, r, "iifname . oifname . meta l4proto . th dport @node_flows accept");

	r = fw_rule_new(b, "forward");
	flows_reply(b, r);
	flows_key(b, r, NFT_META_OIFNAME, NFT_META_IIFNAME, 0); /* th sport */
	fw_rule_add(
		b, r,
		"ct direction reply oifname . iifname . meta l4proto . th sport @node_flows accept");
}
