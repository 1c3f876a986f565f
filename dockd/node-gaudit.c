/* node-gaudit: the node's side of the guest audit stream (agent protocol
 * 4): what the agent forwards goes to the node's guest audit log
 * (gaudit.h) under its id; the loss counters become marks in it; the
 * stream's state feeds the `audit` row and the on_audit_gap policy. */
#include "node-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gaudit.h"
#include "log.h"

static const char *node_gaudit_boot(const struct node *n)
{
	return n->n_rec.nr_have_hello ? n->n_rec.nr_hello.ah_boot_id : "";
}

void node_gaudit_hello_locked(struct node *n, const struct agent_msg *m)
{
	bool on = m->am_hello.ah_protocol >= AGENT_PROTOCOL_AUDIT && m->am_audit_on;
	bool new_boot = strcmp(n->n_audit_boot, m->am_hello.ah_boot_id) != 0;

	/* A new boot starts the stream's counts again. */
	if (new_boot || !on) {
		n->n_audit_have_status = false;
		n->n_audit_status_at = 0;
		memset(&n->n_audit_status, 0, sizeof(n->n_audit_status));
		n->n_audit_gap_handled = false;
		n->n_audit_gap_seen = 0;
		snprintf(n->n_audit_boot, sizeof(n->n_audit_boot), "%s", m->am_hello.ah_boot_id);
	}
	n->n_audit_on = on;
	if (on) {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "protocol",
				       json_object_new_int64((int64_t)m->am_hello.ah_protocol));
		json_object_object_add(d, "agent", json_object_new_string(m->am_hello.ah_agent));
		json_object_object_add(d, "kernel", json_object_new_string(m->am_hello.ah_kernel));
		gaudit_mark(n->n_rec.nr_id, n->n_rec.nr_name, m->am_hello.ah_boot_id, "hello", d);
	}
}

/* A counter of the agent's that grew: a "lost" mark with the totals. */
static void node_gaudit_lost(struct node *n, const struct agent_audit_status *s)
{
	const struct agent_audit_status *o = &n->n_audit_status;
	char grew[64] = "";
	struct json_object *d;

	if (s->as_dropped > o->as_dropped)
		strcat(grew, "agent_dropped ");
	if (s->as_kernel_lost > o->as_kernel_lost)
		strcat(grew, "kernel_lost ");
	if (s->as_overrun > o->as_overrun)
		strcat(grew, "overrun ");
	if (grew[0] == '\0')
		return;
	grew[strlen(grew) - 1] = '\0';
	d = json_object_new_object();
	json_object_object_add(d, "agent_dropped", json_object_new_int64(s->as_dropped));
	json_object_object_add(d, "kernel_lost", json_object_new_int64(s->as_kernel_lost));
	json_object_object_add(d, "overrun", json_object_new_int64(s->as_overrun));
	json_object_object_add(d, "dock_dropped",
			       json_object_new_int64((int64_t)n->n_audit_dock_dropped));
	json_object_object_add(d, "grew", json_object_new_string(grew));
	gaudit_mark(n->n_rec.nr_id, n->n_rec.nr_name, node_gaudit_boot(n), "lost", d);
	if (node_agent_log_ok_locked(n))
		log_warn("node %s: guest audit records lost (%s): agent dropped %" PRId64
			 ", kernel lost %" PRId64 ", overrun %" PRId64,
			 n->n_rec.nr_name, grew, s->as_dropped, s->as_kernel_lost, s->as_overrun);
}

void node_gaudit_msg_locked(struct node *n, const struct agent_msg *m)
{
	/* An agent that did not say it forwards is not listened to: its
	 * records would judge nothing it promised. */
	if (!n->n_audit_on)
		return;
	if (m->am_type == AGENT_MSG_AUDIT) {
		gaudit_record(n->n_rec.nr_id, n->n_rec.nr_name, node_gaudit_boot(n), &m->am_audit);
		return;
	}
	if (n->n_audit_have_status)
		node_gaudit_lost(n, &m->am_audit_status);
	else if (m->am_audit_status.as_dropped + m->am_audit_status.as_kernel_lost +
			 m->am_audit_status.as_overrun >
		 0)
		node_gaudit_lost(n, &m->am_audit_status); /* against zeros: all of it */
	n->n_audit_status = m->am_audit_status;
	n->n_audit_have_status = true;
	n->n_audit_status_at = (int64_t)time(NULL);
}

void node_agent_audit_dropped(const char *name, uint64_t total)
{
	struct node *n;

	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	/* The reader's count only grows; a new reader starts again at 0. */
	if (n != NULL && total != n->n_audit_reader_dropped) {
		uint64_t d = total > n->n_audit_reader_dropped ? total - n->n_audit_reader_dropped
							       : total;
		if (n->n_audit_dock_dropped == 0)
			log_warn(
				"node %s: audit records dropped at the dock: over the audit budget "
				"of its channel; flagged",
				name);
		n->n_audit_reader_dropped = total;
		n->n_audit_dock_dropped += d;
		gaudit_dock_dropped(n->n_rec.nr_id, d);
	}
	pthread_mutex_unlock(&node_lock);
}

void node_gaudit_mark_locked(struct node *n, const char *kind, const char *why)
{
	struct json_object *d = json_object_new_object();

	if (why != NULL)
		json_object_object_add(d, "why", json_object_new_string(why));
	gaudit_mark(n->n_rec.nr_id, n->n_rec.nr_name, node_gaudit_boot(n), kind, d);
}

void node_gaudit_view_locked(const struct node *n, struct audit_view *out)
{
	struct gaudit_stats gs;

	memset(out, 0, sizeof(*out));
	out->au_forwarding = n->n_audit_on;
	out->au_protocol = n->n_agent_protocol;
	if (!n->n_audit_on)
		return;
	out->au_have_status = n->n_audit_have_status;
	out->au_status_at = n->n_audit_status_at;
	out->au_status = n->n_audit_status;
	gaudit_stats(n->n_rec.nr_id, &gs);
	/* The writer's counts are of the boot it last wrote. */
	if (strcmp(gs.gs_boot, node_gaudit_boot(n)) == 0) {
		out->au_records = gs.gs_records;
		out->au_missing = gs.gs_missing;
		out->au_explained = gs.gs_explained;
		out->au_last_serial = gs.gs_last_serial;
	}
	out->au_dock_dropped = gs.gs_dock_dropped;
}

bool node_gaudit_broken_locked(struct node *n, int64_t now, char *why, size_t size)
{
	struct audit_view v;
	int64_t hb = n->n_last_heartbeat, dl = (int64_t)node_cfg->dc_agent_deadline_s;
	uint64_t unexplained;
	bool broken = false;

	if (!n->n_audit_on)
		return false;
	node_gaudit_view_locked(n, &v);
	/* Serials missing while a loss was counted are explained by it (the
	 * row shows the losses); missing with nothing counted are not. */
	unexplained = v.au_missing - v.au_explained;
	if (v.au_status.as_dropped + v.au_status.as_kernel_lost + v.au_status.as_overrun > 0 ||
	    v.au_dock_dropped > 0)
		unexplained = 0;
	if (v.au_have_status && v.au_status.as_enabled == 0) {
		snprintf(why, size, "kernel audit disabled in the guest");
		broken = true;
	} else if (hb != 0 && now - hb <= dl && n->n_audit_status_at != 0 &&
		   now - n->n_audit_status_at > dl) {
		snprintf(why, size,
			 "guest audit stream stopped %" PRId64 "s ago while the agent heartbeats",
			 now - n->n_audit_status_at);
		broken = true;
	} else if (unexplained > n->n_audit_gap_seen) {
		snprintf(why, size, "guest audit gap: %" PRIu64 " serial(s) never arrived",
			 unexplained);
		broken = true;
	}
	if (!broken) {
		n->n_audit_gap_handled = false;
		return false;
	}
	n->n_audit_gap_seen = unexplained;
	if (n->n_audit_gap_handled)
		return false;
	n->n_audit_gap_handled = true;
	return true;
}

int node_gaudit_id(const char *name, char *id)
{
	struct node *n;

	id[0] = '\0';
	pthread_mutex_lock(&node_lock);
	n = node_find_locked(name);
	if (n != NULL)
		memcpy(id, n->n_rec.nr_id, sizeof(n->n_rec.nr_id));
	pthread_mutex_unlock(&node_lock);
	return n != NULL ? 0 : -ENOENT;
}
