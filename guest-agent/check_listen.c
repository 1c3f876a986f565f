/*
 * check_listen.c: fact "listen", the sockets that accept traffic from the
 * network: listening TCP and bound, unconnected UDP, from /proc/net.
 */
#include "facts.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTEN_TCP_LISTEN 0x0A /* TCP_LISTEN in /proc/net/tcp's "st" */
#define LISTEN_UDP_UNCONN 0x07 /* TCP_CLOSE: a UDP socket with no peer */
/* The socket-to-process scan reads at most this many fd links in all. */
#define LISTEN_FDS_MAX 32768

struct listen_sock {
	const char *ls_proto;
	char ls_addr[INET6_ADDRSTRLEN];
	unsigned ls_port;
	unsigned long ls_uid;
	unsigned long ls_inode;
	long ls_pid; /* the lowest pid holding it; 0 not found */
};

struct listen_table {
	struct listen_sock lt_socks[FACT_ARRAY_MAX];
	unsigned lt_count;
	bool lt_truncated;
};

static const struct listen_file {
	const char *lf_path;
	const char *lf_proto;
	int lf_family;
	unsigned lf_state;
	bool lf_optional; /* absent when the kernel has no IPv6: nothing to list */
} listen_files[] = {
	{ "/proc/net/tcp", "tcp", AF_INET, LISTEN_TCP_LISTEN, false },
	{ "/proc/net/udp", "udp", AF_INET, LISTEN_UDP_UNCONN, false },
	{ "/proc/net/tcp6", "tcp6", AF_INET6, LISTEN_TCP_LISTEN, true },
	{ "/proc/net/udp6", "udp6", AF_INET6, LISTEN_UDP_UNCONN, true },
};

static int listen_hex(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 8)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		int d = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
			: s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
						     : -1;

		if (d < 0)
			return -EBADMSG;
		v = v << 4 | (unsigned long)d;
	}
	*out = v;
	return 0;
}

/*
 * "0100007F:0050": the address is the kernel's in-memory words printed
 * with %08X (so native byte order per 32-bit word), the port is numeric.
 */
static int listen_parse_addr(const char *s, int family, char *addr, size_t size, unsigned *port)
{
	const char *colon = strchr(s, ':');
	size_t hexlen = family == AF_INET ? 8 : 32;
	unsigned char raw[16];
	unsigned long v;

	if (!colon || (size_t)(colon - s) != hexlen)
		return -EBADMSG;
	for (size_t w = 0; w < hexlen / 8; w++) {
		uint32_t word;

		if (listen_hex(s + 8 * w, 8, &v) < 0)
			return -EBADMSG;
		word = (uint32_t)v;
		memcpy(raw + 4 * w, &word, 4);
	}
	if (listen_hex(colon + 1, strlen(colon + 1), &v) < 0 || v > 65535)
		return -EBADMSG;
	*port = (unsigned)v;
	return inet_ntop(family, raw, addr, (socklen_t)size) ? 0 : -EBADMSG;
}

static void listen_add(struct listen_table *t, const struct listen_sock *s)
{
	for (unsigned i = 0; i < t->lt_count; i++) {
		const struct listen_sock *o = &t->lt_socks[i];

		/* SO_REUSEPORT groups show up once per socket: one entry is enough. */
		if (o->ls_proto == s->ls_proto && o->ls_port == s->ls_port &&
		    o->ls_uid == s->ls_uid && strcmp(o->ls_addr, s->ls_addr) == 0)
			return;
	}
	if (t->lt_count == FACT_ARRAY_MAX) {
		t->lt_truncated = true;
		return;
	}
	t->lt_socks[t->lt_count++] = *s;
}

/*
 * "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt
 * uid timeout inode ...", one socket per line after a header line.
 */
static int listen_read(struct listen_table *t, const struct fact_env *e,
		       const struct listen_file *f)
{
	struct file_lines fl;
	char *line, *fields[10];
	int r;

	if ((r = file_lines_open(&fl, e, f->lf_path)) < 0)
		return r;
	if ((r = file_lines_next(&fl, &line)) > 0) { /* the header */
		while ((r = file_lines_next(&fl, &line)) > 0) {
			struct listen_sock s = { .ls_proto = f->lf_proto };
			unsigned long state;
			char *end;

			if (file_split(line, fields, 10) < 10)
				continue;
			if (listen_hex(fields[3], strlen(fields[3]), &state) < 0 ||
			    state != f->lf_state)
				continue;
			if (listen_parse_addr(fields[1], f->lf_family, s.ls_addr, sizeof(s.ls_addr),
					      &s.ls_port) < 0 ||
			    s.ls_port == 0)
				continue;
			errno = 0;
			s.ls_uid = strtoul(fields[7], &end, 10);
			if (errno || *end || end == fields[7])
				continue;
			s.ls_inode = strtoul(fields[9], &end, 10);
			if (*end)
				s.ls_inode = 0;
			listen_add(t, &s);
		}
	}
	file_lines_close(&fl);
	return r;
}

/* One process's fds: the lowest pid holding each socket of t. */
static void listen_fds(struct listen_table *t, const char *proc, long pid, unsigned *budget)
{
	char path[PATH_MAX], link[64];
	struct dirent *de;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/%ld/fd", proc, pid) >= (int)sizeof(path) ||
	    !(d = opendir(path)))
		return; /* gone, or a kernel thread */
	while (*budget > 0 && (de = readdir(d)) != NULL) {
		unsigned long ino;
		ssize_t n;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		(*budget)--;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) != 0)
			continue;
		ino = strtoul(link + 8, &end, 10);
		if (strcmp(end, "]") != 0 || ino == 0)
			continue;
		for (unsigned i = 0; i < t->lt_count; i++)
			if (t->lt_socks[i].ls_inode == ino &&
			    (t->lt_socks[i].ls_pid == 0 || pid < t->lt_socks[i].ls_pid))
				t->lt_socks[i].ls_pid = pid;
	}
	closedir(d);
}

/*
 * Protocol 3: which process holds each socket, from the socket:[INODE]
 * links in /proc/PID/fd, at most LISTEN_FDS_MAX links read in all; a
 * socket not found has no "pid" and "comm" (the dock exempts nothing
 * for it).
 */
static void listen_owners(struct listen_table *t, const struct fact_env *e)
{
	char proc[PATH_MAX];
	unsigned budget = LISTEN_FDS_MAX;
	struct dirent *de;
	DIR *d;

	if (t->lt_count == 0 ||
	    snprintf(proc, sizeof(proc), "%s/proc", e->fe_root) >= (int)sizeof(proc) ||
	    !(d = opendir(proc)))
		return;
	while (budget > 0 && (de = readdir(d)) != NULL) {
		long pid = file_proc_pid(de->d_name);

		if (pid > 0)
			listen_fds(t, proc, pid, &budget);
	}
	closedir(d);
}

void check_listen(struct jline *j, const struct fact_env *e)
{
	static struct listen_table t;

	t.lt_count = 0;
	t.lt_truncated = false;
	for (size_t i = 0; i < sizeof(listen_files) / sizeof(listen_files[0]); i++) {
		int r = listen_read(&t, e, &listen_files[i]);

		if (r < 0 && !(r == -ENOENT && listen_files[i].lf_optional))
			jl_error_errno(j, listen_files[i].lf_path, r);
	}
	listen_owners(&t, e);
	jl_open_arr(j, "sockets");
	for (unsigned i = 0; i < t.lt_count; i++) {
		const struct listen_sock *s = &t.lt_socks[i];
		struct jl_mark m = jl_mark(j);

		jl_open_obj(j, NULL);
		jl_str(j, "proto", s->ls_proto);
		jl_str(j, "addr", s->ls_addr);
		jl_int(j, "port", s->ls_port);
		jl_int(j, "uid", (long long)s->ls_uid);
		if (s->ls_pid > 0) {
			char path[64], comm[64];

			snprintf(path, sizeof(path), "/proc/%ld/comm", s->ls_pid);
			jl_int(j, "pid", s->ls_pid);
			/* comm is 15 bytes at most; a fixture's longer one is cut so. */
			if (file_read_value(e, path, comm, sizeof(comm)) > 0) {
				comm[15] = '\0';
				jl_str(j, "comm", comm);
			}
		}
		jl_close(j);
		if (jl_undo_if_full(j, &m)) {
			t.lt_truncated = true;
			break;
		}
	}
	jl_close(j);
	if (t.lt_truncated)
		jl_truncated(j);
}
