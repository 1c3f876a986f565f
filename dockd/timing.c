/* timing: per-phase durations of a node operation (timing.h). */
#include "timing.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const timing_names[TIMING_COUNT] = {
	[TIMING_VALIDATE] = "validate", [TIMING_VOLUME] = "volume",
	[TIMING_LUKS] = "luks",         [TIMING_RENDER] = "render",
	[TIMING_NETWORK] = "network",   [TIMING_FIREWALL] = "firewall",
	[TIMING_DOMAIN] = "domain",     [TIMING_FIRST_LINE] = "first_line",
};

int64_t timing_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *timing_phase_name(enum timing_phase p)
{
	return p < TIMING_COUNT ? timing_names[p] : "?";
}

void timing_begin(struct timing *t, const char *op, int64_t now)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->tm_op, sizeof(t->tm_op), "%s", op);
	t->tm_begin_ns = now;
	for (int i = 0; i < TIMING_COUNT; i++)
		t->tm_ns[i] = -1;
	t->tm_total_ns = -1;
}

void timing_add(struct timing *t, enum timing_phase p, int64_t since, int64_t now)
{
	if (t->tm_op[0] == '\0' || p >= TIMING_COUNT || now < since)
		return;
	t->tm_ns[p] = (t->tm_ns[p] < 0 ? 0 : t->tm_ns[p]) + (now - since);
}

void timing_end(struct timing *t, int64_t now)
{
	if (t->tm_op[0] != '\0' && t->tm_total_ns < 0)
		t->tm_total_ns = now - t->tm_begin_ns;
}

/* Milliseconds with the digits that mean something: 0.21ms, 3.4ms, 420ms;
 * seconds from 10 s up. */
static int timing_fmt(char *buf, size_t len, const char *sep, const char *name, int64_t ns)
{
	double ms = (double)ns / 1e6;

	if (ms >= 10000)
		return snprintf(buf, len, "%s%s=%.1fs", sep, name, ms / 1000);
	if (ms >= 10)
		return snprintf(buf, len, "%s%s=%.0fms", sep, name, ms);
	if (ms >= 1)
		return snprintf(buf, len, "%s%s=%.1fms", sep, name, ms);
	return snprintf(buf, len, "%s%s=%.2fms", sep, name, ms);
}

void timing_format(const struct timing *t, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i <= TIMING_COUNT; i++) {
		int64_t ns = i < TIMING_COUNT ? t->tm_ns[i] : t->tm_total_ns;
		int k;

		if (ns < 0)
			continue;
		k = timing_fmt(buf + used, len - used, used ? " " : "",
			       i < TIMING_COUNT ? timing_names[i] : "total", ns);
		if (k < 0 || (size_t)k >= len - used) {
			buf[used] = '\0'; /* a phase is whole or absent */
			return;
		}
		used += (size_t)k;
	}
}

/* Milliseconds to the microsecond, printed as such (not %.17g). */
static struct json_object *timing_ms_json(int64_t ns)
{
	char s[32];

	if (ns < 0)
		return NULL;
	snprintf(s, sizeof(s), "%.3f", (double)ns / 1e6);
	return json_object_new_double_s((double)ns / 1e6, s);
}

struct json_object *timing_json(const struct timing *t)
{
	struct json_object *o, *ms;

	if (t->tm_op[0] == '\0')
		return NULL;
	o = json_object_new_object();
	ms = json_object_new_object();
	json_object_object_add(o, "op", json_object_new_string(t->tm_op));
	json_object_object_add(o, "complete", json_object_new_boolean(t->tm_total_ns >= 0));
	for (int i = 0; i < TIMING_COUNT; i++)
		json_object_object_add(ms, timing_names[i], timing_ms_json(t->tm_ns[i]));
	json_object_object_add(ms, "total", timing_ms_json(t->tm_total_ns));
	json_object_object_add(o, "ms", ms);
	return o;
}
