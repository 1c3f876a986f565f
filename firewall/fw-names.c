/* fw-names: egress allow entries by name ("deb.debian.org:443/tcp"), the
 * pure half: the strict check of an entry (an RFC 1123 host name, a port,
 * tcp or udp), the name of the nft set its answers are pinned into, and
 * the dnsmasq options that make the node's resolver answer that name only
 * (forwarded upstream) and pin each answer into the set. No netlink here;
 * fw-names-nft.c builds the sets, the chain and the map element. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One label: 1..63 of [a-z0-9-], neither starting nor ending with '-'. */
static bool fw_name_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* An RFC 1123 host name, lower case, at least two labels, the last not
 * all digits (so that no address reads as a name), no trailing dot. */
bool fw_name_host_ok(const char *s)
{
	size_t len = s != NULL ? strlen(s) : 0, labels = 0;
	const char *p = s, *dot, *last = s;

	if (len == 0 || len > FW_NAME_HOST_MAX)
		return false;
	for (;;) {
		dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		if (!fw_name_label(p, l))
			return false;
		labels++;
		last = p;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return labels >= 2 && strspn(last, "0123456789") != strlen(last);
}

/* Whether an allow entry names a host (rather than a CIDR): its part
 * before the port holds a letter. */
bool fw_name_entry_is(const char *s)
{
	if (s == NULL)
		return false;
	for (; *s != '\0' && *s != ':' && *s != '/'; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			return true;
	return false;
}

/* "NAME:PORT[/tcp|/udp]" into e; the port is required (a name opens one
 * service, never every port of whatever it answers). */
int fw_name_entry_parse(const char *who, const char *s, struct fw_name_entry *e,
			struct dock_err *err)
{
	char q[FW_SAFE_MAX + 8], port[8];
	const char *colon = s != NULL ? strchr(s, ':') : NULL, *slash, *end;
	unsigned long v;

	if (s == NULL || colon == NULL)
		return err_set(
			err, 400, EINVAL,
			"%s: allowed destination \"%s\": a name needs a port (NAME:PORT[/tcp|/udp])",
			who, s != NULL ? fw_safe(s, q, sizeof(q)) : "");
	if ((size_t)(colon - s) > FW_NAME_HOST_MAX)
		return err_set(
			err, 400, EINVAL,
			"%s: allowed destination \"%s\": the name is longer than %d characters",
			who, fw_safe(s, q, sizeof(q)), FW_NAME_HOST_MAX);
	memset(e, 0, sizeof(*e));
	memcpy(e->ne_host, s, (size_t)(colon - s));
	if (!fw_name_host_ok(e->ne_host))
		return err_set(
			err, 400, EINVAL,
			"%s: allowed destination \"%s\": not a host name (RFC 1123, lower case, "
			"at least two labels)",
			who, fw_safe(s, q, sizeof(q)));
	slash = strchr(colon, '/');
	end = slash != NULL ? slash : colon + strlen(colon);
	if ((size_t)(end - colon - 1) >= sizeof(port))
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": the port must be 1..65535", who,
			       fw_safe(s, q, sizeof(q)));
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	if (fw_parse_uint(port, 5, &v) < 0 || v < 1 || v > 65535)
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": the port must be 1..65535", who,
			       fw_safe(s, q, sizeof(q)));
	e->ne_port = (uint16_t)v;
	e->ne_proto = IPPROTO_TCP;
	if (slash != NULL && strcmp(slash, "/udp") == 0)
		e->ne_proto = IPPROTO_UDP;
	else if (slash != NULL && strcmp(slash, "/tcp") != 0)
		return err_set(err, 400, EINVAL,
			       "%s: allowed destination \"%s\": the protocol must be tcp or udp",
			       who, fw_safe(s, q, sizeof(q)));
	return 0;
}

/* The set entry i of the node on bridge pins its answers into. */
int fw_name_set(const char *bridge, size_t i, char *buf, size_t size)
{
	int n = snprintf(buf, size, "names_%s_%zu", bridge, i);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The two dnsmasq options of entry i: forward the name to upstream, and
 * pin each IPv4 answer into the entry's set of table inet isc. */
int fw_name_dnsmasq(const struct fw_name_entry *e, const char *bridge, size_t i,
		    const char *upstream, char *server, size_t ssize, char *nftset, size_t nsize)
{
	char set[FW_NAME_SET_MAX];
	int n;

	if (fw_name_set(bridge, i, set, sizeof(set)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(server, ssize, "server=/%s/%s", e->ne_host, upstream);
	if (n < 0 || (size_t)n >= ssize)
		return -ENAMETOOLONG;
	n = snprintf(nftset, nsize, "nftset=/%s/4#inet#" FW_TABLE "#%s", e->ne_host, set);
	return n < 0 || (size_t)n >= nsize ? -ENAMETOOLONG : 0;
}

/* Checked strictly; appended to the node's entries by name. */
int fw_names_parse_entry(const char *who, const char *s, struct fw_info *fi, struct dock_err *err)
{
	struct fw_name_entry e;
	char q[FW_SAFE_MAX + 8];

	if (fw_name_entry_parse(who, s, &e, err) < 0)
		return -EINVAL;
	if (fi->fi_nnames == FW_NAMES_MAX)
		return err_set(err, 400, E2BIG,
			       "%s: allowed destination \"%s\": more than %d entries by name", who,
			       fw_safe(s, q, sizeof(q)), FW_NAMES_MAX);
	for (size_t i = 0; i < fi->fi_nnames; i++) {
		const struct fw_name_entry *o = &fi->fi_names[i];

		if (strcmp(o->ne_host, e.ne_host) == 0 && o->ne_port == e.ne_port &&
		    o->ne_proto == e.ne_proto)
			return err_set(err, 400, EINVAL,
				       "%s: allowed destination \"%s\" is given twice", who,
				       fw_safe(s, q, sizeof(q)));
	}
	fi->fi_names[fi->fi_nnames++] = e;
	return 0;
}

bool fw_names_same(const struct fw_info *a, const struct fw_info *b)
{
	if (a->fi_nnames != b->fi_nnames)
		return false;
	for (size_t i = 0; i < a->fi_nnames; i++) {
		const struct fw_name_entry *x = &a->fi_names[i], *y = &b->fi_names[i];

		if (strcmp(x->ne_host, y->ne_host) != 0 || x->ne_port != y->ne_port ||
		    x->ne_proto != y->ne_proto)
			return false;
	}
	return true;
}

void fw_name_format(const struct fw_name_entry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u/%s", e->ne_host, e->ne_port, fw_proto_name(e->ne_proto));
}

/* Entry i's host, the first time it is met: one server= line and one
 * nftset= line naming the sets of every entry of that host (dnsmasq uses
 * one nftset= option a name: two for one host would fill only one set, so
 * "h:80" beside "h:443" would never open port 80). */
static int fw_names_host(const struct fw_info *fi, size_t i, const char *upstream, struct fw_str *d,
			 struct dock_err *err)
{
	char server[FW_NAME_HOST_MAX + 40], nftset[FW_NAME_HOST_MAX + 64], set[FW_NAME_SET_MAX];
	const char *host = fi->fi_names[i].ne_host;

	for (size_t j = 0; j < i; j++)
		if (strcmp(fi->fi_names[j].ne_host, host) == 0)
			return 0; /* said with its first entry */
	if (fw_name_dnsmasq(&fi->fi_names[i], fi->fi_bridge, i, upstream, server, sizeof(server),
			    nftset, sizeof(nftset)) < 0)
		return err_set(err, 400, ENAMETOOLONG, "node %s: allow entry %s is too long",
			       fi->fi_name, host);
	fw_str_add(d, "%s\n%s", server, nftset);
	for (size_t k = i + 1; k < fi->fi_nnames; k++)
		if (strcmp(fi->fi_names[k].ne_host, host) == 0 &&
		    fw_name_set(fi->fi_bridge, k, set, sizeof(set)) == 0)
			fw_str_add(d, ",4#inet#" FW_TABLE "#%s", set);
	fw_str_add(d, "\n");
	return 0;
}

int fw_names_dnsmasq(const struct fw_node *node, const char *upstream, char **out, size_t *nnames,
		     struct dock_err *err)
{
	struct fw_info *fi = malloc(sizeof(*fi));
	struct fw_str d = { 0 };
	struct in_addr a;
	int r;

	*out = NULL;
	*nnames = 0;
	if (fi == NULL)
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	r = fw_node_parse(node, fi, err);
	if (r == 0 && fi->fi_nnames > 0 &&
	    (upstream == NULL || inet_pton(AF_INET, upstream, &a) != 1))
		r = err_set(err, 400, EINVAL, "node %s: the resolver's upstream is no IPv4 address",
			    fi->fi_name);
	for (size_t i = 0; r == 0 && i < fi->fi_nnames; i++)
		r = fw_names_host(fi, i, upstream, &d, err);
	if (r == 0 && fi->fi_nnames > 0)
		fw_str_add(&d, "cache-size=0\n");
	if (r == 0)
		fw_str_add(&d, "%s", "");
	*nnames = r == 0 ? fi->fi_nnames : 0;
	free(fi);
	*out = fw_str_take(&d);
	if (r == 0 && *out == NULL)
		r = err_set(err, 500, ENOMEM, "firewall: out of memory");
	if (r < 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}
