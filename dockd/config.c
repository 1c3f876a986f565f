/* config: dockd.conf parser. The key table is data: one row per key. */
#include "config.h"

#include "file.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ISC_TEMPLATE_DIR
#define ISC_TEMPLATE_DIR "/usr/local/share/isc/templates"
#endif

#define CONFIG_MAX_BYTES (64 * 1024)
#define CONFIG_MAX_LINE  1024

enum config_kind {
	CK_STR,
	CK_PATH,
	CK_IPV4,
	CK_U64,
	CK_ACCEL,
	CK_POOL,
	CK_LEVEL,
	CK_PORTS,
	CK_UIDS
};

struct config_key {
	const char *ck_name;
	enum config_kind ck_kind;
	size_t ck_off;
	size_t ck_size;
	uint64_t ck_min, ck_max;
};

#define STR(k, f, kind)                                                                            \
	{                                                                                          \
		k, kind, offsetof(struct dock_config, f), sizeof(((struct dock_config *)0)->f), 0, \
			0                                                                          \
	}
#define U64(k, f, lo, hi)                                                            \
	{                                                                            \
		k, CK_U64, offsetof(struct dock_config, f), sizeof(uint64_t), lo, hi \
	}

static const struct config_key config_keys[] = {
	STR("uri", dc_uri, CK_STR),
	STR("state_dir", dc_state_dir, CK_PATH),
	STR("run_dir", dc_run_dir, CK_PATH),
	STR("image_dir", dc_image_dir, CK_PATH),
	STR("template_dir", dc_template_dir, CK_PATH),
	STR("socket_group", dc_socket_group, CK_STR),
	{ "accel", CK_ACCEL, offsetof(struct dock_config, dc_accel), 0, 0, 0 },
	{ "subnet_pool", CK_POOL, 0, 0, 0, 0 },
	{ "log_level", CK_LEVEL, offsetof(struct dock_config, dc_log_level), 0, 0, 0 },
	U64("max_memory_mib", dc_max_memory_mib, 64, 1024 * 1024),
	U64("max_vcpus", dc_max_vcpus, 1, 256),
	U64("max_scratch_mib", dc_max_scratch_mib, 16, 64ULL * 1024 * 1024),
	U64("stop_timeout_s", dc_stop_timeout_s, 1, 3600),
	U64("agent_deadline_s", dc_agent_deadline_s, 5, 3600),
	U64("shutdown_timeout_s", dc_shutdown_timeout_s, 1, 3600),
	U64("ready_timeout_s", dc_ready_timeout_s, 10, 3600),
	STR("forensic_pubkey", dc_forensic_pubkey, CK_PATH),
	STR("ovmf_code", dc_ovmf_code, CK_PATH),
	STR("ovmf_vars", dc_ovmf_vars, CK_PATH),
	U64("min_free_mib", dc_min_free_mib, 0, 1024 * 1024),
	STR("syslog_socket", dc_syslog_socket, CK_PATH),
	U64("audit_reserve_mib", dc_audit_reserve_mib, 0, 1024),
	U64("console_log_max_mib", dc_console_log_max_mib, 1, 1024),
	U64("console_log_files", dc_console_log_files, 1, CONFIG_CONSOLE_FILES_MAX),
	{ "publish_ports", CK_PORTS, 0, 0, 0, 0 },
	{ "vmm_uid_range", CK_UIDS, 0, 0, 0, 0 },
	STR("vmm_group", dc_vmm_group, CK_STR),
	STR("audit_group", dc_audit_group, CK_STR),
	U64("guest_audit_retention_s", dc_guest_audit_retention_s, 0, 100ULL * 366 * 86400),
	STR("dns_upstream", dc_dns_upstream, CK_IPV4),
};

/* Keys renamed so that every time ends in _s and every size in _mib: the
 * old name still works, with a warning naming the new one. */
static const struct {
	const char *cr_old, *cr_new;
} config_renamed[] = {
	{ "stop_timeout", "stop_timeout_s" },
	{ "agent_deadline", "agent_deadline_s" },
};

static const char *const accel_names[] = {
	[ACCEL_AUTO] = "auto", [ACCEL_KVM] = "kvm", [ACCEL_TCG] = "tcg"
};

const char *config_accel_name(enum accel a)
{
	return accel_names[a];
}

void config_defaults(struct dock_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->dc_uri, sizeof(cfg->dc_uri), "qemu:///system");
	snprintf(cfg->dc_state_dir, sizeof(cfg->dc_state_dir), "/var/lib/isc");
	snprintf(cfg->dc_run_dir, sizeof(cfg->dc_run_dir), "/run/isc");
	snprintf(cfg->dc_image_dir, sizeof(cfg->dc_image_dir), "/var/lib/isc/images");
	snprintf(cfg->dc_template_dir, sizeof(cfg->dc_template_dir), "%s", ISC_TEMPLATE_DIR);
	snprintf(cfg->dc_socket_group, sizeof(cfg->dc_socket_group), "isc");
	snprintf(cfg->dc_pool_text, sizeof(cfg->dc_pool_text), "10.231.0.0/16");
	netpool_parse(cfg->dc_pool_text, &cfg->dc_pool, NULL);
	cfg->dc_accel = ACCEL_AUTO;
	cfg->dc_log_level = LOG_LVL_INFO;
	cfg->dc_max_memory_mib = 16384;
	cfg->dc_max_vcpus = 8;
	cfg->dc_max_scratch_mib = 64 * 1024;
	cfg->dc_stop_timeout_s = 30;
	cfg->dc_agent_deadline_s = 60;
	cfg->dc_shutdown_timeout_s = 30;
	cfg->dc_ready_timeout_s = 300;
	cfg->dc_min_free_mib = 512;
	cfg->dc_publish_lo = 1024; /* below: the host's own services */
	cfg->dc_publish_hi = 65535;
	/* Debian's ovmf: 4 MiB flash, no secure boot, so no SMM (slow under TCG). */
	snprintf(cfg->dc_ovmf_code, sizeof(cfg->dc_ovmf_code), "/usr/share/OVMF/OVMF_CODE_4M.fd");
	snprintf(cfg->dc_ovmf_vars, sizeof(cfg->dc_ovmf_vars), "/usr/share/OVMF/OVMF_VARS_4M.fd");
	snprintf(cfg->dc_syslog_socket, sizeof(cfg->dc_syslog_socket), "/dev/log");
	cfg->dc_audit_reserve_mib = 8;
	cfg->dc_console_log_max_mib = 1;
	cfg->dc_console_log_files = 3;
	cfg->dc_vmm_uid_lo = VMM_UID_LO_DEFAULT;
	cfg->dc_vmm_uid_hi = VMM_UID_HI_DEFAULT;
	snprintf(cfg->dc_vmm_group, sizeof(cfg->dc_vmm_group), "%s", VMM_GROUP_DEFAULT);
	cfg->dc_guest_audit_retention_s = 30 * 86400; /* audit_group "": root only */
}

int config_check_files(const struct dock_config *cfg, struct dock_err *err)
{
	const struct {
		const char *key, *path;
	} files[] = { { "ovmf_code", cfg->dc_ovmf_code }, { "ovmf_vars", cfg->dc_ovmf_vars } };
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (stat(files[i].path, &st) < 0)
			return err_set(err, 400, errno, "%s %s: %s", files[i].key, files[i].path,
				       strerror(errno));
		if (!S_ISREG(st.st_mode))
			return err_set(err, 400, EINVAL, "%s %s: not a regular file", files[i].key,
				       files[i].path);
	}
	return 0;
}

static int config_port(const char *s, const char **end, uint16_t *out)
{
	unsigned v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && p - s < 5; p++)
		v = v * 10 + (unsigned)(*p - '0');
	if (p == s || v < 1 || v > 65535)
		return -EINVAL;
	*end = p;
	*out = (uint16_t)v;
	return 0;
}

int config_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	uint16_t l, h;
	const char *p;

	if (config_port(s, &p, &l) < 0 || *p != '-' || config_port(p + 1, &p, &h) < 0 ||
	    *p != '\0' || l > h)
		return -EINVAL;
	*lo = l;
	*hi = h;
	return 0;
}

static int config_set_ipv4(const char *name, unsigned line, const struct config_key *k,
			   const char *val, char *field, struct dock_err *err)
{
	struct in_addr a;

	if (strlen(val) >= k->ck_size || inet_pton(AF_INET, val, &a) != 1)
		return err_set(err, 400, EINVAL, "%s:%u: %s must be an IPv4 address", name, line,
			       k->ck_name);
	memcpy(field, val, strlen(val) + 1);
	return 0;
}

static int config_set(const char *name, unsigned line, const struct config_key *k, const char *val,
		      struct dock_config *cfg, struct dock_err *err)
{
	char *field = (char *)cfg + k->ck_off;
	unsigned long long u;
	char *end;

	switch (k->ck_kind) {
	case CK_IPV4:
		return config_set_ipv4(name, line, k, val, field, err);
	case CK_PATH:
		if (val[0] != '/')
			return err_set(err, 400, EINVAL, "%s:%u: %s must be an absolute path", name,
				       line, k->ck_name);
		__attribute__((fallthrough));
	case CK_STR:
		if (strlen(val) >= k->ck_size || val[0] == '\0')
			return err_set(err, 400, EINVAL, "%s:%u: %s must be 1..%zu characters",
				       name, line, k->ck_name, k->ck_size - 1);
		memcpy(field, val, strlen(val) + 1);
		return 0;
	case CK_U64:
		errno = 0;
		u = strtoull(val, &end, 10);
		if (errno != 0 || *end != '\0' || end == val || val[0] == '-' || u < k->ck_min ||
		    u > k->ck_max)
			return err_set(err, 400, ERANGE, "%s:%u: %s must be a number in %llu..%llu",
				       name, line, k->ck_name, (unsigned long long)k->ck_min,
				       (unsigned long long)k->ck_max);
		*(uint64_t *)(void *)field = u;
		return 0;
	case CK_ACCEL:
		for (size_t i = 0; i < sizeof(accel_names) / sizeof(accel_names[0]); i++) {
			if (strcmp(val, accel_names[i]) == 0) {
				cfg->dc_accel = (enum accel)i;
				return 0;
			}
		}
		return err_set(err, 400, EINVAL,
			       "%s:%u: accel must be auto, kvm or tcg, not \"%s\"", name, line,
			       val);
	case CK_LEVEL:
		if (log_parse_level(val, &cfg->dc_log_level) < 0)
			return err_set(
				err, 400, EINVAL,
				"%s:%u: log_level must be error, warning, info or debug, not \"%s\"",
				name, line, val);
		return 0;
	case CK_POOL:
		if (strlen(val) >= sizeof(cfg->dc_pool_text) ||
		    netpool_parse(val, &cfg->dc_pool, err) < 0) {
			err_set(err, 400, EINVAL, "bad subnet pool");
			err_prefix(err, "%s:%u: ", name, line);
			return -EINVAL;
		}
		memcpy(cfg->dc_pool_text, val, strlen(val) + 1);
		return 0;
	case CK_PORTS:
		if (config_port_range(val, &cfg->dc_publish_lo, &cfg->dc_publish_hi) < 0)
			return err_set(
				err, 400, EINVAL,
				"%s:%u: publish_ports must be LOW-HIGH within 1-65535, not \"%s\"",
				name, line, val);
		return 0;
	case CK_UIDS:
		if (vmm_range_parse(val, &cfg->dc_vmm_uid_lo, &cfg->dc_vmm_uid_hi) < 0)
			return err_set(
				err, 400, EINVAL,
				"%s:%u: vmm_uid_range must be LOW-HIGH, 1000 <= LOW <= HIGH < "
				"2147483647, at most %u uids, not \"%s\"",
				name, line, VMM_UID_MAX, val);
		return 0;
	}
	return -EINVAL;
}

/* egress_private = CIDR[, CIDR]...: "a.b.c.d/p", host bits zero. */
static int config_egress_private(const char *name, unsigned line, char *val,
				 struct dock_config *cfg, struct dock_err *err)
{
	char *save = NULL;

	cfg->dc_n_egress_private = 0;
	for (char *c = strtok_r(val, ",", &save); c != NULL; c = strtok_r(NULL, ",", &save)) {
		char *cidr = text_trim(c), *slash = strchr(cidr, '/'), *end = NULL;
		struct in_addr a;
		unsigned long p = 0;

		if (slash != NULL) {
			*slash = '\0';
			p = strtoul(slash + 1, &end, 10);
		}
		if (slash == NULL || end == slash + 1 || *end != '\0' || p > 32 ||
		    inet_pton(AF_INET, cidr, &a) != 1 ||
		    (p < 32 && (ntohl(a.s_addr) & (0xffffffffu >> p)) != 0) ||
		    cfg->dc_n_egress_private == CONFIG_PRIVATE_MAX)
			return err_set(
				err, 400, EINVAL,
				"%s:%u: egress_private: \"%s%s\" is not a CIDR a.b.c.d/p with "
				"host bits zero (at most %d)",
				name, line, cidr, slash != NULL ? "/..." : "", CONFIG_PRIVATE_MAX);
		snprintf(cfg->dc_egress_private[cfg->dc_n_egress_private++],
			 sizeof(cfg->dc_egress_private[0]), "%s/%lu", cidr, p);
	}
	return 0;
}

const char *config_renamed_to(const char *key)
{
	for (size_t i = 0; i < sizeof(config_renamed) / sizeof(config_renamed[0]); i++)
		if (strcmp(key, config_renamed[i].cr_old) == 0)
			return config_renamed[i].cr_new;
	return NULL;
}

/* The key's current name; an old one is said, once per line, in the log. */
static const char *config_new_name(const char *name, unsigned line, const char *key)
{
	const char *to = config_renamed_to(key);

	if (to == NULL)
		return key;
	log_warn("%s:%u: %s is deprecated, use %s (same value)", name, line, key, to);
	return to;
}

int config_parse(const char *name, const char *text, struct dock_config *cfg, struct dock_err *err)
{
	unsigned line = 0;
	const char *p = text;

	while (*p != '\0') {
		char buf[CONFIG_MAX_LINE + 1];
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *raw, *val, *eq;
		const char *key;
		size_t i;

		line++;
		if (n > CONFIG_MAX_LINE)
			return err_set(err, 400, E2BIG, "%s:%u: line longer than %d bytes", name,
				       line, CONFIG_MAX_LINE);
		memcpy(buf, p, n);
		buf[n] = '\0';
		p += n + (nl ? 1 : 0);
		raw = text_trim(buf);
		if (*raw == '\0' || *raw == '#')
			continue;
		eq = strchr(raw, '=');
		if (eq == NULL)
			return err_set(err, 400, EINVAL, "%s:%u: expected key = value", name, line);
		*eq = '\0';
		val = text_trim(eq + 1);
		key = config_new_name(name, line, text_trim(raw));
		if (strcmp(key, "egress_private") == 0) {
			if (config_egress_private(name, line, val, cfg, err) < 0)
				return -EINVAL;
			continue;
		}
		for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
			if (strcmp(key, config_keys[i].ck_name) == 0)
				break;
		if (i == sizeof(config_keys) / sizeof(config_keys[0]))
			return err_set(err, 400, EINVAL, "%s:%u: unknown key \"%s\"", name, line,
				       key);
		if (config_set(name, line, &config_keys[i], val, cfg, err) < 0)
			return -EINVAL;
	}
	return 0;
}

int config_load(const char *path, struct dock_config *cfg, struct dock_err *err)
{
	char *text;
	size_t len;
	int r = file_read(path, CONFIG_MAX_BYTES, &text, &len);

	if (r < 0)
		return err_set(err, 400, -r, "config %s: %s", path,
			       r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
	r = config_parse(path, text, cfg, err);
	free(text);
	return r;
}

int config_dns_upstream(const struct dock_config *cfg, const char *resolv_conf, char out[16],
			struct dock_err *err)
{
	const char *path = resolv_conf != NULL ? resolv_conf : "/etc/resolv.conf";
	char *text = NULL, *line, *save = NULL;
	struct in_addr a;
	size_t len = 0;
	int r;

	if (cfg->dc_dns_upstream[0] != '\0') {
		snprintf(out, 16, "%s", cfg->dc_dns_upstream);
		return 0;
	}
	r = file_read(path, CONFIG_MAX_BYTES, &text, &len);
	for (line = r == 0 ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char word[16], addr[16];

		/* "nameserver ADDR": the first IPv4 one (an IPv6 one cannot
		 * go into dnsmasq's IPv4 answer path the same way) */
		if (sscanf(line, " %15s %15s", word, addr) == 2 &&
		    strcmp(word, "nameserver") == 0 && inet_pton(AF_INET, addr, &a) == 1) {
			snprintf(out, 16, "%s", addr);
			free(text);
			return 0;
		}
	}
	free(text);
	return err_set(err, 400, ENOENT,
		       "allow entries by name need a resolver to forward to: set dns_upstream in "
		       "dockd.conf (%s names no IPv4 nameserver%s%s)",
		       path, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
}
