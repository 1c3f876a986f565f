/* timearg: a point in time as a person types it (the forms are in
 * timearg.h). Pure: no I/O, no globals; calendar arithmetic by hand, so
 * no time zone of the process ever enters. */
#include "timearg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* 9999-12-31T23:59:59Z: the last second four digits of year can say. */
#define TIMEARG_T_MAX INT64_C(253402300799)
/* A UNIX time: at most this many digits; a number in an age: at most
 * TIMEARG_AGE_DIGITS (so 32 terms of 10^9 weeks stay far below INT64_MAX). */
#define TIMEARG_DIGITS_MAX 12
#define TIMEARG_AGE_DIGITS 9

/* The number of n digits at s, or -1 when one of them is not a digit. */
static int64_t timearg_num(const char *s, size_t n)
{
	int64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar
 * (the civil-from-days inverse, by eras of 400 years). */
static int64_t timearg_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int timearg_mdays(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* The zone at s[0..n): "Z", "z" or "+HH:MM"/"-HH:MM", as seconds east of
 * UTC; false when it is none of them. */
static bool timearg_zone(const char *s, size_t n, int64_t *east)
{
	int64_t h, m;

	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*east = 0;
		return true;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
		return false;
	h = timearg_num(s + 1, 2);
	m = timearg_num(s + 4, 2);
	if (h < 0 || m < 0 || h > 23 || m > 59)
		return false;
	*east = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return true;
}

int timearg_rfc3339(const char *s, size_t len, time_t *out)
{
	int64_t y, mo, d, h, mi, sec, east, t;
	size_t at = 19;

	/* YYYY-MM-DDTHH:MM:SS, then a fraction, then the zone */
	if (len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	y = timearg_num(s, 4);
	mo = timearg_num(s + 5, 2);
	d = timearg_num(s + 8, 2);
	h = timearg_num(s + 11, 2);
	mi = timearg_num(s + 14, 2);
	sec = timearg_num(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > timearg_mdays(y, (int)mo) || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -EINVAL;
	if (s[at] == '.') {
		size_t f = ++at;
		while (at < len && at - f < 10 && s[at] >= '0' && s[at] <= '9')
			at++;
		if (at == f || at - f > 9) /* a second is cut to whole seconds anyway */
			return -EINVAL;
	}
	if (!timearg_zone(s + at, len - at, &east))
		return -EINVAL;
	t = timearg_days(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + sec - east;
	if (t < 0 || t > TIMEARG_T_MAX)
		return -ERANGE;
	*out = (time_t)t;
	return 0;
}

/* An age: one or more NUMBER UNIT, in seconds; -1 when it is not one. */
static int64_t timearg_age(const char *s, size_t len)
{
	int64_t total = 0;
	size_t at = 0;

	while (at < len) {
		size_t f = at;
		int64_t n, unit;
		while (at < len && s[at] >= '0' && s[at] <= '9')
			at++;
		if (at == f || at - f > TIMEARG_AGE_DIGITS || at == len)
			return -1;
		n = timearg_num(s + f, at - f);
		switch (s[at++]) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -1;
		}
		total += n * unit;
	}
	return total;
}

int timearg_parse(const char *what, const char *text, time_t now, time_t *out, struct dock_err *err)
{
	char shown[ESCAPE_SIZE(TIMEARG_TEXT_MAX)];
	size_t len = strnlen(text, TIMEARG_TEXT_MAX + 1);
	int64_t v, age;
	time_t t;
	int r;

	escape_buf(shown, sizeof(shown), text, len > TIMEARG_TEXT_MAX ? TIMEARG_TEXT_MAX : len, 0);
	if (len > TIMEARG_TEXT_MAX)
		return err_set(err, 400, EINVAL, "%s \"%s...\" is longer than %d characters", what,
			       shown, TIMEARG_TEXT_MAX);
	if (len > 0 && len <= TIMEARG_DIGITS_MAX && (v = timearg_num(text, len)) >= 0) {
		if (v > TIMEARG_T_MAX)
			return err_set(err, 400, ERANGE, "%s \"%s\" is after the year 9999", what,
				       shown);
		*out = (time_t)v;
		return 0;
	}
	r = timearg_rfc3339(text, len, &t);
	if (r == 0) {
		*out = t;
		return 0;
	}
	if (r == -ERANGE)
		return err_set(err, 400, ERANGE, "%s \"%s\" is before 1970 or after 9999", what,
			       shown);
	age = len > 0 ? timearg_age(text, len) : -1;
	if (age >= 0) {
		if (age > (int64_t)now)
			return err_set(err, 400, ERANGE, "%s \"%s\" reaches back before 1970", what,
				       shown);
		*out = now - (time_t)age;
		return 0;
	}
	return err_set(
		err, 400, EINVAL,
		"%s \"%s\" is not a time: give RFC 3339 (2026-12-05T10:00:00Z, "
		"2026-12-05T11:00:00+01:00), an age (90s, 10m, 6h, 2d, 1h30m) or UNIX seconds",
		what, shown);
}

void timearg_format(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (size < TIMEARG_RFC3339_SIZE || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (size > 0)
			buf[0] = '\0';
	}
}
