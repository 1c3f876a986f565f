/* checks: judging. Each check is a row of a table: id, title, source and a
 * function; the agent-side functions see only the facts and the profile. */
#include "checks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"

/* ---- evaluation ---- */

struct checks_ctx {
	const struct checks_node *cc_node;
	const struct dock_facts *cc_df;
	const struct agent_view *cc_av;
	const struct profile *cc_pol;
};

typedef enum check_status (*check_fn)(const struct checks_ctx *, char *ev);

__attribute__((format(printf, 3, 4))) static enum check_status
ev_set(enum check_status st, char *ev, const char *fmt, ...);
#define EV(st, ...) ev_set(st, ev, __VA_ARGS__)

static const size_t ev_len = CHECK_EVIDENCE_MAX;

static enum check_status ev_set(enum check_status st, char *ev, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ev, ev_len, fmt, ap);
	va_end(ap);
	/* Cut short: on a character, never inside one (strict JSON clients
	 * refuse a torn UTF-8 sequence). */
	if (n > 0 && (size_t)n >= ev_len)
		ev[escape_cut(ev, ev_len - 1, ev_len - 2)] = '\0';
	return st;
}

/* Append to the evidence, keeping it NUL-terminated and bounded. */
__attribute__((format(printf, 2, 3))) static void ev_add(char *ev, const char *fmt, ...)
{
	size_t l = strlen(ev);
	va_list ap;
	int n;

	if (l + 1 >= ev_len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(ev + l, ev_len - l, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n >= ev_len - l)
		ev[escape_cut(ev, ev_len - 1, ev_len - 2)] = '\0';
}

static enum check_status c_base_ro(const struct checks_ctx *c, char *ev)
{
	if (c->cc_df->df_base_readonly < 0)
		return EV(CHECK_SKIP, "node not running: no live domain to inspect");
	return c->cc_df->df_base_readonly ? EV(CHECK_PASS, "libvirt: base disk has <readonly/>")
					  : EV(CHECK_FAIL, "libvirt: base disk is writable");
}

static enum check_status c_base_digest(const struct checks_ctx *c, char *ev)
{
	return EV(c->cc_df->df_digest_ok == 1 ? CHECK_PASS : CHECK_FAIL, "%s",
		  c->cc_df->df_digest_note);
}

static enum check_status c_eph_luks(const struct checks_ctx *c, char *ev)
{
	const struct dock_facts *df = c->cc_df;

	if (df->df_eph_header != 1)
		return EV(CHECK_FAIL, "the volume file has no LUKS header");
	if (df->df_eph_luks < 0)
		return EV(CHECK_SKIP, "LUKS header present; node not running");
	return df->df_eph_luks
		? EV(CHECK_PASS,
		     "LUKS header; libvirt: <encryption format='luks'> with the node's secret")
		: EV(CHECK_FAIL, "libvirt: disk not attached through LUKS with the node's secret");
}

static enum check_status c_eph_key(const struct checks_ctx *c, char *ev)
{
	const struct dock_facts *df = c->cc_df;

	if (df->df_secret_ephemeral < 0)
		return EV(CHECK_FAIL, "libvirt has no secret for the disk (key lost)");
	if (df->df_secret_ephemeral == 1 && df->df_secret_private == 1)
		return EV(CHECK_PASS, "libvirt secret: ephemeral='yes' private='yes'");
	return EV(CHECK_FAIL, "libvirt secret: ephemeral=%s private=%s",
		  df->df_secret_ephemeral ? "yes" : "no", df->df_secret_private ? "yes" : "no");
}

static enum check_status c_network(const struct checks_ctx *c, char *ev)
{
	const struct dock_facts *df = c->cc_df;

	if (df->df_net_open != 1)
		return EV(CHECK_FAIL,
			  "network: forward mode is not open (libvirt may add its own rules)");
	if (df->df_net_own < 0)
		return EV(CHECK_SKIP, "node not running");
	if (df->df_net_own != 1)
		return EV(CHECK_FAIL, "an interface is attached to another network");
	if (df->df_net_connections > 1)
		return EV(CHECK_FAIL, "%" PRId64 " interfaces share the node's network",
			  df->df_net_connections);
	return EV(CHECK_PASS, "own network, forward mode open, %" PRId64 " connection",
		  df->df_net_connections);
}

static enum check_status c_firewall(const struct checks_ctx *c, char *ev)
{
	return EV(c->cc_df->df_fw_in_force == 1 ? CHECK_PASS : CHECK_FAIL, "%s",
		  c->cc_df->df_fw_note);
}

static enum check_status c_published(const struct checks_ctx *c, char *ev)
{
	if (c->cc_df->df_fw_in_force != 1)
		return EV(CHECK_FAIL, "the node's firewall policy is not in force");
	/* WARN, not FAIL: a dock's new limits must not fire on_fail by themselves. */
	if (c->cc_df->df_fw_published_ok == 1 && c->cc_df->df_ports_withheld[0] != '\0')
		return EV(CHECK_WARN, "%s", c->cc_df->df_ports_withheld);
	return c->cc_df->df_fw_published_ok == 1
		? EV(CHECK_PASS, "published ports in the kernel equal the declared ones")
		: EV(CHECK_FAIL, "published ports in the kernel differ from the declared ones");
}

/* vCPUs and the memory hard limit from libvirt; every other limit of the
 * record against the live XML and the cgroup (resctl_judge). A cgroup that
 * cannot be read is WARN unless the record's CPU limits need it. */
static enum check_status c_resources(const struct checks_ctx *c, char *ev)
{
	const struct dock_facts *df = c->cc_df;
	char rc[CHECK_EVIDENCE_MAX];
	int j;

	if (!df->df_running)
		return EV(CHECK_SKIP, "node not running");
	if (df->df_vcpus != df->df_want_vcpus)
		return EV(CHECK_FAIL, "%" PRIu64 " vCPUs, declared %" PRIu64, df->df_vcpus,
			  df->df_want_vcpus);
	if (df->df_hard_limit_kib == 0 || df->df_hard_limit_kib > df->df_want_hard_limit_kib)
		return EV(CHECK_FAIL, "memory hard limit %" PRIu64 " KiB, want %" PRIu64 " KiB",
			  df->df_hard_limit_kib, df->df_want_hard_limit_kib);
	j = resctl_judge(&df->df_want_limits, df->df_want_hard_limit_kib * 1024, &df->df_limits, rc,
			 sizeof(rc));
	if (j == 1)
		return EV(CHECK_FAIL, "%s", rc);
	return EV(j == 0 ? CHECK_PASS : CHECK_WARN,
		  "%" PRIu64 " vCPU(s); memory hard limit %" PRIu64 " MiB%s%s", df->df_vcpus,
		  df->df_hard_limit_kib / 1024, rc[0] ? "; " : "", rc);
}

static enum check_status c_vmm(const struct checks_ctx *c, char *ev)
{
	if (!c->cc_df->df_running)
		return EV(CHECK_SKIP, "node not running");
	if (c->cc_df->df_vmm_note[0] == '\0')
		return EV(CHECK_FAIL, "the VMM process was not judged");
	return EV(c->cc_df->df_vmm, "%s", c->cc_df->df_vmm_note);
}

static enum check_status c_agent_alive(const struct checks_ctx *c, char *ev)
{
	const struct agent_view *av = c->cc_av;
	int64_t age = c->cc_node->cn_now - av->av_last_heartbeat;

	if (!c->cc_df->df_running)
		return EV(CHECK_SKIP, "node not running");
	if (av->av_last_heartbeat == 0)
		return EV(CHECK_FAIL, "silent: nothing from the agent yet%s",
			  av->av_connected ? "" : " (channel not connected)");
	if (age > c->cc_node->cn_deadline_s)
		return EV(CHECK_FAIL, "silent: last heard %" PRId64 "s ago (deadline %" PRId64 "s)",
			  age, c->cc_node->cn_deadline_s);
	return EV(CHECK_PASS, "last heard %" PRId64 "s ago", age);
}

static enum check_status c_agent_input(const struct checks_ctx *c, char *ev)
{
	const struct agent_view *av = c->cc_av;

	if (av->av_bad == 0 && av->av_overlong == 0 && av->av_dropped == 0)
		return EV(CHECK_PASS, "no malformed, over-long or excess lines");
	return EV(CHECK_FAIL,
		  "hostile input: %" PRIu64 " malformed, %" PRIu64 " over-long, %" PRIu64
		  " over the rate limit",
		  av->av_bad, av->av_overlong, av->av_dropped);
}

/* ---- agent-side ---- */

#define FACT(c, id) (&(c)->cc_av->av_facts[id])

/*
 * Agents of protocol 3 and later are judged by the rules a guest cannot
 * dodge: a fact missing or in error twice running FAILs, every process of
 * the service is judged, UDP/68 is exempt only for the DHCP client's
 * process. Where an older agent cannot say enough for them, the row is
 * SKIP with REBUILD, never FAIL: a dock upgrade alone must not fire on_fail.
 */
#define P3(c)   ((c)->cc_av->av_protocol >= AGENT_PROTOCOL_UNDODGEABLE)
#define REBUILD "agent protocol %" PRIu64 ": rebuild the image"

/* The DHCP clients whose UDP/68 socket is infrastructure, by comm (15 bytes
 * at most: systemd-networkd is "systemd-network"). */
static const char *const dhcp_clients[] = { "udhcpc", "dhclient", "dhcpcd", "systemd-network" };

static bool is_dhcp_client(const char *comm)
{
	for (size_t i = 0; i < sizeof(dhcp_clients) / sizeof(dhcp_clients[0]); i++)
		if (strcmp(comm, dhcp_clients[i]) == 0)
			return true;
	return false;
}

static enum check_status c_ports(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_LISTEN);
	int extra = 0, udp68_unknown = 0;

	ev[0] = '\0';
	for (unsigned i = 0; i < f->af.listen.l_n; i++) {
		const struct af_socket *s = &f->af.listen.l_sockets[i];
		bool loopback = strncmp(s->s_addr, "127.", 4) == 0 || strcmp(s->s_addr, "::1") == 0;
		bool udp68 = strncmp(s->s_proto, "udp", 3) == 0 && s->s_port == 68;
		/* The guest's own DHCP client is infrastructure, not a service: from
		 * protocol 3 only when the agent says its process is one. */
		bool dhcp = udp68 && (!P3(c) || is_dhcp_client(s->s_comm));
		bool declared =
			c->cc_pol && profile_port_declared(c->cc_pol, s->s_proto, s->s_port);

		ev_add(ev, "%s%s %s:%u%s", i ? ", " : "", s->s_proto, s->s_addr, s->s_port,
		       declared           ? ""
			       : loopback ? " (loopback)"
			       : dhcp     ? " (DHCP client)"
					  : " (NOT DECLARED)");
		if (P3(c) && !declared && !loopback && !dhcp)
			ev_add(ev, " by %s pid %" PRId64, s->s_comm[0] ? s->s_comm : "?", s->s_pid);
		extra += !declared && !loopback && !dhcp;
		udp68_unknown += !declared && !loopback && dhcp && !P3(c);
	}
	if (f->af.listen.l_n == 0)
		ev_add(ev, "no listening sockets");
	if (f->af_truncated)
		ev_add(ev, " ... (truncated)");
	if (c->cc_pol == NULL)
		return CHECK_WARN;
	if (extra > 0 || f->af_truncated)
		return CHECK_FAIL;
	if (udp68_unknown > 0)
		return EV(CHECK_SKIP, REBUILD " (it does not say whose the UDP/68 socket is: %s)",
			  c->cc_av->av_protocol, "only a DHCP client's is exempt");
	return CHECK_PASS;
}

static enum check_status c_nx_aslr(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_ASLR);

	return EV(f->af.aslr.a_nx && f->af.aslr.a_randomize_va_space == 2 ? CHECK_PASS : CHECK_FAIL,
		  "nx %s, kernel.randomize_va_space=%" PRId64, f->af.aslr.a_nx ? "on" : "off",
		  f->af.aslr.a_randomize_va_space);
}

static enum check_status c_guest_net(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_NET);
	char want[24];
	unsigned others = 0;
	bool ok = false;
	const struct af_iface *mine = NULL;

	snprintf(want, sizeof(want), "%s/", c->cc_node->cn_ip);
	for (unsigned i = 0; i < f->af.net.n_n; i++) {
		const struct af_iface *n = &f->af.net.n_ifaces[i];
		bool is_mine = strcasecmp(n->i_mac, c->cc_node->cn_mac) == 0;
		if (is_mine)
			mine = n;
		for (unsigned k = 0; k < n->i_n_addrs; k++) {
			/* IPv6 link-local addresses come with every interface. */
			if (strncasecmp(n->i_addrs[k], "fe80:", 5) == 0)
				continue;
			if (is_mine && n->i_up && strncmp(n->i_addrs[k], want, strlen(want)) == 0)
				ok = true;
			else
				others++;
		}
	}
	if (mine == NULL)
		return EV(CHECK_FAIL, "no interface with the assigned MAC %s", c->cc_node->cn_mac);
	if (!ok)
		return EV(CHECK_FAIL, "%s %s lacks the assigned %s%s", mine->i_name, mine->i_mac,
			  c->cc_node->cn_ip, mine->i_up ? "" : " (link down)");
	if (others > 0 || f->af.net.n_n > 1)
		return EV(CHECK_WARN, "%s %s has %s/29, plus %u other address(es) or interface(s)",
			  mine->i_name, mine->i_mac, c->cc_node->cn_ip, others + f->af.net.n_n - 1);
	return EV(CHECK_PASS, "%s %s has %s/29 and no other address", mine->i_name, mine->i_mac,
		  c->cc_node->cn_ip);
}

static enum check_status c_swap(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_SWAP);
	bool plain = false;

	ev[0] = '\0';
	if (f->af.swap.w_n == 0)
		return EV(CHECK_PASS, "no swap");
	for (unsigned i = 0; i < f->af.swap.w_n; i++) {
		ev_add(ev, "%s%s (%s)", i ? ", " : "", f->af.swap.w_devices[i].w_path,
		       f->af.swap.w_devices[i].w_dm_crypt ? "dm-crypt" : "NOT ENCRYPTED");
		plain |= !f->af.swap.w_devices[i].w_dm_crypt;
	}
	return plain ? CHECK_FAIL : CHECK_PASS;
}

/* The mount that holds path: the longest matching target. */
static const struct af_mount *mount_of(const struct agent_fact *f, const char *path)
{
	const struct af_mount *best = NULL;
	size_t best_len = 0;

	for (unsigned i = 0; i < f->af.mounts.m_n; i++) {
		const struct af_mount *m = &f->af.mounts.m_mounts[i];
		size_t l = strlen(m->m_target);
		bool under = strcmp(m->m_target, "/") == 0 ||
			(strncmp(path, m->m_target, l) == 0 && (path[l] == '\0' || path[l] == '/'));
		if (under && l >= best_len) {
			best = m;
			best_len = l;
		}
	}
	return best;
}

static enum check_status c_scratch(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_MOUNTS);
	static const char *const dirs[] = { "/scratch", "/var" };
	enum check_status st = CHECK_PASS;

	ev[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		const struct af_mount *m = mount_of(f, dirs[i]);
		/*
		 * The ephemeral disk is the node's second virtio disk: mounted
		 * whole, or through a partition or dm-crypt layer the agent
		 * followed down to it ("disk").
		 */
		bool on_eph = m != NULL &&
			(strcmp(m->m_source, "/dev/vdb") == 0 || strcmp(m->m_disk, "vdb") == 0);
		bool ok = on_eph && !m->m_ro;
		ev_add(ev, "%s%s on %s", i ? ", " : "", dirs[i], m ? m->m_source : "?");
		if (m && m->m_disk[0] && strcmp(m->m_source, "/dev/vdb") != 0)
			ev_add(ev, " (disk %s)", m->m_disk);
		if (!ok)
			st = CHECK_FAIL;
	}
	/*
	 * The logs and /home on filesystems of their own (a golden image's
	 * layout since #22; a node keeps its older layout until a cleanse):
	 * said in the evidence, judged by no status, so an older layout never
	 * fails the row. What an offline SCAP scan cannot see (partition_for_*).
	 */
	static const char *const own[] = { "/var/log", "/var/log/audit", "/home" };
	for (size_t i = 0; f && i < sizeof(own) / sizeof(own[0]); i++) {
		const struct af_mount *m = mount_of(f, own[i]);

		if (m && strcmp(m->m_target, own[i]) == 0)
			ev_add(ev, ", %s on %s%s", own[i], m->m_source, m->m_ro ? " (ro)" : "");
	}
	return st;
}

/* What reached the dock (gaudit.h), not what the guest says of itself:
 * PASS when records of this boot came, no gap and nothing lost; counted
 * losses WARN (explained); a gap nothing explains, a stopped stream or
 * audit disabled FAIL; an agent that does not forward SKIP. */
static enum check_status c_audit(const struct checks_ctx *c, char *ev)
{
	const struct audit_view *a = &c->cc_av->av_audit;
	const struct agent_audit_status *s = &a->au_status;
	int64_t now = c->cc_node->cn_now, dl = c->cc_node->cn_deadline_s;
	uint64_t unexplained = a->au_missing - a->au_explained;
	bool lost = s->as_dropped + s->as_kernel_lost + s->as_overrun > 0 || a->au_dock_dropped > 0;

	if (!a->au_forwarding)
		return EV(CHECK_SKIP, REBUILD ": its agent does not forward audit records",
			  a->au_protocol ? a->au_protocol : c->cc_av->av_protocol);
	if (a->au_have_status && s->as_enabled == 0)
		return EV(CHECK_FAIL, "kernel audit disabled in the guest");
	if (a->au_have_status && now - a->au_status_at > dl &&
	    now - c->cc_av->av_last_heartbeat <= dl)
		return EV(CHECK_FAIL,
			  "audit stream stopped: no audit status for %" PRId64
			  "s while the agent heartbeats",
			  now - a->au_status_at);
	if (unexplained > 0 && !lost)
		return EV(CHECK_FAIL, "%" PRIu64 " serial(s) never arrived, no loss counted",
			  unexplained);
	if (lost)
		return EV(CHECK_WARN,
			  "records lost: agent dropped %" PRId64 ", kernel lost %" PRId64
			  ", overrun %" PRId64 ", dock dropped %" PRIu64 "; %" PRIu64
			  " serial(s) missing, %" PRIu64 " records this boot",
			  s->as_dropped, s->as_kernel_lost, s->as_overrun, a->au_dock_dropped,
			  a->au_missing, a->au_records);
	if (a->au_records == 0)
		return EV(CHECK_WARN, "no audit record of this boot has reached the dock yet%s",
			  a->au_have_status ? "" : " (no audit status either)");
	return EV(CHECK_PASS,
		  "%" PRIu64 " records this boot up to serial %" PRIu64
		  ", no gap%s, nothing lost; %" PRId64 " rule(s)",
		  a->au_records, a->au_last_serial,
		  a->au_explained > 0 ? " (but while the dock was away)" : "", s->as_rules);
}

static enum check_status c_pfilter(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_NFT);

	for (unsigned i = 0; i < f->af.nft.f_n; i++)
		if (strcmp(f->af.nft.f_chains[i].c_policy, "drop") == 0)
			return EV(CHECK_PASS, "%s %s: hook input, policy drop",
				  f->af.nft.f_chains[i].c_table, f->af.nft.f_chains[i].c_chain);
	return EV(CHECK_FAIL, "%" PRId64 " nft table(s), %u input chain(s), none with policy drop",
		  f->af.nft.f_tables, f->af.nft.f_n);
}

static bool svc_ids_ok(const struct profile *p, int64_t uid, int64_t gid)
{
	return uid != 0 && gid != 0 && (p->pr_uid < 0 || uid == p->pr_uid) &&
		(p->pr_gid < 0 || gid == p->pr_gid);
}

static bool svc_caps0(const char *cap_eff)
{
	return cap_eff[0] != '\0' && strspn(cap_eff, "0") == strlen(cap_eff);
}

#define SVC(c) (&FACT(c, AF_SERVICE)->af.service)

/* Protocol 3: FAIL, with why, unless the agent listed every process named
 * like the service (its total count). */
static enum check_status svc_procs_listed(const struct checks_ctx *c, char *ev)
{
	const typeof(FACT(c, AF_SERVICE)->af.service) *s = SVC(c);

	if (s->s_n_procs == 0)
		return EV(CHECK_FAIL,
			  "service %s: the agent lists none of its %" PRId64 " process(es)",
			  s->s_name, s->s_count);
	if (s->s_count > s->s_n_procs)
		return EV(CHECK_FAIL,
			  "%" PRId64 " processes named %s, only %u listed: the others go unjudged",
			  s->s_count, s->s_name, s->s_n_procs);
	return CHECK_PASS;
}

static enum check_status c_svc_identity(const struct checks_ctx *c, char *ev)
{
	const typeof(FACT(c, AF_SERVICE)->af.service) *s = SVC(c);
	const struct profile *p = c->cc_pol;
	int64_t n = s->s_count > s->s_n_procs ? s->s_count : s->s_n_procs;

	if (p == NULL || p->pr_service[0] == '\0')
		return EV(CHECK_WARN, "no service declared in the node's profile");
	if (!s->s_found)
		return EV(CHECK_FAIL, "service %s is not running", p->pr_service);
	if (!P3(c)) {
		if (!svc_ids_ok(p, s->s_uid, s->s_gid))
			return EV(CHECK_FAIL,
				  "%s pid %" PRId64 " runs as uid %" PRId64 " gid %" PRId64
				  ", declared %" PRId64 "/%" PRId64,
				  s->s_name, s->s_pid, s->s_uid, s->s_gid, p->pr_uid, p->pr_gid);
		if (s->s_count > 1)
			return EV(CHECK_SKIP,
				  REBUILD " (%" PRId64
					  " processes named %s, it shows only pid %" PRId64 ")",
				  c->cc_av->av_protocol, s->s_count, s->s_name, s->s_pid);
		return EV(CHECK_PASS, "%s pid %" PRId64 " runs as uid %" PRId64 " gid %" PRId64,
			  s->s_name, s->s_pid, s->s_uid, s->s_gid);
	}
	for (unsigned i = 0; i < s->s_n_procs; i++) {
		const struct af_proc *q = &s->s_procs[i];
		if (!svc_ids_ok(p, q->p_uid, q->p_gid))
			return EV(CHECK_FAIL,
				  "%" PRId64 " process(es) named %s: pid %" PRId64
				  " runs as uid %" PRId64 " gid %" PRId64 ", declared %" PRId64
				  "/%" PRId64,
				  n, s->s_name, q->p_pid, q->p_uid, q->p_gid, p->pr_uid, p->pr_gid);
	}
	if (svc_procs_listed(c, ev) != CHECK_PASS)
		return CHECK_FAIL;
	return EV(CHECK_PASS,
		  "%" PRId64 " process(es) named %s, all uid %" PRId64 " gid %" PRId64
		  " (pid %" PRId64 "%s)",
		  n, s->s_name, s->s_procs[0].p_uid, s->s_procs[0].p_gid, s->s_procs[0].p_pid,
		  n > 1 ? ", ..." : "");
}

static enum check_status c_svc_privs(const struct checks_ctx *c, char *ev)
{
	const typeof(FACT(c, AF_SERVICE)->af.service) *s = SVC(c);
	int64_t n = s->s_count > s->s_n_procs ? s->s_count : s->s_n_procs;
	const struct af_proc *weak = NULL;

	if (c->cc_pol == NULL || c->cc_pol->pr_service[0] == '\0')
		return EV(CHECK_WARN, "no service declared in the node's profile");
	if (!s->s_found)
		return EV(CHECK_FAIL, "service %s is not running", c->cc_pol->pr_service);
	if (!P3(c)) {
		ev_set(CHECK_PASS, ev,
		       "CapEff %s, CapBnd %s, NoNewPrivs %" PRId64 ", Seccomp %" PRId64,
		       s->s_cap_eff, s->s_cap_bnd, s->s_no_new_privs, s->s_seccomp);
		if (!svc_caps0(s->s_cap_eff) || s->s_no_new_privs != 1)
			return CHECK_FAIL;
		if (s->s_count > 1)
			return EV(CHECK_SKIP,
				  REBUILD " (%" PRId64
					  " processes named %s, it shows only pid %" PRId64 ")",
				  c->cc_av->av_protocol, s->s_count, s->s_name, s->s_pid);
		return s->s_seccomp == 2 ? CHECK_PASS : CHECK_WARN;
	}
	for (unsigned i = 0; i < s->s_n_procs; i++) {
		const struct af_proc *q = &s->s_procs[i];
		if (!svc_caps0(q->p_cap_eff) || q->p_no_new_privs != 1)
			return EV(CHECK_FAIL,
				  "%" PRId64 " process(es) named %s: pid %" PRId64
				  " has CapEff %s, "
				  "CapBnd %s, NoNewPrivs %" PRId64 ", Seccomp %" PRId64,
				  n, s->s_name, q->p_pid, q->p_cap_eff, q->p_cap_bnd,
				  q->p_no_new_privs, q->p_seccomp);
		if (weak == NULL && q->p_seccomp != 2)
			weak = q;
	}
	if (svc_procs_listed(c, ev) != CHECK_PASS)
		return CHECK_FAIL;
	if (weak == NULL)
		weak = &s->s_procs[0];
	return EV(weak->p_seccomp == 2 ? CHECK_PASS : CHECK_WARN,
		  "%" PRId64 " process(es) named %s; pid %" PRId64 ": CapEff %s, CapBnd %s, "
		  "NoNewPrivs %" PRId64 ", Seccomp %" PRId64,
		  n, s->s_name, weak->p_pid, weak->p_cap_eff, weak->p_cap_bnd, weak->p_no_new_privs,
		  weak->p_seccomp);
}

static enum check_status c_readonly(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_MOUNTS);
	const struct profile *p = c->cc_pol;
	const struct af_mount *root = mount_of(f, "/");
	enum check_status st = CHECK_PASS;

	ev[0] = '\0';
	if (root == NULL || !root->m_ro) {
		ev_add(ev, "/ is WRITABLE; ");
		st = CHECK_FAIL;
	} else {
		ev_add(ev, "/ ro; ");
	}
	for (size_t i = 0; p && i < p->pr_n_readonly; i++) {
		const struct af_mount *m = mount_of(f, p->pr_readonly[i]);
		if (m == NULL || !m->m_ro) {
			ev_add(ev, "%s WRITABLE; ", p->pr_readonly[i]);
			st = CHECK_FAIL;
		}
	}
	for (size_t i = 0; p && i < p->pr_n_writable; i++) {
		const struct af_mount *m = mount_of(f, p->pr_writable[i]);
		if (m == NULL || m->m_ro) {
			ev_add(ev, "%s not writable; ", p->pr_writable[i]);
			st = CHECK_FAIL;
		}
	}
	/* Writable block-device mounts outside the declared paths. */
	for (unsigned i = 0; i < f->af.mounts.m_n; i++) {
		const struct af_mount *m = &f->af.mounts.m_mounts[i];
		bool declared = false;
		if (m->m_ro || strncmp(m->m_source, "/dev/", 5) != 0)
			continue;
		for (size_t k = 0; p && k < p->pr_n_writable; k++)
			declared |= mount_of(f, p->pr_writable[k]) == m;
		if (!declared) {
			ev_add(ev, "%s writable, not declared; ", m->m_target);
			st = CHECK_FAIL;
		}
	}
	if (p == NULL) {
		ev_add(ev, "no paths declared");
		return st == CHECK_FAIL ? CHECK_FAIL : CHECK_WARN;
	}
	if (st == CHECK_PASS)
		ev_add(ev, "declared read-only paths ro, writable paths rw");
	return st;
}

static enum check_status c_modules(const struct checks_ctx *c, char *ev)
{
	int64_t v = FACT(c, AF_SYSCTL)->af.sysctl.s_modules_disabled;

	return EV(v == 1 ? CHECK_PASS : CHECK_FAIL, "kernel.modules_disabled=%" PRId64, v);
}

static enum check_status c_kinfo(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_SYSCTL);

	return EV(f->af.sysctl.s_kptr_restrict >= 1 && f->af.sysctl.s_dmesg_restrict == 1
			  ? CHECK_PASS
			  : CHECK_FAIL,
		  "kernel.kptr_restrict=%" PRId64 ", kernel.dmesg_restrict=%" PRId64,
		  f->af.sysctl.s_kptr_restrict, f->af.sysctl.s_dmesg_restrict);
}

static enum check_status c_ptrace(const struct checks_ctx *c, char *ev)
{
	int64_t v = FACT(c, AF_SYSCTL)->af.sysctl.s_ptrace_scope;

	if (v < 0)
		return EV(CHECK_WARN, "Yama is not available in the guest kernel");
	return EV(v >= 1 ? CHECK_PASS : CHECK_FAIL, "kernel.yama.ptrace_scope=%" PRId64, v);
}

static enum check_status c_sshd(const struct checks_ctx *c, char *ev)
{
	const struct agent_fact *f = FACT(c, AF_SSHD);

	if (!f->af.sshd.h_present)
		return EV(CHECK_PASS, "no sshd configured");
	return EV(strcmp(f->af.sshd.h_password_authentication, "no") == 0 ? CHECK_PASS : CHECK_FAIL,
		  "PasswordAuthentication %s, PermitRootLogin %s",
		  f->af.sshd.h_password_authentication, f->af.sshd.h_permit_root_login);
}

static const struct {
	const char *cd_id;
	const char *cd_title;
	bool cd_agent;
	int cd_fact; /* the fact an agent check needs, -1 for dock checks */
	check_fn cd_fn;
} check_table[] = {
	{ "base-readonly", "Base disk attached read-only", false, -1, c_base_ro },
	{ "base-digest", "Base disk matches the image digest", false, -1, c_base_digest },
	{ "ephemeral-luks", "Ephemeral disk is LUKS-encrypted", false, -1, c_eph_luks },
	{ "ephemeral-key", "Ephemeral key is an ephemeral, private secret", false, -1, c_eph_key },
	{ "network-isolated", "Own network, forward mode open", false, -1, c_network },
	{ "firewall", "Default-deny firewall and anti-spoofing in force", false, -1, c_firewall },
	{ "published-ports", "Only the declared ports published", false, -1, c_published },
	{ "resources", "Resource limits applied", false, -1, c_resources },
	{ "vmm", "VMM jailed: own uid, seccomp, no privileges", false, -1, c_vmm },
	{ "agent-alive", "Agent heard from within the deadline", false, -1, c_agent_alive },
	{ "agent-input", "Agent channel input well-formed", false, -1, c_agent_input },
	{ "ports", "Listening ports limited to the service's", true, AF_LISTEN, c_ports },
	{ "nx-aslr", "Non-executable memory and full ASLR", true, AF_ASLR, c_nx_aslr },
	{ "guest-network", "Guest network matches the assignment", true, AF_NET, c_guest_net },
	{ "swap", "Swap encrypted or absent", true, AF_SWAP, c_swap },
	{ "scratch", "/scratch and /var on the ephemeral disk", true, AF_MOUNTS, c_scratch },
	/* Judged by the dock from the stream it received (cd_fact -1: no fact
	 * gate, no staleness of reports, no profile skip). */
	{ "audit", "Guest audit records reaching the dock, no gap", true, -1, c_audit },
	{ "packet-filter", "Packet filter with default-drop input", true, AF_NFT, c_pfilter },
	{ "service-identity", "Service under its own uid/gid", true, AF_SERVICE, c_svc_identity },
	{ "service-privileges", "Service: no capabilities, NoNewPrivs, seccomp", true, AF_SERVICE,
	  c_svc_privs },
	{ "readonly-paths", "Read-only root; only declared paths writable", true, AF_MOUNTS,
	  c_readonly },
	{ "modules", "Kernel module loading disabled", true, AF_SYSCTL, c_modules },
	{ "kernel-info", "Kernel pointers and dmesg restricted", true, AF_SYSCTL, c_kinfo },
	{ "ptrace", "ptrace restricted", true, AF_SYSCTL, c_ptrace },
	{ "sshd", "sshd key-only or absent", true, AF_SSHD, c_sshd },
};

/*
 * An agent row whose fact the report lacks or has in error: true with its
 * verdict in *st. From protocol 3, once is WARN ("missing once"), twice
 * running FAIL with the reason; an older agent's is SKIP, never FAIL.
 */
static bool fact_gate(const struct checks_ctx *c, int fid, char *ev, enum check_status *st)
{
	const struct agent_view *av = c->cc_av;
	const char *name = agentproto_fact_name((enum agent_fact_id)fid);
	unsigned miss = av->av_miss ? av->av_miss[fid] : 1;
	const char *err = av->av_have[fid] ? av->av_facts[fid].af_error : "";
	bool announced = !P3(c) || (av->av_announced & (1u << fid)) != 0;

	if (av->av_have[fid] && err[0] == '\0')
		return false;
	if (!P3(c))
		*st = EV(CHECK_SKIP, REBUILD "; %s \"%s\"%s%s", av->av_protocol,
			 err[0] ? "it could not observe" : "it did not report", name,
			 err[0] ? ": " : "", err);
	else
		*st = EV(miss >= 2 ? CHECK_FAIL : CHECK_WARN, "the agent %s \"%s\"%s%s%s",
			 err[0] ? "could not observe" : "did not report", name,
			 announced ? "" : " (not in its hello)",
			 miss >= 2 ? " in 2 consecutive reports" : " (missing once)",
			 err[0] ? ": " : "");
	if (P3(c) && err[0])
		ev_add(ev, "%s", err);
	return true;
}

/*
 * An agent row the profile declares its image cannot satisfy ("skip"): a
 * FAIL or WARN becomes SKIP with the profile's reason, what was observed
 * kept after it. A PASS stays PASS; a STALE row never gets here (a skip
 * does not stand in for a report). Dock rows are never skipped.
 */
static void checks_skip(const struct profile *pol, struct check_row *r)
{
	const char *why = profile_skip_reason(pol, r->cr_id);
	char seen[CHECK_EVIDENCE_MAX];
	char *ev = r->cr_evidence;

	if (why == NULL || (r->cr_status != CHECK_FAIL && r->cr_status != CHECK_WARN))
		return;
	memcpy(seen, ev, sizeof(seen));
	r->cr_status = EV(CHECK_SKIP, "profile %s: %s (observed %s: %s)", pol->pr_name, why,
			  checks_status_name(r->cr_status), seen);
}

size_t checks_evaluate(const struct checks_node *cn, const struct dock_facts *df,
		       const struct agent_view *av, const struct profile *pol,
		       struct check_row *rows, size_t max)
{
	struct checks_ctx c = { cn, df, av, pol };
	size_t n = 0;
	int64_t age = cn->cn_now - av->av_report_time;

	for (size_t i = 0; i < sizeof(check_table) / sizeof(check_table[0]) && n < max; i++) {
		struct check_row *r = &rows[n++];
		char *ev = r->cr_evidence;

		r->cr_id = check_table[i].cd_id;
		r->cr_title = check_table[i].cd_title;
		r->cr_source = check_table[i].cd_agent ? "agent" : "dock";
		ev[0] = '\0';
		if (check_table[i].cd_agent && check_table[i].cd_fact < 0) {
			r->cr_source = "dock";
			r->cr_status = check_table[i].cd_fn(&c, ev);
			continue;
		}
		if (check_table[i].cd_agent) {
			int fid = check_table[i].cd_fact;
			if (av->av_report_time == 0) {
				r->cr_status = EV(CHECK_STALE, "no report from the agent yet");
				continue;
			}
			if (age > cn->cn_deadline_s) {
				r->cr_status =
					EV(CHECK_STALE,
					   "last report %" PRId64 "s ago (deadline %" PRId64 "s)",
					   age, cn->cn_deadline_s);
				continue;
			}
			if (!fact_gate(&c, fid, ev, &r->cr_status))
				r->cr_status = check_table[i].cd_fn(&c, ev);
			checks_skip(pol, r);
			continue;
		}
		r->cr_status = check_table[i].cd_fn(&c, ev);
	}
	return n;
}

int checks_profile_check(const struct profile *p, struct dock_err *err)
{
	for (size_t k = 0; p != NULL && k < p->pr_n_skips; k++) {
		bool agent_row = false;
		for (size_t i = 0; i < sizeof(check_table) / sizeof(check_table[0]); i++)
			agent_row |= check_table[i].cd_agent &&
				strcmp(check_table[i].cd_id, p->pr_skips[k].ps_id) == 0;
		if (!agent_row)
			return err_set(err, 400, EINVAL,
				       "profile \"%s\": skip: \"%s\" is not an agent-side check "
				       "(only those may be skipped)",
				       p->pr_name, p->pr_skips[k].ps_id);
	}
	return 0;
}

void checks_count_misses(const bool *have, const struct agent_fact *facts, uint8_t *miss)
{
	for (int i = 0; i < AF_COUNT; i++) {
		bool bad = !have[i] || facts[i].af_error[0] != '\0';
		miss[i] = !bad ? 0 : miss[i] < UINT8_MAX ? (uint8_t)(miss[i] + 1) : UINT8_MAX;
	}
}

static const char *const status_names[] = { [CHECK_PASS] = "PASS",
					    [CHECK_FAIL] = "FAIL",
					    [CHECK_WARN] = "WARN",
					    [CHECK_SKIP] = "SKIP",
					    [CHECK_STALE] = "STALE" };

const char *checks_status_name(enum check_status s)
{
	return status_names[s];
}

struct json_object *checks_json(const char *node, const struct check_row *rows, size_t n)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(),
			   *sum = json_object_new_object();
	int64_t count[5] = { 0 };

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_new_object();
		json_object_object_add(r, "id", json_object_new_string(rows[i].cr_id));
		json_object_object_add(r, "title", json_object_new_string(rows[i].cr_title));
		json_object_object_add(r, "source", json_object_new_string(rows[i].cr_source));
		json_object_object_add(
			r, "status", json_object_new_string(checks_status_name(rows[i].cr_status)));
		json_object_object_add(r, "evidence", json_object_new_string(rows[i].cr_evidence));
		json_object_array_add(a, r);
		count[rows[i].cr_status]++;
	}
	json_object_object_add(o, "node", json_object_new_string(node));
	json_object_object_add(o, "checks", a);
	json_object_object_add(sum, "pass", json_object_new_int64(count[CHECK_PASS]));
	json_object_object_add(sum, "fail", json_object_new_int64(count[CHECK_FAIL]));
	json_object_object_add(sum, "warn", json_object_new_int64(count[CHECK_WARN]));
	json_object_object_add(sum, "skip", json_object_new_int64(count[CHECK_SKIP]));
	json_object_object_add(sum, "stale", json_object_new_int64(count[CHECK_STALE]));
	json_object_object_add(o, "summary", sum);
	return o;
}
