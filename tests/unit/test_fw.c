/* test_fw: firewall/fw.c against the real kernel. The test enters a network
 * namespace of its own before anything else (and refuses to run in the
 * host's), so it starts from an empty ruleset and never touches the host's;
 * it reads the result back with `nft list`. With arguments it is a tiny CLI
 * (init/add/remove/teardown NAME:BRIDGE:CIDR...) for tests/fw/fw-selftest.sh,
 * which runs it in namespaces it made. Build and run: see fw-selftest.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fw.h"

#define OUT_MAX (1 << 20)

/* ---- the ruleset, as nft prints it ------------------------------------- */

#define T_HEAD                                                                          \
	"table inet isc {\n"                                                            \
	"\tcomment \"ISC dock policy, owned by dockd: do not edit, fw_init rebuilds it\"\n"
#define T_CHAINS                                                                        \
	"\tchain forward {\n"                                                           \
	"\t\ttype filter hook forward priority filter; policy accept;\n"                \
	"\t\tiifname @node_bridges oifname @node_bridges drop\n"                        \
	"\t\toifname @node_bridges ct state established,related accept\n"               \
	"\t\toifname @node_bridges drop\n"                                              \
	"\t}\n"                                                                         \
	"\n"                                                                            \
	"\tchain postrouting {\n"                                                       \
	"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"               \
	"\t\tip saddr @node_subnets oifname != @node_bridges masquerade\n"              \
	"\t}\n"                                                                         \
	"}\n"
#define T_SETS(bridges, subnets)                                                        \
	"\tset node_bridges {\n"                                                        \
	"\t\ttype ifname\n" bridges "\t}\n"                                             \
	"\n"                                                                            \
	"\tset node_subnets {\n"                                                        \
	"\t\ttype ipv4_addr\n"                                                          \
	"\t\tflags interval\n" subnets "\t}\n"                                          \
	"\n"

static const char want_empty[] = T_HEAD T_SETS("", "") T_CHAINS;
static const char want_n0[] =
	T_HEAD T_SETS("\t\telements = { \"iscbr0\" }\n",
		      "\t\telements = { 10.231.0.0/29 }\n") T_CHAINS;
static const char want_n1[] =
	T_HEAD T_SETS("\t\telements = { \"iscbr1\" }\n",
		      "\t\telements = { 10.231.0.8/29 }\n") T_CHAINS;
static const char want_n01[] =
	T_HEAD T_SETS("\t\telements = { \"iscbr0\",\n"
		      "\t\t\t     \"iscbr1\" }\n",
		      "\t\telements = { 10.231.0.0/29, 10.231.0.8/29 }\n") T_CHAINS;
static const char want_n012[] =
	T_HEAD T_SETS("\t\telements = { \"iscbr0\",\n"
		      "\t\t\t     \"iscbr1\",\n"
		      "\t\t\t     \"iscbr2\" }\n",
		      "\t\telements = { 10.231.0.0/29, 10.231.0.8/29,\n"
		      "\t\t\t     10.231.0.16/29 }\n") T_CHAINS;

static const struct fw_node n0 = { "web1", "iscbr0", "10.231.0.0/29" };
static const struct fw_node n1 = { "db", "iscbr1", "10.231.0.8/29" };
static const struct fw_node n2 = { "cache", "iscbr2", "10.231.0.16/29" };

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

/* ---- helpers ----------------------------------------------------------- */

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

	assert_int_equal(sh("nft list table inet isc", &out), 0);
	return out;
}

static void assert_isc(const char *want)
{
	char *got = isc_table();

	assert_string_equal(got, want);
	free(got);
}

static char *ruleset(void)
{
	char *out;

	assert_int_equal(sh("nft list ruleset", &out), 0);
	return out;
}

static char *other_tables(void)
{
	char *a, *b, *both;

	assert_int_equal(sh("nft list table ip filter", &a), 0);
	assert_int_equal(sh("nft list table inet other", &b), 0);
	both = malloc(strlen(a) + strlen(b) + 1);
	assert_non_null(both);
	strcpy(both, a);
	strcat(both, b);
	free(a);
	free(b);
	return both;
}

static void init_ok(const struct fw_node *nodes, size_t n)
{
	struct dock_err err = { 0 };

	assert_int_equal(fw_init(nodes, n, &err), 0);
	assert_string_equal(err.de_msg, "");
}

static void add_ok(const struct fw_node *node)
{
	struct dock_err err = { 0 };

	assert_int_equal(fw_node_add(node, &err), 0);
	assert_string_equal(err.de_msg, "");
}

static void remove_ok(const struct fw_node *node)
{
	struct dock_err err = { 0 };

	assert_int_equal(fw_node_remove(node, &err), 0);
	assert_string_equal(err.de_msg, "");
}

/* The call failed as expected: status, errno, a message naming `names`,
 * and nothing changed. */
static void assert_failed(int r, const struct dock_err *err, int status, int errnum,
			  const char *names, const char *before)
{
	char *after = ruleset();

	print_message("# %d: %s\n", err->de_status, err->de_msg);
	assert_int_equal(r, -errnum);
	assert_int_equal(err->de_status, status);
	assert_int_equal(err->de_errno, errnum);
	assert_null(strchr(err->de_msg, '\n'));
	if (names != NULL)
		assert_non_null(strstr(err->de_msg, names));
	assert_string_equal(after, before);
	free(after);
}

/* ---- fixtures ---------------------------------------------------------- */

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
	(void)state;
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

/* ---- tests ------------------------------------------------------------- */

static void test_init_zero_one_three(void **state)
{
	const struct fw_node three[] = { n0, n1, n2 };

	(void)state;
	init_ok(NULL, 0);
	assert_isc(want_empty);
	init_ok(&n0, 1);
	assert_isc(want_n0);
	init_ok(three, 3);
	assert_isc(want_n012);
	init_ok(NULL, 0);
	assert_isc(want_empty);
}

/* fw_init rebuilds the table whatever it holds: elements, rules and chains
 * that someone else put there are gone. */
static void test_init_repairs_drift(void **state)
{
	const struct fw_node three[] = { n0, n1, n2 };

	(void)state;
	init_ok(three, 3);
	nft_apply("add rule inet isc forward accept\n"
		  "add element inet isc node_bridges { \"rogue0\" }\n"
		  "add chain inet isc extra\n"
		  "add set inet isc extra_set { type ipv4_addr; }\n");
	init_ok(&n1, 1);
	assert_isc(want_n1);
}

static void test_add_remove(void **state)
{
	(void)state;
	init_ok(NULL, 0);
	add_ok(&n0);
	assert_isc(want_n0);
	add_ok(&n1);
	assert_isc(want_n01);
	add_ok(&n1);  /* again: no-op */
	assert_isc(want_n01);
	remove_ok(&n0);
	assert_isc(want_n1);
	remove_ok(&n0);  /* absent: no-op */
	assert_isc(want_n1);
	remove_ok(&n2);  /* never there: no-op */
	assert_isc(want_n1);
	add_ok(&n0);
	remove_ok(&n1);  /* the interval whose start is n0's end */
	assert_isc(want_n0);
	remove_ok(&n0);
	assert_isc(want_empty);
}

/* fw_init with two nodes and two fw_node_add give the same table. */
static void test_init_equals_adds(void **state)
{
	const struct fw_node two[] = { n1, n0 };
	char *by_init, *by_add;

	(void)state;
	init_ok(two, 2);
	by_init = isc_table();
	init_ok(NULL, 0);
	add_ok(&n0);
	add_ok(&n1);
	by_add = isc_table();
	assert_string_equal(by_init, want_n01);
	assert_string_equal(by_add, by_init);
	free(by_init);
	free(by_add);
}

/* A subnet overlapping another node's: the kernel refuses, and the batch's
 * bridge element (accepted on its own) is rolled back with it. */
static void test_conflict_is_atomic(void **state)
{
	const struct fw_node wide = { "wide", "iscbr9", "10.231.0.0/28" };
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	init_ok(&n0, 1);
	before = ruleset();
	assert_failed(fw_node_add(&wide, &err), &err, 409, EEXIST, "10.231.0.0/28", before);
	err_clear(&err);
	assert_failed(fw_node_remove(&wide, &err), &err, 409, EEXIST, "wide", before);
	assert_isc(want_n0);
	free(before);
}

static const struct bad_case {
	struct fw_node bc_node;
	int bc_errno;
	const char *bc_names;  /* the message must quote this */
} bad_cases[] = {
	{ { NULL, "iscbr0", "10.231.0.0/29" }, EINVAL, "node name is missing" },
	{ { "", "iscbr0", "10.231.0.0/29" }, EINVAL, "node name is empty" },
	{ { "web 1", "iscbr0", "10.231.0.0/29" }, EINVAL, "\"web 1\"" },
	{ { "web\n1", "iscbr0", "10.231.0.0/29" }, EINVAL, "\"web?1\"" },
	{ { "web1", NULL, "10.231.0.0/29" }, EINVAL, "bridge is missing" },
	{ { "web1", "", "10.231.0.0/29" }, EINVAL, "bridge is empty" },
	{ { "web1", "iscbr0123456789a", "10.231.0.0/29" }, ENAMETOOLONG, "iscbr0123456789a" },
	{ { "web1", "ISCBR0", "10.231.0.0/29" }, EINVAL, "ISCBR0" },
	{ { "web1", "isc_br0", "10.231.0.0/29" }, EINVAL, "isc_br0" },
	{ { "web1", "isc.br0", "10.231.0.0/29" }, EINVAL, "isc.br0" },
	{ { "web1", "isc/br0", "10.231.0.0/29" }, EINVAL, "isc/br0" },
	{ { "web1", "iscbr0", NULL }, EINVAL, "subnet is missing" },
	{ { "web1", "iscbr0", "" }, EINVAL, "subnet \"\"" },
	{ { "web1", "iscbr0", "10.231.0.0" }, EINVAL, "10.231.0.0" },
	{ { "web1", "iscbr0", "10.231.0/29" }, EINVAL, "10.231.0/29" },
	{ { "web1", "iscbr0", "10.231.0.0.0/29" }, EINVAL, "10.231.0.0.0/29" },
	{ { "web1", "iscbr0", "300.231.0.0/29" }, EINVAL, "300.231.0.0/29" },
	{ { "web1", "iscbr0", " 10.231.0.0/29" }, EINVAL, " 10.231.0.0/29" },
	{ { "web1", "iscbr0", "10.231.0.0/29 " }, EINVAL, "10.231.0.0/29 " },
	{ { "web1", "iscbr0", "10.231.0.0/" }, EINVAL, "10.231.0.0/" },
	{ { "web1", "iscbr0", "10.231.0.0/029" }, EINVAL, "10.231.0.0/029" },
	{ { "web1", "iscbr0", "10.231.0.0/+29" }, EINVAL, "10.231.0.0/+29" },
	{ { "web1", "iscbr0", "10.231.0.0/29x" }, EINVAL, "10.231.0.0/29x" },
	{ { "web1", "iscbr0", "10.0.0.0/7" }, EINVAL, "10.0.0.0/7" },
	{ { "web1", "iscbr0", "10.231.0.0/31" }, EINVAL, "10.231.0.0/31" },
	{ { "web1", "iscbr0", "10.231.0.0/32" }, EINVAL, "10.231.0.0/32" },
	{ { "web1", "iscbr0", "10.231.0.0/100" }, EINVAL, "10.231.0.0/100" },
	{ { "web1", "iscbr0", "10.231.0.1/29" }, EINVAL, "the network is 10.231.0.0/29" },
	{ { "web1", "iscbr0", "127.0.0.0/8" }, EINVAL, "127.0.0.0/8" },
	{ { "web1", "iscbr0", "0.0.0.0/8" }, EINVAL, "0.0.0.0/8" },
	{ { "web1", "iscbr0", "224.0.0.0/8" }, EINVAL, "224.0.0.0/8" },
	{ { "web1", "iscbr0", "255.255.255.248/29" }, EINVAL, "255.255.255.248/29" },
	{ { "web1", "iscbr0", "010.231.0.0/29" }, EINVAL, "010.231.0.0/29" },
	{ { "web1", "iscbr0", "0x0a.231.0.0/29" }, EINVAL, "0x0a.231.0.0/29" },
};

/* Bad input is refused before any message is built: the ruleset, ours
 * included, is exactly as it was, whichever call got it. */
static void test_bad_input_changes_nothing(void **state)
{
	char *before;

	(void)state;
	init_ok(&n0, 1);
	before = ruleset();
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		const struct fw_node pair[] = { n1, c->bc_node };
		struct dock_err err = { 0 };

		assert_failed(fw_node_check(&c->bc_node, &err), &err, 400, c->bc_errno,
			      c->bc_names, before);
		err_clear(&err);
		assert_failed(fw_node_add(&c->bc_node, &err), &err, 400, c->bc_errno,
			      c->bc_names, before);
		err_clear(&err);
		assert_failed(fw_node_remove(&c->bc_node, &err), &err, 400, c->bc_errno,
			      c->bc_names, before);
		err_clear(&err);
		assert_failed(fw_init(pair, 2, &err), &err, 400, c->bc_errno, c->bc_names, before);
		assert_int_equal(fw_node_add(&c->bc_node, NULL), -c->bc_errno);  /* err is optional */
	}
	free(before);
}

static void test_init_refuses_bad_sets(void **state)
{
	const struct fw_node same_bridge[] = { n0, { "other", "iscbr0", "10.231.1.0/29" } };
	const struct fw_node overlap[] = { n0, n1, { "wide", "iscbr9", "10.231.0.0/28" } };
	const struct fw_node inside[] = { { "wide", "iscbr9", "10.0.0.0/8" }, n2 };
	struct fw_node *many;
	struct dock_err err = { 0 };
	char *before;

	(void)state;
	init_ok(&n1, 1);
	before = ruleset();
	assert_failed(fw_init(same_bridge, 2, &err), &err, 400, EINVAL,
		      "node other: bridge iscbr0 is node web1's too", before);
	err_clear(&err);
	assert_failed(fw_init(overlap, 3, &err), &err, 400, EINVAL,
		      "node wide: subnet 10.231.0.0/28 overlaps node web1's subnet 10.231.0.0/29",
		      before);
	err_clear(&err);
	assert_failed(fw_init(inside, 2, &err), &err, 400, EINVAL, "overlaps node wide's", before);
	err_clear(&err);
	assert_failed(fw_init(NULL, 1, &err), &err, 400, EINVAL, "no node array", before);
	err_clear(&err);
	many = calloc(FW_NODES_MAX + 1, sizeof(*many));
	assert_non_null(many);
	assert_failed(fw_init(many, FW_NODES_MAX + 1, &err), &err, 400, E2BIG, "1025 nodes",
		      before);
	err_clear(&err);
	assert_failed(fw_node_add(NULL, &err), &err, 400, EINVAL, "node is missing", before);
	free(many);
	free(before);
	assert_isc(want_n1);
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
	assert_int_equal(fw_teardown(&err), 0);  /* absent: fine */
	assert_string_equal(err.de_msg, "");

	/* Without the table, node calls fail loudly: isolation is gone. */
	before = ruleset();
	assert_failed(fw_node_add(&n0, &err), &err, 500, ENOENT, "fw_init makes it", before);
	err_clear(&err);
	assert_failed(fw_node_remove(&n0, &err), &err, 500, ENOENT,
		      "could not remove node web1's bridge iscbr0", before);
	free(before);

	init_ok(&n0, 1);  /* from nothing again */
	assert_isc(want_n0);
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

/* FW_NODES_MAX nodes in one batch: several element messages, one commit. */
static void test_max_nodes(void **state)
{
	static char names[FW_NODES_MAX][16], bridges[FW_NODES_MAX][16], cidrs[FW_NODES_MAX][20];
	struct fw_node *nodes = calloc(FW_NODES_MAX, sizeof(*nodes));
	char *out;

	(void)state;
	assert_non_null(nodes);
	for (unsigned i = 0; i < FW_NODES_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "n%u", i);
		snprintf(bridges[i], sizeof(bridges[i]), "iscbr%u", i);
		/* 10.0.0.0/29 upwards, every other /29 so none are adjacent */
		snprintf(cidrs[i], sizeof(cidrs[i]), "10.%u.%u.%u/29", (i * 16) >> 16,
			 ((i * 16) >> 8) & 255, (i * 16) & 255);
		nodes[i] = (struct fw_node){ names[i], bridges[i], cidrs[i] };
	}
	init_ok(nodes, FW_NODES_MAX);
	assert_int_equal(sh("nft list set inet isc node_bridges", &out), 0);
	assert_int_equal(count(out, "\"iscbr"), FW_NODES_MAX);
	free(out);
	assert_int_equal(sh("nft list set inet isc node_subnets", &out), 0);
	assert_int_equal(count(out, "/29"), FW_NODES_MAX);
	assert_non_null(strstr(out, "10.0.63.240/29"));
	free(out);
	remove_ok(&nodes[FW_NODES_MAX - 1]);
	assert_int_equal(sh("nft list set inet isc node_subnets", &out), 0);
	assert_int_equal(count(out, "/29"), FW_NODES_MAX - 1);
	free(out);
	free(nodes);
	init_ok(NULL, 0);
}

/* ---- CLI for fw-selftest.sh -------------------------------------------- */

static int cli(int argc, char **argv)
{
	struct fw_node nodes[16];
	char *copies[16] = { 0 };
	struct dock_err err = { 0 };
	size_t n = 0;
	int r;

	if (!outside_host_netns()) {
		fprintf(stderr, "test_fw: not provably outside the host's network namespace"
				" (set FW_TEST_HOST_NETNS to its inode): refusing\n");
		return 2;
	}
	if (argc - 2 > 16) {
		fprintf(stderr, "test_fw: at most 16 nodes\n");
		return 2;
	}
	for (int i = 2; i < argc; i++, n++) {
		char *s = copies[n] = strdup(argv[i]), *save = NULL;

		if (s == NULL)
			return 2;
		nodes[n].fn_name = strtok_r(s, ":", &save);
		nodes[n].fn_bridge = strtok_r(NULL, ":", &save);
		nodes[n].fn_subnet_cidr = strtok_r(NULL, ":", &save);
	}
	if (strcmp(argv[1], "init") == 0)
		r = fw_init(nodes, n, &err);
	else if (strcmp(argv[1], "add") == 0 && n == 1)
		r = fw_node_add(&nodes[0], &err);
	else if (strcmp(argv[1], "remove") == 0 && n == 1)
		r = fw_node_remove(&nodes[0], &err);
	else if (strcmp(argv[1], "teardown") == 0 && n == 0)
		r = fw_teardown(&err);
	else {
		fprintf(stderr, "usage: test_fw [init NODE...|add NODE|remove NODE|teardown]"
				" (NODE is NAME:BRIDGE:CIDR)\n");
		r = -EINVAL;
	}
	if (r < 0 && err.de_msg[0] != '\0')
		fprintf(stderr, "test_fw %s: %d %s\n", argv[1], err.de_status, err.de_msg);
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_init_zero_one_three, check_others),
		cmocka_unit_test_teardown(test_init_repairs_drift, check_others),
		cmocka_unit_test_teardown(test_add_remove, check_others),
		cmocka_unit_test_teardown(test_init_equals_adds, check_others),
		cmocka_unit_test_teardown(test_conflict_is_atomic, check_others),
		cmocka_unit_test_teardown(test_bad_input_changes_nothing, check_others),
		cmocka_unit_test_teardown(test_init_refuses_bad_sets, check_others),
		cmocka_unit_test_teardown(test_teardown, check_others),
		cmocka_unit_test_teardown(test_max_nodes, check_others),
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
