/*
 * debian.h: the Debian half of a golden image build (boot = efi recipes).
 * debian_bootstrap(, err) makes a minimal Debian tree with debootstrap; the
 * caller then copies the recipe's trees over it; debian_harden(, err) applies
 * the hardening, installs the agent and the service unit, and sysprep's
 * the tree, ready to be packed (pack.h).
 */
#ifndef ISC_DEBIAN_H
#define ISC_DEBIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "err.h"
#include "recipe.h"

#define DEBIAN_KVER_MAX 128

struct debian_info {
	char di_mirror[RECIPE_MIRROR_MAX + 1]; /* where the packages came from */
	char di_kver[DEBIAN_KVER_MAX];         /* the one kernel in /boot */
	json_object *di_packages;              /* [{"name","version"}], sorted; the caller's */
	size_t di_setuid_cleared;              /* setuid/setgid bits taken away */
};

/*
 * debootstrap rc->rc_suite (minbase) with the ISC base packages and the
 * recipe's into root (which must not exist), from rc->rc_mirror, else
 * $ISC_MIRROR, else the machine's apt sources. cache_dir keeps downloaded
 * .debs between builds ("" for none).
 */
int debian_bootstrap(const struct recipe *rc, const char *root, const char *cache_dir,
		     struct debian_info *di, struct dock_err *err);

/*
 * Harden the tree (service user, units, firewall, sysctls, audit, sshd,
 * locked root, no setuid bits, no timers), install the agent, regenerate
 * the initramfs, sysprep, record the packages and the kernel. epoch
 * (SOURCE_DATE_EPOCH, repro.h): GRUB's memdisk has it, every mtime is
 * clamped to it.
 */
int debian_harden(const struct recipe *rc, const char *root, const char *agent, long long epoch,
		  struct debian_info *di, struct dock_err *err);

#endif
