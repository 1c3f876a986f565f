/* vmm: the per-node uid of a node's QEMU and the judgement of the live
 * process (the contract is vmm.h). /proc files are read bounded and parsed
 * field by field; a field missing or out of range reads as the unsafe
 * value, so a broken file is never a PASS. */
#include "vmm.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"

#define VMM_STATUS_MAX (16 * 1024) /* /proc/PID/status is ~1.5 KiB */
#define VMM_CGROUP_MAX (8 * 1024)  /* one line per hierarchy */
#define VMM_SMALL_MAX  1024        /* attr/current, lsm, enforce */

static int vmm_u32(const char *s, const char **end, uint32_t *out)
{
	char *e;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	*end = e;
	return 0;
}

int vmm_range_parse(const char *s, uint32_t *lo, uint32_t *hi)
{
	uint32_t l, h;
	const char *p;

	if (vmm_u32(s, &p, &l) < 0 || *p != '-' || vmm_u32(p + 1, &p, &h) < 0 || *p != '\0' ||
	    l < 1000 || l > h || h >= INT32_MAX || h - l >= VMM_UID_MAX)
		return -EINVAL;
	*lo = l;
	*hi = h;
	return 0;
}

int vmm_uid_alloc(uint32_t lo, uint32_t hi, const uint32_t *held, size_t n_held,
		  vmm_uid_busy_fn busy, void *arg, uint32_t *out, struct dock_err *err)
{
	size_t cap = (size_t)(hi - lo) + 1, n_busy = 0, n_taken = 0;
	bool *taken = calloc(cap, sizeof(*taken));

	if (taken == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_held; i++)
		if (held[i] >= lo && held[i] <= hi && !taken[held[i] - lo]) {
			taken[held[i] - lo] = true;
			n_taken++;
		}
	for (size_t i = 0; i < cap; i++) {
		uint32_t uid = lo + (uint32_t)i;
		if (taken[i])
			continue;
		if (busy != NULL && busy(uid, arg)) {
			n_busy++;
			continue;
		}
		free(taken);
		*out = uid;
		return 0;
	}
	free(taken);
	return err_set(err, 409, ENOSPC,
		       "vmm_uid_range %" PRIu32 "-%" PRIu32
		       " is exhausted: %zu uid(s) held by nodes, %zu in the user database or "
		       "still owning files (widen vmm_uid_range in dockd.conf)",
		       lo, hi, n_taken, n_busy);
}

static int vmm_read(const char *root, const char *rel, size_t max, char **buf)
{
	char path[PATH_MAX];
	size_t len;
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return file_read(path, max, buf, &len);
}

/* "Key:\tv1\tv2..." of /proc/PID/status: the line's values, or NULL. */
static const char *vmm_field(const char *status, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = status; l != NULL && *l != '\0';) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ':')
			return l + kl + 1 + strspn(l + kl + 1, " \t");
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	return NULL;
}

/* Four ids (Uid:, Gid:); a missing or bad line reads as root. */
static void vmm_ids(const char *status, const char *key, uint32_t ids[4])
{
	const char *p = vmm_field(status, key);

	memset(ids, 0, 4 * sizeof(ids[0]));
	for (int i = 0; p != NULL && i < 4; i++) {
		uint32_t v;
		if (vmm_u32(p, &p, &v) < 0) {
			memset(ids, 0, 4 * sizeof(ids[0]));
			return;
		}
		ids[i] = v;
		p += strspn(p, " \t");
	}
}

static void vmm_status(const char *status, struct vmm_proc *vp)
{
	const char *p;
	uint32_t v;
	char *end;

	vmm_ids(status, "Uid", vp->vp_uid);
	vmm_ids(status, "Gid", vp->vp_gid);
	vp->vp_seccomp =
		(p = vmm_field(status, "Seccomp")) && vmm_u32(p, &p, &v) == 0 ? (int)v : -1;
	vp->vp_nnp = (p = vmm_field(status, "NoNewPrivs")) && vmm_u32(p, &p, &v) == 0 ? (int)v : -1;
	vp->vp_capeff = UINT64_MAX;
	p = vmm_field(status, "CapEff");
	if (p != NULL && strspn(p, "0123456789abcdef") == 16) {
		uint64_t c = strtoull(p, &end, 16);
		if (end == p + 16)
			vp->vp_capeff = c;
	}
}

/* The cgroup that holds the process: the unified hierarchy's (0::PATH)
 * when it is used, else the memory controller's (cgroup v1, the one that
 * enforces the memory limit), else the first line's. */
static void vmm_cgroup(const char *cg, struct vmm_proc *vp)
{
	const char *pick[3] = { NULL, NULL, NULL }; /* unified, memory, first */
	size_t len[3] = { 0, 0, 0 };

	for (const char *l = cg; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n'), *c1 = strchr(l, ':'), *c2;
		size_t ll = nl != NULL ? (size_t)(nl - l) : strlen(l);
		int k = -1;

		c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c2 != NULL && c2 < l + ll) {
			size_t pl = ll - (size_t)(c2 + 1 - l);
			bool root = pl == 1 && c2[1] == '/';
			if (strncmp(l, "0::", 3) == 0 && !root)
				k = 0;
			else if ((size_t)(c2 - c1 - 1) >= 6 && strstr(c1, "memory") != NULL &&
				 strstr(c1, "memory") < c2)
				k = 1;
			else if (pick[2] == NULL)
				k = 2;
			if (k >= 0) {
				pick[k] = c2 + 1;
				len[k] = pl;
			}
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	for (int k = 0; k < 3; k++)
		if (pick[k] != NULL) {
			snprintf(vp->vp_cgroup, sizeof(vp->vp_cgroup), "%.*s", (int)len[k],
				 pick[k]);
			return;
		}
}

void vmm_proc_parse(const char *status, const char *cgroup, struct vmm_proc *vp)
{
	vmm_status(status, vp);
	vp->vp_cgroup[0] = '\0';
	if (cgroup != NULL)
		vmm_cgroup(cgroup, vp);
}

int vmm_proc_read(const char *root, pid_t pid, struct vmm_proc *vp)
{
	char rel[64], *buf = NULL, *cg = NULL, path[PATH_MAX];
	struct stat st;
	int r;

	memset(vp, 0, sizeof(*vp));
	vp->vp_pid = pid;
	snprintf(rel, sizeof(rel), "proc/%d/status", (int)pid);
	if ((r = vmm_read(root, rel, VMM_STATUS_MAX, &buf)) < 0)
		return r;
	snprintf(rel, sizeof(rel), "proc/%d/cgroup", (int)pid);
	if (vmm_read(root, rel, VMM_CGROUP_MAX, &cg) < 0)
		cg = NULL;
	vmm_proc_parse(buf, cg, vp);
	free(buf);
	free(cg);
	/* No LSM: the read fails (EINVAL); that is no label. */
	snprintf(rel, sizeof(rel), "proc/%d/attr/current", (int)pid);
	if (vmm_read(root, rel, VMM_SMALL_MAX, &buf) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(vp->vp_label, sizeof(vp->vp_label), "%s", buf);
		free(buf);
	}
	snprintf(path, sizeof(path), "%s/proc/%d", root, (int)pid);
	vp->vp_owner = stat(path, &st) == 0 ? (uint32_t)st.st_uid : 0;
	return 0;
}

const char *vmm_mac_active(const char *root)
{
	char *lsm = NULL, *enf = NULL;
	const char *mac = "";

	if (vmm_read(root, "sys/kernel/security/lsm", VMM_SMALL_MAX, &lsm) < 0)
		return "";
	if (strstr(lsm, "apparmor") != NULL)
		mac = "apparmor";
	else if (strstr(lsm, "selinux") != NULL &&
		 vmm_read(root, "sys/fs/selinux/enforce", VMM_SMALL_MAX, &enf) == 0)
		mac = "selinux";
	free(lsm);
	free(enf);
	return mac;
}

/* The cgroup path names the domain: libvirt's machine name qemu-ID-NAME,
 * as it is (cgroupfs) or systemd-escaped ('-' as \x2d). */
static bool vmm_cgroup_own(const char *cg, const char *domain)
{
	char esc[256];
	size_t o = 0;

	if (strstr(cg, "machine") == NULL)
		return false;
	for (const char *p = domain; *p != '\0' && o + 5 < sizeof(esc); p++) {
		if (*p == '-') {
			memcpy(esc + o, "\\x2d", 4);
			o += 4;
		} else {
			esc[o++] = *p;
		}
	}
	esc[o] = '\0';
	return strstr(cg, domain) != NULL || strstr(cg, esc) != NULL;
}

/* libvirt's per-domain label, in enforce mode: AppArmor's profile is
 * libvirt-UUID, SELinux's type svirt_t (svirt_tcg_t under TCG). */
static bool vmm_label_ok(const char *mac, const char *label)
{
	size_t l = strlen(label);

	if (strcmp(mac, "apparmor") == 0)
		return strncmp(label, "libvirt-", 8) == 0 && l > 10 &&
			strcmp(label + l - 10, " (enforce)") == 0;
	if (strcmp(mac, "selinux") == 0)
		return strstr(label, ":svirt_t:") != NULL || strstr(label, ":svirt_tcg_t:") != NULL;
	return true;
}

/* The first confinement property the process lacks, or NULL. */
static const char *vmm_lacks(const struct vmm_proc *vp, const struct vmm_want *vw, char *buf,
			     size_t size)
{
	for (int i = 0; i < 4; i++)
		if (vp->vp_uid[i] == 0 || vp->vp_gid[i] == 0)
			return "runs as root";
	if (vp->vp_seccomp != 2)
		return snprintf(buf, size, "Seccomp %d, want 2", vp->vp_seccomp), buf;
	if (vp->vp_nnp != 1)
		return snprintf(buf, size, "NoNewPrivs %d, want 1", vp->vp_nnp), buf;
	if (vp->vp_capeff != 0)
		return snprintf(buf, size, "CapEff %016" PRIx64 ", want 0", vp->vp_capeff), buf;
	if (!vmm_cgroup_own(vp->vp_cgroup, vw->vw_domain))
		return snprintf(buf, size, "cgroup %.80s is not the domain's own",
				vp->vp_cgroup[0] ? vp->vp_cgroup : "(none)"),
		       buf;
	if (!vmm_label_ok(vw->vw_mac, vp->vp_label))
		return snprintf(
			       buf, size,
			       "%s label \"%.60s\" is not libvirt's per-domain one in enforce mode",
			       vw->vw_mac, vp->vp_label),
		       buf;
	return NULL;
}

enum vmm_verdict vmm_judge(const struct vmm_proc *vp, const struct vmm_want *vw, char *ev,
			   size_t ev_size)
{
	char why[160];
	const char *lack = vmm_lacks(vp, vw, why, sizeof(why));
	const char *dump = vp->vp_owner == vp->vp_uid[1]
		? "dumpable (libvirt cannot make QEMU non-dumpable)"
		: "not dumpable";
	uint32_t uid = vp->vp_uid[0];
	bool shared = false;

	for (size_t i = 0; i < vw->vw_n_others; i++)
		shared |= vw->vw_others[i] == uid;
	if (vw->vw_uid == VMM_UID_NONE) {
		snprintf(ev, ev_size,
			 "pid %d uid %" PRIu32 ": no uid of its own yet: restart the node%s%s",
			 (int)vp->vp_pid, uid, lack ? "; " : "", lack ? lack : "");
		return VMM_WARN;
	}
	if (lack == NULL && (uid != vw->vw_uid || vp->vp_uid[1] != vw->vw_uid)) {
		snprintf(why, sizeof(why), "uid %" PRIu32 ", the node's is %" PRIu32, uid,
			 vw->vw_uid);
		lack = why;
	}
	if (lack == NULL && shared) {
		snprintf(why, sizeof(why), "uid %" PRIu32 " shared with another node's QEMU", uid);
		lack = why;
	}
	if (lack != NULL) {
		snprintf(ev, ev_size, "pid %d: %s", (int)vp->vp_pid, lack);
		return VMM_FAIL;
	}
	snprintf(ev, ev_size,
		 "pid %d uid/gid %" PRIu32 "/%" PRIu32
		 " its own, Seccomp 2, NoNewPrivs 1, CapEff 0, "
		 "own cgroup, %s%s; %s",
		 (int)vp->vp_pid, uid, vp->vp_gid[0], vw->vw_mac[0] ? vw->vw_mac : "no MAC system",
		 vw->vw_mac[0] ? " label enforced" : " (the uid is the jail)", dump);
	return VMM_PASS;
}
