/* node-cleanse-phases: one function per cleanse phase and the table that
 * orders them (node_cleanse_steps, indexed by enum node_phase). Each phase
 * redoes its work whole when a restarted dock resumes it. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forensic.h"
#include "log.h"
#include "virt.h"

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
static int node_cleanse_shutdown(struct node *n, const struct node_names *nn, struct dock_err *err)
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
			 acked ? "the agent acknowledged the shutdown request"
			       : "no answer from the agent",
			 t);
	} else if (st == VIRT_DOM_RUNNING) {
		log_info("node %s: cleanse: no agent shutdown (%s); ACPI next", n->n_rec.nr_name,
			 why);
	}
	log_info("node %s: cleanse: ACPI shutdown, powered off after %us", n->n_rec.nr_name, t);
	return virt_domain_stop(nn->nn_domain, t, err);
}

/* The disk as it was, kept for the operator before it is shredded. An
 * interrupted copy is thrown away and taken again. */
static int node_cleanse_snapshot(struct node *n, const struct node_names *nn, struct dock_err *err)
{
	struct json_object *snap = NULL;
	int r;

	(void)nn;
	if (!forensic_enabled()) {
		log_info("node %s: cleanse: no forensic snapshot (no forensic_pubkey)",
			 n->n_rec.nr_name);
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
const node_cleanse_step node_cleanse_steps[NODE_PHASE_COUNT] = {
	[NODE_PHASE_SHUTDOWN] = node_cleanse_shutdown,
	[NODE_PHASE_SNAPSHOT] = node_cleanse_snapshot,
	[NODE_PHASE_REKEY] = node_cleanse_rekey,
	[NODE_PHASE_START] = node_cleanse_start,
	[NODE_PHASE_WAIT_AGENT] = node_cleanse_wait_agent,
};
