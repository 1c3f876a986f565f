/* fw-names: egress allow entries by name ("deb.debian.org:443/tcp"), the
 * pure half: the strict check of an entry (an RFC 1123 host name, a port,
 * tcp or udp), the name of the nft set its answers are pinned into, and
 * the dnsmasq options that make the node's resolver answer that name only
 * (forwarded upstream) and pin each answer into the set. No netlink here. */
#include "fw-int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
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

/* Checked strictly first, so that a bad name is told as such; then
 * refused: the resolver of an egress-deny node answers no name yet, and
 * no set holds its answers, so the entry could only mislead. */
int fw_names_parse_entry(const char *who, const char *s, struct fw_range *r, struct dock_err *err)
{
	struct fw_name_entry e;
	char q[FW_SAFE_MAX + 8];

	if (fw_name_entry_parse(who, s, &e, err) < 0)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	return err_set(err, 400, EOPNOTSUPP,
		       "%s: allowed destination \"%s\": entries by name are not supported yet "
		       "(give the addresses as CIDR[:PORT/PROTO])",
		       who, fw_safe(s, q, sizeof(q)));
}
