/* node-spec: a create request (spec.h) translated into a node's record,
 * as pure functions: no I/O, no globals. What they need from outside (the
 * dock's limits, the image's recommended sizes, the profile chosen and its
 * on_fail) comes in as arguments; node-create.c reads those and calls these.
 * tests/unit/test_node_spec.c holds them to it. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int node_spec_check_publish(const struct node_spec *spec, struct dock_err *err)
{
	for (size_t i = 0; i < spec->ns_n_publish; i++) {
		struct fw_publish p;
		if (fw_publish_parse(spec->ns_publish[i], &p, err) < 0)
			return -EINVAL;
	}
	return 0;
}

void node_spec_profile(const struct node_spec *spec, bool image_has_own, char *out, size_t size)
{
	snprintf(out, size, "%s", spec->ns_profile);
	/* the image's own: a profile file named like it, else its manifest's service */
	if (out[0] == '\0' && image_has_own)
		snprintf(out, size, "%s", spec->ns_image);
}

/* Sizes the request left out: what the image says it needs, within the
 * dock's limits (a golden Debian does not boot in 256 MiB). */
uint64_t node_spec_size(uint64_t asked, bool is_default, uint64_t recommended, uint64_t max)
{
	if (is_default && recommended > asked)
		return recommended < max ? recommended : max;
	return asked;
}

/* The published ports in the firewall's canonical form ("8080:80/tcp"). */
static void node_spec_published(const struct node_spec *spec, struct node_rec *rec)
{
	for (size_t i = 0; i < spec->ns_n_publish; i++) {
		struct fw_publish p;
		fw_publish_parse(spec->ns_publish[i], &p, NULL);
		fw_publish_format(&p, rec->nr_published[i], sizeof(rec->nr_published[i]));
	}
	rec->nr_n_published = spec->ns_n_publish;
}

/* on_hostile quarantines and on_silent alerts unless the request says. */
static void node_spec_policies(const struct node_spec *spec, struct node_rec *rec)
{
	rec->nr_on_hostile = NODE_ACT_QUARANTINE;
	rec->nr_on_silent = NODE_ACT_ALERT;
	rec->nr_on_audit_gap = NODE_ACT_ALERT;
	if (spec->ns_on_audit_gap[0])
		state_parse_action(spec->ns_on_audit_gap, &rec->nr_on_audit_gap);
	if (spec->ns_on_hostile[0])
		state_parse_action(spec->ns_on_hostile, &rec->nr_on_hostile);
	if (spec->ns_on_silent[0])
		state_parse_action(spec->ns_on_silent, &rec->nr_on_silent);
}

void node_spec_rec(const struct node_spec_in *in, struct node_rec *rec)
{
	const struct node_spec *spec = in->si_spec;

	memcpy(rec->nr_name, spec->ns_name, sizeof(rec->nr_name));
	memcpy(rec->nr_image, spec->ns_image, sizeof(rec->nr_image));
	snprintf(rec->nr_profile, sizeof(rec->nr_profile), "%s", in->si_profile);
	memcpy(rec->nr_lab, spec->ns_lab, sizeof(rec->nr_lab));
	rec->nr_memory_mib =
		node_spec_size(spec->ns_memory_mib, spec->ns_memory_default,
			       in->si_image->im_memory_mib, in->si_cfg->dc_max_memory_mib);
	rec->nr_vcpus = spec->ns_vcpus;
	rec->nr_limits = spec->ns_limits;
	rec->nr_scratch_mib =
		node_spec_size(spec->ns_scratch_mib, spec->ns_scratch_default,
			       in->si_image->im_scratch_mib, in->si_cfg->dc_max_scratch_mib);
	rec->nr_created = in->si_now;
	node_spec_published(spec, rec);
	rec->nr_egress_deny = spec->ns_egress_deny;
	memcpy(rec->nr_egress_allow, spec->ns_egress_allow, sizeof(rec->nr_egress_allow));
	rec->nr_n_allow = spec->ns_n_allow;
	rec->nr_egress_public_only = true;
	rec->nr_lifetime_s = spec->ns_lifetime_s;
	node_spec_policies(spec, rec);
}

void node_spec_on_fail(const struct node_spec *spec, const char *profile_on_fail,
		       struct node_rec *rec)
{
	rec->nr_on_fail = NODE_ACT_ALERT;
	if (profile_on_fail != NULL && profile_on_fail[0])
		state_parse_action(profile_on_fail, &rec->nr_on_fail);
	if (spec->ns_on_fail[0])
		state_parse_action(spec->ns_on_fail, &rec->nr_on_fail);
}
