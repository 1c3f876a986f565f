/* netpool: carves the dock's subnet pool (dockd.conf subnet_pool) into one
 * small subnet per node. Subnet i of a pool has the gateway at .1 and the
 * node at .2; its bridge is iscbr<i>. */
#ifndef ISC_NETPOOL_H
#define ISC_NETPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NETPOOL_NODE_PREFIX 29 /* 8 addresses: net, gw, node, spare, broadcast */

struct netpool {
	uint32_t np_base;   /* host order, aligned to np_prefix */
	unsigned np_prefix; /* 8..NETPOOL_NODE_PREFIX */
};

struct netpool_subnet {
	unsigned ns_index;
	char ns_cidr[19]; /* 10.231.0.8/29 */
	char ns_gateway[16];
	char ns_node_ip[16];
	char ns_netmask[16];
	char ns_bridge[16];
};

int netpool_parse(const char *cidr, struct netpool *pool, struct dock_err *err);
size_t netpool_capacity(const struct netpool *pool);
/* Lowest index whose used[index] is false; used has capacity entries. */
int netpool_alloc(const struct netpool *pool, const bool *used, size_t n_used, unsigned *index,
		  struct dock_err *err);
int netpool_subnet(const struct netpool *pool, unsigned index, struct netpool_subnet *out);

#endif
