/* Unit tests of the dock's parsers and generators: nothing outside the
 * process is touched except temp files. XML output is compared with
 * tests/unit/expected/ (regenerate: ISC_REGEN=1). */
#include <errno.h>
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
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "agentproto.h"
#include "checks.h"
#include "profile.h"
#include "config.h"
#include "file.h"
#include "image.h"
#include "jsonin.h"
#include "netpool.h"
#include "portcheck.h"
#include "render.h"
#include "spec.h"
#include "state.h"
#include "timing.h"
#include "validate.h"

static const char *src_dir = ".";

/* ---- validate ---- */

static void test_names(void **st)
{
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(validate_name("node", "web1", NODE_NAME_MAX, NULL), 0);
	assert_int_equal(validate_name("node", "a", NODE_NAME_MAX, NULL), 0);
	assert_int_equal(
		validate_name("node", "a-b-c-0123456789012345678901234", NODE_NAME_MAX, NULL), 0);
	assert_int_equal(
		validate_name("node", "a-b-c-01234567890123456789012345", NODE_NAME_MAX, &e),
		-ENAMETOOLONG);
	assert_string_equal(
		e.de_msg,
		"node name \"a-b-c-01234567890123456789012345\" is longer than 31 characters");
	err_clear(&e);
	assert_int_equal(validate_name("node", "Web", NODE_NAME_MAX, &e), -EINVAL);
	assert_string_equal(e.de_msg, "node name \"Web\" must start with a lower-case letter");
	err_clear(&e);
	assert_int_equal(validate_name("node", "1web", NODE_NAME_MAX, NULL), -EINVAL);
	assert_int_equal(validate_name("node", "", NODE_NAME_MAX, NULL), -EINVAL);
	assert_int_equal(validate_name("node", "web_1", NODE_NAME_MAX, &e), -EINVAL);
	assert_string_equal(e.de_msg, "node name \"web_1\" may only contain a-z, 0-9 and '-'");
	assert_int_equal(validate_name("node", "a/../b", NODE_NAME_MAX, NULL), -EINVAL);
	assert_int_equal(validate_name("node", "a b", NODE_NAME_MAX, NULL), -EINVAL);
}

static void test_sizes(void **st)
{
	struct dock_err e = { 0 };
	uint64_t m = 0;
	(void)st;
	assert_int_equal(validate_size_mib("s", "256M", &m, NULL), 0);
	assert_int_equal(m, 256);
	assert_int_equal(validate_size_mib("s", "1G", &m, NULL), 0);
	assert_int_equal(m, 1024);
	assert_int_equal(validate_size_mib("s", "2GiB", &m, NULL), 0);
	assert_int_equal(m, 2048);
	assert_int_equal(validate_size_mib("s", "512", &m, NULL), 0);
	assert_int_equal(m, 512);
	assert_int_equal(validate_size_mib("s", "1048576K", &m, NULL), 0);
	assert_int_equal(m, 1024);
	assert_int_equal(validate_size_mib("scratch size", "12X", &m, &e), -EINVAL);
	assert_string_equal(e.de_msg, "scratch size \"12X\": unknown unit (use K, M, G or T)");
	assert_int_equal(validate_size_mib("s", "1.5G", &m, NULL), -EINVAL);
	assert_int_equal(validate_size_mib("s", "1000K", &m, NULL), -EINVAL);
	assert_int_equal(validate_size_mib("s", "-1M", &m, NULL), -EINVAL);
	assert_int_equal(validate_size_mib("s", "99999999999999999999T", &m, NULL), -ERANGE);
	assert_int_equal(validate_size_mib("s", "18014398509481984T", &m, NULL), -ERANGE);
}

/* ---- netpool ---- */

static void test_netpool(void **st)
{
	struct netpool p;
	struct netpool_subnet sn;
	struct dock_err e = { 0 };
	bool used[4] = { true, false, true, false };
	unsigned idx;
	(void)st;
	assert_int_equal(netpool_parse("10.231.0.0/16", &p, NULL), 0);
	assert_int_equal(netpool_capacity(&p), 8192);
	assert_int_equal(netpool_alloc(&p, used, 4, &idx, NULL), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(netpool_subnet(&p, 1, &sn), 0);
	assert_string_equal(sn.ns_cidr, "10.231.0.8/29");
	assert_string_equal(sn.ns_gateway, "10.231.0.9");
	assert_string_equal(sn.ns_node_ip, "10.231.0.10");
	assert_string_equal(sn.ns_netmask, "255.255.255.248");
	assert_string_equal(sn.ns_bridge, "iscbr1");
	assert_int_equal(netpool_subnet(&p, 8192, &sn), -ERANGE);
	assert_int_equal(netpool_parse("10.231.0.0/30", &p, &e), -EINVAL);
	assert_string_equal(e.de_msg, "subnet pool \"10.231.0.0/30\": prefix must be 8..29");
	err_clear(&e);
	assert_int_equal(netpool_parse("10.231.0.1/24", &p, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "subnet pool \"10.231.0.1/24\": address has host bits set for /24");
	assert_int_equal(netpool_parse("10.231.0.0", &p, NULL), -EINVAL);
	assert_int_equal(netpool_parse("10.231.300.0/24", &p, NULL), -EINVAL);
	assert_int_equal(netpool_parse("10.231.0.0/28", &p, NULL), 0);
	bool full[2] = { true, true };
	err_clear(&e);
	assert_int_equal(netpool_alloc(&p, full, 2, &idx, &e), -ENOSPC);
	assert_string_equal(e.de_msg, "subnet pool is full: all 2 node subnets are in use");
}

/* ---- config ---- */

static void check_config_error(const char *text, const char *msg)
{
	struct dock_config c;
	struct dock_err e = { 0 };

	config_defaults(&c);
	assert_int_not_equal(config_parse("dockd.conf", text, &c, &e), 0);
	assert_string_equal(e.de_msg, msg);
}

static void test_config(void **st)
{
	struct dock_config c;
	(void)st;
	config_defaults(&c);
	assert_int_equal(config_parse("t",
				      "# comment\n\nuri = qemu:///session\n accel=tcg \n"
				      "subnet_pool = 10.99.0.0/24\nstate_dir=/tmp/x\n"
				      "max_memory_mib = 2048\nlog_level = debug\n",
				      &c, NULL),
			 0);
	assert_string_equal(c.dc_uri, "qemu:///session");
	assert_int_equal(c.dc_accel, ACCEL_TCG);
	assert_string_equal(c.dc_state_dir, "/tmp/x");
	assert_int_equal(c.dc_max_memory_mib, 2048);
	assert_int_equal(c.dc_pool.np_prefix, 24);
	assert_int_equal(c.dc_log_level, LOG_LVL_DEBUG);
	check_config_error("uri = x\nfoo = 1\n", "dockd.conf:2: unknown key \"foo\"");
	check_config_error("accel = fast\n",
			   "dockd.conf:1: accel must be auto, kvm or tcg, not \"fast\"");
	check_config_error("state_dir = relative\n",
			   "dockd.conf:1: state_dir must be an absolute path");
	check_config_error("max_vcpus = 0\n", "dockd.conf:1: max_vcpus must be a number in 1..256");
	check_config_error("max_vcpus = 4x\n",
			   "dockd.conf:1: max_vcpus must be a number in 1..256");
	check_config_error("\n\njust words\n", "dockd.conf:3: expected key = value");
	check_config_error("subnet_pool = 10.0.0.0/31\n",
			   "dockd.conf:1: subnet pool \"10.0.0.0/31\": prefix must be 8..29");
	assert_int_equal(
		config_parse("t", "egress_private = 198.18.0.0/15 , 192.0.2.0/24\n", &c, NULL), 0);
	assert_int_equal(c.dc_n_egress_private, 2);
	assert_string_equal(c.dc_egress_private[0], "198.18.0.0/15");
	assert_string_equal(c.dc_egress_private[1], "192.0.2.0/24");
	check_config_error("egress_private = 198.18.0.1/15\n",
			   "dockd.conf:1: egress_private: \"198.18.0.1/...\" is not a CIDR "
			   "a.b.c.d/p with host bits zero (at most 32)");
	check_config_error("egress_private = 10.0.0.0\n",
			   "dockd.conf:1: egress_private: \"10.0.0.0\" is not a CIDR a.b.c.d/p "
			   "with host bits zero (at most 32)");
	check_config_error(
		"log_level = loud\n",
		"dockd.conf:1: log_level must be error, warning, info or debug, not \"loud\""); /* UEFI firmware: Debian's paths by default, checked as files. */
	config_defaults(&c);
	assert_string_equal(c.dc_ovmf_code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(c.dc_ovmf_vars, "/usr/share/OVMF/OVMF_VARS_4M.fd");
	check_config_error("ovmf_code = OVMF.fd\n",
			   "dockd.conf:1: ovmf_code must be an absolute path");
	assert_int_equal(
		config_parse("t", "ovmf_code = /nonexistent/CODE.fd\novmf_vars = /\n", &c, NULL),
		0);
	struct dock_err e = { 0 };
	assert_int_equal(config_check_files(&c, &e), -ENOENT);
	assert_string_equal(e.de_msg, "ovmf_code /nonexistent/CODE.fd: No such file or directory");
	err_clear(&e);
	snprintf(c.dc_ovmf_code, sizeof(c.dc_ovmf_code), "%s/templates/domain.xml", src_dir);
	assert_int_equal(config_check_files(&c, &e), -EINVAL);
	assert_string_equal(e.de_msg, "ovmf_vars /: not a regular file");
}

/* publish_ports: LOW-HIGH within 1-65535, LOW <= HIGH; default 1024-65535. */
static void test_publish_ports(void **st)
{
	static const char *const bad[] = { "",      "1024",    "-1024",       "0-100",
					   "80-70", "1-65536", "1024-65535x", "1024 - 2048",
					   "+1-2",  "1--2",    "000001-2",    "99999999999-1" };
	struct dock_config c;
	uint16_t lo = 7, hi = 7;
	(void)st;
	config_defaults(&c);
	assert_int_equal(c.dc_publish_lo, 1024);
	assert_int_equal(c.dc_publish_hi, 65535);
	assert_int_equal(config_parse("t", "publish_ports = 8000-8099\n", &c, NULL), 0);
	assert_int_equal(c.dc_publish_lo, 8000);
	assert_int_equal(c.dc_publish_hi, 8099);
	assert_int_equal(config_port_range("1-65535", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 65535);
	assert_int_equal(config_port_range("443-443", &lo, &hi), 0);
	assert_int_equal(lo, 443);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lo = hi = 7;
		if (config_port_range(bad[i], &lo, &hi) != -EINVAL)
			fail_msg("publish_ports \"%s\" accepted", bad[i]);
		assert_int_equal(lo, 7); /* untouched on failure */
	}
	check_config_error("publish_ports = 2000-1000\n",
			   "dockd.conf:1: publish_ports must be LOW-HIGH within 1-65535, "
			   "not \"2000-1000\"");
}

static char *slurp(const char *path);
#define PC(text, v6) portcheck_parse(text, strlen(text), v6, false, 22, addr, sizeof(addr))

/* /proc/net tables: listeners found by port, address and state. */
static void check_listen(const char *file, bool v6, bool udp, uint16_t port, int want,
			 const char *addr)
{
	char path[512], got[PORTCHECK_ADDR_MAX] = "", *text;

	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/netlisten/%s", src_dir, file);
	text = slurp(path);
	assert_non_null(text);
	assert_int_equal(portcheck_parse(text, strlen(text), v6, udp, port, got, sizeof(got)),
			 want);
	if (addr != NULL)
		assert_string_equal(got, addr);
	free(text);
}

static void test_portcheck(void **st)
{
	char addr[PORTCHECK_ADDR_MAX], big[PORTCHECK_MAX_LINE + 64];
	(void)st;
	check_listen("tcp", false, false, 22, 1, "0.0.0.0:22");
	check_listen("tcp", false, false, 8080, 1, "127.0.0.1:8080");
	check_listen("tcp", false, false, 50000, 0, NULL); /* established, not listening */
	check_listen("tcp", false, false, 443, 0, NULL);
	check_listen("tcp6", true, false, 22, 1, "[::]:22");
	check_listen("tcp6", true, false, 9000, 1, "[::1]:9000");
	check_listen("udp", false, true, 53, 1, "0.0.0.0:53");
	check_listen("udp", false, true, 54321, 0, NULL); /* a connected client socket */
	/* The header alone, an empty file: nothing listens. */
	assert_int_equal(PC("  sl local\n", false), 0);
	assert_int_equal(PC("", false), 0);
	/* Malformed lines and an over-long line are errors, not "free". */
	assert_int_equal(PC("h\n 0: 0000000:0016 00000000:0000 0A\n", false), -EINVAL);
	assert_int_equal(PC("h\n 0: 00000000:0016\n", false), -EINVAL);
	assert_int_equal(PC("h\n 0: 00000000:0016 00000000:0000 0A\n", true), -EINVAL);
	assert_int_equal(PC("h\n 0: 00000000:0016 00000000:0000 0A\n", false), 1);
	assert_string_equal(addr, "0.0.0.0:22");
	memset(big, 'x', sizeof(big));
	big[0] = 'h';
	big[1] = '\n';
	assert_int_equal(portcheck_parse(big, sizeof(big), false, false, 22, addr, 64), -EINVAL);
}

/* ---- jsonin ---- */

static void test_jsonin(void **st)
{
	static const struct jsonin_limits lim = { 64, 3, 4 };
	struct json_object *o = NULL;
	struct dock_err e = { 0 };
	char s[8];
	uint64_t u;
	(void)st;
	assert_int_equal(jsonin_parse("x", "{\"a\":\"abc\",\"n\":5}", 17, &lim, &o, NULL), 0);
	assert_int_equal(jsonin_str(o, "x", "a", true, s, sizeof(s), NULL), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(jsonin_str(o, "x", "a", true, s, 3, &e), -ENAMETOOLONG);
	err_clear(&e);
	assert_int_equal(jsonin_u64(o, "x", "n", true, 1, 4, &u, &e), -ERANGE);
	assert_string_equal(e.de_msg, "x: \"n\" must be between 1 and 4");
	assert_int_equal(jsonin_str(o, "x", "zz", false, s, sizeof(s), NULL), -ENOENT);
	json_object_put(o);
	err_clear(&e);
	assert_int_equal(jsonin_parse("x", "{\"a\":{\"b\":{\"c\":{}}}}", 20, &lim, &o, &e),
			 -EINVAL);
	err_clear(&e);
	assert_int_equal(jsonin_parse("x", "{\"a\":[1,2,3,4,5]}", 17, &lim, &o, &e), -E2BIG);
	err_clear(&e);
	assert_int_equal(jsonin_parse("x", "[1]", 3, &lim, &o, &e), -EINVAL);
	assert_string_equal(e.de_msg, "x: expected a JSON object");
	err_clear(&e);
	assert_int_equal(jsonin_parse("x", "{} {}", 5, &lim, &o, &e), -EINVAL);
	err_clear(&e);
	assert_int_equal(jsonin_parse("x", "{\"a\":\"\xff\"}", 9, &lim, &o, &e), -EINVAL);
	err_clear(&e);
	char big[100];
	memset(big, ' ', sizeof(big));
	assert_int_equal(jsonin_parse("x", big, sizeof(big), &lim, &o, &e), -E2BIG);
}

/* ---- spec ---- */

static void check_spec_error(const char *body, const char *msg)
{
	struct dock_config c;
	struct node_spec sp;
	struct dock_err e = { 0 };

	config_defaults(&c);
	assert_int_not_equal(spec_parse(body, strlen(body), &c, &sp, &e), 0);
	assert_string_equal(e.de_msg, msg);
	assert_int_equal(e.de_status, 400);
}

static void test_spec(void **st)
{
	struct dock_config c;
	struct node_spec sp;
	const char *ok = "{\"name\":\"web1\",\"image\":\"micro\",\"memory_mib\":512,\"vcpus\":2,"
			 "\"scratch_mib\":128,\"start\":false}";
	(void)st;
	config_defaults(&c);
	assert_int_equal(spec_parse(ok, strlen(ok), &c, &sp, NULL), 0);
	assert_string_equal(sp.ns_name, "web1");
	assert_int_equal(sp.ns_memory_mib, 512);
	assert_int_equal(sp.ns_vcpus, 2);
	assert_int_equal(sp.ns_scratch_mib, 128);
	assert_false(sp.ns_start);
	assert_false(sp.ns_memory_default);
	assert_false(sp.ns_scratch_default);
	const char *bare = "{\"name\":\"w\",\"image\":\"m\"}";
	assert_int_equal(spec_parse(bare, strlen(bare), &c, &sp, NULL), 0);
	assert_true(sp.ns_memory_default); /* the image's recommendation may apply */
	assert_true(sp.ns_scratch_default);
	assert_int_equal(sp.ns_memory_mib, 256);
	check_spec_error("{\"name\":\"Web\",\"image\":\"micro\"}",
			 "node name \"Web\" must start with a lower-case letter");
	check_spec_error("{\"image\":\"micro\"}", "create request: missing \"name\"");
	check_spec_error("{\"name\":\"abcdefghijabcdefghijabcdefghijxy\",\"image\":\"micro\"}",
			 "node name is longer than 31 characters");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"memory_mib\":99999}",
			 "memory must be between 64 and 16384 MiB (the dock's limit)");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"vcpus\":0}",
			 "vcpus must be between 1 and 8 (the dock's limit)");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"scratch_mib\":1}",
			 "scratch size must be between 16 and 65536 MiB (the dock's limit)");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"memroy_mib\":1}",
			 "create request: unknown field \"memroy_mib\"");
	check_spec_error("{\"name\":\"w\",\"image\":\"../etc\"}",
			 "image name \"../etc\" must start with a lower-case letter");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"start\":1}",
			 "create request: \"start\" must be true or false");
	check_spec_error("{\"name\":\"w\",\"image\":\"micro\",\"on_fail\":\"panic\"}",
			 "create request: on_fail must be alert, quarantine, cleanse or destroy");
}

/* The flag bodies of snapshot and quarantine: absent is off, typos refused. */
static void check_flags(const char *body, int want, const char *msg, bool pause, bool snap)
{
	bool p = true, sn = true;
	const struct spec_flag f[] = { { "pause", &p }, { "snapshot", &sn } };
	struct dock_err e = { 0 };

	assert_int_equal(spec_flags_parse("quarantine request", body, strlen(body), f, 2, &e),
			 want);
	if (msg != NULL) {
		assert_string_equal(e.de_msg, msg);
		assert_int_equal(e.de_status, 400);
		return;
	}
	assert_int_equal(p, pause);
	assert_int_equal(sn, snap);
}

static void test_spec_flags(void **st)
{
	(void)st;
	check_flags("", 0, NULL, false, false);
	check_flags(" \n", 0, NULL, false, false);
	check_flags("{}", 0, NULL, false, false);
	check_flags("{\"pause\":true}", 0, NULL, true, false);
	check_flags("{\"pause\":false,\"snapshot\":true}", 0, NULL, false, true);
	check_flags("{\"pasue\":true}", -EINVAL, "quarantine request: unknown field \"pasue\"", 0,
		    0);
	check_flags("{\"pause\":1}", -EINVAL, "quarantine request: \"pause\" must be true or false",
		    0, 0);
	check_flags("[true]", -EINVAL, "quarantine request: expected a JSON object", 0, 0);
}

/* ---- render ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void check_render(const char *tmpl, const struct render_var *v, size_t n,
			 const char *expected)
{
	char path[512], *out = NULL, *want;
	struct dock_err e = { 0 };

	snprintf(path, sizeof(path), "%s/templates/%s", src_dir, tmpl);
	if (render_file(path, v, n, &out, &e) != 0)
		fail_msg("render %s: %s", tmpl, e.de_msg);
	snprintf(path, sizeof(path), "%s/tests/unit/expected/%s", src_dir, expected);
	if (getenv("ISC_REGEN") != NULL) {
		FILE *f = fopen(path, "w");
		fputs(out, f);
		fclose(f);
	}
	want = slurp(path);
	assert_non_null(want);
	assert_string_equal(out, want);
	free(out);
	free(want);
}

static const struct render_var domain_vars[] = {
	{ "domain_type", "qemu" },
	{ "domain", "isc-web1" },
	{ "uuid", "" },
	{ "name", "web1" },
	{ "image", "micro" },
	{ "memory_mib", "256" },
	{ "vcpus", "1" },
	{ "kernel", "/var/lib/isc/images/micro/vmlinuz" },
	{ "initrd", "/var/lib/isc/images/micro/initrd.img" },
	{ "cmdline", "console=ttyS0 quiet" },
	{ "loader", "" },
	{ "nvram", "" },
	{ "nvram_template", "" },
	{ "base_path", "/var/lib/isc/images/micro/base.qcow2" },
	{ "ephemeral_path", "/var/lib/isc/volumes/isc-web1.img" },
	{ "secret_uuid", "0b8c7f0e-35a4-4c6e-9d0e-1d3b6c1a2f10" },
	{ "mac", "52:54:00:12:34:56" },
	{ "network", "isc-web1" },
	{ "agent_socket", "/run/isc/agents/web1.sock" },
	{ "console_log", "/run/isc/console/web1.log" },
	{ "vmm_label", "+90000:+64055" },
	/* no resource limits beyond vCPUs and memory (resctl.h) */
	{ "cputune", "" },
	{ "cpu_shares", "" },
	{ "cpu_period", "" },
	{ "cpu_quota", "" },
	{ "iotune", "" },
	{ "disk_read_bytes", "" },
	{ "disk_write_bytes", "" },
	{ "disk_read_iops", "" },
	{ "disk_write_iops", "" },
	{ "bandwidth", "" },
	{ "net_inbound", "" },
	{ "net_outbound", "" },
};

/* An efi image's node: firmware and a per-node variable store, no kernel. */
static const struct render_var domain_efi_vars[] = {
	{ "domain_type", "qemu" },
	{ "domain", "isc-web2" },
	{ "uuid", "6c1d1b0e-1f6a-4f55-8a51-0d2b3c4d5e6f" },
	{ "name", "web2" },
	{ "image", "debian-web" },
	{ "memory_mib", "512" },
	{ "vcpus", "1" },
	{ "kernel", "" },
	{ "initrd", "" },
	{ "cmdline", "" },
	{ "loader", "/usr/share/OVMF/OVMF_CODE_4M.fd" },
	{ "nvram", "/var/lib/isc/nvram/web2_VARS.fd" },
	{ "nvram_template", "/usr/share/OVMF/OVMF_VARS_4M.fd" },
	{ "base_path", "/var/lib/isc/images/debian-web/base.qcow2" },
	{ "ephemeral_path", "/var/lib/isc/volumes/isc-web2.img" },
	{ "secret_uuid", "0b8c7f0e-35a4-4c6e-9d0e-1d3b6c1a2f11" },
	{ "mac", "52:54:00:12:34:57" },
	{ "network", "isc-web2" },
	{ "agent_socket", "/run/isc/agents/web2.sock" },
	{ "console_log", "/run/isc/console/web2.log" },
	{ "vmm_label", "" }, /* an older dock's node, before its next start */
	/* no resource limits beyond vCPUs and memory (resctl.h) */
	{ "cputune", "" },
	{ "cpu_shares", "" },
	{ "cpu_period", "" },
	{ "cpu_quota", "" },
	{ "iotune", "" },
	{ "disk_read_bytes", "" },
	{ "disk_write_bytes", "" },
	{ "disk_read_iops", "" },
	{ "disk_write_iops", "" },
	{ "bandwidth", "" },
	{ "net_inbound", "" },
	{ "net_outbound", "" },
};

/* Validate a rendered domain against libvirt's own RelaxNG schema, when
 * libvirt's schemas are installed (libvirt-daemon ships them). */
#define LIBVIRT_DOMAIN_RNG "/usr/share/libvirt/schemas/domain.rng"
static void check_domain_schema(const char *xml)
{
	xmlRelaxNGParserCtxtPtr pc;
	xmlRelaxNGValidCtxtPtr vc;
	xmlRelaxNGPtr rng;
	xmlDocPtr doc;

	if (access(LIBVIRT_DOMAIN_RNG, R_OK) != 0) {
		print_message("# %s absent: schema check skipped\n", LIBVIRT_DOMAIN_RNG);
		return;
	}
	pc = xmlRelaxNGNewParserCtxt(LIBVIRT_DOMAIN_RNG);
	rng = xmlRelaxNGParse(pc);
	assert_non_null(rng);
	vc = xmlRelaxNGNewValidCtxt(rng);
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	assert_int_equal(xmlRelaxNGValidateDoc(vc, doc), 0);
	xmlFreeDoc(doc);
	xmlRelaxNGFreeValidCtxt(vc);
	xmlRelaxNGFree(rng);
	xmlRelaxNGFreeParserCtxt(pc);
}

static void render_domain(const struct render_var *v, size_t n, char **out)
{
	char path[512];
	struct dock_err e = { 0 };

	snprintf(path, sizeof(path), "%s/templates/domain.xml", src_dir);
	if (render_file(path, v, n, out, &e) != 0)
		fail_msg("render domain.xml: %s", e.de_msg);
}

static void test_render_efi(void **st)
{
	const size_t n = sizeof(domain_efi_vars) / sizeof(domain_efi_vars[0]);
	struct dock_facts df = { 0 };
	char *xml = NULL;
	(void)st;
	check_render("domain.xml", domain_efi_vars, n, "domain-efi.xml");
	render_domain(domain_efi_vars, n, &xml);
	/* UEFI: firmware read-only, variables per node, disk boot, no kernel. */
	assert_non_null(strstr(xml,
			       "<loader readonly=\"yes\" type=\"pflash\">"
			       "/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"));
	assert_non_null(strstr(xml,
			       "<nvram template=\"/usr/share/OVMF/OVMF_VARS_4M.fd\">"
			       "/var/lib/isc/nvram/web2_VARS.fd</nvram>"));
	assert_non_null(strstr(xml, "<boot dev=\"hd\"/>"));
	assert_null(strstr(xml, "<kernel"));
	assert_null(strstr(xml, "<initrd"));
	assert_null(strstr(xml, "<cmdline"));
	assert_null(strstr(xml, "isc-if"));
	check_domain_schema(xml);
	/* The dock-side judgement reads the same XML: base read-only on vda,
	 * the ephemeral disk LUKS with the node's secret. */
	checks_dock_from_xml(xml, NULL, NULL, "/var/lib/isc/images/debian-web/base.qcow2",
			     "/var/lib/isc/volumes/isc-web2.img",
			     "0b8c7f0e-35a4-4c6e-9d0e-1d3b6c1a2f11", "isc-web2", &df);
	assert_int_equal(df.df_base_readonly, 1);
	assert_int_equal(df.df_eph_luks, 1);
	assert_int_equal(df.df_net_own, 1);
	free(xml);
	/* The kernel-boot rendering stays what it was, and valid too. */
	render_domain(domain_vars, sizeof(domain_vars) / sizeof(domain_vars[0]), &xml);
	assert_null(strstr(xml, "<loader"));
	assert_null(strstr(xml, "<nvram"));
	assert_null(strstr(xml, "<boot"));
	check_domain_schema(xml);
	free(xml);
}

/* Resource limits (resctl.h): rendered into <cputune> and the ephemeral
 * disk's <iotune>, valid for libvirt, read back from that XML as the
 * `resources` row reads the live XML, judged; the network's are the
 * firewall's (no <bandwidth>: libvirt's tc needs sch_sfq and act_police),
 * read back from it in bytes/s. */
static void test_render_limits(void **st)
{
	const size_t n = sizeof(domain_vars) / sizeof(domain_vars[0]), nb = n - RESCTL_XML_VARS;
	struct render_var v[sizeof(domain_vars) / sizeof(domain_vars[0])];
	struct resctl rc = { .rc_cpu_quota_us = 25000, .rc_cpu_weight = 50 };
	struct resctl_live rl = { 0 };
	struct resctl_xml rx;
	char *xml = NULL, ev[256];
	(void)st;
	rc.rc_io[RESCTL_DISK_WRITE_MBPS] = 5;
	rc.rc_io[RESCTL_DISK_READ_IOPS] = 200;
	rc.rc_io[RESCTL_NET_IN_MBPS] = 20;
	rc.rc_io[RESCTL_NET_OUT_MBPS] = 10;
	memcpy(v, domain_vars, sizeof(v));
	resctl_xml_vars(&rc, &rx);
	for (size_t i = 0; i < RESCTL_XML_VARS; i++) {
		assert_string_equal(v[nb + i].rv_key, rx.rx_key[i]);
		v[nb + i].rv_value = rx.rx_val[i];
	}
	render_domain(v, n, &xml);
	assert_non_null(strstr(xml, "<shares>50</shares>"));
	assert_non_null(strstr(xml, "<global_period>100000</global_period>"));
	assert_non_null(strstr(xml, "<global_quota>25000</global_quota>"));
	assert_non_null(strstr(xml, "<write_bytes_sec>5000000</write_bytes_sec>"));
	assert_non_null(strstr(xml, "<read_iops_sec>200</read_iops_sec>"));
	assert_null(strstr(xml, "<bandwidth"));
	assert_int_equal(resctl_net_bps(&rc, RESCTL_NET_IN_MBPS), 2500000);
	assert_int_equal(resctl_net_bps(&rc, RESCTL_NET_OUT_MBPS), 1250000);
	assert_null(strstr(xml, "read_bytes_sec"));
	assert_null(strstr(xml, "write_iops_sec"));
	assert_null(strstr(xml, "isc-if"));
	check_domain_schema(xml);
	resctl_from_xml(xml, "/var/lib/isc/volumes/isc-web1.img", &rl);
	assert_true(rl.rl_xml);
	rl.rl_x_io[RESCTL_NET_IN_MBPS] = 2500000; /* the firewall's read-back */
	rl.rl_x_io[RESCTL_NET_OUT_MBPS] = 1250000;
	rl.rl_cg = 1;
	rl.rl_cg_quota_us = 25000;
	rl.rl_cg_period_us = 100000;
	rl.rl_cg_weight = 50;
	rl.rl_cg_mem_bytes = 768 << 20;
	assert_int_equal(resctl_judge(&rc, 768 << 20, &rl, ev, sizeof(ev)), 0);
	assert_string_equal(ev,
			    "cpus 0.25; cpu_weight 50; disk.write_mbps 5; disk.read_iops 200; "
			    "net.in_mbps 20; net.out_mbps 10");
	/* Changed behind the dock's back: each difference named. */
	rl.rl_x_io[RESCTL_DISK_WRITE_MBPS] = 10000000;
	rl.rl_x_io[RESCTL_NET_OUT_MBPS] = 2500000;
	rl.rl_cg_quota_us = 50000;
	rl.rl_cg_mem_bytes = UINT64_MAX;
	assert_int_equal(resctl_judge(&rc, 768 << 20, &rl, ev, sizeof(ev)), 1);
	assert_string_equal(ev,
			    "differs from the record: cpus 0.25: cgroup quota 50000/100000 us; "
			    "disk.write_mbps 5: XML 10000000 B/s; net.out_mbps 10: firewall "
			    "2500000 B/s; memory: no cgroup limit (768 MiB)");
	/* The same XML without the limits' elements: each named as absent. */
	free(xml);
	render_domain(domain_vars, n, &xml);
	resctl_from_xml(xml, "/var/lib/isc/volumes/isc-web1.img", &rl);
	rl.rl_x_io[RESCTL_NET_IN_MBPS] = rl.rl_x_io[RESCTL_NET_OUT_MBPS] = 0;
	rl.rl_cg_quota_us = 25000;
	rl.rl_cg_mem_bytes = 768 << 20;
	assert_int_equal(resctl_judge(&rc, 768 << 20, &rl, ev, sizeof(ev)), 1);
	assert_string_equal(
		ev,
		"differs from the record: cpus 0.25: XML quota 0/0 us; cpu_weight "
		"50: XML shares 0; disk.write_mbps 5: XML 0 B/s; disk.read_iops 200: "
		"XML 0 IOPS; net.in_mbps 20: firewall 0 B/s; net.out_mbps 10: firewall 0 B/s");
	/* A cgroup not read: WARN (2) without CPU limits, FAIL (1) with them. */
	rl.rl_cg = 0;
	snprintf(rl.rl_cg_note, sizeof(rl.rl_cg_note), "no live QEMU process");
	memset(&rc, 0, sizeof(rc));
	assert_int_equal(resctl_judge(&rc, 768 << 20, &rl, ev, sizeof(ev)), 2);
	assert_string_equal(ev, "cgroup not read: no live QEMU process");
	rc.rc_cpu_weight = 50;
	rl.rl_x_shares = 50;
	assert_int_equal(resctl_judge(&rc, 768 << 20, &rl, ev, sizeof(ev)), 1);
	free(xml);
}

static void test_render(void **st)
{
	static const struct render_var net[] = {
		{ "network", "isc-web1" },   { "bridge", "iscbr1" },
		{ "gateway", "10.231.0.9" }, { "netmask", "255.255.255.248" },
		{ "ip", "10.231.0.10" },     { "mac", "52:54:00:12:34:56" },
		{ "name", "web1" },          { "dns_off", "" },
		{ "dns_names", "" },         { "dns_options", "" },
	};
	/* egress deny: the gateway resolves nothing (no DNS leaves that way). */
	static const struct render_var deny[] = {
		{ "network", "isc-web1" },   { "bridge", "iscbr1" },
		{ "gateway", "10.231.0.9" }, { "netmask", "255.255.255.248" },
		{ "ip", "10.231.0.10" },     { "mac", "52:54:00:12:34:56" },
		{ "name", "web1" },          { "dns_off", "yes" },
		{ "dns_names", "" },         { "dns_options", "yes" },
	};
	/* ... but its allow entries by name, one option per line */
	static const struct render_var names[] = {
		{ "network", "isc-web1" },
		{ "bridge", "iscbr1" },
		{ "gateway", "10.231.0.9" },
		{ "netmask", "255.255.255.248" },
		{ "ip", "10.231.0.10" },
		{ "mac", "52:54:00:12:34:56" },
		{ "name", "web1" },
		{ "dns_off", "yes" },
		{ "dns_names",
		  "server=/a.test/192.0.2.53\nnftset=/a.test/4#inet#isc#names_iscbr1_0\n"
		  "cache-size=0\n" },
		{ "dns_options", "yes" },
	};
	static const struct render_var sec[] = {
		{ "name", "web1" }, { "volume", "/var/lib/isc/volumes/isc-web1.img" }
	};
	static const struct render_var vol[] = { { "volume_name", "isc-web1.img" },
						 { "capacity", "270532608" } };
	(void)st;
	check_render("domain.xml", domain_vars, sizeof(domain_vars) / sizeof(domain_vars[0]),
		     "domain-kernel.xml");
	check_render("network.xml", net, sizeof(net) / sizeof(net[0]), "network.xml");
	check_render("network.xml", deny, sizeof(deny) / sizeof(deny[0]), "network-deny.xml");
	check_render("network.xml", names, sizeof(names) / sizeof(names[0]), "network-names.xml");
	check_render("secret.xml", sec, sizeof(sec) / sizeof(sec[0]), "secret.xml");
	check_render("volume.xml", vol, sizeof(vol) / sizeof(vol[0]), "volume.xml");
}

static void test_render_escaping(void **st)
{
	const char *t = "<a x='{{v}}' y='{{u}}'><b isc-if='u'>{{v}}</b><c isc-if='v'>{{v}}</c></a>";
	const struct render_var v[] = { { "v", "<&'\">" }, { "u", "" } };
	struct dock_err e = { 0 };
	char *out = NULL;
	(void)st;
	assert_int_equal(render_buf("t", t, strlen(t), v, 2, &out, NULL), 0);
	assert_string_equal(out,
			    "<a x=\"&lt;&amp;'&quot;&gt;\" y=\"\"><c>&lt;&amp;'\"&gt;</c></a>\n");
	free(out);
	assert_int_equal(render_buf("t", "<a>{{nope}}</a>", 15, v, 2, &out, &e), -EINVAL);
	assert_string_equal(e.de_msg, "template t: unknown variable {{nope}}");
	err_clear(&e);
	const char *dtd = "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>";
	assert_int_equal(render_buf("t", dtd, strlen(dtd), v, 2, &out, &e), -EINVAL);
	err_clear(&e);
	assert_int_equal(render_buf("t", "<a>", 3, v, 2, &out, &e), -EINVAL);
	err_clear(&e);
	/* isc-each: once per line, escaped; none for an empty value */
	const char *each = "<a><b isc-each='w' x='{{w}}'/><c isc-each='u'>{{u}}</c></a>";
	const struct render_var w[] = { { "w", "1<\n\n2'\n" }, { "u", "" } };
	assert_int_equal(render_buf("t", each, strlen(each), w, 2, &out, &e), 0);
	assert_string_equal(out, "<a><b x=\"1&lt;\"/><b x=\"2'\"/></a>\n");
	free(out);
	assert_int_equal(render_buf("t", "<a><b isc-each='no'/></a>", 25, w, 2, &out, &e), -EINVAL);
	assert_string_equal(e.de_msg, "template t: unknown variable in isc-each=\"no\"");
}

/* ---- state ---- */

static void test_state(void **st)
{
	char dir[] = "/tmp/isc-unit-XXXXXX", path[256], **names = NULL;
	struct node_rec r = { 0 }, back;
	size_t n = 0;
	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(r.nr_name, sizeof(r.nr_name), "web1");
	snprintf(r.nr_image, sizeof(r.nr_image), "micro");
	snprintf(r.nr_mac, sizeof(r.nr_mac), "52:54:00:00:00:01");
	snprintf(r.nr_volume, sizeof(r.nr_volume), "/v/isc-web1.img");
	snprintf(r.nr_reason, sizeof(r.nr_reason), "a \"quoted\" reason\n");
	r.nr_version = STATE_VERSION; /* as read back */
	r.nr_state = NODE_CLEANSING;
	r.nr_phase = NODE_PHASE_REKEY;
	r.nr_on_fail = NODE_ACT_QUARANTINE;
	snprintf(r.nr_failing[0], sizeof(r.nr_failing[0]), "swap");
	snprintf(r.nr_failing[1], sizeof(r.nr_failing[1]), "nx-aslr");
	r.nr_n_failing = 2;
	r.nr_memory_mib = 256;
	r.nr_vcpus = 2;
	r.nr_scratch_mib = 300;
	r.nr_subnet = 7;
	r.nr_created = 1700000000;
	r.nr_have_hello = true;
	r.nr_hello.ah_protocol = 1;
	snprintf(r.nr_hello.ah_boot_id, sizeof(r.nr_hello.ah_boot_id), "b00t");
	/* Saved without an id (an older dock's record): read back with the one
	 * derived from name and creation time, the same at every load. */
	assert_int_equal(state_save(dir, &r, NULL), 0);
	assert_int_equal(state_load(dir, "web1", &back, NULL), 0);
	state_node_id(r.nr_name, r.nr_created, r.nr_id);
	assert_int_equal(strlen(r.nr_id), 32);
	assert_memory_equal(&r, &back, sizeof(r));
	assert_int_equal(back.nr_on_audit_gap, NODE_ACT_ALERT);
	snprintf(r.nr_id, sizeof(r.nr_id), "0123456789abcdef0123456789abcdef");
	r.nr_on_audit_gap = NODE_ACT_QUARANTINE;
	assert_int_equal(state_save(dir, &r, NULL), 0);
	assert_int_equal(state_load(dir, "web1", &back, NULL), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	assert_int_equal(state_list(dir, &names, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "web1");
	free(names[0]);
	free(names);
	assert_int_equal(state_load(dir, "nope", &back, NULL), -ENOENT);
	assert_int_equal(state_remove(dir, "web1", NULL), 0);
	assert_int_equal(state_remove(dir, "web1", NULL), 0);
	assert_int_equal(state_load(dir, "web1", &back, NULL), -ENOENT);
	rmdir(path);
	rmdir(dir);
	assert_int_equal(state_from_json("{\"name\":\"x\"}", 12, &back, NULL), -EINVAL);
	{
		struct dock_err e = { 0 };
		const char *bad =
			"{\"name\":\"x\",\"state\":\"cleansing\",\"phase\":\"nap\",\"reason\":\"\","
			"\"image\":\"micro\",\"memory_mib\":1,\"vcpus\":1,\"scratch_mib\":1,"
			"\"subnet\":0,\"mac\":\"\",\"secret_uuid\":\"\",\"volume\":\"\",\"created\":0}";
		assert_int_equal(state_from_json(bad, strlen(bad), &back, &e), -EINVAL);
		assert_string_equal(e.de_msg, "node record: unknown phase \"nap\"");
	}
}

/* ---- agent protocol ---- */

static void test_agentproto(void **st)
{
	struct agent_msg m;
	struct dock_err e = { 0 };
	const char *hb = "{\"type\":\"heartbeat\",\"seq\":7,\"uptime\":3}";
	const char *h =
		"{\"type\":\"hello\",\"protocol\":1,\"agent\":\"0.1.0\",\"boot_id\":\"abc\","
		"\"kernel\":\"6.1.0\",\"hostname\":\"web1\"}";
	(void)st;
	assert_int_equal(agentproto_parse(h, strlen(h), &m, NULL), 0);
	assert_int_equal(m.am_type, AGENT_MSG_HELLO);
	assert_string_equal(m.am_hello.ah_agent, "0.1.0");
	assert_string_equal(m.am_hello.ah_hostname, "web1");
	assert_int_equal(agentproto_parse(hb, strlen(hb), &m, NULL), 0);
	assert_int_equal(m.am_type, AGENT_MSG_HEARTBEAT);
	assert_int_equal(m.am_seq, 7);
	assert_int_equal(agentproto_parse("{\"type\":\"shutdown_ack\"}", 23, &m, NULL), 0);
	assert_int_equal(m.am_type, AGENT_MSG_SHUTDOWN_ACK);
	assert_int_equal(
		agentproto_parse("{\"type\":\"shutdown_ack\",\"x\":[[[[[[1]]]]]]}", 41, &m, NULL),
		-EINVAL); /* bounded like every line */
	assert_int_equal(agentproto_parse("{\"type\":\"future\"}", 17, &m, NULL), 0);
	assert_int_equal(m.am_type, AGENT_MSG_OTHER);
	assert_int_equal(agentproto_parse("{\"type\":\"hello\"}", 16, &m, &e), -EINVAL);
	assert_string_equal(e.de_msg, "agent line: missing \"protocol\"");
	err_clear(&e);
	char longk[200];
	snprintf(longk, sizeof(longk),
		 "{\"type\":\"hello\",\"protocol\":1,\"agent\":\"%0100d\","
		 "\"boot_id\":\"x\",\"kernel\":\"k\"}",
		 1);
	assert_int_equal(agentproto_parse(longk, strlen(longk), &m, &e), -EINVAL);
	assert_string_equal(e.de_msg, "agent line: \"agent\" is longer than 31 bytes");
}

static unsigned lines_seen;
static char last_line[64];

static void on_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	lines_seen++;
	snprintf(last_line, sizeof(last_line), "%.*s", (int)len, line);
}

static void test_reader(void **st)
{
	struct agentproto_reader rd = { 0 };
	static char junk[AGENT_LINE_MAX * 3];
	(void)st;
	agentproto_feed(&rd, "ab", 2, on_line, NULL);
	assert_int_equal(lines_seen, 0);
	agentproto_feed(&rd, "c\nde", 4, on_line, NULL);
	assert_int_equal(lines_seen, 1);
	assert_string_equal(last_line, "abc");
	memset(junk, 'x', sizeof(junk));
	agentproto_feed(&rd, junk, sizeof(junk), on_line, NULL); /* over-long: dropped */
	agentproto_feed(&rd, junk, 10, on_line, NULL);
	agentproto_feed(&rd, "tail\nok\n", 8, on_line, NULL); /* resync at the newline */
	assert_int_equal(lines_seen, 2);
	assert_string_equal(last_line, "ok");
	assert_int_equal(rd.ar_overlong, 1);
}

/* ---- image manifest ---- */

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* image_verify remembers a verified file by identity, and a change of its
 * content (new mtime/ctime) makes it hash it again and refuse. */
static void test_image_verify_cache(void **st)
{
	char dir[] = "/tmp/isc-verify-XXXXXX", path[64];
	struct image im;
	struct dock_err e = { 0 };
	FILE *f;
	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/base.qcow2", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("abc", f);
	fclose(f);
	memset(&im, 0, sizeof(im));
	snprintf(im.im_name, sizeof(im.im_name), "t");
	snprintf(im.im_dir, sizeof(im.im_dir), "%s", dir);
	im.im_n_files = 1;
	snprintf(im.im_files[0].if_name, sizeof(im.im_files[0].if_name), "base.qcow2");
	/* sha256("abc") */
	snprintf(im.im_files[0].if_sha256, sizeof(im.im_files[0].if_sha256),
		 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(image_verify(&im, &e), 0);
	assert_int_equal(image_verify(&im, &e), 0); /* remembered */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("abd", f);
	fclose(f);
	assert_int_equal(image_verify(&im, &e), -EBADMSG);
	assert_non_null(strstr(e.de_msg, "digest mismatch"));
	unlink(path);
	rmdir(dir);
}

static void test_write(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define IMGRM_MANIFEST(buf, name)                                                                 \
	snprintf(buf, sizeof(buf),                                                                \
		 "{\"format\":1,\"name\":\"%s\",\"boot\":{\"mode\":\"efi\"},\"files\":["          \
		 "{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":3,\"sha256\":\"" SHA "\"}," \
		 "{\"name\":\"gone\",\"role\":\"other\",\"size\":1,\"sha256\":\"" SHA "\"}]}",    \
		 name)
/* image_remove: the manifest and the files it lists, then the directory;
 * a file it does not list is kept with the directory; a symbolic link for
 * the image's directory is removed, not what it points at; unknown: 404. */
static void test_image_remove(void **st)
{
	char top[] = "/tmp/isc-imgrm-XXXXXX", dir[128], other[128], link[128], path[256];
	char text[512];
	struct image_rm rm;
	struct dock_err e = { 0 };
	struct stat sb;
	(void)st;
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/img", top);
	assert_int_equal(mkdir(dir, 0755), 0);
	IMGRM_MANIFEST(text, "img");
	test_write(dir, "manifest.json", text);
	test_write(dir, "base.qcow2", "abc"); /* "gone" is listed, not there */
	assert_int_equal(image_remove(top, "img", &rm, &e), 0);
	assert_int_equal(rm.ir_files, 2);
	assert_true(rm.ir_bytes == 3 + strlen(text));
	assert_false(rm.ir_dir_kept);
	assert_false(rm.ir_link);
	assert_int_equal(stat(dir, &sb), -1);
	assert_int_equal(image_remove(top, "img", &rm, &e), -ENOENT);
	assert_int_equal(e.de_status, 404);
	err_clear(&e);
	/* someone else's file stays, and its directory with it */
	assert_int_equal(mkdir(dir, 0755), 0);
	test_write(dir, "manifest.json", text);
	test_write(dir, "base.qcow2", "abc");
	test_write(dir, "notes.txt", "mine");
	assert_int_equal(image_remove(top, "img", &rm, &e), 0);
	assert_true(rm.ir_dir_kept);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(stat(path, &sb), 0);
	unlink(path);
	rmdir(dir);
	/* a link: only the link goes */
	snprintf(other, sizeof(other), "%s/elsewhere", top);
	assert_int_equal(mkdir(other, 0755), 0);
	IMGRM_MANIFEST(text, "ln");
	test_write(other, "manifest.json", text);
	test_write(other, "base.qcow2", "abc");
	snprintf(link, sizeof(link), "%s/ln", top);
	assert_int_equal(symlink(other, link), 0);
	assert_int_equal(image_remove(top, "ln", &rm, &e), 0);
	assert_true(rm.ir_link);
	assert_int_equal(lstat(link, &sb), -1);
	snprintf(path, sizeof(path), "%s/base.qcow2", other);
	assert_int_equal(stat(path, &sb), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/manifest.json", other);
	unlink(path);
	rmdir(other);
	/* a bad name: refused, nothing looked at */
	assert_int_equal(image_remove(top, "../x", &rm, &e) < 0, 1);
	assert_int_equal(e.de_status, 400);
	rmdir(top);
}

/* A base disk must stand alone: a qcow2 header naming a backing file or an
 * external data file is refused, as is anything that is not qcow2. */
static void test_image_base_standalone(void **st)
{
	unsigned char h[104] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
	const char *why = NULL;
	(void)st;
	assert_int_equal(image_qcow2_standalone(h, sizeof(h), &why), 0);
	h[15] = 0x70; /* backing_file_offset = 0x70 */
	assert_int_equal(image_qcow2_standalone(h, sizeof(h), &why), -EINVAL);
	assert_string_equal(why, "names a backing file");
	h[15] = 0;
	h[79] = 4; /* incompatible feature: external data file */
	assert_int_equal(image_qcow2_standalone(h, sizeof(h), &why), -EINVAL);
	assert_string_equal(why, "names an external data file");
	h[7] = 2; /* version 2 has no feature bits */
	assert_int_equal(image_qcow2_standalone(h, sizeof(h), &why), 0);
	assert_int_equal(image_qcow2_standalone(h, 8, &why), -EINVAL);
	h[0] = 'R';
	assert_int_equal(image_qcow2_standalone(h, sizeof(h), &why), -EINVAL);
	assert_string_equal(why, "is not a qcow2 file");
}

static void test_manifest(void **st)
{
	struct image im;
	struct dock_err e = { 0 };
	const char *ok =
		"{\"format\":1,\"name\":\"micro\",\"built\":\"2026-11-23T00:00:00Z\","
		"\"boot\":{\"mode\":\"kernel\",\"kernel\":\"vmlinuz\",\"initrd\":\"initrd.img\","
		"\"cmdline\":\"console=ttyS0\"},\"files\":["
		"{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"},"
		"{\"name\":\"vmlinuz\",\"role\":\"kernel\",\"size\":1,\"sha256\":\"" SHA "\"},"
		"{\"name\":\"initrd.img\",\"role\":\"initrd\",\"size\":1,\"sha256\":\"" SHA "\"}]}";
	const char *evil =
		"{\"format\":1,\"name\":\"micro\",\"boot\":{\"mode\":\"efi\"},\"files\":["
		"{\"name\":\"../../etc/shadow\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA
		"\"}]}";
	const char *nobase =
		"{\"format\":1,\"name\":\"micro\",\"boot\":{\"mode\":\"efi\"},\"files\":["
		"{\"name\":\"x\",\"role\":\"other\",\"size\":1,\"sha256\":\"" SHA "\"}]}";
	(void)st;
	assert_int_equal(image_manifest_parse(ok, strlen(ok), &im, &e), 0);
	assert_string_equal(im.im_name, "micro");
	assert_int_equal(im.im_boot, IMAGE_BOOT_KERNEL);
	assert_string_equal(im.im_base->if_name, "base.qcow2");
	assert_string_equal(im.im_kernel->if_name, "vmlinuz");
	assert_string_equal(im.im_cmdline, "console=ttyS0");
	assert_int_equal(image_manifest_parse(evil, strlen(evil), &im, &e), -EINVAL);
	assert_string_equal(e.de_msg, "manifest: files[0]: bad file name \"../../etc/shadow\"");
	err_clear(&e);
	assert_int_equal(image_manifest_parse(nobase, strlen(nobase), &im, &e), -EINVAL);
	assert_string_equal(e.de_msg, "manifest: no file with role \"base\"");
	err_clear(&e);
	assert_int_equal(im.im_memory_mib, 0);
	/* A golden image: efi, no kernel of the dock's to load, sizes it needs. */
	const char *efi =
		"{\"format\":1,\"name\":\"debian-web\",\"boot\":{\"mode\":\"efi\"},"
		"\"recommended\":{\"memory_mib\":512,\"scratch_mib\":1024},"
		"\"service\":{\"name\":\"nginx\",\"user\":\"web\",\"group\":\"web\",\"uid\":998,"
		"\"gid\":997,\"ports\":[\"80/tcp\"],\"writable\":[\"/scratch\",\"/var\"],"
		"\"readonly\":[\"/\",\"/srv/www\"]},\"files\":["
		"{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"}]}";
	assert_int_equal(image_manifest_parse(efi, strlen(efi), &im, &e), 0);
	assert_int_equal(im.im_boot, IMAGE_BOOT_EFI);
	assert_null(im.im_kernel);
	assert_int_equal(im.im_memory_mib, 512);
	assert_int_equal(im.im_scratch_mib, 1024);
	/* Its "service" is the policy its nodes are judged by, with no profile file. */
	assert_true(im.im_have_service);
	assert_string_equal(im.im_service.pr_name, "debian-web");
	assert_string_equal(im.im_service.pr_service, "nginx");
	assert_int_equal(im.im_service.pr_uid, 998);
	assert_int_equal(im.im_service.pr_gid, 997);
	assert_true(profile_port_declared(&im.im_service, "tcp", 80));
	assert_int_equal(im.im_service.pr_n_readonly, 2);
	assert_string_equal(im.im_service.pr_writable[1], "/var");
	const char *bad =
		"{\"format\":1,\"name\":\"d\",\"boot\":{\"mode\":\"efi\"},"
		"\"recommended\":{\"memory_mib\":1},\"files\":["
		"{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"}]}";
	assert_int_equal(image_manifest_parse(bad, strlen(bad), &im, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "manifest: recommended: \"memory_mib\" must be between 64 and 1048576");
	err_clear(&e);
	const char *badsvc =
		"{\"format\":1,\"name\":\"d\",\"boot\":{\"mode\":\"efi\"},"
		"\"service\":{\"name\":\"x\",\"ports\":[\"http\"]},\"files\":["
		"{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"}]}";
	assert_int_equal(image_manifest_parse(badsvc, strlen(badsvc), &im, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "manifest: profile: service ports[0] must look like \"80/tcp\"");
	err_clear(&e);
	/* "scan": the build's OpenSCAP scan; the score comes from the counts. */
#define SCAN_HEAD                                                                         \
	"{\"format\":1,\"name\":\"d\",\"boot\":{\"mode\":\"efi\"},\"files\":["            \
	"{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"}]," \
	"\"scan\":{\"scanner\":\"OpenSCAP 1.3.7\",\"content\":{\"sha256\":\"" SHA "\"},"  \
	"\"tailoring\":{\"sha256\":\"" SHA "\"},\"floor\":95,\"profiles\":["
	const char *scan = SCAN_HEAD
		"{\"id\":\"standard\",\"pass\":28,\"fail\":1,\"score\":99.9,\"failing\":[\"a_b\"],"
		"\"stock\":{\"pass\":20,\"fail\":9,\"failing\":[]}},"
		"{\"id\":\"anssi_np_nt28_high\",\"pass\":31,\"fail\":0}]}}";
	assert_int_equal(image_manifest_parse(scan, strlen(scan), &im, &e), 0);
	assert_true(im.im_scan.is_have);
	assert_int_equal(im.im_scan.is_n_profiles, 2);
	assert_int_equal(im.im_scan.is_floor, 95);
	assert_int_equal(im.im_scan.is_profiles[0].sp_score_cp, 9655); /* 28/29, not 99.9 */
	assert_int_equal(im.im_scan.is_score_cp, 9655);
	char sbuf[16];
	assert_string_equal(image_scan_score_str(&im.im_scan, sbuf, sizeof(sbuf)), "96.55%");
	assert_int_equal(image_manifest_parse(efi, strlen(efi), &im, &e), 0);
	assert_false(im.im_scan.is_have);
	assert_string_equal(image_scan_score_str(&im.im_scan, sbuf, sizeof(sbuf)), "-");
	const char *badscan[] = {
		SCAN_HEAD "{\"id\":\"../x\",\"pass\":1,\"fail\":0}]}}",
		SCAN_HEAD "{\"id\":\"s\",\"pass\":1,\"fail\":100001}]}}",
		SCAN_HEAD "{\"id\":\"s\",\"pass\":1,\"fail\":0,\"failing\":[\"a b\"]}]}}",
		SCAN_HEAD "{\"id\":\"s\",\"pass\":1,\"fail\":0,\"score\":\"100\"}]}}",
		SCAN_HEAD "]}}",
		SCAN_HEAD
		"{\"id\":\"a\",\"pass\":1,\"fail\":0},{\"id\":\"b\",\"pass\":1,\"fail\":0},"
		"{\"id\":\"c\",\"pass\":1,\"fail\":0},{\"id\":\"d\",\"pass\":1,\"fail\":0},"
		"{\"id\":\"e\",\"pass\":1,\"fail\":0}]}}",
	};
	for (size_t i = 0; i < sizeof(badscan) / sizeof(badscan[0]); i++) {
		assert_int_equal(image_manifest_parse(badscan[i], strlen(badscan[i]), &im, &e),
				 -EINVAL);
		err_clear(&e);
	}
#undef SCAN_HEAD
}

/* Read tests/unit/fixtures/manifest/NAME into im. */
static int manifest_fixture(const char *name, struct image *im, struct dock_err *e)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/manifest/%s", src_dir, name);
	assert_int_equal(file_read(path, IMAGE_MANIFEST_MAX, &buf, &len), 0);
	r = image_manifest_parse(buf, len, im, e);
	free(buf);
	return r;
}

/* Manifests from before "inputs" and "reproducible" load as they are; the
 * new blocks are read with their bounds. */
static void test_manifest_repro(void **st)
{
	struct image im;
	struct dock_err e = { 0 };
	char buf[4096];
	(void)st;
	assert_int_equal(manifest_fixture("micro-v1.json", &im, &e), 0);
	assert_false(im.im_have_inputs);
	assert_false(im.im_have_repro);
	assert_string_equal(im.im_base->if_name, "base.qcow2");
	assert_int_equal(manifest_fixture("debian-web-v1.json", &im, &e), 0);
	assert_false(im.im_have_inputs);
	assert_int_equal(im.im_boot, IMAGE_BOOT_EFI);
	assert_int_equal(manifest_fixture("micro-repro.json", &im, &e), 0);
	assert_true(im.im_have_inputs);
	assert_true(im.im_have_repro);
	assert_string_equal(im.im_epoch_from, "git");
	assert_true(im.im_source_date_epoch > 1600000000);
	assert_int_equal(strlen(im.im_rootfs_sha256), 64);
	assert_int_equal(strlen(im.im_recipe_sha256), 64);
	assert_int_equal(im.im_n_differs, 0);
	assert_non_null(strstr(im.im_builder, "isc-image "));
#define REPRO_MANIFEST(inputs, repro)                                                              \
	snprintf(buf, sizeof(buf),                                                                 \
		 "{\"format\":1,\"name\":\"d\",\"boot\":{\"mode\":\"efi\"},\"files\":["            \
		 "{\"name\":\"base.qcow2\",\"role\":\"base\",\"size\":1,\"sha256\":\"" SHA "\"}]," \
		 "\"inputs\":%s,\"reproducible\":%s}",                                             \
		 inputs, repro)
#define IN_OK                                                                              \
	"{\"builder\":\"isc-image 1\",\"source_date_epoch\":1,\"source_date_epoch_from\":" \
	"\"fixed\",\"recipe_sha256\":\"" SHA "\"}"
#define RP_OK "{\"rootfs_sha256\":\"" SHA "\",\"differs\":[{\"what\":\"a\",\"why\":\"b\"}]}"
	REPRO_MANIFEST(IN_OK, RP_OK);
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), 0);
	assert_int_equal(im.im_n_differs, 1);
	REPRO_MANIFEST("{\"builder\":\"x\",\"source_date_epoch\":1,\"source_date_epoch_from\":"
		       "\"clock\",\"recipe_sha256\":\"" SHA "\"}",
		       RP_OK);
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	assert_string_equal(
		e.de_msg,
		"manifest: inputs: source_date_epoch_from must be \"env\", \"git\" or \"fixed\"");
	err_clear(&e);
	REPRO_MANIFEST("{\"builder\":\"x\",\"source_date_epoch\":253402300800,"
		       "\"source_date_epoch_from\":\"env\",\"recipe_sha256\":\"" SHA "\"}",
		       RP_OK);
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	assert_non_null(strstr(e.de_msg, "source_date_epoch"));
	err_clear(&e);
	REPRO_MANIFEST("{\"builder\":\"x\",\"source_date_epoch\":1,\"source_date_epoch_from\":"
		       "\"env\",\"recipe_sha256\":\"" SHA "\",\"host_packages\":{\"A B\":\"1\"}}",
		       RP_OK);
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	assert_string_equal(e.de_msg, "manifest: inputs: host_packages: bad package name");
	err_clear(&e);
	REPRO_MANIFEST(IN_OK, "{\"rootfs_sha256\":\"XYZ\",\"differs\":[]}");
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	err_clear(&e);
	REPRO_MANIFEST(IN_OK, "{\"rootfs_sha256\":\"" SHA "\",\"differs\":[1,2,3,4,5,6,7,8,9]}");
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	err_clear(&e);
	REPRO_MANIFEST(IN_OK, "{\"rootfs_sha256\":\"" SHA "\",\"differs\":[{\"what\":\"a\"}]}");
	assert_int_equal(image_manifest_parse(buf, strlen(buf), &im, &e), -EINVAL);
	assert_non_null(strstr(e.de_msg, "differs[0]"));
	err_clear(&e);
#undef REPRO_MANIFEST
#undef IN_OK
#undef RP_OK
}

/* ---- profiles and checks ---- */

static const char *evidence_of(const struct check_row *rows, size_t n, const char *id);

static void test_profile(void **st)
{
	struct profile p;
	struct dock_err e = { 0 };
	const char *ok =
		"{\"name\":\"micro\",\"service\":{\"name\":\"httpd\",\"uid\":100,\"gid\":100,"
		"\"ports\":[\"80/tcp\",\"53/udp\"]},\"readonly\":[\"/\"],\"writable\":[\"/scratch\"]}";
	(void)st;
	assert_int_equal(profile_parse(ok, strlen(ok), &p, &e), 0);
	assert_string_equal(p.pr_service, "httpd");
	assert_int_equal(p.pr_uid, 100);
	assert_int_equal(p.pr_n_ports, 2);
	assert_true(profile_port_declared(&p, "tcp", 80));
	assert_true(profile_port_declared(&p, "tcp6", 80));
	assert_false(profile_port_declared(&p, "udp", 80));
	assert_true(profile_port_declared(&p, "udp", 53));
	const char *bad = "{\"name\":\"x\",\"service\":{\"name\":\"a\",\"ports\":[\"80/sctp\"]}}";
	assert_int_equal(profile_parse(bad, strlen(bad), &p, &e), -EINVAL);
	assert_string_equal(e.de_msg, "profile: service ports[0] must look like \"80/tcp\"");
	err_clear(&e);
	const char *badp = "{\"name\":\"x\",\"writable\":[\"/a/../etc\"]}";
	assert_int_equal(profile_parse(badp, strlen(badp), &p, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "profile: writable[0] must be an absolute path under 128 bytes");
	err_clear(&e);
	const char *pol = "{\"name\":\"x\",\"on_fail\":\"cleanse\"}";
	assert_int_equal(profile_parse(pol, strlen(pol), &p, NULL), 0);
	assert_string_equal(p.pr_on_fail, "cleanse");
	const char *badpol = "{\"name\":\"x\",\"on_fail\":\"reboot\"}";
	assert_int_equal(profile_parse(badpol, strlen(badpol), &p, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "profile: on_fail must be alert, quarantine, cleanse or destroy");
}

/* "skip": rows an image cannot satisfy, each with its reason; bounded. */
static void test_profile_skip(void **st)
{
	struct profile p;
	struct dock_err e = { 0 };
	char big[1024];
	const char *ok = "{\"name\":\"micro\",\"skip\":{\"audit\":\"no auditd in micro\","
			 "\"packet-filter\":\"no nf_tables: the dock's firewall filters\"}}";
	(void)st;
	assert_int_equal(profile_parse(ok, strlen(ok), &p, &e), 0);
	assert_int_equal(p.pr_n_skips, 2);
	assert_string_equal(profile_skip_reason(&p, "audit"), "no auditd in micro");
	assert_string_equal(profile_skip_reason(&p, "packet-filter"),
			    "no nf_tables: the dock's firewall filters");
	assert_null(profile_skip_reason(&p, "ports"));
	assert_null(profile_skip_reason(NULL, "audit"));
	assert_int_equal(checks_profile_check(&p, &e), 0);
	/* The templates' own micro profile parses and skips only agent rows. */
	snprintf(big, sizeof(big), "%s/templates/profiles", src_dir);
	assert_int_equal(profile_load(big, "micro", &p, &e), 0);
	assert_int_equal(p.pr_n_skips, 2); /* audit: the dock's row now, micro forwards */
	assert_int_equal(checks_profile_check(&p, &e), 0);
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"name\":\"x\",\"skip\":[\"audit\"]}", "profile: \"skip\" must be an object" },
		{ "{\"name\":\"x\",\"skip\":{\"Audit\":\"r\"}}",
		  "profile: skip: \"Audit\" is not a check id ([a-z0-9-], under 32 bytes)" },
		{ "{\"name\":\"x\",\"skip\":{\"audit\":1}}",
		  "profile: skip: audit: the reason must be one line of text under 160 bytes" },
		{ "{\"name\":\"x\",\"skip\":{\"audit\":\"\"}}",
		  "profile: skip: audit: the reason must be one line of text under 160 bytes" },
		{ "{\"name\":\"x\",\"skip\":{\"audit\":\"a\\nb\"}}",
		  "profile: skip: audit: the reason must be one line of text under 160 bytes" },
		{ "{\"name\":\"x\",\"skip\":{\"audit\":\"\\u001b[2J\"}}",
		  "profile: skip: audit: the reason must be one line of text under 160 bytes" },
		{ "{\"name\":\"x\",\"skip\":{\"a\":\"r\",\"b\":\"r\",\"c\":\"r\",\"d\":\"r\","
		  "\"e\":\"r\",\"f\":\"r\",\"g\":\"r\",\"h\":\"r\",\"i\":\"r\"}}",
		  "profile: \"skip\" names more than 8 rows" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		assert_int_equal(profile_parse(bad[i].json, strlen(bad[i].json), &p, &e), -EINVAL);
		assert_string_equal(e.de_msg, bad[i].msg);
	}
	/* A reason of 160 bytes is one too many. */
	snprintf(big, sizeof(big), "{\"name\":\"x\",\"skip\":{\"audit\":\"%0160d\"}}", 0);
	assert_int_equal(profile_parse(big, strlen(big), &p, NULL), -EINVAL);
	snprintf(big, sizeof(big), "{\"name\":\"x\",\"skip\":{\"audit\":\"%0159d\"}}", 0);
	assert_int_equal(profile_parse(big, strlen(big), &p, NULL), 0);
	/* Parsed, but a dock-side row is the dock's to enforce: refused at create. */
	const char *dock = "{\"name\":\"x\",\"skip\":{\"firewall\":\"trust me\"}}";
	assert_int_equal(profile_parse(dock, strlen(dock), &p, NULL), 0);
	err_clear(&e);
	assert_int_equal(checks_profile_check(&p, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "profile \"x\": skip: \"firewall\" is not an agent-side "
			    "check (only those may be skipped)");
	const char *unknown = "{\"name\":\"x\",\"skip\":{\"no-such-row\":\"r\"}}";
	assert_int_equal(profile_parse(unknown, strlen(unknown), &p, NULL), 0);
	assert_int_equal(checks_profile_check(&p, NULL), -EINVAL);
}

/* Feed an agent report through the real parser into a fact array; a hello
 * in it sets the view's protocol and announced facts. */
static void load_report(const char *path, struct agent_fact *facts, bool *have,
			struct agent_view *av)
{
	char *text = slurp(path), *line, *save = NULL;
	static struct agent_msg m;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(agentproto_parse(line, strlen(line), &m, NULL), 0);
		if (m.am_type == AGENT_MSG_HELLO && av != NULL) {
			av->av_protocol = m.am_hello.ah_protocol;
			av->av_announced = m.am_facts;
		}
		if (m.am_type == AGENT_MSG_FACT) {
			facts[m.am_fact.af_id] = m.am_fact;
			have[m.am_fact.af_id] = true;
		}
	}
	free(text);
}

static enum check_status status_of(const struct check_row *rows, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, id) == 0)
			return rows[i].cr_status;
	fail_msg("no check %s", id);
	return CHECK_SKIP;
}

static void test_checks(void **st)
{
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	struct check_row rows[CHECKS_MAX];
	struct profile p;
	struct dock_facts df = { 0 };
	char path[512];
	const char *prof =
		"{\"name\":\"micro\",\"service\":{\"name\":\"httpd\",\"uid\":100,\"gid\":100,"
		"\"ports\":[\"80/tcp\"]},\"readonly\":[\"/\"],\"writable\":[\"/scratch\"]}";
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct agent_view av = { true, 995, 990, facts, have, 0, 0, 0, 0, 0, NULL, { 0 } };
	size_t n;
	(void)st;
	assert_int_equal(profile_parse(prof, strlen(prof), &p, NULL), 0);
	/* An agent of protocol 2 (0.3.0): its hello and report parse as always. */
	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/agent/p2-report", src_dir);
	load_report(path, facts, have, &av);
	assert_int_equal(av.av_protocol, 2);
	assert_int_equal(av.av_announced, 0);
	checks_dock_from_xml(
		"<domain><devices><disk><source file='/i/base.qcow2'/><readonly/></disk>"
		"<disk><source file='/v/e.img'/><encryption format='luks'><secret uuid='u1'/></encryption></disk>"
		"<interface><source network='isc-web1'/></interface></devices></domain>",
		"<network connections='1'><forward mode='open'/></network>",
		"<secret ephemeral='yes' private='yes'/>", "/i/base.qcow2", "/v/e.img", "u1",
		"isc-web1", &df);
	assert_int_equal(df.df_base_readonly, 1);
	assert_int_equal(df.df_eph_luks, 1);
	assert_int_equal(df.df_net_own, 1);
	assert_int_equal(df.df_net_open, 1);
	assert_int_equal(df.df_secret_ephemeral, 1);
	df.df_running = true;
	df.df_digest_ok = 1;
	df.df_eph_header = 1;
	df.df_fw_in_force = 1;
	df.df_fw_published_ok = 1;
	df.df_vcpus = df.df_want_vcpus = 1;
	df.df_hard_limit_kib = df.df_want_hard_limit_kib = 786432;
	df.df_limits.rl_cg = 1; /* the cgroup read, its memory limit the hard limit */
	df.df_limits.rl_cg_mem_bytes = 786432 * 1024;
	df.df_vmm = CHECK_PASS;
	snprintf(df.df_vmm_note, sizeof(df.df_vmm_note), "pid 1 uid/gid 90000/64055 its own");
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(n, 25);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(rows[i].cr_status, CHECK_PASS);
	/* Who holds udp 68 it cannot say, nor forward audit: rebuild, never FAIL. */
	assert_int_equal(status_of(rows, n, "ports"), CHECK_SKIP);
	assert_int_equal(status_of(rows, n, "swap"), CHECK_FAIL); /* a plain swap file */
	assert_int_equal(status_of(rows, n, "audit"), CHECK_SKIP);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, "audit") == 0)
			assert_string_equal(rows[i].cr_evidence,
					    "agent protocol 2: rebuild the image: its agent does "
					    "not forward audit records");
	assert_int_equal(status_of(rows, n, "nx-aslr"), CHECK_PASS);
	assert_int_equal(status_of(rows, n, "guest-network"), CHECK_PASS);
	assert_int_equal(status_of(rows, n, "scratch"), CHECK_FAIL); /* /var on the root disk */
	assert_int_equal(status_of(rows, n, "service-identity"), CHECK_PASS);
	assert_int_equal(status_of(rows, n, "service-privileges"), CHECK_WARN); /* no seccomp */
	assert_int_equal(status_of(rows, n, "readonly-paths"), CHECK_PASS);
	assert_int_equal(status_of(rows, n, "ptrace"), CHECK_WARN);
	assert_int_equal(status_of(rows, n, "sshd"), CHECK_PASS);
	/* A recorded port withheld at start: WARN (never FAIL, so no on_fail), with why. */
	snprintf(df.df_ports_withheld, sizeof(df.df_ports_withheld), "%s",
		 "not installed: publish 22:22/tcp: host port 22 is outside publish_ports "
		 "1024-65535");
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(status_of(rows, n, "published-ports"), CHECK_WARN);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, "published-ports") == 0)
			assert_non_null(strstr(rows[i].cr_evidence, "host port 22 is outside"));
	df.df_ports_withheld[0] = '\0';
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	/* The evidence names what is wrong. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, "swap") == 0)
			assert_string_equal(rows[i].cr_evidence,
					    "/scratch/swapfile (NOT ENCRYPTED)");
	/* A report past the deadline turns every agent row STALE. */
	av.av_report_time = 900;
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(status_of(rows, n, "ports"), CHECK_STALE);
	/* Hostile input and silence are dock-side failures. */
	av.av_dropped = 5;
	av.av_last_heartbeat = 100;
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(status_of(rows, n, "agent-input"), CHECK_FAIL);
	assert_int_equal(status_of(rows, n, "agent-alive"), CHECK_FAIL);
	/* An undeclared listener fails the ports check. */
	av.av_report_time = 990;
	facts[AF_LISTEN].af.listen.l_sockets[1].s_port = 2323;
	snprintf(facts[AF_LISTEN].af.listen.l_sockets[1].s_proto, 8, "tcp");
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(status_of(rows, n, "ports"), CHECK_FAIL);
	/*
	 * A golden image's layout: /var on a partition of the ephemeral disk,
	 * /scratch on dm-crypt over another; the agent names the disk under both.
	 */
	{
		struct {
			const char *t, *s, *d;
		} mv[] = { { "/", "/dev/vda2", "vda" },
			   { "/var", "/dev/vdb1", "vdb" },
			   { "/scratch", "/dev/mapper/isc-scratch", "vdb" } };
		struct agent_fact *mf = &facts[AF_MOUNTS];

		memset(&mf->af.mounts, 0, sizeof(mf->af.mounts));
		for (size_t i = 0; i < 3; i++) {
			snprintf(mf->af.mounts.m_mounts[i].m_target, 256, "%s", mv[i].t);
			snprintf(mf->af.mounts.m_mounts[i].m_source, 128, "%s", mv[i].s);
			snprintf(mf->af.mounts.m_mounts[i].m_disk, 32, "%s", mv[i].d);
			mf->af.mounts.m_mounts[i].m_ro = i == 0;
		}
		mf->af.mounts.m_n = 3;
		n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
		assert_int_equal(status_of(rows, n, "scratch"), CHECK_PASS);
		assert_string_equal(
			evidence_of(rows, n, "scratch"),
			"/scratch on /dev/mapper/isc-scratch (disk vdb), /var on /dev/vdb1 "
			"(disk vdb)");
		/* The logs and /home on their own filesystems: said, not judged. */
		{
			static const char *const own[][2] = { { "/var/log", "/dev/vdb2" },
							      { "/var/log/audit", "/dev/vdb3" },
							      { "/home", "/dev/vdb4" } };
			for (size_t i = 0; i < 3; i++) {
				struct af_mount *m = &mf->af.mounts.m_mounts[3 + i];
				snprintf(m->m_target, 256, "%s", own[i][0]);
				snprintf(m->m_source, 128, "%s", own[i][1]);
				snprintf(m->m_disk, 32, "vdb");
				m->m_ro = i == 2;
			}
			mf->af.mounts.m_n = 6;
			n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
			assert_int_equal(status_of(rows, n, "scratch"), CHECK_PASS);
			assert_string_equal(
				evidence_of(rows, n, "scratch"),
				"/scratch on /dev/mapper/isc-scratch (disk vdb), /var on "
				"/dev/vdb1 (disk vdb), /var/log on /dev/vdb2, "
				"/var/log/audit on /dev/vdb3, /home on /dev/vdb4 (ro)");
			mf->af.mounts.m_n = 3;
		}
		/* ... and /scratch on the base disk fails it. */
		snprintf(mf->af.mounts.m_mounts[2].m_disk, 32, "vda");
		n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
		assert_int_equal(status_of(rows, n, "scratch"), CHECK_FAIL);
	}
}

static const char *evidence_of(const struct check_row *rows, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, id) == 0)
			return rows[i].cr_evidence;
	fail_msg("no check %s", id);
	return "";
}

/* Judge the facts once as protocol 3 and once as protocol 2: the old agent
 * never FAILs where the new rule would; returns the protocol 3 row. */
static enum check_status judged(struct agent_view *av, const struct profile *p, const char *id,
				const char *want_ev)
{
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct dock_facts df = { .df_running = true };
	struct check_row rows[CHECKS_MAX];
	enum check_status st;
	size_t n;

	av->av_protocol = 3;
	n = checks_evaluate(&cn, &df, av, p, rows, CHECKS_MAX);
	st = status_of(rows, n, id);
	if (want_ev != NULL && strstr(evidence_of(rows, n, id), want_ev) == NULL)
		fail_msg("%s: \"%s\" lacks \"%s\"", id, evidence_of(rows, n, id), want_ev);
	av->av_protocol = 2;
	n = checks_evaluate(&cn, &df, av, p, rows, CHECKS_MAX);
	if (st != CHECK_PASS) {
		assert_int_equal(status_of(rows, n, id), CHECK_SKIP);
		assert_non_null(
			strstr(evidence_of(rows, n, id), "agent protocol 2: rebuild the image"));
	}
	av->av_protocol = 3;
	return st;
}

/* Issue 16: a protocol 3 agent cannot dodge its checks. */
static void test_checks_undodgeable(void **st)
{
	static struct agent_fact facts[AF_COUNT], saved[AF_COUNT];
	static bool have[AF_COUNT];
	static uint8_t miss[AF_COUNT];
	struct profile p;
	const char *prof =
		"{\"name\":\"micro\",\"service\":{\"name\":\"httpd\",\"uid\":100,\"gid\":100,"
		"\"ports\":[\"80/tcp\"]},\"readonly\":[\"/\"],\"writable\":[\"/scratch\",\"/var\"]}";
	struct agent_view av = { true, 995, 990, facts, have, 0, 0, 0, 0, 0, miss, { 0 } };
	typeof(facts[0].af.service) *svc = &facts[AF_SERVICE].af.service;
	struct af_socket *dhcp = &facts[AF_LISTEN].af.listen.l_sockets[1];
	char path[512];
	(void)st;
	assert_int_equal(profile_parse(prof, strlen(prof), &p, NULL), 0);
	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/agent/p3-report", src_dir);
	load_report(path, facts, have, &av);
	assert_int_equal(av.av_protocol, 3);
	assert_int_equal(av.av_announced, AF_ALL_FACTS); /* "future-fact" skipped */
	assert_int_equal(svc->s_n_procs, 2);
	assert_string_equal(dhcp->s_comm, "udhcpc");
	assert_int_equal(dhcp->s_pid, 41);
	memcpy(saved, facts, sizeof(saved));
	/* The whole report: every agent row PASSes. */
	for (size_t i = 0; i < AF_COUNT; i++)
		assert_true(have[i]);
	{
		struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
		struct dock_facts df = { .df_running = true };
		struct check_row rows[CHECKS_MAX];
		size_t n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].cr_source, "agent") == 0 &&
			    rows[i].cr_status != CHECK_PASS)
				fail_msg("%s: %s", rows[i].cr_id, rows[i].cr_evidence);
		assert_string_equal(evidence_of(rows, n, "service-identity"),
				    "2 process(es) named httpd, all uid 100 gid 100 (pid 77, ...)");
	}
	/* A fact missing: once WARN, twice running FAIL; present again, back to 0. */
	have[AF_ASLR] = false;
	checks_count_misses(have, facts, miss);
	assert_int_equal(
		judged(&av, &p, "nx-aslr", "the agent did not report \"aslr\" (missing once)"),
		CHECK_WARN);
	checks_count_misses(have, facts, miss);
	assert_int_equal(judged(&av, &p, "nx-aslr",
				"the agent did not report \"aslr\" in 2 consecutive reports"),
			 CHECK_FAIL);
	/* ... not even announced: said so. */
	av.av_announced &= ~(1u << AF_ASLR);
	assert_int_equal(judged(&av, &p, "nx-aslr", "\"aslr\" (not in its hello) in 2"),
			 CHECK_FAIL);
	av.av_announced = AF_ALL_FACTS;
	have[AF_ASLR] = true;
	checks_count_misses(have, facts, miss);
	assert_int_equal(miss[AF_ASLR], 0);
	assert_int_equal(judged(&av, &p, "nx-aslr", NULL), CHECK_PASS);
	/* A fact in error, twice running: FAIL with the agent's reason. */
	snprintf(facts[AF_SYSCTL].af_error, sizeof(facts[0].af_error), "EIO, honest");
	checks_count_misses(have, facts, miss);
	assert_int_equal(judged(&av, &p, "modules", "(missing once): EIO, honest"), CHECK_WARN);
	checks_count_misses(have, facts, miss);
	assert_int_equal(
		judged(&av, &p, "kernel-info",
		       "could not observe \"sysctl\" in 2 consecutive reports: EIO, honest"),
		CHECK_FAIL);
	memcpy(facts, saved, sizeof(saved));
	checks_count_misses(have, facts, miss);
	for (size_t i = 0; i < AF_COUNT; i++)
		assert_int_equal(miss[i], 0);
	/* A decoy named like the service, root with every capability. */
	svc->s_procs[1].p_uid = svc->s_procs[1].p_gid = 0;
	snprintf(svc->s_procs[1].p_cap_eff, 17, "000001ffffffffff");
	svc->s_procs[1].p_no_new_privs = 0;
	assert_int_equal(judged(&av, &p, "service-identity",
				"2 process(es) named httpd: pid 78 runs as uid 0 gid 0"),
			 CHECK_FAIL);
	assert_int_equal(
		judged(&av, &p, "service-privileges", "pid 78 has CapEff 000001ffffffffff"),
		CHECK_FAIL);
	/* ... or more processes than listed: the others go unjudged, FAIL. */
	memcpy(facts, saved, sizeof(saved));
	svc->s_count = 3;
	assert_int_equal(
		judged(&av, &p, "service-identity", "3 processes named httpd, only 2 listed"),
		CHECK_FAIL);
	assert_int_equal(judged(&av, &p, "service-privileges", "only 2 listed"), CHECK_FAIL);
	memcpy(facts, saved, sizeof(saved));
	/* UDP/68 held by something else than the DHCP client. */
	snprintf(dhcp->s_comm, sizeof(dhcp->s_comm), "nc");
	assert_int_equal(judged(&av, &p, "ports", "udp 0.0.0.0:68 (NOT DECLARED) by nc pid 41"),
			 CHECK_FAIL);
	dhcp->s_comm[0] = '\0'; /* ... or by no process the agent could find */
	assert_int_equal(judged(&av, &p, "ports", ":68 (NOT DECLARED) by ? pid 41"), CHECK_FAIL);
	for (size_t i = 0; i < 4; i++) {
		static const char *const ok[] = { "udhcpc", "dhclient", "dhcpcd",
						  "systemd-network" };
		snprintf(dhcp->s_comm, sizeof(dhcp->s_comm), "%s", ok[i]);
		assert_int_equal(judged(&av, &p, "ports", "udp 0.0.0.0:68 (DHCP client)"),
				 CHECK_PASS);
	}
	memcpy(facts, saved, sizeof(saved));
}

/* The protocol 3 members, each bounded. */
static const struct check_row *row_of(const struct check_row *rows, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].cr_id, id) == 0)
			return &rows[i];
	fail_msg("no check %s", id);
	return NULL;
}

/* A profile's skip turns the FAIL or WARN of an agent row into SKIP with
 * its reason and what was observed; PASS, STALE and dock rows stay. */
static void test_checks_skip(void **st)
{
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	static uint8_t miss[AF_COUNT];
	struct profile p, plain;
	const char *prof =
		"{\"name\":\"micro\",\"service\":{\"name\":\"httpd\",\"uid\":100,\"gid\":100,"
		"\"ports\":[\"80/tcp\"]},\"readonly\":[\"/\"],\"writable\":[\"/scratch\",\"/var\"],"
		"\"skip\":{\"audit\":\"no auditd\",\"packet-filter\":\"no nf_tables\","
		"\"nx-aslr\":\"never fails here\",\"ports\":\"missing twice\","
		"\"firewall\":\"a dock row\"}}";
	struct agent_view av = { true, 995, 990, facts, have, 0, 0, 0, 0, 0, miss, { 0 } };
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct dock_facts df = { .df_running = true };
	struct check_row rows[CHECKS_MAX], plain_rows[CHECKS_MAX];
	const struct check_row *r;
	char path[512];
	size_t n;
	(void)st;
	assert_int_equal(profile_parse(prof, strlen(prof), &p, NULL), 0);
	plain = p;
	plain.pr_n_skips = 0;
	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/agent/p3-report", src_dir);
	load_report(path, facts, have, &av);
	facts[AF_AUDIT].af.audit.a_enabled = 0; /* FAIL */
	facts[AF_NFT].af.nft.f_n = 0;           /* FAIL: no input chain */
	facts[AF_NFT].af.nft.f_tables = 0;
	have[AF_LISTEN] = false; /* missing twice running: FAIL */
	miss[AF_LISTEN] = 2;
	n = checks_evaluate(&cn, &df, &av, &plain, plain_rows, CHECKS_MAX);
	/* The audit row is the dock's (the stream), never skipped: a protocol 3
	 * agent forwards nothing, SKIP whatever the profile says. */
	assert_int_equal(status_of(plain_rows, n, "audit"), CHECK_SKIP);
	assert_int_equal(status_of(plain_rows, n, "packet-filter"), CHECK_FAIL);
	assert_int_equal(status_of(plain_rows, n, "ports"), CHECK_FAIL);
	assert_int_equal(status_of(plain_rows, n, "firewall"), CHECK_FAIL);
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	r = row_of(rows, n, "audit");
	assert_int_equal(r->cr_status, CHECK_SKIP);
	assert_string_equal(r->cr_evidence,
			    "agent protocol 3: rebuild the image: its agent does "
			    "not forward audit records");
	r = row_of(rows, n, "packet-filter");
	assert_int_equal(r->cr_status, CHECK_SKIP);
	assert_non_null(
		strstr(r->cr_evidence, "profile micro: no nf_tables (observed FAIL: 0 nft"));
	r = row_of(rows, n, "ports");
	assert_int_equal(r->cr_status, CHECK_SKIP);
	assert_non_null(strstr(r->cr_evidence,
			       "missing twice (observed FAIL: the agent did not "
			       "report \"listen\""));
	/* PASS stays PASS; a dock row is never skipped; the rest as without. */
	assert_int_equal(status_of(rows, n, "nx-aslr"), CHECK_PASS);
	assert_int_equal(status_of(rows, n, "firewall"), CHECK_FAIL);
	for (size_t i = 0; i < n; i++)
		if (profile_skip_reason(&p, rows[i].cr_id) == NULL)
			assert_int_equal(rows[i].cr_status, plain_rows[i].cr_status);
	/* No report (or a stale one): STALE, a skip does not stand in for it. */
	av.av_report_time = 0;
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	assert_int_equal(status_of(rows, n, "packet-filter"), CHECK_STALE);
	/* A long reason and evidence: cut within the row's evidence, never torn. */
	memset(p.pr_skips[0].ps_why, 'x', sizeof(p.pr_skips[0].ps_why) - 1);
	av.av_report_time = 990;
	n = checks_evaluate(&cn, &df, &av, &p, rows, CHECKS_MAX);
	r = row_of(rows, n, p.pr_skips[0].ps_id);
	assert_int_equal(r->cr_status, CHECK_SKIP);
	assert_true(strlen(r->cr_evidence) < CHECK_EVIDENCE_MAX);
}

static void test_agentproto_p3(void **st)
{
	static struct agent_msg m;
	struct dock_err e = { 0 };
	char line[AGENT_LINE_MAX];
	int k;
	(void)st;
#define P3_PARSE(s) agentproto_parse(s, strlen(s), &m, &e)
	assert_int_equal(
		P3_PARSE("{\"type\":\"hello\",\"protocol\":3,\"agent\":\"a\",\"boot_id\":\"b\","
			 "\"kernel\":\"k\",\"facts\":[\"sshd\",\"listen\",\"listen\",\"x\"]}"),
		0);
	assert_int_equal(m.am_facts, (1u << AF_SSHD) | (1u << AF_LISTEN));
	/* Not strings, names of 16 bytes or more, more than 32 names: refused. */
	assert_int_equal(
		P3_PARSE("{\"type\":\"hello\",\"protocol\":3,\"agent\":\"a\",\"boot_id\":\"b\","
			 "\"kernel\":\"k\",\"facts\":[1]}"),
		-EINVAL);
	err_clear(&e);
	assert_int_equal(
		P3_PARSE("{\"type\":\"hello\",\"protocol\":3,\"agent\":\"a\",\"boot_id\":\"b\","
			 "\"kernel\":\"k\",\"facts\":[\"0123456789abcdef\"]}"),
		-EINVAL);
	err_clear(&e);
	k = snprintf(line, sizeof(line),
		     "{\"type\":\"hello\",\"protocol\":3,\"agent\":\"a\","
		     "\"boot_id\":\"b\",\"kernel\":\"k\",\"facts\":[\"x\"");
	for (int i = 0; i < 32; i++)
		k += snprintf(line + k, sizeof(line) - (size_t)k, ",\"x\"");
	snprintf(line + k, sizeof(line) - (size_t)k, "]}");
	assert_int_equal(P3_PARSE(line), -EINVAL);
	err_clear(&e);
	/* A socket's comm of 16 bytes or more, a pid out of range: refused. */
	assert_int_equal(
		P3_PARSE(
			"{\"type\":\"fact\",\"report\":1,\"id\":\"listen\",\"sockets\":[{\"proto\":"
			"\"udp\",\"addr\":\"0.0.0.0\",\"port\":68,\"uid\":0,\"pid\":1,"
			"\"comm\":\"0123456789abcdef\"}]}"),
		-EINVAL);
	err_clear(&e);
	assert_int_equal(
		P3_PARSE(
			"{\"type\":\"fact\",\"report\":1,\"id\":\"listen\",\"sockets\":[{\"proto\":"
			"\"udp\",\"addr\":\"0.0.0.0\",\"port\":68,\"uid\":0,\"pid\":0}]}"),
		-EINVAL);
	err_clear(&e);
	/* 20 service processes: 16 kept, the fact marked truncated. */
	k = snprintf(line, sizeof(line),
		     "{\"type\":\"fact\",\"report\":1,\"id\":\"service\","
		     "\"found\":true,\"name\":\"h\",\"pid\":1,\"uid\":1,\"gid\":1,"
		     "\"cap_eff\":\"0\",\"cap_bnd\":\"0\",\"no_new_privs\":1,"
		     "\"seccomp\":2,\"count\":20,\"procs\":[");
	for (int i = 0; i < 20; i++)
		k += snprintf(line + k, sizeof(line) - (size_t)k,
			      "%s{\"pid\":%d,\"uid\":1,\"gid\":1,\"cap_eff\":\"0\",\"cap_bnd\":"
			      "\"0\",\"no_new_privs\":1,\"seccomp\":2}",
			      i ? "," : "", i + 1);
	snprintf(line + k, sizeof(line) - (size_t)k, "]}");
	assert_int_equal(P3_PARSE(line), 0);
	assert_int_equal(m.am_fact.af.service.s_n_procs, AF_MAX_PROCS);
	assert_true(m.am_fact.af_truncated);
	/* A process with a capability set of 17 hex digits, or no seccomp: refused. */
	assert_int_equal(
		P3_PARSE(
			"{\"type\":\"fact\",\"report\":1,\"id\":\"service\",\"found\":true,"
			"\"name\":\"h\",\"pid\":1,\"uid\":1,\"gid\":1,\"cap_eff\":\"0\",\"cap_bnd\":"
			"\"0\",\"no_new_privs\":1,\"seccomp\":2,\"procs\":[{\"pid\":1,\"uid\":1,"
			"\"gid\":1,\"cap_eff\":\"00000000000000000\",\"cap_bnd\":\"0\","
			"\"no_new_privs\":1,\"seccomp\":2}]}"),
		-EINVAL);
	err_clear(&e);
	assert_int_equal(
		P3_PARSE(
			"{\"type\":\"fact\",\"report\":1,\"id\":\"service\",\"found\":true,"
			"\"name\":\"h\",\"pid\":1,\"uid\":1,\"gid\":1,\"cap_eff\":\"0\",\"cap_bnd\":"
			"\"0\",\"no_new_privs\":1,\"seccomp\":2,\"procs\":[{\"pid\":1,\"uid\":1,"
			"\"gid\":1,\"cap_eff\":\"0\",\"cap_bnd\":\"0\",\"no_new_privs\":1}]}"),
		-EINVAL);
	err_clear(&e);
#undef P3_PARSE
}

/* ---- timing ---- */

static void test_timing(void **st)
{
	const int64_t ms = 1000000;
	struct timing t;
	struct json_object *o, *m, *v;
	char line[256], small[24];

	(void)st;
	memset(&t, 0, sizeof(t));
	timing_add(&t, TIMING_LUKS, 0, ms); /* nothing begun: ignored */
	assert_int_equal(t.tm_ns[TIMING_LUKS], 0);
	assert_null(timing_json(&t));

	timing_begin(&t, "create", 1000 * ms);
	timing_add(&t, TIMING_VALIDATE, 1000 * ms, 1000 * ms + 210000); /* 0.21 ms */
	timing_add(&t, TIMING_LUKS, 0, 31 * ms);
	timing_add(&t, TIMING_RENDER, 0, 600000); /* render twice: 1.1 ms */
	timing_add(&t, TIMING_RENDER, 0, 500000);
	timing_add(&t, TIMING_NETWORK, 0, 420 * ms);
	timing_add(&t, TIMING_DOMAIN, 5 * ms, 4 * ms); /* backwards: ignored */
	timing_format(&t, line, sizeof(line));
	assert_string_equal(line, "validate=0.21ms luks=31ms render=1.1ms network=420ms");
	o = timing_json(&t);
	assert_true(json_object_object_get_ex(o, "complete", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(o);

	timing_add(&t, TIMING_FIRST_LINE, 0, 2300 * ms);
	timing_end(&t, 13500 * ms);
	timing_end(&t, 99999 * ms); /* the first end counts */
	timing_format(&t, line, sizeof(line));
	assert_string_equal(line,
			    "validate=0.21ms luks=31ms render=1.1ms network=420ms "
			    "first_line=2300ms total=12.5s");
	/* too small: whole phases only, never half a number */
	timing_format(&t, small, sizeof(small));
	assert_string_equal(small, "validate=0.21ms");
	assert_true(strlen(small) < sizeof(small));

	o = timing_json(&t);
	assert_true(json_object_object_get_ex(o, "op", &v));
	assert_string_equal(json_object_get_string(v), "create");
	assert_true(json_object_object_get_ex(o, "complete", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "ms", &m));
	assert_int_equal(json_object_object_length(m), TIMING_COUNT + 1);
	assert_true(json_object_object_get_ex(m, "validate", &v));
	assert_string_equal(json_object_to_json_string(v), "0.210");
	assert_true(json_object_object_get_ex(m, "firewall", &v));
	assert_null(v); /* did not run */
	assert_true(json_object_object_get_ex(m, "total", &v));
	assert_true(json_object_get_double(v) == 12500.0);
	json_object_put(o);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),          cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_netpool),        cmocka_unit_test(test_config),
		cmocka_unit_test(test_jsonin),         cmocka_unit_test(test_spec),
		cmocka_unit_test(test_spec_flags),     cmocka_unit_test(test_image_verify_cache),
		cmocka_unit_test(test_render),         cmocka_unit_test(test_render_efi),
		cmocka_unit_test(test_render_limits),  cmocka_unit_test(test_render_escaping),
		cmocka_unit_test(test_state),          cmocka_unit_test(test_agentproto),
		cmocka_unit_test(test_reader),         cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_manifest_repro), cmocka_unit_test(test_image_base_standalone),
		cmocka_unit_test(test_image_remove),   cmocka_unit_test(test_profile),
		cmocka_unit_test(test_profile_skip),   cmocka_unit_test(test_checks_skip),
		cmocka_unit_test(test_checks),         cmocka_unit_test(test_checks_undodgeable),
		cmocka_unit_test(test_agentproto_p3),  cmocka_unit_test(test_timing),
		cmocka_unit_test(test_publish_ports),  cmocka_unit_test(test_portcheck),
	};

	if (argc > 1)
		src_dir = argv[1];
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
