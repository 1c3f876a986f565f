/* node-life: what every operation on a node's libvirt objects shares
 * (templates, the encrypted ephemeral disk, the domain, the teardown that
 * removes every trace) and the plain life-cycle calls: start, stop,
 * destroy. Each records its intent in the state file before its effect. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "diskguard.h"
#include "forensic.h"
#include "log.h"
#include "luks.h"
#include "pin.h"
#include "virt.h"

int node_render(const char *tmpl, const struct render_var *v, size_t n, char **xml,
		struct dock_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", node_cfg->dc_template_dir, tmpl);
	return render_file(path, v, n, xml, err);
}

/* A fresh ephemeral disk: volume, new key, LUKS header, secret. The key is
 * wiped from memory as soon as libvirt has it. */
int node_make_disk(struct node *n, const struct node_names *nn, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	char capacity[32], *xml = NULL;
	struct luks_key key;
	int64_t t = timing_now();
	int rc;

	snprintf(capacity, sizeof(capacity), "%llu",
		 (unsigned long long)(r->nr_scratch_mib * 1024 * 1024 + LUKS_HEADER_BYTES));
	const struct render_var vv[] = { { "volume_name", nn->nn_volume },
					 { "capacity", capacity } };
	rc = node_render("volume.xml", vv, NVARS(vv), &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0)
		rc = virt_volume_create(NODE_POOL, xml, r->nr_volume, sizeof(r->nr_volume), err);
	t = node_time(n, TIMING_VOLUME, t);
	free(xml);
	xml = NULL;
	if (rc < 0)
		return rc;
	rc = luks_key_new(&key, err);
	if (rc == 0)
		rc = luks_format(r->nr_volume, &key, err);
	t = node_time(n, TIMING_LUKS, t);
	if (rc == 0) /* only the operator's secret key opens this */
		rc = forensic_seal_key(r->nr_name, &key, err);
	if (rc == 0) {
		const struct render_var sv[] = { { "name", r->nr_name },
						 { "volume", r->nr_volume } };
		rc = node_render("secret.xml", sv, NVARS(sv), &xml, err);
	}
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0) {
		char uuid[37];
		rc = virt_secret_create(xml, &key, uuid, err);
		node_time(n, TIMING_VOLUME, t);
		if (rc == 0) {
			pthread_mutex_lock(&node_lock);
			memcpy(r->nr_secret_uuid, uuid, sizeof(uuid));
			pthread_mutex_unlock(&node_lock);
		}
	}
	luks_key_wipe(&key);
	free(xml);
	return rc;
}

int node_domain_xml(const struct node_rec *r, const struct node_names *nn, char **xml,
		    struct dock_err *err)
{
	char mem[24], vcpus[24], kernel[PATH_MAX] = "", initrd[PATH_MAX] = "", base[PATH_MAX],
				 uuid[37], label[32];
	const char *loader = "", *nvram = "", *nvram_template = "";
	struct resctl_xml rx;
	struct image im;

	if (image_load(node_cfg->dc_image_dir, r->nr_image, &im, err) < 0)
		return -EINVAL;
	image_path(&im, im.im_base, base, sizeof(base));
	if (im.im_boot == IMAGE_BOOT_KERNEL) {
		image_path(&im, im.im_kernel, kernel, sizeof(kernel));
		image_path(&im, im.im_initrd, initrd, sizeof(initrd));
		if (r->nr_vmm_uid != VMM_UID_NONE) {
			char k[PATH_MAX], i[PATH_MAX];
			if (node_vmm_boot_files(r, kernel, initrd, k, i, sizeof(k), err) < 0)
				return -EIO;
			memcpy(kernel, k, sizeof(k));
			memcpy(initrd, i, sizeof(i));
		}
	} else {
		/* Explicit firmware rather than <os firmware='efi'>: libvirt's
		 * autoselection prefers the secure-boot descriptors, which need
		 * SMM (slow under TCG) and refuse unsigned loaders. */
		loader = node_cfg->dc_ovmf_code;
		nvram = nn->nn_nvram;
		nvram_template = node_cfg->dc_ovmf_vars;
	}
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)r->nr_memory_mib);
	snprintf(vcpus, sizeof(vcpus), "%llu", (unsigned long long)r->nr_vcpus);
	virt_domain_uuid(nn->nn_domain, uuid);
	if (node_vmm_label(r, label, sizeof(label), err) < 0)
		return -EINVAL;
	const struct render_var base_v[] = {
		{ "uuid", uuid },
		{ "domain_type", virt_domain_type(node_cfg->dc_accel) },
		{ "domain", nn->nn_domain },
		{ "name", r->nr_name },
		{ "image", r->nr_image },
		{ "memory_mib", mem },
		{ "vcpus", vcpus },
		{ "kernel", kernel },
		{ "initrd", initrd },
		{ "cmdline", im.im_boot == IMAGE_BOOT_KERNEL ? im.im_cmdline : "" },
		{ "loader", loader },
		{ "nvram", nvram },
		{ "nvram_template", nvram_template },
		{ "base_path", base },
		{ "ephemeral_path", r->nr_volume },
		{ "secret_uuid", r->nr_secret_uuid },
		{ "mac", r->nr_mac },
		{ "network", nn->nn_network },
		{ "agent_socket", nn->nn_socket },
		{ "console_log", nn->nn_console },
		{ "vmm_label", label },
	};
	struct render_var v[NVARS(base_v) + RESCTL_XML_VARS];
	/* the resource limits (resctl.h) after the above */
	resctl_xml_vars(&r->nr_limits, &rx);
	memcpy(v, base_v, sizeof(base_v));
	for (size_t i = 0; i < RESCTL_XML_VARS; i++)
		v[NVARS(base_v) + i] = (struct render_var){ rx.rx_key[i], rx.rx_val[i] };
	return node_render("domain.xml", v, NVARS(v), xml, err);
}

/* Delete a node's UEFI variable store; absence is success. */
int node_nvram_remove(const char *name, const char *path, struct dock_err *err)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, 500, errno, "node %s: nvram %s: %s", name, path,
			       strerror(errno));
	return 0;
}

/* Remove every trace; safe to repeat, each step tolerates absence. The
 * first failure is reported, the remaining steps still run. */
int node_teardown(const struct node_rec *rec, struct dock_err *err)
{
	struct node_names nn;
	struct node_fwview fv;
	int r = 0;

	node_names(rec, &nn);
	if (virt_domain_remove(nn.nn_domain, err) < 0)
		r = -EIO;
	if (virt_network_remove(nn.nn_network, err) < 0)
		r = -EIO;
	node_fw(rec, &nn, &fv);
	if (fw_node_remove(&fv.fv_node, err) < 0)
		r = -EIO;
	flows_node_gone(rec->nr_name);
	if (virt_secret_remove(rec->nr_secret_uuid, rec->nr_volume, err) < 0)
		r = -EIO;
	if (virt_volume_remove(NODE_POOL, nn.nn_volume, err) < 0)
		r = -EIO;
	/* libvirt removed it with the domain (VIR_DOMAIN_UNDEFINE_NVRAM); a
	 * domain already gone may have left it. */
	if (node_nvram_remove(rec->nr_name, nn.nn_nvram, err) < 0)
		r = -EIO;
	unlink(nn.nn_socket);
	node_console_remove(nn.nn_console);
	node_vmm_boot_remove(rec->nr_name);
	forensic_forget_key(rec->nr_name);
	return r;
}

/* ---- operations ---------------------------------------------------------- */

int node_boot_image(struct node *n, bool verify, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct image im;

	if (image_load(node_cfg->dc_image_dir, r->nr_image, &im, err) < 0 ||
	    (verify && image_verify(&im, err) < 0) || pin_check(r, &im, err) < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		return -EINVAL;
	}
	if (r->nr_base_sha256[0] == '\0') {
		/* Its image could not be read when its record was upgraded. */
		pthread_mutex_lock(&node_lock);
		pin_set(r, &im, NULL);
		pthread_mutex_unlock(&node_lock);
		log_warn("node %s: not pinned yet: pinned to image %s's base sha256 %s", r->nr_name,
			 r->nr_image, r->nr_base_sha256);
	}
	return 0;
}

/* Start an existing node: verify the image and the node's pin, re-render
 * and redefine the domain (paths and accel come from the current config),
 * start it. */
int node_do_start(struct node *n, bool verify, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct node_names nn;
	char *xml = NULL;
	bool cleansing;
	int64_t t = timing_now();
	int rc;

	node_names(r, &nn);
	/* verify is false only when the caller hashed the image a moment ago. */
	if (node_boot_image(n, verify, err) < 0)
		return -EINVAL;
	/* An older dock's node gets its own uid now; libvirt re-owns its files. */
	if (node_vmm_ensure(n, err) < 0)
		return -ENOSPC;
	node_time(n, TIMING_VALIDATE, t);
	/* A cleanse recorded its start phase already, and goes on from here. */
	cleansing = r->nr_state == NODE_CLEANSING;
	rc = cleansing ? 0 : node_commit(n, NODE_STARTING, NULL, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&node_lock);
	r->nr_have_hello = false; /* a hello from an earlier boot says nothing now */
	n->n_last_heartbeat = 0;
	free(n->n_report);
	free(n->n_pending);
	n->n_report = n->n_pending = NULL;
	n->n_bad = n->n_overlong = n->n_dropped = 0;
	n->n_hostile_handled = n->n_silent_handled = false;
	memset(n->n_fail_since, 0, sizeof(n->n_fail_since));
	memset(n->n_fact_miss, 0, sizeof(n->n_fact_miss));
	n->n_agent_protocol = 0; /* the image's agent says it anew (start --rebase) */
	pthread_mutex_unlock(&node_lock);
	/* Re-render the domain: paths and accel come from the current config. */
	t = timing_now();
	rc = node_domain_xml(r, &nn, &xml, err);
	t = node_time(n, TIMING_RENDER, t);
	if (rc == 0)
		rc = virt_domain_define(xml, err);
	free(xml);
	if (rc == 0) /* kept across boots: rotated when big, each boot marked */
		node_console_boot(r->nr_name, nn.nn_console);
	if (rc == 0)
		rc = virt_domain_start(nn.nn_domain,
				       (r->nr_memory_mib + NODE_QEMU_OVERHEAD_MIB) * 1024, err);
	t = node_time(n, TIMING_DOMAIN, t);
	if (rc < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		if (!cleansing)
			node_commit(n, NODE_STOPPED, err->de_msg, NULL);
		return rc;
	}
	log_info("node %s: started", r->nr_name);
	pthread_mutex_lock(&node_lock);
	n->n_timing.tm_started_ns = t; /* the first agent line ends the timing */
	r->nr_cleanse_at = r->nr_lifetime_s ? (int64_t)time(NULL) + (int64_t)r->nr_lifetime_s : 0;
	pthread_mutex_unlock(&node_lock);
	return cleansing ? 0 : node_commit(n, NODE_RUNNING, NULL, err);
}

/* start --rebase: the node is pinned to its image's current base (read and
 * verified now), the move audited with both digests. */
static int node_rebase(struct node *n, struct dock_err *err)
{
	struct node_rec *r = &n->n_rec;
	struct image im;
	char old[65];
	bool moved;

	if (image_load(node_cfg->dc_image_dir, r->nr_image, &im, err) < 0 ||
	    image_verify(&im, err) < 0) {
		err_prefix(err, "node %s: ", r->nr_name);
		return -EINVAL;
	}
	pthread_mutex_lock(&node_lock);
	moved = pin_set(r, &im, old);
	pthread_mutex_unlock(&node_lock);
	if (moved) {
		struct json_object *d = json_object_new_object();

		log_warn("node %s: rebased: image %s's base sha256 %s, was %s", r->nr_name,
			 r->nr_image, r->nr_base_sha256, old[0] ? old : "(not pinned)");
		json_object_object_add(d, "image", json_object_new_string(r->nr_image));
		json_object_object_add(d, "pinned_sha256", json_object_new_string(old));
		json_object_object_add(d, "base_sha256", json_object_new_string(r->nr_base_sha256));
		audit_append(AUDIT_UID_DOCK, "rebase", r->nr_name, "ok", d, NULL);
		json_object_put(d);
	}
	return 0;
}

/* Its disk's key still in libvirt: 1; gone (libvirtd restarted, the host
 * rebooted, the secret removed by hand, a cleanse that failed between its
 * old key and its new one): 0, and a start must give it a fresh disk. */
static int node_key_present(struct node *n, struct dock_err *err)
{
	int r = virt_secret_exists(n->n_rec.nr_secret_uuid, err);

	if (r < 0)
		err_prefix(err, "node %s: ", n->n_rec.nr_name);
	return r;
}

/* What refuses a start before anything is done: a paused node, too little
 * space (diskguard.h), a disk whose key is gone without rekey, a rebase
 * that cannot be made. A node already running: so_already, nothing done.
 * *key: the disk's key is still in libvirt. */
static int node_start_may(struct node *n, struct node_start_opts *o, bool *key,
			  struct dock_err *err)
{
	const char *name = n->n_rec.nr_name;
	int r;

	if (n->n_rec.nr_state == NODE_RUNNING) {
		enum virt_dom_state st;
		struct node_names nn;
		node_names(&n->n_rec, &nn);
		r = virt_domain_state(nn.nn_domain, &st, NULL);
		if (r == 0 && st == VIRT_DOM_RUNNING) {
			o->so_already = true;
			return 0;
		}
		if (r == 0 && st == VIRT_DOM_PAUSED)
			return err_set(
				err, 409, EALREADY, "node \"%s\" is paused%s%s%s", name,
				n->n_paused ? " by quarantine: release resumes it (iscadm release "
					    : "",
				n->n_paused ? name : "", n->n_paused ? ")" : "");
	}
	if (diskguard_check(node_cfg, "start", err) < 0) {
		err_prefix(err, "node %s: ", name);
		return -ENOSPC;
	}
	r = node_key_present(n, err);
	if (r < 0)
		return r;
	*key = r > 0;
	/* Ephemeral secrets live in libvirtd's memory only: the disk can never
	 * be opened again. A fresh disk wipes what it held, so only when asked. */
	if (!*key && !o->so_rekey)
		return err_set(
			err, 409, ENOKEY,
			"node \"%s\": its ephemeral disk's key is gone from libvirt "
			"(libvirtd restarted?); the data on that disk is lost: start it "
			"with rekey for a fresh disk with a new key (iscadm start --rekey %s)",
			name, name);
	return o->so_rebase ? node_rebase(n, err) : 0;
}

/* The key is gone and rekey was asked: a fresh disk with a new key, the
 * node started as a cleanse would, audited. */
static int node_start_rekey(struct node *n, struct dock_err *err)
{
	const char *name = n->n_rec.nr_name;
	struct json_object *d = json_object_new_object();
	char result[600];
	int r;

	log_warn("node %s: its disk's key (secret %s) is gone from libvirt (libvirtd restarted?): "
		 "fresh disk with a new key, as a cleanse does (start with rekey)",
		 name, n->n_rec.nr_secret_uuid);
	json_object_object_add(d, "old_secret", json_object_new_string(n->n_rec.nr_secret_uuid));
	r = node_do_cleanse(n, NODE_PHASE_SNAPSHOT, NODE_PHASE_START, err);
	snprintf(result, sizeof(result), "%s%s", r < 0 ? "error: " : "ok",
		 r < 0 && err ? err->de_msg : "");
	audit_append(AUDIT_UID_DOCK, "rekey-at-start", name, result, d, NULL);
	json_object_put(d);
	return r;
}

int node_start(const char *name, struct node_start_opts *o, struct dock_err *err)
{
	struct node *n;
	bool key = true;
	int r = node_acquire(name, "starting", &n, err);

	o->so_already = o->so_rekeyed = false;
	if (r < 0)
		return r;
	r = node_start_may(n, o, &key, err);
	if (r < 0 || o->so_already) {
		node_release(n);
		return r;
	}
	node_timing_begin(n, "start", timing_now());
	if (key) {
		r = node_do_start(n, true, err);
	} else {
		r = node_start_rekey(n, err);
		o->so_rekeyed = r == 0;
	}
	node_release(n);
	return r;
}

int node_stop(const char *name, bool *already, struct dock_err *err)
{
	struct node_names nn;
	struct node *n;
	int r = node_acquire(name, "stopping", &n, err);

	*already = false;
	if (r < 0)
		return r;
	node_names(&n->n_rec, &nn);
	if (n->n_rec.nr_state == NODE_STOPPED || n->n_rec.nr_state == NODE_DEFINED) {
		*already = true; /* nothing to do: said, not refused */
		node_release(n);
		return 0;
	}
	r = node_commit(n, NODE_STOPPING, NULL, err);
	if (r == 0)
		r = virt_domain_stop(nn.nn_domain, (unsigned)node_cfg->dc_stop_timeout_s, err);
	if (r == 0) {
		pthread_mutex_lock(&node_lock);
		n->n_rec.nr_cleanse_at = 0;
		pthread_mutex_unlock(&node_lock);
		r = node_commit(n, NODE_STOPPED, NULL, err);
		log_info("node %s: stopped", name);
	} else {
		err_prefix(err, "node %s: ", name);
		node_commit(n, NODE_FAILED, err->de_msg, NULL);
	}
	node_release(n);
	return r;
}

/* Does node n's QEMU run (paused, or in a state between)? Asked of libvirt;
 * when libvirt cannot say, the record's word. */
static const char *node_running_word(struct node *n)
{
	enum virt_dom_state st;
	struct node_names nn;

	node_names(&n->n_rec, &nn);
	if (virt_domain_state(nn.nn_domain, &st, NULL) < 0)
		return n->n_rec.nr_state == NODE_RUNNING ? "running" : NULL;
	switch (st) {
	case VIRT_DOM_RUNNING:
	case VIRT_DOM_OTHER:
		return "running";
	case VIRT_DOM_PAUSED:
		return "paused";
	case VIRT_DOM_ABSENT:
	case VIRT_DOM_OFF:
		break;
	}
	return NULL;
}

int node_destroy(const char *name, bool force, struct dock_err *err)
{
	struct node *n;
	const char *running;
	int r = node_acquire(name, "destroying", &n, err);

	if (r < 0)
		return r;
	/* Destroy crypto-shreds the disk: a running node only when forced. */
	if (!force && (running = node_running_word(n)) != NULL) {
		node_release(n);
		return err_set(err, 409, EBUSY,
			       "node \"%s\" is %s: stop it first (iscadm stop %s) or destroy it "
			       "with force (iscadm destroy --force %s)",
			       name, running, name, name);
	}
	r = node_commit(n, NODE_DESTROYING, NULL, err);
	if (r == 0)
		r = node_teardown(&n->n_rec, err);
	if (r < 0) {
		err_prefix(err, "node %s: destroy incomplete, run destroy again: ", name);
		node_commit(n, NODE_FAILED, err->de_msg, NULL);
		node_release(n);
		return r;
	}
	r = state_remove(node_cfg->dc_state_dir, name, err);
	pthread_mutex_lock(&node_lock);
	node_remove_locked(n);
	pthread_mutex_unlock(&node_lock);
	log_info("node %s: destroyed", name);
	return r;
}
