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
	char pre[256];
	size_t plen, mlen, cap;
	va_list ap;

	if (!err_isset(err))
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	cap = sizeof(err->de_msg) - 1;
	plen = strlen(pre);
	if (plen > cap)
		plen = cap;
	mlen = strlen(err->de_msg);
	if (plen + mlen > cap)
		mlen = cap - plen; /* the tail of the message goes, the context stays */
	memmove(err->de_msg + plen, err->de_msg, mlen);
	memcpy(err->de_msg, pre, plen);
	err->de_msg[plen + mlen] = '\0';
}

void err_clear(struct dock_err *err)
{
	if (err == NULL)
		return;
	err->de_status = 0;
	err->de_errno = 0;
	err->de_msg[0] = '\0';
}
