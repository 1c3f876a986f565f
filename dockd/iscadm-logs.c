/* iscadm-logs: `iscadm logs NAME [--firewall] [--raw] [-f|--follow]
 * [--tail N] [--since T]`, and the times people type (`--since`, here and
 * for `audit --since`); the contract is in iscadm-int.h.
 *
 * The dock escapes the console's lines; they are escaped again here (a
 * dock older than the escaping sent them as they are: the second escape
 * catches what it let through and leaves escaped text as it is). --raw
 * gives the bytes as the guest wrote them. */
#include <json-c/json.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "escape.h"
#include "iscadm-int.h"
#include "timearg.h"
#include "validate.h"

/* What a stream holds back: an answer that is not a stream (an error: one
 * line of JSON without a newline) is told from one (whose lines end in
 * newlines) by its first newline; and a line until its end. */
#define ISCADM_LOGS_HOLD (64 * 1024)

time_t iscadm_time_arg(const char *what, const char *text)
{
	struct dock_err err = { 0 };
	time_t t;

	if (timearg_parse(what, text, time(NULL), &t, &err) < 0)
		iscadm_fail(ISCADM_USAGE, "%s", err.de_msg);
	return t;
}

/* ---- the answer of a logs request --------------------------------------- */

static void iscadm_logs_raw(const char *b64)
{
	size_t cap = strlen(b64) / 4 * 3 + 3, len = 0;
	unsigned char *bin = malloc(cap);

	if (bin == NULL ||
	    sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		iscadm_die("logs: dockd sent an unreadable raw log");
	fwrite(bin, 1, len, stdout);
	free(bin);
}

static void iscadm_logs_print(struct json_object *o, bool raw)
{
	struct json_object *lines, *b64, *omitted;

	if (json_object_object_get_ex(o, "omitted", &omitted) && json_object_get_int64(omitted) > 0)
		fprintf(stderr,
			"iscadm: logs: %lld earlier line(s) not shown (at most %d lines and 1 MiB "
			"at once; --follow streams them all)\n",
			(long long)json_object_get_int64(omitted), 10000);
	if (raw && json_object_object_get_ex(o, "raw", &b64)) {
		iscadm_logs_raw(json_object_get_string(b64));
		return;
	}
	if (!json_object_object_get_ex(o, "lines", &lines))
		return;
	for (size_t i = 0; i < json_object_array_length(lines); i++) {
		struct json_object *l = json_object_array_get_idx(lines, i);
		if (raw)
			fwrite(json_object_get_string(l), 1, (size_t)json_object_get_string_len(l),
			       stdout);
		else
			iscadm_put(json_object_get_string(l), (size_t)json_object_get_string_len(l),
				   ESCAPE_KEEP_TAB | ESCAPE_KEEP_BACKSLASH);
		putchar('\n');
	}
}

/* ---- following ------------------------------------------------------------ */

struct iscadm_follow {
	bool if_raw;
	bool if_stream; /* a newline came: this is the stream, not an error */
	char *if_buf;   /* held: before the first newline, or a line's start */
	size_t if_len;
};

/* One line of the stream (without its newline), on the terminal. */
static void iscadm_follow_line(const char *s, size_t len)
{
	if (iscadm_json) {
		struct json_object *j = json_object_new_string_len(s, (int)len);
		const char *t = json_object_to_json_string_ext(
			j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		iscadm_put(t, strlen(t), ESCAPE_JSON);
		json_object_put(j);
	} else {
		iscadm_put(s, len, ESCAPE_KEEP_TAB | ESCAPE_KEEP_BACKSLASH);
	}
	putchar('\n');
}

/* Bytes of the stream: raw as they come; else each whole line (a line
 * longer than the hold comes in pieces). */
static void iscadm_follow_bytes(struct iscadm_follow *f, const char *p, size_t n)
{
	if (f->if_raw) {
		fwrite(p, 1, n, stdout);
		fflush(stdout);
		return;
	}
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) : n;
		if (take > ISCADM_LOGS_HOLD - f->if_len)
			take = ISCADM_LOGS_HOLD - f->if_len;
		memcpy(f->if_buf + f->if_len, p, take);
		f->if_len += take;
		p += take;
		n -= take;
		if (nl != NULL && p == nl) {
			p++;
			n--;
		} else if (f->if_len < ISCADM_LOGS_HOLD) {
			break; /* the line goes on in the next piece */
		}
		iscadm_follow_line(f->if_buf, f->if_len);
		f->if_len = 0;
	}
	fflush(stdout);
}

static size_t iscadm_follow_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct iscadm_follow *f = ud;
	size_t n = size * nmemb;

	if (f->if_stream) {
		iscadm_follow_bytes(f, ptr, n);
		return n;
	}
	if (n > ISCADM_LOGS_HOLD - f->if_len || memchr(ptr, '\n', n) != NULL) {
		/* the stream: what was held first */
		char *held = f->if_buf;
		size_t hn = f->if_len;
		f->if_stream = true;
		f->if_buf = malloc(ISCADM_LOGS_HOLD);
		f->if_len = 0;
		if (f->if_buf == NULL)
			iscadm_die("out of memory");
		iscadm_follow_bytes(f, held, hn);
		iscadm_follow_bytes(f, ptr, n);
		free(held);
		return n;
	}
	memcpy(f->if_buf + f->if_len, ptr, n);
	f->if_len += n;
	return n;
}

static int iscadm_logs_follow(const char *path, bool raw)
{
	struct iscadm_follow f = { .if_raw = raw, .if_buf = malloc(ISCADM_LOGS_HOLD + 1) };
	long status;

	if (f.if_buf == NULL)
		iscadm_die("out of memory");
	status = iscadm_request("GET", path, NULL, iscadm_follow_write, &f);
	if (status < 200 || status > 299) {
		struct json_object *o = NULL;
		if (!f.if_stream) {
			f.if_buf[f.if_len] = '\0';
			o = json_tokener_parse(f.if_buf);
		}
		iscadm_die_http(status, o);
	}
	/* The stream ended (the node is gone): a last line without its end. */
	if (f.if_stream && f.if_len > 0)
		iscadm_follow_line(f.if_buf, f.if_len);
	else if (!f.if_stream && f.if_len > 0)
		iscadm_follow_bytes(&(struct iscadm_follow){ .if_raw = true }, f.if_buf, f.if_len);
	fflush(stdout);
	free(f.if_buf);
	return 0;
}

int iscadm_logs_run(const char *name, bool firewall, bool raw, bool follow, long tail,
		    const char *since)
{
	struct dock_err err = { 0 };
	struct json_object *o;
	char path[256];
	int n;

	if (validate_name("node", name, NODE_NAME_MAX, &err) < 0)
		iscadm_die("%s", err.de_msg);
	n = snprintf(path, sizeof(path), "/v1/nodes/%s/logs%s?tail=", name,
		     firewall ? "/firewall" : "");
	if (tail >= 0)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%ld", tail);
	else
		n += snprintf(path + n, sizeof(path) - (size_t)n, "all");
	if (since != NULL)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&since=%lld",
			      (long long)iscadm_time_arg("since", since));
	snprintf(path + n, sizeof(path) - (size_t)n, "%s%s", raw ? "&raw=1" : "",
		 follow ? "&follow=1" : "");
	if (follow)
		return iscadm_logs_follow(path, raw);
	o = iscadm_call("GET", path, NULL);
	if (iscadm_json)
		iscadm_print_json(o);
	else
		iscadm_logs_print(o, raw);
	json_object_put(o);
	return 0;
}
