/* agentproto-sanitise: the dock's side of the reader's wire. A message
 * from an agent reader is hostile input (the reader parses the guest's
 * bytes; a guest that owns it can send any bytes): before anyone reads it,
 * every count is brought within its array, every string within its buffer,
 * every bool to 0 or 1, every string to UTF-8 and every number within the
 * range the parser accepts (agentproto.h says what is refused and what is
 * clamped). */
#include "agentproto.h"

#include <errno.h>
#include <string.h>

/* A bool read as a byte: a bool holding another value is undefined
 * behaviour to read as a bool (UBSan stops there). Nonzero is true, as C
 * converts it. */
static void san_bool(bool *b, unsigned *fix)
{
	unsigned char c;

	memcpy(&c, b, 1);
	if (c > 1) {
		c = 1;
		memcpy(b, &c, 1);
		(*fix)++;
	}
}

/* Continuation bytes a UTF-8 lead byte announces; -1 when it is none. */
static int san_utf8_follow(unsigned char c)
{
	if (c < 0x80)
		return 0;
	if ((c & 0xe0) == 0xc0)
		return 1;
	if ((c & 0xf0) == 0xe0)
		return 2;
	if ((c & 0xf8) == 0xf0)
		return 3;
	return -1;
}

/* The buffer's last byte is its terminator when no byte before is; a byte
 * that does not start a whole UTF-8 sequence becomes '?'. The parser takes
 * only UTF-8 (JSON_TOKENER_VALIDATE_UTF8, the same structural rule): a
 * record holding anything else would not read back at the next start. */
static void san_str(char *s, size_t size, unsigned *fix)
{
	unsigned char *p = (unsigned char *)s;

	if (memchr(s, '\0', size) == NULL) {
		s[size - 1] = '\0';
		(*fix)++;
	}
	for (size_t i = 0; p[i] != '\0';) {
		int k = san_utf8_follow(p[i]), j = 1;
		while (k > 0 && j <= k && (p[i + j] & 0xc0) == 0x80)
			j++;
		if (k < 0 || j <= k) {
			p[i++] = '?';
			(*fix)++;
			continue;
		}
		i += (size_t)k + 1;
	}
}
#define SAN_STR(s, fix) san_str(s, sizeof(s), fix)

/* A count beyond its array: the array, and the fact marked truncated, as
 * the parser marks one with more elements than the dock keeps. */
static void san_count(uint8_t *n, size_t cap, bool *truncated, unsigned *fix)
{
	if (*n > cap) {
		*n = (uint8_t)cap;
		if (truncated != NULL)
			*truncated = true;
		(*fix)++;
	}
}

static void san_i64(int64_t *v, int64_t lo, int64_t hi, unsigned *fix)
{
	if (*v < lo || *v > hi) {
		*v = *v < lo ? lo : hi;
		(*fix)++;
	}
}

static void san_u64(uint64_t *v, uint64_t lo, uint64_t hi, unsigned *fix)
{
	if (*v < lo || *v > hi) {
		*v = *v < lo ? lo : hi;
		(*fix)++;
	}
}

static void san_listen(struct agent_fact *f, unsigned *fix)
{
	san_count(&f->af.listen.l_n, AF_MAX_SOCKETS, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_SOCKETS; i++) {
		struct af_socket *s = &f->af.listen.l_sockets[i];
		SAN_STR(s->s_proto, fix);
		SAN_STR(s->s_addr, fix);
		if (s->s_port > 65535) {
			s->s_port = 65535;
			(*fix)++;
		}
		san_i64(&s->s_uid, -1, UINT32_MAX, fix);
		/* protocol 3: the process holding it; 0 and "" unknown */
		san_i64(&s->s_pid, 0, INT32_MAX, fix);
		SAN_STR(s->s_comm, fix);
	}
}

static void san_aslr(struct agent_fact *f, unsigned *fix)
{
	san_i64(&f->af.aslr.a_randomize_va_space, -1, 16, fix);
	san_bool(&f->af.aslr.a_nx, fix);
}

static void san_net(struct agent_fact *f, unsigned *fix)
{
	san_count(&f->af.net.n_n, AF_MAX_IFACES, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_IFACES; i++) {
		struct af_iface *n = &f->af.net.n_ifaces[i];
		SAN_STR(n->i_name, fix);
		SAN_STR(n->i_mac, fix);
		san_count(&n->i_n_addrs, AF_MAX_ADDRS, &f->af_truncated, fix);
		for (size_t k = 0; k < AF_MAX_ADDRS; k++)
			SAN_STR(n->i_addrs[k], fix);
		san_bool(&n->i_up, fix);
	}
}

static void san_swap(struct agent_fact *f, unsigned *fix)
{
	san_count(&f->af.swap.w_n, AF_MAX_SWAPS, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_SWAPS; i++) {
		struct af_swap *w = &f->af.swap.w_devices[i];
		SAN_STR(w->w_path, fix);
		SAN_STR(w->w_disk, fix);
		san_bool(&w->w_dm_crypt, fix);
	}
}

static void san_mounts(struct agent_fact *f, unsigned *fix)
{
	san_count(&f->af.mounts.m_n, AF_MAX_MOUNTS, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_MOUNTS; i++) {
		struct af_mount *m = &f->af.mounts.m_mounts[i];
		SAN_STR(m->m_target, fix);
		SAN_STR(m->m_source, fix);
		SAN_STR(m->m_fstype, fix);
		SAN_STR(m->m_disk, fix);
		san_bool(&m->m_ro, fix);
	}
}

static void san_audit(struct agent_fact *f, unsigned *fix)
{
	san_i64(&f->af.audit.a_enabled, 0, 2, fix);
	san_i64(&f->af.audit.a_pid, 0, INT32_MAX, fix);
	san_i64(&f->af.audit.a_backlog, 0, INT64_MAX, fix);
	san_i64(&f->af.audit.a_lost, 0, INT64_MAX, fix);
}

static void san_nft(struct agent_fact *f, unsigned *fix)
{
	san_i64(&f->af.nft.f_tables, 0, INT32_MAX, fix);
	san_count(&f->af.nft.f_n, AF_MAX_CHAINS, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_CHAINS; i++) {
		struct af_chain *c = &f->af.nft.f_chains[i];
		SAN_STR(c->c_table, fix);
		SAN_STR(c->c_chain, fix);
		SAN_STR(c->c_policy, fix);
		SAN_STR(c->c_hook, fix);
	}
}

static void san_service(struct agent_fact *f, unsigned *fix)
{
	typeof(f->af.service) *s = &f->af.service;

	san_bool(&s->s_found, fix);
	SAN_STR(s->s_name, fix);
	/* 0: "not found" (the parser leaves it so); found, pid >= 1. */
	san_i64(&s->s_pid, 0, INT32_MAX, fix);
	san_i64(&s->s_uid, 0, UINT32_MAX, fix);
	san_i64(&s->s_gid, 0, UINT32_MAX, fix);
	san_i64(&s->s_count, 0, INT32_MAX, fix);
	san_i64(&s->s_no_new_privs, 0, 1, fix);
	san_i64(&s->s_seccomp, 0, 2, fix);
	SAN_STR(s->s_cap_eff, fix);
	SAN_STR(s->s_cap_bnd, fix);
	/* protocol 3: every matching process, s_n_procs of them listed */
	san_count(&s->s_n_procs, AF_MAX_PROCS, &f->af_truncated, fix);
	for (size_t i = 0; i < AF_MAX_PROCS; i++) {
		struct af_proc *p = &s->s_procs[i];
		san_i64(&p->p_pid, 0, INT32_MAX, fix);
		san_i64(&p->p_uid, 0, UINT32_MAX, fix);
		san_i64(&p->p_gid, 0, UINT32_MAX, fix);
		san_i64(&p->p_no_new_privs, 0, 1, fix);
		san_i64(&p->p_seccomp, 0, 2, fix);
		SAN_STR(p->p_cap_eff, fix);
		SAN_STR(p->p_cap_bnd, fix);
	}
}

static void san_sysctl(struct agent_fact *f, unsigned *fix)
{
	san_i64(&f->af.sysctl.s_modules_disabled, -1, 1, fix);
	san_i64(&f->af.sysctl.s_kptr_restrict, -1, 2, fix);
	san_i64(&f->af.sysctl.s_dmesg_restrict, -1, 1, fix);
	san_i64(&f->af.sysctl.s_ptrace_scope, -1, 3, fix);
}

static void san_sshd(struct agent_fact *f, unsigned *fix)
{
	san_bool(&f->af.sshd.h_present, fix);
	SAN_STR(f->af.sshd.h_password_authentication, fix);
	SAN_STR(f->af.sshd.h_permit_root_login, fix);
}

/* One row per fact, as agentproto.c's table: only the union member of the
 * message's fact is read (the others overlay the same bytes). */
static void (*const san_fact[AF_COUNT])(struct agent_fact *, unsigned *) = {
	[AF_LISTEN] = san_listen, [AF_ASLR] = san_aslr,       [AF_NET] = san_net,
	[AF_SWAP] = san_swap,     [AF_MOUNTS] = san_mounts,   [AF_AUDIT] = san_audit,
	[AF_NFT] = san_nft,       [AF_SERVICE] = san_service, [AF_SYSCTL] = san_sysctl,
	[AF_SSHD] = san_sshd,
};

/* Protocol 4: an audit record's text is printable ASCII (the parser
 * refuses anything else), its numbers within the parser's bounds. */
static void san_audit_rec(struct agent_audit *a, unsigned *fix)
{
	san_u64(&a->aa_serial, 0, UINT32_MAX, fix);
	san_i64(&a->aa_sec, 0, AGENT_AUDIT_SEC_MAX, fix);
	if (a->aa_ms > 999) {
		a->aa_ms = 999;
		(*fix)++;
	}
	if (a->aa_rtype > AGENT_AUDIT_RTYPE_MAX) {
		a->aa_rtype = AGENT_AUDIT_RTYPE_MAX;
		(*fix)++;
	}
	san_bool(&a->aa_truncated, fix);
	SAN_STR(a->aa_msg, fix);
	for (char *p = a->aa_msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			*p = '?';
			(*fix)++;
		}
}

static void san_audit_status(struct agent_audit_status *s, unsigned *fix)
{
	san_i64(&s->as_dropped, 0, INT64_MAX, fix);
	san_i64(&s->as_kernel_lost, 0, INT64_MAX, fix);
	san_i64(&s->as_buffered, 0, INT64_MAX, fix);
	san_i64(&s->as_enabled, 0, 2, fix);
	san_i64(&s->as_rules, -1, INT32_MAX, fix);
	san_i64(&s->as_overrun, 0, INT64_MAX, fix);
}

int agentproto_sanitise(struct agent_msg *m)
{
	struct agent_hello *h = &m->am_hello;
	unsigned fix = 0, type, id = 0;

	/* Read as integers: an enum holding another value is refused before
	 * anything indexes a table with it. */
	memcpy(&type, &m->am_type, sizeof(type));
	if (type > AGENT_MSG_OTHER)
		return -EBADMSG;
	if (type == AGENT_MSG_FACT) {
		memcpy(&id, &m->am_fact.af_id, sizeof(id));
		if (id >= AF_COUNT)
			return -EBADMSG;
	}
	/* The hello travels in every message; a hello's fields are read
	 * only of a hello, but cost nothing to bound in all. */
	san_u64(&h->ah_protocol, type == AGENT_MSG_HELLO ? 1 : 0, UINT32_MAX, &fix);
	SAN_STR(h->ah_agent, &fix);
	SAN_STR(h->ah_boot_id, &fix);
	SAN_STR(h->ah_kernel, &fix);
	SAN_STR(h->ah_hostname, &fix);
	/* The dock's own field (when it received the hello): not the reader's. */
	san_i64(&h->ah_received, 0, 0, &fix);
	san_u64(&m->am_seq, 0, INT64_MAX, &fix);
	san_u64(&m->am_uptime, 0, INT64_MAX, &fix);
	san_u64(&m->am_count, 0, 1024, &fix);
	if ((m->am_facts & ~AF_ALL_FACTS) != 0) { /* hello (protocol 3): facts announced */
		m->am_facts &= AF_ALL_FACTS;
		fix++;
	}
	san_bool(&m->am_audit_on, &fix);
	if (type == AGENT_MSG_AUDIT)
		san_audit_rec(&m->am_audit, &fix);
	if (type == AGENT_MSG_AUDIT_STATUS)
		san_audit_status(&m->am_audit_status, &fix);
	if (type == AGENT_MSG_FACT) {
		SAN_STR(m->am_fact.af_error, &fix);
		san_bool(&m->am_fact.af_truncated, &fix);
		san_fact[id](&m->am_fact, &fix);
	}
	return (int)fix;
}
