/*
 * agent-report: the report schedule. A report is the facts of check_*.c in
 * a fixed order, one line each, then report_end; at most one is being sent
 * and at most one more asked for. The timers send the heartbeat and ask for
 * the periodic report.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent-int.h"

/* --- reports -------------------------------------------------------------- */

/* The facts of a report, in the order they are sent: data, not code. */
static const struct agent_fact {
	const char *af_id;
	void (*af_check)(struct jline *j, const struct fact_env *e);
} agent_facts[] = {
	{ "listen", check_listen }, { "aslr", check_aslr },       { "net", check_net },
	{ "swap", check_swap },     { "mounts", check_mounts },   { "audit", check_audit },
	{ "nft", check_nft },       { "service", check_service }, { "sysctl", check_sysctl },
	{ "sshd", check_sshd },
};

#define AGENT_NFACTS (sizeof(agent_facts) / sizeof(agent_facts[0]))

void agent_report_fact_ids(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < AGENT_NFACTS && len < size; i++) {
		int n = snprintf(buf + len, size - len, "%s\"%s\"", i ? "," : "",
				 agent_facts[i].af_id);
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';
			return;
		}
		len += (size_t)n;
	}
}

static void agent_report_start(struct agent *a)
{
	a->ag_report_active = true;
	a->ag_report_next = 0;
	a->ag_report_seq++;
	/* The name in force when the report starts applies to all of it. */
	memcpy(a->ag_report_service, a->ag_service, sizeof(a->ag_report_service));
	if (a->ag_report_interval > 0)
		a->ag_next_report_ms = agent_now_ms() + (int64_t)a->ag_report_interval * 1000;
}

/* Ask for a report: now, or right after the one being sent (never more). */
void agent_report_request(struct agent *a)
{
	if (a->ag_report_active)
		a->ag_report_pending = true;
	else
		agent_report_start(a);
}

/* Forget a report cut by a disconnect: the next hello starts a new one. */
void agent_report_reset(struct agent *a)
{
	a->ag_report_active = false;
	a->ag_report_pending = false;
}

/*
 * Send the active report a line at a time, each one only when the queue
 * has room for a whole line: a report is never cut by a full queue, and a
 * dock that stops reading stalls it instead of growing the agent.
 */
void agent_report_pump(struct agent *a)
{
	struct jline *j = &a->ag_line;
	char end[128];
	int n;

	while (a->ag_connected && a->ag_report_active &&
	       sizeof(a->ag_out) - a->ag_out_len >= AGENT_LINE_MAX) {
		if (a->ag_report_next < AGENT_NFACTS) {
			const struct agent_fact *f = &agent_facts[a->ag_report_next++];
			struct fact_env env = a->ag_env;

			env.fe_service = a->ag_report_service[0] ? a->ag_report_service : NULL;
			jl_init(j);
			jl_str(j, "type", "fact");
			jl_int(j, "report", (long long)a->ag_report_seq);
			jl_str(j, "id", f->af_id);
			f->af_check(j, &env);
			agent_send(a, j->jl_buf, jl_finish(j));
			continue;
		}
		n = snprintf(end, sizeof(end),
			     "{\"type\":\"report_end\",\"report\":%llu,\"facts\":%zu}\n",
			     (unsigned long long)a->ag_report_seq, AGENT_NFACTS);
		agent_send(a, end, (size_t)n);
		a->ag_report_active = false;
		if (a->ag_report_pending) {
			a->ag_report_pending = false;
			agent_report_start(a);
		}
	}
}

/* Heartbeat and periodic report, when due. */
void agent_timers(struct agent *a)
{
	int64_t now = agent_now_ms();

	if (now >= a->ag_next_beat_ms) {
		agent_send_heartbeat(a);
		audit_send_status(a);
		a->ag_next_beat_ms += (int64_t)a->ag_heartbeat * 1000;
		/* After a long stall, resume the rhythm instead of bursting. */
		if (a->ag_next_beat_ms <= now)
			a->ag_next_beat_ms = now + (int64_t)a->ag_heartbeat * 1000;
	}
	if (a->ag_connected && a->ag_report_interval > 0 && now >= a->ag_next_report_ms) {
		agent_report_request(a);
		/* Also when it only became pending: ask once per interval. */
		a->ag_next_report_ms = now + (int64_t)a->ag_report_interval * 1000;
	}
}
