/* lab-plan: the dock's lab record (JSON both ways) and the plan from what
 * the dock holds to what the file says: a pure diff (lab.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw.h"
#include "jsonin.h"
#include "lab.h"

static const struct jsonin_limits lab_rec_limits = {
	.jl_max_bytes = 2 * 1024 * 1024,
	.jl_max_depth = 6,
	.jl_max_fields = LAB_FLOWS_MAX,
};

char *lab_rec_to_json(const struct lab_rec *r)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	char *s;

	json_object_object_add(o, "name", json_object_new_string(r->lr_name));
	json_object_object_add(o, "sha256", json_object_new_string(r->lr_sha256));
	json_object_object_add(o, "file", json_object_new_string(r->lr_file));
	for (size_t i = 0; i < r->lr_n_nodes; i++) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "name", json_object_new_string(r->lr_nodes[i].lrn_name));
		json_object_object_add(n, "core", json_object_new_string(r->lr_nodes[i].lrn_core));
		json_object_object_add(n, "net", json_object_new_string(r->lr_nodes[i].lrn_net));
		json_object_array_add(a, n);
	}
	json_object_object_add(o, "nodes", a);
	if (r->lr_flows != NULL)
		json_object_object_add(o, "flows", json_object_new_string(r->lr_flows));
	s = strdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

int lab_rec_from_json(const char *buf, size_t len, struct lab_rec *r, struct dock_err *err)
{
	const char *w = "lab record";
	struct json_object *o = NULL, *a = NULL, *v;
	int rc = -EINVAL;

	memset(r, 0, sizeof(*r));
	if (jsonin_parse(w, buf, len, &lab_rec_limits, &o, err) < 0)
		return -EINVAL;
	if (jsonin_str(o, w, "name", true, r->lr_name, sizeof(r->lr_name), err) < 0 ||
	    validate_name("lab", r->lr_name, LAB_NAME_MAX, err) < 0 ||
	    JSONIN_BAD(
		    jsonin_str(o, w, "sha256", false, r->lr_sha256, sizeof(r->lr_sha256), err)) ||
	    JSONIN_BAD(jsonin_str(o, w, "file", false, r->lr_file, sizeof(r->lr_file), err)) ||
	    JSONIN_BAD(jsonin_array(o, w, "nodes", false, LAB_NODES_MAX, &a, err)))
		goto out;
	for (size_t i = 0; a != NULL && i < json_object_array_length(a); i++) {
		struct lab_rec_node *n = &r->lr_nodes[r->lr_n_nodes];
		struct json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_object) ||
		    jsonin_str(e, w, "name", true, n->lrn_name, sizeof(n->lrn_name), err) < 0 ||
		    validate_name("node", n->lrn_name, NODE_NAME_MAX, err) < 0 ||
		    jsonin_str(e, w, "core", true, n->lrn_core, sizeof(n->lrn_core), err) < 0 ||
		    jsonin_str(e, w, "net", true, n->lrn_net, sizeof(n->lrn_net), err) < 0) {
			err_set(err, 400, EINVAL, "%s: a bad node entry", w);
			goto out;
		}
		r->lr_n_nodes++;
	}
	if (json_object_object_get_ex(o, "flows", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			err_set(err, 400, EINVAL, "%s: \"flows\" must be a string", w);
			goto out;
		}
		r->lr_flows = strdup(json_object_get_string(v));
		if (r->lr_flows == NULL) {
			err_set(err, 500, ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

void lab_rec_free(struct lab_rec *r)
{
	free(r->lr_flows);
	r->lr_flows = NULL;
}

struct lab_rec_node *lab_rec_find(struct lab_rec *r, const char *name)
{
	for (size_t i = 0; i < r->lr_n_nodes; i++)
		if (strcmp(r->lr_nodes[i].lrn_name, name) == 0)
			return &r->lr_nodes[i];
	return NULL;
}

int lab_rec_set(struct lab_rec *r, const char *name, const char *core, const char *net)
{
	struct lab_rec_node *n = lab_rec_find(r, name);

	if (n == NULL) {
		if (r->lr_n_nodes >= LAB_NODES_MAX)
			return -E2BIG;
		n = &r->lr_nodes[r->lr_n_nodes++];
		snprintf(n->lrn_name, sizeof(n->lrn_name), "%s", name);
	}
	snprintf(n->lrn_core, sizeof(n->lrn_core), "%s", core);
	snprintf(n->lrn_net, sizeof(n->lrn_net), "%s", net);
	return 0;
}

void lab_rec_drop(struct lab_rec *r, const char *name)
{
	struct lab_rec_node *n = lab_rec_find(r, name);

	if (n == NULL)
		return;
	*n = r->lr_nodes[--r->lr_n_nodes];
}

const char *lab_act_name(enum lab_act a)
{
	static const char *const names[] = { "keep",  "create",   "change",
					     "start", "recreate", "remove" };

	return a <= LAB_REMOVE ? names[a] : "?";
}

char lab_act_sign(enum lab_act a)
{
	static const char signs[] = "=+~~~-";

	return a <= LAB_REMOVE ? signs[a] : '?';
}

static const struct lab_live *lab_live_find(const struct lab_live *live, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(live[i].ll_name, name) == 0)
			return &live[i];
	return NULL;
}

/* The members of two canonical JSON objects that differ, named in why. */
static void lab_diff_keys(const char *a, const char *b, char *why, size_t size)
{
	struct json_object *oa = json_tokener_parse(a), *ob = json_tokener_parse(b);
	size_t l = 0;

	why[0] = '\0';
	if (oa == NULL || ob == NULL) {
		snprintf(why, size, "changed");
		goto out;
	}
	json_object_object_foreach(oa, k, va)
	{
		struct json_object *vb = NULL;
		if (json_object_object_get_ex(ob, k, &vb) && json_object_equal(va, vb))
			continue;
		if (l < size)
			l += (size_t)snprintf(why + l, size - l, "%s%s", l ? ", " : "", k);
	}
	json_object_object_foreach(ob, k2, vb2)
	{
		(void)vb2;
		if (!json_object_object_get_ex(oa, k2, NULL) && l < size)
			l += (size_t)snprintf(why + l, size - l, "%s%s", l ? ", " : "", k2);
	}
out:
	json_object_put(oa);
	json_object_put(ob);
}

static void lab_step_add(struct lab_plan *p, enum lab_act a, const char *name, int node,
			 const char *why)
{
	struct lab_step *s = &p->lp_steps[p->lp_n++];

	s->ls_act = a;
	s->ls_node = node;
	snprintf(s->ls_name, sizeof(s->ls_name), "%s", name);
	snprintf(s->ls_why, sizeof(s->ls_why), "%s", why);
	if (a == LAB_RECREATE || a == LAB_REMOVE) {
		size_t l = strlen(p->lp_yes_why);
		p->lp_needs_yes = true;
		if (l + 1 < sizeof(p->lp_yes_why))
			snprintf(p->lp_yes_why + l, sizeof(p->lp_yes_why) - l, "%s%s %s",
				 l ? ", " : "", lab_act_name(a), name);
	}
}

/* The allow entries by name of a network part, one a line, "" none. */
static void lab_net_names(const char *net, char *buf, size_t size)
{
	struct json_object *o = json_tokener_parse(net), *a = NULL;
	size_t l = 0;

	buf[0] = '\0';
	if (o != NULL && json_object_object_get_ex(o, "egress_allow", &a) &&
	    json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a) && l < size; i++) {
			const char *e = json_object_get_string(json_object_array_get_idx(a, i));
			if (e != NULL && fw_name_entry_is(e))
				l += (size_t)snprintf(buf + l, size - l, "%s\n", e);
		}
	json_object_put(o);
}

/* Whether two network parts name other hosts: those are made with the
 * node's network (its resolver), so they cannot change in place. */
static bool lab_names_differ(const char *a, const char *b)
{
	static __thread char na[LAB_NET_MAX], nb[LAB_NET_MAX];

	lab_net_names(a, na, sizeof(na));
	lab_net_names(b, nb, sizeof(nb));
	return strcmp(na, nb) != 0;
}

/* A node of the file: create, keep, start, change, recreate. */
static void lab_plan_node(const struct lab *want, size_t i, const struct lab_rec *rec,
			  const struct lab_live *l, struct lab_plan *p)
{
	const struct lab_node *n = &want->l_nodes[i];
	const struct lab_rec_node *r = NULL;
	char why[160];

	for (size_t j = 0; j < rec->lr_n_nodes; j++)
		if (strcmp(rec->lr_nodes[j].lrn_name, n->ln_name) == 0)
			r = &rec->lr_nodes[j];
	if (l == NULL) {
		lab_step_add(p, LAB_CREATE, n->ln_name, (int)i, "");
		return;
	}
	if (r == NULL) { /* the dock's node of this lab, of no known request */
		lab_step_add(p, LAB_RECREATE, n->ln_name, (int)i, "not in the lab's record");
		return;
	}
	if (strcmp(r->lrn_core, n->ln_core) != 0) {
		lab_diff_keys(r->lrn_core, n->ln_core, why, sizeof(why));
		lab_step_add(p, LAB_RECREATE, n->ln_name, (int)i, why);
		return;
	}
	if (strcmp(l->ll_state, "failed") == 0) {
		lab_step_add(p, LAB_RECREATE, n->ln_name, (int)i, "failed");
		return;
	}
	if (strcmp(r->lrn_net, n->ln_net) != 0) {
		bool names = lab_names_differ(r->lrn_net, n->ln_net);
		lab_diff_keys(r->lrn_net, n->ln_net, why, sizeof(why));
		if (names)
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s",
				 " (names: the node's resolver is made anew)");
		lab_step_add(p, names ? LAB_RECREATE : LAB_CHANGE, n->ln_name, (int)i, why);
		return;
	}
	if (strcmp(l->ll_state, "running") != 0) {
		snprintf(why, sizeof(why), "%s", l->ll_state);
		lab_step_add(p, LAB_START, n->ln_name, (int)i, why);
		return;
	}
	lab_step_add(p, LAB_KEEP, n->ln_name, (int)i, "");
}

int lab_plan(const struct lab *want, const struct lab_rec *rec, const struct lab_live *live,
	     size_t n_live, struct lab_plan *p, struct dock_err *err)
{
	char *flows;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < want->l_n_nodes; i++) {
		const struct lab_live *l = lab_live_find(live, n_live, want->l_nodes[i].ln_name);
		if (l != NULL && strcmp(l->ll_lab, want->l_name) != 0)
			return err_set(err, 409, EEXIST,
				       "node %s exists and is not a node of lab %s%s%s%s",
				       l->ll_name, want->l_name,
				       l->ll_lab[0] ? " (it is in lab " : "", l->ll_lab,
				       l->ll_lab[0] ? ")" : "");
	}
	for (size_t i = 0; i < want->l_n_nodes; i++)
		lab_plan_node(want, i, rec, lab_live_find(live, n_live, want->l_nodes[i].ln_name),
			      p);
	for (size_t i = 0; i < n_live; i++) {
		bool kept = false;
		if (strcmp(live[i].ll_lab, want->l_name) != 0)
			continue;
		for (size_t j = 0; j < want->l_n_nodes && !kept; j++)
			kept = strcmp(want->l_nodes[j].ln_name, live[i].ll_name) == 0;
		if (!kept && p->lp_n < sizeof(p->lp_steps) / sizeof(p->lp_steps[0]))
			lab_step_add(p, LAB_REMOVE, live[i].ll_name, -1, "not in the file");
	}
	flows = lab_flows_json(want);
	if (flows == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	p->lp_flows =
		rec->lr_flows == NULL ? want->l_n_flows > 0 : strcmp(rec->lr_flows, flows) != 0;
	free(flows);
	return 0;
}

char *lab_plan_text(const struct lab_plan *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < p->lp_n; i++) {
		const struct lab_step *s = &p->lp_steps[i];
		fprintf(f, "%c %s %s", lab_act_sign(s->ls_act), lab_act_name(s->ls_act),
			s->ls_name);
		if (s->ls_why[0])
			fprintf(f, " (%s)", s->ls_why);
		if (s->ls_act == LAB_RECREATE)
			fprintf(f, ": recreate: scratch data lost");
		fputc('\n', f);
	}
	fprintf(f, "%c flows%s\n", p->lp_flows ? '~' : '=', p->lp_flows ? " change" : "");
	fclose(f);
	return buf;
}
