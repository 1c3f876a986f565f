/*
 * recipe.c: a recipe file (images/recipes/NAME) read into struct recipe:
 * one "key = value" a line, each key checked by its setter in recipe_keys[]
 * (the table is the grammar), a base recipe read first, then the rules
 * between keys. Every refusal names the file and line (recipe.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "recipe.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgio.h"
#include "text.h"

bool recipe_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > IMG_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

static int recipe_set_format(struct recipe *rc, const char *v, const char *where,
			     struct dock_err *err)
{
	(void)rc;
	if (strcmp(v, "1") != 0)
		return err_set(
			err, IMG_ERR, EINVAL,
			"%s: format \"%s\" is not supported (this isc-image reads format %d)",
			where, v, RECIPE_FORMAT);
	return 0;
}

static int recipe_set_name(struct recipe *rc, const char *v, const char *where,
			   struct dock_err *err)
{
	if (!recipe_name_valid(v))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: name \"%s\" must be [a-z][a-z0-9-]*, at most %d characters",
			       where, v, IMG_NAME_MAX);
	snprintf(rc->rc_name, sizeof(rc->rc_name), "%s", v);
	return 0;
}

static int recipe_set_boot(struct recipe *rc, const char *v, const char *where,
			   struct dock_err *err)
{
	if (strcmp(v, "kernel") != 0 && strcmp(v, "efi") != 0)
		return err_set(
			err, IMG_ERR, EINVAL,
			"%s: boot \"%s\" is not supported (\"kernel\": direct kernel boot of a busybox "
			"image; \"efi\": a Debian golden image booted through UEFI)",
			where, v);
	snprintf(rc->rc_boot, sizeof(rc->rc_boot), "%s", v);
	return 0;
}

static int recipe_set_cmdline(struct recipe *rc, const char *v, const char *where,
			      struct dock_err *err)
{
	if (strlen(v) > IMG_CMDLINE_MAX)
		return err_set(err, IMG_ERR, E2BIG, "%s: cmdline longer than %d characters", where,
			       IMG_CMDLINE_MAX);
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: cmdline may only hold printable ASCII without quotes or backslashes",
				where);
	snprintf(rc->rc_cmdline, sizeof(rc->rc_cmdline), "%s", v);
	return 0;
}

static int recipe_set_modules(struct recipe *rc, const char *v, const char *where,
			      struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	rc->rc_n_modules = 0; /* a recipe's list replaces its base's */
	snprintf(rc->rc_modules_where, sizeof(rc->rc_modules_where), "%s", where);
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *m = strtok_r(buf, " \t", &save); m; m = strtok_r(NULL, " \t", &save)) {
		if (strlen(m) > IMG_MODNAME_MAX ||
		    strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(m))
			return err_set(err, IMG_ERR, EINVAL,
				       "%s: \"%s\" is not a kernel module name", where, m);
		if (rc->rc_n_modules == RECIPE_MAX_MODULES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d modules", where,
				       RECIPE_MAX_MODULES);
		snprintf(rc->rc_modules[rc->rc_n_modules++], IMG_MODNAME_MAX + 1, "%s", m);
	}
	return 0;
}

/* Debian package names (policy 5.6.1): [a-z0-9][a-z0-9+.-]+. */
static bool package_name_valid(const char *p)
{
	size_t n = strlen(p);

	return n >= 2 && n <= RECIPE_PACKAGE_MAX &&
		((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')) &&
		strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == n;
}

static int recipe_set_packages(struct recipe *rc, const char *v, const char *where,
			       struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	rc->rc_n_packages = 0; /* a recipe's list replaces its base's */
	if (strcmp(v, "none") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (!package_name_valid(p))
			return err_set(err, IMG_ERR, EINVAL,
				       "%s: \"%.64s\" is not a Debian package name", where, p);
		if (rc->rc_n_packages == RECIPE_MAX_PACKAGES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d packages", where,
				       RECIPE_MAX_PACKAGES);
		snprintf(rc->rc_packages[rc->rc_n_packages++], RECIPE_PACKAGE_MAX + 1, "%s", p);
	}
	return 0;
}

static int recipe_set_suite(struct recipe *rc, const char *v, const char *where,
			    struct dock_err *err)
{
	if (strlen(v) == 0 || strlen(v) >= sizeof(rc->rc_suite) ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz-") != strlen(v))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: suite \"%.64s\" is not a Debian suite name (bookworm, say)",
			       where, v);
	snprintf(rc->rc_suite, sizeof(rc->rc_suite), "%s", v);
	return 0;
}

static int recipe_set_mirror(struct recipe *rc, const char *v, const char *where,
			     struct dock_err *err)
{
	if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0 &&
	     strncmp(v, "file:///", 8) != 0) ||
	    strlen(v) > RECIPE_MIRROR_MAX || strpbrk(v, " \t\"'\\") != NULL)
		return err_set(
			err, IMG_ERR, EINVAL,
			"%s: mirror \"%.64s\" must be an http://, https:// or file:/// URL of at most %d "
			"characters",
			where, v, RECIPE_MIRROR_MAX);
	snprintf(rc->rc_mirror, sizeof(rc->rc_mirror), "%s", v);
	return 0;
}

static int recipe_set_ssh(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: ssh must be \"yes\" or \"no\"", where);
	rc->rc_ssh = strcmp(v, "yes") == 0;
	return 0;
}

static int recipe_set_swap_mib(struct recipe *rc, const char *v, const char *where,
			       struct dock_err *err)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > RECIPE_SWAP_MAX)
		return err_set(err, IMG_ERR, EINVAL, "%s: swap_mib \"%.32s\" must be 0..%d", where,
			       v, RECIPE_SWAP_MAX);
	rc->rc_swap_mib = (unsigned)n;
	return 0;
}

static int recipe_set_scap_profiles(struct recipe *rc, const char *v, const char *where,
				    struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", v);
	rc->rc_n_scap_profiles = 0;
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		size_t n = strlen(tok);

		if (n == 0 || n > RECIPE_SCAP_PROFILE_MAX ||
		    strspn(tok, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
			return err_set(err, IMG_ERR, EINVAL,
				       "%s: scap_profiles: \"%.48s\" is not a profile name "
				       "([a-z0-9_], at most %d characters)",
				       where, tok, RECIPE_SCAP_PROFILE_MAX);
		if (rc->rc_n_scap_profiles == RECIPE_SCAP_MAX)
			return err_set(err, IMG_ERR, E2BIG, "%s: scap_profiles: at most %d", where,
				       RECIPE_SCAP_MAX);
		snprintf(rc->rc_scap_profiles[rc->rc_n_scap_profiles++],
			 RECIPE_SCAP_PROFILE_MAX + 1, "%s", tok);
	}
	return 0;
}

static int recipe_set_scap_tailoring(struct recipe *rc, const char *v, const char *where,
				     struct dock_err *err)
{
	struct stat st;
	int n = v[0] == '/' ? snprintf(rc->rc_scap_tailoring, PATH_MAX, "%s", v)
			    : snprintf(rc->rc_scap_tailoring, PATH_MAX, "%s/%s", rc->rc_dir, v);

	if (n < 0 || n >= PATH_MAX)
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", where);
	if (stat(rc->rc_scap_tailoring, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, IMG_ERR, ENOENT, "%s: scap_tailoring: %s is not a file", where,
			       rc->rc_scap_tailoring);
	return 0;
}

static int recipe_set_scap_floor(struct recipe *rc, const char *v, const char *where,
				 struct dock_err *err)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > 100)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: scap_floor \"%.32s\" must be a percent, 0..100", where, v);
	rc->rc_scap_floor = (int)n;
	return 0;
}

static int recipe_set_dir(const struct recipe *rc, char *dst, const char *v, const char *where,
			  struct dock_err *err)
{
	struct stat st;
	int n;

	n = v[0] == '/' ? snprintf(dst, PATH_MAX, "%s", v)
			: snprintf(dst, PATH_MAX, "%s/%s", rc->rc_dir, v);
	if (n < 0 || n >= PATH_MAX)
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", where);
	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, IMG_ERR, ENOTDIR, "%s: %s is not a directory", where, dst);
	return 0;
}

static int recipe_set_initrd_files(struct recipe *rc, const char *v, const char *where,
				   struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_initrd_files, v, where, err);
}

static int recipe_set_root_files(struct recipe *rc, const char *v, const char *where,
				 struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_root_files, v, where, err);
}

static int recipe_set_root_overlay(struct recipe *rc, const char *v, const char *where,
				   struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_root_overlay, v, where, err);
}

static int recipe_parse_file(const char *path, struct recipe *rc, struct dock_err *err);

/*
 * "base = NAME": read the recipe NAME (next to this one) first; this file's
 * keys then replace the base's. It must come before every key but format,
 * so that reading order is overriding order.
 */
static int recipe_set_base(struct recipe *rc, const char *v, const char *where,
			   struct dock_err *err)
{
	char path[PATH_MAX], saved_path[PATH_MAX], saved_dir[PATH_MAX];
	unsigned saved_seen = rc->rc_seen;
	int n, r;

	if (rc->rc_nest >= RECIPE_MAX_NEST)
		return err_set(err, IMG_ERR, ELOOP,
			       "%s: a base recipe cannot have a base itself (one level only)",
			       where);
	if (rc->rc_seen & ~3u) /* bits 0 and 1: format and base (recipe_keys[] order) */
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: base must come before every key but format", where);
	if (!recipe_name_valid(v))
		return err_set(err, IMG_ERR, EINVAL, "%s: base \"%s\" is not a recipe name", where,
			       v);
	n = snprintf(path, sizeof(path), "%s/%s", rc->rc_dir, v);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", where);
	if (access(path, R_OK) < 0)
		return err_set(err, IMG_ERR, errno, "%s: base recipe %s: %s", where, path,
			       strerror(errno));
	snprintf(rc->rc_base, sizeof(rc->rc_base), "%s", v);
	memcpy(saved_path, rc->rc_path, sizeof(saved_path));
	memcpy(saved_dir, rc->rc_dir, sizeof(saved_dir));
	rc->rc_nest++;
	r = recipe_parse_file(path, rc, err);
	rc->rc_nest--;
	memcpy(rc->rc_path, saved_path, sizeof(saved_path));
	memcpy(rc->rc_dir, saved_dir, sizeof(saved_dir));
	rc->rc_seen = saved_seen;
	return r;
}

/* --- the service a recipe declares --- */

static bool svc_word_valid(const char *s, size_t max, bool underscore)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !((s[0] >= 'a' && s[0] <= 'z') || (underscore && s[0] == '_')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      (underscore && s[i] == '_')))
			return false;
	return true;
}

static int recipe_set_service(struct recipe *rc, const char *v, const char *where,
			      struct dock_err *err)
{
	if (!svc_word_valid(v, SVC_NAME_MAX, true))
		return err_set(
			err, IMG_ERR, EINVAL,
			"%s: service \"%.64s\" must be a process name, [a-z][a-z0-9_-]*, at most %d characters",
			where, v, SVC_NAME_MAX);
	snprintf(rc->rc_svc_name, sizeof(rc->rc_svc_name), "%s", v);
	return 0;
}

static int recipe_set_svc_id(char *dst, const char *key, const char *v, const char *where,
			     struct dock_err *err)
{
	if (!svc_word_valid(v, SVC_ID_MAX, true))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: %s \"%.64s\" must be [a-z_][a-z0-9_-]*, at most %d characters",
			       where, key, v, SVC_ID_MAX);
	snprintf(dst, SVC_ID_MAX + 1, "%s", v);
	return 0;
}

static int recipe_set_service_user(struct recipe *rc, const char *v, const char *where,
				   struct dock_err *err)
{
	return recipe_set_svc_id(rc->rc_svc_user, "service_user", v, where, err);
}

static int recipe_set_service_group(struct recipe *rc, const char *v, const char *where,
				    struct dock_err *err)
{
	return recipe_set_svc_id(rc->rc_svc_group, "service_group", v, where, err);
}

/* "PORT/tcp" or "PORT/udp", PORT 1..65535 without leading zeros; "none" for no port. */
static int recipe_set_service_ports(struct recipe *rc, const char *v, const char *where,
				    struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	rc->rc_svc_n_ports = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		size_t digits = strspn(p, "0123456789");
		unsigned long port = digits && digits <= 5 ? strtoul(p, NULL, 10) : 0;

		if (digits == 0 || digits > 5 || p[0] == '0' || port > 65535 ||
		    (strcmp(p + digits, "/tcp") != 0 && strcmp(p + digits, "/udp") != 0))
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: service_ports: \"%.32s\" is not PORT/tcp or PORT/udp (PORT 1-65535)",
				where, p);
		for (size_t i = 0; i < rc->rc_svc_n_ports; i++)
			if (strcmp(rc->rc_svc_ports[i], p) == 0)
				return err_set(err, IMG_ERR, EINVAL,
					       "%s: service_ports: %s given twice", where, p);
		if (rc->rc_svc_n_ports == SVC_MAX_PORTS)
			return err_set(err, IMG_ERR, E2BIG, "%s: service_ports: more than %d ports",
				       where, SVC_MAX_PORTS);
		snprintf(rc->rc_svc_ports[rc->rc_svc_n_ports++], SVC_PORT_MAX + 1, "%s", p);
	}
	if (rc->rc_svc_n_ports == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: service_ports: give ports, or \"none\"",
			       where);
	return 0;
}

/* Absolute, canonical ("/", "/srv/www"; no "//", ".", "..", trailing '/'), plain characters. */
static bool svc_path_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > SVC_PATH_MAX || p[0] != '/' ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != n)
		return false;
	if (n == 1)
		return true;
	if (p[n - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return false;
	if ((n >= 2 && strcmp(p + n - 2, "/.") == 0) || (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		return false;
	return true;
}

static int recipe_set_svc_paths(char (*list)[SVC_PATH_MAX + 1], size_t *n, const char *key,
				const char *v, const char *where, struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	*n = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (!svc_path_valid(p))
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: %s: \"%.64s\" must be an absolute path without \"//\", \".\", \"..\" or a trailing '/', of [A-Za-z0-9._/-], at most %d characters",
				where, key, p, SVC_PATH_MAX);
		for (size_t i = 0; i < *n; i++)
			if (strcmp(list[i], p) == 0)
				return err_set(err, IMG_ERR, EINVAL, "%s: %s: %s given twice",
					       where, key, p);
		if (*n == SVC_MAX_PATHS)
			return err_set(err, IMG_ERR, E2BIG, "%s: %s: more than %d paths", where,
				       key, SVC_MAX_PATHS);
		snprintf(list[(*n)++], SVC_PATH_MAX + 1, "%s", p);
	}
	if (*n == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: %s: give paths, or \"none\"", where, key);
	return 0;
}

static int recipe_set_service_writable(struct recipe *rc, const char *v, const char *where,
				       struct dock_err *err)
{
	return recipe_set_svc_paths(rc->rc_svc_writable, &rc->rc_svc_n_writable, "service_writable",
				    v, where, err);
}

static int recipe_set_service_readonly(struct recipe *rc, const char *v, const char *where,
				       struct dock_err *err)
{
	return recipe_set_svc_paths(rc->rc_svc_readonly, &rc->rc_svc_n_readonly, "service_readonly",
				    v, where, err);
}

/* The service's command line in its systemd unit: printable ASCII, no
 * newline, an absolute program path first. */
static int recipe_set_service_exec(struct recipe *rc, const char *v, const char *where,
				   struct dock_err *err)
{
	if (v[0] != '/' || strlen(v) > SVC_EXEC_MAX)
		return err_set(
			err, IMG_ERR, EINVAL,
			"%s: service_exec must start with an absolute path and be at most %d characters",
			where, SVC_EXEC_MAX);
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\' || *p == '%')
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: service_exec may only hold printable ASCII without '\\' or '%%'",
				where);
	snprintf(rc->rc_svc_exec, sizeof(rc->rc_svc_exec), "%s", v);
	return 0;
}

static const struct recipe_key {
	const char *rk_name;
	bool rk_required;
	int (*rk_set)(struct recipe *rc, const char *value, const char *where,
		      struct dock_err *err);
} recipe_keys[] = {
	/* format, then base: recipe_set_base relies on their bits being 0 and 1 */
	{ "format", true, recipe_set_format },
	{ "base", false, recipe_set_base },
	{ "name", true, recipe_set_name },
	{ "boot", true, recipe_set_boot },
	{ "cmdline", true, recipe_set_cmdline },
	{ "modules", false, recipe_set_modules },
	{ "packages", true, recipe_set_packages },
	{ "initrd_files", false, recipe_set_initrd_files },
	{ "root_files", false, recipe_set_root_files },
	{ "root_overlay", false, recipe_set_root_overlay },
	{ "service", false, recipe_set_service },
	{ "service_user", false, recipe_set_service_user },
	{ "service_group", false, recipe_set_service_group },
	{ "service_ports", false, recipe_set_service_ports },
	{ "service_writable", false, recipe_set_service_writable },
	{ "service_readonly", false, recipe_set_service_readonly },
	{ "service_exec", false, recipe_set_service_exec },
	{ "suite", false, recipe_set_suite },
	{ "mirror", false, recipe_set_mirror },
	{ "ssh", false, recipe_set_ssh },
	{ "swap_mib", false, recipe_set_swap_mib },
	{ "scap_profiles", false, recipe_set_scap_profiles },
	{ "scap_tailoring", false, recipe_set_scap_tailoring },
	{ "scap_floor", false, recipe_set_scap_floor },
};
#define RECIPE_N_KEYS (sizeof(recipe_keys) / sizeof(recipe_keys[0]))
_Static_assert(RECIPE_N_KEYS <= RECIPE_MAX_KEYS, "recipe_keys[] outgrew rc_seen");

static int recipe_line(struct recipe *rc, char *line, const char *where, struct dock_err *err)
{
	char *eq, *key, *value;

	line = text_trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return err_set(err, IMG_ERR, EINVAL, "%s: expected \"key = value\"", where);
	*eq = '\0';
	key = text_trim(line);
	value = text_trim(eq + 1);
	for (size_t i = 0; i < RECIPE_N_KEYS; i++) {
		if (strcmp(key, recipe_keys[i].rk_name) != 0)
			continue;
		if (rc->rc_seen & (1u << i))
			return err_set(err, IMG_ERR, EINVAL, "%s: key \"%s\" given twice", where,
				       key);
		rc->rc_seen |= 1u << i;
		rc->rc_have |= 1u << i;
		snprintf(rc->rc_where[i], sizeof(rc->rc_where[i]), "%s", where);
		return recipe_keys[i].rk_set(rc, value, where, err);
	}
	return err_set(err, IMG_ERR, EINVAL, "%s: unknown key \"%.64s\"", where, key);
}

/* Read one recipe file into rc, on top of what rc holds (its base's keys). */
static int recipe_parse_file(const char *path, struct recipe *rc, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char where[PATH_MAX + 32], *line, *next, *slash;
	size_t len, lineno = 0;
	int r;

	if (snprintf(rc->rc_path, sizeof(rc->rc_path), "%s", path) >= (int)sizeof(rc->rc_path))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "recipe path too long");
	snprintf(rc->rc_dir, sizeof(rc->rc_dir), "%s", path);
	slash = strrchr(rc->rc_dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(rc->rc_dir, sizeof(rc->rc_dir), ".");
	rc->rc_seen = 0;
	if ((r = file_read_all(path, RECIPE_MAX_BYTES, &buf, &len, err)) < 0)
		return r;
	if (memchr(buf, '\0', len))
		return err_set(err, IMG_ERR, EINVAL, "%s: contains a NUL byte", path);
	for (line = buf; line < buf + len; line = next) {
		char *nl = strchr(line, '\n');

		next = nl ? nl + 1 : buf + len;
		if (nl)
			*nl = '\0';
		snprintf(where, sizeof(where), "%s:%zu", path, ++lineno);
		if (lineno > RECIPE_MAX_LINES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d lines", path,
				       RECIPE_MAX_LINES);
		if (strlen(line) > RECIPE_LINE_MAX)
			return err_set(err, IMG_ERR, E2BIG, "%s: line longer than %d bytes", where,
				       RECIPE_LINE_MAX);
		if ((r = recipe_line(rc, line, where, err)) < 0)
			return r;
	}
	return 0;
}

/* Index of a key in recipe_keys[]; callers pass names from that table. */
size_t recipe_key_bit(const char *name)
{
	for (size_t i = 0; i < RECIPE_N_KEYS; i++)
		if (strcmp(recipe_keys[i].rk_name, name) == 0)
			return i;
	abort(); /* a misspelt key name in this file */
}

/* Keys that belong to one kind of build only. */
static int recipe_check_boot(const char *path, struct recipe *rc, struct dock_err *err)
{
	static const char *const kernel_only[] = { "modules", "initrd_files" };
	static const char *const efi_only[] = { "suite",          "mirror",       "ssh",
						"swap_mib",       "service_exec", "scap_profiles",
						"scap_tailoring", "scap_floor" };
	bool efi = strcmp(rc->rc_boot, "efi") == 0;
	const char *const *wrong = efi ? kernel_only : efi_only;
	size_t n = efi ? sizeof(kernel_only) / sizeof(kernel_only[0])
		       : sizeof(efi_only) / sizeof(efi_only[0]);

	for (size_t i = 0; i < n; i++)
		if (rc->rc_have & (1u << recipe_key_bit(wrong[i])))
			return err_set(
				err, IMG_ERR, EINVAL, "%s: %s is not a key of a boot = %s recipe",
				rc->rc_where[recipe_key_bit(wrong[i])], wrong[i], rc->rc_boot);
	if (!efi) {
		if (rc->rc_n_packages > 0)
			return err_set(
				err, IMG_ERR, EINVAL,
				"%s: packages: a boot = kernel image installs none (only \"none\")",
				rc->rc_where[recipe_key_bit("packages")]);
		return 0;
	}
	if (!rc->rc_suite[0])
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: a boot = efi recipe needs \"suite\" (the Debian release)",
			       path);
	if (rc->rc_svc_name[0] && !rc->rc_svc_exec[0])
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: service %s needs \"service_exec\" (its command line)",
			       rc->rc_where[recipe_key_bit("service")], rc->rc_svc_name);
	if (!(rc->rc_have & (1u << recipe_key_bit("swap_mib"))))
		rc->rc_swap_mib = 64;
	if (!(rc->rc_have & (1u << recipe_key_bit("scap_floor"))))
		rc->rc_scap_floor = -1;
	if ((rc->rc_scap_floor >= 0 || rc->rc_scap_tailoring[0]) && rc->rc_n_scap_profiles == 0)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: scap_floor and scap_tailoring need \"scap_profiles\"", path);
	return 0;
}

int recipe_parse(const char *path, struct recipe *rc, struct dock_err *err)
{
	static const char *const svc_keys[] = { "service_user", "service_group", "service_ports",
						"service_writable", "service_readonly" };
	int r;

	memset(rc, 0, sizeof(*rc));
	if ((r = recipe_parse_file(path, rc, err)) < 0)
		return r;
	for (size_t i = 0; i < RECIPE_N_KEYS; i++)
		if (recipe_keys[i].rk_required && !(rc->rc_have & (1u << i)))
			return err_set(err, IMG_ERR, EINVAL, "%s: missing key \"%s\"", path,
				       recipe_keys[i].rk_name);
	/* An image named like its base would replace the base's image. */
	if (rc->rc_base[0] && !(rc->rc_seen & (1u << recipe_key_bit("name"))))
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: a recipe with a base must set its own name", path);
	if (rc->rc_base[0] && strcmp(rc->rc_base, rc->rc_name) == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: name \"%s\" is the base's name", path,
			       rc->rc_name);
	for (size_t i = 0; i < sizeof(svc_keys) / sizeof(svc_keys[0]); i++) {
		bool have = rc->rc_have & (1u << recipe_key_bit(svc_keys[i]));

		if (have && !rc->rc_svc_name[0])
			return err_set(err, IMG_ERR, EINVAL, "%s: %s without a \"service\" key",
				       rc->rc_where[recipe_key_bit(svc_keys[i])], svc_keys[i]);
		if (!have && rc->rc_svc_name[0] && i < 3)
			return err_set(err, IMG_ERR, EINVAL, "%s: service %s needs \"%s\"",
				       rc->rc_where[recipe_key_bit("service")], rc->rc_svc_name,
				       svc_keys[i]);
	}
	if ((r = recipe_check_boot(path, rc, err)) < 0)
		return r;
	for (size_t i = 0; i < rc->rc_svc_n_writable; i++)
		for (size_t j = 0; j < rc->rc_svc_n_readonly; j++)
			if (strcmp(rc->rc_svc_writable[i], rc->rc_svc_readonly[j]) == 0)
				return err_set(err, IMG_ERR, EINVAL,
					       "%s: %s is both writable and read-only (%s)",
					       rc->rc_where[recipe_key_bit("service_writable")],
					       rc->rc_svc_writable[i],
					       rc->rc_where[recipe_key_bit("service_readonly")]);
	return 0;
}

/* A bare name is looked up next to this binary (../images/recipes: the
 * build tree; ../lib/isc/images/recipes: an installed tree, `make install`;
 * ../share/isc/images/recipes: one installed before issue 19), then in
 * ./images/recipes. */
int recipe_find(const char *arg, const char *exe_dir, char *path, size_t size, struct dock_err *err)
{
	const char *const rel[] = { "../images/recipes", "../lib/isc/images/recipes",
				    "../share/isc/images/recipes", "images/recipes" };
	const size_t n_next = 3; /* the first three are next to the binary */

	if (strchr(arg, '/')) {
		if (snprintf(path, size, "%s", arg) >= (int)size)
			return err_set(err, IMG_ERR, ENAMETOOLONG, "recipe path too long");
		return 0;
	}
	if (!recipe_name_valid(arg))
		return err_set(err, IMG_ERR, EINVAL,
			       "recipe \"%s\": not a recipe name (or give a path)", arg);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int n = i < n_next ? snprintf(path, size, "%s/%s/%s", exe_dir, rel[i], arg)
				   : snprintf(path, size, "%s/%s", rel[i], arg);

		if (n > 0 && (size_t)n < size && access(path, R_OK) == 0) {
			char real[PATH_MAX];

			/* Messages then name the file as a person would find it. */
			if (realpath(path, real) && strlen(real) < size)
				memcpy(path, real, strlen(real) + 1);
			return 0;
		}
	}
	return err_set(
		err, IMG_ERR, ENOENT,
		"recipe \"%s\" not found in %s/../images/recipes, %s/../lib/isc/images/recipes or ./images/recipes",
		arg, exe_dir, exe_dir);
}
