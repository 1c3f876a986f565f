/* dockd: the ISC dock daemon. Reads dockd.conf, connects to libvirt,
 * reconciles the nodes, serves the API and the agent channels. Nodes keep
 * running when dockd exits; a restarted dockd picks them up again. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentchan.h"
#include "agentreader.h"
#include "api.h"
#include "lab-apply.h"
#include "audit.h"
#include "config-reload.h"
#include "config.h"
#include "config-check.h"
#include "gaudit.h"
#include "log.h"
#include "node.h"
#include "sdnotify.h"
#include "version.h"
#include "virt.h"
#include "vmm.h"

#ifndef ISC_SYSCONFDIR
#define ISC_SYSCONFDIR "/etc/isc"
#endif

static volatile sig_atomic_t dockd_stop;

static void dockd_on_signal(int sig)
{
	(void)sig;
	dockd_stop = 1;
}

static void dockd_usage(FILE *f)
{
	fprintf(f,
		"usage: dockd [-c CONFIG] [-f] [-t] [--test-hooks]\n"
		"       dockd --version | --help\n"
		"  -c, --config CONFIG  configuration file (default " ISC_SYSCONFDIR
		"/dockd.conf)\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -t, --check          check the configuration and exit\n"
		"  --test-hooks         honour the tests' ISC_DEBUG_* variables (never in production)\n"
		"  -V, --version        print the version and exit\n"
		"  -h, --help           print this help and exit\n"
		"exit status: 0 ok, 1 error (configuration, libvirt, ...), 2 bad usage\n");
}

/* The daemon's end of the pipe its starter waits on (-1 in the foreground). */
static int dockd_ready_fd = -1;

/* The starter returns only when the dock answers on its socket (exit 0) or
 * its start-up failed (exit 1, the reason in the log): a command after
 * `dockd` finds the socket there, as with systemd's Type=forking. */
static __attribute__((noreturn)) void dockd_wait_ready(int fd)
{
	char c = 0;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && c == 'R')
		_exit(0);
	fprintf(stderr,
		"dockd: start-up failed: the reason is in the system log (dockd -f "
		"shows it on stderr)\n");
	_exit(1);
}

/* Called once the API listens: the starter may return. */
static void dockd_tell_ready(void)
{
	if (dockd_ready_fd < 0)
		return;
	if (write(dockd_ready_fd, "R", 1) != 1)
		log_warn("dock: cannot tell the starter it is ready: %s", strerror(errno));
	close(dockd_ready_fd);
	dockd_ready_fd = -1;
}

static int dockd_daemonize(void)
{
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		dockd_wait_ready(p[0]);
	}
	close(p[0]);
	dockd_ready_fd = p[1];
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return chdir("/") < 0 ? -errno : 0;
}

/* The command line: -1 to go on, or the exit status (help, version, a bad
 * option or argument: usage on stderr, 2). */
static int dockd_options(int argc, char **argv, const char **conf, bool *foreground, bool *check,
			 bool *test_hooks)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 't' },
		{ "test-hooks", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:fthV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*conf = optarg;
			break;
		case 'f':
			*foreground = true;
			break;
		case 't':
			*check = true;
			break;
		case 'T':
			*test_hooks = true;
			break;
		case 'V':
			printf("%s\n", ISC_VERSION_LINE("dockd"));
			return 0;
		case 'h':
			dockd_usage(stdout);
			return 0;
		default: /* getopt said which option, on stderr */
			dockd_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dockd: unexpected argument \"%s\"\n", argv[optind]);
		dockd_usage(stderr);
		return 2;
	}
	return -1;
}

/* Open the audit trail and record the start. Its syslog copy goes out in
 * the foreground too (systemd runs `dockd -f`): the copy is the anchor
 * outside the file. Damage found (truncated, rolled back, deleted) is
 * logged at critical level, kept aside by audit_open and shown by the API;
 * the dock still starts, on a new chain linked to the old head. */
static int dockd_audit_start(const struct dock_config *cfg, struct dock_err *err)
{
	const struct audit_opts o = {
		.ao_syslog = cfg->dc_syslog_socket,
		.ao_reserve = cfg->dc_audit_reserve_mib << 20,
	};
	char apath[PATH_MAX];
	int ar;

	snprintf(apath, sizeof(apath), "%s/audit.log", cfg->dc_state_dir);
	mkdir(cfg->dc_state_dir, 0711);
	ar = audit_open(apath, &o, err);
	if (ar < 0) {
		log_err("dock: audit trail: %s", err->de_msg[0] ? err->de_msg : strerror(-ar));
		return ar;
	}
	if (audit_alarm()[0] != '\0')
		log_crit("dock: %s", audit_alarm());
	audit_append(AUDIT_UID_DOCK, "dock-start", NULL, NULL, NULL, NULL);
	return 0;
}

/* The nodes, the API and the agent channels until a signal; then the
 * orderly stop (the nodes keep running). 0, or 1 when start-up failed. */
/* With KVM, the jailed QEMU (its own uid, vmm_group its only group) must
 * open /dev/kvm: give vmm_group rw on it where its mode does not (vmm.h). */
static void dockd_kvm_for_nodes(const struct dock_config *cfg)
{
	struct group gr, *grp = NULL;
	struct dock_err e = { 0 };
	char buf[4096];
	int r;

	if (strcmp(virt_domain_type(cfg->dc_accel), "kvm") != 0 ||
	    getgrnam_r(cfg->dc_vmm_group, &gr, buf, sizeof(buf), &grp) != 0 || grp == NULL)
		return; /* no KVM; an unknown vmm_group is refused at each start */
	r = vmm_dev_grant("/dev/kvm", grp->gr_gid, &e);
	if (r > 0)
		log_info("vmm: group %s given read-write on /dev/kvm (one ACL entry): the nodes' "
			 "QEMU run under uids of their own with that group",
			 cfg->dc_vmm_group);
	else if (r < 0)
		log_warn("vmm: %s: nodes may fail to open /dev/kvm (README: the VMM jail)",
			 e.de_msg);
}

static void dockd_reload_said(const char *conf, const struct config_diff *d)
{
	log_info("dock: reloaded %s: %s%s", conf, d->cd_n_live > 0 ? "applied " : "",
		 d->cd_n_live > 0 ? d->cd_live : "no live key changed");
}

static void dockd_private_text(const struct dock_config *c, char *buf, size_t size)
{
	size_t used = 0;

	snprintf(buf, size, "%s", c->dc_n_egress_private == 0 ? "none" : "");
	for (size_t i = 0; i < c->dc_n_egress_private && used < size; i++) {
		snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "",
			 c->dc_egress_private[i]);
		used = strlen(buf);
	}
}

/* A changed egress_private: the firewall's private set first, in one
 * batch; when that fails, the old value stays (next takes it back and the
 * diff is made again). */
static void dockd_reload_private(const struct dock_config *cfg, struct dock_config *next,
				 struct config_diff *d)
{
	char was[CONFIG_PRIVATE_MAX * 22 + 8], now[sizeof(was)];
	struct dock_err err = { 0 };

	if (strstr(d->cd_live, "egress_private") == NULL)
		return;
	dockd_private_text(cfg, was, sizeof(was));
	dockd_private_text(next, now, sizeof(now));
	if (node_private_apply(next, &err) == 0) {
		log_info("dock: reload: egress_private %s (was %s): firewall set private_ranges "
			 "rebuilt",
			 now, was);
		return;
	}
	log_err("dock: reload: egress_private kept as %s, not %s: %s", was, now, err.de_msg);
	memcpy(next->dc_egress_private, cfg->dc_egress_private, sizeof(next->dc_egress_private));
	next->dc_n_egress_private = cfg->dc_n_egress_private;
	config_reload_diff(cfg, next, d);
}

/* SIGHUP: read the file again, apply the keys that can change live, keep
 * the rest and name them (config-reload.h). A file that no longer parses
 * changes nothing. The live fields are word-sized and read whole at each
 * use, so the other threads see the old value or the new one; egress_private
 * is read only at start and here. */
static void dockd_reload(const char *conf, struct dock_config *cfg)
{
	struct dock_config next;
	struct dock_err err = { 0 };
	struct config_diff d;
	struct timespec now;
	char msg[96];
	bool quieter;

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)now.tv_sec * 1000000ULL +
			 (unsigned long long)now.tv_nsec / 1000);
	sdnotify_send(msg);
	config_defaults(&next);
	if (config_load(conf, &next, &err) < 0) {
		log_err("dock: reload refused, nothing changed: %s", err.de_msg);
		audit_append(AUDIT_UID_DOCK, "dock-reload", NULL, "refused", NULL, NULL);
	} else {
		config_reload_diff(cfg, &next, &d);
		dockd_reload_private(cfg, &next, &d);
		if (d.cd_n_restart > 0)
			log_warn("dock: reload: %s changed but need%s a restart; kept as before",
				 d.cd_restart, d.cd_n_restart == 1 ? "s" : "");
		/* Said at the more verbose of the two levels: a dock made quieter
		 * still confirms it. */
		quieter = next.dc_log_level < cfg->dc_log_level;
		if (quieter)
			dockd_reload_said(conf, &d);
		config_reload_apply(cfg, &next);
		log_set_level(cfg->dc_log_level);
		if (!quieter)
			dockd_reload_said(conf, &d);
		audit_append(AUDIT_UID_DOCK, "dock-reload", NULL, "ok", NULL, NULL);
	}
	sdnotify_send("READY=1\nSTATUS=ready");
}

struct dockd_reloader {
	const char *dr_conf;
	struct dock_config *dr_cfg;
};

/* SIGHUP is blocked in every thread (main, before any starts): this one
 * takes it synchronously, so a reload runs in a thread, not a handler. */
static void *dockd_reload_thread(void *arg)
{
	const struct dockd_reloader *r = arg;
	const struct timespec tick = { .tv_nsec = 250 * 1000 * 1000 };
	sigset_t hup;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	while (!dockd_stop)
		if (sigtimedwait(&hup, NULL, &tick) == SIGHUP && !dockd_stop)
			dockd_reload(r->dr_conf, r->dr_cfg);
	return NULL;
}

/* The guest audit trail's writer (gaudit.h), before any agent speaks. */
static int dockd_gaudit_start(const struct dock_config *cfg, struct dock_err *err)
{
	const struct gaudit_opts o = {
		.go_state_dir = cfg->dc_state_dir,
		.go_syslog = cfg->dc_syslog_socket[0] != '\0' ? cfg->dc_syslog_socket : NULL,
		.go_min_free_mib = cfg->dc_min_free_mib,
		.go_retention_s = cfg->dc_guest_audit_retention_s,
	};

	return gaudit_start(&o, err);
}

static int dockd_serve(const char *conf, struct dock_config *cfg, struct dock_err *err)
{
	struct dockd_reloader rl = { .dr_conf = conf, .dr_cfg = cfg };
	pthread_t reloader;
	bool reloading;

	if (dockd_gaudit_start(cfg, err) < 0 || node_init(cfg, err) < 0 ||
	    lab_apply_init(cfg, err) < 0) {
		log_err("dock: start-up failed: %s", err->de_msg);
		gaudit_stop();
		virt_close();
		return 1;
	}
	if (api_start(cfg, err) < 0) {
		log_err("dock: %s", err->de_msg);
		node_fini();
		gaudit_stop();
		virt_close();
		return 1;
	}
	log_info("dock: ready");
	dockd_tell_ready();
	/* Type=notify: systemctl start returns now, reconciled and listening. */
	sdnotify_send("READY=1\nSTATUS=ready");
	reloading = pthread_create(&reloader, NULL, dockd_reload_thread, &rl) == 0;
	if (!reloading)
		log_warn("dock: no reload thread: SIGHUP is ignored");
	agentchan_run(&dockd_stop);
	sdnotify_send("STOPPING=1\nSTATUS=stopping");
	log_info("dock: stopping (nodes keep running)");
	if (reloading) { /* woken at once: the stop is not delayed by its tick */
		pthread_kill(reloader, SIGHUP);
		pthread_join(reloader, NULL);
	}
	api_stop();
	node_fini();
	gaudit_stop();
	audit_append(AUDIT_UID_DOCK, "dock-stop", NULL, NULL, NULL, NULL);
	audit_close();
	virt_close();
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf = ISC_SYSCONFDIR "/dockd.conf";
	static char conf_abs[PATH_MAX];
	struct dock_config cfg;
	struct dock_err err = { 0 };
	struct sigaction sa = { .sa_handler = dockd_on_signal };
	sigset_t hup;
	bool foreground = false, check = false, test_hooks = false;
	int rc;

	/* A re-executed copy of ourselves reading one agent channel. */
	if (argc == 2 && strcmp(argv[1], "--agent-reader") == 0)
		agentreader_main();
	rc = dockd_options(argc, argv, &conf, &foreground, &check, &test_hooks);
	if (rc >= 0)
		return rc;
	config_defaults(&cfg);
	if (config_load(conf, &cfg, &err) < 0 || (!check && config_check_files(&cfg, &err) < 0)) {
		fprintf(stderr, "dockd: %s\n", err.de_msg);
		return 1;
	}
	if (check) /* like nginx -t: every problem, one line each */
		return config_check_report(conf, &cfg);
	/* A reload (SIGHUP) reads it again, after the daemon's chdir("/"). */
	if (realpath(conf, conf_abs) != NULL)
		conf = conf_abs;
	if (geteuid() != 0) {
		fprintf(stderr,
			"dockd: must run as root (it manages libvirt, nftables and LUKS)\n");
		return 1;
	}
	umask(0077);
	sdnotify_init();
	/* Before any thread (libvirt's, ours): SIGHUP waits for the reload
	 * thread, it never kills the dock. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	log_init("dockd", cfg.dc_log_level, !foreground);
	if (virt_open(cfg.dc_uri, &err) < 0) {
		/* One line: the log is stderr in the foreground, syslog otherwise. */
		if (!foreground)
			fprintf(stderr, "dockd: %s\n", err.de_msg);
		log_err("%s", err.de_msg);
		return 1;
	}
	if (!foreground && dockd_daemonize() < 0) {
		fprintf(stderr, "dockd: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("dock: starting (libvirt %s, accel %s -> %s)", cfg.dc_uri,
		 config_accel_name(cfg.dc_accel), virt_domain_type(cfg.dc_accel));
	dockd_kvm_for_nodes(&cfg);
	if (dockd_audit_start(&cfg, &err) < 0) {
		virt_close();
		return 1;
	}
	/* Only with the flag: an environment variable alone never changes
	 * what a production dock does. */
	if (test_hooks && getenv("ISC_DEBUG_CLEANSE_PAUSE") != NULL) {
		node_test_pause_at(getenv("ISC_DEBUG_CLEANSE_PAUSE"));
		log_warn("dock: test hook: cleanses stop in phase \"%s\"",
			 getenv("ISC_DEBUG_CLEANSE_PAUSE"));
	}
	return dockd_serve(conf, &cfg, &err);
}
