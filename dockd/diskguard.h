/* diskguard: a full disk loses nothing. Below min_free_mib free on the
 * filesystem of state_dir or of the volume pool (state_dir/volumes), the
 * operations that take space (create, start, cleanse) are refused with 507
 * naming the free space and the limit; stop, destroy and reads go on. A
 * small reserve file (state_dir/reserve, DISKGUARD_RESERVE_MIB) is given
 * back when a record cannot be written for want of space, so that stop and
 * destroy, the ways to free space, can always record their steps; it is
 * taken again once the space is back. */
#ifndef ISC_DISKGUARD_H
#define ISC_DISKGUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

#define DISKGUARD_RESERVE_MIB 4

/* Pure: 0 when avail_bytes is at least min_free_mib (0: no floor), else 507
 * "OP refused: LABEL PATH: N MiB free, below min_free_mib M". */
int diskguard_judge(const char *op, const char *label, const char *path, uint64_t avail_bytes,
		    uint64_t min_free_mib, struct dock_err *err);

/* statvfs of state_dir and of the volume pool, judged; on success the
 * reserve is taken again if it was given back. */
int diskguard_check(const struct dock_config *cfg, const char *op, struct dock_err *err);

/* Take the reserve (at dock start; logged if it cannot be). */
void diskguard_reserve_init(const struct dock_config *cfg);
/* Give the reserve back; true if that freed space (the caller retries). */
bool diskguard_reserve_release(void);

#endif
