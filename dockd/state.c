/* state: node records as JSON files (the contract is state.h): the names
 * of states, phases and actions, a record to JSON and back (every member
 * read with bounds, the first bad one named in the error), and the files
 * under <state_dir>/nodes, written atomically. */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "jsonin.h"

#define STATE_MAX_BYTES (64 * 1024)
#define STATE_MAX_NODES 4096

static const char *const state_names[NODE_STATE_COUNT] = {
	[NODE_CREATING] = "creating",     [NODE_DEFINED] = "defined",
	[NODE_STARTING] = "starting",     [NODE_RUNNING] = "running",
	[NODE_STOPPING] = "stopping",     [NODE_STOPPED] = "stopped",
	[NODE_DESTROYING] = "destroying", [NODE_FAILED] = "failed",
	[NODE_CLEANSING] = "cleansing",
};

static const char *const phase_names[NODE_PHASE_COUNT] = {
	[NODE_PHASE_NONE] = "",
	[NODE_PHASE_SHUTDOWN] = "shutdown",
	[NODE_PHASE_SNAPSHOT] = "snapshot",
	[NODE_PHASE_REKEY] = "rekey",
	[NODE_PHASE_START] = "start",
	[NODE_PHASE_WAIT_AGENT] = "wait-agent",
};

const char *state_phase_name(enum node_phase p)
{
	return p < NODE_PHASE_COUNT ? phase_names[p] : "";
}

static const struct jsonin_limits state_limits = {
	.jl_max_bytes = STATE_MAX_BYTES,
	.jl_max_depth = 8,
	.jl_max_fields = 64,
};

static const char *const action_names[NODE_ACT_COUNT] = {
	[NODE_ACT_ALERT] = "alert",
	[NODE_ACT_QUARANTINE] = "quarantine",
	[NODE_ACT_CLEANSE] = "cleanse",
	[NODE_ACT_DESTROY] = "destroy",
};

void state_policies_json(struct json_object *o, const struct node_rec *r)
{
	json_object_object_add(o, "on_hostile",
			       json_object_new_string(state_action_name(r->nr_on_hostile)));
	json_object_object_add(o, "on_silent",
			       json_object_new_string(state_action_name(r->nr_on_silent)));
	json_object_object_add(o, "on_fail",
			       json_object_new_string(state_action_name(r->nr_on_fail)));
	json_object_object_add(o, "on_audit_gap",
			       json_object_new_string(state_action_name(r->nr_on_audit_gap)));
}

const char *state_action_name(enum node_action a)
{
	return a < NODE_ACT_COUNT ? action_names[a] : "alert";
}

/* Index of s in a table of n names, or -EINVAL. */
static int state_lookup(const char *const names[], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

int state_parse_action(const char *s, enum node_action *out)
{
	int i = state_lookup(action_names, NODE_ACT_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum node_action)i;
	return 0;
}

const char *state_name(enum node_state s)
{
	return s < NODE_STATE_COUNT ? state_names[s] : "unknown";
}

int state_parse_name(const char *s, enum node_state *out)
{
	int i = state_lookup(state_names, NODE_STATE_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum node_state)i;
	return 0;
}

#define state_strings(arr, n) state_strings_((const char *)(arr), sizeof((arr)[0]), n)
static struct json_object *state_strings_(const char *arr, size_t stride, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(arr + i * stride));
	return a;
}

/* An optional action member (absent: *a unchanged). */
static int state_action_in(struct json_object *o, const char *key, enum node_action *a,
			   struct dock_err *err)
{
	char v[16];
	int r = jsonin_str(o, "node record", key, false, v, sizeof(v), err);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || state_parse_action(v, a) < 0)
		return err_set(err, 400, EINVAL, "node record: bad \"%s\"", key);
	return 0;
}

char *state_to_json(const struct node_rec *r)
{
	struct json_object *o = json_object_new_object(), *h;
	char *s;

	json_object_object_add(o, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(o, "name", json_object_new_string(r->nr_name));
	if (r->nr_id[0] != '\0')
		json_object_object_add(o, "id", json_object_new_string(r->nr_id));
	json_object_object_add(o, "state", json_object_new_string(state_name(r->nr_state)));
	if (r->nr_phase != NODE_PHASE_NONE)
		json_object_object_add(o, "phase",
				       json_object_new_string(state_phase_name(r->nr_phase)));
	json_object_object_add(o, "reason", json_object_new_string(r->nr_reason));
	json_object_object_add(o, "image", json_object_new_string(r->nr_image));
	if (r->nr_base_sha256[0] != '\0')
		json_object_object_add(o, "base_sha256", json_object_new_string(r->nr_base_sha256));
	json_object_object_add(o, "profile", json_object_new_string(r->nr_profile));
	if (r->nr_lab[0] != '\0')
		json_object_object_add(o, "lab", json_object_new_string(r->nr_lab));
	if (r->nr_vmm_uid != 0)
		json_object_object_add(o, "vmm_uid", json_object_new_int64(r->nr_vmm_uid));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)r->nr_memory_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64((int64_t)r->nr_vcpus));
	json_object_object_add(o, "scratch_mib", json_object_new_int64((int64_t)r->nr_scratch_mib));
	if (resctl_any(&r->nr_limits))
		json_object_object_add(o, "limits", resctl_json(&r->nr_limits));
	json_object_object_add(o, "subnet", json_object_new_int64(r->nr_subnet));
	json_object_object_add(o, "mac", json_object_new_string(r->nr_mac));
	json_object_object_add(o, "secret_uuid", json_object_new_string(r->nr_secret_uuid));
	json_object_object_add(o, "volume", json_object_new_string(r->nr_volume));
	json_object_object_add(o, "created", json_object_new_int64(r->nr_created));
	json_object_object_add(o, "published", state_strings(r->nr_published, r->nr_n_published));
	json_object_object_add(o, "egress_deny", json_object_new_boolean(r->nr_egress_deny));
	json_object_object_add(o, "egress_allow", state_strings(r->nr_egress_allow, r->nr_n_allow));
	json_object_object_add(o, "quarantined", json_object_new_boolean(r->nr_quarantined));
	json_object_object_add(o, "egress_public_only",
			       json_object_new_boolean(r->nr_egress_public_only));
	json_object_object_add(o, "lifetime_s", json_object_new_int64((int64_t)r->nr_lifetime_s));
	json_object_object_add(o, "cleanse_at", json_object_new_int64(r->nr_cleanse_at));
	json_object_object_add(o, "cleanses", json_object_new_int64((int64_t)r->nr_cleanses));
	state_policies_json(o, r);
	json_object_object_add(o, "failing", state_strings(r->nr_failing, r->nr_n_failing));
	if (r->nr_have_hello) {
		h = json_object_new_object();
		json_object_object_add(h, "protocol",
				       json_object_new_int64((int64_t)r->nr_hello.ah_protocol));
		json_object_object_add(h, "agent", json_object_new_string(r->nr_hello.ah_agent));
		json_object_object_add(h, "boot_id",
				       json_object_new_string(r->nr_hello.ah_boot_id));
		json_object_object_add(h, "kernel", json_object_new_string(r->nr_hello.ah_kernel));
		json_object_object_add(h, "hostname",
				       json_object_new_string(r->nr_hello.ah_hostname));
		json_object_object_add(h, "received",
				       json_object_new_int64(r->nr_hello.ah_received));
		json_object_object_add(o, "hello", h);
	}
	s = strdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* The resource limits beside vCPUs and memory; a record without them (an
 * older dock's, or a node created without) has none. */
static int state_in_limits(struct json_object *o, const char *w, struct node_rec *r,
			   struct dock_err *err)
{
	struct json_object *l;

	if (!json_object_object_get_ex(o, "limits", &l) || json_object_is_type(l, json_type_null))
		return 0;
	if (!json_object_is_type(l, json_type_object))
		return err_set(err, 400, EINVAL, "%s: \"limits\" must be an object", w);
	json_object_object_foreach(l, key, val)
	{
		size_t i;
		(void)val;
		for (i = 0; i < RESCTL_KEYS && strcmp(key, resctl_request_keys[i]) != 0; i++)
			;
		if (i == RESCTL_KEYS)
			return err_set(err, 400, EINVAL, "%s: \"limits\": unknown field \"%.64s\"",
				       w, key);
	}
	return resctl_parse(l, "node record: \"limits\"", r->nr_vcpus, &r->nr_limits, err);
}

/* What every record has: the node, its image, sizes, limits, network, key,
 * volume, profile and creation time. */
static int state_in_node(struct json_object *o, const char *w, struct node_rec *r, char *st,
			 size_t st_size, struct dock_err *err)
{
	uint64_t u;

	if (jsonin_str(o, w, "name", true, r->nr_name, sizeof(r->nr_name), err) < 0 ||
	    validate_name("node", r->nr_name, NODE_NAME_MAX, err) < 0 ||
	    jsonin_str(o, w, "state", true, st, st_size, err) < 0 ||
	    jsonin_str(o, w, "reason", true, r->nr_reason, sizeof(r->nr_reason), err) < 0 ||
	    jsonin_str(o, w, "image", true, r->nr_image, sizeof(r->nr_image), err) < 0 ||
	    jsonin_u64(o, w, "memory_mib", true, 0, UINT32_MAX, &r->nr_memory_mib, err) < 0 ||
	    jsonin_u64(o, w, "vcpus", true, 0, 1024, &r->nr_vcpus, err) < 0 ||
	    jsonin_u64(o, w, "scratch_mib", true, 0, INT64_MAX, &r->nr_scratch_mib, err) < 0 ||
	    jsonin_u64(o, w, "subnet", true, 0, UINT32_MAX, &u, err) < 0 ||
	    jsonin_str(o, w, "mac", true, r->nr_mac, sizeof(r->nr_mac), err) < 0 ||
	    jsonin_str(o, w, "secret_uuid", true, r->nr_secret_uuid, sizeof(r->nr_secret_uuid),
		       err) < 0 ||
	    jsonin_str(o, w, "volume", true, r->nr_volume, sizeof(r->nr_volume), err) < 0)
		return -EINVAL;
	r->nr_subnet = (unsigned)u;
	if (JSONIN_BAD(jsonin_str(o, w, "profile", false, r->nr_profile, sizeof(r->nr_profile),
				  err)) ||
	    JSONIN_BAD(jsonin_str(o, w, "lab", false, r->nr_lab, sizeof(r->nr_lab), err)) ||
	    (r->nr_lab[0] != '\0' && validate_name("lab", r->nr_lab, NODE_NAME_MAX, err) < 0))
		return -EINVAL;
	if (jsonin_u64(o, w, "created", true, 0, INT64_MAX, &u, err) < 0)
		return -EINVAL;
	r->nr_created = (int64_t)u;
	return state_in_limits(o, w, r, err);
}

/* The policy: ports, egress, quarantine, lifetime, what to do on hostile,
 * silent and failing, and the checks failing now. */
static int state_in_policy(struct json_object *o, const char *w, struct node_rec *r,
			   struct dock_err *err)
{
	if (jsonin_strings(o, w, "published", r->nr_published[0], sizeof(r->nr_published[0]),
			   NODE_PUBLISH_MAX, &r->nr_n_published, err) < 0 ||
	    jsonin_strings(o, w, "egress_allow", r->nr_egress_allow[0],
			   sizeof(r->nr_egress_allow[0]), NODE_ALLOW_MAX, &r->nr_n_allow,
			   err) < 0 ||
	    JSONIN_BAD(jsonin_bool(o, w, "egress_deny", false, &r->nr_egress_deny, err)) ||
	    JSONIN_BAD(jsonin_bool(o, w, "quarantined", false, &r->nr_quarantined, err)) ||
	    JSONIN_BAD(jsonin_bool(o, w, "egress_public_only", false, &r->nr_egress_public_only,
				   err)) ||
	    JSONIN_BAD(
		    jsonin_u64(o, w, "lifetime_s", false, 0, UINT32_MAX, &r->nr_lifetime_s, err)) ||
	    JSONIN_BAD(jsonin_u64(o, w, "cleanses", false, 0, INT64_MAX, &r->nr_cleanses, err)))
		return -EINVAL;
	r->nr_on_hostile = NODE_ACT_QUARANTINE;
	r->nr_on_silent = NODE_ACT_ALERT;
	r->nr_on_fail = NODE_ACT_ALERT;
	r->nr_on_audit_gap = NODE_ACT_ALERT; /* absent in an older dock's record */
	if (state_action_in(o, "on_hostile", &r->nr_on_hostile, err) < 0 ||
	    state_action_in(o, "on_audit_gap", &r->nr_on_audit_gap, err) < 0 ||
	    state_action_in(o, "on_silent", &r->nr_on_silent, err) < 0 ||
	    state_action_in(o, "on_fail", &r->nr_on_fail, err) < 0)
		return -EINVAL;
	if (jsonin_strings(o, w, "failing", r->nr_failing[0], sizeof(r->nr_failing[0]),
			   NODE_FAILING_MAX, &r->nr_n_failing, err) < 0)
		return -EINVAL;
	return 0;
}

/* A cleanse under way: its phase and when it started (both optional). */
static int state_in_cleanse(struct json_object *o, const char *w, struct node_rec *r,
			    struct dock_err *err)
{
	char phase[16];
	uint64_t u;

	switch (jsonin_str(o, w, "phase", false, phase, sizeof(phase), err)) {
	case -ENOENT:
		break;
	case 0:
		for (r->nr_phase = NODE_PHASE_SHUTDOWN; r->nr_phase < NODE_PHASE_COUNT;
		     r->nr_phase++)
			if (strcmp(phase, phase_names[r->nr_phase]) == 0)
				break;
		if (r->nr_phase < NODE_PHASE_COUNT)
			break;
		err_set(err, 400, EINVAL, "%s: unknown phase \"%s\"", w, phase);
		return -EINVAL;
	default:
		return -EINVAL;
	}
	if (jsonin_u64(o, w, "cleanse_at", false, 0, INT64_MAX, &u, err) == 0)
		r->nr_cleanse_at = (int64_t)u;
	else if (err_isset(err))
		return -EINVAL;
	return 0;
}

/* The agent's last hello, when the node has one. */
static int state_in_hello(struct json_object *o, const char *w, struct node_rec *r,
			  struct dock_err *err)
{
	struct json_object *h;
	struct agent_hello *ah = &r->nr_hello;
	uint64_t u;

	if (!json_object_object_get_ex(o, "hello", &h) || !json_object_is_type(h, json_type_object))
		return 0;
	if (jsonin_u64(h, w, "protocol", true, 0, UINT32_MAX, &ah->ah_protocol, err) < 0 ||
	    jsonin_str(h, w, "agent", true, ah->ah_agent, sizeof(ah->ah_agent), err) < 0 ||
	    jsonin_str(h, w, "boot_id", true, ah->ah_boot_id, sizeof(ah->ah_boot_id), err) < 0 ||
	    jsonin_str(h, w, "kernel", true, ah->ah_kernel, sizeof(ah->ah_kernel), err) < 0 ||
	    jsonin_str(h, w, "hostname", true, ah->ah_hostname, sizeof(ah->ah_hostname), err) < 0 ||
	    jsonin_u64(h, w, "received", true, 0, INT64_MAX, &u, err) < 0)
		return -EINVAL;
	ah->ah_received = (int64_t)u;
	r->nr_have_hello = true;
	return 0;
}

/* The format's version (absent: 1), the base image's pin and the uid of
 * the node's QEMU (both optional). */
static int state_in_version(struct json_object *o, const char *w, struct node_rec *r,
			    struct dock_err *err)
{
	uint64_t v = 1, uid = 0;

	if (JSONIN_BAD(jsonin_u64(o, w, "version", false, 1, UINT32_MAX, &v, err)) ||
	    JSONIN_BAD(jsonin_u64(o, w, "vmm_uid", false, 1000, INT32_MAX - 1, &uid, err)))
		return -EINVAL;
	r->nr_vmm_uid = (uint32_t)uid;
	if (v > STATE_VERSION)
		return err_set(
			err, 400, EPROTO,
			"%s: version %llu is newer than this dock's %d (refusing to read it)", w,
			(unsigned long long)v, STATE_VERSION);
	r->nr_version = (unsigned)v;
	if (JSONIN_BAD(jsonin_str(o, w, "id", false, r->nr_id, sizeof(r->nr_id), err)))
		return -EINVAL;
	if (r->nr_id[0] != '\0' &&
	    (strlen(r->nr_id) != 32 || strspn(r->nr_id, "0123456789abcdef") != 32))
		return err_set(err, 400, EINVAL, "%s: \"id\" is not 32 hex digits", w);
	if (JSONIN_BAD(jsonin_str(o, w, "base_sha256", false, r->nr_base_sha256,
				  sizeof(r->nr_base_sha256), err)))
		return -EINVAL;
	if (r->nr_base_sha256[0] != '\0' &&
	    (strlen(r->nr_base_sha256) != 64 ||
	     strspn(r->nr_base_sha256, "0123456789abcdef") != 64))
		return err_set(err, 400, EINVAL, "%s: \"base_sha256\" is not a sha256 digest", w);
	return 0;
}

void state_node_id(const char *name, int64_t created, char out[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char h[crypto_hash_sha256_BYTES];
	char buf[NODE_NAME_MAX + 64];
	int n = snprintf(buf, sizeof(buf), "isc-node-id%c%s%c%lld", 0, name, 0, (long long)created);

	crypto_hash_sha256(h, (const unsigned char *)buf,
			   n > 0 && (size_t)n < sizeof(buf) ? (unsigned long long)n : 0);
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[32] = '\0';
}

int state_from_json(const char *buf, size_t len, struct node_rec *r, struct dock_err *err)
{
	struct json_object *o = NULL;
	char st[16];
	int rc = -EINVAL;
	const char *w = "node record";

	memset(r, 0, sizeof(*r));
	if (jsonin_parse(w, buf, len, &state_limits, &o, err) < 0)
		return -EINVAL;
	if (state_in_version(o, w, r, err) < 0 || state_in_node(o, w, r, st, sizeof(st), err) < 0 ||
	    state_in_policy(o, w, r, err) < 0 || state_in_cleanse(o, w, r, err) < 0)
		goto out;
	if (state_parse_name(st, &r->nr_state) < 0) {
		err_set(err, 400, EINVAL, "%s: unknown state \"%s\"", w, st);
		goto out;
	}
	if (state_in_hello(o, w, r, err) < 0)
		goto out;
	if (r->nr_id[0] == '\0') /* an older dock's record */
		state_node_id(r->nr_name, r->nr_created, r->nr_id);
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

static int state_path(const char *state_dir, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/nodes/%s.json", state_dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int state_save(const char *state_dir, const struct node_rec *rec, struct dock_err *err)
{
	char path[PATH_MAX], *json;
	int r;

	if (state_path(state_dir, rec->nr_name, path, sizeof(path)) < 0)
		return err_set(err, 500, ENAMETOOLONG, "node %s: state path too long",
			       rec->nr_name);
	json = state_to_json(rec);
	if (json == NULL)
		return err_set(err, 500, ENOMEM, "node %s: out of memory", rec->nr_name);
	r = file_write_atomic(path, json, strlen(json), 0600, err);
	free(json);
	return r;
}

int state_save_begin(const char *state_dir, const struct node_rec *rec, char *tmp, size_t size,
		     struct dock_err *err)
{
	char path[PATH_MAX], *json;
	int fd, r;

	if (state_path(state_dir, rec->nr_name, path, sizeof(path)) < 0 ||
	    (size_t)snprintf(tmp, size, "%s.later.tmp", path) >= size)
		return err_set(err, 500, ENAMETOOLONG, "node %s: state path too long",
			       rec->nr_name);
	json = state_to_json(rec);
	if (json == NULL)
		return err_set(err, 500, ENOMEM, "node %s: out of memory", rec->nr_name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(json);
		return err_set(err, 500, errno, "%s: %s", tmp, strerror(errno));
	}
	r = file_write_fd(fd, json, strlen(json));
	free(json);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return err_set(err, 500, -r, "%s: %s", tmp, strerror(-r));
	}
	return 0;
}

int state_save_end(const char *state_dir, const char *name, const char *tmp, bool keep,
		   struct dock_err *err)
{
	char path[PATH_MAX];

	if (!keep || state_path(state_dir, name, path, sizeof(path)) < 0) {
		unlink(tmp);
		return keep ? err_set(err, 500, ENAMETOOLONG, "node %s: state path too long", name)
			    : 0;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(err, 500, e, "%s: rename: %s", path, strerror(e));
	}
	return 0;
}

void state_sync_dir(const char *state_dir)
{
	char path[PATH_MAX];

	if (state_path(state_dir, "x", path, sizeof(path)) == 0)
		file_sync_dir(path);
}

int state_load(const char *state_dir, const char *name, struct node_rec *rec, struct dock_err *err)
{
	char path[PATH_MAX], *buf;
	size_t len = 0;
	int r;

	if (state_path(state_dir, name, path, sizeof(path)) < 0)
		return err_set(err, 500, ENAMETOOLONG, "node %s: state path too long", name);
	r = file_read(path, STATE_MAX_BYTES, &buf, &len);
	if (r < 0)
		return err_set(err, r == -ENOENT ? 404 : 500, -r, "%s: %s", path, strerror(-r));
	r = state_from_json(buf, len, rec, err);
	free(buf);
	if (r < 0) {
		err_prefix(err, "%s: ", path);
		return r;
	}
	if (strcmp(rec->nr_name, name) != 0)
		return err_set(err, 500, EINVAL, "%s: record names node \"%s\"", path,
			       rec->nr_name);
	return 0;
}

int state_remove(const char *state_dir, const char *name, struct dock_err *err)
{
	char path[PATH_MAX];

	if (state_path(state_dir, name, path, sizeof(path)) < 0)
		return err_set(err, 500, ENAMETOOLONG, "node %s: state path too long", name);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	file_sync_dir(path);
	return 0;
}

int state_list(const char *state_dir, char ***names, size_t *n, struct dock_err *err)
{
	char dir[PATH_MAX];
	char **v = NULL;
	size_t cnt = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/nodes", state_dir);
	d = opendir(dir);
	if (d == NULL)
		return err_set(err, 500, errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **nv;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (cnt >= STATE_MAX_NODES)
			break;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		v[cnt] = strndup(de->d_name, len - 5);
		if (v[cnt] != NULL)
			cnt++;
	}
	closedir(d);
	*names = v;
	*n = cnt;
	return 0;
}
