/* api-logs: the logs routes' side of the API (GET /v1/nodes/NAME/logs and
 * .../logs/firewall): the query (?tail=N|all&since=T&raw=1&follow=1; T a
 * UNIX time, RFC 3339 or an age, timearg.h) and, with follow=1, the
 * console's stream (node_follow_* through api-stream.h): escaped lines,
 * one a line (text/plain), or with raw=1 the bytes (octet-stream). */
#ifndef ISC_API_LOGS_H
#define ISC_API_LOGS_H

#include <microhttpd.h>
#include <stdbool.h>

#include "err.h"
#include "node.h"

/* The query of a logs request into *o; *follow: it asks for the stream.
 * 0, or -EINVAL with err (400) naming the bad parameter. */
int api_logs_opts(struct MHD_Connection *conn, bool firewall, struct node_logs_opts *o,
		  bool *follow, struct dock_err *err);

/* Answer conn with the stream of node name's console log (name checked
 * here); 0, or < 0 with err (404, 400, 503) for the caller to answer. */
int api_logs_stream(struct MHD_Connection *conn, const char *name, const struct node_logs_opts *o,
		    struct dock_err *err);

#endif
