/* iscadm-wait: waiting on a node (create --wait[=healthy] --timeout) and the
 * progress of a long call (create, cleanse, snapshot --memory), shown with
 * common/progress.h on stderr: a live line on a terminal, one line per
 * milestone on a pipe, nothing with --json.
 * The contract is in iscadm-int.h.
 */
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "iscadm-int.h"
#include "progress.h"

#define ISCADM_WAIT_POLL_MS  500
#define ISCADM_WAIT_ROWS_MAX 512 /* the FAIL rows' ids, joined */

static const char *iscadm_wait_member(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char key[64];

	/* "agent.hello.agent": one member per dot. */
	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (!json_object_object_get_ex(v, key, &v))
			v = NULL;
		path += n + (path[n] == '.');
	}
	return v != NULL && !json_object_is_type(v, json_type_null) ? json_object_get_string(v)
								    : NULL;
}

/* "iscadm: ..." on stderr, escaped whole, for the exits that are not 1. */
__attribute__((format(printf, 1, 2))) static void iscadm_wait_say(const char *fmt, ...)
{
	char msg[1024], out[ESCAPE_SIZE(sizeof(msg))];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "iscadm: %s\n", escape_str(out, sizeof(out), msg, 0));
}

/* ---- waiting on a node --------------------------------------------------- */

struct iscadm_wait {
	const char *iw_name;
	int iw_mode;
	struct progress iw_pg;
	char iw_waiting[128];                /* what it waits for now, for a timeout */
	char iw_fails[ISCADM_WAIT_ROWS_MAX]; /* the FAIL rows last seen, "" none */
	char iw_fail_report[32];             /* the report they were first seen in */
	char iw_counts[96];                  /* "20 PASS, 3 SKIP, 2 WARN" */
};

/* The status table's FAIL rows (their ids, joined) and counts. */
static void iscadm_wait_rows(struct json_object *st, char *fails, size_t size, char *counts,
			     size_t csize)
{
	struct json_object *rows = NULL, *sum = NULL;
	size_t used = 0;

	fails[0] = '\0';
	if (json_object_object_get_ex(st, "checks", &rows) &&
	    json_object_is_type(rows, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(rows); i++) {
			struct json_object *r = json_object_array_get_idx(rows, i);
			const char *s = iscadm_wait_member(r, "status"),
				   *id = iscadm_wait_member(r, "id");
			int n;
			if (s == NULL || id == NULL || strcmp(s, "FAIL") != 0 || used >= size)
				continue;
			n = snprintf(fails + used, size - used, "%s%s", used ? ", " : "", id);
			used = n < 0 ? used : used + (size_t)n;
		}
	}
	json_object_object_get_ex(st, "summary", &sum);
	snprintf(counts, csize, "%s PASS, %s SKIP, %s WARN", iscadm_wait_member(sum, "pass") ?: "?",
		 iscadm_wait_member(sum, "skip") ?: "?", iscadm_wait_member(sum, "warn") ?: "?");
}

/* The node's inspect view: dies on a refusal, on a node that failed or
 * stopped (nothing to wait for). */
static struct json_object *iscadm_wait_inspect(struct iscadm_wait *w)
{
	char path[128];
	long status;
	struct json_object *o;
	const char *state;

	snprintf(path, sizeof(path), "/v1/nodes/%s", w->iw_name);
	o = iscadm_call_status("GET", path, NULL, &status);
	if (status < 200 || status > 299) {
		progress_end(&w->iw_pg, NULL);
		iscadm_die_http(status, o);
	}
	state = iscadm_wait_member(o, "state");
	if (state != NULL && iscadm_wait_member(o, "op") == NULL &&
	    (strcmp(state, "failed") == 0 || strcmp(state, "stopped") == 0 ||
	     strcmp(state, "defined") == 0)) {
		progress_end(&w->iw_pg, NULL);
		iscadm_die("node %s is %s%s%s: it will not boot while waiting (waiting for %s)",
			   w->iw_name, state, iscadm_wait_member(o, "reason") ? ": " : "",
			   iscadm_wait_member(o, "reason") ?: "", w->iw_waiting);
	}
	return o;
}

/* Healthy: the table has no FAIL row (1); FAIL rows in two reports in a
 * row (-1); else not yet (0). */
static int iscadm_wait_table(struct iscadm_wait *w)
{
	char path[128], fails[ISCADM_WAIT_ROWS_MAX];
	long status;
	struct json_object *st;
	const char *rt;
	int r = 0;

	snprintf(path, sizeof(path), "/v1/nodes/%s/status", w->iw_name);
	st = iscadm_call_status("GET", path, NULL, &status);
	if (status < 200 || status > 299) {
		progress_end(&w->iw_pg, NULL);
		iscadm_die_http(status, st);
	}
	iscadm_wait_rows(st, fails, sizeof(fails), w->iw_counts, sizeof(w->iw_counts));
	rt = iscadm_wait_member(st, "report_time") ?: "";
	if (fails[0] == '\0') {
		r = 1;
	} else if (w->iw_fails[0] == '\0' || strcmp(fails, w->iw_fails) != 0) {
		/* New FAIL rows: the next report may clear them (a lease late). */
		snprintf(w->iw_fails, sizeof(w->iw_fails), "%s", fails);
		snprintf(w->iw_fail_report, sizeof(w->iw_fail_report), "%s", rt);
	} else if (strcmp(rt, w->iw_fail_report) != 0) {
		r = -1; /* the same rows in the next report: they stand */
	}
	if (fails[0] == '\0')
		w->iw_fails[0] = '\0';
	json_object_put(st);
	return r;
}

/* One look at the node: 1 done, 0 not yet, -1 FAIL rows stand. */
static int iscadm_wait_once(struct iscadm_wait *w)
{
	struct json_object *o = iscadm_wait_inspect(w);
	const char *op = iscadm_wait_member(o, "op"), *phase = iscadm_wait_member(o, "op_phase"),
		   *hello = iscadm_wait_member(o, "agent.hello.agent"),
		   *complete = iscadm_wait_member(o, "agent.report.complete");
	int r = 0;

	if (op != NULL) {
		snprintf(w->iw_waiting, sizeof(w->iw_waiting), "the node's %s to end", op);
		progress_step(&w->iw_pg, "%s%s%s", op, phase ? ": " : "", phase ? phase : "");
	} else if (iscadm_wait_member(o, "agent.hello") == NULL) {
		snprintf(w->iw_waiting, sizeof(w->iw_waiting), "the agent's hello");
		progress_step(&w->iw_pg, "booting (%s), waiting for the agent's hello",
			      iscadm_wait_member(o, "state") ?: "?");
	} else if (complete == NULL || strcmp(complete, "true") != 0) {
		snprintf(w->iw_waiting, sizeof(w->iw_waiting), "a complete report from the agent");
		progress_step(&w->iw_pg, "agent hello (%s), waiting for a complete report",
			      hello ? hello : "?");
	} else if (w->iw_mode != ISCADM_WAIT_HEALTHY) {
		r = 1;
	} else {
		snprintf(w->iw_waiting, sizeof(w->iw_waiting), "no FAIL row");
		r = iscadm_wait_table(w);
		if (r == 0)
			progress_step(&w->iw_pg,
				      "report in; FAIL: %s (waiting for the next report)",
				      w->iw_fails);
	}
	json_object_put(o);
	return r;
}

int iscadm_wait_node(const char *name, int mode, unsigned timeout_s)
{
	struct iscadm_wait w = { .iw_name = name, .iw_mode = mode };
	int64_t deadline;
	int r;

	progress_init(&w.iw_pg, stderr, iscadm_json, name);
	deadline = w.iw_pg.pg_t0_ms + (int64_t)timeout_s * 1000;
	snprintf(w.iw_waiting, sizeof(w.iw_waiting), "the node");
	progress_step(&w.iw_pg, "created");
	for (;;) {
		r = iscadm_wait_once(&w);
		if (r != 0 || (timeout_s != 0 && progress_now_ms() >= deadline))
			break;
		progress_tick(&w.iw_pg);
		nanosleep(&(struct timespec){ 0, ISCADM_WAIT_POLL_MS * 1000000L }, NULL);
	}
	if (r == 1) {
		char done[160];
		if (mode == ISCADM_WAIT_HEALTHY)
			snprintf(done, sizeof(done), "healthy: no FAIL row (%s)", w.iw_counts);
		else
			snprintf(done, sizeof(done),
				 "ready: the agent said hello, a complete report");
		progress_end(&w.iw_pg, done);
		return 0;
	}
	progress_end(&w.iw_pg, NULL);
	if (w.iw_fails[0] != '\0') {
		iscadm_wait_say("node %s: check failed: %s FAIL%s (iscadm status %s)", name,
				w.iw_fails, r < 0 ? " in two reports in a row" : " at the deadline",
				name);
		return ISCADM_CHECK_FAILED;
	}
	iscadm_wait_say("node %s: timed out after %us waiting for %s", name, timeout_s,
			w.iw_waiting);
	return ISCADM_TIMEOUT;
}

/* ---- a long call with its progress --------------------------------------- */

struct iscadm_long_call {
	const char *lc_method, *lc_path, *lc_body;
	long lc_status;
	struct json_object *lc_answer;
	bool lc_done;
	pthread_mutex_t lc_lock;
	pthread_cond_t lc_cond;
};

static void *iscadm_long_call_run(void *arg)
{
	struct iscadm_long_call *lc = arg;
	long status;
	struct json_object *o =
		iscadm_call_status(lc->lc_method, lc->lc_path, lc->lc_body, &status);

	pthread_mutex_lock(&lc->lc_lock);
	lc->lc_status = status;
	lc->lc_answer = o;
	lc->lc_done = true;
	pthread_cond_signal(&lc->lc_cond);
	pthread_mutex_unlock(&lc->lc_lock);
	return NULL;
}

/* The node's operation now, as a milestone: its step ("rekey"), else its
 * name; a node not in the table yet (a create being checked) says so. */
static void iscadm_long_call_look(struct progress *pg, void *arg)
{
	const char *node = arg;
	char path[128];
	long status;
	struct json_object *o;
	const char *op, *phase;

	snprintf(path, sizeof(path), "/v1/nodes/%s", node);
	o = iscadm_call_status("GET", path, NULL, &status);
	op = status == 200 ? iscadm_wait_member(o, "op") : NULL;
	phase = status == 200 ? iscadm_wait_member(o, "op_phase") : NULL;
	if (status == 404)
		progress_step(pg, "checking the request"); /* a create: not in the table yet */
	else if (phase != NULL)
		progress_step(pg, "%s", phase); /* `what` names the operation already */
	else if (op != NULL)
		progress_step(pg, "%s", op);
	else
		progress_tick(pg);
	json_object_put(o);
}

struct json_object *iscadm_call_progress(const char *method, const char *path, const char *body,
					 const char *node, const char *what)
{
	char name[128]; /* the look's own copy: it takes a mutable arg */

	snprintf(name, sizeof(name), "%s", node);
	return iscadm_call_looking(method, path, body, what, iscadm_long_call_look, name);
}

struct json_object *iscadm_call_looking(const char *method, const char *path, const char *body,
					const char *what, iscadm_look_fn look, void *arg)
{
	struct iscadm_long_call lc = { .lc_method = method, .lc_path = path, .lc_body = body };
	struct progress pg;
	pthread_t t;
	bool done = false;

	pthread_mutex_init(&lc.lc_lock, NULL);
	pthread_cond_init(&lc.lc_cond, NULL);
	if (pthread_create(&t, NULL, iscadm_long_call_run, &lc) != 0)
		return iscadm_call(method, path, body); /* no thread: no progress */
	progress_init(&pg, stderr, iscadm_json, what);
	while (!done) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += ISCADM_WAIT_POLL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&lc.lc_lock);
		if (!lc.lc_done)
			pthread_cond_timedwait(&lc.lc_cond, &lc.lc_lock, &until);
		done = lc.lc_done;
		pthread_mutex_unlock(&lc.lc_lock);
		if (!done)
			look(&pg, arg);
	}
	pthread_join(t, NULL);
	progress_end(&pg, NULL);
	pthread_cond_destroy(&lc.lc_cond);
	pthread_mutex_destroy(&lc.lc_lock);
	if (lc.lc_status < 200 || lc.lc_status > 299)
		iscadm_die_http(lc.lc_status, lc.lc_answer);
	if (lc.lc_answer == NULL)
		iscadm_die("dockd sent an unreadable answer");
	return lc.lc_answer;
}
