/* node-snapshot: forensic snapshots of a node (forensic.h): its encrypted
 * disk, and its memory dumped while paused; quarantine's pause and resume;
 * each snapshot's digest goes to the audit trail. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "forensic.h"
#include "virt.h"

/* A forensic snapshot is a security event: its digest goes to the trail. */
void node_audit_snapshot(const char *name, struct json_object *snap)
{
	struct json_object *d = json_object_new_object(), *v;

	if (json_object_object_get_ex(snap, "id", &v))
		json_object_object_add(d, "id", json_object_get(v));
	if (json_object_object_get_ex(snap, "sha256", &v))
		json_object_object_add(d, "sha256", json_object_get(v));
	if (json_object_object_get_ex(snap, "reason", &v))
		json_object_object_add(d, "reason", json_object_get(v));
	if (json_object_object_get_ex(snap, "memory", &v) &&
	    json_object_object_get_ex(v, "sha256", &v))
		json_object_object_add(d, "memory_sha256", json_object_get(v));
	audit_append(AUDIT_UID_DOCK, "forensic-snapshot", name, "ok", d, NULL);
	json_object_put(d);
}

/* Pause (on) or resume acquired node n's domain for quarantine; a stopped
 * node has nothing to pause, a resumed one nothing to do. */
int node_quarantine_pause(struct node *n, bool on, struct dock_err *err)
{
	struct node_names nn;
	enum virt_dom_state st;
	int r;

	node_names(&n->n_rec, &nn);
	r = virt_domain_state(nn.nn_domain, &st, err);
	if (r < 0)
		return r;
	if (on && st != VIRT_DOM_RUNNING && st != VIRT_DOM_PAUSED)
		return err_set(err, 409, EINVAL,
			       "node %s is not running: there is nothing to pause",
			       n->n_rec.nr_name);
	if (st == (on ? VIRT_DOM_RUNNING : VIRT_DOM_PAUSED))
		r = virt_domain_pause(nn.nn_domain, on, err);
	if (r == 0) {
		pthread_mutex_lock(&node_lock);
		n->n_paused = on;
		if (!on)
			n->n_resumed_at = (int64_t)time(NULL);
		pthread_mutex_unlock(&node_lock);
	}
	return r;
}

/* What the memory dump's callback needs: the node (its op_phase) and domain. */
struct node_dump {
	struct node *nd_node;
	const char *nd_domain;
};

/* The memory of a snapshot: libvirt dumps the paused domain; forensic.c
 * encrypts the dump as soon as this returns. */
static int node_dump_memory(const char *path, void *arg, struct dock_err *err)
{
	struct node_dump *d = arg;
	int r;

	node_op_phase(d->nd_node, "memory");
	r = virt_domain_dump_memory(d->nd_domain, path, err);
	node_op_phase(d->nd_node, "encrypt-memory");
	return r;
}

/* A forensic snapshot of acquired node n: a running domain is paused for a
 * consistent copy, then resumed; one already paused stays so. */
int node_snapshot_acquired(struct node *n, const char *reason, bool memory,
			   struct json_object **out, struct dock_err *err)
{
	const char *name = n->n_rec.nr_name;
	struct node_names nn;
	enum virt_dom_state st = VIRT_DOM_ABSENT;
	struct forensic_memory mem = { 0 };
	struct node_dump dump = { n, NULL };
	bool paused = false;
	int r = forensic_refuse_unless_enabled(name, err);

	if (r < 0)
		return r;
	node_names(&n->n_rec, &nn);
	dump.nd_domain = nn.nn_domain;
	if (virt_domain_state(nn.nn_domain, &st, NULL) == 0 && st == VIRT_DOM_RUNNING) {
		node_op_phase(n, "pause");
		r = virt_domain_pause(nn.nn_domain, true, err);
		paused = r == 0;
	}
	if (r == 0 && memory && st != VIRT_DOM_RUNNING && st != VIRT_DOM_PAUSED)
		r = err_set(err, 409, EINVAL, "node %s is not running: it has no memory to dump",
			    name);
	mem.fm_dump = node_dump_memory;
	mem.fm_arg = &dump;
	/* The dump is the guest's RAM and QEMU's ELF headers (a few pages). */
	mem.fm_max_bytes = (n->n_rec.nr_memory_mib + 64) << 20;
	if (r == 0) {
		node_op_phase(n, "disk"); /* the disk's copy, then the memory */
		r = forensic_snapshot(name, n->n_rec.nr_volume, reason, memory ? &mem : NULL, out,
				      err);
	}
	if (paused) {
		node_op_phase(n, "resume");
		virt_domain_pause(nn.nn_domain, false, NULL);
	}
	if (r == 0)
		node_audit_snapshot(name, *out);
	return r;
}

int node_snapshot(const char *name, bool memory, struct json_object **out, struct dock_err *err)
{
	struct node *n;
	int r = node_acquire(name, "snapshotting", &n, err);

	if (r < 0)
		return r;
	r = node_snapshot_acquired(n, "on demand", memory, out, err);
	node_release(n);
	return r;
}
