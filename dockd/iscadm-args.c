/* iscadm-args: a command line read against the command table (iscadm.c):
 * the verb (one word, or a group and its verb: "forensic rm"), its flags
 * (--flag VALUE, --flag=VALUE, -q, a repeatable flag's values), its
 * positionals; whatever the table does not name is a usage error naming
 * it (exit 2). The help (global, per verb) and the bash and zsh completion
 * scripts are printed from the same table, so they cannot drift. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "iscadm-int.h"
#include "validate.h"

/* The words of a command's name: "forensic rm" is 2. */
static size_t iscadm_words(const char *name)
{
	return strchr(name, ' ') ? 2 : 1;
}

static bool iscadm_name_is(const struct iscadm_cmd *c, int n, const char *const *args)
{
	const char *sp = strchr(c->c_name, ' ');

	if (sp == NULL)
		return strcmp(c->c_name, args[0]) == 0 ||
			(c->c_alias != NULL && strcmp(c->c_alias, args[0]) == 0);
	return n >= 2 && strlen(args[0]) == (size_t)(sp - c->c_name) &&
		strncmp(c->c_name, args[0], (size_t)(sp - c->c_name)) == 0 &&
		strcmp(sp + 1, args[1]) == 0;
}

/* A group word alone ("forensic") or with a verb it lacks: a usage error
 * listing its verbs. */
static void iscadm_group_fail(int n, const char *const *args)
{
	char verbs[256] = "";
	size_t len = strlen(args[0]);

	for (size_t i = 0; i < iscadm_ncmds; i++) {
		const char *c = iscadm_cmds[i].c_name;
		if (strncmp(c, args[0], len) == 0 && c[len] == ' ') {
			size_t at = strlen(verbs);
			snprintf(verbs + at, sizeof(verbs) - at, "%s%s", at ? ", " : "",
				 c + len + 1);
		}
	}
	if (verbs[0] == '\0')
		return;
	if (n < 2)
		iscadm_fail(ISCADM_USAGE, "%s: missing verb (one of: %s)", args[0], verbs);
	iscadm_fail(ISCADM_USAGE, "%s: unknown verb \"%s\" (one of: %s)", args[0], args[1], verbs);
}

size_t iscadm_find_cmd(int n, const char *const *args, const struct iscadm_cmd **cmd)
{
	const struct iscadm_cmd *one = NULL;

	for (size_t i = 0; i < iscadm_ncmds; i++) {
		if (!iscadm_name_is(&iscadm_cmds[i], n, args))
			continue;
		if (iscadm_words(iscadm_cmds[i].c_name) == 2) {
			*cmd = &iscadm_cmds[i];
			return 2;
		}
		one = &iscadm_cmds[i];
	}
	/* "audit" alone is a verb; "audit verify" matched above. */
	if (one != NULL) {
		*cmd = one;
		return 1;
	}
	iscadm_group_fail(n, args);
	return 0;
}

void iscadm_usage_fail(const struct iscadm_cmd *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	iscadm_fail(ISCADM_USAGE, "%s: %s (try iscadm help %s)", cmd->c_name, msg, cmd->c_name);
}

static int iscadm_flag_index(const struct iscadm_cmd *cmd, const char *a, size_t len)
{
	for (int f = 0; cmd->c_flags[f].f_long != NULL; f++) {
		const struct iscadm_flag *fl = &cmd->c_flags[f];
		if (a[1] == '-' && strlen(fl->f_long) == len - 2 &&
		    strncmp(fl->f_long, a + 2, len - 2) == 0)
			return f;
		if (a[1] != '-' && len == 2 && fl->f_short != 0 && fl->f_short == a[1])
			return f;
	}
	return -1;
}

/* One flag at args[*i] (and its value, maybe the next word). */
static void iscadm_parse_flag(const struct iscadm_cmd *cmd, int n, char **args, int *i,
			      struct iscadm_args *a)
{
	const char *arg = args[*i], *eq = strchr(arg, '=');
	size_t len = eq && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
	int f = iscadm_flag_index(cmd, arg, len);
	const struct iscadm_flag *fl;
	const char *v = "";

	if (f < 0)
		iscadm_usage_fail(cmd, "unknown option %.*s", (int)len, arg);
	fl = &cmd->c_flags[f];
	if (fl->f_arg == NULL && eq != NULL && arg[1] == '-')
		iscadm_usage_fail(cmd, "--%s takes no value", fl->f_long);
	if (fl->f_arg != NULL && eq != NULL && arg[1] == '-')
		v = eq + 1;
	else if (fl->f_arg != NULL && !fl->f_optional) {
		if (*i + 1 >= n)
			iscadm_usage_fail(cmd, "--%s needs a value (%s)", fl->f_long, fl->f_arg);
		v = args[++*i];
	}
	if (a->a_n[f] > 0 && !fl->f_repeat)
		iscadm_usage_fail(cmd, "--%s given twice", fl->f_long);
	if (a->a_n[f] >= ISCADM_REPEAT_MAX)
		iscadm_usage_fail(cmd, "--%s given more than %d times", fl->f_long,
				  ISCADM_REPEAT_MAX);
	a->a_val[f][a->a_n[f]++] = v;
}

void iscadm_parse(const struct iscadm_cmd *cmd, int n, char **args, struct iscadm_args *a)
{
	bool opts = true;

	memset(a, 0, sizeof(*a));
	a->a_cmd = cmd;
	for (int i = 0; i < n; i++) {
		if (opts && strcmp(args[i], "--") == 0) {
			opts = false;
			continue;
		}
		if (opts && args[i][0] == '-' && args[i][1] != '\0') {
			iscadm_parse_flag(cmd, n, args, &i, a);
			continue;
		}
		if (a->a_npos >= cmd->c_max)
			iscadm_usage_fail(cmd, "unexpected argument \"%s\"", args[i]);
		a->a_pos[a->a_npos++] = args[i];
	}
	if (a->a_npos < cmd->c_min)
		iscadm_usage_fail(cmd, "missing %s", cmd->c_pos);
}

const char *iscadm_opt(const struct iscadm_args *a, const char *name)
{
	for (int f = 0; a->a_cmd->c_flags[f].f_long != NULL; f++)
		if (strcmp(a->a_cmd->c_flags[f].f_long, name) == 0)
			return a->a_n[f] ? a->a_val[f][a->a_n[f] - 1] : NULL;
	return NULL;
}

size_t iscadm_opts(const struct iscadm_args *a, const char *name, const char *const **vals)
{
	for (int f = 0; a->a_cmd->c_flags[f].f_long != NULL; f++)
		if (strcmp(a->a_cmd->c_flags[f].f_long, name) == 0) {
			*vals = a->a_val[f];
			return a->a_n[f];
		}
	return 0;
}

const char *iscadm_node_arg(const struct iscadm_args *a, size_t i)
{
	struct dock_err err = { 0 };

	if (validate_name("node", a->a_pos[i], NODE_NAME_MAX, &err) < 0)
		iscadm_usage_fail(a->a_cmd, "%s", err.de_msg);
	return a->a_pos[i];
}

/* "--flag VALUE" / "-q, --quiet" as help shows it. */
static void iscadm_flag_syn(char *buf, size_t size, const struct iscadm_flag *fl)
{
	char sh[8] = "";

	if (fl->f_short)
		snprintf(sh, sizeof(sh), "-%c, ", fl->f_short);
	if (fl->f_arg == NULL)
		snprintf(buf, size, "%s--%s", sh, fl->f_long);
	else if (fl->f_optional)
		snprintf(buf, size, "%s--%s[=%s]", sh, fl->f_long, fl->f_arg);
	else
		snprintf(buf, size, "%s--%s %s", sh, fl->f_long, fl->f_arg);
}

void iscadm_verb_help(FILE *f, const struct iscadm_cmd *cmd)
{
	fprintf(f, "usage: iscadm %s%s%s%s\n", cmd->c_name, cmd->c_pos[0] ? " " : "", cmd->c_pos,
		cmd->c_flags[0].f_long ? " [OPTIONS]" : "");
	if (cmd->c_alias)
		fprintf(f, "       iscadm %s ... (alias)\n", cmd->c_alias);
	fprintf(f, "\n%s.\n", cmd->c_summary);
	if (cmd->c_more)
		fprintf(f, "%s\n", cmd->c_more);
	if (cmd->c_flags[0].f_long)
		fprintf(f, "\noptions:\n");
	for (int i = 0; cmd->c_flags[i].f_long != NULL; i++) {
		char syn[96];
		iscadm_flag_syn(syn, sizeof(syn), &cmd->c_flags[i]);
		fprintf(f, "  %-30s %s\n", syn, cmd->c_flags[i].f_help);
	}
	fprintf(f, "\nglobal: --socket PATH, %s-h/--help (exit codes: iscadm --help)\n",
		cmd->c_read ? "--format table|json|csv, --json, " : "--json, ");
}

static const char iscadm_exit_help[] =
	"exit codes: 0 ok, 1 error (the dock failed), 2 usage or bad input, 3 not found,\n"
	"  4 conflict (the node's state forbids it), 5 permission denied, 6 dockd unreachable,\n"
	"  7 check failed (a FAIL row, a broken audit trail), 8 timeout (--wait)\n";

void iscadm_usage(FILE *f)
{
	fprintf(f,
		"usage: iscadm [--socket PATH] [--format table|json|csv | --json] COMMAND ...\n"
		"       iscadm --version | help [COMMAND] | COMMAND --help\n\ncommands:\n");
	for (size_t i = 0; i < iscadm_ncmds; i++) {
		char syn[64];
		snprintf(syn, sizeof(syn), "%s %s", iscadm_cmds[i].c_name, iscadm_cmds[i].c_pos);
		fprintf(f, "  %-28s %s\n", syn, iscadm_cmds[i].c_summary);
	}
	fprintf(f, "\nThe socket defaults to $ISC_SOCKET or /run/isc/dockd.sock.\n%s",
		iscadm_exit_help);
}

int iscadm_cmd_help(const struct iscadm_args *a)
{
	const struct iscadm_cmd *cmd = NULL;
	const char *words[2] = { a->a_pos[0], a->a_pos[1] };

	if (a->a_npos == 0) {
		iscadm_usage(stdout);
		return ISCADM_OK;
	}
	if (iscadm_find_cmd((int)a->a_npos, words, &cmd) == 0)
		iscadm_fail(ISCADM_USAGE, "help: unknown command \"%s\"", a->a_pos[0]);
	iscadm_verb_help(stdout, cmd);
	return ISCADM_OK;
}

/* The words after "iscadm": each verb and group once, the aliases. */
static void iscadm_top_words(FILE *f)
{
	for (size_t i = 0; i < iscadm_ncmds; i++) {
		const char *c = iscadm_cmds[i].c_name, *sp = strchr(c, ' ');
		size_t len = sp ? (size_t)(sp - c) : strlen(c);
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strncmp(iscadm_cmds[j].c_name, c, len) == 0 &&
				(iscadm_cmds[j].c_name[len] == ' ' ||
				 iscadm_cmds[j].c_name[len] == '\0');
		if (!seen)
			fprintf(f, " %.*s", (int)len, c);
		if (iscadm_cmds[i].c_alias)
			fprintf(f, " %s", iscadm_cmds[i].c_alias);
	}
}

/* A group's verbs ("forensic": ls rm export), and the flags of a group
 * word that is a verb itself ("audit"). */
static void iscadm_group_words(FILE *f, const char *group, size_t gl)
{
	for (size_t i = 0; i < iscadm_ncmds; i++) {
		const char *c = iscadm_cmds[i].c_name;
		if (strncmp(c, group, gl) == 0 && c[gl] == ' ')
			fprintf(f, " %s", c + gl + 1);
	}
}

static void iscadm_flags_of(FILE *f, const struct iscadm_cmd *cmd)
{
	for (int i = 0; cmd->c_flags[i].f_long != NULL; i++) {
		fprintf(f, " --%s", cmd->c_flags[i].f_long);
		if (cmd->c_flags[i].f_short)
			fprintf(f, " -%c", cmd->c_flags[i].f_short);
	}
	fprintf(f, " --help --json%s", cmd->c_read ? " --format" : "");
}

/* The case arms both shells share ("W1 W2" patterns), each ending with
 * the shell's way to offer words: bash sets $words, zsh calls compadd.
 * Group words alone first, then two-word verbs, then one-word verbs: the
 * first arm that matches wins. NODE positionals complete from `ls -q`. */
static void iscadm_case_arms(bool zsh)
{
	const char *open = zsh ? "compadd --" : "words=\"";
	const char *close = zsh ? "" : "\"";
	const char *nodes = zsh ? " $(iscadm ls -q 2>/dev/null)" : " $(iscadm ls -q 2>/dev/null)";

	for (size_t i = 0; i < iscadm_ncmds; i++) {
		const char *c = iscadm_cmds[i].c_name, *sp = strchr(c, ' ');
		if (sp == NULL ||
		    (i > 0 && strncmp(iscadm_cmds[i - 1].c_name, c, (size_t)(sp - c + 1)) == 0))
			continue;
		printf("\t\"%.*s \") %s", (int)(sp - c), c, open);
		iscadm_group_words(stdout, c, (size_t)(sp - c));
		for (size_t j = 0; j < iscadm_ncmds; j++)
			if (strlen(iscadm_cmds[j].c_name) == (size_t)(sp - c) &&
			    strncmp(iscadm_cmds[j].c_name, c, (size_t)(sp - c)) == 0)
				iscadm_flags_of(stdout, &iscadm_cmds[j]);
		printf("%s;;\n", close);
	}
	for (int pass = 2; pass >= 1; pass--)
		for (size_t i = 0; i < iscadm_ncmds; i++) {
			const struct iscadm_cmd *c = &iscadm_cmds[i];
			if (iscadm_words(c->c_name) != (size_t)pass)
				continue;
			printf("\t\"%s%s\"*", c->c_name, pass == 1 ? " " : "");
			if (c->c_alias)
				printf(" | \"%s \"*", c->c_alias);
			printf(") %s", open);
			iscadm_flags_of(stdout, c);
			if (strncmp(c->c_pos, "NODE", 4) == 0)
				printf("%s", nodes);
			printf("%s;;\n", close);
		}
	printf("\t*) %s --help --version --json --format --socket", open);
	iscadm_top_words(stdout);
	printf("%s;;\n", close);
}

int iscadm_cmd_completion(const struct iscadm_args *a)
{
	bool zsh = strcmp(a->a_pos[0], "zsh") == 0;

	if (!zsh && strcmp(a->a_pos[0], "bash") != 0)
		iscadm_usage_fail(a->a_cmd, "\"%s\": expected bash or zsh", a->a_pos[0]);
	if (zsh)
		printf("#compdef iscadm\n# zsh completion for iscadm (iscadm completion zsh)\n"
		       "_iscadm() {\n\tlocal -a w\n\tw=(${${words[2,CURRENT-1]}:#-*})\n"
		       "\tcase \"${w[1]} ${w[2]}\" in\n");
	else
		printf("# bash completion for iscadm (iscadm completion bash)\n"
		       "_iscadm() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} w=() i words\n"
		       "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		       "\t\tcase ${COMP_WORDS[i]} in\n"
		       "\t\t--socket | --format) ((i++)) ;;\n\t\t-*) ;;\n"
		       "\t\t*) w+=(\"${COMP_WORDS[i]}\") ;;\n\t\tesac\n\tdone\n"
		       "\tcase \"${w[0]:-} ${w[1]:-}\" in\n");
	iscadm_case_arms(zsh);
	if (zsh)
		printf("\tesac\n}\n_iscadm \"$@\"\n");
	else
		printf("\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n"
		       "complete -F _iscadm iscadm\n");
	return ISCADM_OK;
}
