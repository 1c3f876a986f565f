/* api-gaudit: a node's guest audit log (gaudit.h) over the API: read it
 * (since, type, limit), verify it, purge it (audited by the route table).
 * Its records can carry secrets (a command's arguments), so only root and
 * the members of dockd.conf's audit_group (none by default) may, whatever
 * socket_group allows. A destroyed node's log is found by its name (the
 * newest kept for it) or by its id (?id=). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api-int.h"
#include "gaudit.h"
#include "node.h"
#include "timearg.h"

#define API_GAUDIT_GROUPS_MAX 1024

/* Root, or a process holding audit_group (its real groups at connect). */
static int api_gaudit_allowed(const struct api_call *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c->ac_conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	gid_t groups[API_GAUDIT_GROUPS_MAX];
	struct group gr, *grp = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char buf[4096];
	const char *g = c->ac_cfg->dc_audit_group;

	if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return err_set(c->ac_err, 403, EACCES, "guest audit: cannot tell who is asking");
	if (cred.uid == 0)
		return 0;
	if (g[0] != '\0' && getgrnam_r(g, &gr, buf, sizeof(buf), &grp) == 0 && grp != NULL) {
		if (cred.gid == grp->gr_gid)
			return 0;
		len = sizeof(groups);
		if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
			for (size_t i = 0; i < len / sizeof(groups[0]); i++)
				if (groups[i] == grp->gr_gid)
					return 0;
	}
	return err_set(c->ac_err, 403, EACCES,
		       "guest audit of node \"%s\": only root%s%s may read it (audit_group)",
		       c->ac_name, g[0] ? " and group " : "", g);
}

/* The log's id: ?id= when given (32 hex), else the live node's, else the
 * newest kept for that name. */
static int api_gaudit_id(const struct api_call *c, char *id)
{
	const char *q = MHD_lookup_connection_value(c->ac_conn, MHD_GET_ARGUMENT_KIND, "id");
	char live[GAUDIT_ID_MAX] = "";

	if (q != NULL) {
		if (strlen(q) != GAUDIT_ID_MAX - 1 ||
		    strspn(q, "0123456789abcdef") != GAUDIT_ID_MAX - 1)
			return err_set(c->ac_err, 400, EINVAL,
				       "id must be 32 lower-case hex digits");
		memcpy(id, q, GAUDIT_ID_MAX);
		return 0;
	}
	node_gaudit_id(c->ac_name, live);
	return gaudit_resolve(c->ac_cfg->dc_state_dir, c->ac_name, live, id, c->ac_err);
}

static int api_gaudit_read(const struct api_call *c, const char *id)
{
	struct MHD_Connection *conn = c->ac_conn;
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *type = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "type");
	const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	struct json_object *recs = NULL;
	time_t t = 0;
	int rtype = -1;
	unsigned long max = 0;
	char *end;

	if (since != NULL && timearg_parse("since", since, time(NULL), &t, c->ac_err) < 0)
		return -EINVAL;
	if (type != NULL && (rtype = gaudit_type_parse(type)) < 0)
		return err_set(
			c->ac_err, 400, EINVAL,
			"type must be a record type name (EXECVE, USER_LOGIN, ...) or number");
	if (limit != NULL) {
		errno = 0;
		max = strtoul(limit, &end, 10);
		if (errno != 0 || end == limit || *end != '\0' || max < 1 || max > GAUDIT_READ_MAX)
			return err_set(c->ac_err, 400, EINVAL,
				       "limit must be a number from 1 to %d", GAUDIT_READ_MAX);
	}
	if (gaudit_read(c->ac_cfg->dc_state_dir, id, (int64_t)t, rtype, max, &recs, c->ac_err) < 0)
		return -EIO;
	*c->ac_out = json_object_new_object();
	json_object_object_add(*c->ac_out, "node", json_object_new_string(c->ac_name));
	json_object_object_add(*c->ac_out, "id", json_object_new_string(id));
	json_object_object_add(*c->ac_out, "records", recs);
	return 0;
}

int api_node_gaudit(const struct api_call *c)
{
	char id[GAUDIT_ID_MAX];

	if (api_gaudit_allowed(c) < 0 || api_gaudit_id(c, id) < 0)
		return -EACCES;
	if (c->ac_id == API_NODE_GAUDIT_VERIFY)
		return gaudit_verify(c->ac_cfg->dc_state_dir, id, c->ac_out, c->ac_err);
	if (c->ac_id == API_NODE_GAUDIT_PURGE) {
		*c->ac_detail = json_object_new_object();
		json_object_object_add(*c->ac_detail, "id", json_object_new_string(id));
		if (gaudit_purge(c->ac_cfg->dc_state_dir, id, c->ac_err) < 0)
			return -EIO;
		*c->ac_out = json_object_new_object();
		json_object_object_add(*c->ac_out, "purged", json_object_new_string(id));
		return 0;
	}
	return api_gaudit_read(c, id);
}
