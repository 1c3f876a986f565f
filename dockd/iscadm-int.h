/* iscadm-int.h: what the siblings of the CLI share (private; iscadm has no
 * public header: its contract is its command line, iscadm(1)). iscadm.c
 * holds the command table (data: every verb, its arguments, its flags with
 * their units and bounds) and main; iscadm-args.c parses a command line
 * against the table, prints help and writes the completion scripts;
 * iscadm-node.c the node verbs; iscadm-misc.c the dock's other verbs (audit,
 * fw, forensic, image); iscadm-http.c the transport (libcurl over dockd's
 * unix socket) and the exit codes; iscadm-out.c the output (tables, CSV,
 * JSON); iscadm-forensic.c the verified export of a forensic snapshot. */
#ifndef ISC_ISCADM_INT_H
#define ISC_ISCADM_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* The exit codes (README, iscadm(1), `iscadm --help`). */
enum iscadm_exit {
	ISCADM_OK = 0,
	ISCADM_ERROR = 1,        /* the dock failed (5xx), or anything else */
	ISCADM_USAGE = 2,        /* bad arguments, or a request the dock called bad (400) */
	ISCADM_NOT_FOUND = 3,    /* 404 */
	ISCADM_CONFLICT = 4,     /* 409: the node's state forbids it, or it exists */
	ISCADM_DENIED = 5,       /* 403, or the socket's permissions */
	ISCADM_UNREACHABLE = 6,  /* no dockd on the socket */
	ISCADM_CHECK_FAILED = 7, /* a FAIL row, a broken audit trail */
	ISCADM_TIMEOUT = 8,      /* a --wait ran out of time */
};

/* Output formats: --json is --format json. */
enum iscadm_format { ISCADM_TABLE, ISCADM_JSON, ISCADM_CSV };

/* The global options (iscadm.c): the socket, the format. */
extern const char *iscadm_socket;
extern bool iscadm_json;
extern enum iscadm_format iscadm_format;

/* "iscadm: " and the message on stderr (escaped), then exit 1. */
__attribute__((noreturn, format(printf, 1, 2))) void iscadm_die(const char *fmt, ...);
/* The same with an exit code of enum iscadm_exit. */
__attribute__((noreturn, format(printf, 2, 3))) void iscadm_fail(int code, const char *fmt, ...);

/* ---- the command table (iscadm.c) and its parser (iscadm-args.c) ---- */
#define ISCADM_POS_MAX    4
#define ISCADM_FLAG_MAX   28
#define ISCADM_REPEAT_MAX 32

struct iscadm_flag {
	const char *f_long; /* "force": --force; NULL ends a list */
	char f_short;       /* 'q': -q, or 0 */
	const char *f_arg;  /* NULL: a switch; "SIZE": takes a value */
	bool f_optional;    /* the value is optional, given as --wait=healthy */
	bool f_repeat;      /* may be given more than once */
	const char *f_help; /* one line: meaning, units, bounds, default */
};

struct iscadm_args;
struct iscadm_cmd {
	const char *c_name;  /* "create", or a group's verb: "forensic rm" */
	const char *c_alias; /* "rm" for destroy, or NULL */
	int (*c_fn)(const struct iscadm_args *);
	const char *c_pos; /* the positionals' synopsis: "NODE", "ID DEST" */
	unsigned c_min, c_max;
	bool c_read; /* a read verb: --format table|json|csv */
	const char *c_summary;
	const char *c_more; /* more help: behaviour, units, bounds; or NULL */
	const struct iscadm_flag *c_flags;
};

struct iscadm_args {
	const struct iscadm_cmd *a_cmd;
	size_t a_npos;
	const char *a_pos[ISCADM_POS_MAX];
	size_t a_n[ISCADM_FLAG_MAX]; /* times each flag was given */
	const char *a_val[ISCADM_FLAG_MAX][ISCADM_REPEAT_MAX];
};

extern const struct iscadm_cmd iscadm_cmds[];
extern const size_t iscadm_ncmds;

/* The command args[0..n) names (one word, or a group and its verb) into a;
 * returns the number of words the name took, or 0 for no such command. */
size_t iscadm_find_cmd(int n, const char *const *args, const struct iscadm_cmd **cmd);
/* Parses the rest of the line against cmd's flags and positionals; a
 * flag it does not know, a missing or extra argument: a usage error
 * naming it (exit 2). */
void iscadm_parse(const struct iscadm_cmd *cmd, int n, char **args, struct iscadm_args *a);
/* A flag's last value ("" for a switch), or NULL when not given. */
const char *iscadm_opt(const struct iscadm_args *a, const char *name);
/* All values of a repeatable flag. */
size_t iscadm_opts(const struct iscadm_args *a, const char *name, const char *const **vals);
/* A positional that must be a node name (validated, usage error if not). */
const char *iscadm_node_arg(const struct iscadm_args *a, size_t i);
/* A usage error of cmd: the message, "try iscadm help CMD", exit 2. */
__attribute__((noreturn, format(printf, 2, 3))) void iscadm_usage_fail(const struct iscadm_cmd *cmd,
								       const char *fmt, ...);
/* The global help (every verb, the global options, the exit codes), and
 * one verb's: synopsis, flags with units and bounds, more. */
void iscadm_usage(FILE *f);
void iscadm_verb_help(FILE *f, const struct iscadm_cmd *cmd);

/* ---- iscadm-http.c ---- */
void iscadm_http_init(void);
/* One HTTP request to dockd, the answer's body to write_cb; returns the
 * HTTP status, dies when dockd cannot be reached (exit 6, or 5 when the
 * socket's permissions keep the caller out, naming its group). */
long iscadm_request(const char *method, const char *path, const char *body,
		    size_t (*write_cb)(char *, size_t, size_t, void *), void *ud);
/* The same, but when dockd cannot be reached: returns -1 with the reason
 * in why (and the exit code in *code). */
long iscadm_request_try(const char *method, const char *path, const char *body,
			size_t (*write_cb)(char *, size_t, size_t, void *), void *ud, char *why,
			size_t size, int *code);
/* The exit code of an HTTP status. */
int iscadm_exit_of(long status);
/* The one-line reason of a refused request (the answer's "error"), exit
 * code from its status. */
__attribute__((noreturn)) void iscadm_die_http(long status, struct json_object *o);
/* One request, whatever its status (in *status): the parsed answer or
 * NULL; dies only when dockd cannot be reached. */
struct json_object *iscadm_call_status(const char *method, const char *path, const char *body,
				       long *status);
/* One API call; returns the parsed JSON of a 2xx answer, dies otherwise. */
struct json_object *iscadm_call(const char *method, const char *path, const char *body);

/* ---- iscadm-out.c ---- */
/* o's member key as text, "-" when it is missing or null: escaped for the
 * terminal (escape.h), in one of a few rotating buffers (valid until the
 * eighth call after it, cut on a character past 8 KiB). */
const char *iscadm_str(struct json_object *o, const char *key);
/* The same as it is: for requests and comparisons, never for printing. */
const char *iscadm_raw(struct json_object *o, const char *key);
/* s[0..len) to stdout escaped with flags (escape.h), however long. */
void iscadm_put(const char *s, size_t len, unsigned flags);
void iscadm_print_json(struct json_object *o);
/* ls (-q: the names only), status, audit, forensic ls, image ls in
 * iscadm_format: a table sized to its content, CSV or JSON. */
void iscadm_print_nodes(struct json_object *a, bool quiet);
void iscadm_print_status(const char *name, struct json_object *o);
void iscadm_print_audit(struct json_object *o);
/* audit verify: the human lines, and whether the exit status is 7 (the
 * chain broken, disagreeing with its checkpoint, or damage found by the
 * dock at start). */
void iscadm_print_verify(struct json_object *o);
bool iscadm_verify_failed(struct json_object *o);
void iscadm_print_forensics(struct json_object *o);
void iscadm_print_images(struct json_object *a);

/* ---- iscadm-node.c, iscadm-misc.c: the verbs (the table's c_fn) ---- */
int iscadm_cmd_create(const struct iscadm_args *a);
int iscadm_cmd_ls(const struct iscadm_args *a);
int iscadm_cmd_inspect(const struct iscadm_args *a);
int iscadm_cmd_start(const struct iscadm_args *a);
int iscadm_cmd_stop(const struct iscadm_args *a);
int iscadm_cmd_destroy(const struct iscadm_args *a);
int iscadm_cmd_status(const struct iscadm_args *a);
int iscadm_cmd_publish(const struct iscadm_args *a);
int iscadm_cmd_unpublish(const struct iscadm_args *a);
int iscadm_cmd_cleanse(const struct iscadm_args *a);
int iscadm_cmd_quarantine(const struct iscadm_args *a);
int iscadm_cmd_release(const struct iscadm_args *a);
int iscadm_cmd_snapshot(const struct iscadm_args *a);
int iscadm_cmd_console(const struct iscadm_args *a);
int iscadm_cmd_logs(const struct iscadm_args *a);
int iscadm_cmd_fw(const struct iscadm_args *a);
int iscadm_cmd_audit(const struct iscadm_args *a);
int iscadm_cmd_verify(const struct iscadm_args *a);
/* audit --guest NODE [verify | --purge] (iscadm-gaudit.c). */
int iscadm_cmd_gaudit(const struct iscadm_args *a);
int iscadm_gaudit_verify(const char *node);
int iscadm_cmd_forensic_ls(const struct iscadm_args *a);
int iscadm_cmd_forensic_rm(const struct iscadm_args *a);
int iscadm_cmd_forensic_export(const struct iscadm_args *a);
int iscadm_cmd_image_ls(const struct iscadm_args *a);
int iscadm_cmd_image_rm(const struct iscadm_args *a);
int iscadm_cmd_version(const struct iscadm_args *a);
/* iscadm-lab.c */
int iscadm_cmd_lab_validate(const struct iscadm_args *a);
int iscadm_cmd_lab_up(const struct iscadm_args *a);
int iscadm_cmd_lab_status(const struct iscadm_args *a);
int iscadm_cmd_lab_down(const struct iscadm_args *a);
int iscadm_cmd_lab_ls(const struct iscadm_args *a);
int iscadm_cmd_help(const struct iscadm_args *a);
int iscadm_cmd_completion(const struct iscadm_args *a);

/* ---- iscadm-wait.c ---- */
#define ISCADM_WAIT_READY   1 /* the agent said hello and sent a complete report */
#define ISCADM_WAIT_HEALTHY 2 /* ... and the status table has no FAIL row */
/* Polls GET /v1/nodes/NAME (state, op, op_phase, agent.hello,
 * agent.report.complete) and, for healthy, its status every 500 ms,
 * showing milestones (common/progress.h: a live line on a terminal, a line
 * each on a pipe, nothing with --json); timeout_s 0: no limit. Returns 0;
 * ISCADM_CHECK_FAILED when FAIL rows stand in two reports in a row or at
 * the deadline, naming them; ISCADM_TIMEOUT naming what it waited for.
 * Dies when the node fails, stops, vanishes, or the dock refuses. */
int iscadm_wait_node(const char *name, int mode, unsigned timeout_s);
/* iscadm_call on a thread of its own while this one shows the node's
 * operation and its step (op, op_phase) under the subject what ("cleanse
 * web1"); the line is cleared before the answer is returned. */
struct json_object *iscadm_call_progress(const char *method, const char *path, const char *body,
					 const char *node, const char *what);
/* The same with another look: look(pg, arg) is called every
 * ISCADM_WAIT_POLL_MS while the call runs, to set the milestone. */
struct progress;
typedef void (*iscadm_look_fn)(struct progress *pg, void *arg);
struct json_object *iscadm_call_looking(const char *method, const char *path, const char *body,
					const char *what, iscadm_look_fn look, void *arg);

/* ---- iscadm-logs.c ---- */
/* logs: the console log (or the firewall's drops) of node name: the last
 * tail lines (-1: all) of the boots since (NULL, or as the user typed it:
 * RFC 3339, an age such as 10m, UNIX seconds); follow: then what the guest
 * writes, until the node is destroyed or the user stops it. Returns the
 * exit code (0), dies on an error. */
int iscadm_logs_run(const char *name, bool firewall, bool raw, bool follow, long tail,
		    const char *since);
/* text as a time (timearg.h), or a usage error naming what and the text. */
time_t iscadm_time_arg(const char *what, const char *text);

/* ---- iscadm-forensic.c ---- */
/* forensic export ID DEST; returns 0 or dies. */
int iscadm_forensic_export(const char *id, const char *dest);

#endif
