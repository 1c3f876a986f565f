/* portcheck: listening sockets of the dock's network namespace, from
 * /proc/net (see portcheck.h). */
#include "portcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define PC_TCP_LISTEN 0x0A
#define PC_UDP_CLOSE  0x07 /* a bound, unconnected UDP socket */

static int pc_hex(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0 || n > 8)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return -EINVAL;
		v = (v << 4) | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* The kernel prints each 32-bit word of the address as a host-order
 * integer (%08X): the words are the address's bytes as stored. */
static int pc_addr(const char *hex, size_t n, bool v6, uint16_t port, char *out, size_t size)
{
	unsigned char b[16];
	char txt[INET6_ADDRSTRLEN];
	size_t words = v6 ? 4 : 1;

	if (n != words * 8)
		return -EINVAL;
	for (size_t w = 0; w < words; w++) {
		uint32_t v;
		if (pc_hex(hex + w * 8, 8, &v) < 0)
			return -EINVAL;
		memcpy(b + w * 4, &v, 4);
	}
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, b, txt, sizeof(txt)) == NULL)
		return -EINVAL;
	snprintf(out, size, v6 ? "[%s]:%u" : "%s:%u", txt, port);
	return 0;
}

/* One line "  sl: LOCAL:PORT REMOTE:PORT ST ...": 1 a listener on port. */
static int pc_line(const char *l, size_t n, bool v6, bool udp, uint16_t port, char *addr,
		   size_t size)
{
	const char *p = memchr(l, ':', n), *e = l + n, *a, *colon, *sp;
	uint32_t lport, st;

	if (p == NULL)
		return -EINVAL;
	for (a = p + 1; a < e && *a == ' '; a++)
		;
	colon = memchr(a, ':', (size_t)(e - a));
	if (colon == NULL)
		return -EINVAL;
	sp = memchr(colon, ' ', (size_t)(e - colon));
	if (sp == NULL || pc_hex(colon + 1, (size_t)(sp - colon - 1), &lport) < 0 || lport > 65535)
		return -EINVAL;
	p = memchr(sp + 1, ' ', (size_t)(e - sp - 1)); /* after the remote address */
	if (p == NULL || e - p < 3 || pc_hex(p + 1, 2, &st) < 0)
		return -EINVAL;
	if (lport != port || st != (udp ? PC_UDP_CLOSE : PC_TCP_LISTEN))
		return 0;
	if (pc_addr(a, (size_t)(colon - a), v6, port, addr, size) < 0)
		return -EINVAL;
	return 1;
}

int portcheck_parse(const char *text, size_t len, bool v6, bool udp, uint16_t port, char *addr,
		    size_t size)
{
	const char *p = text, *e = text + len;
	bool header = true;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = (size_t)((nl ? nl : e) - p);
		int r = 0;

		if (n > PORTCHECK_MAX_LINE)
			return -EINVAL;
		if (!header && n > 0)
			r = pc_line(p, n, v6, udp, port, addr, size);
		if (r != 0)
			return r;
		header = false;
		p += n + 1;
	}
	return 0;
}

int portcheck_in_use(uint16_t port, bool udp, char *listener, size_t size, struct dock_err *err)
{
	static const char *const files[2][2] = { { "/proc/net/tcp", "/proc/net/tcp6" },
						 { "/proc/net/udp", "/proc/net/udp6" } };

	for (int v6 = 0; v6 < 2; v6++) {
		const char *path = files[udp][v6];
		char *text = NULL;
		size_t len = 0;
		int r = file_read(path, PORTCHECK_MAX_BYTES, &text, &len);

		if (r == -ENOENT && v6)
			continue; /* no IPv6 in this kernel */
		if (r < 0)
			return err_set(err, 500, -r, "%s: %s", path, strerror(-r));
		r = portcheck_parse(text, len, v6, udp, port, listener, size);
		free(text);
		if (r < 0)
			return err_set(err, 500, EINVAL, "%s: malformed", path);
		if (r == 1)
			return 1;
	}
	return 0;
}
