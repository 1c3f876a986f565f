/* fw-showfmt: fw_show's two forms, the text of `iscadm fw show` and the
 * JSON of the API, both deterministic (nodes sorted by name). */
#include "fw-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

char *fw_show_text(const struct fw_show *s)
{
	struct fw_str t = { 0 };

	if (!s->fs_table)
		fw_str_add(&t, "table inet %s: missing: no node is isolated\n", FW_TABLE);
	else if (s->fs_policy_ok)
		fw_str_add(&t, "table inet %s: present, policy as fw_init makes it\n", FW_TABLE);
	else
		fw_str_add(&t, "table inet %s: present, POLICY ALTERED: %s\n", FW_TABLE,
			   s->fs_policy_problem);
	for (size_t i = 0; i < s->fs_nwarnings; i++)
		fw_str_add(&t, "warning: %s\n", s->fs_warnings[i]);
	for (size_t i = 0; i < s->fs_nnodes; i++) {
		const struct fw_show_node *n = &s->fs_nodes[i];

		fw_str_add(&t, "node %s: bridge %s, address %s, MAC %s, gateway %s, subnet %s\n",
			   n->sn_name, n->sn_bridge, n->sn_ip[0] ? n->sn_ip : "-",
			   n->sn_mac[0] ? n->sn_mac : "-", n->sn_gateway[0] ? n->sn_gateway : "-",
			   n->sn_subnet[0] ? n->sn_subnet : "-");
		fw_str_add(&t, "  isolated: %s, anti-spoofing: %s, quarantined: %s\n",
			   n->sn_isolated ? "yes" : "NO", n->sn_antispoof ? "yes" : "NO",
			   n->sn_quarantined ? "YES" : "no");
		if (!n->sn_egress_deny && n->sn_nallow == 0)
			fw_str_add(&t, "  egress: public only (masqueraded)\n");
		else if (n->sn_nallow == 0)
			fw_str_add(&t, "  egress: denied\n");
		else {
			fw_str_add(&t,
				   n->sn_egress_deny ? "  egress: denied except to"
						     : "  egress: public only, and to");
			for (size_t k = 0; k < n->sn_nallow; k++)
				fw_str_add(&t, "%s %s", k > 0 ? "," : "", n->sn_allow[k]);
			fw_str_add(&t, "\n");
		}
		if (n->sn_net_in_bps != 0 || n->sn_net_out_bps != 0)
			fw_str_add(&t, "  bandwidth: in %llu bytes/s, out %llu bytes/s (0: none)\n",
				   (unsigned long long)n->sn_net_in_bps,
				   (unsigned long long)n->sn_net_out_bps);
		fw_str_add(&t, "  published:");
		for (size_t k = 0; k < n->sn_npublished; k++) {
			char spec[24];

			fw_publish_format(&n->sn_published[k], spec, sizeof(spec));
			fw_str_add(&t, "%s %s", k > 0 ? "," : "", spec);
		}
		fw_str_add(&t, "%s\n", n->sn_npublished == 0 ? " none" : "");
		fw_str_add(&t,
			   "  drops: %llu packets, %llu bytes, logged as \"" FW_LOG_PREFIX_FMT
			   "\" (%d/s, burst %d)%s\n",
			   (unsigned long long)n->sn_drop_packets,
			   (unsigned long long)n->sn_drop_bytes, n->sn_name, FW_LOG_RATE,
			   FW_LOG_BURST, n->sn_truncated ? " (lists truncated)" : "");
	}
	fw_str_add(&t, "%s", "");
	return fw_str_take(&t);
}

/* The node's publishes into pub and its allow-list into allow; true when
 * memory ran out. */
static bool fw_json_lists(const struct fw_show_node *n, struct json_object *pub,
			  struct json_object *allow)
{
	bool fail = false;

	for (size_t k = 0; !fail && k < n->sn_npublished; k++) {
		struct json_object *p = json_object_new_object();

		fail |= p == NULL ||
			json_object_object_add(p, "proto",
					       json_object_new_string(fw_proto_name(
						       n->sn_published[k].fp_proto))) < 0 ||
			json_object_object_add(
				p, "host_port",
				json_object_new_int(n->sn_published[k].fp_host_port)) < 0 ||
			json_object_object_add(
				p, "node_port",
				json_object_new_int(n->sn_published[k].fp_node_port)) < 0 ||
			json_object_array_add(pub, p) < 0;
	}
	for (size_t k = 0; !fail && k < n->sn_nallow; k++)
		fail |= json_object_array_add(allow, json_object_new_string(n->sn_allow[k])) < 0;
	return fail;
}

/* The node's fields, in the API's order, and the node into nodes; true
 * when memory ran out. Each parent takes a reference of its own, so that the
 * caller drops its references whether or not an add failed midway. */
static bool fw_json_fields(const struct fw_show_node *n, struct json_object *j,
			   struct json_object *pub, struct json_object *eg,
			   struct json_object *allow, struct json_object *drops,
			   struct json_object *nodes)
{
	return json_object_object_add(eg, "deny", json_object_new_boolean(n->sn_egress_deny)) < 0 ||
		json_object_object_add(eg, "allow", json_object_get(allow)) < 0 ||
		json_object_object_add(drops, "packets",
				       json_object_new_int64((int64_t)n->sn_drop_packets)) < 0 ||
		json_object_object_add(drops, "bytes",
				       json_object_new_int64((int64_t)n->sn_drop_bytes)) < 0 ||
		json_object_object_add(j, "name", json_object_new_string(n->sn_name)) < 0 ||
		json_object_object_add(j, "bridge", json_object_new_string(n->sn_bridge)) < 0 ||
		json_object_object_add(j, "ip", json_object_new_string(n->sn_ip)) < 0 ||
		json_object_object_add(j, "mac", json_object_new_string(n->sn_mac)) < 0 ||
		json_object_object_add(j, "gateway", json_object_new_string(n->sn_gateway)) < 0 ||
		json_object_object_add(j, "subnet", json_object_new_string(n->sn_subnet)) < 0 ||
		json_object_object_add(j, "isolated", json_object_new_boolean(n->sn_isolated)) <
		0 ||
		json_object_object_add(j, "antispoof", json_object_new_boolean(n->sn_antispoof)) <
		0 ||
		json_object_object_add(j, "quarantined",
				       json_object_new_boolean(n->sn_quarantined)) < 0 ||
		json_object_object_add(j, "egress", json_object_get(eg)) < 0 ||
		json_object_object_add(j, "published", json_object_get(pub)) < 0 ||
		json_object_object_add(j, "drops", json_object_get(drops)) < 0 ||
		json_object_object_add(j, "truncated", json_object_new_boolean(n->sn_truncated)) <
		0 ||
		((n->sn_net_in_bps != 0 || n->sn_net_out_bps != 0) &&
		 (json_object_object_add(j, "net_in_bps",
					 json_object_new_int64((int64_t)n->sn_net_in_bps)) < 0 ||
		  json_object_object_add(j, "net_out_bps",
					 json_object_new_int64((int64_t)n->sn_net_out_bps)) < 0)) ||
		json_object_array_add(nodes, json_object_get(j)) < 0;
}

/* One node into nodes; true when memory ran out. */
static bool fw_json_node(const struct fw_show_node *n, struct json_object *nodes)
{
	struct json_object *j = json_object_new_object(), *pub = json_object_new_array();
	struct json_object *eg = json_object_new_object(), *allow = json_object_new_array();
	struct json_object *drops = json_object_new_object();
	bool fail = j == NULL || pub == NULL || eg == NULL || allow == NULL || drops == NULL;

	if (!fail)
		fail = fw_json_lists(n, pub, allow);
	if (!fail)
		fail = fw_json_fields(n, j, pub, eg, allow, drops, nodes);
	json_object_put(j);
	json_object_put(pub);
	json_object_put(eg);
	json_object_put(allow);
	json_object_put(drops);
	return fail;
}

int fw_show_json(const struct fw_show *s, struct json_object **out, struct dock_err *err)
{
	struct json_object *o = json_object_new_object(), *nodes = json_object_new_array();
	struct json_object *warn = json_object_new_array();
	bool fail = o == NULL || nodes == NULL || warn == NULL;

	*out = NULL;
	for (size_t i = 0; !fail && i < s->fs_nwarnings; i++)
		fail |= json_object_array_add(warn, json_object_new_string(s->fs_warnings[i])) < 0;
	for (size_t i = 0; !fail && i < s->fs_nnodes; i++)
		fail = fw_json_node(&s->fs_nodes[i], nodes);
	if (!fail)
		fail = json_object_object_add(o, "table", json_object_new_boolean(s->fs_table)) <
				0 ||
			json_object_object_add(o, "policy_ok",
					       json_object_new_boolean(s->fs_policy_ok)) < 0 ||
			json_object_object_add(o, "policy_problem",
					       json_object_new_string(s->fs_policy_problem)) < 0 ||
			json_object_object_add(o, "warnings", json_object_get(warn)) < 0 ||
			json_object_object_add(o, "nodes", json_object_get(nodes)) < 0;
	json_object_put(warn); /* o holds its own references */
	json_object_put(nodes);
	if (fail) {
		json_object_put(o);
		return err_set(err, 500, ENOMEM, "firewall: out of memory");
	}
	*out = o;
	return 0;
}
