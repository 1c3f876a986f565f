/* fw: the public calls of fw.h. Each call checks all of its input
 * (fw-check.c), then builds one batch in memory (the first build failure is
 * kept and reported at send), then sends it on this thread's netlink socket
 * (fw-send.c): the kernel applies it whole or not at all, and the first
 * failing message, in message order, is the one reported, named by what
 * that message does. fw-int.h lists the siblings. */
#include "fw-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>

/* Make sure the table exists, so that deleting it in the same batch cannot
 * fail: the portable form of "delete if present" (NFT_MSG_DESTROYTABLE
 * needs Linux 6.3). */
static void fw_table_delete(struct fw_batch *b)
{
	fw_table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, false,
		     "make sure table inet " FW_TABLE " exists before deleting it");
	fw_table_msg(b, NFT_MSG_DELTABLE, 0, false, "delete table inet " FW_TABLE);
}

int fw_init(const struct fw_node *nodes, size_t n, const char *const *private, size_t nprivate,
	    struct dock_err *err)
{
	struct fw_range priv[FW_PRIVATE_MAX];
	struct fw_batch b = { 0 };
	struct fw_info *fi = NULL;
	size_t npriv = 0;
	int r;

	if (n > FW_NODES_MAX)
		return err_set(err, 400, E2BIG, "firewall: %zu nodes, more than the limit of %d", n,
			       FW_NODES_MAX);
	if (n > 0 && nodes == NULL)
		return err_set(err, 400, EINVAL, "firewall: %zu nodes but no node array", n);
	fi = calloc(n + 1, sizeof(*fi));
	if (fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: no memory for %zu nodes", n);
	for (size_t i = 0; i < n; i++) {
		r = fw_node_parse(&nodes[i], &fi[i], err);
		if (r < 0)
			goto out;
	}
	r = fw_init_check(fi, n, err);
	if (r == 0)
		r = fw_private_ranges(private, nprivate, priv, &npriv, err);
	if (r < 0)
		goto out;

	fw_batch_begin(&b);
	fw_table_delete(&b);
	fw_table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, true,
		     "create table inet " FW_TABLE);
	for (int s = 0; s < FW_NSETS; s++)
		fw_set_create(&b, (enum fw_set)s);
	fw_policy(&b);
	/* The node chains after the fixed ones, as fw_node_add makes them,
	 * and before node_drop's elements, which go to them. */
	for (size_t i = 0; i < n; i++)
		fw_node_chain(&b, &fi[i], true);
	for (size_t i = 0; i < n; i++)
		fw_bw_chain(&b, &fi[i], true);
	for (size_t i = 0; i < n; i++)
		fw_names_chain(&b, &fi[i], true);
	for (int s = 0; s < FW_NSETS && b.fb_errno == 0; s++) {
		struct fw_els els = { 0 };

		for (size_t i = 0; i < n; i++)
			fw_node_elems(&b, &fi[i], (enum fw_set)s, false, &els);
		if (s == FW_PRIVATE)
			fw_private_elems(&b, priv, npriv, &els);
		fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "add", (enum fw_set)s,
			 true, els.v, els.n);
		free(els.v);
	}
	r = fw_batch_send(&b, err);
out:
	fw_batch_free(&b);
	free(fi);
	return r;
}

int fw_set_private(const char *const *private, size_t nprivate, struct dock_err *err)
{
	struct fw_range priv[FW_PRIVATE_MAX];
	struct fw_batch b = { 0 };
	struct fw_els els = { 0 };
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	size_t npriv = 0;
	int r;

	r = fw_private_ranges(private, nprivate, priv, &npriv, err);
	if (r < 0)
		return r;
	fw_batch_begin(&b);
	/* A DELSETELEM without elements flushes the set. */
	s = fw_set_ref(&b, FW_PRIVATE, false);
	if (s != NULL) {
		nlh = fw_msg_begin(&b, NFT_MSG_DELSETELEM, 0, FW_MSG_ROOM, "flush set %s",
				   fw_sets[FW_PRIVATE].sd_name);
		if (nlh != NULL) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			fw_msg_end(&b, nlh, FW_MSG_ROOM);
		}
		nftnl_set_free(s);
	}
	fw_private_elems(&b, priv, npriv, &els);
	fw_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "add", FW_PRIVATE, false, els.v,
		 els.n);
	free(els.v);
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	return r;
}

/* Each call below: check, build, send, free. */
typedef void (*fw_build_fn)(struct fw_batch *b, const struct fw_info *fi, const void *arg);

static int fw_node_call(const struct fw_node *node, fw_build_fn build, const void *arg,
			struct fw_info *fi_in, struct dock_err *err)
{
	struct fw_batch b = { 0 };
	struct fw_info *fi = fi_in;
	int r = 0;

	if (fi == NULL) {
		fi = malloc(sizeof(*fi));
		if (fi == NULL)
			return err_set(err, 500, ENOMEM, "firewall: out of memory");
		r = fw_node_parse(node, fi, err);
	}
	if (r == 0) {
		fw_batch_begin(&b);
		build(&b, fi, arg);
		r = fw_batch_send(&b, err);
	}
	fw_batch_free(&b);
	if (fi != fi_in)
		free(fi);
	return r;
}

static void fw_build_add(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	(void)arg;
	/* The chain first: node_drop's element goes to it. No NLM_F_EXCL
	 * anywhere: adding what is already there is a no-op, so a dock that
	 * restarts half-way can simply add again. */
	fw_node_chain(b, fi, false);
	fw_node_set(b, fi, FW_NODE_DROP, false);
	fw_bw_chain(b, fi, false);
	fw_names_chain(b, fi, false);
	for (int s = 0; s < FW_NSETS; s++) {
		if (s == FW_NODE_DROP)
			continue;
		if (s == FW_PUBLISHED) {
			/* one message per publish, to name the one in conflict */
			for (size_t i = 0; i < fi->fi_npub; i++) {
				struct fw_els els = { 0 };

				fw_el_publish(b, &els, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED,
					 false, els.v, els.n);
				fw_msg_kind(b, FW_K_PUBLISH, fi, &fi->fi_pub[i]);
				free(els.v);
			}
			continue;
		}
		fw_node_set(b, fi, (enum fw_set)s, false);
	}
}

int fw_node_add(const struct fw_node *node, struct dock_err *err)
{
	return fw_node_call(node, fw_build_add, NULL, NULL, err);
}

static void fw_build_remove(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	(void)arg;
	/* The chain is made sure of first, so that node_drop's element can be
	 * added (then deleted) whatever the table held; deleting the chain
	 * comes last, when nothing goes to it any more. */
	fw_chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, fi->fi_chain, NULL, 0, 0, "make sure of");
	for (int s = 0; s < FW_NSETS; s++) {
		if (s == FW_NODE_BW || s == FW_NODE_NAMES)
			continue; /* fw_bw_remove and fw_names_remove, below */
		if (s == FW_PUBLISHED) {
			for (size_t i = 0; i < fi->fi_npub; i++) {
				struct fw_els els = { 0 };

				fw_el_publish(b, &els, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove",
					 FW_PUBLISHED, false, els.v, els.n);
				fw_msg_kind(b, FW_K_UNPUBLISH, fi, &fi->fi_pub[i]);
				fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED, false,
					 els.v, els.n);
				free(els.v);
			}
			continue;
		}
		fw_node_set(b, fi, (enum fw_set)s, true);
	}
	fw_chain_msg(b, NFT_MSG_DELCHAIN, 0, fi->fi_chain, NULL, 0, 0, "delete");
	fw_bw_remove(b, fi);
	fw_names_remove(b, fi);
}

int fw_node_remove(const struct fw_node *node, struct dock_err *err)
{
	return fw_node_call(node, fw_build_remove, NULL, NULL, err);
}

static int fw_pub_prepare(const struct fw_node *node, const struct fw_publish *p,
			  struct fw_info **fi, struct dock_err *err)
{
	int r;

	*fi = malloc(sizeof(**fi));
	if (*fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	r = fw_node_parse(node, *fi, err);
	if (r == 0 && p == NULL)
		r = err_set(err, 400, EINVAL, "publish %s: the port is missing", (*fi)->fi_name);
	if (r == 0)
		r = fw_check_publish((*fi)->fi_name, p, err);
	return r;
}

static void fw_build_publish(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_publish *p = arg;
	struct fw_els addrs = { 0 }, pub = { 0 }, to = { 0 };

	/* The node must be there: its anti-spoofing element is deleted and
	 * added again, which fails (ENOENT) when it is absent, in the same
	 * transaction and without touching a verdict map (whose change would
	 * make the kernel revalidate every chain). */
	fw_node_elems(b, fi, FW_ADDRS, false, &addrs);
	if (addrs.n > 0)
		addrs.n = 1; /* its address; the 0.0.0.0 element need not be checked */
	fw_elems(b, NFT_MSG_DELSETELEM, 0, "check", FW_ADDRS, false, addrs.v, addrs.n);
	fw_msg_kind(b, FW_K_PRESENT, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_ADDRS, false, addrs.v, addrs.n);
	fw_el_publish(b, &pub, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED, false, pub.v, pub.n);
	fw_msg_kind(b, FW_K_PUBLISH, fi, p);
	fw_el_published_to(b, &to, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED_TO, false, to.v, to.n);
	free(addrs.v);
	free(pub.v);
	free(to.v);
}

int fw_publish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err)
{
	struct fw_info *fi = NULL;
	int r = fw_pub_prepare(node, p, &fi, err);

	if (r == 0)
		r = fw_node_call(node, fw_build_publish, p, fi, err);
	free(fi);
	return r;
}

static void fw_build_unpublish(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_publish *p = arg;
	struct fw_els pub = { 0 }, to = { 0 };
	bool shared = false;

	fw_el_publish(b, &pub, fi, p);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_PUBLISHED, false, pub.v, pub.n);
	fw_msg_kind(b, FW_K_UNPUBLISH, fi, p);
	fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED, false, pub.v, pub.n);
	/* Another of the node's host ports to the same node port keeps the
	 * forward accept. */
	for (size_t i = 0; i < fi->fi_npub; i++) {
		const struct fw_publish *o = &fi->fi_pub[i];

		if (o->fp_proto == p->fp_proto && o->fp_node_port == p->fp_node_port &&
		    o->fp_host_port != p->fp_host_port)
			shared = true;
	}
	if (!shared) {
		fw_el_published_to(b, &to, fi, p);
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "remove", FW_PUBLISHED_TO, false,
			 to.v, to.n);
		fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_PUBLISHED_TO, false, to.v, to.n);
	}
	free(pub.v);
	free(to.v);
}

int fw_unpublish(const struct fw_node *node, const struct fw_publish *p, struct dock_err *err)
{
	struct fw_info *fi = NULL;
	int r = fw_pub_prepare(node, p, &fi, err);

	if (r == 0)
		r = fw_node_call(node, fw_build_unpublish, p, fi, err);
	free(fi);
	return r;
}

static void fw_build_quarantine(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const bool *on = arg;
	struct fw_els els = { 0 };

	fw_node_elems(b, fi, FW_QUARANTINED, true, &els);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, *on ? "add" : "remove", FW_QUARANTINED, false,
		 els.v, els.n);
	if (!*on)
		fw_elems(b, NFT_MSG_DELSETELEM, 0, "remove", FW_QUARANTINED, false, els.v, els.n);
	free(els.v);
}

int fw_quarantine(const struct fw_node *node, bool on, struct dock_err *err)
{
	return fw_node_call(node, fw_build_quarantine, &on, NULL, err);
}

/* The node's entries by name are its resolver's too (its network's
 * dnsmasq options, made at create): they change only with the node. */
static int fw_names_refuse(const char *node, struct dock_err *err)
{
	return err_set(
		err, 409, EBUSY,
		"node %s: its allow entries by name differ: recreate the node to change names",
		node);
}

int fw_names_unchanged(const struct fw_node *now, const struct fw_node *want, struct dock_err *err)
{
	struct fw_info *a = malloc(sizeof(*a)), *w = malloc(sizeof(*w));
	int r = a == NULL || w == NULL ? err_set(err, 500, ENOMEM, "firewall: out of memory") : 0;

	if (r == 0)
		r = fw_node_parse(now, a, err);
	if (r == 0)
		r = fw_node_parse(want, w, err);
	if (r == 0 && !fw_names_same(a, w))
		r = fw_names_refuse(a->fi_name, err);
	free(a);
	free(w);
	return r;
}

/* fi: the node as it is; arg: as it will be. */
static void fw_build_egress(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_info *want = arg;
	struct fw_els els = { 0 };

	fw_node_set(b, fi, FW_EGRESS_ALLOWED, true);
	fw_node_set(b, want, FW_EGRESS_DENIED, !want->fi_deny);
	fw_node_elems(b, want, FW_EGRESS_ALLOWED, false, &els);
	if (els.n > 0)
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_EGRESS_ALLOWED, false,
			 els.v, els.n);
	free(els.v);
}

int fw_set_egress(const struct fw_node *node, bool deny, const char *const *allow, size_t n,
		  struct dock_err *err)
{
	struct fw_info *now = malloc(sizeof(*now)), *want = malloc(sizeof(*want));
	int r;

	if (now == NULL || want == NULL) {
		r = err_set(err, 500, ENOMEM, "firewall: out of memory");
		goto out;
	}
	r = fw_node_parse(node, now, err);
	if (r < 0)
		goto out;
	memcpy(want, now, sizeof(*want));
	r = fw_parse_allow(want, deny, allow, n, err);
	if (r == 0 && !fw_names_same(now, want))
		r = fw_names_refuse(now->fi_name, err);
	if (r < 0)
		goto out;
	r = fw_node_call(node, fw_build_egress, want, now, err);
out:
	free(now);
	free(want);
	return r;
}

/* fi: the node as it is; arg: as it will be (fw_node_update). */
static void fw_build_update(struct fw_batch *b, const struct fw_info *fi, const void *arg)
{
	const struct fw_info *want = arg;
	struct fw_els addrs = { 0 };

	/* the node must be there: as in fw_build_publish */
	fw_node_elems(b, fi, FW_ADDRS, false, &addrs);
	if (addrs.n > 0)
		addrs.n = 1;
	fw_elems(b, NFT_MSG_DELSETELEM, 0, "check", FW_ADDRS, false, addrs.v, addrs.n);
	fw_msg_kind(b, FW_K_PRESENT, fi, NULL);
	fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_ADDRS, false, addrs.v, addrs.n);
	free(addrs.v);
	fw_node_set(b, fi, FW_PUBLISHED, true);
	fw_node_set(b, fi, FW_PUBLISHED_TO, true);
	for (size_t i = 0; i < want->fi_npub; i++) {
		struct fw_els els = { 0 };

		fw_el_publish(b, &els, want, &want->fi_pub[i]);
		fw_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", FW_PUBLISHED, false, els.v,
			 els.n);
		fw_msg_kind(b, FW_K_PUBLISH, want, &want->fi_pub[i]);
		free(els.v);
	}
	fw_node_set(b, want, FW_PUBLISHED_TO, false);
	fw_build_egress(b, fi, want);
}

int fw_node_update(const struct fw_node *now, const struct fw_node *want, struct dock_err *err)
{
	struct fw_info *a = malloc(sizeof(*a)), *w = malloc(sizeof(*w));
	int r;

	if (a == NULL || w == NULL) {
		r = err_set(err, 500, ENOMEM, "firewall: out of memory");
		goto out;
	}
	r = fw_node_parse(now, a, err);
	if (r == 0)
		r = fw_node_parse(want, w, err);
	if (r == 0 &&
	    (strcmp(a->fi_name, w->fi_name) != 0 || strcmp(a->fi_bridge, w->fi_bridge) != 0 ||
	     a->fi_ip != w->fi_ip || a->fi_first != w->fi_first || a->fi_gateway != w->fi_gateway ||
	     memcmp(a->fi_mac, w->fi_mac, sizeof(a->fi_mac)) != 0 ||
	     a->fi_quarantined != w->fi_quarantined))
		r = err_set(err, 400, EINVAL,
			    "node %s: an update changes only publishes and egress", a->fi_name);
	if (r == 0 && !fw_names_same(a, w))
		r = fw_names_refuse(a->fi_name, err);
	if (r == 0)
		r = fw_node_call(now, fw_build_update, w, a, err);
out:
	free(a);
	free(w);
	return r;
}

int fw_teardown(struct dock_err *err)
{
	struct fw_batch b = { 0 };
	int r;

	fw_batch_begin(&b);
	fw_table_delete(&b);
	r = fw_batch_send(&b, err);
	fw_batch_free(&b);
	return r;
}
