/* api-audit: GET /v1/audit's query (node, since, and the cursor: after,
 * limit) and its answer's headers. The answer stays a JSON array of the
 * records, oldest first, as v1 clients read it:
 *   - without a cursor, the most recent AUDIT_READ_MAX; when older ones are
 *     left out, X-Audit-Truncated says how many (never a silent cut);
 *   - with after=SEQ and/or limit=N (1..AUDIT_READ_MAX), the first N records
 *     with seq > SEQ; when more follow, X-Next-Cursor: the SEQ to ask after
 *     next, and Link: <...>; rel="next".
 * X-Audit-Matched: the records that match in all, in both. */
#ifndef ISC_API_AUDIT_H
#define ISC_API_AUDIT_H

#include <json-c/json.h>
#include <microhttpd.h>

#include "api.h"
#include "err.h"

int api_audit_list(struct MHD_Connection *conn, const char *state_dir, struct json_object **out,
		   struct api_hdrs *h, struct dock_err *err);

#endif
