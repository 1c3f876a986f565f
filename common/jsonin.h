/* jsonin: JSON from outside the dock (API bodies, agent lines, image
 * manifests) parsed with explicit ceilings, and typed field getters whose
 * errors name the field. Nothing here trusts its input. */
#ifndef ISC_JSONIN_H
#define ISC_JSONIN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>

#include "err.h"

struct jsonin_limits {
	size_t jl_max_bytes;  /* whole document */
	int jl_max_depth;     /* nesting, counted by json-c's tokener */
	size_t jl_max_fields; /* members of any one object / elements of any array */
};

/* Parse buf[0..len) as exactly one JSON object (trailing blanks allowed).
 * On success *out owns a new reference. Errors are 400s naming `what`. */
int jsonin_parse(const char *what, const char *buf, size_t len, const struct jsonin_limits *lim,
		 struct json_object **out, struct dock_err *err);

/* Copy string member `key` into buf (size bytes incl. NUL). Missing: -ENOENT
 * (error set only if required). Wrong type or too long: -EINVAL. */
int jsonin_str(const struct json_object *obj, const char *what, const char *key, bool required,
	       char *buf, size_t size, struct dock_err *err);

/* Integer member in [min, max]. */
int jsonin_u64(const struct json_object *obj, const char *what, const char *key, bool required,
	       uint64_t min, uint64_t max, uint64_t *out, struct dock_err *err);

/* For optional members: absent is fine, any other failure is not. */
#define JSONIN_BAD(r) ((r) < 0 && (r) != -ENOENT)

/* Signed integer member in [min, max]. */
int jsonin_i64(const struct json_object *obj, const char *what, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out, struct dock_err *err);

/* Boolean member. */
int jsonin_bool(const struct json_object *obj, const char *what, const char *key, bool required,
		bool *out, struct dock_err *err);

/* Array member with at most max elements (*out borrowed from obj). */
int jsonin_array(const struct json_object *obj, const char *what, const char *key, bool required,
		 size_t max, struct json_object **out, struct dock_err *err);

/* Optional array of at most max strings, each copied into a slot of stride
 * bytes of arr (a char[max][stride]); absent: *n = 0. */
int jsonin_strings(const struct json_object *obj, const char *what, const char *key, char *arr,
		   size_t stride, size_t max, size_t *n, struct dock_err *err);

#endif
