/* node-resctl: what the `resources` row reads of a running node's limits
 * (resctl.h judges): libvirt's live XML of the domain, and the cgroup of
 * its QEMU found through libvirt's pidfile and /proc/PID/cgroup. */
#include "node-int.h"

#include <stdio.h>
#include <stdlib.h>

#include "file.h"

void node_resctl_facts(const struct node_rec *r, const struct node_names *nn,
		       const char *domain_xml, struct resctl_live *rl)
{
	char path[64], *cg = NULL;
	size_t len = 0;
	pid_t pid;

	resctl_from_xml(domain_xml, r->nr_volume, nn->nn_network, rl);
	pid = domain_xml != NULL ? node_vmm_pid(nn->nn_domain) : -1;
	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	if (pid > 0 && file_read(path, 16 * 1024, &cg, &len) < 0)
		cg = NULL;
	resctl_cgroup_read("", cg, rl);
	free(cg);
}
