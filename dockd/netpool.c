/* netpool: subnet arithmetic for node networks. */
#include "netpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int netpool_parse(const char *cidr, struct netpool *pool, struct dock_err *err)
{
	char addr[16];
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	unsigned long prefix;
	char *end;
	uint32_t base, mask;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(addr))
		return err_set(err, 400, EINVAL, "subnet pool \"%s\" is not a.b.c.d/prefix", cidr);
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return err_set(err, 400, EINVAL, "subnet pool \"%s\": bad address", cidr);
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == slash + 1 || prefix < 8 ||
	    prefix > NETPOOL_NODE_PREFIX)
		return err_set(err, 400, EINVAL, "subnet pool \"%s\": prefix must be 8..%d", cidr,
			       NETPOOL_NODE_PREFIX);
	base = ntohl(in.s_addr);
	mask = prefix == 0 ? 0 : ~0U << (32 - prefix);
	if ((base & ~mask) != 0)
		return err_set(err, 400, EINVAL,
			       "subnet pool \"%s\": address has host bits set for /%lu", cidr,
			       prefix);
	pool->np_base = base;
	pool->np_prefix = (unsigned)prefix;
	return 0;
}

size_t netpool_capacity(const struct netpool *pool)
{
	return (size_t)1 << (NETPOOL_NODE_PREFIX - pool->np_prefix);
}

int netpool_alloc(const struct netpool *pool, const bool *used, size_t n_used, unsigned *index,
		  struct dock_err *err)
{
	size_t cap = netpool_capacity(pool);

	for (size_t i = 0; i < cap; i++) {
		if (i < n_used && used[i])
			continue;
		*index = (unsigned)i;
		return 0;
	}
	return err_set(err, 409, ENOSPC, "subnet pool is full: all %zu node subnets are in use",
		       cap);
}

static void netpool_fmt(uint32_t a, char *buf, size_t size)
{
	struct in_addr in = { .s_addr = htonl(a) };

	inet_ntop(AF_INET, &in, buf, (socklen_t)size);
}

int netpool_subnet(const struct netpool *pool, unsigned index, struct netpool_subnet *out)
{
	uint32_t net;
	char a[16];

	if (index >= netpool_capacity(pool))
		return -ERANGE;
	net = pool->np_base + (index << (32 - NETPOOL_NODE_PREFIX));
	memset(out, 0, sizeof(*out));
	out->ns_index = index;
	netpool_fmt(net, a, sizeof(a));
	snprintf(out->ns_cidr, sizeof(out->ns_cidr), "%s/%d", a, NETPOOL_NODE_PREFIX);
	netpool_fmt(net + 1, out->ns_gateway, sizeof(out->ns_gateway));
	netpool_fmt(net + 2, out->ns_node_ip, sizeof(out->ns_node_ip));
	netpool_fmt(~0U << (32 - NETPOOL_NODE_PREFIX), out->ns_netmask, sizeof(out->ns_netmask));
	snprintf(out->ns_bridge, sizeof(out->ns_bridge), "iscbr%u", index);
	return 0;
}
