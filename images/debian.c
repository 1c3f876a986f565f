/*
 * debian.c: a hardened Debian tree for a golden image. debootstrap makes a
 * minimal system from the Debian archive this machine uses; then, in the
 * tree (chroot for the tools that must run inside it, never a shell):
 * the service user and its hardened unit, nftables default-drop input but
 * the service's ports, the sysctls and module lockdown, audit rules, a
 * key-only sshd (disabled unless the recipe asks), a locked root, no
 * setuid bits, no timers or clocks that reach out, the agent, a fresh
 * initramfs, and a sysprep (machine-id, host keys, logs, caches).
 *
 * The static files (units, fstab, crypttab, sysctl, audit rules, ...) live
 * in images/debian/rootfs, copied in by the caller; what depends on the
 * recipe is written here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "debian.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apt.h"
#include "imgio.h"
#include "pack.h"

#define DPKG_LIST_MAX   (4 * 1024 * 1024)
#define PASSWD_FILE_MAX (256 * 1024)
#define CONF_FILE_MAX   (256 * 1024)
#define SETUID_LOG_MAX  32

/*
 * The ISC base set: what the hardening needs, on top of minbase.
 * GRUB for UEFI as a standalone EFI binary (no grub-install: nothing here
 * touches the build machine's firmware), grub-common/grub2-common for the
 * grub-mkconfig that importers such as virt-v2v run; fdisk for sfdisk,
 * which lays out the ephemeral disk.
 */
static const char *const debian_base_packages[] = {
	"linux-image-cloud-amd64",
	"systemd",
	"systemd-sysv",
	"udev",
	"initramfs-tools",
	"kmod",
	"nftables",
	"auditd",
	"cryptsetup",
	"openssh-server",
	"iproute2",
	"e2fsprogs",
	"fdisk",
	"grub-efi-amd64-bin",
	"grub-common",
	"grub2-common",
	"procps",
};

/* Units that reach out on their own, or run maintenance nobody asked for. */
static const char *const debian_masked_units[] = {
	"apt-daily.timer",           "apt-daily-upgrade.timer",
	"dpkg-db-backup.timer",      "e2scrub_all.timer",
	"e2scrub_reap.service",      "fstrim.timer",
	"systemd-timesyncd.service", "remote-fs.target",
	"getty@tty1.service",        "systemd-networkd-wait-online.service",
};

static const char *const debian_enabled_units[] = {
	"isc-agent.service", "isc-lockdown.service",     "nftables.service",
	"auditd.service",    "systemd-networkd.service",
};

/* Append to buf (size bytes, *used of them taken); -E2BIG when it does not fit. */
__attribute__((format(printf, 4, 5))) static int str_append(char *buf, size_t size, size_t *used,
							    const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return -E2BIG;
	*used += (size_t)n;
	return 0;
}

/* --- debootstrap ----------------------------------------------------------------- */

int debian_bootstrap(const struct recipe *rc, const char *root, const char *cache_dir,
		     struct debian_info *di, struct dock_err *err)
{
	char include[RECIPE_MAX_PACKAGES * (RECIPE_PACKAGE_MAX + 1) + 512] = "--include=";
	char cache[PATH_MAX + 16], suite[64];
	const char *argv[12];
	size_t used = strlen(include);
	int n = 0, r;

	if ((r = apt_mirror(rc, di->di_mirror, sizeof(di->di_mirror), err)) < 0)
		return r;
	for (size_t i = 0;
	     i < sizeof(debian_base_packages) / sizeof(debian_base_packages[0]) + rc->rc_n_packages;
	     i++) {
		size_t nb = sizeof(debian_base_packages) / sizeof(debian_base_packages[0]);
		const char *p = i < nb ? debian_base_packages[i] : rc->rc_packages[i - nb];

		if (str_append(include, sizeof(include), &used, "%s%s", i ? "," : "", p) < 0)
			return err_set(err, IMG_ERR, E2BIG, "%s: too many packages", rc->rc_path);
	}
	snprintf(suite, sizeof(suite), "%s", rc->rc_suite);
	argv[n++] = "debootstrap";
	argv[n++] = "--variant=minbase";
	argv[n++] = "--components=main";
	argv[n++] = "--merged-usr";
	argv[n++] = include;
	if (cache_dir && cache_dir[0]) {
		if ((r = dir_make(cache_dir, 0755, err)) < 0)
			return r;
		if (snprintf(cache, sizeof(cache), "--cache-dir=%s", cache_dir) >=
		    (int)sizeof(cache))
			return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", cache_dir);
		argv[n++] = cache;
	}
	argv[n++] = suite;
	argv[n++] = root;
	argv[n++] = di->di_mirror;
	argv[n] = NULL;
	img_log("%s: debootstrap %s from %s (%zu extra packages)", rc->rc_name, rc->rc_suite,
		di->di_mirror, rc->rc_n_packages);
	return tool_runc(argv, STDERR_FILENO, err);
}

/* --- helpers in the tree ---------------------------------------------------------- */

/* Run a command inside the tree: chroot ROOT argv... */
static int chroot_run(const char *root, const char *const *args, int out_fd, struct dock_err *err)
{
	const char *argv[32];
	size_t n = 0;

	argv[n++] = "chroot";
	argv[n++] = root;
	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	if (*args) /* never cut a command line short */
		return err_set(err, IMG_ERR, E2BIG, "chroot %s: more than %zu arguments", argv[2],
			       sizeof(argv) / sizeof(argv[0]) - 3);
	argv[n] = NULL;
	return tool_runc(argv, out_fd, err);
}

#define CHROOT(root, ...) \
	chroot_run(root, (const char *const[]){ __VA_ARGS__, NULL }, STDERR_FILENO, err)

/* Write ROOT/rel, replacing what is there. */
static int tree_put(const char *root, const char *rel, const char *content, mode_t mode,
		    struct dock_err *err)
{
	char path[PATH_MAX];
	int r;

	if ((r = path_join(path, sizeof(path), root, rel, err)) < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, IMG_ERR, errno, "%s: %s", path, strerror(errno));
	return file_write(path, content, mode, err);
}

/* Remove ROOT/rel if there, whatever it is. */
static void tree_rm(const char *root, const char *rel)
{
	char path[PATH_MAX];
	struct dock_err err = { 0 };
	struct stat st;

	if (path_join(path, sizeof(path), root, rel, &err) < 0 || lstat(path, &st) < 0) {
		img_log_err(&err);
		return;
	}
	if (S_ISDIR(st.st_mode))
		dir_remove_tree(path);
	else
		unlink(path);
}

/* Remove what ROOT/dir holds (matching pattern), keeping dir itself. */
static void tree_empty(const char *root, const char *dir, const char *pattern)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PATH_MAX], rel[PATH_MAX];
	struct dock_err err = { 0 };
	struct dirent *de;

	if (path_join(path, sizeof(path), root, dir, &err) < 0 || !(d = opendir(path))) {
		img_log_err(&err);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fnmatch(pattern, de->d_name, 0) != 0)
			continue;
		if (path_join(rel, sizeof(rel), dir, de->d_name, &err) == 0)
			tree_rm(root, rel);
		img_log_err(&err);
	}
}

static bool passwd_has(const char *root, const char *file, const char *name)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX];
	struct dock_err err = { 0 };
	size_t len, n = strlen(name);

	if (path_join(path, sizeof(path), root, file, &err) < 0 ||
	    file_read_all(path, PASSWD_FILE_MAX, &buf, &len, &err) < 0) {
		img_log_err(&err);
		return false;
	}
	for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, name, n) == 0 && l[n] == ':')
			return true;
	return false;
}

/* --- the service ---------------------------------------------------------------- */

static int debian_service_user(const struct recipe *rc, const char *root, struct dock_err *err)
{
	int r;

	if (!passwd_has(root, "etc/group", rc->rc_svc_group) &&
	    (r = CHROOT(root, "groupadd", "--system", rc->rc_svc_group)) < 0)
		return r;
	if (!passwd_has(root, "etc/passwd", rc->rc_svc_user) &&
	    (r = CHROOT(root, "useradd", "--system", "--gid", rc->rc_svc_group, "--home-dir",
			"/nonexistent", "--no-create-home", "--shell", "/usr/sbin/nologin",
			rc->rc_svc_user)) < 0)
		return r;
	return 0;
}

/*
 * The service's unit: its own user and group, no capabilities at all (ports
 * below 1024 are opened to it by net.ipv4.ip_unprivileged_port_start, so
 * the dock sees CapEff 0), NoNewPrivileges, a read-only system, a seccomp
 * system-call filter, and only the directories it owns writable.
 */
static int debian_service_unit(const struct recipe *rc, const char *root, struct dock_err *err)
{
	char unit[4096], rw[SVC_MAX_PATHS * (SVC_PATH_MAX + 1) + 1] = "";
	size_t used = 0;
	int n;

	for (size_t i = 0; i < rc->rc_svc_n_writable; i++) {
		/* /tmp is the unit's own (PrivateTmp); the rest must exist at run time. */
		if (strcmp(rc->rc_svc_writable[i], "/tmp") == 0)
			continue;
		if (str_append(rw, sizeof(rw), &used, " -%s", rc->rc_svc_writable[i]) < 0)
			return err_set(err, IMG_ERR, E2BIG, "%s: writable paths too long",
				       rc->rc_path);
	}
	n = snprintf(
		unit, sizeof(unit),
		"# Written by isc-image from recipe %s: the node's one service.\n"
		"[Unit]\n"
		"Description=ISC service %s\n"
		"After=network.target local-fs.target\n"
		"\n"
		"[Service]\n"
		"Type=exec\n"
		"ExecStart=%s\n"
		"Restart=always\n"
		"RestartSec=2\n"
		"User=%s\n"
		"Group=%s\n"
		"RuntimeDirectory=isc-service\n"
		"StateDirectory=isc-service\n"
		"LogsDirectory=isc-service\n"
		"CapabilityBoundingSet=\n"
		"AmbientCapabilities=\n"
		"NoNewPrivileges=yes\n"
		"ProtectSystem=strict\n"
		"ProtectHome=yes\n"
		"PrivateTmp=yes\n"
		"PrivateDevices=yes\n"
		"ProtectKernelTunables=yes\n"
		"ProtectKernelModules=yes\n"
		"ProtectKernelLogs=yes\n"
		"ProtectControlGroups=yes\n"
		"ProtectClock=yes\n"
		"ProtectHostname=yes\n"
		"ProtectProc=invisible\n"
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n"
		"RestrictNamespaces=yes\n"
		"RestrictRealtime=yes\n"
		"RestrictSUIDSGID=yes\n"
		"LockPersonality=yes\n"
		"MemoryDenyWriteExecute=yes\n"
		"RemoveIPC=yes\n"
		"UMask=0027\n"
		"SystemCallArchitectures=native\n"
		"SystemCallFilter=@system-service\n"
		"SystemCallFilter=~@privileged @resources @mount @debug @cpu-emulation @obsolete\n"
		"SystemCallErrorNumber=EPERM\n"
		"%s%s%s"
		"\n"
		"[Install]\n"
		"WantedBy=multi-user.target\n",
		rc->rc_name, rc->rc_svc_name, rc->rc_svc_exec, rc->rc_svc_user, rc->rc_svc_group,
		rw[0] ? "ReadWritePaths=" : "", rw[0] ? rw + 1 : "", rw[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(unit))
		return err_set(err, IMG_ERR, E2BIG, "%s: service unit too long", rc->rc_path);
	return tree_put(root, "etc/systemd/system/isc-service.service", unit, 0644, err);
}

/* "80/tcp" -> 80 and "tcp"; the recipe parser checked the shape. */
static unsigned port_split(const char *p, char proto[8])
{
	const char *slash = strchr(p, '/');

	snprintf(proto, 8, "%s", slash ? slash + 1 : "tcp");
	return (unsigned)strtoul(p, NULL, 10);
}

/*
 * nftables: input dropped but loopback, replies, DHCP answers, the
 * service's ports and (when enabled) ssh; nothing forwarded; IPv6 off.
 * Loaded at boot by nftables.service, before the network is up.
 */
static int debian_nftables(const struct recipe *rc, const char *root, struct dock_err *err)
{
	char conf[4096], rules[2048] = "";
	size_t used = 0;
	unsigned lowest = 65536;
	int n;

	for (size_t i = 0; i < rc->rc_svc_n_ports + (rc->rc_ssh ? 1 : 0); i++) {
		char proto[8];
		unsigned port =
			i < rc->rc_svc_n_ports ? port_split(rc->rc_svc_ports[i], proto) : 22;

		if (i == rc->rc_svc_n_ports)
			snprintf(proto, sizeof(proto), "tcp");
		else if (port < lowest)
			lowest = port;
		if (str_append(rules, sizeof(rules), &used, "\t\t%s dport %u accept\n", proto,
			       port) < 0)
			return err_set(err, IMG_ERR, E2BIG, "%s: too many ports", rc->rc_path);
	}
	n = snprintf(
		conf, sizeof(conf),
		"#!/usr/sbin/nft -f\n"
		"# Written by isc-image from recipe %s: default-drop input but the\n"
		"# service's declared ports%s.\n"
		"flush ruleset\n"
		"\n"
		"table inet filter {\n"
		"\tchain input {\n"
		"\t\ttype filter hook input priority filter; policy drop;\n"
		"\t\tiif lo accept\n"
		"\t\tct state invalid drop\n"
		"\t\tct state established,related accept\n"
		"\t\tudp sport 67 udp dport 68 accept\n"
		"\t\ticmp type { echo-request, destination-unreachable, time-exceeded } limit rate 10/second accept\n"
		"%s"
		"\t}\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy drop;\n"
		"\t}\n"
		"\tchain output {\n"
		"\t\ttype filter hook output priority filter; policy accept;\n"
		"\t}\n"
		"}\n",
		rc->rc_name, rc->rc_ssh ? " and ssh" : "", rules);
	if (n < 0 || (size_t)n >= sizeof(conf))
		return err_set(err, IMG_ERR, E2BIG, "%s: nftables.conf too long", rc->rc_path);
	if ((n = tree_put(root, "etc/nftables.conf", conf, 0755, err)) < 0)
		return n;
	if (lowest < 1024) {
		char sysctl[256];

		snprintf(sysctl, sizeof(sysctl),
			 "# Written by isc-image: the service binds its lowest port (%u) without\n"
			 "# any capability; nftables lets in only the declared ports.\n"
			 "net.ipv4.ip_unprivileged_port_start = %u\n",
			 lowest, lowest);
		return tree_put(root, "etc/sysctl.d/91-isc-service.conf", sysctl, 0644, err);
	}
	return 0;
}

/* Without swap, the swap lines of fstab and crypttab go. */
static int debian_drop_swap(const char *root, struct dock_err *err)
{
	static const char *const files[] = { "etc/fstab", "etc/crypttab" };

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *buf = NULL;
		_cleanup_free_ char *outb = NULL;
		char path[PATH_MAX], *save = NULL;
		size_t len, used = 0;
		int r;

		if ((r = path_join(path, sizeof(path), root, files[i], err)) < 0 ||
		    (r = file_read_all(path, CONF_FILE_MAX, &buf, &len, err)) < 0)
			return r;
		if (!(outb = calloc(1, len + 1)))
			return err_set(err, IMG_ERR, ENOMEM, "%s: out of memory", path);
		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (strstr(l, "isc-swap"))
				continue;
			used += (size_t)snprintf(outb + used, len + 1 - used, "%s\n", l);
		}
		if ((r = tree_put(root, files[i], outb, 0644, err)) < 0)
			return r;
	}
	return 0;
}

/* --- setuid, sysprep, mtimes -------------------------------------------------- */

static size_t setuid_cleared;
static const char *setuid_root;

static int setuid_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || !(st->st_mode & (S_ISUID | S_ISGID)))
		return 0;
	if (chmod(path, st->st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0) {
		int e = errno;

		/* One line per entry, then the walk's caller fails the build. */
		img_log("%s: chmod: %s", path, strerror(errno));
		return -e;
	}
	if (++setuid_cleared <= SETUID_LOG_MAX)
		img_log("no setuid/setgid: %s", path + strlen(setuid_root));
	return 0;
}

static long long clamp_epoch;

static int clamp_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct timespec ts[2];

	(void)flag;
	(void)ftw;
	if (st->st_mtime <= clamp_epoch)
		return 0;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)clamp_epoch;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		/* One line per entry, then the walk's caller fails the build. */
		img_log("%s: utimensat: %s", path, strerror(errno));
		return -e;
	}
	return 0;
}

static int log_truncate_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode) && st->st_size > 0 && truncate(path, 0) < 0) {
		int e = errno;

		/* One line per entry, then the walk's caller fails the build. */
		img_log("%s: truncate: %s", path, strerror(errno));
		return -e;
	}
	return 0;
}

/* Nothing of this build machine, and nothing two nodes would share. */
static int debian_sysprep(const struct recipe *rc, const char *root, struct dock_err *err)
{
	char path[PATH_MAX], hostname[RECIPE_PACKAGE_MAX + 8];
	int r;

	if ((r = tree_put(root, "etc/machine-id", "", 0444, err)) < 0)
		return r;
	tree_rm(root, "var/lib/dbus/machine-id");
	tree_rm(root, "var/lib/systemd/random-seed");
	tree_empty(root, "etc/ssh", "ssh_host_*");
	/* debootstrap copies the build machine's resolver and hosts. */
	if ((r = tree_put(root, "etc/resolv.conf", "", 0644, err)) < 0 ||
	    (r = tree_put(root, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0644, err)) <
		    0)
		return r;
	snprintf(hostname, sizeof(hostname), "isc-%.*s\n", RECIPE_PACKAGE_MAX, rc->rc_name);
	if ((r = tree_put(root, "etc/hostname", hostname, 0644, err)) < 0)
		return r;
	tree_empty(root, "var/cache/apt", "*.bin");
	tree_empty(root, "var/cache/apt/archives", "*.deb");
	tree_empty(root, "var/lib/apt/lists", "*_*");
	tree_empty(root, "var/cache/debconf", "*-old");
	tree_empty(root, "var/lib/dpkg", "*-old");
	/* ldconfig's cache of what it scanned: inode numbers and ctimes of this build. */
	tree_rm(root, "var/cache/ldconfig/aux-cache");
	tree_empty(root, "tmp", "*");
	tree_empty(root, "var/tmp", "*");
	tree_rm(root, "var/log/journal");
	tree_rm(root, "root/.bash_history");
	if ((r = path_join(path, sizeof(path), root, "var/log", err)) < 0)
		return r;
	if (nftw(path, log_truncate_entry, 32, FTW_PHYS | FTW_MOUNT) != 0)
		return err_set(err, IMG_ERR, EIO, "%s: could not empty the logs", path);
	return 0;
}

/* --- facts for the manifest --------------------------------------------------- */

static int debian_kernel(const char *root, struct debian_info *di, struct dock_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;

	if (path_join(path, sizeof(path), root, "boot", err) < 0 || !(d = opendir(path)))
		return err_set(err, IMG_ERR, errno ? errno : ENOENT, "%s: %s", path,
			       strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
			continue;
		if (n++ == 0)
			snprintf(di->di_kver, sizeof(di->di_kver), "%s", de->d_name + 8);
	}
	if (n != 1)
		return err_set(err, IMG_ERR, ENOENT, "%s: %d kernels (vmlinuz-*), want exactly one",
			       path, n);
	return 0;
}

static int debian_packages(const char *root, struct debian_info *di, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char list[PATH_MAX], *save = NULL;
	size_t len;
	int fd, r;

	if ((r = path_join(list, sizeof(list), root, "tmp/isc-packages", err)) < 0)
		return r;
	if ((fd = file_create(list, 0600, err)) < 0)
		return fd;
	r = chroot_run(
		root,
		(const char *const[]){ "dpkg-query", "-W", "-f=${Package}\t${Version}\n", NULL },
		fd, err);
	close(fd);
	if (r == 0)
		r = file_read_all(list, DPKG_LIST_MAX, &buf, &len, err);
	unlink(list);
	if (r < 0)
		return r;
	if (!(di->di_packages = json_object_new_array()))
		return err_set(err, IMG_ERR, ENOMEM, "packages: out of memory");
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t');
		json_object *p;

		if (!tab || !(p = json_object_new_object()))
			continue;
		*tab = '\0';
		json_object_object_add(p, "name", json_object_new_string(l));
		json_object_object_add(p, "version", json_object_new_string(tab + 1));
		json_object_array_add(di->di_packages, p);
	}
	if (json_object_array_length(di->di_packages) == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: dpkg lists no installed package", root);
	return 0;
}

/* --- the boot loader ---------------------------------------------------------- */

/*
 * GRUB: /etc/default/grub (what grub-mkconfig would use), a /boot/grub/grub.cfg
 * written here (grub-mkconfig cannot probe devices in a chroot), and a
 * standalone EFI binary whose embedded stub finds the root by its fixed
 * UUID and reads that grub.cfg. pack.c puts the binary on the ESP.
 */
static int debian_grub(const struct recipe *rc, const char *root, const char *kver, long long epoch,
		       struct dock_err *err)
{
	char uuid[37], text[4096], mtime[48], path[PATH_MAX];
	int n, r;

	pack_root_uuid(rc->rc_name, uuid);
	n = snprintf(text, sizeof(text),
		     "# Written by isc-image from recipe %s.\n"
		     "GRUB_DEFAULT=0\n"
		     "GRUB_TIMEOUT=0\n"
		     "GRUB_TIMEOUT_STYLE=hidden\n"
		     "GRUB_DISTRIBUTOR=\"ISC %s\"\n"
		     "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n"
		     "GRUB_CMDLINE_LINUX=\"%s\"\n"
		     "GRUB_TERMINAL=console\n"
		     "GRUB_DISABLE_OS_PROBER=true\n"
		     "GRUB_DISABLE_RECOVERY=true\n",
		     rc->rc_name, rc->rc_name, rc->rc_cmdline);
	if (n < 0 || (size_t)n >= sizeof(text))
		return err_set(err, IMG_ERR, E2BIG, "%s: cmdline too long", rc->rc_path);
	if ((r = tree_put(root, "etc/default/grub", text, 0644, err)) < 0)
		return r;
	n = snprintf(text, sizeof(text),
		     "# Written by isc-image from recipe %s (grub-mkconfig may replace it).\n"
		     "set default=0\n"
		     "set timeout=0\n"
		     "insmod part_gpt\n"
		     "insmod ext2\n"
		     "search --no-floppy --fs-uuid --set=root %s\n"
		     "menuentry 'ISC %s' {\n"
		     "\tlinux /boot/vmlinuz-%s root=UUID=%s ro %s\n"
		     "\tinitrd /boot/initrd.img-%s\n"
		     "}\n",
		     rc->rc_name, uuid, rc->rc_name, kver, uuid, rc->rc_cmdline, kver);
	if (n < 0 || (size_t)n >= sizeof(text))
		return err_set(err, IMG_ERR, E2BIG, "%s: grub.cfg too long", rc->rc_path);
	if ((r = path_join(path, sizeof(path), root, "boot/grub/isc", err)) < 0 ||
	    (r = dir_make(path, 0755, err)) < 0 ||
	    (r = tree_put(root, "boot/grub/grub.cfg", text, 0644, err)) < 0)
		return r;
	snprintf(text, sizeof(text),
		 "search --no-floppy --fs-uuid --set=root %s\n"
		 "set prefix=($root)/boot/grub\n"
		 "configfile ($root)/boot/grub/grub.cfg\n",
		 uuid);
	if ((r = tree_put(root, PACK_GRUB_STUB, text, 0644, err)) < 0)
		return r;
	/* What grub-mkstandalone does, reproducibly: its memdisk would carry this
	 * build's mtimes in its temp directory's order. The modules and the stub
	 * as /boot/grub/grub.cfg, names in order, one mtime; no fonts, locales, themes. */
	snprintf(mtime, sizeof(mtime), "--mtime=@%lld", epoch);
	if ((r = CHROOT(root, "tar", "--sort=name", mtime, "--owner=0", "--group=0",
			"--numeric-owner", "--format=ustar",
			"--transform=s,^usr/lib/grub/x86_64-efi,boot/grub/x86_64-efi,;"
			"s,^" PACK_GRUB_STUB "$,boot/grub/grub.cfg,",
			"--exclude=monolithic", "--exclude=kernel.img", "--exclude=config.h", "-C",
			"/", "-cf", "/tmp/isc-memdisk.tar", "usr/lib/grub/x86_64-efi",
			PACK_GRUB_STUB)) < 0)
		return r;
	r = CHROOT(root, "grub-mkimage", "--format=x86_64-efi", "--output=/" PACK_GRUB_EFI,
		   "--memdisk=/tmp/isc-memdisk.tar", "--prefix=(memdisk)/boot/grub", "memdisk",
		   "tar", "part_gpt", "ext2", "search_fs_uuid", "configfile", "normal", "linux");
	tree_rm(root, "tmp/isc-memdisk.tar");
	return r;
}

/* --- the hardening ------------------------------------------------------------ */

/* The agent, the mount points, the ephemeral disk's settings, swap or none. */
static int debian_harden_files(const struct recipe *rc, const char *root, const char *agent,
			       struct dock_err *err)
{
	char path[PATH_MAX], conf[128];
	int r;

	/* The agent, static, from this build. */
	if ((r = path_join(path, sizeof(path), root, "usr/sbin/isc-agent", err)) < 0)
		return r;
	unlink(path);
	if ((r = file_copy(agent, path, 0755, err)) < 0)
		return r;
	/* Mount points of the ephemeral disk and the ESP. */
	static const char *const mounts[] = { "scratch", "boot/efi", "etc/isc" };
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if ((r = path_join(path, sizeof(path), root, mounts[i], err)) < 0 ||
		    (r = dir_make(path, 0755, err)) < 0)
			return r;
	snprintf(conf, sizeof(conf),
		 "# Written by isc-image: read by /usr/lib/isc/ephemeral-setup.\nSWAP_MIB=%u\n",
		 rc->rc_swap_mib);
	if ((r = tree_put(root, "etc/isc/ephemeral.conf", conf, 0644, err)) < 0)
		return r;
	if (rc->rc_swap_mib == 0 && (r = debian_drop_swap(root, err)) < 0)
		return r;
	return 0;
}

/* The service and its firewall; units: ours on, the distribution's service
 * off (ours runs it), nothing that reaches out; sshd as the recipe says. */
static int debian_harden_units(const struct recipe *rc, const char *root, struct dock_err *err)
{
	int r;

	if (rc->rc_svc_name[0] &&
	    ((r = debian_service_user(rc, root, err)) < 0 ||
	     (r = debian_service_unit(rc, root, err)) < 0 ||
	     (r = CHROOT(root, "systemctl", "enable", "--quiet", "isc-service.service")) < 0))
		return r;
	if ((r = debian_nftables(rc, root, err)) < 0)
		return r;

	/* Units: ours on, the distribution's service off (ours runs it), nothing that reaches out. */
	for (size_t i = 0; i < sizeof(debian_enabled_units) / sizeof(debian_enabled_units[0]); i++)
		if ((r = CHROOT(root, "systemctl", "enable", "--quiet", debian_enabled_units[i])) <
		    0)
			return r;
	for (size_t i = 0; i < sizeof(debian_masked_units) / sizeof(debian_masked_units[0]); i++)
		if ((r = CHROOT(root, "systemctl", "mask", "--quiet", debian_masked_units[i])) < 0)
			return r;
	if (rc->rc_svc_name[0]) {
		char unit[SVC_NAME_MAX + 16], file[PATH_MAX];

		/* nginx-light ships nginx.service: the package's own unit never runs, ours does. */
		snprintf(unit, sizeof(unit), "%s.service", rc->rc_svc_name);
		if (snprintf(file, sizeof(file), "%s/lib/systemd/system/%s", root, unit) <
			    (int)sizeof(file) &&
		    access(file, F_OK) == 0 &&
		    (r = CHROOT(root, "systemctl", "mask", "--quiet", unit)) < 0)
			return r;
	}
	if ((r = CHROOT(root, "systemctl", rc->rc_ssh ? "enable" : "disable", "--quiet",
			"ssh.service")) < 0 ||
	    (r = CHROOT(root, "systemctl", rc->rc_ssh ? "enable" : "disable", "--quiet",
			"isc-sshkeys.service")) < 0)
		return r;
	return 0;
}

/* Root locked, the audit rules compiled, the initramfs again, the kernel and GRUB. */
static int debian_harden_boot(const struct recipe *rc, const char *root, long long epoch,
			      struct debian_info *di, struct dock_err *err)
{
	int r;

	/* Accounts: root locked, no password logins anywhere. */
	if ((r = CHROOT(root, "passwd", "--lock", "root")) < 0)
		return r;
	/* The audit rules, compiled now: /etc is read-only at run time. */
	if ((r = CHROOT(root, "augenrules")) < 0)
		return r;
	/* The initramfs again, with RESUME=none and the image's modules. */
	if ((r = CHROOT(root, "update-initramfs", "-u", "-k", "all")) < 0)
		return r;

	if ((r = debian_kernel(root, di, err)) < 0 ||
	    (r = debian_grub(rc, root, di->di_kver, epoch, err)) < 0)
		return r;
	return 0;
}

/*
 * What an auditor's SCAP scan asks of the files (images/scap/README.md):
 * the kernel's symbol map and build config readable by root alone, and
 * rsyslog's log files (rsyslog.conf) present, root:adm, mode 0640 — the
 * ephemeral disk's /var/log starts as a copy of the image's.
 */
static int debian_scap_files(const char *root, struct dock_err *err)
{
	static const char *const logs[] = { "/var/log/syslog", "/var/log/auth.log",
					    "/var/log/kern.log" };
	char path[PATH_MAX];
	int r;

	if ((r = CHROOT(root, "sh", "-c",
			"for f in /boot/System.map-* /boot/config-*; do "
			"[ ! -f \"$f\" ] || chmod 0600 \"$f\" || exit 1; done")) < 0)
		return r;
	if ((r = path_join(path, sizeof(path), root, "etc/rsyslog.conf", err)) < 0)
		return r;
	if (access(path, F_OK) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
		if ((r = CHROOT(root, "install", "-m", "0640", "-o", "root", "-g", "adm",
				"/dev/null", logs[i])) < 0)
			return r;
	return 0;
}

int debian_harden(const struct recipe *rc, const char *root, const char *agent, long long epoch,
		  struct debian_info *di, struct dock_err *err)
{
	int r;

	if ((r = debian_harden_files(rc, root, agent, err)) < 0 ||
	    (r = debian_harden_units(rc, root, err)) < 0 ||
	    (r = debian_harden_boot(rc, root, epoch, di, err)) < 0)
		return r;
	setuid_cleared = 0;
	setuid_root = root;
	if (nftw(root, setuid_entry, 64, FTW_PHYS | FTW_MOUNT) != 0)
		return err_set(err, IMG_ERR, EIO, "%s: could not clear setuid bits", root);
	di->di_setuid_cleared = setuid_cleared;
	img_log("%s: %zu setuid/setgid bits cleared", rc->rc_name, setuid_cleared);

	if ((r = debian_packages(root, di, err)) < 0)
		return r;
	if ((r = debian_sysprep(rc, root, err)) < 0 || (r = debian_scap_files(root, err)) < 0)
		return r;
	if (epoch >= 0) {
		clamp_epoch = epoch;
		if (nftw(root, clamp_entry, 64, FTW_PHYS | FTW_MOUNT) != 0)
			return err_set(err, IMG_ERR, EIO, "%s: could not clamp mtimes", root);
	}
	img_log("%s: hardened: kernel %s, %zu packages", rc->rc_name, di->di_kver,
		json_object_array_length(di->di_packages));
	return 0;
}
