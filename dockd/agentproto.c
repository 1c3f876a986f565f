/* agentproto: parsing agent lines into fixed structs. */
#include "agentproto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "jsonin.h"

static const struct jsonin_limits agent_limits = {
	.jl_max_bytes = AGENT_LINE_MAX,
	.jl_max_depth = 5,
	.jl_max_fields = 40,
};

#define W                      "agent fact"
#define STR(o, k, dst)         jsonin_str(o, W, k, true, dst, sizeof(dst), err)
#define I64(o, k, lo, hi, dst) jsonin_i64(o, W, k, true, lo, hi, dst, err)
#define BOOL(o, k, dst)        jsonin_bool(o, W, k, true, dst, err)
#define ARR(o, k, dst)         jsonin_array(o, W, k, true, AF_PROTO_ARRAY_MAX, dst, err)
/* Elements kept of an array: at most cap, the fact marked truncated beyond. */
static size_t af_keep(struct json_object *a, size_t cap, struct agent_fact *f)
{
	size_t n = json_object_array_length(a);

	if (n > cap) {
		f->af_truncated = true;
		return cap;
	}
	return n;
}
#define ELEM(arr, i, out)                                                                          \
	do {                                                                                       \
		out = json_object_array_get_idx(arr, i);                                           \
		if (!json_object_is_type(out, json_type_object))                                   \
			return err_set(err, 400, EINVAL, W ": array element %zu is not an object", \
				       (size_t)(i));                                               \
	} while (0)

static int af_listen(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	struct json_object *a, *e;
	int64_t port;

	if (ARR(o, "sockets", &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_SOCKETS, f); i++) {
		struct af_socket *s = &f->af.listen.l_sockets[i];
		ELEM(a, i, e);
		if (STR(e, "proto", s->s_proto) < 0 || STR(e, "addr", s->s_addr) < 0 ||
		    I64(e, "port", 0, 65535, &port) < 0 ||
		    I64(e, "uid", -1, UINT32_MAX, &s->s_uid) < 0 ||
		    /* Protocol 3: the process holding the socket, when the agent found it. */
		    JSONIN_BAD(jsonin_i64(e, W, "pid", false, 1, INT32_MAX, &s->s_pid, err)) ||
		    JSONIN_BAD(jsonin_str(e, W, "comm", false, s->s_comm, sizeof(s->s_comm), err)))
			return -EINVAL;
		s->s_port = (uint32_t)port;
		f->af.listen.l_n = (uint8_t)(i + 1);
	}
	return 0;
}

static int af_aslr(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	if (I64(o, "randomize_va_space", -1, 16, &f->af.aslr.a_randomize_va_space) < 0 ||
	    BOOL(o, "nx", &f->af.aslr.a_nx) < 0)
		return -EINVAL;
	return 0;
}

static int af_net(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	struct json_object *a, *e, *addrs = NULL;

	if (ARR(o, "ifaces", &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_IFACES, f); i++) {
		struct af_iface *n = &f->af.net.n_ifaces[i];
		ELEM(a, i, e);
		addrs = NULL;
		/* mac and addrs may be absent when the agent could not read them. */
		if (STR(e, "name", n->i_name) < 0 || BOOL(e, "up", &n->i_up) < 0 ||
		    JSONIN_BAD(jsonin_str(e, W, "mac", false, n->i_mac, sizeof(n->i_mac), err)) ||
		    JSONIN_BAD(jsonin_array(e, W, "addrs", false, AF_PROTO_ARRAY_MAX, &addrs, err)))
			return -EINVAL;
		for (size_t k = 0; addrs != NULL && k < af_keep(addrs, AF_MAX_ADDRS, f); k++) {
			struct json_object *v = json_object_array_get_idx(addrs, k);
			if (!json_object_is_type(v, json_type_string) ||
			    (size_t)json_object_get_string_len(v) >= sizeof(n->i_addrs[k]))
				return err_set(err, 400, EINVAL, W ": bad address in \"addrs\"");
			memcpy(n->i_addrs[k], json_object_get_string(v),
			       (size_t)json_object_get_string_len(v) + 1);
			n->i_n_addrs = (uint8_t)(k + 1);
		}
		f->af.net.n_n = (uint8_t)(i + 1);
	}
	return 0;
}

static int af_swap(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	struct json_object *a, *e;

	if (ARR(o, "devices", &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_SWAPS, f); i++) {
		struct af_swap *w = &f->af.swap.w_devices[i];
		ELEM(a, i, e);
		if (STR(e, "path", w->w_path) < 0 || BOOL(e, "dm_crypt", &w->w_dm_crypt) < 0 ||
		    JSONIN_BAD(jsonin_str(e, W, "disk", false, w->w_disk, sizeof(w->w_disk), err)))
			return -EINVAL;
		f->af.swap.w_n = (uint8_t)(i + 1);
	}
	return 0;
}

static int af_mounts(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	struct json_object *a, *e;

	if (ARR(o, "mounts", &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_MOUNTS, f); i++) {
		struct af_mount *m = &f->af.mounts.m_mounts[i];
		ELEM(a, i, e);
		if (STR(e, "target", m->m_target) < 0 || STR(e, "source", m->m_source) < 0 ||
		    STR(e, "fstype", m->m_fstype) < 0 || BOOL(e, "ro", &m->m_ro) < 0 ||
		    JSONIN_BAD(jsonin_str(e, W, "disk", false, m->m_disk, sizeof(m->m_disk), err)))
			return -EINVAL;
		f->af.mounts.m_n = (uint8_t)(i + 1);
	}
	return 0;
}

static int af_audit(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	if (I64(o, "enabled", 0, 2, &f->af.audit.a_enabled) < 0 ||
	    I64(o, "pid", 0, INT32_MAX, &f->af.audit.a_pid) < 0 ||
	    I64(o, "backlog", 0, INT64_MAX, &f->af.audit.a_backlog) < 0 ||
	    I64(o, "lost", 0, INT64_MAX, &f->af.audit.a_lost) < 0)
		return -EINVAL;
	return 0;
}

static int af_nft(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	struct json_object *a, *e;

	if (I64(o, "tables", 0, INT32_MAX, &f->af.nft.f_tables) < 0 ||
	    ARR(o, "input_chains", &a) < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_CHAINS, f); i++) {
		struct af_chain *c = &f->af.nft.f_chains[i];
		ELEM(a, i, e);
		if (STR(e, "table", c->c_table) < 0 || STR(e, "chain", c->c_chain) < 0 ||
		    STR(e, "policy", c->c_policy) < 0 || STR(e, "hook", c->c_hook) < 0)
			return -EINVAL;
		f->af.nft.f_n = (uint8_t)(i + 1);
	}
	return 0;
}

/* Protocol 3: "procs", every process of the service (up to AF_MAX_PROCS). */
static int af_service_procs(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	typeof(f->af.service) *s = &f->af.service;
	struct json_object *a = NULL, *e;
	int r = jsonin_array(o, W, "procs", false, AF_PROTO_ARRAY_MAX, &a, err);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return -EINVAL;
	for (size_t i = 0; i < af_keep(a, AF_MAX_PROCS, f); i++) {
		struct af_proc *p = &s->s_procs[i];
		ELEM(a, i, e);
		if (I64(e, "pid", 1, INT32_MAX, &p->p_pid) < 0 ||
		    I64(e, "uid", 0, UINT32_MAX, &p->p_uid) < 0 ||
		    I64(e, "gid", 0, UINT32_MAX, &p->p_gid) < 0 ||
		    STR(e, "cap_eff", p->p_cap_eff) < 0 || STR(e, "cap_bnd", p->p_cap_bnd) < 0 ||
		    I64(e, "no_new_privs", 0, 1, &p->p_no_new_privs) < 0 ||
		    I64(e, "seccomp", 0, 2, &p->p_seccomp) < 0)
			return -EINVAL;
		s->s_n_procs = (uint8_t)(i + 1);
	}
	return 0;
}

static int af_service(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	typeof(f->af.service) *s = &f->af.service;

	switch (jsonin_bool(o, W, "found", false, &s->s_found, err)) {
	case 0:
		break;
	case -ENOENT:
		s->s_found = true;
		break;
	default:
		return -EINVAL;
	}
	if (!s->s_found)
		return 0;
	if (STR(o, "name", s->s_name) < 0 || I64(o, "pid", 1, INT32_MAX, &s->s_pid) < 0 ||
	    I64(o, "uid", 0, UINT32_MAX, &s->s_uid) < 0 ||
	    I64(o, "gid", 0, UINT32_MAX, &s->s_gid) < 0 || STR(o, "cap_eff", s->s_cap_eff) < 0 ||
	    STR(o, "cap_bnd", s->s_cap_bnd) < 0 ||
	    I64(o, "no_new_privs", 0, 1, &s->s_no_new_privs) < 0 ||
	    I64(o, "seccomp", 0, 2, &s->s_seccomp) < 0)
		return -EINVAL;
	if (JSONIN_BAD(jsonin_i64(o, W, "count", false, 0, INT32_MAX, &s->s_count, err)))
		return -EINVAL;
	return af_service_procs(o, f, err);
}

static int af_sysctl(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	if (I64(o, "modules_disabled", -1, 1, &f->af.sysctl.s_modules_disabled) < 0 ||
	    I64(o, "kptr_restrict", -1, 2, &f->af.sysctl.s_kptr_restrict) < 0 ||
	    I64(o, "dmesg_restrict", -1, 1, &f->af.sysctl.s_dmesg_restrict) < 0 ||
	    I64(o, "ptrace_scope", -1, 3, &f->af.sysctl.s_ptrace_scope) < 0)
		return -EINVAL;
	return 0;
}

static int af_sshd(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	if (BOOL(o, "present", &f->af.sshd.h_present) < 0)
		return -EINVAL;
	if (!f->af.sshd.h_present)
		return 0;
	if (STR(o, "password_authentication", f->af.sshd.h_password_authentication) < 0 ||
	    STR(o, "permit_root_login", f->af.sshd.h_permit_root_login) < 0)
		return -EINVAL;
	return 0;
}

/* The fact table: wire name and parser, one row per fact. */
static const struct {
	const char *fd_name;
	int (*fd_parse)(struct json_object *, struct agent_fact *, struct dock_err *);
} agent_facts[AF_COUNT] = {
	[AF_LISTEN] = { "listen", af_listen }, [AF_ASLR] = { "aslr", af_aslr },
	[AF_NET] = { "net", af_net },          [AF_SWAP] = { "swap", af_swap },
	[AF_MOUNTS] = { "mounts", af_mounts }, [AF_AUDIT] = { "audit", af_audit },
	[AF_NFT] = { "nft", af_nft },          [AF_SERVICE] = { "service", af_service },
	[AF_SYSCTL] = { "sysctl", af_sysctl }, [AF_SSHD] = { "sshd", af_sshd },
};

const char *agentproto_fact_name(enum agent_fact_id id)
{
	return id < AF_COUNT ? agent_facts[id].fd_name : "unknown";
}

/* Hello (protocol 3): the facts the agent announces, at most
 * AF_PROTO_ARRAY_MAX names of under 16 bytes; names this dock does not know
 * (a newer agent's) are skipped, a non-string refuses the line. */
static int agentproto_hello_facts(struct json_object *o, uint32_t *mask, struct dock_err *err)
{
	char names[AF_PROTO_ARRAY_MAX][16];
	size_t n;

	*mask = 0;
	if (jsonin_strings(o, "agent hello", "facts", &names[0][0], sizeof(names[0]),
			   AF_PROTO_ARRAY_MAX, &n, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < AF_COUNT; k++)
			if (strcmp(names[i], agent_facts[k].fd_name) == 0)
				*mask |= 1u << k;
	return 0;
}

static int agentproto_fact(struct json_object *o, struct agent_fact *f, struct dock_err *err)
{
	char id[16];
	int i;

	if (jsonin_str(o, W, "id", true, id, sizeof(id), err) < 0)
		return -EINVAL;
	for (i = 0; i < AF_COUNT; i++)
		if (strcmp(id, agent_facts[i].fd_name) == 0)
			break;
	if (i == AF_COUNT)
		return err_set(err, 400, EINVAL, W ": unknown fact \"%s\"", id);
	f->af_id = (enum agent_fact_id)i;
	if (JSONIN_BAD(jsonin_bool(o, W, "truncated", false, &f->af_truncated, err)))
		return -EINVAL;
	switch (jsonin_str(o, W, "error", false, f->af_error, sizeof(f->af_error), err)) {
	case 0:
		return 0; /* the agent could not observe it: that is the fact */
	case -ENOENT:
		break;
	default:
		return -EINVAL;
	}
	return agent_facts[i].fd_parse(o, f, err);
}

/* Protocol 4: one kernel audit record. Its text is the agent's escaped
 * ASCII: any byte outside printable ASCII, or more than
 * AGENT_AUDIT_MSG_MAX bytes, refuses the line (the contract says the
 * agent sends neither). */
static int agentproto_audit(struct json_object *o, struct agent_audit *a, struct dock_err *err)
{
	const char *w = "agent audit";
	int64_t ms, rtype;

	if (jsonin_u64(o, w, "serial", true, 0, UINT32_MAX, &a->aa_serial, err) < 0 ||
	    jsonin_i64(o, w, "sec", true, 0, AGENT_AUDIT_SEC_MAX, &a->aa_sec, err) < 0 ||
	    jsonin_i64(o, w, "ms", true, 0, 999, &ms, err) < 0 ||
	    jsonin_i64(o, w, "rtype", true, 0, AGENT_AUDIT_RTYPE_MAX, &rtype, err) < 0 ||
	    jsonin_str(o, w, "msg", true, a->aa_msg, sizeof(a->aa_msg), err) < 0 ||
	    JSONIN_BAD(jsonin_bool(o, w, "truncated", false, &a->aa_truncated, err)))
		return -EINVAL;
	a->aa_ms = (uint32_t)ms;
	a->aa_rtype = (uint32_t)rtype;
	for (const unsigned char *p = (const unsigned char *)a->aa_msg; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return err_set(err, 400, EINVAL, "%s: byte 0x%02x in \"msg\"", w, *p);
	return 0;
}

/* Protocol 4: the agent's audit counters. */
static int agentproto_audit_status(struct json_object *o, struct agent_audit_status *s,
				   struct dock_err *err)
{
	const char *w = "agent audit_status";

	if (jsonin_i64(o, w, "dropped", true, 0, INT64_MAX, &s->as_dropped, err) < 0 ||
	    jsonin_i64(o, w, "kernel_lost", true, 0, INT64_MAX, &s->as_kernel_lost, err) < 0 ||
	    jsonin_i64(o, w, "buffered", true, 0, INT64_MAX, &s->as_buffered, err) < 0 ||
	    jsonin_i64(o, w, "enabled", true, 0, 2, &s->as_enabled, err) < 0 ||
	    jsonin_i64(o, w, "rules", true, -1, INT32_MAX, &s->as_rules, err) < 0 ||
	    jsonin_i64(o, w, "overrun", true, 0, INT64_MAX, &s->as_overrun, err) < 0)
		return -EINVAL;
	return 0;
}

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
		    jsonin_str(o, w, "boot_id", true, h->ah_boot_id, sizeof(h->ah_boot_id), err) <
			    0 ||
		    jsonin_str(o, w, "kernel", true, h->ah_kernel, sizeof(h->ah_kernel), err) < 0 ||
		    JSONIN_BAD(jsonin_str(o, w, "hostname", false, h->ah_hostname,
					  sizeof(h->ah_hostname), err)) ||
		    agentproto_hello_facts(o, &msg->am_facts, err) < 0 ||
		    JSONIN_BAD(jsonin_bool(o, w, "audit", false, &msg->am_audit_on, err)))
			goto out;
	} else if (strcmp(type, "audit") == 0) {
		msg->am_type = AGENT_MSG_AUDIT;
		if (agentproto_audit(o, &msg->am_audit, err) < 0)
			goto out;
	} else if (strcmp(type, "audit_status") == 0) {
		msg->am_type = AGENT_MSG_AUDIT_STATUS;
		if (agentproto_audit_status(o, &msg->am_audit_status, err) < 0)
			goto out;
	} else if (strcmp(type, "fact") == 0) {
		msg->am_type = AGENT_MSG_FACT;
		if (jsonin_u64(o, w, "report", true, 0, INT64_MAX, &msg->am_seq, err) < 0 ||
		    agentproto_fact(o, &msg->am_fact, err) < 0)
			goto out;
	} else if (strcmp(type, "report_end") == 0) {
		msg->am_type = AGENT_MSG_REPORT_END;
		if (jsonin_u64(o, w, "report", true, 0, INT64_MAX, &msg->am_seq, err) < 0 ||
		    jsonin_u64(o, w, "facts", true, 0, 1024, &msg->am_count, err) < 0)
			goto out;
	} else if (strcmp(type, "heartbeat") == 0) {
		msg->am_type = AGENT_MSG_HEARTBEAT;
		if (jsonin_u64(o, w, "seq", true, 0, INT64_MAX, &msg->am_seq, err) < 0 ||
		    JSONIN_BAD(
			    jsonin_u64(o, w, "uptime", false, 0, INT64_MAX, &msg->am_uptime, err)))
			goto out;
	} else if (strcmp(type, "shutdown_ack") == 0) {
		msg->am_type = AGENT_MSG_SHUTDOWN_ACK; /* no members: the ack is the message */
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
