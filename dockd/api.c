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

#include "api-group.h"
#include "api-err.h"
#include "api-int.h"
#include "api-listen.h"
#include "api-logs.h"
#include "api-ops.h"
#include "api-stream.h"
#include "audit.h"
#include "forensic.h"
#include "image.h"
#include "log.h"
#include "node.h"
#include "validate.h"
#include "version.h"
#include "virt.h"

/* Supplementary groups of a caller we look at (SO_PEERGROUPS); more: refused. */
#define API_PEER_GROUPS_MAX 1024

static const struct dock_config *api_cfg;
static struct MHD_Daemon *api_daemon;
static int api_fd = -1;
static bool api_activated; /* api_fd came from systemd (api-listen.h) */

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
	gid_t groups[API_PEER_GROUPS_MAX], api_gid = api_group_gid();

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
	{ "GET", "/v1/nodes/*/audit", API_NODE_GAUDIT, api_node_gaudit, NULL },
	{ "GET", "/v1/nodes/*/audit/verify", API_NODE_GAUDIT_VERIFY, api_node_gaudit, NULL },
	{ "DELETE", "/v1/nodes/*/audit", API_NODE_GAUDIT_PURGE, api_node_gaudit,
	  "guest-audit-purge" },
	{ "GET", "/v1/audit", API_AUDIT_READ, api_audit, NULL },
	{ "GET", "/v1/audit/verify", API_AUDIT_VERIFY, api_audit, NULL },
	{ "GET", "/v1/operations", API_OPS_LIST, api_ops, NULL },
	{ "GET", "/v1/operations/*", API_OP_SHOW, api_ops, NULL },
	{ "DELETE", "/v1/operations/*", API_OP_CANCEL, api_ops, NULL },
	{ "GET", "/v1/operations/*/wait", API_OP_WAIT, NULL, NULL },
	{ "GET", "/v1/labs", API_LABS_LIST, api_labs_list, NULL },
	{ "POST", "/v1/labs", API_LABS_UP, api_lab_up, "lab-up" },
	{ "POST", "/v1/labs/validate", API_LABS_VALIDATE, api_lab_up, NULL },
	{ "GET", "/v1/labs/*", API_LAB_STATUS, api_lab_status, NULL },
	{ "DELETE", "/v1/labs/*", API_LAB_DOWN, api_lab_down, "lab-down" },
	{ "GET", "/v1/labs/*/flows", API_LAB_FLOWS, api_lab_flows, NULL },
	{ "PUT", "/v1/labs/*/flows", API_LAB_FLOWS_SET, api_lab_flows, "lab-flows" },
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

void api_allowed(const char *url, char *buf, size_t size)
{
	char name[64];
	size_t l = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]) && l < size; i++) {
		const char *m = api_routes[i].ar_method;
		if (api_match(api_routes[i].ar_pattern, url, name, sizeof(name)) && !strstr(buf, m))
			l += (size_t)snprintf(buf + l, size - l, "%s%s", l ? ", " : "", m);
	}
}

/* One request: *out the answer; *detail what the audit record adds. */
static int api_dispatch(struct MHD_Connection *conn, enum api_route_id id, const char *name,
			const struct api_req *req, struct json_object **out, char *subject,
			size_t subject_size, struct json_object **detail, struct api_hdrs *hdrs,
			struct dock_err *err)
{
	const struct api_call c = { .ac_conn = conn,
				    .ac_id = id,
				    .ac_name = name,
				    .ac_req = req,
				    .ac_out = out,
				    .ac_subject = subject,
				    .ac_subject_size = subject_size,
				    .ac_detail = detail,
				    .ac_hdrs = hdrs,
				    .ac_cfg = api_cfg,
				    .ac_err = err };
	api_handle_fn handle = api_handler(id);

	/* Node names are checked here; a forensic id by forensic_remove, an
	 * image's name by api_image_rm, an operation's id by api-ops. */
	if (name[0] != '\0' && id != API_FORENSIC_RM && id != API_IMAGE_RM && id != API_OP_SHOW &&
	    id != API_OP_CANCEL && validate_name("node", name, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	/* API_FORENSIC_FILE is streamed by api_forensic_file. */
	if (handle == NULL)
		return err_set(err, 404, ENOENT, "no such API route");
	return handle(&c);
}

static enum MHD_Result api_send(struct MHD_Connection *conn, unsigned status, struct json_object *o,
				const struct api_hdrs *h)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), (void *)(uintptr_t)s,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	MHD_add_response_header(resp, "Content-Type", "application/json");
	for (int i = 0; h != NULL && i < h->ah_n; i++)
		MHD_add_response_header(resp, h->ah_name[i], h->ah_value[i]);
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
		return api_send(conn, 503, api_err_body(503, "audit_unavailable", err.de_msg),
				NULL);
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
		return api_send(conn, (unsigned)err.de_status, api_err_json(&err), NULL);
	resp = MHD_create_response_from_fd64(size, fd); /* owns fd now */
	if (resp == NULL) {
		close(fd);
		return api_send(conn, 500, api_err_body(500, NULL, "cannot stream the file"), NULL);
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

	if (!req->ar_too_large && req->ar_len + n <= req->ar_max) {
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
	return api_send(
		conn, 403,
		api_err_body(403, NULL, "permission denied: not root and not in the dock's group"),
		NULL);
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

/* A call as it runs: on the connection's thread, or an operation's (its
 * own copies then; conn NULL: the operations' handlers take no query). */
struct api_job {
	struct MHD_Connection *aj_conn;
	uid_t aj_uid;
	char aj_method[8];
	char aj_url[API_URL_MAX + 1];
	enum api_route_id aj_id;
	char aj_name[64];
	struct api_req aj_req;
};

/* Dispatched, its result recorded when it is an action: the status and
 * the body to answer with, the headers in h. */
static unsigned api_run(const struct api_job *j, struct json_object **body, struct api_hdrs *h)
{
	struct dock_err err = { 0 };
	struct json_object *out = NULL, *detail = NULL, *v;
	const char *action = api_audit_action(j->aj_id);
	char subject[64] = "", loc[96];
	int rc;

	snprintf(subject, sizeof(subject), "%s", j->aj_name);
	rc = api_dispatch(j->aj_conn, j->aj_id, j->aj_name, &j->aj_req, &out, subject,
			  sizeof(subject), &detail, h, &err);
	if (action != NULL) {
		char result[600];
		snprintf(result, sizeof(result), "%s%s", rc < 0 || out == NULL ? "error: " : "ok",
			 rc < 0 || out == NULL ? err.de_msg : "");
		/* What came of it, with who asked (from the socket); from the
		 * reserve if need be: the action is done. */
		struct dock_err aerr = { 0 };
		if (audit_append((int64_t)j->aj_uid, action, subject[0] ? subject : NULL, result,
				 detail, &aerr) < 0)
			log_err("api: uid %d %s %s: %s", (int)j->aj_uid, j->aj_method, j->aj_url,
				aerr.de_msg);
	}
	json_object_put(detail);
	if (rc < 0 || out == NULL) {
		if (!err_isset(&err))
			err_set(&err, 500, EIO, "internal error");
		if (action != NULL)
			log_info("api: uid %d %s %s: %s", (int)j->aj_uid, j->aj_method, j->aj_url,
				 err.de_msg);
		json_object_put(out);
		*body = api_err_json(&err);
		return (unsigned)err.de_status;
	}
	if (action != NULL)
		log_info("api: uid %d %s %s: ok", (int)j->aj_uid, j->aj_method, j->aj_url);
	*body = out;
	if (j->aj_id != API_NODES_CREATE)
		return 200;
	if (json_object_object_get_ex(out, "name", &v)) {
		snprintf(loc, sizeof(loc), "/v1/nodes/%s", json_object_get_string(v));
		api_hdrs_add(h, "Location", loc);
	}
	return 201;
}

static unsigned api_job_run(void *arg, struct json_object **body)
{
	return api_run(arg, body, NULL);
}

static void api_job_free(void *arg)
{
	struct api_job *j = arg;

	free(j->aj_req.ar_body);
	free(j);
}

/* Did the client ask for an operation (RFC 7240's respond-async), on a
 * call that may take long? Other calls answer as they always did. */
static bool api_async_wanted(struct MHD_Connection *conn, enum api_route_id id)
{
	const char *p = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Prefer");

	return p != NULL && strcasestr(p, "respond-async") != NULL &&
		(id == API_NODES_CREATE || id == API_NODE_START || id == API_NODE_STOP ||
		 id == API_NODE_CLEANSE || id == API_NODE_SNAPSHOT);
}

/* 202 and the operation's view; the call runs on (api-ops.h). */
static enum MHD_Result api_async(const struct api_job *sync)
{
	struct dock_err err = { 0 };
	struct api_hdrs h = { 0 };
	struct json_object *view = NULL;
	struct node_spec spec;
	const char *node = sync->aj_name[0] ? sync->aj_name : NULL;
	char id[API_OP_ID_MAX], loc[64 + API_OP_ID_MAX];
	struct api_job *j = malloc(sizeof(*j));
	char *body = sync->aj_req.ar_body ? malloc(sync->aj_req.ar_len + 1) : NULL;

	if (body != NULL)
		memcpy(body, sync->aj_req.ar_body, sync->aj_req.ar_len + 1);
	if (j == NULL || (sync->aj_req.ar_body != NULL && body == NULL)) {
		free(j);
		free(body);
		return api_send(sync->aj_conn, 500, api_err_body(500, NULL, "out of memory"), NULL);
	}
	*j = *sync;
	j->aj_conn = NULL;
	j->aj_req.ar_body = body;
	if (sync->aj_id == API_NODES_CREATE &&
	    spec_parse(api_body(&sync->aj_req), sync->aj_req.ar_len, api_cfg, &spec, NULL) == 0)
		node = spec.ns_name;
	if (api_ops_start(api_audit_action(sync->aj_id), node, api_job_run, j, api_job_free, id,
			  &view, &err) < 0) {
		char result[600];
		/* its intent is recorded: so is its end */
		snprintf(result, sizeof(result), "error: %s", err.de_msg);
		audit_append((int64_t)sync->aj_uid, api_audit_action(sync->aj_id),
			     sync->aj_name[0] ? sync->aj_name : NULL, result, NULL, NULL);
		return api_send(sync->aj_conn, (unsigned)err.de_status, api_err_json(&err), NULL);
	}
	snprintf(loc, sizeof(loc), "/v1/operations/%s", id);
	api_hdrs_add(&h, "Location", loc);
	api_hdrs_add(&h, "Preference-Applied", "respond-async");
	return api_send(sync->aj_conn, 202, view, &h);
}

/* A routed JSON call: its intent recorded (an action the audit trail
 * cannot record is not done), run now or as an operation, answered. */
static enum MHD_Result api_answer(struct MHD_Connection *conn, uid_t uid, const char *method,
				  const char *url, enum api_route_id id, const char *name,
				  const struct api_req *req)
{
	struct dock_err err = { 0 };
	struct api_hdrs h = { 0 };
	struct json_object *body = NULL;
	struct api_job j = { .aj_conn = conn, .aj_uid = uid, .aj_id = id, .aj_req = *req };
	unsigned status;

	snprintf(j.aj_method, sizeof(j.aj_method), "%s", method);
	snprintf(j.aj_url, sizeof(j.aj_url), "%s", url);
	snprintf(j.aj_name, sizeof(j.aj_name), "%s", name);
	if (api_audit_action(id) != NULL && api_intent(uid, method, url, id, name, req, &err) < 0) {
		log_err("api: uid %d %s %s refused: %s", (int)uid, method, url, err.de_msg);
		return api_send(conn, 503, api_err_body(503, "audit_unavailable", err.de_msg),
				NULL);
	}
	if (api_async_wanted(conn, id))
		return api_async(&j);
	status = api_run(&j, &body, &h);
	return api_send(conn, status, body, &h);
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
	return api_send(conn, (unsigned)err.de_status, api_err_json(&err), NULL);
}

/* 404, or 405 with the methods the path takes (Allow). */
static enum MHD_Result api_no_route(struct MHD_Connection *conn, const char *url, int status)
{
	struct api_hdrs h = { 0 };
	char allow[64];

	if (status == 405) {
		api_allowed(url, allow, sizeof(allow));
		api_hdrs_add(&h, "Allow", allow);
	}
	return api_send(conn, (unsigned)status,
			api_err_body(status, NULL,
				     status == 405           ? "method not allowed on this path"
					     : status == 414 ? "request URL too long"
							     : "no such API path"),
			&h);
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
		/* The body limit is the route's: a lab file may be larger. */
		req->ar_max = API_BODY_MAX;
		if (api_route(method, url, name, sizeof(name), &status) == API_LABS_UP ||
		    api_route(method, url, name, sizeof(name), &status) == API_LABS_VALIDATE)
			req->ar_max = API_LAB_BODY_MAX;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
		return api_take_body(req, upload_data, upload_data_size);
	if (!api_peer_allowed(conn, &uid))
		return api_refuse(conn, uid, method, url);
	if (req->ar_too_large)
		return api_send(conn, 413,
				api_err_body(413, NULL,
					     req->ar_max > API_BODY_MAX
						     ? "request body larger than 256 KiB"
						     : "request body larger than 64 KiB"),
				NULL);
	id = api_route(method, url, name, sizeof(name), &status);
	if (id == API_NONE)
		return api_no_route(conn, url, status);
	if (id == API_FORENSIC_FILE)
		return api_forensic_file(conn, uid, name, strrchr(url, '/') + 1);
	if (id == API_NODE_LOGS || id == API_NODE_FW_LOGS)
		return api_logs(conn, uid, method, url, id, name, req);
	if (id == API_OP_WAIT) {
		struct dock_err err = { 0 };
		if (api_ops_wait(conn, name, &err) == 0)
			return MHD_YES;
		return api_send(conn, (unsigned)err.de_status, api_err_json(&err), NULL);
	}
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
	char path[PATH_MAX];

	api_cfg = cfg;
	snprintf(path, sizeof(path), "%s/dockd.sock", cfg->dc_run_dir);
	api_fd = api_listen_open(path, (gid_t)-1, &api_activated, err);
	if (api_fd < 0)
		return api_fd;
	/* root:socket_group 0660, and again when a missing group appears. */
	api_group_start(cfg->dc_socket_group, path);
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
	api_group_stop();
	api_ops_fini(); /* the running operations end */
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
