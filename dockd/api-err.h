/* api-err: the API's error bodies, {"error": "text", "code": "word"}. The
 * text names the bad input for people (and tests grep it); the code is a
 * stable word for programs, one of a bounded set (API_ERR_CODES below and
 * docs/openapi.yaml's ErrorCode): derived from the HTTP status and the
 * errno the error was raised with, or given where the API raises it. */
#ifndef ISC_API_ERR_H
#define ISC_API_ERR_H

#include <json-c/json.h>

#include "err.h"

/* Every code the API answers with, space-separated (the unit test and the
 * OpenAPI test check the document lists exactly these). */
#define API_ERR_CODES                                                                       \
	"bad_request permission_denied not_found node_not_found image_not_found "           \
	"snapshot_not_found operation_not_found no_route method_not_allowed conflict "      \
	"already_exists node_running node_paused busy image_in_use image_rebuilt key_gone " \
	"limit_reached port_in_use not_cancellable body_too_large uri_too_long internal "   \
	"unavailable audit_unavailable libvirt_unreachable disk_full"

/* The code of an error: status, errno and, for the not-found family, what
 * the text names first ("node ...", "image ...", "forensic snapshot ...").
 * Never NULL. */
const char *api_err_code(int status, int errnum, const char *msg);

/* {"error": msg, "code": code}; code NULL: api_err_code(status, 0, msg). */
struct json_object *api_err_body(int status, const char *code, const char *msg);

/* The body of err (its status, errno and text). */
struct json_object *api_err_json(const struct dock_err *err);

#endif
