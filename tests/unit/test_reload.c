/* Unit tests of what a SIGHUP may change (dockd/config-reload.c), the
 * systemd notification socket's address and a datagram through it
 * (dockd/sdnotify.c), and the logger's journal detection (common/log.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-reload.h"
#include "log.h"
#include "sdnotify.h"

static void parse(const char *text, struct dock_config *cfg)
{
	struct dock_err err = { 0 };

	config_defaults(cfg);
	if (config_parse("test.conf", text, cfg, &err) != 0)
		fail_msg("refused: %s", err.de_msg);
}

static void test_same_config_no_change(void **state)
{
	struct dock_config a, b;
	struct config_diff d;

	(void)state;
	parse("log_level = info\npublish_ports = 2000-3000\negress_private = 10.9.0.0/16\n", &a);
	parse("log_level = info\npublish_ports = 2000-3000\negress_private = 10.9.0.0/16\n", &b);
	config_reload_diff(&a, &b, &d);
	assert_int_equal(d.cd_n_live, 0);
	assert_int_equal(d.cd_n_restart, 0);
	assert_string_equal(d.cd_live, "");
	assert_string_equal(d.cd_restart, "");
}

static void test_live_keys_applied(void **state)
{
	struct dock_config cur, next;
	struct config_diff d;

	(void)state;
	parse("log_level = info\n", &cur);
	parse("log_level = debug\npublish_ports = 8000-8100\nmax_vcpus = 4\n", &next);
	config_reload_diff(&cur, &next, &d);
	assert_string_equal(d.cd_live, "log_level, max_vcpus, publish_ports");
	assert_int_equal(d.cd_n_live, 3);
	assert_int_equal(d.cd_n_restart, 0);
	config_reload_apply(&cur, &next);
	assert_int_equal(cur.dc_log_level, LOG_LVL_DEBUG);
	assert_int_equal(cur.dc_publish_lo, 8000);
	assert_int_equal(cur.dc_publish_hi, 8100);
	assert_int_equal(cur.dc_max_vcpus, 4);
	config_reload_diff(&cur, &next, &d);
	assert_int_equal(d.cd_n_live + d.cd_n_restart, 0);

	/* The console log's retention, live too. */
	parse("log_level = debug\npublish_ports = 8000-8100\nmax_vcpus = 4\n"
	      "console_log_max_mib = 4\nconsole_log_files = 7\n",
	      &next);
	config_reload_diff(&cur, &next, &d);
	assert_string_equal(d.cd_live, "console_log_max_mib, console_log_files");
	assert_int_equal(d.cd_n_restart, 0);
	config_reload_apply(&cur, &next);
	assert_int_equal(cur.dc_console_log_max_mib, 4);
	assert_int_equal(cur.dc_console_log_files, 7);
}

/* Only one end of a range moved: still a change of its key. */
static void test_range_one_end(void **state)
{
	struct dock_config cur, next;
	struct config_diff d;

	(void)state;
	parse("publish_ports = 2000-3000\nvmm_uid_range = 100000-100999\n", &cur);
	parse("publish_ports = 2000-3001\nvmm_uid_range = 100000-100998\n", &next);
	config_reload_diff(&cur, &next, &d);
	assert_string_equal(d.cd_live, "publish_ports");
	assert_string_equal(d.cd_restart, "vmm_uid_range");
}

static void test_restart_keys_kept(void **state)
{
	struct dock_config cur, next;
	struct config_diff d;

	(void)state;
	parse("state_dir = /var/lib/isc\nlog_level = info\n", &cur);
	parse("state_dir = /srv/isc\nrun_dir = /run/isc2\nsubnet_pool = 10.77.0.0/16\n"
	      "egress_private = 192.0.2.0/24\nlog_level = warning\n",
	      &next);
	config_reload_diff(&cur, &next, &d);
	assert_string_equal(d.cd_restart, "state_dir, run_dir, subnet_pool");
	assert_int_equal(d.cd_n_restart, 3);
	assert_string_equal(d.cd_live, "log_level, egress_private");
	config_reload_apply(&cur, &next);
	assert_string_equal(cur.dc_state_dir, "/var/lib/isc");
	assert_string_equal(cur.dc_run_dir, "/run/isc");
	assert_string_equal(cur.dc_pool_text, "10.231.0.0/16");
	assert_int_equal(cur.dc_n_egress_private, 1); /* live: the caller rebuilt the set */
	assert_string_equal(cur.dc_egress_private[0], "192.0.2.0/24");
	assert_int_equal(cur.dc_log_level, LOG_LVL_WARN);
}

static void test_is_live(void **state)
{
	(void)state;
	assert_true(config_reload_is_live("log_level"));
	assert_true(config_reload_is_live("publish_ports"));
	/* read at each node's start (node-logs.c) */
	assert_true(config_reload_is_live("console_log_max_mib"));
	assert_true(config_reload_is_live("console_log_files"));
	assert_false(config_reload_is_live("state_dir"));
	assert_true(config_reload_is_live("egress_private"));
	assert_false(config_reload_is_live("no_such_key"));
}

static void test_notify_addr(void **state)
{
	struct sockaddr_un sa;
	char longp[200];
	int n;

	(void)state;
	n = sdnotify_addr("/run/systemd/notify", &sa);
	assert_int_equal(n, (int)(offsetof(struct sockaddr_un, sun_path) + 20));
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	n = sdnotify_addr("@abstract", &sa);
	assert_int_equal(n, (int)(offsetof(struct sockaddr_un, sun_path) + 9));
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "abstract", 8);
	assert_int_equal(sdnotify_addr(NULL, &sa), -EINVAL);
	assert_int_equal(sdnotify_addr("", &sa), -EINVAL);
	assert_int_equal(sdnotify_addr("@", &sa), -EINVAL);
	assert_int_equal(sdnotify_addr("relative/sock", &sa), -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(sdnotify_addr(longp, &sa), -EINVAL);
}

/* A real datagram to an abstract socket, as systemd's listens. */
static void test_notify_send(void **state)
{
	struct sockaddr_un sa;
	char name[64], buf[128];
	int fd, salen;
	ssize_t n;

	(void)state;
	snprintf(name, sizeof(name), "@isc-test-notify-%d", (int)getpid());
	salen = sdnotify_addr(name, &sa);
	assert_true(salen > 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, (socklen_t)salen), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("LISTEN_PID", "1", 1); /* not us: no socket taken */
	setenv("LISTEN_FDS", "1", 1);
	sdnotify_init();
	assert_null(getenv("NOTIFY_SOCKET")); /* children do not inherit it */
	assert_null(getenv("LISTEN_FDS"));
	assert_int_equal(sdnotify_listen_fd(), -1);
	assert_int_equal(sdnotify_send("READY=1\nSTATUS=ready"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_int_equal(n, 20);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=ready");
	close(fd);
}

static void test_journal_stream(void **state)
{
	(void)state;
	assert_true(log_journal_matches("8:1234", 8, 1234));
	assert_false(log_journal_matches("8:1234", 8, 1235));
	assert_false(log_journal_matches("8:1234x", 8, 1234));
	assert_false(log_journal_matches("8", 8, 0));
	assert_false(log_journal_matches("", 0, 0));
	assert_false(log_journal_matches(NULL, 0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_config_no_change),
		cmocka_unit_test(test_live_keys_applied),
		cmocka_unit_test(test_range_one_end),
		cmocka_unit_test(test_restart_keys_kept),
		cmocka_unit_test(test_is_live),
		cmocka_unit_test(test_notify_addr),
		cmocka_unit_test(test_notify_send),
		cmocka_unit_test(test_journal_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
