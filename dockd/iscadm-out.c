/* iscadm-out: the CLI's output: a member of an answer as text, an answer
 * as pretty JSON (--json), and the human tables of ls, status, audit,
 * forensic ls and image ls. Printing only: no requests, no exits. Every
 * string of an answer reaches the terminal escaped (escape.h): node names,
 * evidence, errors and records may carry what a guest or a client wrote. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "iscadm-int.h"

/* iscadm_str's answers: a printf takes a few of them at once. */
#define ISCADM_STR_SLOTS 8
#define ISCADM_STR_MAX   8192

const char *iscadm_raw(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return "-";
	return json_object_get_string(v);
}

const char *iscadm_str(struct json_object *o, const char *key)
{
	static char slots[ISCADM_STR_SLOTS][ISCADM_STR_MAX];
	static unsigned next;
	char *out = slots[next++ % ISCADM_STR_SLOTS];

	return escape_str(out, ISCADM_STR_MAX, iscadm_raw(o, key), 0);
}

void iscadm_put(const char *s, size_t len, unsigned flags)
{
	char buf[4096];

	for (size_t at = 0; at < len;) {
		at += escape_buf(buf, sizeof(buf), s + at, len - at, flags);
		fputs(buf, stdout);
	}
}

/* json-c escapes C0 controls but leaves DEL, C1 and bytes that are not
 * UTF-8 as they are: escaped as JSON, the strings stay the same. */
void iscadm_print_json(struct json_object *o)
{
	const char *j = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

	iscadm_put(j, strlen(j), ESCAPE_JSON | ESCAPE_KEEP_NL);
	putchar('\n');
}

static void iscadm_age(int64_t created, char *buf, size_t size)
{
	int64_t s = (int64_t)time(NULL) - created;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

/* ls: one line a node. */
void iscadm_print_nodes(struct json_object *a)
{
	printf("%-20s %-10s %-12s %-15s %-10s %s\n", "NAME", "STATE", "IMAGE", "IP", "AGENT",
	       "AGE");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *n = json_object_array_get_idx(a, i), *cr;
		char age[32] = "-";
		if (json_object_object_get_ex(n, "created", &cr))
			iscadm_age(json_object_get_int64(cr), age, sizeof(age));
		printf("%-20s %-10s %-12s %-15s %-10s %s\n", iscadm_str(n, "name"),
		       iscadm_str(n, "state"), iscadm_str(n, "image"), iscadm_str(n, "ip"),
		       iscadm_str(n, "agent"), age);
	}
}

/* The dock's start-up finding about its audit trail, when there is one. */
static void iscadm_print_alarm(struct json_object *o)
{
	struct json_object *a = NULL;

	if (json_object_object_get_ex(o, "audit_alarm", &a) && a != NULL)
		printf("dock-side: AUDIT TRAIL DAMAGED at dock start: %s\n",
		       iscadm_str(o, "audit_alarm"));
}

/* status: the node, its validation table and the summary. */
void iscadm_print_status(const char *name, struct json_object *o)
{
	struct json_object *checks, *sum;

	printf("node %s (%s), profile %s\n", name, iscadm_str(o, "state"),
	       iscadm_str(o, "profile")[0] ? iscadm_str(o, "profile") : "none");
	printf("%-3s %-20s %-6s %-6s %s\n", "#", "CHECK", "SOURCE", "STATUS", "EVIDENCE");
	if (json_object_object_get_ex(o, "checks", &checks))
		for (size_t i = 0; i < json_object_array_length(checks); i++) {
			struct json_object *c = json_object_array_get_idx(checks, i);
			printf("%-3zu %-20s %-6s %-6s %s\n", i + 1, iscadm_str(c, "id"),
			       iscadm_str(c, "source"), iscadm_str(c, "status"),
			       iscadm_str(c, "evidence"));
		}
	if (json_object_object_get_ex(o, "summary", &sum))
		printf("%s pass, %s fail, %s warn, %s stale\n", iscadm_str(sum, "pass"),
		       iscadm_str(sum, "fail"), iscadm_str(sum, "warn"), iscadm_str(sum, "stale"));
	iscadm_print_alarm(o);
}

static bool iscadm_flag(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

bool iscadm_verify_failed(struct json_object *o)
{
	struct json_object *a = NULL;

	return !iscadm_flag(o, "intact") ||
		(json_object_object_get_ex(o, "startup_alarm", &a) && a != NULL);
}

/* audit verify: the chain, the checkpoint, what the dock found at start. */
void iscadm_print_verify(struct json_object *o)
{
	struct json_object *a = NULL;

	if (!iscadm_flag(o, "chain_ok"))
		printf("audit trail BROKEN at line %s of %s: %s (%s intact records before it)\n",
		       iscadm_str(o, "bad_line"), iscadm_str(o, "bad_file"),
		       iscadm_str(o, "problem"), iscadm_str(o, "records"));
	else if (!iscadm_flag(o, "checkpoint_ok"))
		printf("audit trail TRUNCATED, ROLLED BACK OR DELETED: %s (%s records)\n",
		       iscadm_str(o, "problem"), iscadm_str(o, "records"));
	else
		printf("audit trail intact: %s records in %s files, %s restarts after damage\n",
		       iscadm_str(o, "records"), iscadm_str(o, "files"), iscadm_str(o, "restarts"));
	if (json_object_object_get_ex(o, "startup_alarm", &a) && a != NULL)
		printf("at dock start: %s\n", iscadm_str(o, "startup_alarm"));
}

/* audit: one line a record; who is "dock" or "uid N". */
void iscadm_print_audit(struct json_object *o)
{
	printf("%-6s %-20s %-8s %-12s %-16s %s\n", "SEQ", "TIME", "WHO", "ACTION", "NODE",
	       "RESULT");
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *r = json_object_array_get_idx(o, i), *who;
		char whos[24] = "dock";
		if (json_object_object_get_ex(r, "who", &who) &&
		    json_object_object_get_ex(who, "uid", NULL))
			snprintf(whos, sizeof(whos), "uid %s", iscadm_str(who, "uid"));
		printf("%-6s %-20s %-8s %-12s %-16s %s\n", iscadm_str(r, "seq"),
		       iscadm_str(r, "time"), whos, iscadm_str(r, "action"), iscadm_str(r, "node"),
		       iscadm_str(r, "result"));
	}
}

/* forensic ls: one line a snapshot, the sha256 cut to 12 digits. */
void iscadm_print_forensics(struct json_object *o)
{
	printf("%-28s %-12s %-10s %-14s %s\n", "ID", "NODE", "REASON", "SHA256", "DISK");
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *f = json_object_array_get_idx(o, i);
		printf("%-28s %-12s %-10s %.12s   %s\n", iscadm_str(f, "id"), iscadm_str(f, "node"),
		       iscadm_str(f, "reason"), iscadm_str(f, "sha256"), iscadm_str(f, "disk"));
	}
}

/* image ls: one line an image, its size in MiB. */
void iscadm_print_images(struct json_object *a)
{
	printf("%-16s %-7s %-10s %-14s %s\n", "NAME", "BOOT", "SIZE", "SHA256", "BUILT");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *im = json_object_array_get_idx(a, i), *sz;
		char size[24] = "-";
		if (json_object_object_get_ex(im, "size", &sz))
			snprintf(size, sizeof(size), "%.1fM",
				 (double)json_object_get_int64(sz) / (1024.0 * 1024.0));
		printf("%-16s %-7s %-10s %.12s   %s\n", iscadm_str(im, "name"),
		       iscadm_str(im, "boot"), size, iscadm_str(im, "sha256"),
		       iscadm_str(im, "built"));
	}
}
