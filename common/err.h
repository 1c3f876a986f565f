/* err: the one error convention. Fallible functions return 0 or a negative
 * errno; where a human must be told why, they also fill a dock_err naming the
 * bad input. The API answers clients with de_status and de_msg. */
#ifndef ISC_ERR_H
#define ISC_ERR_H

#include <stddef.h>

struct dock_err {
	int de_status;    /* HTTP status the API answers with (400, 404, 409, 500, 503) */
	int de_errno;     /* positive errno */
	char de_msg[512]; /* one line, names the bad input */
};

/* Fill err (may be NULL) unless it already holds an error: the first error,
 * the most specific one, wins. Returns -errnum so callers can
 * `return err_set(err, 400, EINVAL, "...")`. */
int err_set(struct dock_err *err, int status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefix context to an error already set ("node web1: " + msg). */
void err_prefix(struct dock_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct dock_err *err);

static inline int err_isset(const struct dock_err *err)
{
	return err != NULL && err->de_msg[0] != '\0';
}

#endif
