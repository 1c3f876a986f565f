/* fw-dry: the dry run. Between fw_dryrun_begin and fw_dryrun_end a
 * thread's calls describe their batch instead of sending it: every message
 * decoded from the very bytes it would send, as the tests' .batch files
 * hold it. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

static __thread struct fw_str *fw_dry;

bool fw_dry_active(void)
{
	return fw_dry != NULL;
}

static void fw_dry_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fw_dry_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_str_vadd(fw_dry, fmt, ap);
	va_end(ap);
}

void fw_dryrun_begin(void)
{
	free(fw_dryrun_end());
	fw_dry = calloc(1, sizeof(*fw_dry));
}

char *fw_dryrun_end(void)
{
	struct fw_str *d = fw_dry;
	char *out;

	fw_dry = NULL;
	if (d == NULL)
		return NULL;
	fw_str_add(d, "%s", ""); /* an empty run is "", not NULL */
	out = fw_str_take(d);
	free(d);
	return out;
}

static enum fw_set fw_set_by_name(const char *name)
{
	for (int i = 0; i < FW_NSETS; i++)
		if (name != NULL && strcmp(fw_sets[i].sd_name, name) == 0)
			return (enum fw_set)i;
	return FW_NSETS;
}

/* One value of a key, as nft prints it. */
size_t fw_fmt_field(enum fw_field f, const uint8_t *p, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN];
	uint32_t v32;
	uint16_t v16;

	switch (f) {
	case FW_F_IFNAME:
		snprintf(buf, size, "\"%.*s\"", IFNAMSIZ, (const char *)p);
		break;
	case FW_F_IPV4:
		memcpy(&v32, p, 4);
		snprintf(buf, size, "%s", fw_ntoa(ntohl(v32), a));
		break;
	case FW_F_ETHER:
		snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4],
			 p[5]);
		break;
	case FW_F_PROTO:
		if (p[0] == IPPROTO_TCP || p[0] == IPPROTO_UDP)
			snprintf(buf, size, "%s", fw_proto_name(p[0]));
		else
			snprintf(buf, size, "%u", p[0]);
		break;
	case FW_F_PORT:
		memcpy(&v16, p, 2);
		snprintf(buf, size, "%u", ntohs(v16));
		break;
	}
	return fw_fields[f].fd_len;
}

/* parts joined by " . "; the bytes must be exactly their length */
static void fw_fmt_key(const enum fw_field *parts, size_t n, const void *data, uint32_t len,
		       char *buf, size_t size)
{
	const uint8_t *p = data;
	size_t used = 0, off = 0;

	if (data == NULL || len != fw_parts_len(parts, n)) {
		snprintf(buf, size, "(%u bytes: not this set's key)", len);
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		char one[48];

		off += fw_fmt_field(parts[i], p + off, one, sizeof(one));
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i > 0 ? " . " : "", one);
	}
}

/* libnftnl numbers the element nests of a message it builds 1, 2, 3...
 * (the kernel ignores their type) but parses only NFTA_LIST_ELEM ones: a
 * copy with the types fixed parses. */
static struct nlmsghdr *fw_elems_copy(const struct nlmsghdr *nlh)
{
	struct nlmsghdr *c = malloc(nlh->nlmsg_len);
	struct nlattr *list, *a;

	if (c == NULL)
		return NULL;
	memcpy(c, nlh, nlh->nlmsg_len);
	mnl_attr_for_each(list, c, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(a, list) a->nla_type = NFTA_LIST_ELEM | NLA_F_NESTED;
	}
	return c;
}

static void fw_dry_elems(const struct nlmsghdr *msg)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = fw_elems_copy(msg);
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const struct fw_set_def *d;
	enum fw_set which;

	if (s == NULL || nlh == NULL || nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (s != NULL)
			nftnl_set_free(s);
		free(nlh);
		return;
	}
	free(nlh);
	which = fw_set_by_name(nftnl_set_get_str(s, NFTNL_SET_NAME));
	if (which == FW_NSETS) {
		fw_dry_printf("  (not one of our sets)\n");
		nftnl_set_free(s);
		return;
	}
	d = &fw_sets[which];
	fw_dry_printf("  set %s%s\n", d->sd_name,
		      nftnl_set_is_set(s, NFTNL_SET_ID) ? " (by id)" : "");
	it = nftnl_set_elems_iter_create(s);
	while (it != NULL && (e = nftnl_set_elems_iter_next(it)) != NULL) {
		char key[160], end[176] = "", data[176] = "", comment[96] = "";
		const void *v;
		uint32_t len = 0;

		v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		fw_fmt_key(d->sd_key, d->sd_nkey, v, len, key, sizeof(key));
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
			char k[160];

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
			fw_fmt_key(d->sd_key, d->sd_nkey, v, len, k, sizeof(k));
			snprintf(end, sizeof(end), " - %s", k);
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
			char k[160];

			v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
			fw_fmt_key(d->sd_data, d->sd_ndata, v, len, k, sizeof(k));
			snprintf(data, sizeof(data), " : %s", k);
		} else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
			snprintf(data, sizeof(data), " : %s %s",
				 nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT) ==
						 (uint32_t)NFT_GOTO
					 ? "goto"
					 : "jump",
				 nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
			const uint8_t *u = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);

			/* one TLV: NFTNL_UDATA_SET_ELEM_COMMENT, length, text with its NUL */
			if (len >= 3 && u[0] == NFTNL_UDATA_SET_ELEM_COMMENT && u[1] + 2u == len)
				snprintf(comment, sizeof(comment), " comment \"%.*s\"", u[1] - 1,
					 (const char *)u + 2);
		}
		fw_dry_printf("  %s%s%s%s%s\n", key, end, comment, data,
			      (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
			       (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
				NFT_SET_ELEM_INTERVAL_END) != 0)
				      ? " (interval end)"
				      : "");
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
}

static void fw_dry_set(const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();
	const uint8_t *u;
	uint32_t len = 0;

	if (s == NULL || nftnl_set_nlmsg_parse(nlh, s) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (s != NULL)
			nftnl_set_free(s);
		return;
	}
	fw_dry_printf("  set %s id %u flags 0x%x key type %u len %u",
		      nftnl_set_get_str(s, NFTNL_SET_NAME), nftnl_set_get_u32(s, NFTNL_SET_ID),
		      nftnl_set_get_u32(s, NFTNL_SET_FLAGS),
		      nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
		      nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		fw_dry_printf(" data type 0x%x len %u", nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE),
			      nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN));
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
		const uint8_t *c = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);

		fw_dry_printf(" parts");
		for (uint32_t i = 0; i < len && c[i] != 0; i++)
			fw_dry_printf("%s%u", i > 0 ? "," : " ", c[i]);
	}
	if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT))
		fw_dry_printf(" timeout %llums",
			      (unsigned long long)nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT));
	u = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
	fw_dry_printf(" udata");
	for (uint32_t i = 0; u != NULL && i < len; i++)
		fw_dry_printf("%s%02x", i > 0 ? "" : " ", u[i]);
	fw_dry_printf("\n");
	nftnl_set_free(s);
}

static const char *fw_hook_name(uint32_t hook)
{
	static const char *const names[] = {
		[NF_INET_PRE_ROUTING] = "prerouting",   [NF_INET_LOCAL_IN] = "input",
		[NF_INET_FORWARD] = "forward",          [NF_INET_LOCAL_OUT] = "output",
		[NF_INET_POST_ROUTING] = "postrouting",
	};

	return hook < sizeof(names) / sizeof(names[0]) && names[hook] != NULL ? names[hook] : "?";
}

static void fw_dry_chain(const struct nlmsghdr *nlh)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c == NULL || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		fw_dry_printf("  (unparsable)\n");
		if (c != NULL)
			nftnl_chain_free(c);
		return;
	}
	fw_dry_printf("  chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		fw_dry_printf(" type %s hook %s priority %d policy %s",
			      nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE),
			      fw_hook_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
			      nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
			      nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT ? "accept"
										      : "drop");
	fw_dry_printf("\n");
	nftnl_chain_free(c);
}

static void fw_dry_rule(const struct nlmsghdr *nlh)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char *text = malloc(8192);
	const char *line, *nl;

	if (r == NULL || text == NULL || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		fw_dry_printf("  (unparsable)\n");
		goto out;
	}
	nftnl_rule_snprintf(text, 8192, r, NFTNL_OUTPUT_DEFAULT, 0);
	/* libnftnl's bytecode listing: a header line, then "  [ expr ]" lines */
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line) - 1;
		if (strncmp(line, "  [", 3) == 0)
			fw_dry_printf("%.*s\n", (int)(nl - line), line);
		if (nl[1] == '\0')
			break;
	}
out:
	free(text);
	if (r != NULL)
		nftnl_rule_free(r);
}

/* Describe every message of the batch, decoded from its bytes. */
void fw_dry_batch(const struct fw_batch *b)
{
	static const char *const names[NFT_MSG_MAX] = {
		[NFT_MSG_NEWTABLE] = "NEWTABLE",     [NFT_MSG_DELTABLE] = "DELTABLE",
		[NFT_MSG_NEWCHAIN] = "NEWCHAIN",     [NFT_MSG_DELCHAIN] = "DELCHAIN",
		[NFT_MSG_NEWRULE] = "NEWRULE",       [NFT_MSG_DELRULE] = "DELRULE",
		[NFT_MSG_NEWSET] = "NEWSET",         [NFT_MSG_DELSET] = "DELSET",
		[NFT_MSG_NEWSETELEM] = "NEWSETELEM", [NFT_MSG_DELSETELEM] = "DELSETELEM",
	};
	const struct nlmsghdr *nlh = (const void *)b->fb_buf;
	int left = (int)b->fb_len;
	uint32_t i = 0;

	fw_dry_printf("batch of %u messages\n", b->fb_nmsgs);
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN ||
		    nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			continue;
		i++;
		fw_dry_printf("%u %s%s%s%s%s: %s\n", i,
			      type < NFT_MSG_MAX && names[type] != NULL ? names[type] : "?",
			      (nlh->nlmsg_flags & NLM_F_CREATE) ? " create" : "",
			      (nlh->nlmsg_flags & NLM_F_EXCL) ? " excl" : "",
			      (nlh->nlmsg_flags & NLM_F_APPEND) ? " append" : "",
			      (nlh->nlmsg_flags & NLM_F_ACK) ? " ack" : "",
			      i <= b->fb_nmsgs ? b->fb_msgs[i - 1].fm_what : "?");
		switch (type) {
		case NFT_MSG_NEWSETELEM:
		case NFT_MSG_DELSETELEM:
			fw_dry_elems(nlh);
			break;
		case NFT_MSG_NEWSET:
			fw_dry_set(nlh);
			break;
		case NFT_MSG_NEWCHAIN:
		case NFT_MSG_DELCHAIN:
			fw_dry_chain(nlh);
			break;
		case NFT_MSG_NEWRULE:
			fw_dry_rule(nlh);
			break;
		default:
			break;
		}
	}
}
