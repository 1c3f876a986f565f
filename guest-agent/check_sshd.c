/*
 * check_sshd.c: fact "sshd", how sshd would authenticate, read from its
 * configuration the way sshd reads it: keywords case-insensitive, the
 * first value given wins, Include expanded in place (sorted, like glob),
 * Match blocks left out (they only narrow; the dock sees how many).
 */
#include "facts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SSHD_CONFIG "/etc/ssh/sshd_config"
#define SSHD_DIR    "/etc/ssh/"
/* Include nesting and files read in all: sshd's own limit is 16 deep. */
#define SSHD_DEPTH_MAX 8
#define SSHD_FILES_MAX 64
/* Files one Include pattern may name. */
#define SSHD_GLOB_MAX  32
#define SSHD_VALUE_MAX 32

/* The options reported, and the keywords that set them. */
enum sshd_opt { SSHD_PASSWORD, SSHD_ROOT, SSHD_KBD, SSHD_NOPTS };

static const struct sshd_keyword {
	const char *sk_keyword;
	enum sshd_opt sk_opt;
} sshd_keywords[] = {
	{ "PasswordAuthentication", SSHD_PASSWORD },
	{ "PermitRootLogin", SSHD_ROOT },
	{ "KbdInteractiveAuthentication", SSHD_KBD },
	/* The deprecated name of the same option. */
	{ "ChallengeResponseAuthentication", SSHD_KBD },
};

static const char *const sshd_fields[SSHD_NOPTS] = {
	[SSHD_PASSWORD] = "password_authentication",
	[SSHD_ROOT] = "permit_root_login",
	[SSHD_KBD] = "kbd_interactive_authentication",
};

struct sshd_conf {
	char sc_values[SSHD_NOPTS][SSHD_VALUE_MAX]; /* "" until set */
	unsigned sc_match;
	unsigned sc_files;
};

static void sshd_file(struct jline *j, const struct fact_env *e, struct sshd_conf *c,
		      const char *path, int depth);

/* Next argument: blank-separated, or "quoted"; NULL at the end or at a comment. */
static char *sshd_arg(char **s)
{
	char *p = *s, *arg;

	p += strspn(p, " \t\r");
	if (!*p || *p == '#')
		return NULL;
	if (*p == '"') {
		arg = ++p;
		p += strcspn(p, "\"");
	} else {
		arg = p;
		p += strcspn(p, " \t\r");
	}
	if (*p)
		*p++ = '\0';
	*s = p;
	return arg;
}

static bool sshd_has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int sshd_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Include PATTERN: a path, with wildcards in its last component at most. */
static void sshd_include(struct jline *j, const struct fact_env *e, struct sshd_conf *c,
			 const char *arg, int depth)
{
	static char names[SSHD_DEPTH_MAX][SSHD_GLOB_MAX][NAME_MAX + 1];
	char pattern[PATH_MAX], dir[PATH_MAX], full[PATH_MAX], *sorted[SSHD_GLOB_MAX], *base;
	unsigned n = 0;
	struct dirent *de;
	DIR *d;

	if (snprintf(pattern, sizeof(pattern), "%s%s", arg[0] == '/' ? "" : SSHD_DIR, arg) >=
	    (int)sizeof(pattern))
		return;
	if (!sshd_has_glob(pattern)) {
		/* sshd skips an Include that names nothing. */
		if (file_exists(e, pattern))
			sshd_file(j, e, c, pattern, depth + 1);
		return;
	}
	base = strrchr(pattern, '/');
	*base++ = '\0';
	if (sshd_has_glob(pattern)) {
		jl_error(j, "Include %s: wildcards in a directory not followed", arg);
		return;
	}
	if (snprintf(dir, sizeof(dir), "%s%s", e->fe_root, pattern) >= (int)sizeof(dir) ||
	    !(d = opendir(dir)))
		return;
	while ((de = readdir(d)) != NULL) {
		if (fnmatch(base, de->d_name, FNM_PERIOD) != 0)
			continue;
		if (n == SSHD_GLOB_MAX) {
			jl_error(j, "Include %s: more than %d files", arg, SSHD_GLOB_MAX);
			break;
		}
		snprintf(names[depth][n], NAME_MAX + 1, "%s", de->d_name);
		sorted[n] = names[depth][n];
		n++;
	}
	closedir(d);
	qsort(sorted, n, sizeof(sorted[0]), sshd_cmp);
	for (unsigned i = 0; i < n; i++)
		if (snprintf(full, sizeof(full), "%s/%s", pattern, sorted[i]) < (int)sizeof(full))
			sshd_file(j, e, c, full, depth + 1);
}

static void sshd_line(struct jline *j, const struct fact_env *e, struct sshd_conf *c, char *line,
		      int depth, bool *in_match)
{
	char *p = line, *key, *arg;
	size_t kl;

	p += strspn(p, " \t\r");
	if (!*p || *p == '#')
		return;
	/* "Keyword value" or "Keyword=value". */
	key = p;
	kl = strcspn(p, " \t\r=");
	p += kl;
	p += strspn(p, " \t\r");
	if (*p == '=')
		p++;
	key[kl] = '\0';
	if (strcasecmp(key, "Match") == 0) {
		/* A Match block runs to the next Match or the end of its file. */
		*in_match = true;
		c->sc_match++;
		return;
	}
	if (*in_match)
		return;
	if (strcasecmp(key, "Include") == 0) {
		while ((arg = sshd_arg(&p)) != NULL)
			sshd_include(j, e, c, arg, depth);
		return;
	}
	for (size_t i = 0; i < sizeof(sshd_keywords) / sizeof(sshd_keywords[0]); i++) {
		char *v = c->sc_values[sshd_keywords[i].sk_opt];

		if (strcasecmp(key, sshd_keywords[i].sk_keyword) != 0)
			continue;
		/* First value wins, as in sshd. */
		if (v[0] || !(arg = sshd_arg(&p)))
			return;
		if (strlen(arg) >= SSHD_VALUE_MAX)
			jl_error(j, "%s: value longer than %d bytes, cut",
				 sshd_keywords[i].sk_keyword, SSHD_VALUE_MAX - 1);
		snprintf(v, SSHD_VALUE_MAX, "%s", arg);
		for (; *v; v++)
			*v = (char)tolower((unsigned char)*v);
		return;
	}
}

static void sshd_file(struct jline *j, const struct fact_env *e, struct sshd_conf *c,
		      const char *path, int depth)
{
	struct file_lines fl;
	bool in_match = false;
	char *line;
	int r;

	if (depth >= SSHD_DEPTH_MAX || c->sc_files >= SSHD_FILES_MAX) {
		jl_error(j, "%s: Include nested too deep or too many files", path);
		return;
	}
	c->sc_files++;
	if ((r = file_lines_open(&fl, e, path)) < 0) {
		jl_error_errno(j, path, r);
		return;
	}
	while ((r = file_lines_next(&fl, &line)) > 0)
		sshd_line(j, e, c, line, depth, &in_match);
	if (r < 0)
		jl_error_errno(j, path, r);
	file_lines_close(&fl);
}

void check_sshd(struct jline *j, const struct fact_env *e)
{
	static struct sshd_conf c;

	memset(&c, 0, sizeof(c));
	if (!file_exists(e, SSHD_CONFIG)) {
		jl_bool(j, "present", false);
		return;
	}
	jl_bool(j, "present", true);
	sshd_file(j, e, &c, SSHD_CONFIG, 0);
	for (int i = 0; i < SSHD_NOPTS; i++)
		jl_str(j, sshd_fields[i], c.sc_values[i][0] ? c.sc_values[i] : "default");
	jl_int(j, "match_blocks", c.sc_match);
}
