/*
 * check_service.c: fact "service", the credentials and confinement of the
 * node's service process, found by its command name (/proc/PID/comm):
 * uid/gid, groups, capabilities, NoNewPrivs and seccomp (/proc/PID/status).
 */
#include "facts.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* comm holds at most 15 bytes (TASK_COMM_LEN - 1); longer names are cut to it. */
#define SERVICE_COMM_MAX 15
#define SERVICE_KTHREADD 2
/* Processes listed in "procs" (protocol 3): the lowest pids; "count" says
 * how many match in all, so a dock knows when some went unlisted. */
#define SERVICE_PROCS_MAX 16

struct service_status {
	long long ss_ppid;
	long long ss_uids[4], ss_gids[4]; /* real, effective, saved, filesystem */
	int ss_nuids, ss_ngids;
	long long ss_groups[FACT_ARRAY_MAX];
	int ss_ngroups;
	bool ss_groups_cut;
	char ss_cap_prm[24], ss_cap_eff[24], ss_cap_bnd[24], ss_cap_amb[24];
	long long ss_nnp, ss_seccomp; /* -1: line absent */
};

/* One matching process, as "procs" lists it. */
struct service_proc {
	long sp_pid;
	long long sp_uid, sp_gid, sp_nnp, sp_seccomp;
	char sp_cap_eff[24], sp_cap_bnd[24];
	bool sp_complete; /* every member known: listed, else left out */
};

struct service_procs {
	struct service_proc sp[SERVICE_PROCS_MAX];
	unsigned n;
};

/* Keep the SERVICE_PROCS_MAX lowest pids, sorted. */
static void service_keep(struct service_procs *ps, long pid, const struct service_status *st)
{
	struct service_proc p = {
		.sp_pid = pid,
		.sp_nnp = st->ss_nnp,
		.sp_seccomp = st->ss_seccomp,
		.sp_complete = st->ss_nuids == 4 && st->ss_ngids == 4 && st->ss_cap_eff[0] &&
			st->ss_cap_bnd[0] && st->ss_nnp >= 0 && st->ss_seccomp >= 0,
	};
	unsigned at = ps->n;

	if (p.sp_complete) {
		p.sp_uid = st->ss_uids[1];
		p.sp_gid = st->ss_gids[1];
	}
	memcpy(p.sp_cap_eff, st->ss_cap_eff, sizeof(p.sp_cap_eff));
	memcpy(p.sp_cap_bnd, st->ss_cap_bnd, sizeof(p.sp_cap_bnd));
	while (at > 0 && ps->sp[at - 1].sp_pid > pid)
		at--;
	if (at == SERVICE_PROCS_MAX)
		return;
	if (ps->n == SERVICE_PROCS_MAX)
		ps->n--;
	memmove(&ps->sp[at + 1], &ps->sp[at], (ps->n - at) * sizeof(ps->sp[0]));
	ps->sp[at] = p;
	ps->n++;
}

static int service_numbers(const char *s, long long *out, int max, bool *cut)
{
	int n = 0;

	for (;;) {
		char *end;
		long long v;

		s += strspn(s, " \t");
		if (!*s)
			return n;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || end == s)
			return n;
		if (n == max) {
			if (cut)
				*cut = true;
			return n;
		}
		out[n++] = v;
		s = end;
	}
}

static void service_hex(char *dst, size_t size, const char *s)
{
	s += strspn(s, " \t");
	snprintf(dst, size, "%.*s", (int)strcspn(s, " \t"), s);
}

static int service_read_status(const struct fact_env *e, long pid, struct service_status *st)
{
	struct file_lines fl;
	char path[64], *line;
	int r;

	memset(st, 0, sizeof(*st));
	st->ss_ppid = -1;
	st->ss_nnp = st->ss_seccomp = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((r = file_lines_open(&fl, e, path)) < 0)
		return r;
	while ((r = file_lines_next(&fl, &line)) > 0) {
		char *colon = strchr(line, ':'), *v;
		long long one;

		if (!colon)
			continue;
		*colon = '\0';
		v = colon + 1;
		if (strcmp(line, "PPid") == 0 && service_numbers(v, &one, 1, NULL) == 1)
			st->ss_ppid = one;
		else if (strcmp(line, "Uid") == 0)
			st->ss_nuids = service_numbers(v, st->ss_uids, 4, NULL);
		else if (strcmp(line, "Gid") == 0)
			st->ss_ngids = service_numbers(v, st->ss_gids, 4, NULL);
		else if (strcmp(line, "Groups") == 0)
			st->ss_ngroups = service_numbers(v, st->ss_groups, FACT_ARRAY_MAX,
							 &st->ss_groups_cut);
		else if (strcmp(line, "CapPrm") == 0)
			service_hex(st->ss_cap_prm, sizeof(st->ss_cap_prm), v);
		else if (strcmp(line, "CapEff") == 0)
			service_hex(st->ss_cap_eff, sizeof(st->ss_cap_eff), v);
		else if (strcmp(line, "CapBnd") == 0)
			service_hex(st->ss_cap_bnd, sizeof(st->ss_cap_bnd), v);
		else if (strcmp(line, "CapAmb") == 0)
			service_hex(st->ss_cap_amb, sizeof(st->ss_cap_amb), v);
		else if (strcmp(line, "NoNewPrivs") == 0 && service_numbers(v, &one, 1, NULL) == 1)
			st->ss_nnp = one;
		else if (strcmp(line, "Seccomp") == 0 && service_numbers(v, &one, 1, NULL) == 1)
			st->ss_seccomp = one;
	}
	file_lines_close(&fl);
	return r;
}

/* Kernel threads have comms too (kworker, ...): kthreadd and its children. */
static bool service_is_kthread(long pid, const struct service_status *st)
{
	return pid == SERVICE_KTHREADD || st->ss_ppid == SERVICE_KTHREADD;
}

/*
 * The lowest pid whose comm is name (first SERVICE_COMM_MAX bytes), and how
 * many processes match. The status of the chosen one is left in *st.
 */
static int service_find(const struct fact_env *e, const char *name, long *pid, unsigned *count,
			struct service_status *st, struct service_procs *ps)
{
	static struct service_status cand;
	char dir[PATH_MAX], path[64], comm[64];
	struct dirent *de;
	DIR *d;

	*pid = -1;
	*count = 0;
	ps->n = 0;
	if (snprintf(dir, sizeof(dir), "%s/proc", e->fe_root) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (!(d = opendir(dir)))
		return -errno;
	while ((de = readdir(d)) != NULL) {
		long p = file_proc_pid(de->d_name);

		if (p <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/comm", p);
		/* A process that exited meanwhile is simply not there. */
		if (file_read_value(e, path, comm, sizeof(comm)) < 0 ||
		    strncmp(comm, name, SERVICE_COMM_MAX) != 0 ||
		    strlen(comm) !=
			    (strlen(name) < SERVICE_COMM_MAX ? strlen(name) : SERVICE_COMM_MAX))
			continue;
		if (service_read_status(e, p, &cand) < 0 || service_is_kthread(p, &cand))
			continue;
		(*count)++;
		service_keep(ps, p, &cand);
		if (*pid < 0 || p < *pid) {
			*pid = p;
			*st = cand;
		}
	}
	closedir(d);
	return 0;
}

static void service_ids(struct jline *j, const char *key, const long long *ids, int n)
{
	jl_open_arr(j, key);
	for (int i = 0; i < n; i++)
		jl_int(j, NULL, ids[i]);
	jl_close(j);
}

/* "procs": every matching process whose status is whole, lowest pids first. */
static void service_list(struct jline *j, const struct service_procs *ps)
{
	jl_open_arr(j, "procs");
	for (unsigned i = 0; i < ps->n; i++) {
		const struct service_proc *p = &ps->sp[i];
		struct jl_mark m = jl_mark(j);

		if (!p->sp_complete)
			continue; /* unlisted: "count" tells the dock */
		jl_open_obj(j, NULL);
		jl_int(j, "pid", p->sp_pid);
		jl_int(j, "uid", p->sp_uid);
		jl_int(j, "gid", p->sp_gid);
		jl_str(j, "cap_eff", p->sp_cap_eff);
		jl_str(j, "cap_bnd", p->sp_cap_bnd);
		jl_int(j, "no_new_privs", p->sp_nnp);
		jl_int(j, "seccomp", p->sp_seccomp);
		jl_close(j);
		if (jl_undo_if_full(j, &m))
			break; /* unlisted: "count" tells the dock */
	}
	jl_close(j);
}

void check_service(struct jline *j, const struct fact_env *e)
{
	static struct service_status st;
	static struct service_procs ps;
	unsigned count;
	long pid;
	int r;

	if (!e->fe_service || !e->fe_service[0]) {
		jl_bool(j, "found", false);
		return;
	}
	jl_str(j, "name", e->fe_service);
	if ((r = service_find(e, e->fe_service, &pid, &count, &st, &ps)) < 0) {
		jl_error_errno(j, "/proc", r);
		return;
	}
	jl_bool(j, "found", pid > 0);
	if (pid <= 0)
		return;
	jl_int(j, "pid", pid);
	jl_int(j, "count", count);
	if (st.ss_nuids == 4 && st.ss_ngids == 4) {
		/* The effective ids decide what the process may do. */
		jl_int(j, "uid", st.ss_uids[1]);
		jl_int(j, "gid", st.ss_gids[1]);
		service_ids(j, "uids", st.ss_uids, 4);
		service_ids(j, "gids", st.ss_gids, 4);
	} else {
		jl_error(j, "/proc/%ld/status: no Uid/Gid", pid);
	}
	service_ids(j, "groups", st.ss_groups, st.ss_ngroups);
	if (st.ss_groups_cut)
		jl_truncated(j);
	if (st.ss_cap_eff[0] && st.ss_cap_bnd[0]) {
		jl_str(j, "cap_eff", st.ss_cap_eff);
		jl_str(j, "cap_bnd", st.ss_cap_bnd);
	} else {
		jl_error(j, "/proc/%ld/status: no CapEff/CapBnd", pid);
	}
	if (st.ss_cap_prm[0])
		jl_str(j, "cap_prm", st.ss_cap_prm);
	if (st.ss_cap_amb[0])
		jl_str(j, "cap_amb", st.ss_cap_amb);
	if (st.ss_nnp >= 0)
		jl_int(j, "no_new_privs", st.ss_nnp);
	else
		jl_error(j, "/proc/%ld/status: no NoNewPrivs", pid);
	if (st.ss_seccomp >= 0)
		jl_int(j, "seccomp", st.ss_seccomp);
	else
		jl_error(j, "/proc/%ld/status: no Seccomp", pid);
	service_list(j, &ps);
}
