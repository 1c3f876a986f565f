/* jsonin: bounded JSON parsing on top of json-c's tokener. */
#include "jsonin.h"

#include <errno.h>
#include <string.h>

static int jsonin_check_fields(struct json_object *o, const struct jsonin_limits *lim)
{
	size_t n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		if ((size_t)json_object_object_length(o) > lim->jl_max_fields)
			return -E2BIG;
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (jsonin_check_fields(v, lim) < 0)
				return -E2BIG;
		}
		return 0;
	case json_type_array:
		n = json_object_array_length(o);
		if (n > lim->jl_max_fields)
			return -E2BIG;
		for (size_t i = 0; i < n; i++)
			if (jsonin_check_fields(json_object_array_get_idx(o, i), lim) < 0)
				return -E2BIG;
		return 0;
	default:
		return 0;
	}
}

int jsonin_parse(const char *what, const char *buf, size_t len, const struct jsonin_limits *lim,
		 struct json_object **out, struct dock_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t used;

	if (len > lim->jl_max_bytes)
		return err_set(err, 400, E2BIG, "%s: %zu bytes exceeds the limit of %zu", what, len,
			       lim->jl_max_bytes);
	if (len > INT32_MAX)
		return err_set(err, 400, E2BIG, "%s: too large", what);
	if (memchr(buf, '\0', len) != NULL)
		return err_set(err, 400, EINVAL, "%s: contains a NUL byte", what);
	tok = json_tokener_new_ex(lim->jl_max_depth);
	if (tok == NULL)
		return err_set(err, 500, ENOMEM, "%s: out of memory", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o == NULL || jerr != json_tokener_success) {
		json_object_put(o);
		if (jerr == json_tokener_continue)
			return err_set(err, 400, EINVAL, "%s: truncated JSON", what);
		return err_set(err, 400, EINVAL, "%s: invalid JSON: %s", what,
			       json_tokener_error_desc(jerr));
	}
	for (; used < len; used++) {
		if (strchr(" \t\r\n", buf[used]) == NULL) {
			json_object_put(o);
			return err_set(err, 400, EINVAL, "%s: trailing data after the JSON object",
				       what);
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(err, 400, EINVAL, "%s: expected a JSON object", what);
	}
	if (jsonin_check_fields(o, lim) < 0) {
		json_object_put(o);
		return err_set(err, 400, E2BIG, "%s: an object or array has more than %zu members",
			       what, lim->jl_max_fields);
	}
	*out = o;
	return 0;
}

/* The member `key` of type `type`: 0, or -ENOENT when absent or null (an
 * error only if required), or -EINVAL for another type. */
static int jsonin_member(const struct json_object *obj, const char *what, const char *key,
			 bool required, enum json_type type, const char *type_name,
			 struct json_object **out, struct dock_err *err)
{
	struct json_object *v = NULL;

	/* json-c's getters take non-const objects but do not modify them. */
	if (!json_object_object_get_ex((struct json_object *)(uintptr_t)obj, key, &v) ||
	    json_object_is_type(v, json_type_null)) {
		if (required)
			return err_set(err, 400, ENOENT, "%s: missing \"%s\"", what, key);
		return -ENOENT;
	}
	if (!json_object_is_type(v, type))
		return err_set(err, 400, EINVAL, "%s: \"%s\" must be %s", what, key, type_name);
	*out = v;
	return 0;
}

int jsonin_str(const struct json_object *obj, const char *what, const char *key, bool required,
	       char *buf, size_t size, struct dock_err *err)
{
	struct json_object *v;
	size_t n;
	int r = jsonin_member(obj, what, key, required, json_type_string, "a string", &v, err);

	if (r < 0)
		return r;
	n = (size_t)json_object_get_string_len(v);
	if (n >= size)
		return err_set(err, 400, ENAMETOOLONG, "%s: \"%s\" is longer than %zu bytes", what,
			       key, size - 1);
	memcpy(buf, json_object_get_string(v), n);
	buf[n] = '\0';
	if (strlen(buf) != n)
		return err_set(err, 400, EINVAL, "%s: \"%s\" contains a NUL byte", what, key);
	return 0;
}

int jsonin_i64(const struct json_object *obj, const char *what, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out, struct dock_err *err)
{
	struct json_object *v;
	int64_t i;
	int r = jsonin_member(obj, what, key, required, json_type_int, "an integer", &v, err);

	if (r < 0)
		return r;
	errno = 0;
	i = json_object_get_int64(v);
	if (errno != 0 || i < min || i > max)
		return err_set(err, 400, ERANGE, "%s: \"%s\" must be between %lld and %lld", what,
			       key, (long long)min, (long long)max);
	*out = i;
	return 0;
}

int jsonin_u64(const struct json_object *obj, const char *what, const char *key, bool required,
	       uint64_t min, uint64_t max, uint64_t *out, struct dock_err *err)
{
	int64_t i;
	/* json-c holds integers as int64: no member can exceed INT64_MAX. */
	int r = jsonin_i64(obj, what, key, required, min > INT64_MAX ? INT64_MAX : (int64_t)min,
			   max > INT64_MAX ? INT64_MAX : (int64_t)max, &i, err);

	if (r == 0)
		*out = (uint64_t)i;
	return r;
}

int jsonin_bool(const struct json_object *obj, const char *what, const char *key, bool required,
		bool *out, struct dock_err *err)
{
	struct json_object *v;
	int r = jsonin_member(obj, what, key, required, json_type_boolean, "true or false", &v,
			      err);

	if (r < 0)
		return r;
	*out = json_object_get_boolean(v);
	return 0;
}

int jsonin_array(const struct json_object *obj, const char *what, const char *key, bool required,
		 size_t max, struct json_object **out, struct dock_err *err)
{
	struct json_object *v;
	int r = jsonin_member(obj, what, key, required, json_type_array, "an array", &v, err);

	if (r < 0)
		return r;
	if (json_object_array_length(v) > max)
		return err_set(err, 400, E2BIG, "%s: \"%s\" has more than %zu elements", what, key,
			       max);
	*out = v;
	return 0;
}

int jsonin_strings(const struct json_object *obj, const char *what, const char *key, char *arr,
		   size_t stride, size_t max, size_t *n, struct dock_err *err)
{
	struct json_object *a;
	int r = jsonin_array(obj, what, key, false, max, &a, err);

	*n = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		size_t len = (size_t)json_object_get_string_len(v);

		if (!json_object_is_type(v, json_type_string) || len >= stride ||
		    strlen(json_object_get_string(v)) != len)
			return err_set(err, 400, EINVAL,
				       "%s: %s[%zu] must be a string under %zu bytes", what, key, i,
				       stride);
		memcpy(arr + i * stride, json_object_get_string(v), len + 1);
		*n = i + 1;
	}
	return 0;
}
