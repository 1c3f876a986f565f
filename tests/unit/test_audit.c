/* Unit tests of the audit trail (dockd/audit.c): the chain survives a
 * reopen and concurrent appenders, and verify names the first line that was
 * edited, deleted, moved or cut. Only temp files are touched. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sched.h>
#include <sodium.h>

#include "audit.h"
#include "chainlog.h"
#include "file.h"
#include "sha256.h"

static char tmpdir[64];
static char logpath[96];

/* ---- helpers ---- */

static int setup(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-audit.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/audit.log", tmpdir);
	return 0;
}

/* Every file in tmpdir: the log, its checkpoint, rotated and damaged files. */
static void clean_dir_at(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

static void clean_dir(void)
{
	clean_dir_at(tmpdir);
}

static int teardown(void **st)
{
	(void)st;
	audit_close();
	clean_dir();
	rmdir(tmpdir);
	return 0;
}

static char *slurp(size_t *len)
{
	FILE *f = fopen(logpath, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *buf, size_t len)
{
	FILE *f = fopen(logpath, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* n raw bytes at the end of the log (a torn write). */
static void append_bytes(const char *data, size_t n)
{
	FILE *f = fopen(logpath, "a");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* The record of seq, as audit_read gives it (a new reference). */
static struct json_object *record_at(uint64_t seq)
{
	struct dock_err e = { 0 };
	struct json_object *arr = NULL, *v, *found = NULL;

	assert_int_equal(audit_read(logpath, NULL, 0, 0, &arr, &e), 0);
	for (size_t i = json_object_array_length(arr); i-- > 0 && found == NULL;) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(o, "seq", &v) &&
		    (uint64_t)json_object_get_int64(v) == seq)
			found = json_object_get(o);
	}
	json_object_put(arr);
	if (found == NULL)
		fail_msg("no record of seq %llu", (unsigned long long)seq);
	return found;
}

static const char *str_of(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v != NULL ? json_object_get_string(v) : "";
}

/* The last record of the current file has seq and action. */
static void expect_action(uint64_t seq, const char *action)
{
	struct json_object *o = record_at(seq);

	assert_string_equal(str_of(o, "action"), action);
	json_object_put(o);
}

/* Files kept aside as damaged; *name gets the last one's path. */
static int count_damaged_named(char *name, size_t size)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".damaged.") != NULL) {
			n++;
			if (name != NULL)
				snprintf(name, size, "%.60s/%.180s", tmpdir, de->d_name);
		}
	closedir(d);
	return n;
}

static int count_damaged(void)
{
	return count_damaged_named(NULL, 0);
}

/* The head the checkpoint names. */
static void read_ckpt(struct chainlog_ckpt *ck)
{
	char p[160], buf[CHAINLOG_CKPT_LEN + 1];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s.head", logpath);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(chainlog_ckpt_parse(buf, n, ck, NULL), 0);
}

/* Start of line n (1-based) in buf. */
static char *line_at(char *buf, int n)
{
	while (--n > 0) {
		buf = strchr(buf, '\n');
		assert_non_null(buf);
		buf++;
	}
	return buf;
}

static size_t line_len(const char *l)
{
	return (size_t)(strchr(l, '\n') - l);
}

/* A log of n records, closed. */
static void make_log(int n)
{
	struct dock_err e = { 0 };
	char node[16];

	clean_dir();
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	for (int i = 1; i <= n; i++) {
		snprintf(node, sizeof(node), "web%d", i % 3);
		assert_int_equal(
			audit_append(i % 2 ? 1000 : AUDIT_UID_DOCK, "start", node, "ok", NULL, &e),
			0);
	}
	audit_close();
}

static void expect_break(uint64_t line, uint64_t good, const char *why)
{
	struct dock_err e = { 0 };
	uint64_t records = 99, bad = 0;

	assert_int_equal(audit_verify(logpath, &records, &bad, &e), -EBADMSG);
	if (strstr(e.de_msg, why) == NULL)
		fail_msg("verify said \"%s\", expected \"%s\"", e.de_msg, why);
	assert_int_equal(bad, line);
	assert_int_equal(records, good);
}

static void expect_intact(uint64_t n)
{
	struct dock_err e = { 0 };
	uint64_t records = 0, bad = 0;

	if (audit_verify(logpath, &records, &bad, &e) != 0)
		fail_msg("verify: %s", e.de_msg);
	assert_int_equal(records, n);
}

/* An independent reading of the definition in audit.h: the hash is the
 * SHA-256 of the line without `,"hash":"…"` (75 bytes + the brace back). */
static void hash_of(const char *body_without_brace, size_t len, char *hex)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char *b = malloc(len + 1);

	assert_non_null(b);
	memcpy(b, body_without_brace, len);
	b[len] = '}';
	crypto_hash_sha256(h, (const unsigned char *)b, len + 1);
	free(b);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

/* A line written by hand, following the documented format. */
static void hand_line(FILE *f, uint64_t seq, const char *time, const char *node, char *prev)
{
	char body[1024], hex[AUDIT_HASH_HEX + 1];
	int n;

	n = snprintf(
		body, sizeof(body),
		"{\"seq\":%llu,\"time\":\"%s\",\"who\":{\"uid\":0},\"action\":\"create\","
		"\"node\":%s%s%s,\"result\":\"ok\",\"detail\":{\"by\":\"hand\"},\"prev\":\"%s\"",
		(unsigned long long)seq, time, node ? "\"" : "", node ? node : "null",
		node ? "\"" : "", prev);
	hash_of(body, (size_t)n, hex);
	fprintf(f, "%s,\"hash\":\"%s\"}\n", body, hex);
	memcpy(prev, hex, sizeof(hex));
}

/* ---- tests ---- */

static void test_chain_and_reopen(void **st)
{
	struct dock_err e = { 0 };
	struct audit_record r1, r2;
	struct json_object *d = json_object_new_object();
	char *buf, *l2, hex[AUDIT_HASH_HEX + 1];
	size_t len;
	(void)st;

	json_object_object_add(d, "template", json_object_new_string("web"));
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_int_equal(audit_last_seq(), 0);
	assert_int_equal(audit_open(logpath, NULL, &e), -EBUSY);
	err_clear(&e);
	assert_int_equal(audit_append(1000, "create", "web1", "ok", d, &e), 0);
	assert_int_equal(audit_append(AUDIT_UID_DOCK, "check-fail", "web1", NULL, NULL, &e), 0);
	assert_int_equal(audit_append(0, "publish", NULL, "error: port 80 is taken", NULL, &e), 0);
	json_object_put(d);
	audit_close();

	/* Reopen: the chain goes on from the last line. */
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_int_equal(audit_last_seq(), 3);
	assert_int_equal(audit_append(1000, "destroy", "web1", "ok", NULL, &e), 0);
	assert_int_equal(audit_last_seq(), 4);
	audit_close();
	expect_intact(4);

	buf = slurp(&len);
	assert_int_equal(audit_parse_line(buf, line_len(buf), &r1, &e), 0);
	assert_true(r1.ar_hash_ok);
	assert_int_equal(r1.ar_seq, 1);
	assert_int_equal(r1.ar_uid, 1000);
	assert_string_equal(r1.ar_action, "create");
	assert_string_equal(r1.ar_node, "web1");
	assert_string_equal(r1.ar_result, "ok");
	assert_string_equal(r1.ar_prev,
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_true(llabs(r1.ar_time - (int64_t)time(NULL)) < 60);
	assert_non_null(strstr(buf, "\"detail\":{\"template\":\"web\"}"));
	/* The hash is what audit.h says it is. */
	hash_of(buf, line_len(buf) - 75, hex);
	assert_string_equal(hex, r1.ar_hash);

	l2 = line_at(buf, 2);
	assert_int_equal(audit_parse_line(l2, line_len(l2), &r2, &e), 0);
	assert_string_equal(r2.ar_prev, r1.ar_hash);
	assert_int_equal(r2.ar_uid, AUDIT_UID_DOCK);
	assert_string_equal(r2.ar_result, "ok");
	assert_non_null(strstr(l2, "\"who\":\"dock\""));
	assert_non_null(strstr(line_at(buf, 3), "\"node\":null"));
	free(buf);

	/* Not open: refused, not lost silently. */
	assert_int_equal(audit_append(0, "start", "web1", "ok", NULL, &e), -EBADF);
	err_clear(&e);
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_int_equal(audit_append(0, "Start", "web1", "ok", NULL, &e), -EINVAL);
	assert_int_equal(audit_append(0, "", "web1", "ok", NULL, NULL), -EINVAL);
	assert_int_equal(audit_append(0, NULL, "web1", "ok", NULL, NULL), -EINVAL);
	assert_int_equal(audit_append(-2, "start", "web1", "ok", NULL, NULL), -EINVAL);
	audit_close();
	expect_intact(4);
}

static void test_edit_in_the_middle(void **st)
{
	char *buf, *l, *res;
	size_t len;
	(void)st;

	make_log(10);
	buf = slurp(&len);
	l = line_at(buf, 5);
	res = strstr(l, "\"result\":\"ok\"");
	assert_non_null(res);
	res[11] = 'K'; /* "ok" -> "oK" */
	spit(buf, len);
	expect_break(5, 4, "line 5 (seq 5): hash mismatch");
	free(buf);
}

static void test_forged_hash(void **st)
{
	char *buf, *l, *res, hex[AUDIT_HASH_HEX + 1];
	size_t len, ll;
	(void)st;

	/* A forger who edits line 5 and recomputes its hash breaks line 6. */
	make_log(10);
	buf = slurp(&len);
	l = line_at(buf, 5);
	res = strstr(l, "\"result\":\"ok\"");
	res[11] = 'K';
	ll = line_len(l);
	hash_of(l, ll - 75, hex);
	memcpy(l + ll - 66, hex, AUDIT_HASH_HEX);
	spit(buf, len);
	expect_break(6, 5, "line 6 (seq 6): prev is not the hash of the record before it");
	free(buf);
}

static void test_delete_line(void **st)
{
	char *buf, *l, *next;
	size_t len;
	(void)st;

	make_log(10);
	buf = slurp(&len);
	l = line_at(buf, 5);
	next = line_at(buf, 6);
	memmove(l, next, len - (size_t)(next - buf) + 1);
	spit(buf, strlen(buf));
	expect_break(5, 4, "line 5: seq 6 where 5 was expected");
	free(buf);

	/* The first line gone: the second cannot start a chain. */
	make_log(3);
	buf = slurp(&len);
	next = line_at(buf, 2);
	spit(next, strlen(next));
	expect_break(1, 0, "line 1: seq 2 does not continue the chain");
	free(buf);
}

static void test_truncate_last(void **st)
{
	struct dock_err e = { 0 };
	char *buf;
	size_t len, l10;
	(void)st;

	/* A last line cut mid-write, the records before it ending at the
	 * checkpoint: what a crash leaves. verify names it; open trims it. */
	make_log(10);
	buf = slurp(&len);
	l10 = line_len(line_at(buf, 10));
	append_bytes(line_at(buf, 3), l10 / 2);
	expect_break(11, 10, "line 11: truncated");
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_string_equal(audit_alarm(), "");
	assert_int_equal(audit_last_seq(), 11);
	audit_close();
	expect_intact(11);
	expect_action(11, "audit-torn-tail");
	assert_int_equal(count_damaged(), 0);
	free(buf);

	/* Cut inside the last record: the records before it end one short of
	 * the checkpoint. That is not a crash: damage. */
	make_log(10);
	buf = slurp(&len);
	l10 = line_len(line_at(buf, 10));
	spit(buf, len - 1 - l10 / 2);
	expect_break(10, 9, "line 10: truncated");
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_non_null(strstr(audit_alarm(),
			       "a torn last line after seq 9, where the checkpoint says seq 10"));
	audit_close();
	assert_int_equal(count_damaged(), 1);
	expect_action(1, "audit-restart");
	free(buf);
}

static void test_reorder(void **st)
{
	char *buf, *out, *l3, *l4, *l5;
	size_t len, a, b;
	(void)st;

	make_log(10);
	buf = slurp(&len);
	l3 = line_at(buf, 3);
	l4 = line_at(buf, 4);
	l5 = line_at(buf, 5);
	a = (size_t)(l4 - l3);
	b = (size_t)(l5 - l4);
	out = malloc(len);
	assert_non_null(out);
	memcpy(out, buf, (size_t)(l3 - buf));
	memcpy(out + (l3 - buf), l4, b);
	memcpy(out + (l3 - buf) + b, l3, a);
	memcpy(out + (l5 - buf), l5, len - (size_t)(l5 - buf));
	spit(out, len);
	expect_break(3, 2, "line 3: seq 4 where 3 was expected");
	free(out);
	free(buf);
}

static void test_read_filters(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *arr = NULL, *o, *v;
	char prev[AUDIT_HASH_HEX + 1];
	FILE *f;
	(void)st;

	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	f = fopen(logpath, "w");
	assert_non_null(f);
	hand_line(f, 1, "2024-01-01T00:00:00Z", "web1", prev); /* 1704067200 */
	hand_line(f, 2, "2024-01-02T00:00:00Z", "web2", prev);
	hand_line(f, 3, "2024-01-03T00:00:00Z", NULL, prev);
	hand_line(f, 4, "2024-01-04T00:00:00Z", "web1", prev);
	hand_line(f, 5, "2024-01-05T00:00:00Z", "web1", prev);
	fputs("not a record\n", f);
	fclose(f);
	expect_break(6, 5, "line 6: not a record");

	assert_int_equal(audit_read(logpath, NULL, 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 5);
	json_object_put(arr);

	assert_int_equal(audit_read(logpath, "web1", 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	o = json_object_array_get_idx(arr, 2);
	assert_true(json_object_object_get_ex(o, "seq", &v));
	assert_int_equal(json_object_get_int64(v), 5);
	assert_true(json_object_object_get_ex(o, "hash", &v));
	assert_int_equal(strlen(json_object_get_string(v)), 64);
	json_object_put(arr);

	assert_int_equal(audit_read(logpath, "web1", 1704067200 + 86400, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 2);
	json_object_put(arr);

	assert_int_equal(audit_read(logpath, NULL, 1704067200 + 2 * 86400, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	json_object_put(arr);

	/* max keeps the most recent, oldest first. */
	assert_int_equal(audit_read(logpath, NULL, 0, 2, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 2);
	json_object_object_get_ex(json_object_array_get_idx(arr, 0), "seq", &v);
	assert_int_equal(json_object_get_int64(v), 4);
	json_object_put(arr);

	assert_int_equal(audit_read(logpath, "nobody", 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);

	/* The cut is said: 5 matched, 3 left out. */
	{
		struct audit_page p = { .ap_limit = 2 };
		assert_int_equal(audit_read_page(logpath, NULL, 0, &p, &arr, &e), 0);
		assert_int_equal(json_object_array_length(arr), 2);
		assert_int_equal(p.ap_matched, 5);
		assert_true(p.ap_more);
		json_object_put(arr);
	}
	/* The cursor: the first 2 after seq 1, then after 3, then none more. */
	{
		struct audit_page p = { .ap_cursor = true, .ap_after = 1, .ap_limit = 2 };
		assert_int_equal(audit_read_page(logpath, NULL, 0, &p, &arr, &e), 0);
		assert_int_equal(json_object_array_length(arr), 2);
		json_object_object_get_ex(json_object_array_get_idx(arr, 0), "seq", &v);
		assert_int_equal(json_object_get_int64(v), 2);
		assert_int_equal(p.ap_matched, 4);
		assert_true(p.ap_more);
		json_object_put(arr);
		p = (struct audit_page){ .ap_cursor = true, .ap_after = 3, .ap_limit = 2 };
		assert_int_equal(audit_read_page(logpath, NULL, 0, &p, &arr, &e), 0);
		assert_int_equal(json_object_array_length(arr), 2);
		json_object_object_get_ex(json_object_array_get_idx(arr, 1), "seq", &v);
		assert_int_equal(json_object_get_int64(v), 5);
		assert_false(p.ap_more);
		json_object_put(arr);
		p = (struct audit_page){ .ap_cursor = true, .ap_after = 1, .ap_limit = 5 };
		assert_int_equal(audit_read_page(logpath, "web1", 0, &p, &arr, &e), 0);
		assert_int_equal(json_object_array_length(arr), 2); /* 4 and 5 */
		assert_false(p.ap_more);
		json_object_put(arr);
	}

	assert_int_equal(audit_read("/nonexistent/audit.log", NULL, 0, 0, &arr, &e), -ENOENT);
	assert_int_equal(e.de_status, 404);
}

static void test_huge_garbage(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *arr = NULL;
	const size_t big = 24u << 20;
	char *junk = malloc(big);
	char prev[AUDIT_HASH_HEX + 1];
	FILE *f;
	(void)st;

	assert_non_null(junk);
	randombytes_buf(junk, big);
	for (size_t i = 0; i < big; i++)
		if (junk[i] == '\n')
			junk[i] = 'x';

	/* 24 MiB without a newline. */
	spit(junk, big);
	expect_break(1, 0, "line 1: longer than 8192 bytes");
	assert_int_equal(audit_read(logpath, NULL, 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	/* No checkpoint and not a log: damage, kept aside. */
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_non_null(strstr(audit_alarm(), "longer than 8192"));
	audit_close();

	/* Good records around a 1 MiB line: verify stops there, read skips it. */
	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	f = fopen(logpath, "w");
	assert_non_null(f);
	hand_line(f, 1, "2024-01-01T00:00:00Z", "web1", prev);
	hand_line(f, 2, "2024-01-01T00:00:01Z", "web1", prev);
	fwrite(junk, 1, 1u << 20, f);
	fputc('\n', f);
	hand_line(f, 3, "2024-01-01T00:00:02Z", "web1", prev);
	/* A line just over the limit, then just at it. */
	fwrite(junk, 1, AUDIT_LINE_MAX + 1, f);
	fputc('\n', f);
	fclose(f);
	expect_break(3, 2, "line 3: longer than 8192 bytes");
	assert_int_equal(audit_read(logpath, "web1", 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	json_object_put(arr);
	/* A log that is not whole is not extended: kept aside. */
	err_clear(&e);
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_non_null(strstr(audit_alarm(), "line 3: longer than 8192"));
	audit_close();
	free(junk);
}

static void test_parse_limits(void **st)
{
	struct dock_err e = { 0 };
	struct audit_record r;
	char line[AUDIT_LINE_MAX * 2];
	static const char *const bad[] = {
		"",
		"{}",
		"[]",
		"{\"seq\":1}",
		/* wrong member order */
		"{\"time\":\"2024-01-01T00:00:00Z\",\"seq\":1,\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\""
		"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* seq 0 */
		"{\"seq\":0,\"time\":\"2024-01-01T00:00:00Z\",\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* 30 February */
		"{\"seq\":1,\"time\":\"2024-02-30T00:00:00Z\",\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* who is someone else */
		"{\"seq\":1,\"time\":\"2024-01-01T00:00:00Z\",\"who\":\"root\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* uid out of range */
		"{\"seq\":1,\"time\":\"2024-01-01T00:00:00Z\",\"who\":{\"uid\":4294967295},\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* upper-case hex */
		"{\"seq\":1,\"time\":\"2024-01-01T00:00:00Z\",\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"000000000000000000000000000000000000000000000000000000000000000A"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		/* blank after the hash member: not the bytes the hash covers */
		"{\"seq\":1,\"time\":\"2024-01-01T00:00:00Z\",\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\" }",
	};
	static const char good[] =
		"{\"seq\":1,\"time\":\"2024-01-01T00:00:00Z\",\"who\":\"dock\",\"action\":\"a\",\"node\":null,"
		"\"result\":\"ok\",\"detail\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}";
	size_t n;
	(void)st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		if (audit_parse_line(bad[i], strlen(bad[i]), &r, &e) == 0)
			fail_msg("accepted bad line %zu: %s", i, bad[i]);
		assert_true(e.de_msg[0] != '\0');
	}
	/* Well formed, wrong hash: parsed, flagged. */
	assert_int_equal(audit_parse_line(good, strlen(good), &r, &e), 0);
	assert_false(r.ar_hash_ok);
	assert_string_equal(r.ar_node, "");
	assert_int_equal(r.ar_time, 1704067200);

	/* Too deep a detail. */
	n = (size_t)snprintf(line, sizeof(line), "%.*s{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}%s",
			     (int)(strstr(good, "\"detail\":{}") - good + 9), good,
			     strstr(good, "\"detail\":{}") + 11);
	err_clear(&e);
	assert_int_equal(audit_parse_line(line, n, &r, &e), -EINVAL);
	/* Over the length limit. */
	memset(line, ' ', sizeof(line));
	err_clear(&e);
	assert_int_equal(audit_parse_line(line, AUDIT_LINE_MAX + 1, &r, &e), -E2BIG);
}

static void test_unruly_input(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *d, *deep, *arr = NULL, *o, *v;
	char big[AUDIT_LINE_MAX * 2];
	const char *s;
	(void)st;

	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	/* A detail too large for a line: the event is kept, the detail dropped. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	d = json_object_new_object();
	json_object_object_add(d, "blob", json_object_new_string(big));
	assert_int_equal(audit_append(0, "snapshot", "web1", "ok", d, &e), 0);
	json_object_put(d);
	/* Too deep, and NaN: the same. */
	deep = json_object_new_object();
	d = deep;
	for (int i = 0; i < 10; i++) {
		struct json_object *c = json_object_new_object();
		json_object_object_add(d, "x", c);
		d = c;
	}
	assert_int_equal(audit_append(0, "snapshot", "web1", "ok", deep, &e), 0);
	json_object_put(deep);
	d = json_object_new_object();
	json_object_object_add(d, "ratio", json_object_new_double(NAN));
	assert_int_equal(audit_append(0, "snapshot", "web1", "ok", d, &e), 0);
	json_object_put(d);
	/* Hostile strings: newlines, quotes, invalid UTF-8, a huge result and node. */
	assert_int_equal(audit_append(0, "hostile-input", "web1\n{\"seq\":9}",
				      "error: \xff\xfe bad \"quote\"\n\x01", NULL, &e),
			 0);
	assert_int_equal(audit_append(0, "create", big, big, NULL, &e), 0);
	/* A caller's detail cut mid-character. */
	d = json_object_new_object();
	json_object_object_add(d, "msg", json_object_new_string("caf\xc3"));
	assert_int_equal(audit_append(0, "check-fail", "web1", "ok", d, &e), 0);
	json_object_put(d);
	audit_close();
	expect_intact(6);

	assert_int_equal(audit_read(logpath, NULL, 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 6);
	o = json_object_array_get_idx(arr, 0);
	json_object_object_get_ex(o, "detail", &v);
	assert_true(json_object_object_get_ex(v, "dropped", &v));
	for (size_t i = 1; i <= 2; i++) { /* too deep, NaN */
		o = json_object_array_get_idx(arr, i);
		json_object_object_get_ex(o, "detail", &v);
		assert_true(json_object_object_get_ex(v, "dropped", &v));
	}
	o = json_object_array_get_idx(arr, 3);
	json_object_object_get_ex(o, "result", &v);
	assert_string_equal(json_object_get_string(v), "error: ?? bad \"quote\"\n\x01");
	o = json_object_array_get_idx(arr, 4);
	json_object_object_get_ex(o, "node", &v);
	assert_int_equal(json_object_get_string_len(v), AUDIT_NODE_MAX - 1);
	json_object_object_get_ex(o, "result", &v);
	assert_int_equal(json_object_get_string_len(v), AUDIT_RESULT_MAX - 1);
	o = json_object_array_get_idx(arr, 5);
	json_object_object_get_ex(o, "detail", &v);
	json_object_object_get_ex(v, "msg", &v);
	s = json_object_get_string(v);
	assert_string_equal(s, "caf?");
	json_object_put(arr);
}

#define THREADS    4
#define PER_THREAD 100

static void *appender(void *arg)
{
	struct dock_err e = { 0 };
	intptr_t id = (intptr_t)arg;
	char node[16];
	int failed = 0;

	snprintf(node, sizeof(node), "node%d", (int)id);
	for (int i = 0; i < PER_THREAD; i++) {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "i", json_object_new_int(i));
		if (audit_append(1000 + id, "start", node, "ok", d, &e) < 0)
			failed++;
		json_object_put(d);
	}
	return (void *)(intptr_t)failed;
}

static void test_concurrent(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *arr = NULL;
	pthread_t t[THREADS];
	void *ret;
	(void)st;

	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, appender, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_int_equal((intptr_t)ret, 0);
	}
	assert_int_equal(audit_last_seq(), THREADS * PER_THREAD);
	audit_close();
	expect_intact(THREADS * PER_THREAD);
	assert_int_equal(audit_read(logpath, "node2", 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), PER_THREAD);
	json_object_put(arr);
}

/* ---- the anchor: checkpoint, damage, restart ---- */

/* Damage found at open: kept aside with its sha256, and the new chain's
 * first record links to the old head. */
static void expect_restart(const struct chainlog_ckpt *old, const char *why, bool kept)
{
	struct dock_err e = { 0 };
	struct json_object *o, *d, *h;
	char damaged[256] = "", hex[SHA256_HEX_LEN + 1];

	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	if (strstr(audit_alarm(), why) == NULL)
		fail_msg("alarm \"%s\", expected \"%s\"", audit_alarm(), why);
	assert_int_equal(audit_last_seq(), 1);
	audit_close();
	assert_int_equal(count_damaged_named(damaged, sizeof(damaged)), kept ? 1 : 0);
	o = record_at(1);
	assert_string_equal(str_of(o, "action"), "audit-restart");
	assert_string_equal(str_of(o, "prev"), old->ck_hash);
	assert_true(json_object_object_get_ex(o, "detail", &d));
	assert_true(json_object_object_get_ex(d, "old_head", &h));
	assert_string_equal(str_of(h, "hash"), old->ck_hash);
	assert_int_equal(json_object_get_int64(json_object_object_get(h, "seq")),
			 (int64_t)old->ck_seq);
	if (kept) {
		assert_int_equal(sha256_file(damaged, hex, NULL, NULL), 0);
		assert_string_equal(str_of(d, "sha256"), hex);
		assert_string_equal(str_of(d, "kept_as"), damaged);
	}
	assert_non_null(strstr(str_of(o, "result"), why));
	json_object_put(o);
	/* The new chain verifies; the restart is counted, not hidden. */
	expect_intact(1);
}

static void test_truncation_detected(void **st)
{
	struct chainlog_ckpt old;
	char *buf;
	size_t len;
	(void)st;

	/* The last two lines cut at a line boundary, with the dock down:
	 * before checkpoints this read as intact. */
	make_log(10);
	read_ckpt(&old);
	buf = slurp(&len);
	spit(buf, (size_t)(line_at(buf, 9) - buf));
	expect_break(0, 8,
		     "truncated or rolled back: the log ends at seq 8, the checkpoint says seq 10");
	expect_restart(&old, "truncated or rolled back", true);
	free(buf);
}

static void test_rollback_detected(void **st)
{
	struct dock_err e = { 0 };
	struct chainlog_ckpt old;
	char *buf, ck[160], aside[170];
	size_t len;
	(void)st;

	/* A copy taken at seq 5 put back after seq 8. */
	make_log(5);
	buf = slurp(&len);
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_append(0, "stop", "web1", "ok", NULL, &e), 0);
	audit_close();
	read_ckpt(&old);
	spit(buf, len);
	expect_break(0, 5,
		     "truncated or rolled back: the log ends at seq 5, the checkpoint says seq 8");

	/* ... and a chain forged on from the copy, as long as the original:
	 * every line checks, the record at the checkpoint's seq is not its. */
	snprintf(ck, sizeof(ck), "%s.head", logpath);
	snprintf(aside, sizeof(aside), "%s.aside", ck);
	assert_int_equal(rename(ck, aside), 0);
	assert_int_equal(audit_open(logpath, NULL, &e), 0); /* "trusted": seq 6 */
	assert_int_equal(audit_append(0, "start", "web1", "ok", NULL, &e), 0);
	assert_int_equal(audit_append(0, "start", "web1", "ok", NULL, &e), 0);
	audit_close();
	assert_int_equal(rename(aside, ck), 0);
	expect_break(0, 8, "rolled back or rewritten: the record at seq 8 is not the one");
	expect_restart(&old, "rolled back or rewritten", true);
	free(buf);
}

static void test_deletion_detected(void **st)
{
	struct chainlog_ckpt old;
	(void)st;

	make_log(3);
	read_ckpt(&old);
	assert_int_equal(unlink(logpath), 0);
	expect_break(0, 0, "deleted: the log is gone, its checkpoint names seq 3");
	expect_restart(&old, "deleted", false);

	/* Emptied in place is deletion too. */
	make_log(3);
	read_ckpt(&old);
	spit("", 0);
	expect_break(0, 0, "deleted: the log holds no record");
	expect_restart(&old, "deleted", true);
}

/* A log written by the code before checkpoints (0ca61eb), read and
 * upgraded: trusted once, and the chain says so. */
static void test_legacy_trusted_once(void **st)
{
	struct dock_err e = { 0 };
	struct json_object *o, *d;
	char *buf = NULL;
	size_t len = 0;
	(void)st;

	assert_int_equal(
		file_read("tests/unit/fixtures/audit-before-checkpoint.log", 1 << 20, &buf, &len),
		0);
	spit(buf, len);
	free(buf);
	expect_intact(5);
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_string_equal(audit_alarm(), "");
	assert_int_equal(audit_last_seq(), 6);
	audit_close();
	o = record_at(6);
	assert_string_equal(str_of(o, "action"), "audit-trusted");
	assert_true(json_object_object_get_ex(o, "detail", &d));
	assert_string_equal(str_of(d, "head_hash"),
			    "ff29dddbe1097676235096d4444e3519ac8f547fdc60a7173c501525e51503fe");
	json_object_put(o);
	/* Once: the next start finds a checkpoint and records nothing more. */
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_int_equal(audit_last_seq(), 6);
	assert_int_equal(audit_append(0, "start", "web1", "ok", NULL, &e), 0);
	audit_close();
	expect_intact(7);
	assert_int_equal(count_damaged(), 0);
}

static void test_rotation_verifies_across_files(void **st)
{
	const struct audit_opts o = { .ao_rotate = 2000 };
	struct dock_err e = { 0 };
	struct json_object *arr = NULL;
	char f1[170], f2[170], aside[180];
	(void)st;

	assert_int_equal(audit_open(logpath, &o, &e), 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(audit_append(0, "start", "web1", "ok", NULL, &e), 0);
	audit_close();
	snprintf(f1, sizeof(f1), "%s.1", logpath);
	snprintf(f2, sizeof(f2), "%s.2", logpath);
	assert_int_equal(access(f2, F_OK), 0);
	expect_intact(30);
	/* Reopened, the chain goes on in the current file. */
	assert_int_equal(audit_open(logpath, &o, &e), 0);
	assert_string_equal(audit_alarm(), "");
	assert_int_equal(audit_append(0, "stop", "web1", "ok", NULL, &e), 0);
	audit_close();
	expect_intact(31);
	assert_int_equal(audit_read(logpath, "web1", 0, 0, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 31);
	json_object_put(arr);
	/* A rotated file gone: the next does not continue the chain. */
	snprintf(aside, sizeof(aside), "%s.x", f1);
	assert_int_equal(rename(f1, aside), 0);
	expect_break(1, 0, "line 1: seq");
	assert_int_equal(rename(aside, f1), 0);
	/* The last rotated file gone: the current one does not continue. */
	for (int i = 2;; i++) {
		char fn[170], next[170];
		snprintf(fn, sizeof(fn), "%s.%d", logpath, i);
		snprintf(next, sizeof(next), "%s.%d", logpath, i + 1);
		if (access(next, F_OK) != 0) {
			assert_int_equal(rename(fn, aside), 0);
			break;
		}
	}
	{
		uint64_t records, bad;
		err_clear(&e);
		assert_int_equal(audit_verify(logpath, &records, &bad, &e), -EBADMSG);
		assert_non_null(strstr(e.de_msg, "does not continue the chain"));
	}
}

/* The record cannot be written (a file size limit): the intent fails,
 * nothing is added, and the log stays whole. */
static void test_append_fails_closed(void **st)
{
	struct dock_err e = { 0 };
	struct rlimit old, lim;
	struct stat a, b;
	(void)st;

	make_log(3);
	assert_int_equal(stat(logpath, &a), 0);
	assert_int_equal(audit_open(logpath, NULL, &e), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)a.st_size + 64;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_true(audit_intent(0, "create", "web1", NULL, false, &e) < 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(e.de_status, 503);
	assert_non_null(strstr(e.de_msg, "audit log"));
	assert_non_null(strstr(e.de_msg, logpath));
	assert_int_equal(stat(logpath, &b), 0);
	assert_int_equal(b.st_size, a.st_size);
	/* And the chain goes on from the last whole record. */
	err_clear(&e);
	assert_int_equal(audit_intent(0, "create", "web1", NULL, false, &e), 0);
	audit_close();
	expect_intact(4);
	expect_action(4, "create");
}

/* A full filesystem: the reserve lets stop and destroy (and the records of
 * what happened) through, refuses the rest, and never tears a line. */
static void test_reserve_on_full_fs(void **st)
{
	const struct audit_opts o = { .ao_reserve = 64 * 1024 };
	struct dock_err e = { 0 };
	char mnt[80], fill[128], saved[sizeof(logpath)];
	int fd, n = 0, k = 0;
	(void)st;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		skip(); /* needs root; the e2e suite runs as root */
	snprintf(mnt, sizeof(mnt), "%.64s/fs", tmpdir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
	memcpy(saved, logpath, sizeof(saved));
	snprintf(logpath, sizeof(logpath), "%.70s/audit.log", mnt);
	assert_int_equal(audit_open(logpath, &o, &e), 0);
	assert_int_equal(audit_append(0, "create", "web1", "ok", NULL, &e), 0);
	/* Fill the rest, by hand. */
	snprintf(fill, sizeof(fill), "%s/fill", mnt);
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	{
		static char block[4096];
		while (write(fd, block, sizeof(block)) > 0)
			;
	}
	close(fd);
	/* What fits in the last allocated page goes; then the reserve is
	 * kept. */
	while (k < 64 && audit_intent(0, "start", "web1", NULL, false, &e) == 0)
		k++;
	assert_true(k < 64);
	assert_int_equal(e.de_status, 503);
	assert_non_null(strstr(e.de_msg, "the filesystem is full"));
	err_clear(&e);
	assert_int_equal(audit_intent(0, "stop", "web1", NULL, true, &e), 0);
	assert_int_equal(audit_append(0, "stop", "web1", "ok", NULL, &e), 0);
	assert_int_equal(audit_intent(0, "destroy", "web1", NULL, true, &e), 0);
	/* The reserve runs out at last: refused whole, never torn. */
	while (audit_append(AUDIT_UID_DOCK, "check-failed", "web1", "ok", NULL, &e) == 0)
		n++;
	assert_true(n > 10);
	audit_close();
	expect_intact(4 + (uint64_t)k + (uint64_t)n);
	/* Space freed (destroy did its work): actions are recorded again. */
	unlink(fill);
	assert_int_equal(audit_open(logpath, &o, &e), 0);
	assert_int_equal(audit_intent(0, "create", "web2", NULL, false, &e), 0);
	audit_close();
	clean_dir_at(mnt);
	umount(mnt);
	rmdir(mnt);
	memcpy(logpath, saved, sizeof(saved));
}

static void test_checkpoint_parse(void **st)
{
	struct chainlog_ckpt ck = { .ck_seq = 42, .ck_first = 40, .ck_files = 3, .ck_size = 9000 },
			     back;
	char buf[CHAINLOG_CKPT_LEN];
	(void)st;

	memset(ck.ck_hash, 'a', CHAINLOG_HASH_HEX);
	ck.ck_hash[CHAINLOG_HASH_HEX] = '\0';
	chainlog_ckpt_format(&ck, buf);
	assert_int_equal(chainlog_ckpt_parse(buf, sizeof(buf), &back, NULL), 0);
	assert_memory_equal(&ck, &back, sizeof(ck));
	buf[30] = 'x';
	assert_true(chainlog_ckpt_parse(buf, sizeof(buf), &back, NULL) < 0);
	assert_true(chainlog_ckpt_parse(buf, 10, &back, NULL) < 0);
	chainlog_ckpt_format(&ck, buf);
	buf[CHAINLOG_CKPT_LEN - 2] = 'z'; /* trailing bytes */
	assert_true(chainlog_ckpt_parse(buf, sizeof(buf), &back, NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_in_the_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unruly_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletion_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_trusted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_verifies_across_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_parse, setup, teardown),
		/* last: it leaves the process in its own mount namespace */
		cmocka_unit_test_setup_teardown(test_reserve_on_full_fs, setup, teardown),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
