/* fw-sets: the sets and maps of table inet isc, as data (their keys, data
 * and flags, as nft itself stores them so that `nft list` prints them), and
 * the messages that create them. Every other sibling reads these tables. */
#include "fw-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

const struct fw_field_def fw_fields[] = {
	[FW_F_IFNAME] = { FW_TYPE_IFNAME, IFNAMSIZ, IFNAMSIZ },
	[FW_F_IPV4] = { FW_TYPE_IPADDR, 4, 4 },
	[FW_F_ETHER] = { FW_TYPE_ETHERADDR, 6, 8 },
	[FW_F_PROTO] = { FW_TYPE_INET_PROTOCOL, 1, 4 },
	[FW_F_PORT] = { FW_TYPE_INET_SERVICE, 2, 4 },
};

const struct fw_set_def fw_sets[FW_NSETS] = {
	[FW_BRIDGES] = { "node_bridges", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_SUBNETS] = { "node_subnets",
			 NFT_SET_INTERVAL,
			 1,
			 { FW_F_IPV4 },
			 0,
			 { 0 },
			 false,
			 "ipv4_addr" },
	[FW_ADDRS] = { "node_addrs",
		       0,
		       3,
		       { FW_F_IFNAME, FW_F_IPV4, FW_F_ETHER },
		       0,
		       { 0 },
		       false,
		       "ifname . ipv4_addr . ether_addr" },
	[FW_SERVICES] = { "host_services",
			  0,
			  4,
			  { FW_F_IFNAME, FW_F_IPV4, FW_F_PROTO, FW_F_PORT },
			  0,
			  { 0 },
			  false,
			  "ifname . ipv4_addr . inet_proto . inet_service" },
	[FW_QUARANTINED] = { "quarantined", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_EGRESS_DENIED] = { "egress_denied", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_EGRESS_ALLOWED] = { "egress_allowed",
				NFT_SET_INTERVAL | NFT_SET_CONCAT,
				4,
				{ FW_F_IFNAME, FW_F_IPV4, FW_F_PROTO, FW_F_PORT },
				0,
				{ 0 },
				false,
				"ifname . ipv4_addr . inet_proto . inet_service" },
	[FW_PUBLISHED] = { "published",
			   NFT_SET_MAP,
			   2,
			   { FW_F_PROTO, FW_F_PORT },
			   2,
			   { FW_F_IPV4, FW_F_PORT },
			   false,
			   "inet_proto . inet_service : ipv4_addr . inet_service" },
	[FW_PUBLISHED_TO] = { "published_to",
			      0,
			      3,
			      { FW_F_IPV4, FW_F_PROTO, FW_F_PORT },
			      0,
			      { 0 },
			      false,
			      "ipv4_addr . inet_proto . inet_service" },
	[FW_NODE_DROP] = { "node_drop",
			   NFT_SET_MAP,
			   1,
			   { FW_F_IFNAME },
			   0,
			   { 0 },
			   true,
			   "ifname : verdict" },
	[FW_PRIVATE] = { "private_ranges",
			 NFT_SET_INTERVAL,
			 1,
			 { FW_F_IPV4 },
			 0,
			 { 0 },
			 false,
			 "ipv4_addr" },
	[FW_FLOWS] = { "node_flows",
		       0,
		       4,
		       { FW_F_IFNAME, FW_F_IFNAME, FW_F_PROTO, FW_F_PORT },
		       0,
		       { 0 },
		       false,
		       "ifname . ifname . inet_proto . inet_service" },
	[FW_NODE_BW] = { "node_bw",
			 NFT_SET_MAP,
			 1,
			 { FW_F_IFNAME },
			 0,
			 { 0 },
			 true,
			 "ifname : verdict" },
	[FW_NODE_NAMES] = { "node_names",
			    NFT_SET_MAP,
			    1,
			    { FW_F_IFNAME },
			    0,
			    { 0 },
			    true,
			    "ifname : verdict" },
};

uint32_t fw_set_id(enum fw_set s)
{
	return (uint32_t)s + 1; /* refers to a set created in the same batch */
}

uint32_t fw_parts_type(const enum fw_field *f, size_t n)
{
	uint32_t t = 0;

	for (size_t i = 0; i < n; i++)
		t = (t << FW_TYPE_BITS) | fw_fields[f[i]].fd_type;
	return t;
}

uint32_t fw_parts_len(const enum fw_field *f, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += fw_fields[f[i]].fd_len;
	return len;
}

/* A set handle naming one of ours; with_id when it was created in this
 * batch (the kernel then finds it by id as well as by name). */
struct nftnl_set *fw_set_ref(struct fw_batch *b, enum fw_set which, bool with_id)
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
		nftnl_set_set_u32(s, NFTNL_SET_ID, fw_set_id(which));
	return s;
}

static uint32_t fw_byteorder(const enum fw_field *f, size_t n)
{
	if (n != 1)
		return FW_BYTEORDER_NONE;
	return f[0] == FW_F_IFNAME ? FW_BYTEORDER_HOST : FW_BYTEORDER_BIG;
}

void fw_set_create(struct fw_batch *b, enum fw_set which)
{
	const struct fw_set_def *d = &fw_sets[which];
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(32);
	struct nftnl_set *s = fw_set_ref(b, which, true);
	struct nlmsghdr *nlh;

	if (ud == NULL ||
	    !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
				 fw_byteorder(d->sd_key, d->sd_nkey)) ||
	    ((d->sd_flags & NFT_SET_MAP) != 0 &&
	     !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER,
				  d->sd_verdict ? FW_BYTEORDER_NONE
						: fw_byteorder(d->sd_data, d->sd_ndata))))
		fw_batch_fail(b, ENOMEM);
	if (s != NULL && b->fb_errno == 0) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->sd_flags);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, fw_parts_type(d->sd_key, d->sd_nkey));
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, fw_parts_len(d->sd_key, d->sd_nkey));
		if (d->sd_verdict) {
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		} else if (d->sd_ndata > 0) {
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE,
					  fw_parts_type(d->sd_data, d->sd_ndata));
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN,
					  fw_parts_len(d->sd_data, d->sd_ndata));
		}
		/* An interval set keyed by a concatenation (pipapo) needs each
		 * part's length. */
		if ((d->sd_flags & NFT_SET_CONCAT) != 0) {
			uint8_t lens[4] = { 0 };

			for (size_t i = 0; i < d->sd_nkey; i++)
				lens[i] = (uint8_t)fw_fields[d->sd_key[i]].fd_len;
			fw_oom_if(b,
				  nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, lens,
						     (uint32_t)d->sd_nkey));
		}
		fw_oom_if(b,
			  nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
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
