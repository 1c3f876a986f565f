/* fw: the dock's nftables policy (table inet isc), written through
 * libnftnl/libmnl as one netlink batch per call, so the kernel applies each
 * change atomically or not at all. It is the only writer of that table and
 * never touches another one. See firewall/README.md for the ruleset. */
#ifndef ISC_FW_H
#define ISC_FW_H

#include <stddef.h>

#include "err.h"

#define FW_TABLE "isc"             /* family inet */
#define FW_SET_BRIDGES "node_bridges"
#define FW_SET_SUBNETS "node_subnets"
#define FW_NODES_MAX 1024          /* fw_init refuses more: bounds one batch */
#define FW_BRIDGE_MAX 15           /* IFNAMSIZ - 1 */
#define FW_NAME_MAX 63             /* fn_name appears in messages and, later, log prefixes */
#define FW_PREFIX_MIN 8
#define FW_PREFIX_MAX 30

/* One node as the firewall sees it. The strings are borrowed for the call.
 * fn_name: 1..FW_NAME_MAX of [A-Za-z0-9._-], only used in messages.
 * fn_bridge: 1..FW_BRIDGE_MAX of [a-z0-9-].
 * fn_subnet_cidr: "a.b.c.d/p", p in FW_PREFIX_MIN..FW_PREFIX_MAX, host bits
 * zero, not in 0/8, 127/8 or 224/3. */
struct fw_node {
	const char *fn_name;
	const char *fn_bridge;
	const char *fn_subnet_cidr;
};

/* All functions return 0 or a negative errno and fill err (may be NULL):
 * 400 for bad input (checked before any message is built, so the ruleset is
 * unchanged), 409 when the kernel reports a conflict with what the table
 * already holds (a subnet overlapping another node's), 500 for netlink or
 * kernel failures (the message names the batch step the kernel rejected).
 * Each call opens its own netlink socket, so calls share no state; the
 * kernel serialises batches. Callers need CAP_NET_ADMIN. */

/* Check a node without touching the kernel (same rules as the calls below). */
int fw_node_check(const struct fw_node *node, struct dock_err *err);

/* At dock start: in one batch, delete table inet isc if present and recreate
 * it complete (sets, chains, rules) holding exactly these nodes. Bridges must
 * be distinct and subnets must not overlap. nodes may be NULL when n is 0. */
int fw_init(const struct fw_node *nodes, size_t n, struct dock_err *err);

/* One batch adding the node's bridge and subnet to the sets. Adding a node
 * that is already there unchanged is not an error; a subnet overlapping
 * another one in the set is (409). The table must exist (fw_init). */
int fw_node_add(const struct fw_node *node, struct dock_err *err);

/* One batch removing the node's bridge and subnet from the sets. Absent
 * elements are not an error; an absent table is (500): the dock's whole
 * policy is gone, which the caller must hear about. */
int fw_node_remove(const struct fw_node *node, struct dock_err *err);

/* Delete table inet isc (at exit when no node exists). Absent is fine. */
int fw_teardown(struct dock_err *err);

#endif
