/* iscadm-misc: the dock's verbs that are not a node's: the audit trail,
 * the firewall's policy, forensic snapshots, images; and the console log
 * (logs, over iscadm-logs.c). Each a function of its parsed arguments (iscadm-args.c). */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "escape.h"
#include "iscadm-int.h"
#include "validate.h"

int iscadm_cmd_fw(const struct iscadm_args *a)
{
	struct json_object *o;
	char path[128] = "/v1/fw";

	if (a->a_npos == 1)
		snprintf(path, sizeof(path), "/v1/fw/%s", iscadm_node_arg(a, 0));
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json) {
		json_object_object_del(o, "text");
		iscadm_print_json(o);
	} else {
		const char *t = iscadm_raw(o, "text");
		iscadm_put(t, strlen(t), ESCAPE_KEEP_NL | ESCAPE_KEEP_TAB);
	}
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_logs(const struct iscadm_args *a)
{
	const char *tail = iscadm_opt(a, "tail");
	long n = -1;

	if (tail != NULL) {
		char *end;
		errno = 0;
		n = strtol(tail, &end, 10);
		if (errno != 0 || *end != '\0' || end == tail || n < 0 || n > 1000000)
			iscadm_usage_fail(a->a_cmd,
					  "--tail \"%s\": a number of lines, 0 to 1000000", tail);
	}
	if (iscadm_opt(a, "firewall") && iscadm_opt(a, "follow"))
		iscadm_usage_fail(a->a_cmd, "--follow is for the console log, not --firewall");
	return iscadm_logs_run(iscadm_node_arg(a, 0), iscadm_opt(a, "firewall") != NULL,
			       iscadm_opt(a, "raw") != NULL, iscadm_opt(a, "follow") != NULL, n,
			       iscadm_opt(a, "since"));
}

/* Records a page of `audit` asks for; the trail is read page by page with
 * the API's cursor (after=SEQ), so none is left out however long it is. */
#define ISCADM_AUDIT_PAGE 1000

/* The next page after seq into all; how many records it had. */
static size_t iscadm_audit_page(const char *query, uint64_t after, struct json_object *all,
				uint64_t *last)
{
	char path[320];
	struct json_object *o, *seq;
	size_t n;

	snprintf(path, sizeof(path), "/v1/audit?after=%" PRIu64 "&limit=%d%s", after,
		 ISCADM_AUDIT_PAGE, query);
	o = iscadm_call("GET", path, NULL);
	n = json_object_array_length(o);
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(o, i);
		if (json_object_object_get_ex(r, "seq", &seq))
			*last = (uint64_t)json_object_get_int64(seq);
		json_object_array_add(all, json_object_get(r));
	}
	json_object_put(o);
	return n;
}

int iscadm_cmd_audit(const struct iscadm_args *a)
{
	const char *node = iscadm_opt(a, "node"), *since = iscadm_opt(a, "since");
	struct dock_err err = { 0 };
	struct json_object *all = json_object_new_array();
	char query[256] = "";
	uint64_t last = 0, before;
	size_t l;

	if (iscadm_opt(a, "guest") != NULL)
		return iscadm_cmd_gaudit(a);
	if (a->a_npos > 0)
		iscadm_usage_fail(a->a_cmd,
				  "\"%s\": `verify` goes with --guest NODE (or use "
				  "`iscadm audit verify`)",
				  a->a_pos[0]);
	if (iscadm_opt(a, "type") != NULL || iscadm_opt(a, "purge") != NULL)
		iscadm_usage_fail(a->a_cmd, "--type and --purge go with --guest NODE");

	if (node != NULL) {
		if (validate_name("node", node, NODE_NAME_MAX, &err) < 0)
			iscadm_usage_fail(a->a_cmd, "%s", err.de_msg);
		snprintf(query, sizeof(query), "&node=%s", node);
	}
	if (since != NULL) {
		time_t t = iscadm_time_arg("since", since);
		l = strlen(query);
		snprintf(query + l, sizeof(query) - l, "&since=%lld", (long long)(t < 0 ? 0 : t));
	}
	/* A short page is the last; a page that does not move on, too. */
	do
		before = last;
	while (iscadm_audit_page(query, last, all, &last) == ISCADM_AUDIT_PAGE && last > before);
	iscadm_print_audit(all);
	json_object_put(all);
	return ISCADM_OK;
}

int iscadm_cmd_verify(const struct iscadm_args *a)
{
	struct json_object *o;
	int rc;

	if (iscadm_opt(a, "guest") != NULL) {
		struct dock_err err = { 0 };
		if (validate_name("node", iscadm_opt(a, "guest"), NODE_NAME_MAX, &err) < 0)
			iscadm_usage_fail(a->a_cmd, "--guest: %s", err.de_msg);
		return iscadm_gaudit_verify(iscadm_opt(a, "guest"));
	}
	o = iscadm_call("GET", "/v1/audit/verify", NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		iscadm_print_verify(o);
	rc = iscadm_verify_failed(o) ? ISCADM_CHECK_FAILED : ISCADM_OK;
	json_object_put(o);
	return rc;
}

int iscadm_cmd_forensic_ls(const struct iscadm_args *a)
{
	struct json_object *o = iscadm_call("GET", "/v1/forensics", NULL);

	(void)a;
	iscadm_print_forensics(o);
	json_object_put(o);
	return ISCADM_OK;
}

static const char *iscadm_snapshot_id(const struct iscadm_args *a, size_t i)
{
	const char *id = a->a_pos[i];

	if (strchr(id, '/') != NULL || strlen(id) > 60 || id[0] == '.' || id[0] == '\0')
		iscadm_usage_fail(a->a_cmd, "\"%s\" is not a snapshot id", id);
	return id;
}

/* Evidence is deleted only when asked: on a terminal the operator says
 * yes; elsewhere --yes must have been given (nothing waits on a pipe). */
static void iscadm_confirm_rm(const struct iscadm_args *a, const char *id)
{
	char answer[16];

	if (iscadm_opt(a, "yes") != NULL)
		return;
	if (!isatty(STDIN_FILENO))
		iscadm_usage_fail(a->a_cmd,
				  "refusing to delete evidence (snapshot %s) without --yes: not "
				  "on a terminal",
				  id);
	fprintf(stderr, "Delete forensic snapshot %s? Its evidence is gone for good. [y/N] ", id);
	if (fgets(answer, sizeof(answer), stdin) == NULL ||
	    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0))
		iscadm_fail(ISCADM_USAGE, "forensic rm: not confirmed, snapshot %s kept", id);
}

int iscadm_cmd_forensic_rm(const struct iscadm_args *a)
{
	const char *id = iscadm_snapshot_id(a, 0);
	struct json_object *o;
	char path[160];

	iscadm_confirm_rm(a, id);
	snprintf(path, sizeof(path), "/v1/forensics/%s", id);
	o = iscadm_call("DELETE", path, NULL);
	printf("forensic snapshot %s removed\n", id);
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_forensic_export(const struct iscadm_args *a)
{
	return iscadm_forensic_export(iscadm_snapshot_id(a, 0), a->a_pos[1]);
}

int iscadm_cmd_image_ls(const struct iscadm_args *a)
{
	struct json_object *o = iscadm_call("GET", "/v1/images", NULL);

	(void)a;
	iscadm_print_images(o);
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_image_rm(const struct iscadm_args *a)
{
	struct dock_err err = { 0 };
	struct json_object *o;
	char path[160];

	if (validate_name("image", a->a_pos[0], IMAGE_NAME_MAX, &err) < 0)
		iscadm_usage_fail(a->a_cmd, "%s", err.de_msg);
	snprintf(path, sizeof(path), "/v1/images/%s", a->a_pos[0]);
	o = iscadm_call("DELETE", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("image %s removed\n", a->a_pos[0]);
	json_object_put(o);
	return ISCADM_OK;
}
