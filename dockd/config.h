/* config: dockd.conf, `key = value` lines. Errors name the file and line. */
#ifndef ISC_CONFIG_H
#define ISC_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "err.h"
#include "log.h"
#include "netpool.h"
#include "vmm.h"

/* Directories end up in unix socket paths (108 bytes) and libvirt XML. */
#define CONFIG_DIR_MAX     200
#define CONFIG_PRIVATE_MAX 32 /* egress_private entries */
/* console_log_files' bound: virtlogd's names path.0 ... path.8 */
#define CONFIG_CONSOLE_FILES_MAX 9

enum accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };

struct dock_config {
	char dc_uri[256];
	char dc_state_dir[CONFIG_DIR_MAX];    /* node records, ephemeral volumes */
	char dc_run_dir[CONFIG_DIR_MAX];      /* API socket, agent sockets, console logs */
	char dc_image_dir[CONFIG_DIR_MAX];    /* <image_dir>/<name>/manifest.json */
	char dc_template_dir[CONFIG_DIR_MAX]; /* libvirt XML templates */
	char dc_socket_group[32];             /* besides root, members may use the API */
	enum accel dc_accel;
	struct netpool dc_pool;
	char dc_pool_text[32];
	enum log_level dc_log_level;
	uint64_t dc_max_memory_mib;
	uint64_t dc_max_vcpus;
	uint64_t dc_max_scratch_mib;
	uint64_t dc_stop_timeout_s;     /* graceful shutdown before destroy */
	uint64_t dc_agent_deadline_s;   /* heartbeat/report older than this: silent/STALE */
	uint64_t dc_shutdown_timeout_s; /* cleanse: each graceful step (agent, then ACPI) */
	uint64_t dc_ready_timeout_s;    /* cleanse: the new boot's agent hello */
	char dc_forensic_pubkey
		[CONFIG_DIR_MAX];          /* operator's X25519 public key (hex file); "" = none */
	char dc_ovmf_code[CONFIG_DIR_MAX]; /* UEFI firmware (read-only pflash) for efi images */
	char dc_ovmf_vars[CONFIG_DIR_MAX]; /* its variable store template, copied per node */
	uint64_t dc_min_free_mib;   /* below: create/start/cleanse refused (diskguard.h); 0 off */
	char dc_syslog_socket[108]; /* the audit trail's syslog copy goes here (unix dgram) */
	uint64_t dc_audit_reserve_mib;   /* space kept for the audit records of stop and destroy */
	uint64_t dc_console_log_max_mib; /* a console log past this at a start is rotated */
	uint64_t dc_console_log_files;   /* rotated console log files kept (path.0 ...) */
	/* egress_private: CIDRs no node reaches unless allowed, beyond the built-in ones */
	char dc_egress_private[CONFIG_PRIVATE_MAX][20];
	size_t dc_n_egress_private;
	uint16_t dc_publish_lo, dc_publish_hi; /* publish_ports: host ports a publish may take */
	uint32_t dc_vmm_uid_lo, dc_vmm_uid_hi; /* vmm_uid_range: a uid per node's QEMU */
	char dc_vmm_group[32];   /* every node's QEMU's gid: libvirt's QEMU group (vmm.h) */
	char dc_audit_group[32]; /* besides root, members may read guest audit; "" none */
	uint64_t
		dc_guest_audit_retention_s; /* a destroyed node's guest audit log is kept this long */
	/* where a node's resolver forwards its allow entries by name; "": the
	 * first nameserver of /etc/resolv.conf (config_dns_upstream) */
	char dc_dns_upstream[16];
};

void config_defaults(struct dock_config *cfg);
int config_load(const char *path, struct dock_config *cfg, struct dock_err *err);
/* Parse from memory; `name` labels errors. */
int config_parse(const char *name, const char *text, struct dock_config *cfg, struct dock_err *err);
const char *config_accel_name(enum accel a);
/* A key's new name if `key` is an old one (still accepted, with a
 * warning in the log), else NULL. */
const char *config_renamed_to(const char *key);
/* publish_ports "LOW-HIGH", 1 <= LOW <= HIGH <= 65535. 0, or -EINVAL. */
int config_port_range(const char *s, uint16_t *lo, uint16_t *hi);
/* The files the configuration names must exist: the UEFI firmware and its
 * variable store template (a dock without them could not boot efi images,
 * and would only find out at a node's start). */
int config_check_files(const struct dock_config *cfg, struct dock_err *err);
/* The resolver allow entries by name are forwarded to: dns_upstream, else
 * the first IPv4 nameserver of resolv_conf (NULL: /etc/resolv.conf); 400
 * saying so when neither gives one. */
int config_dns_upstream(const struct dock_config *cfg, const char *resolv_conf, char out[16],
			struct dock_err *err);

#endif
