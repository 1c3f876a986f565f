/* node: the node room's table: every node the dock knows, the lock that
 * guards them, the names of a node's resources, the record's transitions
 * (committed to the state file before their side effect) and the busy flag
 * that refuses a second operation. The operations live in the siblings
 * around node-int.h: node-create.c, node-life.c, node-fw.c, node-agent.c,
 * node-policy.c, node-cleanse.c, node-view.c, node-reconcile.c,
 * node-snapshot.c, with the pure spec translation in node-spec.c. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskguard.h"
#include "fw.h"
#include "log.h"

const struct dock_config *node_cfg;
pthread_mutex_t node_lock = PTHREAD_MUTEX_INITIALIZER;
struct node *node_table[NODE_MAX];
size_t node_count;

void node_names(const struct node_rec *r, struct node_names *nn)
{
	snprintf(nn->nn_domain, sizeof(nn->nn_domain), NODE_PREFIX "%s", r->nr_name);
	snprintf(nn->nn_network, sizeof(nn->nn_network), NODE_PREFIX "%s", r->nr_name);
	snprintf(nn->nn_volume, sizeof(nn->nn_volume), NODE_PREFIX "%s.img", r->nr_name);
	snprintf(nn->nn_socket, sizeof(nn->nn_socket), "%s/agents/%s.sock", node_cfg->dc_run_dir,
		 r->nr_name);
	snprintf(nn->nn_console, sizeof(nn->nn_console), "%s/console/%s.log", node_cfg->dc_run_dir,
		 r->nr_name);
	snprintf(nn->nn_nvram, sizeof(nn->nn_nvram), "%s/" NODE_NVRAM_DIR "/%s" NODE_NVRAM_SUFFIX,
		 node_cfg->dc_state_dir, r->nr_name);
	netpool_subnet(&node_cfg->dc_pool, r->nr_subnet, &nn->nn_subnet);
}

/* ---- the table ----------------------------------------------------------- */

struct node *node_find_locked(const char *name)
{
	for (size_t i = 0; i < node_count; i++)
		if (strcmp(node_table[i]->n_rec.nr_name, name) == 0)
			return node_table[i];
	return NULL;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	free(n->n_report);
	free(n->n_pending);
	free(n);
}

void node_remove_locked(struct node *n)
{
	for (size_t i = 0; i < node_count; i++) {
		if (node_table[i] == n) {
			node_table[i] = node_table[--node_count];
			break;
		}
	}
	node_free(n);
}

/* The node's profile, cached; a missing or broken one is logged once. */
void node_load_profile(struct node *n)
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
int node_acquire(const char *name, const char *op, struct node **out, struct dock_err *err)
{
	struct node *n;
	int r = 0;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n == NULL)
		r = err_set(err, 404, ENOENT, "node \"%s\" not found", name);
	else if (n->n_op != NULL)
		r = err_set(err, 409, EBUSY, "node \"%s\" is busy (%s)", name, n->n_op);
	else {
		n->n_op = op;
		n->n_op_phase = NULL;
	}
	pthread_mutex_unlock(&node_lock);
	*out = r == 0 ? n : NULL;
	return r;
}

void node_release(struct node *n)
{
	pthread_mutex_lock(&node_lock);
	n->n_op = NULL;
	n->n_op_phase = NULL;
	pthread_mutex_unlock(&node_lock);
}

void node_op_phase(struct node *n, const char *phase)
{
	pthread_mutex_lock(&node_lock);
	n->n_op_phase = phase;
	pthread_mutex_unlock(&node_lock);
}

int node_save_locked(struct node *n, struct dock_err *err)
{
	int r = state_save(node_cfg->dc_state_dir, &n->n_rec, err);

	if (r == -ENOSPC && diskguard_reserve_release()) {
		err_clear(err);
		r = state_save(node_cfg->dc_state_dir, &n->n_rec, err);
	}
	return r;
}

/* Record a transition (before the side effect it announces). */
int node_commit(struct node *n, enum node_state st, const char *reason, struct dock_err *err)
{
	int r;

	pthread_mutex_lock(&node_lock);
	n->n_rec.nr_state = st;
	/* A failed cleanse keeps the phase it stopped in, for the operator. */
	if (st != NODE_CLEANSING && st != NODE_FAILED)
		n->n_rec.nr_phase = NODE_PHASE_NONE;
	snprintf(n->n_rec.nr_reason, sizeof(n->n_rec.nr_reason), "%s", reason ? reason : "");
	r = node_save_locked(n, err);
	pthread_mutex_unlock(&node_lock);
	if (r == 0)
		log_debug("node %s: %s", n->n_rec.nr_name, state_name(st));
	return r;
}

/* Adds the time since `since` to a phase of the node's current operation;
 * returns now, the next phase's start. */
int64_t node_time(struct node *n, enum timing_phase p, int64_t since)
{
	int64_t now = timing_now();

	pthread_mutex_lock(&node_lock);
	timing_add(&n->n_timing, p, since, now);
	pthread_mutex_unlock(&node_lock);
	return now;
}

void node_timing_begin(struct node *n, const char *op, int64_t now)
{
	pthread_mutex_lock(&node_lock);
	timing_begin(&n->n_timing, op, now);
	pthread_mutex_unlock(&node_lock);
}

/* The operation is complete: one line with every phase, for the log. */
void node_timing_end_locked(struct node *n, int64_t now)
{
	char line[256];

	timing_end(&n->n_timing, now);
	timing_format(&n->n_timing, line, sizeof(line));
	log_info("node %s: %s timing: %s", n->n_rec.nr_name, n->n_timing.tm_op, line);
}

void node_fini(void)
{
	pthread_mutex_lock(&node_lock);
	if (node_count == 0)
		fw_teardown(NULL); /* nothing of the dock stays when no node exists */
	for (size_t i = 0; i < node_count; i++)
		node_free(node_table[i]);
	node_count = 0;
	pthread_mutex_unlock(&node_lock);
}
