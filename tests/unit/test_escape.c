/* Unit tests of the escaping module (common/escape.c) and of its users
 * that need no running dock: the logger (common/log.c) escapes a whole
 * formatted line, the audit trail's syslog copy (dockd/chainlog.c) escapes
 * a record without breaking its JSON, and the checks' evidence
 * (dockd/checks.c) is cut on a UTF-8 boundary. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agentproto.h"
#include "chainlog.h"
#include "checks.h"
#include "escape.h"
#include "log.h"

static const char *esc(const char *s, unsigned flags)
{
	static char out[1024];

	return escape_str(out, sizeof(out), s, flags);
}

static const char *escn(const void *s, size_t len, unsigned flags)
{
	static char out[1024];

	escape_buf(out, sizeof(out), s, len, flags);
	return out;
}

/* No byte below 0x20, no DEL, no C1 (0xc2 0x80-0x9f), valid UTF-8. */
static void assert_safe(const char *s, unsigned flags)
{
	size_t len = strlen(s);

	assert_true(escape_utf8_valid(s, len));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c == '\t' && (flags & ESCAPE_KEEP_TAB)) ||
		    (c == '\n' && (flags & ESCAPE_KEEP_NL)))
			continue;
		assert_false(c < 0x20 || c == 0x7f);
		if (c == 0xc2 && i + 1 < len)
			assert_false((unsigned char)s[i + 1] >= 0x80 &&
				     (unsigned char)s[i + 1] <= 0x9f);
	}
}

static void test_plain_text_unchanged(void **st)
{
	(void)st;
	assert_string_equal(esc("node web1: started", 0), "node web1: started");
	assert_string_equal(esc("", 0), "");
	/* Valid characters beyond ASCII are copied: é, €, 😀. */
	assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* The last code point and the first above the C1 range. */
	assert_string_equal(esc("\xf4\x8f\xbf\xbf\xc2\xa0", 0), "\xf4\x8f\xbf\xbf\xc2\xa0");
}

/* The clipboard write of the issue: OSC 52 ... BEL, and its ST-terminated
 * form, as text. */
static void test_osc52(void **st)
{
	(void)st;
	assert_string_equal(esc("\x1b]52;c;SGVsbG8=\x07", 0), "\\x1b]52;c;SGVsbG8=\\x07");
	assert_string_equal(esc("\x1b]52;c;SGVsbG8=\x1b\\", 0), "\\x1b]52;c;SGVsbG8=\\x1b\\\\");
	assert_safe(esc("\x1b]52;c;SGVsbG8=\x07", 0), 0);
}

static void test_csi_and_c0(void **st)
{
	(void)st;
	/* Clear screen, cursor home, a title change. */
	assert_string_equal(esc("\x1b[2J\x1b[H\x1b]0;pwned\x07", 0),
			    "\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07");
	assert_string_equal(esc("a\rb\nc\td\x7f", 0), "a\\x0db\\x0ac\\x09d\\x7f");
	assert_string_equal(escn("a\0b", 3, 0), "a\\x00b");
	assert_string_equal(esc("\x01\x1f", 0), "\\x01\\x1f");
}

/* C1 controls are code points U+0080-U+009F: as UTF-8 they are two bytes. */
static void test_c1(void **st)
{
	(void)st;
	assert_string_equal(esc("\xc2\x9b"
				"31m red",
				0),
			    "\\x9b31m red");
	assert_string_equal(esc("\xc2\x9d"
				"52;c;SGk=\xc2\x9c",
				0),
			    "\\x9d52;c;SGk=\\x9c");
	assert_string_equal(esc("\xc2\x80\xc2\x9f", 0), "\\x80\\x9f");
	assert_string_equal(esc("\xc2\x9b", ESCAPE_JSON), "\\u009b");
}

static void test_backslash_doubled(void **st)
{
	(void)st;
	/* The text "\x1b" and an ESC byte come out differently. */
	assert_string_equal(esc("\\x1b", 0), "\\\\x1b");
	assert_string_equal(esc("\x1b", 0), "\\x1b");
	assert_string_equal(esc("C:\\dir\\", 0), "C:\\\\dir\\\\");
	/* Escaped text goes through unchanged; what is not escaped yet is. */
	assert_string_equal(esc("a\\x1b\\\\b\tc", ESCAPE_KEEP_BACKSLASH | ESCAPE_KEEP_TAB),
			    "a\\x1b\\\\b\tc");
	assert_string_equal(esc("a\x1b[2J\\", ESCAPE_KEEP_BACKSLASH), "a\\x1b[2J\\");
	/* JSON text keeps its escapes as they are. */
	assert_string_equal(esc("{\"a\":\"x\\\"y\\u001b\"}", ESCAPE_JSON),
			    "{\"a\":\"x\\\"y\\u001b\"}");
}

static void test_keep_tab_nl(void **st)
{
	(void)st;
	assert_string_equal(esc("a\tb\nc\r", ESCAPE_KEEP_TAB), "a\tb\\x0ac\\x0d");
	assert_string_equal(esc("a\tb\nc", ESCAPE_KEEP_NL), "a\\x09b\nc");
	assert_string_equal(esc("a\tb\nc", ESCAPE_KEEP_TAB | ESCAPE_KEEP_NL), "a\tb\nc");
}

static void test_bad_utf8(void **st)
{
	(void)st;
	/* Each byte that does not start a valid sequence is one U+FFFD. */
	assert_string_equal(esc("a\xff"
				"b",
				0),
			    "a\xef\xbf\xbd"
			    "b");
	assert_string_equal(esc("\x80\xbf", 0), "\xef\xbf\xbd\xef\xbf\xbd"); /* stray */
	assert_string_equal(esc("\xc0\xaf", 0), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong / */
	assert_string_equal(esc("\xc1\x9b", 0), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong CSI */
	assert_string_equal(esc("\xe0\x80\xaf", 0), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(esc("\xed\xa0\x80", 0), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(esc("\xf4\x90\x80\x80", 0),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
	assert_string_equal(esc("\xf5\x80", 0), "\xef\xbf\xbd\xef\xbf\xbd");
	/* Cut short, at the end and before ASCII. */
	assert_string_equal(esc("x\xe2\x82", 0), "x\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(esc("\xe2\x82"
				"A",
				0),
			    "\xef\xbf\xbd\xef\xbf\xbd"
			    "A");
	assert_string_equal(esc("\xf0\x9f\x98", 0), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* A lead byte swallowing what follows would hide an ESC: it does not. */
	assert_string_equal(esc("\xc3\x1b[2J", 0), "\xef\xbf\xbd\\x1b[2J");
	assert_false(escape_utf8_valid("\xc3\x1b", 2));
	assert_true(escape_utf8_valid("\xc3\xa9", 2));
}

/* The output buffer: always terminated, never cut inside an escape or a
 * character, and the count of bytes taken says where to go on. */
static void test_bounded(void **st)
{
	char out[8];
	size_t n;

	(void)st;
	n = escape_buf(out, sizeof(out), "abc\x1b[", 5, 0);
	assert_string_equal(out, "abc\\x1b"); /* 7 bytes + NUL */
	assert_int_equal(n, 4);
	n = escape_buf(out, 7, "abc\x1b[", 5, 0);
	assert_string_equal(out, "abc"); /* "\x1b" does not fit whole */
	assert_int_equal(n, 3);
	n = escape_buf(out, 6, "abcd\xe2\x82\xac", 7, 0);
	assert_string_equal(out, "abcd"); /* nor does € */
	assert_int_equal(n, 4);
	n = escape_buf(out, 1, "abc", 3, 0);
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	assert_int_equal(escape_buf(out, 0, "abc", 3, 0), 0);
	n = escape_buf(out, 3, "\\\\", 2, 0);
	assert_string_equal(out, "\\\\");
	assert_int_equal(n, 1);
	/* The worst case fits ESCAPE_SIZE. */
	{
		char big[ESCAPE_SIZE(4)];
		assert_int_equal(escape_buf(big, sizeof(big), "\x01\x02\x03\x04", 4, ESCAPE_JSON),
				 4);
		assert_string_equal(big, "\\u0001\\u0002\\u0003\\u0004");
	}
	/* In pieces: the same as in one go. */
	{
		const char *in = "x\x1b]52;c;\xe2\x82\xac\xc2\x9b\xff\\end";
		char whole[256], acc[256] = "";
		size_t len = strlen(in), at = 0;
		escape_buf(whole, sizeof(whole), in, len, 0);
		while (at < len) {
			at += escape_buf(out, sizeof(out), in + at, len - at, 0);
			strcat(acc, out);
		}
		assert_string_equal(acc, whole);
	}
}

static void test_cut(void **st)
{
	const char *s = "ab\xe2\x82\xac"
			"cd"; /* a b € c d: € at 2..4 */

	(void)st;
	assert_int_equal(escape_cut(s, 7, 10), 7);
	assert_int_equal(escape_cut(s, 7, 7), 7);
	assert_int_equal(escape_cut(s, 7, 2), 2);
	assert_int_equal(escape_cut(s, 7, 3), 2); /* inside € */
	assert_int_equal(escape_cut(s, 7, 4), 2);
	assert_int_equal(escape_cut(s, 7, 5), 5);
	assert_int_equal(escape_cut("\xf0\x9f\x98\x80", 4, 3), 0);
	assert_int_equal(escape_cut("\xf0\x9f\x98\x80", 4, 1), 0);
	assert_int_equal(escape_cut("\xc3\xa9\xc3\xa9", 4, 3), 2);
	/* Stray continuation bytes are not a sequence to keep whole. */
	assert_int_equal(escape_cut("a\x80\x80\x80\x80", 5, 3), 3);
	assert_int_equal(escape_cut("ab", 2, 0), 0);
}

/* ---- the logger ---- */

/* What log_* wrote to stderr during fn. */
static void log_capture(void (*fn)(void), char *out, size_t size)
{
	int p[2], saved = dup(2);
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	fflush(stderr);
	dup2(p[1], 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	n = read(p[0], out, size - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void log_hostile(void)
{
	/* A node name or evidence carrying controls, as if one got through. */
	log_warn("node %s: evidence %s",
		 "we\x1b]52;c;SGk=\x07"
		 "b1",
		 "\xc2\x9b"
		 "2J\\x1b\xff\nforged");
}

static void test_log_escapes_line(void **st)
{
	char out[1024], *msg;

	(void)st;
	log_init("test", LOG_LVL_INFO, false);
	log_capture(log_hostile, out, sizeof(out));
	msg = strstr(out, "test[warning]: ");
	assert_non_null(msg);
	assert_string_equal(msg,
			    "test[warning]: node we\\x1b]52;c;SGk=\\x07b1: evidence "
			    "\\x9b2J\\\\x1b\xef\xbf\xbd\\x0aforged\n");
	/* One line: the only newline is the one ending it. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	assert_null(strchr(out, '\x1b'));
}

static void log_long(void)
{
	char big[8192];

	/* 2 bytes of é repeated: the cut must not tear one. */
	for (size_t i = 0; i + 1 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
}

static void test_log_long_line(void **st)
{
	char *out = malloc(64 * 1024);

	(void)st;
	log_init("test", LOG_LVL_INFO, false);
	log_capture(log_long, out, 64 * 1024);
	assert_true(strlen(out) > 1000);
	assert_true(escape_utf8_valid(out, strlen(out)));
	assert_null(strstr(out, "\xef\xbf\xbd")); /* no torn é became U+FFFD */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
}

/* ---- the audit trail's syslog copy ---- */

static int copy_build(void *ctx, uint64_t seq, const char *prev, char *line, size_t *len,
		      char *hash, struct dock_err *err)
{
	(void)ctx;
	(void)prev;
	(void)err;
	/* json-c leaves DEL, C1 and bytes that are not UTF-8 as they are. */
	*len = (size_t)snprintf(line, CHAINLOG_LINE_MAX + 2,
				"{\"seq\":%llu,\"node\":\"a\x7f"
				"b\xc2\x9b"
				"c\xff\\u001b\\\\\"}\n",
				(unsigned long long)seq);
	memset(hash, 'a', CHAINLOG_HASH_HEX);
	hash[CHAINLOG_HASH_HEX] = '\0';
	return 0;
}

static int copy_parse(const char *line, size_t len, struct chainlog_link *link,
		      struct dock_err *err)
{
	(void)line;
	(void)len;
	(void)link;
	(void)err;
	return -1;
}

static void test_syslog_copy_escaped(void **st)
{
	char dir[] = "/tmp/test-escape.XXXXXX", sock[64], logp[128], buf[CHAINLOG_LINE_MAX + 512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static struct chainlog cl = CHAINLOG_INIT;
	struct chainlog_report rep;
	struct json_object *o, *v;
	const char *json;
	ssize_t n;
	int fd;

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/log", dir);
	snprintf(logp, sizeof(logp), "%s/audit.log", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct chainlog_opts o_ = {
		.co_path = logp, .co_syslog = sock, .co_tag = "test", .co_parse = copy_parse
	};
	assert_int_equal(chainlog_open(&cl, &o_, &rep, NULL), 0);
	assert_int_equal(chainlog_append(&cl, copy_build, NULL, false, NULL), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(escape_utf8_valid(buf, (size_t)n));
	json = strchr(buf, '{');
	assert_non_null(json);
	assert_string_equal(json,
			    "{\"seq\":1,\"node\":\"a\\u007fb\\u009bc\xef\xbf\xbd\\u001b\\\\\"}");
	/* Still JSON, meaning the same but for the byte that was not UTF-8. */
	o = json_tokener_parse(json);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "node", &v));
	assert_string_equal(json_object_get_string(v),
			    "a\x7f"
			    "b\xc2\x9b"
			    "c\xef\xbf\xbd\x1b\\");
	json_object_put(o);
	chainlog_close(&cl);
	close(fd);
	unlink(sock);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/audit.log.head", dir);
	unlink(logp);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the checks' evidence ---- */

static void test_evidence_cut_on_boundary(void **st)
{
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	struct check_row rows[CHECKS_MAX];
	struct dock_facts df = { 0 };
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct agent_view av = { .av_connected = true,
				 .av_last_heartbeat = 995,
				 .av_report_time = 990,
				 .av_facts = facts,
				 .av_have = have };
	__typeof__(facts[0].af.listen) *l = &facts[AF_LISTEN].af.listen;
	bool seen = false;
	size_t n;

	(void)st;
	/* Listeners whose address is two-byte characters: the evidence runs
	 * past CHECK_EVIDENCE_MAX, at every offset of a character. */
	for (size_t off = 0; off < 2; off++) {
		facts[AF_LISTEN].af_id = AF_LISTEN;
		have[AF_LISTEN] = true;
		l->l_n = 8;
		for (unsigned i = 0; i < l->l_n; i++) {
			struct af_socket *s = &l->l_sockets[i];
			memset(s->s_addr, 0, sizeof(s->s_addr));
			memcpy(s->s_addr, "xx", off);
			for (size_t j = off; j + 2 < sizeof(s->s_addr); j += 2)
				memcpy(s->s_addr + j, "\xc3\xa9", 2);
			snprintf(s->s_proto, sizeof(s->s_proto), "tcp");
			s->s_port = (uint16_t)(1000 + i);
		}
		n = checks_evaluate(&cn, &df, &av, NULL, rows, CHECKS_MAX);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(rows[i].cr_id, "ports") != 0)
				continue;
			seen = true;
			assert_true(strlen(rows[i].cr_evidence) > CHECK_EVIDENCE_MAX - 8);
			assert_true(escape_utf8_valid(rows[i].cr_evidence,
						      strlen(rows[i].cr_evidence)));
		}
	}
	assert_true(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_osc52),
		cmocka_unit_test(test_csi_and_c0),
		cmocka_unit_test(test_c1),
		cmocka_unit_test(test_backslash_doubled),
		cmocka_unit_test(test_keep_tab_nl),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_log_escapes_line),
		cmocka_unit_test(test_log_long_line),
		cmocka_unit_test(test_syslog_copy_escaped),
		cmocka_unit_test(test_evidence_cut_on_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
