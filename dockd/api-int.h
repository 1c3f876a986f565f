/* api-int: what the API's files share (api.c the server, the routes and
 * the answers; api-handlers.c the handlers). */
#ifndef ISC_API_INT_H
#define ISC_API_INT_H

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "config.h"
#include "err.h"

struct api_req {
	char *ar_body;
	size_t ar_len;
	bool ar_too_large;
	size_t ar_max; /* the route's body limit: API_BODY_MAX, a lab's API_LAB_BODY_MAX */
};

/* One call, as its handler sees it: the checked node name segment (or a
 * forensic id), the body, and where the answer, the audit record's node
 * and what the audit record adds go. */
struct api_call {
	struct MHD_Connection *ac_conn;
	enum api_route_id ac_id;
	const char *ac_name;
	const struct api_req *ac_req;
	struct json_object **ac_out;
	char *ac_subject;
	size_t ac_subject_size;
	struct json_object **ac_detail;
	struct api_hdrs *ac_hdrs; /* headers the answer adds */
	const struct dock_config *ac_cfg;
	struct dock_err *ac_err;
};

/* A route's handler: 0 and *ac_out set, or < 0 and ac_err filled. */
typedef int (*api_handle_fn)(const struct api_call *c);

/* The request's body, "" for none. */
const char *api_body(const struct api_req *req);

/* The handlers (api-handlers.c), named in api.c's route table. */
int api_version(const struct api_call *c);
int api_nodes_list(const struct api_call *c);
int api_node_create(const struct api_call *c);
int api_node_inspect(const struct api_call *c);
int api_node_start(const struct api_call *c);
int api_node_stop(const struct api_call *c);
int api_node_destroy(const struct api_call *c);
int api_node_status(const struct api_call *c);
int api_node_publish(const struct api_call *c);
int api_node_quarantine(const struct api_call *c);
int api_node_cleanse(const struct api_call *c);
int api_node_logs(const struct api_call *c);
int api_fw_show(const struct api_call *c);
int api_images_list(const struct api_call *c);
int api_image_rm(const struct api_call *c);
int api_node_snapshot(const struct api_call *c);
int api_forensic_list(const struct api_call *c);
int api_forensic_rm(const struct api_call *c);
int api_audit(const struct api_call *c);
/* A node's guest audit log (api-gaudit.c). */
int api_node_gaudit(const struct api_call *c);
int api_ops(const struct api_call *c);
/* The labs' routes (api-labs.c). */
int api_labs_list(const struct api_call *c);
int api_lab_up(const struct api_call *c);
int api_lab_status(const struct api_call *c);
int api_lab_down(const struct api_call *c);
int api_lab_flows(const struct api_call *c);

#endif
