/* escape: text from guests and clients made safe for a log line, syslog,
 * the audit text and a terminal, in one place. The output is valid UTF-8
 * without control characters:
 *  - a control character (C0 0x00-0x1f, DEL 0x7f, and C1 U+0080-U+009F,
 *    which arrives as the two bytes 0xc2 0x80-0x9f) becomes "\xNN", NN its
 *    code point in lower-case hex (ESC is "\x1b", CSI "\x9b");
 *  - a backslash becomes "\\", so an escape in the output always came from
 *    a control in the input, never from the text "\x1b" itself;
 *  - a byte that does not start a valid UTF-8 sequence (a stray
 *    continuation byte, an overlong form, a surrogate, a code point above
 *    U+10FFFF, a sequence cut short, 0xc0, 0xc1, 0xf5-0xff) becomes one
 *    U+FFFD, and decoding goes on at the next byte. (U+FFFD rather than
 *    "\xNN" so that the output of ESCAPE_JSON stays valid JSON meaning the
 *    same thing; the exact bytes are what `iscadm logs --raw` is for.)
 * Everything else, valid characters beyond ASCII included, is copied. */
#ifndef ISC_ESCAPE_H
#define ISC_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

enum escape_flags {
	ESCAPE_KEEP_TAB = 1 << 0, /* a tab stays a tab (console lines, tables) */
	ESCAPE_KEEP_NL = 1 << 1,  /* a newline stays a newline (multi-line text) */
	/* The text is JSON already (an audit record, the CLI's --json): a
	 * backslash is left as it is (it starts a JSON escape) and a control
	 * character becomes "\u00NN", so the JSON still parses to the same
	 * strings, minus only what was not UTF-8. */
	ESCAPE_JSON = 1 << 2,
	/* The text was escaped already (a console line from the dock): a
	 * backslash is left as it is, so escaped text comes out unchanged and
	 * only what an older dock let through is escaped. */
	ESCAPE_KEEP_BACKSLASH = 1 << 3,
};

/* The worst case: one input byte becomes at most 6 output bytes
 * ("\u00NN" in ESCAPE_JSON, else at most 4). A dst of
 * ESCAPE_SIZE(len) always takes the whole of len bytes. */
#define ESCAPE_SIZE(len) (6 * (size_t)(len) + 1)

/* Escape src[0..len) into dst, which holds size bytes. dst is always
 * NUL-terminated (when size > 0) and never ends inside a character or an
 * escape: what does not fit is left out whole. Returns how many bytes of
 * src were taken (len when all of them), so a caller may go on from there
 * with a fresh buffer. */
size_t escape_buf(char *dst, size_t size, const void *src, size_t len, unsigned flags);

/* The same for a C string; returns dst (an empty string when size is 0
 * cannot be returned: size must be at least 1). */
const char *escape_str(char *dst, size_t size, const char *src, unsigned flags);

/* How many bytes of s[0..len) to keep so that at most max bytes are kept
 * and the cut does not fall inside a UTF-8 sequence: len when len <= max,
 * else max unless the sequence that a lead byte among the last three
 * starts reaches past max, then the start of that sequence. Bytes that
 * are not UTF-8 are not judged here (they are escape_buf's). */
size_t escape_cut(const char *s, size_t len, size_t max);

/* Whether s[0..len) is valid UTF-8 (the rules above); for the tests and
 * the fuzz target's invariants. */
bool escape_utf8_valid(const void *s, size_t len);

#endif
