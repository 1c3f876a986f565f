/* bench: time one fw_publish with 1, 100 and 1000 nodes in the table,
 * against the same change made by running `nft -f -` (one process per
 * change, as a dock without libnftnl would). Median of 20 each; the
 * unpublish between two runs is not timed. Then one flow change (one flow
 * replaced by another, fw_flows_set) with 1, 100 and 1000 flows in set
 * node_flows and 1000 nodes in the table: lines "flows N MS". It enters a network namespace
 * of its own first, so the host's ruleset is never touched. Not a test: it
 * asserts nothing about time. Build and run: tests/fw/bench.sh */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw.h"

#define RUNS 20

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct bnode {
	char name[16], bridge[16], cidr[20], ip[16], gw[16], mac[18];
};

static void make_node(struct bnode *b, struct fw_node *n, unsigned i)
{
	unsigned net = i * 16;

	snprintf(b->name, sizeof(b->name), "n%u", i);
	snprintf(b->bridge, sizeof(b->bridge), "iscbr%u", i);
	snprintf(b->cidr, sizeof(b->cidr), "10.%u.%u.%u/29", net >> 16, (net >> 8) & 255,
		 net & 255);
	snprintf(b->gw, sizeof(b->gw), "10.%u.%u.%u", net >> 16, (net >> 8) & 255, (net & 255) + 1);
	snprintf(b->ip, sizeof(b->ip), "10.%u.%u.%u", net >> 16, (net >> 8) & 255, (net & 255) + 2);
	snprintf(b->mac, sizeof(b->mac), "52:54:00:00:%02x:%02x", i >> 8, i & 255);
	*n = (struct fw_node){ .fn_name = b->name,
			       .fn_bridge = b->bridge,
			       .fn_subnet_cidr = b->cidr,
			       .fn_ip = b->ip,
			       .fn_mac = b->mac,
			       .fn_gateway = b->gw };
}

static int nft(const char *cmds)
{
	FILE *p = popen("nft -f -", "w");

	if (p == NULL)
		return -1;
	fputs(cmds, p);
	return pclose(p) == 0 ? 0 : -1;
}

/* One flow changed (a -> b:P replaced by a -> b:P+1 and back) with n
 * flows in the set, the median of RUNS; < 0 on failure. */
static double bench_flows(const struct bnode *bn, unsigned n)
{
	static struct fw_flow f[1001];
	struct dock_err err = { 0 };
	double t[RUNS];

	for (unsigned i = 0; i <= n; i++)
		f[i] = (struct fw_flow){ bn[i % 1000].name,   bn[(i + 1) % 1000].name,
					 bn[i % 1000].bridge, bn[(i + 1) % 1000].bridge,
					 IPPROTO_TCP,         (uint16_t)(1000 + i / 1000) };
	if (fw_flows_set(NULL, 0, f, n, &err) < 0) {
		fprintf(stderr, "bench: fw_flows_set: %s\n", err.de_msg);
		return -1;
	}
	f[n] = f[0];
	f[n].ff_port = 2000;
	for (int r = 0; r < RUNS; r++) {
		const struct fw_flow *from = r % 2 ? &f[n] : &f[0], *to = r % 2 ? &f[0] : &f[n];
		double t0 = now_ms();

		if (fw_flows_set(from, 1, to, 1, &err) < 0) {
			fprintf(stderr, "bench: fw_flows_set: %s\n", err.de_msg);
			return -1;
		}
		t[r] = now_ms() - t0;
	}
	return median(t, RUNS);
}

int main(void)
{
	static const unsigned sizes[] = { 1, 100, 1000 };
	static struct bnode bn[1000];
	static struct fw_node nodes[1000];
	const struct fw_publish p = { IPPROTO_TCP, 8080, 80 };
	struct dock_err err = { 0 };
	double lib[RUNS], cli[RUNS], init_ms;
	char add[512], del[512];

	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "bench: unshare(CLONE_NEWNET): %s (run as root)\n",
			strerror(errno));
		return 77;
	}
	for (unsigned i = 0; i < 1000; i++)
		make_node(&bn[i], &nodes[i], i);
	printf("%-6s %12s %14s %14s %10s\n", "nodes", "fw_init ms", "fw_publish ms", "nft -f ms",
	       "ratio");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		unsigned n = sizes[s];
		const struct fw_node *target = &nodes[n / 2];

		init_ms = now_ms();
		if (fw_init(nodes, n, NULL, 0, &err) < 0) {
			fprintf(stderr, "bench: fw_init: %s\n", err.de_msg);
			return 1;
		}
		init_ms = now_ms() - init_ms;
		for (int r = 0; r < RUNS; r++) {
			double t = now_ms();

			if (fw_publish(target, &p, &err) < 0) {
				fprintf(stderr, "bench: fw_publish: %s\n", err.de_msg);
				return 1;
			}
			lib[r] = now_ms() - t;
			if (fw_unpublish(target, &p, &err) < 0) {
				fprintf(stderr, "bench: fw_unpublish: %s\n", err.de_msg);
				return 1;
			}
		}
		/* the same change through nft: the elements fw_publish adds */
		snprintf(add, sizeof(add),
			 "add element inet isc published { tcp . 8080 comment \"%s\" : %s . 80 }\n"
			 "add element inet isc published_to { %s . tcp . 80 }\n",
			 target->fn_name, target->fn_ip, target->fn_ip);
		snprintf(del, sizeof(del),
			 "delete element inet isc published { tcp . 8080 }\n"
			 "delete element inet isc published_to { %s . tcp . 80 }\n",
			 target->fn_ip);
		for (int r = 0; r < RUNS; r++) {
			double t = now_ms();

			if (nft(add) < 0) {
				fprintf(stderr, "bench: nft -f failed\n");
				return 1;
			}
			cli[r] = now_ms() - t;
			if (nft(del) < 0)
				return 1;
		}
		double ml = median(lib, RUNS), mc = median(cli, RUNS);

		printf("%-6u %12.2f %14.3f %14.3f %9.0fx\n", n, init_ms, ml, mc, mc / ml);
	}
	printf("%-6s %6s %14s\n", "", "flows", "one change ms");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double ms;

		if (fw_init(nodes, 1000, NULL, 0, &err) < 0) {
			fprintf(stderr, "bench: fw_init: %s\n", err.de_msg);
			return 1;
		}
		ms = bench_flows(bn, sizes[s]);
		if (ms < 0)
			return 1;
		printf("%-6s %6u %14.3f\n", "flows", sizes[s], ms);
	}
	fw_teardown(NULL);
	return 0;
}
