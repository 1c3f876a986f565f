/* virt: the dock's only door to libvirt. Every call takes names the dock
 * chose and reports libvirt's own message on failure. Removal functions
 * treat "already gone" as success, so undo and destroy can be re-run. */
#ifndef ISC_VIRT_H
#define ISC_VIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "luks.h"

enum virt_kind { VIRT_DOMAINS, VIRT_NETWORKS, VIRT_SECRETS };

int virt_open(const char *uri, struct dock_err *err);
void virt_close(void);

/* "kvm" or "qemu" (TCG) for <domain type=...>; auto decides once and logs. */
const char *virt_domain_type(enum accel accel);

int virt_pool_ensure(const char *name, const char *xml, struct dock_err *err);

int virt_volume_create(const char *pool, const char *xml, char *path, size_t size,
		       struct dock_err *err);
int virt_volume_remove(const char *pool, const char *vol_name, struct dock_err *err);
/* Names of the pool's volumes (malloc'd array of malloc'd strings). */
int virt_volume_list(const char *pool, char ***names, size_t *n, struct dock_err *err);

/* Define an ephemeral private secret and give it the key. */
int virt_secret_create(const char *xml, const struct luks_key *key, char uuid[37],
		       struct dock_err *err);
/* Remove the secret whose usage is the volume path (uuid may be empty). */
int virt_secret_remove(const char *uuid, const char *volume_path, struct dock_err *err);
/* 1 if libvirt holds the secret, 0 if not (an ephemeral one vanishes when
 * libvirtd restarts), negative errno if libvirt cannot say. */
int virt_secret_exists(const char *uuid, struct dock_err *err);
/* Usage ids (volume paths) of all volume secrets. */
int virt_secret_usages(char ***usages, size_t *n, struct dock_err *err);

int virt_network_create(const char *name, const char *xml, struct dock_err *err);
int virt_network_remove(const char *name, struct dock_err *err);
/* Add (or remove) the DNS host entry ip -> hostname of network `name`, in
 * its running dnsmasq and its definition (virNetworkUpdate: no restart).
 * Adding what is there is no error, nor removing what is not. */
int virt_network_dns_host(const char *name, const char *ip, const char *hostname, bool add,
			  struct dock_err *err);

enum virt_dom_state {
	VIRT_DOM_ABSENT,
	VIRT_DOM_OFF,
	VIRT_DOM_RUNNING,
	VIRT_DOM_PAUSED,
	VIRT_DOM_OTHER
};

int virt_domain_define(const char *xml, struct dock_err *err);
/* UUID of an existing domain (redefinition must keep it); "" if absent. */
void virt_domain_uuid(const char *name, char uuid[37]);
/* Start with a memory hard limit (cgroup) in KiB, 0 for none. */
int virt_domain_start(const char *name, unsigned long long hard_limit_kib, struct dock_err *err);
/* ACPI shutdown, wait up to timeout_s, then power off. */
int virt_domain_stop(const char *name, unsigned timeout_s, struct dock_err *err);
/* Wait up to timeout_s for the domain to be off (or gone): 0, or -ETIMEDOUT. */
int virt_domain_wait_off(const char *name, unsigned timeout_s, struct dock_err *err);
int virt_domain_remove(const char *name, struct dock_err *err);
/* Pause (true) or resume (false) a running domain. */
int virt_domain_pause(const char *name, bool pause, struct dock_err *err);
/* Write the (paused) domain's memory to path, a new file: an ELF core
 * (memory only, uncompressed). libvirtd opens path itself and hands QEMU
 * the descriptor. On failure path may exist, partly written. */
int virt_domain_dump_memory(const char *name, const char *path, struct dock_err *err);
int virt_domain_state(const char *name, enum virt_dom_state *st, struct dock_err *err);

/* Names of all domains or networks starting with prefix (malloc'd). */
int virt_list(enum virt_kind kind, const char *prefix, char ***names, size_t *n,
	      struct dock_err *err);
void virt_free_names(char **names, size_t n);

/* XML description (malloc'd; NULL when absent): a running domain's live
 * XML by name, a network by name, a secret by uuid. */
char *virt_xml(enum virt_kind kind, const char *id);
/* The domain's memory hard limit in KiB (0 when unlimited or absent). */
unsigned long long virt_domain_hard_limit(const char *name);
/* Set the memory hard limit of a running or paused domain (live). */
int virt_domain_set_hard_limit(const char *name, unsigned long long kib, struct dock_err *err);
/* Number of vCPUs the running domain has (0 when not running). */
unsigned virt_domain_vcpus(const char *name);

#endif
