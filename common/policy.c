/* policy: the service policy's members, parsed with bounds; what a node
 * profile and an image manifest's "service" object share (policy.h). */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonin.h"

int profile_paths(struct json_object *o, const char *key,
		  char out[PROFILE_MAX_PATHS][PROFILE_PATH_MAX], size_t *n, struct dock_err *err)
{
	if (jsonin_strings(o, "profile", key, out[0], PROFILE_PATH_MAX, PROFILE_MAX_PATHS, n, err) <
	    0)
		return -EINVAL;
	for (size_t i = 0; i < *n; i++)
		if (out[i][0] != '/' || strstr(out[i], "/..") != NULL)
			return err_set(err, 400, EINVAL,
				       "profile: %s[%zu] must be an absolute path under %d bytes",
				       key, i, PROFILE_PATH_MAX);
	return 0;
}

/* The "service" object: process name, uid, gid, ports. */
int profile_service(struct json_object *svc, struct profile *p, struct dock_err *err)
{
	struct json_object *ports = NULL; /* jsonin_array leaves it when absent */
	int r;

	if (!json_object_is_type(svc, json_type_object))
		return err_set(err, 400, EINVAL, "profile: \"service\" must be an object");
	if (jsonin_str(svc, "profile: service", "name", true, p->pr_service, sizeof(p->pr_service),
		       err) < 0 ||
	    JSONIN_BAD(jsonin_i64(svc, "profile: service", "uid", false, 0, UINT32_MAX, &p->pr_uid,
				  err)) ||
	    JSONIN_BAD(jsonin_i64(svc, "profile: service", "gid", false, 0, UINT32_MAX, &p->pr_gid,
				  err)))
		return -EINVAL;
	r = jsonin_array(svc, "profile: service", "ports", false, PROFILE_MAX_PORTS, &ports, err);
	if (JSONIN_BAD(r))
		return -EINVAL;
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		struct json_object *v = json_object_array_get_idx(ports, i);
		const char *s = json_object_get_string(v);
		unsigned long port;
		char *end;

		errno = 0;
		port = strtoul(s ? s : "", &end, 10);
		if (!json_object_is_type(v, json_type_string) || errno != 0 || end == s ||
		    port == 0 || port > 65535 ||
		    (strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0))
			return err_set(err, 400, EINVAL,
				       "profile: service ports[%zu] must look like \"80/tcp\"", i);
		p->pr_ports[i].pp_port = (uint16_t)port;
		memcpy(p->pr_ports[i].pp_proto, end + 1, 4);
		p->pr_n_ports = i + 1;
	}
	return 0;
}

int profile_from_service(struct json_object *svc, const char *name, struct profile *p,
			 struct dock_err *err)
{
	memset(p, 0, sizeof(*p));
	p->pr_uid = p->pr_gid = -1;
	snprintf(p->pr_name, sizeof(p->pr_name), "%s", name);
	if (profile_service(svc, p, err) < 0 ||
	    profile_paths(svc, "readonly", p->pr_readonly, &p->pr_n_readonly, err) < 0 ||
	    profile_paths(svc, "writable", p->pr_writable, &p->pr_n_writable, err) < 0)
		return -EINVAL;
	return 0;
}
