/*
 * check_nft.c: fact "nft", the packet filter: how many nf_tables tables
 * exist and every base chain on the IPv4/IPv6 input hook with its policy
 * (GETTABLE and GETCHAIN dumps over NETLINK_NETFILTER). In nftables a
 * packet must pass every base chain of its hook, so one input chain with
 * policy drop makes input default-drop; the dock judges that.
 */
#include "facts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

struct nft_chain {
	char nc_table[NFT_TABLE_MAXNAMELEN + 8]; /* "FAMILY NAME" */
	char nc_name[NFT_CHAIN_MAXNAMELEN];
	char nc_type[32];
	const char *nc_policy;
	int32_t nc_priority;
};

struct nft_state {
	unsigned ns_tables;
	struct nft_chain ns_chains[FACT_ARRAY_MAX];
	unsigned ns_count;
	bool ns_truncated;
};

static const char *nft_family(unsigned family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	default:
		return NULL; /* arp, bridge, netdev: not the input hook of IP */
	}
}

static const struct nfgenmsg *nft_msg(const struct nlmsghdr *nlh, unsigned type)
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | type) ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return NULL;
	return nl_msg_data(nlh);
}

static int nft_attrs(const struct nlmsghdr *nlh, const struct nlattr **tb, unsigned max)
{
	return nl_attrs((const char *)nl_msg_data(nlh) + NLMSG_ALIGN(sizeof(struct nfgenmsg)),
			nlh->nlmsg_len - NLMSG_SPACE(sizeof(struct nfgenmsg)), tb, max);
}

static int nft_table_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_state *s = arg;

	if (nft_msg(nlh, NFT_MSG_NEWTABLE))
		s->ns_tables++;
	return 0;
}

static int nft_chain_reply(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1], *hook[NFTA_HOOK_MAX + 1];
	const struct nfgenmsg *g = nft_msg(nlh, NFT_MSG_NEWCHAIN);
	struct nft_state *s = arg;
	struct nft_chain *c;
	char table[NFT_TABLE_MAXNAMELEN];
	uint32_t hooknum, policy, prio;
	const char *family;

	if (!g)
		return 0;
	if (nft_attrs(nlh, tb, NFTA_CHAIN_MAX) < 0)
		return -EBADMSG;
	/* Regular chains have no hook; other families' hooks are not IP input. */
	if (!(family = nft_family(g->nfgen_family)) || !tb[NFTA_CHAIN_HOOK])
		return 0;
	if (nl_attrs(nl_attr_data(tb[NFTA_CHAIN_HOOK]), nl_attr_len(tb[NFTA_CHAIN_HOOK]), hook,
		     NFTA_HOOK_MAX) < 0 ||
	    !hook[NFTA_HOOK_HOOKNUM] || nl_attr_be32(hook[NFTA_HOOK_HOOKNUM], &hooknum) < 0)
		return -EBADMSG;
	if (hooknum != NF_INET_LOCAL_IN)
		return 0;
	if (s->ns_count == FACT_ARRAY_MAX) {
		s->ns_truncated = true;
		return 0;
	}
	c = &s->ns_chains[s->ns_count];
	if (!tb[NFTA_CHAIN_TABLE] || nl_attr_str(tb[NFTA_CHAIN_TABLE], table, sizeof(table)) < 0 ||
	    !tb[NFTA_CHAIN_NAME] ||
	    nl_attr_str(tb[NFTA_CHAIN_NAME], c->nc_name, sizeof(c->nc_name)) < 0)
		return -EBADMSG;
	snprintf(c->nc_table, sizeof(c->nc_table), "%s %s", family, table);
	c->nc_type[0] = '\0';
	if (tb[NFTA_CHAIN_TYPE] &&
	    nl_attr_str(tb[NFTA_CHAIN_TYPE], c->nc_type, sizeof(c->nc_type)) < 0)
		return -EBADMSG;
	/* A base chain's policy is accept or drop; anything else is reported as such. */
	c->nc_policy = "unknown";
	if (tb[NFTA_CHAIN_POLICY] && nl_attr_be32(tb[NFTA_CHAIN_POLICY], &policy) == 0)
		c->nc_policy = policy == NF_DROP ? "drop"
			: policy == NF_ACCEPT    ? "accept"
						 : "unknown";
	c->nc_priority = 0;
	if (hook[NFTA_HOOK_PRIORITY] && nl_attr_be32(hook[NFTA_HOOK_PRIORITY], &prio) == 0)
		c->nc_priority = (int32_t)prio;
	s->ns_count++;
	return 0;
}

static int nft_dump(const struct fact_env *e, const char *name, unsigned type, nl_reply_fn fn,
		    struct nft_state *s)
{
	struct {
		struct nlmsghdr nlh;
		struct nfgenmsg g;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.g = { .nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0 },
	};

	return nl_query(e, name, NETLINK_NETFILTER, &req.nlh, fn, s);
}

void check_nft(struct jline *j, const struct fact_env *e)
{
	static struct nft_state s;
	int r;

	memset(&s, 0, sizeof(s));
	r = nft_dump(e, "nft-tables", NFT_MSG_GETTABLE, nft_table_reply, &s);
	if (r == -EPROTONOSUPPORT) {
		/* No NETLINK_NETFILTER: the kernel has no nf_tables, so no filter
		 * (an observation, not an error: protocol 3). */
		jl_int(j, "tables", 0);
		jl_open_arr(j, "input_chains");
		jl_close(j);
		jl_bool(j, "nf_tables", false);
		return;
	}
	if (r < 0) {
		jl_error_errno(j, "GETTABLE", r);
		return;
	}
	jl_int(j, "tables", s.ns_tables);
	if ((r = nft_dump(e, "nft-chains", NFT_MSG_GETCHAIN, nft_chain_reply, &s)) < 0) {
		jl_error_errno(j, "GETCHAIN", r);
		return;
	}
	jl_open_arr(j, "input_chains");
	for (unsigned i = 0; i < s.ns_count; i++) {
		const struct nft_chain *c = &s.ns_chains[i];
		struct jl_mark m = jl_mark(j);

		jl_open_obj(j, NULL);
		jl_str(j, "table", c->nc_table);
		jl_str(j, "chain", c->nc_name);
		jl_str(j, "policy", c->nc_policy);
		jl_str(j, "hook", "input");
		jl_int(j, "priority", c->nc_priority);
		if (c->nc_type[0])
			jl_str(j, "type", c->nc_type);
		jl_close(j);
		if (jl_undo_if_full(j, &m)) {
			s.ns_truncated = true;
			break;
		}
	}
	jl_close(j);
	if (s.ns_truncated)
		jl_truncated(j);
}
