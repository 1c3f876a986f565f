/* iscadm: the dock's command-line client, a thin layer over the REST API
 * on dockd's unix socket. Human tables by default, --format json|csv (or
 * --json) for scripts; on error one line naming the problem and an exit
 * code saying which kind (iscadm-int.h). This file is the command table
 * (data: each verb, its positionals, its flags with units and bounds, its
 * help), the global options and main; the parser, the verbs, the
 * transport and the output are its siblings (iscadm-int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "iscadm-int.h"
#include "progress.h"
#include "version.h"

const char *iscadm_socket = "/run/isc/dockd.sock";
bool iscadm_json;
enum iscadm_format iscadm_format = ISCADM_TABLE;

/* The message escaped whole: it may carry the dock's error, which may
 * carry what a guest or a client wrote. */
static __attribute__((noreturn, format(printf, 2, 0))) void iscadm_vfail(int code, const char *fmt,
									 va_list ap)
{
	static char msg[4096], out[ESCAPE_SIZE(sizeof(msg))];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof(msg))
		n = (int)escape_cut(msg, sizeof(msg) - 1, sizeof(msg) - 2);
	escape_buf(out, sizeof(out), msg, (size_t)n, 0);
	progress_hold(NULL); /* a live progress line is not left under the message */
	fflush(stdout);
	fprintf(stderr, "iscadm: %s\n", out);
	exit(code);
}

void iscadm_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iscadm_vfail(ISCADM_ERROR, fmt, ap);
}

void iscadm_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iscadm_vfail(code, fmt, ap);
}

#define POLICY_HELP "alert|quarantine|cleanse|destroy"

static const struct iscadm_flag create_flags[] = {
	{ "image", 0, "IMAGE", false, false, "the image to run (required; `iscadm image ls`)" },
	{ "memory", 0, "SIZE", false, false,
	  "memory: MiB, or with a unit (512M, 1G); at least 64 MiB, at most dockd.conf's max_memory_mib (default: the image's)" },
	{ "vcpus", 0, "N", false, false, "virtual CPUs, 1 to dockd.conf's max_vcpus (default 1)" },
	{ "scratch-size", 0, "SIZE", false, false,
	  "the encrypted ephemeral disk: MiB or with a unit; at least 16 MiB, at most max_scratch_mib" },
	{ "cpus", 0, "CORES", false, false,
	  "CPU quota of the whole node in host cores: 0.05 to its vCPUs (0.5: half a core; default none)" },
	{ "cpu-weight", 0, "N", false, false,
	  "CPU weight against other nodes, 1 to 10000 (cgroup cpu.weight; default the host's)" },
	{ "disk-read-mbps", 0, "N", false, false,
	  "disk read bandwidth of the ephemeral disk, MB/s (10^6 bytes), 1 to 100000" },
	{ "disk-write-mbps", 0, "N", false, false,
	  "disk write bandwidth of the ephemeral disk, MB/s (10^6 bytes), 1 to 100000" },
	{ "disk-read-iops", 0, "N", false, false,
	  "disk reads per second of the ephemeral disk, 1 to 1000000" },
	{ "disk-write-iops", 0, "N", false, false,
	  "disk writes per second of the ephemeral disk, 1 to 1000000" },
	{ "net-in-mbps", 0, "N", false, false,
	  "network bandwidth the node receives, Mbit/s (10^6 bits), 1 to 100000" },
	{ "net-out-mbps", 0, "N", false, false,
	  "network bandwidth the node sends, Mbit/s (10^6 bits), 1 to 100000" },
	{ "profile", 0, "PROFILE", false, false, "the hardening profile (default: the image's)" },
	{ "publish", 0, "HOST:NODE[/tcp|/udp]", false, true,
	  "publish a node port on a host port (publish_ports range, default 1024-65535); repeatable, at most 16" },
	{ "egress", 0, "allow|deny", false, false,
	  "outbound traffic to public addresses: allow (default) or deny" },
	{ "egress-allow", 0, "CIDR[:PORT[/tcp|/udp]]|NAME:PORT[/tcp|/udp]", false, true,
	  "an outbound destination allowed in either mode (by name: what the node's resolver "
	  "answers for it); repeatable" },
	{ "lifetime", 0, "DURATION", false, false,
	  "cleanse the node after this long: 90s, 15m, 6h, 2d (30 s to 366 d; default none)" },
	{ "on-hostile", 0, "POLICY", false, false,
	  "when the agent sends hostile input: " POLICY_HELP },
	{ "on-silent", 0, "POLICY", false, false, "when the agent falls silent: " POLICY_HELP },
	{ "on-fail", 0, "POLICY", false, false, "when a check FAILs: " POLICY_HELP },
	{ "on-audit-gap", 0, "POLICY", false, false,
	  "when the guest audit stream has a gap or stops: " POLICY_HELP },
	{ "no-start", 0, NULL, false, false, "define the node, do not start it" },
	{ "wait", 0, "healthy", true, false,
	  "return when the agent has said hello and sent a full report; --wait=healthy: and no row FAILs (exit 7 if one does)" },
	{ "timeout", 0, "DURATION", false, false,
	  "how long --wait waits: 90s, 5m (default 5m; exit 8 past it)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag ls_flags[] = {
	{ "quiet", 'q', NULL, false, false, "print the node names only" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag start_flags[] = {
	{ "rebase", 0, NULL, false, false, "boot the image's new base after a rebuild" },
	{ "rekey", 0, NULL, false, false,
	  "allow a start that must give the ephemeral disk a new key (its data is lost)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag destroy_flags[] = {
	{ "force", 'f', NULL, false, false, "destroy a running node (powered off at once)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag quarantine_flags[] = {
	{ "pause", 0, NULL, false, false, "pause the node as well" },
	{ "snapshot", 0, NULL, false, false, "take a forensic snapshot as well" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag snapshot_flags[] = {
	{ "memory", 0, NULL, false, false, "dump the node's memory too (encrypted)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag logs_flags[] = {
	{ "firewall", 0, NULL, false, false, "the firewall's drops of the node, not its console" },
	{ "raw", 0, NULL, false, false, "the bytes as the guest wrote them (unescaped)" },
	{ "follow", 'f', NULL, false, false, "keep printing new lines until interrupted" },
	{ "tail", 0, "N", false, false, "only the last N lines" },
	{ "since", 0, "TIME", false, false,
	  "only from TIME on: RFC 3339 (2026-12-05T10:00:00Z), relative (10m, 2h, 1d) or UNIX seconds; console lines by boot" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag audit_flags[] = {
	{ "node", 0, "NODE", false, false, "only this node's records" },
	{ "since", 0, "TIME", false, false,
	  "only from TIME on: RFC 3339, relative (10m, 2h, 1d) or UNIX seconds" },
	{ "guest", 0, "NODE", false, false,
	  "the node's guest audit log (the kernel's records its agent forwarded; root or audit_group)" },
	{ "type", 0, "TYPE", false, false,
	  "with --guest: only records of this type (EXECVE, USER_LOGIN, SYSCALL, ... or a number)" },
	{ "purge", 0, NULL, false, false,
	  "with --guest: remove the node's guest audit log (audited)" },
	{ "yes", 'y', NULL, false, false,
	  "with --purge: do not ask (required when not on a terminal)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag audit_verify_flags[] = {
	{ "guest", 0, "NODE", false, false, "verify the node's guest audit log instead" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag forensic_rm_flags[] = {
	{ "yes", 'y', NULL, false, false, "do not ask (required when not on a terminal)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag lab_up_flags[] = {
	{ "yes", 'y', NULL, false, false,
	  "remove or recreate nodes without asking (required when not on a terminal)" },
	{ "parallel", 0, "N", false, false,
	  "nodes created at once, 1 to 64 (default: the host's cores)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag lab_down_flags[] = {
	{ "yes", 'y', NULL, false, false, "do not ask (required when not on a terminal)" },
	{ NULL, 0, NULL, false, false, NULL },
};
static const struct iscadm_flag no_flags[] = {
	{ NULL, 0, NULL, false, false, NULL },
};

const struct iscadm_cmd iscadm_cmds[] = {
	{ "create", NULL, iscadm_cmd_create, "NODE", 1, 1, false, "create a node and start it",
	  "NODE: [a-z][a-z0-9-], at most 31 characters. Without --wait, returns once the VM runs.",
	  create_flags },
	{ "ls", NULL, iscadm_cmd_ls, "", 0, 0, true, "list the nodes", NULL, ls_flags },
	{ "inspect", NULL, iscadm_cmd_inspect, "NODE", 1, 1, false, "a node as JSON", NULL,
	  no_flags },
	{ "start", NULL, iscadm_cmd_start, "NODE", 1, 1, false, "start a stopped node",
	  "A node already running: exit 0, saying so.", start_flags },
	{ "stop", NULL, iscadm_cmd_stop, "NODE", 1, 1, false,
	  "ACPI shutdown, power off after dockd.conf's stop_timeout_s",
	  "A node already stopped: exit 0, saying so.", no_flags },
	{ "destroy", "rm", iscadm_cmd_destroy, "NODE", 1, 1, false,
	  "remove the node and every trace of it (its disk is crypto-shredded)",
	  "A running node needs --force (virsh's destroy is a power-off: this is not).",
	  destroy_flags },
	{ "status", NULL, iscadm_cmd_status, "NODE", 1, 1, true, "the hardening validation table",
	  "Exit 7 when a row FAILs.", no_flags },
	{ "publish", NULL, iscadm_cmd_publish, "NODE HOST:NODE[/tcp|/udp]", 2, 2, false,
	  "publish a node port on a host port", NULL, no_flags },
	{ "unpublish", NULL, iscadm_cmd_unpublish, "NODE HOST:NODE[/tcp|/udp]", 2, 2, false,
	  "withdraw a published port", NULL, no_flags },
	{ "cleanse", NULL, iscadm_cmd_cleanse, "NODE", 1, 1, false,
	  "halt, fresh ephemeral disk with a new key, start", NULL, no_flags },
	{ "quarantine", NULL, iscadm_cmd_quarantine, "NODE", 1, 1, false,
	  "cut all of the node's traffic, keep it running (or paused)", NULL, quarantine_flags },
	{ "release", NULL, iscadm_cmd_release, "NODE", 1, 1, false, "end the quarantine", NULL,
	  no_flags },
	{ "snapshot", NULL, iscadm_cmd_snapshot, "NODE", 1, 1, false,
	  "forensic snapshot of the node's encrypted disk (sealed key)", NULL, snapshot_flags },
	{ "logs", NULL, iscadm_cmd_logs, "NODE", 1, 1, false,
	  "the node's console log (escaped), or its firewall drops",
	  "The console log is kept across boots (rotated at start past 1 MiB).", logs_flags },
	{ "console", NULL, iscadm_cmd_console, "NODE", 1, 1, false,
	  "serial console (virsh; Ctrl-] leaves)",
	  "Interactive: the guest's bytes reach the terminal unescaped; `logs` is the escaped view.",
	  no_flags },
	{ "fw show", NULL, iscadm_cmd_fw, "[NODE]", 0, 1, false, "the firewall policy in force",
	  NULL, no_flags },
	{ "audit", NULL, iscadm_cmd_audit, "[verify]", 0, 1, true,
	  "the hash-chained audit trail, or a node's guest audit log (--guest)",
	  "--guest NODE: the kernel audit records the node's agent forwarded, kept by the dock "
	  "(EXECVE arguments decoded, all guest text escaped), with the dock's marks: boot, gap, "
	  "lost, cleanse, dock-start; `audit --guest NODE verify` checks its chain (exit 7 when "
	  "broken). A destroyed node's log is kept guest_audit_retention_s.",
	  audit_flags },
	{ "audit verify", NULL, iscadm_cmd_verify, "", 0, 0, false,
	  "verify the audit trail's chain",
	  "Exit 7 when the chain is broken, truncated, or was found damaged at dock start.",
	  audit_verify_flags },
	{ "forensic ls", NULL, iscadm_cmd_forensic_ls, "", 0, 0, true, "the forensic snapshots",
	  NULL, no_flags },
	{ "forensic rm", NULL, iscadm_cmd_forensic_rm, "ID", 1, 1, false,
	  "delete a forensic snapshot (evidence)",
	  "Asks on a terminal; elsewhere refuses without --yes.", forensic_rm_flags },
	{ "forensic export", NULL, iscadm_cmd_forensic_export, "ID DEST", 2, 2, false,
	  "a verified copy of a forensic snapshot", NULL, no_flags },
	{ "image ls", NULL, iscadm_cmd_image_ls, "", 0, 0, true, "the dock's images", NULL,
	  no_flags },
	{ "image rm", NULL, iscadm_cmd_image_rm, "IMAGE", 1, 1, false,
	  "remove an image no node uses (build with isc-image)", NULL, no_flags },
	{ "lab validate", NULL, iscadm_cmd_lab_validate, "[FILE]", 0, 1, false,
	  "check a lab file and show the plan an up would run",
	  "FILE: a lab file (YAML, README \"Labs\"); none: the one *.lab.yaml here.", no_flags },
	{ "lab up", NULL, iscadm_cmd_lab_up, "[FILE]", 0, 1, false,
	  "make the dock's lab what the file says (plan, apply, wait, status)",
	  "Prints the plan (+ create, ~ change, - remove, = keep); removing or recreating nodes needs --yes. Exit 7 naming the nodes that failed.",
	  lab_up_flags },
	{ "lab status", NULL, iscadm_cmd_lab_status, "[LAB|FILE]", 0, 1, false,
	  "the lab's nodes and their check counts",
	  "Exit 7 when a node fails a check or is not running.", no_flags },
	{ "lab down", NULL, iscadm_cmd_lab_down, "[LAB|FILE]", 0, 1, false,
	  "remove every node, flow and rule of the lab (audit trail and forensic snapshots kept)",
	  NULL, lab_down_flags },
	{ "lab ls", NULL, iscadm_cmd_lab_ls, "[LAB|FILE]", 0, 1, false,
	  "the dock's labs (with LAB: its nodes)", NULL, no_flags },
	{ "version", NULL, iscadm_cmd_version, "", 0, 0, false,
	  "client and daemon versions, API version, git commit", NULL, no_flags },
	{ "help", NULL, iscadm_cmd_help, "[COMMAND]", 0, 2, false, "help on a command", NULL,
	  no_flags },
	{ "completion", NULL, iscadm_cmd_completion, "bash|zsh", 1, 1, false,
	  "the shell completion script",
	  "bash: source <(iscadm completion bash); zsh: iscadm completion zsh > \"${fpath[1]}/_iscadm\"",
	  no_flags },
};
const size_t iscadm_ncmds = sizeof(iscadm_cmds) / sizeof(iscadm_cmds[0]);

static void iscadm_set_format(const char *f)
{
	if (strcmp(f, "json") == 0)
		iscadm_format = ISCADM_JSON;
	else if (strcmp(f, "table") == 0)
		iscadm_format = ISCADM_TABLE;
	else if (strcmp(f, "csv") == 0)
		iscadm_format = ISCADM_CSV;
	else
		iscadm_fail(ISCADM_USAGE, "--format \"%s\": expected json, table or csv", f);
	iscadm_json = iscadm_format == ISCADM_JSON;
}

/* The global options, wherever they stand; returns the rest's count. */
static int iscadm_globals(int argc, char **argv, char **args, bool *help, bool *version)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < argc && n < 63)
				args[n++] = argv[i++];
			break;
		}
		if (strcmp(a, "--json") == 0)
			iscadm_set_format("json");
		else if (strncmp(a, "--format=", 9) == 0)
			iscadm_set_format(a + 9);
		else if (strcmp(a, "--format") == 0 && i + 1 < argc)
			iscadm_set_format(argv[++i]);
		else if (strncmp(a, "--socket=", 9) == 0)
			iscadm_socket = a + 9;
		else if (strcmp(a, "--socket") == 0 && i + 1 < argc)
			iscadm_socket = argv[++i];
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			*help = true;
		else if (strcmp(a, "--version") == 0)
			*version = true;
		else if (n < 63)
			args[n++] = argv[i];
		else
			iscadm_fail(ISCADM_USAGE, "too many arguments");
	}
	args[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	const char *env = getenv("ISC_SOCKET");
	const struct iscadm_cmd *cmd = NULL;
	struct iscadm_args a;
	bool help = false, version = false;
	char *args[64];
	size_t words;
	int n;

	if (env != NULL && env[0] != '\0')
		iscadm_socket = env;
	n = iscadm_globals(argc, argv, args, &help, &version);
	if (version && n == 0) {
		memset(&a, 0, sizeof(a));
		iscadm_http_init();
		return iscadm_cmd_version(&a);
	}
	if (n == 0) {
		iscadm_usage(help ? stdout : stderr);
		return help ? ISCADM_OK : ISCADM_USAGE;
	}
	words = iscadm_find_cmd(n, (const char *const *)args, &cmd);
	if (words == 0)
		iscadm_fail(ISCADM_USAGE, "unknown command \"%s\" (try iscadm --help)", args[0]);
	if (help) {
		iscadm_verb_help(stdout, cmd);
		return ISCADM_OK;
	}
	if (!cmd->c_read && iscadm_format == ISCADM_CSV)
		iscadm_fail(
			ISCADM_USAGE,
			"%s: --format csv is for the read verbs (ls, status, audit, forensic ls, image ls)",
			cmd->c_name);
	iscadm_parse(cmd, n - (int)words, args + words, &a);
	iscadm_http_init();
	return cmd->c_fn(&a);
}

/* version: the client's line, the daemon's (or why it cannot be had). */
int iscadm_cmd_version(const struct iscadm_args *a)
{
	char why[512];
	int code = 0;
	struct json_object *o;
	long st;
	char *body = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&body, &len);

	(void)a;
	if (mem == NULL)
		iscadm_die("out of memory");
	printf("client: %s\n", ISC_VERSION_LINE("iscadm"));
	fflush(stdout);
	st = iscadm_request_try("GET", "/v1/version", NULL, NULL, mem, why, sizeof(why), &code);
	fclose(mem);
	o = st >= 200 && st < 300 && body != NULL ? json_tokener_parse(body) : NULL;
	free(body);
	if (st < 0)
		iscadm_fail(code, "daemon: %s", why);
	if (o == NULL)
		iscadm_fail(st > 0 ? iscadm_exit_of(st) : ISCADM_ERROR,
			    "daemon: no version (HTTP %ld)", st);
	printf("daemon: dockd %s (commit %s), API %s, %s\n", iscadm_str(o, "version"),
	       iscadm_str(o, "commit"), iscadm_str(o, "api"),
	       strcmp(iscadm_raw(o, "accel"), "kvm") == 0 ? "KVM"
							  : "TCG (emulated: no usable KVM)");
	json_object_put(o);
	return ISCADM_OK;
}
