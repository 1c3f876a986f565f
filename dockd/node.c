/* node: node life cycle on top of virt (libvirt), luks, render, image,
 * state and the firewall. */
#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "audit.h"
#include "checks.h"
#include "forensic.h"
#include "fw.h"
#include "image.h"
#include "jsonin.h"
#include "log.h"
#include "luks.h"
#include "netpool.h"
#include "render.h"
#include "timing.h"
#include "virt.h"

#define NODE_MAX 1024
/* QEMU's own memory on top of guest RAM (TCG's code cache included). */
#define NODE_QEMU_OVERHEAD_MIB 512

/* One agent report: the facts of one `report` sequence number. */
struct node_report {
	uint64_t rp_seq;
	int64_t rp_time;            /* when report_end arrived */
	bool rp_have[AF_COUNT];
	struct agent_fact rp_facts[AF_COUNT];
};

struct node {
	struct node_rec n_rec;
	const char *n_op;          /* operation in progress, NULL when idle */
	bool n_agent_connected;
	int64_t n_last_heartbeat;
	uint64_t n_heartbeats;
	struct node_report *n_report;  /* last complete report */
	struct node_report *n_pending; /* being received */
	uint64_t n_bad, n_overlong, n_dropped; /* hostile input, from the reader */
	bool n_hostile_handled;    /* the on_hostile policy ran for this boot */
	bool n_silent_handled;     /* the on_silent policy ran for this silence */
	bool n_want_shutdown;      /* cleanse: agentchan sends the agent a shutdown request */
	bool n_shutdown_acked;     /* ... and the agent acknowledged it */
	bool n_paused;             /* quarantine --pause: the domain is paused */
	int64_t n_resumed_at;      /* when release resumed it: silence counts from then */
	int64_t n_fail_since[CHECKS_MAX]; /* by row: first report of this boot saying FAIL, 0 none */
	bool n_have_profile;
	struct profile n_profile;
	struct timing n_timing;    /* the last create/start/cleanse, not persisted */
};

static const struct dock_config *node_cfg;
static pthread_mutex_t node_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *nodes[NODE_MAX];
static size_t n_nodes;

/* ---- names of a node's resources ---------------------------------------- */

struct node_names {
	char nn_domain[NODE_NAME_MAX + 16];
	char nn_network[NODE_NAME_MAX + 16];
	char nn_volume[NODE_NAME_MAX + 16];
	char nn_socket[PATH_MAX];
	char nn_console[PATH_MAX];
	char nn_nvram[PATH_MAX];   /* UEFI variable store of efi images' nodes */
	struct netpool_subnet nn_subnet;
};

/* A node's UEFI variables: state_dir/nvram/NAME_VARS.fd (libvirt's own
 * naming), made by libvirt from ovmf_vars at the first start. */
#define NODE_NVRAM_DIR "nvram"
#define NODE_NVRAM_SUFFIX "_VARS.fd"


static void node_names(const struct node_rec *r, struct node_names *nn)
{
	snprintf(nn->nn_domain, sizeof(nn->nn_domain), NODE_PREFIX "%s", r->nr_name);
	snprintf(nn->nn_network, sizeof(nn->nn_network), NODE_PREFIX "%s", r->nr_name);
	snprintf(nn->nn_volume, sizeof(nn->nn_volume), NODE_PREFIX "%s.img", r->nr_name);
	snprintf(nn->nn_socket, sizeof(nn->nn_socket), "%s/agents/%s.sock", node_cfg->dc_run_dir,
		 r->nr_name);
	snprintf(nn->nn_console, sizeof(nn->nn_console), "%s/console/%s.log",
		 node_cfg->dc_run_dir, r->nr_name);
	snprintf(nn->nn_nvram, sizeof(nn->nn_nvram), "%s/" NODE_NVRAM_DIR "/%s" NODE_NVRAM_SUFFIX,
		 node_cfg->dc_state_dir, r->nr_name);
	netpool_subnet(&node_cfg->dc_pool, r->nr_subnet, &nn->nn_subnet);
}

/* The node as the firewall sees it; the view owns what fw_node borrows. */
struct node_fwview {
	struct fw_node fv_node;
	struct fw_publish fv_pub[NODE_PUBLISH_MAX];
	const char *fv_allow[NODE_ALLOW_MAX];
};

static void node_fw(const struct node_rec *r, const struct node_names *nn,
		    struct node_fwview *fv)
{
	size_t np = 0;

	memset(fv, 0, sizeof(*fv));
	for (size_t i = 0; i < r->nr_n_published; i++)
		if (fw_publish_parse(r->nr_published[i], &fv->fv_pub[np], NULL) == 0)
			np++;
	for (size_t i = 0; i < r->nr_n_allow; i++)
		fv->fv_allow[i] = r->nr_egress_allow[i];
	fv->fv_node = (struct fw_node){
		.fn_name = r->nr_name,
		.fn_bridge = nn->nn_subnet.ns_bridge,
		.fn_subnet_cidr = nn->nn_subnet.ns_cidr,
		.fn_ip = nn->nn_subnet.ns_node_ip,
		.fn_mac = r->nr_mac,
		.fn_gateway = nn->nn_subnet.ns_gateway,
		.fn_published = fv->fv_pub,
		.fn_npublished = np,
		.fn_egress_deny = r->nr_egress_deny,
		.fn_egress_allow = fv->fv_allow,
		.fn_negress_allow = r->nr_egress_deny ? r->nr_n_allow : 0,
		.fn_quarantined = r->nr_quarantined,
	};
}

/* ---- the table ----------------------------------------------------------- */

static struct node *node_find_locked(const char *name)
{
	for (size_t i = 0; i < n_nodes; i++)
		if (strcmp(nodes[i]->n_rec.nr_name, name) == 0)
			return nodes[i];
	return NULL;
}

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	free(n->n_report);
	free(n->n_pending);
	free(n);
}

static void node_remove_locked(struct node *n)
{
	for (size_t i = 0; i < n_nodes; i++) {
		if (nodes[i] == n) {
			nodes[i] = nodes[--n_nodes];
			break;
		}
	}
	node_free(n);
}

/* The node's profile, cached; a missing or broken one is logged once. */
static void node_load_profile(struct node *n)
{
	char dir[PATH_MAX];
	struct dock_err e = { 0 };

	n->n_have_profile = false;
	if (n->n_rec.nr_profile[0] == '\0')
		return;
	snprintf(dir, sizeof(dir), "%s/profiles", node_cfg->dc_template_dir);
	if (profile_load(dir, n->n_rec.nr_profile, &n->n_profile, &e) == 0) {
		n->n_have_profile = true;
		return;
	}
	/* No file: the image's own manifest says how its nodes are judged. */
	if (e.de_status == 404 && strcmp(n->n_rec.nr_profile, n->n_rec.nr_image) == 0) {
		struct image im;

		if (image_load(node_cfg->dc_image_dir, n->n_rec.nr_image, &im, NULL) == 0 &&
		    im.im_have_service) {
			n->n_profile = im.im_service;
			n->n_have_profile = true;
			return;
		}
	}
	log_warn("node %s: %s", n->n_rec.nr_name, e.de_msg);
}

/* Mark the node busy with `op`; refuse if unknown or busy. */
static int node_acquire(const char *name, const char *op, struct node **out,
			struct dock_err *err)
{
	struct node *n;
	int r = 0;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n == NULL)
		r = err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	else if (n->n_op != NULL)
		r = err_set(err, 409, EBUSY, "node \"%s\" is busy (%s)", name, n->n_op);
	else
		n->n_op = op;
	pthread_mutex_unlock(&node_lock);
	*out = r == 0 ? n : NULL;
	return r;
}

static void node_release(struct node *n)
{
	pthread_mutex_lock(&node_lock);
	n->n_op = NULL;
	pthread_mutex_unlock(&node_lock);
}

/* Record a transition (before the side effect it announces). */
static int node_commit(struct node *n, enum node_state st, const char *reason,
		       struct dock_err *err)
{
	int r;

	pthread_mutex_lock(&node_lock);
	n->n_rec.nr_state = st;
	/* A failed cleanse keeps the phase it stopped in, for the operator. */
	if (st != NODE_CLEANSING && st != NODE_FAILED)
		n->n_rec.nr_phase = NODE_PHASE_NONE;
	snprintf(n->n_rec.nr_reason, sizeof(n->n_rec.nr_reason), "%s", reason ? reason : "");
	r = state_save(node_cfg->dc_state_dir, &n->n_rec, err);
	pthread_mutex_unlock(&node_lock);
	if (r == 0)
		log_debug("node %s: %s", n->n_rec.nr_name, state_name(st));
	return r;
}

/* Adds the time since `since` to a phase of the node's current operation;
 * returns now, the next phase's start. */
static int64_t node_time(struct node *n, enum timing_phase p, int64_t since)
{
	int64_t now = timing_now();

	pthread_mutex_lock(&node_lock);
	timing_add(&n->n_timing, p, since, now);
	pthread_mutex_unlock(&node_lock);
	return now;
}

static void node_timing_begin(struct node *n, const char *op, int64_t now)
{
	pthread_mutex_lock(&node_lock);
	timing_begin(&n->n_timing, op, now);
	pthread_mutex_unlock(&node_lock);
}

/* The operation is complete: one line with every phase, for the log. */
static void node_timing_end_locked(struct node *n, int64_t now)
{
	char line[256];

	timing_end(&n->n_timing, now);
	timing_format(&n->n_timing, line, sizeof(line));
	log_info("node %s: %s timing: %s", n->n_rec.nr_name, n->n_timing.tm_op, line);
}

/* ---- building and tearing down ------------------------------------------ */

static int node_render(const char *tmpl, const struct render_var *v, size_t n, char **xml,
		       struct dock_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", node_cfg->dc_template_dir, tmpl);
	return render_file(path, v, n, xml, err);
}

#define NVARS(a) (sizeof(a) / sizeof((a)[0]))

/* A fresh ephemeral disk: volume, new key, LUKS header, secret. The key is
 * wiped from memory as soon as libvirt has it. */
static int node_make_disk(struct node *n, const struct node_names *nn, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	char capacity[32], *xml = NULL;
	struct luks_key key;
	int64_t t = timing_now();
	int rc;

	snprintf(capacity, sizeof(capacity), "%llu",
		 (unsigned long long)(r->nr_scratch_mib * 1024 * 1024 + LUKS_HEADER_BYTES));
	const struct render_var vv[] = { { "volume_name", nn->nn_volume },
					 { "capacity", capacity } };
	rc = node_render("volume.xml", vv, NVARS(vv), &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0)
		rc = virt_volume_create(NODE_POOL, xml, r->nr_volume, sizeof(r->nr_volume), err);
	t = node_time(n, TIMING_VOLUME, t);
	free(xml);
	xml = NULL;
	if (rc < 0)
		return rc;
	rc = luks_key_new(&key, err);
	if (rc == 0)
		rc = luks_format(r->nr_volume, &key, err);
	t = node_time(n, TIMING_LUKS, t);
	if (rc == 0) /* only the operator's secret key opens this */
		rc = forensic_seal_key(r->nr_name, &key, err);
	if (rc == 0) {
		const struct render_var sv[] = { { "name", r->nr_name }, { "volume", r->nr_volume } };
		rc = node_render("secret.xml", sv, NVARS(sv), &xml, err);
	}
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0) {
		char uuid[37];
		rc = virt_secret_create(xml, &key, uuid, err);
		node_time(n, TIMING_VOLUME, t);
		if (rc == 0) {
			pthread_mutex_lock(&node_lock);
			memcpy(r->nr_secret_uuid, uuid, sizeof(uuid));
			pthread_mutex_unlock(&node_lock);
		}
	}
	luks_key_wipe(&key);
	free(xml);
	return rc;
}

static int node_domain_xml(const struct node_rec *r, const struct node_names *nn, char **xml,
			   struct dock_err *err)
{
	char mem[24], vcpus[24], kernel[PATH_MAX] = "", initrd[PATH_MAX] = "",
								base[PATH_MAX], uuid[37];
	const char *loader = "", *nvram = "", *nvram_template = "";
	struct image im;

	if (image_load(node_cfg->dc_image_dir, r->nr_image, &im, err) < 0)
		return -EINVAL;
	image_path(&im, im.im_base, base, sizeof(base));
	if (im.im_boot == IMAGE_BOOT_KERNEL) {
		image_path(&im, im.im_kernel, kernel, sizeof(kernel));
		image_path(&im, im.im_initrd, initrd, sizeof(initrd));
	} else {
		/* Explicit firmware rather than <os firmware='efi'>: libvirt's
		 * autoselection prefers the secure-boot descriptors, which need
		 * SMM (slow under TCG) and refuse unsigned loaders. */
		loader = node_cfg->dc_ovmf_code;
		nvram = nn->nn_nvram;
		nvram_template = node_cfg->dc_ovmf_vars;
	}
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)r->nr_memory_mib);
	snprintf(vcpus, sizeof(vcpus), "%llu", (unsigned long long)r->nr_vcpus);
	virt_domain_uuid(nn->nn_domain, uuid);
	const struct render_var v[] = {
		{ "uuid", uuid },
		{ "domain_type", virt_domain_type(node_cfg->dc_accel) },
		{ "domain", nn->nn_domain },
		{ "name", r->nr_name },
		{ "image", r->nr_image },
		{ "memory_mib", mem },
		{ "vcpus", vcpus },
		{ "kernel", kernel },
		{ "initrd", initrd },
		{ "cmdline", im.im_boot == IMAGE_BOOT_KERNEL ? im.im_cmdline : "" },
		{ "loader", loader },
		{ "nvram", nvram },
		{ "nvram_template", nvram_template },
		{ "base_path", base },
		{ "ephemeral_path", r->nr_volume },
		{ "secret_uuid", r->nr_secret_uuid },
		{ "mac", r->nr_mac },
		{ "network", nn->nn_network },
		{ "agent_socket", nn->nn_socket },
		{ "console_log", nn->nn_console },
	};
	return node_render("domain.xml", v, NVARS(v), xml, err);
}

static int node_network_xml(const struct node_rec *r, const struct node_names *nn, char **xml,
			    struct dock_err *err)
{
	const struct render_var v[] = {
		{ "network", nn->nn_network },
		{ "bridge", nn->nn_subnet.ns_bridge },
		{ "gateway", nn->nn_subnet.ns_gateway },
		{ "netmask", nn->nn_subnet.ns_netmask },
		{ "ip", nn->nn_subnet.ns_node_ip },
		{ "mac", r->nr_mac },
		{ "name", r->nr_name },
	};
	return node_render("network.xml", v, NVARS(v), xml, err);
}

/* Everything a node needs before its first start. */
static int node_build(struct node *n, struct dock_err *err)
{
	struct node_names nn;
	struct node_fwview fv;
	char *xml = NULL;
	int64_t t;
	int r;

	node_names(&n->n_rec, &nn);
	r = node_make_disk(n, &nn, err);
	if (r == 0)
		r = node_commit(n, NODE_CREATING, NULL, err); /* record the secret's uuid */
	t = timing_now();
	if (r == 0)
		r = node_network_xml(&n->n_rec, &nn, &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (r == 0)
		r = virt_network_create(nn.nn_network, xml, err);
	t = node_time(n, TIMING_NETWORK, t);
	free(xml);
	xml = NULL;
	if (r == 0) {
		node_fw(&n->n_rec, &nn, &fv);
		r = fw_node_add(&fv.fv_node, err);
	}
	t = node_time(n, TIMING_FIREWALL, t);
	if (r == 0)
		r = node_domain_xml(&n->n_rec, &nn, &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (r == 0)
		r = virt_domain_define(xml, err);
	node_time(n, TIMING_DOMAIN, t);
	free(xml);
	return r;
}

/* Delete a node's UEFI variable store; absence is success. */
static int node_nvram_remove(const char *name, const char *path, struct dock_err *err)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, 500, errno, "node %s: nvram %s: %s", name, path,
			       strerror(errno));
	return 0;
}

/* Remove every trace; safe to repeat, each step tolerates absence. The
 * first failure is reported, the remaining steps still run. */
static int node_teardown(const struct node_rec *rec, struct dock_err *err)
{
	struct node_names nn;
	struct node_fwview fv;
	int r = 0;

	node_names(rec, &nn);
	if (virt_domain_remove(nn.nn_domain, err) < 0)
		r = -EIO;
	if (virt_network_remove(nn.nn_network, err) < 0)
		r = -EIO;
	node_fw(rec, &nn, &fv);
	if (fw_node_remove(&fv.fv_node, err) < 0)
		r = -EIO;
	if (virt_secret_remove(rec->nr_secret_uuid, rec->nr_volume, err) < 0)
		r = -EIO;
	if (virt_volume_remove(NODE_POOL, nn.nn_volume, err) < 0)
		r = -EIO;
	/* libvirt removed it with the domain (VIR_DOMAIN_UNDEFINE_NVRAM); a
	 * domain already gone may have left it. */
	if (node_nvram_remove(rec->nr_name, nn.nn_nvram, err) < 0)
		r = -EIO;
	unlink(nn.nn_socket);
	unlink(nn.nn_console);
	forensic_forget_key(rec->nr_name);
	return r;
}

/* ---- operations ---------------------------------------------------------- */

static int node_new_mac(char mac[18], struct dock_err *err)
{
	unsigned char b[3];

	for (int tries = 0; tries < 16; tries++) {
		bool dup = false;
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return err_set(err, 500, EIO, "getrandom failed");
		snprintf(mac, 18, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
		for (size_t i = 0; i < n_nodes; i++)
			dup |= strcmp(nodes[i]->n_rec.nr_mac, mac) == 0;
		if (!dup)
			return 0;
	}
	return err_set(err, 500, EAGAIN, "cannot find a free MAC address");
}

/* Start an existing node: verify the image, re-render and redefine the
 * domain (paths and accel come from the current config), start it. */
static int node_do_start(struct node *n, bool verify, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct node_names nn;
	struct image im;
	char *xml = NULL;
	bool cleansing;
	int64_t t = timing_now();
	int rc;

	node_names(r, &nn);
	/* verify is false only when the caller hashed the image a moment ago. */
	if (verify && (image_load(node_cfg->dc_image_dir, r->nr_image, &im, err) < 0 ||
		       image_verify(&im, err) < 0)) {
		err_prefix(err, "node %s: ", r->nr_name);
		return -EINVAL;
	}
	node_time(n, TIMING_VALIDATE, t);
	/* A cleanse recorded its start phase already, and goes on from here. */
	cleansing = r->nr_state == NODE_CLEANSING;
	rc = cleansing ? 0 : node_commit(n, NODE_STARTING, NULL, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&node_lock);
	r->nr_have_hello = false; /* a hello from an earlier boot says nothing now */
	n->n_last_heartbeat = 0;
	free(n->n_report);
	free(n->n_pending);
	n->n_report = n->n_pending = NULL;
	n->n_bad = n->n_overlong = n->n_dropped = 0;
	n->n_hostile_handled = n->n_silent_handled = false;
	memset(n->n_fail_since, 0, sizeof(n->n_fail_since));
	pthread_mutex_unlock(&node_lock);
	/* Re-render the domain: paths and accel come from the current config. */
	t = timing_now();
	rc = node_domain_xml(r, &nn, &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0)
		rc = virt_domain_define(xml, err);
	free(xml);
	if (rc == 0)
		rc = virt_domain_start(nn.nn_domain,
				       (r->nr_memory_mib + NODE_QEMU_OVERHEAD_MIB) * 1024, err);
	t = node_time(n, TIMING_DOMAIN, t);
	if (rc < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		if (!cleansing)
			node_commit(n, NODE_STOPPED, err->de_msg, NULL);
		return rc;
	}
	log_info("node %s: started", r->nr_name);
	pthread_mutex_lock(&node_lock);
	n->n_timing.tm_started_ns = t; /* the first agent line ends the timing */
	r->nr_cleanse_at = r->nr_lifetime_s ? (int64_t)time(NULL) + (int64_t)r->nr_lifetime_s : 0;
	pthread_mutex_unlock(&node_lock);
	return cleansing ? 0 : node_commit(n, NODE_RUNNING, NULL, err);
}

int node_create(const struct node_spec *spec, struct json_object **out, struct dock_err *err)
{
	int64_t t0 = timing_now();
	struct image im;
	struct node *n;
	bool *used = NULL;
	size_t cap = netpool_capacity(&node_cfg->dc_pool);
	int r;

	struct profile prof;
	char pdir[PATH_MAX], profile[64];

	/* Everything that can be refused is refused before anything exists. */
	if (image_load(node_cfg->dc_image_dir, spec->ns_image, &im, err) < 0)
		return -EINVAL;
	if (image_verify(&im, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < spec->ns_n_publish; i++) {
		struct fw_publish p;
		if (fw_publish_parse(spec->ns_publish[i], &p, err) < 0)
			return -EINVAL;
	}
	snprintf(pdir, sizeof(pdir), "%s/profiles", node_cfg->dc_template_dir);
	snprintf(profile, sizeof(profile), "%s", spec->ns_profile);
	if (profile[0] != '\0') {
		if (profile_load(pdir, profile, &prof, err) < 0)
			return -EINVAL;
	} else if (profile_load(pdir, spec->ns_image, &prof, NULL) == 0 || im.im_have_service) {
		/* the image's own: a profile file named like it, else its manifest's service */
		snprintf(profile, sizeof(profile), "%s", spec->ns_image);
	}
	n = calloc(1, sizeof(*n));
	used = calloc(cap, sizeof(*used));
	if (n == NULL || used == NULL) {
		free(n);
		free(used);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&node_lock);
	if (node_find_locked(spec->ns_name) != NULL) {
		r = err_set(err, 409, EEXIST, "node \"%s\" already exists", spec->ns_name);
		goto unlock_fail;
	}
	if (n_nodes >= NODE_MAX) {
		r = err_set(err, 409, ENOSPC, "the dock already holds %d nodes", NODE_MAX);
		goto unlock_fail;
	}
	for (size_t i = 0; i < n_nodes; i++)
		if (nodes[i]->n_rec.nr_subnet < cap)
			used[nodes[i]->n_rec.nr_subnet] = true;
	r = netpool_alloc(&node_cfg->dc_pool, used, cap, &n->n_rec.nr_subnet, err);
	if (r == 0)
		r = node_new_mac(n->n_rec.nr_mac, err);
	if (r < 0)
		goto unlock_fail;
	memcpy(n->n_rec.nr_name, spec->ns_name, sizeof(n->n_rec.nr_name));
	memcpy(n->n_rec.nr_image, spec->ns_image, sizeof(n->n_rec.nr_image));
	memcpy(n->n_rec.nr_profile, profile, sizeof(n->n_rec.nr_profile));
	node_load_profile(n);
	n->n_rec.nr_memory_mib = spec->ns_memory_mib;
	n->n_rec.nr_vcpus = spec->ns_vcpus;
	n->n_rec.nr_scratch_mib = spec->ns_scratch_mib;
	/* Sizes the request left out: what the image says it needs, within
	 * the dock's limits (a golden Debian does not boot in 256 MiB). */
	if (spec->ns_memory_default && im.im_memory_mib > n->n_rec.nr_memory_mib)
		n->n_rec.nr_memory_mib = im.im_memory_mib < node_cfg->dc_max_memory_mib
						 ? im.im_memory_mib
						 : node_cfg->dc_max_memory_mib;
	if (spec->ns_scratch_default && im.im_scratch_mib > n->n_rec.nr_scratch_mib)
		n->n_rec.nr_scratch_mib = im.im_scratch_mib < node_cfg->dc_max_scratch_mib
						  ? im.im_scratch_mib
						  : node_cfg->dc_max_scratch_mib;
	n->n_rec.nr_created = (int64_t)time(NULL);
	for (size_t i = 0; i < spec->ns_n_publish; i++) {
		struct fw_publish p;
		fw_publish_parse(spec->ns_publish[i], &p, NULL);
		fw_publish_format(&p, n->n_rec.nr_published[i], sizeof(n->n_rec.nr_published[i]));
	}
	n->n_rec.nr_n_published = spec->ns_n_publish;
	n->n_rec.nr_egress_deny = spec->ns_egress_deny;
	memcpy(n->n_rec.nr_egress_allow, spec->ns_egress_allow, sizeof(n->n_rec.nr_egress_allow));
	n->n_rec.nr_n_allow = spec->ns_n_allow;
	n->n_rec.nr_lifetime_s = spec->ns_lifetime_s;
	n->n_rec.nr_on_hostile = NODE_ACT_QUARANTINE;
	n->n_rec.nr_on_silent = NODE_ACT_ALERT;
	if (spec->ns_on_hostile[0])
		state_parse_action(spec->ns_on_hostile, &n->n_rec.nr_on_hostile);
	if (spec->ns_on_silent[0])
		state_parse_action(spec->ns_on_silent, &n->n_rec.nr_on_silent);
	n->n_rec.nr_on_fail = NODE_ACT_ALERT;
	if (n->n_have_profile && n->n_profile.pr_on_fail[0])
		state_parse_action(n->n_profile.pr_on_fail, &n->n_rec.nr_on_fail);
	if (spec->ns_on_fail[0])
		state_parse_action(spec->ns_on_fail, &n->n_rec.nr_on_fail);
	{
		struct node_names nn;
		struct node_fwview fv;
		node_names(&n->n_rec, &nn);
		node_fw(&n->n_rec, &nn, &fv);
		r = fw_node_check(&fv.fv_node, err);
		if (r < 0)
			goto unlock_fail;
	}
	timing_begin(&n->n_timing, "create", t0);
	timing_add(&n->n_timing, TIMING_VALIDATE, t0, timing_now());
	n->n_rec.nr_state = NODE_CREATING;
	n->n_op = "creating";
	r = state_save(node_cfg->dc_state_dir, &n->n_rec, err);
	if (r < 0)
		goto unlock_fail;
	nodes[n_nodes++] = n;
	pthread_mutex_unlock(&node_lock);
	free(used);

	r = node_build(n, err);
	if (r == 0)
		r = node_commit(n, NODE_DEFINED, NULL, err);
	if (r == 0 && spec->ns_start)
		r = node_do_start(n, false, err); /* the image was verified above */
	if (r < 0) {
		/* Nothing half-created: undo all, then forget the node. */
		log_warn("node %s: create failed, removing what was made: %s", spec->ns_name,
			 err && err->de_msg[0] ? err->de_msg : "");
		node_teardown(&n->n_rec, NULL);
		state_remove(node_cfg->dc_state_dir, spec->ns_name, NULL);
		pthread_mutex_lock(&node_lock);
		node_remove_locked(n);
		pthread_mutex_unlock(&node_lock);
		err_prefix(err, "create %s: ", spec->ns_name);
		return r;
	}
	log_info("node %s: created from image %s", spec->ns_name, spec->ns_image);
	if (!spec->ns_start) {
		pthread_mutex_lock(&node_lock);
		node_timing_end_locked(n, timing_now());
		pthread_mutex_unlock(&node_lock);
	}
	node_release(n);
	return node_inspect_json(spec->ns_name, out, err);

unlock_fail:
	pthread_mutex_unlock(&node_lock);
	node_free(n);
	free(used);
	return r;
}

static int node_do_cleanse(struct node *n, enum node_phase from, enum node_phase to,
			   struct dock_err *err);

int node_start(const char *name, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "starting", &n, err);

	if (r < 0)
		return r;
	if (n->n_rec.nr_state == NODE_RUNNING) {
		enum virt_dom_state st;
		struct node_names nn;
		node_names(&n->n_rec, &nn);
		if (virt_domain_state(nn.nn_domain, &st, NULL) == 0 && st == VIRT_DOM_RUNNING) {
			node_release(n);
			return err_set(err, 409, EALREADY, "node \"%s\" is already running", name);
		}
	}
	node_timing_begin(n, "start", timing_now());
	r = virt_secret_exists(n->n_rec.nr_secret_uuid, err);
	if (r == 0) {
		/* Ephemeral secrets vanish when libvirtd restarts: the disk can
		 * never be opened again, so the node starts as a cleanse would. */
		struct json_object *d = json_object_new_object();
		char result[600];

		log_warn("node %s: its disk's key (secret %s) is gone from libvirt (libvirtd restarted?): fresh disk with a new key, as a cleanse does",
			 name, n->n_rec.nr_secret_uuid);
		json_object_object_add(d, "old_secret", json_object_new_string(n->n_rec.nr_secret_uuid));
		r = node_do_cleanse(n, NODE_PHASE_SNAPSHOT, NODE_PHASE_START, err);
		snprintf(result, sizeof(result), "%s%s", r < 0 ? "error: " : "ok",
			 r < 0 && err ? err->de_msg : "");
		audit_append(AUDIT_UID_DOCK, "rekey-at-start", name, result, d, NULL);
		json_object_put(d);
	} else if (r > 0) {
		r = node_do_start(n, true, err);
	}
	node_release(n);
	return r;
}

int node_stop(const char *name, struct dock_err *err)
{
	struct node_names nn;
	struct node *n;
	int r = node_acquire(name, "stopping", &n, err);

	if (r < 0)
		return r;
	node_names(&n->n_rec, &nn);
	if (n->n_rec.nr_state == NODE_STOPPED || n->n_rec.nr_state == NODE_DEFINED) {
		node_release(n);
		return err_set(err, 409, EALREADY, "node \"%s\" is not running", name);
	}
	r = node_commit(n, NODE_STOPPING, NULL, err);
	if (r == 0)
		r = virt_domain_stop(nn.nn_domain, (unsigned)node_cfg->dc_stop_timeout_s, err);
	if (r == 0) {
		pthread_mutex_lock(&node_lock);
		n->n_rec.nr_cleanse_at = 0;
		pthread_mutex_unlock(&node_lock);
		r = node_commit(n, NODE_STOPPED, NULL, err);
		log_info("node %s: stopped", name);
	} else {
		err_prefix(err, "node %s: ", name);
		node_commit(n, NODE_FAILED, err->de_msg, NULL);
	}
	node_release(n);
	return r;
}

int node_destroy(const char *name, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "destroying", &n, err);

	if (r < 0)
		return r;
	r = node_commit(n, NODE_DESTROYING, NULL, err);
	if (r == 0)
		r = node_teardown(&n->n_rec, err);
	if (r < 0) {
		err_prefix(err, "node %s: destroy incomplete, run destroy again: ", name);
		node_commit(n, NODE_FAILED, err->de_msg, NULL);
		node_release(n);
		return r;
	}
	r = state_remove(node_cfg->dc_state_dir, name, err);
	pthread_mutex_lock(&node_lock);
	node_remove_locked(n);
	pthread_mutex_unlock(&node_lock);
	log_info("node %s: destroyed", name);
	return r;
}

/* ---- views --------------------------------------------------------------- */

static struct json_object *node_hello_json(const struct node_rec *r)
{
	struct json_object *h;

	if (!r->nr_have_hello)
		return NULL;
	h = json_object_new_object();
	json_object_object_add(h, "protocol", json_object_new_int64((int64_t)r->nr_hello.ah_protocol));
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

static struct json_object *node_summary_json(const struct node *n)
{
	const struct node_rec *r = &n->n_rec;
	struct json_object *o = json_object_new_object();
	struct netpool_subnet sn;

	netpool_subnet(&node_cfg->dc_pool, r->nr_subnet, &sn);
	json_object_object_add(o, "name", json_object_new_string(r->nr_name));
	if (r->nr_state == NODE_CLEANSING && r->nr_phase != NODE_PHASE_NONE) {
		char st[40];
		snprintf(st, sizeof(st), "cleansing:%s", state_phase_name(r->nr_phase));
		json_object_object_add(o, "state", json_object_new_string(st));
	} else {
		json_object_object_add(o, "state", json_object_new_string(
							   r->nr_quarantined && r->nr_state == NODE_RUNNING
								   ? "quarantined"
								   : state_name(r->nr_state)));
	}
	json_object_object_add(o, "image", json_object_new_string(r->nr_image));
	json_object_object_add(o, "ip", json_object_new_string(sn.ns_node_ip));
	json_object_object_add(o, "created", json_object_new_int64(r->nr_created));
	json_object_object_add(o, "agent", json_object_new_string(node_agent_word(n)));
	return o;
}

struct json_object *node_list_json(void)
{
	struct json_object *a = json_object_new_array();

	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < n_nodes; i++)
		json_object_array_add(a, node_summary_json(nodes[i]));
	pthread_mutex_unlock(&node_lock);
	return a;
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

int node_inspect_json(const char *name, struct json_object **out, struct dock_err *err)
{
	struct json_object *o, *disks, *base, *eph, *agent, *hello;
	struct node_names nn;
	struct image im;
	struct node_rec r;
	struct timing tm;
	struct node *n;
	bool connected, have_im, paused;
	int64_t hb;
	uint64_t hbs;
	const char *op;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL) {
		r = n->n_rec;
		paused = n->n_paused;
		connected = n->n_agent_connected;
		hb = n->n_last_heartbeat;
		hbs = n->n_heartbeats;
		op = n->n_op;
		tm = n->n_timing;
		o = node_summary_json(n);
	}
	pthread_mutex_unlock(&node_lock);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	node_names(&r, &nn);
	json_object_object_add(o, "phase", r.nr_phase ? json_object_new_string(state_phase_name(r.nr_phase))
						      : NULL);
	json_object_object_add(o, "reason", json_object_new_string(r.nr_reason));
	json_object_object_add(o, "busy", op ? json_object_new_string(op) : NULL);
	json_object_object_add(o, "paused", json_object_new_boolean(paused));
	json_object_object_add(o, "domain", json_object_new_string(nn.nn_domain));
	json_object_object_add(o, "network", json_object_new_string(nn.nn_network));
	json_object_object_add(o, "bridge", json_object_new_string(nn.nn_subnet.ns_bridge));
	json_object_object_add(o, "subnet", json_object_new_string(nn.nn_subnet.ns_cidr));
	json_object_object_add(o, "gateway", json_object_new_string(nn.nn_subnet.ns_gateway));
	json_object_object_add(o, "mac", json_object_new_string(r.nr_mac));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)r.nr_memory_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64((int64_t)r.nr_vcpus));

	disks = json_object_new_object();
	base = json_object_new_object();
	have_im = image_load(node_cfg->dc_image_dir, r.nr_image, &im, NULL) == 0;
	if (have_im) {
		char path[PATH_MAX];
		image_path(&im, im.im_base, path, sizeof(path));
		json_object_object_add(base, "path", json_object_new_string(path));
		json_object_object_add(base, "sha256", json_object_new_string(im.im_base->if_sha256));
	}
	json_object_object_add(base, "readonly", json_object_new_boolean(1));
	json_object_object_add(disks, "base", base);
	eph = json_object_new_object();
	json_object_object_add(eph, "path", json_object_new_string(r.nr_volume));
	json_object_object_add(eph, "format", json_object_new_string("luks"));
	json_object_object_add(eph, "secret_uuid", json_object_new_string(r.nr_secret_uuid));
	json_object_object_add(eph, "size_mib", json_object_new_int64((int64_t)r.nr_scratch_mib));
	json_object_object_add(disks, "ephemeral", eph);
	json_object_object_add(o, "disks", disks);
	json_object_object_add(o, "boot", node_boot_json(&im, have_im, &nn));

	agent = json_object_new_object();
	json_object_object_add(agent, "socket", json_object_new_string(nn.nn_socket));
	json_object_object_add(agent, "connected", json_object_new_boolean(connected));
	hello = node_hello_json(&r);
	json_object_object_add(agent, "hello", hello);
	json_object_object_add(agent, "heartbeats", json_object_new_int64((int64_t)hbs));
	json_object_object_add(agent, "last_heartbeat", hb ? json_object_new_int64(hb) : NULL);
	json_object_object_add(o, "agent", agent);
	json_object_object_add(o, "console_log", json_object_new_string(nn.nn_console));
	{
		struct json_object *fw = json_object_new_object(), *pub = json_object_new_array(),
				   *allow = json_object_new_array();
		for (size_t i = 0; i < r.nr_n_published; i++)
			json_object_array_add(pub, json_object_new_string(r.nr_published[i]));
		for (size_t i = 0; i < r.nr_n_allow; i++)
			json_object_array_add(allow, json_object_new_string(r.nr_egress_allow[i]));
		json_object_object_add(fw, "published", pub);
		json_object_object_add(fw, "egress", json_object_new_string(r.nr_egress_deny ? "deny" : "allow"));
		json_object_object_add(fw, "egress_allow", allow);
		json_object_object_add(fw, "quarantined", json_object_new_boolean(r.nr_quarantined));
		json_object_object_add(o, "firewall", fw);
	}
	json_object_object_add(o, "lifetime_s", json_object_new_int64((int64_t)r.nr_lifetime_s));
	json_object_object_add(o, "next_cleanse",
			       r.nr_cleanse_at ? json_object_new_int64(r.nr_cleanse_at) : NULL);
	json_object_object_add(o, "cleanses", json_object_new_int64((int64_t)r.nr_cleanses));
	json_object_object_add(o, "timing", timing_json(&tm));
	json_object_object_add(o, "on_hostile", json_object_new_string(state_action_name(r.nr_on_hostile)));
	json_object_object_add(o, "on_silent", json_object_new_string(state_action_name(r.nr_on_silent)));
	json_object_object_add(o, "on_fail", json_object_new_string(state_action_name(r.nr_on_fail)));
	{
		struct json_object *f = json_object_new_array();
		for (size_t i = 0; i < r.nr_n_failing; i++)
			json_object_array_add(f, json_object_new_string(r.nr_failing[i]));
		json_object_object_add(o, "failing", f);
	}
	*out = o;
	return 0;
}

/* ---- agent channel side ----------------------------------------------------- */

size_t node_agent_targets(struct node_agent_target *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < n_nodes && k < max; i++) {
		const struct node_rec *r = &nodes[i]->n_rec;
		/* A cleanse talks to the agent while shutting down and waiting
		 * for the new boot's hello. */
		if (r->nr_state != NODE_RUNNING && r->nr_state != NODE_STARTING &&
		    !(r->nr_state == NODE_CLEANSING && (r->nr_phase == NODE_PHASE_SHUTDOWN ||
							r->nr_phase == NODE_PHASE_WAIT_AGENT)))
			continue;
		snprintf(out[k].nat_name, sizeof(out[k].nat_name), "%s", r->nr_name);
		snprintf(out[k].nat_socket, sizeof(out[k].nat_socket), "%s/agents/%s.sock",
			 node_cfg->dc_run_dir, r->nr_name);
		snprintf(out[k].nat_service, sizeof(out[k].nat_service), "%s",
			 nodes[i]->n_have_profile ? nodes[i]->n_profile.pr_service : "");
		out[k].nat_shutdown = nodes[i]->n_want_shutdown;
		k++;
	}
	pthread_mutex_unlock(&node_lock);
	return k;
}

void node_agent_connected(const char *name, bool connected)
{
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL)
		n->n_agent_connected = connected;
	pthread_mutex_unlock(&node_lock);
}

static void node_judge_report_locked(struct node *n);

void node_agent_message(const char *name, const struct agent_msg *msg)
{
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n == NULL) {
		pthread_mutex_unlock(&node_lock);
		return;
	}
	if (n->n_timing.tm_started_ns != 0 && n->n_timing.tm_total_ns < 0) {
		int64_t now = timing_now();
		timing_add(&n->n_timing, TIMING_FIRST_LINE, n->n_timing.tm_started_ns, now);
		node_timing_end_locked(n, now);
	}
	switch (msg->am_type) {
	case AGENT_MSG_HELLO: {
		bool fresh = !n->n_rec.nr_have_hello ||
			     strcmp(n->n_rec.nr_hello.ah_boot_id, msg->am_hello.ah_boot_id) != 0;
		n->n_rec.nr_hello = msg->am_hello;
		n->n_rec.nr_hello.ah_received = (int64_t)time(NULL);
		n->n_rec.nr_have_hello = true;
		/* Persist, so a restarted dock still knows what booted. */
		state_save(node_cfg->dc_state_dir, &n->n_rec, NULL);
		if (fresh)
			log_info("node %s: agent %s ready (boot %s, kernel %s)", name,
				 msg->am_hello.ah_agent, msg->am_hello.ah_boot_id,
				 msg->am_hello.ah_kernel);
		break;
	}
	case AGENT_MSG_HEARTBEAT:
		n->n_last_heartbeat = (int64_t)time(NULL);
		n->n_heartbeats++;
		break;
	case AGENT_MSG_FACT:
		if (n->n_pending == NULL || n->n_pending->rp_seq != msg->am_seq) {
			if (n->n_pending == NULL)
				n->n_pending = malloc(sizeof(*n->n_pending));
			if (n->n_pending == NULL)
				break;
			memset(n->n_pending->rp_have, 0, sizeof(n->n_pending->rp_have));
			n->n_pending->rp_seq = msg->am_seq;
		}
		n->n_pending->rp_facts[msg->am_fact.af_id] = msg->am_fact;
		n->n_pending->rp_have[msg->am_fact.af_id] = true;
		break;
	case AGENT_MSG_REPORT_END: {
		struct node_report *done = n->n_pending;
		uint64_t got = 0;
		for (int i = 0; done != NULL && i < AF_COUNT; i++)
			got += done->rp_have[i];
		/* Only a whole report counts; one cut by a reconnect is dropped. */
		if (done == NULL || done->rp_seq != msg->am_seq || got != msg->am_count)
			break;
		done->rp_time = (int64_t)time(NULL);
		n->n_pending = n->n_report;
		n->n_report = done;
		if (n->n_pending != NULL)
			n->n_pending->rp_seq = UINT64_MAX;
		node_judge_report_locked(n);
		break;
	}
	case AGENT_MSG_SHUTDOWN_ACK:
		if (n->n_want_shutdown && !n->n_shutdown_acked)
			log_info("node %s: the agent acknowledged the shutdown request", name);
		n->n_shutdown_acked = n->n_want_shutdown;
		break;
	case AGENT_MSG_OTHER:
		break;
	}
	pthread_mutex_unlock(&node_lock);
}

void node_agent_hostile(const char *name, uint64_t bad, uint64_t overlong, uint64_t dropped)
{
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL) {
		if (n->n_bad + n->n_overlong + n->n_dropped == 0)
			log_warn("node %s: hostile agent input (%llu malformed, %llu over-long, %llu over the rate limit); flagged",
				 name, (unsigned long long)bad, (unsigned long long)overlong,
				 (unsigned long long)dropped);
		/* The reader's counters only grow; a new reader starts again at 0. */
		if (bad > n->n_bad)
			n->n_bad = bad;
		if (overlong > n->n_overlong)
			n->n_overlong = overlong;
		if (dropped > n->n_dropped)
			n->n_dropped = dropped;
	}
	pthread_mutex_unlock(&node_lock);
}

static void *node_cleanse_thread(void *arg);

/* ---- start-up: load and reconcile ---------------------------------------------- */

static int node_mkdir(const char *path, mode_t mode, struct dock_err *err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if (chmod(path, mode) < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	return 0;
}

static bool node_known(const char *name)
{
	bool k;

	pthread_mutex_lock(&node_lock);
	k = node_find_locked(name) != NULL;
	pthread_mutex_unlock(&node_lock);
	return k;
}

/* Variable stores without a node record (a crash between the domain's
 * removal and the record's, or a domain removed by hand). */
static void node_remove_orphan_nvram(void)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	size_t slen = strlen(NODE_NVRAM_SUFFIX);
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/" NODE_NVRAM_DIR, node_cfg->dc_state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char nm[NODE_NAME_MAX + 1];
		size_t len = strlen(de->d_name);

		if (len <= slen || len - slen > NODE_NAME_MAX ||
		    strcmp(de->d_name + len - slen, NODE_NVRAM_SUFFIX) != 0)
			continue;
		snprintf(nm, sizeof(nm), "%.*s", (int)(len - slen), de->d_name);
		if (node_known(nm))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		log_warn("orphan nvram %s (no node record): removing", path);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("orphan nvram %s: %s", path, strerror(errno));
	}
	closedir(d);
}

/* libvirt objects named isc-* without a record were left by a crash. */
static void node_remove_orphans(void)
{
	char **names, vol_dir[PATH_MAX];
	size_t cnt, plen = strlen(NODE_PREFIX);

	if (virt_list(VIRT_DOMAINS, NODE_PREFIX, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			if (node_known(names[i] + plen))
				continue;
			log_warn("orphan domain %s (no node record): removing", names[i]);
			virt_domain_remove(names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
	if (virt_list(VIRT_NETWORKS, NODE_PREFIX, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			if (node_known(names[i] + plen))
				continue;
			log_warn("orphan network %s (no node record): removing", names[i]);
			virt_network_remove(names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
	snprintf(vol_dir, sizeof(vol_dir), "%s/volumes/", node_cfg->dc_state_dir);
	if (virt_secret_usages(&names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			const char *u = names[i], *base = u + strlen(vol_dir);
			char nm[NODE_NAME_MAX + 1];
			size_t blen;

			if (strncmp(u, vol_dir, strlen(vol_dir)) != 0 ||
			    strncmp(base, NODE_PREFIX, plen) != 0)
				continue;
			blen = strlen(base + plen);
			if (blen < 5 || blen - 4 > NODE_NAME_MAX)
				continue;
			snprintf(nm, sizeof(nm), "%.*s", (int)(blen - 4), base + plen);
			if (node_known(nm))
				continue;
			log_warn("orphan secret for %s (no node record): removing", u);
			virt_secret_remove(NULL, u, NULL);
		}
		virt_free_names(names, cnt);
	}
	node_remove_orphan_nvram();
	if (virt_volume_list(NODE_POOL, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			char nm[NODE_NAME_MAX + 1];
			size_t len = strlen(names[i]);

			if (strncmp(names[i], NODE_PREFIX, plen) == 0 && len > plen + 4 &&
			    len - plen - 4 <= NODE_NAME_MAX) {
				snprintf(nm, sizeof(nm), "%.*s", (int)(len - plen - 4),
					 names[i] + plen);
				if (node_known(nm))
					continue;
			}
			log_warn("orphan volume %s (no node record): removing", names[i]);
			virt_volume_remove(NODE_POOL, names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
}

/* Bring one loaded record in line with what libvirt holds. */
static void node_reconcile(struct node *n)
{
	struct node_rec *r = &n->n_rec;
	enum virt_dom_state st;
	struct node_names nn;
	struct dock_err e = { 0 };

	node_names(r, &nn);
	switch (r->nr_state) {
	case NODE_CREATING:
	case NODE_DESTROYING:
		log_warn("node %s: dock stopped while %s; removing the node", r->nr_name,
			 state_name(r->nr_state));
		if (node_teardown(r, &e) == 0 &&
		    state_remove(node_cfg->dc_state_dir, r->nr_name, &e) == 0) {
			pthread_mutex_lock(&node_lock);
			node_remove_locked(n);
			pthread_mutex_unlock(&node_lock);
		} else {
			node_commit(n, NODE_FAILED, e.de_msg, NULL);
		}
		return;
	case NODE_CLEANSING: {
		pthread_t t;
		/* In a thread of its own: its shutdown and wait-agent phases
		 * need the agent channels, served once start-up is done. */
		log_warn("node %s: dock stopped while cleansing (phase %s); resuming that phase",
			 r->nr_name, r->nr_phase ? state_phase_name(r->nr_phase) : "none");
		n->n_op = "cleansing";
		if (pthread_create(&t, NULL, node_cleanse_thread, n) == 0)
			pthread_detach(t);
		else
			n->n_op = NULL;
		return;
	}
	default:
		break;
	}
	if (virt_domain_state(nn.nn_domain, &st, &e) < 0) {
		log_warn("node %s: cannot read domain state: %s", r->nr_name, e.de_msg);
		return;
	}
	switch (st) {
	case VIRT_DOM_ABSENT:
		node_commit(n, NODE_FAILED, "its libvirt domain disappeared; destroy the node", NULL);
		log_warn("node %s: domain %s is missing from libvirt", r->nr_name, nn.nn_domain);
		break;
	case VIRT_DOM_PAUSED:
		/* Paused by quarantine --pause, or left paused by a dock stopped
		 * in a snapshot: that one runs again. */
		if (!r->nr_quarantined && virt_domain_pause(nn.nn_domain, false, &e) < 0)
			log_warn("node %s: cannot resume: %s", r->nr_name, e.de_msg);
		n->n_paused = r->nr_quarantined;
		if (r->nr_state != NODE_RUNNING)
			node_commit(n, NODE_RUNNING, NULL, NULL);
		break;
	case VIRT_DOM_RUNNING:
		if (r->nr_state != NODE_RUNNING)
			node_commit(n, NODE_RUNNING, NULL, NULL);
		break;
	case VIRT_DOM_OFF:
		if (r->nr_state != NODE_STOPPED && r->nr_state != NODE_DEFINED &&
		    r->nr_state != NODE_FAILED)
			node_commit(n, NODE_STOPPED, NULL, NULL);
		break;
	case VIRT_DOM_OTHER:
		break;
	}
}

int node_init(const struct dock_config *cfg, struct dock_err *err)
{
	char path[PATH_MAX], *xml = NULL, **names = NULL;
	struct node_fwview *fvs = NULL;
	struct fw_node *fns = NULL;
	struct node_names *nns = NULL;
	size_t cnt = 0;
	int r;

	node_cfg = cfg;
	/* state_dir and volumes are traversed by QEMU (libvirt-qemu): 0711. */
	snprintf(path, sizeof(path), "%s/nodes", cfg->dc_state_dir);
	if (node_mkdir(cfg->dc_state_dir, 0711, err) < 0 || node_mkdir(path, 0700, err) < 0)
		return -EIO;
	/* QEMU (libvirt-qemu) opens the variable stores by path: 0711. */
	snprintf(path, sizeof(path), "%s/" NODE_NVRAM_DIR, cfg->dc_state_dir);
	if (node_mkdir(path, 0711, err) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/agents", cfg->dc_run_dir);
	if (node_mkdir(cfg->dc_run_dir, 0755, err) < 0 || node_mkdir(path, 0711, err) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/console", cfg->dc_run_dir);
	if (node_mkdir(path, 0700, err) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/volumes", cfg->dc_state_dir);
	const struct render_var pv[] = { { "pool", NODE_POOL }, { "path", path } };
	r = node_render("pool.xml", pv, NVARS(pv), &xml, err);
	if (r == 0)
		r = virt_pool_ensure(NODE_POOL, xml, err);
	free(xml);
	if (r < 0)
		return r;

	r = forensic_init(cfg, err);
	if (r < 0)
		return r;
	r = state_list(cfg->dc_state_dir, &names, &cnt, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cnt; i++) {
		struct dock_err e = { 0 };
		struct node *n = calloc(1, sizeof(*n));

		if (n == NULL || n_nodes >= NODE_MAX ||
		    state_load(cfg->dc_state_dir, names[i], &n->n_rec, &e) < 0) {
			log_err("node %s: record not loaded: %s", names[i], e.de_msg);
			free(n);
			continue;
		}
		node_load_profile(n);
		nodes[n_nodes++] = n;
	}
	for (size_t i = 0; i < cnt; i++)
		free(names[i]);
	free(names);

	/* The firewall is rebuilt from the records in one batch, before the
	 * reconciliation, whose undo steps remove elements from it. */
	fvs = calloc(n_nodes + 1, sizeof(*fvs));
	fns = calloc(n_nodes + 1, sizeof(*fns));
	nns = calloc(n_nodes + 1, sizeof(*nns));
	if (fvs == NULL || fns == NULL || nns == NULL) {
		free(fvs);
		free(fns);
		free(nns);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_nodes; i++) {
		node_names(&nodes[i]->n_rec, &nns[i]);
		node_fw(&nodes[i]->n_rec, &nns[i], &fvs[i]);
		fns[i] = fvs[i].fv_node;
	}
	r = fw_init(fns, n_nodes, err);
	free(fvs);
	free(fns);
	free(nns);
	if (r < 0)
		return r;
	for (size_t i = n_nodes; i > 0; i--)
		node_reconcile(nodes[i - 1]);
	node_remove_orphans();
	log_info("dock: %zu node(s) known", n_nodes);
	return 0;
}

void node_fini(void)
{
	pthread_mutex_lock(&node_lock);
	if (n_nodes == 0)
		fw_teardown(NULL); /* nothing of the dock stays when no node exists */
	for (size_t i = 0; i < n_nodes; i++)
		node_free(nodes[i]);
	n_nodes = 0;
	pthread_mutex_unlock(&node_lock);
}

/* ---- the validation table ------------------------------------------------------- */

static int node_luks_header(const char *path)
{
	struct crypt_device *cd = NULL;
	int ok;

	if (crypt_init(&cd, path) < 0)
		return 0;
	ok = crypt_load(cd, CRYPT_LUKS1, NULL) == 0;
	crypt_free(cd);
	return ok;
}

/* Do the ports published in the kernel equal the record's? */
static int node_published_match(const struct node_rec *r, const struct fw_show_node *sn)
{
	if (sn->sn_npublished != r->nr_n_published)
		return 0;
	for (size_t i = 0; i < sn->sn_npublished; i++) {
		char spec[32];
		bool found = false;
		fw_publish_format(&sn->sn_published[i], spec, sizeof(spec));
		for (size_t k = 0; k < r->nr_n_published; k++)
			found |= strcmp(spec, r->nr_published[k]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* What libvirt, the disk and the firewall say about the node. */
static void node_dock_facts(const struct node_rec *r, const struct node_names *nn,
			    struct dock_facts *df)
{
	char *dx = virt_xml(VIRT_DOMAINS, nn->nn_domain), *nx = virt_xml(VIRT_NETWORKS, nn->nn_network),
	     *sx = virt_xml(VIRT_SECRETS, r->nr_secret_uuid), base[PATH_MAX] = "";
	struct dock_err e = { 0 };
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
	df->df_eph_header = node_luks_header(r->nr_volume);
	err_clear(&e);
	if (fw_show(r->nr_name, &fs, &e) < 0) {
		memcpy(df->df_fw_note, e.de_msg, sizeof(df->df_fw_note));
	} else if (!fs->fs_policy_ok) {
		snprintf(df->df_fw_note, sizeof(df->df_fw_note), "firewall: table inet isc altered: %s",
			 fs->fs_policy_problem);
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
	fw_show_free(fs);
	df->df_want_vcpus = r->nr_vcpus;
	df->df_vcpus = virt_domain_vcpus(nn->nn_domain);
	df->df_want_hard_limit_kib = (r->nr_memory_mib + NODE_QEMU_OVERHEAD_MIB) * 1024;
	df->df_hard_limit_kib = virt_domain_hard_limit(nn->nn_domain);
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
	cn.cn_name = r.nr_name;
	cn.cn_ip = nn.nn_subnet.ns_node_ip;
	cn.cn_mac = r.nr_mac;
	cn.cn_now = (int64_t)time(NULL);
	cn.cn_deadline_s = (int64_t)node_cfg->dc_agent_deadline_s;
	cnt = checks_evaluate(&cn, &df, &av, have_prof ? &prof : NULL, rows, CHECKS_MAX);
	*out = checks_json(name, rows, cnt);
	json_object_object_add(*out, "state", json_object_new_string(state_name(r.nr_state)));
	json_object_object_add(*out, "profile", json_object_new_string(r.nr_profile));
	json_object_object_add(*out, "report_time", rep ? json_object_new_int64(rep->rp_time) : NULL);
	free(rep);
	return 0;
}

/* ---- firewall policy of a node ------------------------------------------------------ */

/* Record a policy change, apply it in one batch, and restore the record if
 * the kernel refused: the record is written first so a dock killed between
 * the two rebuilds the new policy at start (fw_init). */
static int node_fw_change(struct node *n, const struct node_rec *before, struct dock_err *err,
			  int (*apply)(const struct node_fwview *old, const struct node_rec *now,
				       const void *arg, struct dock_err *err),
			  const void *arg)
{
	struct node_names nn;
	struct node_fwview fv;
	int r;

	pthread_mutex_lock(&node_lock);
	r = state_save(node_cfg->dc_state_dir, &n->n_rec, err);
	pthread_mutex_unlock(&node_lock);
	if (r < 0)
		return r;
	node_names(before, &nn);
	node_fw(before, &nn, &fv);
	r = apply(&fv, &n->n_rec, arg, err);
	if (r < 0) {
		pthread_mutex_lock(&node_lock);
		n->n_rec = *before;
		state_save(node_cfg->dc_state_dir, &n->n_rec, NULL);
		pthread_mutex_unlock(&node_lock);
	}
	return r;
}

static int node_apply_publish(const struct node_fwview *old, const struct node_rec *now,
			      const void *arg, struct dock_err *err)
{
	(void)now;
	return fw_publish(&old->fv_node, arg, err);
}

static int node_apply_unpublish(const struct node_fwview *old, const struct node_rec *now,
				const void *arg, struct dock_err *err)
{
	(void)now;
	return fw_unpublish(&old->fv_node, arg, err);
}

static int node_apply_quarantine(const struct node_fwview *old, const struct node_rec *now,
				 const void *arg, struct dock_err *err)
{
	(void)arg;
	return fw_quarantine(&old->fv_node, now->nr_quarantined, err);
}

int node_publish(const char *name, const char *spec, bool on, struct dock_err *err)
{
	struct fw_publish p;
	struct node_rec before;
	struct node *n;
	char canon[24];
	size_t i;
	int r;

	if (fw_publish_parse(spec, &p, err) < 0)
		return -EINVAL;
	fw_publish_format(&p, canon, sizeof(canon));
	r = node_acquire(name, on ? "publishing" : "unpublishing", &n, err);
	if (r < 0)
		return r;
	before = n->n_rec;
	for (i = 0; i < before.nr_n_published; i++)
		if (strcmp(before.nr_published[i], canon) == 0)
			break;
	if (on && i < before.nr_n_published) {
		node_release(n);
		return 0; /* already published: nothing to do */
	}
	if (!on && i == before.nr_n_published) {
		node_release(n);
		return err_set(err, 404, ENOENT, "node %s does not publish %s", name, canon);
	}
	if (on && before.nr_n_published >= NODE_PUBLISH_MAX) {
		node_release(n);
		return err_set(err, 409, ENOSPC, "node %s already publishes %d ports", name,
			       NODE_PUBLISH_MAX);
	}
	pthread_mutex_lock(&node_lock);
	if (on) {
		snprintf(n->n_rec.nr_published[n->n_rec.nr_n_published++], 24, "%s", canon);
	} else {
		memmove(n->n_rec.nr_published[i], n->n_rec.nr_published[i + 1],
			(before.nr_n_published - i - 1) * sizeof(n->n_rec.nr_published[0]));
		n->n_rec.nr_n_published--;
	}
	pthread_mutex_unlock(&node_lock);
	r = node_fw_change(n, &before, err, on ? node_apply_publish : node_apply_unpublish, &p);
	if (r == 0)
		log_info("node %s: %s %s", name, on ? "published" : "unpublished", canon);
	node_release(n);
	return r;
}

static int node_snapshot_acquired(struct node *n, const char *reason, bool memory,
				  struct json_object **out, struct dock_err *err);

/* Pause (on) or resume acquired node n's domain for quarantine; a stopped
 * node has nothing to pause, a resumed one nothing to do. */
static int node_quarantine_pause(struct node *n, bool on, struct dock_err *err)
{
	struct node_names nn;
	enum virt_dom_state st;
	int r;

	node_names(&n->n_rec, &nn);
	r = virt_domain_state(nn.nn_domain, &st, err);
	if (r < 0)
		return r;
	if (on && st != VIRT_DOM_RUNNING && st != VIRT_DOM_PAUSED)
		return err_set(err, 409, EINVAL, "node %s is not running: there is nothing to pause",
			       n->n_rec.nr_name);
	if (st == (on ? VIRT_DOM_RUNNING : VIRT_DOM_PAUSED))
		r = virt_domain_pause(nn.nn_domain, on, err);
	if (r == 0) {
		pthread_mutex_lock(&node_lock);
		n->n_paused = on;
		if (!on)
			n->n_resumed_at = (int64_t)time(NULL);
		pthread_mutex_unlock(&node_lock);
	}
	return r;
}

int node_quarantine(const char *name, bool on, struct node_quarantine_opts *opt,
		    struct dock_err *err)
{
	struct node_quarantine_opts none = { 0 };
	struct node_rec before;
	struct node *n;
	bool paused_here = false;
	int r = node_acquire(name, on ? "quarantining" : "releasing", &n, err);

	if (r < 0)
		return r;
	if (opt == NULL || !on)
		opt = &none;
	before = n->n_rec;
	/* Refused without an operator key before anything is done. */
	if (opt->nq_snapshot)
		r = forensic_refuse_unless_enabled(name, err);
	/* Paused first, so the snapshot is of the node as it was caught. */
	if (r == 0 && opt->nq_pause && !n->n_paused) {
		r = node_quarantine_pause(n, true, err);
		paused_here = r == 0;
	}
	if (r == 0 && opt->nq_snapshot)
		r = node_snapshot_acquired(n, "quarantine", false, &opt->nq_snap, err);
	if (r == 0 && before.nr_quarantined != on) {
		pthread_mutex_lock(&node_lock);
		n->n_rec.nr_quarantined = on;
		pthread_mutex_unlock(&node_lock);
		r = node_fw_change(n, &before, err, node_apply_quarantine, NULL);
		if (r == 0)
			log_warn("node %s: %s", name, on ? "QUARANTINED: all its traffic is cut" : "released from quarantine");
	}
	if (r == 0 && opt->nq_pause)
		log_warn("node %s: paused in quarantine", name);
	if (r == 0 && !on && n->n_paused) {
		r = node_quarantine_pause(n, false, err);
		if (r == 0)
			log_info("node %s: resumed", name);
	}
	if (r < 0 && paused_here)
		node_quarantine_pause(n, false, NULL);
	node_release(n);
	return r;
}

int node_fw_show_json(const char *name, struct json_object **out, struct dock_err *err)
{
	struct fw_show *fs = NULL;
	char *text;
	int r = fw_show(name, &fs, err);

	if (r < 0)
		return r;
	r = fw_show_json(fs, out, err);
	text = fw_show_text(fs);
	if (r == 0 && text != NULL)
		json_object_object_add(*out, "text", json_object_new_string(text));
	free(text);
	fw_show_free(fs);
	return r;
}

/* ---- logs ------------------------------------------------------------------------ */

#define NODE_LOG_TAIL (64 * 1024)
#define NODE_LOG_LINES 200

/* The last lines of the node's serial console log. */
static struct json_object *node_console_lines(const char *path)
{
	struct json_object *a = json_object_new_array();
	char *buf = malloc(NODE_LOG_TAIL + 1), *p, *save = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	off_t size;
	ssize_t n;

	if (fd < 0 || buf == NULL)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > NODE_LOG_TAIL ? size - NODE_LOG_TAIL : 0, SEEK_SET);
	n = read(fd, buf, NODE_LOG_TAIL);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (p = strtok_r(buf, "\n", &save); p != NULL; p = strtok_r(NULL, "\n", &save)) {
		json_object_array_add(a, json_object_new_string(p));
		if (json_object_array_length(a) > NODE_LOG_LINES)
			json_object_array_del_idx(a, 0, 1);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return a;
}

int node_logs_json(const char *name, bool firewall, struct json_object **out,
		   struct dock_err *err)
{
	struct node_names nn;
	struct node_rec r;
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL)
		r = n->n_rec;
	pthread_mutex_unlock(&node_lock);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	node_names(&r, &nn);
	*out = json_object_new_object();
	json_object_object_add(*out, "node", json_object_new_string(name));
	json_object_object_add(*out, "source", json_object_new_string(firewall ? "firewall" : "console"));
	json_object_object_add(*out, "lines", firewall ? fw_log_lines(name, NODE_LOG_LINES)
						      : node_console_lines(nn.nn_console));
	return 0;
}

/* ---- self-cleansing -------------------------------------------------------------------- */

/* A forensic snapshot is a security event: its digest goes to the trail. */
static void node_audit_snapshot(const char *name, struct json_object *snap)
{
	struct json_object *d = json_object_new_object(), *v;

	if (json_object_object_get_ex(snap, "id", &v))
		json_object_object_add(d, "id", json_object_get(v));
	if (json_object_object_get_ex(snap, "sha256", &v))
		json_object_object_add(d, "sha256", json_object_get(v));
	if (json_object_object_get_ex(snap, "reason", &v))
		json_object_object_add(d, "reason", json_object_get(v));
	if (json_object_object_get_ex(snap, "memory", &v) &&
	    json_object_object_get_ex(v, "sha256", &v))
		json_object_object_add(d, "memory_sha256", json_object_get(v));
	audit_append(AUDIT_UID_DOCK, "forensic-snapshot", name, "ok", d, NULL);
	json_object_put(d);
}

/* The phase test hook: dockd --test-hooks with ISC_DEBUG_CLEANSE_PAUSE. */
static char node_pause_phase[16];

void node_test_pause_at(const char *phase)
{
	snprintf(node_pause_phase, sizeof(node_pause_phase), "%s", phase ? phase : "");
}

/* Record the phase (before its side effect, like every transition), then,
 * for the crash tests, stop there for good if asked to. */
static int node_phase(struct node *n, enum node_phase ph, struct dock_err *err)
{
	int r;

	pthread_mutex_lock(&node_lock);
	n->n_rec.nr_phase = ph;
	pthread_mutex_unlock(&node_lock);
	r = node_commit(n, NODE_CLEANSING, NULL, err);
	if (r < 0)
		return r;
	log_info("node %s: cleanse: %s", n->n_rec.nr_name, state_phase_name(ph));
	if (strcmp(node_pause_phase, state_phase_name(ph)) == 0) {
		log_warn("node %s: test hook: cleanse paused in phase %s", n->n_rec.nr_name,
			 state_phase_name(ph));
		for (;;)
			pause();
	}
	return 0;
}

/* Does the node's agent take a shutdown request (protocol 2), and is its
 * channel up? After a dock restart the channel needs a moment. */
static bool node_agent_can_shutdown(struct node *n, const char **why)
{
	for (int i = 0; i < 25; i++) {
		bool proto, conn;

		pthread_mutex_lock(&node_lock);
		proto = n->n_rec.nr_have_hello &&
			n->n_rec.nr_hello.ah_protocol >= AGENT_PROTOCOL_SHUTDOWN;
		conn = n->n_agent_connected;
		pthread_mutex_unlock(&node_lock);
		if (!proto) {
			*why = "no agent of protocol 2 or later has said hello";
			return false;
		}
		if (conn)
			return true;
		usleep(200 * 1000);
	}
	*why = "the agent channel is not connected";
	return false;
}

/* Graceful first: the agent asks init to power off; then ACPI; then the
 * domain is powered off. Each step is given shutdown_timeout_s. */
static int node_cleanse_shutdown(struct node *n, const struct node_names *nn,
				 struct dock_err *err)
{
	unsigned t = (unsigned)node_cfg->dc_shutdown_timeout_s;
	enum virt_dom_state st;
	const char *why = NULL;
	bool acked;

	if (virt_domain_state(nn->nn_domain, &st, err) < 0)
		return -EIO;
	if (st == VIRT_DOM_OFF || st == VIRT_DOM_ABSENT) {
		log_info("node %s: cleanse: already off", n->n_rec.nr_name);
		return 0;
	}
	if (st == VIRT_DOM_RUNNING && node_agent_can_shutdown(n, &why)) {
		log_info("node %s: cleanse: asking the agent to power off (up to %us)",
			 n->n_rec.nr_name, t);
		pthread_mutex_lock(&node_lock);
		n->n_shutdown_acked = false;
		n->n_want_shutdown = true;
		pthread_mutex_unlock(&node_lock);
		int r = virt_domain_wait_off(nn->nn_domain, t, err);
		pthread_mutex_lock(&node_lock);
		n->n_want_shutdown = false;
		acked = n->n_shutdown_acked;
		pthread_mutex_unlock(&node_lock);
		if (r == 0) {
			log_info("node %s: cleanse: powered off by its agent%s", n->n_rec.nr_name,
				 acked ? "" : " (no acknowledgement seen)");
			return 0;
		}
		if (r != -ETIMEDOUT)
			return r;
		log_warn("node %s: cleanse: %s, but not off after %us; ACPI next", n->n_rec.nr_name,
			 acked ? "the agent acknowledged the shutdown request" : "no answer from the agent", t);
	} else if (st == VIRT_DOM_RUNNING) {
		log_info("node %s: cleanse: no agent shutdown (%s); ACPI next", n->n_rec.nr_name, why);
	}
	log_info("node %s: cleanse: ACPI shutdown, powered off after %us", n->n_rec.nr_name, t);
	return virt_domain_stop(nn->nn_domain, t, err);
}

/* The disk as it was, kept for the operator before it is shredded. An
 * interrupted copy is thrown away and taken again. */
static int node_cleanse_snapshot(struct node *n, const struct node_names *nn,
				 struct dock_err *err)
{
	struct json_object *snap = NULL;
	int r;

	(void)nn;
	if (!forensic_enabled()) {
		log_info("node %s: cleanse: no forensic snapshot (no forensic_pubkey)", n->n_rec.nr_name);
		return 0;
	}
	forensic_discard_partial(n->n_rec.nr_name);
	r = forensic_snapshot(n->n_rec.nr_name, n->n_rec.nr_volume, "cleanse", NULL, &snap, err);
	if (r == 0)
		node_audit_snapshot(n->n_rec.nr_name, snap);
	json_object_put(snap);
	return r;
}

/* Crypto-shred (the secret first: without its key the old data is noise),
 * then a fresh disk with a new key: O(1) in the disk's size. Redone whole
 * after a crash: whatever secret holds the volume's usage and the volume
 * itself go, old or half made. */
static int node_cleanse_rekey(struct node *n, const struct node_names *nn, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	int rc = virt_secret_remove(r->nr_secret_uuid, r->nr_volume, err);

	if (rc == 0)
		rc = virt_secret_remove(NULL, r->nr_volume, err); /* one made before a crash */
	if (rc == 0)
		rc = virt_volume_remove(NODE_POOL, nn->nn_volume, err);
	/* UEFI variables are guest-writable state too: libvirt makes a fresh
	 * copy of the template at the next start. */
	if (rc == 0)
		rc = node_nvram_remove(r->nr_name, nn->nn_nvram, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&node_lock);
	r->nr_secret_uuid[0] = '\0';
	pthread_mutex_unlock(&node_lock);
	rc = node_make_disk(n, nn, err);
	if (rc == 0) {
		pthread_mutex_lock(&node_lock);
		r->nr_cleanses++; /* recorded with the next phase */
		pthread_mutex_unlock(&node_lock);
		log_info("node %s: cleanse: old key destroyed, fresh disk with a new key",
			 r->nr_name);
	}
	return rc;
}

static int node_cleanse_start(struct node *n, const struct node_names *nn, struct dock_err *err)
{
	enum virt_dom_state st;

	/* Started before a crash: nothing to redo. */
	if (virt_domain_state(nn->nn_domain, &st, err) < 0)
		return -EIO;
	if (st == VIRT_DOM_RUNNING)
		return 0;
	return node_do_start(n, true, err);
}

/* Until the new boot's agent says hello (node_do_start forgot the old one). */
static int node_cleanse_wait_agent(struct node *n, const struct node_names *nn,
				   struct dock_err *err)
{
	int64_t until = (int64_t)time(NULL) + (int64_t)node_cfg->dc_ready_timeout_s;
	bool hello;

	(void)nn;
	for (;;) {
		pthread_mutex_lock(&node_lock);
		hello = n->n_rec.nr_have_hello;
		pthread_mutex_unlock(&node_lock);
		if (hello)
			return 0;
		if ((int64_t)time(NULL) >= until)
			return err_set(err, 504, ETIMEDOUT, "no hello from the agent within %llus",
				       (unsigned long long)node_cfg->dc_ready_timeout_s);
		usleep(250 * 1000);
	}
}

/* The phases in order: data, not code. */
static int (*const node_cleanse_steps[NODE_PHASE_COUNT])(struct node *, const struct node_names *,
							   struct dock_err *) = {
	[NODE_PHASE_SHUTDOWN] = node_cleanse_shutdown,
	[NODE_PHASE_SNAPSHOT] = node_cleanse_snapshot,
	[NODE_PHASE_REKEY] = node_cleanse_rekey,
	[NODE_PHASE_START] = node_cleanse_start,
	[NODE_PHASE_WAIT_AGENT] = node_cleanse_wait_agent,
};

/* Run the cleanse phases from..to, each recorded before its side effect;
 * each redoes its work whole, so a dock killed in one resumes it at start
 * (node_reconcile). A failure leaves the node failed, its phase and the
 * reason recorded. The caller holds the node busy. */
static int node_do_cleanse(struct node *n, enum node_phase from, enum node_phase to,
			   struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct node_names nn;
	int rc = 0;

	node_timing_begin(n, "cleanse", timing_now());
	node_names(r, &nn);
	for (enum node_phase ph = from; ph <= to && rc == 0; ph++) {
		if (ph == NODE_PHASE_START) {
			/* The old boot's hello says nothing about the new one. */
			pthread_mutex_lock(&node_lock);
			r->nr_have_hello = false;
			pthread_mutex_unlock(&node_lock);
		}
		rc = node_phase(n, ph, err);
		if (rc == 0)
			rc = node_cleanse_steps[ph](n, &nn, err);
		if (rc < 0) {
			const char *reason = err && err->de_msg[0] ? err->de_msg : "failed";
			err_prefix(err, "cleanse %s: %s: ", r->nr_name, state_phase_name(ph));
			node_commit(n, NODE_FAILED, reason, NULL);
			return rc;
		}
	}
	rc = node_commit(n, NODE_RUNNING, NULL, err);
	if (rc == 0)
		log_info("node %s: cleansed (%llu so far): fresh ephemeral disk, new key", r->nr_name,
			 (unsigned long long)r->nr_cleanses);
	return rc;
}

int node_cleanse(const char *name, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "cleansing", &n, err);

	if (r < 0)
		return r;
	r = node_do_cleanse(n, NODE_PHASE_SHUTDOWN, NODE_PHASE_WAIT_AGENT, err);
	node_release(n);
	return r;
}

static void *node_cleanse_thread(void *arg)
{
	struct node *n = arg;
	struct dock_err e = { 0 };

	char result[600];
	/* A cleanse the dock was stopped in resumes at its recorded phase. */
	enum node_phase from = n->n_rec.nr_state == NODE_CLEANSING && n->n_rec.nr_phase != NODE_PHASE_NONE
				       ? n->n_rec.nr_phase
				       : NODE_PHASE_SHUTDOWN;
	int r = node_do_cleanse(n, from, NODE_PHASE_WAIT_AGENT, &e);

	if (r < 0)
		log_err("node %s: automatic cleanse failed: %s", n->n_rec.nr_name, e.de_msg);
	snprintf(result, sizeof(result), "%s%s", r < 0 ? "error: " : "ok", r < 0 ? e.de_msg : "");
	audit_append(AUDIT_UID_DOCK, "cleanse", n->n_rec.nr_name, result, NULL, NULL);
	node_release(n);
	return NULL;
}

#define NODE_ACT_RETRIES 300 /* seconds a policy waits for a busy node */

struct node_act {
	char na_name[NODE_NAME_MAX + 1];
	enum node_action na_act;
};

static void *node_act_thread(void *arg)
{
	struct node_act *a = arg;
	struct dock_err e = { 0 };
	int r = 0;

	/* A node busy with another operation (a cleanse finishing, say) gets
	 * the policy when it is done, as an operator retrying would. */
	for (int tries = 0; tries < NODE_ACT_RETRIES; tries++) {
		err_clear(&e);
		switch (a->na_act) {
		case NODE_ACT_QUARANTINE:
			r = node_quarantine(a->na_name, true, NULL, &e);
			break;
		case NODE_ACT_CLEANSE:
			r = node_cleanse(a->na_name, &e);
			break;
		case NODE_ACT_DESTROY:
			r = node_destroy(a->na_name, &e);
			break;
		case NODE_ACT_ALERT:
		case NODE_ACT_COUNT:
			break;
		}
		if (r != -EBUSY)
			break;
		sleep(1);
	}
	if (r < 0)
		log_err("node %s: policy %s failed: %s", a->na_name, state_action_name(a->na_act),
			e.de_msg);
	free(a);
	return NULL;
}

/* Apply a policy (with node_lock held): alert logs; the others run in a
 * thread of their own, as if an operator had asked. */
static void node_policy_locked(struct node *n, enum node_action act, const char *why,
			       const char *event)
{
	struct node_act *a;
	pthread_t t;

	log_warn("node %s: %s: policy %s", n->n_rec.nr_name, why, state_action_name(act));
	if (event != NULL) {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "policy", json_object_new_string(state_action_name(act)));
		json_object_object_add(d, "bad", json_object_new_int64((int64_t)n->n_bad));
		json_object_object_add(d, "overlong", json_object_new_int64((int64_t)n->n_overlong));
		json_object_object_add(d, "dropped", json_object_new_int64((int64_t)n->n_dropped));
		/* A security event: the dock is the one who acts. */
		audit_append(AUDIT_UID_DOCK, event, n->n_rec.nr_name, "ok", d, NULL);
		json_object_put(d);
	}
	if (act == NODE_ACT_ALERT || (act == NODE_ACT_QUARANTINE && n->n_rec.nr_quarantined))
		return;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return;
	snprintf(a->na_name, sizeof(a->na_name), "%s", n->n_rec.nr_name);
	a->na_act = act;
	if (pthread_create(&t, NULL, node_act_thread, a) == 0)
		pthread_detach(t);
	else
		free(a);
}

static bool node_was_failing(const struct node_rec *r, const char *id)
{
	for (size_t i = 0; i < r->nr_n_failing; i++)
		if (strcmp(r->nr_failing[i], id) == 0)
			return true;
	return false;
}

/* A FAIL must last this long (over the reports of one boot) to count: the
 * first reports of a boot come before DHCP and the service are up, and
 * must not quarantine a healthy node. The dock asks for a report every
 * AGENTCHAN_REPORT_EVERY_S. */
#define NODE_FAIL_CONFIRM_S 20

/* A report just completed: each agent-side check that turns FAIL is a
 * security event, and the node's on_fail policy runs once for the report.
 * A check turns FAIL when it was not failing before and the reports of
 * this boot have said FAIL for NODE_FAIL_CONFIRM_S. The failing
 * set is kept in the record, so neither a dock restart nor a cleanse
 * repeats the policy for a check that stays FAIL. Only the agent's rows:
 * the dock-side ones ask libvirt, not to be done under node_lock. */
static void node_judge_report_locked(struct node *n)
{
	static const struct dock_facts no_dock_facts;
	struct node_rec *r = &n->n_rec;
	struct check_row rows[CHECKS_MAX];
	struct netpool_subnet sn;
	char failing[NODE_FAILING_MAX][24];
	size_t nf = 0, cnt, turned = 0;
	int64_t now = n->n_report->rp_time;
	bool same;

	netpool_subnet(&node_cfg->dc_pool, r->nr_subnet, &sn);
	struct checks_node cn = {
		.cn_name = r->nr_name,
		.cn_ip = sn.ns_node_ip,
		.cn_mac = r->nr_mac,
		.cn_now = n->n_report->rp_time,
		.cn_deadline_s = (int64_t)node_cfg->dc_agent_deadline_s,
	};
	struct agent_view av = {
		.av_connected = true,
		.av_last_heartbeat = n->n_report->rp_time,
		.av_report_time = n->n_report->rp_time,
		.av_facts = n->n_report->rp_facts,
		.av_have = n->n_report->rp_have,
	};
	cnt = checks_evaluate(&cn, &no_dock_facts, &av, n->n_have_profile ? &n->n_profile : NULL,
			      rows, CHECKS_MAX);
	for (size_t i = 0; i < cnt; i++) {
		struct json_object *d;

		if (strcmp(rows[i].cr_source, "agent") != 0 || rows[i].cr_status != CHECK_FAIL) {
			n->n_fail_since[i] = 0;
			continue;
		}
		if (n->n_fail_since[i] == 0)
			n->n_fail_since[i] = now;
		if (nf >= NODE_FAILING_MAX)
			continue;
		if (node_was_failing(r, rows[i].cr_id)) {
			snprintf(failing[nf++], sizeof(failing[0]), "%s", rows[i].cr_id);
			continue;
		}
		if (now - n->n_fail_since[i] < NODE_FAIL_CONFIRM_S)
			continue; /* not yet: a later report confirms */
		snprintf(failing[nf++], sizeof(failing[0]), "%s", rows[i].cr_id);
		turned++;
		log_warn("node %s: check %s turned FAIL: %s", r->nr_name, rows[i].cr_id,
			 rows[i].cr_evidence);
		d = json_object_new_object();
		json_object_object_add(d, "check", json_object_new_string(rows[i].cr_id));
		json_object_object_add(d, "evidence", json_object_new_string(rows[i].cr_evidence));
		json_object_object_add(d, "policy", json_object_new_string(state_action_name(r->nr_on_fail)));
		audit_append(AUDIT_UID_DOCK, "check-failed", r->nr_name, "ok", d, NULL);
		json_object_put(d);
	}
	same = nf == r->nr_n_failing;
	for (size_t i = 0; same && i < nf; i++)
		same = node_was_failing(r, failing[i]);
	if (!same) {
		memcpy(r->nr_failing, failing, nf * sizeof(failing[0]));
		r->nr_n_failing = nf;
		state_save(node_cfg->dc_state_dir, r, NULL);
	}
	if (turned > 0) {
		char why[64];
		snprintf(why, sizeof(why), "%zu check(s) turned FAIL", turned);
		node_policy_locked(n, r->nr_on_fail, why, NULL);
	}
}

void node_tick(void)
{
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < n_nodes; i++) {
		struct node *n = nodes[i];
		int64_t heard = n->n_last_heartbeat;
		pthread_t t;

		if (n->n_rec.nr_have_hello && n->n_rec.nr_hello.ah_received > heard)
			heard = n->n_rec.nr_hello.ah_received;
		if (heard != 0 && n->n_resumed_at > heard)
			heard = n->n_resumed_at;
		/* A paused node is silent by the operator's will, and its
		 * lifetime waits: a cleanse would end the inspection. */
		if (n->n_paused)
			continue;
		if (n->n_op == NULL && n->n_rec.nr_state == NODE_RUNNING) {
			if (!n->n_hostile_handled && n->n_bad + n->n_overlong + n->n_dropped > 0) {
				n->n_hostile_handled = true;
				node_policy_locked(n, n->n_rec.nr_on_hostile, "hostile agent input",
						   "hostile-input");
			}
			if (heard != 0 && now - heard > (int64_t)node_cfg->dc_agent_deadline_s) {
				if (!n->n_silent_handled) {
					n->n_silent_handled = true;
					node_policy_locked(n, n->n_rec.nr_on_silent,
							   "agent silent past the deadline", "agent-silent");
				}
			} else {
				n->n_silent_handled = false;
			}
		}

		if (n->n_op != NULL || n->n_rec.nr_state != NODE_RUNNING ||
		    n->n_rec.nr_cleanse_at == 0 || now < n->n_rec.nr_cleanse_at)
			continue;
		log_info("node %s: maximum lifetime (%llus) reached: cleansing", n->n_rec.nr_name,
			 (unsigned long long)n->n_rec.nr_lifetime_s);
		n->n_op = "cleansing"; /* busy before the thread exists: no second one */
		if (pthread_create(&t, NULL, node_cleanse_thread, n) == 0)
			pthread_detach(t);
		else
			n->n_op = NULL;
	}
	pthread_mutex_unlock(&node_lock);
}

/* The memory of a snapshot: libvirt dumps the paused domain (arg). */
static int node_dump_memory(const char *path, void *arg, struct dock_err *err)
{
	return virt_domain_dump_memory(arg, path, err);
}

/* A forensic snapshot of acquired node n: a running domain is paused for a
 * consistent copy, then resumed; one already paused stays so. */
static int node_snapshot_acquired(struct node *n, const char *reason, bool memory,
				  struct json_object **out, struct dock_err *err)
{
	const char *name = n->n_rec.nr_name;
	struct node_names nn;
	enum virt_dom_state st = VIRT_DOM_ABSENT;
	struct forensic_memory mem = { 0 };
	bool paused = false;
	int r = forensic_refuse_unless_enabled(name, err);

	if (r < 0)
		return r;
	node_names(&n->n_rec, &nn);
	if (virt_domain_state(nn.nn_domain, &st, NULL) == 0 && st == VIRT_DOM_RUNNING) {
		r = virt_domain_pause(nn.nn_domain, true, err);
		paused = r == 0;
	}
	if (r == 0 && memory && st != VIRT_DOM_RUNNING && st != VIRT_DOM_PAUSED)
		r = err_set(err, 409, EINVAL, "node %s is not running: it has no memory to dump",
			    name);
	mem.fm_dump = node_dump_memory;
	mem.fm_arg = nn.nn_domain;
	/* The dump is the guest's RAM and QEMU's ELF headers (a few pages). */
	mem.fm_max_bytes = (n->n_rec.nr_memory_mib + 64) << 20;
	if (r == 0)
		r = forensic_snapshot(name, n->n_rec.nr_volume, reason, memory ? &mem : NULL, out,
				      err);
	if (paused)
		virt_domain_pause(nn.nn_domain, false, NULL);
	if (r == 0)
		node_audit_snapshot(name, *out);
	return r;
}

int node_snapshot(const char *name, bool memory, struct json_object **out, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "snapshotting", &n, err);

	if (r < 0)
		return r;
	r = node_snapshot_acquired(n, "on demand", memory, out, err);
	node_release(n);
	return r;
}
