/* iscadm-node: the node verbs, each a function of its parsed arguments
 * (iscadm-args.c): build the request, call the API (iscadm-http.c), print
 * the answer (iscadm-out.c) and return the exit code. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "iscadm-int.h"
#include "validate.h"

/* "/v1/nodes/NODE" and a suffix. */
static void iscadm_node_path(char *buf, size_t size, const char *name, const char *suffix)
{
	snprintf(buf, size, "/v1/nodes/%s%s", name, suffix);
}

/* The answer as JSON, or the line of text. */
static int iscadm_done(struct json_object *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int iscadm_done(struct json_object *o, const char *fmt, ...)
{
	va_list ap;

	if (iscadm_json) {
		iscadm_print_json(o);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	json_object_put(o);
	return ISCADM_OK;
}

static bool iscadm_already(struct json_object *o)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, "already", &v) && json_object_get_boolean(v);
}

int iscadm_cmd_ls(const struct iscadm_args *a)
{
	struct json_object *o = iscadm_call("GET", "/v1/nodes", NULL);

	iscadm_print_nodes(o, iscadm_opt(a, "quiet") != NULL);
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_inspect(const struct iscadm_args *a)
{
	char path[128];
	struct json_object *o;

	iscadm_node_path(path, sizeof(path), iscadm_node_arg(a, 0), "");
	o = iscadm_call("GET", path, NULL);
	iscadm_print_json(o);
	json_object_put(o);
	return ISCADM_OK;
}

int iscadm_cmd_status(const struct iscadm_args *a)
{
	char path[128];
	const char *name = iscadm_node_arg(a, 0);
	struct json_object *o, *sum, *fail;
	int rc = ISCADM_OK;

	iscadm_node_path(path, sizeof(path), name, "/status");
	o = iscadm_call("GET", path, NULL);
	iscadm_print_status(name, o);
	if (json_object_object_get_ex(o, "summary", &sum) &&
	    json_object_object_get_ex(sum, "fail", &fail) && json_object_get_int64(fail) > 0)
		rc = ISCADM_CHECK_FAILED;
	json_object_put(o);
	return rc;
}

/* A POST to the node with a body of the flags given ({"rebase":true}). */
/* A long one (verb given) shows the node's steps while it runs. */
static struct json_object *iscadm_post_flags(const struct iscadm_args *a, const char *suffix,
					     const char *const flags[], size_t n, const char *verb)
{
	struct json_object *req = json_object_new_object(), *o;
	char path[128], what[64];

	for (size_t i = 0; i < n; i++)
		if (iscadm_opt(a, flags[i]) != NULL)
			json_object_object_add(req, flags[i], json_object_new_boolean(1));
	iscadm_node_path(path, sizeof(path), iscadm_node_arg(a, 0), suffix);
	snprintf(what, sizeof(what), "%s %s", verb ? verb : "", a->a_pos[0]);
	o = verb ? iscadm_call_progress("POST", path, json_object_to_json_string(req), a->a_pos[0],
					what)
		 : iscadm_call("POST", path, json_object_to_json_string(req));
	json_object_put(req);
	return o;
}

int iscadm_cmd_start(const struct iscadm_args *a)
{
	static const char *const flags[] = { "rebase", "rekey" };
	struct json_object *o = iscadm_post_flags(a, "/start", flags, 2, "start"), *v = NULL;
	const char *name = a->a_pos[0];
	bool rekeyed = json_object_object_get_ex(o, "rekeyed", &v) && json_object_get_boolean(v);

	if (iscadm_already(o))
		return iscadm_done(o, "%s is already running", name);
	return iscadm_done(o, "%s started%s%s", name,
			   iscadm_opt(a, "rebase") ? " (rebased on its image's current base)" : "",
			   rekeyed ? " (its ephemeral disk has a new key: the old data is gone)"
				   : "");
}

int iscadm_cmd_stop(const struct iscadm_args *a)
{
	struct json_object *o = iscadm_post_flags(a, "/stop", NULL, 0, "stop");

	if (iscadm_already(o))
		return iscadm_done(o, "%s is already stopped", a->a_pos[0]);
	return iscadm_done(o, "%s stopped", a->a_pos[0]);
}

int iscadm_cmd_destroy(const struct iscadm_args *a)
{
	char path[128];
	const char *name = iscadm_node_arg(a, 0);

	iscadm_node_path(path, sizeof(path), name, iscadm_opt(a, "force") ? "?force=1" : "");
	return iscadm_done(iscadm_call("DELETE", path, NULL), "%s destroyed", name);
}

int iscadm_cmd_cleanse(const struct iscadm_args *a)
{
	return iscadm_done(iscadm_post_flags(a, "/cleanse", NULL, 0, "cleanse"),
			   "%s cleansed: fresh ephemeral disk with a new key, restarted",
			   a->a_pos[0]);
}

int iscadm_cmd_release(const struct iscadm_args *a)
{
	return iscadm_done(iscadm_post_flags(a, "/release", NULL, 0, NULL),
			   "%s released from quarantine", a->a_pos[0]);
}

int iscadm_cmd_quarantine(const struct iscadm_args *a)
{
	static const char *const flags[] = { "pause", "snapshot" };

	return iscadm_done(iscadm_post_flags(a, "/quarantine", flags, 2, NULL),
			   "%s quarantined: all its traffic is cut%s%s", a->a_pos[0],
			   iscadm_opt(a, "pause") ? ", paused" : "",
			   iscadm_opt(a, "snapshot") ? ", forensic snapshot taken" : "");
}

int iscadm_cmd_snapshot(const struct iscadm_args *a)
{
	static const char *const flags[] = { "memory" };
	struct json_object *o = iscadm_post_flags(a, "/snapshot", flags, 1, "snapshot"), *m;
	const char *name = a->a_pos[0];

	if (iscadm_json) {
		iscadm_print_json(o);
	} else {
		printf("%s: forensic snapshot %s (sha256 %s)\n", name, iscadm_str(o, "id"),
		       iscadm_str(o, "sha256"));
		if (json_object_object_get_ex(o, "memory", &m))
			printf("%s: memory dump, encrypted, %s bytes (sha256 %s)\n", name,
			       iscadm_str(m, "size"), iscadm_str(m, "sha256"));
	}
	json_object_put(o);
	return ISCADM_OK;
}

static int iscadm_publish_common(const struct iscadm_args *a, const char *op)
{
	struct json_object *req = json_object_new_object(), *o;
	const char *name = iscadm_node_arg(a, 0);
	char path[128];

	json_object_object_add(req, "port", json_object_new_string(a->a_pos[1]));
	snprintf(path, sizeof(path), "/v1/nodes/%s/%s", name, op);
	o = iscadm_call("POST", path, json_object_to_json_string(req));
	json_object_put(req);
	return iscadm_done(o, "%s %sed %s", name, op, a->a_pos[1]);
}

int iscadm_cmd_publish(const struct iscadm_args *a)
{
	return iscadm_publish_common(a, "publish");
}

int iscadm_cmd_unpublish(const struct iscadm_args *a)
{
	return iscadm_publish_common(a, "unpublish");
}

int iscadm_cmd_console(const struct iscadm_args *a)
{
	char path[128], domain[64], uri[256];
	struct json_object *o, *v;

	iscadm_node_path(path, sizeof(path), iscadm_node_arg(a, 0), "");
	o = iscadm_call("GET", path, NULL);
	snprintf(domain, sizeof(domain), "%s", iscadm_raw(o, "domain"));
	json_object_put(o);
	v = iscadm_call("GET", "/v1/version", NULL);
	snprintf(uri, sizeof(uri), "%s", iscadm_raw(v, "uri"));
	json_object_put(v);
	/* The console is libvirt's serial console; virsh owns the terminal
	 * work. An interactive passthrough: the guest's bytes reach the
	 * terminal as they are (its escape sequences too), as on any serial
	 * line; `logs` is the escaped view. */
	execlp("virsh", "virsh", "-c", uri, "console", domain, (char *)NULL);
	iscadm_die("console: cannot run virsh: %s", strerror(errno));
}

/* ---- create ---- */

static uint64_t iscadm_uint(const struct iscadm_args *a, const char *what, const char *v)
{
	char *end;
	unsigned long long u;

	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || v[0] == '-')
		iscadm_usage_fail(a->a_cmd, "%s \"%s\" is not a whole number", what, v);
	return u;
}

static uint64_t iscadm_size(const struct iscadm_args *a, const char *what, const char *v)
{
	struct dock_err err = { 0 };
	uint64_t mib;

	if (validate_size_mib(what, v, &mib, &err) < 0)
		iscadm_usage_fail(a->a_cmd, "%s", err.de_msg);
	return mib;
}

/* "90", "90s", "15m", "6h", "2d" into seconds. */
static uint64_t iscadm_duration(const struct iscadm_args *a, const char *what, const char *v)
{
	static const struct {
		char u;
		uint64_t s;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || v[0] == '-' || n > UINT32_MAX)
		iscadm_usage_fail(a->a_cmd, "%s \"%s\" is not a duration (e.g. 90s, 15m, 6h, 2d)",
				  what, v);
	if (*end == '\0')
		return n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].u && end[1] == '\0')
			return n * units[i].s;
	iscadm_usage_fail(a->a_cmd, "%s \"%s\": unknown unit (s, m, h or d)", what, v);
}

static void iscadm_add_str(struct json_object *req, const struct iscadm_args *a, const char *flag,
			   const char *key)
{
	const char *v = iscadm_opt(a, flag);

	if (v != NULL)
		json_object_object_add(req, key, json_object_new_string(v));
}

static void iscadm_add_list(struct json_object *req, const struct iscadm_args *a, const char *flag,
			    const char *key)
{
	const char *const *vals;
	size_t n = iscadm_opts(a, flag, &vals);
	struct json_object *arr;

	if (n == 0)
		return;
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(vals[i]));
	json_object_object_add(req, key, arr);
}

/* --cpus CORES: a decimal number (the dock checks its bounds). */
static void iscadm_add_cpus(struct json_object *req, const struct iscadm_args *a)
{
	const char *v = iscadm_opt(a, "cpus");
	char *end;
	double d;

	if (v == NULL)
		return;
	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || strspn(v, "0123456789.") != strlen(v))
		iscadm_usage_fail(a->a_cmd, "--cpus \"%s\" is not a number of cores (e.g. 0.5)", v);
	json_object_object_add(req, "cpus", json_object_new_double_s(d, v));
}

/* The disk and network limits: "disk" {read_mbps, ...}, "net" {in_mbps, out_mbps}. */
static void iscadm_add_limits(struct json_object *req, const struct iscadm_args *a)
{
	static const struct {
		const char *flag, *group, *key;
	} lim[] = {
		{ "disk-read-mbps", "disk", "read_mbps" },
		{ "disk-write-mbps", "disk", "write_mbps" },
		{ "disk-read-iops", "disk", "read_iops" },
		{ "disk-write-iops", "disk", "write_iops" },
		{ "net-in-mbps", "net", "in_mbps" },
		{ "net-out-mbps", "net", "out_mbps" },
	};
	const char *v;

	iscadm_add_cpus(req, a);
	if ((v = iscadm_opt(a, "cpu-weight")) != NULL)
		json_object_object_add(
			req, "cpu_weight",
			json_object_new_int64((int64_t)iscadm_uint(a, "--cpu-weight", v)));
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct json_object *g = NULL;
		char what[32];
		if ((v = iscadm_opt(a, lim[i].flag)) == NULL)
			continue;
		if (!json_object_object_get_ex(req, lim[i].group, &g)) {
			g = json_object_new_object();
			json_object_object_add(req, lim[i].group, g);
		}
		snprintf(what, sizeof(what), "--%s", lim[i].flag);
		json_object_object_add(g, lim[i].key,
				       json_object_new_int64((int64_t)iscadm_uint(a, what, v)));
	}
}

static struct json_object *iscadm_create_req(const struct iscadm_args *a, const char *name)
{
	struct json_object *req = json_object_new_object();
	const char *v;

	json_object_object_add(req, "name", json_object_new_string(name));
	iscadm_add_str(req, a, "image", "image");
	if ((v = iscadm_opt(a, "memory")) != NULL)
		json_object_object_add(req, "memory_mib",
				       json_object_new_int64((int64_t)iscadm_size(a, "memory", v)));
	if ((v = iscadm_opt(a, "scratch-size")) != NULL)
		json_object_object_add(
			req, "scratch_mib",
			json_object_new_int64((int64_t)iscadm_size(a, "scratch size", v)));
	if ((v = iscadm_opt(a, "vcpus")) != NULL)
		json_object_object_add(req, "vcpus",
				       json_object_new_int64((int64_t)iscadm_uint(a, "vcpus", v)));
	if ((v = iscadm_opt(a, "lifetime")) != NULL)
		json_object_object_add(
			req, "lifetime_s",
			json_object_new_int64((int64_t)iscadm_duration(a, "lifetime", v)));
	iscadm_add_limits(req, a);
	iscadm_add_list(req, a, "publish", "publish");
	iscadm_add_list(req, a, "egress-allow", "egress_allow");
	iscadm_add_str(req, a, "on-hostile", "on_hostile");
	iscadm_add_str(req, a, "on-silent", "on_silent");
	iscadm_add_str(req, a, "on-fail", "on_fail");
	iscadm_add_str(req, a, "egress", "egress");
	iscadm_add_str(req, a, "profile", "profile");
	json_object_object_add(req, "start", json_object_new_boolean(!iscadm_opt(a, "no-start")));
	return req;
}

int iscadm_cmd_create(const struct iscadm_args *a)
{
	const char *name = iscadm_node_arg(a, 0), *wait = iscadm_opt(a, "wait");
	const char *timeout = iscadm_opt(a, "timeout");
	struct json_object *req, *o;
	uint64_t limit = 300;
	char what[64];
	int rc;

	if (iscadm_opt(a, "image") == NULL)
		iscadm_usage_fail(a->a_cmd, "--image is required");
	if (wait != NULL && wait[0] != '\0' && strcmp(wait, "healthy") != 0)
		iscadm_usage_fail(a->a_cmd, "--wait=%s: expected --wait or --wait=healthy", wait);
	if (wait != NULL && iscadm_opt(a, "no-start"))
		iscadm_usage_fail(a->a_cmd, "--wait and --no-start exclude each other");
	if (timeout != NULL && wait == NULL)
		iscadm_usage_fail(a->a_cmd, "--timeout is for --wait");
	if (timeout != NULL)
		limit = iscadm_duration(a, "timeout", timeout);
	if (limit == 0)
		iscadm_usage_fail(a->a_cmd, "--timeout 0: give a duration (e.g. 90s, 5m)");
	req = iscadm_create_req(a, name);
	snprintf(what, sizeof(what), "create %s", name);
	o = iscadm_call_progress("POST", "/v1/nodes", json_object_to_json_string(req), name, what);
	json_object_put(req);
	if (iscadm_json && wait == NULL)
		iscadm_print_json(o);
	else if (!iscadm_json)
		printf("%s created (%s, ip %s)\n", name, iscadm_str(o, "state"),
		       iscadm_str(o, "ip"));
	json_object_put(o);
	if (wait == NULL)
		return ISCADM_OK;
	fflush(stdout);
	rc = iscadm_wait_node(name, wait[0] ? ISCADM_WAIT_HEALTHY : ISCADM_WAIT_READY,
			      (unsigned)limit);
	if (iscadm_json) {
		char path[128];
		iscadm_node_path(path, sizeof(path), name, "");
		o = iscadm_call("GET", path, NULL);
		iscadm_print_json(o);
		json_object_put(o);
	}
	return rc;
}
