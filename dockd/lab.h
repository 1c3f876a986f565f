/* lab: a lab file (YAML, parsed with libyaml) read against its schema into
 * one create request per node and the lab's flows, and the plan that takes
 * a lab as the dock holds it to the lab the file describes. Pure: no I/O,
 * no globals; the dock's side (lab-apply.c) reads and writes the records.
 *
 * The file:
 *   name: shop
 *   defaults: {image: micro, memory: 256M, vcpus: 1, lifetime: 6h}
 *   nodes:
 *     web: {publish: ["8080:80"], egress: deny, cpus: 0.5}
 *     db:  {scratch: 1G, egress: deny}
 *     job: {egress: {allow: ["deb.debian.org:443/tcp", "203.0.113.0/24"]}}
 *   flows:
 *     - {from: web, to: db, port: 80/tcp}
 * Unknown keys, duplicate keys, anchors, aliases and tags are errors; each
 * error names the file, the line, the column and the key
 * ("shop.lab.yaml:4:8: nodes.web.memory: ..."). Each node's values become
 * the create request `iscadm create` would send, checked by spec_parse. */
#ifndef ISC_LAB_H
#define ISC_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "spec.h"
#include "validate.h"

#define LAB_FILE_MAX  (256 * 1024) /* bytes of a lab file */
#define LAB_NODES_MAX 64
#define LAB_FLOWS_MAX 1024
#define LAB_NAME_MAX  (NODE_NAME_MAX - 2) /* room for "-" and one character */
#define LAB_FNAME_MAX 128                 /* the file's name in messages */
#define LAB_NET_MAX   SPEC_REQUEST_MAX    /* a node's network part as JSON */

struct lab_node {
	char ln_short[NODE_NAME_MAX + 1]; /* "web" */
	char ln_name[NODE_NAME_MAX + 1];  /* "shop-web" */
	/* The create request (canonical: the same file gives the same bytes),
	 * what must stay for the node to be kept (the request without its
	 * network members), and the network part, which changes in place. */
	char ln_body[SPEC_REQUEST_MAX];
	char ln_core[SPEC_REQUEST_MAX];
	char ln_net[LAB_NET_MAX];
};

struct lab_flow {
	char lf_from[NODE_NAME_MAX + 1]; /* full names */
	char lf_to[NODE_NAME_MAX + 1];
	uint16_t lf_port;
	uint8_t lf_proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

struct lab {
	char l_name[NODE_NAME_MAX + 1];
	char l_file[LAB_FNAME_MAX];
	struct lab_node l_nodes[LAB_NODES_MAX];
	size_t l_n_nodes;
	struct lab_flow l_flows[LAB_FLOWS_MAX];
	size_t l_n_flows;
};

/* Parse buf[0..len) (the file's bytes; file its name, for messages: a base
 * name, escaped into the message) into *lab (large: allocate it). cfg
 * bounds the sizes as for a create; NULL skips spec_parse (the fuzzer's
 * and a client's syntax check). 0, or -EINVAL with err (400). */
int lab_parse(const char *file, const char *buf, size_t len, const struct dock_config *cfg,
	      struct lab *lab, struct dock_err *err);

/* The lab's flows as canonical JSON ([{"from","to","port","proto"}...]),
 * malloc'd: what the record keeps and the plan compares. */
char *lab_flows_json(const struct lab *lab);

/* ---- the plan (lab-plan.c) ---- */

/* The dock's lab record: per node what it was created with (written
 * before the create: an interrupted up finds it), the flows in force. */
struct lab_rec_node {
	char lrn_name[NODE_NAME_MAX + 1];
	char lrn_core[SPEC_REQUEST_MAX];
	char lrn_net[LAB_NET_MAX];
};
struct lab_rec {
	char lr_name[NODE_NAME_MAX + 1];
	char lr_sha256[65]; /* the file of the last up */
	char lr_file[LAB_FNAME_MAX];
	struct lab_rec_node lr_nodes[LAB_NODES_MAX];
	size_t lr_n_nodes;
	char *lr_flows; /* malloc'd JSON, NULL: none applied */
};
/* The record as JSON (malloc'd) and back (bounded; a record may be edited). */
char *lab_rec_to_json(const struct lab_rec *r);
int lab_rec_from_json(const char *buf, size_t len, struct lab_rec *r, struct dock_err *err);
void lab_rec_free(struct lab_rec *r); /* lr_flows; the struct is the caller's */
struct lab_rec_node *lab_rec_find(struct lab_rec *r, const char *name);
/* Set (add or replace) / drop a node's entry. */
int lab_rec_set(struct lab_rec *r, const char *name, const char *core, const char *net);
void lab_rec_drop(struct lab_rec *r, const char *name);

/* A node as the dock has it. */
struct lab_live {
	char ll_name[NODE_NAME_MAX + 1];
	char ll_lab[NODE_NAME_MAX + 1]; /* "" not in a lab */
	char ll_state[16];              /* state_name() */
	char ll_op[48];                 /* the operation under way and its step, "" none */
};

enum lab_act {
	LAB_KEEP,     /* = */
	LAB_CREATE,   /* + */
	LAB_CHANGE,   /* ~ its network part, in place */
	LAB_START,    /* ~ not running: started (an interrupted up) */
	LAB_RECREATE, /* ~ destroyed and created again: scratch data lost */
	LAB_REMOVE,   /* - */
};
const char *lab_act_name(enum lab_act a);
char lab_act_sign(enum lab_act a);

struct lab_step {
	enum lab_act ls_act;
	char ls_name[NODE_NAME_MAX + 1];
	int ls_node;      /* index in the lab's nodes, -1 for a removal */
	char ls_why[160]; /* what differs */
};
struct lab_plan {
	struct lab_step lp_steps[2 * LAB_NODES_MAX];
	size_t lp_n;
	bool lp_flows; /* the flows change */
	bool lp_needs_yes;
	char lp_yes_why[256]; /* the nodes a removal or recreate touches */
};
/* The plan from rec (may be empty) and live (every node of the dock) to
 * want. A node of the lab's name that belongs to no lab or another one is
 * a clash: -EEXIST with err (409). Pure. */
int lab_plan(const struct lab *want, const struct lab_rec *rec, const struct lab_live *live,
	     size_t n_live, struct lab_plan *plan, struct dock_err *err);
/* One line a step: "+ create shop-web", "~ recreate shop-db (image: ...):
 * scratch data lost"; malloc'd text of the whole plan. */
char *lab_plan_text(const struct lab_plan *plan);

#endif
