/* render: libvirt XML from templates/ with libxml2. A template is plain XML
 * in which `{{key}}` inside text or attribute values is replaced by a value
 * set on the parsed tree (so values are escaped by the serializer, never
 * pasted into markup), an element carrying `isc-if="key"` is kept only
 * when key has a non-empty value (the attribute itself is dropped), and
 * one carrying `isc-each="key"` is repeated once per line of key's value
 * (none when it is empty), `{{key}}` in each copy being that line. */
#ifndef ISC_RENDER_H
#define ISC_RENDER_H

#include <stddef.h>

#include "err.h"

#define RENDER_MAX_VARS  64
#define RENDER_MAX_BYTES (256 * 1024)

struct render_var {
	const char *rv_key;
	const char *rv_value; /* NULL or "" = unset (for isc-if) */
};

/* Render template file `path`; *out is a malloc'd NUL-terminated document. */
int render_file(const char *path, const struct render_var *vars, size_t n_vars, char **out,
		struct dock_err *err);
/* The same for a template in memory; `name` labels errors. */
int render_buf(const char *name, const char *tmpl, size_t len, const struct render_var *vars,
	       size_t n_vars, char **out, struct dock_err *err);

#endif
