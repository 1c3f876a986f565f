/* agentproto: the dock's reader of agent lines (guest-agent/PROTOCOL.md).
 * Everything the guest sends is hostile: one line at most AGENT_LINE_MAX
 * bytes, JSON depth and member counts bounded, every field copied into a
 * fixed struct with bounds, truncation is an error. */
#ifndef ISC_AGENTPROTO_H
#define ISC_AGENTPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

#define AGENT_LINE_MAX 4096
#define AGENT_PROTOCOL 1

enum agent_msg_type { AGENT_MSG_HELLO, AGENT_MSG_HEARTBEAT, AGENT_MSG_OTHER };

struct agent_msg {
	enum agent_msg_type am_type;
	struct agent_hello am_hello;
	uint64_t am_seq;
	uint64_t am_uptime;
};

/* Parse one line (without its newline). Unknown message types parse as
 * AGENT_MSG_OTHER so newer agents do not break older docks. */
int agentproto_parse(const char *line, size_t len, struct agent_msg *msg, struct dock_err *err);

/* Line reassembly with the resync rule: bytes are fed in; complete lines
 * are handed to `cb`; a line over the limit is dropped up to the next
 * newline and counted. */
struct agentproto_reader {
	char ar_buf[AGENT_LINE_MAX + 1];
	size_t ar_len;
	int ar_discarding;
	uint64_t ar_overlong;
};

typedef void (*agentproto_line_cb)(void *ctx, const char *line, size_t len);
void agentproto_feed(struct agentproto_reader *rd, const char *data, size_t len,
		     agentproto_line_cb cb, void *ctx);

#endif
