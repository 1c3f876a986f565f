/* diskguard: the floor of free space and the records' reserve (the
 * contract is diskguard.h). */
#include "diskguard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"

#define MIB (1024ULL * 1024)

static pthread_mutex_t diskguard_lock = PTHREAD_MUTEX_INITIALIZER;
static char diskguard_reserve[PATH_MAX]; /* "" until diskguard_reserve_init */
static bool diskguard_reserve_held;

int diskguard_judge(const char *op, const char *label, const char *path, uint64_t avail_bytes,
		    uint64_t min_free_mib, struct dock_err *err)
{
	if (min_free_mib == 0 || avail_bytes >= min_free_mib * MIB)
		return 0;
	return err_set(err, 507, ENOSPC,
		       "%s refused: %s %s: %llu MiB free, below min_free_mib %llu", op, label, path,
		       (unsigned long long)(avail_bytes / MIB), (unsigned long long)min_free_mib);
}

/* Space an unprivileged writer could still use: the dock is root, but the
 * blocks ext4 keeps for root are not the dock's to spend. */
static int diskguard_avail(const char *path, uint64_t *avail, struct dock_err *err)
{
	struct statvfs sv;

	if (statvfs(path, &sv) < 0)
		return err_set(err, 500, errno, "%s: statvfs: %s", path, strerror(errno));
	*avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

/* The reserve file, allocated for real (not sparse). */
static void diskguard_take_locked(void)
{
	int fd;

	if (diskguard_reserve[0] == '\0' || diskguard_reserve_held)
		return;
	fd = open(diskguard_reserve, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warn("diskguard: %s: %s", diskguard_reserve, strerror(errno));
		return;
	}
	errno = posix_fallocate(fd, 0, (off_t)(DISKGUARD_RESERVE_MIB * MIB));
	if (errno == 0 && fsync(fd) == 0) {
		diskguard_reserve_held = true;
		log_debug("diskguard: reserve of %d MiB held in %s", DISKGUARD_RESERVE_MIB,
			  diskguard_reserve);
	} else {
		log_warn("diskguard: cannot reserve %d MiB in %s: %s", DISKGUARD_RESERVE_MIB,
			 diskguard_reserve, strerror(errno));
		if (ftruncate(fd, 0) < 0)
			log_warn("diskguard: %s: %s", diskguard_reserve, strerror(errno));
	}
	close(fd);
}

int diskguard_check(const struct dock_config *cfg, const char *op, struct dock_err *err)
{
	char pool[PATH_MAX];
	struct dock_err e = { 0 };
	uint64_t avail;

	snprintf(pool, sizeof(pool), "%s/volumes", cfg->dc_state_dir);
	if (diskguard_avail(cfg->dc_state_dir, &avail, &e) < 0 ||
	    diskguard_judge(op, "state_dir", cfg->dc_state_dir, avail, cfg->dc_min_free_mib, &e) <
		    0 ||
	    diskguard_avail(pool, &avail, &e) < 0 ||
	    diskguard_judge(op, "volume pool", pool, avail, cfg->dc_min_free_mib, &e) < 0) {
		log_warn("diskguard: %s", e.de_msg);
		return err_set(err, e.de_status, e.de_errno, "%s", e.de_msg);
	}
	pthread_mutex_lock(&diskguard_lock);
	diskguard_take_locked();
	pthread_mutex_unlock(&diskguard_lock);
	return 0;
}

void diskguard_reserve_init(const struct dock_config *cfg)
{
	pthread_mutex_lock(&diskguard_lock);
	snprintf(diskguard_reserve, sizeof(diskguard_reserve), "%s/reserve", cfg->dc_state_dir);
	diskguard_reserve_held = false;
	diskguard_take_locked();
	pthread_mutex_unlock(&diskguard_lock);
}

bool diskguard_reserve_release(void)
{
	bool freed = false;
	int fd;

	pthread_mutex_lock(&diskguard_lock);
	if (diskguard_reserve_held) {
		fd = open(diskguard_reserve, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		freed = fd >= 0 && ftruncate(fd, 0) == 0;
		if (fd >= 0)
			close(fd);
		diskguard_reserve_held = false;
		log_warn(
			"diskguard: out of space: the %d MiB reserve %s given back to record a step",
			DISKGUARD_RESERVE_MIB, diskguard_reserve);
	}
	pthread_mutex_unlock(&diskguard_lock);
	return freed;
}
