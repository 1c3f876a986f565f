/* timearg: a point in time as a person types it, wherever a command or
 * the API takes one (`logs --since`, `audit --since`). Pure: no I/O, no
 * globals, "now" is the caller's. Three forms:
 *  - RFC 3339: 2026-12-05T10:00:00Z, 2026-12-05T11:00:00+01:00, a space
 *    or a lower-case t/z allowed, a fraction of a second allowed (cut: a
 *    time_t holds seconds), a leap second (:60) counted as the next one;
 *  - an age, meaning now minus it: a whole number and a unit, s m h d or w
 *    ("90s", "10m", "6h", "2d", "1w"), several in a row ("1h30m");
 *  - UNIX seconds: digits only ("1796464800").
 * A time before 1970 or after 9999 is refused; so is any input longer than
 * TIMEARG_TEXT_MAX. */
#ifndef ISC_TIMEARG_H
#define ISC_TIMEARG_H

#include <stddef.h>
#include <time.h>

#include "err.h"

#define TIMEARG_TEXT_MAX 64
/* "2026-12-05T10:00:00Z" and its NUL */
#define TIMEARG_RFC3339_SIZE 21

/* text into *out, a UNIX time; 0, or -EINVAL with err (400) naming what
 * (the option: "since") and the input (escaped). *out untouched on failure. */
int timearg_parse(const char *what, const char *text, time_t now, time_t *out,
		  struct dock_err *err);

/* Only the RFC 3339 form, of exactly s[0..len) (a line of a file: the
 * console's boot markers); 0 or -EINVAL, no message. */
int timearg_rfc3339(const char *s, size_t len, time_t *out);

/* t as RFC 3339 in UTC ("2026-12-05T10:00:00Z") into buf of size bytes
 * (TIMEARG_RFC3339_SIZE at least; a shorter buf gets an empty string). */
void timearg_format(time_t t, char *buf, size_t size);

#endif
