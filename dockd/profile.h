/* profile: a node profile (templates/profiles/<name>.json) declares the
 * policy the dock judges a node's agent facts against: the service's process
 * name, user and group ids, its ports, and which paths must be read-only or
 * writable. Policy lives on the dock; a guest cannot change the verdicts.
 * Profiles are parsed with limits (a fuzz target). */
#ifndef ISC_PROFILE_H
#define ISC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROFILE_MAX_BYTES (16 * 1024)
#define PROFILE_MAX_PORTS 16
#define PROFILE_MAX_PATHS 16
#define PROFILE_PATH_MAX 128

struct profile_port {
	char pp_proto[4]; /* tcp | udp */
	uint16_t pp_port;
};

struct profile {
	char pr_name[64];
	char pr_service[16];          /* process name (comm) */
	int64_t pr_uid, pr_gid;       /* -1: not declared */
	struct profile_port pr_ports[PROFILE_MAX_PORTS];
	size_t pr_n_ports;
	char pr_readonly[PROFILE_MAX_PATHS][PROFILE_PATH_MAX];
	size_t pr_n_readonly;
	char pr_writable[PROFILE_MAX_PATHS][PROFILE_PATH_MAX];
	size_t pr_n_writable;
	char pr_on_fail[16];          /* nodes' default on_fail policy; "" none */
};

int profile_parse(const char *buf, size_t len, struct profile *p, struct dock_err *err);
/* Load <dir>/<name>.json; unknown name: 404. */
int profile_load(const char *dir, const char *name, struct profile *p, struct dock_err *err);
/* The same policy from an image manifest's "service" object (name, uid,
 * gid, ports, readonly, writable; isc-image writes it from the recipe). */
struct json_object;
int profile_from_service(struct json_object *svc, const char *name, struct profile *p,
			 struct dock_err *err);
bool profile_port_declared(const struct profile *p, const char *proto, unsigned port);

#endif
