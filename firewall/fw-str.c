/* fw-str: a growable string, for the dry run's description, fw_show's
 * text and the signatures of rules read back. Running out of memory is
 * remembered and reported once, by fw_str_take. */
#include "fw-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void fw_str_vadd(struct fw_str *d, const char *fmt, va_list ap)
{
	for (;;) {
		size_t room = d->s_cap - d->s_len;
		va_list aq;
		char *p;
		int n;

		va_copy(aq, ap);
		n = room > 0 ? vsnprintf(d->s_buf + d->s_len, room, fmt, aq) : -2;
		va_end(aq);
		if (n == -1 || d->s_oom)
			return;
		if (n >= 0 && (size_t)n < room) {
			d->s_len += (size_t)n;
			return;
		}
		p = realloc(d->s_buf, d->s_cap * 2 + 256);
		if (p == NULL) {
			d->s_oom = true;
			return;
		}
		d->s_buf = p;
		d->s_cap = d->s_cap * 2 + 256;
	}
}

void fw_str_add(struct fw_str *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_str_vadd(d, fmt, ap);
	va_end(ap);
}

/* The string, or NULL (and nothing to free) if memory ran out. */
char *fw_str_take(struct fw_str *d)
{
	if (d->s_oom || d->s_buf == NULL) {
		free(d->s_buf);
		return NULL;
	}
	return d->s_buf;
}
