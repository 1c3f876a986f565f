/* Unit tests of common/timearg.c: the times `logs --since` and
 * `audit --since` take (RFC 3339, an age, UNIX seconds), their bounds and
 * the one-line refusals naming the input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timearg.h"

/* 2026-12-05T10:00:00Z */
#define NOW ((time_t)1796464800)

static time_t ok(const char *text)
{
	struct dock_err err = { 0 };
	time_t t = -1;

	if (timearg_parse("since", text, NOW, &t, &err) != 0)
		fail_msg("\"%s\" refused: %s", text, err.de_msg);
	return t;
}

static const char *refused(const char *text)
{
	static struct dock_err err;
	time_t t = 12345;

	memset(&err, 0, sizeof(err));
	if (timearg_parse("since", text, NOW, &t, &err) != -err.de_errno || err.de_errno == 0)
		fail_msg("\"%s\" accepted", text);
	assert_int_equal(t, 12345); /* untouched */
	assert_int_equal(err.de_status, 400);
	return err.de_msg;
}

static void test_rfc3339(void **state)
{
	(void)state;
	assert_int_equal(ok("2026-12-05T10:00:00Z"), NOW);
	assert_int_equal(ok("2026-12-05t10:00:00z"), NOW);
	assert_int_equal(ok("2026-12-05 10:00:00Z"), NOW);
	assert_int_equal(ok("2026-12-05T11:00:00+01:00"), NOW);
	assert_int_equal(ok("2026-12-05T04:30:00-05:30"), NOW);
	assert_int_equal(ok("2026-12-05T10:00:00.999999999Z"), NOW);
	assert_int_equal(ok("2026-12-05T10:00:00.5+00:00"), NOW);
	assert_int_equal(ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(ok("2000-02-29T00:00:00Z"), 951782400);
	assert_int_equal(ok("2024-02-29T12:00:00Z"), 1709208000);
	assert_int_equal(ok("2026-12-05T09:59:60Z"), NOW); /* a leap second */
	assert_int_equal(ok("9999-12-31T23:59:59Z"), (time_t)INT64_C(253402300799));
}

static void test_age_and_unix(void **state)
{
	(void)state;
	assert_int_equal(ok("90s"), NOW - 90);
	assert_int_equal(ok("10m"), NOW - 600);
	assert_int_equal(ok("6h"), NOW - 6 * 3600);
	assert_int_equal(ok("2d"), NOW - 2 * 86400);
	assert_int_equal(ok("1w"), NOW - 7 * 86400);
	assert_int_equal(ok("1h30m"), NOW - 5400);
	assert_int_equal(ok("0s"), NOW);
	assert_int_equal(ok("1796464800"), NOW);
	assert_int_equal(ok("0"), 0);
	assert_int_equal(ok("253402300799"), (time_t)INT64_C(253402300799));
}

static void test_refusals(void **state)
{
	char longer[200];

	(void)state;
	assert_string_equal(refused("yesterday"),
			    "since \"yesterday\" is not a time: give RFC 3339 "
			    "(2026-12-05T10:00:00Z, 2026-12-05T11:00:00+01:00), an age (90s, "
			    "10m, 6h, 2d, 1h30m) or UNIX seconds");
	refused("");
	refused("-5");
	refused("10x");
	refused("m");
	refused("10m5");
	refused("1.5h");
	refused("2026-12-05");
	refused("2026-12-05T10:00Z");
	refused("2026-12-05T10:00:00");
	refused("2026-13-05T10:00:00Z");
	refused("2026-02-29T10:00:00Z");
	refused("2026-12-32T10:00:00Z");
	refused("2026-12-05T24:00:00Z");
	refused("2026-12-05T10:60:00Z");
	refused("2026-12-05T10:00:61Z");
	refused("2026-12-05T10:00:00+24:00");
	refused("2026-12-05T10:00:00+0100");
	refused("2026-12-05T10:00:00.Z");
	refused("2026-12-05T10:00:00.1234567890Z");
	refused("2026-12-05T10:00:00Z ");
	refused(" 2026-12-05T10:00:00Z");
	refused("+2026-12-05T10:00:00Z");
	assert_string_equal(refused("1969-12-31T23:59:59Z"),
			    "since \"1969-12-31T23:59:59Z\" is before 1970 or after 9999");
	assert_string_equal(refused("9999-12-31T23:59:59-01:00"),
			    "since \"9999-12-31T23:59:59-01:00\" is before 1970 or after 9999");
	assert_string_equal(refused("999999999999"),
			    "since \"999999999999\" is after the year 9999");
	assert_string_equal(refused("999999999w"), "since \"999999999w\" reaches back before 1970");
	refused("9999999999w"); /* more digits than an age takes */
	/* the input is escaped in the message, and cut when too long */
	assert_string_equal(refused("\x1b]52;c;x\x07"),
			    "since \"\\x1b]52;c;x\\x07\" is not a time: give RFC 3339 "
			    "(2026-12-05T10:00:00Z, 2026-12-05T11:00:00+01:00), an age (90s, "
			    "10m, 6h, 2d, 1h30m) or UNIX seconds");
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_non_null(strstr(refused(longer), "is longer than 64 characters"));
}

static void test_boot_marker_form(void **state)
{
	const char *m = "2026-12-05T10:00:00Z --";
	time_t t = 0;

	(void)state;
	/* exactly s[0..len): the marker's time without what follows */
	assert_int_equal(timearg_rfc3339(m, 20, &t), 0);
	assert_int_equal(t, NOW);
	assert_int_not_equal(timearg_rfc3339(m, 21, &t), 0);
	assert_int_not_equal(timearg_rfc3339(m, 19, &t), 0);
}

static void test_format(void **state)
{
	char buf[TIMEARG_RFC3339_SIZE], small[8] = "x";
	time_t t = 0;

	(void)state;
	timearg_format(NOW, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-05T10:00:00Z");
	assert_int_equal(timearg_rfc3339(buf, strlen(buf), &t), 0);
	assert_int_equal(t, NOW);
	timearg_format(NOW, small, sizeof(small));
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),  cmocka_unit_test(test_age_and_unix),
		cmocka_unit_test(test_refusals), cmocka_unit_test(test_boot_marker_form),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
