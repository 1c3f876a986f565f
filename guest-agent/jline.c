/*
 * jline.c: build one JSON object that never exceeds the protocol's line
 * limit. Members are written whole or not at all, so the line is valid
 * JSON however much had to be left out, and says so.
 */
#include "facts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Room needed after a write: the closers still open and the newline. */
static size_t jl_tail(const struct jline *j)
{
	return (size_t)j->jl_depth + 1;
}

/* Append n bytes if they fit under limit; else set jl_full, write nothing. */
static bool jl_put(struct jline *j, const char *s, size_t n, size_t limit)
{
	if (j->jl_full || j->jl_len + n > limit) {
		j->jl_full = true;
		return false;
	}
	memcpy(j->jl_buf + j->jl_len, s, n);
	j->jl_len += n;
	return true;
}

static size_t jl_soft(void)
{
	return AGENT_LINE_MAX - JL_RESERVE;
}

static void jl_put_escaped(struct jline *j, const char *s, size_t limit)
{
	for (; *s && !j->jl_full; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[2] = { '\\', (char)c };

		if (c == '"' || c == '\\')
			jl_put(j, esc, 2, limit);
		else
			jl_put(j, (c >= 0x20 && c < 0x7f) ? s : "?", 1, limit);
	}
}

/* Separator and key of a member or element; the caller checks jl_full. */
static void jl_key(struct jline *j, const char *key, size_t limit)
{
	if (!j->jl_first[j->jl_depth - 1])
		jl_put(j, ",", 1, limit);
	if (key) {
		jl_put(j, "\"", 1, limit);
		jl_put_escaped(j, key, limit);
		jl_put(j, "\":", 2, limit);
	}
}

/* Begin/commit one member: undone whole if any part of it did not fit. */
static size_t jl_begin(const struct jline *j)
{
	return j->jl_len;
}

static bool jl_commit(struct jline *j, size_t start)
{
	if (j->jl_full) {
		j->jl_len = start;
		return false;
	}
	j->jl_first[j->jl_depth - 1] = false;
	return true;
}

void jl_init(struct jline *j)
{
	j->jl_len = 0;
	j->jl_depth = 1;
	j->jl_buf[j->jl_len++] = '{';
	j->jl_close[0] = '}';
	j->jl_first[0] = true;
	j->jl_dead = 0;
	j->jl_full = false;
	j->jl_err[0] = '\0';
}

static void jl_str_limit(struct jline *j, const char *key, const char *val, size_t limit)
{
	size_t start = jl_begin(j);

	if (j->jl_full)
		return;
	jl_key(j, key, limit);
	jl_put(j, "\"", 1, limit);
	jl_put_escaped(j, val, limit);
	jl_put(j, "\"", 1, limit);
	jl_commit(j, start);
}

void jl_str(struct jline *j, const char *key, const char *val)
{
	jl_str_limit(j, key, val, jl_soft());
}

static void jl_literal(struct jline *j, const char *key, const char *text, size_t limit)
{
	size_t start = jl_begin(j);

	if (j->jl_full)
		return;
	jl_key(j, key, limit);
	jl_put(j, text, strlen(text), limit);
	jl_commit(j, start);
}

void jl_int(struct jline *j, const char *key, long long val)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", val);
	jl_literal(j, key, num, jl_soft());
}

void jl_bool(struct jline *j, const char *key, bool val)
{
	jl_literal(j, key, val ? "true" : "false", jl_soft());
}

static void jl_open(struct jline *j, const char *key, char open, char close)
{
	size_t start = jl_begin(j);

	if (j->jl_depth >= JL_DEPTH)
		j->jl_full = true;
	if (!j->jl_full) {
		jl_key(j, key, jl_soft());
		jl_put(j, &open, 1, jl_soft());
	}
	if (!jl_commit(j, start)) {
		j->jl_dead++;
		return;
	}
	j->jl_close[j->jl_depth] = close;
	j->jl_first[j->jl_depth] = true;
	j->jl_depth++;
}

/*
 * Room kept for "error" by everything but the error itself: an escaped
 * reason, its key and quotes.
 */
#define JL_ERR_ROOM (2 * JL_ERR_MAX + 16)

void jl_truncated(struct jline *j)
{
	bool was_full = j->jl_full;

	j->jl_full = false;
	jl_literal(j, "truncated", "true", AGENT_LINE_MAX - JL_ERR_ROOM - jl_tail(j));
	j->jl_full = was_full || j->jl_full;
}

void jl_open_obj(struct jline *j, const char *key)
{
	jl_open(j, key, '{', '}');
}

void jl_open_arr(struct jline *j, const char *key)
{
	jl_open(j, key, '[', ']');
}

/*
 * Closing ignores jl_full: a container whose opening was written must be
 * closed, and the tail room guarantees it fits.
 */
void jl_close(struct jline *j)
{
	if (j->jl_dead > 0) {
		j->jl_dead--;
		return;
	}
	if (j->jl_depth <= 1)
		return;
	j->jl_depth--;
	j->jl_buf[j->jl_len++] = j->jl_close[j->jl_depth];
}

struct jl_mark jl_mark(const struct jline *j)
{
	struct jl_mark m = { .jm_len = j->jl_len,
			     .jm_depth = j->jl_depth,
			     .jm_dead = j->jl_dead,
			     .jm_first = j->jl_first[j->jl_depth - 1] };

	return m;
}

bool jl_undo_if_full(struct jline *j, const struct jl_mark *m)
{
	if (!j->jl_full)
		return false;
	j->jl_len = m->jm_len;
	j->jl_depth = m->jm_depth;
	j->jl_dead = m->jm_dead;
	j->jl_first[j->jl_depth - 1] = m->jm_first;
	j->jl_full = false;
	return true;
}

void jl_error(struct jline *j, const char *fmt, ...)
{
	va_list ap;

	if (j->jl_err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(j->jl_err, sizeof(j->jl_err), fmt, ap);
	va_end(ap);
}

void jl_error_errno(struct jline *j, const char *what, int err)
{
	if (err == -ECANCELED)
		jl_error(j, "%s", "disabled");
	else if (err == -FILE_ENOTREG)
		jl_error(j, "%s: not a regular file", what);
	else
		jl_error(j, "%s: %s", what, strerror(err < 0 ? -err : err));
}

size_t jl_finish(struct jline *j)
{
	if (j->jl_full)
		jl_error(j, "%s", "line limit: members left out");
	j->jl_dead = 0;
	while (j->jl_depth > 1)
		jl_close(j);
	j->jl_full = false;
	/* The reserve holds a JL_ERR_MAX reason even if every byte escapes. */
	if (j->jl_err[0])
		jl_str_limit(j, "error", j->jl_err, AGENT_LINE_MAX - jl_tail(j));
	j->jl_buf[j->jl_len++] = '}';
	j->jl_buf[j->jl_len++] = '\n';
	return j->jl_len;
}
