/* spec: what a create request asks for, parsed from the API's JSON body
 * with limits and checked against the dock's configured maxima. */
#ifndef ISC_SPEC_H
#define ISC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "validate.h"

#define SPEC_REQUEST_MAX 4096
#define SPEC_MIN_MEMORY_MIB 64
#define SPEC_MIN_SCRATCH_MIB 16

struct node_spec {
	char ns_name[NODE_NAME_MAX + 1];
	char ns_image[IMAGE_NAME_MAX + 1];
	char ns_profile[64];     /* empty: the image's own profile if there is one */
	uint64_t ns_memory_mib;
	uint64_t ns_vcpus;
	uint64_t ns_scratch_mib;
	bool ns_start;
};

/* Parse and range-check a create request (a fuzz target). Unknown fields
 * are refused, so a typo is not silently ignored. */
int spec_parse(const char *body, size_t len, const struct dock_config *cfg,
	       struct node_spec *spec, struct dock_err *err);

#endif
