/* api-ops: long calls run as operations when the client asks (a request
 * with "Prefer: respond-async"): the call runs on its own thread, the
 * client gets 202 and the operation's view at once, and asks after it:
 *   GET    /v1/operations           the table
 *   GET    /v1/operations/ID        one: {id, op, node, state, ...}
 *   GET    /v1/operations/ID/wait?timeout=S  the same once it has ended
 *                                   or S seconds passed (a long-poll on
 *                                   the streams of api-stream.h)
 *   DELETE /v1/operations/ID        forgets an ended one; a running one
 *                                   cannot be cancelled: 409
 * state: "running", "done" (status < 400; result: the synchronous call's
 * answer) or "failed" (error: its error body). At most API_OPS_MAX are
 * kept; a new one drops the oldest ended one, none ended: 503. */
#ifndef ISC_API_OPS_H
#define ISC_API_OPS_H

#include <json-c/json.h>
#include <microhttpd.h>

#include "err.h"

#define API_OPS_MAX     64
#define API_OP_ID_MAX   32
#define API_OP_WAIT_MAX 600 /* seconds a wait may ask for */
#define API_OP_WAIT_DEF 60

/* The work, on the operation's thread: the HTTP status the synchronous
 * call would have answered and its body (taken by the operation). */
typedef unsigned (*api_op_fn)(void *arg, struct json_object **body);

/* Run fn(arg) as operation op ("create", "start", ...) on node (may be
 * NULL); arg_free(arg) when it is done with. On success id holds its id
 * and *view its view; else -errno, err set, arg freed. */
int api_ops_start(const char *op, const char *node, api_op_fn fn, void *arg,
		  void (*arg_free)(void *), char id[API_OP_ID_MAX], struct json_object **view,
		  struct dock_err *err);

struct json_object *api_ops_list(void);
int api_ops_show(const char *id, struct json_object **out, struct dock_err *err);
int api_ops_forget(const char *id, struct json_object **out, struct dock_err *err);

/* Answer conn with the operation's view once it ended or after the
 * timeout query parameter's seconds (default API_OP_WAIT_DEF). */
int api_ops_wait(struct MHD_Connection *conn, const char *id, struct dock_err *err);

/* The dock stops: no new operation; waits for the running ones. */
void api_ops_fini(void);

#endif
