/* Unit tests of the pure spec-to-record translation (dockd/node-spec.c):
 * the request's defaults, the image's recommended sizes within the dock's
 * limits, the profile chosen, published ports in canonical form, egress,
 * lifetime and the policies with their defaults. No I/O: requests are
 * parsed by spec_parse, images and configs are built in memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node-int.h"

#define NOW 1700000000

static struct dock_config cfg;

static void parse_ok(const char *json, struct node_spec *spec)
{
	struct dock_err e = { 0 };

	config_defaults(&cfg);
	assert_int_equal(spec_parse(json, strlen(json), &cfg, spec, &e), 0);
}

/* The record a request makes from an image recommending mem/scratch MiB. */
static void translate(const char *json, uint64_t mem, uint64_t scratch, const char *profile,
		      struct node_rec *rec)
{
	struct node_spec spec;
	struct image im;

	parse_ok(json, &spec);
	memset(&im, 0, sizeof(im));
	im.im_memory_mib = mem;
	im.im_scratch_mib = scratch;
	memset(rec, 0, sizeof(*rec));
	node_spec_rec(&(struct node_spec_in){ .si_spec = &spec,
					      .si_cfg = &cfg,
					      .si_image = &im,
					      .si_profile = profile,
					      .si_now = NOW },
		      rec);
}

/* ---- node_spec_size ---- */

static void test_size_asked_wins(void **st)
{
	(void)st;
	/* Asked for explicitly: the image's word does not count. */
	assert_int_equal(node_spec_size(256, false, 1024, 16384), 256);
	assert_int_equal(node_spec_size(2048, false, 1024, 16384), 2048);
}

static void test_size_recommended(void **st)
{
	(void)st;
	assert_int_equal(node_spec_size(256, true, 1024, 16384), 1024);
	/* A recommendation below the default does not shrink it. */
	assert_int_equal(node_spec_size(256, true, 128, 16384), 256);
	assert_int_equal(node_spec_size(256, true, 0, 16384), 256);
}

static void test_size_limit(void **st)
{
	(void)st;
	/* The dock's limit caps the image's wish. */
	assert_int_equal(node_spec_size(256, true, 32768, 16384), 16384);
	assert_int_equal(node_spec_size(256, true, 16384, 16384), 16384);
}

/* ---- node_spec_profile ---- */

static void test_profile_choice(void **st)
{
	struct node_spec spec;
	char p[64];

	(void)st;
	parse_ok("{\"name\":\"web1\",\"image\":\"debian-web\",\"profile\":\"strict\"}", &spec);
	node_spec_profile(&spec, true, p, sizeof(p));
	assert_string_equal(p, "strict"); /* asked for: it wins over the image's own */
	node_spec_profile(&spec, false, p, sizeof(p));
	assert_string_equal(p, "strict");
	parse_ok("{\"name\":\"web1\",\"image\":\"debian-web\"}", &spec);
	node_spec_profile(&spec, true, p, sizeof(p));
	assert_string_equal(p, "debian-web"); /* the image's own */
	node_spec_profile(&spec, false, p, sizeof(p));
	assert_string_equal(p, ""); /* none */
}

/* ---- node_spec_check_publish ---- */

static void test_check_publish(void **st)
{
	struct dock_err e = { 0 };
	struct node_spec spec;

	(void)st;
	parse_ok("{\"name\":\"a\",\"image\":\"micro\",\"publish\":[\"8080:80\",\"53:53/udp\"]}",
		 &spec);
	assert_int_equal(node_spec_check_publish(&spec, &e), 0);
	assert_false(err_isset(&e));
	parse_ok("{\"name\":\"a\",\"image\":\"micro\",\"publish\":[\"8080:80\",\"99999:80\"]}",
		 &spec);
	assert_int_equal(node_spec_check_publish(&spec, &e), -EINVAL);
	assert_int_equal(e.de_status, 400);
	assert_string_equal(e.de_msg, "publish \"99999:80\": host port must be 1..65535");
	err_clear(&e);
	parse_ok("{\"name\":\"a\",\"image\":\"micro\",\"publish\":[\"80:80/sctp\"]}", &spec);
	assert_int_equal(node_spec_check_publish(&spec, &e), -EINVAL);
	assert_string_equal(e.de_msg, "publish \"80:80/sctp\": the protocol must be tcp or udp");
}

/* ---- node_spec_rec ---- */

static void test_rec_defaults(void **st)
{
	struct node_rec r;

	(void)st;
	translate("{\"name\":\"web1\",\"image\":\"micro\"}", 0, 0, "", &r);
	assert_string_equal(r.nr_name, "web1");
	assert_string_equal(r.nr_image, "micro");
	assert_string_equal(r.nr_profile, "");
	assert_int_equal(r.nr_memory_mib, 256);
	assert_int_equal(r.nr_vcpus, 1);
	assert_int_equal(r.nr_scratch_mib, 256);
	assert_int_equal(r.nr_created, NOW);
	assert_int_equal(r.nr_n_published, 0);
	assert_false(r.nr_egress_deny);
	assert_int_equal(r.nr_n_allow, 0);
	assert_int_equal(r.nr_lifetime_s, 0);
	assert_int_equal(r.nr_on_hostile, NODE_ACT_QUARANTINE);
	assert_int_equal(r.nr_on_silent, NODE_ACT_ALERT);
	/* Neither the claim's nor the profile's to set. */
	assert_int_equal(r.nr_subnet, 0);
	assert_string_equal(r.nr_mac, "");
}

static void test_rec_image_sizes(void **st)
{
	struct node_rec r;

	(void)st;
	/* Left out: the image's recommendation. */
	translate("{\"name\":\"w\",\"image\":\"debian-web\"}", 1024, 2048, "debian-web", &r);
	assert_int_equal(r.nr_memory_mib, 1024);
	assert_int_equal(r.nr_scratch_mib, 2048);
	assert_string_equal(r.nr_profile, "debian-web");
	/* Asked for: what was asked, even below the recommendation. */
	translate("{\"name\":\"w\",\"image\":\"debian-web\",\"memory_mib\":512,\"scratch_mib\":64}",
		  1024, 2048, "", &r);
	assert_int_equal(r.nr_memory_mib, 512);
	assert_int_equal(r.nr_scratch_mib, 64);
	/* One asked, one left out. */
	translate("{\"name\":\"w\",\"image\":\"debian-web\",\"memory_mib\":300}", 1024, 2048, "",
		  &r);
	assert_int_equal(r.nr_memory_mib, 300);
	assert_int_equal(r.nr_scratch_mib, 2048);
}

static void test_rec_limits(void **st)
{
	struct node_rec r;

	(void)st;
	/* An image asking for more than the dock allows gets the dock's limit. */
	translate("{\"name\":\"w\",\"image\":\"big\",\"vcpus\":4}", 1 << 20, 1ULL << 40, "", &r);
	assert_int_equal(r.nr_memory_mib, cfg.dc_max_memory_mib);
	assert_int_equal(r.nr_scratch_mib, cfg.dc_max_scratch_mib);
	assert_int_equal(r.nr_vcpus, 4);
}

static void test_rec_network(void **st)
{
	struct node_rec r;

	(void)st;
	translate("{\"name\":\"w\",\"image\":\"micro\",\"publish\":[\"8080:80\",\"53:5353/udp\","
		  "\"443:443/tcp\"],\"egress\":\"deny\",\"egress_allow\":[\"10.0.0.0/8\","
		  "\"192.0.2.1/32\"],\"lifetime_s\":3600}",
		  0, 0, "", &r);
	assert_int_equal(r.nr_n_published, 3);
	assert_string_equal(r.nr_published[0], "8080:80/tcp"); /* canonical form */
	assert_string_equal(r.nr_published[1], "53:5353/udp");
	assert_string_equal(r.nr_published[2], "443:443/tcp");
	assert_true(r.nr_egress_deny);
	assert_int_equal(r.nr_n_allow, 2);
	assert_string_equal(r.nr_egress_allow[0], "10.0.0.0/8");
	assert_string_equal(r.nr_egress_allow[1], "192.0.2.1/32");
	assert_int_equal(r.nr_lifetime_s, 3600);
	assert_true(r.nr_egress_public_only); /* a new node knows */
	/* an allow-list with egress allow, entries with ports */
	translate("{\"name\":\"w\",\"image\":\"micro\",\"egress_allow\":[\"192.168.7.0/24\","
		  "\"255.255.255.255/32:65535/udp\"]}",
		  0, 0, "", &r);
	assert_false(r.nr_egress_deny);
	assert_int_equal(r.nr_n_allow, 2);
	assert_string_equal(r.nr_egress_allow[1], "255.255.255.255/32:65535/udp");
}

static void test_rec_policies(void **st)
{
	struct node_rec r;

	(void)st;
	translate("{\"name\":\"w\",\"image\":\"micro\",\"on_hostile\":\"destroy\","
		  "\"on_silent\":\"cleanse\"}",
		  0, 0, "", &r);
	assert_int_equal(r.nr_on_hostile, NODE_ACT_DESTROY);
	assert_int_equal(r.nr_on_silent, NODE_ACT_CLEANSE);
	translate("{\"name\":\"w\",\"image\":\"micro\",\"on_silent\":\"quarantine\"}", 0, 0, "",
		  &r);
	assert_int_equal(r.nr_on_hostile, NODE_ACT_QUARANTINE); /* the default stays */
	assert_int_equal(r.nr_on_silent, NODE_ACT_QUARANTINE);
}

/* ---- node_spec_on_fail ---- */

static void test_on_fail(void **st)
{
	struct node_spec spec;
	struct node_rec r;

	(void)st;
	memset(&r, 0, sizeof(r));
	parse_ok("{\"name\":\"w\",\"image\":\"micro\"}", &spec);
	r.nr_on_fail = NODE_ACT_DESTROY;
	node_spec_on_fail(&spec, NULL, &r);
	assert_int_equal(r.nr_on_fail, NODE_ACT_ALERT); /* no profile: alert */
	node_spec_on_fail(&spec, "", &r);
	assert_int_equal(r.nr_on_fail, NODE_ACT_ALERT);
	node_spec_on_fail(&spec, "quarantine", &r);
	assert_int_equal(r.nr_on_fail, NODE_ACT_QUARANTINE); /* the profile's default */
	parse_ok("{\"name\":\"w\",\"image\":\"micro\",\"on_fail\":\"cleanse\"}", &spec);
	node_spec_on_fail(&spec, "quarantine", &r);
	assert_int_equal(r.nr_on_fail, NODE_ACT_CLEANSE); /* the request wins */
	node_spec_on_fail(&spec, NULL, &r);
	assert_int_equal(r.nr_on_fail, NODE_ACT_CLEANSE);
}

/* ---- resource limits (resctl.h): the request's members, bounds, errors ---- */

static void parse_bad(const char *json, const char *msg)
{
	struct node_spec spec;
	struct dock_err e = { 0 };

	config_defaults(&cfg);
	if (spec_parse(json, strlen(json), &cfg, &spec, &e) != -EINVAL)
		fail_msg("accepted: %s", json);
	assert_int_equal(e.de_status, 400);
	assert_string_equal(e.de_msg, msg);
}

#define REQ(limits) "{\"name\":\"w\",\"image\":\"micro\"," limits "}"

static void test_limits_parse(void **st)
{
	struct node_spec spec;
	struct node_rec r;
	(void)st;
	/* none asked: none set */
	parse_ok(REQ("\"vcpus\":2"), &spec);
	assert_false(resctl_any(&spec.ns_limits));
	/* every one, in the request's units */
	translate(REQ("\"vcpus\":2,\"cpus\":1.5,\"cpu_weight\":300,"
		      "\"disk\":{\"read_mbps\":50,\"write_mbps\":20,\"read_iops\":1000,"
		      "\"write_iops\":500},\"net\":{\"in_mbps\":100,\"out_mbps\":10}"),
		  0, 0, "", &r);
	assert_int_equal(r.nr_limits.rc_cpu_quota_us, 150000);
	assert_int_equal(r.nr_limits.rc_cpu_weight, 300);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_DISK_READ_MBPS], 50);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_DISK_WRITE_MBPS], 20);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_DISK_READ_IOPS], 1000);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_DISK_WRITE_IOPS], 500);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_NET_IN_MBPS], 100);
	assert_int_equal(r.nr_limits.rc_io[RESCTL_NET_OUT_MBPS], 10);
	/* cpus at its bounds: 0.05, the node's vCPUs (an integer is a number) */
	parse_ok(REQ("\"cpus\":0.05"), &spec);
	assert_int_equal(spec.ns_limits.rc_cpu_quota_us, 5000);
	parse_ok(REQ("\"cpus\":1"), &spec);
	assert_int_equal(spec.ns_limits.rc_cpu_quota_us, 100000);
	parse_ok(REQ("\"cpus\":0.333"), &spec);
	assert_int_equal(spec.ns_limits.rc_cpu_quota_us, 33300);
	parse_ok(REQ("\"cpu_weight\":1,\"net\":{\"out_mbps\":100000}"), &spec);
	assert_int_equal(spec.ns_limits.rc_cpu_weight, 1);
	assert_int_equal(spec.ns_limits.rc_io[RESCTL_NET_OUT_MBPS], 100000);
	/* null is absent, as for the other members */
	parse_ok(REQ("\"cpus\":null,\"disk\":null"), &spec);
	assert_false(resctl_any(&spec.ns_limits));
}

static void test_limits_bad(void **st)
{
	(void)st;
	parse_bad(REQ("\"cpus\":1.5"),
		  "create request: \"cpus\" 1.5 is outside 0.05 to 1 (the node's vCPUs): "
		  "a fraction of one host core for the whole node");
	parse_bad(REQ("\"vcpus\":2,\"cpus\":2.5"),
		  "create request: \"cpus\" 2.5 is outside 0.05 to 2 (the node's vCPUs): "
		  "a fraction of one host core for the whole node");
	parse_bad(REQ("\"cpus\":0.04"),
		  "create request: \"cpus\" 0.04 is outside 0.05 to 1 (the node's vCPUs): "
		  "a fraction of one host core for the whole node");
	parse_bad(REQ("\"cpus\":-1"),
		  "create request: \"cpus\" -1 is outside 0.05 to 1 (the node's vCPUs): "
		  "a fraction of one host core for the whole node");
	parse_bad(REQ("\"cpus\":\"0.5\""),
		  "create request: \"cpus\" must be a number (a fraction of one host core, 0.5)");
	parse_bad(REQ("\"cpus\":true"),
		  "create request: \"cpus\" must be a number (a fraction of one host core, 0.5)");
	parse_bad(REQ("\"cpu_weight\":0"),
		  "create request: \"cpu_weight\" must be a whole number from 1 to 10000");
	parse_bad(REQ("\"cpu_weight\":10001"),
		  "create request: \"cpu_weight\" must be a whole number from 1 to 10000");
	parse_bad(REQ("\"cpu_weight\":2.5"),
		  "create request: \"cpu_weight\" must be a whole number from 1 to 10000");
	parse_bad(REQ("\"disk\":{\"write_mbps\":0}"),
		  "create request: \"disk\".\"write_mbps\" must be a whole number from 1 to "
		  "100000 (MB/s)");
	parse_bad(REQ("\"disk\":{\"read_iops\":1000001}"),
		  "create request: \"disk\".\"read_iops\" must be a whole number from 1 to "
		  "1000000 (IOPS)");
	parse_bad(REQ("\"net\":{\"out_mbps\":\"10\"}"),
		  "create request: \"net\".\"out_mbps\" must be a whole number from 1 to "
		  "100000 (Mbit/s)");
	parse_bad(REQ("\"net\":{\"in_mbps\":-5}"),
		  "create request: \"net\".\"in_mbps\" must be a whole number from 1 to "
		  "100000 (Mbit/s)");
	parse_bad(REQ("\"disk\":{\"wirte_mbps\":5}"),
		  "create request: \"disk\": unknown field \"wirte_mbps\"");
	parse_bad(REQ("\"net\":{\"read_mbps\":5}"),
		  "create request: \"net\": unknown field \"read_mbps\"");
	parse_bad(REQ("\"disk\":5"), "create request: \"disk\" must be an object");
	parse_bad(REQ("\"net\":[1]"), "create request: \"net\" must be an object");
	parse_bad(REQ("\"cpu\":1"), "create request: unknown field \"cpu\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_asked_wins), cmocka_unit_test(test_size_recommended),
		cmocka_unit_test(test_size_limit),      cmocka_unit_test(test_profile_choice),
		cmocka_unit_test(test_check_publish),   cmocka_unit_test(test_rec_defaults),
		cmocka_unit_test(test_rec_image_sizes), cmocka_unit_test(test_rec_limits),
		cmocka_unit_test(test_rec_network),     cmocka_unit_test(test_rec_policies),
		cmocka_unit_test(test_on_fail),         cmocka_unit_test(test_limits_parse),
		cmocka_unit_test(test_limits_bad),
	};

	return cmocka_run_group_tests_name("node-spec", tests, NULL, NULL);
}
