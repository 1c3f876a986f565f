/* libFuzzer harness, one build per parser of untrusted input (chosen with
 * -DFUZZ_TARGET=...): agent lines, API create requests and routes, image
 * manifests, templates, node profiles, audit trail lines and the checkpoint beside them,
 * egress allow-list entries ("CIDR[:PORT[/tcp|/udp]]", one a line), /proc/net socket tables
 * (portcheck), the agent reader's messages as the dock receives them (reader: raw
 * bytes as a struct agentreader_out, through agentreader_check into checks_evaluate and
 * the record's JSON; its corpus from tests/fuzz/mkreader.c), any text escaped for a log
 * or a terminal (escape), a QEMU's /proc/PID/status and cgroup as the vmm row reads them
 * (vmmproc: the two texts split at the first NUL, then judged), a time as a person
 * types it (timearg: `logs --since`, `audit --since`, the console's boot markers), the guest
 * audit trail (gaudit: the agent's audit lines, a stored line read back, EXECVE arguments
 * decoded for a terminal), a lab
 * file (lab: YAML against the schema, then the plan). `make check` replays tests/fuzz/corpus/<target>
 * under ASan+UBSan; `make fuzz T=<target>` fuzzes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentproto.h"
#include "agentreader.h"
#include "api.h"
#include "audit.h"
#include "chainlog.h"
#include "checks.h"
#include "config.h"
#include "escape.h"
#include "fw.h"
#include "gaudit.h"
#include "image.h"
#include "lab.h"
#include "portcheck.h"
#include "profile.h"
#include "render.h"
#include "spec.h"
#include "state.h"
#include "timearg.h"
#include "vmm.h"

#define FUZZ_AGENT     1
#define FUZZ_REQUEST   2
#define FUZZ_MANIFEST  3
#define FUZZ_TEMPLATE  4
#define FUZZ_PROFILE   5
#define FUZZ_AUDIT     6
#define FUZZ_EGRESS    7
#define FUZZ_NETLISTEN 8
#define FUZZ_READER    9
#define FUZZ_ESCAPE    10
#define FUZZ_VMMPROC   11
#define FUZZ_TIMEARG   12
#define FUZZ_GAUDIT    13
#define FUZZ_LAB       14

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_line(void *ctx, const char *line, size_t len)
{
	struct agent_msg m;

	(void)ctx;
	/* What the parser makes never needs the dock's repairs: a repair
	 * counts as hostile input (agentproto_sanitise). */
	if (agentproto_parse(line, len, &m, NULL) == 0 && agentproto_sanitise(&m) != 0)
		abort();
}

#if FUZZ_TARGET == FUZZ_READER
/* A message from a compromised reader, as agentreader_recv takes it (a
 * shorter input is the start of one, zero-filled), then what the dock does
 * with it: a fact judged by every check, a hello in the record's JSON and
 * back. */
static void fuzz_reader(const uint8_t *data, size_t size)
{
	static struct agentreader_out out;
	static struct agent_fact facts[AF_COUNT];
	static bool have[AF_COUNT];
	static struct node_rec rec, back;
	static struct profile pol;
	static int init;
	static uint8_t miss[AF_COUNT];
	struct agent_view av = {
		.av_connected = true,
		.av_last_heartbeat = 995,
		.av_report_time = 990,
		.av_facts = facts,
		.av_have = have,
	};
	struct checks_node cn = { "web1", "10.231.0.2", "52:54:00:aa:bb:cc", 1000, 60 };
	struct dock_facts df = { .df_running = true };
	struct check_row rows[CHECKS_MAX];
	struct json_object *o;
	char *js;
	size_t n;
	const char *prof = "{\"name\":\"f\",\"service\":{\"name\":\"httpd\",\"uid\":100,"
			   "\"gid\":100,\"ports\":[\"80/tcp\"]},\"readonly\":[\"/\"],"
			   "\"writable\":[\"/scratch\"]}";

	if (!init) {
		profile_parse(prof, strlen(prof), &pol, NULL);
		init = 1;
	}
	memset(&out, 0, sizeof(out));
	memcpy(&out, data, size < sizeof(out) ? size : sizeof(out));
	if (agentreader_check(&out, sizeof(out)) < 0 || out.ao_kind != AR_MSG)
		return;
	if (out.ao_msg.am_type == AGENT_MSG_FACT) {
		memset(have, 0, sizeof(have));
		facts[out.ao_msg.am_fact.af_id] = out.ao_msg.am_fact;
		have[out.ao_msg.am_fact.af_id] = true;
		/* Judged by the rules of the protocol its hello field names (2 or
		 * 3), what it announced, and misses taken from the seq. */
		av.av_protocol = out.ao_msg.am_hello.ah_protocol;
		av.av_announced = out.ao_msg.am_facts;
		for (int i = 0; i < AF_COUNT; i++)
			miss[i] = (uint8_t)(out.ao_msg.am_seq >> (2 * i) & 3);
		av.av_miss = miss;
		for (int p = 0; p < 2; p++) {
			n = checks_evaluate(&cn, &df, &av, p ? &pol : NULL, rows, CHECKS_MAX);
			o = checks_json("web1", rows, n);
			json_object_to_json_string(o);
			json_object_put(o);
		}
	}
	/* Every message carries a hello; the dock keeps a hello's. */
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.nr_name, sizeof(rec.nr_name), "web1");
	snprintf(rec.nr_image, sizeof(rec.nr_image), "micro");
	rec.nr_have_hello = true;
	rec.nr_hello = out.ao_msg.am_hello;
	/* A record the dock wrote must read back, or the node is lost at the
	 * next start. */
	js = state_to_json(&rec);
	if (js != NULL) {
		if (state_from_json(js, strlen(js), &back, NULL) < 0)
			abort();
		free(js);
	}
}
#endif

#if FUZZ_TARGET == FUZZ_REQUEST
/* The limits a request set read back from the record the dock writes, the
 * same (resctl.h), or the node would lose them at the next start. */
static void fuzz_limits_round_trip(const struct node_spec *spec)
{
	struct node_rec rec, back;
	char *js;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.nr_name, sizeof(rec.nr_name), "web1");
	rec.nr_vcpus = spec->ns_vcpus;
	rec.nr_limits = spec->ns_limits;
	js = state_to_json(&rec);
	if (js == NULL)
		return;
	if (state_from_json(js, strlen(js), &back, NULL) < 0 ||
	    memcmp(&back.nr_limits, &rec.nr_limits, sizeof(rec.nr_limits)) != 0)
		abort();
	free(js);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
#if FUZZ_TARGET == FUZZ_AGENT
	/* The byte stream as it comes off the channel: reassembly + parsing. */
	struct agentproto_reader *rd = calloc(1, sizeof(*rd));
	agentproto_feed(rd, s, size, fuzz_line, NULL);
	free(rd);
#elif FUZZ_TARGET == FUZZ_REQUEST
	/* First line: "METHOD URL", the rest: the body. */
	static struct dock_config cfg;
	static int init;
	struct node_spec spec;
	const char *nl = memchr(s, '\n', size);
	(void)fuzz_line;
	if (!init) {
		config_defaults(&cfg);
		init = 1;
	}
	if (nl != NULL) {
		char head[API_URL_MAX + 16], name[64], *sp;
		size_t hl = (size_t)(nl - s);
		int status;
		if (hl < sizeof(head)) {
			memcpy(head, s, hl);
			head[hl] = '\0';
			sp = strchr(head, ' ');
			if (sp != NULL) {
				*sp = '\0';
				api_route(head, sp + 1, name, sizeof(name), &status);
			}
		}
		if (spec_parse(nl + 1, size - hl - 1, &cfg, &spec, NULL) == 0)
			fuzz_limits_round_trip(&spec);
	} else {
		bool pause, snap;
		const struct spec_flag flags[] = { { "pause", &pause }, { "snapshot", &snap } };
		spec_parse(s, size, &cfg, &spec, NULL);
		spec_flags_parse("fuzz", s, size, flags, 2, NULL);
	}
#elif FUZZ_TARGET == FUZZ_MANIFEST
	struct image im;
	(void)fuzz_line;
	image_manifest_parse(s, size, &im, NULL);
#elif FUZZ_TARGET == FUZZ_TEMPLATE
	static const struct render_var v[] = { { "name", "web1" },
					       { "x", "<&>" },
					       { "empty", "" } };
	char *out = NULL;
	(void)fuzz_line;
	if (render_buf("fuzz", s, size, v, 3, &out, NULL) == 0)
		free(out);
#elif FUZZ_TARGET == FUZZ_PROFILE
	struct profile p;
	(void)fuzz_line;
	profile_parse(s, size, &p, NULL);
#elif FUZZ_TARGET == FUZZ_AUDIT
	struct audit_record r;
	struct chainlog_ckpt ck;
	(void)fuzz_line;
	audit_parse_line(s, size, &r, NULL);
	/* The checkpoint beside the log is as untrusted as the log. */
	chainlog_ckpt_parse(s, size, &ck, NULL);
#elif FUZZ_TARGET == FUZZ_EGRESS
	/* An allow-list as a create request hands it to the firewall, in both
	 * egress modes. */
	char buf[4096], *save = NULL, *e;
	const char *allow[FW_ALLOW_MAX + 1];
	size_t n = 0;
	struct fw_node node = { .fn_name = "f",
				.fn_bridge = "iscbr0",
				.fn_subnet_cidr = "10.231.0.0/29",
				.fn_ip = "10.231.0.2",
				.fn_mac = "52:54:00:00:00:02",
				.fn_gateway = "10.231.0.1" };
	(void)fuzz_line;
	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, s, size);
	buf[size] = '\0';
	for (e = strtok_r(buf, "\n", &save); e != NULL && n <= FW_ALLOW_MAX;
	     e = strtok_r(NULL, "\n", &save))
		allow[n++] = e;
	node.fn_egress_allow = allow;
	node.fn_negress_allow = n;
	fw_node_check(&node, NULL);
	node.fn_egress_deny = true;
	fw_node_check(&node, NULL);
	/* entries by name: the resolver's options made of them */
	char *opts = NULL;
	size_t nnames = 0;
	if (fw_names_dnsmasq(&node, "192.0.2.53", &opts, &nnames, NULL) == 0 && opts == NULL)
		abort();
	free(opts);
#elif FUZZ_TARGET == FUZZ_NETLISTEN
	/* A /proc/net table, read as all four kinds, for a port the input picks. */
	char addr[PORTCHECK_ADDR_MAX];
	uint16_t port = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 22;
	(void)fuzz_line;
	for (int k = 0; k < 4; k++)
		portcheck_parse(s, size, k & 1, k & 2, port, addr, sizeof(addr));
#elif FUZZ_TARGET == FUZZ_READER
	(void)fuzz_line;
	(void)s;
	fuzz_reader(data, size);
#elif FUZZ_TARGET == FUZZ_ESCAPE
	/* The invariants, for every flag set and an output size the input
	 * picks: NUL-terminated within the size, valid UTF-8, no control
	 * character but those kept, and what was taken is a boundary from
	 * which the rest escapes the same as in one go. */
	static char whole[ESCAPE_SIZE(4096)], part[ESCAPE_SIZE(4096)];
	size_t osize = size >= 1 ? (size_t)data[0] % 64 + 1 : 1, cut;
	(void)fuzz_line;
	if (size > 4096)
		return 0;
	for (unsigned flags = 0; flags < 16; flags++) {
		size_t taken = escape_buf(part, osize, s, size, flags), len = strlen(part);
		if (len >= osize || taken > size || !escape_utf8_valid(part, len))
			abort();
		if (escape_buf(whole, sizeof(whole), s, size, flags) != size)
			abort();
		for (size_t i = 0; whole[i] != '\0'; i++) {
			unsigned char c = (unsigned char)whole[i];
			bool kept = (c == '\t' && (flags & ESCAPE_KEEP_TAB)) ||
				(c == '\n' && (flags & ESCAPE_KEEP_NL));
			if (!kept &&
			    (c < 0x20 || c == 0x7f ||
			     (c == 0xc2 && (unsigned char)whole[i + 1] >= 0x80 &&
			      (unsigned char)whole[i + 1] <= 0x9f)))
				abort();
		}
		if (!escape_utf8_valid(whole, strlen(whole)) || strncmp(whole, part, len) != 0)
			abort();
	}
	cut = escape_cut(s, size, osize);
	if (cut > osize || cut > size || (cut < size && osize - cut > 3))
		abort();
	if (escape_utf8_valid(s, size) && !escape_utf8_valid(s, cut))
		abort();
#elif FUZZ_TARGET == FUZZ_VMMPROC
	/* status NUL cgroup: parsed, then judged; whatever the text, a root
	 * uid or a missing field is never a PASS. */
	struct vmm_proc vp;
	const uint32_t other = 90001;
	struct vmm_want vw = { .vw_uid = 90000,
			       .vw_domain = "isc-a",
			       .vw_others = &other,
			       .vw_n_others = 1,
			       .vw_mac = "" };
	char ev[CHECK_EVIDENCE_MAX], *text = malloc(size + 2);
	const char *cg;
	(void)fuzz_line;
	(void)s;
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = text[size + 1] = '\0'; /* the files are read NUL-terminated */
	cg = memchr(text, '\0', size) != NULL ? text + strlen(text) + 1 : NULL;
	memset(&vp, 0, sizeof(vp));
	vmm_proc_parse(text, cg, &vp);
	if (vmm_judge(&vp, &vw, ev, sizeof(ev)) == VMM_PASS &&
	    (vp.vp_uid[0] == 0 || vp.vp_seccomp != 2 || vp.vp_nnp != 1 || vp.vp_capeff != 0))
		abort();
	if (strlen(ev) >= sizeof(ev))
		abort();
	free(text);
#elif FUZZ_TARGET == FUZZ_TIMEARG
	/* Any text: refused with a one-line message, or a time within the
	 * bounds that prints as RFC 3339 and parses back to itself; a boot
	 * marker's time read from exactly the bytes given (an exact-size copy,
	 * so ASan sees a read past them). */
	struct dock_err err = { 0 };
	char text[TIMEARG_TEXT_MAX + 8], back[TIMEARG_RFC3339_SIZE], *exact = malloc(size + 1);
	time_t t = -1, u = -1;
	(void)fuzz_line;
	if (exact == NULL)
		return 0;
	memcpy(exact, data, size);
	if (timearg_rfc3339(exact, size, &t) == 0 && (t < 0 || t > (time_t)INT64_C(253402300799)))
		abort();
	free(exact);
	memcpy(text, s, size < sizeof(text) - 1 ? size : sizeof(text) - 1);
	text[size < sizeof(text) - 1 ? size : sizeof(text) - 1] = '\0';
	if (timearg_parse("since", text, (time_t)1796464800, &t, &err) == 0) {
		if (t < 0 || t > (time_t)INT64_C(253402300799) || err_isset(&err))
			abort();
		timearg_format(t, back, sizeof(back));
		if (timearg_rfc3339(back, strlen(back), &u) != 0 || u != t)
			abort();
	} else if (err.de_status != 400 || strchr(err.de_msg, '\n') != NULL ||
		   !escape_utf8_valid(err.de_msg, strlen(err.de_msg))) {
		abort();
	}
#elif FUZZ_TARGET == FUZZ_GAUDIT
	/* Each line three ways: an agent line (an audit record's text only
	 * printable ASCII, needing no repair), a stored line of a guest audit
	 * log (bounded, its hash judged), and an EXECVE record's text decoded:
	 * every argument valid UTF-8 without a control character. */
	static struct agent_msg m;
	const char *p = s, *end = s + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = malloc(len + 1);
		struct json_object *rec = NULL, *args;
		uint64_t seq;
		bool ok;
		if (line == NULL)
			return 0;
		memcpy(line, p, len);
		line[len] = '\0';
		if (agentproto_parse(line, len, &m, NULL) == 0) {
			if (agentproto_sanitise(&m) != 0)
				abort();
			if (m.am_type == AGENT_MSG_AUDIT &&
			    strlen(m.am_audit.aa_msg) > AGENT_AUDIT_MSG_MAX)
				abort();
		}
		if (gaudit_parse_line(line, len, &seq, &ok, &rec, NULL) == 0 &&
		    (seq == 0 || rec == NULL))
			abort();
		json_object_put(rec);
		if (strlen(line) <= AGENT_AUDIT_MSG_MAX &&
		    (args = gaudit_execve_args(line)) != NULL) {
			for (size_t i = 0; i < json_object_array_length(args); i++) {
				const char *a =
					json_object_get_string(json_object_array_get_idx(args, i));
				if (!escape_utf8_valid(a, strlen(a)))
					abort();
				for (const char *c = a; *c; c++)
					if ((unsigned char)*c < 0x20 || *c == 0x7f)
						abort();
			}
			json_object_put(args);
		}
		free(line);
		p = nl ? nl + 1 : end;
	}
	(void)fuzz_line;
#elif FUZZ_TARGET == FUZZ_LAB
	/* A lab file: refused with one 400 line naming file:line:col, or a lab
	 * within the bounds whose nodes' requests spec_parse took, planned from
	 * nothing into creates only. */
	static struct dock_config cfg;
	static struct lab lab;
	static struct lab_rec rec;
	static struct lab_plan plan;
	static int init;
	struct dock_err err = { 0 };
	(void)fuzz_line;
	if (!init++)
		config_defaults(&cfg);
	if (lab_parse("f.lab.yaml", s, size, &cfg, &lab, &err) != 0) {
		if (err.de_status != 400 || strchr(err.de_msg, '\n') != NULL ||
		    strncmp(err.de_msg, "f.lab.yaml", 10) != 0)
			abort();
		return 0;
	}
	if (lab.l_n_nodes == 0 || lab.l_n_nodes > LAB_NODES_MAX || lab.l_n_flows > LAB_FLOWS_MAX)
		abort();
	if (lab_plan(&lab, &rec, NULL, 0, &plan, &err) != 0 || plan.lp_n != lab.l_n_nodes ||
	    plan.lp_needs_yes)
		abort();
	for (size_t i = 0; i < plan.lp_n; i++)
		if (plan.lp_steps[i].ls_act != LAB_CREATE)
			abort();
#else
#error "FUZZ_TARGET must be set"
#endif
	return 0;
}
