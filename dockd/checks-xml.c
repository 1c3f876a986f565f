/* checks-xml: the dock's own facts read from libvirt's XML (the domain, its
 * network and its secret), for the dock-side rows that checks.c judges. */
#include "checks.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static xmlNodePtr x_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static bool x_attr_is(xmlNodePtr n, const char *attr, const char *want)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)attr) : NULL;
	bool eq = v != NULL && want != NULL && strcmp((const char *)v, want) == 0;

	xmlFree(v);
	return eq;
}

static xmlDocPtr x_parse(const char *xml)
{
	if (xml == NULL)
		return NULL;
	return xmlReadMemory(xml, (int)strlen(xml), "libvirt.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

void checks_dock_from_xml(const char *domain_xml, const char *network_xml, const char *secret_xml,
			  const char *base_path, const char *volume_path, const char *secret_uuid,
			  const char *network, struct dock_facts *df)
{
	xmlDocPtr d = x_parse(domain_xml), n = x_parse(network_xml), s = x_parse(secret_xml);
	xmlNodePtr root, devs;

	df->df_base_readonly = df->df_eph_luks = df->df_net_own = -1;
	df->df_net_open = df->df_secret_ephemeral = df->df_secret_private = -1;
	if (d != NULL && (root = xmlDocGetRootElement(d)) != NULL) {
		devs = x_child(root, "devices");
		df->df_base_readonly = df->df_eph_luks = df->df_net_own = 0;
		bool foreign = false;
		for (xmlNodePtr c = devs ? devs->children : NULL; c != NULL; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			if (strcmp((const char *)c->name, "disk") == 0) {
				xmlNodePtr src = x_child(c, "source"),
					   enc = x_child(c, "encryption");
				if (x_attr_is(src, "file", base_path))
					df->df_base_readonly = x_child(c, "readonly") != NULL;
				if (x_attr_is(src, "file", volume_path))
					df->df_eph_luks = x_attr_is(enc, "format", "luks") &&
						x_attr_is(x_child(enc, "secret"), "uuid",
							  secret_uuid) &&
						x_child(c, "readonly") == NULL;
			} else if (strcmp((const char *)c->name, "interface") == 0) {
				/* Every interface must be on the node's own network. */
				if (!x_attr_is(x_child(c, "source"), "network", network))
					foreign = true;
				else if (!foreign)
					df->df_net_own = 1;
			}
		}
		if (foreign)
			df->df_net_own = 0;
	}
	if (n != NULL && (root = xmlDocGetRootElement(n)) != NULL) {
		xmlChar *conn = xmlGetProp(root, (const xmlChar *)"connections");
		df->df_net_open = x_attr_is(x_child(root, "forward"), "mode", "open");
		df->df_net_connections = conn ? strtoll((const char *)conn, NULL, 10) : 0;
		xmlFree(conn);
	}
	if (s != NULL && (root = xmlDocGetRootElement(s)) != NULL) {
		df->df_secret_ephemeral = x_attr_is(root, "ephemeral", "yes");
		df->df_secret_private = x_attr_is(root, "private", "yes");
	}
	xmlFreeDoc(d);
	xmlFreeDoc(n);
	xmlFreeDoc(s);
}
