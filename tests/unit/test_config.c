/* Unit tests of dockd.conf as issue 19 left it: renamed keys (the old name
 * still read, with a warning naming the new one), dist/dockd.conf showing
 * the defaults, and `dockd -t`'s look at the host (config-check.h) on
 * fixture trees: every problem one line naming the key and the path or
 * group. Temp files only; argv[1] is the source tree. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-check.h"
#include "config.h"
#include "file.h"

static const char *src_dir = ".";

/* What config_parse wrote to stderr (the log before log_init). */
static char *parse_stderr(const char *text, struct dock_config *c, int *rc)
{
	char path[] = "/tmp/isc-test-config.XXXXXX", *out = NULL;
	int fd = mkstemp(path), saved = dup(2);
	size_t len;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*rc = config_parse("t.conf", text, c, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(file_read(path, 65536, &out, &len), 0);
	unlink(path);
	return out;
}

static void test_renamed_keys(void **st)
{
	struct dock_config c;
	char *err;
	int rc;

	(void)st;
	assert_string_equal(config_renamed_to("stop_timeout"), "stop_timeout_s");
	assert_string_equal(config_renamed_to("agent_deadline"), "agent_deadline_s");
	assert_null(config_renamed_to("stop_timeout_s"));
	assert_null(config_renamed_to("uri"));

	/* The new names, quietly. */
	config_defaults(&c);
	err = parse_stderr("stop_timeout_s = 7\nagent_deadline_s = 9\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dc_stop_timeout_s, 7);
	assert_int_equal(c.dc_agent_deadline_s, 9);
	assert_string_equal(err, "");
	free(err);

	/* The old ones: same meaning, same bounds, one warning each. */
	config_defaults(&c);
	err = parse_stderr("# old\nstop_timeout = 11\nagent_deadline = 12\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dc_stop_timeout_s, 11);
	assert_int_equal(c.dc_agent_deadline_s, 12);
	assert_non_null(strstr(err, "t.conf:2: stop_timeout is deprecated, use stop_timeout_s"));
	assert_non_null(
		strstr(err, "t.conf:3: agent_deadline is deprecated, use agent_deadline_s"));
	free(err);
	config_defaults(&c);
	err = parse_stderr("agent_deadline = 2\n", &c, &rc);
	assert_int_not_equal(rc, 0);
	free(err);
}

/* console_log_max_mib and console_log_files: today's rotation by default
 * (1 MiB, 3 files), each bound kept, a value past either end refused. */
static void test_console_log_keys(void **st)
{
	static const char *const bad[] = {
		"console_log_max_mib = 0\n", "console_log_max_mib = 1025\n",
		"console_log_files = 0\n",   "console_log_files = 10\n",
		"console_log_files = -1\n",  "console_log_max_mib = 2x\n",
	};
	struct dock_config c;
	char *err;
	int rc;

	(void)st;
	config_defaults(&c);
	assert_int_equal(c.dc_console_log_max_mib, 1);
	assert_int_equal(c.dc_console_log_files, 3);
	err = parse_stderr("console_log_max_mib = 1024\nconsole_log_files = 9\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dc_console_log_max_mib, 1024);
	assert_int_equal(c.dc_console_log_files, 9);
	free(err);
	err = parse_stderr("console_log_max_mib = 1\nconsole_log_files = 1\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(c.dc_console_log_max_mib, 1);
	assert_int_equal(c.dc_console_log_files, 1);
	free(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		err = parse_stderr(bad[i], &c, &rc);
		assert_int_not_equal(rc, 0);
		free(err);
	}
}

/* dns_upstream: an IPv4 address; unset, the first IPv4 nameserver of
 * resolv.conf; neither: 400 saying what to set. */
static void test_dns_upstream(void **st)
{
	static const char *const bad[] = { "dns_upstream = resolver.test\n",
					   "dns_upstream = 2001:db8::53\n",
					   "dns_upstream = 192.0.2.256\n", "dns_upstream =\n" };
	char path[] = "/tmp/isc-test-resolv.XXXXXX", out[16];
	struct dock_err e = { 0 };
	struct dock_config c;
	char *err;
	int rc, fd;

	(void)st;
	config_defaults(&c);
	assert_string_equal(c.dc_dns_upstream, "");
	err = parse_stderr("dns_upstream = 192.0.2.53\n", &c, &rc);
	assert_int_equal(rc, 0);
	free(err);
	assert_int_equal(config_dns_upstream(&c, "/nonexistent", out, &e), 0);
	assert_string_equal(out, "192.0.2.53");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		err = parse_stderr(bad[i], &c, &rc);
		assert_int_not_equal(rc, 0);
		free(err);
	}
	config_defaults(&c);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd,
			       "# x\nsearch test\nnameserver ::1\nnameserver 198.51.100.53\n"
			       "nameserver 198.51.100.54\n",
			       81),
			 81);
	close(fd);
	assert_int_equal(config_dns_upstream(&c, path, out, &e), 0);
	assert_string_equal(out, "198.51.100.53");
	unlink(path);
	assert_int_equal(config_dns_upstream(&c, path, out, &e), -ENOENT);
	assert_int_equal(e.de_status, 400);
	assert_non_null(strstr(e.de_msg, "set dns_upstream in dockd.conf"));
}

/* Every value dist/dockd.conf shows (uncommented) is dockd's default: the
 * file documents the defaults and changes nothing; and it uses no old name. */
static void test_dist_conf_is_defaults(void **st)
{
	struct dock_config def, dist;
	char path[512], *text, *err;
	size_t len;
	int rc;

	(void)st;
	snprintf(path, sizeof(path), "%s/dist/dockd.conf", src_dir);
	assert_int_equal(file_read(path, 65536, &text, &len), 0);
	config_defaults(&def);
	config_defaults(&dist);
	err = parse_stderr(text, &dist, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_memory_equal(&def, &dist, sizeof(def));
	free(err);
	free(text);
}

/* --- config_check_host on a fixture tree ----------------------------------------- */

struct lines {
	char l_text[16][1024];
	unsigned l_n;
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;

	assert_true(l->l_n < 16);
	snprintf(l->l_text[l->l_n++], sizeof(l->l_text[0]), "%s", line);
}

static void touch(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, "x", 1, 0644, NULL), 0);
}

/* A whole installation under a temp dir: templates, profiles, firmware. */
static void fixture(char *root, struct dock_config *c)
{
	char t[512];
	static const char *const tpl[] = { "domain.xml", "network.xml", "pool.xml", "secret.xml",
					   "volume.xml" };

	assert_non_null(mkdtemp(root));
	snprintf(t, sizeof(t), "%s/templates", root);
	assert_int_equal(mkdir(t, 0755), 0);
	for (size_t i = 0; i < 5; i++)
		touch(t, tpl[i]);
	snprintf(t, sizeof(t), "%s/templates/profiles", root);
	assert_int_equal(mkdir(t, 0755), 0);
	touch(root, "CODE.fd");
	touch(root, "VARS.fd");
	config_defaults(c);
	snprintf(c->dc_state_dir, sizeof(c->dc_state_dir), "%s/state", root);
	snprintf(c->dc_run_dir, sizeof(c->dc_run_dir), "%s/run/", root);
	snprintf(c->dc_image_dir, sizeof(c->dc_image_dir), "%s/a/b/images", root);
	snprintf(c->dc_template_dir, sizeof(c->dc_template_dir), "%s/templates", root);
	snprintf(c->dc_ovmf_code, sizeof(c->dc_ovmf_code), "%s/CODE.fd", root);
	snprintf(c->dc_ovmf_vars, sizeof(c->dc_ovmf_vars), "%s/VARS.fd", root);
	snprintf(c->dc_socket_group, sizeof(c->dc_socket_group), "root");
	snprintf(c->dc_vmm_group, sizeof(c->dc_vmm_group), "root");
}

static void rm_tree(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_check_good(void **st)
{
	char root[] = "/tmp/isc-test-check.XXXXXX";
	struct dock_config c;
	struct lines l = { .l_n = 0 };

	(void)st;
	fixture(root, &c);
	/* state_dir and run_dir are made by one mkdir, image_dir with its parents. */
	assert_int_equal(config_check_host(&c, collect, &l), 0);
	rm_tree(root);
}

static void test_check_problems(void **st)
{
	char root[] = "/tmp/isc-test-check.XXXXXX", path[512], want[16][1024];
	struct dock_config c;
	struct lines l = { .l_n = 0 };
	unsigned n = 0;

	(void)st;
	fixture(root, &c);
	snprintf(c.dc_state_dir, sizeof(c.dc_state_dir), "%s/no/state", root);
	snprintf(c.dc_run_dir, sizeof(c.dc_run_dir), "%s/CODE.fd/run", root);
	snprintf(c.dc_image_dir, sizeof(c.dc_image_dir), "%s/VARS.fd", root);
	snprintf(path, sizeof(path), "%s/templates/pool.xml", root);
	assert_int_equal(unlink(path), 0);
	snprintf(c.dc_socket_group, sizeof(c.dc_socket_group), "isc-no-such-group");
	snprintf(c.dc_vmm_group, sizeof(c.dc_vmm_group), "isc-no-vmm-group");
	snprintf(c.dc_ovmf_vars, sizeof(c.dc_ovmf_vars), "%s/templates", root);
	snprintf(c.dc_forensic_pubkey, sizeof(c.dc_forensic_pubkey), "%s/op.pub", root);

	snprintf(want[n++], sizeof(want[0]),
		 "state_dir %s/no/state: does not exist and cannot be made: %s/no: No such "
		 "file or directory",
		 root, root);
	snprintf(want[n++], sizeof(want[0]), "run_dir %s/CODE.fd/run: %s", root, strerror(ENOTDIR));
	snprintf(want[n++], sizeof(want[0]), "image_dir %s/VARS.fd: not a directory", root);
	snprintf(want[n++], sizeof(want[0]),
		 "template_dir %s/templates: pool.xml: No such file or directory", root);
	snprintf(want[n++], sizeof(want[0]),
		 "socket_group isc-no-such-group: no such group (the package's sysusers.d file "
		 "or groupadd makes it; until then only root may use the API)");
	snprintf(want[n++], sizeof(want[0]),
		 "vmm_group isc-no-vmm-group: no such group (libvirt's QEMU group: "
		 "libvirt-qemu on Debian, qemu on Fedora)");
	snprintf(want[n++], sizeof(want[0]), "ovmf_vars %s/templates: not a regular file", root);
	snprintf(want[n++], sizeof(want[0]), "forensic_pubkey %s/op.pub: No such file or directory",
		 root);

	assert_int_equal(config_check_host(&c, collect, &l), n);
	assert_int_equal(l.l_n, n);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(l.l_text[i], want[i]);
	rm_tree(root);
}

/* A missing template_dir is one line, not one per template. */
static void test_check_no_templates(void **st)
{
	char root[] = "/tmp/isc-test-check.XXXXXX", want[1024];
	struct dock_config c;
	struct lines l = { .l_n = 0 };

	(void)st;
	fixture(root, &c);
	snprintf(c.dc_template_dir, sizeof(c.dc_template_dir), "%s/share/templates", root);
	assert_int_equal(config_check_host(&c, collect, &l), 1);
	snprintf(want, sizeof(want), "template_dir %s/share/templates: no such directory", root);
	assert_string_equal(l.l_text[0], want);
	/* ... and the profiles' directory is part of an installation. */
	snprintf(c.dc_template_dir, sizeof(c.dc_template_dir), "%s/templates", root);
	snprintf(want, sizeof(want), "%s/templates/profiles", root);
	assert_int_equal(rmdir(want), 0);
	l.l_n = 0;
	assert_int_equal(config_check_host(&c, collect, &l), 1);
	snprintf(want, sizeof(want), "template_dir %s/templates/profiles: no such directory", root);
	assert_string_equal(l.l_text[0], want);
	rm_tree(root);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renamed_keys),
		cmocka_unit_test(test_console_log_keys),
		cmocka_unit_test(test_dns_upstream),
		cmocka_unit_test(test_dist_conf_is_defaults),
		cmocka_unit_test(test_check_good),
		cmocka_unit_test(test_check_problems),
		cmocka_unit_test(test_check_no_templates),
	};

	if (argc > 1)
		src_dir = argv[1];
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
