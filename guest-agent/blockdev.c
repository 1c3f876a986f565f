/*
 * blockdev.c: which whole disk a block device lives on. A partition's disk
 * is its parent in sysfs (/sys/.../vdb/vdb1 has a "partition" file); a
 * device mapper target (dm-crypt, LVM) lives on the disks of the devices
 * in its slaves/ directory, followed down. The dock uses the answer to see
 * that /var, /scratch and swap are on the node's ephemeral disk, whatever
 * partitions and dm-crypt layers the image puts in between.
 */
#include "facts.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Stacking depth followed through slaves/, and devices per layer. */
#define BLOCKDEV_DEPTH_MAX  8
#define BLOCKDEV_SLAVES_MAX 16

/* Record NAME as the disk; a second, different disk makes the answer -EXDEV. */
static int blockdev_note(char *disk, size_t size, const char *name)
{
	if (disk[0] == '\0') {
		if (strlen(name) >= size)
			return -ENAMETOOLONG;
		snprintf(disk, size, "%s", name);
		return 0;
	}
	return strcmp(disk, name) == 0 ? 0 : -EXDEV;
}

static int blockdev_walk(const struct fact_env *e, const char *sysdir, int depth, char *disk,
			 size_t size)
{
	char path[PATH_MAX], real[PATH_MAX], *slash;
	struct dirent *de;
	int n = 0, r = 0;
	DIR *d;

	if (depth > BLOCKDEV_DEPTH_MAX)
		return -ELOOP;
	if (snprintf(path, sizeof(path), "%s%s/slaves", e->fe_root, sysdir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((d = opendir(path)) != NULL) {
		while (r == 0 && (de = readdir(d)) != NULL && n < BLOCKDEV_SLAVES_MAX) {
			char sub[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			n++;
			if (snprintf(sub, sizeof(sub), "/sys/class/block/%s", de->d_name) >=
			    (int)sizeof(sub))
				r = -ENAMETOOLONG;
			else
				r = blockdev_walk(e, sub, depth + 1, disk, size);
		}
		closedir(d);
		if (n > 0 || r < 0)
			return r;
	}
	/* Not stacked: a disk, or a partition of one. */
	if (snprintf(path, sizeof(path), "%s%s", e->fe_root, sysdir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!realpath(path, real))
		return -errno;
	if (snprintf(path, sizeof(path), "%s/partition", real) < (int)sizeof(path) &&
	    access(path, F_OK) == 0) {
		slash = strrchr(real, '/');
		if (slash == NULL || slash == real)
			return -ENODEV;
		*slash = '\0';
	}
	slash = strrchr(real, '/');
	return blockdev_note(disk, size, slash ? slash + 1 : real);
}

int blockdev_disk(const struct fact_env *e, unsigned maj, unsigned min, char *disk, size_t size)
{
	char sysdir[64];

	if (size == 0)
		return -EINVAL;
	disk[0] = '\0';
	snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u", maj, min);
	return blockdev_walk(e, sysdir, 0, disk, size);
}
