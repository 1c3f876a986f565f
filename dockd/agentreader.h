/* agentreader: the unprivileged reader of one agent channel. dockd spawns
 * one per running node (its own executable, `dockd --agent-reader`), hands
 * it the channel's socket, and gets back fixed-size, length-checked messages
 * over a SOCK_SEQPACKET socketpair. The reader drops to nobody, keeps no
 * capabilities, sets NoNewPrivs and confines itself with a seccomp
 * allow-list before it reads a byte from the guest: a parser bug costs one
 * channel, not the dock. */
#ifndef ISC_AGENTREADER_H
#define ISC_AGENTREADER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentproto.h"

#define AGENTREADER_MAGIC         0x49534341u /* "ISCA" */
#define AGENTREADER_LINES_PER_SEC 50          /* more is dropped and counted */
/* Audit lines (protocol 4) have a budget of their own, a token bucket:
 * a busy but honest guest's records never eat the reports' budget, and
 * records past it are dropped and counted (ao_audit_dropped), which the
 * dock records as a loss, not as hostile input. */
#define AGENTREADER_AUDIT_PER_SEC 500
#define AGENTREADER_AUDIT_BURST   2000
#define AGENTREADER_CHAN_FD       3
#define AGENTREADER_CTL_FD        4

enum agentreader_kind { AR_MSG = 1, AR_STATS = 2 };

struct agentreader_out {
	uint32_t ao_magic;
	uint32_t ao_kind;
	uint64_t ao_bad;           /* lines that did not parse */
	uint64_t ao_overlong;      /* lines over AGENT_LINE_MAX */
	uint64_t ao_dropped;       /* lines over the rate limit */
	uint64_t ao_audit_dropped; /* audit lines over the audit budget */
	struct agent_msg ao_msg;
};

/* Spawn a reader for chan_fd; *ctl receives its messages. */
int agentreader_spawn(int chan_fd, int *ctl, pid_t *pid);
/* Receive one message, sanitised (agentproto_sanitise): the number of
 * fields it had to repair (> 0: the reader is not trusted, its input
 * hostile), -EAGAIN when none, -EPIPE when the reader is gone, -EBADMSG for
 * a malformed one (the reader is then not trusted). */
int agentreader_recv(int ctl, struct agentreader_out *out);
/* What agentreader_recv does with the n bytes it received: size, magic
 * and kind checked, a message sanitised; the same return values. */
int agentreader_check(struct agentreader_out *out, size_t n);

/* The audit budget's bucket: tokens (in thousandths, so a refill of a
 * few milliseconds is not lost) refilled at AGENTREADER_AUDIT_PER_SEC up
 * to AGENTREADER_AUDIT_BURST. Pure: the reader calls it with its clock;
 * true takes a token, false: the line is over the budget. */
struct agentreader_bucket {
	int64_t ab_milli; /* tokens x 1000 */
	int64_t ab_ms;    /* last refill, 0: never (starts full) */
};
bool agentreader_bucket_take(struct agentreader_bucket *b, int64_t now_ms);
/* Entry point of `dockd --agent-reader`. Never returns. */
__attribute__((noreturn)) void agentreader_main(void);

#endif
