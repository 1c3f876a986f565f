/* agentreader: spawn, confine and run the per-channel reader. */
#include "agentreader.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int agentreader_spawn(int chan_fd, int *ctl, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	char *const argv[] = { (char *)"dockd", (char *)"--agent-reader", NULL };
	char *const envp[] = { NULL };
	int sp[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	/* dup2 clears CLOEXEC on the targets: only these two fds cross. */
	posix_spawn_file_actions_adddup2(&fa, chan_fd, AGENTREADER_CHAN_FD);
	posix_spawn_file_actions_adddup2(&fa, sp[1], AGENTREADER_CTL_FD);
	r = posix_spawn(pid, "/proc/self/exe", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(sp[1]);
	if (r != 0) {
		close(sp[0]);
		return -r;
	}
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	*ctl = sp[0];
	return 0;
}

int agentreader_recv(int ctl, struct agentreader_out *out)
{
	ssize_t n = recv(ctl, out, sizeof(*out), MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
	if (n == 0)
		return -EPIPE;
	return agentreader_check(out, (size_t)n);
}

int agentreader_check(struct agentreader_out *out, size_t n)
{
	if (n != sizeof(*out) || out->ao_magic != AGENTREADER_MAGIC ||
	    (out->ao_kind != AR_MSG && out->ao_kind != AR_STATS))
		return -EBADMSG;
	/* The reader parses hostile input: a reader gone wrong must not make
	 * the dock index past its tables or read past a string. Every message
	 * passes here before anyone reads it. */
	if (out->ao_kind == AR_MSG)
		return agentproto_sanitise(&out->ao_msg);
	return 0;
}

bool agentreader_bucket_take(struct agentreader_bucket *b, int64_t now_ms)
{
	const int64_t cap = (int64_t)AGENTREADER_AUDIT_BURST * 1000;

	if (b->ab_ms == 0) {
		b->ab_milli = cap;
		b->ab_ms = now_ms;
	}
	if (now_ms > b->ab_ms) {
		int64_t dt = now_ms - b->ab_ms;
		/* dt capped first: a long quiet spell cannot overflow the sum. */
		b->ab_milli += (dt > 10000 ? 10000 : dt) * AGENTREADER_AUDIT_PER_SEC;
		if (b->ab_milli > cap)
			b->ab_milli = cap;
		b->ab_ms = now_ms;
	}
	if (b->ab_milli < 1000)
		return false;
	b->ab_milli -= 1000;
	return true;
}

/* ---- the reader itself ---- */

static void ar_die(const char *what)
{
	/* No logging here (no fds, no syslog): the dock logs our exit status. */
	(void)what;
	_exit(111);
}

/* Every descriptor above our two goes before we read a byte of the guest:
 * one the dock (or whoever started it) leaked without CLOEXEC must not
 * reach a process a guest may own. getpwnam has run: nss is done. */
static void ar_close_inherited(void)
{
	struct rlimit lim;

	if (close_range(AGENTREADER_CTL_FD + 1, ~0U, 0) == 0)
		return;
	if (errno != ENOSYS || getrlimit(RLIMIT_NOFILE, &lim) < 0)
		ar_die("close_range");
	for (rlim_t fd = AGENTREADER_CTL_FD + 1; fd < lim.rlim_cur && fd < (1u << 20); fd++)
		close((int)fd);
}

static void ar_confine(void)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	struct rlimit nofile = { 16, 16 }, core = { 0, 0 };
	scmp_filter_ctx sc;
	/* What reading, parsing (json-c, malloc) and answering need; nothing
	 * that opens, executes, connects or changes identity. */
	static const int allow[] = {
		SCMP_SYS(read),         SCMP_SYS(write),   SCMP_SYS(sendto),
		SCMP_SYS(sendmsg),      SCMP_SYS(poll),    SCMP_SYS(ppoll),
		SCMP_SYS(close),        SCMP_SYS(exit),    SCMP_SYS(exit_group),
		SCMP_SYS(brk),          SCMP_SYS(mmap),    SCMP_SYS(munmap),
		SCMP_SYS(mremap),       SCMP_SYS(madvise), SCMP_SYS(clock_gettime),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(futex),   SCMP_SYS(getrandom),
		SCMP_SYS(newfstatat),   SCMP_SYS(fstat),   SCMP_SYS(lseek),
	};

	ar_close_inherited();
	setrlimit(RLIMIT_NOFILE, &nofile);
	setrlimit(RLIMIT_CORE, &core);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		ar_die("drop identity");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		ar_die("prctl");
	sc = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (sc == NULL)
		ar_die("seccomp_init");
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
		if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, allow[i], 0) < 0)
			ar_die("seccomp_rule_add");
	if (seccomp_load(sc) < 0)
		ar_die("seccomp_load");
	seccomp_release(sc);
}

struct ar_state {
	struct agentreader_out ar_out; /* counters live here */
	int64_t ar_window_ms;
	unsigned ar_window_lines;
	int ar_stats_dirty;
	int64_t ar_stats_ms;
	struct agentreader_bucket ar_audit; /* the audit lines' own budget */
};

static int64_t ar_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ar_send(struct agentreader_out *o)
{
	o->ao_magic = AGENTREADER_MAGIC;
	if (send(AGENTREADER_CTL_FD, o, sizeof(*o), MSG_NOSIGNAL) != (ssize_t)sizeof(*o) &&
	    errno != EINTR)
		_exit(0); /* the dock went away */
}

/* The report/heartbeat budget: AGENTREADER_LINES_PER_SEC a second. */
static bool ar_window_ok(struct ar_state *st, int64_t now)
{
	if (now - st->ar_window_ms >= 1000) {
		st->ar_window_ms = now;
		st->ar_window_lines = 0;
	}
	return ++st->ar_window_lines <= AGENTREADER_LINES_PER_SEC;
}

/* A line is parsed before it is charged: an audit line takes a token of
 * the audit bucket, any other line (one that does not parse too) a place
 * in the report budget's second, so a flood of audit records never
 * crowds out a report, and a flood of anything else never passes as
 * audit. */
static void ar_line(void *ctx, const char *line, size_t len)
{
	struct ar_state *st = ctx;
	int64_t now = ar_now_ms();
	int r = agentproto_parse(line, len, &st->ar_out.ao_msg, NULL);

	if (r == 0 && agentproto_is_audit(st->ar_out.ao_msg.am_type)) {
		if (!agentreader_bucket_take(&st->ar_audit, now)) {
			st->ar_out.ao_audit_dropped++;
			st->ar_stats_dirty = 1;
			return;
		}
	} else if (!ar_window_ok(st, now)) {
		st->ar_out.ao_dropped++;
		st->ar_stats_dirty = 1;
		return;
	}
	if (r < 0) {
		st->ar_out.ao_bad++;
		st->ar_stats_dirty = 1;
		return;
	}
	st->ar_out.ao_kind = AR_MSG;
	ar_send(&st->ar_out);
}

void agentreader_main(void)
{
	static struct ar_state st;
	static struct agentproto_reader rd;
	static char buf[4096];

	ar_confine();
	for (;;) {
		/* The dock's end too: when the dock dies (its socket hangs up)
		 * the reader goes at once, not at the agent's next line, which
		 * it would read and lose. */
		struct pollfd pfd[2] = { { .fd = AGENTREADER_CHAN_FD, .events = POLLIN },
					 { .fd = AGENTREADER_CTL_FD, .events = 0 } };
		uint64_t overlong = rd.ar_overlong;
		ssize_t n;
		int64_t now;

		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			_exit(1);
		if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			_exit(0);
		if (pfd[0].revents != 0) {
			n = read(AGENTREADER_CHAN_FD, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				_exit(0); /* the channel closed: the dock sees our exit */
			if (n > 0)
				agentproto_feed(&rd, buf, (size_t)n, ar_line, &st);
		}
		if (rd.ar_overlong != overlong) {
			st.ar_out.ao_overlong = rd.ar_overlong;
			st.ar_stats_dirty = 1;
		}
		now = ar_now_ms();
		/* Counters travel at most once a second: a flood costs the dock
		 * one small message per second. */
		if (st.ar_stats_dirty && now - st.ar_stats_ms >= 1000) {
			st.ar_out.ao_kind = AR_STATS;
			ar_send(&st.ar_out);
			st.ar_stats_dirty = 0;
			st.ar_stats_ms = now;
		}
	}
}
