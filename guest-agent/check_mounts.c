/*
 * check_mounts.c: fact "mounts", what is mounted where, from which source,
 * read-only or not (/proc/self/mountinfo), kernel pseudo filesystems left
 * out. tmpfs stays: a writable path on tmpfs is exactly what to see.
 */
#include "facts.h"

#include <stdio.h>
#include <string.h>

static const char *const mounts_pseudo[] = {
	"autofs", "binfmt_misc", "bpf",        "cgroup",     "cgroup2",   "configfs", "debugfs",
	"devpts", "devtmpfs",    "efivarfs",   "fusectl",    "hugetlbfs", "mqueue",   "nsfs",
	"proc",   "pstore",      "rpc_pipefs", "securityfs", "selinuxfs", "sysfs",    "tracefs",
};

static bool mounts_is_pseudo(const char *fstype)
{
	for (size_t i = 0; i < sizeof(mounts_pseudo) / sizeof(mounts_pseudo[0]); i++)
		if (strcmp(fstype, mounts_pseudo[i]) == 0)
			return true;
	return false;
}

/* Is "ro" one of the comma-separated options? */
static bool mounts_has_ro(const char *opts)
{
	while (*opts) {
		size_t l = strcspn(opts, ",");

		if (l == 2 && strncmp(opts, "ro", 2) == 0)
			return true;
		opts += l;
		if (*opts == ',')
			opts++;
	}
	return false;
}

/* "disk": the whole disk under a block-device mount (MAJ:MIN from mountinfo). */
static void mounts_disk(struct jline *j, const struct fact_env *e, const char *majmin,
			const char *source)
{
	unsigned maj, min;
	char disk[32];

	if (strncmp(source, "/dev/", 5) != 0 || sscanf(majmin, "%u:%u", &maj, &min) != 2 ||
	    maj == 0)
		return;
	if (blockdev_disk(e, maj, min, disk, sizeof(disk)) == 0)
		jl_str(j, "disk", disk);
}

void check_mounts(struct jline *j, const struct fact_env *e)
{
	struct file_lines fl;
	bool truncated = false;
	unsigned count = 0;
	char *line, *f[32];
	int r, n, dash;

	jl_open_arr(j, "mounts");
	if ((r = file_lines_open(&fl, e, "/proc/self/mountinfo")) < 0) {
		jl_error_errno(j, "/proc/self/mountinfo", r);
	} else {
		/*
		 * "ID PARENT MAJ:MIN ROOT TARGET OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS"
		 * The mount is read-only if the mount or its superblock is.
		 */
		while ((r = file_lines_next(&fl, &line)) > 0) {
			struct jl_mark m = jl_mark(j);

			n = file_split(line, f, 32);
			for (dash = 6; dash < n && strcmp(f[dash], "-") != 0; dash++)
				;
			if (dash + 2 >= n)
				continue;
			if (mounts_is_pseudo(f[dash + 1]))
				continue;
			if (count == FACT_ARRAY_MAX) {
				truncated = true;
				break;
			}
			file_unescape_octal(f[4]);
			file_unescape_octal(f[dash + 2]);
			jl_open_obj(j, NULL);
			jl_str(j, "target", f[4]);
			jl_str(j, "source", f[dash + 2]);
			jl_str(j, "fstype", f[dash + 1]);
			jl_bool(j, "ro",
				mounts_has_ro(f[5]) ||
					(dash + 3 < n && mounts_has_ro(f[dash + 3])));
			mounts_disk(j, e, f[2], f[dash + 2]);
			jl_close(j);
			if (jl_undo_if_full(j, &m)) {
				truncated = true;
				break;
			}
			count++;
		}
		if (r < 0)
			jl_error_errno(j, "/proc/self/mountinfo", r);
		file_lines_close(&fl);
	}
	jl_close(j);
	if (truncated)
		jl_truncated(j);
}
