/* Unit tests of the guest audit trail (#20): the agent's `audit` and
 * `audit_status` lines (parser and the dock's sanitising), the reader's
 * audit budget, the serial tracker, EXECVE arguments decoded, and the
 * store (gaudit.h): the chain written by the writer thread, the dock's
 * marks (dock-start, boot, gap, lost), reading back by type, verify of an
 * intact and a tampered log, a destroyed node's log found by name, purge
 * and the retention sweep. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentproto.h"
#include "agentreader.h"
#include "checks.h"
#include "gaudit.h"

#define PARSE(s) agentproto_parse(s, strlen(s), &m, &e)

static void test_parse_audit(void **st)
{
	static struct agent_msg m;
	struct dock_err e = { 0 };
	char line[AGENT_LINE_MAX + 64];
	(void)st;

	assert_int_equal(PARSE("{\"type\":\"audit\",\"serial\":1234,\"sec\":1733380000,\"ms\":123,"
			       "\"rtype\":1309,\"msg\":\"argc=3 a0=\\\"ls\\\" a1=\\\"-l\\\"\","
			       "\"truncated\":true}"),
			 0);
	assert_int_equal(m.am_type, AGENT_MSG_AUDIT);
	assert_int_equal(m.am_audit.aa_serial, 1234);
	assert_int_equal(m.am_audit.aa_sec, 1733380000);
	assert_int_equal(m.am_audit.aa_ms, 123);
	assert_int_equal(m.am_audit.aa_rtype, 1309);
	assert_true(m.am_audit.aa_truncated);
	assert_string_equal(m.am_audit.aa_msg, "argc=3 a0=\"ls\" a1=\"-l\"");
	assert_int_equal(agentproto_sanitise(&m), 0); /* what the parser makes needs no repair */
	/* Bounds: ms 0..999, a serial of 32 bits, a control byte in the text,
	 * a member missing, text over 3600 bytes: refused. */
	assert_int_equal(PARSE("{\"type\":\"audit\",\"serial\":1,\"sec\":1,\"ms\":1000,\"rtype\":1,"
			       "\"msg\":\"x\"}"),
			 -EINVAL);
	assert_int_equal(PARSE("{\"type\":\"audit\",\"serial\":4294967296,\"sec\":1,\"ms\":1,"
			       "\"rtype\":1,\"msg\":\"x\"}"),
			 -EINVAL);
	assert_int_equal(PARSE("{\"type\":\"audit\",\"serial\":1,\"sec\":1,\"ms\":1,\"rtype\":1,"
			       "\"msg\":\"a\\u001bb\"}"),
			 -EINVAL);
	assert_int_equal(
		PARSE("{\"type\":\"audit\",\"serial\":1,\"sec\":1,\"ms\":1,\"msg\":\"x\"}"),
		-EINVAL);
	snprintf(
		line, sizeof(line),
		"{\"type\":\"audit\",\"serial\":1,\"sec\":1,\"ms\":1,\"rtype\":1,\"msg\":\"%0*d\"}",
		AGENT_AUDIT_MSG_MAX + 1, 0);
	assert_int_equal(agentproto_parse(line, strlen(line), &m, &e), -EINVAL);
	snprintf(
		line, sizeof(line),
		"{\"type\":\"audit\",\"serial\":1,\"sec\":1,\"ms\":1,\"rtype\":1,\"msg\":\"%0*d\"}",
		AGENT_AUDIT_MSG_MAX, 0);
	assert_int_equal(agentproto_parse(line, strlen(line), &m, &e), 0);
}

static void test_parse_status(void **st)
{
	static struct agent_msg m;
	struct dock_err e = { 0 };
	(void)st;

	assert_int_equal(PARSE("{\"type\":\"audit_status\",\"dropped\":1,\"kernel_lost\":2,"
			       "\"buffered\":3,\"enabled\":1,\"rules\":-1,\"overrun\":4}"),
			 0);
	assert_int_equal(m.am_type, AGENT_MSG_AUDIT_STATUS);
	assert_int_equal(m.am_audit_status.as_dropped, 1);
	assert_int_equal(m.am_audit_status.as_kernel_lost, 2);
	assert_int_equal(m.am_audit_status.as_rules, -1);
	assert_int_equal(m.am_audit_status.as_overrun, 4);
	assert_int_equal(PARSE("{\"type\":\"audit_status\",\"dropped\":-1,\"kernel_lost\":2,"
			       "\"buffered\":3,\"enabled\":1,\"rules\":1,\"overrun\":4}"),
			 -EINVAL);
	/* hello: "audit":true (protocol 4); absent is false. */
	assert_int_equal(
		PARSE("{\"type\":\"hello\",\"protocol\":4,\"agent\":\"a\",\"boot_id\":\"b\","
		      "\"kernel\":\"k\",\"facts\":[],\"audit\":true}"),
		0);
	assert_true(m.am_audit_on);
	assert_int_equal(
		PARSE("{\"type\":\"hello\",\"protocol\":3,\"agent\":\"a\",\"boot_id\":\"b\","
		      "\"kernel\":\"k\",\"facts\":[]}"),
		0);
	assert_false(m.am_audit_on);
	assert_int_equal(
		PARSE("{\"type\":\"hello\",\"protocol\":4,\"agent\":\"a\",\"boot_id\":\"b\","
		      "\"kernel\":\"k\",\"facts\":[],\"audit\":1}"),
		-EINVAL);
}

/* A compromised reader's audit message: text without a NUL, control and
 * high bytes, numbers past their bounds: all brought back, counted. */
static void test_sanitise(void **st)
{
	static struct agent_msg m;
	unsigned char b = 7;
	(void)st;

	m.am_type = AGENT_MSG_AUDIT;
	memset(m.am_audit.aa_msg, 'a', sizeof(m.am_audit.aa_msg));
	m.am_audit.aa_msg[3] = '\x1b';
	m.am_audit.aa_msg[4] = (char)0xc3;
	m.am_audit.aa_ms = 5000;
	m.am_audit.aa_rtype = 70000;
	m.am_audit.aa_serial = UINT64_MAX;
	memcpy(&m.am_audit.aa_truncated, &b, 1);
	assert_true(agentproto_sanitise(&m) >= 6);
	assert_int_equal(strlen(m.am_audit.aa_msg), AGENT_AUDIT_MSG_MAX);
	assert_int_equal(m.am_audit.aa_msg[3], '?');
	assert_int_equal(m.am_audit.aa_msg[4], '?');
	assert_int_equal(m.am_audit.aa_ms, 999);
	assert_int_equal(m.am_audit.aa_rtype, AGENT_AUDIT_RTYPE_MAX);
	assert_int_equal(m.am_audit.aa_serial, UINT32_MAX);
	memset(&m, 0, sizeof(m));
	m.am_type = AGENT_MSG_AUDIT_STATUS;
	m.am_audit_status.as_enabled = 9;
	m.am_audit_status.as_rules = -5;
	m.am_audit_status.as_dropped = -1;
	assert_int_equal(agentproto_sanitise(&m), 3);
	assert_int_equal(m.am_audit_status.as_enabled, 2);
	assert_int_equal(m.am_audit_status.as_rules, -1);
	assert_int_equal(m.am_audit_status.as_dropped, 0);
}

/* The audit budget: a full burst at once, then AGENTREADER_AUDIT_PER_SEC. */
static void test_bucket(void **st)
{
	struct agentreader_bucket b = { 0 };
	unsigned n = 0;
	(void)st;

	while (agentreader_bucket_take(&b, 1000))
		n++;
	assert_int_equal(n, AGENTREADER_AUDIT_BURST);
	n = 0;
	for (int64_t t = 1001; t <= 2000; t++)
		while (agentreader_bucket_take(&b, t))
			n++;
	assert_int_equal(n, AGENTREADER_AUDIT_PER_SEC);
	/* A long quiet spell refills to the burst, no more. */
	n = 0;
	while (agentreader_bucket_take(&b, 1000000000))
		n++;
	assert_int_equal(n, AGENTREADER_AUDIT_BURST);
}

static void test_track(void **st)
{
	struct gaudit_track t = { 0 };
	uint64_t from = 0, to = 0;
	(void)st;

	/* The stream starts at any serial: nothing before it is missing. */
	assert_int_equal(gaudit_track(&t, 100, &from, &to), 0);
	assert_int_equal(gaudit_track(&t, 100, &from, &to), 0); /* a second record of one event */
	assert_int_equal(gaudit_track(&t, 101, &from, &to), 0);
	/* 102 late: it comes after 103 (another CPU's event), no gap. */
	assert_int_equal(gaudit_track(&t, 103, &from, &to), 0);
	assert_int_equal(gaudit_track(&t, 102, &from, &to), 0);
	/* 104 never comes: missing once it leaves the window. */
	assert_int_equal(gaudit_track(&t, 105, &from, &to), 0);
	assert_int_equal(gaudit_track(&t, 105 + GAUDIT_WINDOW, &from, &to), 1);
	assert_int_equal(from, 104);
	assert_int_equal(to, 104);
	/* A jump past the window: every serial between counts. */
	assert_int_equal(gaudit_track(&t, 1000, &from, &to), 1000 - (105 + GAUDIT_WINDOW) - 1);
	assert_int_equal(t.gt_missing, 1 + 1000 - (105 + GAUDIT_WINDOW) - 1);
	/* After the dock was away: the jump is missing at once. */
	memset(&t, 0, sizeof(t));
	gaudit_track(&t, 50, &from, &to);
	assert_int_equal(gaudit_track_resume(&t, 53, &from, &to), 2);
	assert_int_equal(from, 51);
	assert_int_equal(to, 52);
	/* 54 has left the window unseen; 55.. may still come late. */
	assert_int_equal(gaudit_track(&t, 54 + GAUDIT_WINDOW, &from, &to), 1);
	assert_int_equal(gaudit_track_resume(&t, 1, &from, &to), 0); /* a late one */
	/* What only follows a SYSCALL says an event lost its head. */
	assert_true(gaudit_type_follows(1302));  /* PATH */
	assert_true(gaudit_type_follows(1327));  /* PROCTITLE */
	assert_false(gaudit_type_follows(1300)); /* SYSCALL */
	assert_false(gaudit_type_follows(1112)); /* USER_LOGIN */
	/* A quiet stream: the window's holes are missing now, once. */
	memset(&t, 0, sizeof(t));
	gaudit_track(&t, 10, &from, &to);
	gaudit_track(&t, 13, &from, &to);
	assert_int_equal(gaudit_track_settle(&t, &from, &to), 2);
	assert_int_equal(from, 11);
	assert_int_equal(to, 12);
	assert_int_equal(gaudit_track_settle(&t, &from, &to), 0);
	assert_int_equal(gaudit_track(&t, 13 + GAUDIT_WINDOW, &from, &to), 0);
}

static void test_execve_args(void **st)
{
	struct json_object *a;
	(void)st;

	a = gaudit_execve_args("argc=4 a0=\"echo\" a1=6869 a2=\"marker-42\" a3=611B5B326A");
	assert_non_null(a);
	assert_int_equal(json_object_array_length(a), 4);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)), "echo");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 1)), "hi");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 2)), "marker-42");
	/* ESC decoded from hex is escaped, never raw to a terminal. */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 3)), "a\\x1b[2j");
	json_object_put(a);
	assert_null(gaudit_execve_args("argc=0"));
	assert_int_equal(gaudit_type_parse("execve"), 1309);
	assert_int_equal(gaudit_type_parse("USER_LOGIN"), 1112);
	assert_int_equal(gaudit_type_parse("1300"), 1300);
	assert_int_equal(gaudit_type_parse("NOPE"), -1);
	assert_string_equal(gaudit_type_name(1309), "EXECVE");
}

#define ID "00112233445566778899aabbccddeeff"

static void rec(uint64_t serial, uint32_t rtype, const char *msg)
{
	static struct agent_audit a;

	memset(&a, 0, sizeof(a));
	a.aa_serial = serial;
	a.aa_sec = 1733380000;
	a.aa_rtype = rtype;
	snprintf(a.aa_msg, sizeof(a.aa_msg), "%s", msg);
	assert_true(gaudit_record(ID, "web1", "boot-1", &a));
}

static size_t count_kind(struct json_object *recs, const char *kind)
{
	size_t n = 0;
	struct json_object *k;

	for (size_t i = 0; i < json_object_array_length(recs); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(recs, i), "kind", &k) &&
		    strcmp(json_object_get_string(k), kind) == 0)
			n++;
	return n;
}

static bool verify_intact(const char *dir)
{
	struct json_object *v, *i;
	bool ok;

	assert_int_equal(gaudit_verify(dir, ID, &v, NULL), 0);
	ok = json_object_object_get_ex(v, "intact", &i) && json_object_get_boolean(i);
	json_object_put(v);
	return ok;
}

static void test_store(void **st)
{
	char dir[] = "/tmp/isc-gaudit-XXXXXX", path[512], id[GAUDIT_ID_MAX];
	struct gaudit_opts o = { 0 };
	struct gaudit_stats gs;
	struct json_object *recs;
	FILE *f;
	char *buf;
	long len;
	(void)st;

	assert_non_null(mkdtemp(dir));
	o.go_state_dir = dir;
	assert_int_equal(gaudit_start(&o, NULL), 0);
	rec(10, 1300, "arch=c000003e syscall=59 success=yes");
	rec(10, 1309, "argc=2 a0=\"echo\" a1=6869");
	rec(11, 1309, "argc=1 a0=\"ls\"");
	for (uint64_t s = 13; s < 13 + GAUDIT_WINDOW + 2; s++) /* 12 never comes */
		rec(s, 1320, "");
	gaudit_mark(ID, "web1", "boot-1", "cleanse", NULL);
	gaudit_flush();
	gaudit_stats(ID, &gs);
	assert_string_equal(gs.gs_boot, "boot-1");
	assert_int_equal(gs.gs_records, 3 + GAUDIT_WINDOW + 2);
	assert_int_equal(gs.gs_missing, 1);
	assert_int_equal(gaudit_read(dir, ID, 0, -1, 0, &recs, NULL), 0);
	assert_int_equal(count_kind(recs, "dock-start"), 1);
	assert_int_equal(count_kind(recs, "boot"), 1);
	assert_int_equal(count_kind(recs, "gap"), 1);
	assert_int_equal(count_kind(recs, "cleanse"), 1);
	json_object_put(recs);
	/* By type, with the arguments decoded. */
	assert_int_equal(gaudit_read(dir, ID, 0, 1309, 0, &recs, NULL), 0);
	assert_int_equal(json_object_array_length(recs), 2);
	assert_string_equal(
		json_object_to_json_string_ext(
			json_object_object_get(json_object_array_get_idx(recs, 0), "args"),
			JSON_C_TO_STRING_PLAIN),
		"[\"echo\",\"hi\"]");
	json_object_put(recs);
	assert_true(verify_intact(dir));
	/* A dock restart: the log reopens, a dock-start mark, the chain goes on. */
	gaudit_stop();
	assert_int_equal(gaudit_start(&o, NULL), 0);
	rec(200, 1309, "argc=1 a0=\"after\"");
	gaudit_flush();
	gaudit_stats(ID, &gs);
	assert_int_equal(gs.gs_explained, gs.gs_missing); /* the gap of the dock's absence */
	assert_true(gs.gs_missing > 0);
	gaudit_mark(ID, "web1", "boot-1", "destroy", NULL);
	gaudit_flush();
	gaudit_stop();
	assert_true(verify_intact(dir));
	/* Found by name after the destroy; a live id wins. */
	assert_int_equal(gaudit_resolve(dir, "web1", NULL, id, NULL), 0);
	assert_string_equal(id, ID);
	assert_int_equal(gaudit_resolve(dir, "other", NULL, id, NULL), -ENOENT);
	/* Tampered: one byte of a record changed. */
	snprintf(path, sizeof(path), "%s/guest-audit/" ID "/audit.log", dir);
	f = fopen(path, "r+");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	buf = malloc((size_t)len + 1);
	fseek(f, 0, SEEK_SET);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	{
		char *p = strstr(buf, "a0=\\\"ls");
		assert_non_null(p);
		fseek(f, p - buf + 5, SEEK_SET);
		fputc('X', f);
	}
	fclose(f);
	free(buf);
	assert_false(verify_intact(dir));
	/* Retention: kept before it, swept after; purge removes at once. */
	assert_int_equal(gaudit_sweep(dir, 3600, (int64_t)time(NULL)), 0);
	assert_int_equal(gaudit_sweep(dir, 3600, (int64_t)time(NULL) + 7200), 1);
	assert_int_equal(gaudit_resolve(dir, "web1", NULL, id, NULL), -ENOENT);
	assert_int_equal(gaudit_purge(dir, ID, NULL), -ENOENT);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* A node that never forwarded (an older agent) gets no log from a mark. */
static void test_no_log_for_marks(void **st)
{
	char dir[] = "/tmp/isc-gaudit-XXXXXX", path[512];
	struct gaudit_opts o = { 0 };
	struct stat sb;
	(void)st;

	assert_non_null(mkdtemp(dir));
	o.go_state_dir = dir;
	assert_int_equal(gaudit_start(&o, NULL), 0);
	gaudit_mark(ID, "old", "b", "cleanse", NULL);
	gaudit_mark(ID, "old", "b", "destroy", NULL);
	gaudit_flush();
	gaudit_stop();
	snprintf(path, sizeof(path), "%s/guest-audit/" ID, dir);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* The `audit` row: the dock's evidence from the stream. */
static enum check_status audit_row(const struct agent_view *av, char *ev)
{
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	struct check_row rows[CHECKS_MAX];
	struct checks_node cn = { "g1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct dock_facts df = { .df_running = true };
	struct agent_view v = *av;
	size_t n;

	v.av_facts = facts;
	v.av_have = have;
	n = checks_evaluate(&cn, &df, &v, NULL, rows, CHECKS_MAX);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, "audit") == 0) {
			assert_string_equal(rows[i].cr_source, "dock");
			snprintf(ev, CHECK_EVIDENCE_MAX, "%s", rows[i].cr_evidence);
			return rows[i].cr_status;
		}
	fail();
	return CHECK_FAIL;
}

static void test_audit_row(void **st)
{
	struct agent_view av = { .av_connected = true, .av_last_heartbeat = 995, .av_protocol = 3 };
	struct audit_view *a = &av.av_audit;
	char ev[CHECK_EVIDENCE_MAX];
	(void)st;

	/* An agent that does not forward (protocol 3, or no "audit":true):
	 * SKIP, rebuild the image, never FAIL, even without a report. */
	assert_int_equal(audit_row(&av, ev), CHECK_SKIP);
	assert_non_null(strstr(ev, "rebuild the image"));
	a->au_forwarding = true;
	a->au_protocol = 4;
	assert_int_equal(audit_row(&av, ev), CHECK_WARN); /* no record yet */
	a->au_have_status = true;
	a->au_status_at = 995;
	a->au_status.as_enabled = 1;
	a->au_status.as_rules = 2;
	a->au_records = 40;
	a->au_last_serial = 77;
	assert_int_equal(audit_row(&av, ev), CHECK_PASS);
	/* A gap the dock's absence explains is still PASS, said. */
	a->au_missing = a->au_explained = 3;
	assert_int_equal(audit_row(&av, ev), CHECK_PASS);
	assert_non_null(strstr(ev, "while the dock was away"));
	/* A gap nothing explains: FAIL. */
	a->au_missing = 5;
	assert_int_equal(audit_row(&av, ev), CHECK_FAIL);
	/* Counted losses explain it: WARN, each counter said. */
	a->au_status.as_dropped = 7;
	assert_int_equal(audit_row(&av, ev), CHECK_WARN);
	assert_non_null(strstr(ev, "agent dropped 7"));
	a->au_status.as_dropped = 0;
	a->au_dock_dropped = 9;
	assert_int_equal(audit_row(&av, ev), CHECK_WARN);
	assert_non_null(strstr(ev, "dock dropped 9"));
	/* The status stopped while the agent heartbeats: FAIL. */
	a->au_dock_dropped = 0;
	a->au_missing = a->au_explained = 0;
	a->au_status_at = 900;
	assert_int_equal(audit_row(&av, ev), CHECK_FAIL);
	assert_non_null(strstr(ev, "stopped"));
	/* ... not when the agent is silent too (that is agent-alive's). */
	av.av_last_heartbeat = 900;
	assert_int_equal(audit_row(&av, ev), CHECK_PASS);
	/* Audit disabled in the guest: FAIL. */
	a->au_status.as_enabled = 0;
	assert_int_equal(audit_row(&av, ev), CHECK_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_audit), cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_sanitise),    cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_track),       cmocka_unit_test(test_execve_args),
		cmocka_unit_test(test_store),       cmocka_unit_test(test_no_log_for_marks),
		cmocka_unit_test(test_audit_row),
	};

	return cmocka_run_group_tests_name("gaudit", tests, NULL, NULL);
}
