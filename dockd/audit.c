/* audit: the hash-chained audit log (the format and the chain are defined in
 * audit.h). One appender per file, serialised by a mutex and an flock; the
 * readers stream the file with bounded lines and trust none of it. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "jsonin.h"

#define AUDIT_HASH_KEY     ",\"hash\":\""
#define AUDIT_HASH_KEY_LEN (sizeof(AUDIT_HASH_KEY) - 1)
/* `,"hash":"<64 hex>"}`: what ends every line. */
#define AUDIT_SUFFIX_LEN (AUDIT_HASH_KEY_LEN + AUDIT_HASH_HEX + 2)
#define AUDIT_TIME_LEN   20 /* "YYYY-MM-DDTHH:MM:SSZ" */
/* Exact in every JSON reader (doubles); a saturated huge number is refused. */
#define AUDIT_SEQ_MAX (1ULL << 53)
#define AUDIT_UID_MAX 4294967294LL /* (uid_t)-1 is "no uid" */
/* The streaming reader's buffer: several lines at a time, and always room
 * for a whole line of the maximum length. */
#define AUDIT_READ_BUF (64 * 1024)
/* When the full record does not fit or does not parse back, the appender
 * keeps the event and shortens the result to this. */
#define AUDIT_RESULT_SHORT 128

static const char audit_zero_hash[AUDIT_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* The members of a record, in the order every line has them. */
static const char *const audit_members[] = { "seq",    "time",   "who",  "action", "node",
					     "result", "detail", "prev", "hash" };
#define AUDIT_NMEMBERS (sizeof(audit_members) / sizeof(audit_members[0]))

static const struct jsonin_limits audit_limits = {
	.jl_max_bytes = AUDIT_LINE_MAX,
	.jl_max_depth = AUDIT_DEPTH_MAX,
	.jl_max_fields = AUDIT_FIELDS_MAX,
};

/* The open log. Everything below is guarded by al_lock. */
static struct {
	pthread_mutex_t al_lock;
	int al_fd;
	bool al_syslog;
	uint64_t al_seq;                  /* of the last line, 0: none */
	char al_last[AUDIT_HASH_HEX + 1]; /* its hash */
	off_t al_size;                    /* where the next line starts */
} audit = { .al_lock = PTHREAD_MUTEX_INITIALIZER, .al_fd = -1 };

/* ---- parsing ---- */

static void audit_hex(const unsigned char *h, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < crypto_hash_sha256_BYTES; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[AUDIT_HASH_HEX] = '\0';
}

/* hex(SHA-256(body[0..len) + "}")): the hash of a line whose text before
 * the hash member is body[0..len). */
static void audit_digest(const char *body, size_t len, char *out)
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)body, (unsigned long long)len);
	crypto_hash_sha256_update(&st, (const unsigned char *)"}", 1);
	crypto_hash_sha256_final(&st, h);
	audit_hex(h, out);
}

static bool audit_is_hash(const char *s)
{
	if (strlen(s) != AUDIT_HASH_HEX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

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
	if (!audit_is_hash(r->ar_prev) || !audit_is_hash(r->ar_hash))
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
	audit_digest(line, len - AUDIT_SUFFIX_LEN, hash);
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
	audit_digest(line, n - 1, hash);
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

int audit_append(int64_t uid, const char *action, const char *node, const char *result,
		 struct json_object *detail, struct dock_err *err)
{
	char line[AUDIT_LINE_MAX + 2], hash[AUDIT_HASH_HEX + 1];
	size_t len = 0;
	bool to_syslog;
	int r, e;

	if (action == NULL || strlen(action) >= AUDIT_ACTION_MAX || !audit_is_action(action))
		return err_set(
			err, 500, EINVAL,
			"audit: action \"%.64s\" must be a word of a-z, 0-9 and '-' of at most %d bytes",
			action != NULL ? action : "", AUDIT_ACTION_MAX - 1);
	if (uid < AUDIT_UID_DOCK || uid > AUDIT_UID_MAX)
		return err_set(err, 500, EINVAL, "audit: uid %" PRId64 " out of range", uid);
	pthread_mutex_lock(&audit.al_lock);
	if (audit.al_fd < 0) {
		pthread_mutex_unlock(&audit.al_lock);
		return err_set(err, 500, EBADF, "audit: the log is not open");
	}
	r = audit_build(audit.al_seq + 1, uid, action, node, result != NULL ? result : "ok", detail,
			audit.al_last, line, &len, hash, err);
	if (r < 0) {
		pthread_mutex_unlock(&audit.al_lock);
		return r;
	}
	r = file_write_fd(audit.al_fd, line, len);
	if (r == 0 && fsync(audit.al_fd) < 0)
		r = -errno;
	if (r < 0) {
		e = -r;
		/* Take a partial or unsynced line back out, so the chain never
		 * holds half a record. If that fails too the line is there,
		 * whole or not, and the chain goes on from it. */
		if (ftruncate(audit.al_fd, audit.al_size) == 0) {
			pthread_mutex_unlock(&audit.al_lock);
			return err_set(err, 500, e, "audit: write: %s", strerror(e));
		}
	}
	audit.al_seq++;
	memcpy(audit.al_last, hash, sizeof(audit.al_last));
	audit.al_size += (off_t)len;
	to_syslog = audit.al_syslog;
	pthread_mutex_unlock(&audit.al_lock);
	if (to_syslog)
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "audit: %.*s", (int)(len - 1), line);
	if (r < 0)
		return err_set(err, 500, -r, "audit: write: %s", strerror(-r));
	return 0;
}

uint64_t audit_last_seq(void)
{
	uint64_t seq;

	pthread_mutex_lock(&audit.al_lock);
	seq = audit.al_seq;
	pthread_mutex_unlock(&audit.al_lock);
	return seq;
}

/* Recover seq and hash from the last line: one bounded read at the end. */
static int audit_tail(int fd, off_t size, const char *path, uint64_t *seq, char *last,
		      struct dock_err *err)
{
	char buf[AUDIT_LINE_MAX + 1];
	struct dock_err why = { 0 };
	struct audit_record rec;
	size_t want, got = 0, start = 0;
	const char *nl;
	ssize_t n;

	if (size == 0) {
		*seq = 0;
		memcpy(last, audit_zero_hash, AUDIT_HASH_HEX + 1);
		return 0;
	}
	/* The last line and its newline. */
	want = size > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)size;
	while (got < want) {
		n = pread(fd, buf + got, want - got, size - (off_t)want + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, 500, n < 0 ? errno : EIO, "audit log %s: read: %s",
				       path, n < 0 ? strerror(errno) : "short read");
		got += (size_t)n;
	}
	if (buf[want - 1] != '\n')
		return err_set(
			err, 500, EBADMSG,
			"audit log %s: the last line is truncated (no newline); run `iscadm audit verify`",
			path);
	nl = want > 1 ? memrchr(buf, '\n', want - 1) : NULL;
	if (nl != NULL)
		start = (size_t)(nl - buf) + 1;
	else if ((off_t)want < size)
		return err_set(
			err, 500, EBADMSG,
			"audit log %s: the last line is longer than %d bytes; run `iscadm audit verify`",
			path, AUDIT_LINE_MAX);
	if (audit_parse(buf + start, want - 1 - start, &rec, NULL, &why) < 0)
		return err_set(
			err, 500, EBADMSG,
			"audit log %s: the last line is not a record (%s); run `iscadm audit verify`",
			path, why.de_msg);
	if (!rec.ar_hash_ok)
		return err_set(err, 500, EBADMSG,
			       "audit log %s: last line (seq %" PRIu64
			       "): hash mismatch; run `iscadm audit verify`",
			       path, rec.ar_seq);
	*seq = rec.ar_seq;
	memcpy(last, rec.ar_hash, AUDIT_HASH_HEX + 1);
	return 0;
}

int audit_open(const char *path, bool to_syslog, struct dock_err *err)
{
	char last[AUDIT_HASH_HEX + 1];
	struct stat st;
	uint64_t seq = 0;
	int fd, r;

	pthread_mutex_lock(&audit.al_lock);
	if (audit.al_fd >= 0) {
		pthread_mutex_unlock(&audit.al_lock);
		return err_set(err, 500, EBUSY, "audit log %s: already open", path);
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = err_set(err, 500, errno, "audit log %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK
			? err_set(err, 500, EBUSY, "audit log %s: in use by another process", path)
			: err_set(err, 500, errno, "audit log %s: flock: %s", path,
				  strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = err_set(err, 500, EINVAL, "audit log %s: not a regular file", path);
		goto fail;
	}
	r = audit_tail(fd, st.st_size, path, &seq, last, err);
	if (r < 0)
		goto fail;
	if (st.st_size == 0)
		file_sync_dir(path);
	audit.al_fd = fd;
	audit.al_syslog = to_syslog;
	audit.al_seq = seq;
	audit.al_size = st.st_size;
	memcpy(audit.al_last, last, sizeof(audit.al_last));
	pthread_mutex_unlock(&audit.al_lock);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&audit.al_lock);
	return r;
}

void audit_close(void)
{
	pthread_mutex_lock(&audit.al_lock);
	if (audit.al_fd >= 0)
		close(audit.al_fd);
	audit.al_fd = -1;
	audit.al_seq = 0;
	audit.al_size = 0;
	pthread_mutex_unlock(&audit.al_lock);
}

/* ---- reading ---- */

enum audit_line_kind {
	AUDIT_LINE_WHOLE,   /* ended by a newline */
	AUDIT_LINE_LONG,    /* over AUDIT_LINE_MAX: skipped, not returned */
	AUDIT_LINE_UNENDED, /* the file's last bytes, without a newline */
};

/* Lines of a file, streamed through a fixed buffer. */
struct audit_lines {
	int alr_fd;
	char *alr_buf;
	size_t alr_start, alr_end;
	bool alr_eof;
	uint64_t alr_lineno;
};

static int audit_fill(struct audit_lines *rd)
{
	ssize_t n;

	if (rd->alr_start > 0) {
		memmove(rd->alr_buf, rd->alr_buf + rd->alr_start, rd->alr_end - rd->alr_start);
		rd->alr_end -= rd->alr_start;
		rd->alr_start = 0;
	}
	do
		n = read(rd->alr_fd, rd->alr_buf + rd->alr_end, AUDIT_READ_BUF - rd->alr_end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		rd->alr_eof = true;
	rd->alr_end += (size_t)n;
	return 0;
}

/* The next line: 1 (*line, *len, *kind), 0 at the end, or -errno. */
static int audit_next(struct audit_lines *rd, const char **line, size_t *len,
		      enum audit_line_kind *kind)
{
	bool skipping = false;
	char *nl;
	int r;

	for (;;) {
		nl = memchr(rd->alr_buf + rd->alr_start, '\n', rd->alr_end - rd->alr_start);
		if (nl != NULL) {
			*line = rd->alr_buf + rd->alr_start;
			*len = (size_t)(nl - *line);
			rd->alr_start = (size_t)(nl - rd->alr_buf) + 1;
			rd->alr_lineno++;
			*kind = skipping || *len > AUDIT_LINE_MAX ? AUDIT_LINE_LONG
								  : AUDIT_LINE_WHOLE;
			return 1;
		}
		if (rd->alr_end - rd->alr_start > AUDIT_LINE_MAX) {
			/* Too long to be a record: drop what we have and look
			 * for its end without keeping it. */
			skipping = true;
			rd->alr_start = rd->alr_end = 0;
		}
		if (rd->alr_eof) {
			if (rd->alr_start == rd->alr_end && !skipping)
				return 0;
			*line = rd->alr_buf + rd->alr_start;
			*len = rd->alr_end - rd->alr_start;
			rd->alr_start = rd->alr_end;
			rd->alr_lineno++;
			*kind = skipping ? AUDIT_LINE_LONG : AUDIT_LINE_UNENDED;
			return 1;
		}
		r = audit_fill(rd);
		if (r < 0)
			return r;
	}
}

static int audit_lines_open(const char *path, struct audit_lines *rd, struct dock_err *err)
{
	memset(rd, 0, sizeof(*rd));
	rd->alr_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rd->alr_fd < 0)
		return err_set(err, errno == ENOENT ? 404 : 500, errno, "audit log %s: %s", path,
			       strerror(errno));
	rd->alr_buf = malloc(AUDIT_READ_BUF);
	if (rd->alr_buf == NULL) {
		close(rd->alr_fd);
		return err_set(err, 500, ENOMEM, "audit log %s: out of memory", path);
	}
	return 0;
}

static void audit_lines_close(struct audit_lines *rd)
{
	free(rd->alr_buf);
	if (rd->alr_fd >= 0)
		close(rd->alr_fd);
	rd->alr_buf = NULL;
	rd->alr_fd = -1;
}

int audit_read(const char *path, const char *node, int64_t since, size_t max,
	       struct json_object **out, struct dock_err *err)
{
	struct audit_lines rd;
	struct audit_record rec;
	struct json_object **ring, *o, *arr;
	enum audit_line_kind kind;
	const char *line;
	size_t len, n = 0;
	int r;

	if (max == 0 || max > AUDIT_READ_MAX)
		max = AUDIT_READ_MAX;
	r = audit_lines_open(path, &rd, err);
	if (r < 0)
		return r;
	/* The most recent max matches: a ring, oldest overwritten. */
	ring = calloc(max, sizeof(*ring));
	if (ring == NULL) {
		audit_lines_close(&rd);
		return err_set(err, 500, ENOMEM, "audit log %s: out of memory", path);
	}
	while ((r = audit_next(&rd, &line, &len, &kind)) > 0) {
		if (kind != AUDIT_LINE_WHOLE || audit_parse(line, len, &rec, &o, NULL) < 0)
			continue;
		if ((node != NULL && strcmp(rec.ar_node, node) != 0) || rec.ar_time < since) {
			json_object_put(o);
			continue;
		}
		json_object_put(ring[n % max]);
		ring[n % max] = o;
		n++;
	}
	audit_lines_close(&rd);
	arr = r < 0 ? NULL : json_object_new_array();
	for (size_t i = n > max ? n - max : 0; i < n; i++) {
		if (arr != NULL)
			json_object_array_add(arr, ring[i % max]);
		else
			json_object_put(ring[i % max]);
	}
	free(ring);
	if (r < 0)
		return err_set(err, 500, -r, "audit log %s: read: %s", path, strerror(-r));
	if (arr == NULL)
		return err_set(err, 500, ENOMEM, "audit log %s: out of memory", path);
	*out = arr;
	return 0;
}

int audit_verify(const char *path, uint64_t *records, uint64_t *bad_line, struct dock_err *err)
{
	char prev[AUDIT_HASH_HEX + 1];
	struct dock_err why = { 0 };
	struct audit_lines rd;
	struct audit_record rec;
	enum audit_line_kind kind;
	const char *line;
	uint64_t good = 0;
	size_t len;
	int r;

	r = audit_lines_open(path, &rd, err);
	if (r < 0)
		return r;
	memcpy(prev, audit_zero_hash, sizeof(prev));
	while ((r = audit_next(&rd, &line, &len, &kind)) > 0) {
		uint64_t ln = rd.alr_lineno;

		if (kind == AUDIT_LINE_LONG)
			err_set(err, 400, EBADMSG, "line %" PRIu64 ": longer than %d bytes", ln,
				AUDIT_LINE_MAX);
		else if (kind == AUDIT_LINE_UNENDED)
			err_set(err, 400, EBADMSG,
				"line %" PRIu64
				": truncated (the file does not end with a newline)",
				ln);
		else if (audit_parse(line, len, &rec, NULL, &why) < 0)
			err_set(err, 400, EBADMSG, "line %" PRIu64 ": not a record: %s", ln,
				why.de_msg);
		else if (!rec.ar_hash_ok)
			err_set(err, 400, EBADMSG,
				"line %" PRIu64 " (seq %" PRIu64
				"): hash mismatch, the record was altered",
				ln, rec.ar_seq);
		else if (rec.ar_seq != good + 1)
			err_set(err, 400, EBADMSG,
				"line %" PRIu64 ": seq %" PRIu64 " where %" PRIu64
				" was expected (a record is missing, repeated or moved)",
				ln, rec.ar_seq, good + 1);
		else if (strcmp(rec.ar_prev, prev) != 0)
			err_set(err, 400, EBADMSG,
				"line %" PRIu64 " (seq %" PRIu64
				"): prev is not the hash of the record before it",
				ln, rec.ar_seq);
		else {
			memcpy(prev, rec.ar_hash, sizeof(prev));
			good++;
			continue;
		}
		audit_lines_close(&rd);
		*records = good;
		*bad_line = ln;
		err_prefix(err, "audit log %s: ", path);
		return -EBADMSG;
	}
	audit_lines_close(&rd);
	if (r < 0)
		return err_set(err, 500, -r, "audit log %s: read: %s", path, strerror(-r));
	*records = good;
	return 0;
}
