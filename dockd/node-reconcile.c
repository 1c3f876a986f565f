/* node-reconcile: the node room at dock start (node_init): its
 * directories and volume pool, the records loaded, the firewall rebuilt from
 * them in one batch, each record brought in line with libvirt (an
 * interrupted create or destroy undone, a cleanse resumed), and the
 * orphans of a crash (domains, networks, secrets, nvram, volumes) removed. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "diskguard.h"
#include "forensic.h"
#include "log.h"
#include "pin.h"
#include "virt.h"

static int node_mkdir(const char *path, mode_t mode, struct dock_err *err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if (chmod(path, mode) < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	return 0;
}

/* Records on disk that did not load (broken, or newer than this dock):
 * their node's objects are not orphans, whatever else is wrong. */
static char (*node_unloaded)[NODE_NAME_MAX + 1];
static size_t node_n_unloaded;

static bool node_known(const char *name)
{
	bool k;

	pthread_mutex_lock(&node_lock);
	k = node_find_locked(name) != NULL;
	pthread_mutex_unlock(&node_lock);
	for (size_t i = 0; !k && i < node_n_unloaded; i++)
		k = strcmp(node_unloaded[i], name) == 0;
	return k;
}

/* Variable stores without a node record (a crash between the domain's
 * removal and the record's, or a domain removed by hand). */
static void node_remove_orphan_nvram(void)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	size_t slen = strlen(NODE_NVRAM_SUFFIX);
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/" NODE_NVRAM_DIR, node_cfg->dc_state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char nm[NODE_NAME_MAX + 1];
		size_t len = strlen(de->d_name);

		if (len <= slen || len - slen > NODE_NAME_MAX ||
		    strcmp(de->d_name + len - slen, NODE_NVRAM_SUFFIX) != 0)
			continue;
		snprintf(nm, sizeof(nm), "%.*s", (int)(len - slen), de->d_name);
		if (node_known(nm))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		log_warn("orphan nvram %s (no node record): removing", path);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("orphan nvram %s: %s", path, strerror(errno));
	}
	closedir(d);
}

/* libvirt objects named isc-* without a record were left by a crash. */
static void node_remove_orphans(void)
{
	char **names, vol_dir[PATH_MAX];
	size_t cnt, plen = strlen(NODE_PREFIX);

	if (virt_list(VIRT_DOMAINS, NODE_PREFIX, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			if (node_known(names[i] + plen))
				continue;
			log_warn("orphan domain %s (no node record): removing", names[i]);
			virt_domain_remove(names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
	if (virt_list(VIRT_NETWORKS, NODE_PREFIX, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			if (node_known(names[i] + plen))
				continue;
			log_warn("orphan network %s (no node record): removing", names[i]);
			virt_network_remove(names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
	snprintf(vol_dir, sizeof(vol_dir), "%s/volumes/", node_cfg->dc_state_dir);
	if (virt_secret_usages(&names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			const char *u = names[i], *base = u + strlen(vol_dir);
			char nm[NODE_NAME_MAX + 1];
			size_t blen;

			if (strncmp(u, vol_dir, strlen(vol_dir)) != 0 ||
			    strncmp(base, NODE_PREFIX, plen) != 0)
				continue;
			blen = strlen(base + plen);
			if (blen < 5 || blen - 4 > NODE_NAME_MAX)
				continue;
			snprintf(nm, sizeof(nm), "%.*s", (int)(blen - 4), base + plen);
			if (node_known(nm))
				continue;
			log_warn("orphan secret for %s (no node record): removing", u);
			virt_secret_remove(NULL, u, NULL);
		}
		virt_free_names(names, cnt);
	}
	node_remove_orphan_nvram();
	if (virt_volume_list(NODE_POOL, &names, &cnt, NULL) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			char nm[NODE_NAME_MAX + 1];
			size_t len = strlen(names[i]);

			if (strncmp(names[i], NODE_PREFIX, plen) == 0 && len > plen + 4 &&
			    len - plen - 4 <= NODE_NAME_MAX) {
				snprintf(nm, sizeof(nm), "%.*s", (int)(len - plen - 4),
					 names[i] + plen);
				if (node_known(nm))
					continue;
			}
			log_warn("orphan volume %s (no node record): removing", names[i]);
			virt_volume_remove(NODE_POOL, names[i], NULL);
		}
		virt_free_names(names, cnt);
	}
}

/* A domain the dock left paused in a start (kill -9 between the paused
 * start and the memory cap) has no hard limit: set it before it runs.
 * -1 when it cannot be set: the domain then stays paused (as a start
 * would have destroyed it rather than run it uncapped). */
static int node_reconcile_hard_limit(const struct node_rec *r, const char *domain)
{
	unsigned long long want = (r->nr_memory_mib + NODE_QEMU_OVERHEAD_MIB) * 1024ULL;
	struct dock_err e = { 0 };

	if (virt_domain_hard_limit(domain) != 0)
		return 0;
	if (virt_domain_set_hard_limit(domain, want, &e) < 0) {
		log_warn("node %s: found paused without its memory hard limit, which cannot be "
			 "set (%s): left paused",
			 r->nr_name, e.de_msg);
		return -1;
	}
	log_warn("node %s: found paused without its memory hard limit (the dock stopped "
		 "while starting it): limit set to %llu KiB",
		 r->nr_name, want);
	return 0;
}

/* Bring one loaded record in line with what libvirt holds. */
static void node_reconcile(struct node *n)
{
	struct node_rec *r = &n->n_rec;
	enum virt_dom_state st;
	struct node_names nn;
	struct dock_err e = { 0 };
	bool capped;

	node_names(r, &nn);
	switch (r->nr_state) {
	case NODE_CREATING:
	case NODE_DESTROYING:
		log_warn("node %s: dock stopped while %s; removing the node", r->nr_name,
			 state_name(r->nr_state));
		if (node_teardown(r, &e) == 0 &&
		    state_remove(node_cfg->dc_state_dir, r->nr_name, &e) == 0) {
			pthread_mutex_lock(&node_lock);
			node_remove_locked(n);
			pthread_mutex_unlock(&node_lock);
		} else {
			node_commit(n, NODE_FAILED, e.de_msg, NULL);
		}
		return;
	case NODE_CLEANSING: {
		pthread_t t;
		/* In a thread of its own: its shutdown and wait-agent phases
		 * need the agent channels, served once start-up is done. */
		log_warn("node %s: dock stopped while cleansing (phase %s); resuming that phase",
			 r->nr_name, r->nr_phase ? state_phase_name(r->nr_phase) : "none");
		n->n_op = "cleansing";
		if (pthread_create(&t, NULL, node_cleanse_thread, n) == 0)
			pthread_detach(t);
		else
			n->n_op = NULL;
		return;
	}
	default:
		break;
	}
	if (virt_domain_state(nn.nn_domain, &st, &e) < 0) {
		log_warn("node %s: cannot read domain state: %s", r->nr_name, e.de_msg);
		return;
	}
	switch (st) {
	case VIRT_DOM_ABSENT:
		node_commit(n, NODE_FAILED, "its libvirt domain disappeared; destroy the node",
			    NULL);
		log_warn("node %s: domain %s is missing from libvirt", r->nr_name, nn.nn_domain);
		break;
	case VIRT_DOM_PAUSED:
		/* Paused by quarantine --pause, or left paused by a dock stopped
		 * in a snapshot, or in a start (node_start: started paused, its
		 * memory capped, then resumed): the cap first, then it runs. */
		capped = node_reconcile_hard_limit(r, nn.nn_domain) == 0;
		if (capped && !r->nr_quarantined && virt_domain_pause(nn.nn_domain, false, &e) < 0)
			log_warn("node %s: cannot resume: %s", r->nr_name, e.de_msg);
		n->n_paused = r->nr_quarantined || !capped;
		if (r->nr_state != NODE_RUNNING)
			node_commit(n, NODE_RUNNING, NULL, NULL);
		break;
	case VIRT_DOM_RUNNING:
		if (r->nr_state != NODE_RUNNING)
			node_commit(n, NODE_RUNNING, NULL, NULL);
		break;
	case VIRT_DOM_OFF:
		if (r->nr_state != NODE_STOPPED && r->nr_state != NODE_DEFINED &&
		    r->nr_state != NODE_FAILED)
			node_commit(n, NODE_STOPPED, NULL, NULL);
		break;
	case VIRT_DOM_OTHER:
		break;
	}
}

/* The dock's directories, with the modes QEMU and the dock need. */
static int node_init_dirs(const struct dock_config *cfg, struct dock_err *err)
{
	char path[PATH_MAX];

	/* state_dir and volumes are traversed by QEMU (libvirt-qemu): 0711. */
	snprintf(path, sizeof(path), "%s/nodes", cfg->dc_state_dir);
	if (node_mkdir(cfg->dc_state_dir, 0711, err) < 0 || node_mkdir(path, 0700, err) < 0)
		return -EIO;
	/* QEMU (libvirt-qemu) opens the variable stores by path: 0711. */
	snprintf(path, sizeof(path), "%s/" NODE_NVRAM_DIR, cfg->dc_state_dir);
	if (node_mkdir(path, 0711, err) < 0)
		return -EIO;
	/* Each node's copy of its image's kernel and initrd (node-vmm.c). */
	snprintf(path, sizeof(path), "%s/" NODE_BOOT_DIR, cfg->dc_state_dir);
	if (node_mkdir(path, 0711, err) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/agents", cfg->dc_run_dir);
	if (node_mkdir(cfg->dc_run_dir, 0755, err) < 0 || node_mkdir(path, 0711, err) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/console", cfg->dc_run_dir);
	if (node_mkdir(path, 0700, err) < 0)
		return -EIO;
	return 0;
}

/* The storage pool of the ephemeral volumes. */
static int node_init_pool(const struct dock_config *cfg, struct dock_err *err)
{
	char path[PATH_MAX], *xml = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/volumes", cfg->dc_state_dir);
	const struct render_var pv[] = { { "pool", NODE_POOL }, { "path", path } };
	r = node_render("pool.xml", pv, NVARS(pv), &xml, err);
	if (r == 0)
		r = virt_pool_ensure(NODE_POOL, xml, err);
	free(xml);
	return r;
}

/* A record of an older format, written back as this one (pin.h): its
 * state, checks and policies are left as they are. */
static void node_init_upgrade(struct node *n)
{
	struct node_rec *r = &n->n_rec;
	struct dock_err e = { 0 };
	struct image im;
	unsigned was = r->nr_version;
	bool have_im = image_load(node_cfg->dc_image_dir, r->nr_image, &im, &e) == 0;

	if (!pin_upgrade(r, have_im ? &im : NULL))
		return;
	if (r->nr_base_sha256[0] != '\0')
		log_info("node %s: record version %u upgraded to %d; pinned to image %s's current "
			 "base sha256 %s",
			 r->nr_name, was, STATE_VERSION, r->nr_image, r->nr_base_sha256);
	else
		log_warn("node %s: record version %u upgraded to %d; not pinned (%s): pinned at "
			 "its next start",
			 r->nr_name, was, STATE_VERSION, e.de_msg);
	err_clear(&e);
	pthread_mutex_lock(&node_lock);
	if (node_save_locked(n, &e) < 0)
		log_err("node %s: upgraded record not written (kept in memory): %s", r->nr_name,
			e.de_msg);
	pthread_mutex_unlock(&node_lock);
}

/* A node created before egress was public-only (issue 15) has lost its
 * access to the private ranges: said once, in the log and the audit trail,
 * and remembered in its record. Its allow-list gives the access back. */
static void node_init_egress_narrowed(struct node *n)
{
	struct node_rec *r = &n->n_rec;
	struct json_object *d;
	struct dock_err e = { 0 };

	if (r->nr_egress_public_only)
		return;
	log_warn("node %s: egress is now public-only: private, link-local and multicast ranges "
		 "are dropped unless its egress allow-list names them (--egress-allow)",
		 r->nr_name);
	d = json_object_new_object();
	json_object_object_add(d, "egress",
			       json_object_new_string(r->nr_egress_deny ? "deny" : "allow"));
	json_object_object_add(d, "egress_allow", json_object_new_int64((int64_t)r->nr_n_allow));
	/* remembered once recorded; a failed append says it again next start */
	r->nr_egress_public_only =
		audit_append(AUDIT_UID_DOCK, "egress-narrowed", r->nr_name, "ok", d, NULL) == 0;
	json_object_put(d);
	if (!r->nr_egress_public_only)
		return;
	pthread_mutex_lock(&node_lock);
	if (node_save_locked(n, &e) < 0)
		log_err("node %s: record not written (kept in memory): %s", r->nr_name, e.de_msg);
	pthread_mutex_unlock(&node_lock);
}

/* A record that did not load: logged, and its objects kept (node_known). */
static void node_init_unloaded(const char *name, const char *why)
{
	void *nv = realloc(node_unloaded, (node_n_unloaded + 1) * sizeof(*node_unloaded));

	log_err("node %s: record not loaded, its libvirt objects and volume left alone: %s", name,
		why);
	if (nv == NULL)
		return;
	node_unloaded = nv;
	snprintf(node_unloaded[node_n_unloaded++], sizeof(*node_unloaded), "%s", name);
}

/* The records into the table; one that does not load is logged and left. */
static int node_init_load(const struct dock_config *cfg, struct dock_err *err)
{
	char **names = NULL;
	size_t cnt = 0;
	int r = state_list(cfg->dc_state_dir, &names, &cnt, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < cnt; i++) {
		struct dock_err e = { 0 };
		struct node *n = calloc(1, sizeof(*n));

		if (n == NULL || node_count >= NODE_MAX ||
		    state_load(cfg->dc_state_dir, names[i], &n->n_rec, &e) < 0) {
			node_init_unloaded(names[i], e.de_msg);
			free(n);
			continue;
		}
		node_init_upgrade(n);
		node_init_egress_narrowed(n);
		node_load_profile(n);
		node_table[node_count++] = n;
	}
	for (size_t i = 0; i < cnt; i++)
		free(names[i]);
	free(names);
	return 0;
}

/* The private ranges beyond the firewall's built-in ones: the whole subnet
 * pool (a node never reaches another's network, even through the host) and
 * dockd.conf's egress_private. */
static const char *const *node_private_ranges(const struct dock_config *cfg, const char **out)
{
	out[0] = cfg->dc_pool_text;
	for (size_t i = 0; i < cfg->dc_n_egress_private; i++)
		out[i + 1] = cfg->dc_egress_private[i];
	return out;
}

int node_private_apply(const struct dock_config *next, struct dock_err *err)
{
	const char *priv[CONFIG_PRIVATE_MAX + 1];
	int r;

	priv[0] = node_cfg->dc_pool_text; /* the pool needs a restart: the running one */
	for (size_t i = 0; i < next->dc_n_egress_private; i++)
		priv[i + 1] = next->dc_egress_private[i];
	pthread_mutex_lock(&node_lock);
	r = fw_set_private(priv, next->dc_n_egress_private + 1, err);
	pthread_mutex_unlock(&node_lock);
	return r;
}

/* The firewall is rebuilt from the records in one batch, before the
 * reconciliation, whose undo steps remove elements from it. */
static int node_init_firewall(struct dock_err *err)
{
	const char *priv[CONFIG_PRIVATE_MAX + 1];
	struct node_fwview *fvs = calloc(node_count + 1, sizeof(*fvs));
	struct fw_node *fns = calloc(node_count + 1, sizeof(*fns));
	struct node_names *nns = calloc(node_count + 1, sizeof(*nns));
	int r;

	if (fvs == NULL || fns == NULL || nns == NULL) {
		free(fvs);
		free(fns);
		free(nns);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < node_count; i++) {
		node_publish_screen(&node_table[i]->n_rec);
		node_names(&node_table[i]->n_rec, &nns[i]);
		node_fw(&node_table[i]->n_rec, &nns[i], &fvs[i]);
		fns[i] = fvs[i].fv_node;
	}
	r = fw_init(fns, node_count, node_private_ranges(node_cfg, priv),
		    node_cfg->dc_n_egress_private + 1, err);
	if (r == 0)
		flows_init(); /* a second batch: until it lands, no flow, the safe way */
	free(fvs);
	free(fns);
	free(nns);
	return r;
}

int node_init(const struct dock_config *cfg, struct dock_err *err)
{
	int r;

	node_cfg = cfg;
	r = node_init_dirs(cfg, err);
	if (r == 0)
		diskguard_reserve_init(cfg);
	if (r == 0)
		r = node_init_pool(cfg, err);
	if (r == 0)
		r = forensic_init(cfg, err);
	if (r == 0)
		r = node_init_load(cfg, err);
	if (r == 0)
		r = node_init_firewall(err);
	if (r < 0)
		return r;
	for (size_t i = node_count; i > 0; i--)
		node_reconcile(node_table[i - 1]);
	node_remove_orphans();
	pthread_mutex_lock(&node_lock);
	node_vmm_reconcile_locked();
	pthread_mutex_unlock(&node_lock);
	log_info("dock: %zu node(s) known", node_count);
	return 0;
}
