/* fwcheck: read back whether a node's bridge is in the dock's table (the
 * dock-side "firewall in force" check): a netlink dump of the set's
 * elements, compared in memory. Read-only. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fwcheck.h"

struct fwcheck_ctx {
	const char *fc_bridge;
	bool fc_found;
};

static int fwcheck_elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fwcheck_ctx *ctx = data;
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (set == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		nftnl_set_free(set);
		return MNL_CB_OK;
	}
	it = nftnl_set_elems_iter_create(set);
	for (e = it ? nftnl_set_elems_iter_next(it) : NULL; e != NULL;
	     e = nftnl_set_elems_iter_next(it)) {
		uint32_t len = 0;
		const char *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		if (key != NULL && strnlen(key, len) == strlen(ctx->fc_bridge) &&
		    strncmp(key, ctx->fc_bridge, len) == 0)
			ctx->fc_found = true;
	}
	if (it != NULL)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(set);
	return MNL_CB_OK;
}

int fw_node_present(const struct fw_node *node, struct dock_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct fwcheck_ctx ctx = { node->fn_bridge, false };
	struct mnl_socket *nl;
	struct nftnl_set *set;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	ssize_t n;
	int r = 0;

	set = nftnl_set_alloc();
	if (set == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	nftnl_set_set_str(set, NFTNL_SET_TABLE, FW_TABLE);
	nftnl_set_set_str(set, NFTNL_SET_NAME, FW_SET_BRIDGES);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = err_set(err, 500, errno, "firewall: netlink: %s", strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = err_set(err, 500, errno, "firewall: netlink send: %s", strerror(errno));
		goto out;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		int cb = mnl_cb_run(buf, (size_t)n, seq, portid, fwcheck_elem_cb, &ctx);
		if (cb < 0 && errno == ENOENT) {
			r = err_set(err, 500, ENOENT,
				    "firewall: table inet %s or its set %s is missing: isolation is not in force",
				    FW_TABLE, FW_SET_BRIDGES);
			goto out;
		}
		if (cb < 0) {
			r = err_set(err, 500, errno, "firewall: reading inet %s set %s: %s", FW_TABLE,
				    FW_SET_BRIDGES, strerror(errno));
			goto out;
		}
		if (cb == MNL_CB_STOP)
			break;
	}
	if (!ctx.fc_found)
		r = err_set(err, 500, ENOENT, "firewall: %s is not in inet %s set %s",
			    node->fn_bridge, FW_TABLE, FW_SET_BRIDGES);
out:
	if (nl != NULL)
		mnl_socket_close(nl);
	return r;
}
