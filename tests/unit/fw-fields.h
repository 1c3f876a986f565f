/* fw-fields: what the firewall's unit tests (test_fw.c, test_fwcheck.c)
 * share: two well-formed nodes, and the string fields of a struct fw_node by
 * number, so they can table bad inputs as (field, value, expected error). */
#ifndef ISC_TEST_FW_FIELDS_H
#define ISC_TEST_FW_FIELDS_H

#include "fw.h"

#define NODE(name, bridge, cidr, ip, mac, gw)                                              \
	{                                                                                  \
		.fn_name = name, .fn_bridge = bridge, .fn_subnet_cidr = cidr, .fn_ip = ip, \
		.fn_mac = mac, .fn_gateway = gw                                            \
	}

static const struct fw_node n0 =
	NODE("web1", "iscbr0", "10.231.0.0/29", "10.231.0.2", "52:54:00:00:00:02", "10.231.0.1");
static const struct fw_node n1 =
	NODE("db", "iscbr1", "10.231.0.8/29", "10.231.0.10", "52:54:00:00:00:0a", "10.231.0.9");

enum field { F_NAME, F_BRIDGE, F_SUBNET, F_IP, F_MAC, F_GW };

static inline void set_field(struct fw_node *n, enum field f, const char *v)
{
	switch (f) {
	case F_NAME:
		n->fn_name = v;
		break;
	case F_BRIDGE:
		n->fn_bridge = v;
		break;
	case F_SUBNET:
		n->fn_subnet_cidr = v;
		break;
	case F_IP:
		n->fn_ip = v;
		break;
	case F_MAC:
		n->fn_mac = v;
		break;
	case F_GW:
		n->fn_gateway = v;
		break;
	}
}

#endif
