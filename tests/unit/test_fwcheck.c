/* test_fwcheck: the firewall's pure input checks (firewall/fw-check.c),
 * without a kernel: nothing here opens a netlink socket, builds a batch or
 * needs privileges. Good inputs are accepted and turned into the checked
 * form the messages need; every kind of bad input is refused with 400 and
 * the whole message the dock's API would answer with, naming the input.
 * Built with -Icommon -Ifirewall only: no dock header. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fw-int.h"
#include "fw-fields.h"

/* rc and err are a 400 refusal with exactly this message. */
static void assert_refused(int rc, const struct dock_err *err, int errnum, const char *msg)
{
	assert_int_equal(rc, -errnum);
	assert_int_equal(err->de_status, 400);
	assert_int_equal(err->de_errno, errnum);
	assert_string_equal(err->de_msg, msg);
}

static void assert_node_refused(const struct fw_node *n, int errnum, const char *msg)
{
	struct dock_err err = { 0 };

	assert_refused(fw_node_check(n, &err), &err, errnum, msg);
	assert_int_equal(fw_node_check(n, NULL), -errnum); /* err is optional */
}

static void assert_node_ok(const struct fw_node *n)
{
	struct dock_err err = { 0 };

	assert_int_equal(fw_node_check(n, &err), 0);
	assert_false(err_isset(&err));
}

/* ---- a node's fields -------------------------------------------------- */

#define NAME_63 "a123456789b123456789c123456789d123456789e123456789f123456789g12"

static const struct field_case {
	enum field fc_field;
	const char *fc_value;
	int fc_errno; /* 0: accepted */
	const char *fc_msg;
} field_cases[] = {
	/* name: in chain names and log prefixes */
	{ F_NAME, "web-1.a_B", 0, NULL },
	{ F_NAME, NAME_63, 0, NULL },
	{ F_NAME, NULL, EINVAL, "firewall: node name is missing" },
	{ F_NAME, "", EINVAL, "firewall: node name is empty" },
	{ F_NAME, "web 1", EINVAL,
	  "firewall: node name \"web 1\" may only contain A-Z, a-z, 0-9, '.', '_' and '-'" },
	{ F_NAME, "web/1", EINVAL,
	  "firewall: node name \"web/1\" may only contain A-Z, a-z, 0-9, '.', '_' and '-'" },
	/* untrusted text is quoted safely: no control characters, no quotes */
	{ F_NAME, "web\n1", EINVAL,
	  "firewall: node name \"web?1\" may only contain A-Z, a-z, 0-9, '.', '_' and '-'" },
	{ F_NAME, "we\"b", EINVAL,
	  "firewall: node name \"we?b\" may only contain A-Z, a-z, 0-9, '.', '_' and '-'" },
	/* ... and at most 48 characters of it */
	{ F_NAME, NAME_63 "3", ENAMETOOLONG,
	  "firewall: node name \"a123456789b123456789c123456789d123456789e1234567...\" is longer than 63 characters" },
	/* bridge: an interface name */
	{ F_BRIDGE, "iscbr0123456789", 0, NULL },
	{ F_BRIDGE, "isc-br0", 0, NULL },
	{ F_BRIDGE, NULL, EINVAL, "node web1: bridge is missing" },
	{ F_BRIDGE, "", EINVAL, "node web1: bridge is empty" },
	{ F_BRIDGE, "iscbr0123456789a", ENAMETOOLONG,
	  "node web1: bridge \"iscbr0123456789a\" is longer than 15 characters" },
	{ F_BRIDGE, "ISCBR0", EINVAL,
	  "node web1: bridge \"ISCBR0\" may only contain a-z, 0-9 and '-'" },
	{ F_BRIDGE, "isc_br0", EINVAL,
	  "node web1: bridge \"isc_br0\" may only contain a-z, 0-9 and '-'" },
	{ F_BRIDGE, "isc.br0", EINVAL,
	  "node web1: bridge \"isc.br0\" may only contain a-z, 0-9 and '-'" },
	/* subnet: a CIDR, /8 to /30, host bits zero, nobody's range refused */
	{ F_SUBNET, "10.0.0.0/8", 0, NULL },
	{ F_SUBNET, "10.231.0.0/30", 0, NULL },
	{ F_SUBNET, NULL, EINVAL, "node web1: subnet is missing" },
	{ F_SUBNET, "", EINVAL, "node web1: subnet \"\" has no /prefix" },
	{ F_SUBNET, "10.231.0.0", EINVAL, "node web1: subnet \"10.231.0.0\" has no /prefix" },
	{ F_SUBNET, "10.231.0/29", EINVAL,
	  "node web1: subnet \"10.231.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "10.231.0.0.0/29", EINVAL,
	  "node web1: subnet \"10.231.0.0.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "300.231.0.0/29", EINVAL,
	  "node web1: subnet \"300.231.0.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, " 10.231.0.0/29", EINVAL,
	  "node web1: subnet \" 10.231.0.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "010.231.0.0/29", EINVAL,
	  "node web1: subnet \"010.231.0.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "0x0a.231.0.0/29", EINVAL,
	  "node web1: subnet \"0x0a.231.0.0/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "1234567890123456/29", EINVAL,
	  "node web1: subnet \"1234567890123456/29\" is not an IPv4 CIDR" },
	{ F_SUBNET, "10.231.0.0/", EINVAL,
	  "node web1: subnet \"10.231.0.0/\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.0/029", EINVAL,
	  "node web1: subnet \"10.231.0.0/029\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.0/+29", EINVAL,
	  "node web1: subnet \"10.231.0.0/+29\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.0/29 ", EINVAL,
	  "node web1: subnet \"10.231.0.0/29 \" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.0.0.0/7", EINVAL,
	  "node web1: subnet \"10.0.0.0/7\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.0/31", EINVAL,
	  "node web1: subnet \"10.231.0.0/31\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.0/100", EINVAL,
	  "node web1: subnet \"10.231.0.0/100\" needs a prefix of /8 to /30" },
	{ F_SUBNET, "10.231.0.1/29", EINVAL,
	  "node web1: subnet \"10.231.0.1/29\" has host bits set (the network is 10.231.0.0/29)" },
	{ F_SUBNET, "0.0.0.0/8", EINVAL,
	  "node web1: subnet \"0.0.0.0/8\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3" },
	{ F_SUBNET, "127.0.0.0/8", EINVAL,
	  "node web1: subnet \"127.0.0.0/8\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3" },
	{ F_SUBNET, "224.0.0.0/8", EINVAL,
	  "node web1: subnet \"224.0.0.0/8\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3" },
	{ F_SUBNET, "255.255.255.248/29", EINVAL,
	  "node web1: subnet \"255.255.255.248/29\" is in 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3" },
	/* address: a host address of the subnet, not the gateway */
	{ F_IP, "10.231.0.6", 0, NULL },
	{ F_IP, NULL, EINVAL, "node web1: address is missing" },
	{ F_IP, "10.231.0", EINVAL, "node web1: address \"10.231.0\" is not an IPv4 address" },
	{ F_IP, "10.231.0.0", EINVAL,
	  "node web1: address 10.231.0.0 is not a host address of subnet 10.231.0.0/29" },
	{ F_IP, "10.231.0.7", EINVAL,
	  "node web1: address 10.231.0.7 is not a host address of subnet 10.231.0.0/29" },
	{ F_IP, "10.231.0.9", EINVAL,
	  "node web1: address 10.231.0.9 is not a host address of subnet 10.231.0.0/29" },
	{ F_IP, "10.231.0.1", EINVAL, "node web1: address and gateway are both 10.231.0.1" },
	/* gateway: the same rules */
	{ F_GW, "10.231.0.6", 0, NULL },
	{ F_GW, NULL, EINVAL, "node web1: gateway is missing" },
	{ F_GW, "gw", EINVAL, "node web1: gateway \"gw\" is not an IPv4 address" },
	{ F_GW, "10.231.0.7", EINVAL,
	  "node web1: gateway 10.231.0.7 is not a host address of subnet 10.231.0.0/29" },
	{ F_GW, "10.231.1.1", EINVAL,
	  "node web1: gateway 10.231.1.1 is not a host address of subnet 10.231.0.0/29" },
	{ F_GW, "10.231.0.2", EINVAL, "node web1: address and gateway are both 10.231.0.2" },
	/* MAC: xx:xx:xx:xx:xx:xx of either case, unicast, not all zero */
	{ F_MAC, "52:54:00:AB:cd:Ef", 0, NULL },
	{ F_MAC, NULL, EINVAL, "node web1: MAC is missing" },
	{ F_MAC, "52:54:00:00:00", EINVAL,
	  "node web1: MAC \"52:54:00:00:00\" is not xx:xx:xx:xx:xx:xx" },
	{ F_MAC, "52-54-00-00-00-02", EINVAL,
	  "node web1: MAC \"52-54-00-00-00-02\" is not xx:xx:xx:xx:xx:xx" },
	{ F_MAC, "52:54:00:00:00:0g", EINVAL,
	  "node web1: MAC \"52:54:00:00:00:0g\" is not xx:xx:xx:xx:xx:xx" },
	{ F_MAC, "52:54:00:00:00:021", EINVAL,
	  "node web1: MAC \"52:54:00:00:00:021\" is not xx:xx:xx:xx:xx:xx" },
	{ F_MAC, "53:54:00:00:00:02", EINVAL,
	  "node web1: MAC 53:54:00:00:00:02 is not a unicast address" },
	{ F_MAC, "00:00:00:00:00:00", EINVAL,
	  "node web1: MAC 00:00:00:00:00:00 is not a unicast address" },
};

static void test_node_fields(void **state)
{
	(void)state;
	assert_node_ok(&n0);
	assert_node_ok(&n1);
	for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
		const struct field_case *c = &field_cases[i];
		struct fw_node n = n0;

		set_field(&n, c->fc_field, c->fc_value);
		if (c->fc_errno == 0)
			assert_node_ok(&n);
		else
			assert_node_refused(&n, c->fc_errno, c->fc_msg);
	}
}

static void test_node_missing(void **state)
{
	struct dock_err err = { 0 };

	(void)state;
	assert_refused(fw_node_check(NULL, &err), &err, EINVAL, "firewall: node is missing");
}

/* The first bad field, in the order of the record, is the one named. */
static void test_node_first_error(void **state)
{
	struct fw_node n = n0;

	(void)state;
	n.fn_bridge = "";
	n.fn_mac = NULL;
	assert_node_refused(&n, EINVAL, "node web1: bridge is empty");
	n = n0;
	n.fn_ip = "10.231.0.1";
	n.fn_gateway = "gw";
	assert_node_refused(&n, EINVAL, "node web1: gateway \"gw\" is not an IPv4 address");
}

/* The checked form: what the messages are built from. */
static void test_node_parse(void **state)
{
	static const struct fw_publish pub[] = { { IPPROTO_TCP, 8080, 80 } };
	static const char *const allow[] = { "192.0.2.0/24", "198.51.100.7" };
	static const char bridge[IFNAMSIZ] = "iscbr0";
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 };
	struct fw_node n = n0;
	struct dock_err err = { 0 };
	struct fw_info fi;

	(void)state;
	n.fn_published = pub;
	n.fn_npublished = 1;
	n.fn_egress_deny = true;
	n.fn_egress_allow = allow;
	n.fn_negress_allow = 2;
	n.fn_quarantined = true;
	memset(&fi, 0xff, sizeof(fi));
	assert_int_equal(fw_node_parse(&n, &fi, &err), 0);
	assert_string_equal(fi.fi_name, "web1");
	assert_memory_equal(fi.fi_bridge, bridge, IFNAMSIZ); /* zero-padded: a whole key */
	assert_string_equal(fi.fi_chain, "node-web1");
	assert_string_equal(fi.fi_cidr, "10.231.0.0/29");
	assert_int_equal(fi.fi_first, 0x0ae70000);
	assert_int_equal(fi.fi_end, 0x0ae70008);
	assert_int_equal(fi.fi_ip, 0x0ae70002);
	assert_int_equal(fi.fi_gateway, 0x0ae70001);
	assert_memory_equal(fi.fi_mac, mac, 6);
	assert_ptr_equal(fi.fi_pub, pub);
	assert_int_equal(fi.fi_npub, 1);
	assert_true(fi.fi_deny);
	assert_int_equal(fi.fi_nallow, 2);
	assert_int_equal(fi.fi_allow[0].r_first, 0xc0000200);
	assert_int_equal(fi.fi_allow[0].r_last, 0xc00002ff);
	assert_int_equal(fi.fi_allow[1].r_first, 0xc6336407);
	assert_int_equal(fi.fi_allow[1].r_last, 0xc6336407);
	assert_true(fi.fi_quarantined);
}

/* ---- published ports ---------------------------------------------------- */

static void test_node_publishes(void **state)
{
	static const struct fw_publish ok[] = { { IPPROTO_TCP, 8080, 80 },
						{ IPPROTO_UDP, 8080, 80 },
						{ IPPROTO_TCP, 8081, 80 },
						{ IPPROTO_TCP, 65535, 65535 } };
	static const struct fw_publish twice[] = { { IPPROTO_TCP, 8080, 80 },
						   { IPPROTO_TCP, 8080, 81 } };
	static const struct fw_publish zero_host = { IPPROTO_TCP, 0, 80 };
	static const struct fw_publish zero_node = { IPPROTO_UDP, 53, 0 };
	static const struct fw_publish sctp = { 132, 80, 80 };
	static struct fw_publish lots[FW_PUBLISH_MAX + 1];
	struct fw_node n = n0;

	(void)state;
	for (size_t i = 0; i <= FW_PUBLISH_MAX; i++)
		lots[i] = (struct fw_publish){ IPPROTO_TCP, (uint16_t)(1000 + i), 80 };
	n.fn_published = ok;
	n.fn_npublished = 4;
	assert_node_ok(&n);
	n.fn_published = lots;
	n.fn_npublished = FW_PUBLISH_MAX;
	assert_node_ok(&n);
	n.fn_npublished = FW_PUBLISH_MAX + 1;
	assert_node_refused(&n, E2BIG, "node web1: 65 published ports, more than 64");
	n.fn_published = NULL;
	n.fn_npublished = 1;
	assert_node_refused(&n, EINVAL, "node web1: 1 published ports but no list");
	n.fn_published = twice;
	n.fn_npublished = 2;
	assert_node_refused(
		&n, EINVAL,
		"publish web1 8080:81/tcp: host port 8080/tcp is already published by node web1 (8080:80/tcp)");
	n.fn_published = &zero_host;
	n.fn_npublished = 1;
	assert_node_refused(&n, EINVAL, "publish web1 0:80/tcp: ports must be 1..65535");
	n.fn_published = &zero_node;
	assert_node_refused(&n, EINVAL, "publish web1 53:0/udp: ports must be 1..65535");
	n.fn_published = &sctp;
	assert_node_refused(&n, EINVAL,
			    "publish web1 80:80: the protocol must be tcp or udp (not 132)");
}

static void test_publish_parse(void **state)
{
	static const struct {
		const char *spec;
		uint8_t proto;
		uint16_t host, node;
		const char *formatted;
	} ok[] = {
		{ "8080:80", IPPROTO_TCP, 8080, 80, "8080:80/tcp" },
		{ "8080:80/tcp", IPPROTO_TCP, 8080, 80, "8080:80/tcp" },
		{ "5353:53/udp", IPPROTO_UDP, 5353, 53, "5353:53/udp" },
		{ "65535:1", IPPROTO_TCP, 65535, 1, "65535:1/tcp" },
	};
	static const struct {
		const char *spec;
		const char *msg;
	} bad[] = {
		{ NULL, "publish: HOSTPORT:NODEPORT is missing" },
		{ "", "publish \"\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
		{ "8080", "publish \"8080\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
		{ "8080/tcp:80", "publish \"8080/tcp:80\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
		{ "12345678:80", "publish \"12345678:80\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
		{ "80:12345678", "publish \"80:12345678\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
		{ "8080:80/sctp", "publish \"8080:80/sctp\": the protocol must be tcp or udp" },
		{ "8080:80/TCP", "publish \"8080:80/TCP\": the protocol must be tcp or udp" },
		{ "8080:80/", "publish \"8080:80/\": the protocol must be tcp or udp" },
		{ ":80", "publish \":80\": host port must be 1..65535" },
		{ "0:80", "publish \"0:80\": host port must be 1..65535" },
		{ "080:80", "publish \"080:80\": host port must be 1..65535" },
		{ "65536:80", "publish \"65536:80\": host port must be 1..65535" },
		{ "-1:80", "publish \"-1:80\": host port must be 1..65535" },
		{ "8080:", "publish \"8080:\": node port must be 1..65535" },
		{ "8080:0", "publish \"8080:0\": node port must be 1..65535" },
		{ "8080:8o", "publish \"8080:8o\": node port must be 1..65535" },
		{ "8080:65536/udp", "publish \"8080:65536/udp\": node port must be 1..65535" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fw_publish p = { 0 };
		struct dock_err err = { 0 };
		char buf[24];

		assert_int_equal(fw_publish_parse(ok[i].spec, &p, &err), 0);
		assert_int_equal(p.fp_proto, ok[i].proto);
		assert_int_equal(p.fp_host_port, ok[i].host);
		assert_int_equal(p.fp_node_port, ok[i].node);
		fw_publish_format(&p, buf, sizeof(buf));
		assert_string_equal(buf, ok[i].formatted);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fw_publish p = { IPPROTO_UDP, 1, 2 };
		struct dock_err err = { 0 };

		assert_refused(fw_publish_parse(bad[i].spec, &p, &err), &err, EINVAL, bad[i].msg);
		assert_int_equal(p.fp_proto, IPPROTO_UDP); /* untouched on failure */
		assert_int_equal(p.fp_host_port, 1);
		assert_int_equal(p.fp_node_port, 2);
	}
}

/* ---- egress allow-lists ------------------------------------------------- */

static void test_node_allow(void **state)
{
	static const char *const two[] = { "192.0.2.0/24", "198.51.100.7" };
	static const char *const bad_prefix[] = { "192.0.2.0/33" };
	static const char *const host_bits[] = { "192.0.2.1/24" };
	static const char *const not_ip[] = { "example.com" };
	static const char *const missing[] = { "192.0.2.0/24", NULL };
	static const char *const overlap[] = { "10.0.0.0/8", "192.0.2.0/24", "10.9.0.0/16" };
	static const char *many[FW_ALLOW_MAX + 1];
	struct fw_node n = n0;

	(void)state;
	for (size_t i = 0; i <= FW_ALLOW_MAX; i++)
		many[i] = "192.0.2.1";
	n.fn_egress_deny = true;
	assert_node_ok(&n); /* deny without an allow-list */
	n.fn_egress_allow = two;
	n.fn_negress_allow = 2;
	assert_node_ok(&n);
	n.fn_egress_deny = false;
	assert_node_ok(&n); /* with egress allow it opens private ranges */
	n.fn_egress_allow = many;
	n.fn_negress_allow = FW_ALLOW_MAX + 1;
	assert_node_refused(&n, E2BIG, "egress web1: 65 allowed destinations, more than 64");
	n.fn_egress_deny = true;
	assert_node_refused(&n, E2BIG, "egress web1: 65 allowed destinations, more than 64");
	n.fn_egress_allow = NULL;
	n.fn_negress_allow = 1;
	assert_node_refused(&n, EINVAL, "egress web1: 1 allowed destinations but no list");
	n.fn_egress_allow = bad_prefix;
	assert_node_refused(
		&n, EINVAL,
		"egress web1: allowed destination \"192.0.2.0/33\" needs a prefix of /0 to /32");
	n.fn_egress_allow = host_bits;
	assert_node_refused(
		&n, EINVAL,
		"egress web1: allowed destination \"192.0.2.1/24\" has host bits set (the network is 192.0.2.0/24)");
	n.fn_egress_allow = not_ip;
	assert_node_refused(
		&n, EINVAL,
		"egress web1: allowed destination \"example.com\": a name needs a port (NAME:PORT[/tcp|/udp])");
	n.fn_egress_allow = missing;
	n.fn_negress_allow = 2;
	assert_node_refused(&n, EINVAL, "egress web1: allowed destination is missing");
	n.fn_egress_allow = overlap;
	n.fn_negress_allow = 3;
	assert_node_refused(&n, EINVAL,
			    "egress web1: allowed destination 10.9.0.0/16 overlaps 10.0.0.0/8");
}

/* Entries with a port: CIDR:PORT[/tcp|/udp]; two entries overlap when
 * their addresses do and their ports do (no port: all of them). */
static void test_allow_ports(void **state)
{
	static const char *const ok[] = { "10.9.9.9:5432/tcp", "10.9.9.9:5432/udp",
					  "10.9.9.0/24:80", "169.254.169.254:53/udp" };
	static const char *const bad[][2] = {
		{ "10.9.9.9:0/tcp",
		  "egress web1: allowed destination \"10.9.9.9:0/tcp\": the port must be 1..65535" },
		{ "10.9.9.9:65536",
		  "egress web1: allowed destination \"10.9.9.9:65536\": the port must be 1..65535" },
		{ "10.9.9.9:53/icmp",
		  "egress web1: allowed destination \"10.9.9.9:53/icmp\": the protocol must be tcp or udp" },
		{ "10.9.9.9:",
		  "egress web1: allowed destination \"10.9.9.9:\": the port must be 1..65535" },
		{ "10.9.9.9:123456789",
		  "egress web1: allowed destination \"10.9.9.9:123456789\": expected CIDR[:PORT[/tcp|/udp]]" },
		{ "10.9.9.1/24:80",
		  "egress web1: allowed destination \"10.9.9.1/24\" has host bits set (the network is 10.9.9.0/24)" },
	};
	static const char *const overlap[] = { "10.9.9.9:5432/tcp", "10.9.9.0/24" };
	struct dock_err err = { 0 };
	struct fw_info fi;

	(void)state;
	assert_int_equal(fw_node_parse(&n0, &fi, &err), 0);
	assert_int_equal(fw_parse_allow(&fi, false, ok, 4, &err), 0);
	assert_false(fi.fi_deny);
	assert_int_equal(fi.fi_allow[0].r_first, 0x0a090909);
	assert_int_equal(fi.fi_allow[0].r_proto, IPPROTO_TCP);
	assert_int_equal(fi.fi_allow[0].r_port, 5432);
	assert_int_equal(fi.fi_allow[1].r_proto, IPPROTO_UDP);
	assert_int_equal(fi.fi_allow[2].r_last, 0x0a0909ff);
	assert_int_equal(fi.fi_allow[2].r_proto, IPPROTO_TCP); /* tcp when omitted */
	assert_int_equal(fi.fi_allow[2].r_port, 80);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		assert_refused(fw_parse_allow(&fi, false, &bad[i][0], 1, &err), &err, EINVAL,
			       bad[i][1]);
	}
	err_clear(&err);
	assert_refused(fw_parse_allow(&fi, true, overlap, 2, &err), &err, EINVAL,
		       "egress web1: allowed destination 10.9.9.0/24 overlaps 10.9.9.9:5432/tcp");
}

/* Allow entries by name: checked strictly (RFC 1123, a port), their set
 * and dnsmasq options; fw_parse_allow still refuses them, told as such. */
static void test_name_entries(void **state)
{
	static const char *const bad[] = {
		"deb.debian.org",       /* no port */
		"Deb.debian.org:443",   /* upper case */
		"-deb.debian.org:443",  /* label starts with '-' */
		"deb-.debian.org:443",  /* ends with '-' */
		"debian:443",           /* one label */
		"deb..debian.org:443",  /* empty label */
		"deb.debian.org.:443",  /* trailing dot */
		"deb_x.debian.org:443", /* '_' */
		"deb.debian.org:0",     /* port */
		"deb.debian.org:443/icmp",
		"a.123:80", /* numeric last label */
	};
	static const char *const one[] = { "deb.debian.org:443/tcp" };
	static const char *const twice[] = { "deb.debian.org:443/tcp", "deb.debian.org:443" };
	static const char *const badname[] = { "Bad_Name:80" };
	static const char *const mixed[] = { "deb.debian.org:443/tcp", "10.9.9.0/24:22",
					     "ntp.example.test:123/udp" };
	char long_label[80], set[FW_NAME_SET_MAX], server[300], nftset[300];
	struct fw_name_entry e;
	struct dock_err err = { 0 };
	static struct fw_info fi, fj;

	(void)state;
	assert_true(fw_name_entry_is("deb.debian.org:443"));
	assert_false(fw_name_entry_is("10.9.9.9:443/tcp"));
	assert_false(fw_name_entry_is("10.9.9.0/24"));
	assert_int_equal(fw_name_entry_parse("w", "deb.debian.org:443", &e, &err), 0);
	assert_string_equal(e.ne_host, "deb.debian.org");
	assert_int_equal(e.ne_port, 443);
	assert_int_equal(e.ne_proto, IPPROTO_TCP);
	assert_int_equal(fw_name_entry_parse("w", "ntp.example.test:123/udp", &e, &err), 0);
	assert_int_equal(e.ne_proto, IPPROTO_UDP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		assert_true(fw_name_entry_parse("w", bad[i], &e, &err) < 0);
		assert_int_equal(err.de_status, 400);
	}
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".test:80");
	err_clear(&err);
	assert_true(fw_name_entry_parse("w", long_label, &e, &err) < 0);
	assert_true(fw_name_host_ok("name.test"));
	assert_int_equal(fw_name_set("isc-br7", 3, set, sizeof(set)), 0);
	assert_string_equal(set, "names_isc-br7_3");
	assert_int_equal(fw_name_entry_parse("w", "name.test:80/tcp", &e, &err), 0);
	assert_int_equal(fw_name_dnsmasq(&e, "isc-br7", 0, "10.0.0.53", server, sizeof(server),
					 nftset, sizeof(nftset)),
			 0);
	assert_string_equal(server, "server=/name.test/10.0.0.53");
	assert_string_equal(nftset, "nftset=/name.test/4#inet#isc#names_isc-br7_0");
	assert_int_equal(fw_node_parse(&n0, &fi, &err), 0);
	/* names go to fi_names, addresses to fi_allow, in the list's order */
	assert_int_equal(fw_parse_allow(&fi, true, mixed, 3, &err), 0);
	assert_int_equal(fi.fi_nallow, 1);
	assert_int_equal(fi.fi_nnames, 2);
	assert_string_equal(fi.fi_names[0].ne_host, "deb.debian.org");
	assert_int_equal(fi.fi_names[1].ne_proto, IPPROTO_UDP);
	assert_string_equal(fi.fi_names_chain, "names-iscbr0");
	fw_name_format(&fi.fi_names[1], server, sizeof(server));
	assert_string_equal(server, "ntp.example.test:123/udp");
	assert_int_equal(fw_node_parse(&n0, &fj, &err), 0);
	assert_false(fw_names_same(&fi, &fj));
	assert_int_equal(fw_parse_allow(&fj, false, mixed, 3, &err), 0);
	assert_true(fw_names_same(&fi, &fj));
	assert_int_equal(fw_parse_allow(&fj, false, one, 1, &err), 0);
	assert_false(fw_names_same(&fi, &fj));
	err_clear(&err);
	assert_refused(fw_parse_allow(&fi, true, twice, 2, &err), &err, EINVAL,
		       "egress web1: allowed destination \"deb.debian.org:443\" is given twice");
	err_clear(&err);
	assert_refused(
		fw_parse_allow(&fi, true, badname, 1, &err), &err, EINVAL,
		"egress web1: allowed destination \"Bad_Name:80\": not a host name (RFC 1123, "
		"lower case, at least two labels)");
}

/* The resolver's options: a server= line a host and one nftset= line
 * naming every set of that host's entries (dnsmasq uses one nftset= a
 * name), then cache-size=0. */
static void test_names_dnsmasq(void **state)
{
	static const char *const allow[] = { "allowed.test:80/tcp", "10.9.9.0/24",
					     "other.test:53/udp", "allowed.test:443/tcp" };
	struct fw_node n = n0;
	struct dock_err err = { 0 };
	size_t nnames = 0;
	char *out = NULL;

	(void)state;
	n.fn_egress_allow = allow;
	n.fn_negress_allow = 4;
	assert_int_equal(fw_names_dnsmasq(&n, "10.0.0.53", &out, &nnames, &err), 0);
	assert_int_equal(nnames, 3);
	assert_string_equal(out,
			    "server=/allowed.test/10.0.0.53\n"
			    "nftset=/allowed.test/4#inet#isc#names_iscbr0_0,"
			    "4#inet#isc#names_iscbr0_2\n"
			    "server=/other.test/10.0.0.53\n"
			    "nftset=/other.test/4#inet#isc#names_iscbr0_1\n"
			    "cache-size=0\n");
	free(out);
	assert_refused(fw_names_dnsmasq(&n, "name.test", &out, &nnames, &err), &err, EINVAL,
		       "node web1: the resolver's upstream is no IPv4 address");
	assert_null(out);
}

/* The private ranges: built-in, then extra, merged into disjoint intervals. */
static void test_private_ranges(void **state)
{
	static const char *const extra[] = { "10.231.0.0/16", "198.18.0.0/15", "192.0.2.0/24",
					     "172.32.0.0/12", "255.255.255.254/31" };
	static const char *const bad[] = { "198.18.0.1/15" };
	struct fw_range r[FW_PRIVATE_MAX];
	struct dock_err err = { 0 };
	size_t n = 0;

	(void)state;
	assert_int_equal(fw_private_ranges(NULL, 0, r, &n, &err), 0);
	assert_int_equal(n, 9);
	assert_int_equal(r[0].r_first, 0x00000000); /* 0/8 */
	assert_int_equal(r[0].r_last, 0x00ffffff);
	assert_int_equal(r[4].r_first, 0xa9fe0000); /* 169.254/16 */
	assert_int_equal(r[7].r_first, 0xe0000000); /* 224/4 */
	assert_int_equal(r[7].r_last, 0xefffffff);
	assert_int_equal(r[8].r_first, 0xffffffff); /* broadcast */
	assert_int_equal(r[8].r_last, 0xffffffff);
	/* the pool inside 10/8 disappears, 172.16/12 and 172.32/12 become
	 * one, 255.255.255.254/31 swallows the broadcast */
	assert_int_equal(fw_private_ranges(extra, 5, r, &n, &err), 0);
	assert_int_equal(n, 11);
	assert_int_equal(r[1].r_first, 0x0a000000);
	assert_int_equal(r[1].r_last, 0x0affffff);
	assert_int_equal(r[5].r_first, 0xac100000);
	assert_int_equal(r[5].r_last, 0xac2fffff);
	assert_int_equal(r[6].r_first, 0xc0000200); /* 192.0.2/24 before 192.168/16 */
	assert_int_equal(r[8].r_first, 0xc6120000);
	assert_int_equal(r[8].r_last, 0xc613ffff);
	assert_int_equal(r[9].r_first, 0xe0000000);
	assert_int_equal(r[n - 1].r_last, 0xffffffff);
	assert_refused(
		fw_private_ranges(bad, 1, r, &n, &err), &err, EINVAL,
		"firewall: private range \"198.18.0.1/15\" has host bits set (the network is 198.18.0.0/15)");
}

/* fw_set_egress's check: the node's new allow-list replaces the old one,
 * and a refused one leaves the checked node as it was. */
static void test_parse_allow(void **state)
{
	static const char *const all[] = { "0.0.0.0/0" };
	static const char *const edges[] = { "0.0.0.0", "255.255.255.255/32", "10.0.0.0/31" };
	static const char *const overlap[] = { "0.0.0.0/0", "10.0.0.1" };
	struct dock_err err = { 0 };
	struct fw_info fi;

	(void)state;
	assert_int_equal(fw_node_parse(&n0, &fi, &err), 0);
	assert_false(fi.fi_deny);
	assert_int_equal(fw_parse_allow(&fi, true, all, 1, &err), 0);
	assert_true(fi.fi_deny);
	assert_int_equal(fi.fi_nallow, 1);
	assert_int_equal(fi.fi_allow[0].r_first, 0);
	assert_int_equal(fi.fi_allow[0].r_last, 0xffffffff);
	assert_int_equal(fw_parse_allow(&fi, true, edges, 3, &err), 0);
	assert_int_equal(fi.fi_nallow, 3);
	assert_int_equal(fi.fi_allow[0].r_last, 0);
	assert_int_equal(fi.fi_allow[1].r_first, 0xffffffff);
	assert_int_equal(fi.fi_allow[2].r_first, 0x0a000000);
	assert_int_equal(fi.fi_allow[2].r_last, 0x0a000001);
	assert_int_equal(fw_parse_allow(&fi, false, NULL, 0, &err), 0);
	assert_false(fi.fi_deny);
	assert_int_equal(fi.fi_nallow, 0);
	assert_false(err_isset(&err));
	assert_refused(fw_parse_allow(&fi, true, overlap, 2, &err), &err, EINVAL,
		       "egress web1: allowed destination 10.0.0.1 overlaps 0.0.0.0/0");
	assert_false(fi.fi_deny);
	assert_int_equal(fi.fi_nallow, 0);
}

/* ---- fw_init's list of nodes -------------------------------------------- */

static int init_check(const struct fw_node *nodes, size_t n, struct dock_err *err)
{
	struct fw_info fi[4];

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fw_node_parse(&nodes[i], &fi[i], err), 0);
	return fw_init_check(fi, n, err);
}

static void test_init_check(void **state)
{
	static const struct fw_publish web_8080 = { IPPROTO_TCP, 8080, 80 };
	static const struct fw_publish db_8080 = { IPPROTO_TCP, 8080, 81 };
	static const struct fw_publish db_8080_udp = { IPPROTO_UDP, 8080, 81 };
	struct fw_node nodes[3] = { n0, n1,
				    NODE("cache", "iscbr2", "10.231.0.16/29", "10.231.0.18",
					 "52:54:00:00:00:12", "10.231.0.17") };
	struct dock_err err = { 0 };

	(void)state;
	assert_int_equal(init_check(nodes, 0, &err), 0);
	assert_int_equal(init_check(nodes, 3, &err), 0);
	nodes[0].fn_published = &web_8080;
	nodes[0].fn_npublished = 1;
	nodes[1].fn_published = &db_8080_udp;
	nodes[1].fn_npublished = 1;
	assert_int_equal(init_check(nodes, 3, &err), 0); /* another protocol */
	assert_false(err_isset(&err));

	nodes[1].fn_published = &db_8080;
	assert_refused(
		init_check(nodes, 3, &err), &err, EINVAL,
		"publish db 8080:81/tcp: host port 8080/tcp is already published by node web1");
	err_clear(&err);
	nodes[1] = n1;
	nodes[2].fn_name = "web1";
	assert_refused(init_check(nodes, 3, &err), &err, EINVAL,
		       "node web1: the name is twice in the list");
	err_clear(&err);
	nodes[2].fn_name = "cache";
	nodes[2].fn_bridge = "iscbr1";
	assert_refused(init_check(nodes, 3, &err), &err, EINVAL,
		       "node cache: bridge iscbr1 is node db's too");
	err_clear(&err);
	nodes[2].fn_bridge = "iscbr2";
	nodes[2].fn_subnet_cidr = "10.231.0.0/27";
	assert_refused(
		init_check(nodes, 3, &err), &err, EINVAL,
		"node cache: subnet 10.231.0.0/27 overlaps node web1's subnet 10.231.0.0/29");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_fields),      cmocka_unit_test(test_node_missing),
		cmocka_unit_test(test_node_first_error), cmocka_unit_test(test_node_parse),
		cmocka_unit_test(test_node_publishes),   cmocka_unit_test(test_publish_parse),
		cmocka_unit_test(test_node_allow),       cmocka_unit_test(test_parse_allow),
		cmocka_unit_test(test_init_check),       cmocka_unit_test(test_allow_ports),
		cmocka_unit_test(test_private_ranges),   cmocka_unit_test(test_name_entries),
		cmocka_unit_test(test_names_dnsmasq),
	};

	return cmocka_run_group_tests_name("fwcheck", tests, NULL, NULL);
}
