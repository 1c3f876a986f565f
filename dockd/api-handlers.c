/* api-handlers: the API's handlers (api-int.h), one a route or a pair of
 * routes: each turns one node, image, forensic, audit or operations call
 * into JSON; api.c routes, audits and answers. */
#include "api-int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "api-audit.h"
#include "api-logs.h"
#include "api-ops.h"
#include "audit.h"
#include "flows.h"
#include "forensic.h"
#include "image.h"
#include "jsonin.h"
#include "log.h"
#include "node.h"
#include "validate.h"
#include "version.h"
#include "virt.h"

#define API_VERSION_STR "1"

static struct json_object *api_images_json(const struct dock_config *cfg)
{
	struct json_object *a = json_object_new_array();
	struct dirent *de;
	DIR *d = opendir(cfg->dc_image_dir);

	if (d == NULL)
		return a;
	while ((de = readdir(d)) != NULL) {
		struct image im;
		struct json_object *o;
		uint64_t total = 0;

		if (de->d_name[0] == '.' ||
		    image_load(cfg->dc_image_dir, de->d_name, &im, NULL) < 0)
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
		/* The build's SCAP scan: the lowest tailored score, null without one. */
		json_object_object_add(
			o, "scap_score",
			im.im_scan.is_score_cp >= 0
				? json_object_new_double((double)im.im_scan.is_score_cp / 100)
				: NULL);
		json_object_array_add(a, o);
	}
	closedir(d);
	return a;
}

const char *api_body(const struct api_req *req)
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

int api_version(const struct api_call *c)
{
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "api", json_object_new_string(API_VERSION_STR));
	json_object_object_add(*c->ac_out, "version", json_object_new_string(ISC_VERSION));
	json_object_object_add(*c->ac_out, "commit", json_object_new_string(ISC_COMMIT));
	json_object_object_add(*c->ac_out, "uri", json_object_new_string(c->ac_cfg->dc_uri));
	json_object_object_add(*c->ac_out, "accel",
			       json_object_new_string(virt_domain_type(c->ac_cfg->dc_accel)));
	api_add_audit_alarm(*c->ac_out);
	return 0;
}

int api_nodes_list(const struct api_call *c)
{
	*c->ac_out = node_list_json();
	return 0;
}

int api_node_create(const struct api_call *c)
{
	struct node_spec spec;

	if (spec_parse(api_body(c->ac_req), c->ac_req->ar_len, c->ac_cfg, &spec, c->ac_err) < 0)
		return -EINVAL;
	snprintf(c->ac_subject, c->ac_subject_size, "%s", spec.ns_name);
	return node_create(&spec, c->ac_out, c->ac_err);
}

int api_node_inspect(const struct api_call *c)
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
int api_node_start(const struct api_call *c)
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

int api_node_stop(const struct api_call *c)
{
	bool already = false;

	if (node_stop(c->ac_name, &already, c->ac_err) < 0)
		return -EIO;
	return api_node_view(c, already, NULL);
}

/* ?force=1: a running node too (node_destroy). */
int api_node_destroy(const struct api_call *c)
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

int api_node_status(const struct api_call *c)
{
	int r = node_status_json(c->ac_name, c->ac_out, c->ac_err);

	/* A dock-side finding that holds for every node. */
	if (r == 0)
		api_add_audit_alarm(*c->ac_out);
	return r;
}

/* publish and unpublish */
int api_node_publish(const struct api_call *c)
{
	char port[32];

	if (spec_port_parse(api_body(c->ac_req), c->ac_req->ar_len, port, sizeof(port), c->ac_err) <
		    0 ||
	    node_publish(c->ac_name, port, c->ac_id == API_NODE_PUBLISH, c->ac_err) < 0)
		return -EINVAL;
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

/* quarantine and release */
int api_node_quarantine(const struct api_call *c)
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

int api_node_cleanse(const struct api_call *c)
{
	if (node_cleanse(c->ac_name, c->ac_err) < 0)
		return -EIO;
	return node_inspect_json(c->ac_name, c->ac_out, c->ac_err);
}

/* the console log, or the firewall's drops (api-logs.h) */
int api_node_logs(const struct api_call *c)
{
	struct node_logs_opts o;
	bool follow;

	if (api_logs_opts(c->ac_conn, c->ac_id == API_NODE_FW_LOGS, &o, &follow, c->ac_err) < 0)
		return -EINVAL;
	return node_logs_json(c->ac_name, &o, c->ac_out, c->ac_err);
}

/* the whole policy, or one node's part */
int api_fw_show(const struct api_call *c)
{
	return node_fw_show_json(c->ac_id == API_FW_SHOW_NODE ? c->ac_name : NULL, c->ac_out,
				 c->ac_err);
}

int api_images_list(const struct api_call *c)
{
	*c->ac_out = api_images_json(c->ac_cfg);
	return 0;
}

/* DELETE /v1/images/NAME: refused while a node's record names the image. */
int api_image_rm(const struct api_call *c)
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
	if (image_remove(c->ac_cfg->dc_image_dir, c->ac_name, &rm, c->ac_err) < 0)
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

int api_node_snapshot(const struct api_call *c)
{
	bool memory = false;
	const struct spec_flag flags[] = { { "memory", &memory } };

	if (spec_flags_parse("snapshot request", api_body(c->ac_req), c->ac_req->ar_len, flags, 1,
			     c->ac_err) < 0)
		return -EINVAL;
	return node_snapshot(c->ac_name, memory, c->ac_out, c->ac_err);
}

int api_forensic_list(const struct api_call *c)
{
	*c->ac_out = forensic_list();
	return 0;
}

int api_forensic_rm(const struct api_call *c)
{
	if (forensic_remove(c->ac_name, c->ac_err) < 0)
		return -EIO;
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "removed", json_object_new_string(c->ac_name));
	return 0;
}

/* the records, or the chain's verification */
int api_audit(const struct api_call *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/audit.log", c->ac_cfg->dc_state_dir);
	if (c->ac_id == API_AUDIT_VERIFY)
		return audit_verify_json(path, c->ac_out, c->ac_err);
	return api_audit_list(c->ac_conn, c->ac_cfg->dc_state_dir, c->ac_out, c->ac_hdrs,
			      c->ac_err);
}

/* operations (api-ops.h); their wait is streamed by api_access */
int api_ops(const struct api_call *c)
{
	if (c->ac_id == API_OPS_LIST) {
		*c->ac_out = api_ops_list();
		return 0;
	}
	if (c->ac_id == API_OP_CANCEL)
		return api_ops_forget(c->ac_name, c->ac_out, c->ac_err);
	return api_ops_show(c->ac_name, c->ac_out, c->ac_err);
}

/* A lab's flows: GET the recorded ones; PUT {"flows":[{"from","to","port"}]}
 * replaces them all in one batch (flows_apply; full node names). */
int api_lab_flows(const struct api_call *c)
{
	static const struct jsonin_limits lim = { API_BODY_MAX, 8, FLOWS_MAX };
	struct json_object *body = NULL, *arr = NULL;
	struct flow *f = NULL;
	size_t n = 0;
	int r = 0;

	if (c->ac_id == API_LAB_FLOWS_SET) {
		r = jsonin_parse("flows request", api_body(c->ac_req), c->ac_req->ar_len, &lim,
				 &body, c->ac_err);
		if (r == 0)
			r = jsonin_array(body, "flows request", "flows", true, FLOWS_MAX, &arr,
					 c->ac_err);
		if (r == 0) {
			n = json_object_array_length(arr);
			f = calloc(n + 1, sizeof(*f));
			if (f == NULL)
				r = err_set(c->ac_err, 500, ENOMEM, "out of memory");
		}
		for (size_t i = 0; r == 0 && i < n; i++)
			r = flow_from_json(json_object_array_get_idx(arr, i), &f[i], c->ac_err);
		if (r == 0) {
			*c->ac_detail = json_object_new_object();
			json_object_object_add(*c->ac_detail, "flows", flows_to_json(f, n));
			r = flows_apply(c->ac_name, f, n, c->ac_err);
		}
		json_object_put(body);
		free(f);
		f = NULL;
		if (r < 0)
			return r;
	}
	r = flows_get(c->ac_name, &f, &n, c->ac_err);
	if (r == 0) {
		*c->ac_out = json_object_new_object();
		json_object_object_add(*c->ac_out, "lab", json_object_new_string(c->ac_name));
		json_object_object_add(*c->ac_out, "flows", flows_to_json(f, n));
	}
	free(f);
	return r;
}
