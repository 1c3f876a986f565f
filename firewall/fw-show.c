/* fw-show: fw_show, the policy in force as the kernel holds it. What was
 * read is checked against the expected policy and turned into one record
 * per node (found by its bridge), with warnings; no change is made. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first difference between the fixed policy read and the expected one. */
static void fw_check_policy(const struct fw_read *rd, const struct fw_read *ex, struct fw_show *s)
{
	char *p = s->fs_policy_problem;
	size_t sz = sizeof(s->fs_policy_problem);

	s->fs_policy_ok = false;
	for (int i = 0; i < FW_NSETS; i++) {
		const struct fw_set_def *d = &fw_sets[i];
		const struct fw_rset *rs = NULL;

		for (size_t k = 0; k < rd->nsets; k++)
			if (strcmp(rd->sets[k].rs_name, d->sd_name) == 0)
				rs = &rd->sets[k];
		if (rs == NULL) {
			snprintf(p, sz, "set %s is missing", d->sd_name);
			return;
		}
		if (rs->rs_flags != d->sd_flags ||
		    rs->rs_key_type != fw_parts_type(d->sd_key, d->sd_nkey) ||
		    rs->rs_key_len != fw_parts_len(d->sd_key, d->sd_nkey) ||
		    rs->rs_data_type !=
			    (d->sd_verdict             ? NFT_DATA_VERDICT
				     : d->sd_ndata > 0 ? fw_parts_type(d->sd_data, d->sd_ndata)
						       : 0)) {
			snprintf(p, sz, "set %s is not of type %s", d->sd_name, d->sd_type);
			return;
		}
	}
	for (size_t i = 0; i < ex->nchains; i++) {
		const struct fw_rchain *want = &ex->chains[i], *got = NULL;
		size_t w = 0, g = 0;

		for (size_t k = 0; k < rd->nchains; k++)
			if (strcmp(rd->chains[k].rc_name, want->rc_name) == 0)
				got = &rd->chains[k];
		if (got == NULL) {
			snprintf(p, sz, "chain %s is missing", want->rc_name);
			return;
		}
		if (got->rc_base != want->rc_base || got->rc_hook != want->rc_hook ||
		    got->rc_prio != want->rc_prio || got->rc_policy != want->rc_policy ||
		    strcmp(got->rc_type, want->rc_type) != 0) {
			snprintf(p, sz, "chain %s is not %s", want->rc_name,
				 want->rc_base ? "the base chain fw_init makes"
					       : "a regular chain");
			return;
		}
		for (;;) {
			while (w < ex->nrules && strcmp(ex->rules[w].rr_chain, want->rc_name) != 0)
				w++;
			while (g < rd->nrules && strcmp(rd->rules[g].rr_chain, want->rc_name) != 0)
				g++;
			if (w == ex->nrules && g == rd->nrules)
				break;
			if (w == ex->nrules) {
				snprintf(p, sz, "chain %s has a rule fw_init does not make",
					 want->rc_name);
				return;
			}
			if (g == rd->nrules) {
				snprintf(p, sz, "chain %s lacks a rule of fw_init's",
					 want->rc_name);
				return;
			}
			if (strcmp(ex->rules[w].rr_sig, rd->rules[g].rr_sig) != 0) {
				snprintf(p, sz, "chain %s has a rule that differs from fw_init's",
					 want->rc_name);
				return;
			}
			w++;
			g++;
		}
	}
	s->fs_policy_ok = true;
}

static void fw_key_str(const struct fw_key *k, size_t off, enum fw_field f, char *buf, size_t size)
{
	if (off + fw_fields[f].fd_len > k->k_len) {
		snprintf(buf, size, "?");
		return;
	}
	if (f == FW_F_IFNAME) {
		snprintf(buf, size, "%.*s", IFNAMSIZ, (const char *)k->k_buf + off);
		return;
	}
	fw_fmt_field(f, k->k_buf + off, buf, size);
}

static uint32_t fw_key_u32(const struct fw_key *k, size_t off)
{
	uint32_t v = 0;

	if (off + 4 <= k->k_len)
		memcpy(&v, k->k_buf + off, 4);
	return ntohl(v);
}

static uint16_t fw_key_u16(const struct fw_key *k, size_t off)
{
	uint16_t v = 0;

	if (off + 2 <= k->k_len)
		memcpy(&v, k->k_buf + off, 2);
	return ntohs(v);
}

/* The node of that bridge, added when new (its name "?" until known). */
static struct fw_show_node *fw_show_node_of(struct fw_show *s, const char *bridge, bool *oom)
{
	struct fw_show_node *n;

	for (size_t i = 0; i < s->fs_nnodes; i++)
		if (strcmp(s->fs_nodes[i].sn_bridge, bridge) == 0)
			return &s->fs_nodes[i];
	n = fw_grow(&s->fs_nodes, &s->fs_nnodes, sizeof(*n), oom);
	if (n != NULL) {
		snprintf(n->sn_bridge, sizeof(n->sn_bridge), "%s", bridge);
		snprintf(n->sn_name, sizeof(n->sn_name), "?");
	}
	return n;
}

static bool fw_elem_has_bridge(const struct fw_read *rd, enum fw_set which, const char *bridge)
{
	for (size_t i = 0; i < rd->nelems[which]; i++) {
		char b[IFNAMSIZ + 1];

		fw_key_str(&rd->elems[which][i].re_key, 0, FW_F_IFNAME, b, sizeof(b));
		if (strcmp(b, bridge) == 0)
			return true;
	}
	return false;
}

/* "a.b.c.d/p" when first..last is one CIDR, else "first-last". */
static void fw_range_str(uint32_t first, uint32_t last, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN], z[INET_ADDRSTRLEN];

	for (unsigned p = 0; p <= 32; p++) {
		uint32_t m = fw_mask(p);

		if ((first & ~m) == 0 && (first | ~m) == last) {
			if (p == 32)
				snprintf(buf, size, "%s", fw_ntoa(first, a));
			else
				snprintf(buf, size, "%s/%u", fw_ntoa(first, a), p);
			return;
		}
	}
	snprintf(buf, size, "%s-%s", fw_ntoa(first, a), fw_ntoa(last, z));
}

static int fw_show_cmp(const void *a, const void *b)
{
	const struct fw_show_node *x = a, *y = b;
	int c = strcmp(x->sn_name, y->sn_name);

	return c != 0 ? c : strcmp(x->sn_bridge, y->sn_bridge);
}

/* Nodes are the bridges of node_bridges and node_drop, named by their
 * drop chain in node_drop. */
static void fw_show_find_nodes(const struct fw_read *rd, struct fw_show *s, bool *oom)
{
	char b[IFNAMSIZ + 1];
	struct fw_show_node *n;

	for (size_t i = 0; i < rd->nelems[FW_BRIDGES]; i++) {
		fw_key_str(&rd->elems[FW_BRIDGES][i].re_key, 0, FW_F_IFNAME, b, sizeof(b));
		fw_show_node_of(s, b, oom);
	}
	for (size_t i = 0; i < rd->nelems[FW_NODE_DROP]; i++) {
		const struct fw_relem *e = &rd->elems[FW_NODE_DROP][i];

		fw_key_str(&e->re_key, 0, FW_F_IFNAME, b, sizeof(b));
		n = fw_show_node_of(s, b, oom);
		if (n != NULL &&
		    strncmp(e->re_chain, FW_CHAIN_PREFIX, strlen(FW_CHAIN_PREFIX)) == 0)
			snprintf(n->sn_name, sizeof(n->sn_name), "%s",
				 e->re_chain + strlen(FW_CHAIN_PREFIX));
	}
}

/* The node's address and MAC in node_addrs (not the 0.0.0.0 one): how many
 * it has there, the last one in *ip. */
static size_t fw_show_node_addr(const struct fw_read *rd, struct fw_show_node *n, uint32_t *ip)
{
	char b[IFNAMSIZ + 1], a[INET_ADDRSTRLEN];
	size_t nip = 0;

	for (size_t k = 0; k < rd->nelems[FW_ADDRS]; k++) {
		const struct fw_key *key = &rd->elems[FW_ADDRS][k].re_key;

		fw_key_str(key, 0, FW_F_IFNAME, b, sizeof(b));
		if (strcmp(b, n->sn_bridge) != 0 || fw_key_u32(key, IFNAMSIZ) == 0)
			continue;
		*ip = fw_key_u32(key, IFNAMSIZ);
		nip++;
		snprintf(n->sn_ip, sizeof(n->sn_ip), "%s", fw_ntoa(*ip, a));
		fw_key_str(key, IFNAMSIZ + 4, FW_F_ETHER, n->sn_mac, sizeof(n->sn_mac));
	}
	return nip;
}

/* Its gateway: the address of its host services that is no broadcast. */
static void fw_show_node_gateway(const struct fw_read *rd, struct fw_show_node *n)
{
	char b[IFNAMSIZ + 1], a[INET_ADDRSTRLEN];

	for (size_t k = 0; k < rd->nelems[FW_SERVICES]; k++) {
		const struct fw_key *key = &rd->elems[FW_SERVICES][k].re_key;

		fw_key_str(key, 0, FW_F_IFNAME, b, sizeof(b));
		if (strcmp(b, n->sn_bridge) == 0 && fw_key_u32(key, IFNAMSIZ) != INADDR_BROADCAST)
			snprintf(n->sn_gateway, sizeof(n->sn_gateway), "%s",
				 fw_ntoa(fw_key_u32(key, IFNAMSIZ), a));
	}
}

/* node_subnets: [start, end) pairs; the one holding its address */
static void fw_show_node_subnet(const struct fw_read *rd, struct fw_show_node *n, uint32_t ip)
{
	for (size_t k = 0; k < rd->nelems[FW_SUBNETS]; k++) {
		const struct fw_relem *st = &rd->elems[FW_SUBNETS][k];
		uint32_t first = fw_key_u32(&st->re_key, 0), end = 0;

		if ((st->re_flags & NFT_SET_ELEM_INTERVAL_END) != 0 || first > ip)
			continue;
		for (size_t j = 0; j < rd->nelems[FW_SUBNETS]; j++) {
			const struct fw_relem *en = &rd->elems[FW_SUBNETS][j];
			uint32_t v = fw_key_u32(&en->re_key, 0);

			if ((en->re_flags & NFT_SET_ELEM_INTERVAL_END) != 0 && v > first &&
			    (end == 0 || v < end))
				end = v;
		}
		if (ip < end)
			fw_range_str(first, end - 1, n->sn_subnet, sizeof(n->sn_subnet));
	}
}

/* One allow entry: "CIDR" (or "first-last"), ":PORT/PROTO" when it has a
 * single protocol and port. */
static void fw_show_allow_str(const struct fw_relem *e, char *buf, size_t size)
{
	const struct fw_key *end = e->re_end.k_len != 0 ? &e->re_end : &e->re_key;
	uint8_t proto = e->re_key.k_len > IFNAMSIZ + 4 ? e->re_key.k_buf[IFNAMSIZ + 4] : 0;
	uint16_t port = fw_key_u16(&e->re_key, IFNAMSIZ + 8);
	char r[40];

	fw_range_str(fw_key_u32(&e->re_key, IFNAMSIZ), fw_key_u32(end, IFNAMSIZ), r, sizeof(r));
	if (proto != 0 && end->k_len > IFNAMSIZ + 4 && end->k_buf[IFNAMSIZ + 4] == proto &&
	    fw_key_u16(end, IFNAMSIZ + 8) == port)
		snprintf(buf, size, "%s:%u/%s", r, port, fw_proto_name(proto));
	else
		snprintf(buf, size, "%s", r);
}

/* Its entries by name: the comments of its sets names_BRIDGE_I (the
 * entry, truncated to the row's 47 characters). */
static void fw_show_node_names(const struct fw_read *rd, struct fw_show_node *n)
{
	char prefix[FW_NAME_SET_MAX];
	size_t len;

	snprintf(prefix, sizeof(prefix), "names_%s_", n->sn_bridge);
	len = strlen(prefix);
	for (size_t k = 0; k < rd->nsets; k++) {
		const struct fw_rset *rs = &rd->sets[k];

		if (strncmp(rs->rs_name, prefix, len) != 0 ||
		    strspn(rs->rs_name + len, "0123456789") != strlen(rs->rs_name + len) ||
		    rs->rs_comment[0] == '\0')
			continue;
		if (n->sn_nallow == FW_ALLOW_MAX) {
			n->sn_truncated = true;
			continue;
		}
		snprintf(n->sn_allow[n->sn_nallow], sizeof(n->sn_allow[0]), "%s", rs->rs_comment);
		n->sn_nallow++;
	}
}

/* Its egress allow-list, as CIDRs or ranges, with their ports. */
static void fw_show_node_allow(const struct fw_read *rd, struct fw_show_node *n)
{
	char b[IFNAMSIZ + 1];

	for (size_t k = 0; k < rd->nelems[FW_EGRESS_ALLOWED]; k++) {
		const struct fw_relem *e = &rd->elems[FW_EGRESS_ALLOWED][k];

		fw_key_str(&e->re_key, 0, FW_F_IFNAME, b, sizeof(b));
		if (strcmp(b, n->sn_bridge) != 0)
			continue;
		if (n->sn_nallow == FW_ALLOW_MAX) {
			n->sn_truncated = true;
			continue;
		}
		fw_show_allow_str(e, n->sn_allow[n->sn_nallow], sizeof(n->sn_allow[0]));
		n->sn_nallow++;
	}
	fw_show_node_names(rd, n);
}

/* Its publishes: the elements of published that go to its address. */
static void fw_show_node_published(const struct fw_read *rd, struct fw_show_node *n, uint32_t ip)
{
	for (size_t k = 0; k < rd->nelems[FW_PUBLISHED]; k++) {
		const struct fw_relem *e = &rd->elems[FW_PUBLISHED][k];
		struct fw_publish *p;

		if (fw_key_u32(&e->re_data, 0) != ip)
			continue;
		if (n->sn_npublished == FW_PUBLISH_MAX) {
			n->sn_truncated = true;
			continue;
		}
		p = &n->sn_published[n->sn_npublished++];
		p->fp_proto = e->re_key.k_len > 0 ? e->re_key.k_buf[0] : 0;
		p->fp_host_port = fw_key_u16(&e->re_key, 4);
		p->fp_node_port = fw_key_u16(&e->re_data, 4);
	}
}

/* Its bandwidth: the limits of the chain node_bw sends its bridge to. */
static void fw_show_node_bw(const struct fw_read *rd, struct fw_show_node *n)
{
	char b[IFNAMSIZ + 1], chain[sizeof(FW_BW_PREFIX) + FW_NAME_MAX];
	bool mapped = false;

	snprintf(chain, sizeof(chain), FW_BW_PREFIX "%s", n->sn_name);
	for (size_t k = 0; k < rd->nelems[FW_NODE_BW]; k++) {
		const struct fw_relem *e = &rd->elems[FW_NODE_BW][k];

		fw_key_str(&e->re_key, 0, FW_F_IFNAME, b, sizeof(b));
		mapped |= strcmp(b, n->sn_bridge) == 0 && strcmp(e->re_chain, chain) == 0;
	}
	for (size_t k = 0; mapped && k < rd->nrules; k++) {
		const struct fw_rrule *r = &rd->rules[k];

		if (strcmp(r->rr_chain, chain) != 0 || r->rr_limit_bps == 0)
			continue;
		if (r->rr_limit_if == NFT_META_IIFNAME)
			n->sn_net_out_bps = r->rr_limit_bps;
		else if (r->rr_limit_if == NFT_META_OIFNAME)
			n->sn_net_in_bps = r->rr_limit_bps;
	}
}

/* Everything else is looked up by the node's bridge (or, for publishes and
 * its subnet, by its address, when it has one). */
static void fw_show_nodes(const struct fw_read *rd, struct fw_show *s, bool *oom)
{
	fw_show_find_nodes(rd, s, oom);
	for (size_t i = 0; i < s->fs_nnodes; i++) {
		struct fw_show_node *n = &s->fs_nodes[i];
		uint32_t ip = 0;
		size_t nip = fw_show_node_addr(rd, n, &ip);

		n->sn_antispoof = nip == 1;
		fw_show_node_gateway(rd, n);
		if (nip > 0)
			fw_show_node_subnet(rd, n, ip);
		n->sn_quarantined = fw_elem_has_bridge(rd, FW_QUARANTINED, n->sn_bridge);
		n->sn_egress_deny = fw_elem_has_bridge(rd, FW_EGRESS_DENIED, n->sn_bridge);
		fw_show_node_allow(rd, n);
		fw_show_node_bw(rd, n);
		if (nip > 0)
			fw_show_node_published(rd, n, ip);
	}
}

static int fw_pub_cmp(const void *a, const void *b)
{
	const struct fw_publish *x = a, *y = b;

	if (x->fp_proto != y->fp_proto)
		return x->fp_proto - y->fp_proto;
	return (int)x->fp_host_port - (int)y->fp_host_port;
}

static int fw_str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Per node: drop chain and counters, isolation; publishes to no node. */
static int fw_show_check_nodes(const struct fw_read *rd, struct fw_show *s)
{
	char a[INET_ADDRSTRLEN];

	for (size_t i = 0; i < s->fs_nnodes; i++) {
		struct fw_show_node *n = &s->fs_nodes[i];
		struct fw_read ex = { 0 };
		char chain[sizeof(FW_CHAIN_PREFIX) + FW_NAME_MAX];
		size_t w = 0;
		bool chain_ok = strcmp(n->sn_name, "?") != 0;

		snprintf(chain, sizeof(chain), FW_CHAIN_PREFIX "%s", n->sn_name);
		if (chain_ok && fw_expected(&ex, n->sn_name) < 0) {
			fw_read_free(&ex);
			return -ENOMEM;
		}
		for (size_t k = 0; chain_ok && k < rd->nrules; k++) {
			if (strcmp(rd->rules[k].rr_chain, chain) != 0)
				continue;
			if (w >= ex.nrules || strcmp(rd->rules[k].rr_sig, ex.rules[w].rr_sig) != 0)
				chain_ok = false;
			if (strstr(rd->rules[k].rr_sig, "[counter") != NULL) {
				n->sn_drop_packets = rd->rules[k].rr_pkts;
				n->sn_drop_bytes = rd->rules[k].rr_bytes;
			}
			w++;
		}
		if (w != ex.nrules)
			chain_ok = false;
		fw_read_free(&ex);
		n->sn_isolated = chain_ok && s->fs_policy_ok && n->sn_subnet[0] != '\0' &&
			n->sn_gateway[0] != '\0' &&
			fw_elem_has_bridge(rd, FW_BRIDGES, n->sn_bridge);
		qsort(n->sn_published, n->sn_npublished, sizeof(n->sn_published[0]), fw_pub_cmp);
		qsort(n->sn_allow, n->sn_nallow, sizeof(n->sn_allow[0]), fw_str_cmp);
	}
	for (size_t k = 0; k < rd->nelems[FW_PUBLISHED]; k++) {
		const struct fw_relem *e = &rd->elems[FW_PUBLISHED][k];
		uint32_t ip = fw_key_u32(&e->re_data, 0);
		bool found = false;

		fw_ntoa(ip, a);
		for (size_t i = 0; i < s->fs_nnodes; i++)
			found |= strcmp(s->fs_nodes[i].sn_ip, a) == 0;
		if (!found)
			fw_warn(s,
				"host port %u/%s is published to %s:%u, which is no node's address (node %s)",
				fw_key_u16(&e->re_key, 4), fw_proto_name(e->re_key.k_buf[0]), a,
				fw_key_u16(&e->re_data, 4),
				e->re_comment[0] != '\0' ? e->re_comment : "?");
	}
	qsort(s->fs_nodes, s->fs_nnodes, sizeof(s->fs_nodes[0]), fw_show_cmp);
	return 0;
}

void fw_show_free(struct fw_show *s)
{
	if (s == NULL)
		return;
	free(s->fs_nodes);
	free(s);
}

int fw_show(const char *node, struct fw_show **out, struct dock_err *err)
{
	struct fw_read rd = { 0 }, ex = { 0 };
	struct fw_show *s = calloc(1, sizeof(*s));
	bool oom = false;
	FILE *f;
	int r;

	*out = NULL;
	if (s == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	rd.show = s;
	r = fw_read_all(&rd, err);
	if (r < 0)
		goto out;
	f = fopen("/proc/sys/net/ipv4/ip_forward", "re");
	if (f != NULL) {
		if (fgetc(f) == '0')
			fw_warn(s,
				"net.ipv4.ip_forward is 0: nodes have no outbound traffic and published ports do not answer");
		fclose(f);
	}
	s->fs_table = rd.table;
	if (!rd.table) {
		snprintf(s->fs_policy_problem, sizeof(s->fs_policy_problem),
			 "table inet %s is missing: no node is isolated", FW_TABLE);
	} else {
		r = fw_expected(&ex, NULL);
		if (r < 0) {
			err_set(err, 500, ENOMEM, "firewall: out of memory");
			goto out;
		}
		fw_check_policy(&rd, &ex, s);
		fw_show_nodes(&rd, s, &oom);
		if (oom || fw_show_check_nodes(&rd, s) < 0) {
			r = err_set(err, 500, ENOMEM, "firewall: out of memory");
			goto out;
		}
	}
	if (node != NULL) {
		size_t keep = s->fs_nnodes;

		for (size_t i = 0; i < s->fs_nnodes; i++)
			if (strcmp(s->fs_nodes[i].sn_name, node) == 0)
				keep = i;
		if (keep == s->fs_nnodes) {
			r = err_set(err, 404, ENOENT, "firewall: node %s is not in table inet %s",
				    node, FW_TABLE);
			goto out;
		}
		s->fs_nodes[0] = s->fs_nodes[keep];
		s->fs_nnodes = 1;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	fw_read_free(&rd);
	fw_read_free(&ex);
	fw_show_free(s);
	return r;
}
