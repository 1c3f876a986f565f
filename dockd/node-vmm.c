/* node-vmm: the jail of a node's QEMU in the node room. A node gets a uid
 * of its own (its gid is libvirt's QEMU group, vmm_group: vmm.h says why) from vmm_uid_range with its
 * subnet and MAC, under node_lock; it is in the record, so it lives and
 * dies with the record (a create killed midway leaves a record in
 * `creating` that reconciliation removes, or none: no uid is orphaned).
 * A uid is skipped while the user or group database knows it or a file in
 * the dock's directories still carries it. The `vmm` row reads the live
 * QEMU through libvirt's pidfile and /proc (vmm.c judges). */
#include "node-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "vmm.h"

/* libvirt's pidfile of a running domain (qemu:///system). */
#define NODE_VMM_PIDDIR "/run/libvirt/qemu"

/* What the busy callback consults: the uids files still carry. */
struct node_vmm_scan {
	uint32_t vs_lo, vs_hi;
	bool *vs_on_disk; /* hi - lo + 1 entries */
};

/* The files QEMU's uid may own: volumes, UEFI variables, channel sockets,
 * console logs. libvirt gives the files it relabelled back to their owner
 * when the domain stops; one it could not is seen here. */
static void node_vmm_scan_dir(const char *dir, struct node_vmm_scan *vs)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	struct stat st;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (st.st_uid >= vs->vs_lo && st.st_uid <= vs->vs_hi)
				vs->vs_on_disk[st.st_uid - vs->vs_lo] = true;
			if (st.st_gid >= vs->vs_lo && st.st_gid <= vs->vs_hi)
				vs->vs_on_disk[st.st_gid - vs->vs_lo] = true;
		}
	closedir(d);
}

static bool node_vmm_busy(uint32_t uid, void *arg)
{
	struct node_vmm_scan *vs = arg;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[4096];

	if (vs->vs_on_disk[uid - vs->vs_lo])
		return true;
	/* An error reading the database counts as "known": never guess. */
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp != NULL)
		return true;
	return getgrgid_r(uid, &gr, buf, sizeof(buf), &grp) != 0 || grp != NULL;
}

int node_vmm_uid_locked(struct node *n, struct dock_err *err)
{
	const struct dock_config *c = node_cfg;
	struct node_vmm_scan vs = { .vs_lo = c->dc_vmm_uid_lo, .vs_hi = c->dc_vmm_uid_hi };
	const char *dirs[][2] = { { c->dc_state_dir, "volumes" },
				  { c->dc_state_dir, NODE_NVRAM_DIR },
				  { c->dc_state_dir, NODE_BOOT_DIR },
				  { c->dc_run_dir, "agents" },
				  { c->dc_run_dir, "console" } };
	uint32_t *held = calloc(node_count + 1, sizeof(*held));
	size_t n_held = 0;
	char dir[PATH_MAX];
	int r;

	vs.vs_on_disk = calloc((size_t)(vs.vs_hi - vs.vs_lo) + 1, sizeof(bool));
	if (held == NULL || vs.vs_on_disk == NULL) {
		free(held);
		free(vs.vs_on_disk);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < node_count; i++)
		if (node_table[i] != n && node_table[i]->n_rec.nr_vmm_uid != VMM_UID_NONE)
			held[n_held++] = node_table[i]->n_rec.nr_vmm_uid;
	for (size_t i = 0; i < NVARS(dirs); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", dirs[i][0], dirs[i][1]);
		node_vmm_scan_dir(dir, &vs);
	}
	r = vmm_uid_alloc(vs.vs_lo, vs.vs_hi, held, n_held, node_vmm_busy, &vs,
			  &n->n_rec.nr_vmm_uid, err);
	free(held);
	free(vs.vs_on_disk);
	return r;
}

int node_vmm_ensure(struct node *n, struct dock_err *err)
{
	int r = 0;

	pthread_mutex_lock(&node_lock);
	if (n->n_rec.nr_vmm_uid == VMM_UID_NONE) {
		r = node_vmm_uid_locked(n, err);
		if (r == 0)
			r = node_save_locked(n, err);
		if (r == 0)
			log_info("node %s: its QEMU runs as uid %u from now on", n->n_rec.nr_name,
				 n->n_rec.nr_vmm_uid);
		else
			n->n_rec.nr_vmm_uid = VMM_UID_NONE;
	}
	pthread_mutex_unlock(&node_lock);
	if (r < 0)
		err_prefix(err, "node %s: ", n->n_rec.nr_name);
	return r;
}

void node_vmm_reconcile_locked(void)
{
	for (size_t i = 0; i < node_count; i++) {
		struct node_rec *r = &node_table[i]->n_rec;

		if (r->nr_vmm_uid == VMM_UID_NONE) {
			log_info("node %s: no uid of its own yet: its QEMU gets one at its next "
				 "start",
				 r->nr_name);
			continue;
		}
		if (r->nr_vmm_uid < node_cfg->dc_vmm_uid_lo ||
		    r->nr_vmm_uid > node_cfg->dc_vmm_uid_hi)
			log_warn("node %s: uid %u is outside vmm_uid_range %u-%u: kept (it is the "
				 "node's alone)",
				 r->nr_name, r->nr_vmm_uid, node_cfg->dc_vmm_uid_lo,
				 node_cfg->dc_vmm_uid_hi);
		for (size_t k = 0; k < i; k++) {
			if (node_table[k]->n_rec.nr_vmm_uid != r->nr_vmm_uid)
				continue;
			/* A record edited by hand: never two nodes under one uid. */
			log_warn("node %s: uid %u is node %s's too: it gets a uid of its own at "
				 "its next start",
				 r->nr_name, r->nr_vmm_uid, node_table[k]->n_rec.nr_name);
			r->nr_vmm_uid = VMM_UID_NONE;
			node_save_locked(node_table[i], NULL);
			break;
		}
	}
}

int node_vmm_label(const struct node_rec *r, char *buf, size_t size, struct dock_err *err)
{
	struct group gr, *grp = NULL;
	char gbuf[4096];

	buf[0] = '\0';
	if (r->nr_vmm_uid == VMM_UID_NONE)
		return 0;
	if (getgrnam_r(node_cfg->dc_vmm_group, &gr, gbuf, sizeof(gbuf), &grp) != 0 || grp == NULL)
		return err_set(
			err, 500, ENOENT,
			"node %s: vmm_group \"%s\" is not in the group database (dockd.conf)",
			r->nr_name, node_cfg->dc_vmm_group);
	if (grp->gr_gid == 0)
		return err_set(err, 500, EPERM, "node %s: vmm_group \"%s\" is root's group",
			       r->nr_name, node_cfg->dc_vmm_group);
	snprintf(buf, size, "+%u:+%u", r->nr_vmm_uid, (unsigned)grp->gr_gid);
	return 0;
}

/* Copy src to dst (root's, 0644) through a temp file and a rename. */
static int node_vmm_copy(const char *src, const char *dst, struct dock_err *err)
{
	char tmp[PATH_MAX], buf[64 * 1024];
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, e = 0;
	ssize_t n = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	if (in >= 0)
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (in < 0 || out < 0 || n < 0 || fchmod(out, 0644) < 0)
		e = errno ? errno : EIO;
	if (out >= 0 && close(out) < 0 && e == 0)
		e = errno;
	if (in >= 0)
		close(in);
	if (e == 0 && rename(tmp, dst) < 0)
		e = errno;
	if (e != 0) {
		unlink(tmp);
		return err_set(err, 500, e, "copy %s to %s: %s", src, dst, strerror(e));
	}
	return 0;
}

static void node_vmm_boot_path(const char *name, const char *what, char *out, size_t size)
{
	snprintf(out, size, "%s/" NODE_BOOT_DIR "/%s.%s", node_cfg->dc_state_dir, name, what);
}

int node_vmm_boot_files(const struct node_rec *r, const char *kernel, const char *initrd,
			char *k_out, char *i_out, size_t size, struct dock_err *err)
{
	node_vmm_boot_path(r->nr_name, "vmlinuz", k_out, size);
	node_vmm_boot_path(r->nr_name, "initrd", i_out, size);
	if (node_vmm_copy(kernel, k_out, err) < 0 || node_vmm_copy(initrd, i_out, err) < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		return -EIO;
	}
	return 0;
}

void node_vmm_boot_remove(const char *name)
{
	char path[PATH_MAX];

	node_vmm_boot_path(name, "vmlinuz", path, sizeof(path));
	unlink(path);
	node_vmm_boot_path(name, "initrd", path, sizeof(path));
	unlink(path);
}

/* The live QEMU of a domain: libvirt's pidfile, the process's command line
 * naming the domain (a stale pidfile's pid may be anyone's now). */
pid_t node_vmm_pid(const char *domain)
{
	char path[PATH_MAX], want[NODE_NAME_MAX + 32], *buf = NULL;
	size_t len = 0;
	long pid;
	char *end;

	snprintf(path, sizeof(path), NODE_VMM_PIDDIR "/%s.pid", domain);
	if (file_read(path, 32, &buf, &len) < 0)
		return -1;
	pid = strtol(buf, &end, 10);
	free(buf);
	if (end == buf || pid <= 1 || pid > INT32_MAX)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (file_read(path, 64 * 1024, &buf, &len) < 0)
		return -1;
	snprintf(want, sizeof(want), "guest=%s,", domain);
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, want, strlen(want)) == 0) {
			free(buf);
			return (pid_t)pid;
		}
	free(buf);
	return -1;
}

/* The uids of the other nodes' live QEMU (not under node_lock: /proc). */
static size_t node_vmm_others(const char *self, uint32_t *uids, size_t max)
{
	char(*names)[NODE_NAME_MAX + 1] = calloc(NODE_MAX, sizeof(*names));
	size_t n = 0, cnt = 0;

	if (names == NULL)
		return 0;
	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < node_count; i++)
		if (strcmp(node_table[i]->n_rec.nr_name, self) != 0)
			memcpy(names[n++], node_table[i]->n_rec.nr_name, sizeof(names[0]));
	pthread_mutex_unlock(&node_lock);
	for (size_t i = 0; i < n && cnt < max; i++) {
		struct node_names nn;
		struct node_rec r = { 0 };
		struct vmm_proc vp;
		pid_t pid;

		memcpy(r.nr_name, names[i], sizeof(r.nr_name));
		node_names(&r, &nn);
		pid = node_vmm_pid(nn.nn_domain);
		if (pid > 0 && vmm_proc_read("/", pid, &vp) == 0)
			uids[cnt++] = vp.vp_uid[0];
	}
	free(names);
	return cnt;
}

void node_vmm_facts(const struct node_rec *r, const struct node_names *nn, enum check_status *st,
		    char *ev, size_t size)
{
	static const enum check_status map[] = { [VMM_PASS] = CHECK_PASS,
						 [VMM_WARN] = CHECK_WARN,
						 [VMM_FAIL] = CHECK_FAIL,
						 [VMM_SKIP] = CHECK_SKIP };
	uint32_t *others = calloc(NODE_MAX, sizeof(*others));
	pid_t pid = node_vmm_pid(nn->nn_domain);
	struct vmm_proc vp;
	struct vmm_want vw = {
		.vw_uid = r->nr_vmm_uid,
		.vw_domain = nn->nn_domain,
		.vw_others = others,
		.vw_mac = vmm_mac_active("/"),
	};

	if (pid < 0 || vmm_proc_read("/", pid, &vp) < 0) {
		/* An older dock's node is WARN whatever is wrong: no upgrade
		 * turns a row FAIL by itself. */
		*st = r->nr_vmm_uid == VMM_UID_NONE ? CHECK_WARN : CHECK_FAIL;
		snprintf(ev, size, "no live QEMU process found for domain %s%s", nn->nn_domain,
			 r->nr_vmm_uid == VMM_UID_NONE ? "; no uid of its own yet: restart the node"
						       : "");
	} else if (others == NULL) {
		*st = CHECK_FAIL;
		snprintf(ev, size, "out of memory");
	} else {
		vw.vw_n_others = node_vmm_others(r->nr_name, others, NODE_MAX);
		*st = map[vmm_judge(&vp, &vw, ev, size)];
	}
	free(others);
}
