/* resctl: a node's resource controls (the contract is resctl.h): one table
 * of the disk and network limits (member, bounds, libvirt's unit), the
 * request's members parsed and written back, the domain XML's values, what
 * libvirt's live XML and the cgroup hold, and the judgement of the two
 * against the record. */
#include "resctl.h"

#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "jsonin.h"

/* One disk or network limit: its member, its bounds and unit, where it is
 * in force (libvirt's <iotune> element; the network's in the firewall's
 * bandwidth chain) and how many of that place's units one of ours is
 * (MB/s in bytes/s; Mbit/s in bytes/s: 10^6 / 8). */
static const struct resctl_io_def {
	const char *id_group, *id_key, *id_unit;
	uint32_t id_max;
	const char *id_xml;
	uint64_t id_mul;
	const char *id_xml_unit;
} resctl_io_defs[RESCTL_IO_COUNT] = {
	[RESCTL_DISK_READ_MBPS] = { "disk", "read_mbps", "MB/s", 100000, "read_bytes_sec", 1000000,
				    "B/s" },
	[RESCTL_DISK_WRITE_MBPS] = { "disk", "write_mbps", "MB/s", 100000, "write_bytes_sec",
				     1000000, "B/s" },
	[RESCTL_DISK_READ_IOPS] = { "disk", "read_iops", "IOPS", 1000000, "read_iops_sec", 1,
				    "IOPS" },
	[RESCTL_DISK_WRITE_IOPS] = { "disk", "write_iops", "IOPS", 1000000, "write_iops_sec", 1,
				     "IOPS" },
	/* the firewall's limits (firewall/fw-bw.c, nft `limit rate over`),
	 * not libvirt's <bandwidth>: that needs tc qdiscs and policers
	 * (sch_sfq, act_police) a kernel may lack */
	[RESCTL_NET_IN_MBPS] = { "net", "in_mbps", "Mbit/s", 100000, "firewall", 125000, "B/s" },
	[RESCTL_NET_OUT_MBPS] = { "net", "out_mbps", "Mbit/s", 100000, "firewall", 125000, "B/s" },
};

uint64_t resctl_net_bps(const struct resctl *rc, enum resctl_io i)
{
	return (uint64_t)rc->rc_io[i] * resctl_io_defs[i].id_mul;
}

const char *const resctl_request_keys[RESCTL_KEYS] = { "cpus", "cpu_weight", "disk", "net" };

bool resctl_any(const struct resctl *rc)
{
	bool any = rc->rc_cpu_quota_us != 0 || rc->rc_cpu_weight != 0;

	for (int i = 0; i < RESCTL_IO_COUNT; i++)
		any |= rc->rc_io[i] != 0;
	return any;
}

/* "cpus": a number of host cores, to RESCTL_PERIOD_US's microseconds. */
static int resctl_parse_cpus(const struct json_object *o, const char *what, uint64_t vcpus,
			     struct resctl *rc, struct dock_err *err)
{
	struct json_object *v = NULL;
	double d;

	if (!json_object_object_get_ex((struct json_object *)(uintptr_t)o, "cpus", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return err_set(err, 400, EINVAL,
			       "%s: \"cpus\" must be a number (a fraction of one host core, 0.5)",
			       what);
	d = json_object_get_double(v) * RESCTL_PERIOD_US;
	if (!(d >= RESCTL_QUOTA_MIN_US - 0.5 && d <= (double)vcpus * RESCTL_PERIOD_US + 0.5))
		return err_set(
			err, 400, ERANGE,
			"%s: \"cpus\" %.6g is outside 0.05 to %" PRIu64
			" (the node's vCPUs): a fraction of one host core for the whole node",
			what, json_object_get_double(v), vcpus);
	rc->rc_cpu_quota_us = (uint32_t)(d + 0.5);
	return 0;
}

/* "disk" or "net": an object of known members, each 1..max. */
static int resctl_parse_group(const struct json_object *o, const char *what, const char *group,
			      struct resctl *rc, struct dock_err *err)
{
	struct json_object *g = NULL;

	if (!json_object_object_get_ex((struct json_object *)(uintptr_t)o, group, &g) ||
	    json_object_is_type(g, json_type_null))
		return 0;
	if (!json_object_is_type(g, json_type_object))
		return err_set(err, 400, EINVAL, "%s: \"%s\" must be an object", what, group);
	json_object_object_foreach(g, key, val)
	{
		int i;
		(void)val;
		for (i = 0; i < RESCTL_IO_COUNT; i++)
			if (strcmp(resctl_io_defs[i].id_group, group) == 0 &&
			    strcmp(resctl_io_defs[i].id_key, key) == 0)
				break;
		if (i == RESCTL_IO_COUNT)
			return err_set(err, 400, EINVAL, "%s: \"%s\": unknown field \"%.64s\"",
				       what, group, key);
	}
	for (int i = 0; i < RESCTL_IO_COUNT; i++) {
		const struct resctl_io_def *d = &resctl_io_defs[i];
		uint64_t u = 0;
		int r;

		if (strcmp(d->id_group, group) != 0)
			continue;
		r = jsonin_u64(g, what, d->id_key, false, 1, d->id_max, &u, NULL);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return err_set(err, 400, r == -ERANGE ? ERANGE : EINVAL,
				       "%s: \"%s\".\"%s\" must be a whole number from 1 to %" PRIu32
				       " (%s)",
				       what, group, d->id_key, d->id_max, d->id_unit);
		rc->rc_io[i] = (uint32_t)u;
	}
	return 0;
}

int resctl_parse(const struct json_object *o, const char *what, uint64_t vcpus, struct resctl *rc,
		 struct dock_err *err)
{
	struct resctl n = { 0 };
	uint64_t w = 0;
	int r;

	if (resctl_parse_cpus(o, what, vcpus, &n, err) < 0)
		return -EINVAL;
	r = jsonin_u64(o, what, "cpu_weight", false, 1, RESCTL_WEIGHT_MAX, &w, NULL);
	if (r < 0 && r != -ENOENT)
		return err_set(err, 400, r == -ERANGE ? ERANGE : EINVAL,
			       "%s: \"cpu_weight\" must be a whole number from 1 to %d", what,
			       RESCTL_WEIGHT_MAX);
	n.rc_cpu_weight = (uint32_t)w;
	if (resctl_parse_group(o, what, "disk", &n, err) < 0 ||
	    resctl_parse_group(o, what, "net", &n, err) < 0)
		return -EINVAL;
	*rc = n;
	return 0;
}

/* A quota as cores: "0.25", "1.5", "2" (at most 5 decimals, exact). */
static void resctl_cpus_text(uint32_t quota_us, char *buf, size_t size)
{
	size_t n;

	snprintf(buf, size, "%" PRIu32 ".%05" PRIu32, quota_us / RESCTL_PERIOD_US,
		 quota_us % RESCTL_PERIOD_US);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

struct json_object *resctl_json(const struct resctl *rc)
{
	struct json_object *o = json_object_new_object(), *g[2] = { NULL, NULL };
	char cpus[32];

	if (rc->rc_cpu_quota_us != 0) {
		resctl_cpus_text(rc->rc_cpu_quota_us, cpus, sizeof(cpus));
		json_object_object_add(
			o, "cpus",
			json_object_new_double_s((double)rc->rc_cpu_quota_us / RESCTL_PERIOD_US,
						 cpus));
	}
	if (rc->rc_cpu_weight != 0)
		json_object_object_add(o, "cpu_weight", json_object_new_int64(rc->rc_cpu_weight));
	for (int i = 0; i < RESCTL_IO_COUNT; i++) {
		const struct resctl_io_def *d = &resctl_io_defs[i];
		int k = strcmp(d->id_group, "disk") == 0 ? 0 : 1;
		if (rc->rc_io[i] == 0)
			continue;
		if (g[k] == NULL) {
			g[k] = json_object_new_object();
			json_object_object_add(o, d->id_group, g[k]);
		}
		json_object_object_add(g[k], d->id_key, json_object_new_int64(rc->rc_io[i]));
	}
	return o;
}

/* ---- the domain XML's values ---- */

void resctl_xml_vars(const struct resctl *rc, struct resctl_xml *rx)
{
	static const char *const keys[RESCTL_XML_VARS] = {
		"cputune",         "cpu_shares",      "cpu_period",       "cpu_quota",
		"iotune",          "disk_read_bytes", "disk_write_bytes", "disk_read_iops",
		"disk_write_iops", "bandwidth",       "net_inbound",      "net_outbound",
	};
	bool disk = false;

	memset(rx, 0, sizeof(*rx));
	for (int i = 0; i < RESCTL_XML_VARS; i++)
		rx->rx_key[i] = keys[i];
	if (rc->rc_cpu_weight != 0)
		snprintf(rx->rx_val[1], sizeof(rx->rx_val[1]), "%" PRIu32, rc->rc_cpu_weight);
	if (rc->rc_cpu_quota_us != 0) {
		snprintf(rx->rx_val[2], sizeof(rx->rx_val[2]), "%d", RESCTL_PERIOD_US);
		snprintf(rx->rx_val[3], sizeof(rx->rx_val[3]), "%" PRIu32, rc->rc_cpu_quota_us);
	}
	if (rc->rc_cpu_weight != 0 || rc->rc_cpu_quota_us != 0)
		snprintf(rx->rx_val[0], sizeof(rx->rx_val[0]), "yes");
	/* the disk's only: the network's are the firewall's (resctl_net_bps) */
	for (int i = 0; i < RESCTL_NET_IN_MBPS; i++) {
		if (rc->rc_io[i] == 0)
			continue;
		snprintf(rx->rx_val[5 + i], sizeof(rx->rx_val[0]), "%" PRIu64,
			 (uint64_t)rc->rc_io[i] * resctl_io_defs[i].id_mul);
		disk = true;
	}
	if (disk)
		snprintf(rx->rx_val[4], sizeof(rx->rx_val[4]), "yes");
}

/* ---- libvirt's live XML ---- */

static xmlNodePtr rx_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* An element's text (or an attribute's value when attr) as a number; 0
 * when absent or not a number. */
static int64_t rx_num(xmlNodePtr n, const char *attr)
{
	xmlChar *v;
	char *end;
	long long x;

	if (n == NULL)
		return 0;
	v = attr ? xmlGetProp(n, (const xmlChar *)attr) : xmlNodeGetContent(n);
	if (v == NULL)
		return 0;
	errno = 0;
	x = strtoll((const char *)v, &end, 10);
	if (errno != 0 || end == (char *)v || *end != '\0')
		x = 0;
	xmlFree(v);
	return x;
}

static bool rx_attr_is(xmlNodePtr n, const char *attr, const char *want)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)attr) : NULL;
	bool eq = v != NULL && strcmp((const char *)v, want) == 0;

	xmlFree(v);
	return eq;
}

static void resctl_from_devices(xmlNodePtr devs, const char *volume_path, struct resctl_live *rl)
{
	for (xmlNodePtr c = devs ? devs->children : NULL; c != NULL; c = c->next) {
		xmlNodePtr t;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, "disk") == 0 &&
		    rx_attr_is(rx_child(c, "source"), "file", volume_path)) {
			t = rx_child(c, "iotune");
			for (int i = 0; i < RESCTL_NET_IN_MBPS; i++)
				rl->rl_x_io[i] = (uint64_t)rx_num(
					rx_child(t, resctl_io_defs[i].id_xml), NULL);
		}
	}
}

void resctl_from_xml(const char *domain_xml, const char *volume_path, struct resctl_live *rl)
{
	xmlDocPtr d;
	xmlNodePtr root, ct;

	rl->rl_xml = false;
	for (int i = 0; i < RESCTL_NET_IN_MBPS; i++)
		rl->rl_x_io[i] = 0;
	rl->rl_x_shares = 0;
	rl->rl_x_period_us = rl->rl_x_quota_us = 0;
	if (domain_xml == NULL)
		return;
	d = xmlReadMemory(domain_xml, (int)strlen(domain_xml), "libvirt.xml", NULL,
			  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (d == NULL)
		return;
	root = xmlDocGetRootElement(d);
	if (root != NULL) {
		rl->rl_xml = true;
		ct = rx_child(root, "cputune");
		rl->rl_x_shares = (uint64_t)rx_num(rx_child(ct, "shares"), NULL);
		rl->rl_x_period_us = rx_num(rx_child(ct, "global_period"), NULL);
		rl->rl_x_quota_us = rx_num(rx_child(ct, "global_quota"), NULL);
		resctl_from_devices(rx_child(root, "devices"), volume_path, rl);
	}
	xmlFreeDoc(d);
}

/* ---- the cgroup ---- */

#define RESCTL_CG_FILE_MAX 4096
#define RESCTL_CG_DIRS     2

/* The path of controller ctrl's cgroup in /proc/PID/cgroup's text
 * ("ID:CONTROLLERS:PATH" lines): cgroup v1's line naming ctrl, or with
 * ctrl NULL the unified hierarchy's ("0::PATH"). */
static bool resctl_cg_line(const char *text, const char *ctrl, char *path, size_t size)
{
	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n'), *c1 = strchr(l, ':'), *c2;
		size_t ll = nl != NULL ? (size_t)(nl - l) : strlen(l);
		bool hit = false;

		c2 = c1 != NULL && c1 < l + ll ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - l))
					       : NULL;
		if (c2 != NULL && ctrl == NULL) {
			hit = c1 == l + 1 && l[0] == '0' && c2 == c1 + 1;
		} else if (c2 != NULL) {
			for (const char *p = c1 + 1; p < c2 && !hit;) {
				const char *e = memchr(p, ',', (size_t)(c2 - p));
				size_t n = e != NULL ? (size_t)(e - p) : (size_t)(c2 - p);
				hit = n == strlen(ctrl) && strncmp(p, ctrl, n) == 0;
				p += n + 1;
			}
		}
		if (hit) {
			size_t pl = ll - (size_t)(c2 + 1 - l);
			if (pl >= size)
				return false;
			memcpy(path, c2 + 1, pl);
			path[pl] = '\0';
			return path[0] == '/';
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

/* The node's directories under base from the process's cgroup path: the
 * top one, and libvirt's nested "libvirt" below it when there is one. */
static size_t resctl_cg_dirs(const char *base, const char *path, char dirs[][PATH_MAX])
{
	char p[PATH_MAX];
	size_t n = strlen(path), k = 0;
	char *slash;

	snprintf(p, sizeof(p), "%s", path);
	if (n > 9 && strcmp(p + n - 9, "/emulator") == 0)
		p[n - 9] = '\0';
	slash = strrchr(p, '/');
	if (slash == NULL || slash[1] == '\0')
		return 0; /* the root cgroup: not the node's own */
	if (strcmp(slash, "/libvirt") == 0 && slash != p) {
		*slash = '\0';
		snprintf(dirs[k++], PATH_MAX, "%s%s", base, p);
		*slash = '/';
	}
	snprintf(dirs[k++], PATH_MAX, "%s%s", base, p);
	return k;
}

/* The first line of dir/file, or NULL (note says which file). */
static char *resctl_cg_file(const char *dir, const char *file, struct resctl_live *rl)
{
	char path[PATH_MAX + 32], *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (file_read(path, RESCTL_CG_FILE_MAX, &buf, &len) < 0) {
		snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "cannot read %.140s", path);
		return NULL;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* A number, or "max" (UINT64_MAX); false when neither. */
static bool resctl_cg_num(const char *s, uint64_t *out)
{
	char *end;

	if (strcmp(s, "max") == 0) {
		*out = UINT64_MAX;
		return true;
	}
	if (s[0] == '-' && strcmp(s, "-1") == 0) {
		*out = UINT64_MAX;
		return true;
	}
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

/* A value from each of the node's directories: the deepest that is not
 * dflt (values at or above 2^62 count as "max"). */
static bool resctl_cg_value(char dirs[][PATH_MAX], size_t nd, const char *file, uint64_t dflt,
			    uint64_t *out, struct resctl_live *rl)
{
	*out = dflt;
	for (size_t i = 0; i < nd; i++) {
		char *s = resctl_cg_file(dirs[i], file, rl);
		uint64_t v;
		bool ok = s != NULL && resctl_cg_num(s, &v);
		if (s != NULL && !ok)
			snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "%.100s/%s: not a number",
				 dirs[i], file);
		free(s);
		if (!ok)
			return false;
		if (v >= (UINT64_C(1) << 62))
			v = UINT64_MAX;
		if (v != dflt)
			*out = v;
	}
	return true;
}

/* cgroup v2's cpu.max, "QUOTA PERIOD" (QUOTA "max": none), deepest limited. */
static bool resctl_cg_cpu_max(char dirs[][PATH_MAX], size_t nd, struct resctl_live *rl)
{
	rl->rl_cg_quota_us = -1;
	rl->rl_cg_period_us = RESCTL_PERIOD_US;
	for (size_t i = 0; i < nd; i++) {
		char *s = resctl_cg_file(dirs[i], "cpu.max", rl), *sp;
		uint64_t q, p;
		bool ok = s != NULL && (sp = strchr(s, ' ')) != NULL;
		if (ok) {
			*sp = '\0';
			ok = resctl_cg_num(s, &q) && resctl_cg_num(sp + 1, &p) && p != UINT64_MAX;
		}
		if (s != NULL && !ok)
			snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note),
				 "%.100s/cpu.max: not \"QUOTA PERIOD\"", dirs[i]);
		free(s);
		if (!ok)
			return false;
		if (q != UINT64_MAX) {
			rl->rl_cg_quota_us = (int64_t)q;
			rl->rl_cg_period_us = (int64_t)p;
		}
	}
	return true;
}

static bool resctl_cg_v2(const char *root, const char *text, struct resctl_live *rl)
{
	char base[PATH_MAX], path[PATH_MAX], dirs[RESCTL_CG_DIRS][PATH_MAX];
	size_t nd;

	snprintf(base, sizeof(base), "%s/sys/fs/cgroup", root);
	if (!resctl_cg_line(text, NULL, path, sizeof(path)) ||
	    (nd = resctl_cg_dirs(base, path, dirs)) == 0) {
		snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "no cgroup v2 of its own");
		return false;
	}
	snprintf(rl->rl_cg_path, sizeof(rl->rl_cg_path), "%s", dirs[0] + strlen(base));
	return resctl_cg_cpu_max(dirs, nd, rl) &&
		resctl_cg_value(dirs, nd, "cpu.weight", 100, &rl->rl_cg_weight, rl) &&
		resctl_cg_value(dirs, nd, "memory.max", UINT64_MAX, &rl->rl_cg_mem_bytes, rl);
}

static bool resctl_cg_v1(const char *root, const char *text, struct resctl_live *rl)
{
	char base[PATH_MAX], path[PATH_MAX], dirs[RESCTL_CG_DIRS][PATH_MAX];
	uint64_t q, p;
	size_t nd;

	snprintf(base, sizeof(base), "%s/sys/fs/cgroup/cpu", root);
	if (!resctl_cg_line(text, "cpu", path, sizeof(path)) ||
	    (nd = resctl_cg_dirs(base, path, dirs)) == 0) {
		snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "no cpu cgroup of its own");
		return false;
	}
	snprintf(rl->rl_cg_path, sizeof(rl->rl_cg_path), "%s", dirs[0] + strlen(base));
	if (!resctl_cg_value(dirs, nd, "cpu.cfs_quota_us", UINT64_MAX, &q, rl) ||
	    !resctl_cg_value(dirs, nd, "cpu.cfs_period_us", RESCTL_PERIOD_US, &p, rl) ||
	    !resctl_cg_value(dirs, nd, "cpu.shares", 1024, &rl->rl_cg_weight, rl))
		return false;
	rl->rl_cg_quota_us = q == UINT64_MAX ? -1 : (int64_t)q;
	rl->rl_cg_period_us = (int64_t)p;
	snprintf(base, sizeof(base), "%s/sys/fs/cgroup/memory", root);
	if (!resctl_cg_line(text, "memory", path, sizeof(path)) ||
	    (nd = resctl_cg_dirs(base, path, dirs)) == 0) {
		snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "no memory cgroup of its own");
		return false;
	}
	return resctl_cg_value(dirs, nd, "memory.limit_in_bytes", UINT64_MAX, &rl->rl_cg_mem_bytes,
			       rl);
}

void resctl_cgroup_read(const char *root, const char *proc_cgroup, struct resctl_live *rl)
{
	char probe[PATH_MAX];
	int v;

	rl->rl_cg = 0;
	rl->rl_cg_note[0] = rl->rl_cg_path[0] = '\0';
	if (proc_cgroup == NULL) {
		snprintf(rl->rl_cg_note, sizeof(rl->rl_cg_note), "no live QEMU process");
		return;
	}
	snprintf(probe, sizeof(probe), "%s/sys/fs/cgroup/cgroup.controllers", root);
	v = access(probe, F_OK) == 0 ? 2 : 1;
	if (v == 2 ? resctl_cg_v2(root, proc_cgroup, rl) : resctl_cg_v1(root, proc_cgroup, rl))
		rl->rl_cg = v;
}

/* ---- the judgement ---- */

static void resctl_add(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void resctl_add(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 3 >= size)
		return;
	if (n > 0) {
		memcpy(buf + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* The CPU quota and weight against the live XML and the cgroup. */
static void resctl_judge_cpu(const struct resctl *want, const struct resctl_live *rl, char *bad,
			     char *ok, size_t size)
{
	char cpus[32];
	uint64_t w;

	if (want->rc_cpu_quota_us != 0) {
		resctl_cpus_text(want->rc_cpu_quota_us, cpus, sizeof(cpus));
		if (rl->rl_x_quota_us != want->rc_cpu_quota_us ||
		    rl->rl_x_period_us != RESCTL_PERIOD_US)
			resctl_add(bad, size, "cpus %s: XML quota %" PRId64 "/%" PRId64 " us", cpus,
				   rl->rl_x_quota_us, rl->rl_x_period_us);
		else if (rl->rl_cg != 0 &&
			 (rl->rl_cg_quota_us != want->rc_cpu_quota_us ||
			  rl->rl_cg_period_us != RESCTL_PERIOD_US))
			resctl_add(bad, size, "cpus %s: cgroup quota %" PRId64 "/%" PRId64 " us",
				   cpus, rl->rl_cg_quota_us, rl->rl_cg_period_us);
		else
			resctl_add(ok, size, "cpus %s", cpus);
	}
	if (want->rc_cpu_weight != 0) {
		/* cgroup v1's cpu.shares is at least 2 */
		w = rl->rl_cg == 1 && want->rc_cpu_weight < 2 ? 2 : want->rc_cpu_weight;
		if (rl->rl_x_shares != want->rc_cpu_weight)
			resctl_add(bad, size, "cpu_weight %" PRIu32 ": XML shares %" PRIu64,
				   want->rc_cpu_weight, rl->rl_x_shares);
		else if (rl->rl_cg != 0 && rl->rl_cg_weight != w)
			resctl_add(bad, size, "cpu_weight %" PRIu32 ": cgroup %s %" PRIu64,
				   want->rc_cpu_weight,
				   rl->rl_cg == 2 ? "cpu.weight" : "cpu.shares", rl->rl_cg_weight);
		else
			resctl_add(ok, size, "cpu_weight %" PRIu32, want->rc_cpu_weight);
	}
}

int resctl_judge(const struct resctl *want, uint64_t want_mem_bytes, const struct resctl_live *rl,
		 char *ev, size_t size)
{
	char bad[512] = "", ok[512] = "";

	resctl_judge_cpu(want, rl, bad, ok, sizeof(bad));
	for (int i = 0; i < RESCTL_IO_COUNT; i++) {
		const struct resctl_io_def *d = &resctl_io_defs[i];
		uint64_t w = (uint64_t)want->rc_io[i] * d->id_mul;
		if (want->rc_io[i] == 0)
			continue;
		if (rl->rl_x_io[i] != w)
			resctl_add(bad, sizeof(bad), "%s.%s %" PRIu32 ": %s %" PRIu64 " %s",
				   d->id_group, d->id_key, want->rc_io[i],
				   i < RESCTL_NET_IN_MBPS ? "XML" : "firewall", rl->rl_x_io[i],
				   d->id_xml_unit);
		else
			resctl_add(ok, sizeof(ok), "%s.%s %" PRIu32, d->id_group, d->id_key,
				   want->rc_io[i]);
	}
	if (want_mem_bytes != 0 && rl->rl_cg != 0 && rl->rl_cg_mem_bytes > want_mem_bytes) {
		if (rl->rl_cg_mem_bytes == UINT64_MAX)
			resctl_add(bad, sizeof(bad), "memory: no cgroup limit (%" PRIu64 " MiB)",
				   want_mem_bytes >> 20);
		else
			resctl_add(bad, sizeof(bad),
				   "memory: cgroup limit %" PRIu64 " MiB > %" PRIu64,
				   rl->rl_cg_mem_bytes >> 20, want_mem_bytes >> 20);
	}
	if (bad[0] != '\0') {
		snprintf(ev, size, "differs from the record: %s", bad);
		return 1;
	}
	if (rl->rl_cg == 0) {
		snprintf(ev, size, "cgroup not read: %s", rl->rl_cg_note);
		/* what the record promises of the CPU cannot be seen */
		return want->rc_cpu_quota_us != 0 || want->rc_cpu_weight != 0 ? 1 : 2;
	}
	snprintf(ev, size, "%s", ok);
	return 0;
}
