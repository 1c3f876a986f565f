/*
 * apt.c: the Debian archive a golden image is bootstrapped from (apt.h):
 * the recipe's mirror, else $ISC_MIRROR, else the first of this machine's
 * apt sources (sources.list, then sources.list.d/ in name order, one-line
 * and deb822 formats) that serves the recipe's suite. Files it cannot read
 * are skipped, with a line saying so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "apt.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imgio.h"

/* apt source files are small; a directory of them too. */
#define APT_FILE_MAX (256 * 1024)
#define APT_DIR_MAX  64

static bool apt_word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t l;

		p += strspn(p, " \t");
		l = strcspn(p, " \t");
		if (l == n && strncmp(p, word, n) == 0)
			return true;
		p += l;
	}
	return false;
}

/* One-line format: "deb [options] URI SUITE COMPONENT...". */
static bool apt_list_line(char *line, const char *suite, char *out, size_t size)
{
	char *save = NULL, *tok[4];
	int n = 0;

	if (strncmp(line, "deb", 3) != 0 || (line[3] != ' ' && line[3] != '\t'))
		return false;
	line += 3;
	line += strspn(line, " \t");
	if (*line == '[') { /* options */
		char *end = strchr(line, ']');
		if (!end)
			return false;
		line = end + 1;
	}
	for (char *t = strtok_r(line, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n < 2 || strcmp(tok[1], suite) != 0 || strlen(tok[0]) >= size)
		return false;
	snprintf(out, size, "%s", tok[0]);
	return true;
}

/* deb822 format: paragraphs of "Field: value" lines. */
static bool apt_sources_para(const char *types, const char *uris, const char *suites,
			     const char *enabled, const char *suite, char *out, size_t size)
{
	size_t l;

	if (!apt_word_in(types, "deb") || !apt_word_in(suites, suite) ||
	    strcasecmp(enabled, "no") == 0)
		return false;
	uris += strspn(uris, " \t");
	l = strcspn(uris, " \t");
	if (l == 0 || l >= size)
		return false;
	snprintf(out, size, "%.*s", (int)l, uris);
	return true;
}

static bool apt_file(const char *path, bool deb822, const char *suite, char *out, size_t size)
{
	_cleanup_free_ char *buf = NULL;
	char types[256] = "", uris[512] = "", suites[256] = "", enabled[16] = "", *save = NULL;
	struct dock_err err = { 0 };
	size_t len;

	if (access(path, R_OK) < 0 || file_read_all(path, APT_FILE_MAX, &buf, &len, &err) < 0) {
		img_log_err(&err); /* a source list it cannot read is skipped */
		return false;
	}
	for (char *line = strtok_r(buf, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		char *v;

		if (!deb822) {
			if (!line)
				return false;
			line += strspn(line, " \t");
			if (apt_list_line(line, suite, out, size))
				return true;
			continue;
		}
		/* strtok_r skips empty lines: a new "Types:" starts the next paragraph. */
		if (!line || strncasecmp(line, "Types:", 6) == 0) {
			if (types[0] &&
			    apt_sources_para(types, uris, suites, enabled, suite, out, size))
				return true;
			if (!line)
				return false;
			uris[0] = suites[0] = enabled[0] = '\0';
		}
		if (line[0] == '#' || !(v = strchr(line, ':')))
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(line, "Types") == 0)
			snprintf(types, sizeof(types), "%s", v);
		else if (strcasecmp(line, "URIs") == 0)
			snprintf(uris, sizeof(uris), "%s", v);
		else if (strcasecmp(line, "Suites") == 0)
			snprintf(suites, sizeof(suites), "%s", v);
		else if (strcasecmp(line, "Enabled") == 0)
			snprintf(enabled, sizeof(enabled), "%s", v);
	}
}

static int apt_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first apt source of this machine that serves the suite. */
int apt_mirror(const struct recipe *rc, char *out, size_t size, struct dock_err *err)
{
	const char *env = getenv("ISC_MIRROR");
	_cleanup_closedir_ DIR *d = NULL;
	char *names[APT_DIR_MAX];
	size_t n = 0;
	struct dirent *de;
	bool found = false;

	if (rc->rc_mirror[0]) {
		snprintf(out, size, "%s", rc->rc_mirror);
		return 0;
	}
	if (env && *env) {
		if (strlen(env) >= size ||
		    (strncmp(env, "http://", 7) != 0 && strncmp(env, "https://", 8) != 0 &&
		     strncmp(env, "file:///", 8) != 0))
			return err_set(
				err, IMG_ERR, EINVAL,
				"ISC_MIRROR \"%.64s\" is not an http://, https:// or file:/// URL",
				env);
		snprintf(out, size, "%s", env);
		return 0;
	}
	if (apt_file("/etc/apt/sources.list", false, rc->rc_suite, out, size))
		return 0;
	if ((d = opendir("/etc/apt/sources.list.d")) != NULL) {
		while ((de = readdir(d)) != NULL && n < APT_DIR_MAX)
			if (fnmatch("*.list", de->d_name, 0) == 0 ||
			    fnmatch("*.sources", de->d_name, 0) == 0)
				if ((names[n] = strdup(de->d_name)) != NULL)
					n++;
		qsort(names, n, sizeof(names[0]), apt_name_cmp);
		for (size_t i = 0; i < n; i++) {
			char path[PATH_MAX];

			if (!found &&
			    snprintf(path, sizeof(path), "/etc/apt/sources.list.d/%s", names[i]) <
				    (int)sizeof(path))
				found = apt_file(path, fnmatch("*.sources", names[i], 0) == 0,
						 rc->rc_suite, out, size);
			free(names[i]);
		}
	}
	if (found)
		return 0;
	return err_set(
		err, IMG_ERR, ENOENT,
		"%s: no apt source of this machine serves suite \"%s\": set \"mirror\" in the recipe "
		"or ISC_MIRROR",
		rc->rc_path, rc->rc_suite);
}
