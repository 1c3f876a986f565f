/*
 * isc-image: builds ISC images from recipes (images/recipes/) and lists the
 * built ones. Today: the micro image, i.e. the host's Debian cloud kernel
 * for direct boot, a busybox initramfs, and a read-only ext4 root with
 * busybox and isc-agent. External tools (mke2fs, qemu-img, gzip, busybox)
 * run through posix_spawnp, never through a shell.
 *
 * A recipe may extend another ("base = micro", then its own name and a
 * root_overlay whose files replace the base's) and declares the service the
 * image runs (service, service_user, ...), which goes into manifest.json as
 * the policy the dock judges the node against.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "debian.h"
#include "export.h"
#include "imgio.h"
#include "pack.h"
#include "recipe.h"
#include "sha256.h"

extern char **environ;

#define PASSWD_MAX_BYTES  (64 * 1024)
/* modules.dep of a distribution kernel: ~4000 lines, ~500 KiB. */
#define MODDEP_MAX_BYTES  (16 * 1024 * 1024)
#define MODDEP_MAX_ENTRIES 32768
#define MODDEP_MAX_DEPTH  32
#define MODLOAD_MAX       128  /* modules in the initramfs, dependencies included */
/* Overlay trees (images/micro/...) copied into initramfs and root. */
#define CPIO_MAX_DIRS     1024
#define MANIFEST_MAX_BYTES (512 * 1024) /* as the dock: dockd/image.h IMAGE_MANIFEST_MAX */
#define MANIFEST_MAX_DEPTH 8

#define BOOT_DIR     "/boot"
#define MODULES_DIR  "/lib/modules"
#define KERNEL_FLAVOUR "-cloud-amd64"
#define BUSYBOX_PATH "/bin/busybox"
#define DEFAULT_OUT  "build/images"

/* --- recipes ---------------------------------------------------------------- */


static int name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > IMG_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

static int recipe_set_format(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	(void)rc;
	if (strcmp(v, "1") != 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: format \"%s\" is not supported (this isc-image reads format %d)", where, v,
				RECIPE_FORMAT);
	return 0;
}

static int recipe_set_name(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (!name_valid(v))
		return err_set(err, IMG_ERR, EINVAL, "%s: name \"%s\" must be [a-z][a-z0-9-]*, at most %d characters", where, v,
				IMG_NAME_MAX);
	snprintf(rc->rc_name, sizeof(rc->rc_name), "%s", v);
	return 0;
}

static int recipe_set_boot(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (strcmp(v, "kernel") != 0 && strcmp(v, "efi") != 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: boot \"%s\" is not supported (\"kernel\": direct kernel boot of a busybox "
				"image; \"efi\": a Debian golden image booted through UEFI)", where, v);
	snprintf(rc->rc_boot, sizeof(rc->rc_boot), "%s", v);
	return 0;
}

static int recipe_set_cmdline(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (strlen(v) > IMG_CMDLINE_MAX)
		return err_set(err, IMG_ERR, E2BIG, "%s: cmdline longer than %d characters", where, IMG_CMDLINE_MAX);
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return err_set(err, IMG_ERR, EINVAL, "%s: cmdline may only hold printable ASCII without quotes or backslashes",
					where);
	snprintf(rc->rc_cmdline, sizeof(rc->rc_cmdline), "%s", v);
	return 0;
}

static int recipe_set_modules(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	rc->rc_n_modules = 0; /* a recipe's list replaces its base's */
	snprintf(rc->rc_modules_where, sizeof(rc->rc_modules_where), "%s", where);
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *m = strtok_r(buf, " \t", &save); m; m = strtok_r(NULL, " \t", &save)) {
		if (strlen(m) > IMG_MODNAME_MAX || strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(m))
			return err_set(err, IMG_ERR, EINVAL, "%s: \"%s\" is not a kernel module name", where, m);
		if (rc->rc_n_modules == RECIPE_MAX_MODULES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d modules", where, RECIPE_MAX_MODULES);
		snprintf(rc->rc_modules[rc->rc_n_modules++], IMG_MODNAME_MAX + 1, "%s", m);
	}
	return 0;
}

/* Debian package names (policy 5.6.1): [a-z0-9][a-z0-9+.-]+. */
static bool package_name_valid(const char *p)
{
	size_t n = strlen(p);

	return n >= 2 && n <= RECIPE_PACKAGE_MAX && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')) &&
	       strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == n;
}

static int recipe_set_packages(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	rc->rc_n_packages = 0; /* a recipe's list replaces its base's */
	if (strcmp(v, "none") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (!package_name_valid(p))
			return err_set(err, IMG_ERR, EINVAL, "%s: \"%.64s\" is not a Debian package name", where, p);
		if (rc->rc_n_packages == RECIPE_MAX_PACKAGES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d packages", where, RECIPE_MAX_PACKAGES);
		snprintf(rc->rc_packages[rc->rc_n_packages++], RECIPE_PACKAGE_MAX + 1, "%s", p);
	}
	return 0;
}

static int recipe_set_suite(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (strlen(v) == 0 || strlen(v) >= sizeof(rc->rc_suite) || strspn(v, "abcdefghijklmnopqrstuvwxyz-") != strlen(v))
		return err_set(err, IMG_ERR, EINVAL, "%s: suite \"%.64s\" is not a Debian suite name (bookworm, say)", where, v);
	snprintf(rc->rc_suite, sizeof(rc->rc_suite), "%s", v);
	return 0;
}

static int recipe_set_mirror(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0 && strncmp(v, "file:///", 8) != 0) ||
	    strlen(v) > RECIPE_MIRROR_MAX || strpbrk(v, " \t\"'\\") != NULL)
		return err_set(err, IMG_ERR, EINVAL, "%s: mirror \"%.64s\" must be an http://, https:// or file:/// URL of at most %d "
				"characters", where, v, RECIPE_MIRROR_MAX);
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

static int recipe_set_swap_mib(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > RECIPE_SWAP_MAX)
		return err_set(err, IMG_ERR, EINVAL, "%s: swap_mib \"%.32s\" must be 0..%d", where, v, RECIPE_SWAP_MAX);
	rc->rc_swap_mib = (unsigned)n;
	return 0;
}

static int recipe_set_dir(const struct recipe *rc, char *dst, const char *v, const char *where, struct dock_err *err)
{
	struct stat st;
	int n;

	n = v[0] == '/' ? snprintf(dst, PATH_MAX, "%s", v) : snprintf(dst, PATH_MAX, "%s/%s", rc->rc_dir, v);
	if (n < 0 || n >= PATH_MAX)
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", where);
	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, IMG_ERR, ENOTDIR, "%s: %s is not a directory", where, dst);
	return 0;
}

static int recipe_set_initrd_files(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_initrd_files, v, where, err);
}

static int recipe_set_root_files(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_root_files, v, where, err);
}

static int recipe_set_root_overlay(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_dir(rc, rc->rc_root_overlay, v, where, err);
}

static int recipe_parse_file(const char *path, struct recipe *rc, struct dock_err *err);

/*
 * "base = NAME": read the recipe NAME (next to this one) first; this file's
 * keys then replace the base's. It must come before every key but format,
 * so that reading order is overriding order.
 */
static int recipe_set_base(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	char path[PATH_MAX], saved_path[PATH_MAX], saved_dir[PATH_MAX];
	unsigned saved_seen = rc->rc_seen;
	int n, r;

	if (rc->rc_nest >= RECIPE_MAX_NEST)
		return err_set(err, IMG_ERR, ELOOP, "%s: a base recipe cannot have a base itself (one level only)", where);
	if (rc->rc_seen & ~3u) /* bits 0 and 1: format and base (recipe_keys[] order) */
		return err_set(err, IMG_ERR, EINVAL, "%s: base must come before every key but format", where);
	if (!name_valid(v))
		return err_set(err, IMG_ERR, EINVAL, "%s: base \"%s\" is not a recipe name", where, v);
	n = snprintf(path, sizeof(path), "%s/%s", rc->rc_dir, v);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", where);
	if (access(path, R_OK) < 0)
		return err_set(err, IMG_ERR, errno, "%s: base recipe %s: %s", where, path, strerror(errno));
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

static int recipe_set_service(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (!svc_word_valid(v, SVC_NAME_MAX, true))
		return err_set(err, IMG_ERR, EINVAL, "%s: service \"%.64s\" must be a process name, [a-z][a-z0-9_-]*, at most %d characters",
				where, v, SVC_NAME_MAX);
	snprintf(rc->rc_svc_name, sizeof(rc->rc_svc_name), "%s", v);
	return 0;
}

static int recipe_set_svc_id(char *dst, const char *key, const char *v, const char *where, struct dock_err *err)
{
	if (!svc_word_valid(v, SVC_ID_MAX, true))
		return err_set(err, IMG_ERR, EINVAL, "%s: %s \"%.64s\" must be [a-z_][a-z0-9_-]*, at most %d characters", where, key,
				v, SVC_ID_MAX);
	snprintf(dst, SVC_ID_MAX + 1, "%s", v);
	return 0;
}

static int recipe_set_service_user(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_svc_id(rc->rc_svc_user, "service_user", v, where, err);
}

static int recipe_set_service_group(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_svc_id(rc->rc_svc_group, "service_group", v, where, err);
}

/* "PORT/tcp" or "PORT/udp", PORT 1..65535 without leading zeros; "none" for no port. */
static int recipe_set_service_ports(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
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
			return err_set(err, IMG_ERR, EINVAL, "%s: service_ports: \"%.32s\" is not PORT/tcp or PORT/udp (PORT 1-65535)",
					where, p);
		for (size_t i = 0; i < rc->rc_svc_n_ports; i++)
			if (strcmp(rc->rc_svc_ports[i], p) == 0)
				return err_set(err, IMG_ERR, EINVAL, "%s: service_ports: %s given twice", where, p);
		if (rc->rc_svc_n_ports == SVC_MAX_PORTS)
			return err_set(err, IMG_ERR, E2BIG, "%s: service_ports: more than %d ports", where, SVC_MAX_PORTS);
		snprintf(rc->rc_svc_ports[rc->rc_svc_n_ports++], SVC_PORT_MAX + 1, "%s", p);
	}
	if (rc->rc_svc_n_ports == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: service_ports: give ports, or \"none\"", where);
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

static int recipe_set_svc_paths(char (*list)[SVC_PATH_MAX + 1], size_t *n, const char *key, const char *v,
				const char *where, struct dock_err *err)
{
	char buf[RECIPE_LINE_MAX + 1], *save = NULL;

	*n = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (!svc_path_valid(p))
			return err_set(err, IMG_ERR, EINVAL, "%s: %s: \"%.64s\" must be an absolute path without \"//\", \".\", \"..\" or a trailing '/', of [A-Za-z0-9._/-], at most %d characters",
					where, key, p, SVC_PATH_MAX);
		for (size_t i = 0; i < *n; i++)
			if (strcmp(list[i], p) == 0)
				return err_set(err, IMG_ERR, EINVAL, "%s: %s: %s given twice", where, key, p);
		if (*n == SVC_MAX_PATHS)
			return err_set(err, IMG_ERR, E2BIG, "%s: %s: more than %d paths", where, key, SVC_MAX_PATHS);
		snprintf(list[(*n)++], SVC_PATH_MAX + 1, "%s", p);
	}
	if (*n == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: %s: give paths, or \"none\"", where, key);
	return 0;
}

static int recipe_set_service_writable(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_svc_paths(rc->rc_svc_writable, &rc->rc_svc_n_writable, "service_writable", v, where, err);
}

static int recipe_set_service_readonly(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	return recipe_set_svc_paths(rc->rc_svc_readonly, &rc->rc_svc_n_readonly, "service_readonly", v, where, err);
}

/* The service's command line in its systemd unit: printable ASCII, no
 * newline, an absolute program path first. */
static int recipe_set_service_exec(struct recipe *rc, const char *v, const char *where, struct dock_err *err)
{
	if (v[0] != '/' || strlen(v) > SVC_EXEC_MAX)
		return err_set(err, IMG_ERR, EINVAL, "%s: service_exec must start with an absolute path and be at most %d characters",
				where, SVC_EXEC_MAX);
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\' || *p == '%')
			return err_set(err, IMG_ERR, EINVAL, "%s: service_exec may only hold printable ASCII without '\\' or '%%'", where);
	snprintf(rc->rc_svc_exec, sizeof(rc->rc_svc_exec), "%s", v);
	return 0;
}

static const struct recipe_key {
	const char *rk_name;
	bool rk_required;
	int (*rk_set)(struct recipe *rc, const char *value, const char *where, struct dock_err *err);
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
};
#define RECIPE_N_KEYS (sizeof(recipe_keys) / sizeof(recipe_keys[0]))
_Static_assert(RECIPE_N_KEYS <= RECIPE_MAX_KEYS, "recipe_keys[] outgrew rc_seen");

static char *str_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int recipe_line(struct recipe *rc, char *line, const char *where, struct dock_err *err)
{
	char *eq, *key, *value;

	line = str_trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return err_set(err, IMG_ERR, EINVAL, "%s: expected \"key = value\"", where);
	*eq = '\0';
	key = str_trim(line);
	value = str_trim(eq + 1);
	for (size_t i = 0; i < RECIPE_N_KEYS; i++) {
		if (strcmp(key, recipe_keys[i].rk_name) != 0)
			continue;
		if (rc->rc_seen & (1u << i))
			return err_set(err, IMG_ERR, EINVAL, "%s: key \"%s\" given twice", where, key);
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
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d lines", path, RECIPE_MAX_LINES);
		if (strlen(line) > RECIPE_LINE_MAX)
			return err_set(err, IMG_ERR, E2BIG, "%s: line longer than %d bytes", where, RECIPE_LINE_MAX);
		if ((r = recipe_line(rc, line, where, err)) < 0)
			return r;
	}
	return 0;
}

/* Index of a key in recipe_keys[]; callers pass names from that table. */
static size_t recipe_key_bit(const char *name)
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
	static const char *const efi_only[] = { "suite", "mirror", "ssh", "swap_mib", "service_exec" };
	bool efi = strcmp(rc->rc_boot, "efi") == 0;
	const char *const *wrong = efi ? kernel_only : efi_only;
	size_t n = efi ? sizeof(kernel_only) / sizeof(kernel_only[0]) : sizeof(efi_only) / sizeof(efi_only[0]);

	for (size_t i = 0; i < n; i++)
		if (rc->rc_have & (1u << recipe_key_bit(wrong[i])))
			return err_set(err, IMG_ERR, EINVAL, "%s: %s is not a key of a boot = %s recipe", rc->rc_where[recipe_key_bit(wrong[i])],
					wrong[i], rc->rc_boot);
	if (!efi) {
		if (rc->rc_n_packages > 0)
			return err_set(err, IMG_ERR, EINVAL, "%s: packages: a boot = kernel image installs none (only \"none\")",
					rc->rc_where[recipe_key_bit("packages")]);
		return 0;
	}
	if (!rc->rc_suite[0])
		return err_set(err, IMG_ERR, EINVAL, "%s: a boot = efi recipe needs \"suite\" (the Debian release)", path);
	if (rc->rc_svc_name[0] && !rc->rc_svc_exec[0])
		return err_set(err, IMG_ERR, EINVAL, "%s: service %s needs \"service_exec\" (its command line)",
				rc->rc_where[recipe_key_bit("service")], rc->rc_svc_name);
	if (!(rc->rc_have & (1u << recipe_key_bit("swap_mib"))))
		rc->rc_swap_mib = 64;
	return 0;
}

static int recipe_parse(const char *path, struct recipe *rc, struct dock_err *err)
{
	static const char *const svc_keys[] = { "service_user", "service_group", "service_ports",
						"service_writable", "service_readonly" };
	int r;

	memset(rc, 0, sizeof(*rc));
	if ((r = recipe_parse_file(path, rc, err)) < 0)
		return r;
	for (size_t i = 0; i < RECIPE_N_KEYS; i++)
		if (recipe_keys[i].rk_required && !(rc->rc_have & (1u << i)))
			return err_set(err, IMG_ERR, EINVAL, "%s: missing key \"%s\"", path, recipe_keys[i].rk_name);
	/* An image named like its base would replace the base's image. */
	if (rc->rc_base[0] && !(rc->rc_seen & (1u << recipe_key_bit("name"))))
		return err_set(err, IMG_ERR, EINVAL, "%s: a recipe with a base must set its own name", path);
	if (rc->rc_base[0] && strcmp(rc->rc_base, rc->rc_name) == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: name \"%s\" is the base's name", path, rc->rc_name);
	for (size_t i = 0; i < sizeof(svc_keys) / sizeof(svc_keys[0]); i++) {
		bool have = rc->rc_have & (1u << recipe_key_bit(svc_keys[i]));

		if (have && !rc->rc_svc_name[0])
			return err_set(err, IMG_ERR, EINVAL, "%s: %s without a \"service\" key",
					rc->rc_where[recipe_key_bit(svc_keys[i])], svc_keys[i]);
		if (!have && rc->rc_svc_name[0] && i < 3)
			return err_set(err, IMG_ERR, EINVAL, "%s: service %s needs \"%s\"", rc->rc_where[recipe_key_bit("service")],
					rc->rc_svc_name, svc_keys[i]);
	}
	if ((r = recipe_check_boot(path, rc, err)) < 0)
		return r;
	for (size_t i = 0; i < rc->rc_svc_n_writable; i++)
		for (size_t j = 0; j < rc->rc_svc_n_readonly; j++)
			if (strcmp(rc->rc_svc_writable[i], rc->rc_svc_readonly[j]) == 0)
				return err_set(err, IMG_ERR, EINVAL, "%s: %s is both writable and read-only (%s)",
						rc->rc_where[recipe_key_bit("service_writable")], rc->rc_svc_writable[i],
						rc->rc_where[recipe_key_bit("service_readonly")]);
	return 0;
}

/* A bare name is looked up next to this binary (../images/recipes: the
 * build tree; ../share/isc/images/recipes: an installed tree), then in
 * ./images/recipes. */
static int recipe_find(const char *arg, const char *exe_dir, char *path, size_t size, struct dock_err *err)
{
	const char *const rel[] = { "../images/recipes", "../share/isc/images/recipes",
				    "images/recipes" };

	if (strchr(arg, '/')) {
		if (snprintf(path, size, "%s", arg) >= (int)size)
			return err_set(err, IMG_ERR, ENAMETOOLONG, "recipe path too long");
		return 0;
	}
	if (!name_valid(arg))
		return err_set(err, IMG_ERR, EINVAL, "recipe \"%s\": not a recipe name (or give a path)", arg);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int n = i < 2 ? snprintf(path, size, "%s/%s/%s", exe_dir, rel[i], arg)
			       : snprintf(path, size, "%s/%s", rel[i], arg);

		if (n > 0 && (size_t)n < size && access(path, R_OK) == 0) {
			char real[PATH_MAX];

			/* Messages then name the file as a person would find it. */
			if (realpath(path, real) && strlen(real) < size)
				memcpy(path, real, strlen(real) + 1);
			return 0;
		}
	}
	return err_set(err, IMG_ERR, ENOENT, "recipe \"%s\" not found in %s/../images/recipes, %s/../share/isc/images/recipes or ./images/recipes",
			arg, exe_dir, exe_dir);
}

/* --- kernel and modules ------------------------------------------------------ */

static int kernel_pick(const char *want, char *ver, size_t size, struct dock_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PATH_MAX];
	struct dirent *de;

	if (want) {
		snprintf(path, sizeof(path), BOOT_DIR "/vmlinuz-%s", want);
		if (strchr(want, '/') || strlen(want) >= size || access(path, R_OK) < 0)
			return err_set(err, IMG_ERR, ENOENT, "kernel %s: %s not readable", want, path);
		snprintf(path, sizeof(path), MODULES_DIR "/%s/modules.dep", want);
		if (access(path, R_OK) < 0)
			return err_set(err, IMG_ERR, ENOENT, "kernel %s: %s not readable (modules not installed?)", want, path);
		snprintf(ver, size, "%s", want);
		return 0;
	}
	d = opendir(BOOT_DIR);
	if (!d)
		return err_set(err, IMG_ERR, errno, BOOT_DIR ": %s", strerror(errno));
	ver[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		const char *v = de->d_name + strlen("vmlinuz-");
		size_t vl;

		if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
			continue;
		vl = strlen(v);
		if (vl <= strlen(KERNEL_FLAVOUR) || vl >= size ||
		    strcmp(v + vl - strlen(KERNEL_FLAVOUR), KERNEL_FLAVOUR) != 0)
			continue;
		snprintf(path, sizeof(path), MODULES_DIR "/%s/modules.dep", v);
		if (access(path, R_OK) < 0)
			continue;
		if (ver[0] == '\0' || strverscmp(v, ver) > 0)
			snprintf(ver, size, "%s", v);
	}
	if (ver[0] == '\0')
		return err_set(err, IMG_ERR, ENOENT, "no " BOOT_DIR "/vmlinuz-*" KERNEL_FLAVOUR " with modules in " MODULES_DIR
			       " (install linux-image-cloud-amd64)");
	return 0;
}

struct moddep_entry {
	char *me_path;          /* relative to /lib/modules/<ver> */
	char *me_deps;          /* space-separated paths, as in modules.dep */
	char me_name[IMG_MODNAME_MAX + 1];
	enum { ME_NEW, ME_VISITING, ME_DONE } me_mark;
};

struct moddep {
	char *md_buf;
	struct moddep_entry *md_entries;
	size_t md_n;
	size_t md_order[MODLOAD_MAX];  /* load order, dependencies first */
	size_t md_n_order;
};

static void moddep_free(struct moddep *md)
{
	free(md->md_buf);
	free(md->md_entries);
	memset(md, 0, sizeof(*md));
}

/* kernel/drivers/net/virtio_net.ko -> virtio_net ('-' as '_', like modprobe) */
static void moddep_name(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strcspn(base, ".");
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[n] = '\0';
}

static int moddep_load(const char *ver, struct moddep *md, struct dock_err *err)
{
	char path[PATH_MAX];
	size_t len, lineno = 0;
	int r;

	snprintf(path, sizeof(path), MODULES_DIR "/%s/modules.dep", ver);
	if ((r = file_read_all(path, MODDEP_MAX_BYTES, &md->md_buf, &len, err)) < 0)
		return r;
	md->md_entries = calloc(MODDEP_MAX_ENTRIES, sizeof(*md->md_entries));
	if (!md->md_entries)
		return err_set(err, IMG_ERR, ENOMEM, "%s: out of memory", path);
	for (char *line = md->md_buf, *next; line < md->md_buf + len; line = next) {
		char *nl = strchr(line, '\n'), *colon;
		struct moddep_entry *e;

		next = nl ? nl + 1 : md->md_buf + len;
		if (nl)
			*nl = '\0';
		lineno++;
		if (line[0] == '\0')
			continue;
		colon = strchr(line, ':');
		if (!colon)
			return err_set(err, IMG_ERR, EINVAL, "%s:%zu: no ':'", path, lineno);
		if (md->md_n == MODDEP_MAX_ENTRIES)
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d modules", path, MODDEP_MAX_ENTRIES);
		*colon = '\0';
		e = &md->md_entries[md->md_n++];
		e->me_path = line;
		e->me_deps = colon + 1;
		moddep_name(line, e->me_name, sizeof(e->me_name));
	}
	return 0;
}

static struct moddep_entry *moddep_find(struct moddep *md, const char *name, bool by_path)
{
	char want[IMG_MODNAME_MAX + 1];

	if (!by_path)
		moddep_name(name, want, sizeof(want));
	for (size_t i = 0; i < md->md_n; i++)
		if (strcmp(by_path ? md->md_entries[i].me_path : md->md_entries[i].me_name, by_path ? name : want) == 0)
			return &md->md_entries[i];
	return NULL;
}

/* Depth-first, dependencies before dependents; cycles and runaway depth are errors. */
static int moddep_visit(struct moddep *md, struct moddep_entry *e, int depth, struct dock_err *err)
{
	char *save = NULL;
	int r;

	if (e->me_mark == ME_DONE)
		return 0;
	if (e->me_mark == ME_VISITING)
		return err_set(err, IMG_ERR, ELOOP, "modules.dep: dependency cycle through %s", e->me_name);
	if (depth > MODDEP_MAX_DEPTH)
		return err_set(err, IMG_ERR, ELOOP, "modules.dep: dependencies nested deeper than %d at %s", MODDEP_MAX_DEPTH,
				e->me_name);
	e->me_mark = ME_VISITING;
	for (char *dep = strtok_r(e->me_deps, " \t", &save); dep; dep = strtok_r(NULL, " \t", &save)) {
		struct moddep_entry *d = moddep_find(md, dep, true);

		if (!d)
			return err_set(err, IMG_ERR, ENOENT, "modules.dep: %s needs %s, which has no entry", e->me_name, dep);
		if ((r = moddep_visit(md, d, depth + 1, err)) < 0)
			return r;
	}
	e->me_mark = ME_DONE;
	if (md->md_n_order == MODLOAD_MAX)
		return err_set(err, IMG_ERR, E2BIG, "more than %d modules with dependencies", MODLOAD_MAX);
	md->md_order[md->md_n_order++] = (size_t)(e - md->md_entries);
	return 0;
}

static int moddep_resolve(const struct recipe *rc, const char *ver, struct moddep *md, struct dock_err *err)
{
	int r;

	if ((r = moddep_load(ver, md, err)) < 0)
		return r;
	for (size_t i = 0; i < rc->rc_n_modules; i++) {
		struct moddep_entry *e = moddep_find(md, rc->rc_modules[i], false);

		if (!e)
			return err_set(err, IMG_ERR, ENOENT, "%s: module %s is not in kernel %s (built in? then drop it)",
					rc->rc_modules_where, rc->rc_modules[i], ver);
		if ((r = moddep_visit(md, e, 0, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < md->md_n_order; i++) {
		const char *p = md->md_entries[md->md_order[i]].me_path;
		size_t l = strlen(p);

		if (l < 3 || strcmp(p + l - 3, ".ko") != 0)
			return err_set(err, IMG_ERR, ENOTSUP, "module %s is compressed; busybox insmod needs plain .ko files", p);
	}
	return 0;
}

/* --- busybox -------------------------------------------------------------------- */

struct applets {
	char *ap_buf;
	char *ap_list[1024];    /* "bin/ls", "sbin/init", ... */
	size_t ap_n;
};

/* Ask the static busybox which applets it has and where they belong. */
static int applets_load(const char *tmp, struct applets *ap, struct dock_err *err)
{
	char list[PATH_MAX], *argv[] = { BUSYBOX_PATH, "--list-full", NULL };
	size_t len;
	int r, fd;

	if ((r = elf_check_static(BUSYBOX_PATH, "busybox", err)) < 0)
		return r;
	if ((r = path_join(list, sizeof(list), tmp, "busybox.list", err)) < 0)
		return r;
	if ((fd = file_create(list, 0644, err)) < 0)
		return fd;
	r = tool_run(argv, fd, err);
	close(fd);
	if (r == 0)
		r = file_read_all(list, 64 * 1024, &ap->ap_buf, &len, err);
	unlink(list);
	if (r < 0)
		return r;
	for (char *save = NULL, *a = strtok_r(ap->ap_buf, "\n", &save); a; a = strtok_r(NULL, "\n", &save)) {
		if (strchr(a, '/') == NULL)
			continue; /* "linuxrc" at the top: not wanted */
		if (a[0] == '/' || strstr(a, "..") ||
		    strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_-.[/") != strlen(a))
			return err_set(err, IMG_ERR, EINVAL, "busybox --list-full: unexpected entry \"%.64s\"", a);
		if (strcmp(a, &BUSYBOX_PATH[1]) == 0)
			continue;
		if (ap->ap_n == sizeof(ap->ap_list) / sizeof(ap->ap_list[0]))
			return err_set(err, IMG_ERR, E2BIG, "busybox --list-full: too many applets");
		ap->ap_list[ap->ap_n++] = a;
	}
	if (ap->ap_n == 0)
		return err_set(err, IMG_ERR, EINVAL, "busybox --list-full listed no applets");
	return 0;
}

/* --- cpio (newc) writer for the initramfs --------------------------------------------- */

struct cpio {
	FILE *cp_f;
	const char *cp_path;
	uint32_t cp_ino;
	uint32_t cp_mtime;
	char *cp_dirs[CPIO_MAX_DIRS];   /* directories already written */
	size_t cp_n_dirs;
	int cp_err;                     /* first write error */
};

static void cpio_pad(struct cpio *c)
{
	long pos = ftell(c->cp_f);

	while (pos > 0 && pos % 4) {
		fputc(0, c->cp_f);
		pos++;
	}
}

static int cpio_header(struct cpio *c, const char *name, uint32_t mode, uint32_t size, uint32_t rmaj, uint32_t rmin, struct dock_err *err)
{
	size_t nl = strlen(name) + 1;

	fprintf(c->cp_f, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", ++c->cp_ino, mode, 0, 0,
		S_ISDIR(mode) ? 2u : 1u, c->cp_mtime, size, 0, 0, rmaj, rmin, nl, 0);
	fwrite(name, 1, nl, c->cp_f);
	cpio_pad(c);
	if (ferror(c->cp_f))
		return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
	return 0;
}

static int cpio_data(struct cpio *c, const void *data, size_t len, struct dock_err *err)
{
	if (len && fwrite(data, 1, len, c->cp_f) != len)
		return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
	cpio_pad(c);
	return 0;
}

static int cpio_dir(struct cpio *c, const char *name, struct dock_err *err)
{
	for (size_t i = 0; i < c->cp_n_dirs; i++)
		if (strcmp(c->cp_dirs[i], name) == 0)
			return 0;
	if (c->cp_n_dirs == CPIO_MAX_DIRS)
		return err_set(err, IMG_ERR, E2BIG, "initramfs: more than %d directories", CPIO_MAX_DIRS);
	if (!(c->cp_dirs[c->cp_n_dirs] = strdup(name)))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	c->cp_n_dirs++;
	return cpio_header(c, name, S_IFDIR | 0755, 0, 0, 0, err);
}

/* The kernel's unpacker does not create missing parents: write them first. */
static int cpio_parents(struct cpio *c, const char *name, struct dock_err *err)
{
	char buf[PATH_MAX];
	int r;

	snprintf(buf, sizeof(buf), "%s", name);
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if ((r = cpio_dir(c, buf, err)) < 0)
			return r;
		*p = '/';
	}
	return 0;
}

static int cpio_symlink(struct cpio *c, const char *name, const char *target, struct dock_err *err)
{
	int r;

	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFLNK | 0777, (uint32_t)strlen(target), 0, 0, err)) < 0)
		return r;
	return cpio_data(c, target, strlen(target), err);
}

static int cpio_text(struct cpio *c, const char *name, const char *text, struct dock_err *err)
{
	int r;

	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFREG | 0644, (uint32_t)strlen(text), 0, 0, err)) < 0)
		return r;
	return cpio_data(c, text, strlen(text), err);
}

static int cpio_file(struct cpio *c, const char *name, const char *src, uint32_t perm, struct dock_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char buf[65536];
	int r;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > UINT32_MAX)
		return err_set(err, IMG_ERR, EINVAL, "%s: not a regular file under 4 GiB", src);
	if ((r = cpio_parents(c, name, err)) < 0 ||
	    (r = cpio_header(c, name, S_IFREG | perm, (uint32_t)st.st_size, 0, 0, err)) < 0)
		return r;
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, IMG_ERR, n < 0 ? errno : EIO, "%s: %s", src, n < 0 ? strerror(errno) : "file shrank");
		if (n > left)
			n = (ssize_t)left;
		if (fwrite(buf, 1, (size_t)n, c->cp_f) != (size_t)n)
			return err_set(err, IMG_ERR, EIO, "%s: write error", c->cp_path);
		left -= n;
	}
	cpio_pad(c);
	return 0;
}

static int cpio_tree_entry(void *ctx, const char *rel, const char *src, const struct stat *st, struct dock_err *err)
{
	struct cpio *c = ctx;
	char target[PATH_MAX];
	ssize_t n;

	if (S_ISDIR(st->st_mode))
		return cpio_parents(c, rel, err) < 0 ? -EIO : cpio_dir(c, rel, err);
	if (S_ISREG(st->st_mode))
		return cpio_file(c, rel, src, tree_mode(st), err);
	n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	target[n] = '\0';
	return cpio_symlink(c, rel, target, err);
}

static void cpio_free(struct cpio *c)
{
	for (size_t i = 0; i < c->cp_n_dirs; i++)
		free(c->cp_dirs[i]);
	if (c->cp_f)
		fclose(c->cp_f);
	c->cp_f = NULL;
}

/* --- the build ------------------------------------------------------------------------ */

struct build {
	struct recipe bd_rc;
	char bd_kver[128];
	char bd_agent[PATH_MAX];
	char bd_out[PATH_MAX];
	char bd_tmp[PATH_MAX];         /* out/.NAME.build-XXXXXX until committed */
	char bd_final[PATH_MAX];       /* out/NAME */
	time_t bd_time;                /* SOURCE_DATE_EPOCH or now */
	struct moddep bd_mods;
	struct applets bd_applets;
	unsigned long bd_svc_uid, bd_svc_gid; /* of the service user and group, from the image */
	bool bd_efi;                   /* boot = efi: a Debian golden image */
	long long bd_epoch;            /* SOURCE_DATE_EPOCH, or -1 */
	struct debian_info bd_deb;     /* boot = efi: mirror, kernel, packages */
};

static int build_initrd(struct build *b, struct dock_err *err)
{
	struct cpio c = { .cp_mtime = (uint32_t)b->bd_time };
	char cpio_path[PATH_MAX], img_path[PATH_MAX], src[PATH_MAX], name[PATH_MAX], load[8192] = "";
	char *argv[] = { "gzip", "-n", "-9",
			 "-c", cpio_path, NULL };
	size_t count = 0, used = 0;
	int r, fd;

	if ((r = path_join(cpio_path, sizeof(cpio_path), b->bd_tmp, "initrd.cpio", err)) < 0 ||
	    (r = path_join(img_path, sizeof(img_path), b->bd_tmp, "initrd.img", err)) < 0)
		return r;
	if ((fd = file_create(cpio_path, 0644, err)) < 0)
		return fd;
	c.cp_path = cpio_path;
	c.cp_f = fdopen(fd, "w");
	if (!c.cp_f) {
		close(fd);
		return err_set(err, IMG_ERR, errno, "%s: %s", cpio_path, strerror(errno));
	}
	/* Without /dev/console in the archive the kernel starts /init with no stdio. */
	if ((r = cpio_dir(&c, "dev", err)) < 0 || (r = cpio_header(&c, "dev/console", S_IFCHR | 0600, 0, 5, 1, err)) < 0)
		goto out;
	for (const char *const *d = (const char *const[]){ "proc", "sys", "newroot", "etc", NULL }; *d; d++)
		if ((r = cpio_dir(&c, *d, err)) < 0)
			goto out;
	if ((r = cpio_file(&c, "bin/busybox", BUSYBOX_PATH, 0755, err)) < 0)
		goto out;
	for (size_t i = 0; i < b->bd_applets.ap_n; i++)
		if ((r = cpio_symlink(&c, b->bd_applets.ap_list[i], BUSYBOX_PATH, err)) < 0)
			goto out;
	for (size_t i = 0; i < b->bd_mods.md_n_order; i++) {
		const char *p = b->bd_mods.md_entries[b->bd_mods.md_order[i]].me_path;
		int n;

		snprintf(src, sizeof(src), MODULES_DIR "/%s/%s", b->bd_kver, p);
		snprintf(name, sizeof(name), "lib/modules/%s/%s", b->bd_kver, p);
		if ((r = cpio_file(&c, name, src, 0644, err)) < 0)
			goto out;
		n = snprintf(load + used, sizeof(load) - used, "/%s\n", name);
		if (n < 0 || (size_t)n >= sizeof(load) - used) {
			r = err_set(err, IMG_ERR, E2BIG, "initramfs: module list too long");
			goto out;
		}
		used += (size_t)n;
	}
	if ((r = cpio_text(&c, "etc/modules.load", load, err)) < 0)
		goto out;
	if (b->bd_rc.rc_initrd_files[0] &&
	    (r = tree_walk(b->bd_rc.rc_initrd_files, "", 0, &count, cpio_tree_entry, &c, err)) < 0)
		goto out;
	if ((r = cpio_header(&c, "TRAILER!!!", 0, 0, 0, 0, err)) < 0)
		goto out;
	if (fflush(c.cp_f) != 0 || ferror(c.cp_f)) {
		r = err_set(err, IMG_ERR, EIO, "%s: write error", cpio_path);
		goto out;
	}
	cpio_free(&c);
	if ((fd = file_create(img_path, 0644, err)) < 0)
		return fd;
	r = tool_run(argv, fd, err);
	close(fd);
	unlink(cpio_path);
	return r;
out:
	cpio_free(&c);
	return r;
}

/* Staging tree for mke2fs -d. */
struct stage {
	const char *sg_root;
	const char *sg_image;   /* for messages */
	bool sg_replace;        /* an overlay: entries replace what is there */
};

static int stage_tree_entry(void *ctx, const char *rel, const char *src, const struct stat *st, struct dock_err *err)
{
	const struct stage *sg = ctx;
	char dst[PATH_MAX], target[PATH_MAX];
	struct stat old;
	ssize_t n;
	int r;

	if ((r = path_join(dst, sizeof(dst), sg->sg_root, rel, err)) < 0)
		return r;
	if (sg->sg_replace && lstat(dst, &old) == 0) {
		if (S_ISDIR(old.st_mode) != S_ISDIR(st->st_mode))
			return err_set(err, IMG_ERR, EEXIST, "%s: overlay entry %s would replace the %s /%s with a %s", sg->sg_image,
					src, S_ISDIR(old.st_mode) ? "directory" : "file", rel,
					S_ISDIR(st->st_mode) ? "directory" : "file");
		if (!S_ISDIR(old.st_mode)) {
			if (unlink(dst) < 0)
				return err_set(err, IMG_ERR, errno, "%s: %s", dst, strerror(errno));
			img_log("%s: overlay replaces /%s", sg->sg_image, rel);
		}
	}
	if (S_ISDIR(st->st_mode)) {
		/* A directory the tree already has keeps its mode (Debian's /etc/audit is 0750). */
		if (lstat(dst, &old) == 0 && S_ISDIR(old.st_mode))
			return 0;
		return dir_make(dst, 0755, err);
	}
	if (S_ISREG(st->st_mode))
		return file_copy(src, dst, tree_mode(st), err);
	n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s", src, strerror(errno));
	target[n] = '\0';
	if (symlink(target, dst) < 0)
		return err_set(err, IMG_ERR, errno, "%s: symlink: %s", dst, strerror(errno));
	return 0;
}

static int stage_symlink(const char *root, const char *rel, const char *target, struct dock_err *err)
{
	char dst[PATH_MAX], *slash;
	int r;

	if ((r = path_join(dst, sizeof(dst), root, rel, err)) < 0)
		return r;
	slash = strrchr(dst, '/');
	*slash = '\0';
	r = dir_make(dst, 0755, err);
	*slash = '/';
	if (r < 0)
		return r;
	if (symlink(target, dst) < 0 && errno != EEXIST)
		return err_set(err, IMG_ERR, errno, "%s: symlink: %s", dst, strerror(errno));
	return 0;
}

/*
 * The recipe's trees: root_files, then root_overlay replacing what it
 * names. replace_files: root_files may replace too (a Debian tree already
 * holds /etc/fstab and friends).
 */
static int stage_trees(struct build *b, const char *root, bool replace_files, struct dock_err *err)
{
	struct stage sg = { .sg_root = root, .sg_image = b->bd_rc.rc_name, .sg_replace = replace_files };
	size_t count = 0;
	int r;

	if (b->bd_rc.rc_root_files[0] && (r = tree_walk(b->bd_rc.rc_root_files, "", 0, &count, stage_tree_entry, &sg, err)) < 0)
		return r;
	sg.sg_replace = true;
	count = 0;
	if (b->bd_rc.rc_root_overlay[0] &&
	    (r = tree_walk(b->bd_rc.rc_root_overlay, "", 0, &count, stage_tree_entry, &sg, err)) < 0)
		return r;
	return 0;
}

static int stage_root(struct build *b, char *root, struct dock_err *err)
{
	/* Mount points and fixed directories; the root stays read-only at run time. */
	static const char *const dirs[] = { "bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev",
					    "run", "tmp", "scratch", "var" };
	char path[PATH_MAX], hostname[IMG_NAME_MAX + 8];
	int r;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((r = path_join(path, sizeof(path), root, dirs[i], err)) < 0 || (r = dir_make(path, 0755, err)) < 0)
			return r;
	if ((r = path_join(path, sizeof(path), root, "tmp", err)) < 0 || chmod(path, 01777) < 0)
		return r < 0 ? r : err_set(err, IMG_ERR, errno, "%s: chmod: %s", path, strerror(errno));
	if ((r = path_join(path, sizeof(path), root, "bin/busybox", err)) < 0 ||
	    (r = file_copy(BUSYBOX_PATH, path, 0755, err)) < 0)
		return r;
	/* Applet links now: a read-only root cannot run busybox --install at boot. */
	for (size_t i = 0; i < b->bd_applets.ap_n; i++)
		if ((r = stage_symlink(root, b->bd_applets.ap_list[i], BUSYBOX_PATH, err)) < 0)
			return r;
	if ((r = path_join(path, sizeof(path), root, "usr/sbin/isc-agent", err)) < 0 ||
	    (r = file_copy(b->bd_agent, path, 0755, err)) < 0)
		return r;
	snprintf(hostname, sizeof(hostname), "isc-%s\n", b->bd_rc.rc_name);
	if ((r = path_join(path, sizeof(path), root, "etc/hostname", err)) < 0 || (r = file_write(path, hostname, 0644, err)) < 0)
		return r;
	/* udhcpc writes the resolver config to /run: /etc is read-only. */
	if ((r = stage_symlink(root, "etc/resolv.conf", "/run/resolv.conf", err)) < 0)
		return r;
	return stage_trees(b, root, false, err);
}

/*
 * Find NAME in a passwd- or group-format file of the staged root: its third
 * field (the uid or gid) and, when want4 is set, its fourth (passwd: the
 * primary gid). The image's own files are the truth the service runs under,
 * so the manifest takes its numbers from them.
 */
static int stage_lookup_id(const char *root, const char *file, const char *name, const char *where,
			   unsigned long *id, unsigned long *want4, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], *save = NULL;
	size_t len, nl = strlen(name);
	int r;

	if ((r = path_join(path, sizeof(path), root, file, err)) < 0)
		return r;
	if ((r = file_read_all(path, PASSWD_MAX_BYTES, &buf, &len, err)) < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long v[2] = { 0, 0 };
		char *f, *end;

		if (strncmp(line, name, nl) != 0 || line[nl] != ':')
			continue;
		f = strchr(line + nl + 1, ':'); /* the ':' past the password field */
		for (int i = 0; i < (want4 ? 2 : 1); i++) {
			if (!f)
				return err_set(err, IMG_ERR, EINVAL, "%s: /%s: the entry for %s is cut short", where, file, name);
			errno = 0;
			v[i] = strtoul(f + 1, &end, 10);
			if (errno || end == f + 1 || *end != ':' || v[i] >= 65534)
				return err_set(err, IMG_ERR, EINVAL, "%s: /%s: the entry for %s has no usable id (0-65533)", where, file,
						name);
			f = end;
		}
		*id = v[0];
		if (want4)
			*want4 = v[1];
		return 0;
	}
	return err_set(err, IMG_ERR, ENOENT, "%s: %s is not in the image's /%s", where, name, file);
}

/* Check the declared service against the staged root: own ids that exist, paths that exist. */
static int stage_check_service(struct build *b, const char *root, struct dock_err *err)
{
	const struct recipe *rc = &b->bd_rc;
	const char *uwhere = rc->rc_where[recipe_key_bit("service_user")];
	const char *gwhere = rc->rc_where[recipe_key_bit("service_group")];
	unsigned long user_gid;
	int r;

	if (!rc->rc_svc_name[0])
		return 0;
	if ((r = stage_lookup_id(root, "etc/passwd", rc->rc_svc_user, uwhere, &b->bd_svc_uid, &user_gid, err)) < 0 ||
	    (r = stage_lookup_id(root, "etc/group", rc->rc_svc_group, gwhere, &b->bd_svc_gid, NULL, err)) < 0)
		return r;
	if (b->bd_svc_uid == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: service user %s has uid 0; a service runs under its own ids", uwhere,
				rc->rc_svc_user);
	if (b->bd_svc_gid == 0)
		return err_set(err, IMG_ERR, EINVAL, "%s: service group %s has gid 0; a service runs under its own ids", gwhere,
				rc->rc_svc_group);
	if (user_gid != b->bd_svc_gid)
		return err_set(err, IMG_ERR, EINVAL, "%s: service user %s has primary gid %lu in the image, not %s's %lu", gwhere,
				rc->rc_svc_user, user_gid, rc->rc_svc_group, b->bd_svc_gid);
	for (int list = 0; list < 2; list++) {
		size_t n = list ? rc->rc_svc_n_readonly : rc->rc_svc_n_writable;

		for (size_t i = 0; i < n; i++) {
			const char *p = list ? rc->rc_svc_readonly[i] : rc->rc_svc_writable[i];
			char path[PATH_MAX];
			struct stat st;

			if (snprintf(path, sizeof(path), "%s%s", root, p) >= (int)sizeof(path))
				return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", p);
			if (lstat(path, &st) < 0)
				return err_set(err, IMG_ERR, ENOENT, "%s: service path %s does not exist in the image",
						rc->rc_where[recipe_key_bit(list ? "service_readonly" : "service_writable")], p);
		}
	}
	return 0;
}

static uint64_t tree_bytes;

static int tree_size_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	tree_bytes += ((uint64_t)st->st_size + 4095) / 4096 * 4096;
	return 0;
}

static int build_base(struct build *b, struct dock_err *err)
{
	char root[PATH_MAX], raw[PATH_MAX], qcow[PATH_MAX], size[32], label[32], uuid[37], seed[37], ext[80];
	char *mke2fs[] = { "mke2fs", "-q", "-F",
			   "-t", "ext4", "-b",
			   "4096", "-m", "0",
			   /* never mounted read-write: a journal would be dead weight */
			   "-O", "^has_journal", "-L", label,
			   "-U", uuid, "-E", ext, "-d", root,
			   raw, size, NULL };
	char *qemu_img[] = { "qemu-img", "convert", "-f",
			     "raw", "-O", "qcow2", raw, qcow,
			     NULL };
	uint64_t mib;
	int r;

	if ((r = path_join(root, sizeof(root), b->bd_tmp, "root", err)) < 0 ||
	    (r = path_join(raw, sizeof(raw), b->bd_tmp, "base.raw", err)) < 0 ||
	    (r = path_join(qcow, sizeof(qcow), b->bd_tmp, "base.qcow2", err)) < 0)
		return r;
	if ((r = dir_make(root, 0755, err)) < 0 || (r = stage_root(b, root, err)) < 0 || (r = stage_check_service(b, root, err)) < 0)
		return r;
	tree_bytes = 0;
	nftw(root, tree_size_entry, 32, FTW_PHYS);
	/* Content plus room for metadata; the qcow2 only stores what is used. */
	mib = tree_bytes / (1024 * 1024) * 2 + 16;
	snprintf(size, sizeof(size), "%lluM", (unsigned long long)mib);
	snprintf(label, sizeof(label), "isc-%.12s", b->bd_rc.rc_name);
	fixed_uuid("fs-uuid", b->bd_rc.rc_name, uuid);
	fixed_uuid("hash-seed", b->bd_rc.rc_name, seed);
	snprintf(ext, sizeof(ext), "hash_seed=%s,root_owner=0:0", seed);
	if ((r = tool_run(mke2fs, -1, err)) < 0)
		return r;
	dir_remove_tree(root);
	if ((r = tool_run(qemu_img, -1, err)) < 0)
		return r;
	unlink(raw);
	if (chmod(qcow, 0644) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", qcow, strerror(errno));
	return 0;
}

static int manifest_write(const char *path, const char *text, struct dock_err *err)
{
	_cleanup_close_ int fd = file_create(path, 0644, err);
	int r;

	if (fd < 0)
		return fd;
	if ((r = fd_write_all(fd, text, strlen(text), path, err)) < 0 || (r = fd_write_all(fd, "\n", 1, path, err)) < 0)
		return r;
	if (fsync(fd) < 0)
		return err_set(err, IMG_ERR, errno, "%s: fsync: %s", path, strerror(errno));
	return 0;
}

static json_object *manifest_strings(const char (*list)[SVC_PATH_MAX + 1], size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(list[i]));
	return a;
}

/*
 * "service": what the image runs and the policy the dock judges it against
 * (the agent only reports facts). uid and gid come from the image itself.
 */
static int manifest_service(const struct build *b, json_object *m, struct dock_err *err)
{
	const struct recipe *rc = &b->bd_rc;
	json_object *svc = json_object_new_object(), *ports = json_object_new_array();

	if (!svc || !ports) {
		json_object_put(svc);
		json_object_put(ports);
		return err_set(err, IMG_ERR, ENOMEM, "manifest: out of memory");
	}
	json_object_object_add(svc, "name", json_object_new_string(rc->rc_svc_name));
	json_object_object_add(svc, "user", json_object_new_string(rc->rc_svc_user));
	json_object_object_add(svc, "group", json_object_new_string(rc->rc_svc_group));
	json_object_object_add(svc, "uid", json_object_new_int64((int64_t)b->bd_svc_uid));
	json_object_object_add(svc, "gid", json_object_new_int64((int64_t)b->bd_svc_gid));
	for (size_t i = 0; i < rc->rc_svc_n_ports; i++)
		json_object_array_add(ports, json_object_new_string(rc->rc_svc_ports[i]));
	json_object_object_add(svc, "ports", ports);
	json_object_object_add(svc, "writable", manifest_strings(rc->rc_svc_writable, rc->rc_svc_n_writable));
	json_object_object_add(svc, "readonly", manifest_strings(rc->rc_svc_readonly, rc->rc_svc_n_readonly));
	json_object_object_add(m, "service", svc);
	return 0;
}

/*
 * boot = efi: where it came from (the recipe, the suite, the mirror), every
 * installed package with its version, and what a node of it needs.
 */
static int manifest_debian(struct build *b, json_object *m, struct dock_err *err)
{
	json_object *rec = json_object_new_object(), *extra = json_object_new_array(),
		    *rcm = json_object_new_object();

	if (!rec || !extra || !rcm) {
		json_object_put(rec);
		json_object_put(extra);
		json_object_put(rcm);
		return err_set(err, IMG_ERR, ENOMEM, "manifest: out of memory");
	}
	json_object_object_add(rec, "name", json_object_new_string(b->bd_rc.rc_name));
	json_object_object_add(rec, "suite", json_object_new_string(b->bd_rc.rc_suite));
	json_object_object_add(rec, "mirror", json_object_new_string(b->bd_deb.di_mirror));
	for (size_t i = 0; i < b->bd_rc.rc_n_packages; i++)
		json_object_array_add(extra, json_object_new_string(b->bd_rc.rc_packages[i]));
	json_object_object_add(rec, "packages", extra);
	json_object_object_add(rec, "ssh", json_object_new_boolean(b->bd_rc.rc_ssh));
	json_object_object_add(rec, "swap_mib", json_object_new_int64(b->bd_rc.rc_swap_mib));
	json_object_object_add(rec, "setuid_cleared", json_object_new_int64((int64_t)b->bd_deb.di_setuid_cleared));
	json_object_object_add(rec, "source_date_epoch", b->bd_epoch >= 0 ? json_object_new_int64(b->bd_epoch) : NULL);
	json_object_object_add(m, "recipe", rec);
	/* systemd, auditd and nginx want more than micro's 128 MiB; /var and swap a disk of some size. */
	json_object_object_add(rcm, "memory_mib", json_object_new_int64(512));
	json_object_object_add(rcm, "scratch_mib", json_object_new_int64(1024));
	json_object_object_add(m, "recommended", rcm);
	json_object_object_add(m, "packages", b->bd_deb.di_packages);
	b->bd_deb.di_packages = NULL; /* m owns it now */
	return 0;
}

static int build_manifest(struct build *b, struct dock_err *err)
{
	static const struct {
		const char *name, *role;
	} files[] = { { "base.qcow2", "base" }, { "vmlinuz", "kernel" }, { "initrd.img", "initrd" } };
	json_object *m = json_object_new_object(), *boot = json_object_new_object(), *arr = json_object_new_array();
	char path[PATH_MAX], built[32];
	const char *text;
	struct tm tm;
	int r = -ENOMEM;

	if (!m || !boot || !arr) {
		json_object_put(m);
		json_object_put(boot);
		json_object_put(arr);
		return err_set(err, IMG_ERR, ENOMEM, "manifest: out of memory");
	}
	gmtime_r(&b->bd_time, &tm);
	strftime(built, sizeof(built), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(m, "format", json_object_new_int(1));
	json_object_object_add(m, "name", json_object_new_string(b->bd_rc.rc_name));
	json_object_object_add(m, "built", json_object_new_string(built));
	json_object_object_add(m, "kernel_version", json_object_new_string(b->bd_kver));
	json_object_object_add(boot, "mode", json_object_new_string(b->bd_rc.rc_boot));
	if (b->bd_efi) {
		/* The ESP's loader entry holds the command line (and root=). */
		json_object_object_add(boot, "firmware", json_object_new_string("ovmf"));
	} else {
		json_object_object_add(boot, "kernel", json_object_new_string("vmlinuz"));
		json_object_object_add(boot, "initrd", json_object_new_string("initrd.img"));
	}
	json_object_object_add(boot, "cmdline", json_object_new_string(b->bd_rc.rc_cmdline));
	json_object_object_add(m, "boot", boot);
	if (b->bd_efi && (r = manifest_debian(b, m, err)) < 0) {
		json_object_put(arr);
		goto out;
	}
	if (b->bd_rc.rc_svc_name[0] && (r = manifest_service(b, m, err)) < 0) {
		json_object_put(arr);
		goto out;
	}
	json_object_object_add(m, "files", arr);
	for (size_t i = 0; i < (b->bd_efi ? 1 : sizeof(files) / sizeof(files[0])); i++) {
		json_object *f = json_object_new_object();
		char hex[65];
		uint64_t size = 0;

		if ((r = path_join(path, sizeof(path), b->bd_tmp, files[i].name, err)) < 0 ||
		    (r = sha256_file(path, hex, &size, err)) < 0 || (r = file_sync(path, err)) < 0) {
			json_object_put(f);
			goto out;
		}
		json_object_object_add(f, "name", json_object_new_string(files[i].name));
		json_object_object_add(f, "role", json_object_new_string(files[i].role));
		json_object_object_add(f, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(f, "sha256", json_object_new_string(hex));
		json_object_array_add(arr, f);
		img_log("%s: %s %llu bytes sha256 %s", b->bd_rc.rc_name, files[i].name, (unsigned long long)size, hex);
	}
	text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = path_join(path, sizeof(path), b->bd_tmp, "manifest.json", err)) < 0 || (r = manifest_write(path, text, err)) < 0)
		goto out;
	r = 0;
out:
	json_object_put(m);
	return r;
}

/* Swap the finished directory into place; a previous image is removed after. */
static int build_commit(struct build *b, struct dock_err *err)
{
	if (chmod(b->bd_tmp, 0755) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", b->bd_tmp, strerror(errno));
	if (file_sync(b->bd_tmp, err) < 0)
		return -EIO;
	if (rename(b->bd_tmp, b->bd_final) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			return err_set(err, IMG_ERR, errno, "rename %s to %s: %s", b->bd_tmp, b->bd_final, strerror(errno));
		if (renameat2(AT_FDCWD, b->bd_tmp, AT_FDCWD, b->bd_final, RENAME_EXCHANGE) < 0)
			return err_set(err, IMG_ERR, errno, "exchange %s with %s: %s", b->bd_tmp, b->bd_final, strerror(errno));
		/* bd_tmp now holds the previous image. */
		dir_remove_tree(b->bd_tmp);
	}
	b->bd_tmp[0] = '\0';
	return file_sync(b->bd_out, err);
}

static int build_time(time_t *t, struct dock_err *err)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;
	unsigned long long v;

	if (!sde || !*sde) {
		*t = time(NULL);
		return 0;
	}
	errno = 0;
	v = strtoull(sde, &end, 10);
	if (errno || *end || sde[0] == '-' || v > 253402300799ULL) /* 9999-12-31 */
		return err_set(err, IMG_ERR, EINVAL, "SOURCE_DATE_EPOCH \"%s\" is not a time in seconds", sde);
	*t = (time_t)v;
	return 0;
}

/*
 * boot = efi: debootstrap, the recipe's trees, the hardening, then the
 * packed GPT disk as base.qcow2. Downloaded packages are kept in
 * OUT/.cache/debootstrap for the next build.
 */
static int build_debian(struct build *b, struct dock_err *err)
{
	char root[PATH_MAX], cache[PATH_MAX], qcow[PATH_MAX], out[PATH_MAX];
	struct pack_spec ps = { 0 };
	int r;

	/* debootstrap wants an absolute cache path; bd_out exists by now. */
	if (!realpath(b->bd_out, out))
		return err_set(err, IMG_ERR, errno, "%s: %s", b->bd_out, strerror(errno));
	if ((r = path_join(root, sizeof(root), b->bd_tmp, "root", err)) < 0 ||
	    (r = path_join(cache, sizeof(cache), out, ".cache/debootstrap", err)) < 0 ||
	    (r = path_join(qcow, sizeof(qcow), b->bd_tmp, "base.qcow2", err)) < 0)
		return r;
	/* The tools run in the tree must never ask, and speak plainly. */
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	if ((r = debian_bootstrap(&b->bd_rc, root, cache, &b->bd_deb, err)) < 0 || (r = stage_trees(b, root, true, err)) < 0 ||
	    (r = debian_harden(&b->bd_rc, root, b->bd_agent, b->bd_epoch, &b->bd_deb, err)) < 0 ||
	    (r = stage_check_service(b, root, err)) < 0)
		return r;
	snprintf(b->bd_kver, sizeof(b->bd_kver), "%s", b->bd_deb.di_kver);
	ps.ps_name = b->bd_rc.rc_name;
	ps.ps_root = root;
	ps.ps_tmp = b->bd_tmp;
	ps.ps_out = qcow;
	ps.ps_epoch = b->bd_epoch;
	return pack_efi(&ps, err);
}

static int build_run(struct build *b, const char *recipe_arg, const char *exe_dir, const char *agent,
		     const char *kver, struct dock_err *err)
{
	char recipe[PATH_MAX], vmlinuz[PATH_MAX], dst[PATH_MAX];
	int r;

	if ((r = build_time(&b->bd_time, err)) < 0)
		return r;
	if ((r = recipe_find(recipe_arg, exe_dir, recipe, sizeof(recipe), err)) < 0 || (r = recipe_parse(recipe, &b->bd_rc, err)) < 0)
		return r;
	b->bd_efi = strcmp(b->bd_rc.rc_boot, "efi") == 0;
	b->bd_epoch = getenv("SOURCE_DATE_EPOCH") && *getenv("SOURCE_DATE_EPOCH") ? (long long)b->bd_time : -1;
	if (!b->bd_efi && (r = kernel_pick(kver, b->bd_kver, sizeof(b->bd_kver), err)) < 0)
		return r;
	if (agent)
		snprintf(b->bd_agent, sizeof(b->bd_agent), "%s", agent);
	else if ((r = path_join(b->bd_agent, sizeof(b->bd_agent), exe_dir, "isc-agent", err)) < 0)
		return r;
	if ((r = elf_check_static(b->bd_agent, "agent", err)) < 0)
		return r;
	if (b->bd_efi && geteuid() != 0)
		return err_set(err, IMG_ERR, EPERM, "%s: a boot = efi image is built as root (debootstrap, chroot)", recipe);
	if (!b->bd_efi && (r = moddep_resolve(&b->bd_rc, b->bd_kver, &b->bd_mods, err)) < 0)
		return r;
	if (b->bd_efi)
		img_log("%s: recipe %s, Debian %s, UEFI", b->bd_rc.rc_name, recipe, b->bd_rc.rc_suite);
	else
		img_log("%s: recipe %s, kernel %s, %zu modules", b->bd_rc.rc_name, recipe, b->bd_kver,
			b->bd_mods.md_n_order);

	if ((r = dir_make(b->bd_out, 0755, err)) < 0)
		return r;
	if ((r = path_join(b->bd_final, sizeof(b->bd_final), b->bd_out, b->bd_rc.rc_name, err)) < 0)
		return r;
	if (snprintf(b->bd_tmp, sizeof(b->bd_tmp), "%s/.%s.build-XXXXXX", b->bd_out, b->bd_rc.rc_name) >=
	    (int)sizeof(b->bd_tmp))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "output path too long");
	if (!mkdtemp(b->bd_tmp)) {
		r = err_set(err, IMG_ERR, errno, "%s: %s", b->bd_tmp, strerror(errno));
		b->bd_tmp[0] = '\0';
		return r;
	}
	if (b->bd_efi) {
		if ((r = build_debian(b, err)) < 0)
			return r;
	} else {
		if ((r = applets_load(b->bd_tmp, &b->bd_applets, err)) < 0)
			return r;
		snprintf(vmlinuz, sizeof(vmlinuz), BOOT_DIR "/vmlinuz-%s", b->bd_kver);
		if ((r = path_join(dst, sizeof(dst), b->bd_tmp, "vmlinuz", err)) < 0 || (r = file_copy(vmlinuz, dst, 0644, err)) < 0)
			return r;
		if ((r = build_initrd(b, err)) < 0 || (r = build_base(b, err)) < 0)
			return r;
	}
	if ((r = build_manifest(b, err)) < 0)
		return r;
	if ((r = build_commit(b, err)) < 0)
		return r;
	img_log("%s: built %s", b->bd_rc.rc_name, b->bd_final);
	return 0;
}

static int cmd_build(const char *recipe_arg, const char *exe_dir, const char *out, const char *agent,
		     const char *kver, struct dock_err *err)
{
	static struct build b; /* large: not on the stack */
	int r;

	memset(&b, 0, sizeof(b));
	snprintf(b.bd_out, sizeof(b.bd_out), "%s", out);
	r = build_run(&b, recipe_arg, exe_dir, agent, kver, err);
	/* A failed build leaves no half image: only the temp dir held it. */
	if (b.bd_tmp[0])
		dir_remove_tree(b.bd_tmp);
	moddep_free(&b.bd_mods);
	free(b.bd_applets.ap_buf);
	json_object_put(b.bd_deb.di_packages);
	return r;
}

/* --- ls ------------------------------------------------------------------------------- */

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int ls_one(const char *out, const char *name, struct dock_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], size[32] = "?";
	const char *built, *kver, *sha = NULL;
	struct json_tokener *tok;
	json_object *m, *files;
	size_t len;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s/manifest.json", out, name) >= (int)sizeof(path))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "path too long");
	if ((r = file_read_all(path, MANIFEST_MAX_BYTES, &buf, &len, err)) < 0)
		return r;
	tok = json_tokener_new_ex(MANIFEST_MAX_DEPTH);
	if (!tok)
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	m = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (!m || !json_object_is_type(m, json_type_object)) {
		json_object_put(m);
		return err_set(err, IMG_ERR, EINVAL, "%s: not a JSON object", path);
	}
	built = json_str(m, "built");
	kver = json_str(m, "kernel_version");
	if (json_object_object_get_ex(m, "files", &files) && json_object_is_type(files, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(files); i++) {
			json_object *f = json_object_array_get_idx(files, i), *sz;
			const char *role = json_str(f, "role");

			if (!role || strcmp(role, "base") != 0)
				continue;
			sha = json_str(f, "sha256");
			if (json_object_object_get_ex(f, "size", &sz) && json_object_is_type(sz, json_type_int))
				snprintf(size, sizeof(size), "%.1fM", (double)json_object_get_int64(sz) / (1024 * 1024));
		}
	}
	printf("%-16s %-20s %-24s %8s %s\n", name, built ? built : "?", kver ? kver : "?", size, sha ? sha : "?");
	json_object_put(m);
	return 0;
}

static int ls_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(const char *out, struct dock_err *err)
{
	_cleanup_closedir_ DIR *d = opendir(out);
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, IMG_ERR, errno, "%s: %s", out, strerror(errno));
	}
	while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
		char path[PATH_MAX];

		if (de->d_name[0] == '.' || !name_valid(de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/manifest.json", out, de->d_name) >= (int)sizeof(path) ||
		    access(path, F_OK) < 0)
			continue;
		if (!(names[n] = strdup(de->d_name)))
			return err_set(err, IMG_ERR, ENOMEM, "out of memory");
		n++;
	}
	qsort(names, n, sizeof(names[0]), ls_name_cmp);
	printf("%-16s %-20s %-24s %8s %s\n", "NAME", "BUILT", "KERNEL", "BASE", "BASE SHA256");
	for (size_t i = 0; i < n; i++) {
		if (ls_one(out, names[i], err) < 0) {
			img_log_err(err); /* the others are still listed */
			r = -EINVAL;
		}
		free(names[i]);
	}
	return r;
}

/* --- main ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: isc-image build RECIPE [--out DIR] [--agent PATH] [--kernel-version VER]\n"
		   "       isc-image ls [--out DIR]\n"
		   "       isc-image export NAME --format ovf|ova|qcow2 [--out DIR] [--images DIR] [--force]\n"
		   "RECIPE is a name from images/recipes/ or a path. Default --out: " DEFAULT_OUT
		   ", --agent: isc-agent next to isc-image,\n"
		   "--kernel-version: the newest /boot/vmlinuz-*" KERNEL_FLAVOUR ".\n");
}

/* A command's result as the exit status; its error, if any, printed once. */
static int img_exit(int r, struct dock_err *err)
{
	img_log_err(err);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "agent", required_argument, NULL, 'a' },
		{ "kernel-version", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = DEFAULT_OUT, *agent = NULL, *kver = NULL;
	struct dock_err err = { 0 };
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int c;

	if (argc > 1 && strcmp(argv[1], "export") == 0)
		return export_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'a':
			agent = optarg;
			break;
		case 'k':
			kver = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (sodium_init() < 0) {
		img_log("libsodium failed to initialise");
		return 1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		img_log("/proc/self/exe: %s", strerror(errno));
		return 1;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	umask(022);

	if (optind < argc && strcmp(argv[optind], "build") == 0 && argc - optind == 2)
		return img_exit(cmd_build(argv[optind + 1], exe, out, agent, kver, &err), &err);
	if (optind < argc && strcmp(argv[optind], "ls") == 0 && argc - optind == 1 && !agent && !kver)
		return img_exit(cmd_ls(out, &err), &err);
	usage(stderr);
	return 2;
}
