/* api-ops: operations (api-ops.h). A fixed table under one lock; each
 * running operation has a detached thread that runs the call, stores its
 * answer, and wakes the parked waits (api_stream_wake). A wait is a
 * streamed answer whose source has nothing until the operation ends or
 * its deadline passes, then the view once. */
#include "api-ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-err.h"
#include "api-stream.h"
#include "log.h"
#include "node.h"

enum api_op_state { API_OP_FREE, API_OP_RUNNING, API_OP_DONE, API_OP_FAILED };

struct api_op {
	enum api_op_state op_state;
	uint64_t op_num; /* order of creation: the oldest ended one is dropped */
	char op_id[API_OP_ID_MAX];
	char op_what[16];
	char op_node[NODE_NAME_MAX + 1];
	time_t op_started, op_ended;
	unsigned op_status;
	struct json_object *op_body;
	api_op_fn op_fn;
	void *op_arg;
	void (*op_arg_free)(void *);
};

static pthread_mutex_t api_ops_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t api_ops_cond = PTHREAD_COND_INITIALIZER; /* one ended */
static struct api_op api_ops[API_OPS_MAX];
static uint64_t api_ops_num;
static unsigned api_ops_running;
static bool api_ops_stopping;

static const char *api_op_state_word(enum api_op_state s)
{
	return s == API_OP_RUNNING ? "running" : s == API_OP_DONE ? "done" : "failed";
}

static struct json_object *api_op_time(time_t t)
{
	char buf[32];
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

/* The view of o; under api_ops_lock. */
static struct json_object *api_op_view(const struct api_op *o)
{
	struct json_object *v = json_object_new_object();

	json_object_object_add(v, "id", json_object_new_string(o->op_id));
	json_object_object_add(v, "op", json_object_new_string(o->op_what));
	json_object_object_add(v, "node",
			       o->op_node[0] ? json_object_new_string(o->op_node) : NULL);
	json_object_object_add(v, "state", json_object_new_string(api_op_state_word(o->op_state)));
	json_object_object_add(v, "started", api_op_time(o->op_started));
	json_object_object_add(v, "ended", api_op_time(o->op_ended));
	if (o->op_state == API_OP_RUNNING)
		return v;
	json_object_object_add(v, "status", json_object_new_int((int)o->op_status));
	json_object_object_add(v, o->op_state == API_OP_DONE ? "result" : "error",
			       json_object_get(o->op_body));
	return v;
}

static struct api_op *api_op_find(const char *id)
{
	for (size_t i = 0; i < API_OPS_MAX; i++)
		if (api_ops[i].op_state != API_OP_FREE && strcmp(api_ops[i].op_id, id) == 0)
			return &api_ops[i];
	return NULL;
}

static void *api_op_thread(void *cls)
{
	struct api_op *o = cls;
	struct json_object *body = NULL;
	unsigned status = o->op_fn(o->op_arg, &body);

	o->op_arg_free(o->op_arg);
	pthread_mutex_lock(&api_ops_lock);
	o->op_arg = NULL;
	o->op_status = status;
	o->op_body = body;
	o->op_ended = time(NULL);
	o->op_state = status < 400 ? API_OP_DONE : API_OP_FAILED;
	log_info("api: operation %s (%s%s%s): %s, %u", o->op_id, o->op_what,
		 o->op_node[0] ? " " : "", o->op_node, api_op_state_word(o->op_state), status);
	api_ops_running--; /* from here on o may be reused */
	pthread_cond_broadcast(&api_ops_cond);
	pthread_mutex_unlock(&api_ops_lock);
	api_stream_wake();
	return NULL;
}

/* A free slot, or the oldest ended one emptied; NULL: all running. Under
 * api_ops_lock. */
static struct api_op *api_op_slot(void)
{
	struct api_op *old = NULL;

	for (size_t i = 0; i < API_OPS_MAX; i++) {
		struct api_op *o = &api_ops[i];
		if (o->op_state == API_OP_FREE)
			return o;
		if (o->op_state != API_OP_RUNNING && (old == NULL || o->op_num < old->op_num))
			old = o;
	}
	if (old != NULL) {
		json_object_put(old->op_body);
		memset(old, 0, sizeof(*old));
	}
	return old;
}

int api_ops_start(const char *what, const char *node, api_op_fn fn, void *arg,
		  void (*arg_free)(void *), char id[API_OP_ID_MAX], struct json_object **view,
		  struct dock_err *err)
{
	static time_t boot;
	struct api_op *o;
	pthread_attr_t at;
	pthread_t th;
	int r;

	pthread_mutex_lock(&api_ops_lock);
	o = api_ops_stopping ? NULL : api_op_slot();
	if (o == NULL) {
		pthread_mutex_unlock(&api_ops_lock);
		arg_free(arg);
		return err_set(err, 503, EBUSY,
			       "%d operations are running, the most the dock keeps; try again "
			       "when one ends",
			       API_OPS_MAX);
	}
	if (boot == 0)
		boot = time(NULL);
	/* The dock's start time in the id: an id from before a restart is
	 * not found, never another operation. */
	o->op_num = ++api_ops_num;
	snprintf(o->op_id, sizeof(o->op_id), "%llx-%llu", (unsigned long long)boot,
		 (unsigned long long)o->op_num);
	snprintf(o->op_what, sizeof(o->op_what), "%s", what);
	snprintf(o->op_node, sizeof(o->op_node), "%s", node != NULL ? node : "");
	o->op_started = time(NULL);
	o->op_fn = fn;
	o->op_arg = arg;
	o->op_arg_free = arg_free;
	o->op_state = API_OP_RUNNING;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &at, api_op_thread, o);
	pthread_attr_destroy(&at);
	if (r != 0) {
		memset(o, 0, sizeof(*o));
		pthread_mutex_unlock(&api_ops_lock);
		arg_free(arg);
		return err_set(err, 503, r, "cannot start an operation: %s", strerror(r));
	}
	api_ops_running++;
	snprintf(id, API_OP_ID_MAX, "%s", o->op_id);
	*view = api_op_view(o);
	pthread_mutex_unlock(&api_ops_lock);
	return 0;
}

struct json_object *api_ops_list(void)
{
	struct json_object *a = json_object_new_array();
	uint64_t last = 0;

	/* oldest first */
	pthread_mutex_lock(&api_ops_lock);
	for (;;) {
		const struct api_op *next = NULL;
		for (size_t i = 0; i < API_OPS_MAX; i++)
			if (api_ops[i].op_state != API_OP_FREE && api_ops[i].op_num > last &&
			    (next == NULL || api_ops[i].op_num < next->op_num))
				next = &api_ops[i];
		if (next == NULL)
			break;
		json_object_array_add(a, api_op_view(next));
		last = next->op_num;
	}
	pthread_mutex_unlock(&api_ops_lock);
	return a;
}

static int api_op_not_found(const char *id, struct dock_err *err)
{
	return err_set(err, 404, ENOENT, "no such operation \"%.*s\"", API_OP_ID_MAX, id);
}

int api_ops_show(const char *id, struct json_object **out, struct dock_err *err)
{
	struct api_op *o;

	pthread_mutex_lock(&api_ops_lock);
	o = api_op_find(id);
	if (o != NULL)
		*out = api_op_view(o);
	pthread_mutex_unlock(&api_ops_lock);
	return o != NULL ? 0 : api_op_not_found(id, err);
}

int api_ops_forget(const char *id, struct json_object **out, struct dock_err *err)
{
	struct api_op *o;
	int r = 0;

	pthread_mutex_lock(&api_ops_lock);
	o = api_op_find(id);
	if (o == NULL) {
		r = api_op_not_found(id, err);
	} else if (o->op_state == API_OP_RUNNING) {
		/* A create, start, stop, cleanse or snapshot half done leaves a
		 * node in between; they run to their end. */
		r = err_set(err, 409, EPERM,
			    "operation %s (%s) cannot be cancelled: it runs to its end; wait for "
			    "it (GET /v1/operations/%s/wait)",
			    o->op_id, o->op_what, o->op_id);
	} else {
		*out = json_object_new_object();
		json_object_object_add(*out, "removed", json_object_new_string(o->op_id));
		json_object_put(o->op_body);
		memset(o, 0, sizeof(*o));
	}
	pthread_mutex_unlock(&api_ops_lock);
	return r;
}

/* ---- the wait: a streamed answer ---- */

struct api_op_waiter {
	char ow_id[API_OP_ID_MAX];
	struct timespec ow_deadline; /* CLOCK_MONOTONIC */
	char *ow_text;               /* the view, once it is to be sent */
	size_t ow_len, ow_off;
};

static bool api_op_waiter_due(struct api_op_waiter *w)
{
	struct timespec now;
	const struct api_op *o;
	bool due;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&api_ops_lock);
	o = api_op_find(w->ow_id);
	due = o == NULL || o->op_state != API_OP_RUNNING || api_ops_stopping ||
		now.tv_sec > w->ow_deadline.tv_sec ||
		(now.tv_sec == w->ow_deadline.tv_sec && now.tv_nsec >= w->ow_deadline.tv_nsec);
	pthread_mutex_unlock(&api_ops_lock);
	return due;
}

static ssize_t api_op_wait_fill(void *cls, char *buf, size_t size)
{
	struct api_op_waiter *w = cls;
	size_t n;

	if (w->ow_text == NULL) {
		struct json_object *v;
		const struct api_op *o;
		if (!api_op_waiter_due(w))
			return API_STREAM_NOTHING;
		pthread_mutex_lock(&api_ops_lock);
		o = api_op_find(w->ow_id);
		v = o != NULL
			? api_op_view(o)
			: api_err_body(404, "operation_not_found", "the operation was removed");
		pthread_mutex_unlock(&api_ops_lock);
		w->ow_text = strdup(json_object_to_json_string_ext(
			v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(v);
		if (w->ow_text == NULL)
			return API_STREAM_END;
		w->ow_len = strlen(w->ow_text);
	}
	if (w->ow_off >= w->ow_len)
		return API_STREAM_END;
	n = w->ow_len - w->ow_off < size ? w->ow_len - w->ow_off : size;
	memcpy(buf, w->ow_text + w->ow_off, n);
	w->ow_off += n;
	return (ssize_t)n;
}

static bool api_op_wait_ready(void *cls)
{
	struct api_op_waiter *w = cls;

	return w->ow_text != NULL || api_op_waiter_due(w);
}

static void api_op_wait_close(void *cls)
{
	struct api_op_waiter *w = cls;

	free(w->ow_text);
	free(w);
}

int api_ops_wait(struct MHD_Connection *conn, const char *id, struct dock_err *err)
{
	const char *t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeout");
	struct api_stream_source src = { api_op_wait_fill, api_op_wait_ready, api_op_wait_close,
					 NULL };
	struct api_op_waiter *w;
	long secs = API_OP_WAIT_DEF;
	bool found;

	if (t != NULL) {
		char *end;
		errno = 0;
		secs = strtol(t, &end, 10);
		if (errno != 0 || end == t || *end != '\0' || secs < 0 || secs > API_OP_WAIT_MAX)
			return err_set(err, 400, EINVAL,
				       "timeout must be a number of seconds from 0 to %d",
				       API_OP_WAIT_MAX);
	}
	pthread_mutex_lock(&api_ops_lock);
	found = api_op_find(id) != NULL;
	pthread_mutex_unlock(&api_ops_lock);
	if (!found)
		return api_op_not_found(id, err);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	snprintf(w->ow_id, sizeof(w->ow_id), "%s", id);
	clock_gettime(CLOCK_MONOTONIC, &w->ow_deadline);
	w->ow_deadline.tv_sec += secs;
	src.ss_cls = w;
	return api_stream_queue(conn, 200, "application/json", &src, err);
}

void api_ops_fini(void)
{
	pthread_mutex_lock(&api_ops_lock);
	api_ops_stopping = true;
	if (api_ops_running > 0)
		log_info("api: waiting for %u running operation%s to end", api_ops_running,
			 api_ops_running == 1 ? "" : "s");
	while (api_ops_running > 0)
		pthread_cond_wait(&api_ops_cond, &api_ops_lock);
	for (size_t i = 0; i < API_OPS_MAX; i++) {
		json_object_put(api_ops[i].op_body);
		memset(&api_ops[i], 0, sizeof(api_ops[i]));
	}
	pthread_mutex_unlock(&api_ops_lock);
}
