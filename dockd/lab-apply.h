/* lab-apply: the dock's side of a lab: its record (state_dir/labs/NAME.json,
 * written before each side effect it announces, so the next up finishes an
 * interrupted one), the plan against the nodes the dock holds, and the
 * actions: up (create, change, start, recreate, remove, flows), down, the
 * status and the list. The file's bytes come from the client: the dock
 * never opens a path a user names. One lab action at a time (a lock). */
#ifndef ISC_LAB_APPLY_H
#define ISC_LAB_APPLY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

int lab_apply_init(const struct dock_config *cfg, struct dock_err *err);

struct lab_up_opts {
	bool lu_yes;          /* removals and recreations allowed */
	bool lu_dry;          /* plan only (validate) */
	unsigned lu_parallel; /* nodes created at once; 0: the host's cores */
};

/* file: the file's base name (messages); buf[0..len): its bytes. out:
 * {"lab","file","sha256","plan":[{"act","node","why"}],"flows_change",
 * "needs_yes","text","nodes":[...]}; applied unless lu_dry. A plan that
 * removes or recreates without lu_yes: 409 naming the nodes (nothing done).
 * detail (may be NULL) gets what the audit record adds: the lab, the
 * file's sha256. */
int lab_up(const char *file, const char *buf, size_t len, const struct lab_up_opts *o,
	   struct json_object **out, struct json_object **detail, struct dock_err *err);
/* Every node, flow and record of lab name, nothing else. */
int lab_down(const char *name, struct json_object **out, struct json_object **detail,
	     struct dock_err *err);
/* {"lab","sha256","file","nodes":[{"name","short","state","agent","pass","fail",...}]} */
int lab_status_json(const char *name, struct json_object **out, struct dock_err *err);
/* [{"lab","nodes","sha256","file"}...] */
struct json_object *lab_list_json(void);

#endif
