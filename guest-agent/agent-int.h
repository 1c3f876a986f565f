/*
 * agent-int.h: what the siblings of the agent core share (private; facts.h
 * is the contract with the checks). agent.c is the process: options,
 * signals and the main loop; agent-chan.c the channel (virtio port or unix
 * socket, the output queue, input split into lines); agent-req.c the dock's
 * requests and the agent's own messages (hello, heartbeat); agent-report.c
 * the report schedule (the facts in order, a line at a time, and the
 * heartbeat and periodic report timers); audit.c forwards the kernel's
 * audit records (protocol 4) through its own bounded buffer, audit-rec.c
 * its pure half (the record prefix, the line, the rules file).
 */
#ifndef ISC_AGENT_INT_H
#define ISC_AGENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "facts.h"

#define AGENT_VERSION   "0.5.0"
#define AGENT_PROTOCOL  4
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

/* --- audit forwarding (PROTOCOL.md "audit") ------------------------------ */

/* Records held while the dock is away or slow: whichever limit comes first. */
#define AUDIT_BUF_RECORDS 512
#define AUDIT_BUF_BYTES   (512 * 1024)
/* Bytes of a record's text sent at most, before escaping; more is cut. */
#define AUDIT_MSG_MAX 3600
/* /etc/isc/audit.rules: image content, bounded all the same. */
#define AUDIT_RULES_LINES    64
#define AUDIT_RULES_LINE_MAX 128
/* Syscalls the rules may name (the agent's known list, audit-rec.c). */
#define AUDIT_RULES_SYSCALLS_MAX 16

/* A kernel record: "audit(SEC.MS:SERIAL): MSG". ar_msg points into the text. */
struct audit_rec {
	uint64_t ar_serial;
	uint64_t ar_sec;
	unsigned ar_ms;
	const char *ar_msg;
	size_t ar_msg_len;
};

/* The syscalls to audit, with their numbers per architecture. */
struct audit_rules {
	unsigned ars_n;
	const char *ars_name[AUDIT_RULES_SYSCALLS_MAX];
	unsigned short ars_b64[AUDIT_RULES_SYSCALLS_MAX];
	unsigned short ars_b32[AUDIT_RULES_SYSCALLS_MAX];
};

struct agent_audit {
	int aa_fd;           /* NETLINK_AUDIT, group AUDIT_NLGRP_READLOG; -1: none */
	bool aa_forward;     /* records are read (hello: "audit":true) */
	uint64_t aa_dropped; /* read, not forwarded: buffer full or unparsable */
	uint64_t aa_overrun; /* recv() said ENOBUFS: the kernel dropped some for us */
	bool aa_said_full;   /* "buffer full" logged since it last had room */
	bool aa_said_error;  /* a read error logged */
	/* the buffer: whole `audit` lines in [aa_head, aa_end) of aa_buf */
	size_t aa_head;
	size_t aa_end;
	size_t aa_sent;    /* bytes of the line at aa_head already written */
	unsigned aa_count; /* lines in the buffer, the half-written one included */
	char aa_buf[AUDIT_BUF_BYTES];
};

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
	bool ag_out_mid; /* its first line is half written */

	struct agent_audit ag_audit;
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

/* ---- audit.c ---- */
/* Read the rules file, join the audit multicast group, load the rules and
 * enable audit (or, in replay mode, take the records from a file). */
void audit_start(struct agent *a);
/* The socket to poll for records, or -1. */
int audit_fd(const struct agent *a);
/* Take what the kernel has (a bounded batch) into the buffer; never blocks. */
void audit_read(struct agent *a);
/* Buffered bytes the channel may take now: the rest of a half-written line
 * if there is one, else all of them; *p points at them. */
size_t audit_peek(const struct agent *a, const char **p);
/* n bytes of what audit_peek gave were written. */
void audit_consumed(struct agent *a, size_t n);
/* A line is half written: it must be finished before any other. */
bool audit_mid(const struct agent *a);
/* The dock went away: a half-written line is sent again, whole. */
void audit_disconnected(struct agent *a);
void audit_send_status(struct agent *a);

/* ---- audit-rec.c: pure ---- */
/* Parse the prefix of a record's text; 0 or -EINVAL. */
int audit_rec_parse(const char *text, size_t len, struct audit_rec *r);
/* The `audit` line of a record in buf (at most AGENT_LINE_MAX bytes, newline
 * included); its length, or 0 if size is too small for any. */
size_t audit_rec_line(char *buf, size_t size, unsigned rtype, const struct audit_rec *r);
/* The built-in rules: execve and execveat. */
void audit_rules_default(struct audit_rules *rs);
/* A rules file's text; 0, or -EINVAL with "line N: why" in err. */
int audit_rules_parse(const char *text, size_t len, struct audit_rules *rs, char *err,
		      size_t errsize);
/* The names, blank-separated, for the log; the length written. */
size_t audit_rules_names(const struct audit_rules *rs, char *buf, size_t size);

#endif
