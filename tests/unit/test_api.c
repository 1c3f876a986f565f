/* Unit tests of the API's pure parts: the error codes (dockd/api-err.c)
 * from the errors the dock raises, and the operations' table
 * (dockd/api-ops.c): states, views, forget, the bound. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api-err.h"
#include "api-ops.h"
#include "api.h"

static void code_is(int status, int errnum, const char *msg, const char *code)
{
	const char *got = api_err_code(status, errnum, msg);
	char word[40];

	if (strcmp(got, code) != 0)
		fail_msg("%d/%d \"%s\": %s, not %s", status, errnum, msg, got, code);
	/* every code is one the document lists */
	snprintf(word, sizeof(word), " %s ", got);
	if (strstr(" " API_ERR_CODES " ", word) == NULL)
		fail_msg("%s is not in API_ERR_CODES", got);
}

static void test_codes(void **st)
{
	(void)st;
	code_is(404, ENOENT, "node \"web1\" not found", "node_not_found");
	code_is(404, ENOENT, "image \"x\" not found", "image_not_found");
	code_is(404, ENOENT, "forensic snapshot web1-1: no file \"a\"", "snapshot_not_found");
	code_is(404, 0, "no such API path", "no_route");
	code_is(404, ENOENT, "no such operation \"1-1\"", "operation_not_found");
	code_is(404, ENOENT, "node web1 does not publish 80/tcp", "not_found");
	code_is(409, EEXIST, "node \"web1\" already exists", "already_exists");
	code_is(409, EBUSY,
		"node \"web1\" is running: stop it first (iscadm stop web1) or destroy it with "
		"force",
		"node_running");
	code_is(409, EBUSY, "node \"web1\" is busy (starting)", "busy");
	code_is(409, EBUSY, "image \"micro\" is used by 1 node (web1): destroy it first",
		"image_in_use");
	code_is(409, EALREADY, "node \"web1\" is paused by quarantine", "node_paused");
	code_is(409, ENOKEY, "node \"web1\": its ephemeral disk's key is gone", "key_gone");
	code_is(409, ESTALE, "image micro was rebuilt", "image_rebuilt");
	code_is(409, ENOSPC, "the dock already holds 64 nodes", "limit_reached");
	code_is(409, EADDRINUSE, "port 8080 is taken", "port_in_use");
	code_is(409, EPERM, "operation 1-1 (start) cannot be cancelled: it runs",
		"not_cancellable");
	code_is(409, EINVAL, "node web1 is not running", "conflict");
	code_is(400, EINVAL, "force must be 1 or 0", "bad_request");
	code_is(403, EACCES, "permission denied", "permission_denied");
	code_is(405, 0, "method not allowed on this path", "method_not_allowed");
	code_is(413, 0, "request body larger than 64 KiB", "body_too_large");
	code_is(414, 0, "request URL too long", "uri_too_long");
	code_is(503, ECONNREFUSED, "libvirt qemu:///system is not reachable: x",
		"libvirt_unreachable");
	code_is(503, ENOSPC, "log /var/lib/isc/audit.log: the filesystem is full",
		"audit_unavailable");
	code_is(503, EBUSY, "16 streamed answers (logs --follow) are open", "unavailable");
	code_is(507, ENOSPC, "node web1: start: 1 GiB free", "disk_full");
	code_is(500, EIO, "internal error", "internal");
	code_is(418, 0, "teapot", "bad_request");
}

static void test_body(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *o, *v;

	(void)st;
	err_set(&e, 409, EEXIST, "node \"a\" already exists");
	o = api_err_json(&e);
	assert_true(json_object_object_get_ex(o, "error", &v));
	assert_string_equal(json_object_get_string(v), "node \"a\" already exists");
	assert_true(json_object_object_get_ex(o, "code", &v));
	assert_string_equal(json_object_get_string(v), "already_exists");
	json_object_put(o);
	o = api_err_body(503, "audit_unavailable", "no room");
	assert_true(json_object_object_get_ex(o, "code", &v));
	assert_string_equal(json_object_get_string(v), "audit_unavailable");
	json_object_put(o);
}

/* ---- operations ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int freed;

static unsigned op_gated(void *arg, struct json_object **body)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	*body = arg == NULL ? json_object_new_object()
			    : api_err_body(409, "already_exists", "node \"x\" already exists");
	return arg == NULL ? 201 : 409;
}

static void op_free(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&freed, 1, __ATOMIC_SEQ_CST);
}

static void gate(bool open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static const char *state_of(const char *id)
{
	static char buf[16];
	struct dock_err e = { 0 };
	struct json_object *o = NULL, *v;

	if (api_ops_show(id, &o, &e) < 0)
		return "absent";
	assert_true(json_object_object_get_ex(o, "state", &v));
	snprintf(buf, sizeof(buf), "%s", json_object_get_string(v));
	json_object_put(o);
	return buf;
}

static void settle(const char *id)
{
	for (int i = 0; i < 500 && strcmp(state_of(id), "running") == 0; i++)
		usleep(10000);
}

static void test_ops(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *view = NULL, *o = NULL, *v;
	char id[API_OP_ID_MAX], bad[API_OP_ID_MAX], first[API_OP_ID_MAX];

	(void)st;
	gate(false);
	assert_int_equal(api_ops_start("create", "web1", op_gated, NULL, op_free, id, &view, &e),
			 0);
	snprintf(first, sizeof(first), "%s", id);
	assert_true(json_object_object_get_ex(view, "state", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(view, "node", &v));
	assert_string_equal(json_object_get_string(v), "web1");
	json_object_put(view);
	/* a running one cannot be cancelled */
	assert_int_equal(api_ops_forget(id, &o, &e), -EPERM);
	assert_int_equal(e.de_status, 409);
	assert_string_equal(api_err_code(e.de_status, e.de_errno, e.de_msg), "not_cancellable");
	err_clear(&e);
	assert_int_equal(
		api_ops_start("start", "web2", op_gated, (void *)1, op_free, bad, &view, &e), 0);
	json_object_put(view);
	gate(true);
	settle(id);
	settle(bad);
	assert_string_equal(state_of(id), "done");
	assert_string_equal(state_of(bad), "failed");
	assert_int_equal(api_ops_show(bad, &o, &e), 0);
	assert_true(json_object_object_get_ex(o, "status", &v));
	assert_int_equal(json_object_get_int(v), 409);
	assert_true(json_object_object_get_ex(o, "error", &v));
	assert_true(json_object_object_get_ex(v, "code", &v));
	assert_string_equal(json_object_get_string(v), "already_exists");
	json_object_put(o);
	assert_int_equal(freed, 2);
	/* an ended one is forgotten */
	assert_int_equal(api_ops_forget(bad, &o, &e), 0);
	json_object_put(o);
	assert_string_equal(state_of(bad), "absent");
	assert_int_equal(api_ops_forget(bad, &o, &e), -ENOENT);
	assert_string_equal(api_err_code(e.de_status, e.de_errno, e.de_msg), "operation_not_found");
	err_clear(&e);
	/* the bound: the oldest ended one makes room; all running: 503 */
	gate(false);
	for (int i = 0; i < API_OPS_MAX; i++) {
		assert_int_equal(
			api_ops_start("stop", "web3", op_gated, NULL, op_free, id, &view, &e), 0);
		json_object_put(view);
	}
	assert_string_equal(state_of(first), "absent");
	assert_int_equal(api_ops_start("stop", NULL, op_gated, NULL, op_free, bad, &view, &e),
			 -EBUSY);
	assert_int_equal(e.de_status, 503);
	o = api_ops_list();
	assert_int_equal(json_object_array_length(o), API_OPS_MAX);
	json_object_put(o);
	gate(true);
	api_ops_fini(); /* waits for the running ones */
	assert_int_equal(freed, 2 + API_OPS_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
