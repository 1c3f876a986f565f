/* agentchan: the host side of each running node's agent channel (the
 * virtio-serial unix socket libvirt creates). It connects, asks for a
 * hello, reassembles lines with a bound, rate-limits them, parses them with
 * agentproto and hands the results to node. */
#ifndef ISC_AGENTCHAN_H
#define ISC_AGENTCHAN_H

#include <signal.h>

#define AGENTCHAN_LINES_PER_SEC 20  /* more than this is dropped and counted */

/* Serve the channels until *stop becomes non-zero. */
void agentchan_run(volatile sig_atomic_t *stop);

#endif
