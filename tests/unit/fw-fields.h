/* fw-fields: the string fields of a struct fw_node by number, so that the
 * firewall's unit tests (test_fw.c, test_fwcheck.c) can table their bad
 * inputs as (field, value, expected error). */
#ifndef ISC_TEST_FW_FIELDS_H
#define ISC_TEST_FW_FIELDS_H

#include "fw.h"

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
