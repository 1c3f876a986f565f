/* Unit tests of guest-agent/audit-rec.c, the pure half of the agent's audit
 * forwarding (protocol 4): the kernel record's "audit(SEC.MS:SERIAL): "
 * prefix, the bounded `audit` line (escaping, the 3600-byte cut, the line
 * limit) and the parser of /etc/isc/audit.rules with its limits. Built with
 * the host's compiler from the agent's own source (it is pure C11). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../guest-agent/agent-int.h"

static struct audit_rec parsed(const char *text)
{
	struct audit_rec r;

	if (audit_rec_parse(text, strlen(text), &r) != 0)
		fail_msg("\"%s\" refused", text);
	return r;
}

static void test_prefix(void **state)
{
	static const char *const bad[] = {
		"",
		"audit(",
		"audit(1733380000.123:1234)",
		"audit(1733380000.123:1234",
		"audit(1733380000:1234): x",
		"audit(.123:1234): x",
		"audit(1733380000.1234:1234): x",
		"audit(1733380000.123:): x",
		"audit(1733380000.123:x): x",
		"audit(99999999999999999999999.123:1): x",
		"audit(1.1:99999999999999999999): x",
		"audit(1.1:4294967296): x",
		"audit(1.1:04294967295): x",
		"type=1309 audit(1733380000.123:1234): x",
		"AUDIT(1733380000.123:1234): x",
	};
	struct audit_rec r;

	(void)state;
	r = parsed("audit(1733380000.123:1234): argc=3 a0=\"ls\"");
	assert_int_equal(r.ar_sec, 1733380000);
	assert_int_equal(r.ar_ms, 123);
	assert_int_equal(r.ar_serial, 1234);
	assert_int_equal(r.ar_msg_len, strlen("argc=3 a0=\"ls\""));
	assert_memory_equal(r.ar_msg, "argc=3 a0=\"ls\"", r.ar_msg_len);
	r = parsed("audit(0.000:1):");
	assert_int_equal(r.ar_msg_len, 0);
	r = parsed("audit(18446744073709551615.999:4294967295): x\n\n");
	assert_true(r.ar_sec == UINT64_MAX);
	assert_int_equal(r.ar_serial, 4294967295U);
	assert_int_equal(r.ar_msg_len, 1);
	/* A NUL ends the text (the kernel's strings are NUL-terminated). */
	r.ar_msg_len = 99;
	assert_int_equal(audit_rec_parse("audit(1.002:3): ab\0cd", 21, &r), 0);
	assert_int_equal(r.ar_msg_len, 2);
	assert_int_equal(r.ar_ms, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (audit_rec_parse(bad[i], strlen(bad[i]), &r) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
}

/* The line for rtype and text (len 0: strlen), NUL-terminated in a static buffer. */
static const char *line_of(unsigned rtype, const char *text, size_t len)
{
	static char buf[AGENT_LINE_MAX + 1];
	struct audit_rec r;
	size_t n;

	if (len == 0)
		len = strlen(text);
	assert_int_equal(audit_rec_parse(text, len, &r), 0);
	n = audit_rec_line(buf, AGENT_LINE_MAX, rtype, &r);
	assert_true(n > 0 && n <= AGENT_LINE_MAX);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	buf[n] = '\0';
	return buf;
}

static void test_line(void **state)
{
	static const char raw[] = "audit(1.005:7): a=\"x\\y\" \x01\xff\x7f\t~";

	(void)state;
	assert_string_equal(
		line_of(1309, "audit(1733380000.123:1234): argc=3 a0=\"ls\" a1=\"-l\"", 0),
		"{\"type\":\"audit\",\"serial\":1234,\"sec\":1733380000,\"ms\":123,\"rtype\":1309,"
		"\"msg\":\"argc=3 a0=\\\"ls\\\" a1=\\\"-l\\\"\"}\n");
	assert_string_equal(line_of(1320, "audit(5.000:6): ", 0),
			    "{\"type\":\"audit\",\"serial\":6,\"sec\":5,\"ms\":0,\"rtype\":1320,"
			    "\"msg\":\"\"}\n");
	/* Printable ASCII only: the rest is '?'; '"' and '\' escaped. */
	assert_string_equal(line_of(1300, raw, sizeof(raw) - 1),
			    "{\"type\":\"audit\",\"serial\":7,\"sec\":1,\"ms\":5,\"rtype\":1300,"
			    "\"msg\":\"a=\\\"x\\\\y\\\" ????~\"}\n");
}

static void test_line_cut(void **state)
{
	static char text[8192];
	const char *l, *msg;
	size_t h = strlen("audit(1.000:1): ");

	(void)state;
	/* 3600 bytes pass whole; 3601 are cut to 3600 and say so. */
	memcpy(text, "audit(1.000:1): ", h);
	memset(text + h, 'a', 3600);
	l = line_of(1309, text, h + 3600);
	assert_null(strstr(l, "truncated"));
	msg = strstr(l, "\"msg\":\"") + 7;
	assert_int_equal(strcspn(msg, "\""), 3600);
	memset(text + h, 'a', 5000);
	l = line_of(1309, text, h + 5000);
	msg = strstr(l, "\"msg\":\"") + 7;
	assert_int_equal(strcspn(msg, "\""), 3600);
	assert_non_null(strstr(l, "\",\"truncated\":true}\n"));
	/* Escapes could double 3600 bytes: the line limit cuts first. */
	memset(text + h, '"', 3000);
	l = line_of(1309, text, h + 3000);
	assert_true(strlen(l) <= AGENT_LINE_MAX);
	assert_true(strlen(l) > AGENT_LINE_MAX - 2 - 20);
	assert_non_null(strstr(l, "\\\"\",\"truncated\":true}\n")); /* no half escape */
	memset(text + h, '\\', 3600);
	l = line_of(1309, text, h + 3600);
	assert_non_null(strstr(l, "\\\\\",\"truncated\":true}\n"));
}

static const char *rules_ok(const char *text, struct audit_rules *rs)
{
	static char names[256];
	char err[160];

	if (audit_rules_parse(text, strlen(text), rs, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	audit_rules_names(rs, names, sizeof(names));
	return names;
}

static const char *rules_bad(const char *text, size_t len)
{
	static char err[160];
	struct audit_rules rs;

	if (audit_rules_parse(text, len, &rs, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: %.60s", text);
	return err;
}

static void test_rules(void **state)
{
	static char big[AUDIT_RULES_LINES * (AUDIT_RULES_LINE_MAX + 1) + 64];
	struct audit_rules rs;

	(void)state;
	audit_rules_default(&rs);
	assert_int_equal(rs.ars_n, 2);
	assert_int_equal(rs.ars_b64[0], 59);
	assert_int_equal(rs.ars_b32[0], 11);
	assert_int_equal(rs.ars_b64[1], 322);
	assert_int_equal(rs.ars_b32[1], 358);
	assert_string_equal(rules_ok("execve\n# a comment\n\n  execveat\t# exec\r\nptrace", &rs),
			    "execve execveat ptrace");
	assert_string_equal(rules_ok("execve\nexecve\n", &rs), "execve");
	assert_string_equal(rules_ok("# nothing\n", &rs), "");
	assert_int_equal(rs.ars_n, 0);
	assert_string_equal(rules_ok("", &rs), "");
	assert_string_equal(rules_bad("execve\nfork\n", 12),
			    "line 2: \"fork\" is not a syscall the agent audits");
	assert_string_equal(rules_bad("execve execveat\n", 16), "line 1: one syscall name a line");
	assert_string_equal(rules_bad("-a always,exit\n", 15), "line 1: one syscall name a line");
	assert_string_equal(rules_bad("EXECVE\n", 7), "line 1: not a syscall name");
	assert_string_equal(rules_bad("execve\0\n", 8), "line 1: a NUL byte: not a text file");
	/* 64 lines of 128 bytes pass; a 65th line or a 129th byte do not. */
	memset(big, 0, sizeof(big));
	for (int i = 0; i < AUDIT_RULES_LINES; i++) {
		char *l = big + i * (AUDIT_RULES_LINE_MAX + 1);

		memset(l, ' ', AUDIT_RULES_LINE_MAX);
		memcpy(l, "execve", 6);
		l[AUDIT_RULES_LINE_MAX] = '\n';
	}
	assert_string_equal(rules_ok(big, &rs), "execve");
	big[strlen(big)] = 'x';
	assert_string_equal(rules_bad(big, strlen(big)), "line 65: more than 64 lines");
	big[AUDIT_RULES_LINE_MAX] = ' ';
	assert_string_equal(rules_bad(big, strlen(big)), "line 1: longer than 128 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_line_cut),
		cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
