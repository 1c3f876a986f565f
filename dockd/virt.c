/* virt: libvirt calls, one connection shared by the dock's threads
 * (libvirt connections are thread-safe). */
#include "virt.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static virConnectPtr virt_conn;
static char virt_uri[256];
static pthread_mutex_t virt_lock = PTHREAD_MUTEX_INITIALIZER;

static void virt_silent(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e; /* errors are reported by the caller that decides */
}

static const char *virt_msg(void)
{
	const char *m = virGetLastErrorMessage();

	return m != NULL ? m : "unknown libvirt error";
}

static int virt_errno(void)
{
	virErrorPtr e = virGetLastError();

	if (e == NULL)
		return EIO;
	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
	case VIR_ERR_NO_NETWORK:
	case VIR_ERR_NO_SECRET:
	case VIR_ERR_NO_STORAGE_VOL:
	case VIR_ERR_NO_STORAGE_POOL:
		return ENOENT;
	case VIR_ERR_OPERATION_INVALID:
		return EINVAL;
	case VIR_ERR_SYSTEM_ERROR:
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_RPC:
		return ECONNREFUSED;
	default:
		return EIO;
	}
}

int virt_open(const char *uri, struct dock_err *err)
{
	virSetErrorFunc(NULL, virt_silent);
	snprintf(virt_uri, sizeof(virt_uri), "%s", uri);
	virt_conn = virConnectOpen(uri);
	if (virt_conn == NULL)
		return err_set(err, 503, ECONNREFUSED, "libvirt %s is not reachable: %s", uri,
			       virt_msg());
	return 0;
}

void virt_close(void)
{
	if (virt_conn != NULL)
		virConnectClose(virt_conn);
	virt_conn = NULL;
}

/* The live connection, reopened if libvirtd restarted under us. */
static virConnectPtr virt_c(struct dock_err *err)
{
	virConnectPtr c;

	pthread_mutex_lock(&virt_lock);
	if (virt_conn == NULL || virConnectIsAlive(virt_conn) != 1) {
		if (virt_conn != NULL)
			virConnectClose(virt_conn);
		virt_conn = virConnectOpen(virt_uri);
		if (virt_conn != NULL)
			log_warn("libvirt: reconnected to %s", virt_uri);
	}
	c = virt_conn;
	if (c != NULL)
		virConnectRef(c);
	pthread_mutex_unlock(&virt_lock);
	if (c == NULL)
		err_set(err, 503, ECONNREFUSED, "libvirt %s is not reachable: %s", virt_uri,
			virt_msg());
	return c;
}

#define VIRT_CONN(c, err)              \
	virConnectPtr c = virt_c(err); \
	if (c == NULL)                 \
	return -ECONNREFUSED

/* KVM only where it can really run guests: the device must open and the
 * CPU must advertise vmx/svm (a paravirtual /dev/kvm without them hangs). */
static bool virt_kvm_works(void)
{
	char line[4096];
	bool flag = false;
	FILE *f;
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	f = fopen("/proc/cpuinfo", "re");
	if (f == NULL)
		return false;
	while (!flag && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "flags", 5) == 0 &&
		    (strstr(line, " vmx") != NULL || strstr(line, " svm") != NULL))
			flag = true;
	fclose(f);
	return flag;
}

static const char *virt_auto_type;

static void virt_detect_accel(void)
{
	if (virt_kvm_works()) {
		virt_auto_type = "kvm";
		log_info("accel auto: KVM works here, using it");
	} else {
		virt_auto_type = "qemu";
		log_info(
			"accel auto: KVM is not usable here (no /dev/kvm or no vmx/svm CPU flag), using TCG");
	}
}

const char *virt_domain_type(enum accel accel)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	switch (accel) {
	case ACCEL_KVM:
		return "kvm";
	case ACCEL_TCG:
		return "qemu";
	case ACCEL_AUTO:
		break;
	}
	pthread_once(&once, virt_detect_accel);
	return virt_auto_type;
}

int virt_pool_ensure(const char *name, const char *xml, struct dock_err *err)
{
	virStoragePoolPtr pool;
	int active, r = 0;
	VIRT_CONN(c, err);

	pool = virStoragePoolLookupByName(c, name);
	if (pool == NULL) {
		pool = virStoragePoolDefineXML(c, xml, 0);
		if (pool == NULL) {
			r = err_set(err, 500, virt_errno(), "storage pool %s: define: %s", name,
				    virt_msg());
			goto out;
		}
		if (virStoragePoolBuild(pool, 0) < 0) {
			r = err_set(err, 500, virt_errno(), "storage pool %s: build: %s", name,
				    virt_msg());
			goto out;
		}
		virStoragePoolSetAutostart(pool, 1);
	}
	active = virStoragePoolIsActive(pool);
	if (active == 0 && virStoragePoolCreate(pool, 0) < 0)
		r = err_set(err, 500, virt_errno(), "storage pool %s: start: %s", name, virt_msg());
	else if (active == 1)
		virStoragePoolRefresh(pool, 0);
out:
	if (pool != NULL)
		virStoragePoolFree(pool);
	virConnectClose(c);
	return r;
}

int virt_volume_create(const char *pool_name, const char *xml, char *path, size_t size,
		       struct dock_err *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr vol = NULL;
	char *p = NULL;
	int r = 0;
	VIRT_CONN(c, err);

	pool = virStoragePoolLookupByName(c, pool_name);
	if (pool == NULL) {
		r = err_set(err, 500, virt_errno(), "storage pool %s: %s", pool_name, virt_msg());
		goto out;
	}
	vol = virStorageVolCreateXML(pool, xml, 0);
	if (vol == NULL) {
		r = err_set(err, 500, virt_errno(), "volume in pool %s: create: %s", pool_name,
			    virt_msg());
		goto out;
	}
	p = virStorageVolGetPath(vol);
	if (p == NULL || strlen(p) >= size) {
		r = err_set(err, 500, EINVAL, "volume in pool %s: no usable path", pool_name);
		virStorageVolDelete(vol, 0);
		goto out;
	}
	memcpy(path, p, strlen(p) + 1);
out:
	free(p);
	if (vol != NULL)
		virStorageVolFree(vol);
	if (pool != NULL)
		virStoragePoolFree(pool);
	virConnectClose(c);
	return r;
}

int virt_volume_remove(const char *pool_name, const char *vol_name, struct dock_err *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr vol = NULL;
	int r = 0;
	VIRT_CONN(c, err);

	pool = virStoragePoolLookupByName(c, pool_name);
	if (pool == NULL)
		goto out; /* no pool, no volume */
	virStoragePoolRefresh(pool, 0);
	vol = virStorageVolLookupByName(pool, vol_name);
	if (vol == NULL)
		goto out;
	if (virStorageVolDelete(vol, 0) < 0 && virt_errno() != ENOENT)
		r = err_set(err, 500, virt_errno(), "volume %s: delete: %s", vol_name, virt_msg());
out:
	if (vol != NULL)
		virStorageVolFree(vol);
	if (pool != NULL)
		virStoragePoolFree(pool);
	virConnectClose(c);
	return r;
}

static int virt_names_push(char ***names, size_t *n, const char *s)
{
	char **v = realloc(*names, (*n + 1) * sizeof(**names));

	if (v == NULL)
		return -ENOMEM;
	*names = v;
	v[*n] = strdup(s);
	if (v[*n] == NULL)
		return -ENOMEM;
	(*n)++;
	return 0;
}

void virt_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int virt_volume_list(const char *pool_name, char ***names, size_t *n, struct dock_err *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr *vols = NULL;
	int cnt, r = 0;
	VIRT_CONN(c, err);

	*names = NULL;
	*n = 0;
	pool = virStoragePoolLookupByName(c, pool_name);
	if (pool == NULL)
		goto out;
	virStoragePoolRefresh(pool, 0);
	cnt = virStoragePoolListAllVolumes(pool, &vols, 0);
	for (int i = 0; i < cnt; i++) {
		if (r == 0 && virt_names_push(names, n, virStorageVolGetName(vols[i])) < 0)
			r = err_set(err, 500, ENOMEM, "out of memory");
		virStorageVolFree(vols[i]);
	}
	free(vols);
	virStoragePoolFree(pool);
out:
	virConnectClose(c);
	return r;
}

int virt_secret_create(const char *xml, const struct luks_key *key, char uuid[37],
		       struct dock_err *err)
{
	virSecretPtr s;
	int r = 0;
	VIRT_CONN(c, err);

	s = virSecretDefineXML(c, xml, 0);
	if (s == NULL) {
		r = err_set(err, 500, virt_errno(), "secret: define: %s", virt_msg());
		goto out;
	}
	if (virSecretGetUUIDString(s, uuid) < 0 ||
	    virSecretSetValue(s, (const unsigned char *)key->lk_hex, strlen(key->lk_hex), 0) < 0) {
		r = err_set(err, 500, virt_errno(), "secret: set value: %s", virt_msg());
		virSecretUndefine(s);
	}
	virSecretFree(s);
out:
	virConnectClose(c);
	return r;
}

int virt_secret_remove(const char *uuid, const char *volume_path, struct dock_err *err)
{
	virSecretPtr s = NULL;
	int r = 0;
	VIRT_CONN(c, err);

	if (uuid != NULL && uuid[0] != '\0')
		s = virSecretLookupByUUIDString(c, uuid);
	if (s == NULL && volume_path != NULL && volume_path[0] != '\0')
		s = virSecretLookupByUsage(c, VIR_SECRET_USAGE_TYPE_VOLUME, volume_path);
	if (s != NULL) {
		if (virSecretUndefine(s) < 0 && virt_errno() != ENOENT)
			r = err_set(err, 500, virt_errno(), "secret %s: undefine: %s",
				    uuid ? uuid : "", virt_msg());
		virSecretFree(s);
	}
	virConnectClose(c);
	return r;
}

int virt_secret_exists(const char *uuid, struct dock_err *err)
{
	virSecretPtr s = NULL;
	char msg[256] = "";
	int r, e = 0;
	VIRT_CONN(c, err);

	if (uuid[0] != '\0' && (s = virSecretLookupByUUIDString(c, uuid)) == NULL) {
		/* Taken now: every libvirt call (virConnectIsAlive too) resets
		 * the thread's last error. */
		e = virt_errno();
		snprintf(msg, sizeof(msg), "%s", virt_msg());
	}
	if (s == NULL && e != 0 && e != ENOENT && virConnectIsAlive(c) != 1) {
		/* libvirtd restarted since the last call (what this function is
		 * asked about): the first call finds the connection dead. */
		virConnectClose(c);
		c = virt_c(err);
		if (c == NULL)
			return -ECONNREFUSED;
		if ((s = virSecretLookupByUUIDString(c, uuid)) == NULL) {
			e = virt_errno();
			snprintf(msg, sizeof(msg), "%s", virt_msg());
		}
	}
	if (s != NULL)
		r = 1;
	else if (uuid[0] == '\0' || e == ENOENT)
		r = 0;
	else
		r = err_set(err, 500, e, "secret %s: %s", uuid, msg);
	if (s != NULL)
		virSecretFree(s);
	virConnectClose(c);
	return r;
}

int virt_secret_usages(char ***usages, size_t *n, struct dock_err *err)
{
	virSecretPtr *secrets = NULL;
	int cnt, r = 0;
	VIRT_CONN(c, err);

	*usages = NULL;
	*n = 0;
	cnt = virConnectListAllSecrets(c, &secrets, 0);
	if (cnt < 0)
		r = err_set(err, 500, virt_errno(), "secrets: list: %s", virt_msg());
	for (int i = 0; i < cnt; i++) {
		const char *u = NULL;
		if (virSecretGetUsageType(secrets[i]) == VIR_SECRET_USAGE_TYPE_VOLUME)
			u = virSecretGetUsageID(secrets[i]);
		if (u != NULL && r == 0 && virt_names_push(usages, n, u) < 0)
			r = err_set(err, 500, ENOMEM, "out of memory");
		virSecretFree(secrets[i]);
	}
	free(secrets);
	virConnectClose(c);
	return r;
}

int virt_network_create(const char *name, const char *xml, struct dock_err *err)
{
	virNetworkPtr net;
	int r = 0;
	VIRT_CONN(c, err);

	net = virNetworkDefineXML(c, xml);
	if (net == NULL) {
		r = err_set(err, 500, virt_errno(), "network %s: define: %s", name, virt_msg());
		goto out;
	}
	if (virNetworkCreate(net) < 0) {
		r = err_set(err, 500, virt_errno(), "network %s: start: %s", name, virt_msg());
		virNetworkUndefine(net);
	} else {
		virNetworkSetAutostart(net, 1);
	}
	virNetworkFree(net);
out:
	virConnectClose(c);
	return r;
}

int virt_network_remove(const char *name, struct dock_err *err)
{
	virNetworkPtr net;
	int r = 0;
	VIRT_CONN(c, err);

	net = virNetworkLookupByName(c, name);
	if (net != NULL) {
		if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0 &&
		    virt_errno() != ENOENT)
			r = err_set(err, 500, virt_errno(), "network %s: stop: %s", name,
				    virt_msg());
		if (r == 0 && virNetworkUndefine(net) < 0 && virt_errno() != ENOENT)
			r = err_set(err, 500, virt_errno(), "network %s: undefine: %s", name,
				    virt_msg());
		virNetworkFree(net);
	}
	virConnectClose(c);
	return r;
}

int virt_network_dns_host(const char *name, const char *ip, const char *hostname, bool add,
			  struct dock_err *err)
{
	unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG;
	char xml[160];
	virNetworkPtr net;
	int r = 0;
	VIRT_CONN(c, err);

	net = virNetworkLookupByName(c, name);
	if (net == NULL) {
		r = err_set(err, 404, ENOENT, "network %s: %s", name, virt_msg());
		virConnectClose(c);
		return r;
	}
	if (virNetworkIsActive(net) == 1)
		flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
	/* the entry goes first, so that adding it again is no error; an
	 * absent one is libvirt's error, which removing ignores */
	snprintf(xml, sizeof(xml), "<host ip='%s'><hostname>%s</hostname></host>", ip, hostname);
	if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_DNS_HOST,
			     -1, xml, flags) < 0 &&
	    !add)
		r = err_set(err, 500, virt_errno(), "network %s: DNS host %s %s: remove: %s", name,
			    ip, hostname, virt_msg());
	if (add) {
		if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
				     VIR_NETWORK_SECTION_DNS_HOST, -1, xml, flags) < 0)
			r = err_set(err, 500, virt_errno(), "network %s: DNS host %s %s: %s", name,
				    ip, hostname, virt_msg());
	}
	virNetworkFree(net);
	virConnectClose(c);
	return r;
}

int virt_domain_define(const char *xml, struct dock_err *err)
{
	virDomainPtr d;
	VIRT_CONN(c, err);

	d = virDomainDefineXMLFlags(c, xml, VIR_DOMAIN_DEFINE_VALIDATE);
	if (d == NULL) {
		int r = err_set(err, 500, virt_errno(), "domain: define: %s", virt_msg());
		virConnectClose(c);
		return r;
	}
	virDomainFree(d);
	virConnectClose(c);
	return 0;
}

void virt_domain_uuid(const char *name, char uuid[37])
{
	virConnectPtr c = virt_c(NULL);
	virDomainPtr d;

	uuid[0] = '\0';
	if (c == NULL)
		return;
	d = virDomainLookupByName(c, name);
	if (d != NULL) {
		if (virDomainGetUUIDString(d, uuid) < 0)
			uuid[0] = '\0';
		virDomainFree(d);
	}
	virConnectClose(c);
}

static virDomainPtr virt_dom(virConnectPtr c, const char *name, struct dock_err *err)
{
	virDomainPtr d = virDomainLookupByName(c, name);

	if (d == NULL)
		err_set(err, virt_errno() == ENOENT ? 404 : 500, virt_errno(), "domain %s: %s",
			name, virt_msg());
	return d;
}

/* The memory hard limit, live (the domain's cgroup). */
static int virt_dom_hard_limit_set(virDomainPtr d, const char *name, unsigned long long kib,
				   struct dock_err *err)
{
	virTypedParameter p = { .type = VIR_TYPED_PARAM_ULLONG };

	snprintf(p.field, sizeof(p.field), "%s", VIR_DOMAIN_MEMORY_HARD_LIMIT);
	p.value.ul = kib;
	if (virDomainSetMemoryParameters(d, &p, 1, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return err_set(err, 500, virt_errno(), "domain %s: memory hard limit: %s", name,
			       virt_msg());
	return 0;
}

int virt_domain_set_hard_limit(const char *name, unsigned long long kib, struct dock_err *err)
{
	virDomainPtr d;
	int r;
	VIRT_CONN(c, err);

	d = virt_dom(c, name, err);
	if (d == NULL) {
		virConnectClose(c);
		return -ENOENT;
	}
	r = virt_dom_hard_limit_set(d, name, kib, err);
	virDomainFree(d);
	virConnectClose(c);
	return r;
}

int virt_domain_start(const char *name, unsigned long long hard_limit_kib, struct dock_err *err)
{
	virDomainPtr d;
	int r = 0;
	VIRT_CONN(c, err);

	d = virt_dom(c, name, err);
	if (d == NULL) {
		virConnectClose(c);
		return -ENOENT;
	}
	if (virDomainIsActive(d) == 1)
		goto out;
	/* Start paused, cap memory, then run: no moment without the limit. The
	 * limit is set live (cgroup) rather than as <memtune> in the XML, which
	 * would also raise RLIMIT_MEMLOCK and needs CAP_SYS_RESOURCE. */
	if (virDomainCreateWithFlags(d, VIR_DOMAIN_START_PAUSED) < 0) {
		r = err_set(err, 500, virt_errno(), "domain %s: start: %s", name, virt_msg());
		goto out;
	}
	if (hard_limit_kib > 0 && virt_dom_hard_limit_set(d, name, hard_limit_kib, err) < 0) {
		r = -EIO;
		virDomainDestroy(d);
		goto out;
	}
	if (virDomainResume(d) < 0) {
		r = err_set(err, 500, virt_errno(), "domain %s: resume: %s", name, virt_msg());
		virDomainDestroy(d);
	}
out:
	virDomainFree(d);
	virConnectClose(c);
	return r;
}

static int virt_dom_state(virDomainPtr d, enum virt_dom_state *st)
{
	int state, reason;

	if (virDomainGetState(d, &state, &reason, 0) < 0)
		return -virt_errno();
	switch (state) {
	case VIR_DOMAIN_RUNNING:
		*st = VIRT_DOM_RUNNING;
		break;
	case VIR_DOMAIN_PAUSED:
		*st = VIRT_DOM_PAUSED;
		break;
	case VIR_DOMAIN_SHUTOFF:
	case VIR_DOMAIN_CRASHED:
		*st = VIRT_DOM_OFF;
		break;
	default:
		*st = VIRT_DOM_OTHER;
		break;
	}
	return 0;
}

/* 0 once the domain is off (or gone), -ETIMEDOUT after timeout_s. */
static int virt_dom_wait_off(virDomainPtr d, unsigned timeout_s)
{
	enum virt_dom_state st = VIRT_DOM_OTHER;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (virt_dom_state(d, &st) < 0 || st == VIRT_DOM_OFF)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= (time_t)timeout_s)
			return -ETIMEDOUT;
		usleep(200 * 1000);
	}
}

int virt_domain_wait_off(const char *name, unsigned timeout_s, struct dock_err *err)
{
	virDomainPtr d;
	int r;
	VIRT_CONN(c, err);

	d = virDomainLookupByName(c, name);
	r = d == NULL ? 0 : virt_dom_wait_off(d, timeout_s);
	if (d != NULL)
		virDomainFree(d);
	virConnectClose(c);
	return r;
}

int virt_domain_stop(const char *name, unsigned timeout_s, struct dock_err *err)
{
	virDomainPtr d;
	int r = 0;
	VIRT_CONN(c, err);

	d = virt_dom(c, name, err);
	if (d == NULL) {
		virConnectClose(c);
		return -ENOENT;
	}
	if (virDomainIsActive(d) != 1)
		goto out;
	if (virDomainShutdown(d) < 0)
		log_warn("domain %s: ACPI shutdown request failed: %s", name, virt_msg());
	if (virt_dom_wait_off(d, timeout_s) == 0)
		goto out;
	log_info("domain %s: no shutdown after %us, powering off", name, timeout_s);
	if (virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
		r = err_set(err, 500, virt_errno(), "domain %s: power off: %s", name, virt_msg());
out:
	virDomainFree(d);
	virConnectClose(c);
	return r;
}

int virt_domain_remove(const char *name, struct dock_err *err)
{
	virDomainPtr d;
	int r = 0;
	VIRT_CONN(c, err);

	d = virDomainLookupByName(c, name);
	if (d != NULL) {
		if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 &&
		    virDomainIsActive(d) == 1)
			r = err_set(err, 500, virt_errno(), "domain %s: power off: %s", name,
				    virt_msg());
		if (r == 0 &&
		    virDomainUndefineFlags(d,
					   VIR_DOMAIN_UNDEFINE_NVRAM |
						   VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
						   VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0 &&
		    virt_errno() != ENOENT)
			r = err_set(err, 500, virt_errno(), "domain %s: undefine: %s", name,
				    virt_msg());
		virDomainFree(d);
	}
	virConnectClose(c);
	return r;
}

int virt_domain_state(const char *name, enum virt_dom_state *st, struct dock_err *err)
{
	virDomainPtr d;
	int r;
	VIRT_CONN(c, err);

	d = virDomainLookupByName(c, name);
	if (d == NULL) {
		r = virt_errno() == ENOENT
			? 0
			: err_set(err, 500, virt_errno(), "domain %s: %s", name, virt_msg());
		*st = VIRT_DOM_ABSENT;
		virConnectClose(c);
		return r;
	}
	r = virt_dom_state(d, st);
	if (r < 0)
		err_set(err, 500, -r, "domain %s: state: %s", name, virt_msg());
	virDomainFree(d);
	virConnectClose(c);
	return r;
}

unsigned long long virt_domain_hard_limit(const char *name)
{
	virConnectPtr c = virt_c(NULL);
	virTypedParameter params[4];
	unsigned long long kib = 0;
	int n = 4;
	virDomainPtr d;

	if (c == NULL)
		return 0;
	d = virDomainLookupByName(c, name);
	if (d != NULL) {
		if (virDomainGetMemoryParameters(d, params, &n, VIR_DOMAIN_AFFECT_LIVE) == 0)
			for (int i = 0; i < n; i++)
				if (strcmp(params[i].field, VIR_DOMAIN_MEMORY_HARD_LIMIT) == 0 &&
				    params[i].value.ul != VIR_DOMAIN_MEMORY_PARAM_UNLIMITED)
					kib = params[i].value.ul;
		virDomainFree(d);
	}
	virConnectClose(c);
	return kib;
}

unsigned virt_domain_vcpus(const char *name)
{
	virConnectPtr c = virt_c(NULL);
	virDomainInfo info;
	unsigned n = 0;
	virDomainPtr d;

	if (c == NULL)
		return 0;
	d = virDomainLookupByName(c, name);
	if (d != NULL) {
		if (virDomainIsActive(d) == 1 && virDomainGetInfo(d, &info) == 0)
			n = info.nrVirtCpu;
		virDomainFree(d);
	}
	virConnectClose(c);
	return n;
}

int virt_list(enum virt_kind kind, const char *prefix, char ***names, size_t *n,
	      struct dock_err *err)
{
	virDomainPtr *doms = NULL;
	virNetworkPtr *nets = NULL;
	int cnt, r = 0;
	VIRT_CONN(c, err);

	*names = NULL;
	*n = 0;
	cnt = kind == VIRT_DOMAINS ? virConnectListAllDomains(c, &doms, 0)
				   : virConnectListAllNetworks(c, &nets, 0);
	if (cnt < 0)
		r = err_set(err, 500, virt_errno(), "%s: list: %s",
			    kind == VIRT_DOMAINS ? "domains" : "networks", virt_msg());
	for (int i = 0; i < cnt; i++) {
		const char *nm = kind == VIRT_DOMAINS ? virDomainGetName(doms[i])
						      : virNetworkGetName(nets[i]);
		if (r == 0 && nm != NULL && strncmp(nm, prefix, strlen(prefix)) == 0 &&
		    virt_names_push(names, n, nm) < 0)
			r = err_set(err, 500, ENOMEM, "out of memory");
		if (kind == VIRT_DOMAINS)
			virDomainFree(doms[i]);
		else
			virNetworkFree(nets[i]);
	}
	free(doms);
	free(nets);
	virConnectClose(c);
	return r;
}

char *virt_xml(enum virt_kind kind, const char *id)
{
	virConnectPtr c = virt_c(NULL);
	char *xml = NULL;

	if (c == NULL || id[0] == '\0')
		goto out;
	if (kind == VIRT_DOMAINS) {
		virDomainPtr d = virDomainLookupByName(c, id);
		if (d != NULL && virDomainIsActive(d) == 1)
			xml = virDomainGetXMLDesc(d, 0);
		if (d != NULL)
			virDomainFree(d);
	} else if (kind == VIRT_NETWORKS) {
		virNetworkPtr n = virNetworkLookupByName(c, id);
		if (n != NULL) {
			xml = virNetworkGetXMLDesc(n, 0);
			virNetworkFree(n);
		}
	} else {
		virSecretPtr sec = virSecretLookupByUUIDString(c, id);
		if (sec != NULL) {
			xml = virSecretGetXMLDesc(sec, 0);
			virSecretFree(sec);
		}
	}
out:
	if (c != NULL)
		virConnectClose(c);
	return xml;
}

enum virt_dom_op { VIRT_OP_PAUSE, VIRT_OP_RESUME, VIRT_OP_DUMP_MEMORY };

/* One operation on a domain found by name; path for the dump. */
static int virt_dom_do(const char *name, enum virt_dom_op op, const char *path,
		       struct dock_err *err)
{
	static const char *const what[] = { "pause", "resume", "memory dump" };
	virDomainPtr d;
	int r = 0, rc;
	VIRT_CONN(c, err);

	d = virt_dom(c, name, err);
	if (d == NULL) {
		virConnectClose(c);
		return -ENOENT;
	}
	if (op == VIRT_OP_DUMP_MEMORY) /* RAW is QEMU's ELF format; the kdump formats compress */
		rc = virDomainCoreDumpWithFormat(d, path, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW,
						 VIR_DUMP_MEMORY_ONLY);
	else
		rc = op == VIRT_OP_PAUSE ? virDomainSuspend(d) : virDomainResume(d);
	if (rc < 0)
		r = err_set(err, 500, virt_errno(), "domain %s: %s%s%s: %s", name, what[op],
			    path ? " to " : "", path ? path : "", virt_msg());
	virDomainFree(d);
	virConnectClose(c);
	return r;
}

int virt_domain_pause(const char *name, bool pause, struct dock_err *err)
{
	return virt_dom_do(name, pause ? VIRT_OP_PAUSE : VIRT_OP_RESUME, NULL, err);
}

int virt_domain_dump_memory(const char *name, const char *path, struct dock_err *err)
{
	return virt_dom_do(name, VIRT_OP_DUMP_MEMORY, path, err);
}
