/* config-reload: the diff of two configurations, key by key. The table is
 * data: one row per dockd.conf key, where its value lives, and whether
 * its users read it at each use (live) or once at start-up. */
#include "config-reload.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum cr_kind { CR_BYTES, CR_STR, CR_EGRESS };

struct cr_key {
	const char *cr_name;
	enum cr_kind cr_kind;
	size_t cr_off, cr_size;
	bool cr_live;
};

#define F(f) offsetof(struct dock_config, f), sizeof(((struct dock_config *)0)->f)
#define BYTES(k, f, live)               \
	{                               \
		k, CR_BYTES, F(f), live \
	}
#define STRK(k, f, live)              \
	{                             \
		k, CR_STR, F(f), live \
	}

/* Live: the spec check (max_*), the publish check (publish_ports), the
 * stop, cleanse and agent timers, the free-space floor, the console log's
 * retention (at each start) read node_cfg at each use; the log level is
 * the logger's (the caller sets it); egress_private is the firewall's (the
 * caller rebuilds its private set before applying, and keeps the old value
 * when that fails). Not live:
 * paths opened or bound at start-up, the libvirt connection, the subnet
 * pool (the firewall's sets and the nodes' networks are built from it at
 * start-up), the VMM jail's uid range and group (running
 * nodes' QEMU hold them), the audit trail's syslog socket and reserve. */
static const struct cr_key cr_keys[] = {
	STRK("uri", dc_uri, false),
	STRK("state_dir", dc_state_dir, false),
	STRK("run_dir", dc_run_dir, false),
	STRK("image_dir", dc_image_dir, false),
	STRK("template_dir", dc_template_dir, false),
	STRK("socket_group", dc_socket_group, false),
	BYTES("accel", dc_accel, false),
	STRK("subnet_pool", dc_pool_text, false),
	BYTES("log_level", dc_log_level, true),
	BYTES("max_memory_mib", dc_max_memory_mib, true),
	BYTES("max_vcpus", dc_max_vcpus, true),
	BYTES("max_scratch_mib", dc_max_scratch_mib, true),
	BYTES("stop_timeout_s", dc_stop_timeout_s, true),
	BYTES("agent_deadline_s", dc_agent_deadline_s, true),
	BYTES("shutdown_timeout_s", dc_shutdown_timeout_s, true),
	BYTES("ready_timeout_s", dc_ready_timeout_s, true),
	STRK("forensic_pubkey", dc_forensic_pubkey, false),
	STRK("ovmf_code", dc_ovmf_code, false),
	STRK("ovmf_vars", dc_ovmf_vars, false),
	BYTES("min_free_mib", dc_min_free_mib, true),
	STRK("syslog_socket", dc_syslog_socket, false),
	BYTES("audit_reserve_mib", dc_audit_reserve_mib, false),
	BYTES("console_log_max_mib", dc_console_log_max_mib, true),
	BYTES("console_log_files", dc_console_log_files, true),
	{ "egress_private", CR_EGRESS, 0, 0, true },  /* the caller rebuilds the set first */
	BYTES("publish_ports", dc_publish_lo, true),  /* with dc_publish_hi, below */
	BYTES("vmm_uid_range", dc_vmm_uid_lo, false), /* with dc_vmm_uid_hi */
	STRK("vmm_group", dc_vmm_group, false),
	STRK("audit_group", dc_audit_group, true), /* looked up at each request */
	BYTES("guest_audit_retention_s", dc_guest_audit_retention_s, false),
	STRK("dns_upstream", dc_dns_upstream, true), /* read at each create */
};

static bool cr_differ(const struct cr_key *k, const struct dock_config *a,
		      const struct dock_config *b)
{
	const char *pa = (const char *)a + k->cr_off, *pb = (const char *)b + k->cr_off;

	switch (k->cr_kind) {
	case CR_STR:
		return strncmp(pa, pb, k->cr_size) != 0;
	case CR_BYTES:
		/* The ranges' two ends are one key. */
		if (strcmp(k->cr_name, "publish_ports") == 0)
			return a->dc_publish_lo != b->dc_publish_lo ||
				a->dc_publish_hi != b->dc_publish_hi;
		if (strcmp(k->cr_name, "vmm_uid_range") == 0)
			return a->dc_vmm_uid_lo != b->dc_vmm_uid_lo ||
				a->dc_vmm_uid_hi != b->dc_vmm_uid_hi;
		return memcmp(pa, pb, k->cr_size) != 0;
	case CR_EGRESS:
		if (a->dc_n_egress_private != b->dc_n_egress_private)
			return true;
		for (size_t i = 0; i < a->dc_n_egress_private; i++)
			if (strcmp(a->dc_egress_private[i], b->dc_egress_private[i]) != 0)
				return true;
		return false;
	}
	return true;
}

static void cr_add(char *list, unsigned *n, const char *name)
{
	size_t used = strlen(list);

	snprintf(list + used, CONFIG_KEYS_TEXT - used, "%s%s", *n > 0 ? ", " : "", name);
	(*n)++;
}

void config_reload_diff(const struct dock_config *cur, const struct dock_config *next,
			struct config_diff *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < sizeof(cr_keys) / sizeof(cr_keys[0]); i++) {
		const struct cr_key *k = &cr_keys[i];

		if (!cr_differ(k, cur, next))
			continue;
		if (k->cr_live)
			cr_add(d->cd_live, &d->cd_n_live, k->cr_name);
		else
			cr_add(d->cd_restart, &d->cd_n_restart, k->cr_name);
	}
}

void config_reload_apply(struct dock_config *cur, const struct dock_config *next)
{
	for (size_t i = 0; i < sizeof(cr_keys) / sizeof(cr_keys[0]); i++) {
		const struct cr_key *k = &cr_keys[i];

		if (!k->cr_live)
			continue;
		if (k->cr_kind == CR_EGRESS) {
			memcpy(cur->dc_egress_private, next->dc_egress_private,
			       sizeof(cur->dc_egress_private));
			cur->dc_n_egress_private = next->dc_n_egress_private;
			continue;
		}
		if (strcmp(k->cr_name, "publish_ports") == 0) {
			cur->dc_publish_lo = next->dc_publish_lo;
			cur->dc_publish_hi = next->dc_publish_hi;
			continue;
		}
		memcpy((char *)cur + k->cr_off, (const char *)next + k->cr_off, k->cr_size);
	}
}

bool config_reload_is_live(const char *key)
{
	for (size_t i = 0; i < sizeof(cr_keys) / sizeof(cr_keys[0]); i++)
		if (strcmp(cr_keys[i].cr_name, key) == 0)
			return cr_keys[i].cr_live;
	return false;
}
