/*
 * agent-int.h: what the siblings of the agent core share (private; facts.h
 * is the contract with the checks). agent.c is the process: options,
 * signals and the main loop; agent-chan.c the channel (virtio port or unix
 * socket, the output queue, input split into lines); agent-req.c the dock's
 * requests and the agent's own messages (hello, heartbeat); agent-report.c
 * the report schedule (the facts in order, a line at a time, and the
 * heartbeat and periodic report timers).
 */
#ifndef ISC_AGENT_INT_H
#define ISC_AGENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "facts.h"

#define AGENT_VERSION   "0.4.0"
#define AGENT_PROTOCOL  3
#define AGENT_PORT_NAME "org.isc.agent.0"
/*
 * Output not yet taken by the host. A dock that stops reading must not make
 * the agent grow without bound: past this, new messages are dropped.
 */
#define AGENT_OUTQ_SIZE (4 * AGENT_LINE_MAX)
/* Longest service name a report request may give (comm uses 15 of them). */
#define AGENT_SERVICE_MAX 64
/* Small /proc and /sys values we report (boot id, release, hostname). */
#define AGENT_VALUE_MAX 256

enum agent_chan_kind { CHAN_VIRTIO, CHAN_UNIX };

struct agent {
	/* options */
	const char *ag_port;         /* explicit device, or NULL to search */
	const char *ag_unix;         /* unix socket path instead of a port */
	struct fact_env ag_env;      /* root prefix, netlink mode, service */
	unsigned ag_heartbeat;       /* seconds */
	unsigned ag_report_interval; /* seconds; 0: no periodic reports */
	pid_t ag_init_pid;           /* who powers off on a shutdown request: 1, or a test's */

	/* channel */
	enum agent_chan_kind ag_kind;
	int ag_fd;
	bool ag_connected;       /* the host side has the port open */
	bool ag_said_waiting;    /* "waiting for port" logged once */
	uint64_t ag_seq;         /* heartbeats sent by this process */
	uint64_t ag_dropped;     /* messages dropped on a full queue */
	int64_t ag_next_beat_ms; /* monotonic deadline of next heartbeat */

	/* reports: at most one being sent, at most one more asked for */
	char ag_service[AGENT_SERVICE_MAX + 1];        /* last name the dock gave */
	char ag_report_service[AGENT_SERVICE_MAX + 1]; /* the one in use */
	uint64_t ag_report_seq;                        /* reports started by this process */
	bool ag_report_active;
	bool ag_report_pending;
	size_t ag_report_next;     /* next fact of the active report */
	int64_t ag_next_report_ms; /* monotonic deadline of the periodic report */
	struct jline ag_line;      /* the fact line being built */

	/* input: one partial line; in discard mode until the next newline */
	char ag_in[AGENT_LINE_MAX];
	size_t ag_in_len;
	bool ag_in_discard;

	/* output queue: whole lines, in order */
	char ag_out[AGENT_OUTQ_SIZE];
	size_t ag_out_len;
};

struct agent_req;

/* ---- agent.c ---- */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t agent_now_ms(void);

/* ---- agent-chan.c ---- */
/* Open the port or the socket (logged once while it is missing). */
int agent_open(struct agent *a);
bool agent_host_present(const struct agent *a);
void agent_connected(struct agent *a);
/* An I/O error (port unplugged, socket reset): reopen from scratch. */
void agent_broken(struct agent *a, int err);
void agent_read(struct agent *a);
void agent_flush(struct agent *a);
/* Queue one whole line (dropped, logged once, when the queue is full). */
void agent_send(struct agent *a, const char *line, size_t len);

/* ---- agent-req.c ---- */
/* One line from the dock; what is not a request we understand is ignored. */
void agent_handle_line(struct agent *a, const char *line, size_t len);
/* A hello is always followed by a report; rq may be NULL. */
void agent_req_hello(struct agent *a, const struct agent_req *rq);
void agent_send_heartbeat(struct agent *a);

/* ---- agent-report.c ---- */
void agent_report_request(struct agent *a);
void agent_report_reset(struct agent *a);
/* The ids of the facts a report holds, as the inside of a JSON array
 * ("listen","aslr",...), for the hello (protocol 3). */
void agent_report_fact_ids(char *buf, size_t size);
void agent_report_pump(struct agent *a);
void agent_timers(struct agent *a);

#endif
