/* manifest: an image's manifest.json parsed with limits into struct image,
 * and the paths of its files (manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "jsonin.h"

const struct jsonin_limits image_manifest_limits = {
	.jl_max_bytes = IMAGE_MANIFEST_MAX,
	.jl_max_depth = 8,
	.jl_max_fields = 2048, /* "packages": one element per installed package */
};

static int image_hex_ok(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A file name inside the image directory: no slash, no dot-files. */
static int image_fname_ok(const char *s)
{
	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static const struct image_file *image_find(const struct image *im, const char *name)
{
	for (size_t i = 0; i < im->im_n_files; i++)
		if (strcmp(im->im_files[i].if_name, name) == 0)
			return &im->im_files[i];
	return NULL;
}

static int image_parse_files(struct json_object *arr, struct image *im, struct dock_err *err)
{
	size_t n = json_object_array_length(arr);

	if (n == 0 || n > IMAGE_MAX_FILES)
		return err_set(err, 400, E2BIG, "manifest: \"files\" must list 1..%d files",
			       IMAGE_MAX_FILES);
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(arr, i);
		struct image_file *imf = &im->im_files[i];
		uint64_t size;
		char what[48];

		snprintf(what, sizeof(what), "manifest: files[%zu]", i);
		if (!json_object_is_type(f, json_type_object))
			return err_set(err, 400, EINVAL, "%s: must be an object", what);
		if (jsonin_str(f, what, "name", true, imf->if_name, sizeof(imf->if_name), err) <
			    0 ||
		    jsonin_str(f, what, "role", true, imf->if_role, sizeof(imf->if_role), err) <
			    0 ||
		    jsonin_str(f, what, "sha256", true, imf->if_sha256, sizeof(imf->if_sha256),
			       err) < 0 ||
		    jsonin_u64(f, what, "size", true, 0, INT64_MAX, &size, err) < 0)
			return -EINVAL;
		imf->if_size = size;
		if (!image_fname_ok(imf->if_name))
			return err_set(err, 400, EINVAL, "%s: bad file name \"%s\"", what,
				       imf->if_name);
		if (!image_hex_ok(imf->if_sha256))
			return err_set(err, 400, EINVAL,
				       "%s: sha256 must be 64 lower-case hex digits", what);
		if (image_find(im, imf->if_name) != NULL)
			return err_set(err, 400, EINVAL, "%s: file \"%s\" listed twice", what,
				       imf->if_name);
		im->im_n_files = i + 1;
	}
	return 0;
}

static const struct image_file *image_role_file(const struct image *im, const char *role)
{
	for (size_t i = 0; i < im->im_n_files; i++)
		if (strcmp(im->im_files[i].if_role, role) == 0)
			return &im->im_files[i];
	return NULL;
}

/* "format", "name" and "built". */
static int image_parse_head(struct json_object *o, struct image *im, struct dock_err *err)
{
	uint64_t format;

	if (jsonin_u64(o, "manifest", "format", true, 1, 1, &format, err) < 0 ||
	    jsonin_str(o, "manifest", "name", true, im->im_name, sizeof(im->im_name), err) < 0 ||
	    validate_name("image", im->im_name, IMAGE_NAME_MAX, err) < 0)
		return -EINVAL;
	if (JSONIN_BAD(jsonin_str(o, "manifest", "built", false, im->im_built, sizeof(im->im_built),
				  err)))
		return -EINVAL;
	return 0;
}

/* "boot": its mode and the kernel's command line; *boot is borrowed from o. */
static int image_parse_boot(struct json_object *o, struct image *im, struct json_object **boot,
			    struct dock_err *err)
{
	char mode[16];

	if (!json_object_object_get_ex(o, "boot", boot) ||
	    !json_object_is_type(*boot, json_type_object))
		return err_set(err, 400, EINVAL, "manifest: \"boot\" must be an object");
	if (jsonin_str(*boot, "manifest: boot", "mode", true, mode, sizeof(mode), err) < 0)
		return -EINVAL;
	if (strcmp(mode, "kernel") == 0)
		im->im_boot = IMAGE_BOOT_KERNEL;
	else if (strcmp(mode, "efi") == 0)
		im->im_boot = IMAGE_BOOT_EFI;
	else
		return err_set(err, 400, EINVAL,
			       "manifest: boot mode must be \"kernel\" or \"efi\"");
	if (JSONIN_BAD(jsonin_str(*boot, "manifest: boot", "cmdline", false, im->im_cmdline,
				  sizeof(im->im_cmdline), err)))
		return -EINVAL;
	return 0;
}

/* "recommended" (optional): bounds of sanity only, the dock's own limits apply at create. */
static int image_parse_recommended(struct json_object *o, struct image *im, struct dock_err *err)
{
	struct json_object *rec;

	if (!json_object_object_get_ex(o, "recommended", &rec))
		return 0;
	if (!json_object_is_type(rec, json_type_object))
		return err_set(err, 400, EINVAL, "manifest: \"recommended\" must be an object");
	if (JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "memory_mib", false, 64,
				  1024 * 1024, &im->im_memory_mib, err)) ||
	    JSONIN_BAD(jsonin_u64(rec, "manifest: recommended", "scratch_mib", false, 16,
				  64ULL * 1024 * 1024, &im->im_scratch_mib, err)))
		return -EINVAL;
	return 0;
}

/* "service" (optional): the policy the image's nodes are judged by. */
static int image_parse_service(struct json_object *o, struct image *im, struct dock_err *err)
{
	struct json_object *svc;

	if (!json_object_object_get_ex(o, "service", &svc))
		return 0;
	if (profile_from_service(svc, im->im_name, &im->im_service, err) < 0) {
		err_prefix(err, "manifest: ");
		return -EINVAL;
	}
	im->im_have_service = true;
	return 0;
}

/* "inputs".host_packages: {"name": "version" | null}, bounded. */
static int image_parse_host_packages(struct json_object *in, struct dock_err *err)
{
	struct json_object *pk;
	size_t n = 0;

	if (!json_object_object_get_ex(in, "host_packages", &pk))
		return 0;
	if (!json_object_is_type(pk, json_type_object))
		return err_set(err, 400, EINVAL,
			       "manifest: inputs: \"host_packages\" must be an object");
	json_object_object_foreach(pk, key, val)
	{
		if (++n > IMAGE_HOST_PACKAGES_MAX)
			return err_set(err, 400, E2BIG,
				       "manifest: inputs: more than %d host_packages",
				       IMAGE_HOST_PACKAGES_MAX);
		if (key[0] == '\0' || strlen(key) > IMAGE_PACKAGE_NAME_MAX ||
		    strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789.+-:") != strlen(key))
			return err_set(err, 400, EINVAL,
				       "manifest: inputs: host_packages: bad package name");
		if (val &&
		    (!json_object_is_type(val, json_type_string) ||
		     json_object_get_string_len(val) > IMAGE_PACKAGE_VER_MAX))
			return err_set(err, 400, EINVAL,
				       "manifest: inputs: host_packages: a version must be a "
				       "string of at most %d bytes, or null",
				       IMAGE_PACKAGE_VER_MAX);
	}
	return 0;
}

/* "inputs" (optional): the builder, SOURCE_DATE_EPOCH and its origin, the recipe's digest. */
static int image_parse_inputs(struct json_object *o, struct image *im, struct dock_err *err)
{
	struct json_object *in;
	char agent[65];
	const char *w = "manifest: inputs";

	if (!json_object_object_get_ex(o, "inputs", &in))
		return 0;
	if (!json_object_is_type(in, json_type_object))
		return err_set(err, 400, EINVAL, "manifest: \"inputs\" must be an object");
	if (jsonin_str(in, w, "builder", true, im->im_builder, sizeof(im->im_builder), err) < 0 ||
	    jsonin_u64(in, w, "source_date_epoch", true, 0, IMAGE_EPOCH_MAX,
		       &im->im_source_date_epoch, err) < 0 ||
	    jsonin_str(in, w, "source_date_epoch_from", true, im->im_epoch_from,
		       sizeof(im->im_epoch_from), err) < 0 ||
	    jsonin_str(in, w, "recipe_sha256", true, im->im_recipe_sha256,
		       sizeof(im->im_recipe_sha256), err) < 0 ||
	    JSONIN_BAD(jsonin_str(in, w, "agent_sha256", false, agent, sizeof(agent), err)))
		return -EINVAL;
	if (strcmp(im->im_epoch_from, "env") != 0 && strcmp(im->im_epoch_from, "git") != 0 &&
	    strcmp(im->im_epoch_from, "fixed") != 0)
		return err_set(err, 400, EINVAL,
			       "%s: source_date_epoch_from must be \"env\", \"git\" or \"fixed\"",
			       w);
	if (!image_hex_ok(im->im_recipe_sha256) ||
	    (json_object_object_get_ex(in, "agent_sha256", NULL) && !image_hex_ok(agent)))
		return err_set(err, 400, EINVAL, "%s: a sha256 must be 64 lower-case hex digits",
			       w);
	if (image_parse_host_packages(in, err) < 0)
		return -EINVAL;
	im->im_have_inputs = true;
	return 0;
}

/* "reproducible" (optional): the root filesystem's digest, what differs and why. */
static int image_parse_repro(struct json_object *o, struct image *im, struct dock_err *err)
{
	struct json_object *rp, *diff;
	const char *w = "manifest: reproducible";
	uint64_t size;

	if (!json_object_object_get_ex(o, "reproducible", &rp))
		return 0;
	if (!json_object_is_type(rp, json_type_object))
		return err_set(err, 400, EINVAL, "manifest: \"reproducible\" must be an object");
	if (jsonin_str(rp, w, "rootfs_sha256", true, im->im_rootfs_sha256,
		       sizeof(im->im_rootfs_sha256), err) < 0 ||
	    JSONIN_BAD(jsonin_u64(rp, w, "rootfs_size", false, 0, INT64_MAX, &size, err)) ||
	    jsonin_array(rp, w, "differs", true, IMAGE_DIFFERS_MAX, &diff, err) < 0)
		return -EINVAL;
	if (!image_hex_ok(im->im_rootfs_sha256))
		return err_set(err, 400, EINVAL,
			       "%s: rootfs_sha256 must be 64 lower-case hex digits", w);
	im->im_n_differs = json_object_array_length(diff);
	for (size_t i = 0; i < im->im_n_differs; i++) {
		struct json_object *d = json_object_array_get_idx(diff, i);
		char what[IMAGE_DIFFERS_WHAT_MAX + 1], why[IMAGE_DIFFERS_WHY_MAX + 1], dw[64];

		snprintf(dw, sizeof(dw), "%s: differs[%zu]", w, i);
		if (!json_object_is_type(d, json_type_object))
			return err_set(err, 400, EINVAL, "%s: must be an object", dw);
		if (jsonin_str(d, dw, "what", true, what, sizeof(what), err) < 0 ||
		    jsonin_str(d, dw, "why", true, why, sizeof(why), err) < 0)
			return -EINVAL;
	}
	im->im_have_repro = true;
	return 0;
}

/* The files the roles name: a base always, a kernel and an initrd for direct boot. */
static int image_parse_roles(struct json_object *boot, struct image *im, struct dock_err *err)
{
	char fname[IMAGE_FILE_NAME_MAX];

	im->im_base = image_role_file(im, "base");
	if (im->im_base == NULL)
		return err_set(err, 400, EINVAL, "manifest: no file with role \"base\"");
	if (im->im_boot != IMAGE_BOOT_KERNEL)
		return 0;
	if (jsonin_str(boot, "manifest: boot", "kernel", true, fname, sizeof(fname), err) < 0)
		return -EINVAL;
	im->im_kernel = image_find(im, fname);
	if (jsonin_str(boot, "manifest: boot", "initrd", true, fname, sizeof(fname), err) < 0)
		return -EINVAL;
	im->im_initrd = image_find(im, fname);
	if (im->im_kernel == NULL || im->im_initrd == NULL)
		return err_set(err, 400, EINVAL,
			       "manifest: boot kernel/initrd must name files listed in \"files\"");
	return 0;
}

/* --- "scan": the build's OpenSCAP scan (images/scan.h) --------------------------------- */

static bool image_scan_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* "failing": short rule ids, bounded; checked, not kept. */
static int image_scan_failing(struct json_object *p, const char *what, struct dock_err *err)
{
	struct json_object *fl;

	if (!json_object_object_get_ex(p, "failing", &fl) || fl == NULL)
		return 0;
	if (!json_object_is_type(fl, json_type_array) ||
	    json_object_array_length(fl) > IMAGE_SCAN_MAX_FAILING)
		return err_set(err, 400, EINVAL, "%s: \"failing\" must be an array of at most %d",
			       what, IMAGE_SCAN_MAX_FAILING);
	for (size_t k = 0; k < json_object_array_length(fl); k++) {
		struct json_object *r = json_object_array_get_idx(fl, k);

		if (!json_object_is_type(r, json_type_string) ||
		    !image_scan_word(json_object_get_string(r), IMAGE_SCAN_RULE_MAX))
			return err_set(err, 400, EINVAL, "%s: \"failing\" holds a bad rule id",
				       what);
	}
	return 0;
}

/* One element of "profiles": its counts; the score is computed from them. */
static int image_scan_profile(struct json_object *p, struct image_scan_profile *sp,
			      struct dock_err *err)
{
	const char *w = "manifest: scan: profile";
	struct json_object *st, *score;

	if (!json_object_is_type(p, json_type_object))
		return err_set(err, 400, EINVAL, "%s must be an object", w);
	if (jsonin_str(p, w, "id", true, sp->sp_id, sizeof(sp->sp_id), err) < 0)
		return -EINVAL;
	if (!image_scan_word(sp->sp_id, IMAGE_SCAN_PROFILE_MAX))
		return err_set(err, 400, EINVAL, "%s: bad id", w);
	if (jsonin_u64(p, w, "pass", true, 0, IMAGE_SCAN_COUNT_MAX, &sp->sp_pass, err) < 0 ||
	    jsonin_u64(p, w, "fail", true, 0, IMAGE_SCAN_COUNT_MAX, &sp->sp_fail, err) < 0 ||
	    JSONIN_BAD(jsonin_u64(p, w, "notapplicable", false, 0, IMAGE_SCAN_COUNT_MAX,
				  &sp->sp_notapplicable, err)) ||
	    JSONIN_BAD(jsonin_u64(p, w, "notchecked", false, 0, IMAGE_SCAN_COUNT_MAX,
				  &sp->sp_notchecked, err)) ||
	    JSONIN_BAD(
		    jsonin_u64(p, w, "error", false, 0, IMAGE_SCAN_COUNT_MAX, &sp->sp_error, err)))
		return -EINVAL;
	if (json_object_object_get_ex(p, "score", &score) && score != NULL &&
	    !json_object_is_type(score, json_type_double) &&
	    !json_object_is_type(score, json_type_int))
		return err_set(err, 400, EINVAL, "%s: \"score\" must be a number or null", w);
	if (image_scan_failing(p, w, err) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(p, "stock", &st) && st != NULL &&
	    (!json_object_is_type(st, json_type_object) ||
	     image_scan_failing(st, "manifest: scan: profile: stock", err) < 0))
		return err_set(err, 400, EINVAL, "%s: \"stock\" must be an object", w);
	sp->sp_score_cp = sp->sp_pass + sp->sp_fail == 0
		? -1
		: (int)((sp->sp_pass * 10000 + (sp->sp_pass + sp->sp_fail) / 2) /
			(sp->sp_pass + sp->sp_fail));
	return 0;
}

/* "content" and "tailoring": their sha256 (the tailoring may be null). */
static int image_scan_digests(struct json_object *scan, struct image_scan *sc, struct dock_err *err)
{
	struct json_object *ct, *tl;

	if (!json_object_object_get_ex(scan, "content", &ct) ||
	    !json_object_is_type(ct, json_type_object) ||
	    jsonin_str(ct, "manifest: scan: content", "sha256", true, sc->is_content_sha256,
		       sizeof(sc->is_content_sha256), err) < 0 ||
	    !image_hex_ok(sc->is_content_sha256))
		return err_set(err, 400, EINVAL,
			       "manifest: scan: \"content\" must be an object with a sha256");
	if (!json_object_object_get_ex(scan, "tailoring", &tl) || tl == NULL)
		return 0;
	if (!json_object_is_type(tl, json_type_object) ||
	    jsonin_str(tl, "manifest: scan: tailoring", "sha256", true, sc->is_tailoring_sha256,
		       sizeof(sc->is_tailoring_sha256), err) < 0 ||
	    !image_hex_ok(sc->is_tailoring_sha256))
		return err_set(err, 400, EINVAL,
			       "manifest: scan: \"tailoring\" must be null or an object with a "
			       "sha256");
	return 0;
}

int image_scan_parse(struct json_object *scan, struct image_scan *sc, struct dock_err *err)
{
	struct json_object *ps;
	uint64_t floor = 0;
	int r;

	memset(sc, 0, sizeof(*sc));
	sc->is_floor = sc->is_score_cp = -1;
	if (scan == NULL)
		return 0;
	if (!json_object_is_type(scan, json_type_object))
		return err_set(err, 400, EINVAL, "manifest: \"scan\" must be an object");
	if (jsonin_str(scan, "manifest: scan", "scanner", true, sc->is_scanner,
		       sizeof(sc->is_scanner), err) < 0 ||
	    image_scan_digests(scan, sc, err) < 0)
		return -EINVAL;
	r = jsonin_u64(scan, "manifest: scan", "floor", false, 0, 100, &floor, err);
	if (JSONIN_BAD(r))
		return -EINVAL;
	sc->is_floor = r == 0 ? (int)floor : -1;
	if (!json_object_object_get_ex(scan, "profiles", &ps) ||
	    !json_object_is_type(ps, json_type_array) || json_object_array_length(ps) == 0 ||
	    json_object_array_length(ps) > IMAGE_SCAN_MAX_PROFILES)
		return err_set(err, 400, EINVAL,
			       "manifest: scan: \"profiles\" must be an array of 1 to %d",
			       IMAGE_SCAN_MAX_PROFILES);
	for (size_t i = 0; i < json_object_array_length(ps); i++) {
		struct image_scan_profile *sp = &sc->is_profiles[i];

		if (image_scan_profile(json_object_array_get_idx(ps, i), sp, err) < 0)
			return -EINVAL;
		sc->is_n_profiles++;
		if (sp->sp_score_cp >= 0 &&
		    (sc->is_score_cp < 0 || sp->sp_score_cp < sc->is_score_cp))
			sc->is_score_cp = sp->sp_score_cp;
	}
	sc->is_have = true;
	return 0;
}

const char *image_scan_score_str(const struct image_scan *sc, char *buf, size_t size)
{
	if (!sc->is_have || sc->is_score_cp < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d.%02d%%", sc->is_score_cp / 100, sc->is_score_cp % 100);
	return buf;
}

int image_manifest_parse(const char *buf, size_t len, struct image *im, struct dock_err *err)
{
	struct json_object *o = NULL, *boot = NULL, *files, *scan = NULL;
	int r = -EINVAL;

	memset(im, 0, sizeof(*im));
	if (jsonin_parse("manifest", buf, len, &image_manifest_limits, &o, err) < 0)
		return -EINVAL;
	if (image_parse_head(o, im, err) < 0)
		goto out;
	if (!json_object_object_get_ex(o, "files", &files) ||
	    !json_object_is_type(files, json_type_array)) {
		err_set(err, 400, EINVAL, "manifest: \"files\" must be an array");
		goto out;
	}
	if (image_parse_files(files, im, err) < 0 || image_parse_boot(o, im, &boot, err) < 0 ||
	    image_parse_recommended(o, im, err) < 0 || image_parse_service(o, im, err) < 0 ||
	    image_parse_inputs(o, im, err) < 0 || image_parse_repro(o, im, err) < 0 ||
	    image_parse_roles(boot, im, err) < 0)
		goto out;
	json_object_object_get_ex(o, "scan", &scan);
	if (image_scan_parse(scan, &im->im_scan, err) < 0)
		goto out;
	r = 0;
out:
	json_object_put(o);
	return r;
}

int image_path(const struct image *im, const struct image_file *f, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", im->im_dir, f->if_name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int image_load(const char *image_dir, const char *name, struct image *im, struct dock_err *err)
{
	char path[PATH_MAX], *buf;
	size_t len = 0;
	int r;

	if (validate_name("image", name, IMAGE_NAME_MAX, err) < 0)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/manifest.json", image_dir, name) >=
	    sizeof(path))
		return err_set(err, 400, ENAMETOOLONG, "image \"%s\": path too long", name);
	r = file_read(path, IMAGE_MANIFEST_MAX, &buf, &len);
	if (r == -ENOENT)
		return err_set(err, 404, ENOENT, "image \"%s\" not found in %s", name, image_dir);
	if (r < 0)
		return err_set(err, r == -E2BIG ? 400 : 500, -r, "image \"%s\": %s: %s", name, path,
			       strerror(-r));
	r = image_manifest_parse(buf, len, im, err);
	free(buf);
	if (r < 0) {
		err_prefix(err, "image \"%s\": ", name);
		return r;
	}
	if (strcmp(im->im_name, name) != 0)
		return err_set(err, 400, EINVAL, "image \"%s\": manifest names it \"%s\"", name,
			       im->im_name);
	snprintf(im->im_dir, sizeof(im->im_dir), "%s/%s", image_dir, name);
	return 0;
}
