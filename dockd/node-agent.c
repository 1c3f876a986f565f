/* node-agent: the agent channel's side of the node table (agentchan.c
 * calls these): which nodes to talk to, what their agents said (hello,
 * heartbeats, facts and whole reports), and the reader's counters of
 * hostile input. Each call takes node_lock for its moment. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

size_t node_agent_targets(struct node_agent_target *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < node_count && k < max; i++) {
		const struct node_rec *r = &node_table[i]->n_rec;
		/* A cleanse talks to the agent while shutting down and waiting
		 * for the new boot's hello. */
		if (r->nr_state != NODE_RUNNING && r->nr_state != NODE_STARTING &&
		    !(r->nr_state == NODE_CLEANSING &&
		      (r->nr_phase == NODE_PHASE_SHUTDOWN || r->nr_phase == NODE_PHASE_WAIT_AGENT)))
			continue;
		snprintf(out[k].nat_name, sizeof(out[k].nat_name), "%s", r->nr_name);
		snprintf(out[k].nat_socket, sizeof(out[k].nat_socket), "%s/agents/%s.sock",
			 node_cfg->dc_run_dir, r->nr_name);
		snprintf(out[k].nat_service, sizeof(out[k].nat_service), "%s",
			 node_table[i]->n_have_profile ? node_table[i]->n_profile.pr_service : "");
		out[k].nat_shutdown = node_table[i]->n_want_shutdown;
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

/*
 * A report_end (node_lock held). An agent before protocol 3 has its report
 * counted only when whole by its own count, as always. From protocol 3 every
 * report the agent ends counts, whatever it holds: a fact that is not in it
 * (not announced, left out, or lines lost) is missing from it, and each
 * fact's count of consecutive reports missing it or in error is kept here
 * (never reset by a hello: an agent cannot wipe it by reconnecting).
 */
static void node_agent_report_end_locked(struct node *n, const struct agent_msg *msg)
{
	struct node_report *done = n->n_pending;
	bool p3 = n->n_agent_protocol >= AGENT_PROTOCOL_UNDODGEABLE;
	uint64_t got = 0;

	if (done == NULL || done->rp_seq != msg->am_seq) {
		/* Only a whole report counts; one cut by a reconnect is dropped. */
		if (!p3)
			return;
		if (done == NULL && (done = malloc(sizeof(*done))) == NULL)
			return;
		memset(done->rp_have, 0, sizeof(done->rp_have));
		done->rp_seq = msg->am_seq;
	}
	for (int i = 0; i < AF_COUNT; i++)
		got += done->rp_have[i];
	if (!p3 && got != msg->am_count)
		return;
	checks_count_misses(done->rp_have, done->rp_facts, n->n_fact_miss);
	memcpy(done->rp_miss, n->n_fact_miss, sizeof(done->rp_miss));
	done->rp_protocol = n->n_agent_protocol;
	done->rp_announced = n->n_agent_facts;
	done->rp_time = (int64_t)time(NULL);
	n->n_pending = n->n_report;
	n->n_report = done;
	if (n->n_pending != NULL)
		n->n_pending->rp_seq = UINT64_MAX;
	node_judge_report_locked(n);
}

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
	node_agent_rate_roll_locked(n, (int64_t)time(NULL));
	if (msg->am_type == AGENT_MSG_HELLO) {
		/*
		 * Which rules judge this agent's reports (checks.c): its protocol,
		 * never lowered between two starts by the dock. The first hello
		 * of a boot comes from the pinned image's own agent; one that
		 * later says older (or older than the record's) is a guest
		 * claiming to be old to dodge the newer rules.
		 */
		uint64_t p = msg->am_hello.ah_protocol;
		if (n->n_rec.nr_have_hello && n->n_rec.nr_hello.ah_protocol > p)
			p = n->n_rec.nr_hello.ah_protocol;
		if (n->n_agent_protocol > p)
			p = n->n_agent_protocol;
		n->n_agent_protocol = p;
		n->n_agent_facts = msg->am_facts & AF_ALL_FACTS;
	}
	switch (msg->am_type) {
	case AGENT_MSG_HELLO:
		/* Persisted off this thread, when it changes (node-hello.c). */
		node_hello_locked(n, &msg->am_hello);
		node_gaudit_hello_locked(n, msg);
		break;
	case AGENT_MSG_AUDIT:
	case AGENT_MSG_AUDIT_STATUS:
		node_gaudit_msg_locked(n, msg);
		break;
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
	case AGENT_MSG_REPORT_END:
		node_agent_report_end_locked(n, msg);
		break;
	case AGENT_MSG_SHUTDOWN_ACK:
		if (n->n_want_shutdown && !n->n_shutdown_acked && node_agent_log_ok_locked(n))
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

	/* The reader's counters travel for the audit budget's drops too
	 * (node_agent_audit_dropped): all zero here is nothing hostile. */
	if (bad + overlong + dropped == 0)
		return;
	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL) {
		if (n->n_bad + n->n_overlong + n->n_dropped == 0)
			log_warn(
				"node %s: hostile agent input (%llu malformed, %llu over-long, %llu over the rate limit); flagged",
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
