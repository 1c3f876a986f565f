/*
 * check_swap.c: fact "swap", the active swap areas (/proc/swaps) and for
 * each whether it is dm-crypt: the device mapper target's uuid says CRYPT-,
 * or every device it is built on (LVM on LUKS) is dm-crypt.
 */
#include "facts.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Stacking depth followed through /sys/.../slaves. */
#define SWAP_DEPTH_MAX 8
/* Devices one layer may be built on (a striped or mirrored LV). */
#define SWAP_SLAVES_MAX 16

/*
 * Is the block device whose sysfs directory is SYSDIR (under the root)
 * dm-crypt, or built only on dm-crypt devices? Returns 1, 0 or a
 * negative errno (the device is not in sysfs).
 */
static int swap_crypt_dir(const struct fact_env *e, const char *sysdir, int depth)
{
	char path[PATH_MAX], uuid[160];
	struct dirent *de;
	int n = 0, all = 1, r;
	DIR *d;

	if (depth > SWAP_DEPTH_MAX)
		return 0;
	if (snprintf(path, sizeof(path), "%s/dm/uuid", sysdir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = (int)file_read_value(e, path, uuid, sizeof(uuid));
	if (r >= 0 && strncmp(uuid, "CRYPT-", 6) == 0)
		return 1;
	if (r < 0) {
		/* Not device mapper: encrypted only if it is dm-crypt itself. */
		if (snprintf(path, sizeof(path), "%s/dev", sysdir) >= (int)sizeof(path) ||
		    !file_exists(e, path))
			return -ENODEV;
		return 0;
	}
	/* Another device mapper target: look at what it is built on. */
	if (snprintf(path, sizeof(path), "%s%s/slaves", e->fe_root, sysdir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d)) != NULL && n < SWAP_SLAVES_MAX) {
		char sub[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "/sys/class/block/%s", de->d_name) >=
		    (int)sizeof(sub))
			continue;
		n++;
		if (swap_crypt_dir(e, sub, depth + 1) != 1)
			all = 0;
	}
	closedir(d);
	return n > 0 && all;
}

/*
 * /dev/NAME: /sys/class/block/NAME. Failing that (a node created by
 * cryptsetup without udev, /dev/mapper/NAME), the device number of the
 * node: /sys/dev/block/MAJ:MIN.
 */
static int swap_crypt(const struct fact_env *e, const char *dev)
{
	const char *base = strrchr(dev, '/');
	char sysdir[PATH_MAX], full[PATH_MAX];
	struct stat st;
	int r = -ENODEV;

	base = base ? base + 1 : dev;
	if (*base &&
	    snprintf(sysdir, sizeof(sysdir), "/sys/class/block/%s", base) < (int)sizeof(sysdir))
		r = swap_crypt_dir(e, sysdir, 0);
	if (r != -ENODEV)
		return r;
	if (snprintf(full, sizeof(full), "%s%s", e->fe_root, dev) >= (int)sizeof(full) ||
	    stat(full, &st) < 0 || !S_ISBLK(st.st_mode))
		return -ENODEV;
	snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	return swap_crypt_dir(e, sysdir, 0);
}

/* "disk": the whole disk the area lives on (a swap file: its filesystem's). */
static void swap_disk(struct jline *j, const struct fact_env *e, const char *path)
{
	char full[PATH_MAX], disk[32];
	struct stat st;
	dev_t dev;

	if (snprintf(full, sizeof(full), "%s%s", e->fe_root, path) >= (int)sizeof(full) ||
	    stat(full, &st) < 0)
		return;
	dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	if (major(dev) != 0 && blockdev_disk(e, major(dev), minor(dev), disk, sizeof(disk)) == 0)
		jl_str(j, "disk", disk);
}

void check_swap(struct jline *j, const struct fact_env *e)
{
	struct file_lines fl;
	bool truncated = false;
	unsigned count = 0;
	char *line, *f[5];
	int r;

	jl_open_arr(j, "devices");
	if ((r = file_lines_open(&fl, e, "/proc/swaps")) < 0) {
		jl_error_errno(j, "/proc/swaps", r);
	} else {
		/* "Filename Type Size Used Priority", then one area per line. */
		if ((r = file_lines_next(&fl, &line)) > 0) {
			while ((r = file_lines_next(&fl, &line)) > 0) {
				struct jl_mark m = jl_mark(j);
				int crypt;

				if (file_split(line, f, 5) < 2)
					continue;
				file_unescape_octal(f[0]);
				if (count == FACT_ARRAY_MAX) {
					truncated = true;
					break;
				}
				/* A swap file is as encrypted as its filesystem: not judged here. */
				crypt = strcmp(f[1], "partition") == 0 ? swap_crypt(e, f[0]) : 0;
				jl_open_obj(j, NULL);
				jl_str(j, "path", f[0]);
				jl_str(j, "type", f[1]);
				if (crypt >= 0)
					jl_bool(j, "dm_crypt", crypt == 1);
				else
					jl_error(j, "%s: not found in /sys", f[0]);
				swap_disk(j, e, f[0]);
				jl_close(j);
				if (jl_undo_if_full(j, &m)) {
					truncated = true;
					break;
				}
				count++;
			}
		}
		if (r < 0)
			jl_error_errno(j, "/proc/swaps", r);
		file_lines_close(&fl);
	}
	jl_close(j);
	if (truncated)
		jl_truncated(j);
}
