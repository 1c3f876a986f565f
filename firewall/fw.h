/* fw: the dock's nftables policy (table inet isc), written through
 * libnftnl/libmnl as one netlink batch per call, so the kernel applies each
 * change atomically or not at all. It is the only writer of that table and
 * never touches another one. See firewall/README.md for the ruleset. */
#ifndef ISC_FW_H
#define ISC_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct json_object;

#define FW_TABLE       "isc"               /* family inet */
#define FW_NODES_MAX   1024                /* fw_init refuses more: bounds one batch */
#define FW_BRIDGE_MAX  15                  /* IFNAMSIZ - 1 */
#define FW_BW_MAX      (UINT64_C(1) << 40) /* fn_net_*_bps at most, bytes/s */
#define FW_NAME_MAX    63                  /* fn_name is in chain names and log prefixes */
#define FW_PREFIX_MIN  8
#define FW_PREFIX_MAX  30
#define FW_PUBLISH_MAX 64 /* published ports per node */
#define FW_ALLOW_MAX   64 /* egress allow-list entries per node */
#define FW_PRIVATE_MAX 64 /* private ranges, built-in and extra, after merging */
#define FW_LOG_RATE    10 /* logged drops per second and node... */
#define FW_LOG_BURST   20 /* ...after a burst of this many */

/* One published port: packets from outside to the host's HOSTPORT (on any
 * of its addresses, arriving on an interface that is no node's) are sent to
 * the node's NODEPORT. fp_proto is IPPROTO_TCP or IPPROTO_UDP. */
struct fw_publish {
	uint8_t fp_proto;
	uint16_t fp_host_port;
	uint16_t fp_node_port;
};

/* One node as the firewall sees it: the dock's record of it. Strings and
 * arrays are borrowed for the call. Zero-initialise it: every field below
 * fn_gateway may be left 0/NULL.
 * fn_name: 1..FW_NAME_MAX of [A-Za-z0-9._-]; names chain node-NAME and the
 *   log prefix "isc-NAME-drop ".
 * fn_bridge: 1..FW_BRIDGE_MAX of [a-z0-9-].
 * fn_subnet_cidr: "a.b.c.d/p", p in FW_PREFIX_MIN..FW_PREFIX_MAX, host bits
 *   zero, not in 0/8, 127/8 or 224/3.
 * fn_ip, fn_gateway: dotted quads in the subnet, neither its network nor
 *   its broadcast address, different from each other. fn_ip is the only
 *   source address the node may use, fn_gateway the host's address on the
 *   bridge (where DHCP and DNS answer).
 * fn_mac: "xx:xx:xx:xx:xx:xx", unicast, not all zero: the only source MAC.
 * fn_published: FW_PUBLISH_MAX at most, host ports distinct.
 * fn_egress_allow: FW_ALLOW_MAX at most of "CIDR[:PORT[/tcp|/udp]]", the
 *   CIDR "a.b.c.d" or "a.b.c.d/p" (p 0..32, host bits zero), PORT 1..65535
 *   (tcp when the protocol is omitted), not overlapping one another; or
 *   "NAME:PORT[/tcp|/udp]" (a lower-case RFC 1123 host name, the port
 *   required; 16 at most): the addresses the node's resolver answers for
 *   NAME (fw_names_dnsmasq), public ones only, on that port. The names
 *   change only with the node (fw_node_update and fw_set_egress: 409).
 *   Whatever the mode, a node's new outbound connections to the private
 *   ranges (fw_init) are dropped unless an entry names them (address, and
 *   port when it gives one).
 * fn_egress_deny: no new outbound connections except to fn_egress_allow.
 * fn_quarantined: every packet from or to the node is dropped. */
struct fw_node {
	const char *fn_name;
	const char *fn_bridge;
	const char *fn_subnet_cidr;
	const char *fn_ip;
	const char *fn_mac;
	const char *fn_gateway;
	const struct fw_publish *fn_published;
	size_t fn_npublished;
	bool fn_egress_deny;
	const char *const *fn_egress_allow;
	size_t fn_negress_allow;
	bool fn_quarantined;
	/* Bandwidth, bytes per second (0: no limit): what the node may receive
	 * and send through the host (forward path, published ports too). */
	uint64_t fn_net_in_bps;
	uint64_t fn_net_out_bps;
};

/* All functions return 0 or a negative errno and fill err (may be NULL):
 * 400 for bad input (checked before any message is built, so the ruleset is
 * unchanged), 404 when fw_show is asked for a node the table does not hold,
 * 409 when the kernel reports a conflict with what the table already holds
 * (a subnet overlapping another node's, a host port another node
 * publishes, a bridge another node uses), 500 for netlink or kernel
 * failures (the message names the batch step the kernel rejected), among
 * them a node missing from the table where the call needs it.
 * Each thread keeps one netlink socket of its own (closed when the thread
 * exits), so calls on different threads share no state; the kernel
 * serialises batches. Callers need CAP_NET_ADMIN.
 * Calls that take a node take it as the dock records it *before* the
 * change: fw_node_remove and fw_set_egress remove what that record says is
 * there; fw_init rebuilds everything from the records. */

/* Check a node without touching the kernel (same rules as the calls below). */
int fw_node_check(const struct fw_node *node, struct dock_err *err);

/* The node's resolver options for its allow entries by name
 * ("NAME:PORT[/tcp|/udp]" in fn_egress_allow, FW_NAMES_MAX at most): per
 * entry "server=/NAME/UPSTREAM" (forward that name, and no other, to
 * upstream) and "nftset=/NAME/4#inet#isc#SET" (pin each IPv4 answer into
 * the entry's set), then "cache-size=0" (every lookup refills the sets,
 * after a rebuild too), one per line, malloc'd into *out; "" and *nnames 0
 * without such entries. 400 as fw_node_check. */
int fw_names_dnsmasq(const struct fw_node *node, const char *upstream, char **out, size_t *nnames,
		     struct dock_err *err);

/* 409 "recreate the node to change names" when want's allow entries by
 * name differ from now's (what fw_node_update would refuse), 0 when they
 * do not, 400 for a bad node: for a caller that records a change before
 * it applies it. */
int fw_names_unchanged(const struct fw_node *now, const struct fw_node *want, struct dock_err *err);

/* Whether an allow entry names a host (a letter before its port). */
bool fw_name_entry_is(const char *s);

/* "HOSTPORT:NODEPORT[/tcp|/udp]" (tcp when omitted), ports 1..65535. */
int fw_publish_parse(const char *spec, struct fw_publish *out, struct dock_err *err);
/* The same form, always with the protocol: "8080:80/tcp". */
void fw_publish_format(const struct fw_publish *p, char *buf, size_t size);

/* At dock start: in one batch, delete table inet isc if present and recreate
 * it complete holding exactly these nodes with their whole policy. Names and
 * bridges must be distinct, subnets must not overlap, host ports must be
 * distinct across nodes. nodes may be NULL when n is 0. The private ranges
 * (set private_ranges: no node reaches them unless allowed) are the
 * built-in ones (169.254/16, 127/8, 10/8, 172.16/12, 192.168/16,
 * 100.64/10, 224/4, 255.255.255.255, 0/8) and private[0..nprivate), CIDRs
 * such as the dock's subnet pool and dockd.conf's egress_private. */
int fw_init(const struct fw_node *nodes, size_t n, const char *const *private, size_t nprivate,
	    struct dock_err *err);

/* One batch replacing set private_ranges' elements by the built-in ranges
 * and private[0..nprivate) (as fw_init builds them): flushed and refilled
 * in the same transaction, so no packet sees it empty. */
int fw_set_private(const char *const *private, size_t nprivate, struct dock_err *err);

/* One batch adding the node with its whole policy (chain node-NAME, its
 * elements, its published ports, egress and quarantine state). Adding what
 * is already there is a no-op; it adds, it never removes. Conflicts with
 * another node's subnet, bridge or host port are 409. */
int fw_node_add(const struct fw_node *node, struct dock_err *err);

/* One batch removing everything of the node that its record names, and its
 * chain. Absent elements are not an error; an absent table is (500): the
 * dock's whole policy is gone, which the caller must hear about. */
int fw_node_remove(const struct fw_node *node, struct dock_err *err);

/* One batch: DNAT the host port to the node and accept it in forward.
 * The node must be in the table (500 otherwise, the batch makes sure in the
 * same transaction); the same publish again is a no-op; a host port that
 * another publish holds is 409 naming its node. */
int fw_publish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err);

/* One batch removing that publish. Absent is a no-op; a host port that
 * another node publishes is 409. The node's other publishes (its record)
 * keep their forward accept, even to the same node port. */
int fw_unpublish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err);

/* One batch: drop every packet from or to the node (on), or stop that (off).
 * Quarantine does not need the node to be in the table: it cuts the bridge
 * whatever the table holds. */
int fw_quarantine(const struct fw_node *node, bool on, struct dock_err *err);

/* One batch replacing the node's egress policy (node->fn_egress_* as it is
 * now) by deny/allow[0..n). */
int fw_set_egress(const struct fw_node *node, bool deny, const char *const *allow, size_t n,
		  struct dock_err *err);

/* One batch changing the node's published ports and egress from `now` (as
 * recorded before the change) to `want` (the same node: name, bridge,
 * addresses; only its publishes and egress may differ): now's publishes
 * removed, want's added (a host port another node holds is 409 naming it),
 * the egress policy replaced. The node must be in the table (500). */
int fw_node_update(const struct fw_node *now, const struct fw_node *want, struct dock_err *err);

/* ---- flows: node to node, only as a lab's policy allows ----------------- */

#define FW_FLOWS_MAX 65536 /* flows per call: bounds one batch */

/* One flow: the node on bridge ff_from_bridge may open connections to the
 * node on ff_to_bridge, port ff_port (1..65535), protocol ff_proto
 * (IPPROTO_TCP or IPPROTO_UDP), and their replies come back; nothing else
 * (not the other way, not another port). The names (node names, as in
 * fw_node) only label the element ("FROM>TO"). Bridges as in fw_node,
 * different from each other. */
struct fw_flow {
	const char *ff_from;
	const char *ff_to;
	const char *ff_from_bridge;
	const char *ff_to_bridge;
	uint8_t ff_proto;
	uint16_t ff_port;
};

/* One batch: remove old[0..nold) (absent ones are no error), then add
 * add[0..nadd) to set node_flows. Either may be NULL when its count is 0.
 * A flow naming a bridge the table does not hold is added all the same
 * (it opens nothing until a node has that bridge): the caller removes a
 * node's flows when it removes the node. */
int fw_flows_set(const struct fw_flow *old, size_t nold, const struct fw_flow *add, size_t nadd,
		 struct dock_err *err);

/* Delete table inet isc (at exit when no node exists). Absent is fine. */
int fw_teardown(struct dock_err *err);

/* ---- reading the policy back (iscadm fw show, dock-side checks) -------- */

struct fw_show_node {
	char sn_name[FW_NAME_MAX + 1]; /* from its chain; "?" if none */
	char sn_bridge[FW_BRIDGE_MAX + 1];
	char sn_ip[16]; /* "" when anti-spoofing holds no address */
	char sn_mac[18];
	char sn_gateway[16];
	char sn_subnet[32];
	bool sn_isolated;  /* bridge, subnet, host services and drop chain in place */
	bool sn_antispoof; /* its address and MAC are the only source it may use */
	bool sn_quarantined;
	bool sn_egress_deny;
	size_t sn_nallow;
	char sn_allow[FW_ALLOW_MAX][48]; /* CIDR (or first-last)[:PORT/PROTO] */
	size_t sn_npublished;
	struct fw_publish sn_published[FW_PUBLISH_MAX];
	uint64_t sn_drop_packets; /* its drop chain's counter */
	uint64_t sn_drop_bytes;
	uint64_t sn_net_in_bps; /* its bandwidth chain's limits, bytes/s; 0 none */
	uint64_t sn_net_out_bps;
	bool sn_truncated; /* the table holds more than the arrays above */
};

#define FW_WARN_MAX 16

struct fw_show {
	bool fs_table;               /* table inet isc exists */
	bool fs_policy_ok;           /* its fixed sets, chains and rules are fw_init's */
	char fs_policy_problem[256]; /* the first difference when not */
	size_t fs_nwarnings;
	char fs_warnings[FW_WARN_MAX][256]; /* e.g. another table's forward policy is drop */
	size_t fs_nnodes;
	struct fw_show_node *fs_nodes; /* sorted by name */
};

/* Read the policy in force from the kernel (a few netlink dumps, no
 * change): every node, or only `node` (404 when absent). Other tables are
 * read only to warn about base chains that drop what ours lets through. */
int fw_show(const char *node, struct fw_show **out, struct dock_err *err);
void fw_show_free(struct fw_show *s);
/* Human form (iscadm fw show) and JSON form (the API), both deterministic. */
char *fw_show_text(const struct fw_show *s);
int fw_show_json(const struct fw_show *s, struct json_object **out, struct dock_err *err);

/* ---- logs ---------------------------------------------------------------- */

/* The log prefix of a node's dropped packets ("isc-NAME-drop "). */
#define FW_LOG_PREFIX_FMT "isc-%s-drop "

/* The kernel log's records carrying node's drop prefix, the newest `max` of
 * them (the firewall logs them rate-limited), read from /dev/kmsg without
 * blocking: a JSON array of strings, empty when the log cannot be read. */
struct json_object *fw_log_lines(const char *node, size_t max);

/* ---- tests -------------------------------------------------------------- */

/* Between fw_dryrun_begin() and fw_dryrun_end(), calls on this thread check
 * their input and build their batch as usual, but instead of sending it they
 * append a description of every message to a buffer, decoded from the very
 * bytes they would send: the rule generation, testable without a kernel.
 * fw_dryrun_end returns it (malloc'd, NULL without memory) and stops. */
void fw_dryrun_begin(void);
char *fw_dryrun_end(void);

#endif
