/* node-resctl: what the `resources` row reads of a running node's limits
 * (resctl.h judges): libvirt's live XML of the domain, the cgroup of its
 * QEMU found through libvirt's pidfile and /proc/PID/cgroup, and the
 * network's limits from the firewall's read-back (fw_show). */
#include "node-int.h"

#include <stdio.h>
#include <stdlib.h>

#include "file.h"

void node_resctl_facts(const struct node_rec *r, const struct node_names *nn,
		       const char *domain_xml, const struct fw_show_node *fw,
		       struct resctl_live *rl)
{
	char path[64], *cg = NULL;
	size_t len = 0;
	pid_t pid;

	resctl_from_xml(domain_xml, r->nr_volume, rl);
	rl->rl_x_io[RESCTL_NET_IN_MBPS] = fw != NULL ? fw->sn_net_in_bps : 0;
	rl->rl_x_io[RESCTL_NET_OUT_MBPS] = fw != NULL ? fw->sn_net_out_bps : 0;
	pid = domain_xml != NULL ? node_vmm_pid(nn->nn_domain) : -1;
	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	if (pid > 0 && file_read(path, 16 * 1024, &cg, &len) < 0)
		cg = NULL;
	resctl_cgroup_read("", cg, rl);
	free(cg);
}
