/* node-create: node_create, the create path read top to bottom as the
 * data flows: check the request, translate it into a record (node-spec.c),
 * claim the name, a subnet and a MAC address, then the encrypted volume,
 * the network, the firewall, the domain, and the start. Everything that
 * can be refused is refused before anything exists; a failure after that
 * removes all that was made. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "diskguard.h"
#include "log.h"
#include "pin.h"
#include "virt.h"

static int node_new_mac(char mac[18], struct dock_err *err)
{
	unsigned char b[3];

	for (int tries = 0; tries < 16; tries++) {
		bool dup = false;
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return err_set(err, 500, EIO, "getrandom failed");
		snprintf(mac, 18, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
		for (size_t i = 0; i < node_count; i++)
			dup |= strcmp(node_table[i]->n_rec.nr_mac, mac) == 0;
		if (!dup)
			return 0;
	}
	return err_set(err, 500, EAGAIN, "cannot find a free MAC address");
}

/* The resolver options of the node's allow entries by name (fw.h's
 * fw_names_dnsmasq), one per line; "" without such entries. 400 when it
 * has some and no upstream is known (config_dns_upstream). */
static int node_dns_names(const struct node_rec *r, const struct node_names *nn, char **opts,
			  struct dock_err *err)
{
	struct node_fwview fv;
	char up[16] = "";
	bool names = false;
	size_t n = 0;

	for (size_t i = 0; i < r->nr_n_allow; i++)
		names |= fw_name_entry_is(r->nr_egress_allow[i]);
	if (names && config_dns_upstream(node_cfg, NULL, up, err) < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		return -EINVAL;
	}
	node_fw(r, nn, &fv);
	return fw_names_dnsmasq(&fv.fv_node, names ? up : NULL, opts, &n, err);
}

static int node_network_xml(const struct node_rec *r, const struct node_names *nn, char **xml,
			    struct dock_err *err)
{
	char *names = NULL;
	int rc = node_dns_names(r, nn, &names, err);

	if (rc < 0)
		return rc;
	const struct render_var v[] = {
		{ "network", nn->nn_network },
		{ "bridge", nn->nn_subnet.ns_bridge },
		{ "gateway", nn->nn_subnet.ns_gateway },
		{ "netmask", nn->nn_subnet.ns_netmask },
		{ "ip", nn->nn_subnet.ns_node_ip },
		{ "mac", r->nr_mac },
		{ "name", r->nr_name },
		/* egress deny: the gateway's resolver answers the node's own names
		 * only (a lab's, flows.c) and forwards nothing: no lookup leaves */
		{ "dns_off", r->nr_egress_deny ? "yes" : "" },
		/* but its allow entries by name, forwarded and pinned (fw.h) */
		{ "dns_names", names },
		{ "dns_options", r->nr_egress_deny || names[0] != '\0' ? "yes" : "" },
	};
	rc = node_render("network.xml", v, NVARS(v), xml, err);
	/* a template of before names knows no dns_names: the names would
	 * resolve nowhere, or everywhere */
	if (rc == 0 && names[0] != '\0' && strstr(*xml, "nftset=/") == NULL) {
		free(*xml);
		*xml = NULL;
		rc = err_set(err, 500, EINVAL,
			     "template network.xml: no <dnsmasq:option isc-each='dns_names'>, "
			     "which allow entries by name need");
	}
	free(names);
	return rc;
}

/* What the steps of one create hand on to the next. */
struct node_create {
	const struct node_spec *nc_spec;
	int64_t nc_t0;       /* when the request came in */
	int64_t nc_t;        /* the current phase's start, for timing */
	struct image nc_im;  /* the image, checked */
	char nc_profile[64]; /* the profile chosen */
	struct node *nc_n;   /* the node, private until claimed */
	struct node_names nc_nn;
};

/* Room on the disk (diskguard.h), the image, its digest, the published
 * ports, the profile asked for. */
static int node_create_check(struct node_create *c, struct dock_err *err)
{
	const struct node_spec *spec = c->nc_spec;
	struct profile prof;
	char pdir[PATH_MAX];
	bool own = false;

	if (diskguard_check(node_cfg, "create", err) < 0)
		return -ENOSPC;
	if (image_load(node_cfg->dc_image_dir, spec->ns_image, &c->nc_im, err) < 0)
		return -EINVAL;
	if (image_verify(&c->nc_im, err) < 0)
		return -EINVAL;
	if (node_spec_check_publish(spec, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < spec->ns_n_publish; i++) {
		struct fw_publish p;
		int r;
		fw_publish_parse(spec->ns_publish[i], &p, NULL); /* checked above */
		if ((r = node_publish_allowed(&p, err)) < 0)
			return r;
	}
	snprintf(pdir, sizeof(pdir), "%s/profiles", node_cfg->dc_template_dir);
	if (spec->ns_profile[0] != '\0') {
		if (profile_load(pdir, spec->ns_profile, &prof, err) < 0 ||
		    checks_profile_check(&prof, err) < 0)
			return -EINVAL;
	} else if (profile_load(pdir, spec->ns_image, &prof, NULL) == 0) {
		/* The image's profile file skips only what a profile may. */
		if (checks_profile_check(&prof, err) < 0)
			return -EINVAL;
		own = true;
	} else {
		own = c->nc_im.im_have_service;
	}
	node_spec_profile(spec, own, c->nc_profile, sizeof(c->nc_profile));
	return 0;
}

/* A node's id for good (its guest audit log's key): 128 random bits, so a
 * name used again never continues an old node's log. */
static void node_create_id(char out[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(ts) < sizeof(b) ? sizeof(ts) : sizeof(b));
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[32] = '\0';
}

/* The record from the request (node-spec.c), the profile it names loaded. */
static int node_create_translate(struct node_create *c, struct dock_err *err)
{
	struct node *n = calloc(1, sizeof(*n));
	const struct node_spec_in in = {
		.si_spec = c->nc_spec,
		.si_cfg = node_cfg,
		.si_image = &c->nc_im,
		.si_profile = c->nc_profile,
		.si_now = (int64_t)time(NULL),
	};

	if (n == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	c->nc_n = n;
	node_spec_rec(&in, &n->n_rec);
	n->n_rec.nr_version = STATE_VERSION;
	node_create_id(n->n_rec.nr_id);
	pin_set(&n->n_rec, &c->nc_im, NULL); /* the base it boots, from now on */
	node_load_profile(n);
	node_spec_on_fail(c->nc_spec, n->n_have_profile ? n->n_profile.pr_on_fail : NULL,
			  &n->n_rec);
	return 0;
}

/* The name is free, the table has room, a subnet, a MAC address and the
 * uid of its QEMU (node-vmm.c). */
static int node_create_reserve_locked(struct node *n, bool *used, size_t cap, struct dock_err *err)
{
	int r;

	if (node_find_locked(n->n_rec.nr_name) != NULL)
		return err_set(err, 409, EEXIST, "node \"%s\" already exists", n->n_rec.nr_name);
	if (node_count >= NODE_MAX)
		return err_set(err, 409, ENOSPC, "the dock already holds %d nodes", NODE_MAX);
	for (size_t i = 0; i < node_count; i++)
		if (node_table[i]->n_rec.nr_subnet < cap)
			used[node_table[i]->n_rec.nr_subnet] = true;
	r = netpool_alloc(&node_cfg->dc_pool, used, cap, &n->n_rec.nr_subnet, err);
	if (r == 0)
		r = node_new_mac(n->n_rec.nr_mac, err);
	if (r == 0)
		r = node_vmm_uid_locked(n, err);
	return r;
}

/* The firewall accepts the node as it will be; the record is saved. */
static int node_create_record_locked(struct node_create *c, struct dock_err *err)
{
	struct node *n = c->nc_n;
	struct node_names nn;
	struct node_fwview fv;
	int r;

	node_names(&n->n_rec, &nn);
	node_fw(&n->n_rec, &nn, &fv);
	r = fw_node_check(&fv.fv_node, err);
	if (r == 0) { /* the resolver's options can be made */
		char *names = NULL;

		r = node_dns_names(&n->n_rec, &nn, &names, err);
		free(names);
	}
	if (r < 0)
		return r;
	timing_begin(&n->n_timing, "create", c->nc_t0);
	timing_add(&n->n_timing, TIMING_VALIDATE, c->nc_t0, timing_now());
	n->n_rec.nr_state = NODE_CREATING;
	n->n_op = "creating";
	return state_save(node_cfg->dc_state_dir, &n->n_rec, err);
}

/* Under the table's lock: name, subnet and MAC claimed, the record saved,
 * the node in the table (busy "creating"). */
static int node_create_claim(struct node_create *c, struct dock_err *err)
{
	size_t cap = netpool_capacity(&node_cfg->dc_pool);
	bool *used = calloc(cap, sizeof(*used));
	int r;

	if (used == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	pthread_mutex_lock(&node_lock);
	r = node_create_reserve_locked(c->nc_n, used, cap, err);
	if (r == 0)
		r = node_create_record_locked(c, err);
	if (r == 0)
		node_table[node_count++] = c->nc_n;
	pthread_mutex_unlock(&node_lock);
	free(used);
	return r;
}

/* Volume, key, LUKS header, secret; the secret's uuid recorded. */
static int node_create_disk(struct node_create *c, struct dock_err *err)
{
	int r;

	node_names(&c->nc_n->n_rec, &c->nc_nn);
	node_op_phase(c->nc_n, "disk");
	r = node_make_disk(c->nc_n, &c->nc_nn, err);
	if (r == 0)
		r = node_commit(c->nc_n, NODE_CREATING, NULL, err); /* record the secret's uuid */
	c->nc_t = timing_now();
	return r;
}

static int node_create_network(struct node_create *c, struct dock_err *err)
{
	char *xml = NULL;
	int r;

	node_op_phase(c->nc_n, "network");
	r = node_network_xml(&c->nc_n->n_rec, &c->nc_nn, &xml, err);
	c->nc_t = node_time(c->nc_n, TIMING_RENDER, c->nc_t);
	if (r == 0)
		r = virt_network_create(c->nc_nn.nn_network, xml, err);
	c->nc_t = node_time(c->nc_n, TIMING_NETWORK, c->nc_t);
	free(xml);
	return r;
}

static int node_create_firewall(struct node_create *c, struct dock_err *err)
{
	struct node_fwview fv;
	int r;

	node_op_phase(c->nc_n, "firewall");
	node_fw(&c->nc_n->n_rec, &c->nc_nn, &fv);
	r = fw_node_add(&fv.fv_node, err);
	c->nc_t = node_time(c->nc_n, TIMING_FIREWALL, c->nc_t);
	return r;
}

/*
 * A domain of this node's name that the define met: the name is claimed in
 * the table, so no record owns it; it is what a dock killed during an
 * earlier create had sent to libvirt, which finished that define after the
 * restarted dock had removed the half-made node. Removed, so the define can
 * run once more; 0 when there was one and it is gone.
 */
static int node_create_orphan(struct node_create *c)
{
	enum virt_dom_state st;

	if (virt_domain_state(c->nc_nn.nn_domain, &st, NULL) < 0 || st == VIRT_DOM_ABSENT)
		return -1;
	log_warn("node %s: an orphan domain %s (an earlier create's, cut short) is in the way: "
		 "removing it",
		 c->nc_spec->ns_name, c->nc_nn.nn_domain);
	return virt_domain_remove(c->nc_nn.nn_domain, NULL);
}

static int node_create_define(struct node_create *c, struct dock_err *err)
{
	char *xml = NULL;
	int r;

	node_op_phase(c->nc_n, "define");
	r = node_domain_xml(&c->nc_n->n_rec, &c->nc_nn, &xml, err);
	c->nc_t = node_time(c->nc_n, TIMING_RENDER, c->nc_t);
	if (r == 0)
		r = virt_domain_define(xml, err);
	if (r < 0 && node_create_orphan(c) == 0)
		r = virt_domain_define(xml, err);
	node_time(c->nc_n, TIMING_DOMAIN, c->nc_t);
	free(xml);
	if (r == 0)
		r = node_commit(c->nc_n, NODE_DEFINED, NULL, err);
	return r;
}

/* Nothing half-created: undo all, then forget the node. */
static int node_create_undo(struct node_create *c, int r, struct dock_err *err)
{
	const char *name = c->nc_spec->ns_name;

	log_warn("node %s: create failed, removing what was made: %s", name,
		 err && err->de_msg[0] ? err->de_msg : "");
	node_teardown(&c->nc_n->n_rec, NULL);
	state_remove(node_cfg->dc_state_dir, name, NULL);
	pthread_mutex_lock(&node_lock);
	node_remove_locked(c->nc_n);
	pthread_mutex_unlock(&node_lock);
	err_prefix(err, "create %s: ", name);
	return r;
}

/* Created: a node not started ends its timing here; it is no longer busy. */
static void node_create_done(struct node_create *c)
{
	log_info("node %s: created from image %s", c->nc_spec->ns_name, c->nc_spec->ns_image);
	if (!c->nc_spec->ns_start) {
		pthread_mutex_lock(&node_lock);
		node_timing_end_locked(c->nc_n, timing_now());
		pthread_mutex_unlock(&node_lock);
	}
	node_release(c->nc_n);
}

int node_create(const struct node_spec *spec, struct json_object **out, struct dock_err *err)
{
	struct node_create c = { .nc_spec = spec, .nc_t0 = timing_now() };
	int r;

	/* Everything that can be refused is refused before anything exists. */
	r = node_create_check(&c, err);
	if (r == 0)
		r = node_create_translate(&c, err);
	if (r == 0)
		r = node_create_claim(&c, err);
	if (r < 0) {
		node_free(c.nc_n);
		return r;
	}
	r = node_create_disk(&c, err);
	if (r == 0)
		r = node_create_network(&c, err);
	if (r == 0)
		r = node_create_firewall(&c, err);
	if (r == 0)
		r = node_create_define(&c, err);
	if (r == 0 && spec->ns_start) {
		node_op_phase(c.nc_n, "start");
		r = node_do_start(c.nc_n, false, err); /* the image was verified above */
	}
	if (r < 0)
		return node_create_undo(&c, r, err);
	node_create_done(&c);
	return node_inspect_json(spec->ns_name, out, err);
}
