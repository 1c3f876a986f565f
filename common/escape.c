/* escape: guest- and client-controlled text made safe for logs, syslog
 * and terminals (the rules are in escape.h). Pure: no I/O, no globals. */
#include "escape.h"

#include <stdint.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (1-4) and its code point,
 * or 0 when s[0] does not start one. The second byte's range per lead
 * byte (RFC 3629's table) refuses overlong forms, surrogates and code
 * points above U+10FFFF. */
static size_t escape_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf)
		n = 2;
	else if (b >= 0xe0 && b <= 0xef)
		n = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		n = 4;
	else
		return 0;
	if (b == 0xe0)
		lo = 0xa0;
	else if (b == 0xed)
		hi = 0x9f;
	else if (b == 0xf0)
		lo = 0x90;
	else if (b == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	*cp = b & (0xff >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if (i > 1 && (s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return n;
}

static bool escape_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

size_t escape_buf(char *dst, size_t size, const void *src, size_t len, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t i = 0, o = 0;

	if (size == 0)
		return 0;
	while (i < len) {
		char tmp[8];
		const char *out = tmp;
		size_t outlen, n;
		uint32_t cp = 0;

		n = escape_decode(s + i, len - i, &cp);
		if (n == 0) {
			out = "\xef\xbf\xbd"; /* U+FFFD */
			outlen = 3;
			n = 1;
		} else if ((cp == '\t' && (flags & ESCAPE_KEEP_TAB)) ||
			   (cp == '\n' && (flags & ESCAPE_KEEP_NL))) {
			out = (const char *)s + i;
			outlen = 1;
		} else if (escape_is_control(cp) && (flags & ESCAPE_JSON)) {
			memcpy(tmp, "\\u00", 4);
			tmp[4] = hex[cp >> 4];
			tmp[5] = hex[cp & 0xf];
			outlen = 6;
		} else if (escape_is_control(cp)) {
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hex[cp >> 4];
			tmp[3] = hex[cp & 0xf];
			outlen = 4;
		} else if (cp == '\\' && !(flags & (ESCAPE_JSON | ESCAPE_KEEP_BACKSLASH))) {
			out = "\\\\";
			outlen = 2;
		} else {
			out = (const char *)s + i;
			outlen = n;
		}
		if (outlen >= size - o)
			break;
		memcpy(dst + o, out, outlen);
		o += outlen;
		i += n;
	}
	dst[o] = '\0';
	return i;
}

const char *escape_str(char *dst, size_t size, const char *src, unsigned flags)
{
	escape_buf(dst, size, src, strlen(src), flags);
	return dst;
}

size_t escape_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t j = max;

	if (len <= max)
		return len;
	while (j > 0 && max - j < 3 && (u[j] & 0xc0) == 0x80)
		j--;
	if (j == max)
		return max;
	/* u[j] is where the sequence holding u[max] starts, if it is a lead. */
	if ((u[j] >= 0xc2 && u[j] <= 0xdf && j + 2 > max) ||
	    (u[j] >= 0xe0 && u[j] <= 0xef && j + 3 > max) ||
	    (u[j] >= 0xf0 && u[j] <= 0xf4 && j + 4 > max))
		return j;
	return max;
}

bool escape_utf8_valid(const void *s, size_t len)
{
	const unsigned char *u = s;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n) {
		n = escape_decode(u + i, len - i, &cp);
		if (n == 0)
			return false;
	}
	return true;
}
