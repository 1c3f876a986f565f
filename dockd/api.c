/* api: the REST/JSON API (api.h). The routes are a table of method, path
 * pattern, handler and audit action; each handler turns one node, image,
 * forensic or audit call into JSON. Every administrative action and every
 * refusal goes to the audit trail with the caller's uid from the socket. */
#include "api.h"

#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>

#include "api-listen.h"
#include "api-logs.h"
#include "api-stream.h"
#include "audit.h"
#include "forensic.h"
#include "image.h"
#include "log.h"
#include "node.h"
#include "validate.h"
#include "version.h"
#include "virt.h"

#define API_VERSION_STR "1"
/* Supplementary groups of a caller we look at (SO_PEERGROUPS); more: refused. */
#define API_PEER_GROUPS_MAX 1024

static const struct dock_config *api_cfg;
static struct MHD_Daemon *api_daemon;
static int api_fd = -1;
static bool api_activated; /* api_fd came from systemd (api-listen.h) */
static gid_t api_gid = (gid_t)-1;

struct api_req {
	char *ar_body;
	size_t ar_len;
	bool ar_too_large;
};

/* One call, as its handler sees it: the checked node name segment (or a
 * forensic id), the body, and where the answer, the audit record's node
 * and what the audit record adds go. */
struct api_call {
	struct MHD_Connection *ac_conn;
	enum api_route_id ac_id;
	const char *ac_name;
	const struct api_req *ac_req;
	struct json_object **ac_out;
	char *ac_subject;
	size_t ac_subject_size;
	struct json_object **ac_detail;
	struct dock_err *ac_err;
};

/* A route's handler: 0 and *ac_out set, or < 0 and ac_err filled. */
typedef int (*api_handle_fn)(const struct api_call *c);

struct api_route_def {
	const char *ar_method;
	const char *ar_pattern; /* "*" stands for one node name segment */
	enum api_route_id ar_id;
	/* NULL: not answered with JSON (the forensic files are streamed) */
	api_handle_fn ar_handle;
	const char *ar_audit; /* the audit trail's action; NULL: a read, not audited */
};

/* ---- peer credentials ---- */

static bool api_peer_allowed(struct MHD_Connection *conn, uid_t *uid_out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[API_PEER_GROUPS_MAX];

	if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*uid_out = cred.uid;
	if (cred.uid == 0)
		return true;
	if (api_gid == (gid_t)-1)
		return false;
	if (cred.gid == api_gid)
		return true;
	/* The groups the caller's process really has (taken by the kernel at
	 * connect), not what the user database says it could have: a process
	 * that dropped the group is out, one given it by setgroups is in. A
	 * caller with more groups than we take is refused, never guessed. */
	len = sizeof(groups);
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == api_gid)
			return true;
	return false;
}

/* ---- handlers ---- */

static struct json_object *api_error_json(const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static struct json_object *api_images_json(void)
{
	struct json_object *a = json_object_new_array();
	struct dirent *de;
	DIR *d = opendir(api_cfg->dc_image_dir);

	if (d == NULL)
		return a;
	while ((de = readdir(d)) != NULL) {
		struct image im;
		struct json_object *o;
		uint64_t total = 0;

		if (de->d_name[0] == '.' ||
		    image_load(api_cfg->dc_image_dir, de->d_name, &im, NULL) < 0)
			continue;
		for (size_t i = 0; i < im.im_n_files; i++)
			total += im.im_files[i].if_size;
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(im.im_name));
		json_object_object_add(
			o, "boot",
			json_object_new_string(im.im_boot == IMAGE_BOOT_EFI ? "efi" : "kernel"));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)total));
		json_object_object_add(o, "sha256", json_object_new_string(im.im_base->if_sha256));
		json_object_object_add(o, "built", json_object_new_string(im.im_built));
		json_object_array_add(a, o);
	}
	closedir(d);
	return a;
}

static int api_audit_json(struct MHD_Connection *conn, bool verify, struct json_object **out,
			  struct dock_err *err)
{
	char path[PATH_MAX];
	const char *node = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "node");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	struct json_object *arr = NULL;
	long long t = 0;
	int r;

	snprintf(path, sizeof(path), "%s/audit.log", api_cfg->dc_state_dir);
	if (verify)
		return audit_verify_json(path, out, err);
	if (node != NULL && validate_name("node", node, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	if (since != NULL) {
		char *end;
		errno = 0;
		t = strtoll(since, &end, 10);
		if (errno != 0 || *end != '\0' || t < 0)
			return err_set(err, 400, EINVAL, "since must be a unix time in seconds");
	}
	r = audit_read(path, node, t, 0, &arr, err);
	if (r < 0)
		return r;
	*out = arr;
	return 0;
}

static const char *api_body(const struct api_req *req)
{
	return req->ar_body != NULL ? req->ar_body : "";
}

/* ---- the handlers: one a route (or a pair of routes) ---- */

/* "audit_alarm": the damage the dock found in its audit trail at start
 * (truncated, rolled back, deleted), null when none. */
static void api_add_audit_alarm(struct json_object *o)
{
	const char *a = audit_alarm();

	json_object_object_add(o, "audit_alarm", a[0] ? json_object_new_string(a) : NULL);
}

static int api_version(const struct api_call *c)
{
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "api", json_object_new_string(API_VERSION_STR));
	json_object_object_add(*c->ac_out, "version", json_object_new_string(ISC_VERSION));
	json_object_object_add(*c->ac_out, "commit", json_object_new_string(ISC_COMMIT));
	json_object_object_add(*c->ac_out, "uri", json_object_new_string(api_cfg->dc_uri));
	json_object_object_add(*c->ac_out, "accel",
			       json_object_new_string(virt_domain_type(api_cfg->dc_accel)));
	api_add_audit_alarm(*c->ac_out);
	return 0;
}

static int api_nodes_list(const struct api_call *c)
{
	*c->ac_out = node_list_json();
	return 0;
}

static int api_node_create(const struct api_call *c)
{
	struct node_spec spec;

	if (spec_parse(api_body(c->ac_req), c->ac_req->ar_len, api_cfg, &spec, c->ac_err) < 0)
		return -EINVAL;
	snprintf(c->ac_subject, c->ac_subject_size, "%s", spec.ns_name);
	return node_create(&spec, c->ac_out, c->ac_err);
}

static int api_node_inspect(const struct api_call *c)
{
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

/* The node's view, and what the call came to: "already" (it was in that
 * state; nothing done), and for a start "rekeyed". */
static int api_node_view(const struct api_call *c, bool already, const bool *rekeyed)
{
	if (node_inspect_json(c->ac_name, c->ac_out, c->ac_err) < 0)
		return -EIO;
	json_object_object_add(*c->ac_out, "already", json_object_new_boolean(already));
	if (rekeyed != NULL)
		json_object_object_add(*c->ac_out, "rekeyed", json_object_new_boolean(*rekeyed));
	if (already || (rekeyed != NULL && *rekeyed)) {
		if (*c->ac_detail == NULL)
			*c->ac_detail = json_object_new_object();
		json_object_object_add(*c->ac_detail, already ? "already" : "rekeyed",
				       json_object_new_boolean(1));
	}
	return 0;
}

/* start; {"rebase":true} start --rebase (pin.h); {"rekey":true} start
 * --rekey, a fresh disk when its key is gone (node.h). */
static int api_node_start(const struct api_call *c)
{
	struct node_start_opts o = { 0 };
	const struct spec_flag flags[] = { { "rebase", &o.so_rebase }, { "rekey", &o.so_rekey } };

	if (spec_flags_parse("start request", api_body(c->ac_req), c->ac_req->ar_len, flags, 2,
			     c->ac_err) < 0)
		return -EINVAL;
	if (o.so_rebase || o.so_rekey) {
		*c->ac_detail = json_object_new_object();
		if (o.so_rebase)
			json_object_object_add(*c->ac_detail, "rebase", json_object_new_boolean(1));
		if (o.so_rekey)
			json_object_object_add(*c->ac_detail, "rekey", json_object_new_boolean(1));
	}
	if (node_start(c->ac_name, &o, c->ac_err) < 0)
		return -EIO;
	return api_node_view(c, o.so_already, &o.so_rekeyed);
}

static int api_node_stop(const struct api_call *c)
{
	bool already = false;

	if (node_stop(c->ac_name, &already, c->ac_err) < 0)
		return -EIO;
	return api_node_view(c, already, NULL);
}

/* ?force=1: a running node too (node_destroy). */
static int api_node_destroy(const struct api_call *c)
{
	const char *f = MHD_lookup_connection_value(c->ac_conn, MHD_GET_ARGUMENT_KIND, "force");
	bool force = f != NULL && (strcmp(f, "1") == 0 || strcmp(f, "true") == 0);

	if (f != NULL && !force && strcmp(f, "0") != 0 && strcmp(f, "false") != 0)
		return err_set(c->ac_err, 400, EINVAL, "force must be 1 or 0, not \"%.32s\"", f);
	if (force) {
		*c->ac_detail = json_object_new_object();
		json_object_object_add(*c->ac_detail, "force", json_object_new_boolean(1));
	}
	if (node_destroy(c->ac_name, force, c->ac_err) < 0)
		return -EIO;
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "destroyed", json_object_new_string(c->ac_name));
	return 0;
}

static int api_node_status(const struct api_call *c)
{
	int r = node_status_json(c->ac_name, c->ac_out, c->ac_err);

	/* A dock-side finding that holds for every node. */
	if (r == 0)
		api_add_audit_alarm(*c->ac_out);
	return r;
}

/* publish and unpublish */
static int api_node_publish(const struct api_call *c)
{
	char port[32];

	if (spec_port_parse(api_body(c->ac_req), c->ac_req->ar_len, port, sizeof(port), c->ac_err) <
		    0 ||
	    node_publish(c->ac_name, port, c->ac_id == API_NODE_PUBLISH, c->ac_err) < 0)
		return -EINVAL;
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

/* quarantine and release */
static int api_node_quarantine(const struct api_call *c)
{
	struct node_quarantine_opts q = { 0 };
	const struct spec_flag flags[] = { { "pause", &q.nq_pause },
					   { "snapshot", &q.nq_snapshot } };
	bool quarantine = c->ac_id == API_NODE_QUARANTINE;
	int rc;

	if (quarantine &&
	    spec_flags_parse("quarantine request", api_body(c->ac_req), c->ac_req->ar_len, flags, 2,
			     c->ac_err) < 0)
		return -EINVAL;
	/* What was asked, and the snapshot taken, go to the trail. */
	*c->ac_detail = json_object_new_object();
	if (quarantine) {
		json_object_object_add(*c->ac_detail, "pause", json_object_new_boolean(q.nq_pause));
		json_object_object_add(*c->ac_detail, "snapshot",
				       json_object_new_boolean(q.nq_snapshot));
	}
	rc = node_quarantine(c->ac_name, quarantine, &q, c->ac_err);
	if (q.nq_snap != NULL) {
		struct json_object *v;
		if (json_object_object_get_ex(q.nq_snap, "id", &v))
			json_object_object_add(*c->ac_detail, "snapshot_id", json_object_get(v));
		json_object_put(q.nq_snap);
	}
	if (rc < 0)
		return -EIO;
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

static int api_node_cleanse(const struct api_call *c)
{
	if (node_cleanse(c->ac_name, c->ac_err) < 0)
		return -EIO;
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

/* the console log, or the firewall's drops (api-logs.h) */
static int api_node_logs(const struct api_call *c)
{
	struct node_logs_opts o;
	bool follow;

	if (api_logs_opts(c->ac_conn, c->ac_id == API_NODE_FW_LOGS, &o, &follow, c->ac_err) < 0)
		return -EINVAL;
	return node_logs_json(c->ac_name, &o, c->ac_out, c->ac_err);
}

/* the whole policy, or one node's part */
static int api_fw_show(const struct api_call *c)
{
	return node_fw_show_json(c->ac_id == API_FW_SHOW_NODE ? c->ac_name : NULL, c->ac_out,
				 c->ac_err);
}

static int api_images_list(const struct api_call *c)
{
	*c->ac_out = api_images_json();
	return 0;
}

/* DELETE /v1/images/NAME: refused while a node's record names the image. */
static int api_image_rm(const struct api_call *c)
{
	char users[256];
	struct image_rm rm;
	size_t n;

	c->ac_subject[0] = '\0'; /* an image, not a node: named in the detail */
	*c->ac_detail = json_object_new_object();
	json_object_object_add(*c->ac_detail, "image", json_object_new_string(c->ac_name));
	if (validate_name("image", c->ac_name, IMAGE_NAME_MAX, c->ac_err) < 0)
		return -EINVAL;
	n = node_image_users(c->ac_name, users, sizeof(users));
	if (n > 0)
		return err_set(c->ac_err, 409, EBUSY,
			       "image \"%s\" is used by %zu node%s (%s): destroy %s first",
			       c->ac_name, n, n == 1 ? "" : "s", users, n == 1 ? "it" : "them");
	if (image_remove(api_cfg->dc_image_dir, c->ac_name, &rm, c->ac_err) < 0)
		return -EIO;
	log_info("image %s: removed (%zu files, %llu bytes)%s", c->ac_name, rm.ir_files,
		 (unsigned long long)rm.ir_bytes,
		 rm.ir_link ? ": its symbolic link only"
			 : rm.ir_dir_kept
			 ? "; its directory kept, for files the manifest does not list"
			 : "");
	json_object_object_add(*c->ac_detail, "files", json_object_new_int64((int64_t)rm.ir_files));
	json_object_object_add(*c->ac_detail, "bytes", json_object_new_int64((int64_t)rm.ir_bytes));
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "removed", json_object_new_string(c->ac_name));
	json_object_object_add(*c->ac_out, "files", json_object_new_int64((int64_t)rm.ir_files));
	json_object_object_add(*c->ac_out, "bytes", json_object_new_int64((int64_t)rm.ir_bytes));
	json_object_object_add(*c->ac_out, "link", json_object_new_boolean(rm.ir_link));
	json_object_object_add(*c->ac_out, "dir_kept", json_object_new_boolean(rm.ir_dir_kept));
	return 0;
}

static int api_node_snapshot(const struct api_call *c)
{
	bool memory = false;
	const struct spec_flag flags[] = { { "memory", &memory } };

	if (spec_flags_parse("snapshot request", api_body(c->ac_req), c->ac_req->ar_len, flags, 1,
			     c->ac_err) < 0)
		return -EINVAL;
	return node_snapshot(c->ac_name, memory, c->ac_out, c->ac_err);
}

static int api_forensic_list(const struct api_call *c)
{
	*c->ac_out = forensic_list();
	return 0;
}

static int api_forensic_rm(const struct api_call *c)
{
	if (forensic_remove(c->ac_name, c->ac_err) < 0)
		return -EIO;
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "removed", json_object_new_string(c->ac_name));
	return 0;
}

/* the records, or the chain's verification */
static int api_audit(const struct api_call *c)
{
	return api_audit_json(c->ac_conn, c->ac_id == API_AUDIT_VERIFY, c->ac_out, c->ac_err);
}

/* ---- the routes ---- */

static const struct api_route_def api_routes[] = {
	{ "GET", "/v1/version", API_VERSION, api_version, NULL },
	{ "GET", "/v1/nodes", API_NODES_LIST, api_nodes_list, NULL },
	{ "POST", "/v1/nodes", API_NODES_CREATE, api_node_create, "create" },
	{ "GET", "/v1/nodes/*", API_NODE_INSPECT, api_node_inspect, NULL },
	{ "DELETE", "/v1/nodes/*", API_NODE_DESTROY, api_node_destroy, "destroy" },
	{ "POST", "/v1/nodes/*/start", API_NODE_START, api_node_start, "start" },
	{ "POST", "/v1/nodes/*/stop", API_NODE_STOP, api_node_stop, "stop" },
	{ "GET", "/v1/nodes/*/status", API_NODE_STATUS, api_node_status, NULL },
	{ "POST", "/v1/nodes/*/publish", API_NODE_PUBLISH, api_node_publish, "publish" },
	{ "POST", "/v1/nodes/*/unpublish", API_NODE_UNPUBLISH, api_node_publish, "unpublish" },
	{ "POST", "/v1/nodes/*/quarantine", API_NODE_QUARANTINE, api_node_quarantine,
	  "quarantine" },
	{ "POST", "/v1/nodes/*/release", API_NODE_RELEASE, api_node_quarantine, "release" },
	{ "POST", "/v1/nodes/*/cleanse", API_NODE_CLEANSE, api_node_cleanse, "cleanse" },
	{ "GET", "/v1/nodes/*/logs", API_NODE_LOGS, api_node_logs, NULL },
	{ "GET", "/v1/nodes/*/logs/firewall", API_NODE_FW_LOGS, api_node_logs, NULL },
	{ "GET", "/v1/fw", API_FW_SHOW, api_fw_show, NULL },
	{ "GET", "/v1/fw/*", API_FW_SHOW_NODE, api_fw_show, NULL },
	{ "GET", "/v1/images", API_IMAGES_LIST, api_images_list, NULL },
	{ "DELETE", "/v1/images/*", API_IMAGE_RM, api_image_rm, "image-rm" },
	{ "POST", "/v1/nodes/*/snapshot", API_NODE_SNAPSHOT, api_node_snapshot, "snapshot" },
	{ "GET", "/v1/forensics", API_FORENSIC_LIST, api_forensic_list, NULL },
	{ "DELETE", "/v1/forensics/*", API_FORENSIC_RM, api_forensic_rm, "forensic-rm" },
	/* Exporting the disk or the memory is audited by api_forensic_file; the
	 * small files not. */
	{ "GET", "/v1/forensics/*/disk.luks", API_FORENSIC_FILE, NULL, NULL },
	{ "GET", "/v1/forensics/*/key.sealed", API_FORENSIC_FILE, NULL, NULL },
	{ "GET", "/v1/forensics/*/meta.json", API_FORENSIC_FILE, NULL, NULL },
	{ "GET", "/v1/forensics/*/memory.enc", API_FORENSIC_FILE, NULL, NULL },
	{ "GET", "/v1/forensics/*/memory.key.sealed", API_FORENSIC_FILE, NULL, NULL },
	{ "GET", "/v1/audit", API_AUDIT_READ, api_audit, NULL },
	{ "GET", "/v1/audit/verify", API_AUDIT_VERIFY, api_audit, NULL },
};

/* Does url match pattern? The '*' segment is copied into name. */
static bool api_match(const char *pattern, const char *url, char *name, size_t name_size)
{
	const char *star = strchr(pattern, '*');
	size_t pre, seg;
	const char *rest;

	if (star == NULL)
		return strcmp(pattern, url) == 0;
	pre = (size_t)(star - pattern);
	if (strncmp(pattern, url, pre) != 0)
		return false;
	rest = url + pre;
	seg = strcspn(rest, "/");
	if (seg == 0 || strcmp(rest + seg, star + 1) != 0)
		return false;
	if (seg >= name_size)
		seg = name_size - 1; /* validate_name reports the length */
	memcpy(name, rest, seg);
	name[seg] = '\0';
	return true;
}

/* The audit action of a route, NULL for reads. */
static const char *api_audit_action(enum api_route_id id)
{
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++)
		if (api_routes[i].ar_id == id)
			return api_routes[i].ar_audit;
	return NULL;
}

/* The handler of a route, NULL for none. */
static api_handle_fn api_handler(enum api_route_id id)
{
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++)
		if (api_routes[i].ar_id == id)
			return api_routes[i].ar_handle;
	return NULL;
}

enum api_route_id api_route(const char *method, const char *url, char *name, size_t name_size,
			    int *status)
{
	bool path_known = false;

	if (strlen(url) > API_URL_MAX) {
		*status = 414;
		return API_NONE;
	}
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		if (!api_match(api_routes[i].ar_pattern, url, name, name_size))
			continue;
		path_known = true;
		if (strcmp(method, api_routes[i].ar_method) == 0) {
			*status = 200;
			return api_routes[i].ar_id;
		}
	}
	*status = path_known ? 405 : 404;
	return API_NONE;
}

/* One request: *out the answer; *detail what the audit record adds. */
static int api_dispatch(struct MHD_Connection *conn, enum api_route_id id, const char *name,
			const struct api_req *req, struct json_object **out, char *subject,
			size_t subject_size, struct json_object **detail, struct dock_err *err)
{
	const struct api_call c = { .ac_conn = conn,
				    .ac_id = id,
				    .ac_name = name,
				    .ac_req = req,
				    .ac_out = out,
				    .ac_subject = subject,
				    .ac_subject_size = subject_size,
				    .ac_detail = detail,
				    .ac_err = err };
	api_handle_fn handle = api_handler(id);

	/* Node names are checked here; a forensic id by forensic_remove, an
	 * image's name by api_image_rm. */
	if (name[0] != '\0' && id != API_FORENSIC_RM && id != API_IMAGE_RM &&
	    validate_name("node", name, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	/* API_FORENSIC_FILE is streamed by api_forensic_file. */
	if (handle == NULL)
		return err_set(err, 404, ENOENT, "no such API route");
	return handle(&c);
}

static enum MHD_Result api_send(struct MHD_Connection *conn, unsigned status, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), (void *)(uintptr_t)s,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	MHD_add_response_header(resp, "Content-Type", "application/json");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	json_object_put(o);
	return r;
}

/* A forensic snapshot's file, streamed from its descriptor (a disk can be
 * large); the id and the file name are checked by forensic_open. */
static enum MHD_Result api_forensic_file(struct MHD_Connection *conn, uid_t uid, const char *id,
					 const char *file)
{
	struct dock_err err = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result r;
	uint64_t size = 0;
	bool evidence = strcmp(file, "disk.luks") == 0 || strcmp(file, "memory.enc") == 0;
	int fd = -1, rc;

	/* The evidence leaves the dock only when the audit trail can say so. */
	if (evidence && audit_intent((int64_t)uid, "forensic-export", NULL, NULL, false, &err) < 0)
		return api_send(conn, 503, api_error_json(err.de_msg));
	rc = forensic_open(id, file, &fd, &size, &err);
	if (evidence) {
		/* the evidence leaves the dock */
		char result[600];
		char node[NODE_NAME_MAX + 1] = "";
		const char *dash = strrchr(id, '-');
		struct json_object *d = json_object_new_object();

		if (dash != NULL && (size_t)(dash - id) <= NODE_NAME_MAX)
			snprintf(node, sizeof(node), "%.*s", (int)(dash - id), id);
		json_object_object_add(d, "id", json_object_new_string(id));
		json_object_object_add(d, "file", json_object_new_string(file));
		snprintf(result, sizeof(result), "%s%s", rc < 0 ? "error: " : "ok",
			 rc < 0 ? err.de_msg : "");
		audit_append((int64_t)uid, "forensic-export",
			     validate_name("node", node, NODE_NAME_MAX, NULL) == 0 ? node : NULL,
			     result, d, NULL);
		json_object_put(d);
	}
	if (rc < 0)
		return api_send(conn, (unsigned)err.de_status, api_error_json(err.de_msg));
	resp = MHD_create_response_from_fd64(size, fd); /* owns fd now */
	if (resp == NULL) {
		close(fd);
		return api_send(conn, 500, api_error_json("cannot stream the file"));
	}
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	r = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A piece of the request body; past API_BODY_MAX the request is marked
 * and answered 413 when it is complete. */
static enum MHD_Result api_take_body(struct api_req *req, const char *upload_data,
				     size_t *upload_data_size)
{
	size_t n = *upload_data_size;

	if (!req->ar_too_large && req->ar_len + n <= API_BODY_MAX) {
		char *nb = realloc(req->ar_body, req->ar_len + n + 1);
		if (nb == NULL)
			return MHD_NO;
		req->ar_body = nb;
		memcpy(nb + req->ar_len, upload_data, n);
		req->ar_len += n;
		nb[req->ar_len] = '\0';
	} else {
		req->ar_too_large = true;
	}
	*upload_data_size = 0;
	return MHD_YES;
}

/* A caller who is neither root nor in the dock's group. */
static enum MHD_Result api_refuse(struct MHD_Connection *conn, uid_t uid, const char *method,
				  const char *url)
{
	log_warn("api: uid %d refused (%s %s): not root and not in group %s", (int)uid, method, url,
		 api_cfg->dc_socket_group);
	{
		/* Refusals are security events, reads included. */
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "method", json_object_new_string(method));
		json_object_object_add(d, "request", json_object_new_string(url));
		audit_append((int64_t)uid, "refused", NULL,
			     "error: not root and not in the dock's group", d, NULL);
		json_object_put(d);
	}
	return api_send(conn, 403,
			api_error_json("permission denied: not root and not in the dock's group"));
}

/* The intent of an action, recorded before it is done: an action the
 * audit trail cannot record is not done. Stop and destroy, the ways to
 * free space, may use the audit log's reserve. */
static int api_intent(uid_t uid, const char *method, const char *url, enum api_route_id id,
		      const char *name, const struct api_req *req, struct dock_err *err)
{
	struct json_object *d = json_object_new_object();
	struct node_spec spec;
	bool is_node;
	int r;

	/* A create names its node in the body; a bad body has none. */
	if (id == API_NODES_CREATE &&
	    spec_parse(api_body(req), req->ar_len, api_cfg, &spec, NULL) == 0)
		name = spec.ns_name;
	is_node = id != API_FORENSIC_RM && id != API_IMAGE_RM &&
		validate_name("node", name, NODE_NAME_MAX, NULL) == 0;

	json_object_object_add(d, "request",
			       json_object_new_string_len(url, (int)strnlen(url, 256)));
	json_object_object_add(d, "method", json_object_new_string(method));
	r = audit_intent((int64_t)uid, api_audit_action(id), is_node ? name : NULL, d,
			 id == API_NODE_STOP || id == API_NODE_DESTROY, err);
	json_object_put(d);
	return r;
}

/* A routed JSON call: its intent recorded, dispatched, its result
 * recorded when it is an action, answered. */
static enum MHD_Result api_answer(struct MHD_Connection *conn, uid_t uid, const char *method,
				  const char *url, enum api_route_id id, const char *name,
				  const struct api_req *req)
{
	struct dock_err err = { 0 };
	struct json_object *out = NULL, *detail = NULL;
	char subject[64] = "";
	int rc;

	snprintf(subject, sizeof(subject), "%s", name);
	if (api_audit_action(id) != NULL && api_intent(uid, method, url, id, name, req, &err) < 0) {
		log_err("api: uid %d %s %s refused: %s", (int)uid, method, url, err.de_msg);
		return api_send(conn, 503, api_error_json(err.de_msg));
	}
	rc = api_dispatch(conn, id, name, req, &out, subject, sizeof(subject), &detail, &err);
	if (api_audit_action(id) != NULL) {
		char result[600];
		snprintf(result, sizeof(result), "%s%s", rc < 0 || out == NULL ? "error: " : "ok",
			 rc < 0 || out == NULL ? err.de_msg : "");
		/* What came of it, with who asked (from the socket); from the
		 * reserve if need be: the action is done. */
		struct dock_err aerr = { 0 };
		if (audit_append((int64_t)uid, api_audit_action(id), subject[0] ? subject : NULL,
				 result, detail, &aerr) < 0)
			log_err("api: uid %d %s %s: %s", (int)uid, method, url, aerr.de_msg);
	}
	json_object_put(detail);
	if (rc < 0 || out == NULL) {
		if (!err_isset(&err))
			err_set(&err, 500, EIO, "internal error");
		if (strcmp(method, "GET") != 0)
			log_info("api: uid %d %s %s: %s", (int)uid, method, url, err.de_msg);
		json_object_put(out);
		return api_send(conn, (unsigned)err.de_status, api_error_json(err.de_msg));
	}
	if (strcmp(method, "GET") != 0)
		log_info("api: uid %d %s %s: ok", (int)uid, method, url);
	return api_send(conn, id == API_NODES_CREATE ? 201 : 200, out);
}

/* logs: a JSON answer (api_answer), or with follow=1 a stream
 * (api_logs_stream) until the node is destroyed or the client leaves. */
static enum MHD_Result api_logs(struct MHD_Connection *conn, uid_t uid, const char *method,
				const char *url, enum api_route_id id, const char *name,
				const struct api_req *req)
{
	struct dock_err err = { 0 };
	struct node_logs_opts o;
	bool follow = false;

	if (api_logs_opts(conn, id == API_NODE_FW_LOGS, &o, &follow, &err) == 0 && !follow)
		return api_answer(conn, uid, method, url, id, name, req);
	if (!err_isset(&err) && api_logs_stream(conn, name, &o, &err) == 0)
		return MHD_YES;
	return api_send(conn, (unsigned)err.de_status, api_error_json(err.de_msg));
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_req *req = *con_cls;
	char name[64] = "";
	enum api_route_id id;
	int status;
	uid_t uid = (uid_t)-1;

	(void)cls;
	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
		return api_take_body(req, upload_data, upload_data_size);
	if (!api_peer_allowed(conn, &uid))
		return api_refuse(conn, uid, method, url);
	if (req->ar_too_large)
		return api_send(conn, 413, api_error_json("request body larger than 64 KiB"));
	id = api_route(method, url, name, sizeof(name), &status);
	if (id == API_NONE)
		return api_send(conn, (unsigned)status,
				api_error_json(status == 405 ? "method not allowed on this path"
							     : "no such API path"));
	if (id == API_FORENSIC_FILE)
		return api_forensic_file(conn, uid, name, strrchr(url, '/') + 1);
	if (id == API_NODE_LOGS || id == API_NODE_FW_LOGS)
		return api_logs(conn, uid, method, url, id, name, req);
	return api_answer(conn, uid, method, url, id, name, req);
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_req *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req != NULL) {
		free(req->ar_body);
		free(req);
	}
	*con_cls = NULL;
}

int api_start(const struct dock_config *cfg, struct dock_err *err)
{
	struct group gr, *grp = NULL;
	char path[PATH_MAX], buf[4096];

	api_cfg = cfg;
	if (getgrnam_r(cfg->dc_socket_group, &gr, buf, sizeof(buf), &grp) == 0 && grp != NULL)
		api_gid = gr.gr_gid;
	else
		log_info("api: group %s does not exist; only root may use the API",
			 cfg->dc_socket_group);
	snprintf(path, sizeof(path), "%s/dockd.sock", cfg->dc_run_dir);
	api_fd = api_listen_open(path, api_gid, &api_activated, err);
	if (api_fd < 0)
		return api_fd;
	/* One thread per connection: a handler that blocks for a long time (a
	 * cleanse waits for the guest, a create for libvirt) holds only its own
	 * connection. In a worker pool it also held every connection its worker
	 * had accepted in the same round, and an `ls` hung behind a cleanse. */
	/* Streamed answers (api-stream.h): logs --follow. */
	if (api_stream_init(err) < 0) {
		close(api_fd);
		api_fd = -1;
		return -EIO;
	}
	api_daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
		NULL, NULL, api_access, NULL, MHD_OPTION_LISTEN_SOCKET, api_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)600, MHD_OPTION_NOTIFY_COMPLETED, api_completed, NULL, MHD_OPTION_END);
	if (api_daemon == NULL) {
		api_stream_fini();
		close(api_fd);
		api_fd = -1;
		return err_set(err, 500, EIO, "api: libmicrohttpd did not start on %s", path);
	}
	return 0;
}

void api_stop(void)
{
	char path[PATH_MAX];

	api_stream_fini(); /* the streams end: their threads may be joined */
	if (api_daemon != NULL)
		MHD_stop_daemon(api_daemon);
	api_daemon = NULL;
	if (api_fd >= 0)
		close(api_fd);
	api_fd = -1;
	if (api_cfg != NULL && !api_activated) { /* an activated socket is systemd's */
		snprintf(path, sizeof(path), "%s/dockd.sock", api_cfg->dc_run_dir);
		unlink(path);
	}
}
