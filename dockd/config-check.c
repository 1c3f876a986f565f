/* config-check: `dockd -t`'s look at the host: groups, directories, files
 * (config-check.h). Every problem is reported, not only the first. */
#include "config-check.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cc {
	config_problem_fn cc_report;
	void *cc_ctx;
	unsigned cc_n;
};

/* How dockd comes by a directory: it must be there (templates), dockd makes
 * it with one mkdir (state_dir, run_dir: their parent must exist), or
 * isc-image makes it with its parents (image_dir). */
enum cc_make { CC_EXISTS, CC_MKDIR, CC_MKDIR_P };

/* The templates dockd renders (node-create.c, node-life.c, node-reconcile.c). */
static const char *const cc_templates[] = { "domain.xml", "network.xml", "pool.xml", "secret.xml",
					    "volume.xml" };

__attribute__((format(printf, 2, 3))) static void cc_problem(struct cc *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->cc_report(c->cc_ctx, line);
	c->cc_n++;
}

static void cc_group(struct cc *c, const char *key, const char *name, const char *hint)
{
	struct group gr, *grp = NULL;
	char buf[16384];
	int r = getgrnam_r(name, &gr, buf, sizeof(buf), &grp);

	if (r != 0)
		cc_problem(c, "%s %s: cannot look the group up: %s", key, name, strerror(r));
	else if (grp == NULL)
		cc_problem(c, "%s %s: no such group (%s)", key, name, hint);
}

/* path without its last component, in out ("/" for a top-level name). */
static void cc_parent(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	int n = slash == NULL || slash == path ? 1 : (int)(slash - path);

	snprintf(out, size, "%.*s", n, path);
}

/* A directory that is not there yet: can the way dockd makes it work? */
static void cc_dir_missing(struct cc *c, const char *key, const char *path, enum cc_make make)
{
	char up[PATH_MAX], parent[PATH_MAX];
	struct stat st;

	snprintf(up, sizeof(up), "%s", path);
	for (;;) {
		cc_parent(up, parent, sizeof(parent));
		if (stat(parent, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				cc_problem(c, "%s %s: cannot be made: %s is not a directory", key,
					   path, parent);
			else if (access(parent, W_OK | X_OK) != 0)
				cc_problem(c, "%s %s: does not exist and cannot be made in %s: %s",
					   key, path, parent, strerror(errno));
			return;
		}
		if (errno != ENOENT || make != CC_MKDIR_P || strcmp(parent, "/") == 0) {
			cc_problem(c, "%s %s: does not exist and cannot be made: %s: %s", key, path,
				   parent, strerror(errno));
			return;
		}
		snprintf(up, sizeof(up), "%s", parent);
	}
}

/* need: what dockd does in it (R_OK | X_OK reads, W_OK | X_OK makes files). */
static void cc_dir(struct cc *c, const char *key, const char *dir, enum cc_make make, int need)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	/* "/var/lib/isc/" is "/var/lib/isc": the parent is /var/lib. */
	while (n > 1 && dir[n - 1] == '/')
		n--;
	snprintf(path, sizeof(path), "%.*s", (int)n, dir);
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			cc_problem(c, "%s %s: not a directory", key, path);
		else if (access(path, need) != 0)
			cc_problem(c, "%s %s: %s (as uid %d)", key, path, strerror(errno),
				   (int)geteuid());
	} else if (errno != ENOENT) {
		cc_problem(c, "%s %s: %s", key, path, strerror(errno));
	} else if (make == CC_EXISTS) {
		cc_problem(c, "%s %s: no such directory", key, path);
	} else {
		cc_dir_missing(c, key, path, make);
	}
}

/* A file dockd reads: there, a regular file, readable. what: "" or "NAME: "
 * when the key names its directory. */
static void cc_file(struct cc *c, const char *key, const char *value, const char *what,
		    const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		cc_problem(c, "%s %s: %s%s", key, value, what, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		cc_problem(c, "%s %s: %snot a regular file", key, value, what);
	else if (access(path, R_OK) != 0)
		cc_problem(c, "%s %s: %s%s", key, value, what, strerror(errno));
}

static void cc_templates_check(struct cc *c, const struct dock_config *cfg)
{
	char path[PATH_MAX], what[64];

	for (size_t i = 0; i < sizeof(cc_templates) / sizeof(cc_templates[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->dc_template_dir, cc_templates[i]);
		snprintf(what, sizeof(what), "%s: ", cc_templates[i]);
		cc_file(c, "template_dir", cfg->dc_template_dir, what, path);
	}
	/* Node profiles (--profile, or the one named as the image): the
	 * directory, even empty, says the installation is whole. */
	snprintf(path, sizeof(path), "%s/profiles", cfg->dc_template_dir);
	cc_dir(c, "template_dir", path, CC_EXISTS, R_OK | X_OK);
}

unsigned config_check_host(const struct dock_config *cfg, config_problem_fn report, void *ctx)
{
	struct cc c = { .cc_report = report, .cc_ctx = ctx };
	struct stat st;

	cc_dir(&c, "state_dir", cfg->dc_state_dir, CC_MKDIR, W_OK | X_OK);
	cc_dir(&c, "run_dir", cfg->dc_run_dir, CC_MKDIR, W_OK | X_OK);
	cc_dir(&c, "image_dir", cfg->dc_image_dir, CC_MKDIR_P, R_OK | X_OK);
	if (stat(cfg->dc_template_dir, &st) == 0 && S_ISDIR(st.st_mode))
		cc_templates_check(&c, cfg);
	else
		cc_dir(&c, "template_dir", cfg->dc_template_dir, CC_EXISTS, R_OK | X_OK);
	cc_group(&c, "socket_group", cfg->dc_socket_group,
		 "the package's sysusers.d file or groupadd makes it; until then only root may "
		 "use the API");
	cc_group(&c, "vmm_group", cfg->dc_vmm_group,
		 "libvirt's QEMU group: libvirt-qemu on Debian, qemu on Fedora");
	cc_file(&c, "ovmf_code", cfg->dc_ovmf_code, "", cfg->dc_ovmf_code);
	cc_file(&c, "ovmf_vars", cfg->dc_ovmf_vars, "", cfg->dc_ovmf_vars);
	if (cfg->dc_forensic_pubkey[0] != '\0')
		cc_file(&c, "forensic_pubkey", cfg->dc_forensic_pubkey, "",
			cfg->dc_forensic_pubkey);
	return c.cc_n;
}

static void cc_print(void *ctx, const char *line)
{
	fprintf(stderr, "dockd: %s: %s\n", (const char *)ctx, line);
}

int config_check_report(const char *conf, const struct dock_config *cfg)
{
	unsigned n = config_check_host(cfg, cc_print, (void *)(uintptr_t)conf);

	if (n > 0) {
		fprintf(stderr, "dockd: %s: %u problem%s: test failed\n", conf, n,
			n == 1 ? "" : "s");
		return 1;
	}
	printf("dockd: %s: configuration OK\n", conf);
	return 0;
}
