/* resctl: a node's resource controls beside its vCPUs and memory: a CPU
 * quota for the whole node, a CPU weight, disk bandwidth and IOPS on its
 * writable disk, network bandwidth from and to it. Parsed from a create
 * request (the same members in the node's record, under "limits"), turned
 * into the domain XML's values (the network's: the firewall's bytes per
 * second), read back from libvirt's live XML, the QEMU's cgroup and the
 * firewall, and judged against the record (the `resources` row).
 * Pure but for resctl_cgroup_read, which reads files under a root
 * directory so fixture trees test it. A limit that is 0 is not set. */
#ifndef ISC_RESCTL_H
#define ISC_RESCTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The CFS period of the node's quota (libvirt's <global_period>), us. */
#define RESCTL_PERIOD_US 100000
/* "cpus": a fraction of one host core, 0.05 to the node's vCPUs. */
#define RESCTL_QUOTA_MIN_US (RESCTL_PERIOD_US / 20)
#define RESCTL_WEIGHT_MAX   10000 /* cgroup v2's cpu.weight range, 1.. */

/* The disk and network limits, in the request's units: MB/s (10^6 bytes),
 * I/O operations per second, Mbit/s (10^6 bits) from the node's side. */
enum resctl_io {
	RESCTL_DISK_READ_MBPS,
	RESCTL_DISK_WRITE_MBPS,
	RESCTL_DISK_READ_IOPS,
	RESCTL_DISK_WRITE_IOPS,
	RESCTL_NET_IN_MBPS,  /* what the node receives */
	RESCTL_NET_OUT_MBPS, /* what the node sends */
	RESCTL_IO_COUNT
};

struct resctl {
	uint32_t rc_cpu_quota_us; /* per RESCTL_PERIOD_US, for the whole node */
	uint32_t rc_cpu_weight;   /* 1..RESCTL_WEIGHT_MAX (libvirt's <shares>) */
	uint32_t rc_io[RESCTL_IO_COUNT];
};

/* Whether any limit is set. */
bool resctl_any(const struct resctl *rc);

/* The members "cpus", "cpu_weight", "disk" {read_mbps, write_mbps,
 * read_iops, write_iops} and "net" {in_mbps, out_mbps} of o (a create
 * request, or a record's "limits"), each optional; vcpus bounds "cpus".
 * An unknown member of "disk" or "net", a wrong type, a value out of
 * bounds: 400 naming it (what: "create request"). rc is untouched on
 * failure. */
int resctl_parse(const struct json_object *o, const char *what, uint64_t vcpus, struct resctl *rc,
		 struct dock_err *err);
/* A network limit (RESCTL_NET_IN_MBPS or _OUT_) in bytes per second, as
 * the firewall enforces it (firewall/fw-bw.c); 0 when not set. */
uint64_t resctl_net_bps(const struct resctl *rc, enum resctl_io i);
/* The limits set, in resctl_parse's syntax (an empty object: none). */
struct json_object *resctl_json(const struct resctl *rc);
/* The create request's members resctl_parse reads. */
#define RESCTL_KEYS 4
extern const char *const resctl_request_keys[RESCTL_KEYS];

/* The domain XML's values (templates/domain.xml): a key each, the value
 * "" when the limit is not set; "cputune" and "iotune" are non-empty when
 * their element has a child. "bandwidth", "net_inbound" and
 * "net_outbound" are always "": the network's limits are the firewall's. */
#define RESCTL_XML_VARS 12
struct resctl_xml {
	const char *rx_key[RESCTL_XML_VARS];
	char rx_val[RESCTL_XML_VARS][24];
};
void resctl_xml_vars(const struct resctl *rc, struct resctl_xml *rx);

/* What is in force, read back: libvirt's live XML (rl_xml), the QEMU's
 * cgroup (rl_cg) and the firewall (the network's rl_x_io). */
struct resctl_live {
	bool rl_xml;            /* a live domain XML was read */
	uint64_t rl_x_shares;   /* <cputune><shares>, 0 absent */
	int64_t rl_x_period_us; /* <global_period>, 0 absent */
	int64_t rl_x_quota_us;  /* <global_quota>, 0 absent */
	/* <iotune> in bytes/s and IOPS; the network's: the firewall's
	 * bandwidth chain, bytes/s from the node's side; 0 absent */
	uint64_t rl_x_io[RESCTL_IO_COUNT];
	int rl_cg; /* 2 cgroup v2, 1 v1, 0 not read (rl_cg_note says why) */
	char rl_cg_note[160];
	char rl_cg_path[160];   /* the node's cgroup (its top directory) */
	int64_t rl_cg_quota_us; /* -1: no quota */
	int64_t rl_cg_period_us;
	uint64_t rl_cg_weight;    /* v2 cpu.weight, v1 cpu.shares */
	uint64_t rl_cg_mem_bytes; /* UINT64_MAX: no limit */
};

/* Fill rl's rl_x_* but the network's from a running domain's live XML:
 * <cputune>, the <iotune> of the disk whose source is volume_path. NULL
 * xml: rl_xml false. */
void resctl_from_xml(const char *domain_xml, const char *volume_path, struct resctl_live *rl);

/* Fill rl's rl_cg_* from the cgroup of the process whose /proc/PID/cgroup
 * text is proc_cgroup: cgroup v2 when ROOT/sys/fs/cgroup/cgroup.controllers
 * exists, else v1 (ROOT/sys/fs/cgroup/cpu and .../memory). The node's
 * directories are the process's without a last "emulator" (libvirt's
 * emulator threads) and, when that ends in "libvirt" (libvirt's nested
 * group), its parent too: of each value, the deepest one that is not the
 * kernel's default. */
void resctl_cgroup_read(const char *root, const char *proc_cgroup, struct resctl_live *rl);

/* The record against what is in force: every limit set is compared with
 * both sources that carry it (the CPU quota and weight: the live XML and
 * the cgroup; disk: the live XML; network: the firewall), and the memory hard limit
 * (want_mem_bytes, 0 none) with the cgroup's. 0 when all agree (ev: the
 * limits in force), 1 when one differs (ev names each that does), 2 when
 * the cgroup could not be read and nothing else differs. */
int resctl_judge(const struct resctl *want, uint64_t want_mem_bytes, const struct resctl_live *rl,
		 char *ev, size_t size);

#endif
