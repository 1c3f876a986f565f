/* portcheck: the host ports a publish may take. A port must lie in the
 * dock's publish_ports range, and no socket may listen on it in the dock's
 * network namespace (/proc/net/{tcp,tcp6,udp,udp6}): a publish must never
 * take the host's SSH or shadow a host service. The parser is pure, bounded
 * and fuzzed (its input is the kernel's, but read whole and trusted in
 * nothing); portcheck_in_use reads the files. */
#ifndef ISC_PORTCHECK_H
#define ISC_PORTCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A /proc/net file larger than this is refused, not truncated: 65536
 * sockets of 150 bytes a line. */
#define PORTCHECK_MAX_BYTES (10 * 1024 * 1024)
#define PORTCHECK_MAX_LINE  512
/* "[ffff:...:ffff]:65535" */
#define PORTCHECK_ADDR_MAX 48

/* The text of one /proc/net file (v6: tcp6/udp6; udp: udp/udp6). Returns
 * 1 and the listener's local address ("0.0.0.0:22", "[::]:53") in addr
 * when a socket is bound to `port` and listening (tcp: LISTEN; udp: any
 * unconnected bound socket), 0 when none, -EINVAL if a line is malformed
 * or longer than PORTCHECK_MAX_LINE. */
int portcheck_parse(const char *text, size_t len, bool v6, bool udp, uint16_t port, char *addr,
		    size_t size);

/* The same over the dock's own /proc/net files (v4 and v6): 1 in use
 * (listener filled), 0 free, < 0 a file unreadable (err names it). */
int portcheck_in_use(uint16_t port, bool udp, char *listener, size_t size, struct dock_err *err);

#endif
