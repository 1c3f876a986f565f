/* node-policy: what the dock does on its own: judging each complete
 * agent report (a check turning FAIL runs on_fail), on_hostile and
 * on_silent, and node_tick, which starts the cleanses whose lifetime is up.
 * A policy other than alert runs in a thread of its own, as if an
 * operator had asked. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

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
			r = node_destroy(a->na_name, true, &e); /* the policy says so */
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
		json_object_object_add(d, "overlong",
				       json_object_new_int64((int64_t)n->n_overlong));
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
void node_judge_report_locked(struct node *n)
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
		.av_protocol = n->n_report->rp_protocol,
		.av_announced = n->n_report->rp_announced,
		.av_miss = n->n_report->rp_miss,
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
		json_object_object_add(d, "policy",
				       json_object_new_string(state_action_name(r->nr_on_fail)));
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
	for (size_t i = 0; i < node_count; i++) {
		struct node *n = node_table[i];
		int64_t heard = n->n_last_heartbeat;
		char why[160];
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
			if (node_gaudit_broken_locked(n, now, why, sizeof(why)))
				node_policy_locked(n, n->n_rec.nr_on_audit_gap, why, "audit-gap");
			if (heard != 0 && now - heard > (int64_t)node_cfg->dc_agent_deadline_s) {
				if (!n->n_silent_handled) {
					n->n_silent_handled = true;
					node_policy_locked(n, n->n_rec.nr_on_silent,
							   "agent silent past the deadline",
							   "agent-silent");
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
