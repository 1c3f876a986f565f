/* node-cleanse: self-cleansing, run as a table of phases
 * (node-cleanse-phases.c): halt, snapshot, crypto-shred and rekey the
 * ephemeral disk, start, wait for the new boot's agent. Each phase is
 * recorded before its side effect and redone whole, so a dock killed in
 * one resumes it at start (node-reconcile.c). */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "diskguard.h"
#include "log.h"

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
	n->n_op_phase = state_phase_name(ph); /* the views' op_phase */
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

/* Run the cleanse phases from..to, each recorded before its side effect;
 * each redoes its work whole, so a dock killed in one resumes it at start
 * (node_reconcile). A failure leaves the node failed, its phase and the
 * reason recorded. The caller holds the node busy. */
int node_do_cleanse(struct node *n, enum node_phase from, enum node_phase to, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct node_names nn;
	int rc = 0;

	node_timing_begin(n, "cleanse", timing_now());
	node_names(r, &nn);
	if (from == NODE_PHASE_SHUTDOWN) { /* the boundary, in the guest audit log */
		pthread_mutex_lock(&node_lock);
		node_gaudit_mark_locked(n, "cleanse", NULL);
		pthread_mutex_unlock(&node_lock);
	}
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
		log_info("node %s: cleansed (%llu so far): fresh ephemeral disk, new key",
			 r->nr_name, (unsigned long long)r->nr_cleanses);
	return rc;
}

/* A new cleanse takes space and boots the image again: refused before the
 * node is halted when the disk is below min_free_mib or the image was
 * rebuilt (the start phase would refuse it, the node already halted). */
static int node_cleanse_may(struct node *n, struct dock_err *err)
{
	node_op_phase(n, "check");
	if (diskguard_check(node_cfg, "cleanse", err) < 0) {
		err_prefix(err, "node %s: ", n->n_rec.nr_name);
		return -ENOSPC;
	}
	return node_boot_image(n, false, err);
}

int node_cleanse(const char *name, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "cleansing", &n, err);

	if (r < 0)
		return r;
	r = node_cleanse_may(n, err);
	if (r == 0)
		r = node_do_cleanse(n, NODE_PHASE_SHUTDOWN, NODE_PHASE_WAIT_AGENT, err);
	node_release(n);
	return r;
}

void *node_cleanse_thread(void *arg)
{
	struct node *n = arg;
	struct dock_err e = { 0 };

	char result[600];
	/* A cleanse the dock was stopped in resumes at its recorded phase. */
	enum node_phase from =
		n->n_rec.nr_state == NODE_CLEANSING && n->n_rec.nr_phase != NODE_PHASE_NONE
		? n->n_rec.nr_phase
		: NODE_PHASE_SHUTDOWN;
	bool fresh = n->n_rec.nr_state != NODE_CLEANSING;
	int r = fresh ? node_cleanse_may(n, &e) : 0;

	/* The dock's own action is recorded before it is done, as an
	 * operator's is; a resumed one was recorded when it began. */
	if (r == 0 && fresh)
		r = audit_intent(AUDIT_UID_DOCK, "cleanse", n->n_rec.nr_name, NULL, false, &e);
	if (r < 0) {
		/* Refused before anything was done: the node runs on, and the
		 * lifetime's cleanse is tried again in a minute. */
		pthread_mutex_lock(&node_lock);
		if (n->n_rec.nr_cleanse_at != 0)
			n->n_rec.nr_cleanse_at = (int64_t)time(NULL) + 60;
		pthread_mutex_unlock(&node_lock);
	} else {
		r = node_do_cleanse(n, from, NODE_PHASE_WAIT_AGENT, &e);
	}
	if (r < 0)
		log_err("node %s: automatic cleanse failed: %s", n->n_rec.nr_name, e.de_msg);
	snprintf(result, sizeof(result), "%s%s", r < 0 ? "error: " : "ok", r < 0 ? e.de_msg : "");
	audit_append(AUDIT_UID_DOCK, "cleanse", n->n_rec.nr_name, result, NULL, NULL);
	node_release(n);
	return NULL;
}
