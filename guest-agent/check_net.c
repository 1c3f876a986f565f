/*
 * check_net.c: fact "net", the guest's interfaces (but lo): name, MAC and
 * up flag from /sys/class/net, addresses from an RTM_GETADDR dump.
 */
#include "facts.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Interfaces looked at (sorted by name); more are cut. */
#define NET_IFACES_MAX 64
/* Addresses kept from the dump, over all interfaces. */
#define NET_ADDRS_MAX 256
#define NET_IFF_UP    0x1

struct net_addr {
	int na_index;
	int na_family;
	unsigned char na_addr[16];
	unsigned na_prefix;
};

struct net_addrs {
	struct net_addr nas_addrs[NET_ADDRS_MAX];
	unsigned nas_count;
	bool nas_truncated;
};

static int net_addr_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct net_addrs *t = arg;
	const struct ifaddrmsg *ifa = nl_msg_data(nlh);
	const struct nlattr *tb[IFA_MAX + 1], *a;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return -EBADMSG;
	if (nl_attrs((const char *)ifa + NLMSG_ALIGN(sizeof(*ifa)),
		     nlh->nlmsg_len - NLMSG_SPACE(sizeof(*ifa)), tb, IFA_MAX) < 0)
		return -EBADMSG;
	/* On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	alen = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
	if (!a || alen == 0 || nl_attr_len(a) != alen)
		return 0;
	if (t->nas_count == NET_ADDRS_MAX) {
		t->nas_truncated = true;
		return 0;
	}
	t->nas_addrs[t->nas_count].na_index = (int)ifa->ifa_index;
	t->nas_addrs[t->nas_count].na_family = ifa->ifa_family;
	t->nas_addrs[t->nas_count].na_prefix = ifa->ifa_prefixlen;
	memcpy(t->nas_addrs[t->nas_count].na_addr, nl_attr_data(a), alen);
	t->nas_count++;
	return 0;
}

static int net_query_addrs(const struct fact_env *e, struct net_addrs *t)
{
	struct {
		struct nlmsghdr nlh;
		struct ifaddrmsg ifa;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = RTM_GETADDR,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.ifa = { .ifa_family = AF_UNSPEC },
	};

	t->nas_count = 0;
	t->nas_truncated = false;
	return nl_query(e, "addrs", NETLINK_ROUTE, &req.nlh, net_addr_reply, t);
}

static int net_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Interface names under /sys/class/net, sorted, lo left out. */
static int net_list(const struct fact_env *e, char names[][NAME_MAX + 1], char **sorted,
		    unsigned *count, bool *truncated)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	*count = 0;
	if (snprintf(dir, sizeof(dir), "%s/sys/class/net", e->fe_root) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (!(d = opendir(dir)))
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char probe[PATH_MAX];

		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
			continue;
		/* Real interfaces have an ifindex; bonding_masters and such do not. */
		if (snprintf(probe, sizeof(probe), "/sys/class/net/%s/ifindex", de->d_name) >=
			    (int)sizeof(probe) ||
		    !file_exists(e, probe))
			continue;
		if (*count == NET_IFACES_MAX) {
			*truncated = true;
			break;
		}
		snprintf(names[*count], NAME_MAX + 1, "%s", de->d_name);
		sorted[*count] = names[*count];
		(*count)++;
	}
	closedir(d);
	qsort(sorted, *count, sizeof(sorted[0]), net_cmp_names);
	return 0;
}

static void net_iface(struct jline *j, const struct fact_env *e, const char *name,
		      const struct net_addrs *t, bool have_addrs)
{
	char path[PATH_MAX], mac[64], hex[32], addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];
	long long index = -1;
	unsigned long flags = 0;
	bool have_flags = false, cut = false;
	unsigned n = 0;

	jl_str(j, "name", name);
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", name);
	if (file_read_value(e, path, mac, sizeof(mac)) >= 0)
		jl_str(j, "mac", mac);
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", name);
	if (file_read_int(e, path, &index) < 0)
		index = -1;
	if (have_addrs) {
		jl_open_arr(j, "addrs");
		for (unsigned i = 0; i < t->nas_count; i++) {
			const struct net_addr *a = &t->nas_addrs[i];
			struct jl_mark m;

			if (a->na_index != index ||
			    !inet_ntop(a->na_family, a->na_addr, addr, sizeof(addr)))
				continue;
			if (n == FACT_ARRAY_MAX) {
				cut = true;
				break;
			}
			snprintf(text, sizeof(text), "%s/%u", addr, a->na_prefix);
			m = jl_mark(j);
			jl_str(j, NULL, text);
			if (jl_undo_if_full(j, &m)) {
				cut = true;
				break;
			}
			n++;
		}
		jl_close(j);
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", name);
	if (file_read_value(e, path, hex, sizeof(hex)) > 0) {
		char *end;

		errno = 0;
		flags = strtoul(hex, &end, 16);
		have_flags = errno == 0 && end != hex;
	}
	if (have_flags)
		jl_bool(j, "up", flags & NET_IFF_UP);
	else
		jl_error(j, "/sys/class/net/%s/flags: unreadable", name);
	if (cut)
		jl_truncated(j);
}

void check_net(struct jline *j, const struct fact_env *e)
{
	static char names[NET_IFACES_MAX][NAME_MAX + 1];
	static char *sorted[NET_IFACES_MAX];
	static struct net_addrs t;
	bool truncated = false, have_addrs;
	unsigned count = 0, i;
	int r;

	r = net_query_addrs(e, &t);
	if (r < 0)
		jl_error_errno(j, "addresses", r);
	else if (t.nas_truncated)
		jl_error(j, "addresses: more than %d", NET_ADDRS_MAX);
	have_addrs = r == 0;
	if ((r = net_list(e, names, sorted, &count, &truncated)) < 0)
		jl_error_errno(j, "/sys/class/net", r);
	jl_open_arr(j, "ifaces");
	for (i = 0; i < count; i++) {
		struct jl_mark m = jl_mark(j);

		if (i == FACT_ARRAY_MAX) {
			truncated = true;
			break;
		}
		jl_open_obj(j, NULL);
		net_iface(j, e, sorted[i], &t, have_addrs);
		jl_close(j);
		if (jl_undo_if_full(j, &m)) {
			truncated = true;
			break;
		}
	}
	jl_close(j);
	if (truncated)
		jl_truncated(j);
}
