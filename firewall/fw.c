/* fw: builds and sends the nf_tables batches behind fw.h, and reads the
 * policy back. Each call checks all of its input, then builds one batch in
 * memory (the first build failure is kept and reported at send), then sends
 * it on a fresh netlink socket: the kernel applies it whole or not at all,
 * and the first failing message, in message order, is the one reported,
 * named by what that message does. */
#include "fw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <json-c/json.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* nft's own datatype ids and byte-order tags (nftables' datatype.h and
 * expression.h). Not kernel ABI, but `nft list` reads them back to print
 * set keys, so we store what nft itself stores for `type ifname`,
 * `type ipv4_addr` and so on; a concatenation's type is its parts' ids, 6
 * bits each, first part highest. */
#define FW_TYPE_IPADDR 7
#define FW_TYPE_ETHERADDR 9
#define FW_TYPE_INET_PROTOCOL 12
#define FW_TYPE_INET_SERVICE 13
#define FW_TYPE_IFNAME 41
#define FW_TYPE_BITS 6
#define FW_BYTEORDER_NONE 0        /* what nft stores for concatenations */
#define FW_BYTEORDER_HOST 1
#define FW_BYTEORDER_BIG 2

#define FW_COMMENT "ISC dock policy, owned by dockd: do not edit, fw_init rebuilds it"
#define FW_CHAIN_PREFIX "node-"    /* node-NAME: the node's drop chain */
#define FW_DROP_FROM "drop-from-node"
#define FW_DROP_TO "drop-to-node"

/* Elements per message: the element list is one netlink nest whose length
 * is a u16, so a message must stay well under 64 KiB. */
#define FW_CHUNK_ELEMS 128
/* Bytes reserved before building a message. libnftnl writes attributes
 * without bounds checks, so these are generous upper bounds: a rule here is
 * under 600 bytes, an element (two keys, data, comment) under 256. */
#define FW_MSG_ROOM 2048
#define FW_ELEM_ROOM 256
#define FW_ACK_TIMEOUT_S 10        /* a dock never hangs on a silent kernel */
#define FW_SEQ_BEGIN 1u            /* batch begin; message i has FW_SEQ_BEGIN + 1 + i */
#define FW_WHAT_MAX 160
#define FW_SAFE_MAX 48             /* how much of a bad input a message quotes */
#define FW_KEY_MAX 32              /* the longest key: ifname . ipv4 . ether, 28 bytes */
#define FW_DUMP_BUF (128 * 1024)   /* one recv of a dump; the kernel sends at most 32 KiB */

/* ---- the table's sets --------------------------------------------------- */

enum fw_field { FW_F_IFNAME, FW_F_IPV4, FW_F_ETHER, FW_F_PROTO, FW_F_PORT };

/* Each part of a key takes whole 32-bit registers. */
static const struct fw_field_def {
	uint32_t fd_type;
	uint32_t fd_size;          /* bytes of the value */
	uint32_t fd_len;           /* bytes in the key */
} fw_fields[] = {
	[FW_F_IFNAME] = { FW_TYPE_IFNAME, IFNAMSIZ, IFNAMSIZ },
	[FW_F_IPV4] = { FW_TYPE_IPADDR, 4, 4 },
	[FW_F_ETHER] = { FW_TYPE_ETHERADDR, 6, 8 },
	[FW_F_PROTO] = { FW_TYPE_INET_PROTOCOL, 1, 4 },
	[FW_F_PORT] = { FW_TYPE_INET_SERVICE, 2, 4 },
};

enum fw_set {
	FW_BRIDGES,
	FW_SUBNETS,
	FW_ADDRS,
	FW_SERVICES,
	FW_QUARANTINED,
	FW_EGRESS_DENIED,
	FW_EGRESS_ALLOWED,
	FW_PUBLISHED,
	FW_PUBLISHED_TO,
	FW_NODE_DROP,
	FW_NSETS
};

static const struct fw_set_def {
	const char *sd_name;
	uint32_t sd_flags;         /* NFT_SET_INTERVAL, NFT_SET_CONCAT, NFT_SET_MAP */
	size_t sd_nkey;
	enum fw_field sd_key[4];
	size_t sd_ndata;           /* map data parts; 0 and sd_verdict for a vmap */
	enum fw_field sd_data[2];
	bool sd_verdict;
	const char *sd_type;       /* as nft prints it */
} fw_sets[FW_NSETS] = {
	[FW_BRIDGES] = { "node_bridges", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_SUBNETS] = { "node_subnets", NFT_SET_INTERVAL, 1, { FW_F_IPV4 }, 0, { 0 }, false,
			 "ipv4_addr" },
	[FW_ADDRS] = { "node_addrs", 0, 3, { FW_F_IFNAME, FW_F_IPV4, FW_F_ETHER }, 0, { 0 }, false,
		       "ifname . ipv4_addr . ether_addr" },
	[FW_SERVICES] = { "host_services", 0, 4,
			  { FW_F_IFNAME, FW_F_IPV4, FW_F_PROTO, FW_F_PORT }, 0, { 0 }, false,
			  "ifname . ipv4_addr . inet_proto . inet_service" },
	[FW_QUARANTINED] = { "quarantined", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_EGRESS_DENIED] = { "egress_denied", 0, 1, { FW_F_IFNAME }, 0, { 0 }, false, "ifname" },
	[FW_EGRESS_ALLOWED] = { "egress_allowed", NFT_SET_INTERVAL | NFT_SET_CONCAT, 2,
				{ FW_F_IFNAME, FW_F_IPV4 }, 0, { 0 }, false,
				"ifname . ipv4_addr" },
	[FW_PUBLISHED] = { "published", NFT_SET_MAP, 2, { FW_F_PROTO, FW_F_PORT }, 2,
			   { FW_F_IPV4, FW_F_PORT }, false,
			   "inet_proto . inet_service : ipv4_addr . inet_service" },
	[FW_PUBLISHED_TO] = { "published_to", 0, 3, { FW_F_IPV4, FW_F_PROTO, FW_F_PORT }, 0,
			      { 0 }, false, "ipv4_addr . inet_proto . inet_service" },
	[FW_NODE_DROP] = { "node_drop", NFT_SET_MAP, 1, { FW_F_IFNAME }, 0, { 0 }, true,
			   "ifname : verdict" },
};

static uint32_t fw_set_id(enum fw_set s)
{
	return (uint32_t)s + 1;  /* refers to a set created in the same batch */
}

static uint32_t fw_parts_type(const enum fw_field *f, size_t n)
{
	uint32_t t = 0;

	for (size_t i = 0; i < n; i++)
		t = (t << FW_TYPE_BITS) | fw_fields[f[i]].fd_type;
	return t;
}

static uint32_t fw_parts_len(const enum fw_field *f, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += fw_fields[f[i]].fd_len;
	return len;
}

/* ---- checked input ------------------------------------------------------ */

struct fw_range {
	uint32_t r_first;          /* host order, inclusive */
	uint32_t r_last;
};

/* A checked node in the form the messages need. */
struct fw_info {
	const char *fi_name;
	char fi_bridge[IFNAMSIZ];  /* zero-padded: the key is all 16 bytes */
	char fi_chain[sizeof(FW_CHAIN_PREFIX) + FW_NAME_MAX];
	char fi_cidr[20];
	uint32_t fi_first;         /* host order: the network address */
	uint32_t fi_end;           /* host order: one past the last address */
	uint32_t fi_ip;
	uint32_t fi_gateway;
	uint8_t fi_mac[6];
	const struct fw_publish *fi_pub;
	size_t fi_npub;
	bool fi_deny;
	size_t fi_nallow;
	struct fw_range fi_allow[FW_ALLOW_MAX];
	bool fi_quarantined;
};

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

/* A decimal without sign, space or leading zero, at most max_digits long. */
static int fw_parse_uint(const char *s, size_t max_digits, unsigned long *v)
{
	unsigned long x = 0;
	size_t i;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == max_digits || s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (unsigned long)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* A dotted quad only: inet_pton takes no octal, hex or short forms. */
static int fw_parse_ipv4(const char *s, uint32_t *host)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*host = ntohl(a.s_addr);
	return 0;
}

static const char *fw_ntoa(uint32_t host, char *buf)
{
	struct in_addr a = { .s_addr = htonl(host) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

static uint32_t fw_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : ~0u << (32 - prefix);
}

/* "a.b.c.d/p" (or "a.b.c.d" when p may be omitted, meaning /32) with host
 * bits zero and p in min..max. `who` and `what` start the message. */
static int fw_parse_cidr(const char *who, const char *what, const char *cidr, unsigned min,
			 unsigned max, bool bare_ok, uint32_t *net, unsigned *prefix,
			 struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8], addr[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
	const char *slash;
	unsigned long p = 32;
	uint32_t host;

	if (cidr == NULL)
		return err_set(err, 400, EINVAL, "%s: %s is missing", who, what);
	slash = strchr(cidr, '/');
	if (slash == NULL && !bare_ok)
		return err_set(err, 400, EINVAL, "%s: %s \"%s\" has no /prefix", who, what,
			       fw_safe(cidr, q, sizeof(q)));
	if (slash == NULL)
		slash = cidr + strlen(cidr);
	if ((size_t)(slash - cidr) >= sizeof(addr))
		return err_set(err, 400, EINVAL, "%s: %s \"%s\" is not an IPv4 CIDR", who, what,
			       fw_safe(cidr, q, sizeof(q)));
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (fw_parse_ipv4(addr, &host) < 0)
		return err_set(err, 400, EINVAL, "%s: %s \"%s\" is not an IPv4 CIDR", who, what,
			       fw_safe(cidr, q, sizeof(q)));
	if (*slash == '/' && (fw_parse_uint(slash + 1, 2, &p) < 0 || p < min || p > max))
		return err_set(err, 400, EINVAL, "%s: %s \"%s\" needs a prefix of /%u to /%u", who,
			       what, fw_safe(cidr, q, sizeof(q)), min, max);
	if ((host & ~fw_mask((unsigned)p)) != 0)
		return err_set(err, 400, EINVAL,
			       "%s: %s \"%s\" has host bits set (the network is %s/%lu)", who, what,
			       fw_safe(cidr, q, sizeof(q)), fw_ntoa(host & fw_mask((unsigned)p), n),
			       p);
	*net = host;
	*prefix = (unsigned)p;
	return 0;
}

static int fw_parse_mac(const char *s, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";

	if (s == NULL || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *hi, *lo;

		if (i > 0 && s[3 * i - 1] != ':')
			return -1;
		if (s[3 * i] == '\0' || s[3 * i + 1] == '\0')
			return -1;
		hi = strchr(hex, s[3 * i] | 0x20);
		lo = strchr(hex, s[3 * i + 1] | 0x20);
		if (hi == NULL || lo == NULL)
			return -1;
		mac[i] = (uint8_t)(((hi - hex) << 4) | (lo - hex));
	}
	return 0;
}

static const char *fw_proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

void fw_publish_format(const struct fw_publish *p, char *buf, size_t size)
{
	snprintf(buf, size, "%u:%u/%s", p->fp_host_port, p->fp_node_port,
		 fw_proto_name(p->fp_proto));
}

int fw_publish_parse(const char *spec, struct fw_publish *out, struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8], host[8], node[8];
	const char *colon, *slash, *end;
	unsigned long hp, np;
	uint8_t proto = IPPROTO_TCP;

	if (spec == NULL)
		return err_set(err, 400, EINVAL, "publish: HOSTPORT:NODEPORT is missing");
	colon = strchr(spec, ':');
	slash = strchr(spec, '/');
	end = slash != NULL ? slash : spec + strlen(spec);
	if (colon == NULL || colon > end || (size_t)(colon - spec) >= sizeof(host) ||
	    (size_t)(end - colon - 1) >= sizeof(node))
		return err_set(err, 400, EINVAL,
			       "publish \"%s\": expected HOSTPORT:NODEPORT[/tcp|/udp]",
			       fw_safe(spec, q, sizeof(q)));
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memcpy(node, colon + 1, (size_t)(end - colon - 1));
	node[end - colon - 1] = '\0';
	if (slash != NULL && strcmp(slash, "/udp") == 0)
		proto = IPPROTO_UDP;
	else if (slash != NULL && strcmp(slash, "/tcp") != 0)
		return err_set(err, 400, EINVAL, "publish \"%s\": the protocol must be tcp or udp",
			       fw_safe(spec, q, sizeof(q)));
	if (fw_parse_uint(host, 5, &hp) < 0 || hp < 1 || hp > 65535)
		return err_set(err, 400, EINVAL, "publish \"%s\": host port must be 1..65535",
			       fw_safe(spec, q, sizeof(q)));
	if (fw_parse_uint(node, 5, &np) < 0 || np < 1 || np > 65535)
		return err_set(err, 400, EINVAL, "publish \"%s\": node port must be 1..65535",
			       fw_safe(spec, q, sizeof(q)));
	out->fp_proto = proto;
	out->fp_host_port = (uint16_t)hp;
	out->fp_node_port = (uint16_t)np;
	return 0;
}

/* A publish as part of a node: `who` is "node web1". */
static int fw_check_publish(const char *name, const struct fw_publish *p, struct dock_err *err)
{
	if (p->fp_proto != IPPROTO_TCP && p->fp_proto != IPPROTO_UDP)
		return err_set(err, 400, EINVAL,
			       "publish %s %u:%u: the protocol must be tcp or udp (not %u)", name,
			       p->fp_host_port, p->fp_node_port, p->fp_proto);
	if (p->fp_host_port == 0 || p->fp_node_port == 0)
		return err_set(err, 400, EINVAL, "publish %s %u:%u/%s: ports must be 1..65535", name,
			       p->fp_host_port, p->fp_node_port, fw_proto_name(p->fp_proto));
	return 0;
}

static bool fw_range_overlap(const struct fw_range *a, const struct fw_range *b)
{
	return a->r_first <= b->r_last && b->r_first <= a->r_last;
}

/* An egress allow-list into info (replacing what it held). */
static int fw_parse_allow(struct fw_info *fi, bool deny, const char *const *allow, size_t n,
			  struct dock_err *err)
{
	char who[FW_NAME_MAX + 16];

	snprintf(who, sizeof(who), "egress %s", fi->fi_name);
	if (n > 0 && !deny)
		return err_set(err, 400, EINVAL,
			       "%s: an allow-list only means something with egress deny", who);
	if (n > FW_ALLOW_MAX)
		return err_set(err, 400, E2BIG, "%s: %zu allowed destinations, more than %d", who, n,
			       FW_ALLOW_MAX);
	if (n > 0 && allow == NULL)
		return err_set(err, 400, EINVAL, "%s: %zu allowed destinations but no list", who, n);
	for (size_t i = 0; i < n; i++) {
		struct fw_range *r = &fi->fi_allow[i];
		uint32_t net;
		unsigned prefix;
		int rc = fw_parse_cidr(who, "allowed destination", allow[i], 0, 32, true, &net,
				       &prefix, err);

		if (rc < 0)
			return rc;
		r->r_first = net;
		r->r_last = net | ~fw_mask(prefix);
		for (size_t j = 0; j < i; j++)
			if (fw_range_overlap(r, &fi->fi_allow[j]))
				return err_set(err, 400, EINVAL,
					       "%s: allowed destination %s overlaps %s", who,
					       allow[i], allow[j]);
	}
	fi->fi_deny = deny;
	fi->fi_nallow = n;
	return 0;
}

static int fw_node_parse(const struct fw_node *node, struct fw_info *fi, struct dock_err *err)
{
	char who[FW_NAME_MAX + 8], what[FW_NAME_MAX + 16], q[FW_SAFE_MAX + 8];
	unsigned prefix;
	uint32_t bcast;
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
	memset(fi, 0, sizeof(*fi));
	fi->fi_name = node->fn_name;
	memcpy(fi->fi_bridge, node->fn_bridge, strlen(node->fn_bridge));
	snprintf(fi->fi_chain, sizeof(fi->fi_chain), FW_CHAIN_PREFIX "%s", node->fn_name);

	r = fw_parse_cidr(who, "subnet", node->fn_subnet_cidr, FW_PREFIX_MIN, FW_PREFIX_MAX, false,
			  &fi->fi_first, &prefix, err);
	if (r < 0)
		return r;
	/* Nobody's subnet: "this network", loopback, multicast and reserved.
	 * Refusing 224/3 also keeps every interval's end below 2^32, so each
	 * subnet is exactly a start and an end element in node_subnets. */
	if ((fi->fi_first >> 24) == 0 || (fi->fi_first >> 24) == 127 || (fi->fi_first >> 24) >= 224)
		return err_set(err, 400, EINVAL,
			       "%s: subnet \"%s\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3", who,
			       node->fn_subnet_cidr);
	fi->fi_end = fi->fi_first + (1u << (32 - prefix));
	bcast = fi->fi_end - 1;
	snprintf(fi->fi_cidr, sizeof(fi->fi_cidr), "%s", node->fn_subnet_cidr);

	if (node->fn_ip == NULL)
		return err_set(err, 400, EINVAL, "%s: address is missing", who);
	if (fw_parse_ipv4(node->fn_ip, &fi->fi_ip) < 0)
		return err_set(err, 400, EINVAL, "%s: address \"%s\" is not an IPv4 address", who,
			       fw_safe(node->fn_ip, q, sizeof(q)));
	if (fi->fi_ip <= fi->fi_first || fi->fi_ip >= bcast)
		return err_set(err, 400, EINVAL,
			       "%s: address %s is not a host address of subnet %s", who,
			       node->fn_ip, fi->fi_cidr);
	if (node->fn_gateway == NULL)
		return err_set(err, 400, EINVAL, "%s: gateway is missing", who);
	if (fw_parse_ipv4(node->fn_gateway, &fi->fi_gateway) < 0)
		return err_set(err, 400, EINVAL, "%s: gateway \"%s\" is not an IPv4 address", who,
			       fw_safe(node->fn_gateway, q, sizeof(q)));
	if (fi->fi_gateway <= fi->fi_first || fi->fi_gateway >= bcast)
		return err_set(err, 400, EINVAL,
			       "%s: gateway %s is not a host address of subnet %s", who,
			       node->fn_gateway, fi->fi_cidr);
	if (fi->fi_gateway == fi->fi_ip)
		return err_set(err, 400, EINVAL, "%s: address and gateway are both %s", who,
			       node->fn_ip);
	if (node->fn_mac == NULL)
		return err_set(err, 400, EINVAL, "%s: MAC is missing", who);
	if (fw_parse_mac(node->fn_mac, fi->fi_mac) < 0)
		return err_set(err, 400, EINVAL, "%s: MAC \"%s\" is not xx:xx:xx:xx:xx:xx", who,
			       fw_safe(node->fn_mac, q, sizeof(q)));
	if ((fi->fi_mac[0] & 1) != 0 ||
	    (fi->fi_mac[0] | fi->fi_mac[1] | fi->fi_mac[2] | fi->fi_mac[3] | fi->fi_mac[4] |
	     fi->fi_mac[5]) == 0)
		return err_set(err, 400, EINVAL, "%s: MAC %s is not a unicast address", who,
			       node->fn_mac);

	if (node->fn_npublished > FW_PUBLISH_MAX)
		return err_set(err, 400, E2BIG, "%s: %zu published ports, more than %d", who,
			       node->fn_npublished, FW_PUBLISH_MAX);
	if (node->fn_npublished > 0 && node->fn_published == NULL)
		return err_set(err, 400, EINVAL, "%s: %zu published ports but no list", who,
			       node->fn_npublished);
	for (size_t i = 0; i < node->fn_npublished; i++) {
		const struct fw_publish *p = &node->fn_published[i];

		r = fw_check_publish(node->fn_name, p, err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			const struct fw_publish *o = &node->fn_published[j];
			char a[24], b[24];

			if (o->fp_proto == p->fp_proto && o->fp_host_port == p->fp_host_port) {
				fw_publish_format(p, a, sizeof(a));
				fw_publish_format(o, b, sizeof(b));
				return err_set(err, 400, EINVAL,
					       "publish %s %s: host port %u/%s is already published by node %s (%s)",
					       node->fn_name, a, p->fp_host_port,
					       fw_proto_name(p->fp_proto), node->fn_name, b);
			}
		}
	}
	fi->fi_pub = node->fn_published;
	fi->fi_npub = node->fn_npublished;
	fi->fi_quarantined = node->fn_quarantined;
	return fw_parse_allow(fi, node->fn_egress_deny, node->fn_egress_allow,
			      node->fn_negress_allow, err);
}

int fw_node_check(const struct fw_node *node, struct dock_err *err)
{
	struct fw_info *fi = malloc(sizeof(*fi));
	int r;

	if (fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	r = fw_node_parse(node, fi, err);
	free(fi);
	return r;
}

/* ---- batch building ----------------------------------------------------- */

/* How a kernel error on a message is told: what the message was for. */
enum fw_kind {
	FW_K_PLAIN,
	FW_K_SUBNET,               /* EEXIST: overlaps another subnet */
	FW_K_BRIDGE,               /* EEXIST: the bridge is another node's */
	FW_K_PUBLISH,              /* EEXIST: the host port is another publish's */
	FW_K_UNPUBLISH,
	FW_K_PRESENT,              /* ENOENT: the node is not in the table */
};

struct fw_msg {
	char fm_what[FW_WHAT_MAX]; /* what the message does, for the error */
	enum fw_kind fm_kind;
	const struct fw_info *fm_node;
	struct fw_publish fm_pub;
};

/* One batch being built. */
struct fw_batch {
	char *fb_buf;
	size_t fb_len;
	size_t fb_cap;
	size_t fb_last;            /* offset of the last message */
	struct fw_msg *fb_msgs;
	uint32_t fb_nmsgs;
	uint32_t fb_msgs_cap;
	int fb_errno;              /* first build failure, reported at send */
};

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

/* Start message number fb_nmsgs, with `room` bytes reserved for it. Only
 * the batch's last message asks for an ack (fw_batch_send sets it): the
 * kernel reports every failing message anyway, and one ack per message
 * would overflow the socket's receive buffer on a big batch. */
static struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags,
				     size_t room, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags,
				     size_t room, const char *fmt, ...)
{
	char *p = fw_batch_room(b, room);
	struct fw_msg *m;
	va_list ap;

	if (p == NULL)
		return NULL;
	if (b->fb_nmsgs == b->fb_msgs_cap) {
		uint32_t cap = b->fb_msgs_cap != 0 ? b->fb_msgs_cap * 2 : 16;

		m = realloc(b->fb_msgs, cap * sizeof(*m));
		if (m == NULL) {
			fw_batch_fail(b, ENOMEM);
			return NULL;
		}
		b->fb_msgs = m;
		b->fb_msgs_cap = cap;
	}
	m = &b->fb_msgs[b->fb_nmsgs];
	memset(m, 0, sizeof(*m));
	va_start(ap, fmt);
	vsnprintf(m->fm_what, FW_WHAT_MAX, fmt, ap);
	va_end(ap);
	b->fb_last = b->fb_len;
	return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags, fw_seq(b->fb_nmsgs++));
}

/* Tell the error path what the last message begun was for. */
static void fw_msg_kind(struct fw_batch *b, enum fw_kind kind, const struct fw_info *fi,
			const struct fw_publish *p)
{
	struct fw_msg *m;

	if (b->fb_errno != 0 || b->fb_nmsgs == 0)
		return;
	m = &b->fb_msgs[b->fb_nmsgs - 1];
	m->fm_kind = kind;
	m->fm_node = fi;
	if (p != NULL)
		m->fm_pub = *p;
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

	if (p == NULL)
		return;
	if (b->fb_nmsgs > 0)
		((struct nlmsghdr *)(void *)(b->fb_buf + b->fb_last))->nlmsg_flags |= NLM_F_ACK;
	b->fb_len += MNL_ALIGN(nftnl_batch_end(p, fw_seq(b->fb_nmsgs))->nlmsg_len);
}

/* ---- objects ------------------------------------------------------------ */

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
		nftnl_set_set_u32(s, NFTNL_SET_ID, fw_set_id(which));
	return s;
}

static uint32_t fw_byteorder(const enum fw_field *f, size_t n)
{
	if (n != 1)
		return FW_BYTEORDER_NONE;
	return f[0] == FW_F_IFNAME ? FW_BYTEORDER_HOST : FW_BYTEORDER_BIG;
}

static void fw_set_create(struct fw_batch *b, enum fw_set which)
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
			fw_oom_if(b, nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, lens,
							(uint32_t)d->sd_nkey));
		}
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

/* ---- elements ----------------------------------------------------------- */

struct fw_key {
	uint8_t k_buf[FW_KEY_MAX];
	uint32_t k_len;
};

static void fw_key_put(struct fw_key *k, enum fw_field f, const void *v)
{
	const struct fw_field_def *d = &fw_fields[f];

	if (k->k_len + d->fd_len > FW_KEY_MAX)
		abort();  /* the set definitions above bound every key */
	memcpy(k->k_buf + k->k_len, v, d->fd_size);
	k->k_len += d->fd_len;  /* the buffer is zeroed: padding stays zero */
}

static void fw_key_ifname(struct fw_key *k, const char *bridge)
{
	fw_key_put(k, FW_F_IFNAME, bridge);  /* fi_bridge: IFNAMSIZ bytes, zero-padded */
}

static void fw_key_ipv4(struct fw_key *k, uint32_t host)
{
	uint32_t be = htonl(host);

	fw_key_put(k, FW_F_IPV4, &be);
}

static void fw_key_proto(struct fw_key *k, uint8_t proto)
{
	fw_key_put(k, FW_F_PROTO, &proto);
}

static void fw_key_port(struct fw_key *k, uint16_t port)
{
	uint16_t be = htons(port);

	fw_key_put(k, FW_F_PORT, &be);
}

/* One element: key, optional end of a range (pipapo), map data or verdict. */
struct fw_el {
	struct fw_key e_key;
	struct fw_key e_end;       /* k_len 0: none */
	struct fw_key e_data;
	const char *e_chain;       /* vmap: goto this chain */
	const char *e_comment;
	uint32_t e_flags;          /* NFT_SET_ELEM_INTERVAL_END */
	const char *e_node;        /* whose, for messages */
};

struct fw_els {
	struct fw_el *v;
	size_t n;
	size_t cap;
};

static struct fw_el *fw_el_new(struct fw_batch *b, struct fw_els *els, const struct fw_info *fi)
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
	e->e_node = fi->fi_name;
	return e;
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

static void fw_el_publish(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
			  const struct fw_publish *p)
{
	struct fw_el *e = fw_el_new(b, out, fi);

	if (e == NULL)
		return;
	fw_key_proto(&e->e_key, p->fp_proto);
	fw_key_port(&e->e_key, p->fp_host_port);
	fw_key_ipv4(&e->e_data, fi->fi_ip);
	fw_key_port(&e->e_data, p->fp_node_port);
	e->e_comment = fi->fi_name;  /* who holds the host port, for a 409 and fw_show */
}

static void fw_el_published_to(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
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
		if (pub[j].fp_proto == pub[i].fp_proto && pub[j].fp_node_port == pub[i].fp_node_port)
			return false;
	return true;
}

static void fw_el_allow(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
			const struct fw_range *r)
{
	struct fw_el *e = fw_el_new(b, out, fi);

	if (e == NULL)
		return;
	fw_key_ifname(&e->e_key, fi->fi_bridge);
	fw_key_ipv4(&e->e_key, r->r_first);
	fw_key_ifname(&e->e_end, fi->fi_bridge);
	fw_key_ipv4(&e->e_end, r->r_last);
}

/* Append the node's elements of set `which`. With `all`, also the optional
 * ones it may hold whatever its record says (removal: add, then delete). */
static void fw_node_elems(struct fw_batch *b, const struct fw_info *fi, enum fw_set which,
			  bool all, struct fw_els *out)
{
	struct fw_el *e;

	switch (which) {
	case FW_BRIDGES:
	case FW_QUARANTINED:
	case FW_EGRESS_DENIED:
	case FW_NODE_DROP:
		if (which == FW_QUARANTINED && !fi->fi_quarantined && !all)
			break;
		if (which == FW_EGRESS_DENIED && !fi->fi_deny && !all)
			break;
		e = fw_el_new(b, out, fi);
		if (e == NULL)
			break;
		fw_key_ifname(&e->e_key, fi->fi_bridge);
		if (which == FW_NODE_DROP)
			e->e_chain = fi->fi_chain;
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
			fw_key_ipv4(&e->e_key, fw_services[i].sv_broadcast ? INADDR_BROADCAST
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
		fw_oom_if(b, nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, el->e_end.k_buf,
						el->e_end.k_len));
	if (el->e_data.k_len != 0)
		fw_oom_if(b, nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, el->e_data.k_buf,
						el->e_data.k_len));
	if (el->e_chain != NULL) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_GOTO);
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
			fw_oom_if(b, nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA,
							nftnl_udata_buf_data(ud),
							nftnl_udata_buf_len(ud)));
		nftnl_udata_buf_free(ud);
	}
	nftnl_set_elem_add(s, e);
}

/* Messages of type NEWSETELEM or DELSETELEM carrying els[0..n), at most
 * FW_CHUNK_ELEMS each. `what` says what they do ("add", "remove"); each
 * message names the nodes whose elements it carries. */
static void fw_elems(struct fw_batch *b, uint16_t type, uint16_t flags, const char *verb,
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
static void fw_node_set(struct fw_batch *b, const struct fw_info *fi, enum fw_set which,
			bool remove)
{
	struct fw_els els = { 0 };
	enum fw_kind kind = which == FW_SUBNETS	   ? FW_K_SUBNET
			    : which == FW_NODE_DROP ? FW_K_BRIDGE
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

/* ---- chains and rules --------------------------------------------------- */

static void fw_chain_msg(struct fw_batch *b, uint16_t type, uint16_t flags, const char *name,
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

static void fw_chain_create(struct fw_batch *b, const char *name, const char *kind,
			    uint32_t hook, int32_t prio)
{
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, name, kind, hook, prio,
		     "create");
}

/* Each helper appends expressions; a NULL rule is a no-op so a rule reads
 * as a line of nft syntax and failures surface at fw_rule_add. Registers
 * are the ones nft itself picks for the same text. */

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

static void fw_meta(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr(b, r, "meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	fw_put(r, e);
}

/* sreg in @set (or not, negate); dreg < 0: a set, else a map into dreg */
static void fw_lookup(struct fw_batch *b, struct nftnl_rule *r, enum fw_set which, bool negate,
		      int dreg)
{
	struct nftnl_expr *e = fw_expr(b, r, "lookup");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		if (dreg >= 0)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
		fw_oom_if(b, nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, fw_sets[which].sd_name));
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, fw_set_id(which));
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

static void fw_payload(struct fw_batch *b, struct nftnl_rule *r, uint32_t base, uint32_t offset,
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
static void fw_nfproto(struct fw_batch *b, struct nftnl_rule *r, uint8_t proto)
{
	fw_meta(b, r, NFT_META_NFPROTO, NFT_REG_1);
	fw_cmp(b, r, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* ct KEY & bits != 0 */
static void fw_ct_bits(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t bits)
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

static void fw_verdict(struct fw_batch *b, struct nftnl_rule *r, int verdict, const char *chain)
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

/* Append the rule to its chain; `text` is the rule as `nft list` shows it. */
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

/* `iifname @set` / `oifname @set` and the like: name into reg 1, lookup. */
static void fw_if_in(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, enum fw_set which,
		     bool negate)
{
	fw_meta(b, r, key, NFT_REG_1);
	fw_lookup(b, r, which, negate, -1);
}

/* A one-lookup rule: `iifname @set verdict [chain]`. */
static void fw_if_rule(struct fw_batch *b, const char *chain, uint32_t key, enum fw_set which,
		       int verdict, const char *to, const char *text)
{
	struct nftnl_rule *r = fw_rule_new(b, chain);

	fw_if_in(b, r, key, which, false);
	fw_verdict(b, r, verdict, to);
	fw_rule_add(b, r, text);
}

/* The node's drop chain: every drop of the policy ends here, through
 * node_drop, so that it is counted and logged with the node's prefix. */
static void fw_node_chain_rules(struct fw_batch *b, const struct fw_info *fi)
{
	char prefix[sizeof(FW_LOG_PREFIX_FMT) + FW_NAME_MAX], text[FW_WHAT_MAX];
	struct nftnl_rule *r = fw_rule_new(b, fi->fi_chain);
	struct nftnl_expr *e;

	snprintf(prefix, sizeof(prefix), FW_LOG_PREFIX_FMT, fi->fi_name);
	e = fw_expr(b, r, "limit");
	if (e != NULL) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, FW_LOG_RATE);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);  /* per second */
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

/* The fixed part of the policy, chain by chain, rule by rule; the text is
 * what `nft list` shows. Nodes come and go as set elements only. */
static void fw_policy(struct fw_batch *b)
{
	uint8_t ipv6 = NFPROTO_IPV6, zero8 = 0;
	uint16_t ether = ARPHRD_ETHER;
	uint32_t local = RTN_LOCAL;
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	/* Where every drop goes: the node's chain through node_drop; a bridge
	 * missing from the map still drops, unlogged. */
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

	/* Before conntrack: what a node sends is checked first, and what is
	 * dropped here leaves no conntrack entry. */
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
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_2);  /* ip saddr */
	fw_payload(b, r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_05);      /* ether saddr */
	fw_lookup(b, r, FW_ADDRS, true, -1);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(b, r, "iifname @node_bridges iifname . ip saddr . ether saddr != @node_addrs goto " FW_DROP_FROM);

	/* Publishing: the host's port, reached from anywhere but a node. */
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
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01);  /* th dport */
	fw_lookup(b, r, FW_PUBLISHED, false, NFT_REG_1);
	e = fw_expr(b, r, "nat");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
	}
	fw_put(r, e);
	fw_rule_add(b, r, "iifname != @node_bridges fib daddr type local dnat ip to meta l4proto . th dport map @published");

	/* A node reaches the host only for DHCP and DNS on its gateway. */
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
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_2);  /* ip daddr */
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG32_05);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_06);
	fw_lookup(b, r, FW_SERVICES, false, -1);
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(b, r, "iifname . ip daddr . meta l4proto . th dport @host_services accept");
	fw_if_rule(b, "input", NFT_META_IIFNAME, FW_BRIDGES, NFT_GOTO, FW_DROP_FROM,
		   "iifname @node_bridges goto " FW_DROP_FROM);

	fw_chain_create(b, "forward", "filter", NF_INET_FORWARD, NF_IP_PRI_FILTER);
	fw_if_rule(b, "forward", NFT_META_OIFNAME, FW_QUARANTINED, NFT_GOTO, FW_DROP_TO,
		   "oifname @quarantined goto " FW_DROP_TO);
	/* Nodes never reach each other. Before any accept, so that no later
	 * accept can let node-to-node traffic through. */
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
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);  /* ip daddr */
	fw_meta(b, r, NFT_META_L4PROTO, NFT_REG32_01);
	fw_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
	fw_lookup(b, r, FW_PUBLISHED_TO, false, -1);
	fw_verdict(b, r, NF_ACCEPT, NULL);
	fw_rule_add(b, r, "oifname @node_bridges ct status dnat ip daddr . meta l4proto . th dport @published_to accept");
	fw_if_rule(b, "forward", NFT_META_OIFNAME, FW_BRIDGES, NFT_GOTO, FW_DROP_TO,
		   "oifname @node_bridges goto " FW_DROP_TO);
	/* Egress deny: what the node starts (original direction, established
	 * too, so that a deny cuts running connections) goes only to its
	 * allowed destinations; replies of published services still leave. */
	r = fw_rule_new(b, "forward");
	fw_if_in(b, r, NFT_META_IIFNAME, FW_EGRESS_DENIED, false);
	e = fw_expr(b, r, "ct");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_put(r, e);
	fw_cmp(b, r, NFT_CMP_EQ, &zero8, sizeof(zero8));  /* IP_CT_DIR_ORIGINAL */
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_meta(b, r, NFT_META_IIFNAME, NFT_REG_1);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_2);
	fw_lookup(b, r, FW_EGRESS_ALLOWED, true, -1);
	fw_verdict(b, r, NFT_GOTO, FW_DROP_FROM);
	fw_rule_add(b, r, "iifname @egress_denied ct direction original iifname . ip daddr != @egress_allowed goto " FW_DROP_FROM);

	/* The host itself does not reach a quarantined node either. */
	fw_chain_create(b, "output", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_FILTER);
	fw_if_rule(b, "output", NFT_META_OIFNAME, FW_QUARANTINED, NFT_GOTO, FW_DROP_TO,
		   "oifname @quarantined goto " FW_DROP_TO);

	/* Outbound: nodes leave with the host's address. */
	fw_chain_create(b, "postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC);
	r = fw_rule_new(b, "postrouting");
	fw_nfproto(b, r, NFPROTO_IPV4);
	fw_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	fw_lookup(b, r, FW_SUBNETS, false, -1);
	fw_if_in(b, r, NFT_META_OIFNAME, FW_BRIDGES, true);
	fw_put(r, fw_expr(b, r, "masq"));
	fw_rule_add(b, r, "ip saddr @node_subnets oifname != @node_bridges masquerade");
}

/* The node's chain, made complete: created if absent, emptied, filled. */
static void fw_node_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;

	if (new_table) {
		fw_chain_create(b, fi->fi_chain, NULL, 0, 0);
	} else {
		fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, fi->fi_chain, NULL, 0, 0,
			     "make sure of");
		r = fw_rule_new(b, fi->fi_chain);  /* no handle: every rule of the chain */
		if (r != NULL) {
			nlh = fw_msg_begin(b, NFT_MSG_DELRULE, 0, FW_MSG_ROOM, "flush chain %s",
					   fi->fi_chain);
			if (nlh != NULL) {
				nftnl_rule_nlmsg_build_payload(nlh, r);
				fw_msg_end(b, nlh, FW_MSG_ROOM);
			}
			nftnl_rule_free(r);
		}
	}
	fw_node_chain_rules(b, fi);
}

/* ---- dry run ------------------------------------------------------------ */

/* A growable string: the dry run's description, fw_show's text. */
struct fw_str {
	char *s_buf;
	size_t s_len;
	size_t s_cap;
	bool s_oom;
};

static void fw_str_vadd(struct fw_str *d, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void fw_str_vadd(struct fw_str *d, const char *fmt, va_list ap)
{
	for (;;) {
		size_t room = d->s_cap - d->s_len;
		va_list aq;
		char *p;
		int n;

		va_copy(aq, ap);
		n = room > 0 ? vsnprintf(d->s_buf + d->s_len, room, fmt, aq) : -2;
		va_end(aq);
		if (n == -1 || d->s_oom)
			return;
		if (n >= 0 && (size_t)n < room) {
			d->s_len += (size_t)n;
			return;
		}
		p = realloc(d->s_buf, d->s_cap * 2 + 256);
		if (p == NULL) {
			d->s_oom = true;
			return;
		}
		d->s_buf = p;
		d->s_cap = d->s_cap * 2 + 256;
	}
}

static void fw_str_add(struct fw_str *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fw_str_add(struct fw_str *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_str_vadd(d, fmt, ap);
	va_end(ap);
}

/* The string, or NULL (and nothing to free) if memory ran out. */
static char *fw_str_take(struct fw_str *d)
{
	if (d->s_oom || d->s_buf == NULL) {
		free(d->s_buf);
		return NULL;
	}
	return d->s_buf;
}

/* ---- dry run ------------------------------------------------------------ */

static __thread struct fw_str *fw_dry;

static void fw_dry_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fw_dry_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_str_vadd(fw_dry, fmt, ap);
	va_end(ap);
}

void fw_dryrun_begin(void)
{
	free(fw_dryrun_end());
	fw_dry = calloc(1, sizeof(*fw_dry));
}

char *fw_dryrun_end(void)
{
	struct fw_str *d = fw_dry;
	char *out;

	fw_dry = NULL;
	if (d == NULL)
		return NULL;
	fw_str_add(d, "%s", "");  /* an empty run is "", not NULL */
	out = fw_str_take(d);
	free(d);
	return out;
}

static enum fw_set fw_set_by_name(const char *name)
{
	for (int i = 0; i < FW_NSETS; i++)
		if (name != NULL && strcmp(fw_sets[i].sd_name, name) == 0)
			return (enum fw_set)i;
	return FW_NSETS;
}

/* One value of a key, as nft prints it. */
static size_t fw_fmt_field(enum fw_field f, const uint8_t *p, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN];
	uint32_t v32;
	uint16_t v16;

	switch (f) {
	case FW_F_IFNAME:
		snprintf(buf, size, "\"%.*s\"", IFNAMSIZ, (const char *)p);
		break;
	case FW_F_IPV4:
		memcpy(&v32, p, 4);
		snprintf(buf, size, "%s", fw_ntoa(ntohl(v32), a));
		break;
	case FW_F_ETHER:
		snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4],
			 p[5]);
		break;
	case FW_F_PROTO:
		snprintf(buf, size, "%s", fw_proto_name(p[0]));
		break;
	case FW_F_PORT:
		memcpy(&v16, p, 2);
		snprintf(buf, size, "%u", ntohs(v16));
		break;
	}
	return fw_fields[f].fd_len;
}

/* parts joined by " . "; the bytes must be exactly their length */
static void fw_fmt_key(const enum fw_field *parts, size_t n, const void *data, uint32_t len,
		       char *buf, size_t size)
{
	const uint8_t *p = data;
	size_t used = 0, off = 0;

	if (data == NULL || len != fw_parts_len(parts, n)) {
		snprintf(buf, size, "(%u bytes: not this set's key)", len);
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		char one[48];

		off += fw_fmt_field(parts[i], p + off, one, sizeof(one));
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i > 0 ? " . " : "", one);
	}
}

/* libnftnl numbers the element nests of a message it builds 1, 2, 3...
 * (the kernel ignores their type) but parses only NFTA_LIST_ELEM ones: a
 * copy with the types fixed parses. */
static struct nlmsghdr *fw_elems_copy(const struct nlmsghdr *nlh)
{
	struct nlmsghdr *c = malloc(nlh->nlmsg_len);
	struct nlattr *list, *a;

	if (c == NULL)
		return NULL;
	memcpy(c, nlh, nlh->nlmsg_len);
	mnl_attr_for_each(list, c, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(a, list)
			a->nla_type = NFTA_LIST_ELEM | NLA_F_NESTED;
	}
	return c;
}

static void fw_dry_elems(const struct nlmsghdr *msg)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = fw_elems_copy(msg);
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const struct fw_set_def *d;
	enum fw_set which;

	if (s == NULL || nlh == NULL || nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (s != NULL)
			nftnl_set_free(s);
		free(nlh);
		return;
	}
	free(nlh);
	which = fw_set_by_name(nftnl_set_get_str(s, NFTNL_SET_NAME));
	if (which == FW_NSETS) {
		fw_dry_printf("  (not one of our sets)\n");
		nftnl_set_free(s);
		return;
	}
	d = &fw_sets[which];
	fw_dry_printf("  set %s%s\n", d->sd_name,
		      nftnl_set_is_set(s, NFTNL_SET_ID) ? " (by id)" : "");
	it = nftnl_set_elems_iter_create(s);
	while (it != NULL && (e = nftnl_set_elems_iter_next(it)) != NULL) {
		char key[160], end[176] = "", data[176] = "", comment[96] = "";
		const void *v;
		uint32_t len = 0;

		v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		fw_fmt_key(d->sd_key, d->sd_nkey, v, len, key, sizeof(key));
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
			char k[160];

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
			fw_fmt_key(d->sd_key, d->sd_nkey, v, len, k, sizeof(k));
			snprintf(end, sizeof(end), " - %s", k);
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
			char k[160];

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
			fw_fmt_key(d->sd_data, d->sd_ndata, v, len, k, sizeof(k));
			snprintf(data, sizeof(data), " : %s", k);
		} else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
			snprintf(data, sizeof(data), " : %s %s",
				 nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT) ==
						 (uint32_t)NFT_GOTO
					 ? "goto"
					 : "jump",
				 nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
			const uint8_t *u = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);

			/* one TLV: NFTNL_UDATA_SET_ELEM_COMMENT, length, text with its NUL */
			if (len >= 3 && u[0] == NFTNL_UDATA_SET_ELEM_COMMENT && u[1] + 2u == len)
				snprintf(comment, sizeof(comment), " comment \"%.*s\"", u[1] - 1,
					 (const char *)u + 2);
		}
		fw_dry_printf("  %s%s%s%s%s\n", key, end, comment, data,
			      (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
			       (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
				NFT_SET_ELEM_INTERVAL_END) != 0)
				      ? " (interval end)"
				      : "");
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
}

static void fw_dry_set(const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();
	const uint8_t *u;
	uint32_t len = 0;

	if (s == NULL || nftnl_set_nlmsg_parse(nlh, s) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (s != NULL)
			nftnl_set_free(s);
		return;
	}
	fw_dry_printf("  set %s id %u flags 0x%x key type %u len %u", nftnl_set_get_str(s, NFTNL_SET_NAME),
		      nftnl_set_get_u32(s, NFTNL_SET_ID), nftnl_set_get_u32(s, NFTNL_SET_FLAGS),
		      nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
		      nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		fw_dry_printf(" data type 0x%x len %u", nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE),
			      nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN));
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
		const uint8_t *c = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);

		fw_dry_printf(" parts");
		for (uint32_t i = 0; i < len && c[i] != 0; i++)
			fw_dry_printf("%s%u", i > 0 ? "," : " ", c[i]);
	}
	u = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
	fw_dry_printf(" udata");
	for (uint32_t i = 0; u != NULL && i < len; i++)
		fw_dry_printf("%s%02x", i > 0 ? "" : " ", u[i]);
	fw_dry_printf("\n");
	nftnl_set_free(s);
}

static const char *fw_hook_name(uint32_t hook)
{
	static const char *const names[] = {
		[NF_INET_PRE_ROUTING] = "prerouting", [NF_INET_LOCAL_IN] = "input",
		[NF_INET_FORWARD] = "forward",        [NF_INET_LOCAL_OUT] = "output",
		[NF_INET_POST_ROUTING] = "postrouting",
	};

	return hook < sizeof(names) / sizeof(names[0]) && names[hook] != NULL ? names[hook] : "?";
}

static void fw_dry_chain(const struct nlmsghdr *nlh)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c == NULL || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (c != NULL)
			nftnl_chain_free(c);
		return;
	}
	fw_dry_printf("  chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		fw_dry_printf(" type %s hook %s priority %d policy %s",
			      nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE),
			      fw_hook_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
			      nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
			      nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT ? "accept"
										      : "drop");
	fw_dry_printf("\n");
	nftnl_chain_free(c);
}

static void fw_dry_rule(const struct nlmsghdr *nlh)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char *text = malloc(8192);
	const char *line, *nl;

	if (r == NULL || text == NULL || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		fw_dry_printf("  (unparsable)\n");
		goto out;
	}
	nftnl_rule_snprintf(text, 8192, r, NFTNL_OUTPUT_DEFAULT, 0);
	/* libnftnl's bytecode listing: a header line, then "  [ expr ]" lines */
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line) - 1;
		if (strncmp(line, "  [", 3) == 0)
			fw_dry_printf("%.*s\n", (int)(nl - line), line);
		if (nl[1] == '\0')
			break;
	}
out:
	free(text);
	if (r != NULL)
		nftnl_rule_free(r);
}

/* Describe every message of the batch, decoded from its bytes. */
static void fw_dry_batch(const struct fw_batch *b)
{
	static const char *const names[NFT_MSG_MAX] = {
		[NFT_MSG_NEWTABLE] = "NEWTABLE",     [NFT_MSG_DELTABLE] = "DELTABLE",
		[NFT_MSG_NEWCHAIN] = "NEWCHAIN",     [NFT_MSG_DELCHAIN] = "DELCHAIN",
		[NFT_MSG_NEWRULE] = "NEWRULE",       [NFT_MSG_DELRULE] = "DELRULE",
		[NFT_MSG_NEWSET] = "NEWSET",         [NFT_MSG_DELSET] = "DELSET",
		[NFT_MSG_NEWSETELEM] = "NEWSETELEM", [NFT_MSG_DELSETELEM] = "DELSETELEM",
	};
	const struct nlmsghdr *nlh = (const void *)b->fb_buf;
	int left = (int)b->fb_len;
	uint32_t i = 0;

	fw_dry_printf("batch of %u messages\n", b->fb_nmsgs);
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			continue;
		i++;
		fw_dry_printf("%u %s%s%s%s%s: %s\n", i,
			      type < NFT_MSG_MAX && names[type] != NULL ? names[type] : "?",
			      (nlh->nlmsg_flags & NLM_F_CREATE) ? " create" : "",
			      (nlh->nlmsg_flags & NLM_F_EXCL) ? " excl" : "",
			      (nlh->nlmsg_flags & NLM_F_APPEND) ? " append" : "",
			      (nlh->nlmsg_flags & NLM_F_ACK) ? " ack" : "",
			      i <= b->fb_nmsgs ? b->fb_msgs[i - 1].fm_what : "?");
		switch (type) {
		case NFT_MSG_NEWSETELEM:
		case NFT_MSG_DELSETELEM:
			fw_dry_elems(nlh);
			break;
		case NFT_MSG_NEWSET:
			fw_dry_set(nlh);
			break;
		case NFT_MSG_NEWCHAIN:
		case NFT_MSG_DELCHAIN:
			fw_dry_chain(nlh);
			break;
		case NFT_MSG_NEWRULE:
			fw_dry_rule(nlh);
			break;
		default:
			break;
		}
	}
}

/* ---- sending ------------------------------------------------------------ */

/* One netlink socket per thread, kept open between calls. Closing a
 * netfilter socket makes the kernel finish its deferred frees first (an RCU
 * grace period, 10-15 ms here) whenever a recent batch deleted anything:
 * `nft delete element` pays that on every run, and a socket per call would
 * make every unpublish, release and removal pay it too. The socket is the
 * thread's own, so calls still share nothing across threads; it is closed
 * when the thread exits, and replaced after a fork or a failure. */
struct fw_conn {
	struct mnl_socket *fc_nl;
	pid_t fc_pid;
};

static pthread_key_t fw_conn_key;
static pthread_once_t fw_conn_once = PTHREAD_ONCE_INIT;
static int fw_conn_key_err;

static void fw_conn_free(void *p)
{
	struct fw_conn *c = p;

	if (c->fc_nl != NULL)
		mnl_socket_close(c->fc_nl);
	free(c);
}

static void fw_conn_init(void)
{
	fw_conn_key_err = pthread_key_create(&fw_conn_key, fw_conn_free);
}

static struct mnl_socket *fw_socket_open(struct dock_err *err)
{
	struct timeval tv = { .tv_sec = FW_ACK_TIMEOUT_S };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int one = 1;

	if (nl == NULL) {
		err_set(err, 500, errno, "firewall: opening a netfilter netlink socket: %s",
			strerror(errno));
		return NULL;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err_set(err, 500, errno, "firewall: binding the netlink socket: %s",
			strerror(errno));
		mnl_socket_close(nl);
		return NULL;
	}
	/* Acks carry only the header of the message they answer. */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		err_set(err, 500, errno, "firewall: setting the netlink timeout: %s",
			strerror(errno));
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

static struct fw_conn *fw_conn(struct dock_err *err)
{
	struct fw_conn *c;

	pthread_once(&fw_conn_once, fw_conn_init);
	if (fw_conn_key_err != 0) {
		err_set(err, 500, fw_conn_key_err, "firewall: no thread-specific key: %s",
			strerror(fw_conn_key_err));
		return NULL;
	}
	c = pthread_getspecific(fw_conn_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || pthread_setspecific(fw_conn_key, c) != 0) {
			free(c);
			err_set(err, 500, ENOMEM, "firewall: out of memory");
			return NULL;
		}
	}
	return c;
}

/* This thread's socket, with nothing left to read on it: what a previous
 * call did not read (the errors after the first, the rest of an abandoned
 * dump) is drained. */
static struct mnl_socket *fw_socket(struct dock_err *err)
{
	struct fw_conn *c = fw_conn(err);
	char buf[8192];

	if (c == NULL)
		return NULL;
	if (c->fc_nl != NULL && c->fc_pid != getpid()) {
		/* inherited through fork: the parent's binding, not ours */
		mnl_socket_close(c->fc_nl);
		c->fc_nl = NULL;
	}
	if (c->fc_nl == NULL) {
		c->fc_nl = fw_socket_open(err);
		c->fc_pid = getpid();
		return c->fc_nl;
	}
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(c->fc_nl), buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno != EINTR && errno != ENOBUFS)
			break;
	}
	return c->fc_nl;
}

/* After a failure that may leave the socket in a state we cannot tell
 * (a timeout, a short send): the next call opens a new one. */
static void fw_socket_drop(void)
{
	struct fw_conn *c = fw_conn(NULL);

	if (c != NULL && c->fc_nl != NULL) {
		mnl_socket_close(c->fc_nl);
		c->fc_nl = NULL;
	}
}

/* Ask the kernel for one element of one of our sets: key in, the element's
 * data, verdict chain and comment out. Used to name who holds what after a
 * conflict; 0 when found. */
struct fw_found {
	uint8_t ff_data[FW_KEY_MAX];
	uint32_t ff_dlen;
	char ff_chain[NFT_CHAIN_MAXNAMELEN];
	char ff_comment[NFTNL_UDATA_COMMENT_MAXLEN];
};

static int fw_get_elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_found *f = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (s == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0 &&
	    (it = nftnl_set_elems_iter_create(s)) != NULL) {
		e = nftnl_set_elems_iter_cur(it);
		if (e != NULL) {
			const void *v;
			uint32_t len = 0;

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
			if (v != NULL && len <= sizeof(f->ff_data)) {
				memcpy(f->ff_data, v, len);
				f->ff_dlen = len;
			}
			if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
				snprintf(f->ff_chain, sizeof(f->ff_chain), "%s",
					 nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
			if (v != NULL && len >= 3 && ((const uint8_t *)v)[1] + 2u == len)
				snprintf(f->ff_comment, sizeof(f->ff_comment), "%.*s",
					 ((const uint8_t *)v)[1] - 1, (const char *)v + 2);
		}
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int fw_get_elem(enum fw_set which, const struct fw_key *key, struct fw_found *f)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 2] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	int r = -1;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (s == NULL || e == NULL)
		goto out;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, fw_sets[which].sd_name) < 0 ||
	    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key->k_buf, key->k_len) < 0)
		goto out;
	nftnl_set_elem_add(s, e);
	e = NULL;
	nl = fw_socket(NULL);
	if (nl == NULL)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, 1);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		int rc = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), fw_get_elem_cb, f);

		if (rc <= 0) {
			r = rc == 0 && (f->ff_dlen > 0 || f->ff_chain[0] != '\0') ? 0 : -1;
			break;
		}
	}
out:
	if (e != NULL)
		nftnl_set_elem_free(e);
	if (s != NULL)
		nftnl_set_free(s);
	return r;
}

/* "by node web2 (to 10.231.0.10:80)" for whoever holds the host port. */
static void fw_port_holder(const struct fw_publish *p, char *buf, size_t size)
{
	struct fw_key key = { 0 };
	struct fw_found f;
	char a[INET_ADDRSTRLEN];
	uint32_t ip;
	uint16_t port;

	fw_key_proto(&key, p->fp_proto);
	fw_key_port(&key, p->fp_host_port);
	if (fw_get_elem(FW_PUBLISHED, &key, &f) < 0 || f.ff_dlen != 8) {
		snprintf(buf, size, "by another publish");
		return;
	}
	memcpy(&ip, f.ff_data, 4);
	memcpy(&port, f.ff_data + 4, 2);
	snprintf(buf, size, "by node %s (to %s:%u)", f.ff_comment[0] != '\0' ? f.ff_comment : "?",
		 fw_ntoa(ntohl(ip), a), ntohs(port));
}

static int fw_kernel_error(const struct fw_batch *b, uint32_t index, int errnum,
			   struct dock_err *err)
{
	const struct fw_msg *m = &b->fb_msgs[index];
	const struct fw_info *fi = m->fm_node;
	char spec[24], holder[NFTNL_UDATA_COMMENT_MAXLEN + 48], a[INET_ADDRSTRLEN];

	fw_publish_format(&m->fm_pub, spec, sizeof(spec));
	if (errnum == EEXIST && m->fm_kind == FW_K_PUBLISH) {
		fw_port_holder(&m->fm_pub, holder, sizeof(holder));
		return err_set(err, 409, errnum,
			       "publish %s %s: host port %u/%s is already published %s",
			       fi->fi_name, spec, m->fm_pub.fp_host_port,
			       fw_proto_name(m->fm_pub.fp_proto), holder);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_UNPUBLISH) {
		fw_port_holder(&m->fm_pub, holder, sizeof(holder));
		return err_set(err, 409, errnum,
			       "unpublish %s %s: host port %u/%s is published %s, not as %s by %s",
			       fi->fi_name, spec, m->fm_pub.fp_host_port,
			       fw_proto_name(m->fm_pub.fp_proto), holder, spec, fi->fi_name);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_BRIDGE) {
		struct fw_key key = { 0 };
		struct fw_found f;

		fw_key_ifname(&key, fi->fi_bridge);
		if (fw_get_elem(FW_NODE_DROP, &key, &f) == 0 &&
		    strncmp(f.ff_chain, FW_CHAIN_PREFIX, strlen(FW_CHAIN_PREFIX)) == 0)
			return err_set(err, 409, errnum, "node %s: bridge %s is node %s's",
				       fi->fi_name, fi->fi_bridge,
				       f.ff_chain + strlen(FW_CHAIN_PREFIX));
		return err_set(err, 409, errnum, "node %s: bridge %s is another node's",
			       fi->fi_name, fi->fi_bridge);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_SUBNET)
		return err_set(err, 409, errnum,
			       "node %s: subnet %s overlaps another node's in set node_subnets",
			       fi->fi_name, fi->fi_cidr);
	if (errnum == ENOENT && m->fm_kind == FW_K_PRESENT)
		return err_set(err, 500, errnum,
			       "publish %s %s: node %s (bridge %s, %s) is not in table inet %s (fw_node_add or fw_init adds it)",
			       fi->fi_name, spec, fi->fi_name, fi->fi_bridge, fw_ntoa(fi->fi_ip, a),
			       FW_TABLE);
	if (errnum == EEXIST)
		return err_set(err, 409, errnum,
			       "firewall: kernel refused to %s: it overlaps an element already there",
			       m->fm_what);
	if (errnum == ENOENT)
		return err_set(err, 500, errnum,
			       "firewall: kernel could not %s: %s (is table inet %s there? fw_init makes it)",
			       m->fm_what, strerror(errnum), FW_TABLE);
	return err_set(err, 500, errnum, "firewall: kernel refused to %s (message %u of %u): %s",
		       m->fm_what, index + 1, b->fb_nmsgs, strerror(errnum));
}

/* The kernel processes the batch while we send it, so everything it has to
 * say is queued by the time sendto returns: an error for each failing
 * message, in message order, then the ack of the last message. An error
 * on the batch begin is a failure of the whole batch (its commit, or no
 * memory to queue the errors). */
static int fw_batch_acks(struct fw_batch *b, struct mnl_socket *nl, struct dock_err *err)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t portid = mnl_socket_get_portid(nl), last = fw_seq(b->fb_nmsgs - 1);

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		/* ENOBUFS: errors overflowed the socket; the first ones, the
		 * ones we report, were queued first and are still there. */
		if (len < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_set(err, 500, ETIMEDOUT,
				       "firewall: no answer from the kernel after %d s to a batch of %u messages",
				       FW_ACK_TIMEOUT_S, b->fb_nmsgs);
		if (len < 0)
			return err_set(err, 500, errno, "firewall: reading netlink acks: %s",
				       strerror(errno));
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

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
			if (nlh->nlmsg_seq < fw_seq(0) || nlh->nlmsg_seq > last)
				continue;
			if (e->error != 0)
				return fw_kernel_error(b, nlh->nlmsg_seq - fw_seq(0), -e->error, err);
			if (nlh->nlmsg_seq == last)
				return 0;
		}
	}
}

static int fw_batch_send(struct fw_batch *b, struct dock_err *err)
{
	struct mnl_socket *nl;
	ssize_t sent;
	int r;

	fw_batch_end(b);
	if (b->fb_errno != 0)
		return err_set(err, 500, b->fb_errno, "firewall: building the batch: %s",
			       strerror(b->fb_errno));
	if (fw_dry != NULL) {
		fw_dry_batch(b);
		return 0;
	}
	if (b->fb_nmsgs == 0)
		return 0;
	nl = fw_socket(err);
	if (nl == NULL)
		return -EIO;
	/* The whole batch goes in one datagram, which must fit the send
	 * buffer: a big fw_init is bigger than the default, and we hold
	 * CAP_NET_ADMIN, which lets us raise it past wmem_max. */
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
	if (r == -ETIMEDOUT || r == -EBADMSG)
		fw_socket_drop();
	return r;
out:
	fw_socket_drop();
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

/* ---- the calls ---------------------------------------------------------- */

static bool fw_overlap(const struct fw_info *a, const struct fw_info *c)
{
	return a->fi_first < c->fi_end && c->fi_first < a->fi_end;
}

/* What fw_init refuses beyond each node's own checks. */
static int fw_init_check(const struct fw_info *fi, size_t n, struct dock_err *err)
{
	uint32_t *owner = calloc(2 * 65536, sizeof(*owner));  /* (udp?, port) -> node + 1 */
	int r = 0;

	if (owner == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	for (size_t i = 0; i < n && r == 0; i++) {
		for (size_t j = 0; j < i && r == 0; j++) {
			if (strcmp(fi[i].fi_name, fi[j].fi_name) == 0)
				r = err_set(err, 400, EINVAL, "node %s: the name is twice in the list",
					    fi[i].fi_name);
			else if (strcmp(fi[i].fi_bridge, fi[j].fi_bridge) == 0)
				r = err_set(err, 400, EINVAL, "node %s: bridge %s is node %s's too",
					    fi[i].fi_name, fi[i].fi_bridge, fi[j].fi_name);
			else if (fw_overlap(&fi[i], &fi[j]))
				r = err_set(err, 400, EINVAL,
					    "node %s: subnet %s overlaps node %s's subnet %s",
					    fi[i].fi_name, fi[i].fi_cidr, fi[j].fi_name,
					    fi[j].fi_cidr);
		}
		for (size_t k = 0; k < fi[i].fi_npub && r == 0; k++) {
			const struct fw_publish *p = &fi[i].fi_pub[k];
			uint32_t *o = &owner[(p->fp_proto == IPPROTO_UDP ? 65536 : 0) + p->fp_host_port];
			char spec[24];

			if (*o != 0) {
				fw_publish_format(p, spec, sizeof(spec));
				r = err_set(err, 400, EINVAL,
					    "publish %s %s: host port %u/%s is already published by node %s",
					    fi[i].fi_name, spec, p->fp_host_port,
					    fw_proto_name(p->fp_proto), fi[*o - 1].fi_name);
			}
			*o = (uint32_t)i + 1;
		}
	}
	free(owner);
	return r;
}

int fw_init(const struct fw_node *nodes, size_t n, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_info *fi = NULL;
	int r;

	if (n > FW_NODES_MAX)
		return err_set(err, 400, E2BIG, "firewall: %zu nodes, more than the limit of %d", n,
			       FW_NODES_MAX);
	if (n > 0 && nodes == NULL)
		return err_set(err, 400, EINVAL, "firewall: %zu nodes but no node array", n);
	fi = calloc(n + 1, sizeof(*fi));
	if (fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: no memory for %zu nodes", n);
	for (size_t i = 0; i < n; i++) {
		r = fw_node_parse(&nodes[i], &fi[i], err);
		if (r < 0)
			goto out;
	}
	r = fw_init_check(fi, n, err);
	if (r < 0)
		goto out;

	fw_batch_begin(&b);
	fw_table_delete(&b);
	fw_table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, true,
		     "create table inet " FW_TABLE);
	for (int s = 0; s < FW_NSETS; s++)
		fw_set_create(&b, (enum fw_set)s);
	fw_policy(&b);
	/* The node chains after the fixed ones, as fw_node_add makes them,
	 * and before node_drop's elements, which go to them. */
	for (size_t i = 0; i < n; i++)
		fw_node_chain(&b, &fi[i], true);
	for (int s = 0; s < FW_NSETS && b.fb_errno == 0; s++) {
		struct fw_els els = { 0 };

		for (size_t i = 0; i < n; i++)
			fw_node_elems(&b, &fi[i], (enum fw_set)s, false, &els);
		fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "add", (enum fw_set)s,
			 true, els.v, els.n);
		free(els.v);
	}
	r = fw_batch_send(&b, err);
out:
	fw_batch_free(&b);
	free(fi);
	return r;
}

/* Each call below: check, build, send, free. */
typedef void (*fw_build_fn)(struct fw_batch *b, const struct fw_info *fi, const void *arg);

static int fw_node_call(const struct fw_node *node, fw_build_fn build, const void *arg,
			struct fw_info *fi_in, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_info *fi = fi_in;
	int r = 0;

	if (fi == NULL) {
		fi = malloc(sizeof(*fi));
		if (fi == NULL)
			return err_set(err, 500, ENOMEM, "firewall: out of memory");
		r = fw_node_parse(node, fi, err);
	}
	if (r == 0) {
		fw_batch_begin(&b);
		build(&b, fi, arg);
		r = fw_batch_send(&b, err);
	}
	fw_batch_free(&b);
	if (fi != fi_in)
		free(fi);
	return r;
}

static void fw_build_add(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	(void)arg;
	/* The chain first: node_drop's element goes to it. No NLM_F_EXCL
	 * anywhere: adding what is already there is a no-op, so a dock that
	 * restarts half-way can simply add again. */
	fw_node_chain(b, fi, false);
	fw_node_set(b, fi, FW_NODE_DROP, false);
	for (int s = 0; s < FW_NSETS; s++) {
		if (s == FW_NODE_DROP)
			continue;
		if (s == FW_PUBLISHED) {
			/* one message per publish, to name the one in conflict */
			for (size_t i = 0; i < fi->fi_npub; i++) {
				struct fw_els els = { 0 };

				fw_el_publish(b, &els, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED,
					 false, els.v, els.n);
				fw_msg_kind(b, FW_K_PUBLISH, fi, &fi->fi_pub[i]);
				free(els.v);
			}
			continue;
		}
		fw_node_set(b, fi, (enum fw_set)s, false);
	}
}

int fw_node_add(const struct fw_node *node, struct dock_err *err)
{
	return fw_node_call(node, fw_build_add, NULL, NULL, err);
}

static void fw_build_remove(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	(void)arg;
	/* The chain is made sure of first, so that node_drop's element can be
	 * added (then deleted) whatever the table held; deleting the chain
	 * comes last, when nothing goes to it any more. */
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, fi->fi_chain, NULL, 0, 0, "make sure of");
	for (int s = 0; s < FW_NSETS; s++) {
		if (s == FW_PUBLISHED) {
			for (size_t i = 0; i < fi->fi_npub; i++) {
				struct fw_els els = { 0 };

				fw_el_publish(b, &els, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove",
					 FW_PUBLISHED, false, els.v, els.n);
				fw_msg_kind(b, FW_K_UNPUBLISH, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED, false,
					 els.v, els.n);
				free(els.v);
			}
			continue;
		}
		fw_node_set(b, fi, (enum fw_set)s, true);
	}
	fw_chain_msg(b, NFT_MSG_DELCHAIN, 0, fi->fi_chain, NULL, 0, 0, "delete");
}

int fw_node_remove(const struct fw_node *node, struct dock_err *err)
{
	return fw_node_call(node, fw_build_remove, NULL, NULL, err);
}

static int fw_pub_prepare(const struct fw_node *node, const struct fw_publish *p,
			  struct fw_info **fi, struct dock_err *err)
{
	int r;

	*fi = malloc(sizeof(**fi));
	if (*fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	r = fw_node_parse(node, *fi, err);
	if (r == 0 && p == NULL)
		r = err_set(err, 400, EINVAL, "publish %s: the port is missing", (*fi)->fi_name);
	if (r == 0)
		r = fw_check_publish((*fi)->fi_name, p, err);
	return r;
}

static void fw_build_publish(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_publish *p = arg;
	struct fw_els addrs = { 0 }, pub = { 0 }, to = { 0 };

	/* The node must be there: its anti-spoofing element is deleted and
	 * added again, which fails (ENOENT) when it is absent, in the same
	 * transaction and without touching a verdict map (whose change would
	 * make the kernel revalidate every chain). */
	fw_node_elems(b, fi, FW_ADDRS, false, &addrs);
	if (addrs.n > 0)
		addrs.n = 1;  /* its address; the 0.0.0.0 element need not be checked */
	fw_elems(b, NFT_MSG_DELSETELEM, 0, "check", FW_ADDRS, false, addrs.v, addrs.n);
	fw_msg_kind(b, FW_K_PRESENT, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_ADDRS, false, addrs.v, addrs.n);
	fw_el_publish(b, &pub, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED, false, pub.v, pub.n);
	fw_msg_kind(b, FW_K_PUBLISH, fi, p);
	fw_el_published_to(b, &to, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED_TO, false, to.v, to.n);
	free(addrs.v);
	free(pub.v);
	free(to.v);
}

int fw_publish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err)
{
	struct fw_info *fi = NULL;
	int r = fw_pub_prepare(node, p, &fi, err);

	if (r == 0)
		r = fw_node_call(node, fw_build_publish, p, fi, err);
	free(fi);
	return r;
}

static void fw_build_unpublish(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_publish *p = arg;
	struct fw_els pub = { 0 }, to = { 0 };
	bool shared = false;

	fw_el_publish(b, &pub, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_PUBLISHED, false, pub.v, pub.n);
	fw_msg_kind(b, FW_K_UNPUBLISH, fi, p);
	fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED, false, pub.v, pub.n);
	/* Another of the node's host ports to the same node port keeps the
	 * forward accept. */
	for (size_t i = 0; i < fi->fi_npub; i++) {
		const struct fw_publish *o = &fi->fi_pub[i];

		if (o->fp_proto == p->fp_proto && o->fp_node_port == p->fp_node_port &&
		    o->fp_host_port != p->fp_host_port)
			shared = true;
	}
	if (!shared) {
		fw_el_published_to(b, &to, fi, p);
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_PUBLISHED_TO, false,
			 to.v, to.n);
		fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED_TO, false, to.v, to.n);
	}
	free(pub.v);
	free(to.v);
}

int fw_unpublish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err)
{
	struct fw_info *fi = NULL;
	int r = fw_pub_prepare(node, p, &fi, err);

	if (r == 0)
		r = fw_node_call(node, fw_build_unpublish, p, fi, err);
	free(fi);
	return r;
}

static void fw_build_quarantine(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const bool *on = arg;
	struct fw_els els = { 0 };

	fw_node_elems(b, fi, FW_QUARANTINED, true, &els);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, *on ? "add" : "remove", FW_QUARANTINED,
		 false, els.v, els.n);
	if (!*on)
		fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_QUARANTINED, false, els.v, els.n);
	free(els.v);
}

int fw_quarantine(const struct fw_node *node, bool on, struct dock_err *err)
{
	return fw_node_call(node, fw_build_quarantine, &on, NULL, err);
}

/* fi: the node as it is; arg: as it will be. */
static void fw_build_egress(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_info *want = arg;
	struct fw_els els = { 0 };

	fw_node_set(b, fi, FW_EGRESS_ALLOWED, true);
	fw_node_set(b, want, FW_EGRESS_DENIED, !want->fi_deny);
	fw_node_elems(b, want, FW_EGRESS_ALLOWED, false, &els);
	if (els.n > 0)
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_EGRESS_ALLOWED, false,
			 els.v, els.n);
	free(els.v);
}

int fw_set_egress(const struct fw_node *node, bool deny, const char *const *allow, size_t n,
		  struct dock_err *err)
{
	struct fw_info *now = malloc(sizeof(*now)), *want = malloc(sizeof(*want));
	int r;

	if (now == NULL || want == NULL) {
		r = err_set(err, 500, ENOMEM, "firewall: out of memory");
		goto out;
	}
	r = fw_node_parse(node, now, err);
	if (r < 0)
		goto out;
	memcpy(want, now, sizeof(*want));
	r = fw_parse_allow(want, deny, allow, n, err);
	if (r < 0)
		goto out;
	r = fw_node_call(node, fw_build_egress, want, now, err);
out:
	free(now);
	free(want);
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

/* ---- reading the policy back -------------------------------------------- */

/* A rule as a line of text that names every expression and the attributes
 * that carry the policy, not those the kernel fills in on its own (nat's
 * max registers, log's level, counter values): the same for what we send
 * and what the kernel dumps back, and different when someone edits it. */
static const struct fw_sig_attr {
	const char *sa_expr;
	uint16_t sa_attr;
	char sa_kind;              /* u: u32, U: u64, z: u32 where absent is 0, s: string, d: bytes */
} fw_sig_attrs[] = {
	{ "meta", NFTNL_EXPR_META_KEY, 'u' },	   { "meta", NFTNL_EXPR_META_DREG, 'u' },
	{ "meta", NFTNL_EXPR_META_SREG, 'u' },	   { "cmp", NFTNL_EXPR_CMP_SREG, 'u' },
	{ "cmp", NFTNL_EXPR_CMP_OP, 'u' },	   { "cmp", NFTNL_EXPR_CMP_DATA, 'd' },
	{ "lookup", NFTNL_EXPR_LOOKUP_SREG, 'u' }, { "lookup", NFTNL_EXPR_LOOKUP_DREG, 'u' },
	{ "lookup", NFTNL_EXPR_LOOKUP_SET, 's' },  { "lookup", NFTNL_EXPR_LOOKUP_FLAGS, 'z' },
	{ "payload", NFTNL_EXPR_PAYLOAD_BASE, 'u' }, { "payload", NFTNL_EXPR_PAYLOAD_OFFSET, 'u' },
	{ "payload", NFTNL_EXPR_PAYLOAD_LEN, 'u' }, { "payload", NFTNL_EXPR_PAYLOAD_DREG, 'u' },
	{ "ct", NFTNL_EXPR_CT_KEY, 'u' },	   { "ct", NFTNL_EXPR_CT_DREG, 'u' },
	{ "ct", NFTNL_EXPR_CT_DIR, 'u' },	   { "bitwise", NFTNL_EXPR_BITWISE_SREG, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_DREG, 'u' }, { "bitwise", NFTNL_EXPR_BITWISE_LEN, 'u' },
	{ "bitwise", NFTNL_EXPR_BITWISE_MASK, 'd' }, { "bitwise", NFTNL_EXPR_BITWISE_XOR, 'd' },
	{ "immediate", NFTNL_EXPR_IMM_DREG, 'u' }, { "immediate", NFTNL_EXPR_IMM_VERDICT, 'u' },
	{ "immediate", NFTNL_EXPR_IMM_CHAIN, 's' }, { "fib", NFTNL_EXPR_FIB_RESULT, 'u' },
	{ "fib", NFTNL_EXPR_FIB_FLAGS, 'u' },	   { "fib", NFTNL_EXPR_FIB_DREG, 'u' },
	{ "nat", NFTNL_EXPR_NAT_TYPE, 'u' },	   { "nat", NFTNL_EXPR_NAT_FAMILY, 'u' },
	{ "nat", NFTNL_EXPR_NAT_REG_ADDR_MIN, 'u' }, { "nat", NFTNL_EXPR_NAT_REG_PROTO_MIN, 'u' },
	{ "limit", NFTNL_EXPR_LIMIT_RATE, 'U' },   { "limit", NFTNL_EXPR_LIMIT_UNIT, 'U' },
	{ "limit", NFTNL_EXPR_LIMIT_BURST, 'u' },  { "limit", NFTNL_EXPR_LIMIT_TYPE, 'u' },
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

/* What was read (or, for the expected policy, built): chains and their
 * rules, sets, and the elements of our sets. */
struct fw_rrule {
	char rr_chain[NFT_CHAIN_MAXNAMELEN];
	char *rr_sig;
	uint64_t rr_pkts;
	uint64_t rr_bytes;
};

struct fw_rchain {
	char rc_name[NFT_CHAIN_MAXNAMELEN];
	bool rc_base;
	char rc_type[16];
	uint32_t rc_hook;
	int32_t rc_prio;
	uint32_t rc_policy;
};

struct fw_rset {
	char rs_name[NFT_SET_MAXNAMELEN];
	uint32_t rs_flags;
	uint32_t rs_key_type;
	uint32_t rs_key_len;
	uint32_t rs_data_type;
};

struct fw_relem {
	struct fw_key re_key;
	struct fw_key re_end;
	struct fw_key re_data;
	char re_chain[NFT_CHAIN_MAXNAMELEN];
	char re_comment[FW_NAME_MAX + 1];
	uint32_t re_flags;
};

struct fw_read {
	struct fw_rrule *rules;
	size_t nrules;
	struct fw_rchain *chains;
	size_t nchains;
	struct fw_rset *sets;
	size_t nsets;
	struct fw_relem *elems[FW_NSETS];
	size_t nelems[FW_NSETS];
	bool table;
	bool oom;
	struct fw_show *show;      /* for warnings about other tables */
};

/* Grow *v (of *n elements of size sz) by one zeroed element. */
static void *fw_grow(void *vp, size_t *n, size_t sz, bool *oom)
{
	void **v = vp;
	char *p;

	if (*oom)
		return NULL;
	if ((*n & (*n - 1)) == 0) {  /* at 0, 1, 2, 4...: double */
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

static void fw_read_free(struct fw_read *rd)
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

static void fw_read_rule(struct fw_read *rd, const struct nftnl_rule *r)
{
	struct fw_rrule *rr = fw_grow(&rd->rules, &rd->nrules, sizeof(*rr), &rd->oom);

	if (rr == NULL)
		return;
	snprintf(rr->rr_chain, sizeof(rr->rr_chain), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	rr->rr_sig = fw_rule_sig(r, &rr->rr_pkts, &rr->rr_bytes);
	if (rr->rr_sig == NULL)
		rd->oom = true;
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
static int fw_expected(struct fw_read *ex, const char *node)
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

static void fw_warn(struct fw_show *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fw_warn(struct fw_show *s, const char *fmt, ...)
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
	if (family == NFPROTO_INET && strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), FW_TABLE) == 0) {
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

static int fw_set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_read *rd = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct fw_rset *rs;

	if (s == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    (rs = fw_grow(&rd->sets, &rd->nsets, sizeof(*rs), &rd->oom)) != NULL) {
		snprintf(rs->rs_name, sizeof(rs->rs_name), "%s", nftnl_set_get_str(s, NFTNL_SET_NAME));
		rs->rs_flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
		rs->rs_key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
		rs->rs_key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
		if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
			rs->rs_data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
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
		if (u != NULL && len >= 3 && u[0] == NFTNL_UDATA_SET_ELEM_COMMENT && u[1] + 2u <= len)
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
static int fw_dump(struct mnl_socket *nl, char *buf, struct nlmsghdr *req, mnl_cb_t cb,
		   void *data)
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
static int fw_read_all(struct fw_read *rd, struct dock_err *err)
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
		nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, seq++);
		r = fw_dump(nl, buf, nlh, fw_chain_cb, rd);
	}
	if (r == 0 && rd->table) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nftnl_rule *ru = nftnl_rule_alloc();

		if (s == NULL || ru == NULL || nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
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
			nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP,
						    seq++);
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
		    rs->rs_data_type != (d->sd_verdict ? NFT_DATA_VERDICT
						       : d->sd_ndata > 0 ? fw_parts_type(d->sd_data,
											 d->sd_ndata)
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
				 want->rc_base ? "the base chain fw_init makes" : "a regular chain");
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
				snprintf(p, sz, "chain %s has a rule fw_init does not make", want->rc_name);
				return;
			}
			if (g == rd->nrules) {
				snprintf(p, sz, "chain %s lacks a rule of fw_init's", want->rc_name);
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

/* Nodes are the bridges of node_bridges and node_drop; everything else
 * is looked up by bridge (or, for publishes, by the node's address). */
static void fw_show_nodes(const struct fw_read *rd, struct fw_show *s, bool *oom)
{
	char b[IFNAMSIZ + 1], a[INET_ADDRSTRLEN];
	struct fw_show_node *n;

	for (size_t i = 0; i < rd->nelems[FW_BRIDGES]; i++) {
		fw_key_str(&rd->elems[FW_BRIDGES][i].re_key, 0, FW_F_IFNAME, b, sizeof(b));
		fw_show_node_of(s, b, oom);
	}
	for (size_t i = 0; i < rd->nelems[FW_NODE_DROP]; i++) {
		const struct fw_relem *e = &rd->elems[FW_NODE_DROP][i];

		fw_key_str(&e->re_key, 0, FW_F_IFNAME, b, sizeof(b));
		n = fw_show_node_of(s, b, oom);
		if (n != NULL && strncmp(e->re_chain, FW_CHAIN_PREFIX, strlen(FW_CHAIN_PREFIX)) == 0)
			snprintf(n->sn_name, sizeof(n->sn_name), "%s",
				 e->re_chain + strlen(FW_CHAIN_PREFIX));
	}
	for (size_t i = 0; i < s->fs_nnodes; i++) {
		uint32_t ip = 0;
		size_t nip = 0;

		n = &s->fs_nodes[i];
		for (size_t k = 0; k < rd->nelems[FW_ADDRS]; k++) {
			const struct fw_key *key = &rd->elems[FW_ADDRS][k].re_key;

			fw_key_str(key, 0, FW_F_IFNAME, b, sizeof(b));
			if (strcmp(b, n->sn_bridge) != 0 || fw_key_u32(key, IFNAMSIZ) == 0)
				continue;
			ip = fw_key_u32(key, IFNAMSIZ);
			nip++;
			snprintf(n->sn_ip, sizeof(n->sn_ip), "%s", fw_ntoa(ip, a));
			fw_key_str(key, IFNAMSIZ + 4, FW_F_ETHER, n->sn_mac, sizeof(n->sn_mac));
		}
		n->sn_antispoof = nip == 1;
		for (size_t k = 0; k < rd->nelems[FW_SERVICES]; k++) {
			const struct fw_key *key = &rd->elems[FW_SERVICES][k].re_key;

			fw_key_str(key, 0, FW_F_IFNAME, b, sizeof(b));
			if (strcmp(b, n->sn_bridge) == 0 &&
			    fw_key_u32(key, IFNAMSIZ) != INADDR_BROADCAST)
				snprintf(n->sn_gateway, sizeof(n->sn_gateway), "%s",
					 fw_ntoa(fw_key_u32(key, IFNAMSIZ), a));
		}
		/* node_subnets: [start, end) pairs; the one holding its address */
		for (size_t k = 0; nip > 0 && k < rd->nelems[FW_SUBNETS]; k++) {
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
		n->sn_quarantined = fw_elem_has_bridge(rd, FW_QUARANTINED, n->sn_bridge);
		n->sn_egress_deny = fw_elem_has_bridge(rd, FW_EGRESS_DENIED, n->sn_bridge);
		for (size_t k = 0; k < rd->nelems[FW_EGRESS_ALLOWED]; k++) {
			const struct fw_relem *e = &rd->elems[FW_EGRESS_ALLOWED][k];

			fw_key_str(&e->re_key, 0, FW_F_IFNAME, b, sizeof(b));
			if (strcmp(b, n->sn_bridge) != 0)
				continue;
			if (n->sn_nallow == FW_ALLOW_MAX) {
				n->sn_truncated = true;
				continue;
			}
			fw_range_str(fw_key_u32(&e->re_key, IFNAMSIZ),
				     fw_key_u32(e->re_end.k_len != 0 ? &e->re_end : &e->re_key,
						IFNAMSIZ),
				     n->sn_allow[n->sn_nallow], sizeof(n->sn_allow[0]));
			n->sn_nallow++;
		}
		for (size_t k = 0; nip > 0 && k < rd->nelems[FW_PUBLISHED]; k++) {
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
			fw_warn(s, "host port %u/%s is published to %s:%u, which is no node's address (node %s)",
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
			fw_warn(s, "net.ipv4.ip_forward is 0: nodes have no outbound traffic and published ports do not answer");
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
			r = err_set(err, 404, ENOENT, "firewall: node %s is not in table inet %s", node,
				    FW_TABLE);
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

char *fw_show_text(const struct fw_show *s)
{
	struct fw_str t = { 0 };

	if (!s->fs_table)
		fw_str_add(&t, "table inet %s: missing: no node is isolated\n", FW_TABLE);
	else if (s->fs_policy_ok)
		fw_str_add(&t, "table inet %s: present, policy as fw_init makes it\n", FW_TABLE);
	else
		fw_str_add(&t, "table inet %s: present, POLICY ALTERED: %s\n", FW_TABLE,
			   s->fs_policy_problem);
	for (size_t i = 0; i < s->fs_nwarnings; i++)
		fw_str_add(&t, "warning: %s\n", s->fs_warnings[i]);
	for (size_t i = 0; i < s->fs_nnodes; i++) {
		const struct fw_show_node *n = &s->fs_nodes[i];

		fw_str_add(&t, "node %s: bridge %s, address %s, MAC %s, gateway %s, subnet %s\n",
			   n->sn_name, n->sn_bridge, n->sn_ip[0] ? n->sn_ip : "-",
			   n->sn_mac[0] ? n->sn_mac : "-", n->sn_gateway[0] ? n->sn_gateway : "-",
			   n->sn_subnet[0] ? n->sn_subnet : "-");
		fw_str_add(&t, "  isolated: %s, anti-spoofing: %s, quarantined: %s\n",
			   n->sn_isolated ? "yes" : "NO", n->sn_antispoof ? "yes" : "NO",
			   n->sn_quarantined ? "YES" : "no");
		if (!n->sn_egress_deny)
			fw_str_add(&t, "  egress: allowed (masqueraded)\n");
		else if (n->sn_nallow == 0)
			fw_str_add(&t, "  egress: denied\n");
		else {
			fw_str_add(&t, "  egress: denied except to");
			for (size_t k = 0; k < n->sn_nallow; k++)
				fw_str_add(&t, "%s %s", k > 0 ? "," : "", n->sn_allow[k]);
			fw_str_add(&t, "\n");
		}
		fw_str_add(&t, "  published:");
		for (size_t k = 0; k < n->sn_npublished; k++) {
			char spec[24];

			fw_publish_format(&n->sn_published[k], spec, sizeof(spec));
			fw_str_add(&t, "%s %s", k > 0 ? "," : "", spec);
		}
		fw_str_add(&t, "%s\n", n->sn_npublished == 0 ? " none" : "");
		fw_str_add(&t, "  drops: %llu packets, %llu bytes, logged as \"" FW_LOG_PREFIX_FMT
			       "\" (%d/s, burst %d)%s\n",
			   (unsigned long long)n->sn_drop_packets,
			   (unsigned long long)n->sn_drop_bytes, n->sn_name, FW_LOG_RATE,
			   FW_LOG_BURST, n->sn_truncated ? " (lists truncated)" : "");
	}
	fw_str_add(&t, "%s", "");
	return fw_str_take(&t);
}

int fw_show_json(const struct fw_show *s, struct json_object **out, struct dock_err *err)
{
	struct json_object *o = json_object_new_object(), *nodes = json_object_new_array();
	struct json_object *warn = json_object_new_array();
	bool fail = o == NULL || nodes == NULL || warn == NULL;

	*out = NULL;
	for (size_t i = 0; !fail && i < s->fs_nwarnings; i++)
		fail |= json_object_array_add(warn, json_object_new_string(s->fs_warnings[i])) < 0;
	for (size_t i = 0; !fail && i < s->fs_nnodes; i++) {
		const struct fw_show_node *n = &s->fs_nodes[i];
		struct json_object *j = json_object_new_object(), *pub = json_object_new_array();
		struct json_object *eg = json_object_new_object(), *allow = json_object_new_array();
		struct json_object *drops = json_object_new_object();

		fail |= j == NULL || pub == NULL || eg == NULL || allow == NULL || drops == NULL;
		for (size_t k = 0; !fail && k < n->sn_npublished; k++) {
			struct json_object *p = json_object_new_object();

			fail |= p == NULL ||
				json_object_object_add(p, "proto", json_object_new_string(fw_proto_name(n->sn_published[k].fp_proto))) < 0 ||
				json_object_object_add(p, "host_port", json_object_new_int(n->sn_published[k].fp_host_port)) < 0 ||
				json_object_object_add(p, "node_port", json_object_new_int(n->sn_published[k].fp_node_port)) < 0 ||
				json_object_array_add(pub, p) < 0;
		}
		for (size_t k = 0; !fail && k < n->sn_nallow; k++)
			fail |= json_object_array_add(allow, json_object_new_string(n->sn_allow[k])) < 0;
		if (!fail)
			fail |= json_object_object_add(eg, "deny", json_object_new_boolean(n->sn_egress_deny)) < 0 ||
				json_object_object_add(eg, "allow", allow) < 0 ||
				json_object_object_add(drops, "packets", json_object_new_int64((int64_t)n->sn_drop_packets)) < 0 ||
				json_object_object_add(drops, "bytes", json_object_new_int64((int64_t)n->sn_drop_bytes)) < 0 ||
				json_object_object_add(j, "name", json_object_new_string(n->sn_name)) < 0 ||
				json_object_object_add(j, "bridge", json_object_new_string(n->sn_bridge)) < 0 ||
				json_object_object_add(j, "ip", json_object_new_string(n->sn_ip)) < 0 ||
				json_object_object_add(j, "mac", json_object_new_string(n->sn_mac)) < 0 ||
				json_object_object_add(j, "gateway", json_object_new_string(n->sn_gateway)) < 0 ||
				json_object_object_add(j, "subnet", json_object_new_string(n->sn_subnet)) < 0 ||
				json_object_object_add(j, "isolated", json_object_new_boolean(n->sn_isolated)) < 0 ||
				json_object_object_add(j, "antispoof", json_object_new_boolean(n->sn_antispoof)) < 0 ||
				json_object_object_add(j, "quarantined", json_object_new_boolean(n->sn_quarantined)) < 0 ||
				json_object_object_add(j, "egress", eg) < 0 ||
				json_object_object_add(j, "published", pub) < 0 ||
				json_object_object_add(j, "drops", drops) < 0 ||
				json_object_object_add(j, "truncated", json_object_new_boolean(n->sn_truncated)) < 0 ||
				json_object_array_add(nodes, j) < 0;
		if (fail) {
			json_object_put(j);
			json_object_put(pub);
			json_object_put(eg);
			json_object_put(allow);
			json_object_put(drops);
		}
	}
	if (!fail)
		fail = json_object_object_add(o, "table", json_object_new_boolean(s->fs_table)) < 0 ||
		       json_object_object_add(o, "policy_ok", json_object_new_boolean(s->fs_policy_ok)) < 0 ||
		       json_object_object_add(o, "policy_problem", json_object_new_string(s->fs_policy_problem)) < 0 ||
		       json_object_object_add(o, "warnings", warn) < 0 ||
		       json_object_object_add(o, "nodes", nodes) < 0;
	if (fail) {
		json_object_put(o);
		json_object_put(warn);
		json_object_put(nodes);
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	}
	*out = o;
	return 0;
}
