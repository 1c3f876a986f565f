/* profile: node policy files (the policy members themselves: common/policy.c). */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "file.h"
#include "jsonin.h"
#include "state.h"
#include "validate.h"

static const struct jsonin_limits profile_limits = {
	.jl_max_bytes = PROFILE_MAX_BYTES,
	.jl_max_depth = 4,
	.jl_max_fields = 32,
};

/* A row id as checks.c names them: [a-z0-9-], at most PROFILE_SKIP_ID_MAX - 1. */
static bool profile_skip_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= PROFILE_SKIP_ID_MAX)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* A reason is one line of text for a terminal: UTF-8, no control bytes. */
static bool profile_skip_why_ok(const char *why, size_t n)
{
	if (n == 0 || n >= PROFILE_SKIP_WHY_MAX || !escape_utf8_valid(why, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
			return false;
	return true;
}

/* Optional "skip": {"ROW": "reason", ...}: rows the image cannot satisfy.
 * Which ids name a row that may be skipped is checks.c's to say. */
static int profile_skips(struct json_object *o, struct profile *p, struct dock_err *err)
{
	struct json_object *skip;

	if (!json_object_object_get_ex(o, "skip", &skip))
		return 0;
	if (!json_object_is_type(skip, json_type_object))
		return err_set(err, 400, EINVAL, "profile: \"skip\" must be an object");
	if (json_object_object_length(skip) > PROFILE_MAX_SKIPS)
		return err_set(err, 400, E2BIG, "profile: \"skip\" names more than %d rows",
			       PROFILE_MAX_SKIPS);
	json_object_object_foreach(skip, id, v)
	{
		struct profile_skip *ps = &p->pr_skips[p->pr_n_skips];
		const char *why = json_object_get_string(v);

		if (!profile_skip_id_ok(id))
			return err_set(err, 400, EINVAL,
				       "profile: skip: \"%.*s\" is not a check id ([a-z0-9-], "
				       "under %d bytes)",
				       PROFILE_SKIP_ID_MAX, id, PROFILE_SKIP_ID_MAX);
		if (!json_object_is_type(v, json_type_string) ||
		    !profile_skip_why_ok(why, (size_t)json_object_get_string_len(v)))
			return err_set(err, 400, EINVAL,
				       "profile: skip: %s: the reason must be one line of text "
				       "under %d bytes",
				       id, PROFILE_SKIP_WHY_MAX);
		snprintf(ps->ps_id, sizeof(ps->ps_id), "%s", id);
		snprintf(ps->ps_why, sizeof(ps->ps_why), "%s", why);
		p->pr_n_skips++;
	}
	return 0;
}

const char *profile_skip_reason(const struct profile *p, const char *id)
{
	for (size_t i = 0; p != NULL && i < p->pr_n_skips; i++)
		if (strcmp(p->pr_skips[i].ps_id, id) == 0)
			return p->pr_skips[i].ps_why;
	return NULL;
}

int profile_parse(const char *buf, size_t len, struct profile *p, struct dock_err *err)
{
	struct json_object *o = NULL, *svc = NULL;
	enum node_action act;
	int r = -EINVAL;

	memset(p, 0, sizeof(*p));
	p->pr_uid = p->pr_gid = -1;
	if (jsonin_parse("profile", buf, len, &profile_limits, &o, err) < 0)
		return -EINVAL;
	if (jsonin_str(o, "profile", "name", true, p->pr_name, sizeof(p->pr_name), err) < 0)
		goto out;
	if (json_object_object_get_ex(o, "service", &svc) && profile_service(svc, p, err) < 0)
		goto out;
	if (profile_paths(o, "readonly", p->pr_readonly, &p->pr_n_readonly, err) < 0 ||
	    profile_paths(o, "writable", p->pr_writable, &p->pr_n_writable, err) < 0)
		goto out;
	if (JSONIN_BAD(jsonin_str(o, "profile", "on_fail", false, p->pr_on_fail,
				  sizeof(p->pr_on_fail), err)))
		goto out;
	if (p->pr_on_fail[0] != '\0' && state_parse_action(p->pr_on_fail, &act) < 0) {
		err_set(err, 400, EINVAL,
			"profile: on_fail must be alert, quarantine, cleanse or destroy");
		goto out;
	}
	if (profile_skips(o, p, err) < 0)
		goto out;
	r = 0;
out:
	json_object_put(o);
	return r;
}

int profile_load(const char *dir, const char *name, struct profile *p, struct dock_err *err)
{
	char path[PATH_MAX], *buf;
	size_t len = 0;
	int r;

	if (validate_name("profile", name, 63, err) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	r = file_read(path, PROFILE_MAX_BYTES, &buf, &len);
	if (r < 0)
		return err_set(err, r == -ENOENT ? 404 : 500, -r, "profile \"%s\": %s: %s", name,
			       path, strerror(-r));
	r = profile_parse(buf, len, p, err);
	free(buf);
	if (r < 0)
		err_prefix(err, "%s: ", path);
	return r;
}

bool profile_port_declared(const struct profile *p, const char *proto, unsigned port)
{
	for (size_t i = 0; i < p->pr_n_ports; i++)
		if (p->pr_ports[i].pp_port == port &&
		    strncmp(proto, p->pr_ports[i].pp_proto, 3) == 0)
			return true;
	return false;
}
