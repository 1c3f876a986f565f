/* api-audit: the audit listing's query, cursor and headers (api-audit.h). */
#include "api-audit.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "node.h"
#include "validate.h"

/* A decimal number in [min, max] or a 400 naming the parameter. */
static int api_audit_num(const char *what, const char *s, unsigned long long min,
			 unsigned long long max, unsigned long long *v, struct dock_err *err)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || s[0] == '+' || *v < min ||
	    *v > max)
		return err_set(err, 400, EINVAL, "%s must be a number from %llu to %llu", what, min,
			       max);
	return 0;
}

/* The headers of a page: how many matched, and the cut or the next cursor. */
static void api_audit_hdrs(const struct audit_page *p, struct json_object *arr, const char *node,
			   struct api_hdrs *h)
{
	char v[160];
	size_t n = json_object_array_length(arr);
	struct json_object *last = n > 0 ? json_object_array_get_idx(arr, n - 1) : NULL, *seq;

	snprintf(v, sizeof(v), "%zu", p->ap_matched);
	api_hdrs_add(h, "X-Audit-Matched", v);
	if (!p->ap_more)
		return;
	if (!p->ap_cursor) {
		snprintf(v, sizeof(v), "%zu", p->ap_matched - n);
		api_hdrs_add(h, "X-Audit-Truncated", v);
		return;
	}
	if (last == NULL || !json_object_object_get_ex(last, "seq", &seq))
		return;
	snprintf(v, sizeof(v), "%" PRId64, json_object_get_int64(seq));
	api_hdrs_add(h, "X-Next-Cursor", v);
	snprintf(v, sizeof(v), "</v1/audit?after=%" PRId64 "&limit=%zu%s%s>; rel=\"next\"",
		 json_object_get_int64(seq), p->ap_limit, node ? "&node=" : "", node ? node : "");
	api_hdrs_add(h, "Link", v);
}

int api_audit_list(struct MHD_Connection *conn, const char *state_dir, struct json_object **out,
		   struct api_hdrs *h, struct dock_err *err)
{
	const char *node = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "node");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
	const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	struct audit_page p = { 0 };
	char path[PATH_MAX];
	unsigned long long v;
	long long t = 0;
	int r;

	snprintf(path, sizeof(path), "%s/audit.log", state_dir);
	if (node != NULL && validate_name("node", node, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	if (since != NULL) {
		char *end;
		errno = 0;
		t = strtoll(since, &end, 10);
		if (errno != 0 || *end != '\0' || t < 0)
			return err_set(err, 400, EINVAL, "since must be a unix time in seconds");
	}
	p.ap_cursor = after != NULL || limit != NULL;
	if (after != NULL && api_audit_num("after", after, 0, INT64_MAX, &v, err) < 0)
		return -EINVAL;
	p.ap_after = after != NULL ? v : 0;
	if (limit != NULL && api_audit_num("limit", limit, 1, AUDIT_READ_MAX, &v, err) < 0)
		return -EINVAL;
	p.ap_limit = limit != NULL ? (size_t)v : AUDIT_READ_MAX;
	r = audit_read_page(path, node, t, &p, out, err);
	if (r < 0)
		return r;
	api_audit_hdrs(&p, *out, node, h);
	return 0;
}
