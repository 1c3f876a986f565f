/* lab: the lab file read with libyaml's event parser into a small bounded
 * tree (marks kept for the messages), then walked against the schema into
 * one create request per node and the flows (lab.h is the contract). */
#include "lab.h"

#include <errno.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Ceilings of the tree: a lab of 64 nodes of every key and 1024 flows
 * takes about 64 * 60 + 1024 * 8 nodes; the rest is a hostile file. */
#define LY_NODES_MAX  20000
#define LY_DEPTH_MAX  8
#define LY_MAP_MAX    LAB_NODES_MAX /* keys of one mapping */
#define LY_SCALAR_MAX 512
#define LY_PATH_MAX   96

enum ly_type { LY_SCALAR, LY_MAP, LY_SEQ };

struct ly {
	enum ly_type y_type;
	int y_line, y_col; /* 1-based */
	char *y_s;         /* a scalar's text (a map key's too) */
	int y_kid;         /* map: first key; a key: its value; seq: first item; -1 none */
	int y_next;        /* next key or item, -1 none */
	size_t y_n;        /* keys or items */
};

struct ly_doc {
	struct ly *d_nodes;
	size_t d_n;
	const char *d_file;
	struct dock_err *d_err;
};

static __attribute__((format(printf, 4, 5))) int ly_fail(struct ly_doc *d, const struct ly *at,
							 const char *key, const char *fmt, ...)
{
	char msg[384], k[LY_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(k, sizeof(k), "%s", key);
	/* One line: a key or value of the file may hold any character. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	for (char *c = k; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	key = k;
	return err_set(d->d_err, 400, EINVAL, "%s:%d:%d: %s: %s", d->d_file, at ? at->y_line : 1,
		       at ? at->y_col : 1, key[0] ? key : "(top)", msg);
}

static int ly_fail_mark(struct ly_doc *d, const yaml_mark_t *m, const char *key, const char *msg)
{
	struct ly at = { .y_line = (int)m->line + 1, .y_col = (int)m->column + 1 };

	return ly_fail(d, &at, key, "%s", msg);
}

static int ly_new(struct ly_doc *d, enum ly_type t, const yaml_mark_t *m, const char *key)
{
	struct ly *y;

	if (d->d_n >= LY_NODES_MAX)
		return ly_fail_mark(d, m, key, "the file is too large (too many values)");
	y = &d->d_nodes[d->d_n];
	memset(y, 0, sizeof(*y));
	y->y_type = t;
	y->y_line = (int)m->line + 1;
	y->y_col = (int)m->column + 1;
	y->y_kid = y->y_next = -1;
	return (int)d->d_n++;
}

static int ly_next_event(struct ly_doc *d, yaml_parser_t *p, yaml_event_t *ev, const char *key)
{
	if (!yaml_parser_parse(p, ev)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "not YAML: %s", p->problem ? p->problem : "parse error");
		return ly_fail_mark(d, &p->problem_mark, key, msg);
	}
	return 0;
}

/* Anchors, aliases and tags: refused (the schema has no use for them, and
 * aliases are the billion-laughs door). */
static int ly_plain(struct ly_doc *d, const yaml_event_t *ev, const char *key)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (ev->type == YAML_ALIAS_EVENT)
		return ly_fail_mark(d, &ev->start_mark, key, "aliases are not allowed");
	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (anchor != NULL)
		return ly_fail_mark(d, &ev->start_mark, key, "anchors are not allowed");
	if (tag != NULL)
		return ly_fail_mark(d, &ev->start_mark, key, "tags are not allowed");
	return 0;
}

static int ly_node(struct ly_doc *d, yaml_parser_t *p, yaml_event_t *ev, const char *key,
		   int depth);

/* snprintf that may cut (a path, a name in a message): vsnprintf. */
static __attribute__((format(printf, 3, 4))) void ly_fmt(char *out, size_t size, const char *fmt,
							 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

static void ly_path(char *out, const char *key, const char *sub)
{
	ly_fmt(out, LY_PATH_MAX, "%s%s%.40s", key, key[0] ? "." : "", sub);
}

static int ly_scalar(struct ly_doc *d, const yaml_event_t *ev, const char *key)
{
	int i = ly_new(d, LY_SCALAR, &ev->start_mark, key);

	if (i < 0)
		return i;
	if (ev->data.scalar.length > LY_SCALAR_MAX ||
	    strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
		return ly_fail_mark(d, &ev->start_mark, key,
				    "a value longer than 512 bytes or with a NUL");
	d->d_nodes[i].y_s = strdup((const char *)ev->data.scalar.value);
	if (d->d_nodes[i].y_s == NULL)
		return err_set(d->d_err, 500, ENOMEM, "out of memory");
	return i;
}

/* The items of a sequence or the pairs of a mapping, until its end event. */
static int ly_children(struct ly_doc *d, yaml_parser_t *p, int parent, const char *key, int depth)
{
	struct ly *par = &d->d_nodes[parent];
	bool map = par->y_type == LY_MAP;
	int last = -1, r = 0;
	char sub[LY_PATH_MAX];
	yaml_event_t ev;

	for (;;) {
		int kid;
		if (ly_next_event(d, p, &ev, key) < 0)
			return -EINVAL;
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		par = &d->d_nodes[parent];
		if (par->y_n >= (map ? LY_MAP_MAX : LAB_FLOWS_MAX)) {
			r = ly_fail_mark(d, &ev.start_mark, key,
					 map ? "more than 64 keys" : "more than 1024 items");
			yaml_event_delete(&ev);
			return r;
		}
		if (map) {
			if (ev.type != YAML_SCALAR_EVENT) {
				r = ev.type == YAML_ALIAS_EVENT
					? ly_plain(d, &ev, key)
					: ly_fail_mark(d, &ev.start_mark, key,
						       "a key must be a plain word");
				yaml_event_delete(&ev);
				return r;
			}
			if (ly_plain(d, &ev, key) < 0 || (kid = ly_scalar(d, &ev, key)) < 0) {
				yaml_event_delete(&ev);
				return -EINVAL;
			}
			yaml_event_delete(&ev);
			ly_path(sub, key, d->d_nodes[kid].y_s);
			for (int k = d->d_nodes[parent].y_kid; k >= 0; k = d->d_nodes[k].y_next)
				if (strcmp(d->d_nodes[k].y_s, d->d_nodes[kid].y_s) == 0)
					return ly_fail(d, &d->d_nodes[kid], sub,
						       "duplicate key (first at line %d)",
						       d->d_nodes[k].y_line);
			if (ly_next_event(d, p, &ev, sub) < 0)
				return -EINVAL;
			r = ly_node(d, p, &ev, sub, depth + 1);
			yaml_event_delete(&ev);
			if (r < 0)
				return r;
			d->d_nodes[kid].y_kid = r;
		} else {
			ly_fmt(sub, sizeof(sub), "%s[%zu]", key, par->y_n);
			kid = ly_node(d, p, &ev, sub, depth + 1);
			yaml_event_delete(&ev);
			if (kid < 0)
				return kid;
		}
		if (last < 0)
			d->d_nodes[parent].y_kid = kid;
		else
			d->d_nodes[last].y_next = kid;
		last = kid;
		d->d_nodes[parent].y_n++;
	}
}

/* One value from its first event (ev, the caller's to delete). */
static int ly_node(struct ly_doc *d, yaml_parser_t *p, yaml_event_t *ev, const char *key, int depth)
{
	int i;

	if (ly_plain(d, ev, key) < 0)
		return -EINVAL;
	if (depth > LY_DEPTH_MAX)
		return ly_fail_mark(d, &ev->start_mark, key, "nested too deeply");
	if (ev->type == YAML_SCALAR_EVENT)
		return ly_scalar(d, ev, key);
	if (ev->type != YAML_SEQUENCE_START_EVENT && ev->type != YAML_MAPPING_START_EVENT)
		return ly_fail_mark(d, &ev->start_mark, key, "unexpected YAML event");
	i = ly_new(d, ev->type == YAML_MAPPING_START_EVENT ? LY_MAP : LY_SEQ, &ev->start_mark, key);
	if (i < 0 || ly_children(d, p, i, key, depth) < 0)
		return -EINVAL;
	return i;
}

/* The whole stream: exactly one document whose root is a mapping. */
static int ly_load(struct ly_doc *d, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int root = -1, r = 0;

	if (!yaml_parser_initialize(&p))
		return err_set(d->d_err, 500, ENOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (int step = 0; r == 0; step++) {
		if (ly_next_event(d, &p, &ev, "") < 0) {
			r = -EINVAL;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && root >= 0)
			r = ly_fail_mark(d, &ev.start_mark, "", "more than one document");
		else if (ev.type == YAML_DOCUMENT_START_EVENT &&
			 (ev.data.document_start.version_directive != NULL ||
			  ev.data.document_start.tag_directives.start !=
				  ev.data.document_start.tag_directives.end))
			r = ly_fail_mark(d, &ev.start_mark, "", "directives are not allowed");
		else if (ev.type != YAML_STREAM_START_EVENT &&
			 ev.type != YAML_DOCUMENT_START_EVENT &&
			 ev.type != YAML_DOCUMENT_END_EVENT) {
			root = ly_node(d, &p, &ev, "", 0);
			if (root < 0)
				r = -EINVAL;
			else if (d->d_nodes[root].y_type != LY_MAP)
				r = ly_fail(d, &d->d_nodes[root], "", "the file must be a mapping");
		}
		yaml_event_delete(&ev);
		(void)step;
	}
	yaml_parser_delete(&p);
	if (r == 0 && root < 0)
		r = err_set(d->d_err, 400, EINVAL, "%s:1:1: (top): the file is empty", d->d_file);
	return r < 0 ? r : root;
}

/* ---- the schema ---- */

static const struct ly *ly_at(const struct ly_doc *d, int i)
{
	return i < 0 ? NULL : &d->d_nodes[i];
}

/* Every key of map one of known[]; NULL ends known. */
static int ly_known(struct ly_doc *d, const struct ly *map, const char *key,
		    const char *const *known)
{
	char sub[LY_PATH_MAX];

	for (const struct ly *k = ly_at(d, map->y_kid); k != NULL; k = ly_at(d, k->y_next)) {
		size_t i;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(k->y_s, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			ly_path(sub, key, k->y_s);
			return ly_fail(d, k, sub, "unknown key");
		}
	}
	return 0;
}

static const struct ly *ly_get(const struct ly_doc *d, const struct ly *map, const char *name)
{
	for (const struct ly *k = ly_at(d, map->y_kid); k != NULL; k = ly_at(d, k->y_next))
		if (strcmp(k->y_s, name) == 0)
			return k;
	return NULL;
}

static int ly_want(struct ly_doc *d, const struct ly *v, enum ly_type t, const char *key)
{
	static const char *const what[] = { "a single value", "a mapping", "a list" };

	if (v->y_type != t)
		return ly_fail(d, v, key, "must be %s", what[t]);
	return 0;
}

/* A whole number in [min, max]. */
static int ly_uint(struct ly_doc *d, const struct ly *v, const char *key, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	const char *s;

	if (ly_want(d, v, LY_SCALAR, key) < 0)
		return -EINVAL;
	s = v->y_s;
	if (*s == '\0')
		return ly_fail(d, v, key, "must be a whole number");
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > UINT32_MAX)
			return ly_fail(d, v, key, "must be a whole number from %llu to %llu",
				       (unsigned long long)min, (unsigned long long)max);
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (n < min || n > max)
		return ly_fail(d, v, key, "must be from %llu to %llu", (unsigned long long)min,
			       (unsigned long long)max);
	*out = n;
	return 0;
}

/* "90s", "15m", "6h", "2d", "1w", "1h30m", or seconds. */
static int ly_duration(struct ly_doc *d, const struct ly *v, const char *key, uint64_t *out)
{
	uint64_t total = 0, n = 0;
	bool digits = false;
	const char *s;

	if (ly_want(d, v, LY_SCALAR, key) < 0)
		return -EINVAL;
	for (s = v->y_s; *s; s++) {
		const char *u = strchr("smhdw", *s);
		static const uint64_t mult[] = { 1, 60, 3600, 86400, 604800 };
		if (*s >= '0' && *s <= '9' && n < 100000000) {
			n = n * 10 + (uint64_t)(*s - '0');
			digits = true;
		} else if (u != NULL && digits) {
			total += n * mult[u - "smhdw"];
			n = 0;
			digits = false;
		} else {
			return ly_fail(d, v, key, "must be a duration: 90s, 15m, 6h, 2d, 1w");
		}
	}
	if (digits)
		total += n;
	if (s == v->y_s)
		return ly_fail(d, v, key, "must be a duration: 90s, 15m, 6h, 2d, 1w");
	*out = total;
	return 0;
}

static int ly_str(struct ly_doc *d, const struct ly *v, const char *key, struct json_object *o,
		  const char *member)
{
	if (ly_want(d, v, LY_SCALAR, key) < 0)
		return -EINVAL;
	json_object_object_add(o, member, json_object_new_string(v->y_s));
	return 0;
}

static int ly_strings(struct ly_doc *d, const struct ly *v, const char *key, struct json_object *a)
{
	char sub[LY_PATH_MAX];
	size_t i = 0;

	if (ly_want(d, v, LY_SEQ, key) < 0)
		return -EINVAL;
	for (const struct ly *e = ly_at(d, v->y_kid); e != NULL; e = ly_at(d, e->y_next), i++) {
		ly_fmt(sub, sizeof(sub), "%s[%zu]", key, i);
		if (ly_want(d, e, LY_SCALAR, sub) < 0)
			return -EINVAL;
		json_object_array_add(a, json_object_new_string(e->y_s));
	}
	return 0;
}

/* A mapping of whole numbers (disk, net), each one of names. */
static int ly_limits(struct ly_doc *d, const struct ly *v, const char *key,
		     const char *const *names, struct json_object *o, const char *member)
{
	struct json_object *m;
	char sub[LY_PATH_MAX];

	if (ly_want(d, v, LY_MAP, key) < 0 || ly_known(d, v, key, names) < 0)
		return -EINVAL;
	m = json_object_new_object();
	json_object_object_add(o, member, m);
	for (size_t i = 0; names[i] != NULL; i++) {
		const struct ly *k = ly_get(d, v, names[i]);
		uint64_t n;
		if (k == NULL)
			continue;
		ly_path(sub, key, names[i]);
		if (ly_uint(d, ly_at(d, k->y_kid), sub, 1, 1000000, &n) < 0)
			return -EINVAL;
		json_object_object_add(m, names[i], json_object_new_int64((int64_t)n));
	}
	return 0;
}

static const char *const lab_node_keys[] = {
	"image",      "memory", "vcpus",      "scratch",   "lifetime", "profile",
	"publish",    "egress", "on_hostile", "on_silent", "on_fail",  "cpus",
	"cpu_weight", "disk",   "net",        NULL,
};

/* A node's value of key: the node's own, else the defaults'. */
static const struct ly *lab_val(const struct ly_doc *d, const struct ly *node,
				const struct ly *defs, const char *key, char *path,
				const char *node_path)
{
	const struct ly *k = ly_get(d, node, key);

	if (k == NULL && defs != NULL && (k = ly_get(d, defs, key)) != NULL) {
		ly_fmt(path, LY_PATH_MAX, "defaults.%s", key);
		return ly_at(d, k->y_kid);
	}
	ly_fmt(path, LY_PATH_MAX, "%s.%s", node_path, key);
	return k ? ly_at(d, k->y_kid) : NULL;
}

/* egress: allow | deny | {allow: [...], default: deny|allow}. */
static int lab_egress(struct ly_doc *d, const struct ly *v, const char *key,
		      struct json_object *net)
{
	static const char *const keys[] = { "allow", "default", NULL };
	struct json_object *allow = json_object_new_array();
	const char *mode = "deny";
	const struct ly *k;
	char sub[LY_PATH_MAX];

	json_object_object_add(net, "egress_allow", allow);
	if (v == NULL) {
		json_object_object_add(net, "egress", json_object_new_string("allow"));
		return 0;
	}
	if (v->y_type == LY_SCALAR) {
		if (strcmp(v->y_s, "allow") != 0 && strcmp(v->y_s, "deny") != 0)
			return ly_fail(d, v, key, "must be allow, deny or {allow: [...]}");
		json_object_object_add(net, "egress", json_object_new_string(v->y_s));
		return 0;
	}
	if (ly_want(d, v, LY_MAP, key) < 0 || ly_known(d, v, key, keys) < 0)
		return -EINVAL;
	if ((k = ly_get(d, v, "default")) != NULL) {
		const struct ly *m = ly_at(d, k->y_kid);
		ly_path(sub, key, "default");
		if (ly_want(d, m, LY_SCALAR, sub) < 0)
			return -EINVAL;
		if (strcmp(m->y_s, "allow") != 0 && strcmp(m->y_s, "deny") != 0)
			return ly_fail(d, m, sub, "must be allow or deny");
		mode = m->y_s;
	}
	json_object_object_add(net, "egress", json_object_new_string(mode));
	if ((k = ly_get(d, v, "allow")) != NULL) {
		ly_path(sub, key, "allow");
		if (ly_strings(d, ly_at(d, k->y_kid), sub, allow) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The sizes and numbers of a node into its create request's core. */
static int lab_node_sizes(struct ly_doc *d, const struct ly *node, const struct ly *defs,
			  const char *np, struct json_object *core)
{
	static const struct {
		const char *key, *member;
		int kind; /* 0 size, 1 number, 2 duration, 3 string */
	} map[] = {
		{ "image", "image", 3 },           { "memory", "memory_mib", 0 },
		{ "vcpus", "vcpus", 1 },           { "scratch", "scratch_mib", 0 },
		{ "lifetime", "lifetime_s", 2 },   { "profile", "profile", 3 },
		{ "on_hostile", "on_hostile", 3 }, { "on_silent", "on_silent", 3 },
		{ "on_fail", "on_fail", 3 },       { "cpu_weight", "cpu_weight", 1 },
	};
	char path[LY_PATH_MAX];

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const struct ly *v = lab_val(d, node, defs, map[i].key, path, np);
		uint64_t n = 0;
		if (v == NULL)
			continue;
		if (map[i].kind == 3) {
			if (ly_str(d, v, path, core, map[i].member) < 0)
				return -EINVAL;
			continue;
		}
		if (map[i].kind == 0) {
			struct dock_err e = { 0 };
			if (ly_want(d, v, LY_SCALAR, path) < 0)
				return -EINVAL;
			if (validate_size_mib(map[i].key, v->y_s, &n, &e) < 0)
				return ly_fail(d, v, path, "%s", e.de_msg);
		} else if (map[i].kind == 1 && ly_uint(d, v, path, 0, 1000000, &n) < 0) {
			return -EINVAL;
		} else if (map[i].kind == 2 && ly_duration(d, v, path, &n) < 0) {
			return -EINVAL;
		}
		json_object_object_add(core, map[i].member, json_object_new_int64((int64_t)n));
	}
	return 0;
}

/* cpus (a fraction of a core), disk and net limits. */
static int lab_node_limits(struct ly_doc *d, const struct ly *node, const struct ly *defs,
			   const char *np, struct json_object *core)
{
	static const char *const disk[] = { "read_mbps", "write_mbps", "read_iops", "write_iops",
					    NULL };
	static const char *const net[] = { "in_mbps", "out_mbps", NULL };
	char path[LY_PATH_MAX];
	const struct ly *v;

	if ((v = lab_val(d, node, defs, "cpus", path, np)) != NULL) {
		char *end = NULL;
		double c;
		if (ly_want(d, v, LY_SCALAR, path) < 0)
			return -EINVAL;
		c = strtod(v->y_s, &end);
		if (end == v->y_s || *end != '\0' || !(c > 0 && c <= 1024))
			return ly_fail(d, v, path, "must be a number of cores such as 0.5");
		json_object_object_add(core, "cpus", json_object_new_double(c));
	}
	if ((v = lab_val(d, node, defs, "disk", path, np)) != NULL &&
	    ly_limits(d, v, path, disk, core, "disk") < 0)
		return -EINVAL;
	if ((v = lab_val(d, node, defs, "net", path, np)) != NULL &&
	    ly_limits(d, v, path, net, core, "net") < 0)
		return -EINVAL;
	return 0;
}

/* spec_parse's refusal, at the value it names when it names one of the
 * node's keys (the node's own or the defaults'), else at the node. */
static int lab_spec_fail(struct ly_doc *d, const struct ly *k, const struct ly *node,
			 const struct ly *defs, const char *np, const char *msg)
{
	char path[LY_PATH_MAX];

	for (size_t i = 0; lab_node_keys[i] != NULL; i++) {
		const char *key = lab_node_keys[i], *at = strstr(msg, key);
		const struct ly *v;
		size_t l = strlen(key);
		if (at == NULL ||
		    (at > msg && (at[-1] == '_' || (at[-1] >= 'a' && at[-1] <= 'z'))) ||
		    at[l] == '_' || (at[l] >= 'a' && at[l] <= 'z'))
			continue;
		v = lab_val(d, node, defs, key, path, np);
		if (v != NULL)
			return ly_fail(d, v, path, "%s", msg);
	}
	return ly_fail(d, k, np, "%s", msg);
}

/* o's canonical text into dst; false when it does not fit (never cut:
 * a cut request would be another request, or no JSON at all). */
static bool lab_json_copy(char *dst, size_t size, struct json_object *o)
{
	const char *t = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return (size_t)snprintf(dst, size, "%s", t) < size;
}

/* One node: its full name, its create request checked by spec_parse. */
static int lab_node(struct ly_doc *d, struct lab *lab, const struct ly *k, const struct ly *defs,
		    const struct dock_config *cfg)
{
	struct lab_node *ln = &lab->l_nodes[lab->l_n_nodes];
	const struct ly *node = ly_at(d, k->y_kid);
	struct json_object *core = NULL, *net = NULL, *pub;
	struct dock_err e = { 0 };
	char np[LY_PATH_MAX], path[LY_PATH_MAX];
	const struct ly *v;
	int r = -EINVAL;

	ly_path(np, "nodes", k->y_s);
	if (validate_name("node", k->y_s, NODE_NAME_MAX, &e) < 0)
		return ly_fail(d, k, np, "%s", e.de_msg);
	if (strlen(lab->l_name) + 1 + strlen(k->y_s) > NODE_NAME_MAX)
		return ly_fail(d, k, np, "the node's name \"%s-%s\" is longer than %d characters",
			       lab->l_name, k->y_s, NODE_NAME_MAX);
	ly_fmt(ln->ln_name, sizeof(ln->ln_name), "%s-%s", lab->l_name, k->y_s);
	ly_fmt(ln->ln_short, sizeof(ln->ln_short), "%s", k->y_s);
	if (ly_want(d, node, LY_MAP, np) < 0 || ly_known(d, node, np, lab_node_keys) < 0)
		return -EINVAL;
	core = json_object_new_object();
	net = json_object_new_object();
	json_object_object_add(core, "name", json_object_new_string(ln->ln_name));
	if (lab_node_sizes(d, node, defs, np, core) < 0 ||
	    lab_node_limits(d, node, defs, np, core) < 0)
		goto out;
	pub = json_object_new_array();
	json_object_object_add(net, "publish", pub);
	if ((v = lab_val(d, node, defs, "publish", path, np)) != NULL &&
	    ly_strings(d, v, path, pub) < 0)
		goto out;
	v = lab_val(d, node, defs, "egress", path, np);
	if (lab_egress(d, v, path, net) < 0)
		goto out;
	lab_json_copy(ln->ln_core, sizeof(ln->ln_core), core);
	lab_json_copy(ln->ln_net, sizeof(ln->ln_net), net);
	json_object_object_foreach(net, nk, nv)
		json_object_object_add(core, nk, json_object_get(nv));
	/* The whole request: when it fits, its two parts did. */
	if (!lab_json_copy(ln->ln_body, sizeof(ln->ln_body), core)) {
		r = ly_fail(d, k, np, "the node's create request is longer than %d bytes",
			    SPEC_REQUEST_MAX - 1);
		goto out;
	}
	if (cfg != NULL) {
		struct node_spec *spec = malloc(sizeof(*spec));
		if (spec == NULL) {
			r = err_set(d->d_err, 500, ENOMEM, "out of memory");
			goto out;
		}
		r = spec_parse(ln->ln_body, strlen(ln->ln_body), cfg, spec, &e);
		free(spec);
		if (r < 0) {
			r = lab_spec_fail(d, k, node, defs, np, e.de_msg);
			goto out;
		}
	}
	lab->l_n_nodes++;
	r = 0;
out:
	json_object_put(core);
	json_object_put(net);
	return r;
}

static const struct lab_node *lab_find_short(const struct lab *lab, const char *s)
{
	for (size_t i = 0; i < lab->l_n_nodes; i++)
		if (strcmp(lab->l_nodes[i].ln_short, s) == 0)
			return &lab->l_nodes[i];
	return NULL;
}

/* "80/tcp", "53/udp", "80" (tcp). */
static int lab_port(struct ly_doc *d, const struct ly *v, const char *key, struct lab_flow *f)
{
	char *end = NULL;
	unsigned long p;

	if (ly_want(d, v, LY_SCALAR, key) < 0)
		return -EINVAL;
	p = strtoul(v->y_s, &end, 10);
	if (end == v->y_s || v->y_s[0] < '0' || v->y_s[0] > '9' || p < 1 || p > 65535)
		return ly_fail(d, v, key, "must be PORT[/tcp|/udp], PORT 1 to 65535");
	if (*end == '\0' || strcmp(end, "/tcp") == 0)
		f->lf_proto = IPPROTO_TCP;
	else if (strcmp(end, "/udp") == 0)
		f->lf_proto = IPPROTO_UDP;
	else
		return ly_fail(d, v, key, "must be PORT[/tcp|/udp], PORT 1 to 65535");
	f->lf_port = (uint16_t)p;
	return 0;
}

static int lab_flow(struct ly_doc *d, struct lab *lab, const struct ly *item, const char *key)
{
	static const char *const keys[] = { "from", "to", "port", NULL };
	struct lab_flow *f = &lab->l_flows[lab->l_n_flows];
	const char *ends[] = { "from", "to" };
	char *names[] = { f->lf_from, f->lf_to };
	char sub[LY_PATH_MAX];

	if (ly_want(d, item, LY_MAP, key) < 0 || ly_known(d, item, key, keys) < 0)
		return -EINVAL;
	for (size_t i = 0; i < 3; i++) {
		const char *w = i < 2 ? ends[i] : "port";
		const struct ly *k = ly_get(d, item, w), *v;
		ly_path(sub, key, w);
		if (k == NULL)
			return ly_fail(d, item, sub, "missing");
		v = ly_at(d, k->y_kid);
		if (i == 2) {
			if (lab_port(d, v, sub, f) < 0)
				return -EINVAL;
		} else {
			const struct lab_node *n;
			if (ly_want(d, v, LY_SCALAR, sub) < 0)
				return -EINVAL;
			if ((n = lab_find_short(lab, v->y_s)) == NULL)
				return ly_fail(d, v, sub, "no node \"%.40s\" in this lab", v->y_s);
			ly_fmt(names[i], NODE_NAME_MAX + 1, "%s", n->ln_name);
		}
	}
	if (strcmp(f->lf_from, f->lf_to) == 0)
		return ly_fail(d, item, key, "a flow from a node to itself");
	for (size_t i = 0; i < lab->l_n_flows; i++) {
		const struct lab_flow *g = &lab->l_flows[i];
		if (strcmp(g->lf_from, f->lf_from) == 0 && strcmp(g->lf_to, f->lf_to) == 0 &&
		    g->lf_port == f->lf_port && g->lf_proto == f->lf_proto)
			return ly_fail(d, item, key, "the same flow as flows[%zu]", i);
	}
	lab->l_n_flows++;
	return 0;
}

static int lab_walk(struct ly_doc *d, const struct ly *root, const struct dock_config *cfg,
		    struct lab *lab)
{
	static const char *const top[] = { "name", "defaults", "nodes", "flows", NULL };
	const struct ly *k, *v, *defs = NULL, *nodes;
	struct dock_err e = { 0 };
	char sub[LY_PATH_MAX];
	size_t i = 0;

	if (ly_known(d, root, "", top) < 0)
		return -EINVAL;
	if ((k = ly_get(d, root, "name")) == NULL)
		return ly_fail(d, root, "name", "missing");
	v = ly_at(d, k->y_kid);
	if (ly_want(d, v, LY_SCALAR, "name") < 0)
		return -EINVAL;
	if (validate_name("lab", v->y_s, LAB_NAME_MAX, &e) < 0)
		return ly_fail(d, v, "name", "%s", e.de_msg);
	snprintf(lab->l_name, sizeof(lab->l_name), "%s", v->y_s);
	if ((k = ly_get(d, root, "defaults")) != NULL) {
		defs = ly_at(d, k->y_kid);
		if (ly_want(d, defs, LY_MAP, "defaults") < 0 ||
		    ly_known(d, defs, "defaults", lab_node_keys) < 0)
			return -EINVAL;
	}
	if ((k = ly_get(d, root, "nodes")) == NULL)
		return ly_fail(d, root, "nodes", "missing");
	nodes = ly_at(d, k->y_kid);
	if (ly_want(d, nodes, LY_MAP, "nodes") < 0)
		return -EINVAL;
	if (nodes->y_n == 0)
		return ly_fail(d, nodes, "nodes", "a lab needs at least one node");
	for (k = ly_at(d, nodes->y_kid); k != NULL; k = ly_at(d, k->y_next))
		if (lab_node(d, lab, k, defs, cfg) < 0)
			return -EINVAL;
	if ((k = ly_get(d, root, "flows")) == NULL)
		return 0;
	v = ly_at(d, k->y_kid);
	if (ly_want(d, v, LY_SEQ, "flows") < 0)
		return -EINVAL;
	for (k = ly_at(d, v->y_kid); k != NULL; k = ly_at(d, k->y_next), i++) {
		snprintf(sub, sizeof(sub), "flows[%zu]", i);
		if (lab_flow(d, lab, k, sub) < 0)
			return -EINVAL;
	}
	return 0;
}

int lab_parse(const char *file, const char *buf, size_t len, const struct dock_config *cfg,
	      struct lab *lab, struct dock_err *err)
{
	struct ly_doc d = { .d_err = err };
	char fname[LAB_FNAME_MAX];
	int root, r;

	memset(lab, 0, sizeof(*lab));
	/* The name is the client's: only a plain base name reaches a message. */
	snprintf(fname, sizeof(fname), "%s", file != NULL && file[0] ? file : "lab.yaml");
	for (char *c = fname; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == '/' || *c == '\\' || *c == '"')
			*c = '_';
	snprintf(lab->l_file, sizeof(lab->l_file), "%s", fname);
	d.d_file = lab->l_file;
	if (len > LAB_FILE_MAX)
		return err_set(err, 400, E2BIG, "%s: larger than %d KiB", fname,
			       LAB_FILE_MAX / 1024);
	if (memchr(buf, '\0', len) != NULL)
		return err_set(err, 400, EINVAL, "%s: a NUL byte: not a text file", fname);
	d.d_nodes = calloc(LY_NODES_MAX, sizeof(*d.d_nodes));
	if (d.d_nodes == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	root = ly_load(&d, buf, len);
	r = root < 0 ? root : lab_walk(&d, &d.d_nodes[root], cfg, lab);
	for (size_t i = 0; i < d.d_n; i++)
		free(d.d_nodes[i].y_s);
	free(d.d_nodes);
	if (r < 0) {
		if (!err_isset(err))
			err_set(err, 400, EINVAL, "%s: not a lab file", fname);
		return -EINVAL;
	}
	return 0;
}

char *lab_flows_json(const struct lab *lab)
{
	struct json_object *a = json_object_new_array();
	char *s;

	for (size_t i = 0; i < lab->l_n_flows; i++) {
		const struct lab_flow *f = &lab->l_flows[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "from", json_object_new_string(f->lf_from));
		json_object_object_add(o, "to", json_object_new_string(f->lf_to));
		json_object_object_add(o, "port", json_object_new_int(f->lf_port));
		json_object_object_add(
			o, "proto",
			json_object_new_string(f->lf_proto == IPPROTO_UDP ? "udp" : "tcp"));
		json_object_array_add(a, o);
	}
	s = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return s;
}
