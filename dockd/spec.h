/* spec: what a create request asks for, parsed from the API's JSON body
 * with limits and checked against the dock's configured maxima. */
#ifndef ISC_SPEC_H
#define ISC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "resctl.h"
#include "validate.h"

#define SPEC_REQUEST_MAX     4096
#define SPEC_MIN_MEMORY_MIB  64
#define SPEC_MIN_SCRATCH_MIB 16
#define SPEC_MIN_LIFETIME_S  30
#define SPEC_MAX_LIFETIME_S  (366 * 24 * 3600)

struct node_spec {
	char ns_name[NODE_NAME_MAX + 1];
	char ns_image[IMAGE_NAME_MAX + 1];
	char ns_profile[64]; /* empty: the image's own profile if there is one */
	uint64_t ns_memory_mib;
	uint64_t ns_vcpus;
	uint64_t ns_scratch_mib;
	struct resctl ns_limits; /* "cpus", "cpu_weight", "disk", "net"; 0: none */
	bool ns_memory_default;  /* not in the request: the image's recommendation wins */
	bool ns_scratch_default;
	bool ns_start;
	uint64_t ns_lifetime_s; /* 0: none */
	char ns_on_hostile[16]; /* alert|quarantine|cleanse|destroy; "" default */
	char ns_on_silent[16];
	char ns_on_audit_gap[16];
	char ns_on_fail[16];     /* a check turning FAIL; "" the profile's, else alert */
	char ns_publish[16][24]; /* "HOSTPORT:NODEPORT[/proto]", checked by the firewall */
	size_t ns_n_publish;
	bool ns_egress_deny;
	char ns_egress_allow
		[16]
		[264]; /* CIDR or NAME[:PORT[/tcp|/udp]] (NODE_ALLOW_LEN), checked by the firewall */
	size_t ns_n_allow;
	/* The lab the node belongs to ("" none): set by the dock's lab code
	 * (lab-apply.c) after spec_parse, never by a request ("lab" is not a
	 * member a create request may carry). */
	char ns_lab[NODE_NAME_MAX + 1];
};

/* A body of optional boolean members, each false when absent: snapshot
 * {"memory"}, quarantine {"pause","snapshot"}. An empty body is all false;
 * an unknown member is refused. */
#define SPEC_FLAGS_MAX 8
struct spec_flag {
	const char *sf_key;
	bool *sf_val;
};
int spec_flags_parse(const char *what, const char *body, size_t len, const struct spec_flag *flags,
		     size_t n, struct dock_err *err);

/* A {"port":"8080:80/tcp"} body (publish, unpublish). */
int spec_port_parse(const char *body, size_t len, char *port, size_t size, struct dock_err *err);

/* Parse and range-check a create request (a fuzz target). Unknown fields
 * are refused, so a typo is not silently ignored. */
int spec_parse(const char *body, size_t len, const struct dock_config *cfg, struct node_spec *spec,
	       struct dock_err *err);

#endif
