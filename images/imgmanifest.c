/*
 * imgmanifest.c: an image's manifest.json, written last in a build (what
 * was built from what, the service policy, the inputs that determine the
 * root filesystem and its digest, every file's size and sha256:
 * common/manifest.h is how the dock reads it). `isc-image ls` reads it
 * back in imgdir.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "build-int.h"
#include "build.h"
#include "imgio.h"
#include "manifest.h"
#include "repro.h"
#include "sha256.h"
#include "version.h"

/* --- manifest.json -------------------------------------------------------------- */

static int manifest_write(const char *path, const char *text, struct dock_err *err)
{
	_cleanup_close_ int fd = file_create(path, 0644, err);
	int r;

	if (fd < 0)
		return fd;
	if ((r = fd_write_all(fd, text, strlen(text), path, err)) < 0 ||
	    (r = fd_write_all(fd, "\n", 1, path, err)) < 0)
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
	json_object_object_add(svc, "writable",
			       manifest_strings(rc->rc_svc_writable, rc->rc_svc_n_writable));
	json_object_object_add(svc, "readonly",
			       manifest_strings(rc->rc_svc_readonly, rc->rc_svc_n_readonly));
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
	json_object_object_add(rec, "setuid_cleared",
			       json_object_new_int64((int64_t)b->bd_deb.di_setuid_cleared));
	json_object_object_add(rec, "source_date_epoch",
			       b->bd_epoch >= 0 ? json_object_new_int64(b->bd_epoch) : NULL);
	json_object_object_add(m, "recipe", rec);
	/* systemd, auditd and nginx want more than micro's 128 MiB; /var and swap a disk of some size. */
	json_object_object_add(rcm, "memory_mib", json_object_new_int64(512));
	json_object_object_add(rcm, "scratch_mib", json_object_new_int64(1024));
	json_object_object_add(m, "recommended", rcm);
	json_object_object_add(m, "packages", b->bd_deb.di_packages);
	b->bd_deb.di_packages = NULL; /* m owns it now */
	return 0;
}

/* --- inputs and reproducibility (repro.h) ------------------------------------------ */

/* The host packages whose files or tools shaped the image. */
static json_object *manifest_host_packages(const struct build *b)
{
	static const char *const efi[] = { "debootstrap", "e2fsprogs", "libguestfs0",
					   "qemu-utils" };
	char kernel[sizeof(b->bd_kver) + 16];
	const char *micro[] = { kernel, "busybox-static", "e2fsprogs", "gzip", "qemu-utils" };

	snprintf(kernel, sizeof(kernel), "linux-image-%s", b->bd_kver);
	if (b->bd_efi)
		return repro_host_packages(b->bd_tmp, efi, sizeof(efi) / sizeof(efi[0]));
	return repro_host_packages(b->bd_tmp, micro, sizeof(micro) / sizeof(micro[0]));
}

/*
 * "inputs": what determines the root filesystem besides the package
 * versions (boot = efi: "packages"): the builder, the epoch and where it came
 * from, the recipe with its trees, the agent, the host's packages used.
 */
static int manifest_inputs(const struct build *b, json_object *m, struct dock_err *err)
{
	json_object *in = json_object_new_object(), *pk = manifest_host_packages(b);
	char recipe[65], agent[65];
	int r;

	if (!in || !pk) {
		json_object_put(in);
		json_object_put(pk);
		return err_set(err, IMG_ERR, ENOMEM, "manifest: out of memory");
	}
	if ((r = repro_recipe_digest(&b->bd_rc, recipe, err)) < 0 ||
	    (r = sha256_file(b->bd_agent, agent, NULL, err)) < 0) {
		json_object_put(in);
		json_object_put(pk);
		return r;
	}
	json_object_object_add(in, "builder",
			       json_object_new_string(ISC_VERSION_LINE("isc-image")));
	json_object_object_add(in, "source_date_epoch", json_object_new_int64(b->bd_epoch));
	json_object_object_add(in, "source_date_epoch_from",
			       json_object_new_string(b->bd_epoch_source));
	json_object_object_add(in, "recipe_sha256", json_object_new_string(recipe));
	json_object_object_add(in, "agent_sha256", json_object_new_string(agent));
	json_object_object_add(in, "host_packages", pk);
	json_object_object_add(m, "inputs", in);
	return 0;
}

static void manifest_differs(json_object *arr, const char *what, const char *why)
{
	json_object *d = json_object_new_object();

	if (!d)
		return;
	json_object_object_add(d, "what", json_object_new_string(what));
	json_object_object_add(d, "why", json_object_new_string(why));
	json_object_array_add(arr, d);
}

/* "reproducible": the root filesystem's digest, and what is not bit-identical, and why. */
static int manifest_reproducible(const struct build *b, json_object *m, struct dock_err *err)
{
	json_object *rp = json_object_new_object(), *diff = json_object_new_array();

	if (!rp || !diff) {
		json_object_put(rp);
		json_object_put(diff);
		return err_set(err, IMG_ERR, ENOMEM, "manifest: out of memory");
	}
	json_object_object_add(rp, "rootfs_sha256", json_object_new_string(b->bd_rootfs_sha256));
	json_object_object_add(rp, "rootfs_size",
			       json_object_new_int64((int64_t)b->bd_rootfs_size));
	if (b->bd_efi)
		manifest_differs(
			diff, "base.qcow2: the EFI system partition",
			"mkfs.vfat in the libguestfs appliance takes the volume serial and the "
			"directories' times from the clock; its two files are copies of "
			"boot/grub/isc/ in the root filesystem, which is bit-identical");
	json_object_object_add(rp, "differs", diff);
	json_object_object_add(m, "reproducible", rp);
	return 0;
}

int manifest_build(struct build *b, struct dock_err *err)
{
	static const struct {
		const char *name, *role;
	} files[] = { { "base.qcow2", "base" },
		      { "vmlinuz", "kernel" },
		      { "initrd.img", "initrd" } };
	json_object *m = json_object_new_object(), *boot = json_object_new_object(),
		    *arr = json_object_new_array();
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
	if ((b->bd_rc.rc_svc_name[0] && (r = manifest_service(b, m, err)) < 0) ||
	    (r = manifest_inputs(b, m, err)) < 0 || (r = manifest_reproducible(b, m, err)) < 0) {
		json_object_put(arr);
		goto out;
	}
	/* "scan": the build's OpenSCAP scan (images/scan.h), when the recipe asks for one. */
	if (b->bd_scan) {
		json_object_object_add(m, "scan", b->bd_scan);
		b->bd_scan = NULL; /* m owns it now */
	}
	json_object_object_add(m, "files", arr);
	for (size_t i = 0; i < (b->bd_efi ? 1 : sizeof(files) / sizeof(files[0])); i++) {
		json_object *f = json_object_new_object();
		char hex[65];
		uint64_t size = 0;

		if ((r = path_join(path, sizeof(path), b->bd_tmp, files[i].name, err)) < 0 ||
		    (r = sha256_file(path, hex, &size, err)) < 0 ||
		    (r = file_sync(path, err)) < 0) {
			json_object_put(f);
			goto out;
		}
		json_object_object_add(f, "name", json_object_new_string(files[i].name));
		json_object_object_add(f, "role", json_object_new_string(files[i].role));
		json_object_object_add(f, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(f, "sha256", json_object_new_string(hex));
		json_object_array_add(arr, f);
		img_log("%s: %s %llu bytes sha256 %s", b->bd_rc.rc_name, files[i].name,
			(unsigned long long)size, hex);
	}
	text = json_object_to_json_string_ext(
		m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = path_join(path, sizeof(path), b->bd_tmp, "manifest.json", err)) < 0 ||
	    (r = manifest_write(path, text, err)) < 0)
		goto out;
	r = 0;
out:
	json_object_put(m);
	return r;
}
