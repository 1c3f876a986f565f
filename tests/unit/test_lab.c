/* Unit tests of the lab file (dockd/lab.c: libyaml against the schema, every
 * error with file:line:col: key; each node's create request checked by
 * spec_parse) and of the plan of an up (dockd/lab-plan.c: a pure diff). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab.h"

static struct dock_config cfg;

static const char shop[] = "name: shop\n"
			   "defaults: {image: micro, memory: 256M, vcpus: 1, lifetime: 6h}\n"
			   "nodes:\n"
			   "  web: {publish: [\"8080:80\"], egress: deny}\n"
			   "  db:  {scratch: 1G, egress: deny}\n"
			   "  job: {egress: {allow: [\"203.0.113.0/24\"]}}\n"
			   "flows:\n"
			   "  - {from: web, to: db, port: 80/tcp}\n";

static struct lab *parse_ok(const char *text, const struct dock_config *c)
{
	struct lab *lab = malloc(sizeof(*lab));
	struct dock_err err = { 0 };

	assert_non_null(lab);
	if (lab_parse("shop.lab.yaml", text, strlen(text), c, lab, &err) != 0)
		fail_msg("refused: %s", err.de_msg);
	return lab;
}

/* The text is refused with exactly msg. */
static void refused(const char *text, const char *msg)
{
	struct lab *lab = malloc(sizeof(*lab));
	struct dock_err err = { 0 };
	int r;

	assert_non_null(lab);
	r = lab_parse("t.lab.yaml", text, strlen(text), &cfg, lab, &err);
	free(lab);
	if (r == 0)
		fail_msg("accepted, expected: %s", msg);
	assert_int_equal(err.de_status, 400);
	if (strcmp(err.de_msg, msg) != 0)
		fail_msg("got \"%s\", expected \"%s\"", err.de_msg, msg);
}

static void test_shop(void **state)
{
	struct lab *lab = parse_ok(shop, &cfg);

	(void)state;
	assert_string_equal(lab->l_name, "shop");
	assert_int_equal(lab->l_n_nodes, 3);
	assert_string_equal(lab->l_nodes[0].ln_name, "shop-web");
	assert_string_equal(lab->l_nodes[0].ln_short, "web");
	assert_string_equal(
		lab->l_nodes[1].ln_core,
		"{\"name\":\"shop-db\",\"image\":\"micro\",\"memory_mib\":256,\"vcpus\":1,"
		"\"scratch_mib\":1024,\"lifetime_s\":21600}");
	assert_string_equal(lab->l_nodes[0].ln_net,
			    "{\"publish\":[\"8080:80\"],\"egress_allow\":[],\"egress\":\"deny\"}");
	assert_string_equal(
		lab->l_nodes[2].ln_net,
		"{\"publish\":[],\"egress_allow\":[\"203.0.113.0/24\"],\"egress\":\"deny\"}");
	assert_int_equal(lab->l_n_flows, 1);
	assert_string_equal(lab->l_flows[0].lf_from, "shop-web");
	assert_string_equal(lab->l_flows[0].lf_to, "shop-db");
	assert_int_equal(lab->l_flows[0].lf_port, 80);
	free(lab);
}

/* The resource keys pass through to the create request, and
 * spec_parse takes them. */
static void test_resources(void **state)
{
	struct lab *lab =
		parse_ok("name: r\nnodes:\n  a: {image: micro, cpus: 0.5, cpu_weight: 200,"
			 " disk: {write_mbps: 20}, net: {out_mbps: 10}}\n",
			 &cfg);

	(void)state;
	assert_non_null(strstr(lab->l_nodes[0].ln_core, "\"cpus\":0.5"));
	assert_non_null(strstr(lab->l_nodes[0].ln_core, "\"cpu_weight\":200"));
	assert_non_null(strstr(lab->l_nodes[0].ln_core, "\"disk\":{\"write_mbps\":20}"));
	assert_non_null(strstr(lab->l_nodes[0].ln_core, "\"net\":{\"out_mbps\":10}"));
	free(lab);
}

static void test_errors(void **state)
{
	(void)state;
	refused("name: shop\nnodes:\n  web: {image: micro, memroy: 1G}\n",
		"t.lab.yaml:3:23: nodes.web.memroy: unknown key");
	refused("name: shop\nname: shop\nnodes: {a: {image: micro}}\n",
		"t.lab.yaml:2:1: name: duplicate key (first at line 1)");
	refused("name: shop\nnodes:\n  web: &x {image: micro}\n  db: *x\n",
		"t.lab.yaml:3:8: nodes.web: anchors are not allowed");
	refused("name: shop\nnodes:\n  web: {image: micro}\n  db: *x\n",
		"t.lab.yaml:4:7: nodes.db: aliases are not allowed");
	refused("name: !!str shop\nnodes: {a: {image: micro}}\n",
		"t.lab.yaml:1:7: name: tags are not allowed");
	refused("name: shop\nnodes: {a: {image: micro}}\n---\nname: x\n",
		"t.lab.yaml:3:1: (top): more than one document");
	refused("nodes: {a: {image: micro}}\n", "t.lab.yaml:1:1: name: missing");
	refused("name: shop\nnodes: {a: {image: micro, memory: 99999999M}}\n",
		"t.lab.yaml:2:35: nodes.a.memory: memory must be between 64 and 16384 MiB (the "
		"dock's limit)");
	refused("name: shop\ndefaults: {image: micro, lifetime: 1x}\nnodes: {a: {}}\n",
		"t.lab.yaml:2:36: defaults.lifetime: must be a duration: 90s, 15m, 6h, 2d, 1w");
	refused("name: shop\nnodes: {a: {image: micro}}\nflows: [{from: a, to: b, port: 80}]\n",
		"t.lab.yaml:3:23: flows[0].to: no node \"b\" in this lab");
	refused("name: shop\nnodes: {a: {image: micro}, b: {image: micro}}\n"
		"flows: [{from: a, to: b, port: 80/sctp}]\n",
		"t.lab.yaml:3:32: flows[0].port: must be PORT[/tcp|/udp], PORT 1 to 65535");
	refused("name: averyveryverylonglabname\nnodes: {somenode: {image: micro}}\n",
		"t.lab.yaml:2:9: nodes.somenode: the node's name \"averyveryverylonglabname-somenode\" "
		"is longer than 31 characters");
	refused("name: shop\nnodes: {a: {image: micro, egress: maybe}}\n",
		"t.lab.yaml:2:35: nodes.a.egress: must be allow, deny or {allow: [...]}");
	refused("name: shop\nnodes: [a]\n", "t.lab.yaml:2:8: nodes: must be a mapping");
	refused("", "t.lab.yaml:1:1: (top): the file is empty");
	refused("name: [\n", "t.lab.yaml:2:1: name: not YAML: did not find expected node content");
}

/* Counts: 64 nodes, 1024 flows, 256 KiB. */
static void test_bounds(void **state)
{
	char *buf = malloc(LAB_FILE_MAX + 2);
	size_t l = 0;
	struct lab *lab;

	(void)state;
	assert_non_null(buf);
	l += (size_t)sprintf(buf + l, "name: b\ndefaults: {image: micro}\nnodes:\n");
	for (int i = 0; i < 65; i++)
		l += (size_t)sprintf(buf + l, "  n%d: {}\n", i);
	refused(buf, "t.lab.yaml:68:3: nodes: more than 64 keys");
	l = 0;
	l += (size_t)sprintf(buf + l,
			     "name: b\ndefaults: {image: micro}\nnodes: {a: {}, b: {}}\n"
			     "flows:\n");
	for (int i = 1; i <= 1024; i++)
		l += (size_t)sprintf(buf + l, "  - {from: a, to: b, port: %d}\n", i);
	lab = parse_ok(buf, &cfg);
	assert_int_equal(lab->l_n_flows, 1024);
	free(lab);
	sprintf(buf + l, "  - {from: b, to: a, port: 1}\n");
	refused(buf, "t.lab.yaml:1029:5: flows: more than 1024 items");
	memset(buf, '#', LAB_FILE_MAX + 1);
	buf[LAB_FILE_MAX + 1] = '\0';
	refused(buf, "t.lab.yaml: larger than 256 KiB");
	free(buf);
}

/* ---- the plan ---- */

static struct lab_live live_of(const char *name, const char *lab, const char *state)
{
	struct lab_live l;

	memset(&l, 0, sizeof(l));
	snprintf(l.ll_name, sizeof(l.ll_name), "%s", name);
	snprintf(l.ll_lab, sizeof(l.ll_lab), "%s", lab);
	snprintf(l.ll_state, sizeof(l.ll_state), "%s", state);
	return l;
}

/* The dock as an up of want left it. */
static void as_applied(const struct lab *want, struct lab_rec *rec, struct lab_live *live)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->lr_name, sizeof(rec->lr_name), "%s", want->l_name);
	for (size_t i = 0; i < want->l_n_nodes; i++) {
		lab_rec_set(rec, want->l_nodes[i].ln_name, want->l_nodes[i].ln_core,
			    want->l_nodes[i].ln_net);
		live[i] = live_of(want->l_nodes[i].ln_name, want->l_name, "running");
	}
	rec->lr_flows = lab_flows_json(want);
}

static const char *acts(const struct lab_plan *p)
{
	static char buf[256];
	size_t l = 0;

	for (size_t i = 0; i < p->lp_n; i++)
		l += (size_t)snprintf(buf + l, sizeof(buf) - l, "%s%c%s", i ? " " : "",
				      lab_act_sign(p->lp_steps[i].ls_act), p->lp_steps[i].ls_name);
	buf[l] = '\0';
	return buf;
}

static void test_plan(void **state)
{
	struct lab *want = parse_ok(shop, &cfg), *changed;
	struct lab_rec *rec = calloc(1, sizeof(*rec));
	struct lab_plan *p = malloc(sizeof(*p));
	struct lab_live live[8];
	struct dock_err err = { 0 };
	char *text, *json;

	(void)state;
	/* nothing yet: create all, and the flows */
	assert_int_equal(lab_plan(want, rec, NULL, 0, p, &err), 0);
	assert_string_equal(acts(p), "+shop-web +shop-db +shop-job");
	assert_true(p->lp_flows);
	assert_false(p->lp_needs_yes);
	/* as applied: keep all */
	as_applied(want, rec, live);
	assert_int_equal(lab_plan(want, rec, live, 3, p, &err), 0);
	assert_string_equal(acts(p), "=shop-web =shop-db =shop-job");
	assert_false(p->lp_flows);
	text = lab_plan_text(p);
	assert_string_equal(text, "= keep shop-web\n= keep shop-db\n= keep shop-job\n= flows\n");
	free(text);
	/* the record survives its JSON */
	json = lab_rec_to_json(rec);
	lab_rec_free(rec);
	assert_int_equal(lab_rec_from_json(json, strlen(json), rec, &err), 0);
	free(json);
	assert_int_equal(lab_plan(want, rec, live, 3, p, &err), 0);
	assert_string_equal(acts(p), "=shop-web =shop-db =shop-job");
	assert_false(p->lp_flows);
	/* a node stopped (an interrupted up): started */
	live[1] = live_of("shop-db", "shop", "defined");
	assert_int_equal(lab_plan(want, rec, live, 3, p, &err), 0);
	assert_string_equal(acts(p), "=shop-web ~shop-db =shop-job");
	assert_int_equal(p->lp_steps[1].ls_act, LAB_START);
	live[1] = live_of("shop-db", "shop", "running");
	/* publish and flow changed, db's size changed, job gone, a node not in the file */
	changed = parse_ok("name: shop\n"
			   "defaults: {image: micro, memory: 256M, vcpus: 1, lifetime: 6h}\n"
			   "nodes:\n"
			   "  web: {publish: [\"8081:80\"], egress: deny}\n"
			   "  db:  {scratch: 2G, egress: deny}\n"
			   "flows:\n"
			   "  - {from: web, to: db, port: 5432/tcp}\n",
			   &cfg);
	live[3] = live_of("shop-old", "shop", "running");
	assert_int_equal(lab_plan(changed, rec, live, 4, p, &err), 0);
	assert_string_equal(acts(p), "~shop-web ~shop-db -shop-job -shop-old");
	assert_int_equal(p->lp_steps[0].ls_act, LAB_CHANGE);
	assert_string_equal(p->lp_steps[0].ls_why, "publish");
	assert_int_equal(p->lp_steps[1].ls_act, LAB_RECREATE);
	assert_string_equal(p->lp_steps[1].ls_why, "scratch_mib");
	assert_true(p->lp_flows);
	assert_true(p->lp_needs_yes);
	assert_string_equal(p->lp_yes_why, "recreate shop-db, remove shop-job, remove shop-old");
	text = lab_plan_text(p);
	assert_non_null(
		strstr(text, "~ recreate shop-db (scratch_mib): recreate: scratch data lost\n"));
	assert_non_null(strstr(text, "- remove shop-job (not in the file)\n"));
	assert_non_null(strstr(text, "~ flows change\n"));
	free(text);
	/* a clash: shop-db outside the lab, or in another one */
	live[1] = live_of("shop-db", "", "running");
	assert_int_equal(lab_plan(want, rec, live, 3, p, &err), -EEXIST);
	assert_int_equal(err.de_status, 409);
	assert_string_equal(err.de_msg, "node shop-db exists and is not a node of lab shop");
	lab_rec_free(rec);
	free(rec);
	free(p);
	free(want);
	free(changed);
}

/* Allow entries: an address changes in place, a name recreates the node
 * (its resolver is made with its network); the node's request is never cut. */
static void test_plan_names(void **state)
{
	static const char *const files[] = {
		"name: n\nnodes:\n  a: {image: micro, egress: {allow: [\"203.0.113.0/24\"]}}\n",
		"name: n\nnodes:\n  a: {image: micro, egress: {allow: [\"203.0.113.0/25\"]}}\n",
		"name: n\nnodes:\n  a: {image: micro, egress: {allow: [\"203.0.113.0/25\", "
		"\"deb.debian.org:443/tcp\"]}}\n",
		"name: n\nnodes:\n  a: {image: micro, egress: {allow: [\"203.0.113.0/24\", "
		"\"deb.debian.org:443/tcp\"]}}\n",
	};
	struct lab *l[4];
	struct lab_rec *rec = calloc(1, sizeof(*rec));
	struct lab_plan *p = malloc(sizeof(*p));
	struct lab_live live[1];
	struct dock_err err = { 0 };
	char *big;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < 4; i++)
		l[i] = parse_ok(files[i], &cfg);
	as_applied(l[0], rec, live);
	assert_int_equal(lab_plan(l[1], rec, live, 1, p, &err), 0);
	assert_int_equal(p->lp_steps[0].ls_act, LAB_CHANGE);
	assert_int_equal(lab_plan(l[2], rec, live, 1, p, &err), 0);
	assert_int_equal(p->lp_steps[0].ls_act, LAB_RECREATE);
	assert_non_null(strstr(p->lp_steps[0].ls_why, "names"));
	lab_rec_free(rec);
	as_applied(l[2], rec, live);
	assert_int_equal(lab_plan(l[3], rec, live, 1, p, &err), 0);
	assert_int_equal(p->lp_steps[0].ls_act, LAB_CHANGE); /* same names */
	/* 16 names of 250 characters: more than a create request holds */
	big = malloc(8192);
	len += (size_t)snprintf(big + len, 8192 - len,
				"name: n\nnodes:\n  a: {image: micro, egress: {allow: [");
	for (int i = 0; i < 16; i++)
		len += (size_t)snprintf(big + len, 8192 - len,
					"%s\"%c%059d.%060d.%060d.%060d.test:80\"", i ? ", " : "",
					'a' + i, 0, 0, 0, 0);
	snprintf(big + len, 8192 - len, "]}}\n");
	refused(big,
		"t.lab.yaml:3:3: nodes.a: the node's create request is longer than 4095 bytes");
	free(big);
	for (size_t i = 0; i < 4; i++)
		free(l[i]);
	lab_rec_free(rec);
	free(rec);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shop),       cmocka_unit_test(test_resources),
		cmocka_unit_test(test_plan_names), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),     cmocka_unit_test(test_plan),
	};

	config_defaults(&cfg);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
