/* test_fw: firewall/fw.c against the real kernel and against expected
 * files. The test enters a network namespace of its own before anything
 * else (and its CLI refuses to run in the host's), so it starts from an
 * empty ruleset and never touches the host's. Rule generation is compared
 * with the .batch files of tests/fw/expected (fw_dryrun: the messages,
 * decoded from their bytes), the kernel's result with its .nft files (what
 * `nft -s list table inet isc` prints), fw_show with .txt and .json.
 * FW_EXPECTED_DIR names that directory (default tests/fw/expected);
 * FW_EXPECTED_UPDATE=1 rewrites the files instead of comparing (review the
 * diff). With arguments it is a small CLI for tests/fw/fw-selftest.sh and
 * tests/fw/bench.sh (see usage()). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "fw.h"
#include "fw-fields.h"

#define OUT_MAX (1 << 20)

/* ---- fixtures ------------------------------------------------------------ */

static const struct fw_node n2 = NODE("cache", "iscbr2", "10.231.0.16/29", "10.231.0.18",
				      "52:54:00:00:00:12", "10.231.0.17");

static const struct fw_publish web_80 = { IPPROTO_TCP, 8080, 80 };
static const struct fw_publish web_80b = { IPPROTO_TCP, 8081, 80 };
static const struct fw_publish dns_53 = { IPPROTO_UDP, 5353, 53 };
static const char *const allow_two[] = { "192.0.2.0/24", "198.51.100.7" };

/* web1 publishing 8080, egress denied but to two destinations; db
 * quarantined: the table of firewall/README.md. */
static void policy_nodes(struct fw_node out[2], struct fw_publish *pub)
{
	*pub = web_80;
	out[0] = n0;
	out[0].fn_published = pub;
	out[0].fn_npublished = 1;
	out[0].fn_egress_deny = true;
	out[0].fn_egress_allow = allow_two;
	out[0].fn_negress_allow = 2;
	out[1] = n1;
	out[1].fn_quarantined = true;
}

/* Tables that are not the dock's: every call must leave them as they are,
 * even with names that match ours. */
static const char others[] =
	"table ip filter {\n"
	"  set blocked { type ipv4_addr; elements = { 192.0.2.7 }; }\n"
	"  chain forward { type filter hook forward priority 0; policy accept;\n"
	"    ip saddr @blocked counter drop; }\n"
	"}\n"
	"table inet other {\n"
	"  set node_bridges { type ifname; elements = { \"iscbr0\" }; }\n"
	"  chain forward { type filter hook forward priority 10; policy accept;\n"
	"    iifname @node_bridges counter accept; }\n"
	"}\n";
static char *others_before;

/* ---- helpers ------------------------------------------------------------- */

/* Run a shell command, return its exit status and its output (stdout and
 * stderr) in a malloc'd string. */
static int sh(const char *cmd, char **out)
{
	char *buf = calloc(1, OUT_MAX), full[512];
	size_t n = 0, k;
	FILE *p;
	int st;

	assert_non_null(buf);
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	assert_non_null(p);
	while ((k = fread(buf + n, 1, OUT_MAX - 1 - n, p)) > 0)
		n += k;
	assert_true(n < OUT_MAX - 1);
	st = pclose(p);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void nft_apply(const char *text)
{
	FILE *p = popen("nft -f -", "w");

	assert_non_null(p);
	fputs(text, p);
	assert_int_equal(pclose(p), 0);
}

static char *isc_table(void)
{
	char *out;

	assert_int_equal(sh("nft -s list table inet isc", &out), 0);
	return out;
}

static char *ruleset(void)
{
	char *out;

	assert_int_equal(sh("nft -s list ruleset", &out), 0);
	return out;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, OUT_MAX);
	assert_non_null(buf);
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* got equals tests/fw/expected/NAME (or becomes it, with FW_EXPECTED_UPDATE). */
static void assert_expected(const char *name, const char *got)
{
	const char *dir = getenv("FW_EXPECTED_DIR");
	char path[512], *want;

	snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/fw/expected", name);
	if (getenv("FW_EXPECTED_UPDATE") != NULL) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		return;
	}
	want = read_file(path);
	if (want == NULL)
		fail_msg("expected file %s: %s", path, strerror(errno));
	if (strcmp(want, got) != 0)
		print_message("# %s differs; got:\n%s", path, got);
	assert_string_equal(got, want);
	free(want);
}

static void assert_isc(const char *name)
{
	char *got = isc_table();

	assert_expected(name, got);
	free(got);
}

static char *other_tables(void)
{
	char *a, *b, *both;

	assert_int_equal(sh("nft -s list table ip filter", &a), 0);
	assert_int_equal(sh("nft -s list table inet other", &b), 0);
	both = malloc(strlen(a) + strlen(b) + 1);
	assert_non_null(both);
	strcpy(both, a);
	strcat(both, b);
	free(a);
	free(b);
	return both;
}

static void ok(int r, const struct dock_err *err)
{
	if (r != 0)
		print_message("# %d: %s\n", err->de_status, err->de_msg);
	assert_int_equal(r, 0);
	assert_string_equal(err->de_msg, "");
}

static void init_ok(const struct fw_node *nodes, size_t n)
{
	struct dock_err err = { 0 };

	ok(fw_init(nodes, n, NULL, 0, &err), &err);
}

static void add_ok(const struct fw_node *node)
{
	struct dock_err err = { 0 };

	ok(fw_node_add(node, &err), &err);
}

static void remove_ok(const struct fw_node *node)
{
	struct dock_err err = { 0 };

	ok(fw_node_remove(node, &err), &err);
}

/* The call failed as expected: status, errno, a message containing
 * `names`, and nothing changed. */
static void assert_failed(int r, const struct dock_err *err, int status, int errnum,
			  const char *names, const char *before)
{
	char *after = ruleset();

	print_message("# %d: %s\n", err->de_status, err->de_msg);
	assert_int_equal(r, -errnum);
	assert_int_equal(err->de_status, status);
	assert_int_equal(err->de_errno, errnum);
	assert_null(strchr(err->de_msg, '\n'));
	if (names != NULL && strstr(err->de_msg, names) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err->de_msg, names);
	assert_string_equal(after, before);
	free(after);
}

/* ---- namespace guards ---------------------------------------------------- */

static int netns_of(const char *path, struct stat *st)
{
	return stat(path, st) == 0 ? 0 : -1;
}

/* True only when we can tell we are not in the host's network namespace:
 * not pid 1's (when readable), and not the one named by FW_TEST_HOST_NETNS
 * (its inode, which fw-selftest.sh reads before it unshares). */
static int outside_host_netns(void)
{
	const char *host = getenv("FW_TEST_HOST_NETNS");
	struct stat init_ns, self_ns;
	int known = 0;

	if (netns_of("/proc/self/ns/net", &self_ns) < 0)
		return 0;
	if (netns_of("/proc/1/ns/net", &init_ns) == 0) {
		if (init_ns.st_dev == self_ns.st_dev && init_ns.st_ino == self_ns.st_ino)
			return 0;
		known = 1;
	}
	if (host != NULL && host[0] != '\0') {
		if (strtoull(host, NULL, 10) == (unsigned long long)self_ns.st_ino)
			return 0;
		known = 1;
	}
	return known;
}

static int group_setup(void **state)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "we");

	(void)state;
	/* our namespace: forwarding on, as on a dock (fw_show warns otherwise) */
	if (f != NULL) {
		fputs("1\n", f);
		fclose(f);
	}
	nft_apply(others);
	others_before = other_tables();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(others_before);
	return 0;
}

/* Every test leaves the other tables as they were. */
static int check_others(void **state)
{
	char *now = other_tables();

	(void)state;
	assert_string_equal(now, others_before);
	free(now);
	return 0;
}

/* ---- the table ----------------------------------------------------------- */

static void test_init_zero_one_three(void **state)
{
	const struct fw_node three[] = { n0, n1, n2 };

	(void)state;
	init_ok(NULL, 0);
	assert_isc("list-empty.nft");
	init_ok(&n0, 1);
	assert_isc("list-web1.nft");
	init_ok(three, 3);
	assert_isc("list-three.nft");
	init_ok(NULL, 0);
	assert_isc("list-empty.nft");
}

/* The table of firewall/README.md: every kind of element. */
static void test_init_policy(void **state)
{
	struct fw_node two[2];
	struct fw_publish pub;

	(void)state;
	policy_nodes(two, &pub);
	init_ok(two, 2);
	assert_isc("list-policy.nft");
}

/* fw_set_private (a reload's egress_private): the private set refilled in
 * one batch, the rest of the table untouched; a bad range changes nothing. */
static void test_set_private(void **state)
{
	const char *extra[] = { "198.18.0.0/15", "10.1.0.0/16" }, *bad[] = { "198.18.0.1/15" };
	struct dock_err err = { 0 };
	char *got, *before;

	(void)state;
	init_ok(&n0, 1);
	ok(fw_set_private(extra, 2, &err), &err);
	assert_int_equal(sh("nft list set inet isc private_ranges", &got), 0);
	if (strstr(got, "198.18.0.0/15") == NULL || strstr(got, "10.1.0.0/16") != NULL ||
	    strstr(got, "10.0.0.0/8") == NULL)
		fail_msg("private_ranges after fw_set_private:\n%s", got);
	free(got);
	ok(fw_set_private(extra, 1, &err), &err); /* the same again: no EEXIST */
	before = ruleset();
	assert_failed(fw_set_private(bad, 1, &err), &err, 400, EINVAL, "198.18.0.1/15", before);
	free(before);
	memset(&err, 0, sizeof(err));
	ok(fw_set_private(NULL, 0, &err), &err);
	assert_isc("list-web1.nft");
}

/* fw_init rebuilds the table whatever it holds: elements, rules and chains
 * that someone else put there are gone. */
static void test_init_repairs_drift(void **state)
{
	const struct fw_node three[] = { n0, n1, n2 };

	(void)state;
	init_ok(three, 3);
	nft_apply("insert rule inet isc forward accept\n"
		  "add element inet isc node_bridges { \"rogue0\" }\n"
		  "add element inet isc published { tcp . 22 : 10.231.0.2 . 22 }\n"
		  "flush chain inet isc node-db\n"
		  "add chain inet isc extra\n"
		  "add set inet isc extra_set { type ipv4_addr; }\n");
	init_ok(&n1, 1);
	assert_isc("list-db.nft");
}

static void test_add_remove(void **state)
{
	(void)state;
	init_ok(NULL, 0);
	add_ok(&n0);
	assert_isc("list-web1.nft");
	add_ok(&n1);
	assert_isc("list-web1-db.nft");
	add_ok(&n1); /* again: no-op */
	assert_isc("list-web1-db.nft");
	remove_ok(&n0);
	assert_isc("list-db.nft");
	remove_ok(&n0); /* absent: no-op */
	assert_isc("list-db.nft");
	remove_ok(&n2); /* never there: no-op */
	assert_isc("list-db.nft");
	add_ok(&n0);
	remove_ok(&n1); /* the interval whose start is n0's end */
	assert_isc("list-web1.nft");
	remove_ok(&n0);
	assert_isc("list-empty.nft");
}

/* fw_init and fw_node_add give the same table, whole policy included, and
 * fw_node_remove of the same records gives the empty one. */
static void test_init_equals_adds(void **state)
{
	struct fw_node two[2];
	struct fw_publish pub;
	char *by_init, *by_add;

	(void)state;
	policy_nodes(two, &pub);
	init_ok(two, 2);
	by_init = isc_table();
	init_ok(NULL, 0);
	add_ok(&two[0]);
	add_ok(&two[1]);
	by_add = isc_table();
	assert_string_equal(by_add, by_init);
	remove_ok(&two[0]);
	remove_ok(&two[1]);
	assert_isc("list-empty.nft");
	free(by_init);
	free(by_add);
}

/* Conflicts with what the table holds: refused by the kernel, the whole
 * batch rolled back (its other elements, accepted on their own, too). */
static void test_conflicts_are_atomic(void **state)
{
	const struct fw_node wide = NODE("wide", "iscbr9", "10.231.0.0/28", "10.231.0.5",
					 "52:54:00:00:00:05", "10.231.0.14");
	const struct fw_node thief = NODE("thief", "iscbr0", "10.231.1.0/29", "10.231.1.2",
					  "52:54:00:00:01:02", "10.231.1.1");
	struct fw_node taker = n1;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	init_ok(&n0, 1);
	before = ruleset();
	assert_failed(fw_node_add(&wide, &err), &err, 409, EEXIST, "10.231.0.0/28", before);
	err_clear(&err);
	assert_failed(fw_node_remove(&wide, &err), &err, 409, EEXIST, "wide", before);
	err_clear(&err);
	assert_failed(fw_node_add(&thief, &err), &err, 409, EEXIST,
		      "node thief: bridge iscbr0 is node web1's", before);
	err_clear(&err);
	free(before);

	/* a host port published by another node, through fw_node_add too */
	add_ok(&n1);
	ok(fw_publish(&n0, &web_80, &err), &err);
	before = ruleset();
	assert_failed(
		fw_publish(&n1, &web_80, &err), &err, 409, EEXIST,
		"publish db 8080:80/tcp: host port 8080/tcp is already published by node web1 (to 10.231.0.2:80)",
		before);
	err_clear(&err);
	taker.fn_published = &web_80;
	taker.fn_npublished = 1;
	assert_failed(
		fw_node_add(&taker, &err), &err, 409, EEXIST,
		"publish db 8080:80/tcp: host port 8080/tcp is already published by node web1",
		before);
	err_clear(&err);
	assert_failed(
		fw_unpublish(&n1, &web_80, &err), &err, 409, EEXIST,
		"unpublish db 8080:80/tcp: host port 8080/tcp is published by node web1 (to 10.231.0.2:80), not as 8080:80/tcp by db",
		before);
	err_clear(&err);
	assert_failed(fw_node_remove(&taker, &err), &err, 409, EEXIST, "published by node web1",
		      before);
	free(before);
}

/* ---- input checks --------------------------------------------------------- */

static const struct bad_case {
	enum field bc_field;
	const char *bc_value;
	int bc_errno;
	const char *bc_names; /* the message must contain this */
} bad_cases[] = {
	{ F_NAME, NULL, EINVAL, "node name is missing" },
	{ F_NAME, "", EINVAL, "node name is empty" },
	{ F_NAME, "web 1", EINVAL, "\"web 1\"" },
	{ F_NAME, "web\n1", EINVAL, "\"web?1\"" },
	{ F_NAME, "web/1", EINVAL, "\"web/1\"" },
	{ F_NAME, "a123456789b123456789c123456789d123456789e123456789f123456789g123", ENAMETOOLONG,
	  "longer than 63" },
	{ F_BRIDGE, NULL, EINVAL, "bridge is missing" },
	{ F_BRIDGE, "", EINVAL, "bridge is empty" },
	{ F_BRIDGE, "iscbr0123456789a", ENAMETOOLONG, "iscbr0123456789a" },
	{ F_BRIDGE, "ISCBR0", EINVAL, "ISCBR0" },
	{ F_BRIDGE, "isc_br0", EINVAL, "isc_br0" },
	{ F_BRIDGE, "isc.br0", EINVAL, "isc.br0" },
	{ F_BRIDGE, "isc/br0", EINVAL, "isc/br0" },
	{ F_SUBNET, NULL, EINVAL, "subnet is missing" },
	{ F_SUBNET, "", EINVAL, "subnet \"\"" },
	{ F_SUBNET, "10.231.0.0", EINVAL, "10.231.0.0" },
	{ F_SUBNET, "10.231.0/29", EINVAL, "10.231.0/29" },
	{ F_SUBNET, "10.231.0.0.0/29", EINVAL, "10.231.0.0.0/29" },
	{ F_SUBNET, "300.231.0.0/29", EINVAL, "300.231.0.0/29" },
	{ F_SUBNET, " 10.231.0.0/29", EINVAL, " 10.231.0.0/29" },
	{ F_SUBNET, "10.231.0.0/29 ", EINVAL, "10.231.0.0/29 " },
	{ F_SUBNET, "10.231.0.0/", EINVAL, "10.231.0.0/" },
	{ F_SUBNET, "10.231.0.0/029", EINVAL, "10.231.0.0/029" },
	{ F_SUBNET, "10.231.0.0/+29", EINVAL, "10.231.0.0/+29" },
	{ F_SUBNET, "10.231.0.0/29x", EINVAL, "10.231.0.0/29x" },
	{ F_SUBNET, "10.0.0.0/7", EINVAL, "10.0.0.0/7" },
	{ F_SUBNET, "10.231.0.0/31", EINVAL, "10.231.0.0/31" },
	{ F_SUBNET, "10.231.0.0/32", EINVAL, "10.231.0.0/32" },
	{ F_SUBNET, "10.231.0.0/100", EINVAL, "10.231.0.0/100" },
	{ F_SUBNET, "10.231.0.1/29", EINVAL, "the network is 10.231.0.0/29" },
	{ F_SUBNET, "127.0.0.0/8", EINVAL, "127.0.0.0/8" },
	{ F_SUBNET, "0.0.0.0/8", EINVAL, "0.0.0.0/8" },
	{ F_SUBNET, "224.0.0.0/8", EINVAL, "224.0.0.0/8" },
	{ F_SUBNET, "255.255.255.248/29", EINVAL, "255.255.255.248/29" },
	{ F_SUBNET, "010.231.0.0/29", EINVAL, "010.231.0.0/29" },
	{ F_SUBNET, "0x0a.231.0.0/29", EINVAL, "0x0a.231.0.0/29" },
	{ F_IP, NULL, EINVAL, "node web1: address is missing" },
	{ F_IP, "10.231.0", EINVAL, "address \"10.231.0\" is not an IPv4 address" },
	{ F_IP, "10.231.0.0", EINVAL,
	  "address 10.231.0.0 is not a host address of subnet 10.231.0.0/29" },
	{ F_IP, "10.231.0.7", EINVAL, "address 10.231.0.7 is not a host address" },
	{ F_IP, "10.231.0.9", EINVAL, "address 10.231.0.9 is not a host address" },
	{ F_IP, "10.231.0.1", EINVAL, "address and gateway are both 10.231.0.1" },
	{ F_GW, NULL, EINVAL, "node web1: gateway is missing" },
	{ F_GW, "gw", EINVAL, "gateway \"gw\" is not an IPv4 address" },
	{ F_GW, "10.231.1.1", EINVAL,
	  "gateway 10.231.1.1 is not a host address of subnet 10.231.0.0/29" },
	{ F_MAC, NULL, EINVAL, "node web1: MAC is missing" },
	{ F_MAC, "52:54:00:00:00", EINVAL, "MAC \"52:54:00:00:00\" is not xx:xx:xx:xx:xx:xx" },
	{ F_MAC, "52-54-00-00-00-02", EINVAL, "52-54-00-00-00-02" },
	{ F_MAC, "52:54:00:00:00:0g", EINVAL, "52:54:00:00:00:0g" },
	{ F_MAC, "52:54:00:00:00:021", EINVAL, "52:54:00:00:00:021" },
	{ F_MAC, "53:54:00:00:00:02", EINVAL, "MAC 53:54:00:00:00:02 is not a unicast address" },
	{ F_MAC, "00:00:00:00:00:00", EINVAL, "MAC 00:00:00:00:00:00 is not a unicast address" },
};

/* Every call refuses the bad node with the same message, before building
 * anything: the ruleset, ours included, is exactly as it was. */
static void assert_refused_everywhere(const struct fw_node *bad, int errnum, const char *names,
				      const char *before)
{
	const struct fw_node pair[] = { n1, *bad };
	struct dock_err err = { 0 };

	assert_failed(fw_node_check(bad, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_node_add(bad, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_node_remove(bad, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_init(pair, 2, NULL, 0, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_publish(bad, &dns_53, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_unpublish(bad, &dns_53, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_quarantine(bad, true, &err), &err, 400, errnum, names, before);
	err_clear(&err);
	assert_failed(fw_set_egress(bad, true, NULL, 0, &err), &err, 400, errnum, names, before);
	assert_int_equal(fw_node_add(bad, NULL), -errnum); /* err is optional */
}

static void test_bad_node_changes_nothing(void **state)
{
	char *before;

	(void)state;
	init_ok(&n0, 1);
	before = ruleset();
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct fw_node bad = n0;

		set_field(&bad, bad_cases[i].bc_field, bad_cases[i].bc_value);
		assert_refused_everywhere(&bad, bad_cases[i].bc_errno, bad_cases[i].bc_names,
					  before);
	}
	free(before);
}

static void test_bad_policy_changes_nothing(void **state)
{
	static const struct fw_publish zero_port = { IPPROTO_TCP, 0, 80 }, sctp = { 132, 80, 80 };
	static const struct fw_publish twice[] = { { IPPROTO_TCP, 8080, 80 },
						   { IPPROTO_TCP, 8080, 81 } };
	static const char *const bad_cidr[] = { "192.0.2.0/33" },
				 *const host_bits[] = { "192.0.2.1/24" };
	static const char *const overlap[] = { "10.0.0.0/8", "192.0.2.0/24", "10.9.0.0/16" };
	static const char *const ports_overlap[] = { "10.9.9.9:5432/tcp", "10.9.9.0/24" };
	static const char *const not_ip[] = { "example.com" };
	static const char *many[FW_ALLOW_MAX + 1];
	static struct fw_publish lots[FW_PUBLISH_MAX + 1];
	struct fw_node bad = n0;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	for (size_t i = 0; i <= FW_ALLOW_MAX; i++)
		many[i] = "192.0.2.1";
	for (size_t i = 0; i <= FW_PUBLISH_MAX; i++)
		lots[i] = (struct fw_publish){ IPPROTO_TCP, (uint16_t)(1000 + i), 80 };
	init_ok(&n0, 1);
	before = ruleset();

	bad.fn_published = twice;
	bad.fn_npublished = 2;
	assert_refused_everywhere(
		&bad, EINVAL,
		"publish web1 8080:81/tcp: host port 8080/tcp is already published by node web1 (8080:80/tcp)",
		before);
	bad.fn_published = &zero_port;
	bad.fn_npublished = 1;
	assert_refused_everywhere(&bad, EINVAL, "publish web1 0:80/tcp: ports must be 1..65535",
				  before);
	bad.fn_published = &sctp;
	assert_refused_everywhere(&bad, EINVAL, "the protocol must be tcp or udp (not 132)",
				  before);
	bad.fn_published = NULL;
	assert_refused_everywhere(&bad, EINVAL, "1 published ports but no list", before);
	bad.fn_published = lots;
	bad.fn_npublished = FW_PUBLISH_MAX + 1;
	assert_refused_everywhere(&bad, E2BIG, "65 published ports, more than 64", before);
	bad = n0;
	bad.fn_egress_deny = true;
	bad.fn_egress_allow = bad_cidr;
	bad.fn_negress_allow = 1;
	assert_refused_everywhere(&bad, EINVAL, "\"192.0.2.0/33\" needs a prefix of /0 to /32",
				  before);
	bad.fn_egress_allow = host_bits;
	assert_refused_everywhere(&bad, EINVAL, "the network is 192.0.2.0/24", before);
	bad.fn_egress_allow = not_ip;
	assert_refused_everywhere(&bad, EINVAL, "\"example.com\": a name needs a port", before);
	bad.fn_egress_allow = overlap;
	bad.fn_negress_allow = 3;
	assert_refused_everywhere(
		&bad, EINVAL, "egress web1: allowed destination 10.9.0.0/16 overlaps 10.0.0.0/8",
		before);
	bad.fn_egress_allow = many;
	bad.fn_negress_allow = FW_ALLOW_MAX + 1;
	assert_refused_everywhere(&bad, E2BIG, "65 allowed destinations, more than 64", before);

	/* the new state of fw_set_egress and the port of fw_publish */
	assert_failed(fw_set_egress(&n0, false, ports_overlap, 2, &err), &err, 400, EINVAL,
		      "allowed destination 10.9.9.0/24 overlaps 10.9.9.9:5432/tcp", before);
	err_clear(&err);
	assert_failed(fw_set_egress(&n0, true, overlap, 3, &err), &err, 400, EINVAL, "overlaps",
		      before);
	err_clear(&err);
	assert_failed(fw_publish(&n0, &zero_port, &err), &err, 400, EINVAL,
		      "ports must be 1..65535", before);
	err_clear(&err);
	assert_failed(fw_publish(&n0, NULL, &err), &err, 400, EINVAL,
		      "publish web1: the port is missing", before);
	err_clear(&err);
	assert_failed(fw_unpublish(&n0, &sctp, &err), &err, 400, EINVAL, "tcp or udp", before);
	free(before);
}

static void test_init_refuses_bad_sets(void **state)
{
	const struct fw_node same_bridge[] = { n0,
					       NODE("other", "iscbr0", "10.231.1.0/29",
						    "10.231.1.2", "52:54:00:00:01:02",
						    "10.231.1.1") };
	const struct fw_node same_name[] = { n0,
					     NODE("web1", "iscbr5", "10.231.1.0/29", "10.231.1.2",
						  "52:54:00:00:01:02", "10.231.1.1") };
	const struct fw_node overlap[] = { n0, n1,
					   NODE("wide", "iscbr9", "10.231.0.0/28", "10.231.0.5",
						"52:54:00:00:00:05", "10.231.0.14") };
	struct fw_node ports[2] = { n0, n1 };
	struct fw_node *many;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	init_ok(&n1, 1);
	before = ruleset();
	assert_failed(fw_init(same_bridge, 2, NULL, 0, &err), &err, 400, EINVAL,
		      "node other: bridge iscbr0 is node web1's too", before);
	err_clear(&err);
	assert_failed(fw_init(same_name, 2, NULL, 0, &err), &err, 400, EINVAL,
		      "node web1: the name is twice in the list", before);
	err_clear(&err);
	assert_failed(fw_init(overlap, 3, NULL, 0, &err), &err, 400, EINVAL,
		      "node wide: subnet 10.231.0.0/28 overlaps node web1's subnet 10.231.0.0/29",
		      before);
	err_clear(&err);
	ports[0].fn_published = &web_80;
	ports[0].fn_npublished = 1;
	ports[1].fn_published = &web_80;
	ports[1].fn_npublished = 1;
	assert_failed(
		fw_init(ports, 2, NULL, 0, &err), &err, 400, EINVAL,
		"publish db 8080:80/tcp: host port 8080/tcp is already published by node web1",
		before);
	err_clear(&err);
	assert_failed(fw_init(NULL, 1, NULL, 0, &err), &err, 400, EINVAL, "no node array", before);
	err_clear(&err);
	many = calloc(FW_NODES_MAX + 1, sizeof(*many));
	assert_non_null(many);
	assert_failed(fw_init(many, FW_NODES_MAX + 1, NULL, 0, &err), &err, 400, E2BIG,
		      "1025 nodes", before);
	err_clear(&err);
	assert_failed(fw_node_add(NULL, &err), &err, 400, EINVAL, "node is missing", before);
	free(many);
	free(before);
	assert_isc("list-db.nft");
}

static const struct parse_case {
	const char *pc_spec;
	int pc_ok;
	struct fw_publish pc_want;
	const char *pc_names;
} parse_cases[] = {
	{ "8080:80", 1, { IPPROTO_TCP, 8080, 80 }, NULL },
	{ "8080:80/tcp", 1, { IPPROTO_TCP, 8080, 80 }, NULL },
	{ "5353:53/udp", 1, { IPPROTO_UDP, 5353, 53 }, NULL },
	{ "65535:1", 1, { IPPROTO_TCP, 65535, 1 }, NULL },
	{ "8080", 0, { 0, 0, 0 }, "publish \"8080\": expected HOSTPORT:NODEPORT[/tcp|/udp]" },
	{ "8080:", 0, { 0, 0, 0 }, "node port must be 1..65535" },
	{ ":80", 0, { 0, 0, 0 }, "host port must be 1..65535" },
	{ "0:80", 0, { 0, 0, 0 }, "host port must be 1..65535" },
	{ "65536:80", 0, { 0, 0, 0 }, "host port must be 1..65535" },
	{ "08080:80", 0, { 0, 0, 0 }, "host port" },
	{ "+80:80", 0, { 0, 0, 0 }, "host port" },
	{ "80:80/sctp", 0, { 0, 0, 0 }, "the protocol must be tcp or udp" },
	{ "80:80/TCP", 0, { 0, 0, 0 }, "the protocol must be tcp or udp" },
	{ "80:80/", 0, { 0, 0, 0 }, "the protocol must be tcp or udp" },
	{ "80:8/0:80", 0, { 0, 0, 0 }, "the protocol" },
	{ "80/tcp:80", 0, { 0, 0, 0 }, "expected HOSTPORT:NODEPORT" },
	{ "1234567:80", 0, { 0, 0, 0 }, "host port must be 1..65535" },
	{ "12345678:80", 0, { 0, 0, 0 }, "expected HOSTPORT:NODEPORT" },
	{ "80:80\n", 0, { 0, 0, 0 }, "\"80:80?\"" },
};

static void test_publish_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct fw_publish got = { 0 };
		struct dock_err err = { 0 };
		char back[24];
		int r = fw_publish_parse(c->pc_spec, &got, &err);

		print_message("# \"%s\": %d %s\n", c->pc_spec, r, err.de_msg);
		if (c->pc_ok) {
			assert_int_equal(r, 0);
			assert_memory_equal(&got, &c->pc_want, sizeof(got));
			fw_publish_format(&got, back, sizeof(back));
			assert_non_null(strstr(back, c->pc_spec));
		} else {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(err.de_status, 400);
			assert_non_null(strstr(err.de_msg, c->pc_names));
		}
	}
	assert_int_equal(fw_publish_parse(NULL, &(struct fw_publish){ 0 }, NULL), -EINVAL);
}

/* ---- the policy calls ------------------------------------------------------ */

static void test_publish_unpublish(void **state)
{
	const struct fw_publish both[] = { web_80, web_80b };
	struct fw_node web = n0, gone = n2;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	init_ok(&n0, 1);
	add_ok(&n1);
	ok(fw_publish(&web, &web_80, &err), &err);
	ok(fw_publish(&web, &web_80, &err), &err); /* again: no-op */
	web.fn_published = both;
	web.fn_npublished = 1;
	ok(fw_publish(&web, &web_80b, &err), &err); /* another host port, same node port */
	web.fn_npublished = 2;
	ok(fw_publish(&web, &dns_53, &err), &err);
	assert_isc("list-published.nft");
	/* 8080 goes, 8081 still reaches port 80: the forward accept stays */
	ok(fw_unpublish(&web, &web_80, &err), &err);
	web.fn_published = &both[1];
	web.fn_npublished = 1;
	ok(fw_unpublish(&web, &dns_53, &err), &err);
	ok(fw_unpublish(&web, &dns_53, &err), &err); /* absent: no-op */
	assert_isc("list-published-8081.nft");
	ok(fw_unpublish(&web, &web_80b, &err), &err);
	web.fn_npublished = 0;
	assert_isc("list-web1-db.nft");

	/* a node that is not in the table gets nothing published */
	before = ruleset();
	assert_failed(
		fw_publish(&gone, &web_80, &err), &err, 500, ENOENT,
		"publish cache 8080:80/tcp: node cache (bridge iscbr2, 10.231.0.18) is not in table inet isc",
		before);
	free(before);
	err_clear(&err);
	ok(fw_unpublish(&gone, &web_80, &err), &err); /* nothing to unpublish: no-op */
	assert_isc("list-web1-db.nft");
}

static void test_quarantine(void **state)
{
	struct dock_err err = { 0 };
	struct fw_node two[2];
	struct fw_publish pub;

	(void)state;
	policy_nodes(two, &pub);
	two[1].fn_quarantined = false;
	init_ok(two, 2);
	ok(fw_quarantine(&two[1], true, &err), &err);
	ok(fw_quarantine(&two[1], true, &err), &err); /* again: no-op */
	assert_isc("list-policy.nft");
	ok(fw_quarantine(&two[1], false, &err), &err);
	ok(fw_quarantine(&two[1], false, &err), &err);
	two[1].fn_quarantined = false;
	init_ok(two, 2);
	{
		char *released = isc_table(), *again;

		ok(fw_quarantine(&two[1], true, &err), &err);
		ok(fw_quarantine(&two[1], false, &err), &err);
		again = isc_table();
		assert_string_equal(again, released);
		free(released);
		free(again);
	}
	/* quarantine cuts the bridge even when the node is not in the table */
	ok(fw_quarantine(&n2, true, &err), &err);
	assert_int_equal(sh("nft -s list set inet isc quarantined | grep -q '\"iscbr2\"'", NULL),
			 0);
	ok(fw_quarantine(&n2, false, &err), &err);
}

static void test_egress(void **state)
{
	static const char *const other[] = { "192.0.2.0/25", "10.0.0.0/8", "203.0.113.9" };
	static const char *const lan[] = { "192.168.7.0/24", "10.9.9.9:5432/tcp",
					   "169.254.169.254:53/udp" };
	struct fw_show *show = NULL;
	struct fw_node web = n0;
	struct dock_err err = { 0 };

	(void)state;
	init_ok(&n0, 1);
	ok(fw_set_egress(&web, true, allow_two, 2, &err), &err);
	web.fn_egress_deny = true;
	web.fn_egress_allow = allow_two;
	web.fn_negress_allow = 2;
	assert_isc("list-egress.nft");
	/* replaced, overlapping the old list: the old entries go first */
	ok(fw_set_egress(&web, true, other, 3, &err), &err);
	web.fn_egress_allow = other;
	web.fn_negress_allow = 3;
	assert_isc("list-egress-other.nft");
	ok(fw_set_egress(&web, true, NULL, 0, &err), &err);
	web.fn_egress_allow = NULL;
	web.fn_negress_allow = 0;
	assert_isc("list-egress-deny.nft");
	ok(fw_set_egress(&web, false, NULL, 0, &err), &err);
	web.fn_egress_deny = false;
	ok(fw_set_egress(&web, false, NULL, 0, &err), &err); /* again: no-op */
	assert_isc("list-web1.nft");
	/* egress allow with entries opening private ranges, with ports */
	ok(fw_set_egress(&web, false, lan, 3, &err), &err);
	web.fn_egress_allow = lan;
	web.fn_negress_allow = 3;
	assert_isc("list-egress-lan.nft");
	ok(fw_show("web1", &show, &err), &err);
	assert_false(show->fs_nodes[0].sn_egress_deny);
	assert_int_equal(show->fs_nodes[0].sn_nallow, 3); /* read back, sorted */
	assert_string_equal(show->fs_nodes[0].sn_allow[0], "10.9.9.9:5432/tcp");
	assert_string_equal(show->fs_nodes[0].sn_allow[1], "169.254.169.254:53/udp");
	assert_string_equal(show->fs_nodes[0].sn_allow[2], "192.168.7.0/24");
	fw_show_free(show);
	ok(fw_set_egress(&web, false, NULL, 0, &err), &err);
	assert_isc("list-web1.nft");
}

/* Flows: node_flows elements in one batch; a change removes the old and
 * adds the new; bad flows change nothing; removing all leaves the table of
 * the nodes alone. */
static void test_flows(void **state)
{
	static const struct fw_flow web_db = { "web1", "db", "iscbr0", "iscbr1", IPPROTO_TCP, 80 };
	static const struct fw_flow db_web = { "db", "web1", "iscbr1", "iscbr0", IPPROTO_UDP, 53 };
	struct fw_flow bad = web_db;
	struct fw_node two[2] = { n0, n1 };
	struct dock_err err = { 0 };
	char *text, *before;

	(void)state;
	init_ok(two, 2);
	ok(fw_flows_set(NULL, 0, &web_db, 1, &err), &err);
	ok(fw_flows_set(NULL, 0, &web_db, 1, &err), &err); /* again: a no-op */
	assert_isc("list-flows.nft");
	fw_dryrun_begin();
	ok(fw_flows_set(&web_db, 1, &db_web, 1, &err), &err);
	text = fw_dryrun_end();
	assert_non_null(text);
	assert_expected("flows.batch", text);
	free(text);
	ok(fw_flows_set(&web_db, 1, &db_web, 1, &err), &err);
	ok(fw_flows_set(&web_db, 1, &db_web, 1, &err), &err); /* old ones absent: fine */
	assert_isc("list-flows-changed.nft");
	before = ruleset();
	bad.ff_to_bridge = "iscbr0";
	assert_failed(fw_flows_set(NULL, 0, &bad, 1, &err), &err, 400, EINVAL, "to itself", before);
	bad = web_db;
	memset(&err, 0, sizeof(err));
	bad.ff_proto = IPPROTO_ICMP;
	assert_failed(fw_flows_set(&db_web, 1, &bad, 1, &err), &err, 400, EINVAL, "not tcp",
		      before);
	bad = web_db;
	memset(&err, 0, sizeof(err));
	bad.ff_port = 0;
	assert_failed(fw_flows_set(NULL, 0, &bad, 1, &err), &err, 400, EINVAL, "port 0", before);
	bad = web_db;
	memset(&err, 0, sizeof(err));
	bad.ff_from_bridge = "ISC BR";
	assert_failed(fw_flows_set(NULL, 0, &bad, 1, &err), &err, 400, EINVAL, "bridges", before);
	free(before);
	memset(&err, 0, sizeof(err));
	assert_isc("list-flows-changed.nft");
	ok(fw_flows_set(&db_web, 1, NULL, 0, &err), &err);
	assert_isc("list-web1-db.nft");
	/* fw_init starts with no flow */
	ok(fw_flows_set(NULL, 0, &web_db, 1, &err), &err);
	init_ok(two, 2);
	assert_isc("list-web1-db.nft");
}

/* Bandwidth (fw-bw.c): a limited node's chain bw-NAME and its node_bw
 * element, added, read back by fw_show, rebuilt by fw_init, removed with
 * the node; a node without limits has neither. */
static void test_bandwidth(void **state)
{
	struct fw_node two[2] = { n0, n1 };
	struct fw_show *s = NULL;
	struct dock_err err = { 0 };
	char *text;

	(void)state;
	two[0].fn_net_in_bps = 2500000;  /* 20 Mbit/s */
	two[0].fn_net_out_bps = 1250000; /* 10 Mbit/s */
	init_ok(&two[1], 1);
	fw_dryrun_begin();
	ok(fw_node_add(&two[0], &err), &err);
	text = fw_dryrun_end();
	assert_non_null(text);
	assert_expected("node-add-bw.batch", text);
	free(text);
	ok(fw_node_add(&two[0], &err), &err);
	ok(fw_node_add(&two[0], &err), &err); /* again: a no-op */
	assert_isc("list-bw.nft");
	ok(fw_show(two[0].fn_name, &s, &err), &err);
	assert_int_equal(s->fs_nnodes, 1);
	assert_true(s->fs_nodes[0].sn_isolated);
	assert_int_equal(s->fs_nodes[0].sn_net_in_bps, 2500000);
	assert_int_equal(s->fs_nodes[0].sn_net_out_bps, 1250000);
	fw_show_free(s);
	s = NULL;
	ok(fw_show(two[1].fn_name, &s, &err), &err);
	assert_int_equal(s->fs_nodes[0].sn_net_in_bps, 0);
	assert_int_equal(s->fs_nodes[0].sn_net_out_bps, 0);
	fw_show_free(s);
	/* the rebuild at dock start makes the same table */
	init_ok(two, 2);
	assert_isc("list-bw-init.nft");
	/* removed with the node: nothing of it left */
	ok(fw_node_remove(&two[0], &err), &err);
	assert_isc("list-db.nft");
	two[0].fn_net_out_bps = FW_BW_MAX + 1;
	assert_int_equal(fw_node_check(&two[0], &err), -ERANGE);
	assert_int_equal(err.de_status, 400);
}

/* Allow entries by name (fw-names-nft.c): a set per entry, the node's
 * chain names-BRIDGE and its node_names element, added (twice: a no-op),
 * rebuilt by fw_init, filled as the resolver fills them (an answer opens
 * its port only), kept by an egress change, a change of names refused
 * (409, nothing changed), removed with the node. */
static void test_names(void **state)
{
	static const char *const names[] = { "allowed.test:80/tcp", "192.0.2.0/24",
					     "ntp.example.test:123/udp" };
	static const char *const other[] = { "other.test:80/tcp" };
	struct fw_node two[2] = { n0, n1 };
	struct dock_err err = { 0 };
	char *text, *before;

	(void)state;
	two[0].fn_egress_deny = true;
	two[0].fn_egress_allow = names;
	two[0].fn_negress_allow = 3;
	init_ok(&two[1], 1);
	fw_dryrun_begin();
	ok(fw_node_add(&two[0], &err), &err);
	text = fw_dryrun_end();
	assert_non_null(text);
	assert_expected("node-add-names.batch", text);
	free(text);
	ok(fw_node_add(&two[0], &err), &err);
	ok(fw_node_add(&two[0], &err), &err); /* again: a no-op */
	assert_isc("list-names.nft");
	{ /* fw show lists the entries by name beside the addresses */
		struct fw_show *sh_ = NULL;

		ok(fw_show(two[0].fn_name, &sh_, &err), &err);
		assert_true(sh_->fs_nodes[0].sn_isolated);
		assert_int_equal(sh_->fs_nodes[0].sn_nallow, 3);
		assert_string_equal(sh_->fs_nodes[0].sn_allow[0], "192.0.2.0/24");
		assert_string_equal(sh_->fs_nodes[0].sn_allow[1], "allowed.test:80/tcp");
		assert_string_equal(sh_->fs_nodes[0].sn_allow[2], "ntp.example.test:123/udp");
		fw_show_free(sh_);
	}
	/* the resolver's answer: a set element with the set's timeout */
	assert_int_equal(sh("nft add element inet isc names_iscbr0_0 '{ 198.51.100.10 }'", &text),
			 0);
	free(text);
	assert_int_equal(sh("nft list set inet isc names_iscbr0_0", &text), 0);
	if (strstr(text, "timeout 1h") == NULL || strstr(text, "198.51.100.10 expires") == NULL)
		fail_msg("names_iscbr0_0: %s", text);
	free(text);
	/* the same names, another egress: fine; other names: 409 */
	ok(fw_set_egress(&two[0], false, names, 3, &err), &err);
	before = ruleset();
	assert_failed(fw_set_egress(&two[0], true, other, 1, &err), &err, 409, EBUSY,
		      "recreate the node to change names", before);
	memset(&err, 0, sizeof(err));
	{
		struct fw_node want = two[0];

		want.fn_egress_allow = other;
		want.fn_negress_allow = 1;
		assert_failed(fw_node_update(&two[0], &want, &err), &err, 409, EBUSY,
			      "recreate the node to change names", before);
		memset(&err, 0, sizeof(err));
		assert_int_equal(fw_names_unchanged(&two[0], &want, &err), -EBUSY);
		assert_int_equal(err.de_status, 409);
		memset(&err, 0, sizeof(err));
		ok(fw_names_unchanged(&two[0], &two[0], &err), &err);
	}
	free(before);
	/* the rebuild at dock start makes the same table (its sets empty) */
	init_ok(two, 2);
	assert_isc("list-names-init.nft");
	fw_dryrun_begin();
	ok(fw_node_remove(&two[0], &err), &err);
	text = fw_dryrun_end();
	assert_non_null(text);
	assert_expected("node-remove-names.batch", text);
	free(text);
	ok(fw_node_remove(&two[0], &err), &err);
	assert_isc("list-db.nft");
}

/* fw_node_update: publishes and egress replaced in one batch; a host port
 * another node holds is 409 and changes nothing; back to the plain node. */
static void test_node_update(void **state)
{
	static const struct fw_publish two_pub[] = { { IPPROTO_TCP, 8081, 80 },
						     { IPPROTO_UDP, 5353, 53 } };
	struct fw_node two[2] = { n0, n1 }, want = n0, bad;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	two[1].fn_published = &web_80;
	two[1].fn_npublished = 1;
	init_ok(two, 2);
	want.fn_published = two_pub;
	want.fn_npublished = 2;
	want.fn_egress_deny = true;
	want.fn_egress_allow = allow_two;
	want.fn_negress_allow = 2;
	ok(fw_node_update(&two[0], &want, &err), &err);
	assert_isc("list-update.nft");
	before = ruleset();
	bad = want;
	bad.fn_published = &web_80;
	bad.fn_npublished = 1;
	assert_failed(fw_node_update(&want, &bad, &err), &err, 409, EEXIST, "node db", before);
	memset(&err, 0, sizeof(err));
	bad = want;
	bad.fn_ip = "10.231.0.3";
	assert_failed(fw_node_update(&want, &bad, &err), &err, 400, EINVAL, "only publishes",
		      before);
	free(before);
	memset(&err, 0, sizeof(err));
	ok(fw_node_update(&want, &two[0], &err), &err);
	ok(fw_node_remove(&two[1], &err), &err);
	assert_isc("list-web1.nft");
}

static void test_teardown(void **state)
{
	struct dock_err err = { 0 };
	char *out, *before;

	(void)state;
	init_ok(&n0, 1);
	assert_int_equal(fw_teardown(&err), 0);
	assert_int_not_equal(sh("nft list table inet isc", NULL), 0);
	assert_int_equal(sh("nft list tables", &out), 0);
	assert_null(strstr(out, "isc"));
	free(out);
	assert_int_equal(fw_teardown(&err), 0); /* absent: fine */
	assert_string_equal(err.de_msg, "");

	/* Without the table, node calls fail loudly: isolation is gone. */
	before = ruleset();
	assert_failed(fw_node_add(&n0, &err), &err, 500, ENOENT, "fw_init makes it", before);
	err_clear(&err);
	assert_failed(fw_node_remove(&n0, &err), &err, 500, ENOENT, "node-web1", before);
	err_clear(&err);
	assert_failed(fw_quarantine(&n0, true, &err), &err, 500, ENOENT, "fw_init makes it",
		      before);
	err_clear(&err);
	assert_failed(fw_set_egress(&n0, true, NULL, 0, &err), &err, 500, ENOENT,
		      "fw_init makes it", before);
	free(before);

	init_ok(&n0, 1); /* from nothing again */
	assert_isc("list-web1.nft");
	assert_int_equal(fw_teardown(NULL), 0);
	assert_int_not_equal(sh("nft list table inet isc", NULL), 0);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The Nth of FW_NODES_MAX nodes: 10.0.0.0/29 upwards, every other /29 so
 * that none are adjacent. */
struct many_node {
	char mn_name[16], mn_bridge[16], mn_cidr[20], mn_ip[16], mn_gw[16], mn_mac[18];
	struct fw_publish mn_pub;
};

static void many_node(struct many_node *m, struct fw_node *n, unsigned i, bool publish)
{
	unsigned net = i * 16;

	snprintf(m->mn_name, sizeof(m->mn_name), "n%u", i);
	snprintf(m->mn_bridge, sizeof(m->mn_bridge), "iscbr%u", i);
	snprintf(m->mn_cidr, sizeof(m->mn_cidr), "10.%u.%u.%u/29", net >> 16, (net >> 8) & 255,
		 net & 255);
	snprintf(m->mn_gw, sizeof(m->mn_gw), "10.%u.%u.%u", net >> 16, (net >> 8) & 255,
		 (net & 255) + 1);
	snprintf(m->mn_ip, sizeof(m->mn_ip), "10.%u.%u.%u", net >> 16, (net >> 8) & 255,
		 (net & 255) + 2);
	snprintf(m->mn_mac, sizeof(m->mn_mac), "52:54:00:00:%02x:%02x", i >> 8, i & 255);
	m->mn_pub = (struct fw_publish){ IPPROTO_TCP, (uint16_t)(10000 + i), 80 };
	*n = (struct fw_node){ .fn_name = m->mn_name,
			       .fn_bridge = m->mn_bridge,
			       .fn_subnet_cidr = m->mn_cidr,
			       .fn_ip = m->mn_ip,
			       .fn_mac = m->mn_mac,
			       .fn_gateway = m->mn_gw };
	if (publish) {
		n->fn_published = &m->mn_pub;
		n->fn_npublished = 1;
	}
}

/* FW_NODES_MAX nodes in one batch: a chain each, many element messages,
 * one commit; then one node's changes. */
static void test_max_nodes(void **state)
{
	struct many_node *m = calloc(FW_NODES_MAX, sizeof(*m));
	struct fw_node *nodes = calloc(FW_NODES_MAX, sizeof(*nodes));
	struct dock_err err = { 0 };
	struct fw_show *show = NULL;
	char *out;

	(void)state;
	assert_non_null(m);
	assert_non_null(nodes);
	for (unsigned i = 0; i < FW_NODES_MAX; i++)
		many_node(&m[i], &nodes[i], i, true);
	init_ok(nodes, FW_NODES_MAX);
	assert_int_equal(sh("nft -s list set inet isc node_bridges", &out), 0);
	assert_int_equal(count(out, "\"iscbr"), FW_NODES_MAX);
	free(out);
	assert_int_equal(sh("nft -s list set inet isc node_subnets", &out), 0);
	assert_int_equal(count(out, "/29"), FW_NODES_MAX);
	assert_non_null(strstr(out, "10.0.63.240/29"));
	free(out);
	assert_int_equal(sh("nft -s list map inet isc published", &out), 0);
	assert_int_equal(count(out, "tcp . 1"), FW_NODES_MAX);
	free(out);
	assert_int_equal(sh("nft -s list table inet isc | grep -c 'chain node-n'", &out), 0);
	assert_int_equal(atoi(out), FW_NODES_MAX);
	free(out);
	ok(fw_show(NULL, &show, &err), &err);
	assert_true(show->fs_policy_ok);
	assert_int_equal(show->fs_nnodes, FW_NODES_MAX);
	for (size_t i = 0; i < show->fs_nnodes; i++) {
		assert_true(show->fs_nodes[i].sn_isolated);
		assert_int_equal(show->fs_nodes[i].sn_npublished, 1);
	}
	fw_show_free(show);
	ok(fw_publish(&nodes[7], &web_80, &err), &err);
	remove_ok(&nodes[FW_NODES_MAX - 1]);
	assert_int_equal(sh("nft -s list set inet isc node_subnets", &out), 0);
	assert_int_equal(count(out, "/29"), FW_NODES_MAX - 1);
	free(out);
	free(nodes);
	free(m);
	init_ok(NULL, 0);
}

/* ---- rule generation, without a kernel --------------------------------------- */

/* Each call's batch, decoded from its bytes, equals the expected file; a
 * dry run sends nothing. */
static void test_render(void **state)
{
	static const char *const other[] = { "10.0.0.0/8" };
	static const char *const pool_extra[] = { "10.231.0.0/16", "198.18.0.0/15" };
	struct fw_node two[2], web;
	struct fw_publish pub;
	struct dock_err err = { 0 };
	char *before, *text;

	(void)state;
	policy_nodes(two, &pub);
	web = two[0];
	init_ok(NULL, 0);
	before = ruleset();
#define RENDER(file, call)                   \
	do {                                 \
		fw_dryrun_begin();           \
		ok(call, &err);              \
		text = fw_dryrun_end();      \
		assert_non_null(text);       \
		assert_expected(file, text); \
		free(text);                  \
	} while (0)
	RENDER("init-policy.batch", fw_init(two, 2, pool_extra, 2, &err));
	RENDER("node-add.batch", fw_node_add(&two[0], &err));
	RENDER("node-remove.batch", fw_node_remove(&two[0], &err));
	web.fn_published = NULL;
	web.fn_npublished = 0;
	RENDER("publish.batch", fw_publish(&web, &web_80, &err));
	web.fn_published = &web_80;
	web.fn_npublished = 1;
	RENDER("unpublish.batch", fw_unpublish(&web, &web_80, &err));
	RENDER("quarantine.batch", fw_quarantine(&two[1], true, &err));
	RENDER("release.batch", fw_quarantine(&two[1], false, &err));
	RENDER("egress.batch", fw_set_egress(&two[0], true, other, 1, &err));
	RENDER("teardown.batch", fw_teardown(&err));
#undef RENDER
	/* bad input in a dry run is refused the same way */
	fw_dryrun_begin();
	assert_int_equal(fw_publish(&web, NULL, &err), -EINVAL);
	text = fw_dryrun_end();
	assert_string_equal(text, "");
	free(text);
	text = ruleset();
	assert_string_equal(text, before);
	free(text);
	free(before);
}

/* ---- reading back -------------------------------------------------------------- */

static void show_expected(const char *node, const char *text_file, const char *json_file)
{
	struct fw_show *s = NULL;
	struct json_object *j = NULL;
	struct dock_err err = { 0 };
	char *text;

	ok(fw_show(node, &s, &err), &err);
	text = fw_show_text(s);
	assert_non_null(text);
	assert_expected(text_file, text);
	free(text);
	if (json_file != NULL) {
		char *js;

		ok(fw_show_json(s, &j, &err), &err);
		js = strdup(json_object_to_json_string_ext(
			j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		assert_non_null(js);
		assert_expected(json_file, js);
		free(js);
		json_object_put(j);
	}
	fw_show_free(s);
}

static void test_show(void **state)
{
	struct fw_node two[2];
	struct fw_publish pub;
	struct fw_show *s = NULL;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	policy_nodes(two, &pub);
	init_ok(two, 2);
	show_expected(NULL, "show-policy.txt", "show-policy.json");
	show_expected("db", "show-db.txt", NULL);
	before = ruleset();
	assert_int_equal(fw_show("cache", &s, &err), -ENOENT);
	assert_int_equal(err.de_status, 404);
	assert_string_equal(err.de_msg, "firewall: node cache is not in table inet isc");
	assert_null(s);
	free(before);

	/* another table dropping by policy on forward and input */
	nft_apply("table ip docker {\n"
		  "  chain FORWARD { type filter hook forward priority 0; policy drop; }\n"
		  "  chain INPUT { type filter hook input priority 0; policy drop; }\n"
		  "}\n");
	/* someone edited ours: an accept first in forward, a node's drop chain emptied */
	nft_apply("insert rule inet isc forward accept\nflush chain inet isc node-db\n");
	show_expected(NULL, "show-altered.txt", NULL);
	assert_int_equal(sh("nft delete table ip docker", NULL), 0);

	/* the table gone */
	assert_int_equal(fw_teardown(&err), 0);
	show_expected(NULL, "show-none.txt", "show-none.json");
}

/* The listing fed to `nft -f` makes the same table: fw_show finds nft's
 * bytecode for our text identical to ours, rule by rule. */
static void test_same_as_nft(void **state)
{
	const char *dir = getenv("FW_EXPECTED_DIR");
	struct fw_show *s = NULL;
	struct dock_err err = { 0 };
	char path[512], cmd[600], *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/list-policy.nft", dir != NULL ? dir : "tests/fw/expected");
	assert_int_equal(fw_teardown(&err), 0);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	assert_int_equal(sh(cmd, NULL), 0);
	ok(fw_show(NULL, &s, &err), &err);
	text = fw_show_text(s);
	print_message("# %s", text);
	assert_true(s->fs_policy_ok);
	assert_int_equal(s->fs_nnodes, 2);
	assert_true(s->fs_nodes[0].sn_isolated);
	assert_true(s->fs_nodes[1].sn_isolated);
	free(text);
	fw_show_free(s);
	assert_isc("list-policy.nft");
	init_ok(NULL, 0);
}

/* ---- CLI for fw-selftest.sh and bench.sh ------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: test_fw init [NODE...] | add NODE | remove NODE | teardown\n"
		"       test_fw publish NODE SPEC | unpublish NODE SPEC | toggle NODE SPEC N [PAUSE_MS]\n"
		"       test_fw quarantine NODE on|off | egress NODE allow|deny [ENTRY...]\n"
		"       test_fw show [NAME] [--json] | flows [OLD...] -- [NEW...]\n"
		"FLOW is FROM,FROMBRIDGE,TO,TOBRIDGE,PORT[/tcp|/udp].\n"
		"NODE is NAME,BRIDGE,CIDR,IP,MAC,GATEWAY[,publish=SPEC...][,deny][,allow=ENTRY...][,quarantined]\n"
		"[,in=BYTES/S][,out=BYTES/S]:\n"
		"the node as the dock records it before the call. SPEC is HOSTPORT:NODEPORT[/tcp|/udp].\n");
}

struct cli_node {
	struct fw_node cn_node;
	char *cn_copy;
	struct fw_publish cn_pub[FW_PUBLISH_MAX];
	const char *cn_allow[FW_ALLOW_MAX];
};

static int cli_node(const char *spec, struct cli_node *c)
{
	const char **f[] = { &c->cn_node.fn_name, &c->cn_node.fn_bridge, &c->cn_node.fn_subnet_cidr,
			     &c->cn_node.fn_ip,   &c->cn_node.fn_mac,    &c->cn_node.fn_gateway };
	char *save = NULL, *tok;
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	c->cn_copy = strdup(spec);
	if (c->cn_copy == NULL)
		return -1;
	for (tok = strtok_r(c->cn_copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save), i++) {
		struct dock_err err = { 0 };

		if (i < 6)
			*f[i] = tok;
		else if (strncmp(tok, "publish=", 8) == 0 &&
			 c->cn_node.fn_npublished < FW_PUBLISH_MAX) {
			if (fw_publish_parse(tok + 8, &c->cn_pub[c->cn_node.fn_npublished++],
					     &err) < 0) {
				fprintf(stderr, "test_fw: %s\n", err.de_msg);
				return -1;
			}
		} else if (strncmp(tok, "allow=", 6) == 0 &&
			   c->cn_node.fn_negress_allow < FW_ALLOW_MAX)
			c->cn_allow[c->cn_node.fn_negress_allow++] = tok + 6;
		else if (strcmp(tok, "deny") == 0)
			c->cn_node.fn_egress_deny = true;
		else if (strcmp(tok, "quarantined") == 0)
			c->cn_node.fn_quarantined = true;
		else if (strncmp(tok, "in=", 3) == 0)
			c->cn_node.fn_net_in_bps = strtoull(tok + 3, NULL, 10);
		else if (strncmp(tok, "out=", 4) == 0)
			c->cn_node.fn_net_out_bps = strtoull(tok + 4, NULL, 10);
		else {
			fprintf(stderr, "test_fw: node %s: what is \"%s\"?\n", spec, tok);
			return -1;
		}
	}
	c->cn_node.fn_published = c->cn_pub;
	c->cn_node.fn_egress_allow = c->cn_allow;
	return 0;
}

/* "FROM,FROMBRIDGE,TO,TOBRIDGE,PORT/PROTO" */
static int cli_flow(char *spec, struct fw_flow *f)
{
	const char **w[] = { &f->ff_from, &f->ff_to };
	char *save = NULL, *tok, *slash;
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	for (tok = strtok_r(spec, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save), i++) {
		if (i == 0 || i == 2)
			*w[i / 2] = tok;
		else if (i == 1)
			f->ff_from_bridge = tok;
		else if (i == 3)
			f->ff_to_bridge = tok;
		else if (i == 4) {
			slash = strchr(tok, '/');
			f->ff_port = (uint16_t)strtoul(tok, NULL, 10);
			f->ff_proto = slash != NULL && strcmp(slash, "/udp") == 0 ? IPPROTO_UDP
										  : IPPROTO_TCP;
		} else
			return -1;
	}
	return i == 5 ? 0 : -1;
}

/* flows OLD... -- NEW...: one fw_flows_set */
static int cli_flows(int argc, char **argv, struct dock_err *err)
{
	struct fw_flow *f = calloc((size_t)argc + 1, sizeof(*f));
	size_t nold = 0, nnew = 0;
	bool after = false;
	int r;

	if (f == NULL)
		return -ENOMEM;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			after = true;
			continue;
		}
		if (cli_flow(argv[i], &f[nold + nnew]) < 0) {
			free(f);
			return -EINVAL;
		}
		if (after)
			nnew++;
		else
			nold++;
	}
	r = fw_flows_set(f, nold, f + nold, nnew, err);
	free(f);
	return r;
}

static int cli(int argc, char **argv)
{
	static struct cli_node nodes[64];
	struct dock_err err = { 0 };
	const char *cmd = argv[1];
	struct fw_publish p;
	size_t n = 0;
	int r = -EINVAL;

	if (!outside_host_netns()) {
		fprintf(stderr,
			"test_fw: not provably outside the host's network namespace"
			" (set FW_TEST_HOST_NETNS to its inode): refusing\n");
		return 2;
	}
	if (strcmp(cmd, "show") == 0) {
		const char *name = argc > 2 && strcmp(argv[2], "--json") != 0 ? argv[2] : NULL;
		bool json = strcmp(argv[argc - 1], "--json") == 0;
		struct fw_show *s = NULL;

		r = fw_show(name, &s, &err);
		if (r == 0 && json) {
			struct json_object *j = NULL;

			r = fw_show_json(s, &j, &err);
			if (r == 0)
				puts(json_object_to_json_string_ext(
					j,
					JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(j);
		} else if (r == 0) {
			char *t = fw_show_text(s);

			fputs(t != NULL ? t : "", stdout);
			free(t);
		}
		fw_show_free(s);
		goto out;
	}
	if (strcmp(cmd, "flows") == 0) {
		r = cli_flows(argc, argv, &err);
		goto out;
	}
	if (strcmp(cmd, "teardown") == 0 && argc == 2) {
		r = fw_teardown(&err);
		goto out;
	}
	if (strcmp(cmd, "init") == 0) {
		if ((size_t)argc - 2 > sizeof(nodes) / sizeof(nodes[0]))
			return 2;
		for (int i = 2; i < argc; i++, n++)
			if (cli_node(argv[i], &nodes[n]) < 0)
				return 2;
		struct fw_node *list = calloc(n + 1, sizeof(*list));

		if (list == NULL)
			return 2;
		for (size_t i = 0; i < n; i++)
			list[i] = nodes[i].cn_node;
		r = fw_init(list, n, NULL, 0, &err);
		free(list);
		goto out;
	}
	if (argc < 3 || cli_node(argv[2], &nodes[0]) < 0) {
		usage();
		return 2;
	}
	n = 1;
	if (strcmp(cmd, "add") == 0 && argc == 3)
		r = fw_node_add(&nodes[0].cn_node, &err);
	else if (strcmp(cmd, "remove") == 0 && argc == 3)
		r = fw_node_remove(&nodes[0].cn_node, &err);
	else if ((strcmp(cmd, "publish") == 0 || strcmp(cmd, "unpublish") == 0 ||
		  strcmp(cmd, "toggle") == 0) &&
		 argc >= 4 && fw_publish_parse(argv[3], &p, &err) == 0) {
		if (cmd[0] == 'p' && argc == 4)
			r = fw_publish(&nodes[0].cn_node, &p, &err);
		else if (cmd[0] == 'u' && argc == 4)
			r = fw_unpublish(&nodes[0].cn_node, &p, &err);
		else if (cmd[0] == 't' && (argc == 5 || argc == 6)) {
			/* publish and unpublish, N times, PAUSE ms after each: the
			 * atomicity test's churn, slowed to overlap its probes */
			long times = strtol(argv[4], NULL, 10);
			long pause = argc == 6 ? strtol(argv[5], NULL, 10) : 0;
			struct timespec ts = { pause / 1000, (pause % 1000) * 1000000 };

			r = 0;
			for (long i = 0; i < times && r == 0; i++) {
				r = fw_publish(&nodes[0].cn_node, &p, &err);
				if (r == 0 && pause > 0)
					nanosleep(&ts, NULL);
				if (r == 0)
					r = fw_unpublish(&nodes[0].cn_node, &p, &err);
				if (r == 0 && pause > 0)
					nanosleep(&ts, NULL);
			}
		}
	} else if (strcmp(cmd, "quarantine") == 0 && argc == 4)
		r = fw_quarantine(&nodes[0].cn_node, strcmp(argv[3], "on") == 0, &err);
	else if (strcmp(cmd, "egress") == 0 && argc >= 4)
		r = fw_set_egress(&nodes[0].cn_node, strcmp(argv[3], "deny") == 0,
				  (const char *const *)argv + 4, (size_t)(argc - 4), &err);
	else if (!err_isset(&err)) {
		usage();
		r = -EINVAL;
	}
out:
	if (r < 0 && err.de_msg[0] != '\0')
		fprintf(stderr, "test_fw %s: %d %s\n", cmd, err.de_status, err.de_msg);
	for (size_t i = 0; i < n; i++)
		free(nodes[i].cn_copy);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_init_zero_one_three, check_others),
		cmocka_unit_test_teardown(test_init_policy, check_others),
		cmocka_unit_test_teardown(test_init_repairs_drift, check_others),
		cmocka_unit_test_teardown(test_set_private, check_others),
		cmocka_unit_test_teardown(test_add_remove, check_others),
		cmocka_unit_test_teardown(test_init_equals_adds, check_others),
		cmocka_unit_test_teardown(test_conflicts_are_atomic, check_others),
		cmocka_unit_test_teardown(test_bad_node_changes_nothing, check_others),
		cmocka_unit_test_teardown(test_bad_policy_changes_nothing, check_others),
		cmocka_unit_test_teardown(test_init_refuses_bad_sets, check_others),
		cmocka_unit_test_teardown(test_publish_parse, check_others),
		cmocka_unit_test_teardown(test_publish_unpublish, check_others),
		cmocka_unit_test_teardown(test_quarantine, check_others),
		cmocka_unit_test_teardown(test_egress, check_others),
		cmocka_unit_test_teardown(test_flows, check_others),
		cmocka_unit_test_teardown(test_bandwidth, check_others),
		cmocka_unit_test_teardown(test_names, check_others),
		cmocka_unit_test_teardown(test_node_update, check_others),
		cmocka_unit_test_teardown(test_teardown, check_others),
		cmocka_unit_test_teardown(test_max_nodes, check_others),
		cmocka_unit_test_teardown(test_render, check_others),
		cmocka_unit_test_teardown(test_show, check_others),
		cmocka_unit_test_teardown(test_same_as_nft, check_others),
	};
	struct stat before, after;

	if (argc > 1)
		return cli(argc, argv);
	/* A network namespace of our own: an empty ruleset, and the host's
	 * is out of reach whatever happens below. */
	if (netns_of("/proc/self/ns/net", &before) < 0 || unshare(CLONE_NEWNET) < 0) {
		printf("1..0 # SKIP unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
		return 77;
	}
	if (netns_of("/proc/self/ns/net", &after) < 0 || after.st_ino == before.st_ino) {
		printf("Bail out! no network namespace of our own\n");
		return 1;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("fw", tests, group_setup, group_teardown);
}
