/* agentproto: parsing agent lines into fixed structs. */
#include "agentproto.h"

#include <errno.h>
#include <string.h>

#include "jsonin.h"

static const struct jsonin_limits agent_limits = {
	.jl_max_bytes = AGENT_LINE_MAX,
	.jl_max_depth = 4,
	.jl_max_fields = 32,
};

int agentproto_parse(const char *line, size_t len, struct agent_msg *msg, struct dock_err *err)
{
	struct json_object *o = NULL;
	char type[16];
	int r = -EINVAL;
	struct agent_hello *h = &msg->am_hello;
	const char *w = "agent line";

	memset(msg, 0, sizeof(*msg));
	if (jsonin_parse(w, line, len, &agent_limits, &o, err) < 0)
		return -EINVAL;
	if (jsonin_str(o, w, "type", true, type, sizeof(type), err) < 0)
		goto out;
	if (strcmp(type, "hello") == 0) {
		msg->am_type = AGENT_MSG_HELLO;
		if (jsonin_u64(o, w, "protocol", true, 1, UINT32_MAX, &h->ah_protocol, err) < 0 ||
		    jsonin_str(o, w, "agent", true, h->ah_agent, sizeof(h->ah_agent), err) < 0 ||
		    jsonin_str(o, w, "boot_id", true, h->ah_boot_id, sizeof(h->ah_boot_id), err) < 0 ||
		    jsonin_str(o, w, "kernel", true, h->ah_kernel, sizeof(h->ah_kernel), err) < 0 ||
		    jsonin_str(o, w, "hostname", false, h->ah_hostname, sizeof(h->ah_hostname),
			       err) == -EINVAL)
			goto out;
	} else if (strcmp(type, "heartbeat") == 0) {
		msg->am_type = AGENT_MSG_HEARTBEAT;
		if (jsonin_u64(o, w, "seq", true, 0, INT64_MAX, &msg->am_seq, err) < 0 ||
		    jsonin_u64(o, w, "uptime", false, 0, INT64_MAX, &msg->am_uptime, err) == -EINVAL)
			goto out;
	} else {
		msg->am_type = AGENT_MSG_OTHER;
	}
	r = 0;
out:
	json_object_put(o);
	return r;
}

void agentproto_feed(struct agentproto_reader *rd, const char *data, size_t len,
		     agentproto_line_cb cb, void *ctx)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (rd->ar_discarding) {
			if (nl != NULL)
				rd->ar_discarding = 0;
		} else if (rd->ar_len + take > AGENT_LINE_MAX) {
			rd->ar_overlong++;
			rd->ar_len = 0;
			rd->ar_discarding = nl == NULL;
		} else {
			memcpy(rd->ar_buf + rd->ar_len, data, take);
			rd->ar_len += take;
			if (nl != NULL) {
				rd->ar_buf[rd->ar_len] = '\0';
				cb(ctx, rd->ar_buf, rd->ar_len);
				rd->ar_len = 0;
			}
		}
		if (nl == NULL)
			break;
		data = nl + 1;
		len -= take + 1;
	}
}
