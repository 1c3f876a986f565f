/* node-fw: the node room's side of the firewall (firewall/fw.h): the node
 * as the firewall sees it, publishing and unpublishing ports, quarantine,
 * and the policy in force (fw show). A change is recorded first, applied in
 * one batch, and the record restored if the kernel refuses it. */
#include "node-int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "flows.h"
#include "forensic.h"
#include "jsonin.h"
#include "log.h"
#include "portcheck.h"

void node_fw(const struct node_rec *r, const struct node_names *nn, struct node_fwview *fv)
{
	size_t np = 0;

	memset(fv, 0, sizeof(*fv));
	for (size_t i = 0; i < r->nr_n_published; i++)
		if (!(r->nr_withheld & (1u << i)) &&
		    fw_publish_parse(r->nr_published[i], &fv->fv_pub[np], NULL) == 0)
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
		.fn_negress_allow = r->nr_n_allow,
		.fn_quarantined = r->nr_quarantined,
		.fn_net_in_bps = resctl_net_bps(&r->nr_limits, RESCTL_NET_IN_MBPS),
		.fn_net_out_bps = resctl_net_bps(&r->nr_limits, RESCTL_NET_OUT_MBPS),
	};
}

/* ---- the host ports a publish may take ---------------------------------------------- */

int node_publish_allowed(const struct fw_publish *p, struct dock_err *err)
{
	char spec[24], who[PORTCHECK_ADDR_MAX];
	bool udp = p->fp_proto == IPPROTO_UDP;
	int r;

	fw_publish_format(p, spec, sizeof(spec));
	if (p->fp_host_port < node_cfg->dc_publish_lo || p->fp_host_port > node_cfg->dc_publish_hi)
		return err_set(err, 400, EPERM,
			       "publish %s: host port %u is outside publish_ports %u-%u", spec,
			       p->fp_host_port, node_cfg->dc_publish_lo, node_cfg->dc_publish_hi);
	r = portcheck_in_use(p->fp_host_port, udp, who, sizeof(who), err);
	if (r < 0) {
		err_prefix(err, "publish %s: ", spec);
		return r;
	}
	if (r == 1)
		return err_set(err, 409, EADDRINUSE,
			       "publish %s: host port %u/%s is in use by a listening socket (%s)",
			       spec, p->fp_host_port, udp ? "udp" : "tcp", who);
	return 0;
}

/* At start: a recorded port the dock may no longer publish is not
 * installed (WARN in status, not FAIL: an upgrade must not fire on_fail),
 * logged and audited. */
void node_publish_screen(struct node_rec *r)
{
	size_t used = 0;

	r->nr_withheld = 0;
	r->nr_withheld_why[0] = '\0';
	for (size_t i = 0; i < r->nr_n_published; i++) {
		struct dock_err e = { 0 };
		struct fw_publish p;
		struct json_object *d;

		if (fw_publish_parse(r->nr_published[i], &p, NULL) < 0 ||
		    node_publish_allowed(&p, &e) == 0)
			continue;
		r->nr_withheld |= 1u << i;
		log_warn("node %s: not installed: %s", r->nr_name, e.de_msg);
		if (used < sizeof(r->nr_withheld_why))
			used += (size_t)snprintf(r->nr_withheld_why + used,
						 sizeof(r->nr_withheld_why) - used,
						 "%snot installed: %s", used ? "; " : "", e.de_msg);
		d = json_object_new_object();
		json_object_object_add(d, "publish", json_object_new_string(r->nr_published[i]));
		json_object_object_add(d, "reason", json_object_new_string(e.de_msg));
		audit_append(AUDIT_UID_DOCK, "publish-withheld", r->nr_name, "withheld", d, NULL);
		json_object_put(d);
	}
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
	r = node_save_locked(n, err);
	pthread_mutex_unlock(&node_lock);
	if (r < 0)
		return r;
	node_names(before, &nn);
	node_fw(before, &nn, &fv);
	r = apply(&fv, &n->n_rec, arg, err);
	if (r < 0) {
		pthread_mutex_lock(&node_lock);
		n->n_rec = *before;
		node_save_locked(n, NULL);
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

/* A withheld port is in the record only: nothing in the kernel to remove. */
static int node_apply_nothing(const struct node_fwview *old, const struct node_rec *now,
			      const void *arg, struct dock_err *err)
{
	(void)old, (void)now, (void)arg, (void)err;
	return 0;
}

static int node_apply_quarantine(const struct node_fwview *old, const struct node_rec *now,
				 const void *arg, struct dock_err *err)
{
	(void)arg;
	return fw_quarantine(&old->fv_node, now->nr_quarantined, err);
}

/* Port i left the record: the withheld bits above it move down. */
static void node_withheld_drop(struct node_rec *r, size_t i)
{
	uint32_t w = r->nr_withheld;

	r->nr_withheld = (w & ((1u << i) - 1)) | ((w >> (i + 1)) << i);
	if (r->nr_withheld == 0)
		r->nr_withheld_why[0] = '\0';
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
	if (on && (r = node_publish_allowed(&p, err)) < 0)
		return r;
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
		node_withheld_drop(&n->n_rec, i);
	}
	pthread_mutex_unlock(&node_lock);
	r = node_fw_change(n, &before, err,
			   on                                       ? node_apply_publish
				   : before.nr_withheld & (1u << i) ? node_apply_nothing
								    : node_apply_unpublish,
			   &p);
	if (r == 0)
		log_info("node %s: %s %s", name, on ? "published" : "unpublished", canon);
	node_release(n);
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
			log_warn("node %s: %s", name,
				 on ? "QUARANTINED: all its traffic is cut"
				    : "released from quarantine");
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

/* ---- a node's network changed in place (flows.h) ------------------------------------- */

static int node_apply_update(const struct node_fwview *old, const struct node_rec *now,
			     const void *arg, struct dock_err *err)
{
	struct node_names nn;
	struct node_fwview fv;

	(void)arg;
	node_names(now, &nn);
	node_fw(now, &nn, &fv);
	return fw_node_update(&old->fv_node, &fv.fv_node, err);
}

/* net_spec's members into rec (what it leaves out stays): 400 naming the bad one. */
static int node_net_parse(const char *name, const struct json_object *spec, struct node_rec *rec,
			  struct dock_err *err)
{
	char pub[NODE_PUBLISH_MAX][24], allow[NODE_ALLOW_MAX][NODE_ALLOW_LEN], what[64], egress[8];
	size_t npub = 0, nallow = 0;
	struct fw_publish p;
	int r;

	snprintf(what, sizeof(what), "node %s: network", name);
	if (!json_object_is_type(spec, json_type_object))
		return err_set(err, 400, EINVAL, "%s: not an object", what);
	json_object_object_foreach((struct json_object *)(uintptr_t)spec, k, v)
	{
		(void)v;
		if (strcmp(k, "publish") != 0 && strcmp(k, "egress") != 0 &&
		    strcmp(k, "egress_allow") != 0)
			return err_set(err, 400, EINVAL, "%s: unknown member \"%.32s\"", what, k);
	}
	if (jsonin_strings(spec, what, "publish", pub[0], sizeof(pub[0]), NODE_PUBLISH_MAX, &npub,
			   err) < 0 ||
	    jsonin_strings(spec, what, "egress_allow", allow[0], sizeof(allow[0]), NODE_ALLOW_MAX,
			   &nallow, err) < 0)
		return -EINVAL;
	r = jsonin_str(spec, what, "egress", false, egress, sizeof(egress), err);
	if (JSONIN_BAD(r))
		return r;
	if (r == 0 && strcmp(egress, "allow") != 0 && strcmp(egress, "deny") != 0)
		return err_set(err, 400, EINVAL, "%s: \"egress\" must be \"allow\" or \"deny\"",
			       what);
	if (r == 0)
		rec->nr_egress_deny = strcmp(egress, "deny") == 0;
	if (json_object_object_get_ex(spec, "publish", NULL)) {
		for (size_t i = 0; i < npub; i++) {
			if (fw_publish_parse(pub[i], &p, err) < 0) {
				err_prefix(err, "%s: ", what);
				return -EINVAL;
			}
			fw_publish_format(&p, rec->nr_published[i], sizeof(rec->nr_published[i]));
		}
		rec->nr_n_published = npub;
		rec->nr_withheld = 0;
		rec->nr_withheld_why[0] = '\0';
	}
	if (json_object_object_get_ex(spec, "egress_allow", NULL)) {
		memcpy(rec->nr_egress_allow, allow, sizeof(allow));
		rec->nr_n_allow = nallow;
	}
	return 0;
}

/* A port of the new list that the old one did not have installed must be
 * one the dock may publish (publish_ports, no listener). */
static int node_net_ports_allowed(const struct node_rec *before, const struct node_rec *now,
				  struct dock_err *err)
{
	for (size_t i = 0; i < now->nr_n_published; i++) {
		struct fw_publish p;
		bool had = false;

		for (size_t j = 0; j < before->nr_n_published; j++)
			had |= strcmp(before->nr_published[j], now->nr_published[i]) == 0 &&
				!(before->nr_withheld & (1u << j));
		if (!had &&
		    (fw_publish_parse(now->nr_published[i], &p, err) < 0 ||
		     node_publish_allowed(&p, err) < 0))
			return -EINVAL;
	}
	return 0;
}

/* The allow entries by name are the node's resolver's, made at create:
 * a change of them is refused before anything is recorded (409). */
static int node_net_names_unchanged(const struct node_rec *before, const struct node_rec *now,
				    struct dock_err *err)
{
	struct node_fwview *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct node_names nn;
	int r = a == NULL || b == NULL ? err_set(err, 500, ENOMEM, "out of memory") : 0;

	if (r == 0) {
		node_names(before, &nn);
		node_fw(before, &nn, a);
		node_fw(now, &nn, b);
		r = fw_names_unchanged(&a->fv_node, &b->fv_node, err);
	}
	free(a);
	free(b);
	return r;
}

int node_net_update(const char *name, const struct json_object *net_spec, struct dock_err *err)
{
	struct node_rec before, *now;
	struct node *n;
	int r = node_acquire(name, "changing its network", &n, err);

	if (r < 0)
		return r;
	before = n->n_rec;
	now = malloc(sizeof(*now));
	if (now == NULL) {
		node_release(n);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	*now = before;
	r = node_net_parse(name, net_spec, now, err);
	if (r == 0)
		r = node_net_ports_allowed(&before, now, err);
	if (r == 0)
		r = node_net_names_unchanged(&before, now, err);
	if (r == 0) {
		pthread_mutex_lock(&node_lock);
		n->n_rec = *now;
		pthread_mutex_unlock(&node_lock);
		r = node_fw_change(n, &before, err, node_apply_update, NULL);
	}
	if (r == 0)
		log_info("node %s: network changed in place: %zu published, egress %s, %zu allowed",
			 name, now->nr_n_published, now->nr_egress_deny ? "deny" : "allow",
			 now->nr_n_allow);
	free(now);
	node_release(n);
	return r;
}
