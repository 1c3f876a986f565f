/* api: the versioned REST/JSON API on a unix socket (libmicrohttpd).
 * Identity comes from the socket's peer credentials: root, or a member of
 * the configured group; anyone else gets 403. */
#ifndef ISC_API_H
#define ISC_API_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define API_BODY_MAX     (64 * 1024)
#define API_LAB_BODY_MAX (256 * 1024) /* a lab file's bytes (lab.h LAB_FILE_MAX) */
#define API_URL_MAX      256

enum api_route_id {
	API_NONE,
	API_VERSION,
	API_NODES_LIST,
	API_NODES_CREATE,
	API_NODE_INSPECT,
	API_NODE_START,
	API_NODE_STOP,
	API_NODE_DESTROY,
	API_NODE_STATUS,
	API_NODE_PUBLISH,
	API_NODE_UNPUBLISH,
	API_NODE_QUARANTINE,
	API_NODE_RELEASE,
	API_NODE_CLEANSE,
	API_NODE_LOGS,
	API_NODE_FW_LOGS,
	API_FW_SHOW,
	API_FW_SHOW_NODE,
	API_IMAGES_LIST,
	API_IMAGE_RM,
	API_NODE_SNAPSHOT,
	API_FORENSIC_LIST,
	API_FORENSIC_RM,
	API_AUDIT_READ,
	API_AUDIT_VERIFY,
	API_FORENSIC_FILE, /* GET /v1/forensics/ID/FILE: the file itself, not JSON */
	API_OPS_LIST,
	API_OP_SHOW,
	API_OP_WAIT, /* streamed: a long-poll (api-ops.h) */
	API_OP_CANCEL,
	API_NODE_GAUDIT,        /* GET /v1/nodes/NAME/audit: the guest audit log */
	API_NODE_GAUDIT_VERIFY, /* GET /v1/nodes/NAME/audit/verify */
	API_NODE_GAUDIT_PURGE,  /* DELETE /v1/nodes/NAME/audit */
	API_LAB_FLOWS,          /* GET /v1/labs/NAME/flows */
	API_LAB_FLOWS_SET,      /* PUT /v1/labs/NAME/flows */
	API_LABS_LIST,          /* GET /v1/labs */
	API_LABS_UP,            /* POST /v1/labs: the file's bytes; ?file=NAME&yes=1&parallel=N */
	API_LABS_VALIDATE,      /* POST /v1/labs/validate: the same, checked and planned only */
	API_LAB_STATUS,         /* GET /v1/labs/LAB */
	API_LAB_DOWN,           /* DELETE /v1/labs/LAB */
};

/* Headers an answer adds (Location, Allow, the audit listing's cursor). */
#define API_HDRS_MAX 4
struct api_hdrs {
	int ah_n;
	char ah_name[API_HDRS_MAX][32];
	char ah_value[API_HDRS_MAX][192];
};
/* Add one (api-err.c); past API_HDRS_MAX or h NULL: left out. */
void api_hdrs_add(struct api_hdrs *h, const char *name, const char *value);

/* The methods url takes, ", "-separated (the 405's Allow); "" for none. */
void api_allowed(const char *url, char *buf, size_t size);

/* Match method + URL against the route table; fills name for node routes.
 * Unknown path: API_NONE and 404; known path, wrong method: 405. */
enum api_route_id api_route(const char *method, const char *url, char *name, size_t name_size,
			    int *status);

int api_start(const struct dock_config *cfg, struct dock_err *err);
void api_stop(void);

#endif
