/* spec: a node create request, parsed and range-checked, one step per
 * group of fields (spec.h is the contract); the flag and port bodies too. */
#include "spec.h"

#include <errno.h>
#include <string.h>

#include "jsonin.h"
#include "state.h"

static const struct jsonin_limits spec_limits = {
	.jl_max_bytes = SPEC_REQUEST_MAX,
	.jl_max_depth = 4,
	.jl_max_fields = 32,
};

/* Refuse a member not in known: a typo is not silently ignored. */
static int spec_known_fields(struct json_object *o, const char *what, const char *const known[],
			     size_t n, struct dock_err *err)
{
	json_object_object_foreach(o, key, val)
	{
		size_t i;
		(void)val;
		for (i = 0; i < n; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == n)
			return err_set(err, 400, EINVAL, "%s: unknown field \"%.64s\"", what, key);
	}
	return 0;
}

int spec_flags_parse(const char *what, const char *body, size_t len, const struct spec_flag *flags,
		     size_t n, struct dock_err *err)
{
	const char *known[SPEC_FLAGS_MAX];
	struct json_object *o = NULL;
	size_t i;
	int r = 0;

	if (n > SPEC_FLAGS_MAX)
		return err_set(err, 500, E2BIG, "%s: more than %d flags", what, SPEC_FLAGS_MAX);
	for (i = 0; i < n; i++) {
		*flags[i].sf_val = false;
		known[i] = flags[i].sf_key;
	}
	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL && body[i] != '\0'; i++)
		;
	if (i == len)
		return 0; /* no body: every flag off */
	if (jsonin_parse(what, body, len, &spec_limits, &o, err) < 0)
		return -EINVAL;
	r = spec_known_fields(o, what, known, n, err);
	for (i = 0; r == 0 && i < n; i++) {
		r = jsonin_bool(o, what, flags[i].sf_key, false, flags[i].sf_val, err);
		if (r == -ENOENT)
			r = 0; /* absent: off */
	}
	json_object_put(o);
	return r < 0 ? -EINVAL : 0;
}

int spec_port_parse(const char *body, size_t len, char *port, size_t size, struct dock_err *err)
{
	struct json_object *o = NULL;
	int r;

	if (jsonin_parse("publish request", body, len, &spec_limits, &o, err) < 0)
		return -EINVAL;
	r = jsonin_str(o, "publish request", "port", true, port, size, err);
	json_object_put(o);
	return r < 0 ? -EINVAL : 0;
}

/* Steps of spec_parse: each returns 0 to go on, < 0 when the request is
 * refused (err says why). */

static int spec_parse_known(struct json_object *o, const char *w, struct dock_err *err)
{
	static const char *const known[] = {
		"name",       "image",      "memory_mib", "vcpus",   "scratch_mib",
		"start",      "profile",    "publish",    "egress",  "egress_allow",
		"lifetime_s", "on_hostile", "on_silent",  "on_fail", "on_audit_gap",
		"cpus",       "cpu_weight", "disk",       "net"
	};

	return spec_known_fields(o, w, known, sizeof(known) / sizeof(known[0]), err);
}

static int spec_parse_names(struct json_object *o, const char *w, struct node_spec *spec,
			    struct dock_err *err)
{
	if (jsonin_str(o, w, "name", true, spec->ns_name, sizeof(spec->ns_name), err) < 0) {
		if (err_isset(err) && err->de_errno == ENAMETOOLONG) {
			err_clear(err);
			err_set(err, 400, ENAMETOOLONG, "node name is longer than %d characters",
				NODE_NAME_MAX);
		}
		return -EINVAL;
	}
	if (validate_name("node", spec->ns_name, NODE_NAME_MAX, err) < 0 ||
	    jsonin_str(o, w, "image", true, spec->ns_image, sizeof(spec->ns_image), err) < 0 ||
	    validate_name("image", spec->ns_image, IMAGE_NAME_MAX, err) < 0)
		return -EINVAL;
	return 0;
}

/* memory, vcpus, scratch within the dock's limits; the lifetime. */
static int spec_parse_sizes(struct json_object *o, const char *w, const struct dock_config *cfg,
			    struct node_spec *spec, struct dock_err *err)
{
	if (jsonin_u64(o, w, "memory_mib", false, SPEC_MIN_MEMORY_MIB, cfg->dc_max_memory_mib,
		       &spec->ns_memory_mib, err) == -ERANGE) {
		err_clear(err);
		err_set(err, 400, ERANGE,
			"memory must be between %d and %llu MiB (the dock's limit)",
			SPEC_MIN_MEMORY_MIB, (unsigned long long)cfg->dc_max_memory_mib);
		return -EINVAL;
	}
	if (jsonin_u64(o, w, "vcpus", false, 1, cfg->dc_max_vcpus, &spec->ns_vcpus, err) ==
	    -ERANGE) {
		err_clear(err);
		err_set(err, 400, ERANGE, "vcpus must be between 1 and %llu (the dock's limit)",
			(unsigned long long)cfg->dc_max_vcpus);
		return -EINVAL;
	}
	if (jsonin_u64(o, w, "scratch_mib", false, SPEC_MIN_SCRATCH_MIB, cfg->dc_max_scratch_mib,
		       &spec->ns_scratch_mib, err) == -ERANGE) {
		err_clear(err);
		err_set(err, 400, ERANGE,
			"scratch size must be between %d and %llu MiB (the dock's limit)",
			SPEC_MIN_SCRATCH_MIB, (unsigned long long)cfg->dc_max_scratch_mib);
		return -EINVAL;
	}
	if (err_isset(err))
		return -EINVAL;
	if (jsonin_u64(o, w, "lifetime_s", false, SPEC_MIN_LIFETIME_S, SPEC_MAX_LIFETIME_S,
		       &spec->ns_lifetime_s, err) == -ERANGE) {
		err_clear(err);
		err_set(err, 400, ERANGE, "lifetime must be between %d s and %d s",
			SPEC_MIN_LIFETIME_S, SPEC_MAX_LIFETIME_S);
		return -EINVAL;
	}
	if (err_isset(err))
		return -EINVAL;
	return 0;
}

/* on_hostile, on_silent, on_fail, on_audit_gap: each an action name when
 * present; an error names the key. */
static int spec_parse_policies(struct json_object *o, const char *w, struct node_spec *spec,
			       struct dock_err *err)
{
	struct {
		const char *key;
		char *val;
		size_t size;
	} pol[] = {
		{ "on_hostile", spec->ns_on_hostile, sizeof(spec->ns_on_hostile) },
		{ "on_silent", spec->ns_on_silent, sizeof(spec->ns_on_silent) },
		{ "on_fail", spec->ns_on_fail, sizeof(spec->ns_on_fail) },
		{ "on_audit_gap", spec->ns_on_audit_gap, sizeof(spec->ns_on_audit_gap) },
	};
	enum node_action a;

	for (size_t i = 0; i < sizeof(pol) / sizeof(pol[0]); i++) {
		if (JSONIN_BAD(jsonin_str(o, w, pol[i].key, false, pol[i].val, pol[i].size, err)))
			return -EINVAL;
		if (pol[i].val[0] && state_parse_action(pol[i].val, &a) < 0) {
			err_set(err, 400, EINVAL,
				"%s: %s must be alert, quarantine, cleanse or destroy", w,
				pol[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

static int spec_parse_profile(struct json_object *o, const char *w, struct node_spec *spec,
			      struct dock_err *err)
{
	if (JSONIN_BAD(jsonin_str(o, w, "profile", false, spec->ns_profile,
				  sizeof(spec->ns_profile), err)) ||
	    (spec->ns_profile[0] != '\0' &&
	     validate_name("profile", spec->ns_profile, sizeof(spec->ns_profile) - 1, err) < 0))
		return -EINVAL;
	if (err_isset(err))
		return -EINVAL;
	return 0;
}

/* Published ports, egress and its allow-list (in either mode: with "allow"
 * it opens private ranges, with "deny" it names the only destinations). */
static int spec_parse_network(struct json_object *o, const char *w, struct node_spec *spec,
			      struct dock_err *err)
{
	struct json_object *v;

	if (jsonin_strings(o, w, "publish", spec->ns_publish[0], sizeof(spec->ns_publish[0]), 16,
			   &spec->ns_n_publish, err) < 0 ||
	    jsonin_strings(o, w, "egress_allow", spec->ns_egress_allow[0],
			   sizeof(spec->ns_egress_allow[0]), 16, &spec->ns_n_allow, err) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(o, "egress", &v)) {
		const char *e = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(e, "allow") != 0 && strcmp(e, "deny") != 0)) {
			err_set(err, 400, EINVAL, "%s: \"egress\" must be \"allow\" or \"deny\"",
				w);
			return -EINVAL;
		}
		spec->ns_egress_deny = strcmp(e, "deny") == 0;
	}
	return 0;
}

static int spec_parse_start(struct json_object *o, const char *w, struct node_spec *spec,
			    struct dock_err *err)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, "start", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			err_set(err, 400, EINVAL, "%s: \"start\" must be true or false", w);
			return -EINVAL;
		}
		spec->ns_start = json_object_get_boolean(v);
	}
	return 0;
}

int spec_parse(const char *body, size_t len, const struct dock_config *cfg, struct node_spec *spec,
	       struct dock_err *err)
{
	struct json_object *o = NULL;
	const char *w = "create request";
	int r;

	memset(spec, 0, sizeof(*spec));
	spec->ns_memory_mib = 256;
	spec->ns_vcpus = 1;
	spec->ns_scratch_mib = 256;
	spec->ns_start = true;
	if (jsonin_parse(w, body, len, &spec_limits, &o, err) < 0)
		return -EINVAL;
	spec->ns_memory_default = !json_object_object_get_ex(o, "memory_mib", NULL);
	spec->ns_scratch_default = !json_object_object_get_ex(o, "scratch_mib", NULL);
	r = spec_parse_known(o, w, err);
	if (r == 0)
		r = spec_parse_names(o, w, spec, err);
	if (r == 0)
		r = spec_parse_sizes(o, w, cfg, spec, err);
	if (r == 0 && resctl_parse(o, w, spec->ns_vcpus, &spec->ns_limits, err) < 0)
		r = -EINVAL;
	if (r == 0)
		r = spec_parse_policies(o, w, spec, err);
	if (r == 0)
		r = spec_parse_profile(o, w, spec, err);
	if (r == 0)
		r = spec_parse_network(o, w, spec, err);
	if (r == 0)
		r = spec_parse_start(o, w, spec, err);
	json_object_put(o);
	return r < 0 ? -EINVAL : 0;
}
