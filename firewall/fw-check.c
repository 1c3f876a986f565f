/* fw-check: the pure input checks. A node record, a publish, an allow-list
 * and fw_init's list of nodes are checked here and turned into their checked
 * form (fw_info), with no I/O and no globals: every refusal is a 400 whose
 * message names the bad input (untrusted text quoted safely). Nothing here
 * touches netlink, so tests/unit/test_fwcheck.c tests it without a kernel. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A copy of untrusted text fit to quote in a one-line message. */
const char *fw_safe(const char *s, char *out, size_t outsz)
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
			return err_set(err, 400, ENAMETOOLONG,
				       "%s \"%s\" is longer than %zu characters", prefix,
				       fw_safe(s, q, sizeof(q)), max);
		if (!ok(s[i]))
			return err_set(err, 400, EINVAL, "%s \"%s\" may only contain %s", prefix,
				       fw_safe(s, q, sizeof(q)), allowed);
	}
	return 0;
}

/* A decimal without sign, space or leading zero, at most max_digits long. */
int fw_parse_uint(const char *s, size_t max_digits, unsigned long *v)
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

const char *fw_ntoa(uint32_t host, char *buf)
{
	struct in_addr a = { .s_addr = htonl(host) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

uint32_t fw_mask(unsigned prefix)
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

const char *fw_proto_name(uint8_t proto)
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
int fw_check_publish(const char *name, const struct fw_publish *p, struct dock_err *err)
{
	if (p->fp_proto != IPPROTO_TCP && p->fp_proto != IPPROTO_UDP)
		return err_set(err, 400, EINVAL,
			       "publish %s %u:%u: the protocol must be tcp or udp (not %u)", name,
			       p->fp_host_port, p->fp_node_port, p->fp_proto);
	if (p->fp_host_port == 0 || p->fp_node_port == 0)
		return err_set(err, 400, EINVAL, "publish %s %u:%u/%s: ports must be 1..65535",
			       name, p->fp_host_port, p->fp_node_port, fw_proto_name(p->fp_proto));
	return 0;
}

/* Two allow entries overlap when their addresses do and their protocols
 * and ports do (an entry without a port covers them all). */
static bool fw_range_overlap(const struct fw_range *a, const struct fw_range *b)
{
	if (a->r_first > b->r_last || b->r_first > a->r_last)
		return false;
	return a->r_proto == 0 || b->r_proto == 0 ||
		(a->r_proto == b->r_proto && a->r_port == b->r_port);
}

int fw_parse_range(const char *who, const char *what, const char *cidr, struct fw_range *r,
		   struct dock_err *err)
{
	uint32_t net;
	unsigned prefix;
	int rc = fw_parse_cidr(who, what, cidr, 0, 32, true, &net, &prefix, err);

	if (rc < 0)
		return rc;
	memset(r, 0, sizeof(*r));
	r->r_first = net;
	r->r_last = net | ~fw_mask(prefix);
	return 0;
}

/* "CIDR[:PORT[/tcp|/udp]]" into r. */
static int fw_parse_allow_entry(const char *who, const char *s, struct fw_range *r,
				struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8], cidr[24], port[8];
	const char *colon = s != NULL ? strchr(s, ':') : NULL, *slash, *end;
	unsigned long v;
	int rc;

	if (colon == NULL)
		return fw_parse_range(who, "allowed destination", s, r, err);
	slash = strchr(colon, '/');
	end = slash != NULL ? slash : colon + strlen(colon);
	if ((size_t)(colon - s) >= sizeof(cidr) || (size_t)(end - colon - 1) >= sizeof(port))
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": expected CIDR[:PORT[/tcp|/udp]]",
			       who, fw_safe(s, q, sizeof(q)));
	memcpy(cidr, s, (size_t)(colon - s));
	cidr[colon - s] = '\0';
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	rc = fw_parse_range(who, "allowed destination", cidr, r, err);
	if (rc < 0)
		return rc;
	if (fw_parse_uint(port, 5, &v) < 0 || v < 1 || v > 65535)
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": the port must be 1..65535", who,
			       fw_safe(s, q, sizeof(q)));
	r->r_port = (uint16_t)v;
	r->r_proto = IPPROTO_TCP;
	if (slash != NULL && strcmp(slash, "/udp") == 0)
		r->r_proto = IPPROTO_UDP;
	else if (slash != NULL && strcmp(slash, "/tcp") != 0)
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": the protocol must be tcp or udp",
			       who, fw_safe(s, q, sizeof(q)));
	return 0;
}

/* An egress allow-list into info (replacing what it held). */
int fw_parse_allow(struct fw_info *fi, bool deny, const char *const *allow, size_t n,
		   struct dock_err *err)
{
	char who[FW_NAME_MAX + 16];
	size_t idx[FW_ALLOW_MAX], na = 0; /* fi_allow[k] is allow[idx[k]] */

	snprintf(who, sizeof(who), "egress %s", fi->fi_name);
	if (n > FW_ALLOW_MAX)
		return err_set(err, 400, E2BIG, "%s: %zu allowed destinations, more than %d", who,
			       n, FW_ALLOW_MAX);
	if (n > 0 && allow == NULL)
		return err_set(err, 400, EINVAL, "%s: %zu allowed destinations but no list", who,
			       n);
	fi->fi_nnames = 0;
	for (size_t i = 0; i < n; i++) {
		struct fw_range *r = &fi->fi_allow[na];
		int rc;

		if (fw_name_entry_is(allow[i])) {
			rc = fw_names_parse_entry(who, allow[i], fi, err);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = fw_parse_allow_entry(who, allow[i], r, err);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < na; j++)
			if (fw_range_overlap(r, &fi->fi_allow[j]))
				return err_set(err, 400, EINVAL,
					       "%s: allowed destination %s overlaps %s", who,
					       allow[i], allow[idx[j]]);
		idx[na++] = i;
	}
	fi->fi_deny = deny;
	fi->fi_nallow = na;
	return 0;
}

/* The node and its name: checked first, the name starts every message. */
static int fw_check_name(const struct fw_node *node, struct dock_err *err)
{
	if (node == NULL)
		return err_set(err, 400, EINVAL, "firewall: node is missing");
	return fw_check_word("firewall: node name", node->fn_name, FW_NAME_MAX, fw_is_name_char,
			     "A-Z, a-z, 0-9, '.', '_' and '-'", err);
}

/* The bridge; then fi starts afresh with the node's name, bridge and chain. */
static int fw_parse_bridge(const char *who, const struct fw_node *node, struct fw_info *fi,
			   struct dock_err *err)
{
	char what[FW_NAME_MAX + 16];
	int r;

	snprintf(what, sizeof(what), "%s: bridge", who);
	r = fw_check_word(what, node->fn_bridge, FW_BRIDGE_MAX, fw_is_bridge_char,
			  "a-z, 0-9 and '-'", err);
	if (r < 0)
		return r;
	memset(fi, 0, sizeof(*fi));
	fi->fi_name = node->fn_name;
	memcpy(fi->fi_bridge, node->fn_bridge, strlen(node->fn_bridge));
	snprintf(fi->fi_chain, sizeof(fi->fi_chain), FW_CHAIN_PREFIX "%s", node->fn_name);
	snprintf(fi->fi_bw_chain, sizeof(fi->fi_bw_chain), FW_BW_PREFIX "%s", node->fn_name);
	snprintf(fi->fi_names_chain, sizeof(fi->fi_names_chain), FW_NAMES_PREFIX "%s",
		 node->fn_bridge);
	return 0;
}

static int fw_parse_subnet(const char *who, const struct fw_node *node, struct fw_info *fi,
			   struct dock_err *err)
{
	unsigned prefix;
	int r;

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
	snprintf(fi->fi_cidr, sizeof(fi->fi_cidr), "%s", node->fn_subnet_cidr);
	return 0;
}

/* The node's address and its gateway: host addresses of its subnet. */
static int fw_parse_addresses(const char *who, const struct fw_node *node, struct fw_info *fi,
			      struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8];
	uint32_t bcast = fi->fi_end - 1;

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
	return 0;
}

static int fw_parse_node_mac(const char *who, const struct fw_node *node, struct fw_info *fi,
			     struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8];

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
	return 0;
}

/* The node's published ports: each valid, host ports distinct. */
static int fw_check_publishes(const char *who, const struct fw_node *node, struct dock_err *err)
{
	int r;

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
				return err_set(
					err, 400, EINVAL,
					"publish %s %s: host port %u/%s is already published by node %s (%s)",
					node->fn_name, a, p->fp_host_port,
					fw_proto_name(p->fp_proto), node->fn_name, b);
			}
		}
	}
	return 0;
}

int fw_node_parse(const struct fw_node *node, struct fw_info *fi, struct dock_err *err)
{
	char who[FW_NAME_MAX + 8];
	int r;

	r = fw_check_name(node, err);
	if (r < 0)
		return r;
	snprintf(who, sizeof(who), "node %s", node->fn_name);
	r = fw_parse_bridge(who, node, fi, err);
	if (r < 0)
		return r;
	r = fw_parse_subnet(who, node, fi, err);
	if (r < 0)
		return r;
	r = fw_parse_addresses(who, node, fi, err);
	if (r < 0)
		return r;
	r = fw_parse_node_mac(who, node, fi, err);
	if (r < 0)
		return r;
	r = fw_check_publishes(who, node, err);
	if (r < 0)
		return r;
	fi->fi_pub = node->fn_published;
	fi->fi_npub = node->fn_npublished;
	fi->fi_quarantined = node->fn_quarantined;
	if (node->fn_net_in_bps > FW_BW_MAX || node->fn_net_out_bps > FW_BW_MAX)
		return err_set(err, 400, ERANGE, "%s: bandwidth over %llu bytes/s", who,
			       (unsigned long long)FW_BW_MAX);
	fi->fi_in_bps = node->fn_net_in_bps;
	fi->fi_out_bps = node->fn_net_out_bps;
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

static bool fw_overlap(const struct fw_info *a, const struct fw_info *c)
{
	return a->fi_first < c->fi_end && c->fi_first < a->fi_end;
}

/* What fw_init refuses beyond each node's own checks. */
int fw_init_check(const struct fw_info *fi, size_t n, struct dock_err *err)
{
	uint32_t *owner = calloc(2 * 65536, sizeof(*owner)); /* (udp?, port) -> node + 1 */
	int r = 0;

	if (owner == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	for (size_t i = 0; i < n && r == 0; i++) {
		for (size_t j = 0; j < i && r == 0; j++) {
			if (strcmp(fi[i].fi_name, fi[j].fi_name) == 0)
				r = err_set(err, 400, EINVAL,
					    "node %s: the name is twice in the list",
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
			uint32_t *o =
				&owner[(p->fp_proto == IPPROTO_UDP ? 65536 : 0) + p->fp_host_port];
			char spec[24];

			if (*o != 0) {
				fw_publish_format(p, spec, sizeof(spec));
				r = err_set(
					err, 400, EINVAL,
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
