/* agentchan: the host side of each running node's agent channel (the
 * virtio-serial unix socket libvirt creates). It connects, spawns an
 * unprivileged reader (agentreader) that parses what the guest sends, asks
 * the agent for a hello and for reports, and hands what the reader found
 * to node. */
#ifndef ISC_AGENTCHAN_H
#define ISC_AGENTCHAN_H

#include <signal.h>

#define AGENTCHAN_REPORT_EVERY_S 30 /* ask for a report this often */

/* Serve the channels until *stop becomes non-zero. */
void agentchan_run(volatile sig_atomic_t *stop);

#endif
