/* Unit tests of the dock's side of the agent reader's wire: messages a
 * compromised reader could send (counts past their arrays, strings without
 * a NUL, bool bytes of 0x7f, enums out of range) come out of
 * agentproto_sanitise and agentreader_recv bounded; and the real reader
 * (`dockd --agent-reader`) closes every inherited descriptor above its two.
 * Arguments: the source tree (for the corpus), the dockd binary. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentproto.h"
#include "agentreader.h"
#include "checks.h"
#include "state.h"

static const char *src_dir = ".";
static const char *dockd_path = "build/dockd";

/* A bool's byte, read and written without reading a bool. */
static unsigned char bool_byte(const bool *b)
{
	unsigned char c;

	memcpy(&c, b, 1);
	return c;
}

static void set_bool_byte(bool *b, unsigned char c)
{
	memcpy(b, &c, 1);
}

static void test_counts(void **st)
{
	static struct agent_msg m;
	struct agent_fact *f = &m.am_fact;
	(void)st;

	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_LISTEN;
	f->af.listen.l_n = 255;
	assert_true(agentproto_sanitise(&m) > 0);
	assert_int_equal(f->af.listen.l_n, AF_MAX_SOCKETS);
	assert_true(f->af_truncated); /* a cut array marks the fact, as the parser does */

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_NET;
	f->af.net.n_n = 200;
	f->af.net.n_ifaces[3].i_n_addrs = 99;
	assert_int_equal(agentproto_sanitise(&m), 2);
	assert_int_equal(f->af.net.n_n, AF_MAX_IFACES);
	assert_int_equal(f->af.net.n_ifaces[3].i_n_addrs, AF_MAX_ADDRS);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_SWAP;
	f->af.swap.w_n = 9;
	assert_int_equal(agentproto_sanitise(&m), 1);
	assert_int_equal(f->af.swap.w_n, AF_MAX_SWAPS);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_MOUNTS;
	f->af.mounts.m_n = 33;
	assert_int_equal(agentproto_sanitise(&m), 1);
	assert_int_equal(f->af.mounts.m_n, AF_MAX_MOUNTS);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_NFT;
	f->af.nft.f_n = 255;
	f->af.nft.f_tables = -5;
	assert_int_equal(agentproto_sanitise(&m), 2);
	assert_int_equal(f->af.nft.f_n, AF_MAX_CHAINS);
	assert_int_equal(f->af.nft.f_tables, 0);
	/* At the cap is fine, and a second pass has nothing left to repair. */
	assert_int_equal(agentproto_sanitise(&m), 0);
}

/* Protocol 3's members: the service's process list, a socket's process,
 * the facts a hello announces. */
static void test_protocol3(void **st)
{
	static struct agent_msg m;
	struct agent_fact *f = &m.am_fact;
	(void)st;

	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_SERVICE;
	f->af.service.s_n_procs = 200;
	f->af.service.s_procs[3].p_seccomp = 9;
	memset(f->af.service.s_procs[5].p_cap_eff, 'f', sizeof(f->af.service.s_procs[5].p_cap_eff));
	assert_int_equal(agentproto_sanitise(&m), 3);
	assert_int_equal(f->af.service.s_n_procs, AF_MAX_PROCS);
	assert_true(f->af_truncated);
	assert_int_equal(f->af.service.s_procs[3].p_seccomp, 2);
	assert_int_equal(strlen(f->af.service.s_procs[5].p_cap_eff), 16);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_LISTEN;
	f->af.listen.l_n = 1;
	f->af.listen.l_sockets[0].s_pid = -7;
	memset(f->af.listen.l_sockets[0].s_comm, 'x', sizeof(f->af.listen.l_sockets[0].s_comm));
	assert_int_equal(agentproto_sanitise(&m), 2);
	assert_int_equal(f->af.listen.l_sockets[0].s_pid, 0);
	assert_int_equal(strlen(f->af.listen.l_sockets[0].s_comm), 15);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_HELLO;
	m.am_hello.ah_protocol = 3;
	m.am_facts = 0xffffffffu;
	assert_int_equal(agentproto_sanitise(&m), 1);
	assert_int_equal(m.am_facts, AF_ALL_FACTS);
}

static void test_strings(void **st)
{
	static struct agent_msg m;
	struct agent_hello *h = &m.am_hello;
	struct agent_fact *f = &m.am_fact;
	(void)st;

	memset(&m, 'A', sizeof(m)); /* not a NUL anywhere */
	m.am_type = AGENT_MSG_HELLO;
	m.am_fact.af_id = AF_LISTEN;
	assert_true(agentproto_sanitise(&m) > 0);
	assert_int_equal(strlen(h->ah_agent), sizeof(h->ah_agent) - 1);
	assert_int_equal(strlen(h->ah_boot_id), sizeof(h->ah_boot_id) - 1);
	assert_int_equal(strlen(h->ah_kernel), sizeof(h->ah_kernel) - 1);
	assert_int_equal(strlen(h->ah_hostname), sizeof(h->ah_hostname) - 1);
	assert_true(h->ah_protocol <= UINT32_MAX);
	assert_true(m.am_count <= 1024);

	memset(&m, 'B', sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_MOUNTS;
	set_bool_byte(&f->af_truncated, 0);
	assert_true(agentproto_sanitise(&m) > 0);
	assert_int_equal(strlen(f->af_error), sizeof(f->af_error) - 1);
	assert_int_equal(f->af.mounts.m_n, AF_MAX_MOUNTS); /* 'B' = 66 */
	assert_true(f->af_truncated);
	for (size_t i = 0; i < AF_MAX_MOUNTS; i++) {
		const struct af_mount *mt = &f->af.mounts.m_mounts[i];
		assert_int_equal(strlen(mt->m_target), sizeof(mt->m_target) - 1);
		assert_int_equal(strlen(mt->m_source), sizeof(mt->m_source) - 1);
		assert_int_equal(strlen(mt->m_fstype), sizeof(mt->m_fstype) - 1);
		assert_int_equal(strlen(mt->m_disk), sizeof(mt->m_disk) - 1);
		assert_int_equal(bool_byte(&mt->m_ro), 1);
	}

	memset(&m, 'C', sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_SERVICE;
	assert_true(agentproto_sanitise(&m) > 0);
	assert_int_equal(strlen(f->af.service.s_name), sizeof(f->af.service.s_name) - 1);
	assert_int_equal(strlen(f->af.service.s_cap_eff), 16);
	assert_int_equal(strlen(f->af.service.s_cap_bnd), 16);
	assert_true(f->af.service.s_no_new_privs == 0 || f->af.service.s_no_new_privs == 1);
	assert_true(f->af.service.s_seccomp >= 0 && f->af.service.s_seccomp <= 2);
}

/* A hello with bytes that are not UTF-8 would be written into the node's
 * record, which would then not read back at the next start (found by the
 * reader fuzz target). */
static void test_utf8(void **st)
{
	static struct agent_msg m;
	static struct node_rec rec, back;
	char *js;
	(void)st;

	m.am_type = AGENT_MSG_HELLO;
	m.am_hello.ah_protocol = 2;
	snprintf(m.am_hello.ah_agent, sizeof(m.am_hello.ah_agent), "%s", "\xff");
	/* é, then a cut sequence */
	snprintf(m.am_hello.ah_boot_id, sizeof(m.am_hello.ah_boot_id), "%s",
		 "ok \xc3\xa9 \xe2\x82");
	snprintf(m.am_hello.ah_kernel, sizeof(m.am_hello.ah_kernel), "%s", "\xc3");
	/* a whole 4-byte sequence */
	snprintf(m.am_hello.ah_hostname, sizeof(m.am_hello.ah_hostname), "%s", "\xf0\x9f\x98\x80");
	assert_int_equal(agentproto_sanitise(&m), 4);
	assert_string_equal(m.am_hello.ah_agent, "?");
	assert_string_equal(m.am_hello.ah_boot_id, "ok \xc3\xa9 ??");
	assert_string_equal(m.am_hello.ah_kernel, "?");
	assert_string_equal(m.am_hello.ah_hostname, "\xf0\x9f\x98\x80");
	snprintf(rec.nr_name, sizeof(rec.nr_name), "web1");
	snprintf(rec.nr_image, sizeof(rec.nr_image), "micro");
	rec.nr_have_hello = true;
	rec.nr_hello = m.am_hello;
	js = state_to_json(&rec);
	assert_non_null(js);
	assert_int_equal(state_from_json(js, strlen(js), &back, NULL), 0);
	assert_string_equal(back.nr_hello.ah_boot_id, m.am_hello.ah_boot_id);
	free(js);
}

static void test_bools(void **st)
{
	static struct agent_msg m;
	struct agent_fact *f = &m.am_fact;
	(void)st;

	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_NET;
	f->af.net.n_n = 1;
	set_bool_byte(&f->af_truncated, 0x7f);
	set_bool_byte(&f->af.net.n_ifaces[0].i_up, 0x7f);
	set_bool_byte(&f->af.net.n_ifaces[7].i_up, 0x80);
	assert_int_equal(agentproto_sanitise(&m), 3);
	assert_int_equal(bool_byte(&f->af_truncated), 1);
	assert_int_equal(bool_byte(&f->af.net.n_ifaces[0].i_up), 1);
	assert_int_equal(bool_byte(&f->af.net.n_ifaces[7].i_up), 1);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_ASLR;
	set_bool_byte(&f->af.aslr.a_nx, 0x7f);
	f->af.aslr.a_randomize_va_space = 1000;
	assert_int_equal(agentproto_sanitise(&m), 2);
	assert_int_equal(bool_byte(&f->af.aslr.a_nx), 1);
	assert_int_equal(f->af.aslr.a_randomize_va_space, 16);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_SSHD;
	set_bool_byte(&f->af.sshd.h_present, 0xff);
	assert_int_equal(agentproto_sanitise(&m), 1);
	assert_int_equal(bool_byte(&f->af.sshd.h_present), 1);

	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_FACT;
	f->af_id = AF_SWAP;
	f->af.swap.w_n = 2;
	set_bool_byte(&f->af.swap.w_devices[1].w_dm_crypt, 2);
	assert_int_equal(agentproto_sanitise(&m), 1);
	assert_int_equal(bool_byte(&f->af.swap.w_devices[1].w_dm_crypt), 1);
}

static void test_refused(void **st)
{
	static struct agent_msg m;
	unsigned v;
	(void)st;

	v = 99;
	memcpy(&m.am_type, &v, sizeof(v));
	assert_int_equal(agentproto_sanitise(&m), -EBADMSG);
	v = 0xffffffffu;
	memcpy(&m.am_type, &v, sizeof(v));
	assert_int_equal(agentproto_sanitise(&m), -EBADMSG);
	m.am_type = AGENT_MSG_FACT;
	v = AF_COUNT;
	memcpy(&m.am_fact.af_id, &v, sizeof(v));
	assert_int_equal(agentproto_sanitise(&m), -EBADMSG);
	/* A fact id is read only of a fact. */
	m.am_type = AGENT_MSG_HEARTBEAT;
	assert_int_equal(agentproto_sanitise(&m), 0);
}

/* What the parser makes of valid lines needs no repair, byte for byte. */
static void test_valid_untouched(void **st)
{
	static struct agent_msg m, copy;
	char path[512], line[AGENT_LINE_MAX + 2];
	const char *extra[] = {
		"{\"type\":\"hello\",\"protocol\":2,\"agent\":\"0.2.0\",\"boot_id\":"
		"\"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\",\"kernel\":\"6.1.0\",\"hostname\":\"web1\"}",
		"{\"type\":\"heartbeat\",\"seq\":7,\"uptime\":3}",
		"{\"type\":\"shutdown_ack\"}",
		"{\"type\":\"future\"}",
		"{\"type\":\"fact\",\"report\":2,\"id\":\"sshd\",\"present\":true,"
		"\"password_authentication\":\"no\",\"permit_root_login\":\"prohibit-password\"}",
	};
	unsigned n = 0;
	FILE *fp;
	(void)st;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/agent/report", src_dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		assert_int_equal(agentproto_parse(line, strlen(line), &m, NULL), 0);
		copy = m;
		assert_int_equal(agentproto_sanitise(&m), 0);
		assert_memory_equal(&m, &copy, sizeof(m));
		n++;
	}
	fclose(fp);
	assert_int_equal(n, 11);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		assert_int_equal(agentproto_parse(extra[i], strlen(extra[i]), &m, NULL), 0);
		copy = m;
		assert_int_equal(agentproto_sanitise(&m), 0);
		assert_memory_equal(&m, &copy, sizeof(m));
	}
}

/* Through the dock's receive path: nothing reaches the caller unbounded,
 * and the checks judge the sanitised fact (ASan would see the read past
 * l_sockets without it). */
static void test_recv(void **st)
{
	static struct agentreader_out out, in;
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	struct agent_view av = {
		.av_connected = true,
		.av_last_heartbeat = 995,
		.av_report_time = 990,
		.av_facts = facts,
		.av_have = have,
	};
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct dock_facts df = { 0 };
	struct check_row rows[CHECKS_MAX];
	int sp[2];
	size_t n;
	(void)st;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	memset(&out, 'x', sizeof(out));
	out.ao_magic = AGENTREADER_MAGIC;
	out.ao_kind = AR_MSG;
	out.ao_msg.am_type = AGENT_MSG_FACT;
	out.ao_msg.am_fact.af_id = AF_LISTEN;
	out.ao_msg.am_fact.af.listen.l_n = 255;
	set_bool_byte(&out.ao_msg.am_fact.af_truncated, 0x7f);
	assert_int_equal(send(sp[1], &out, sizeof(out), 0), (ssize_t)sizeof(out));
	assert_true(agentreader_recv(sp[0], &in) > 0);
	assert_int_equal(in.ao_msg.am_fact.af.listen.l_n, AF_MAX_SOCKETS);
	assert_int_equal(bool_byte(&in.ao_msg.am_fact.af_truncated), 1);
	assert_int_equal(strlen(in.ao_msg.am_fact.af_error),
			 sizeof(in.ao_msg.am_fact.af_error) - 1);
	assert_int_equal(strlen(in.ao_msg.am_fact.af.listen.l_sockets[31].s_addr),
			 sizeof(in.ao_msg.am_fact.af.listen.l_sockets[31].s_addr) - 1);
	assert_true(in.ao_msg.am_fact.af.listen.l_sockets[31].s_port <= 65535);
	in.ao_msg.am_fact.af_error[0] = '\0';
	facts[AF_LISTEN] = in.ao_msg.am_fact;
	have[AF_LISTEN] = true;
	n = checks_evaluate(&cn, &df, &av, NULL, rows, CHECKS_MAX);
	assert_true(n > 10);
	for (size_t i = 0; i < n; i++)
		assert_true(strlen(rows[i].cr_evidence) < CHECK_EVIDENCE_MAX);

	/* A type out of range: refused, the channel is reset. */
	out.ao_msg.am_type = (enum agent_msg_type)42;
	assert_int_equal(send(sp[1], &out, sizeof(out), 0), (ssize_t)sizeof(out));
	assert_int_equal(agentreader_recv(sp[0], &in), -EBADMSG);
	/* Counters carry no message: taken as they come. */
	out.ao_kind = AR_STATS;
	assert_int_equal(send(sp[1], &out, sizeof(out), 0), (ssize_t)sizeof(out));
	assert_int_equal(agentreader_recv(sp[0], &in), 0);
	assert_int_equal(agentreader_recv(sp[0], &in), -EAGAIN);
	close(sp[0]);
	close(sp[1]);
}

/* The real reader, started as agentreader_spawn starts it, with one more
 * descriptor open without CLOEXEC: once it is confined (Seccomp: 2), it
 * holds none above AGENTREADER_CTL_FD; and it exits when the dock's end
 * of its control socket closes. */
static void test_reader_fds(void **st)
{
	int chan[2], ctl[2], leak, seccomp = 0, above = 0, status = 0;
	char path[64], line[256];
	pid_t pid, gone = 0;
	(void)st;

	if (geteuid() != 0)
		skip(); /* a reader running as nobody is root's to inspect */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl), 0);
	leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: inherited */
	assert_true(leak >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *const argv[] = { (char *)"dockd", (char *)"--agent-reader", NULL };
		char *const envp[] = { NULL };
		if (dup2(leak, 9) < 0 || dup2(chan[1], AGENTREADER_CHAN_FD) < 0 ||
		    dup2(ctl[1], AGENTREADER_CTL_FD) < 0)
			_exit(2);
		execve(dockd_path, argv, envp);
		_exit(3);
	}
	close(leak);
	close(chan[1]);
	close(ctl[1]);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	/* Wait for the state, not for a time: up to ~20 s on a loaded machine. */
	for (int i = 0; i < 2000 && !seccomp; i++) {
		FILE *fp = fopen(path, "r");
		while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
			if (strcmp(line, "Seccomp:\t2\n") == 0)
				seccomp = 1;
		if (fp != NULL)
			fclose(fp);
		if (!seccomp)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	assert_true(seccomp);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.' && atoi(e->d_name) > AGENTREADER_CTL_FD) {
			print_message("# reader holds fd %s\n", e->d_name);
			above++;
		}
	closedir(d);
	/* The dock goes (its end closes), the agent says nothing: the reader
	 * goes too (up to ~20 s on a loaded machine), not at the next line. */
	close(ctl[0]);
	for (int i = 0; i < 2000 && gone == 0; i++) {
		gone = waitpid(pid, &status, WNOHANG);
		if (gone == 0)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (gone == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(chan[0]);
	assert_int_equal(above, 0);
	assert_int_equal(gone, pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),     cmocka_unit_test(test_protocol3),
		cmocka_unit_test(test_strings),    cmocka_unit_test(test_bools),
		cmocka_unit_test(test_refused),    cmocka_unit_test(test_valid_untouched),
		cmocka_unit_test(test_recv),       cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_reader_fds),
	};

	if (argc > 1)
		src_dir = argv[1];
	if (argc > 2)
		dockd_path = argv[2];
	return cmocka_run_group_tests_name("agentmsg", tests, NULL, NULL);
}
