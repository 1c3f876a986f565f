/* api-err: error bodies with a machine code (api-err.h), and the headers
 * an answer adds (api.h). The codes are
 * data: a table of status, errno and the start of the text, first match
 * wins, then one code a status. */
#include "api-err.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

struct api_err_rule {
	int aer_status;         /* 0: any */
	int aer_errno;          /* 0: any */
	const char *aer_prefix; /* NULL: any; else the text starts with it */
	const char *aer_has;    /* NULL: any; else the text holds it */
	const char *aer_code;
};

/* The specific cases first: the ones a client acts on differently. */
static const struct api_err_rule api_err_rules[] = {
	{ 404, 0, "no such API path", NULL, "no_route" },
	{ 404, 0, "no such operation", NULL, "operation_not_found" },
	{ 404, 0, "node ", " does not publish ", "not_found" }, /* the node is there */
	{ 404, 0, "node ", NULL, "node_not_found" },
	{ 404, 0, "image ", NULL, "image_not_found" },
	{ 404, 0, "forensic snapshot ", NULL, "snapshot_not_found" },
	{ 409, EEXIST, NULL, NULL, "already_exists" },
	{ 409, EBUSY, NULL, "stop it first", "node_running" },
	{ 409, EBUSY, NULL, " is busy (", "busy" },
	{ 409, EBUSY, "image ", " is used by ", "image_in_use" },
	{ 409, EALREADY, NULL, " is paused", "node_paused" },
	{ 409, ESTALE, NULL, NULL, "image_rebuilt" },
	{ 409, ENOKEY, NULL, NULL, "key_gone" },
	{ 409, EADDRINUSE, NULL, NULL, "port_in_use" },
	{ 409, ENOSPC, NULL, NULL, "limit_reached" },
	{ 409, EPERM, NULL, "cannot be cancelled", "not_cancellable" },
	{ 503, ECONNREFUSED, "libvirt ", NULL, "libvirt_unreachable" },
	{ 503, 0, "audit", NULL, "audit_unavailable" },
	{ 503, 0, "log ", NULL, "audit_unavailable" },
	{ 507, 0, NULL, NULL, "disk_full" },
};

/* One code a status; a status not listed: by its class. */
static const struct {
	int status;
	const char *code;
} api_err_status[] = {
	{ 400, "bad_request" },        { 403, "permission_denied" }, { 404, "not_found" },
	{ 405, "method_not_allowed" }, { 409, "conflict" },          { 413, "body_too_large" },
	{ 414, "uri_too_long" },       { 503, "unavailable" },       { 507, "disk_full" },
};

static bool api_err_rule_matches(const struct api_err_rule *r, int status, int errnum,
				 const char *msg)
{
	return (r->aer_status == 0 || r->aer_status == status) &&
		(r->aer_errno == 0 || r->aer_errno == errnum) &&
		(r->aer_prefix == NULL ||
		 strncmp(msg, r->aer_prefix, strlen(r->aer_prefix)) == 0) &&
		(r->aer_has == NULL || strstr(msg, r->aer_has) != NULL);
}

const char *api_err_code(int status, int errnum, const char *msg)
{
	if (msg == NULL)
		msg = "";
	for (size_t i = 0; i < sizeof(api_err_rules) / sizeof(api_err_rules[0]); i++)
		if (api_err_rule_matches(&api_err_rules[i], status, errnum, msg))
			return api_err_rules[i].aer_code;
	for (size_t i = 0; i < sizeof(api_err_status) / sizeof(api_err_status[0]); i++)
		if (api_err_status[i].status == status)
			return api_err_status[i].code;
	return status >= 400 && status < 500 ? "bad_request" : "internal";
}

struct json_object *api_err_body(int status, const char *code, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(
		o, "code",
		json_object_new_string(code != NULL ? code : api_err_code(status, 0, msg)));
	return o;
}

struct json_object *api_err_json(const struct dock_err *err)
{
	return api_err_body(err->de_status,
			    api_err_code(err->de_status, err->de_errno, err->de_msg), err->de_msg);
}

void api_hdrs_add(struct api_hdrs *h, const char *name, const char *value)
{
	if (h == NULL || h->ah_n >= API_HDRS_MAX)
		return;
	snprintf(h->ah_name[h->ah_n], sizeof(h->ah_name[0]), "%s", name);
	snprintf(h->ah_value[h->ah_n], sizeof(h->ah_value[0]), "%s", value);
	h->ah_n++;
}
