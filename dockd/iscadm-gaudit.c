/* iscadm-gaudit: `iscadm audit --guest NODE`: a node's guest audit log
 * (GET /v1/nodes/NODE/audit), decoded (an EXECVE's arguments as the dock
 * decoded them) and escaped, every guest string through escape.h before
 * the terminal; `verify`; `--purge`. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "escape.h"
#include "iscadm-int.h"
#include "validate.h"

/* One record as a line: time, kind, type and serial, then its text or
 * its arguments; the dock's marks show their detail. */
static void iscadm_gaudit_line(struct json_object *r)
{
	struct json_object *args = NULL, *det = NULL;
	const char *kind = iscadm_raw(r, "kind");
	char head[256];

	snprintf(head, sizeof(head), "%s %-6s %-10s ", iscadm_raw(r, "time"), iscadm_raw(r, "seq"),
		 kind);
	fputs(head, stdout);
	if (strcmp(kind, "record") != 0) {
		const char *d = json_object_object_get_ex(r, "detail", &det)
			? json_object_to_json_string_ext(det, JSON_C_TO_STRING_PLAIN)
			: "{}";
		iscadm_put(d, strlen(d), 0);
		fputc('\n', stdout);
		return;
	}
	snprintf(head, sizeof(head), "%s serial=%s ",
		 json_object_object_get_ex(r, "type", NULL) ? iscadm_raw(r, "type")
							    : iscadm_raw(r, "rtype"),
		 iscadm_raw(r, "serial"));
	iscadm_put(head, strlen(head), 0);
	if (json_object_object_get_ex(r, "args", &args)) {
		/* The dock escaped each argument; escaped again here, as all
		 * guest text is, and quoted so the words stay apart. */
		for (size_t i = 0; i < json_object_array_length(args); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(args, i));
			fputs(i ? " \"" : "\"", stdout);
			iscadm_put(s, strlen(s), ESCAPE_KEEP_BACKSLASH);
			fputc('"', stdout);
		}
	} else {
		const char *m = iscadm_raw(r, "msg");
		iscadm_put(m, strlen(m), 0);
	}
	if (json_object_object_get_ex(r, "truncated", NULL))
		fputs(" [truncated]", stdout);
	fputc('\n', stdout);
}

int iscadm_gaudit_verify(const char *node)
{
	struct json_object *o, *v;
	char path[160];
	int rc;

	snprintf(path, sizeof(path), "/v1/nodes/%s/audit/verify", node);
	o = iscadm_call("GET", path, NULL);
	rc = json_object_object_get_ex(o, "intact", &v) && json_object_get_boolean(v)
		? ISCADM_OK
		: ISCADM_CHECK_FAILED;
	if (iscadm_json)
		iscadm_print_json(o);
	else if (rc == ISCADM_OK)
		printf("guest audit log of %s intact: %s records in %s files, %s restarts after "
		       "damage\n",
		       node, iscadm_str(o, "records"), iscadm_str(o, "files"),
		       iscadm_str(o, "restarts"));
	else
		printf("guest audit log of %s BROKEN: %s (line %s of %s; %s intact records)\n",
		       node, iscadm_str(o, "problem"), iscadm_str(o, "bad_line"),
		       iscadm_str(o, "bad_file"), iscadm_str(o, "records"));
	json_object_put(o);
	return rc;
}

static int iscadm_gaudit_purge(const struct iscadm_args *a, const char *node)
{
	struct json_object *o;
	char path[160], answer[16];

	if (iscadm_opt(a, "yes") == NULL) {
		if (!isatty(STDIN_FILENO))
			iscadm_usage_fail(a->a_cmd,
					  "refusing to purge the guest audit log of %s "
					  "without --yes: not on a terminal",
					  node);
		fprintf(stderr, "Purge the guest audit log of %s? It is gone for good. [y/N] ",
			node);
		if (fgets(answer, sizeof(answer), stdin) == NULL ||
		    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0))
			iscadm_fail(ISCADM_USAGE, "audit --purge: not confirmed, log of %s kept",
				    node);
	}
	snprintf(path, sizeof(path), "/v1/nodes/%s/audit", node);
	o = iscadm_call("DELETE", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("guest audit log of %s (id %s) purged\n", node, iscadm_str(o, "purged"));
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_gaudit(const struct iscadm_args *a)
{
	const char *node = iscadm_opt(a, "guest"), *since = iscadm_opt(a, "since");
	const char *type = iscadm_opt(a, "type");
	struct dock_err err = { 0 };
	struct json_object *o, *recs;
	char path[400];
	size_t l;

	if (validate_name("node", node, NODE_NAME_MAX, &err) < 0)
		iscadm_usage_fail(a->a_cmd, "--guest: %s", err.de_msg);
	if (a->a_npos == 1 && strcmp(a->a_pos[0], "verify") != 0)
		iscadm_usage_fail(a->a_cmd,
				  "\"%s\": the only word after audit --guest NODE is verify",
				  a->a_pos[0]);
	if (a->a_npos == 1)
		return iscadm_gaudit_verify(node);
	if (iscadm_opt(a, "purge") != NULL)
		return iscadm_gaudit_purge(a, node);
	l = (size_t)snprintf(path, sizeof(path), "/v1/nodes/%s/audit?limit=5000", node);
	if (since != NULL)
		l += (size_t)snprintf(path + l, sizeof(path) - l, "&since=%lld",
				      (long long)iscadm_time_arg("since", since));
	if (type != NULL) {
		if (strspn(type,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
			    strlen(type) ||
		    strlen(type) > 32)
			iscadm_usage_fail(a->a_cmd,
					  "--type: a record type (EXECVE, USER_LOGIN, ...)");
		snprintf(path + l, sizeof(path) - l, "&type=%s", type);
	}
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json) {
		iscadm_print_json(o);
	} else if (json_object_object_get_ex(o, "records", &recs)) {
		for (size_t i = 0; i < json_object_array_length(recs); i++)
			iscadm_gaudit_line(json_object_array_get_idx(recs, i));
	}
	json_object_put(o);
	return ISCADM_OK;
}
