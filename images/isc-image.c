/*
 * isc-image: builds ISC images from recipes (images/recipes/), lists,
 * exports and removes the built ones. This file is the CLI: the options
 * and the verbs are tables (data: a verb's operands, the options it takes,
 * its help, the room that runs it), and main() is the one place an error
 * is printed. The rooms: recipe.c (recipes), kernel.c (kernel and
 * modules), cpio.c (the initramfs archive), stage.c (the root tree),
 * build.c (the steps of a build), imgmanifest.c (manifest.json), imgdir.c
 * (where the images are: dockd.conf's image_dir; ls, rm), debian.c and
 * pack.c (boot = efi golden images), export.c (export). External tools
 * (mke2fs, qemu-img, gzip, busybox) run through posix_spawnp, never
 * through a shell.
 *
 * A recipe may extend another ("base = micro", then its own name and a
 * root_overlay whose files replace the base's) and declares the service the
 * image runs (service, service_user, ...), which goes into manifest.json as
 * the policy the dock judges the node against.
 *
 * Exit status: 0 done, 1 failed (one line on stderr says why), 2 a usage
 * error (an unknown verb or option, a missing or extra operand).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "build.h"
#include "export.h"
#include "imgdir.h"
#include "imgio.h"
#include "kernel.h"
#include "rescan.h"
#include "version.h"

#define EXIT_USAGE 2

/* The options, each a bit a verb's table row may name. --out is two rows:
 * build's (and ls's old) name for --images, and where an export goes. */
enum img_opt {
	OPT_CONFIG = 1 << 0,
	OPT_IMAGES = 1 << 1,
	OPT_OUT_IMAGES = 1 << 2,
	OPT_OUT_EXPORT = 1 << 3,
	OPT_AGENT = 1 << 4,
	OPT_KVER = 1 << 5,
	OPT_JSON = 1 << 6,
	OPT_FORMAT = 1 << 7,
	OPT_FORCE = 1 << 8,
	OPT_HELP = 1 << 9,
	OPT_ROOT = 1 << 10,
};
/* Every verb takes these: where the images are, and its help. */
#define OPT_EVERY (OPT_CONFIG | OPT_IMAGES | OPT_HELP)

static const struct img_option {
	const char *op_name;
	int op_has_arg;
	enum img_opt op_bit;
	const char *op_arg; /* the value's name in help, NULL for a flag */
	const char *op_help;
} img_options[] = {
	{ "images", required_argument, OPT_IMAGES, "DIR",
	  "the image directory (default: image_dir in dockd.conf)" },
	{ "out", required_argument, OPT_OUT_IMAGES, "DIR", "the same as --images" },
	{ "out", required_argument, OPT_OUT_EXPORT, "DIR",
	  "where the export is written (default: build/exports)" },
	{ "config", required_argument, OPT_CONFIG, "PATH",
	  "the dockd.conf whose image_dir is the default (default: " IMGDIR_CONFIG ")" },
	{ "agent", required_argument, OPT_AGENT, "PATH",
	  "the static isc-agent to install (default: the one next to isc-image, else ../lib/isc/isc-agent)" },
	{ "kernel-version", required_argument, OPT_KVER, "VER",
	  "the host kernel to boot (default: the newest /boot/vmlinuz-*" KERNEL_FLAVOUR ")" },
	{ "json", no_argument, OPT_JSON, NULL,
	  "a JSON array (name, path, built, kernel_version, boot, base_size, base_sha256, scap_score)" },
	{ "format", required_argument, OPT_FORMAT, "ovf|ova|qcow2",
	  "the export's format (required)" },
	{ "force", no_argument, OPT_FORCE, NULL, "replace an export that exists" },
	{ "root", required_argument, OPT_ROOT, "DIR",
	  "scan this unpacked root tree instead of reading the image's base.qcow2 back" },
	{ "help", no_argument, OPT_HELP, NULL, "this help" },
};
#define N_OPTIONS (sizeof(img_options) / sizeof(img_options[0]))

/* What the options set, and where this binary is. */
struct img_opts {
	char *io_images;
	char *io_config;
	char *io_out; /* export's --out */
	char *io_agent;
	char *io_kver;
	char *io_format;
	char *io_root; /* scan's --root */
	bool io_json, io_force;
	char io_exe_dir[PATH_MAX];
};

/* A verb's run: 0 or a negative errno with err set (printed by main), or a
 * positive exit status when the verb printed its own message (export). */
typedef int img_run_fn(struct img_opts *o, char *const *args, struct dock_err *err);

static img_run_fn img_cmd_build, img_cmd_ls, img_cmd_rm, img_cmd_export, img_cmd_scan;

static const struct img_command {
	const char *ic_name;
	const char *ic_operands; /* for usage lines */
	int ic_nargs;            /* operands after the verb */
	unsigned ic_opts;        /* enum img_opt bits */
	img_run_fn *ic_run;
	const char *ic_summary;
	const char *ic_help; /* what the verb does, before its options */
} img_commands[] = {
	{ "build", "RECIPE", 1, OPT_EVERY | OPT_OUT_IMAGES | OPT_AGENT | OPT_KVER, img_cmd_build,
	  "build an image from a recipe into the image directory",
	  "Builds RECIPE (a name in images/recipes/ next to isc-image or in the source\n"
	  "tree, or a recipe file's path) into DIR/NAME, NAME the recipe's name. The\n"
	  "image appears whole or not at all; an image of that name is replaced.\n"
	  "Golden images (boot = efi, e.g. debian-web) need root and the Debian archive.\n" },
	{ "ls", "", 0, OPT_EVERY | OPT_OUT_IMAGES | OPT_JSON, img_cmd_ls,
	  "list the images in the image directory",
	  "Lists the images in the image directory (subdirectories holding a\n"
	  "manifest.json), sorted by name: name, build time, kernel, base disk size and\n"
	  "sha256. A missing directory is an error naming it.\n" },
	{ "rm", "NAME", 1, OPT_EVERY, img_cmd_rm, "remove an image from the image directory",
	  "Removes DIR/NAME, which must be an image (a directory holding manifest.json).\n"
	  "It disappears in one step (renamed away, then deleted). Nodes created from it\n"
	  "keep running, but the dock will not start or create nodes of it any more.\n" },
	{ "export", "NAME", 1, OPT_EVERY | OPT_OUT_EXPORT | OPT_FORMAT | OPT_FORCE, img_cmd_export,
	  "export an image as OVF, OVA or qcow2 for other hypervisors",
	  "Exports the image NAME from the image directory: ovf (a directory with the\n"
	  "descriptor, a streamOptimized VMDK and a SHA256 .mf), ova (the same in one tar\n"
	  "archive) or qcow2 (an image directory with a compressed base.qcow2). The base\n"
	  "disk's digest is checked against the manifest first. Prints the path written.\n" },
	{ "scan", "NAME", 1, OPT_EVERY | OPT_ROOT, img_cmd_scan,
	  "rescan an image with OpenSCAP (its recipe's profiles, tailoring and floor)",
	  "Scans the golden image NAME offline with OpenSCAP as its build did: the root\n"
	  "filesystem read back from base.qcow2 (libguestfs), scanned read-only for each\n"
	  "of the recipe's scap_profiles, tailored and stock. The ARF results and HTML\n"
	  "reports beside the image and the manifest's \"scan\" block are replaced;\n"
	  "base.qcow2 is not touched. Under the recipe's scap_floor the scan is recorded\n"
	  "and the command fails naming the failing rules. Needs root.\n" },
};
#define N_COMMANDS (sizeof(img_commands) / sizeof(img_commands[0]))

static const struct img_command *img_command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(img_commands[i].ic_name, name) == 0)
			return &img_commands[i];
	return NULL;
}

/* --- help --------------------------------------------------------------------------------- */

static void img_option_lines(FILE *f, unsigned bits)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct img_option *op = &img_options[i];
		char left[64];

		if (!(bits & op->op_bit))
			continue;
		snprintf(left, sizeof(left), "%s--%s%s%s", op->op_bit == OPT_HELP ? "-h, " : "",
			 op->op_name, op->op_arg ? " " : "", op->op_arg ? op->op_arg : "");
		fprintf(f, "  %-24s %s\n", left, op->op_help);
	}
}

static void img_usage_line(FILE *f, const struct img_command *c)
{
	fprintf(f, "usage: isc-image %s%s%s [OPTIONS]\n", c->ic_name, c->ic_operands[0] ? " " : "",
		c->ic_operands);
}

static void img_help_verb(FILE *f, const struct img_command *c)
{
	img_usage_line(f, c);
	fprintf(f, "\n%s\nOptions:\n", c->ic_help);
	img_option_lines(f, c->ic_opts);
	fprintf(f, "\nExit status: 0 done, 1 failed, 2 usage error.\n");
}

static void img_help(FILE *f)
{
	fprintf(f,
		"usage: isc-image [--config PATH] [--images DIR] VERB [ARGS] [OPTIONS]\n"
		"       isc-image help [VERB] | VERB --help | --version | -h | --help\n\n"
		"Builds ISC golden images from recipes; lists, exports and removes them.\n\n"
		"Verbs:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char left[32];

		snprintf(left, sizeof(left), "%s%s%s", img_commands[i].ic_name,
			 img_commands[i].ic_operands[0] ? " " : "", img_commands[i].ic_operands);
		fprintf(f, "  %-14s %s\n", left, img_commands[i].ic_summary);
	}
	fprintf(f, "  %-14s %s\n\nOptions (--images and --config also after the verb):\n",
		"help [VERB]", "this help, or a verb's with its options");
	img_option_lines(f, OPT_EVERY);
	fprintf(f,
		"  %-24s %s\n\n"
		"The image directory is --images DIR if given, else image_dir in dockd.conf\n"
		"(the directory dockd reads images from), else dockd's default " IMGDIR_DEFAULT "\n"
		"when " IMGDIR_CONFIG " does not exist.\n\n"
		"Exit status: 0 done, 1 failed, 2 usage error.\n",
		"--version", "the version and exit");
}

/* A usage error: one line saying what, one saying where help is. */
static int img_usage_error(const struct img_command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int img_usage_error(const struct img_command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "isc-image%s%s: ", c ? " " : "", c ? c->ic_name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(isc-image help%s%s)\n", c ? " " : "", c ? c->ic_name : "");
	return EXIT_USAGE;
}

/* --- the verbs ---------------------------------------------------------------------------- */

/* libsodium, the directory of this binary (recipes and the agent are found
 * next to it), and a umask that leaves built files world-readable. */
static int img_setup(struct img_opts *o, struct dock_err *err)
{
	char *slash;
	ssize_t n;

	if (sodium_init() < 0)
		return err_set(err, IMG_ERR, EIO, "libsodium failed to initialise");
	n = readlink("/proc/self/exe", o->io_exe_dir, sizeof(o->io_exe_dir) - 1);
	if (n < 0)
		return err_set(err, IMG_ERR, errno, "/proc/self/exe: %s", strerror(errno));
	o->io_exe_dir[n] = '\0';
	slash = strrchr(o->io_exe_dir, '/');
	if (slash)
		*slash = '\0';
	umask(022);
	return 0;
}

static int img_cmd_build(struct img_opts *o, char *const *args, struct dock_err *err)
{
	struct img_dir d;
	int r;

	if ((r = imgdir_resolve(o->io_images, o->io_config, &d, err)) < 0 ||
	    (r = img_setup(o, err)) < 0)
		return r;
	return build_image(args[0], o->io_exe_dir, d.id_path, o->io_agent, o->io_kver, err);
}

static int img_cmd_ls(struct img_opts *o, char *const *args, struct dock_err *err)
{
	struct img_dir d;
	int r;

	(void)args;
	if ((r = imgdir_resolve(o->io_images, o->io_config, &d, err)) < 0)
		return r;
	return imgdir_ls(&d, o->io_json, err);
}

static int img_cmd_rm(struct img_opts *o, char *const *args, struct dock_err *err)
{
	struct img_dir d;
	int r;

	if ((r = imgdir_resolve(o->io_images, o->io_config, &d, err)) < 0 ||
	    (r = imgdir_rm(&d, args[0], err)) < 0) {
		err_prefix(err, "rm %s: ", args[0]);
		return r;
	}
	img_log("removed %s/%s", d.id_path, args[0]);
	return 0;
}

static int img_cmd_scan(struct img_opts *o, char *const *args, struct dock_err *err)
{
	struct img_dir d;
	int r;

	if ((r = imgdir_resolve(o->io_images, o->io_config, &d, err)) < 0 ||
	    (r = img_setup(o, err)) < 0 ||
	    (r = rescan_image(d.id_path, args[0], o->io_exe_dir, o->io_root, err)) < 0) {
		err_prefix(err, "scan %s: ", args[0]);
		return r;
	}
	return 0;
}

/* export.c parses its own arguments: it is handed a well-formed argv, the
 * image directory resolved here. */
static int img_cmd_export(struct img_opts *o, char *const *args, struct dock_err *err)
{
	char *argv[12];
	struct img_dir d;
	int argc = 0, r;

	if (o->io_format == NULL) {
		fprintf(stderr, "isc-image export %s: --format is required: ovf, ova or qcow2\n",
			args[0]);
		return EXIT_USAGE;
	}
	if ((r = imgdir_resolve(o->io_images, o->io_config, &d, err)) < 0)
		return r;
	argv[argc++] = (char *)"export";
	argv[argc++] = (char *)"--format";
	argv[argc++] = o->io_format;
	argv[argc++] = (char *)"--images";
	argv[argc++] = d.id_path;
	if (o->io_out) {
		argv[argc++] = (char *)"--out";
		argv[argc++] = o->io_out;
	}
	if (o->io_force)
		argv[argc++] = (char *)"--force";
	argv[argc++] = (char *)"--";
	argv[argc++] = args[0];
	argv[argc] = NULL;
	return export_main(argc, argv);
}

/* --- arguments ---------------------------------------------------------------------------- */

/* Set what option bit says from its value. */
static void img_opt_set(struct img_opts *o, enum img_opt bit, char *val)
{
	switch (bit) {
	case OPT_CONFIG:
		o->io_config = val;
		break;
	case OPT_IMAGES:
	case OPT_OUT_IMAGES:
		o->io_images = val;
		break;
	case OPT_OUT_EXPORT:
		o->io_out = val;
		break;
	case OPT_AGENT:
		o->io_agent = val;
		break;
	case OPT_KVER:
		o->io_kver = val;
		break;
	case OPT_FORMAT:
		o->io_format = val;
		break;
	case OPT_JSON:
		o->io_json = true;
		break;
	case OPT_FORCE:
		o->io_force = true;
		break;
	case OPT_ROOT:
		o->io_root = val;
		break;
	case OPT_HELP:
		break;
	}
}

/* argv[0..argc) by getopt_long, with the options whose bits are in bits
 * (c NULL: before the verb, where --version is one too, and the first
 * operand ends the options). Returns -1 to go on, else the exit status. */
static int img_parse(int argc, char **argv, const struct img_command *c, unsigned bits,
		     struct img_opts *o)
{
	struct option lo[N_OPTIONS + 2];
	size_t n = 0;
	int ch, idx;

	for (size_t i = 0; i < N_OPTIONS; i++)
		if (bits & img_options[i].op_bit)
			lo[n++] = (struct option){ img_options[i].op_name,
						   img_options[i].op_has_arg, NULL, (int)i };
	if (!c)
		lo[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0; /* a fresh scan (glibc), of a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, c ? ":h" : "+:h", lo, &idx)) != -1) {
		if (ch == 'V') {
			printf("%s\n", ISC_VERSION_LINE("isc-image"));
			return 0;
		}
		if (ch == 'h' ||
		    (ch >= 0 && ch < (int)N_OPTIONS && img_options[ch].op_bit == OPT_HELP)) {
			if (c)
				img_help_verb(stdout, c);
			else
				img_help(stdout);
			return 0;
		}
		if (ch == ':')
			return img_usage_error(c, "option %s needs a value", argv[optind - 1]);
		/* optopt: a short option's letter, or a long option's val (< ' '). */
		if (ch == '?' && optopt > ' ' && optopt < 127) {
			char opt[3] = { '-', (char)optopt, '\0' };

			return img_usage_error(c, "unknown option %s", opt);
		}
		if (ch == '?')
			return img_usage_error(c, "unknown option %s", argv[optind - 1]);
		img_opt_set(o, img_options[ch].op_bit, optarg);
	}
	return -1;
}

/* `isc-image help [VERB]` */
static int img_help_cmd(int argc, char **argv)
{
	const struct img_command *c;

	if (argc == 1) {
		img_help(stdout);
		return 0;
	}
	if (argc > 2)
		return img_usage_error(NULL, "help takes one verb, not %s", argv[2]);
	if (!(c = img_command_find(argv[1])))
		return img_usage_error(NULL, "unknown verb \"%s\" (build, ls, rm, export, scan)",
				       argv[1]);
	img_help_verb(stdout, c);
	return 0;
}

int main(int argc, char **argv)
{
	struct img_opts o = { 0 };
	const struct img_command *c;
	struct dock_err err = { 0 };
	int r;

	if ((r = img_parse(argc, argv, NULL, OPT_EVERY, &o)) >= 0)
		return r;
	if (optind >= argc) {
		img_help(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0)
		return img_help_cmd(argc, argv);
	if (!(c = img_command_find(argv[0])))
		return img_usage_error(
			NULL, "unknown verb \"%s\" (build, ls, rm, export, scan, help)", argv[0]);
	if ((r = img_parse(argc, argv, c, c->ic_opts, &o)) >= 0)
		return r;
	if (argc - optind != c->ic_nargs) {
		img_usage_line(stderr, c);
		return img_usage_error(c, "%s",
				       argc - optind < c->ic_nargs ? "an operand is missing"
								   : "too many operands");
	}
	r = c->ic_run(&o, argv + optind, &err);
	/* The one place a verb's error is printed: once, as "isc-image: ...". */
	img_log_err(&err);
	return r < 0 ? 1 : r;
}
