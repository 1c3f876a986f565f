/* fw-send: the netlink side of a change. Each thread's socket, sending a
 * batch in one datagram, reading the kernel's answers, and telling the
 * first failing message's error by what that message does (naming who
 * holds a host port or a bridge after a conflict). */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

/* One netlink socket per thread, kept open between calls. Closing a
 * netfilter socket makes the kernel finish its deferred frees first (an RCU
 * grace period, 10-15 ms here) whenever a recent batch deleted anything:
 * `nft delete element` pays that on every run, and a socket per call would
 * make every unpublish, release and removal pay it too. The socket is the
 * thread's own, so calls still share nothing across threads; it is closed
 * when the thread exits, and replaced after a fork or a failure. */
struct fw_conn {
	struct mnl_socket *fc_nl;
	pid_t fc_pid;
};

static pthread_key_t fw_conn_key;
static pthread_once_t fw_conn_once = PTHREAD_ONCE_INIT;
static int fw_conn_key_err;

static void fw_conn_free(void *p)
{
	struct fw_conn *c = p;

	if (c->fc_nl != NULL)
		mnl_socket_close(c->fc_nl);
	free(c);
}

static void fw_conn_init(void)
{
	fw_conn_key_err = pthread_key_create(&fw_conn_key, fw_conn_free);
}

static struct mnl_socket *fw_socket_open(struct dock_err *err)
{
	struct timeval tv = { .tv_sec = FW_ACK_TIMEOUT_S };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int one = 1;

	if (nl == NULL) {
		err_set(err, 500, errno, "firewall: opening a netfilter netlink socket: %s",
			strerror(errno));
		return NULL;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err_set(err, 500, errno, "firewall: binding the netlink socket: %s",
			strerror(errno));
		mnl_socket_close(nl);
		return NULL;
	}
	/* Acks carry only the header of the message they answer. */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		err_set(err, 500, errno, "firewall: setting the netlink timeout: %s",
			strerror(errno));
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

static struct fw_conn *fw_conn(struct dock_err *err)
{
	struct fw_conn *c;

	pthread_once(&fw_conn_once, fw_conn_init);
	if (fw_conn_key_err != 0) {
		err_set(err, 500, fw_conn_key_err, "firewall: no thread-specific key: %s",
			strerror(fw_conn_key_err));
		return NULL;
	}
	c = pthread_getspecific(fw_conn_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || pthread_setspecific(fw_conn_key, c) != 0) {
			free(c);
			err_set(err, 500, ENOMEM, "firewall: out of memory");
			return NULL;
		}
	}
	return c;
}

/* This thread's socket, with nothing left to read on it: what a previous
 * call did not read (the errors after the first, the rest of an abandoned
 * dump) is drained. */
struct mnl_socket *fw_socket(struct dock_err *err)
{
	struct fw_conn *c = fw_conn(err);
	char buf[8192];

	if (c == NULL)
		return NULL;
	if (c->fc_nl != NULL && c->fc_pid != getpid()) {
		/* inherited through fork: the parent's binding, not ours */
		mnl_socket_close(c->fc_nl);
		c->fc_nl = NULL;
	}
	if (c->fc_nl == NULL) {
		c->fc_nl = fw_socket_open(err);
		c->fc_pid = getpid();
		return c->fc_nl;
	}
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(c->fc_nl), buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno != EINTR && errno != ENOBUFS)
			break;
	}
	return c->fc_nl;
}

/* After a failure that may leave the socket in a state we cannot tell
 * (a timeout, a short send): the next call opens a new one. */
void fw_socket_drop(void)
{
	struct fw_conn *c = fw_conn(NULL);

	if (c != NULL && c->fc_nl != NULL) {
		mnl_socket_close(c->fc_nl);
		c->fc_nl = NULL;
	}
}

/* Ask the kernel for one element of one of our sets: key in, the element's
 * data, verdict chain and comment out. Used to name who holds what after a
 * conflict; 0 when found. */
struct fw_found {
	uint8_t ff_data[FW_KEY_MAX];
	uint32_t ff_dlen;
	char ff_chain[NFT_CHAIN_MAXNAMELEN];
	char ff_comment[NFTNL_UDATA_COMMENT_MAXLEN];
};

static int fw_get_elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_found *f = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (s == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0 &&
	    (it = nftnl_set_elems_iter_create(s)) != NULL) {
		e = nftnl_set_elems_iter_cur(it);
		if (e != NULL) {
			const void *v;
			uint32_t len = 0;

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
			if (v != NULL && len <= sizeof(f->ff_data)) {
				memcpy(f->ff_data, v, len);
				f->ff_dlen = len;
			}
			if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
				snprintf(f->ff_chain, sizeof(f->ff_chain), "%s",
					 nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
			if (v != NULL && len >= 3 && ((const uint8_t *)v)[1] + 2u == len)
				snprintf(f->ff_comment, sizeof(f->ff_comment), "%.*s",
					 ((const uint8_t *)v)[1] - 1, (const char *)v + 2);
		}
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int fw_get_elem(enum fw_set which, const struct fw_key *key, struct fw_found *f)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 2] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	int r = -1;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (s == NULL || e == NULL)
		goto out;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, fw_sets[which].sd_name) < 0 ||
	    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key->k_buf, key->k_len) < 0)
		goto out;
	nftnl_set_elem_add(s, e);
	e = NULL;
	nl = fw_socket(NULL);
	if (nl == NULL)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, 1);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		int rc =
			mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), fw_get_elem_cb, f);

		if (rc <= 0) {
			r = rc == 0 && (f->ff_dlen > 0 || f->ff_chain[0] != '\0') ? 0 : -1;
			break;
		}
	}
out:
	if (e != NULL)
		nftnl_set_elem_free(e);
	if (s != NULL)
		nftnl_set_free(s);
	return r;
}

/* "by node web2 (to 10.231.0.10:80)" for whoever holds the host port. */
static void fw_port_holder(const struct fw_publish *p, char *buf, size_t size)
{
	struct fw_key key = { 0 };
	struct fw_found f;
	char a[INET_ADDRSTRLEN];
	uint32_t ip;
	uint16_t port;

	fw_key_proto(&key, p->fp_proto);
	fw_key_port(&key, p->fp_host_port);
	if (fw_get_elem(FW_PUBLISHED, &key, &f) < 0 || f.ff_dlen != 8) {
		snprintf(buf, size, "by another publish");
		return;
	}
	memcpy(&ip, f.ff_data, 4);
	memcpy(&port, f.ff_data + 4, 2);
	snprintf(buf, size, "by node %s (to %s:%u)", f.ff_comment[0] != '\0' ? f.ff_comment : "?",
		 fw_ntoa(ntohl(ip), a), ntohs(port));
}

static int fw_kernel_error(const struct fw_batch *b, uint32_t index, int errnum,
			   struct dock_err *err)
{
	const struct fw_msg *m = &b->fb_msgs[index];
	const struct fw_info *fi = m->fm_node;
	char spec[24], holder[NFTNL_UDATA_COMMENT_MAXLEN + 48], a[INET_ADDRSTRLEN];

	fw_publish_format(&m->fm_pub, spec, sizeof(spec));
	if (errnum == EEXIST && m->fm_kind == FW_K_PUBLISH) {
		fw_port_holder(&m->fm_pub, holder, sizeof(holder));
		return err_set(err, 409, errnum,
			       "publish %s %s: host port %u/%s is already published %s",
			       fi->fi_name, spec, m->fm_pub.fp_host_port,
			       fw_proto_name(m->fm_pub.fp_proto), holder);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_UNPUBLISH) {
		fw_port_holder(&m->fm_pub, holder, sizeof(holder));
		return err_set(err, 409, errnum,
			       "unpublish %s %s: host port %u/%s is published %s, not as %s by %s",
			       fi->fi_name, spec, m->fm_pub.fp_host_port,
			       fw_proto_name(m->fm_pub.fp_proto), holder, spec, fi->fi_name);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_BRIDGE) {
		struct fw_key key = { 0 };
		struct fw_found f;

		fw_key_ifname(&key, fi->fi_bridge);
		if (fw_get_elem(FW_NODE_DROP, &key, &f) == 0 &&
		    strncmp(f.ff_chain, FW_CHAIN_PREFIX, strlen(FW_CHAIN_PREFIX)) == 0)
			return err_set(err, 409, errnum, "node %s: bridge %s is node %s's",
				       fi->fi_name, fi->fi_bridge,
				       f.ff_chain + strlen(FW_CHAIN_PREFIX));
		return err_set(err, 409, errnum, "node %s: bridge %s is another node's",
			       fi->fi_name, fi->fi_bridge);
	}
	if (errnum == EEXIST && m->fm_kind == FW_K_SUBNET)
		return err_set(err, 409, errnum,
			       "node %s: subnet %s overlaps another node's in set node_subnets",
			       fi->fi_name, fi->fi_cidr);
	if (errnum == ENOENT && m->fm_kind == FW_K_PRESENT)
		return err_set(
			err, 500, errnum,
			"publish %s %s: node %s (bridge %s, %s) is not in table inet %s (fw_node_add or fw_init adds it)",
			fi->fi_name, spec, fi->fi_name, fi->fi_bridge, fw_ntoa(fi->fi_ip, a),
			FW_TABLE);
	if (errnum == EEXIST)
		return err_set(
			err, 409, errnum,
			"firewall: kernel refused to %s: it overlaps an element already there",
			m->fm_what);
	if (errnum == ENOENT)
		return err_set(
			err, 500, errnum,
			"firewall: kernel could not %s: %s (is table inet %s there? fw_init makes it)",
			m->fm_what, strerror(errnum), FW_TABLE);
	return err_set(err, 500, errnum, "firewall: kernel refused to %s (message %u of %u): %s",
		       m->fm_what, index + 1, b->fb_nmsgs, strerror(errnum));
}

/* The kernel processes the batch while we send it, so everything it has to
 * say is queued by the time sendto returns: an error for each failing
 * message, in message order, then the ack of the last message. An error
 * on the batch begin is a failure of the whole batch (its commit, or no
 * memory to queue the errors). */
static int fw_batch_acks(struct fw_batch *b, struct mnl_socket *nl, struct dock_err *err)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t portid = mnl_socket_get_portid(nl), last = fw_seq(b->fb_nmsgs - 1);

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		/* ENOBUFS: errors overflowed the socket; the first ones, the
		 * ones we report, were queued first and are still there. */
		if (len < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_set(
				err, 500, ETIMEDOUT,
				"firewall: no answer from the kernel after %d s to a batch of %u messages",
				FW_ACK_TIMEOUT_S, b->fb_nmsgs);
		if (len < 0)
			return err_set(err, 500, errno, "firewall: reading netlink acks: %s",
				       strerror(errno));
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (!mnl_nlmsg_portid_ok(nlh, portid) || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return err_set(err, 500, EBADMSG,
					       "firewall: truncated netlink ack from the kernel");
			e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_seq == FW_SEQ_BEGIN && e->error != 0)
				return err_set(
					err, 500, -e->error,
					"firewall: kernel refused the batch of %u messages: %s",
					b->fb_nmsgs, strerror(-e->error));
			if (nlh->nlmsg_seq < fw_seq(0) || nlh->nlmsg_seq > last)
				continue;
			if (e->error != 0)
				return fw_kernel_error(b, nlh->nlmsg_seq - fw_seq(0), -e->error,
						       err);
			if (nlh->nlmsg_seq == last)
				return 0;
		}
	}
}

int fw_batch_send(struct fw_batch *b, struct dock_err *err)
{
	struct mnl_socket *nl;
	ssize_t sent;
	int r;

	fw_batch_end(b);
	if (b->fb_errno != 0)
		return err_set(err, 500, b->fb_errno, "firewall: building the batch: %s",
			       strerror(b->fb_errno));
	if (fw_dry_active()) {
		fw_dry_batch(b);
		return 0;
	}
	if (b->fb_nmsgs == 0)
		return 0;
	nl = fw_socket(err);
	if (nl == NULL)
		return -EIO;
	/* The whole batch goes in one datagram, which must fit the send
	 * buffer: a big fw_init is bigger than the default, and we hold
	 * CAP_NET_ADMIN, which lets us raise it past wmem_max. */
	if (b->fb_len > 65536) {
		int size = (int)b->fb_len + 4096;

		if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &size,
			       sizeof(size)) < 0)
			(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &size,
					 sizeof(size));
	}
	sent = mnl_socket_sendto(nl, b->fb_buf, b->fb_len);
	if (sent < 0 || (size_t)sent != b->fb_len) {
		r = err_set(err, 500, sent < 0 ? errno : EMSGSIZE,
			    "firewall: sending a batch of %u messages (%zu bytes): %s", b->fb_nmsgs,
			    b->fb_len, strerror(sent < 0 ? errno : EMSGSIZE));
		goto out;
	}
	r = fw_batch_acks(b, nl, err);
	if (r == -ETIMEDOUT || r == -EBADMSG)
		fw_socket_drop();
	return r;
out:
	fw_socket_drop();
	return r;
}
