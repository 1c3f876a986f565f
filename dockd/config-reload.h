/* config-reload: what a SIGHUP may change. Compares the running
 * configuration with the file read again, key by key, and applies only
 * the keys that are read where they are used (limits, timeouts, the log
 * level, the publish range); the rest (directories, the libvirt URI, the
 * subnet pool, the firewall's private ranges, ...) need a restart. Pure. */
#ifndef ISC_CONFIG_RELOAD_H
#define ISC_CONFIG_RELOAD_H

#include <stdbool.h>

#include "config.h"

/* Key names, ", "-separated; long enough for every key at once. */
#define CONFIG_KEYS_TEXT 640

struct config_diff {
	char cd_live[CONFIG_KEYS_TEXT];    /* changed, applied by config_reload_apply */
	char cd_restart[CONFIG_KEYS_TEXT]; /* changed, kept until a restart */
	unsigned cd_n_live, cd_n_restart;
};

/* Which keys differ between `cur` and `next`, and whether each can change
 * live. */
void config_reload_diff(const struct dock_config *cur, const struct dock_config *next,
			struct config_diff *d);

/* Copy the live keys of `next` into `cur` (the restart-only ones stay). */
void config_reload_apply(struct dock_config *cur, const struct dock_config *next);

/* Whether `key` (a dockd.conf key) may change without a restart. */
bool config_reload_is_live(const char *key);

#endif
