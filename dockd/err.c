/* err: fill and decorate the error object of err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct dock_err *err, int status, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (errnum < 0)
		errnum = -errnum;
	if (err == NULL || err_isset(err))
		return -errnum;
	err->de_status = status;
	err->de_errno = errnum;
	va_start(ap, fmt);
	vsnprintf(err->de_msg, sizeof(err->de_msg), fmt, ap);
	va_end(ap);
	return -errnum;
}

void err_prefix(struct dock_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->de_msg)];
	va_list ap;

	if (!err_isset(err))
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->de_msg, sizeof(old));
	snprintf(err->de_msg, sizeof(err->de_msg), "%s%s", pre, old);
}

void err_clear(struct dock_err *err)
{
	if (err == NULL)
		return;
	err->de_status = 0;
	err->de_errno = 0;
	err->de_msg[0] = '\0';
}
