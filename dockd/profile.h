/* profile: a node profile (templates/profiles/<name>.json) declares the
 * policy the dock judges a node's agent facts against: the service's process
 * name, user and group ids, its ports, and which paths must be read-only or
 * writable. Policy lives on the dock; a guest cannot change the verdicts.
 * A profile may declare rows its image cannot satisfy ("skip": {"ROW":
 * "reason"}): they are judged SKIP with that reason, never by the guest's say.
 * Profiles are parsed with limits (a fuzz target); struct profile and the
 * members a manifest's "service" shares are common/policy.h. */
#ifndef ISC_PROFILE_H
#define ISC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"

#define PROFILE_MAX_BYTES (16 * 1024)

int profile_parse(const char *buf, size_t len, struct profile *p, struct dock_err *err);
/* Load <dir>/<name>.json; unknown name: 404. */
int profile_load(const char *dir, const char *name, struct profile *p, struct dock_err *err);
bool profile_port_declared(const struct profile *p, const char *proto, unsigned port);
/* The reason the profile gives for skipping row `id` ("skip"), or NULL. */
const char *profile_skip_reason(const struct profile *p, const char *id);

#endif
