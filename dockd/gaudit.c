/* gaudit: the guest audit trail's lines (pure) and the serial tracker;
 * the writer thread is gaudit-write.c, reading gaudit-read.c. */
#include "gaudit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "gaudit-int.h"
#include "jsonin.h"

/* ---- the serial tracker ---- */

/* Serials leaving the window [gt_hi - 63, gt_hi] unseen when the newest
 * becomes s (s > gt_hi), the serials never in it counted too. */
uint64_t gaudit_track(struct gaudit_track *t, uint64_t s, uint64_t *from, uint64_t *to)
{
	uint64_t d, miss = 0, lo = 0, hi = 0;

	if (t->gt_hi == 0 || s == 0) {
		t->gt_first = t->gt_hi = s;
		t->gt_seen = 1;
		return 0;
	}
	if (s <= t->gt_hi) {
		if (t->gt_hi - s < GAUDIT_WINDOW)
			t->gt_seen |= 1ULL << (t->gt_hi - s);
		return 0; /* a late one, or another record of one event */
	}
	d = s - t->gt_hi;
	/* Serial hi - i for i in [0, 63] leaves when hi - i < s - 63. */
	for (uint64_t i = 0; i < GAUDIT_WINDOW; i++) {
		uint64_t ser = t->gt_hi - i;
		if (t->gt_hi < i || ser < t->gt_first)
			break;
		if (ser + GAUDIT_WINDOW > s || (t->gt_seen >> i) & 1)
			continue;
		miss++;
		lo = ser;
		if (hi == 0)
			hi = ser;
	}
	if (d > GAUDIT_WINDOW) { /* (hi, s - 64] never entered the window */
		miss += d - GAUDIT_WINDOW;
		if (lo == 0)
			lo = t->gt_hi + 1;
		hi = s - GAUDIT_WINDOW;
	}
	t->gt_seen = d >= GAUDIT_WINDOW ? 0 : t->gt_seen << d;
	t->gt_seen |= 1;
	t->gt_hi = s;
	t->gt_missing += miss;
	*from = lo;
	*to = hi;
	return miss;
}

uint64_t gaudit_track_settle(struct gaudit_track *t, uint64_t *from, uint64_t *to)
{
	uint64_t miss = 0;

	*from = *to = 0;
	for (uint64_t i = 1; i < GAUDIT_WINDOW && i <= t->gt_hi; i++) {
		uint64_t ser = t->gt_hi - i;
		if (ser < t->gt_first || ser == 0)
			break;
		if ((t->gt_seen >> i) & 1)
			continue;
		miss++;
		*from = ser;
		if (*to == 0)
			*to = ser;
		t->gt_seen |= 1ULL << i;
	}
	t->gt_missing += miss;
	return miss;
}

uint64_t gaudit_track_resume(struct gaudit_track *t, uint64_t s, uint64_t *from, uint64_t *to)
{
	uint64_t miss;

	if (t->gt_hi == 0 || s <= t->gt_hi + 1)
		return gaudit_track(t, s, from, to);
	miss = s - t->gt_hi - 1;
	*from = t->gt_hi + 1;
	*to = s - 1;
	t->gt_missing += miss;
	t->gt_hi = s - 1;
	t->gt_seen = ~0ULL; /* counted: none of them is missing again */
	gaudit_track(t, s, &(uint64_t){ 0 }, &(uint64_t){ 0 });
	return miss;
}

/* ---- record types ---- */

/* The kernel's names (linux/audit.h, auditd's lookup table) of the types
 * worth asking for by name; others show as their number. */
static const struct {
	uint32_t t_num;
	const char *t_name;
} gaudit_types[] = {
	{ 1100, "USER_AUTH" },
	{ 1101, "USER_ACCT" },
	{ 1103, "CRED_ACQ" },
	{ 1104, "CRED_DISP" },
	{ 1105, "USER_START" },
	{ 1106, "USER_END" },
	{ 1108, "USER_CHAUTHTOK" },
	{ 1112, "USER_LOGIN" },
	{ 1113, "USER_LOGOUT" },
	{ 1130, "SERVICE_START" },
	{ 1131, "SERVICE_STOP" },
	{ 1300, "SYSCALL" },
	{ 1302, "PATH" },
	{ 1305, "CONFIG_CHANGE" },
	{ 1307, "CWD" },
	{ 1309, "EXECVE" },
	{ 1320, "EOE" },
	{ 1327, "PROCTITLE" },
	{ 1400, "AVC" },
	{ 1701, "ANOM_ABEND" },
};

const char *gaudit_type_name(uint32_t rtype)
{
	for (size_t i = 0; i < sizeof(gaudit_types) / sizeof(gaudit_types[0]); i++)
		if (gaudit_types[i].t_num == rtype)
			return gaudit_types[i].t_name;
	return NULL;
}

bool gaudit_type_follows(uint32_t rtype)
{
	/* linux/audit.h: IPC, SOCKETCALL, PATH, SOCKADDR, CWD, EXECVE,
	 * FD_PAIR, OBJ_PID, EOE, BPRM_FCAPS, CAPSET, MMAP, PROCTITLE. */
	static const uint32_t aux[] = { 1302, 1303, 1304, 1306, 1307, 1309, 1317,
					1318, 1320, 1321, 1322, 1323, 1327 };

	for (size_t i = 0; i < sizeof(aux) / sizeof(aux[0]); i++)
		if (aux[i] == rtype)
			return true;
	return false;
}

int gaudit_type_parse(const char *name)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(gaudit_types) / sizeof(gaudit_types[0]); i++)
		if (strcasecmp(gaudit_types[i].t_name, name) == 0)
			return (int)gaudit_types[i].t_num;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno != 0 || end == name || *end != '\0' || v < 0 || v > AGENT_AUDIT_RTYPE_MAX)
		return -1;
	return (int)v;
}

/* ---- EXECVE arguments ---- */

static int gaudit_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One argument's value at p (`"text"` or hex digits), decoded into buf;
 * returns the end of the value. */
static const char *gaudit_arg(const char *p, char *buf, size_t size, size_t *n)
{
	*n = 0;
	if (*p == '"') {
		const char *q = strchr(p + 1, '"');
		size_t len = q != NULL ? (size_t)(q - p - 1) : strlen(p + 1);
		if (len >= size)
			len = size - 1;
		memcpy(buf, p + 1, len);
		*n = len;
		return q != NULL ? q + 1 : p + 1 + strlen(p + 1);
	}
	while (gaudit_hexval(p[0]) >= 0 && gaudit_hexval(p[1]) >= 0) {
		if (*n < size - 1)
			buf[(*n)++] = (char)(gaudit_hexval(p[0]) << 4 | gaudit_hexval(p[1]));
		p += 2;
	}
	while (*p != '\0' && *p != ' ')
		p++;
	return p;
}

struct json_object *gaudit_execve_args(const char *msg)
{
	static __thread char raw[AGENT_AUDIT_MSG_MAX + 1], esc[ESCAPE_SIZE(AGENT_AUDIT_MSG_MAX)];
	struct json_object *a = NULL;
	const char *p = msg;

	while ((p = strstr(p, " a")) != NULL) {
		const char *q = p + 2;
		size_t n;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q == p + 2 || *q != '=') {
			p++;
			continue;
		}
		p = gaudit_arg(q + 1, raw, sizeof(raw), &n);
		escape_buf(esc, sizeof(esc), raw, n, 0);
		if (a == NULL && (a = json_object_new_array()) == NULL)
			return NULL;
		json_object_array_add(a, json_object_new_string(esc));
		if (json_object_array_length(a) >= 1024)
			break;
	}
	return a;
}

/* ---- lines ---- */

#define GAUDIT_HASH_KEY   ",\"hash\":\""
#define GAUDIT_SUFFIX_LEN (sizeof(GAUDIT_HASH_KEY) - 1 + CHAINLOG_HASH_HEX + 2)

static const struct jsonin_limits gaudit_limits = {
	.jl_max_bytes = GAUDIT_LINE_MAX,
	.jl_max_depth = 3,
	.jl_max_fields = 24,
};

static int gaudit_parse(const char *line, size_t len, struct chainlog_link *l,
			struct json_object **rec, struct dock_err *err)
{
	struct json_object *o = NULL;
	const char *w = "guest audit line";
	char kind[16];
	size_t body;
	int r = -EINVAL;

	memset(l, 0, sizeof(*l));
	if (rec != NULL)
		*rec = NULL;
	if (len < GAUDIT_SUFFIX_LEN + 2 || len > GAUDIT_LINE_MAX)
		return err_set(err, 400, EINVAL, "%s: %zu bytes", w, len);
	if (jsonin_parse(w, line, len, &gaudit_limits, &o, err) < 0)
		return -EINVAL;
	if (jsonin_u64(o, w, "seq", true, 1, INT64_MAX, &l->cl_seq, err) < 0 ||
	    jsonin_str(o, w, "prev", true, l->cl_prev, sizeof(l->cl_prev), err) < 0 ||
	    jsonin_str(o, w, "hash", true, l->cl_hash, sizeof(l->cl_hash), err) < 0 ||
	    jsonin_str(o, w, "kind", true, kind, sizeof(kind), err) < 0)
		goto out;
	if (!chainlog_is_hash(l->cl_prev) || !chainlog_is_hash(l->cl_hash)) {
		err_set(err, 400, EINVAL, "%s: prev or hash is not 64 hex digits", w);
		goto out;
	}
	/* The hash member is last: the line ends `,"hash":"<hex>"}`. */
	body = len - GAUDIT_SUFFIX_LEN;
	if (memcmp(line + body, GAUDIT_HASH_KEY, sizeof(GAUDIT_HASH_KEY) - 1) != 0 ||
	    memcmp(line + body + sizeof(GAUDIT_HASH_KEY) - 1, l->cl_hash, CHAINLOG_HASH_HEX) != 0) {
		err_set(err, 400, EINVAL, "%s: the hash member is not last", w);
		goto out;
	} else {
		char h[CHAINLOG_HASH_HEX + 1];
		chainlog_digest(line, body, h);
		l->cl_hash_ok = strcmp(h, l->cl_hash) == 0;
	}
	if (rec != NULL)
		*rec = json_object_get(o);
	r = 0;
out:
	json_object_put(o);
	return r;
}

int gaudit_link(const char *line, size_t len, struct chainlog_link *l, struct dock_err *err)
{
	return gaudit_parse(line, len, l, NULL, err);
}

int gaudit_parse_line(const char *line, size_t len, uint64_t *seq, bool *hash_ok,
		      struct json_object **rec, struct dock_err *err)
{
	struct chainlog_link l;
	int r = gaudit_parse(line, len, &l, rec, err);

	if (r == 0) {
		*seq = l.cl_seq;
		*hash_ok = l.cl_hash_ok;
	}
	return r;
}

int gaudit_top(const char *state_dir, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/" GAUDIT_DIR, state_dir);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int gaudit_path(const char *state_dir, const char *id, const char *file, char *buf, size_t size)
{
	int n;

	if (strlen(id) != GAUDIT_ID_MAX - 1 || strspn(id, "0123456789abcdef") != GAUDIT_ID_MAX - 1)
		return -EINVAL;
	n = file != NULL ? snprintf(buf, size, "%s/" GAUDIT_DIR "/%s/%s", state_dir, id, file)
			 : snprintf(buf, size, "%s/" GAUDIT_DIR "/%s", state_dir, id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
