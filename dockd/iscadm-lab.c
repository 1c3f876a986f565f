/* iscadm-lab: the lab verbs (validate, up, status, down, ls). The client
 * reads the lab file and sends its bytes (POST /v1/labs); the dock never
 * opens the user's path. With no FILE: the one *.lab.yaml of the current
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "file.h"
#include "iscadm-int.h"
#include "progress.h"

#define ISCADM_LAB_FILE_MAX (256 * 1024)

/* The file the user named, or the single *.lab.yaml here. */
static const char *iscadm_lab_path(const struct iscadm_args *a, char *buf, size_t size)
{
	DIR *d;
	struct dirent *e;
	size_t found = 0;

	if (a->a_npos > 0)
		return a->a_pos[0];
	d = opendir(".");
	if (d == NULL)
		iscadm_fail(ISCADM_ERROR, "cannot read the current directory: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 9 && strcmp(e->d_name + l - 9, ".lab.yaml") == 0) {
			if (found++ == 0)
				snprintf(buf, size, "%s", e->d_name);
		}
	}
	closedir(d);
	if (found == 0)
		iscadm_fail(ISCADM_USAGE,
			    "no FILE given and no *.lab.yaml in the current directory");
	if (found > 1)
		iscadm_fail(
			ISCADM_USAGE,
			"no FILE given and %zu *.lab.yaml files in the current directory: name one",
			found);
	return buf;
}

/* The file's bytes (bounded, no NUL) and its base name, as a query value. */
static char *iscadm_lab_read(const char *path, char *qname, size_t qsize)
{
	const char *base = strrchr(path, '/');
	char *buf = NULL;
	size_t len = 0, i;
	int r = file_read(path, ISCADM_LAB_FILE_MAX, &buf, &len);

	if (r == -E2BIG)
		iscadm_fail(ISCADM_USAGE, "%s: larger than %d KiB", path,
			    ISCADM_LAB_FILE_MAX / 1024);
	if (r < 0)
		iscadm_fail(r == -ENOENT ? ISCADM_NOT_FOUND : ISCADM_ERROR, "%s: %s", path,
			    strerror(-r));
	if (memchr(buf, '\0', len) != NULL)
		iscadm_fail(ISCADM_USAGE, "%s: a NUL byte: not a text file", path);
	base = base ? base + 1 : path;
	for (i = 0; base[i] && i + 1 < qsize; i++) {
		char c = base[i];
		qname[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'
			? c
			: '_';
	}
	qname[i] = '\0';
	return buf;
}

/* What an up's progress looks at: the lab, the plan it carries out, and
 * a progress row per node the plan makes or changes. */
struct iscadm_lab_look {
	const char *lk_lab;
	struct json_object *lk_plan; /* the validate answer */
	struct progress *lk_rows;    /* per plan step; NULL before the first look */
	size_t lk_drawn;             /* rows on a terminal, drawn by the last look */
};

/* What a node of the plan does now, into buf: "waiting" (not in the table
 * yet), its operation and step, or its state. */
static void iscadm_lab_look_node(const char *node, struct json_object *nodes, char *buf,
				 size_t size)
{
	snprintf(buf, size, "waiting");
	for (size_t i = 0; nodes != NULL && i < json_object_array_length(nodes); i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i), *op = NULL;
		if (strcmp(iscadm_raw(n, "name"), node) != 0)
			continue;
		if (json_object_object_get_ex(n, "op", &op) && op != NULL)
			snprintf(buf, size, "%s", json_object_get_string(op));
		else
			snprintf(buf, size, "%s", iscadm_raw(n, "state"));
		return;
	}
}

/* The up's progress: a row per node the plan makes or changes, what it
 * does now: "shop-db: create: luks (4s)". On a terminal the rows are
 * redrawn in place; on a pipe a line per node and milestone. */
static void iscadm_lab_look(struct progress *pg, void *arg)
{
	struct iscadm_lab_look *lk = arg;
	struct json_object *o, *nodes = NULL, *plan = NULL;
	int64_t now = progress_now_ms();
	size_t n, drawn = 0;
	char path[128], one[64];
	long status;

	json_object_object_get_ex(lk->lk_plan, "plan", &plan);
	n = plan != NULL ? json_object_array_length(plan) : 0;
	if (lk->lk_rows == NULL && (lk->lk_rows = calloc(n + 1, sizeof(*lk->lk_rows))) != NULL)
		for (size_t i = 0; i < n; i++) {
			struct progress *r = &lk->lk_rows[i];
			progress_init_at(r, pg->pg_out, pg->pg_tty, pg->pg_quiet,
					 iscadm_raw(json_object_array_get_idx(plan, i), "node"),
					 pg->pg_t0_ms);
			r->pg_cols = pg->pg_cols;
		}
	if (lk->lk_rows == NULL)
		return;
	snprintf(path, sizeof(path), "/v1/labs/%s", lk->lk_lab);
	o = iscadm_call_status("GET", path, NULL, &status);
	if (status == 200)
		json_object_object_get_ex(o, "nodes", &nodes);
	progress_rows_up(pg, lk->lk_drawn);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(plan, i);
		const char *act = iscadm_raw(s, "act");
		if (strcmp(act, "keep") == 0 || strcmp(act, "remove") == 0)
			continue;
		iscadm_lab_look_node(iscadm_raw(s, "node"), nodes, one, sizeof(one));
		progress_row_at(&lk->lk_rows[i], now, "%s", one);
		drawn++;
	}
	lk->lk_drawn = drawn;
	json_object_put(o);
}

/* POST the file to route (validate, or up with its query), die on refusal;
 * with look, the up's progress is shown while it runs. */
static struct json_object *iscadm_lab_post(const char *route, const char *query, const char *path,
					   struct iscadm_lab_look *look)
{
	char qname[96], url[256], what[96];
	char *buf = iscadm_lab_read(path, qname, sizeof(qname));
	struct json_object *o;

	snprintf(url, sizeof(url), "%s?file=%s%s", route, qname, query);
	if (look != NULL) {
		snprintf(what, sizeof(what), "lab %s up", look->lk_lab);
		o = iscadm_call_looking("POST", url, buf, what, iscadm_lab_look, look);
	} else {
		o = iscadm_call("POST", url, buf);
	}
	free(buf);
	return o;
}

static void iscadm_lab_print_plan(struct json_object *o)
{
	const char *text = iscadm_raw(o, "text");

	if (iscadm_json)
		return;
	printf("lab %s (%s, sha256 %.12s):\n", iscadm_str(o, "lab"), iscadm_str(o, "file"),
	       iscadm_str(o, "sha256"));
	iscadm_put(text, strlen(text), ESCAPE_KEEP_NL);
	fflush(stdout);
}

int iscadm_cmd_lab_validate(const struct iscadm_args *a)
{
	char here[256];
	struct json_object *o = iscadm_lab_post("/v1/labs/validate", "",
						iscadm_lab_path(a, here, sizeof(here)), NULL);

	if (iscadm_json)
		iscadm_print_json(o);
	else
		iscadm_lab_print_plan(o);
	json_object_put(o);
	return ISCADM_OK;
}

/* Removing or recreating nodes: --yes, or a yes on a terminal; on a pipe
 * never a wait: exit 4 naming what needs it. */
static void iscadm_lab_confirm(const struct iscadm_args *a, struct json_object *plan)
{
	struct json_object *v;
	char answer[16], what[1024] = "";
	size_t l = 0;

	if (!json_object_object_get_ex(plan, "needs_yes", &v) || !json_object_get_boolean(v) ||
	    iscadm_opt(a, "yes") != NULL)
		return;
	json_object_object_get_ex(plan, "plan", &v);
	for (size_t i = 0; i < json_object_array_length(v) && l < sizeof(what); i++) {
		struct json_object *s = json_object_array_get_idx(v, i);
		const char *act = iscadm_raw(s, "act");
		if (strcmp(act, "remove") == 0 || strcmp(act, "recreate") == 0)
			l += (size_t)snprintf(what + l, sizeof(what) - l, "%s%s %s", l ? ", " : "",
					      act, iscadm_raw(s, "node"));
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		iscadm_fail(ISCADM_CONFLICT, "lab up: %s needs --yes (not on a terminal)", what);
	fprintf(stderr, "%s: scratch data is lost. Go on? [y/N] ", what);
	if (fgets(answer, sizeof(answer), stdin) == NULL ||
	    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0))
		iscadm_fail(ISCADM_CONFLICT, "lab up: not confirmed, nothing changed");
}

/* The lab's table: a line a node, its check counts; returns how many
 * nodes FAIL a check or are not running, their names in bad. */
static size_t iscadm_lab_table(const char *lab, char *bad, size_t size)
{
	char path[128];
	struct json_object *o, *nodes;
	size_t nbad = 0, l = 0;

	snprintf(path, sizeof(path), "/v1/labs/%s", lab);
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%-31s %-12s %5s %5s %5s %5s\n", "NODE", "STATE", "PASS", "FAIL", "WARN",
		       "SKIP");
	bad[0] = '\0';
	json_object_object_get_ex(o, "nodes", &nodes);
	for (size_t i = 0; nodes != NULL && i < json_object_array_length(nodes); i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i), *f;
		bool failing =
			json_object_object_get_ex(n, "fail", &f) && json_object_get_int64(f) > 0;
		if (!iscadm_json)
			printf("%-31s %-12s %5s %5s %5s %5s\n", iscadm_str(n, "name"),
			       iscadm_str(n, "state"), iscadm_str(n, "pass"), iscadm_str(n, "fail"),
			       iscadm_str(n, "warn"), iscadm_str(n, "skip"));
		if (failing || strcmp(iscadm_raw(n, "state"), "running") != 0) {
			nbad++;
			if (l < size)
				l += (size_t)snprintf(bad + l, size - l, "%s%s", l ? ", " : "",
						      iscadm_raw(n, "name"));
		}
	}
	json_object_put(o);
	return nbad;
}

/* Every node of the plan but the removed and the failed ones: until its
 * agent has reported and no check FAILs in two reports in a row (a FAIL of
 * a first report may be a fact not yet settled). The names of those that
 * did not get there go into bad. */
static void iscadm_lab_wait(struct json_object *res, unsigned timeout_s, char *bad, size_t size)
{
	struct json_object *plan;
	size_t l = strlen(bad);

	json_object_object_get_ex(res, "plan", &plan);
	for (size_t i = 0; plan != NULL && i < json_object_array_length(plan); i++) {
		struct json_object *s = json_object_array_get_idx(plan, i), *e = NULL;
		const char *act = iscadm_raw(s, "act"), *node = iscadm_raw(s, "node");
		if (strcmp(act, "remove") == 0 ||
		    (json_object_object_get_ex(s, "error", &e) && e != NULL)) {
			if (e != NULL && !iscadm_json)
				fprintf(stderr, "iscadm: lab up: %s %s: %s\n", act,
					iscadm_str(s, "node"), iscadm_str(s, "error"));
			continue;
		}
		if (iscadm_wait_node(node, ISCADM_WAIT_HEALTHY, timeout_s) != 0 && l < size)
			l += (size_t)snprintf(bad + l, size - l, "%s%s", l ? ", " : "", node);
	}
}

int iscadm_cmd_lab_up(const struct iscadm_args *a)
{
	char here[256], query[64] = "&yes=1", bad[1024] = "", failed[1024] = "";
	const char *path = iscadm_lab_path(a, here, sizeof(here)), *par = iscadm_opt(a, "parallel");
	struct json_object *plan = iscadm_lab_post("/v1/labs/validate", "", path, NULL), *res, *f;
	char lab[64];
	struct iscadm_lab_look look = { .lk_lab = lab };
	size_t l = 0;

	iscadm_lab_print_plan(plan);
	iscadm_lab_confirm(a, plan);
	snprintf(lab, sizeof(lab), "%s", iscadm_raw(plan, "lab"));
	look.lk_plan = plan;
	if (par != NULL) {
		char *end = NULL;
		unsigned long n = strtoul(par, &end, 10);
		if (end == par || *end != '\0' || n < 1 || n > 64)
			iscadm_usage_fail(a->a_cmd, "--parallel %s: expected 1 to 64", par);
		snprintf(query, sizeof(query), "&yes=1&parallel=%lu", n);
	}
	res = iscadm_lab_post("/v1/labs", query, path, &look);
	json_object_put(plan);
	free(look.lk_rows);
	if (json_object_object_get_ex(res, "failed", &f))
		for (size_t i = 0; i < json_object_array_length(f) && l < sizeof(failed); i++)
			l += (size_t)snprintf(
				failed + l, sizeof(failed) - l, "%s%s", l ? ", " : "",
				json_object_get_string(json_object_array_get_idx(f, i)));
	if (!iscadm_json && json_object_object_get_ex(res, "flows_error", &f))
		fprintf(stderr, "iscadm: lab up: flows: %s\n", iscadm_str(res, "flows_error"));
	iscadm_lab_wait(res, 300, failed, sizeof(failed));
	json_object_put(res);
	if (iscadm_lab_table(lab, bad, sizeof(bad)) > 0 || failed[0])
		iscadm_fail(ISCADM_CHECK_FAILED, "lab %s: failed: %s%s%s", lab, failed,
			    failed[0] && bad[0] ? "; failing or not running: " : "", bad);
	return ISCADM_OK;
}

/* A lab name, or a file whose lab it is (the dock reads its name). */
static void iscadm_lab_name(const struct iscadm_args *a, char *lab, size_t size)
{
	char here[256];
	struct stat st;
	const char *arg = a->a_npos > 0 ? a->a_pos[0] : NULL;
	struct json_object *o;

	if (arg != NULL && strchr(arg, '/') == NULL && strstr(arg, ".yaml") == NULL &&
	    stat(arg, &st) < 0) {
		snprintf(lab, size, "%s", arg);
		return;
	}
	o = iscadm_lab_post("/v1/labs/validate", "", iscadm_lab_path(a, here, sizeof(here)), NULL);
	snprintf(lab, size, "%s", iscadm_raw(o, "lab"));
	json_object_put(o);
}

int iscadm_cmd_lab_status(const struct iscadm_args *a)
{
	char lab[64], bad[1024];

	iscadm_lab_name(a, lab, sizeof(lab));
	if (iscadm_lab_table(lab, bad, sizeof(bad)) > 0)
		iscadm_fail(ISCADM_CHECK_FAILED, "lab %s: failing or not running: %s", lab, bad);
	return ISCADM_OK;
}

int iscadm_cmd_lab_down(const struct iscadm_args *a)
{
	char lab[64], path[128], answer[16];
	struct json_object *o, *r;

	iscadm_lab_name(a, lab, sizeof(lab));
	if (iscadm_opt(a, "yes") == NULL) {
		if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
			iscadm_fail(
				ISCADM_CONFLICT,
				"lab down %s: removes every node of the lab: needs --yes (not on a terminal)",
				lab);
		fprintf(stderr, "Remove every node of lab %s (scratch data lost)? [y/N] ", lab);
		if (fgets(answer, sizeof(answer), stdin) == NULL ||
		    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0))
			iscadm_fail(ISCADM_CONFLICT, "lab down: not confirmed, nothing changed");
	}
	snprintf(path, sizeof(path), "/v1/labs/%s", lab);
	o = iscadm_call("DELETE", path, NULL);
	if (iscadm_json) {
		iscadm_print_json(o);
	} else if (json_object_object_get_ex(o, "removed", &r)) {
		for (size_t i = 0; i < json_object_array_length(r); i++)
			printf("- removed %s\n",
			       json_object_get_string(json_object_array_get_idx(r, i)));
		printf("lab %s is down\n", lab);
	}
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_lab_ls(const struct iscadm_args *a)
{
	struct json_object *o;

	if (a->a_npos > 0)
		return iscadm_cmd_lab_status(a);
	o = iscadm_call("GET", "/v1/labs", NULL);
	if (iscadm_json) {
		iscadm_print_json(o);
	} else {
		printf("%-31s %s\n", "LAB", "NODES");
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			struct json_object *l = json_object_array_get_idx(o, i);
			printf("%-31s %s\n", iscadm_str(l, "lab"), iscadm_str(l, "nodes"));
		}
	}
	json_object_put(o);
	return ISCADM_OK;
}
