/*
 * isc-image: builds ISC images from recipes (images/recipes/), lists the
 * built ones and exports them for other hypervisors. This file is the CLI:
 * the options, the command table (data: a name, its operands, its options,
 * the room that runs it) and the one place an error is printed. The rooms:
 * recipe.c (recipes), kernel.c (kernel and modules), cpio.c (the initramfs
 * archive), stage.c (the root tree), build.c (the steps of a build),
 * imgmanifest.c (manifest.json and ls), debian.c and pack.c (boot = efi
 * golden images), export.c (export). External tools (mke2fs, qemu-img,
 * gzip, busybox) run through posix_spawnp, never through a shell.
 *
 * A recipe may extend another ("base = micro", then its own name and a
 * root_overlay whose files replace the base's) and declares the service the
 * image runs (service, service_user, ...), which goes into manifest.json as
 * the policy the dock judges the node against.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "build.h"
#include "export.h"
#include "imgio.h"
#include "kernel.h"

#define DEFAULT_OUT "build/images"

/* What the options set: --out, --agent, --kernel-version, and where this binary is. */
struct img_opts {
	const char *io_out;
	const char *io_agent;
	const char *io_kver;
	char io_exe_dir[PATH_MAX];
};

static int img_cmd_build(const struct img_opts *o, char *const *args, struct dock_err *err)
{
	return build_image(args[0], o->io_exe_dir, o->io_out, o->io_agent, o->io_kver, err);
}

static int img_cmd_ls(const struct img_opts *o, char *const *args, struct dock_err *err)
{
	(void)args;
	return manifest_ls(o->io_out, err);
}

static const struct img_command {
	const char *ic_name;
	/* Parses the rest of argv itself (only as the first argument). */
	int (*ic_main)(int argc, char **argv);
	int ic_nargs;       /* operands after the command's name */
	bool ic_build_opts; /* takes --agent and --kernel-version */
	int (*ic_run)(const struct img_opts *o, char *const *args, struct dock_err *err);
} img_commands[] = {
	{ "export", export_main, 0, false, NULL },
	{ "build", NULL, 1, true, img_cmd_build },
	{ "ls", NULL, 0, false, img_cmd_ls },
};

static const struct img_command *img_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(img_commands) / sizeof(img_commands[0]); i++)
		if (strcmp(img_commands[i].ic_name, name) == 0)
			return &img_commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: isc-image build RECIPE [--out DIR] [--agent PATH] [--kernel-version VER]\n"
		"       isc-image ls [--out DIR]\n"
		"       isc-image export NAME --format ovf|ova|qcow2 [--out DIR] [--images DIR] [--force]\n"
		"RECIPE is a name from images/recipes/ or a path. Default --out: " DEFAULT_OUT
		", --agent: isc-agent next to isc-image,\n"
		"--kernel-version: the newest /boot/vmlinuz-*" KERNEL_FLAVOUR ".\n");
}

/* The options into o; -1 to go on, else the exit status (--help: 0, a bad option: 2). */
static int img_parse_opts(int argc, char **argv, struct img_opts *o)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "agent", required_argument, NULL, 'a' },
		{ "kernel-version", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->io_out = optarg;
			break;
		case 'a':
			o->io_agent = optarg;
			break;
		case 'k':
			o->io_kver = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

/* libsodium, the directory of this binary (recipes and the agent are found
 * next to it), and a umask that leaves built files world-readable. */
static int img_setup(struct img_opts *o)
{
	char *slash;
	ssize_t n;

	if (sodium_init() < 0) {
		img_log("libsodium failed to initialise");
		return -1;
	}
	n = readlink("/proc/self/exe", o->io_exe_dir, sizeof(o->io_exe_dir) - 1);
	if (n < 0) {
		img_log("/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	o->io_exe_dir[n] = '\0';
	slash = strrchr(o->io_exe_dir, '/');
	if (slash)
		*slash = '\0';
	umask(022);
	return 0;
}

int main(int argc, char **argv)
{
	struct img_opts o = { .io_out = DEFAULT_OUT };
	const struct img_command *cmd;
	struct dock_err err = { 0 };
	int r;

	if (argc > 1 && (cmd = img_command_find(argv[1])) != NULL && cmd->ic_main)
		return cmd->ic_main(argc - 1, argv + 1);
	if ((r = img_parse_opts(argc, argv, &o)) >= 0)
		return r;
	if (img_setup(&o) < 0)
		return 1;
	cmd = optind < argc ? img_command_find(argv[optind]) : NULL;
	if (!cmd || !cmd->ic_run || argc - optind - 1 != cmd->ic_nargs ||
	    (!cmd->ic_build_opts && (o.io_agent || o.io_kver))) {
		usage(stderr);
		return 2;
	}
	r = cmd->ic_run(&o, argv + optind + 1, &err);
	/* The one place a command's error is printed: once, as "isc-image: ...". */
	img_log_err(&err);
	return r < 0 ? 1 : 0;
}
