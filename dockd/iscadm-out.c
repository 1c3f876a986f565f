/* iscadm-out: the CLI's output: a member of an answer as text, an answer
 * as pretty JSON (--json), and the human tables of ls, status, audit,
 * forensic ls and image ls. Printing only: no requests, no exits. Every
 * string of an answer reaches the terminal escaped (escape.h): node names,
 * evidence, errors and records may carry what a guest or a client wrote. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "iscadm-int.h"

/* iscadm_str's answers: a printf takes a few of them at once. */
#define ISCADM_STR_SLOTS 8
#define ISCADM_STR_MAX   8192

const char *iscadm_raw(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return "-";
	return json_object_get_string(v);
}

const char *iscadm_str(struct json_object *o, const char *key)
{
	static char slots[ISCADM_STR_SLOTS][ISCADM_STR_MAX];
	static unsigned next;
	char *out = slots[next++ % ISCADM_STR_SLOTS];

	return escape_str(out, ISCADM_STR_MAX, iscadm_raw(o, key), 0);
}

void iscadm_put(const char *s, size_t len, unsigned flags)
{
	char buf[4096];

	for (size_t at = 0; at < len;) {
		at += escape_buf(buf, sizeof(buf), s + at, len - at, flags);
		fputs(buf, stdout);
	}
}

/* json-c escapes C0 controls but leaves DEL, C1 and bytes that are not
 * UTF-8 as they are: escaped as JSON, the strings stay the same. */
void iscadm_print_json(struct json_object *o)
{
	const char *j = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

	iscadm_put(j, strlen(j), ESCAPE_JSON | ESCAPE_KEEP_NL);
	putchar('\n');
}

static void iscadm_age(int64_t created, char *buf, size_t size)
{
	int64_t s = (int64_t)time(NULL) - created;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

/* A table of escaped cells, printed with its columns as wide as their
 * widest cell (the last one unpadded), or as CSV (RFC 4180: a cell with
 * a comma, a quote or a space quoted, quotes doubled). */
#define ISCADM_COLS_MAX 8

struct iscadm_table {
	size_t t_cols, t_rows, t_cap;
	char **t_cells; /* row-major, the header first */
	size_t t_width[ISCADM_COLS_MAX];
};

/* The width of escaped text in characters (it is UTF-8). */
static size_t iscadm_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* A row: t_cols cells (escaped already, or plain text of ours). */
static void iscadm_row(struct iscadm_table *t, const char *const *cells)
{
	size_t at = t->t_rows * t->t_cols;

	if (at + t->t_cols > t->t_cap) {
		t->t_cap = (at + t->t_cols) * 2;
		t->t_cells = realloc(t->t_cells, t->t_cap * sizeof(char *));
		if (t->t_cells == NULL)
			iscadm_die("out of memory");
	}
	for (size_t c = 0; c < t->t_cols; c++) {
		size_t w = iscadm_width(cells[c]);
		t->t_cells[at + c] = strdup(cells[c]);
		if (t->t_cells[at + c] == NULL)
			iscadm_die("out of memory");
		if (w > t->t_width[c])
			t->t_width[c] = w;
	}
	t->t_rows++;
}

static void iscadm_csv_cell(const char *s)
{
	if (strpbrk(s, ",\" ") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void iscadm_table_print(struct iscadm_table *t)
{
	for (size_t r = 0; r < t->t_rows; r++) {
		for (size_t c = 0; c < t->t_cols; c++) {
			const char *cell = t->t_cells[r * t->t_cols + c];
			bool last = c + 1 == t->t_cols;
			if (iscadm_format == ISCADM_CSV) {
				iscadm_csv_cell(cell);
				fputs(last ? "\n" : ",", stdout);
				continue;
			}
			fputs(cell, stdout);
			if (last)
				putchar('\n');
			else
				printf("%*s", (int)(t->t_width[c] - iscadm_width(cell) + 2), "");
		}
	}
	for (size_t i = 0; i < t->t_rows * t->t_cols; i++)
		free(t->t_cells[i]);
	free(t->t_cells);
	memset(t, 0, sizeof(*t));
}

/* ls: one line a node; -q the names alone. */
void iscadm_print_nodes(struct json_object *a, bool quiet)
{
	static const char *const head[] = { "NAME",  "STATE", "IMAGE", "IP",
					    "AGENT", "PORTS", "AGE",   "LAB" };
	struct iscadm_table t = { .t_cols = 8 };

	if (iscadm_format == ISCADM_JSON && !quiet) {
		iscadm_print_json(a);
		return;
	}
	if (!quiet)
		iscadm_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *n = json_object_array_get_idx(a, i), *cr, *ports;
		char age[32] = "-", pl[512] = "";
		if (quiet) {
			printf("%s\n", iscadm_str(n, "name"));
			continue;
		}
		if (json_object_object_get_ex(n, "created", &cr))
			iscadm_age(json_object_get_int64(cr), age, sizeof(age));
		if (json_object_object_get_ex(n, "ports", &ports))
			for (size_t p = 0; p < json_object_array_length(ports); p++) {
				struct json_object *po = json_object_array_get_idx(ports, p);
				size_t l = strlen(pl);
				if (l + 2 < sizeof(pl))
					escape_buf(pl + l + (l ? 1 : 0), sizeof(pl) - l - 1,
						   json_object_get_string(po),
						   (size_t)json_object_get_string_len(po), 0);
				if (l)
					pl[l] = ',';
			}
		const char *cells[] = { iscadm_str(n, "name"),
					iscadm_str(n, "state"),
					iscadm_str(n, "image"),
					iscadm_str(n, "ip"),
					iscadm_str(n, "agent"),
					pl[0] ? pl : "-",
					age,
					iscadm_str(n, "lab") };
		iscadm_row(&t, cells);
	}
	if (!quiet)
		iscadm_table_print(&t);
}

/* The dock's start-up finding about its audit trail, when there is one. */
static void iscadm_print_alarm(struct json_object *o)
{
	struct json_object *a = NULL;

	if (json_object_object_get_ex(o, "audit_alarm", &a) && a != NULL)
		printf("dock-side: AUDIT TRAIL DAMAGED at dock start: %s\n",
		       iscadm_str(o, "audit_alarm"));
}

/* status: the node, its validation table and the summary (CSV: the rows). */
void iscadm_print_status(const char *name, struct json_object *o)
{
	static const char *const head[] = { "#", "CHECK", "SOURCE", "STATUS", "EVIDENCE" };
	struct iscadm_table t = { .t_cols = 5 };
	struct json_object *checks, *sum;

	if (iscadm_format == ISCADM_JSON) {
		iscadm_print_json(o);
		return;
	}
	if (iscadm_format == ISCADM_TABLE)
		printf("node %s (%s), profile %s\n", name, iscadm_str(o, "state"),
		       iscadm_str(o, "profile")[0] ? iscadm_str(o, "profile") : "none");
	iscadm_row(&t, head);
	if (json_object_object_get_ex(o, "checks", &checks))
		for (size_t i = 0; i < json_object_array_length(checks); i++) {
			struct json_object *c = json_object_array_get_idx(checks, i);
			char num[24];
			snprintf(num, sizeof(num), "%zu", i + 1);
			const char *cells[] = { num, iscadm_str(c, "id"), iscadm_str(c, "source"),
						iscadm_str(c, "status"),
						iscadm_str(c, "evidence") };
			iscadm_row(&t, cells);
		}
	iscadm_table_print(&t);
	if (iscadm_format == ISCADM_CSV)
		return;
	if (json_object_object_get_ex(o, "summary", &sum))
		printf("%s pass, %s fail, %s warn, %s stale\n", iscadm_str(sum, "pass"),
		       iscadm_str(sum, "fail"), iscadm_str(sum, "warn"), iscadm_str(sum, "stale"));
	iscadm_print_alarm(o);
}

static bool iscadm_flag(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

bool iscadm_verify_failed(struct json_object *o)
{
	struct json_object *a = NULL;

	return !iscadm_flag(o, "intact") ||
		(json_object_object_get_ex(o, "startup_alarm", &a) && a != NULL);
}

/* audit verify: the chain, the checkpoint, what the dock found at start. */
void iscadm_print_verify(struct json_object *o)
{
	struct json_object *a = NULL;

	if (!iscadm_flag(o, "chain_ok"))
		printf("audit trail BROKEN at line %s of %s: %s (%s intact records before it)\n",
		       iscadm_str(o, "bad_line"), iscadm_str(o, "bad_file"),
		       iscadm_str(o, "problem"), iscadm_str(o, "records"));
	else if (!iscadm_flag(o, "checkpoint_ok"))
		printf("audit trail TRUNCATED, ROLLED BACK OR DELETED: %s (%s records)\n",
		       iscadm_str(o, "problem"), iscadm_str(o, "records"));
	else
		printf("audit trail intact: %s records in %s files, %s restarts after damage\n",
		       iscadm_str(o, "records"), iscadm_str(o, "files"), iscadm_str(o, "restarts"));
	if (json_object_object_get_ex(o, "startup_alarm", &a) && a != NULL)
		printf("at dock start: %s\n", iscadm_str(o, "startup_alarm"));
}

/* audit: one line a record; who is "dock" or "uid N". */
void iscadm_print_audit(struct json_object *o)
{
	static const char *const head[] = { "SEQ", "TIME", "WHO", "ACTION", "NODE", "RESULT" };
	struct iscadm_table t = { .t_cols = 6 };

	if (iscadm_format == ISCADM_JSON) {
		iscadm_print_json(o);
		return;
	}
	iscadm_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *r = json_object_array_get_idx(o, i), *who;
		char whos[24] = "dock";
		if (json_object_object_get_ex(r, "who", &who) &&
		    json_object_object_get_ex(who, "uid", NULL))
			snprintf(whos, sizeof(whos), "uid %s", iscadm_str(who, "uid"));
		const char *cells[] = {
			iscadm_str(r, "seq"),    iscadm_str(r, "time"), whos,
			iscadm_str(r, "action"), iscadm_str(r, "node"), iscadm_str(r, "result")
		};
		iscadm_row(&t, cells);
	}
	iscadm_table_print(&t);
}

/* forensic ls: one line a snapshot, the sha256 cut to 12 digits. */
void iscadm_print_forensics(struct json_object *o)
{
	static const char *const head[] = { "ID", "NODE", "REASON", "SHA256", "DISK" };
	struct iscadm_table t = { .t_cols = 5 };

	if (iscadm_format == ISCADM_JSON) {
		iscadm_print_json(o);
		return;
	}
	iscadm_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *f = json_object_array_get_idx(o, i);
		char sha[16];
		snprintf(sha, sizeof(sha), "%.12s", iscadm_str(f, "sha256"));
		const char *cells[] = { iscadm_str(f, "id"), iscadm_str(f, "node"),
					iscadm_str(f, "reason"), sha, iscadm_str(f, "disk") };
		iscadm_row(&t, cells);
	}
	iscadm_table_print(&t);
}

/* image ls: one line an image, its size in MiB. */
void iscadm_print_images(struct json_object *a)
{
	static const char *const head[] = { "NAME", "BOOT", "SIZE", "SHA256", "BUILT", "SCAP" };
	struct iscadm_table t = { .t_cols = 6 };

	if (iscadm_format == ISCADM_JSON) {
		iscadm_print_json(a);
		return;
	}
	iscadm_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *im = json_object_array_get_idx(a, i), *sz, *sc;
		char size[24] = "-", sha[16], scap[16] = "-";
		if (json_object_object_get_ex(im, "size", &sz))
			snprintf(size, sizeof(size), "%.1fM",
				 (double)json_object_get_int64(sz) / (1024.0 * 1024.0));
		/* The SCAP score: "-" for an image without a scan (or an older dock). */
		if (json_object_object_get_ex(im, "scap_score", &sc) && sc &&
		    (json_object_is_type(sc, json_type_double) ||
		     json_object_is_type(sc, json_type_int)))
			snprintf(scap, sizeof(scap), "%.2f%%", json_object_get_double(sc));
		snprintf(sha, sizeof(sha), "%.12s", iscadm_str(im, "sha256"));
		const char *cells[] = { iscadm_str(im, "name"),
					iscadm_str(im, "boot"),
					size,
					sha,
					iscadm_str(im, "built"),
					scap };
		iscadm_row(&t, cells);
	}
	iscadm_table_print(&t);
}
