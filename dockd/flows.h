/* flows: a lab's node-to-node flows (issue 21's contract between the lab,
 * resources and flows helpers). Node <-> node stays dropped unless a flow
 * of the nodes' lab allows it: A may open connections to B's port, and
 * their replies come back; nothing else. Flows are kept per lab in
 * state_dir/flows/LAB.json and rebuilt into the firewall at every start,
 * after fw_init; a node's flows leave with the node. Part of the node room
 * (it reads the node table); the lab code and the API call it. */
#ifndef ISC_FLOWS_H
#define ISC_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct json_object;

#define FLOWS_MAX     1024    /* flows of one lab */
#define FLOWS_DIR     "flows" /* under state_dir */
#define FLOW_NAME_MAX 31      /* NODE_NAME_MAX */

struct flow {
	char from[32]; /* full node names (LAB-NODE) */
	char to[32];
	uint16_t port; /* 1..65535 */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* Replace every flow of LAB with F[0..N) in one atomic nft batch, persist
 * them (state_dir, survives dockd restart and a deleted table: the table
 * rebuild at start re-adds them), update the lab nodes' DNS names (each
 * node resolves the lab nodes it has a flow to, by short name). N == 0
 * removes the lab's flows. Nodes named must exist and belong to LAB (their
 * name is LAB-NODE). A flow listed twice counts once. 400 for a bad flow
 * or lab name, 404 for a node that does not exist, 500 when the kernel
 * refuses (the lab's flows are then as before, on disk and in the table). */
int flows_apply(const char *lab, const struct flow *f, size_t n, struct dock_err *err);

/* The flows of LAB as recorded (none: *n = 0, *out NULL); *out malloc'd. */
int flows_get(const char *lab, struct flow **out, size_t *n, struct dock_err *err);

/* A flow as the API and lab files say it: {"from","to","port":"80/tcp"}
 * with full node names; and the JSON array of a lab's flows. */
int flow_from_json(const struct json_object *o, struct flow *f, struct dock_err *err);
struct json_object *flows_to_json(const struct flow *f, size_t n);

/* "80/tcp", "53/udp" (tcp when the protocol is omitted) into port, proto. */
int flow_port_parse(const char *s, uint16_t *port, uint8_t *proto, struct dock_err *err);

/* Change a running node's publish / egress / egress_allow in place
 * (record + firewall in one batch, no restart). net_spec:
 * {"publish":[...], "egress":"allow|deny", "egress_allow":[...]} with the
 * create request's syntax; a member left out keeps what the node has. */
int node_net_update(const char *name, const struct json_object *net_spec, struct dock_err *err);

#endif
