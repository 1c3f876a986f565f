/* fw-elems: set elements. A node's elements of each set (its bridge,
 * subnet, address and MAC, host services, egress, publishes, drop chain),
 * and the messages that add or remove them, at most FW_CHUNK_ELEMS each. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

static void fw_key_put(struct fw_key *k, enum fw_field f, const void *v)
{
	const struct fw_field_def *d = &fw_fields[f];

	if (k->k_len + d->fd_len > FW_KEY_MAX)
		abort(); /* the set definitions above bound every key */
	memcpy(k->k_buf + k->k_len, v, d->fd_size);
	k->k_len += d->fd_len; /* the buffer is zeroed: padding stays zero */
}

void fw_key_ifname(struct fw_key *k, const char *bridge)
{
	fw_key_put(k, FW_F_IFNAME, bridge); /* fi_bridge: IFNAMSIZ bytes, zero-padded */
}

static void fw_key_ipv4(struct fw_key *k, uint32_t host)
{
	uint32_t be = htonl(host);

	fw_key_put(k, FW_F_IPV4, &be);
}

void fw_key_proto(struct fw_key *k, uint8_t proto)
{
	fw_key_put(k, FW_F_PROTO, &proto);
}

void fw_key_port(struct fw_key *k, uint16_t port)
{
	uint16_t be = htons(port);

	fw_key_put(k, FW_F_PORT, &be);
}

/* A new zeroed element at the end of els, whose owner (for messages) is
 * `who`; NULL (and the batch failed) without memory. */
struct fw_el *fw_el_push(struct fw_batch *b, struct fw_els *els, const char *who)
{
	struct fw_el *e;

	if (els->n == els->cap) {
		size_t cap = els->cap != 0 ? els->cap * 2 : 16;

		e = realloc(els->v, cap * sizeof(*e));
		if (e == NULL) {
			fw_batch_fail(b, ENOMEM);
			return NULL;
		}
		els->v = e;
		els->cap = cap;
	}
	e = &els->v[els->n++];
	memset(e, 0, sizeof(*e));
	e->e_node = who;
	return e;
}

static struct fw_el *fw_el_new(struct fw_batch *b, struct fw_els *els, const struct fw_info *fi)
{
	return fw_el_push(b, els, fi->fi_name);
}

/* The host's services a node may reach: DNS on its gateway, DHCP there and
 * as a broadcast (a client without an address yet). */
static const struct fw_service {
	bool sv_broadcast;
	uint8_t sv_proto;
	uint16_t sv_port;
} fw_services[] = {
	{ false, IPPROTO_UDP, 53 },
	{ false, IPPROTO_TCP, 53 },
	{ false, IPPROTO_UDP, 67 },
	{ true, IPPROTO_UDP, 67 },
};

void fw_el_publish(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
		   const struct fw_publish *p)
{
	struct fw_el *e = fw_el_new(b, out, fi);

	if (e == NULL)
		return;
	fw_key_proto(&e->e_key, p->fp_proto);
	fw_key_port(&e->e_key, p->fp_host_port);
	fw_key_ipv4(&e->e_data, fi->fi_ip);
	fw_key_port(&e->e_data, p->fp_node_port);
	e->e_comment = fi->fi_name; /* who holds the host port, for a 409 and fw_show */
}

void fw_el_published_to(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
			const struct fw_publish *p)
{
	struct fw_el *e = fw_el_new(b, out, fi);

	if (e == NULL)
		return;
	fw_key_ipv4(&e->e_key, fi->fi_ip);
	fw_key_proto(&e->e_key, p->fp_proto);
	fw_key_port(&e->e_key, p->fp_node_port);
}

/* Whether publish i of the node is the first one to its node port (the
 * forward accept is per node port, shared by host ports that go there). */
static bool fw_first_to_port(const struct fw_publish *pub, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (pub[j].fp_proto == pub[i].fp_proto &&
		    pub[j].fp_node_port == pub[i].fp_node_port)
			return false;
	return true;
}

static void fw_el_allow(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
			const struct fw_range *r)
{
	struct fw_el *e = fw_el_new(b, out, fi);

	if (e == NULL)
		return;
	/* an entry without a port: every protocol, every port */
	fw_key_ifname(&e->e_key, fi->fi_bridge);
	fw_key_ipv4(&e->e_key, r->r_first);
	fw_key_proto(&e->e_key, r->r_proto);
	fw_key_port(&e->e_key, r->r_port);
	fw_key_ifname(&e->e_end, fi->fi_bridge);
	fw_key_ipv4(&e->e_end, r->r_last);
	fw_key_proto(&e->e_end, r->r_proto != 0 ? r->r_proto : UINT8_MAX);
	fw_key_port(&e->e_end, r->r_proto != 0 ? r->r_port : UINT16_MAX);
}

/* The node's element of a set keyed by its bridge alone (a verdict map's
 * goes to its chain), when it has one (or, with all, whatever it has). */
static void fw_el_bridge(struct fw_batch *b, const struct fw_info *fi, enum fw_set which, bool all,
			 struct fw_els *out)
{
	struct fw_el *e;
	bool has = which == FW_NODE_BW      ? fi->fi_in_bps != 0 || fi->fi_out_bps != 0
		: which == FW_NODE_NAMES    ? fi->fi_nnames > 0
		: which == FW_QUARANTINED   ? fi->fi_quarantined
		: which == FW_EGRESS_DENIED ? fi->fi_deny
					    : true;

	if (!has && !all)
		return;
	e = fw_el_new(b, out, fi);
	if (e == NULL)
		return;
	fw_key_ifname(&e->e_key, fi->fi_bridge);
	e->e_chain = which == FW_NODE_DROP ? fi->fi_chain
		: which == FW_NODE_BW      ? fi->fi_bw_chain
		: which == FW_NODE_NAMES   ? fi->fi_names_chain
					   : NULL;
	/* a jump: what the chain does not accept goes on in the caller */
	e->e_jump = which == FW_NODE_BW || which == FW_NODE_NAMES;
}

/* Append the node's elements of set `which`. With `all`, also the optional
 * ones it may hold whatever its record says (removal: add, then delete). */
void fw_node_elems(struct fw_batch *b, const struct fw_info *fi, enum fw_set which, bool all,
		   struct fw_els *out)
{
	struct fw_el *e;

	switch (which) {
	case FW_BRIDGES:
	case FW_QUARANTINED:
	case FW_EGRESS_DENIED:
	case FW_NODE_DROP:
	case FW_NODE_BW:
	case FW_NODE_NAMES:
		fw_el_bridge(b, fi, which, all, out);
		break;
	case FW_SUBNETS:
		e = fw_el_new(b, out, fi);
		if (e != NULL)
			fw_key_ipv4(&e->e_key, fi->fi_first);
		e = fw_el_new(b, out, fi);
		if (e != NULL) {
			fw_key_ipv4(&e->e_key, fi->fi_end);
			e->e_flags = NFT_SET_ELEM_INTERVAL_END;
		}
		break;
	case FW_ADDRS:
		/* Its address, and no address yet (DHCP discover). */
		for (int i = 0; i < 2; i++) {
			e = fw_el_new(b, out, fi);
			if (e == NULL)
				break;
			fw_key_ifname(&e->e_key, fi->fi_bridge);
			fw_key_ipv4(&e->e_key, i == 0 ? fi->fi_ip : 0);
			fw_key_put(&e->e_key, FW_F_ETHER, fi->fi_mac);
		}
		break;
	case FW_SERVICES:
		for (size_t i = 0; i < sizeof(fw_services) / sizeof(fw_services[0]); i++) {
			e = fw_el_new(b, out, fi);
			if (e == NULL)
				break;
			fw_key_ifname(&e->e_key, fi->fi_bridge);
			fw_key_ipv4(&e->e_key,
				    fw_services[i].sv_broadcast ? INADDR_BROADCAST
								: fi->fi_gateway);
			fw_key_proto(&e->e_key, fw_services[i].sv_proto);
			fw_key_port(&e->e_key, fw_services[i].sv_port);
		}
		break;
	case FW_EGRESS_ALLOWED:
		for (size_t i = 0; i < fi->fi_nallow; i++)
			fw_el_allow(b, out, fi, &fi->fi_allow[i]);
		break;
	case FW_PUBLISHED:
		for (size_t i = 0; i < fi->fi_npub; i++)
			fw_el_publish(b, out, fi, &fi->fi_pub[i]);
		break;
	case FW_PUBLISHED_TO:
		for (size_t i = 0; i < fi->fi_npub; i++)
			if (fw_first_to_port(fi->fi_pub, i))
				fw_el_published_to(b, out, fi, &fi->fi_pub[i]);
		break;
	case FW_PRIVATE: /* the dock's, not a node's: fw_init fills it */
	case FW_FLOWS:   /* a lab's, between two nodes: fw_flows_set */
	case FW_NSETS:
		break;
	}
}

static void fw_elem_add(struct fw_batch *b, struct nftnl_set *s, const struct fw_el *el)
{
	struct nftnl_udata_buf *ud = NULL;
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (e == NULL) {
		fw_batch_fail(b, ENOMEM);
		return;
	}
	fw_oom_if(b, nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->e_key.k_buf, el->e_key.k_len));
	if (el->e_end.k_len != 0)
		fw_oom_if(b,
			  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, el->e_end.k_buf,
					     el->e_end.k_len));
	if (el->e_data.k_len != 0)
		fw_oom_if(b,
			  nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, el->e_data.k_buf,
					     el->e_data.k_len));
	if (el->e_chain != NULL) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
				       (uint32_t)(el->e_jump ? NFT_JUMP : NFT_GOTO));
		fw_oom_if(b, nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, el->e_chain));
	}
	if (el->e_flags != 0)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, el->e_flags);
	if (el->e_comment != NULL) {
		ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
		if (ud == NULL ||
		    !nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_ELEM_COMMENT, el->e_comment))
			fw_batch_fail(b, ENOMEM);
		else
			fw_oom_if(b,
				  nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA,
						     nftnl_udata_buf_data(ud),
						     nftnl_udata_buf_len(ud)));
		nftnl_udata_buf_free(ud);
	}
	nftnl_set_elem_add(s, e);
}

/* Messages of type NEWSETELEM or DELSETELEM carrying els[0..n), at most
 * FW_CHUNK_ELEMS each. `what` says what they do ("add", "remove"); each
 * message names the nodes whose elements it carries. */
void fw_elems(struct fw_batch *b, uint16_t type, uint16_t flags, const char *verb,
	      enum fw_set which, bool set_in_batch, const struct fw_el *els, size_t n)
{
	const char *prep = strcmp(verb, "add") == 0 ? "to" : "from";

	for (size_t i = 0; i < n && b->fb_errno == 0; i += FW_CHUNK_ELEMS) {
		size_t k = n - i < FW_CHUNK_ELEMS ? n - i : FW_CHUNK_ELEMS;
		size_t room = FW_MSG_ROOM + k * FW_ELEM_ROOM;
		const struct fw_el *e = &els[i], *last = &els[i + k - 1];
		struct nftnl_set *s = fw_set_ref(b, which, set_in_batch);
		struct nlmsghdr *nlh;

		if (s == NULL)
			return;
		for (size_t j = 0; j < k; j++)
			fw_elem_add(b, s, &e[j]);
		if (strcmp(e->e_node, last->e_node) == 0)
			nlh = fw_msg_begin(b, type, flags, room, "%s node %s's elements %s set %s",
					   verb, e->e_node, prep, fw_sets[which].sd_name);
		else
			nlh = fw_msg_begin(b, type, flags, room,
					   "%s %zu elements of nodes %s..%s %s set %s", verb, k,
					   e->e_node, last->e_node, prep, fw_sets[which].sd_name);
		if (nlh != NULL) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			fw_msg_end(b, nlh, room);
		}
		nftnl_set_free(s);
	}
}

/* The node's elements of one set: added (re-adding is a no-op), or removed
 * (added, then deleted: deleting an absent element fails with ENOENT, and
 * this makes absence a no-op without a read before the write, where
 * NFT_MSG_DESTROYSETELEM would need Linux 6.3). */
void fw_node_set(struct fw_batch *b, const struct fw_info *fi, enum fw_set which, bool remove)
{
	struct fw_els els = { 0 };
	enum fw_kind kind = which == FW_SUBNETS ? FW_K_SUBNET
		: which == FW_NODE_DROP         ? FW_K_BRIDGE
						: FW_K_PLAIN;

	fw_node_elems(b, fi, which, remove, &els);
	if (els.n > 0) {
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, remove ? "remove" : "add", which,
			 false, els.v, els.n);
		fw_msg_kind(b, kind, fi, NULL);
		if (remove)
			fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", which, false, els.v, els.n);
	}
	free(els.v);
}
