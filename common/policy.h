/* policy: the service policy a node is judged by (struct profile): its
 * process name, user and group ids, ports, and which paths must be read-only
 * or writable. A node profile file (dockd/profile.h) and an image manifest's
 * "service" object (common/manifest.h, written by isc-image from a recipe)
 * declare it with the same members, parsed here with the same bounds and
 * messages. The functions keep the profile_ prefix of the struct they fill. */
#ifndef ISC_POLICY_H
#define ISC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROFILE_MAX_PORTS 16
#define PROFILE_MAX_PATHS 16
#define PROFILE_PATH_MAX  128
/* "skip": rows of the status table an image cannot satisfy, each with the
 * reason shown as the row's evidence (dockd/profile.c parses it, checks.c
 * applies it to agent rows only). */
#define PROFILE_MAX_SKIPS    8
#define PROFILE_SKIP_ID_MAX  32  /* a check row's id, NUL included */
#define PROFILE_SKIP_WHY_MAX 160 /* the reason, NUL included */

struct profile_port {
	char pp_proto[4]; /* tcp | udp */
	uint16_t pp_port;
};

struct profile_skip {
	char ps_id[PROFILE_SKIP_ID_MAX];
	char ps_why[PROFILE_SKIP_WHY_MAX];
};

struct profile {
	char pr_name[64];
	char pr_service[16];    /* process name (comm) */
	int64_t pr_uid, pr_gid; /* -1: not declared */
	struct profile_port pr_ports[PROFILE_MAX_PORTS];
	size_t pr_n_ports;
	char pr_readonly[PROFILE_MAX_PATHS][PROFILE_PATH_MAX];
	size_t pr_n_readonly;
	char pr_writable[PROFILE_MAX_PATHS][PROFILE_PATH_MAX];
	size_t pr_n_writable;
	char pr_on_fail[16]; /* nodes' default on_fail policy; "" none */
	struct profile_skip pr_skips[PROFILE_MAX_SKIPS];
	size_t pr_n_skips;
};

struct json_object;
/* The "service" object: process name, uid, gid, ports. */
int profile_service(struct json_object *svc, struct profile *p, struct dock_err *err);
/* Optional array `key` of absolute paths (readonly, writable). */
int profile_paths(struct json_object *o, const char *key,
		  char out[PROFILE_MAX_PATHS][PROFILE_PATH_MAX], size_t *n, struct dock_err *err);
/* The same policy from an image manifest's "service" object (name, uid,
 * gid, ports, readonly, writable; isc-image writes it from the recipe). */
int profile_from_service(struct json_object *svc, const char *name, struct profile *p,
			 struct dock_err *err);

#endif
