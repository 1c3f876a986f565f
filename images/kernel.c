/*
 * kernel.c: the host's Debian cloud kernel for direct boot (the newest
 * /boot/vmlinuz-*-cloud-amd64, or the one asked for) and the modules a
 * recipe names, resolved through modules.dep into a load order with their
 * dependencies first (kernel.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kernel.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgio.h"

/* modules.dep of a distribution kernel: ~4000 lines, ~500 KiB. */
#define MODDEP_MAX_BYTES   (16 * 1024 * 1024)
#define MODDEP_MAX_ENTRIES 32768
#define MODDEP_MAX_DEPTH   32

int kernel_pick(const char *want, char *ver, size_t size, struct dock_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[PATH_MAX];
	struct dirent *de;

	if (want) {
		snprintf(path, sizeof(path), BOOT_DIR "/vmlinuz-%s", want);
		if (strchr(want, '/') || strlen(want) >= size || access(path, R_OK) < 0)
			return err_set(err, IMG_ERR, ENOENT, "kernel %s: %s not readable", want,
				       path);
		snprintf(path, sizeof(path), MODULES_DIR "/%s/modules.dep", want);
		if (access(path, R_OK) < 0)
			return err_set(err, IMG_ERR, ENOENT,
				       "kernel %s: %s not readable (modules not installed?)", want,
				       path);
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
		return err_set(err, IMG_ERR, ENOENT,
			       "no " BOOT_DIR "/vmlinuz-*" KERNEL_FLAVOUR
			       " with modules in " MODULES_DIR
			       " (install linux-image-cloud-amd64)");
	return 0;
}

void moddep_free(struct moddep *md)
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
			return err_set(err, IMG_ERR, E2BIG, "%s: more than %d modules", path,
				       MODDEP_MAX_ENTRIES);
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
		if (strcmp(by_path ? md->md_entries[i].me_path : md->md_entries[i].me_name,
			   by_path ? name : want) == 0)
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
		return err_set(err, IMG_ERR, ELOOP, "modules.dep: dependency cycle through %s",
			       e->me_name);
	if (depth > MODDEP_MAX_DEPTH)
		return err_set(err, IMG_ERR, ELOOP,
			       "modules.dep: dependencies nested deeper than %d at %s",
			       MODDEP_MAX_DEPTH, e->me_name);
	e->me_mark = ME_VISITING;
	for (char *dep = strtok_r(e->me_deps, " \t", &save); dep;
	     dep = strtok_r(NULL, " \t", &save)) {
		struct moddep_entry *d = moddep_find(md, dep, true);

		if (!d)
			return err_set(err, IMG_ERR, ENOENT,
				       "modules.dep: %s needs %s, which has no entry", e->me_name,
				       dep);
		if ((r = moddep_visit(md, d, depth + 1, err)) < 0)
			return r;
	}
	e->me_mark = ME_DONE;
	if (md->md_n_order == MODLOAD_MAX)
		return err_set(err, IMG_ERR, E2BIG, "more than %d modules with dependencies",
			       MODLOAD_MAX);
	md->md_order[md->md_n_order++] = (size_t)(e - md->md_entries);
	return 0;
}

int moddep_resolve(const struct recipe *rc, const char *ver, struct moddep *md,
		   struct dock_err *err)
{
	int r;

	if ((r = moddep_load(ver, md, err)) < 0)
		return r;
	for (size_t i = 0; i < rc->rc_n_modules; i++) {
		struct moddep_entry *e = moddep_find(md, rc->rc_modules[i], false);

		if (!e)
			return err_set(err, IMG_ERR, ENOENT,
				       "%s: module %s is not in kernel %s (built in? then drop it)",
				       rc->rc_modules_where, rc->rc_modules[i], ver);
		if ((r = moddep_visit(md, e, 0, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < md->md_n_order; i++) {
		const char *p = md->md_entries[md->md_order[i]].me_path;
		size_t l = strlen(p);

		if (l < 3 || strcmp(p + l - 3, ".ko") != 0)
			return err_set(
				err, IMG_ERR, ENOTSUP,
				"module %s is compressed; busybox insmod needs plain .ko files", p);
	}
	return 0;
}
