/* audit: the hash-chained audit log (the format and the chain are defined in
 * audit.h): what a record is, built and parsed here; appending, the
 * checkpoint, rotation, the syslog copy and verify are chainlog's. The
 * readers trust none of the file. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chainlog.h"
#include "file.h"
#include "jsonin.h"

#define AUDIT_HASH_KEY     ",\"hash\":\""
#define AUDIT_HASH_KEY_LEN (sizeof(AUDIT_HASH_KEY) - 1)
/* `,"hash":"<64 hex>"}`: what ends every line. */
#define AUDIT_SUFFIX_LEN (AUDIT_HASH_KEY_LEN + AUDIT_HASH_HEX + 2)
#define AUDIT_TIME_LEN   20 /* "YYYY-MM-DDTHH:MM:SSZ" */
_Static_assert(AUDIT_HASH_HEX == CHAINLOG_HASH_HEX, "the chain's hashes are the records'");
/* Exact in every JSON reader (doubles); a saturated huge number is refused. */
#define AUDIT_SEQ_MAX (1ULL << 53)
#define AUDIT_UID_MAX 4294967294LL /* (uid_t)-1 is "no uid" */
/* When the full record does not fit or does not parse back, the appender
 * keeps the event and shortens the result to this. */
#define AUDIT_RESULT_SHORT 128

/* The members of a record, in the order every line has them. */
static const char *const audit_members[] = { "seq",    "time",   "who",  "action", "node",
					     "result", "detail", "prev", "hash" };
#define AUDIT_NMEMBERS (sizeof(audit_members) / sizeof(audit_members[0]))

static const struct jsonin_limits audit_limits = {
	.jl_max_bytes = AUDIT_LINE_MAX,
	.jl_max_depth = AUDIT_DEPTH_MAX,
	.jl_max_fields = AUDIT_FIELDS_MAX,
};

/* The open log, and what its opening found. */
static struct chainlog audit_log = CHAINLOG_INIT;
static char audit_alarm_msg[2 * PATH_MAX + CHAINLOG_WHY_MAX + 256];

/* ---- parsing ---- */

static bool audit_is_action(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* Digits at s[0..n) as a number. */
static int audit_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" to unix seconds; the date must exist. */
static int audit_parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 }, back;
	int y, mo, d, h, mi, se;
	time_t t;

	if (strlen(s) != AUDIT_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -EINVAL;
	if (audit_digits(s, 4, &y) < 0 || audit_digits(s + 5, 2, &mo) < 0 ||
	    audit_digits(s + 8, 2, &d) < 0 || audit_digits(s + 11, 2, &h) < 0 ||
	    audit_digits(s + 14, 2, &mi) < 0 || audit_digits(s + 17, 2, &se) < 0)
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: a round trip catches it. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
	    back.tm_mon != mo - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

static int audit_parse_who(struct json_object *o, struct audit_record *r, struct dock_err *err)
{
	struct json_object *who = NULL;
	uint64_t uid;

	json_object_object_get_ex(o, "who", &who);
	if (json_object_is_type(who, json_type_string)) {
		if (strcmp(json_object_get_string(who), "dock") != 0)
			return err_set(err, 400, EINVAL,
				       "record: \"who\" must be \"dock\" or {\"uid\":N}");
		r->ar_uid = AUDIT_UID_DOCK;
		return 0;
	}
	if (!json_object_is_type(who, json_type_object) || json_object_object_length(who) != 1)
		return err_set(err, 400, EINVAL, "record: \"who\" must be \"dock\" or {\"uid\":N}");
	if (jsonin_u64(who, "record who", "uid", true, 0, AUDIT_UID_MAX, &uid, err) < 0)
		return -EINVAL;
	r->ar_uid = (int64_t)uid;
	return 0;
}

/* json-c reads NaN and Infinity; other JSON tools an auditor uses do not. */
static bool audit_finite(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v));
	case json_type_object: {
		json_object_object_foreach(v, k, m)
		{
			(void)k;
			if (!audit_finite(m))
				return false;
		}
		return true;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!audit_finite(json_object_array_get_idx(v, i)))
				return false;
		return true;
	default:
		return true;
	}
}

/* Exactly our members in our order: nothing to canonicalise, nothing
 * smuggled in beside them. */
static int audit_parse_members(struct json_object *o, struct dock_err *err)
{
	size_t i = 0;

	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (i >= AUDIT_NMEMBERS)
			return err_set(err, 400, EINVAL,
				       "record: unexpected member \"%.32s\" after \"hash\"", key);
		if (strcmp(key, audit_members[i]) != 0)
			return err_set(err, 400, EINVAL,
				       "record: member %zu is \"%.32s\", expected \"%s\"", i + 1,
				       key, audit_members[i]);
		i++;
	}
	if (i != AUDIT_NMEMBERS)
		return err_set(err, 400, EINVAL, "record: %zu members, expected %zu", i,
			       AUDIT_NMEMBERS);
	return 0;
}

/* The members' values into r, each checked. */
static int audit_parse_values(struct json_object *o, struct audit_record *r, struct dock_err *err)
{
	struct json_object *v = NULL;
	char tbuf[AUDIT_TIME_LEN + 1];

	if (jsonin_u64(o, "record", "seq", true, 1, AUDIT_SEQ_MAX, &r->ar_seq, err) < 0 ||
	    jsonin_str(o, "record", "time", true, tbuf, sizeof(tbuf), err) < 0 ||
	    audit_parse_who(o, r, err) < 0 ||
	    jsonin_str(o, "record", "action", true, r->ar_action, sizeof(r->ar_action), err) < 0 ||
	    JSONIN_BAD(
		    jsonin_str(o, "record", "node", false, r->ar_node, sizeof(r->ar_node), err)) ||
	    jsonin_str(o, "record", "result", true, r->ar_result, sizeof(r->ar_result), err) < 0 ||
	    jsonin_str(o, "record", "prev", true, r->ar_prev, sizeof(r->ar_prev), err) < 0 ||
	    jsonin_str(o, "record", "hash", true, r->ar_hash, sizeof(r->ar_hash), err) < 0)
		return -EINVAL;
	if (audit_parse_time(tbuf, &r->ar_time) < 0)
		return err_set(err, 400, EINVAL, "record: \"time\" must be YYYY-MM-DDTHH:MM:SSZ");
	if (!audit_is_action(r->ar_action))
		return err_set(err, 400, EINVAL,
			       "record: \"action\" must be a word of a-z, 0-9 and '-'");
	json_object_object_get_ex(o, "node", &v);
	if (v != NULL && !json_object_is_type(v, json_type_string))
		return err_set(err, 400, EINVAL, "record: \"node\" must be a string or null");
	json_object_object_get_ex(o, "detail", &v);
	if (!json_object_is_type(v, json_type_object))
		return err_set(err, 400, EINVAL, "record: \"detail\" must be an object");
	if (!audit_finite(v))
		return err_set(err, 400, EINVAL,
			       "record: \"detail\" holds a number that is not finite");
	if (!chainlog_is_hash(r->ar_prev) || !chainlog_is_hash(r->ar_hash))
		return err_set(err, 400, EINVAL,
			       "record: \"prev\" and \"hash\" must be 64 lower-case hex digits");
	return 0;
}

/* The hash member as the last bytes of the line, exactly as written. */
static int audit_parse_suffix(const char *line, size_t len, const struct audit_record *r,
			      struct dock_err *err)
{
	if (len < AUDIT_SUFFIX_LEN + 2 ||
	    memcmp(line + len - AUDIT_SUFFIX_LEN, AUDIT_HASH_KEY, AUDIT_HASH_KEY_LEN) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0 ||
	    memcmp(line + len - AUDIT_SUFFIX_LEN + AUDIT_HASH_KEY_LEN, r->ar_hash,
		   AUDIT_HASH_HEX) != 0)
		return err_set(err, 400, EINVAL,
			       "record: the line does not end with ,\"hash\":\"<hex>\"}");
	return 0;
}

/* audit_parse_line, also handing out the parsed object when objp is set. */
static int audit_parse(const char *line, size_t len, struct audit_record *rec,
		       struct json_object **objp, struct dock_err *err)
{
	struct audit_record r = { 0 };
	struct json_object *o = NULL;
	char hash[AUDIT_HASH_HEX + 1];
	int ret = -EINVAL;

	if (len > AUDIT_LINE_MAX)
		return err_set(err, 400, E2BIG, "record: %zu bytes exceeds the limit of %d", len,
			       AUDIT_LINE_MAX);
	if (jsonin_parse("record", line, len, &audit_limits, &o, err) < 0)
		return -EINVAL;
	if (audit_parse_members(o, err) < 0 || audit_parse_values(o, &r, err) < 0 ||
	    audit_parse_suffix(line, len, &r, err) < 0)
		goto out;
	chainlog_digest(line, len - AUDIT_SUFFIX_LEN, hash);
	r.ar_hash_ok = strcmp(hash, r.ar_hash) == 0;
	*rec = r;
	if (objp != NULL) {
		*objp = o;
		o = NULL;
	}
	ret = 0;
out:
	json_object_put(o);
	return ret;
}

int audit_parse_line(const char *line, size_t len, struct audit_record *rec, struct dock_err *err)
{
	return audit_parse(line, len, rec, NULL, err);
}

/* ---- appending ---- */

/* Length of the valid UTF-8 sequence at s[0..n), 0 if there is none. */
static size_t audit_utf8_seq(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* Invalid UTF-8 (a caller's string from a guest, cut mid-character) would
 * make the line unreadable; json-c writes non-ASCII bytes only inside
 * strings, so replacing them with '?' cannot change the structure. */
static void audit_utf8_fix(char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		k = audit_utf8_seq((const unsigned char *)s + i, len - i);
		if (k == 0) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
}

static struct json_object *audit_str(const char *s, size_t max)
{
	return json_object_new_string_len(s, (int)strnlen(s, max - 1));
}

/* Format the record into line (AUDIT_LINE_MAX + 2 bytes: the line, its
 * newline, a NUL), hash and all. detail NULL: {}. */
static int audit_format(uint64_t seq, time_t now, int64_t uid, const char *action, const char *node,
			const char *result, size_t result_max, struct json_object *detail,
			const char *prev, char *line, size_t *len, char *hash, struct dock_err *err)
{
	struct json_object *o, *who;
	char ts[AUDIT_TIME_LEN + 1];
	const char *body;
	size_t n;
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL || strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return err_set(err, 500, EINVAL, "audit: the clock reads an impossible time");
	o = json_object_new_object();
	if (o == NULL)
		return err_set(err, 500, ENOMEM, "audit: out of memory");
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
	json_object_object_add(o, "time", json_object_new_string(ts));
	if (uid < 0) {
		who = json_object_new_string("dock");
	} else {
		who = json_object_new_object();
		json_object_object_add(who, "uid", json_object_new_int64(uid));
	}
	json_object_object_add(o, "who", who);
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "node", node != NULL ? audit_str(node, AUDIT_NODE_MAX) : NULL);
	json_object_object_add(o, "result", audit_str(result, result_max));
	json_object_object_add(o, "detail",
			       detail != NULL ? json_object_get(detail) : json_object_new_object());
	json_object_object_add(o, "prev", json_object_new_string(prev));
	body = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = body != NULL ? strlen(body) : 0;
	if (n < 2 || body[n - 1] != '}') {
		json_object_put(o);
		return err_set(err, 500, ENOMEM, "audit: cannot serialise the record");
	}
	if (n - 1 + AUDIT_SUFFIX_LEN > AUDIT_LINE_MAX) {
		json_object_put(o);
		return err_set(err, 400, E2BIG, "audit: the record would exceed %d bytes",
			       AUDIT_LINE_MAX);
	}
	memcpy(line, body, n - 1);
	json_object_put(o);
	audit_utf8_fix(line, n - 1);
	chainlog_digest(line, n - 1, hash);
	n = n - 1 +
		(size_t)snprintf(line + n - 1, AUDIT_SUFFIX_LEN + 2, "%s%s\"}\n", AUDIT_HASH_KEY,
				 hash);
	*len = n;
	return 0;
}

/* Build the line, and read it back the way verify will: what cannot be read
 * back (a detail too large, too deep, holding NaN) is replaced, so the
 * event is kept and the chain stays verifiable. */
static int audit_build(uint64_t seq, int64_t uid, const char *action, const char *node,
		       const char *result, struct json_object *detail, const char *prev, char *line,
		       size_t *len, char *hash, struct dock_err *err)
{
	struct dock_err why = { 0 };
	struct json_object *dropped = NULL;
	struct audit_record rec;
	time_t now = time(NULL);
	int r;

	r = audit_format(seq, now, uid, action, node, result, AUDIT_RESULT_MAX, detail, prev, line,
			 len, hash, &why);
	if (r == 0 && audit_parse(line, *len - 1, &rec, NULL, &why) == 0 && rec.ar_hash_ok)
		return 0;
	dropped = json_object_new_object();
	if (dropped == NULL)
		return err_set(err, 500, ENOMEM, "audit: out of memory");
	json_object_object_add(dropped, "dropped", json_object_new_string(why.de_msg));
	for (size_t result_max = AUDIT_RESULT_MAX;; result_max = AUDIT_RESULT_SHORT) {
		err_clear(&why);
		r = audit_format(seq, now, uid, action, node, result, result_max, dropped, prev,
				 line, len, hash, &why);
		if (r == 0 && audit_parse(line, *len - 1, &rec, NULL, &why) == 0 &&
		    rec.ar_hash_ok) {
			json_object_put(dropped);
			return 0;
		}
		if (result_max == AUDIT_RESULT_SHORT)
			break;
	}
	json_object_put(dropped);
	return err_set(err, 500, EINVAL, "audit: cannot write a record for \"%s\": %s", action,
		       why.de_msg);
}

/* What chainlog_append's build callback needs. */
struct audit_ctx {
	int64_t ac_uid;
	const char *ac_action, *ac_node, *ac_result;
	struct json_object *ac_detail;
};

static int audit_build_cb(void *ctx, uint64_t seq, const char *prev, char *line, size_t *len,
			  char *hash, struct dock_err *err)
{
	const struct audit_ctx *c = ctx;

	return audit_build(seq, c->ac_uid, c->ac_action, c->ac_node, c->ac_result, c->ac_detail,
			   prev, line, len, hash, err);
}

/* The chain's view of a record. */
static int audit_link(const char *line, size_t len, struct chainlog_link *l, struct dock_err *err)
{
	struct audit_record rec;
	int r = audit_parse(line, len, &rec, NULL, err);

	if (r < 0)
		return r;
	l->cl_seq = rec.ar_seq;
	memcpy(l->cl_prev, rec.ar_prev, sizeof(l->cl_prev));
	memcpy(l->cl_hash, rec.ar_hash, sizeof(l->cl_hash));
	l->cl_hash_ok = rec.ar_hash_ok;
	return 0;
}

static int audit_add(int64_t uid, const char *action, const char *node, const char *result,
		     struct json_object *detail, bool use_reserve, struct dock_err *err)
{
	struct audit_ctx c = { uid, action, node, result != NULL ? result : "ok", detail };
	struct dock_err why = { 0 };
	int r;

	if (action == NULL || strlen(action) >= AUDIT_ACTION_MAX || !audit_is_action(action))
		return err_set(
			err, 500, EINVAL,
			"audit: action \"%.64s\" must be a word of a-z, 0-9 and '-' of at most %d bytes",
			action != NULL ? action : "", AUDIT_ACTION_MAX - 1);
	if (uid < AUDIT_UID_DOCK || uid > AUDIT_UID_MAX)
		return err_set(err, 500, EINVAL, "audit: uid %" PRId64 " out of range", uid);
	r = chainlog_append(&audit_log, audit_build_cb, &c, use_reserve, &why);
	if (r < 0)
		return err_set(err, why.de_status, why.de_errno,
			       "cannot write to the audit log: %s", why.de_msg);
	return 0;
}

int audit_append(int64_t uid, const char *action, const char *node, const char *result,
		 struct json_object *detail, struct dock_err *err)
{
	/* What already happened is recorded even from the reserve. */
	return audit_add(uid, action, node, result, detail, true, err);
}

int audit_intent(int64_t uid, const char *action, const char *node, struct json_object *detail,
		 bool use_reserve, struct dock_err *err)
{
	return audit_add(uid, action, node, AUDIT_RESULT_INTENT, detail, use_reserve, err);
}

uint64_t audit_last_seq(void)
{
	struct chainlog_ckpt h;

	chainlog_head(&audit_log, &h);
	return h.ck_seq;
}

const char *audit_alarm(void)
{
	return audit_alarm_msg;
}

/* Damage found at open: the first record of the new chain says what and
 * links to the old head; the alarm stays up while the dock runs. */
static void audit_restart(const char *path, const struct chainlog_report *rep)
{
	struct json_object *d = json_object_new_object(), *old = json_object_new_object();
	char result[AUDIT_RESULT_MAX];

	snprintf(
		audit_alarm_msg, sizeof(audit_alarm_msg),
		"audit trail %s: %s; kept as %s (sha256 %s); a new chain starts, linked to the old head (seq %" PRIu64
		")",
		path, rep->cr_why, rep->cr_kept[0] ? rep->cr_kept : "nothing",
		rep->cr_sha256[0] ? rep->cr_sha256 : "none", rep->cr_head.ck_seq);
	json_object_object_add(old, "seq", json_object_new_int64((int64_t)rep->cr_head.ck_seq));
	json_object_object_add(old, "hash", json_object_new_string(rep->cr_head.ck_hash));
	json_object_object_add(d, "old_head", old);
	json_object_object_add(d, "kept_as",
			       rep->cr_kept[0] ? json_object_new_string(rep->cr_kept) : NULL);
	json_object_object_add(d, "sha256",
			       rep->cr_sha256[0] ? json_object_new_string(rep->cr_sha256) : NULL);
	snprintf(result, sizeof(result), "error: %s", rep->cr_why);
	audit_append(AUDIT_UID_DOCK, "audit-restart", NULL, result, d, NULL);
	json_object_put(d);
	chainlog_syslog_crit(&audit_log, audit_alarm_msg);
}

/* What the open found, into the chain. */
static void audit_record_found(const char *path, const struct chainlog_report *rep)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "head_seq", json_object_new_int64((int64_t)rep->cr_head.ck_seq));
	json_object_object_add(d, "head_hash", json_object_new_string(rep->cr_head.ck_hash));
	if (rep->cr_found == CHAINLOG_LEGACY) {
		json_object_object_add(
			d, "why",
			json_object_new_string(
				"no checkpoint: a log from before checkpoints, trusted as found"));
		audit_append(AUDIT_UID_DOCK, "audit-trusted", NULL, "ok", d, NULL);
	} else if (rep->cr_found == CHAINLOG_TRIMMED) {
		json_object_object_add(d, "trimmed_bytes",
				       json_object_new_int64((int64_t)rep->cr_trimmed));
		audit_append(AUDIT_UID_DOCK, "audit-torn-tail", NULL, "ok", d, NULL);
	} else if (rep->cr_found == CHAINLOG_DAMAGED) {
		audit_restart(path, rep);
	}
	json_object_put(d);
}

int audit_open(const char *path, const struct audit_opts *o, struct dock_err *err)
{
	struct chainlog_opts co = {
		.co_path = path,
		.co_syslog = o != NULL ? o->ao_syslog : NULL,
		.co_tag = "dockd-audit",
		.co_reserve = o != NULL ? o->ao_reserve : 0,
		.co_rotate = o != NULL && o->ao_rotate > 0 ? o->ao_rotate : AUDIT_ROTATE_DEFAULT,
		.co_parse = audit_link,
	};
	struct chainlog_report rep;
	int r;

	audit_alarm_msg[0] = '\0';
	r = chainlog_open(&audit_log, &co, &rep, err);
	if (r < 0)
		return r;
	audit_record_found(path, &rep);
	return 0;
}

void audit_close(void)
{
	chainlog_close(&audit_log);
}

/* ---- reading ---- */

/* audit_read's state: the most recent matches in a ring, or from a
 * cursor (rd_page->ap_after) the first ones after it. */
struct audit_reader {
	const char *rd_node;
	int64_t rd_since;
	size_t rd_max, rd_n;
	struct json_object **rd_ring;
	struct audit_page *rd_page;
};

static int audit_read_line(void *ctx, const char *line, size_t len)
{
	struct audit_reader *rd = ctx;
	struct audit_record rec;
	struct json_object *o;

	if (audit_parse(line, len, &rec, &o, NULL) < 0)
		return 0; /* audit_verify reports it */
	if ((rd->rd_node != NULL && strcmp(rec.ar_node, rd->rd_node) != 0) ||
	    rec.ar_time < rd->rd_since ||
	    (rd->rd_page->ap_cursor && rec.ar_seq <= rd->rd_page->ap_after)) {
		json_object_put(o);
		return 0;
	}
	rd->rd_page->ap_matched++;
	if (rd->rd_page->ap_cursor && rd->rd_n == rd->rd_max) {
		rd->rd_page->ap_more = true; /* counted, not kept */
		json_object_put(o);
		return 0;
	}
	json_object_put(rd->rd_ring[rd->rd_n % rd->rd_max]);
	rd->rd_ring[rd->rd_n % rd->rd_max] = o;
	rd->rd_n++;
	return 0;
}

int audit_read(const char *path, const char *node, int64_t since, size_t max,
	       struct json_object **out, struct dock_err *err)
{
	struct audit_page p = { 0 };

	p.ap_limit = max;
	return audit_read_page(path, node, since, &p, out, err);
}

int audit_read_page(const char *path, const char *node, int64_t since, struct audit_page *p,
		    struct json_object **out, struct dock_err *err)
{
	struct audit_reader rd = {
		node,
		since,
		p->ap_limit == 0 || p->ap_limit > AUDIT_READ_MAX ? AUDIT_READ_MAX : p->ap_limit,
		0,
		NULL,
		p
	};
	char file[PATH_MAX + 32];
	struct json_object *arr = NULL;
	int r = 0;

	rd.rd_ring = calloc(rd.rd_max, sizeof(*rd.rd_ring));
	if (rd.rd_ring == NULL)
		return err_set(err, 500, ENOMEM, "audit log %s: out of memory", path);
	/* The rotated files, oldest first, then the current one. */
	for (uint64_t i = 1; i <= CHAINLOG_FILES_MAX && r == 0; i++) {
		snprintf(file, sizeof(file), "%s.%" PRIu64, path, i);
		if (access(file, F_OK) != 0)
			break;
		r = chainlog_each(file, audit_read_line, &rd, err);
	}
	if (r == 0)
		r = chainlog_each(path, audit_read_line, &rd, err);
	if (r == 0)
		arr = json_object_new_array();
	for (size_t i = rd.rd_n > rd.rd_max ? rd.rd_n - rd.rd_max : 0; i < rd.rd_n; i++) {
		if (arr != NULL)
			json_object_array_add(arr, rd.rd_ring[i % rd.rd_max]);
		else
			json_object_put(rd.rd_ring[i % rd.rd_max]);
	}
	free(rd.rd_ring);
	if (r < 0)
		return r;
	if (arr == NULL)
		return err_set(err, 500, ENOMEM, "audit log %s: out of memory", path);
	if (!p->ap_cursor)
		p->ap_more = rd.rd_n > rd.rd_max; /* the oldest left out */
	*out = arr;
	return 0;
}

int audit_verify(const char *path, uint64_t *records, uint64_t *bad_line, struct dock_err *err)
{
	struct chainlog_verdict v;
	int r = chainlog_verify(path, audit_link, &v, err);

	*records = v.cv_records;
	*bad_line = v.cv_bad_line;
	if (r < 0 && r != -EBADMSG)
		err_prefix(err, "audit: ");
	return r;
}

int audit_verify_json(const char *path, struct json_object **out, struct dock_err *err)
{
	struct dock_err why = { 0 };
	struct chainlog_verdict v;
	struct json_object *o;
	int r = chainlog_verify(path, audit_link, &v, &why);

	if (r < 0 && r != -EBADMSG)
		return err_set(err, 500, -r, "audit: %s", why.de_msg);
	o = json_object_new_object();
	json_object_object_add(o, "records", json_object_new_int64((int64_t)v.cv_records));
	json_object_object_add(o, "files", json_object_new_int64((int64_t)v.cv_files));
	json_object_object_add(o, "restarts", json_object_new_int64((int64_t)v.cv_restarts));
	json_object_object_add(o, "intact", json_object_new_boolean(v.cv_bad_line == 0 && r == 0));
	json_object_object_add(o, "chain_ok", json_object_new_boolean(v.cv_bad_line == 0));
	json_object_object_add(o, "checkpoint_ok", json_object_new_boolean(v.cv_ckpt_ok));
	if (v.cv_bad_line != 0) {
		json_object_object_add(o, "bad_line",
				       json_object_new_int64((int64_t)v.cv_bad_line));
		json_object_object_add(o, "bad_file", json_object_new_string(v.cv_bad_file));
	}
	if (r < 0)
		json_object_object_add(o, "problem", json_object_new_string(why.de_msg));
	json_object_object_add(o, "startup_alarm",
			       audit_alarm_msg[0] ? json_object_new_string(audit_alarm_msg) : NULL);
	*out = o;
	return 0;
}
