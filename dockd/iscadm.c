/* iscadm: the dock's command-line client, a thin layer over the REST API
 * on dockd's unix socket. Human tables by default, --json for scripts; on
 * error one line naming the problem and a non-zero exit. This file is the
 * command table (data: name, function, help line), the global options and
 * each command's arguments; the transport, the output and the forensic
 * export are its siblings (iscadm-int.h). */
#include <errno.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "escape.h"
#include "iscadm-int.h"
#include "validate.h"

const char *iscadm_socket = "/run/isc/dockd.sock";
bool iscadm_json;

/* The message escaped whole: it may carry the dock's error, which may
 * carry what a guest or a client wrote. */
void iscadm_die(const char *fmt, ...)
{
	static char msg[4096], out[ESCAPE_SIZE(sizeof(msg))];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof(msg))
		n = (int)escape_cut(msg, sizeof(msg) - 1, sizeof(msg) - 2);
	escape_buf(out, sizeof(out), msg, (size_t)n, 0);
	fprintf(stderr, "iscadm: %s\n", out);
	exit(1);
}

static int cmd_ls(int argc, char **argv)
{
	struct json_object *a;

	(void)argc;
	(void)argv;
	a = iscadm_call("GET", "/v1/nodes", NULL);
	if (iscadm_json)
		iscadm_print_json(a);
	else
		iscadm_print_nodes(a);
	json_object_put(a);
	return 0;
}

static const char *iscadm_need_name(int argc, char **argv, const char *cmd)
{
	struct dock_err err = { 0 };

	if (argc < 2)
		iscadm_die("%s: missing node name", cmd);
	if (argc > 2)
		iscadm_die("%s: unexpected argument \"%s\"", cmd, argv[2]);
	if (validate_name("node", argv[1], NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	return argv[1];
}

static int cmd_inspect(int argc, char **argv)
{
	char path[128];
	const char *name = iscadm_need_name(argc, argv, "inspect");
	struct json_object *o;

	snprintf(path, sizeof(path), "/v1/nodes/%s", name);
	o = iscadm_call("GET", path, NULL);
	iscadm_print_json(o);
	json_object_put(o);
	return 0;
}

static int cmd_action(int argc, char **argv, const char *method, const char *suffix,
		      const char *done)
{
	char path[128];
	const char *name = iscadm_need_name(argc, argv, argv[0]);
	struct json_object *o;

	snprintf(path, sizeof(path), "/v1/nodes/%s%s", name, suffix);
	o = iscadm_call(method, path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s %s\n", name, done);
	json_object_put(o);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	char path[128];
	const char *name = iscadm_need_name(argc, argv, "status");
	struct json_object *o;

	snprintf(path, sizeof(path), "/v1/nodes/%s/status", name);
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json) {
		iscadm_print_json(o);
		json_object_put(o);
		return 0;
	}
	iscadm_print_status(name, o);
	json_object_put(o);
	return 0;
}

static int cmd_publish_common(int argc, char **argv, const char *op)
{
	struct json_object *req, *o;
	struct dock_err err = { 0 };
	char path[128];

	if (argc != 3)
		iscadm_die("%s: usage: %s NODE HOSTPORT:NODEPORT[/tcp|/udp]", op, op);
	if (validate_name("node", argv[1], NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	req = json_object_new_object();
	json_object_object_add(req, "port", json_object_new_string(argv[2]));
	snprintf(path, sizeof(path), "/v1/nodes/%s/%s", argv[1], op);
	o = iscadm_call("POST", path, json_object_to_json_string(req));
	json_object_put(req);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s %sed %s\n", argv[1], op, argv[2]);
	json_object_put(o);
	return 0;
}

static int cmd_publish(int argc, char **argv)
{
	return cmd_publish_common(argc, argv, "publish");
}

static int cmd_unpublish(int argc, char **argv)
{
	return cmd_publish_common(argc, argv, "unpublish");
}

static int cmd_cleanse(int argc, char **argv)
{
	return cmd_action(argc, argv, "POST", "/cleanse",
			  "cleansed: fresh ephemeral disk with a new key, restarted");
}

/* NODE and --FLAG... in any order: the name, and the request body
 * {"flag":true,...} ("{}" when no flag is given). */
static const char *iscadm_name_flags(int argc, char **argv, const char *usage,
				     const char *const flags[], size_t n, char *body, size_t size)
{
	struct dock_err err = { 0 };
	struct json_object *o = json_object_new_object();
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		size_t f;
		if (argv[i][0] != '-' && name == NULL) {
			name = argv[i];
			continue;
		}
		for (f = 0; f < n; f++)
			if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, flags[f]) == 0)
				break;
		if (f == n)
			iscadm_die("%s: unexpected argument \"%s\" (usage: %s)", argv[0], argv[i],
				   usage);
		json_object_object_add(o, flags[f], json_object_new_boolean(1));
	}
	if (name == NULL)
		iscadm_die("%s: usage: %s", argv[0], usage);
	if (validate_name("node", name, NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	snprintf(body, size, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return name;
}

static int cmd_quarantine(int argc, char **argv)
{
	static const char *const flags[] = { "pause", "snapshot" };
	char path[128], body[128];
	const char *name = iscadm_name_flags(argc, argv, "quarantine NODE [--pause] [--snapshot]",
					     flags, 2, body, sizeof(body));
	struct json_object *o;

	snprintf(path, sizeof(path), "/v1/nodes/%s/quarantine", name);
	o = iscadm_call("POST", path, body);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s quarantined: all its traffic is cut%s%s\n", name,
		       strstr(body, "pause") ? ", paused" : "",
		       strstr(body, "snapshot") ? ", forensic snapshot taken" : "");
	json_object_put(o);
	return 0;
}

static int cmd_release(int argc, char **argv)
{
	return cmd_action(argc, argv, "POST", "/release", "released from quarantine");
}

static int cmd_fw(int argc, char **argv)
{
	struct dock_err err = { 0 };
	struct json_object *o;
	char path[128] = "/v1/fw";

	if (argc < 2 || strcmp(argv[1], "show") != 0 || argc > 3)
		iscadm_die("fw: usage: fw show [NODE]");
	if (argc == 3) {
		if (validate_name("node", argv[2], NODE_NAME_MAX, &err) < 0)
			iscadm_die("%s", err.de_msg);
		snprintf(path, sizeof(path), "/v1/fw/%s", argv[2]);
	}
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json) {
		json_object_object_del(o, "text");
		iscadm_print_json(o);
	} else {
		const char *t = iscadm_raw(o, "text");
		iscadm_put(t, strlen(t), ESCAPE_KEEP_NL | ESCAPE_KEEP_TAB);
	}
	json_object_put(o);
	return 0;
}

/* logs --raw: the console's bytes as the guest wrote them. */
static void iscadm_print_raw(const char *b64)
{
	size_t cap = strlen(b64) / 4 * 3 + 3, len = 0;
	unsigned char *bin = malloc(cap);

	if (bin == NULL ||
	    sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		iscadm_die("logs: dockd sent an unreadable raw log");
	fwrite(bin, 1, len, stdout);
	free(bin);
}

/* The console's lines come escaped from the dock (a dock older than
 * --raw sends them as they are: the second escape catches what it let
 * through, and leaves escaped text as it is). */
static void iscadm_print_lines(struct json_object *o, bool raw)
{
	struct json_object *lines, *b64;

	if (raw && json_object_object_get_ex(o, "raw", &b64)) {
		iscadm_print_raw(json_object_get_string(b64));
		return;
	}
	if (!json_object_object_get_ex(o, "lines", &lines))
		return;
	for (size_t i = 0; i < json_object_array_length(lines); i++) {
		struct json_object *l = json_object_array_get_idx(lines, i);
		if (raw)
			fwrite(json_object_get_string(l), 1, (size_t)json_object_get_string_len(l),
			       stdout);
		else
			iscadm_put(json_object_get_string(l), (size_t)json_object_get_string_len(l),
				   ESCAPE_KEEP_TAB | ESCAPE_KEEP_BACKSLASH);
		putchar('\n');
	}
}

static int cmd_logs(int argc, char **argv)
{
	struct dock_err err = { 0 };
	struct json_object *o;
	bool firewall = false, raw = false;
	const char *name = NULL;
	char path[128];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--firewall") == 0)
			firewall = true;
		else if (strcmp(argv[i], "--raw") == 0)
			raw = true;
		else if (name == NULL)
			name = argv[i];
		else
			iscadm_die("logs: unexpected argument \"%s\"", argv[i]);
	}
	if (name == NULL)
		iscadm_die("logs: missing node name");
	if (validate_name("node", name, NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	snprintf(path, sizeof(path), "/v1/nodes/%s/logs%s", name,
		 firewall      ? "/firewall"
			 : raw ? "?raw=1"
			       : "");
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		iscadm_print_lines(o, raw);
	json_object_put(o);
	return 0;
}

static uint64_t iscadm_uint(const char *what, const char *v)
{
	char *end;
	unsigned long long u;

	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || v[0] == '-')
		iscadm_die("%s \"%s\" is not a whole number", what, v);
	return u;
}

static int cmd_audit(int argc, char **argv)
{
	struct dock_err err = { 0 };
	struct json_object *o;
	char path[256] = "/v1/audit", sep = '?';

	if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
		int rc;
		o = iscadm_call("GET", "/v1/audit/verify", NULL);
		if (iscadm_json)
			iscadm_print_json(o);
		else
			iscadm_print_verify(o);
		rc = iscadm_verify_failed(o) ? 1 : 0;
		json_object_put(o);
		return rc;
	}
	for (int i = 1; i < argc; i++) {
		size_t l = strlen(path);
		if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
			if (validate_name("node", argv[i + 1], NODE_NAME_MAX, &err) < 0)
				iscadm_die("%s", err.de_msg);
			snprintf(path + l, sizeof(path) - l, "%cnode=%s", sep, argv[++i]);
		} else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			unsigned long long t = iscadm_uint("since", argv[++i]);
			snprintf(path + l, sizeof(path) - l, "%csince=%llu", sep, t);
		} else {
			iscadm_die(
				"audit: usage: audit [--node NAME] [--since UNIXTIME] | audit verify");
		}
		sep = '&';
	}
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		iscadm_print_audit(o);
	json_object_put(o);
	return 0;
}

static int cmd_snapshot(int argc, char **argv)
{
	static const char *const flags[] = { "memory" };
	char path[128], body[64];
	const char *name = iscadm_name_flags(argc, argv, "snapshot NODE [--memory]", flags, 1, body,
					     sizeof(body));
	struct json_object *o, *m;

	snprintf(path, sizeof(path), "/v1/nodes/%s/snapshot", name);
	o = iscadm_call("POST", path, body);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s: forensic snapshot %s (sha256 %s)\n", name, iscadm_str(o, "id"),
		       iscadm_str(o, "sha256"));
	if (!iscadm_json && json_object_object_get_ex(o, "memory", &m))
		printf("%s: memory dump, encrypted, %s bytes (sha256 %s)\n", name,
		       iscadm_str(m, "size"), iscadm_str(m, "sha256"));
	json_object_put(o);
	return 0;
}

static int cmd_forensic(int argc, char **argv)
{
	struct json_object *o;
	char path[160];

	if (argc == 2 && strcmp(argv[1], "ls") == 0) {
		o = iscadm_call("GET", "/v1/forensics", NULL);
		if (iscadm_json)
			iscadm_print_json(o);
		else
			iscadm_print_forensics(o);
		json_object_put(o);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "rm") == 0) {
		if (strchr(argv[2], '/') != NULL || strlen(argv[2]) > 60)
			iscadm_die("forensic rm: \"%s\" is not a snapshot id", argv[2]);
		snprintf(path, sizeof(path), "/v1/forensics/%s", argv[2]);
		o = iscadm_call("DELETE", path, NULL);
		printf("forensic snapshot %s removed\n", argv[2]);
		json_object_put(o);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "export") == 0)
		return iscadm_forensic_export(argv[2], argv[3]);
	iscadm_die("forensic: usage: forensic ls | forensic rm ID | forensic export ID DEST");
}

static int cmd_start(int argc, char **argv)
{
	static const char *const flags[] = { "rebase", "rekey" };
	char path[128], body[64];
	const char *name = iscadm_name_flags(argc, argv, "start NODE [--rebase] [--rekey]", flags,
					     2, body, sizeof(body));
	struct json_object *o, *v;

	snprintf(path, sizeof(path), "/v1/nodes/%s/start", name);
	o = iscadm_call("POST", path, body);
	if (iscadm_json)
		iscadm_print_json(o);
	else if (json_object_object_get_ex(o, "already", &v) && json_object_get_boolean(v))
		printf("%s is already running\n", name);
	else
		printf("%s started%s%s\n", name,
		       strstr(body, "rebase") ? " (rebased on its image's current base)" : "",
		       json_object_object_get_ex(o, "rekeyed", &v) && json_object_get_boolean(v)
			       ? " (re-keyed: a fresh ephemeral disk with a new key)"
			       : "");
	json_object_put(o);
	return 0;
}

static int cmd_stop(int argc, char **argv)
{
	return cmd_action(argc, argv, "POST", "/stop", "stopped");
}

static int cmd_destroy(int argc, char **argv)
{
	static const char *const flags[] = { "force" };
	char path[128], body[64];
	const char *name = iscadm_name_flags(argc, argv, "destroy NODE [--force]", flags, 1, body,
					     sizeof(body));
	struct json_object *o;

	snprintf(path, sizeof(path), "/v1/nodes/%s%s", name,
		 strstr(body, "force") ? "?force=1" : "");
	o = iscadm_call("DELETE", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s destroyed\n", name);
	json_object_put(o);
	return 0;
}

static uint64_t iscadm_size(const char *what, const char *v, bool plain_is_mib)
{
	struct dock_err err = { 0 };
	uint64_t mib;

	(void)plain_is_mib;
	if (validate_size_mib(what, v, &mib, &err) < 0)
		iscadm_die("%s", err.de_msg);
	return mib;
}

/* "90", "90s", "15m", "6h", "2d" into seconds. */
static uint64_t iscadm_duration(const char *v)
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
		iscadm_die("lifetime \"%s\" is not a duration (e.g. 90s, 15m, 6h, 2d)", v);
	if (*end == '\0')
		return n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].u && end[1] == '\0')
			return n * units[i].s;
	iscadm_die("lifetime \"%s\": unknown unit (s, m, h or d)", v);
}

/* One create option with its value into the request (--image into image). */
static void iscadm_create_option(struct json_object *req, const char *a, const char *v,
				 const char **image)
{
	if (strcmp(a, "--image") == 0)
		*image = v;
	else if (strcmp(a, "--memory") == 0)
		json_object_object_add(
			req, "memory_mib",
			json_object_new_int64((int64_t)iscadm_size("memory", v, true)));
	else if (strcmp(a, "--publish") == 0 || strcmp(a, "--egress-allow") == 0) {
		const char *key = a[2] == 'p' ? "publish" : "egress_allow";
		struct json_object *arr;
		if (!json_object_object_get_ex(req, key, &arr)) {
			arr = json_object_new_array();
			json_object_object_add(req, key, arr);
		}
		json_object_array_add(arr, json_object_new_string(v));
	} else if (strcmp(a, "--lifetime") == 0)
		json_object_object_add(req, "lifetime_s",
				       json_object_new_int64((int64_t)iscadm_duration(v)));
	else if (strcmp(a, "--on-hostile") == 0)
		json_object_object_add(req, "on_hostile", json_object_new_string(v));
	else if (strcmp(a, "--on-silent") == 0)
		json_object_object_add(req, "on_silent", json_object_new_string(v));
	else if (strcmp(a, "--on-fail") == 0)
		json_object_object_add(req, "on_fail", json_object_new_string(v));
	else if (strcmp(a, "--egress") == 0)
		json_object_object_add(req, "egress", json_object_new_string(v));
	else if (strcmp(a, "--profile") == 0)
		json_object_object_add(req, "profile", json_object_new_string(v));
	else if (strcmp(a, "--vcpus") == 0)
		json_object_object_add(req, "vcpus",
				       json_object_new_int64((int64_t)iscadm_uint("vcpus", v)));
	else if (strcmp(a, "--scratch-size") == 0)
		json_object_object_add(
			req, "scratch_mib",
			json_object_new_int64((int64_t)iscadm_size("scratch size", v, true)));
	else
		iscadm_die("create: unknown option %s", a);
}

static int cmd_create(int argc, char **argv)
{
	struct json_object *req = json_object_new_object(), *o;
	struct dock_err err = { 0 };
	const char *name = NULL, *image = NULL;
	bool start = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-start") == 0) {
			start = false;
			continue;
		}
		if (a[0] != '-') {
			if (name != NULL)
				iscadm_die("create: unexpected argument \"%s\"", a);
			name = a;
			continue;
		}
		if (v == NULL)
			iscadm_die("create: %s needs a value", a);
		i++;
		iscadm_create_option(req, a, v, &image);
	}
	if (name == NULL)
		iscadm_die("create: missing node name");
	if (validate_name("node", name, NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	if (image == NULL)
		iscadm_die("create: --image is required");
	json_object_object_add(req, "name", json_object_new_string(name));
	json_object_object_add(req, "image", json_object_new_string(image));
	json_object_object_add(req, "start", json_object_new_boolean(start));
	o = iscadm_call("POST", "/v1/nodes", json_object_to_json_string(req));
	json_object_put(req);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		printf("%s created (%s, ip %s)\n", name, iscadm_str(o, "state"),
		       iscadm_str(o, "ip"));
	json_object_put(o);
	return 0;
}

static int cmd_console(int argc, char **argv)
{
	char path[128];
	const char *name = iscadm_need_name(argc, argv, "console");
	struct json_object *o, *v;
	char domain[64], uri[256];

	snprintf(path, sizeof(path), "/v1/nodes/%s", name);
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

static int cmd_image(int argc, char **argv)
{
	struct json_object *a;

	if (argc < 2 || strcmp(argv[1], "ls") != 0)
		iscadm_die("image: expected \"image ls\" (build and export are done by isc-image)");
	a = iscadm_call("GET", "/v1/images", NULL);
	if (iscadm_json)
		iscadm_print_json(a);
	else
		iscadm_print_images(a);
	json_object_put(a);
	return 0;
}

static const struct {
	const char *c_name;
	int (*c_fn)(int, char **);
	const char *c_help;
} iscadm_cmds[] = {
	{ "create", cmd_create,
	  "create NAME --image IMAGE [--memory 256M] [--vcpus 1] [--scratch-size 256M] [--profile P]\n"
	  "         [--publish HOSTPORT:NODEPORT[/tcp|/udp]]... [--egress allow|deny]\n"
	  "         [--egress-allow CIDR[:PORT[/tcp|/udp]]]...\n"
	  "         [--lifetime 6h] [--on-hostile P] [--on-silent P] [--on-fail P] [--no-start]   (P: alert|quarantine|cleanse|destroy)" },
	{ "ls", cmd_ls, "ls                      list nodes" },
	{ "inspect", cmd_inspect, "inspect NAME            a node as JSON" },
	{ "start", cmd_start,
	  "start NAME [--rebase] [--rekey]  --rebase: boot the image's new base after a rebuild;\n"
	  "                         --rekey: a fresh disk when its key is gone (its data is lost)" },
	{ "stop", cmd_stop, "stop NAME               ACPI shutdown, power off after the timeout" },
	{ "status", cmd_status, "status NAME             the hardening validation table" },
	{ "destroy", cmd_destroy,
	  "destroy NAME [--force]  remove the node and every trace of it (--force: even running)" },
	{ "publish", cmd_publish, "publish NAME HOSTPORT:NODEPORT[/tcp|/udp]" },
	{ "unpublish", cmd_unpublish, "unpublish NAME HOSTPORT:NODEPORT[/tcp|/udp]" },
	{ "cleanse", cmd_cleanse,
	  "cleanse NAME            halt, fresh ephemeral disk with a new key, start" },
	{ "quarantine", cmd_quarantine,
	  "quarantine NAME [--pause] [--snapshot]  cut all of the node's traffic, keep it running (or paused)" },
	{ "release", cmd_release, "release NAME            end the quarantine" },
	{ "fw", cmd_fw, "fw show [NAME]          the firewall policy in force" },
	{ "snapshot", cmd_snapshot,
	  "snapshot NAME [--memory]  forensic snapshot of the node's encrypted disk (sealed key), and of its memory (encrypted)" },
	{ "forensic", cmd_forensic,
	  "forensic ls | rm ID | export ID DEST   the forensic snapshots (export: verified copy)" },
	{ "audit", cmd_audit,
	  "audit [--node N] [--since T] | audit verify   the hash-chained audit trail" },
	{ "logs", cmd_logs,
	  "logs NAME [--firewall] [--raw]  console log, control characters escaped (--raw: the bytes as the\n"
	  "         guest wrote them), or the firewall's drops of the node" },
	{ "console", cmd_console,
	  "console NAME            serial console (virsh; Ctrl-] leaves): interactive, the guest's bytes\n"
	  "         reach the terminal unescaped" },
	{ "image", cmd_image, "image ls                list images" },
};

static void iscadm_usage(FILE *f)
{
	fprintf(f, "usage: iscadm [--socket PATH] [--json] COMMAND ...\n");
	for (size_t i = 0; i < sizeof(iscadm_cmds) / sizeof(iscadm_cmds[0]); i++)
		fprintf(f, "  %s\n", iscadm_cmds[i].c_help);
	fprintf(f, "The socket defaults to $ISC_SOCKET or /run/isc/dockd.sock.\n");
}

int main(int argc, char **argv)
{
	const char *env = getenv("ISC_SOCKET");
	char *args[64];
	int n = 0;

	if (env != NULL && env[0] != '\0')
		iscadm_socket = env;
	/* Global options may stand anywhere; the rest is the command line. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			iscadm_json = true;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			iscadm_socket = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			iscadm_usage(stdout);
			return 0;
		} else if (n < 63) {
			args[n++] = argv[i];
		} else {
			iscadm_die("too many arguments");
		}
	}
	args[n] = NULL;
	if (n == 0) {
		iscadm_usage(stderr);
		return 2;
	}
	iscadm_http_init();
	for (size_t i = 0; i < sizeof(iscadm_cmds) / sizeof(iscadm_cmds[0]); i++)
		if (strcmp(args[0], iscadm_cmds[i].c_name) == 0)
			return iscadm_cmds[i].c_fn(n, args);
	iscadm_die("unknown command \"%s\" (try iscadm --help)", args[0]);
}
