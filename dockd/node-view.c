/* node-view: the JSON views of nodes the API answers with: ls (summary),
 * inspect, status (the validation table, checks.h, from what libvirt, the
 * disk, the firewall and the agent say); the logs are node-logs.c's.
 * Read-only: each copies what it needs under node_lock and does its I/O
 * after. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "luks.h"
#include "virt.h"

/* ---- views --------------------------------------------------------------- */

static struct json_object *node_hello_json(const struct node_rec *r)
{
	struct json_object *h;

	if (!r->nr_have_hello)
		return NULL;
	h = json_object_new_object();
	json_object_object_add(h, "protocol",
			       json_object_new_int64((int64_t)r->nr_hello.ah_protocol));
	json_object_object_add(h, "agent", json_object_new_string(r->nr_hello.ah_agent));
	json_object_object_add(h, "boot_id", json_object_new_string(r->nr_hello.ah_boot_id));
	json_object_object_add(h, "kernel", json_object_new_string(r->nr_hello.ah_kernel));
	json_object_object_add(h, "hostname", json_object_new_string(r->nr_hello.ah_hostname));
	json_object_object_add(h, "received", json_object_new_int64(r->nr_hello.ah_received));
	return h;
}

/* One word for ls: hostile beats silent beats ready. */
static const char *node_agent_word(const struct node *n)
{
	int64_t now = (int64_t)time(NULL);

	if (n->n_rec.nr_state != NODE_RUNNING)
		return "-";
	if (n->n_paused)
		return "paused";
	if (n->n_bad + n->n_overlong + n->n_dropped > 0)
		return "hostile";
	if (n->n_rec.nr_have_hello &&
	    now - (n->n_last_heartbeat ? n->n_last_heartbeat : n->n_rec.nr_hello.ah_received) >
		    (int64_t)node_cfg->dc_agent_deadline_s)
		return "silent";
	if (n->n_rec.nr_have_hello)
		return "ready";
	return n->n_agent_connected ? "connected" : "none";
}

/* The operation a node is busy with, as a verb ("cleanse"): n_op says it
 * as "cleansing" (inspect's "busy", the 409's message). */
static const char *node_op_verb(const char *op)
{
	static const char *const verbs[][2] = {
		{ "creating", "create" },         { "starting", "start" },
		{ "stopping", "stop" },           { "destroying", "destroy" },
		{ "cleansing", "cleanse" },       { "snapshotting", "snapshot" },
		{ "publishing", "publish" },      { "unpublishing", "unpublish" },
		{ "quarantining", "quarantine" }, { "releasing", "release" },
	};

	for (size_t i = 0; op != NULL && i < NVARS(verbs); i++)
		if (strcmp(op, verbs[i][0]) == 0)
			return verbs[i][1];
	return op;
}

static struct json_object *node_summary_json(const struct node *n)
{
	const struct node_rec *r = &n->n_rec;
	struct json_object *o = json_object_new_object(), *ports;
	struct netpool_subnet sn;

	netpool_subnet(&node_cfg->dc_pool, r->nr_subnet, &sn);
	json_object_object_add(o, "name", json_object_new_string(r->nr_name));
	if (r->nr_state == NODE_CLEANSING && r->nr_phase != NODE_PHASE_NONE) {
		char st[40];
		snprintf(st, sizeof(st), "cleansing:%s", state_phase_name(r->nr_phase));
		json_object_object_add(o, "state", json_object_new_string(st));
	} else {
		json_object_object_add(
			o, "state",
			json_object_new_string(r->nr_quarantined && r->nr_state == NODE_RUNNING
						       ? "quarantined"
						       : state_name(r->nr_state)));
	}
	json_object_object_add(o, "image", json_object_new_string(r->nr_image));
	json_object_object_add(o, "lab", r->nr_lab[0] ? json_object_new_string(r->nr_lab) : NULL);
	json_object_object_add(o, "ip", json_object_new_string(sn.ns_node_ip));
	json_object_object_add(o, "created", json_object_new_int64(r->nr_created));
	json_object_object_add(o, "agent", json_object_new_string(node_agent_word(n)));
	ports = json_object_new_array();
	for (size_t i = 0; i < r->nr_n_published && i < NODE_PUBLISH_MAX; i++)
		json_object_array_add(ports, json_object_new_string(r->nr_published[i]));
	json_object_object_add(o, "ports", ports);
	/* The operation under way and its step: what a waiting client shows. */
	json_object_object_add(o, "op",
			       n->n_op ? json_object_new_string(node_op_verb(n->n_op)) : NULL);
	json_object_object_add(o, "op_phase",
			       n->n_op && n->n_op_phase ? json_object_new_string(n->n_op_phase)
							: NULL);
	return o;
}

struct json_object *node_list_json(void)
{
	struct json_object *a = json_object_new_array();

	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < node_count; i++)
		json_object_array_add(a, node_summary_json(node_table[i]));
	pthread_mutex_unlock(&node_lock);
	return a;
}

size_t node_image_users(const char *image, char *out, size_t size)
{
	size_t cnt = 0, len = 0;

	if (size > 0)
		out[0] = '\0';
	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < node_count; i++) {
		const struct node_rec *r = &node_table[i]->n_rec;
		int w;

		if (strcmp(r->nr_image, image) != 0)
			continue;
		if (len < size) {
			w = snprintf(out + len, size - len, "%s%s", cnt ? ", " : "", r->nr_name);
			len += w > 0 ? (size_t)w : 0;
		}
		cnt++;
	}
	pthread_mutex_unlock(&node_lock);
	return cnt;
}

/* How the node boots: {"mode":"kernel","kernel","initrd","cmdline"} or
 * {"mode":"efi","loader","nvram","nvram_template","nvram_exists"}. */
static struct json_object *node_boot_json(const struct image *im, bool have_im,
					  const struct node_names *nn)
{
	struct json_object *b = json_object_new_object();
	char path[PATH_MAX];

	if (!have_im) {
		json_object_object_add(b, "mode", NULL);
		return b;
	}
	if (im->im_boot == IMAGE_BOOT_KERNEL) {
		json_object_object_add(b, "mode", json_object_new_string("kernel"));
		image_path(im, im->im_kernel, path, sizeof(path));
		json_object_object_add(b, "kernel", json_object_new_string(path));
		image_path(im, im->im_initrd, path, sizeof(path));
		json_object_object_add(b, "initrd", json_object_new_string(path));
		json_object_object_add(b, "cmdline", json_object_new_string(im->im_cmdline));
		return b;
	}
	json_object_object_add(b, "mode", json_object_new_string("efi"));
	json_object_object_add(b, "loader", json_object_new_string(node_cfg->dc_ovmf_code));
	json_object_object_add(b, "nvram", json_object_new_string(nn->nn_nvram));
	json_object_object_add(b, "nvram_template", json_object_new_string(node_cfg->dc_ovmf_vars));
	json_object_object_add(b, "nvram_exists",
			       json_object_new_boolean(access(nn->nn_nvram, F_OK) == 0));
	return b;
}

/* inspect's identity: phase, reason, busy, paused, names, addresses, sizes. */
static void node_inspect_head(struct json_object *o, const struct node_rec *r,
			      const struct node_names *nn, const char *op, bool paused)
{
	json_object_object_add(o, "phase",
			       r->nr_phase ? json_object_new_string(state_phase_name(r->nr_phase))
					   : NULL);
	json_object_object_add(o, "reason", json_object_new_string(r->nr_reason));
	json_object_object_add(o, "busy", op ? json_object_new_string(op) : NULL);
	json_object_object_add(o, "paused", json_object_new_boolean(paused));
	json_object_object_add(o, "domain", json_object_new_string(nn->nn_domain));
	json_object_object_add(o, "network", json_object_new_string(nn->nn_network));
	json_object_object_add(o, "bridge", json_object_new_string(nn->nn_subnet.ns_bridge));
	json_object_object_add(o, "subnet", json_object_new_string(nn->nn_subnet.ns_cidr));
	json_object_object_add(o, "gateway", json_object_new_string(nn->nn_subnet.ns_gateway));
	json_object_object_add(o, "mac", json_object_new_string(r->nr_mac));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)r->nr_memory_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64((int64_t)r->nr_vcpus));
	json_object_object_add(o, "limits", resctl_json(&r->nr_limits));
}

/* {"base":{path,sha256,pinned_sha256,readonly},"ephemeral":{...}}; *have_im: the image
 * loaded into *im. */
static struct json_object *node_disks_json(const struct node_rec *r, struct image *im,
					   bool *have_im)
{
	struct json_object *disks = json_object_new_object(), *base = json_object_new_object(),
			   *eph;

	*have_im = image_load(node_cfg->dc_image_dir, r->nr_image, im, NULL) == 0;
	if (*have_im) {
		char path[PATH_MAX];
		image_path(im, im->im_base, path, sizeof(path));
		json_object_object_add(base, "path", json_object_new_string(path));
		json_object_object_add(base, "sha256",
				       json_object_new_string(im->im_base->if_sha256));
	}
	/* The base the node boots (pin.h): sha256 above differs after a rebuild. */
	json_object_object_add(base, "pinned_sha256", json_object_new_string(r->nr_base_sha256));
	json_object_object_add(base, "readonly", json_object_new_boolean(1));
	json_object_object_add(disks, "base", base);
	eph = json_object_new_object();
	json_object_object_add(eph, "path", json_object_new_string(r->nr_volume));
	json_object_object_add(eph, "format", json_object_new_string("luks"));
	json_object_object_add(eph, "secret_uuid", json_object_new_string(r->nr_secret_uuid));
	json_object_object_add(eph, "size_mib", json_object_new_int64((int64_t)r->nr_scratch_mib));
	json_object_object_add(disks, "ephemeral", eph);
	return disks;
}

/* The last complete report of this boot, for a client waiting on the node:
 * {"time","facts","complete"}, or NULL before the first. complete: every
 * fact the checks judge is in it (an agent before protocol 3 has its
 * reports counted only when whole by its own count: complete). */
static struct json_object *node_report_json(const struct node_report *rep)
{
	struct json_object *o;
	int64_t facts = 0;

	if (rep == NULL || rep->rp_time == 0)
		return NULL;
	for (int i = 0; i < AF_COUNT; i++)
		facts += rep->rp_have[i];
	o = json_object_new_object();
	json_object_object_add(o, "time", json_object_new_int64(rep->rp_time));
	json_object_object_add(o, "facts", json_object_new_int64(facts));
	json_object_object_add(
		o, "complete",
		json_object_new_boolean(facts == AF_COUNT ||
					rep->rp_protocol < AGENT_PROTOCOL_UNDODGEABLE));
	return o;
}

static struct json_object *node_inspect_agent_json(const struct node_rec *r,
						   const struct node_names *nn, bool connected,
						   uint64_t hbs, int64_t hb, uint64_t hellos,
						   const struct node_report *rep)
{
	struct json_object *agent = json_object_new_object(), *hello;

	json_object_object_add(agent, "socket", json_object_new_string(nn->nn_socket));
	json_object_object_add(agent, "connected", json_object_new_boolean(connected));
	hello = node_hello_json(r);
	json_object_object_add(agent, "hello", hello);
	json_object_object_add(agent, "heartbeats", json_object_new_int64((int64_t)hbs));
	json_object_object_add(agent, "last_heartbeat", hb ? json_object_new_int64(hb) : NULL);
	json_object_object_add(agent, "hellos", json_object_new_int64((int64_t)hellos));
	json_object_object_add(agent, "report", node_report_json(rep));
	return agent;
}

static struct json_object *node_inspect_fw_json(const struct node_rec *r)
{
	struct json_object *fw = json_object_new_object(), *pub = json_object_new_array(),
			   *allow = json_object_new_array();

	for (size_t i = 0; i < r->nr_n_published; i++)
		json_object_array_add(pub, json_object_new_string(r->nr_published[i]));
	for (size_t i = 0; i < r->nr_n_allow; i++)
		json_object_array_add(allow, json_object_new_string(r->nr_egress_allow[i]));
	json_object_object_add(fw, "published", pub);
	json_object_object_add(fw, "egress",
			       json_object_new_string(r->nr_egress_deny ? "deny" : "allow"));
	json_object_object_add(fw, "egress_allow", allow);
	json_object_object_add(fw, "quarantined", json_object_new_boolean(r->nr_quarantined));
	return fw;
}

/* inspect's life: lifetime, cleanses, timing, policies, failing checks. */
static void node_inspect_tail(struct json_object *o, const struct node_rec *r,
			      const struct timing *tm)
{
	struct json_object *f = json_object_new_array();

	json_object_object_add(o, "lifetime_s", json_object_new_int64((int64_t)r->nr_lifetime_s));
	json_object_object_add(o, "next_cleanse",
			       r->nr_cleanse_at ? json_object_new_int64(r->nr_cleanse_at) : NULL);
	json_object_object_add(o, "cleanses", json_object_new_int64((int64_t)r->nr_cleanses));
	json_object_object_add(o, "id",
			       json_object_new_string(r->nr_id)); /* its guest audit log's key */
	json_object_object_add(o, "timing", timing_json(tm));
	state_policies_json(o, r);
	for (size_t i = 0; i < r->nr_n_failing; i++)
		json_object_array_add(f, json_object_new_string(r->nr_failing[i]));
	json_object_object_add(o, "failing", f);
}

int node_inspect_json(const char *name, struct json_object **out, struct dock_err *err)
{
	struct json_object *o;
	struct node_names nn;
	struct image im;
	struct node_rec r;
	struct timing tm;
	struct node *n;
	bool connected, have_im, paused;
	int64_t hb;
	uint64_t hbs, hellos = 0;
	const char *op;
	struct node_report *rep = NULL;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL) {
		r = n->n_rec;
		if (n->n_report != NULL && (rep = malloc(sizeof(*rep))) != NULL)
			*rep = *n->n_report;
		paused = n->n_paused;
		connected = n->n_agent_connected;
		hb = n->n_last_heartbeat;
		hbs = n->n_heartbeats;
		hellos = n->n_hellos;
		op = n->n_op;
		tm = n->n_timing;
		o = node_summary_json(n);
	}
	pthread_mutex_unlock(&node_lock);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	node_names(&r, &nn);
	node_inspect_head(o, &r, &nn, op, paused);
	json_object_object_add(o, "disks", node_disks_json(&r, &im, &have_im));
	json_object_object_add(o, "boot", node_boot_json(&im, have_im, &nn));
	json_object_object_add(o, "agent",
			       node_inspect_agent_json(&r, &nn, connected, hbs, hb, hellos, rep));
	free(rep);
	json_object_object_add(o, "console_log", json_object_new_string(nn.nn_console));
	json_object_object_add(o, "firewall", node_inspect_fw_json(&r));
	node_inspect_tail(o, &r, &tm);
	*out = o;
	return 0;
}

/* ---- the validation table ------------------------------------------------------- */

/* Do the ports published in the kernel equal the record's? */
static int node_published_match(const struct node_rec *r, const struct fw_show_node *sn)
{
	size_t want = 0;

	for (size_t k = 0; k < r->nr_n_published; k++)
		want += !(r->nr_withheld & (1u << k)); /* withheld: not installed, by design */
	if (sn->sn_npublished != want)
		return 0;
	for (size_t i = 0; i < sn->sn_npublished; i++) {
		char spec[32];
		bool found = false;
		fw_publish_format(&sn->sn_published[i], spec, sizeof(spec));
		for (size_t k = 0; k < r->nr_n_published; k++)
			found |= !(r->nr_withheld & (1u << k)) &&
				strcmp(spec, r->nr_published[k]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* What libvirt, the disk and the firewall say about the node. */
static void node_dock_facts(const struct node_rec *r, const struct node_names *nn,
			    struct dock_facts *df)
{
	char *dx = virt_xml(VIRT_DOMAINS, nn->nn_domain),
	     *nx = virt_xml(VIRT_NETWORKS, nn->nn_network),
	     *sx = virt_xml(VIRT_SECRETS, r->nr_secret_uuid), base[PATH_MAX] = "";
	struct dock_err e = { 0 };
	struct fw_show_node fwn = { 0 };
	struct fw_show *fs = NULL;
	struct image im;

	memset(df, 0, sizeof(*df));
	if (image_load(node_cfg->dc_image_dir, r->nr_image, &im, &e) == 0) {
		image_path(&im, im.im_base, base, sizeof(base));
		if (image_verify(&im, &e) == 0) {
			df->df_digest_ok = 1;
			snprintf(df->df_digest_note, sizeof(df->df_digest_note),
				 "sha256 %.16s... matches the manifest", im.im_base->if_sha256);
		}
	}
	if (df->df_digest_ok != 1)
		snprintf(df->df_digest_note, sizeof(df->df_digest_note), "%s", e.de_msg);
	df->df_running = dx != NULL;
	checks_dock_from_xml(dx, nx, sx, base, r->nr_volume, r->nr_secret_uuid, nn->nn_network, df);
	df->df_eph_header = luks_header_present(r->nr_volume);
	err_clear(&e);
	if (fw_show(r->nr_name, &fs, &e) < 0) {
		memcpy(df->df_fw_note, e.de_msg, sizeof(df->df_fw_note));
	} else if (!fs->fs_policy_ok) {
		snprintf(df->df_fw_note, sizeof(df->df_fw_note),
			 "firewall: table inet isc altered: %s", fs->fs_policy_problem);
	} else if (fs->fs_nnodes != 1 || !fs->fs_nodes[0].sn_isolated ||
		   !fs->fs_nodes[0].sn_antispoof) {
		snprintf(df->df_fw_note, sizeof(df->df_fw_note),
			 "firewall: the node's isolation or anti-spoofing is incomplete");
	} else {
		df->df_fw_in_force = 1;
		snprintf(df->df_fw_note, sizeof(df->df_fw_note),
			 "inet isc: default-deny, anti-spoofing, %zu published port(s)%s%s",
			 fs->fs_nodes[0].sn_npublished,
			 fs->fs_nodes[0].sn_quarantined ? ", QUARANTINED" : "",
			 fs->fs_nwarnings ? "; warning: another table may drop its traffic" : "");
		df->df_fw_published_ok = node_published_match(r, &fs->fs_nodes[0]);
	}
	snprintf(df->df_ports_withheld, sizeof(df->df_ports_withheld), "%s", r->nr_withheld_why);
	if (fs != NULL && fs->fs_nnodes == 1)
		fwn = fs->fs_nodes[0]; /* its bandwidth, for the `resources` row */
	fw_show_free(fs);
	df->df_want_vcpus = r->nr_vcpus;
	df->df_vcpus = virt_domain_vcpus(nn->nn_domain);
	df->df_want_hard_limit_kib = (r->nr_memory_mib + NODE_QEMU_OVERHEAD_MIB) * 1024;
	df->df_hard_limit_kib = virt_domain_hard_limit(nn->nn_domain);
	df->df_want_limits = r->nr_limits;
	node_resctl_facts(r, nn, dx, &fwn, &df->df_limits);
	if (df->df_running)
		node_vmm_facts(r, nn, &df->df_vmm, df->df_vmm_note, sizeof(df->df_vmm_note));
	free(dx);
	free(nx);
	free(sx);
}

int node_status_json(const char *name, struct json_object **out, struct dock_err *err)
{
	static const bool none[AF_COUNT];
	struct node_report *rep = NULL;
	struct check_row rows[CHECKS_MAX];
	struct dock_facts df;
	struct agent_view av = { 0 };
	struct checks_node cn = { 0 };
	struct node_names nn;
	struct node_rec r;
	struct profile prof;
	bool have_prof = false;
	struct node *n;
	size_t cnt;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL) {
		r = n->n_rec;
		have_prof = n->n_have_profile;
		if (have_prof)
			prof = n->n_profile;
		av.av_connected = n->n_agent_connected;
		/* Any line from the agent is a sign of life, a heartbeat or not. */
		av.av_last_heartbeat = n->n_last_heartbeat;
		if (r.nr_have_hello && r.nr_hello.ah_received > av.av_last_heartbeat)
			av.av_last_heartbeat = r.nr_hello.ah_received;
		if (n->n_report != NULL && n->n_report->rp_time > av.av_last_heartbeat)
			av.av_last_heartbeat = n->n_report->rp_time;
		av.av_bad = n->n_bad;
		av.av_overlong = n->n_overlong;
		av.av_dropped = n->n_dropped;
		node_gaudit_view_locked(n, &av.av_audit);
		if (n->n_report != NULL && (rep = malloc(sizeof(*rep))) != NULL)
			*rep = *n->n_report;
	}
	pthread_mutex_unlock(&node_lock);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	node_names(&r, &nn);
	node_dock_facts(&r, &nn, &df);
	av.av_report_time = rep ? rep->rp_time : 0;
	av.av_facts = rep ? rep->rp_facts : NULL;
	av.av_have = rep ? rep->rp_have : none;
	av.av_protocol = rep ? rep->rp_protocol : 0;
	av.av_announced = rep ? rep->rp_announced : 0;
	av.av_miss = rep ? rep->rp_miss : NULL;
	cn.cn_name = r.nr_name;
	cn.cn_ip = nn.nn_subnet.ns_node_ip;
	cn.cn_mac = r.nr_mac;
	cn.cn_now = (int64_t)time(NULL);
	cn.cn_deadline_s = (int64_t)node_cfg->dc_agent_deadline_s;
	cnt = checks_evaluate(&cn, &df, &av, have_prof ? &prof : NULL, rows, CHECKS_MAX);
	*out = checks_json(name, rows, cnt);
	json_object_object_add(*out, "state", json_object_new_string(state_name(r.nr_state)));
	json_object_object_add(*out, "profile", json_object_new_string(r.nr_profile));
	json_object_object_add(*out, "lab", r.nr_lab[0] ? json_object_new_string(r.nr_lab) : NULL);
	json_object_object_add(*out, "report_time",
			       rep ? json_object_new_int64(rep->rp_time) : NULL);
	free(rep);
	return 0;
}
