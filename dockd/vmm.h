/* vmm: the jail of a node's VMM. Each node's QEMU runs under a uid of its
 * own, picked from dockd.conf's vmm_uid_range, and the gid of libvirt's
 * QEMU group (vmm_group): the group reaches libvirt's own directories
 * (/var/lib/libvirt/qemu is 0750 libvirt-qemu:libvirt-qemu) and the
 * read-only base disks, never another node's files (0600, uid-owned), and
 * ptrace needs the uid to match. The `vmm` status row judges the live process from its
 * /proc files. Pure: the user database and the scan for files still
 * carrying a uid come in as a callback, /proc and /sys as a root directory
 * (the unit tests use fixture trees). */
#ifndef ISC_VMM_H
#define ISC_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* A record without a uid of its own (written by an older dock): its QEMU
 * runs as libvirt's default user until the node's next start. */
#define VMM_UID_NONE 0u

/* Default vmm_uid_range: above UID_MAX (60000), systemd's dynamic users
 * (61184-65519), nobody (65534) and Debian's fixed ids (60000-64999),
 * below useradd's subordinate ids (SUB_UID_MIN 100000) and systemd's
 * container range (524288-): nothing allocates here. 1024 uids, the dock's
 * node ceiling (NODE_MAX). */
#define VMM_UID_LO_DEFAULT 90000u
#define VMM_UID_HI_DEFAULT 91023u
#define VMM_GROUP_DEFAULT  "libvirt-qemu" /* Debian's; Fedora's is "qemu" */
#define VMM_UID_MAX        65536u         /* the most uids a range may hold */

/* "LO-HIGH", 1000 <= LO <= HI < 2^31-1, at most VMM_UID_MAX uids. 0, or -EINVAL. */
int vmm_range_parse(const char *s, uint32_t *lo, uint32_t *hi);

/* True when uid may not be handed out: it exists in the user or group
 * database, or a file still carries it. */
typedef bool (*vmm_uid_busy_fn)(uint32_t uid, void *arg);

/* The lowest uid of lo..hi not in held[] (the uids of the nodes the dock
 * knows) and not busy. -ENOSPC with err naming vmm_uid_range when none is
 * left, how many are held and how many skipped. */
int vmm_uid_alloc(uint32_t lo, uint32_t hi, const uint32_t *held, size_t n_held,
		  vmm_uid_busy_fn busy, void *arg, uint32_t *out, struct dock_err *err);

/* What /proc says about one process. */
struct vmm_proc {
	pid_t vp_pid;
	uint32_t vp_uid[4], vp_gid[4]; /* real, effective, saved, filesystem */
	int vp_seccomp;                /* Seccomp: 2 filter */
	int vp_nnp;                    /* NoNewPrivs */
	uint64_t vp_capeff;            /* CapEff */
	char vp_cgroup[256];           /* the unified (0::) path, else the first one */
	char vp_label[128];            /* attr/current (an LSM's label), "" none */
	uint32_t vp_owner;             /* owner of /proc/PID: root when not dumpable */
};

/* Parse the text of /proc/PID/status and /proc/PID/cgroup (NUL-terminated;
 * cgroup may be NULL) into vp's ids, seccomp, NoNewPrivs, CapEff and
 * cgroup. A field missing or out of range reads as the unsafe value (root,
 * -1, all capabilities). Its fuzz target is `vmmproc`. */
void vmm_proc_parse(const char *status, const char *cgroup, struct vmm_proc *vp);

/* Read <root>/proc/PID/{status,cgroup,attr/current} and the owner of
 * <root>/proc/PID. Every file is read bounded. 0, or a negative errno
 * (-ENOENT: no such process). */
int vmm_proc_read(const char *root, pid_t pid, struct vmm_proc *vp);

/* The MAC system the host enforces, from <root>/sys/kernel/security/lsm
 * and <root>/sys/fs/selinux/enforce: "apparmor", "selinux" or "". */
const char *vmm_mac_active(const char *root);

enum vmm_verdict { VMM_PASS, VMM_WARN, VMM_FAIL, VMM_SKIP };

struct vmm_want {
	uint32_t vw_uid;           /* the node's uid, VMM_UID_NONE none yet */
	const char *vw_domain;     /* libvirt's domain: its cgroup names it */
	const uint32_t *vw_others; /* the uids of the other nodes' live QEMU */
	size_t vw_n_others;
	const char *vw_mac; /* vmm_mac_active */
};

/* The `vmm` row: not root, the node's own uid (no other QEMU has it),
 * seccomp 2, NoNewPrivs 1, CapEff 0, the domain's own cgroup, and under a
 * MAC system libvirt's per-domain label in enforce mode. A node without a
 * uid of its own is at most WARN (an upgraded dock's nodes until their next
 * start). Whether QEMU is dumpable is evidence only. */
enum vmm_verdict vmm_judge(const struct vmm_proc *vp, const struct vmm_want *vw, char *ev,
			   size_t ev_size);

/* Give group gid read-write on the device at path (/dev/kvm) with one
 * POSIX ACL entry, unless its mode already does (vmm-dev.c). 1 granted, 0
 * nothing to do (or no such device), or a negative errno with err set. */
int vmm_dev_grant(const char *path, gid_t gid, struct dock_err *err);

#endif
