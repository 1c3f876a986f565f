/* lab-apply: the dock's side of a lab (lab-apply.h is the contract): the
 * record, the plan against the node table, and the steps of an up run on
 * up to lu_parallel threads. The record is written before each create (so
 * an interrupted up finds what it meant to make) and after each removal,
 * network change and flow change (so an interrupted one is done again). */
#include "lab-apply.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "flows.h"
#include "lab.h"
#include "log.h"
#include "node.h"
#include "sha256.h"
#include "spec.h"

#define LAB_REC_MAX (2 * 1024 * 1024)

static const struct dock_config *lab_cfg;
/* One lab action at a time (an up waits for the one before). */
static pthread_mutex_t lab_mutex = PTHREAD_MUTEX_INITIALIZER;

int lab_apply_init(const struct dock_config *cfg, struct dock_err *err)
{
	char dir[PATH_MAX];

	lab_cfg = cfg;
	snprintf(dir, sizeof(dir), "%s/labs", cfg->dc_state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "lab: cannot make %s: %s", dir, strerror(errno));
	return 0;
}

static void lab_rec_path(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/labs/%s.json", lab_cfg->dc_state_dir, name);
}

/* The record of lab name; none yet: an empty one, 0. */
static int lab_rec_load(const char *name, struct lab_rec *rec, bool *found, struct dock_err *err)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int r;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->lr_name, sizeof(rec->lr_name), "%s", name);
	*found = false;
	lab_rec_path(name, path, sizeof(path));
	r = file_read(path, LAB_REC_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return err_set(err, 500, -r, "lab %s: cannot read its record: %s", name,
			       strerror(-r));
	r = lab_rec_from_json(buf, len, rec, err);
	free(buf);
	if (r < 0) {
		err_prefix(err, "lab %s: ", name);
		return r;
	}
	*found = true;
	return 0;
}

static int lab_rec_store(const struct lab_rec *rec, struct dock_err *err)
{
	char path[PATH_MAX], *s = lab_rec_to_json(rec);
	int r;

	if (s == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	lab_rec_path(rec->lr_name, path, sizeof(path));
	r = file_write_atomic(path, s, strlen(s), 0600, err);
	free(s);
	return r;
}

/* Every node of the dock: name, lab, state, its operation under way. */
static struct lab_live *lab_live_collect(size_t *n)
{
	struct json_object *a = node_list_json(), *v;
	size_t cnt = json_object_array_length(a);
	struct lab_live *live = calloc(cnt + 1, sizeof(*live));

	*n = 0;
	for (size_t i = 0; live != NULL && i < cnt; i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		struct lab_live *l = &live[(*n)++];
		if (json_object_object_get_ex(o, "name", &v))
			snprintf(l->ll_name, sizeof(l->ll_name), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "lab", &v) && v != NULL)
			snprintf(l->ll_lab, sizeof(l->ll_lab), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "state", &v))
			snprintf(l->ll_state, sizeof(l->ll_state), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "op", &v) && v != NULL) {
			struct json_object *ph = NULL;
			bool has_ph = json_object_object_get_ex(o, "op_phase", &ph) && ph != NULL;
			snprintf(l->ll_op, sizeof(l->ll_op), "%s%s%s", json_object_get_string(v),
				 has_ph ? ": " : "", has_ph ? json_object_get_string(ph) : "");
		}
	}
	json_object_put(a);
	return live;
}

/* ---- the steps of an up ---- */

struct lab_run {
	const struct lab *lr_lab;
	struct lab_rec *lr_rec;
	const struct lab_plan *lr_plan;
	pthread_mutex_t lr_lock; /* the record, lr_next, the results */
	size_t lr_next;
	char (*lr_result)[512]; /* per step: "" ok, else why */
};

static int lab_store_locked(struct lab_run *run, struct dock_err *err)
{
	int r;

	pthread_mutex_lock(&run->lr_lock);
	r = lab_rec_store(run->lr_rec, err);
	pthread_mutex_unlock(&run->lr_lock);
	return r;
}

static int lab_node_make(struct lab_run *run, const struct lab_node *ln, struct dock_err *err)
{
	struct node_spec *spec = malloc(sizeof(*spec));
	struct json_object *view = NULL;
	int r;

	if (spec == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	/* The intent first: an up killed during the create finds it. */
	pthread_mutex_lock(&run->lr_lock);
	r = lab_rec_set(run->lr_rec, ln->ln_name, ln->ln_core, ln->ln_net);
	pthread_mutex_unlock(&run->lr_lock);
	if (r < 0 || lab_store_locked(run, err) < 0 ||
	    spec_parse(ln->ln_body, strlen(ln->ln_body), lab_cfg, spec, err) < 0) {
		free(spec);
		return err_set(err, 500, EIO, "cannot record the node");
	}
	snprintf(spec->ns_lab, sizeof(spec->ns_lab), "%s", run->lr_lab->l_name);
	r = node_create(spec, &view, err);
	free(spec);
	json_object_put(view);
	return r;
}

static int lab_node_remove(struct lab_run *run, const char *name, struct dock_err *err)
{
	if (node_destroy(name, true, err) < 0 && err->de_status != 404)
		return -EIO;
	err_clear(err);
	pthread_mutex_lock(&run->lr_lock);
	lab_rec_drop(run->lr_rec, name);
	pthread_mutex_unlock(&run->lr_lock);
	return lab_store_locked(run, err);
}

static int lab_node_net(struct lab_run *run, const struct lab_node *ln, struct dock_err *err)
{
	struct json_object *net = json_tokener_parse(ln->ln_net);
	int r = net ? node_net_update(ln->ln_name, net, err) : -EINVAL;

	json_object_put(net);
	if (r < 0)
		return r;
	pthread_mutex_lock(&run->lr_lock);
	r = lab_rec_set(run->lr_rec, ln->ln_name, ln->ln_core, ln->ln_net);
	pthread_mutex_unlock(&run->lr_lock);
	return r < 0 ? r : lab_store_locked(run, err);
}

static int lab_step_run(struct lab_run *run, const struct lab_step *s, struct dock_err *err)
{
	const struct lab_node *ln = s->ls_node >= 0 ? &run->lr_lab->l_nodes[s->ls_node] : NULL;
	struct node_start_opts so = { 0 };

	switch (s->ls_act) {
	case LAB_KEEP:
		return 0;
	case LAB_CREATE:
		return lab_node_make(run, ln, err);
	case LAB_RECREATE:
		if (lab_node_remove(run, s->ls_name, err) < 0)
			return -EIO;
		return lab_node_make(run, ln, err);
	case LAB_CHANGE:
		return lab_node_net(run, ln, err);
	case LAB_START:
		return node_start(s->ls_name, &so, err);
	case LAB_REMOVE:
		return lab_node_remove(run, s->ls_name, err);
	}
	return 0;
}

static void *lab_worker(void *arg)
{
	struct lab_run *run = arg;

	for (;;) {
		struct dock_err err = { 0 };
		const struct lab_step *s;
		size_t i;
		pthread_mutex_lock(&run->lr_lock);
		/* Removals ran before the workers started. */
		while (run->lr_next < run->lr_plan->lp_n &&
		       run->lr_plan->lp_steps[run->lr_next].ls_act == LAB_REMOVE)
			run->lr_next++;
		i = run->lr_next++;
		pthread_mutex_unlock(&run->lr_lock);
		if (i >= run->lr_plan->lp_n)
			return NULL;
		s = &run->lr_plan->lp_steps[i];
		if (lab_step_run(run, s, &err) < 0) {
			log_warn("lab %s: %s %s: %s", run->lr_lab->l_name, lab_act_name(s->ls_act),
				 s->ls_name, err.de_msg);
			pthread_mutex_lock(&run->lr_lock);
			snprintf(run->lr_result[i], sizeof(run->lr_result[i]), "%s",
				 err_isset(&err) ? err.de_msg : "failed");
			pthread_mutex_unlock(&run->lr_lock);
		}
	}
}

/* The lab's flows in force: the flows helper's one batch, then the record. */
static int lab_flows_set(struct lab_run *run, struct dock_err *err)
{
	const struct lab *lab = run->lr_lab;
	char *json = lab_flows_json(lab);
	struct flow *f = calloc(lab->l_n_flows + 1, sizeof(*f));
	int r = 0;

	if (json == NULL || f == NULL) {
		free(json);
		free(f);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < lab->l_n_flows; i++) {
		snprintf(f[i].from, sizeof(f[i].from), "%s", lab->l_flows[i].lf_from);
		snprintf(f[i].to, sizeof(f[i].to), "%s", lab->l_flows[i].lf_to);
		f[i].port = lab->l_flows[i].lf_port;
		f[i].proto = lab->l_flows[i].lf_proto;
	}
	r = flows_apply(lab->l_name, f, lab->l_n_flows, err);
	free(f);
	if (r < 0) {
		free(json);
		return r;
	}
	free(run->lr_rec->lr_flows);
	run->lr_rec->lr_flows = json;
	return lab_rec_store(run->lr_rec, err);
}

/* Run the plan: removals, then the nodes on up to par threads, then flows.
 * failed gets the names of the steps that failed. */
static void lab_run_plan(struct lab_run *run, unsigned par, struct json_object *failed)
{
	const struct lab_plan *p = run->lr_plan;
	pthread_t th[LAB_NODES_MAX];
	unsigned n = 0;

	for (size_t i = 0; i < p->lp_n; i++) {
		struct dock_err err = { 0 };
		if (p->lp_steps[i].ls_act == LAB_REMOVE &&
		    lab_node_remove(run, p->lp_steps[i].ls_name, &err) < 0)
			snprintf(run->lr_result[i], sizeof(run->lr_result[i]), "%s", err.de_msg);
	}
	if (par == 0)
		par = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (par == 0 || par > LAB_NODES_MAX)
		par = par == 0 ? 1 : LAB_NODES_MAX;
	for (; n < par; n++)
		if (pthread_create(&th[n], NULL, lab_worker, run) != 0)
			break;
	if (n == 0)
		lab_worker(run);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < p->lp_n; i++)
		if (run->lr_result[i][0])
			json_object_array_add(failed,
					      json_object_new_string(p->lp_steps[i].ls_name));
}

static struct json_object *lab_plan_json(const struct lab_plan *p, char (*result)[512])
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < p->lp_n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "act",
				       json_object_new_string(lab_act_name(p->lp_steps[i].ls_act)));
		json_object_object_add(o, "node", json_object_new_string(p->lp_steps[i].ls_name));
		json_object_object_add(o, "why", json_object_new_string(p->lp_steps[i].ls_why));
		if (result != NULL)
			json_object_object_add(o, "error",
					       result[i][0] ? json_object_new_string(result[i])
							    : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

/* The answer of an up or a plan, and the audit's detail. */
static struct json_object *lab_answer(const struct lab *lab, const char *sha,
				      const struct lab_plan *p, char (*result)[512])
{
	struct json_object *o = json_object_new_object();
	char *text = lab_plan_text(p);

	json_object_object_add(o, "lab", json_object_new_string(lab->l_name));
	json_object_object_add(o, "file", json_object_new_string(lab->l_file));
	json_object_object_add(o, "sha256", json_object_new_string(sha));
	json_object_object_add(o, "plan", lab_plan_json(p, result));
	json_object_object_add(o, "flows_change", json_object_new_boolean(p->lp_flows));
	json_object_object_add(o, "needs_yes", json_object_new_boolean(p->lp_needs_yes));
	json_object_object_add(o, "text", json_object_new_string(text ? text : ""));
	free(text);
	return o;
}

static struct json_object *lab_detail(const char *lab, const char *file, const char *sha)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "lab", json_object_new_string(lab));
	if (file != NULL)
		json_object_object_add(d, "file", json_object_new_string(file));
	if (sha != NULL)
		json_object_object_add(d, "sha256", json_object_new_string(sha));
	return d;
}

/* The flows change, or a node made anew (a node's flows leave with it)
 * needs them again. */
static bool lab_flows_due(const struct lab *lab, const struct lab_plan *p)
{
	if (p->lp_flows)
		return true;
	for (size_t i = 0; lab->l_n_flows > 0 && i < p->lp_n; i++)
		if (p->lp_steps[i].ls_act == LAB_CREATE || p->lp_steps[i].ls_act == LAB_RECREATE)
			return true;
	return false;
}

/* Plan and (unless dry) apply, lab_mutex held; lab, rec, plan the caller's. */
static int lab_up_locked(struct lab *lab, struct lab_rec *rec, struct lab_plan *plan,
			 const char *sha, const struct lab_up_opts *o, struct json_object **out,
			 struct dock_err *err)
{
	struct lab_run run = { .lr_lab = lab, .lr_rec = rec, .lr_plan = plan };
	struct json_object *failed;
	struct lab_live *live;
	size_t n_live;
	bool found;
	int r;

	if (lab_rec_load(lab->l_name, rec, &found, err) < 0)
		return -EIO;
	live = lab_live_collect(&n_live);
	if (live == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	r = lab_plan(lab, rec, live, n_live, plan, err);
	free(live);
	if (r < 0)
		return r;
	if (o->lu_dry) {
		*out = lab_answer(lab, sha, plan, NULL);
		return 0;
	}
	if (plan->lp_needs_yes && !o->lu_yes)
		return err_set(err, 409, EPERM, "lab %s: the plan needs --yes: %s", lab->l_name,
			       plan->lp_yes_why);
	snprintf(rec->lr_sha256, sizeof(rec->lr_sha256), "%s", sha);
	snprintf(rec->lr_file, sizeof(rec->lr_file), "%s", lab->l_file);
	if (lab_rec_store(rec, err) < 0)
		return -EIO;
	run.lr_result = calloc(plan->lp_n + 1, sizeof(*run.lr_result));
	if (run.lr_result == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	pthread_mutex_init(&run.lr_lock, NULL);
	failed = json_object_new_array();
	lab_run_plan(&run, o->lu_parallel, failed);
	pthread_mutex_destroy(&run.lr_lock);
	*out = lab_answer(lab, sha, plan, run.lr_result);
	if (lab_flows_due(lab, plan) && lab_flows_set(&run, err) < 0) {
		json_object_object_add(*out, "flows_error", json_object_new_string(err->de_msg));
		err_clear(err);
		json_object_array_add(failed, json_object_new_string("flows"));
	}
	json_object_object_add(*out, "failed", failed);
	free(run.lr_result);
	return 0;
}

int lab_up(const char *file, const char *buf, size_t len, const struct lab_up_opts *o,
	   struct json_object **out, struct json_object **detail, struct dock_err *err)
{
	struct lab *lab = malloc(sizeof(*lab));
	struct lab_rec *rec = calloc(1, sizeof(*rec));
	struct lab_plan *plan = malloc(sizeof(*plan));
	char sha[65];
	int r = -ENOMEM;

	if (lab == NULL || rec == NULL || plan == NULL) {
		err_set(err, 500, ENOMEM, "out of memory");
		goto out;
	}
	sha256_hex(buf, len, sha);
	r = lab_parse(file, buf, len, lab_cfg, lab, err);
	if (r < 0)
		goto out;
	if (detail != NULL)
		*detail = lab_detail(lab->l_name, lab->l_file, sha);
	pthread_mutex_lock(&lab_mutex);
	r = lab_up_locked(lab, rec, plan, sha, o, out, err);
	pthread_mutex_unlock(&lab_mutex);
	if (r == 0 && !o->lu_dry)
		log_info("lab %s: up from %s (sha256 %s)", lab->l_name, lab->l_file, sha);
out:
	if (rec != NULL)
		lab_rec_free(rec);
	free(lab);
	free(rec);
	free(plan);
	return r;
}

/* ---- down, status, list ---- */

/* A lab's record and every node of the dock, as down and status read
 * them; lab_view_free frees both. */
struct lab_view {
	struct lab_rec *lv_rec;
	struct lab_live *lv_live;
	size_t lv_n;
	bool lv_found; /* a record exists */
};

static void lab_view_free(struct lab_view *v)
{
	if (v->lv_rec != NULL)
		lab_rec_free(v->lv_rec);
	free(v->lv_rec);
	free(v->lv_live);
}

static int lab_view_load(const char *name, struct lab_view *v, struct dock_err *err)
{
	memset(v, 0, sizeof(*v));
	v->lv_rec = calloc(1, sizeof(*v->lv_rec));
	if (v->lv_rec == NULL || (v->lv_live = lab_live_collect(&v->lv_n)) == NULL) {
		lab_view_free(v);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	if (lab_rec_load(name, v->lv_rec, &v->lv_found, err) < 0) {
		lab_view_free(v);
		return -EIO;
	}
	return 0;
}

/* Destroy the lab's nodes, its flows, its record; sha gets the last up's
 * sha256 (for the audit), "" without a record. */
static int lab_down_locked(const char *name, struct json_object *removed, char sha[65],
			   struct dock_err *err)
{
	struct lab_view v;
	char path[PATH_MAX];
	int r;

	if (lab_view_load(name, &v, err) < 0)
		return -EIO;
	if (v.lv_found)
		snprintf(sha, 65, "%s", v.lv_rec->lr_sha256);
	r = 0;
	for (size_t i = 0; i < v.lv_n && r == 0; i++) {
		if (strcmp(v.lv_live[i].ll_lab, name) != 0)
			continue;
		if (node_destroy(v.lv_live[i].ll_name, true, err) < 0 && err->de_status != 404)
			r = -EIO;
		else
			json_object_array_add(removed,
					      json_object_new_string(v.lv_live[i].ll_name));
		if (r == 0)
			err_clear(err);
	}
	if (r == 0 && !v.lv_found && json_object_array_length(removed) == 0)
		r = err_set(err, 404, ENOENT, "no lab %s", name);
	if (r == 0 && flows_apply(name, NULL, 0, err) < 0)
		r = -EIO;
	if (r == 0 && v.lv_found) {
		lab_rec_path(name, path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			r = err_set(err, 500, errno, "lab %s: cannot remove its record: %s", name,
				    strerror(errno));
		file_sync_dir(path);
	}
	lab_view_free(&v);
	return r;
}

int lab_down(const char *name, struct json_object **out, struct json_object **detail,
	     struct dock_err *err)
{
	struct json_object *removed = json_object_new_array();
	char sha[65] = "";
	int r;

	if (validate_name("lab", name, LAB_NAME_MAX, err) < 0) {
		json_object_put(removed);
		return -EINVAL;
	}
	pthread_mutex_lock(&lab_mutex);
	r = lab_down_locked(name, removed, sha, err);
	pthread_mutex_unlock(&lab_mutex);
	if (detail != NULL)
		*detail = lab_detail(name, NULL, sha[0] ? sha : NULL);
	if (r < 0) {
		json_object_put(removed);
		return r;
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "lab", json_object_new_string(name));
	json_object_object_add(*out, "removed", removed);
	log_info("lab %s: down", name);
	return 0;
}

/* A node's line of the status: its state, agent and check counts. */
static struct json_object *lab_node_status(const struct lab_live *l, const char *lab)
{
	struct json_object *o = json_object_new_object(), *st = NULL, *sum, *v;
	struct dock_err err = { 0 };
	size_t pre = strlen(lab) + 1;

	json_object_object_add(o, "name", json_object_new_string(l->ll_name));
	json_object_object_add(
		o, "short",
		json_object_new_string(strlen(l->ll_name) > pre ? l->ll_name + pre : ""));
	json_object_object_add(o, "state", json_object_new_string(l->ll_state));
	json_object_object_add(o, "op", l->ll_op[0] ? json_object_new_string(l->ll_op) : NULL);
	if (node_status_json(l->ll_name, &st, &err) == 0 &&
	    json_object_object_get_ex(st, "summary", &sum)) {
		static const char *const keys[] = { "pass", "fail", "warn", "skip", "stale" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_object_get_ex(sum, keys[i], &v))
				json_object_object_add(o, keys[i], json_object_get(v));
	}
	json_object_put(st);
	return o;
}

int lab_status_json(const char *name, struct json_object **out, struct dock_err *err)
{
	struct json_object *nodes;
	struct lab_view v;

	if (validate_name("lab", name, LAB_NAME_MAX, err) < 0)
		return -EINVAL;
	if (lab_view_load(name, &v, err) < 0)
		return -EIO;
	nodes = json_object_new_array();
	for (size_t i = 0; i < v.lv_n; i++)
		if (strcmp(v.lv_live[i].ll_lab, name) == 0)
			json_object_array_add(nodes, lab_node_status(&v.lv_live[i], name));
	if (!v.lv_found && json_object_array_length(nodes) == 0) {
		json_object_put(nodes);
		lab_view_free(&v);
		return err_set(err, 404, ENOENT, "no lab %s", name);
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "lab", json_object_new_string(name));
	json_object_object_add(*out, "sha256", json_object_new_string(v.lv_rec->lr_sha256));
	json_object_object_add(*out, "file", json_object_new_string(v.lv_rec->lr_file));
	json_object_object_add(*out, "flows",
			       v.lv_rec->lr_flows ? json_tokener_parse(v.lv_rec->lr_flows)
						  : json_object_new_array());
	json_object_object_add(*out, "nodes", nodes);
	lab_view_free(&v);
	return 0;
}

struct json_object *lab_list_json(void)
{
	struct json_object *a = json_object_new_array();
	struct lab_live *live;
	size_t n_live = 0;
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/labs", lab_cfg->dc_state_dir);
	live = lab_live_collect(&n_live);
	d = opendir(dir);
	while (d != NULL && live != NULL && (e = readdir(d)) != NULL) {
		struct json_object *o;
		char name[NODE_NAME_MAX + 1];
		size_t l = strlen(e->d_name), cnt = 0;
		if (l < 6 || l - 5 > NODE_NAME_MAX || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), e->d_name);
		if (validate_name("lab", name, LAB_NAME_MAX, NULL) < 0)
			continue;
		for (size_t i = 0; i < n_live; i++)
			cnt += strcmp(live[i].ll_lab, name) == 0;
		o = json_object_new_object();
		json_object_object_add(o, "lab", json_object_new_string(name));
		json_object_object_add(o, "nodes", json_object_new_int64((int64_t)cnt));
		json_object_array_add(a, o);
	}
	if (d != NULL)
		closedir(d);
	free(live);
	return a;
}
