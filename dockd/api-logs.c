/* api-logs: the logs routes' query and the console's stream (api-logs.h).
 * The JSON view is node_logs_json's, answered by api.c like any route. */
#include "api-logs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-stream.h"
#include "timearg.h"
#include "validate.h"

#define API_LOGS_TAIL_MAX 1000000

int api_logs_opts(struct MHD_Connection *conn, bool firewall, struct node_logs_opts *o,
		  bool *follow, struct dock_err *err)
{
	const char *raw = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "raw");
	const char *tail = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tail");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *fl = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "follow");
	time_t t = 0;

	memset(o, 0, sizeof(*o));
	o->nlo_firewall = firewall;
	o->nlo_raw = raw != NULL && strcmp(raw, "1") == 0;
	o->nlo_tail = -1;
	*follow = fl != NULL && strcmp(fl, "1") == 0;
	if (fl != NULL && !*follow && strcmp(fl, "0") != 0)
		return err_set(err, 400, EINVAL, "follow must be 1 or 0");
	if (tail != NULL && strcmp(tail, "all") != 0) {
		char *end;
		errno = 0;
		o->nlo_tail = strtol(tail, &end, 10);
		if (errno != 0 || end == tail || *end != '\0' || tail[0] == '-' || tail[0] == '+' ||
		    o->nlo_tail > API_LOGS_TAIL_MAX)
			return err_set(err, 400, EINVAL,
				       "tail must be a number of lines from 0 to %d, or all",
				       API_LOGS_TAIL_MAX);
	}
	/* UNIX seconds (iscadm converts what its user typed); RFC 3339 and
	 * ages (timearg.h) too, for curl. */
	if (since != NULL && timearg_parse("since", since, time(NULL), &t, err) < 0)
		return -EINVAL;
	o->nlo_since = (int64_t)t;
	return 0;
}

static ssize_t api_logs_fill(void *cls, char *buf, size_t size)
{
	return node_follow_read(cls, buf, size);
}

static bool api_logs_ready(void *cls)
{
	return node_follow_ready(cls);
}

static void api_logs_close(void *cls)
{
	node_follow_close(cls);
}

int api_logs_stream(struct MHD_Connection *conn, const char *name, const struct node_logs_opts *o,
		    struct dock_err *err)
{
	struct node_follow *f = NULL;
	struct api_stream_source src = { api_logs_fill, api_logs_ready, api_logs_close, NULL };

	if (validate_name("node", name, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	if (node_follow_open(name, o, &f, err) < 0)
		return -ENOENT;
	src.ss_cls = f;
	return api_stream_queue(
		conn, 200, o->nlo_raw ? "application/octet-stream" : "text/plain; charset=utf-8",
		&src, err);
}
