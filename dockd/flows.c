/* flows: a lab's node-to-node flows (flows.h): checked against the node
 * table, recorded in state_dir/flows/LAB.json first (intent: a dock killed
 * after the write rebuilds the new flows at start), then set in the
 * firewall in one batch (fw_flows_set), the old record restored if the
 * kernel refuses. The record keeps each flow's bridges, so the elements
 * removed are exactly the ones added. flows_lock serialises changes; it is
 * taken before node_lock, never under it. */
#include "flows.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "file.h"
#include "jsonin.h"
#include "log.h"
#include "node-int.h"
#include "validate.h"
#include "virt.h"

#define FLOWS_FILE_MAX (512 * 1024) /* FLOWS_MAX flows of ~200 bytes, with room */

/* A flow with the bridges it was installed with. */
struct flow_rec {
	struct flow fr_flow;
	char fr_from_bridge[16];
	char fr_to_bridge[16];
	char fr_to_ip[16]; /* what the from-node's resolver answers for the to-node */
};

static pthread_mutex_t flows_lock = PTHREAD_MUTEX_INITIALIZER;

int flow_port_parse(const char *s, uint16_t *port, uint8_t *proto, struct dock_err *err)
{
	unsigned long v = 0;
	const char *p = s;

	if (s == NULL)
		return err_set(err, 400, EINVAL, "flow: the port is missing");
	if (*p < '1' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9' && v <= 65535; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (v > 65535)
		goto bad;
	if (*p == '\0' || strcmp(p, "/tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcmp(p, "/udp") == 0)
		*proto = IPPROTO_UDP;
	else
		goto bad;
	*port = (uint16_t)v;
	return 0;
bad:
	return err_set(err, 400, EINVAL, "flow: port \"%.16s\" is not PORT[/tcp|/udp], 1..65535",
		       s);
}

int flow_from_json(const struct json_object *o, struct flow *f, struct dock_err *err)
{
	char port[24];

	memset(f, 0, sizeof(*f));
	if (!json_object_is_type(o, json_type_object))
		return err_set(err, 400, EINVAL, "flow: not an object");
	if (jsonin_str(o, "flow", "from", true, f->from, sizeof(f->from), err) < 0 ||
	    jsonin_str(o, "flow", "to", true, f->to, sizeof(f->to), err) < 0 ||
	    jsonin_str(o, "flow", "port", true, port, sizeof(port), err) < 0)
		return -EINVAL;
	return flow_port_parse(port, &f->port, &f->proto, err);
}

static struct json_object *flow_json(const struct flow *f)
{
	struct json_object *o = json_object_new_object();
	char port[16];

	snprintf(port, sizeof(port), "%u/%s", f->port, f->proto == IPPROTO_UDP ? "udp" : "tcp");
	json_object_object_add(o, "from", json_object_new_string(f->from));
	json_object_object_add(o, "to", json_object_new_string(f->to));
	json_object_object_add(o, "port", json_object_new_string(port));
	return o;
}

struct json_object *flows_to_json(const struct flow *f, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, flow_json(&f[i]));
	return a;
}

/* ---- the record: state_dir/flows/LAB.json ------------------------------ */

static void flows_path(const char *lab, char *path, size_t size)
{
	snprintf(path, size, "%s/" FLOWS_DIR "/%s.json", node_cfg->dc_state_dir, lab);
}

/* The recorded flows of lab; none recorded: *n = 0. */
static int flows_load(const char *lab, struct flow_rec **out, size_t *n, struct dock_err *err)
{
	static const struct jsonin_limits lim = { FLOWS_FILE_MAX, 8, FLOWS_MAX };
	char path[PATH_MAX], *buf = NULL;
	struct json_object *doc = NULL, *arr = NULL;
	struct flow_rec *v = NULL;
	size_t len = 0, k = 0;
	int r;

	*out = NULL;
	*n = 0;
	flows_path(lab, path, sizeof(path));
	r = file_read(path, FLOWS_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return err_set(err, 500, -r, "lab %s: flows record %s: %s", lab, path,
			       strerror(-r));
	r = jsonin_parse(path, buf, len, &lim, &doc, err);
	free(buf);
	if (r == 0)
		r = jsonin_array(doc, path, "flows", true, FLOWS_MAX, &arr, err);
	if (r == 0) {
		k = json_object_array_length(arr);
		v = calloc(k + 1, sizeof(*v));
		if (v == NULL)
			r = err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; r == 0 && i < k; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		r = flow_from_json(o, &v[i].fr_flow, err);
		if (r == 0 &&
		    (jsonin_str(o, path, "from_bridge", true, v[i].fr_from_bridge,
				sizeof(v[i].fr_from_bridge), err) < 0 ||
		     jsonin_str(o, path, "to_bridge", true, v[i].fr_to_bridge,
				sizeof(v[i].fr_to_bridge), err) < 0 ||
		     jsonin_str(o, path, "to_ip", true, v[i].fr_to_ip, sizeof(v[i].fr_to_ip), err) <
			     0))
			r = -EINVAL;
	}
	json_object_put(doc);
	if (r < 0) {
		free(v);
		err_prefix(err, "lab %s: flows record: ", lab);
		return r < 0 ? r : -EINVAL;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Write (or, with no flow, remove) the record of lab. */
static int flows_save(const char *lab, const struct flow_rec *v, size_t n, struct dock_err *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct json_object *doc, *arr;
	const char *text;
	int r;

	flows_path(lab, path, sizeof(path));
	if (n == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return err_set(err, 500, errno, "lab %s: %s: %s", lab, path,
				       strerror(errno));
		file_sync_dir(path);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/" FLOWS_DIR, node_cfg->dc_state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "lab %s: %s: %s", lab, dir, strerror(errno));
	doc = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(doc, "lab", json_object_new_string(lab));
	json_object_object_add(doc, "flows", arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = flow_json(&v[i].fr_flow);

		json_object_object_add(o, "from_bridge",
				       json_object_new_string(v[i].fr_from_bridge));
		json_object_object_add(o, "to_bridge", json_object_new_string(v[i].fr_to_bridge));
		json_object_object_add(o, "to_ip", json_object_new_string(v[i].fr_to_ip));
		json_object_array_add(arr, o);
	}
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY);
	r = file_write_atomic(path, text, strlen(text), 0600, err);
	json_object_put(doc);
	return r;
}

/* ---- names --------------------------------------------------------------- */

/* Whether v[0..n) holds a flow from `from` to `to` (any port). */
static bool flows_pair(const struct flow_rec *v, size_t n, const char *from, const char *to,
		       const char *to_ip)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].fr_flow.from, from) == 0 && strcmp(v[i].fr_flow.to, to) == 0 &&
		    (to_ip == NULL || strcmp(v[i].fr_to_ip, to_ip) == 0))
			return true;
	return false;
}

/* DNS host entry of the pair e (from's network: to's short name -> to's
 * address); on: add, else remove. */
static int flows_name_set(const char *lab, const struct flow_rec *e, bool on, struct dock_err *err)
{
	char net[NODE_NAME_MAX + 16];
	const char *shortname = e->fr_flow.to + strlen(lab) + 1;

	snprintf(net, sizeof(net), NODE_PREFIX "%s", e->fr_flow.from);
	return virt_network_dns_host(net, e->fr_to_ip, shortname, on, err);
}

/* Each node of the lab resolves, by short name, the nodes it has a flow
 * to, on its gateway (libvirt's dnsmasq of its network, updated in place):
 * pairs of old that now lacks go, pairs of now are (re)added. The names
 * follow the firewall: a failure here is logged, not undone (the flows are
 * in force; the next apply or start sets the names again). */
static void flows_names_apply(const char *lab, const struct flow_rec *old, size_t nold,
			      const struct flow_rec *now, size_t nnow)
{
	struct dock_err e = { 0 };

	for (size_t i = 0; i < nold; i++) {
		const struct flow_rec *o = &old[i];

		if (flows_pair(old, i, o->fr_flow.from, o->fr_flow.to, o->fr_to_ip) ||
		    flows_pair(now, nnow, o->fr_flow.from, o->fr_flow.to, o->fr_to_ip))
			continue; /* said already, or stays */
		if (flows_name_set(lab, o, false, &e) < 0 && e.de_status != 404)
			log_warn("lab %s: %s", lab, e.de_msg);
		else
			log_debug("lab %s: node %s no longer resolves %s", lab, o->fr_flow.from,
				  o->fr_flow.to);
		err_clear(&e);
	}
	for (size_t i = 0; i < nnow; i++) {
		if (flows_pair(now, i, now[i].fr_flow.from, now[i].fr_flow.to, NULL))
			continue;
		if (flows_name_set(lab, &now[i], true, &e) < 0)
			log_warn("lab %s: node %s will not resolve %s: %s", lab,
				 now[i].fr_flow.from, now[i].fr_flow.to, e.de_msg);
		err_clear(&e);
	}
}

/* ---- the firewall ------------------------------------------------------ */

/* v[0..n) as the firewall's flows; *out malloc'd (NULL when n is 0). */
static int flows_fw(const struct flow_rec *v, size_t n, struct fw_flow **out)
{
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = (struct fw_flow){ v[i].fr_flow.from,   v[i].fr_flow.to,
					      v[i].fr_from_bridge, v[i].fr_to_bridge,
					      v[i].fr_flow.proto,  v[i].fr_flow.port };
	return 0;
}

static int flows_fw_set(const struct flow_rec *old, size_t nold, const struct flow_rec *now,
			size_t nnow, struct dock_err *err)
{
	struct fw_flow *a = NULL, *b = NULL;
	int r;

	if (flows_fw(old, nold, &a) < 0 || flows_fw(now, nnow, &b) < 0) {
		free(a);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	r = fw_flows_set(a, nold, b, nnow, err);
	free(a);
	free(b);
	return r;
}

/* ---- the checks -------------------------------------------------------- */

static bool flow_same(const struct flow *a, const struct flow *b)
{
	return strcmp(a->from, b->from) == 0 && strcmp(a->to, b->to) == 0 && a->port == b->port &&
		a->proto == b->proto;
}

/* The bridge of node `name` of lab `lab`: 404 when there is no such node,
 * 400 when it is not the lab's. node_lock held. */
static int flows_bridge_locked(const char *lab, const char *name, char *bridge, size_t size,
			       char ip[16], struct dock_err *err)
{
	size_t ll = strlen(lab);
	struct node_names nn;
	struct node *n;

	if (strncmp(name, lab, ll) != 0 || name[ll] != '-' || name[ll + 1] == '\0')
		return err_set(err, 400, EINVAL, "lab %s: node %s is not the lab's (%s-NAME)", lab,
			       name, lab);
	n = node_find_locked(name);
	if (n == NULL)
		return err_set(err, 404, ENOENT, "lab %s: node %s does not exist", lab, name);
	node_names(&n->n_rec, &nn);
	snprintf(bridge, size, "%s", nn.nn_subnet.ns_bridge);
	if (ip != NULL)
		snprintf(ip, 16, "%s", nn.nn_subnet.ns_node_ip);
	return 0;
}

/* f[0..n) checked, duplicates dropped, with their bridges, into *out. */
static int flows_resolve(const char *lab, const struct flow *f, size_t n, struct flow_rec **out,
			 size_t *nout, struct dock_err *err)
{
	struct flow_rec *v = calloc(n + 1, sizeof(*v));
	size_t k = 0;
	int r = 0;

	if (v == NULL)
		return err_set(err, 500, ENOMEM, "out of memory");
	pthread_mutex_lock(&node_lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		bool dup = false;

		if (f[i].port == 0 || (f[i].proto != IPPROTO_TCP && f[i].proto != IPPROTO_UDP) ||
		    strcmp(f[i].from, f[i].to) == 0 ||
		    strnlen(f[i].from, sizeof(f[i].from)) == sizeof(f[i].from) ||
		    strnlen(f[i].to, sizeof(f[i].to)) == sizeof(f[i].to)) {
			r = err_set(err, 400, EINVAL,
				    "lab %s: flow %zu: needs two different nodes, a port 1..65535 "
				    "and tcp or udp",
				    lab, i + 1);
			break;
		}
		for (size_t j = 0; j < k && !dup; j++)
			dup = flow_same(&v[j].fr_flow, &f[i]);
		if (dup)
			continue;
		v[k].fr_flow = f[i];
		r = flows_bridge_locked(lab, f[i].from, v[k].fr_from_bridge,
					sizeof(v[k].fr_from_bridge), NULL, err);
		if (r == 0)
			r = flows_bridge_locked(lab, f[i].to, v[k].fr_to_bridge,
						sizeof(v[k].fr_to_bridge), v[k].fr_to_ip, err);
		k++;
	}
	pthread_mutex_unlock(&node_lock);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*nout = k;
	return 0;
}

/* ---- the contract ------------------------------------------------------ */

int flows_apply(const char *lab, const struct flow *f, size_t n, struct dock_err *err)
{
	struct flow_rec *old = NULL, *now = NULL;
	size_t nold = 0, nnow = 0;
	int r;

	if (validate_name("lab", lab, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	if (n > FLOWS_MAX)
		return err_set(err, 400, E2BIG, "lab %s: %zu flows, more than %d", lab, n,
			       FLOWS_MAX);
	if (n > 0 && f == NULL)
		return err_set(err, 400, EINVAL, "lab %s: flows counted but missing", lab);
	pthread_mutex_lock(&flows_lock);
	r = flows_resolve(lab, f, n, &now, &nnow, err);
	if (r == 0)
		r = flows_load(lab, &old, &nold, err);
	if (r == 0)
		r = flows_save(lab, now, nnow, err);
	if (r == 0) {
		r = flows_fw_set(old, nold, now, nnow, err);
		if (r < 0)
			flows_save(lab, old, nold, NULL);
	}
	if (r == 0)
		flows_names_apply(lab, old, nold, now, nnow);
	pthread_mutex_unlock(&flows_lock);
	if (r == 0)
		log_info("lab %s: %zu flow(s) in force (were %zu)", lab, nnow, nold);
	free(old);
	free(now);
	return r;
}

int flows_get(const char *lab, struct flow **out, size_t *n, struct dock_err *err)
{
	struct flow_rec *v = NULL;
	size_t k = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (validate_name("lab", lab, NODE_NAME_MAX, err) < 0)
		return -EINVAL;
	pthread_mutex_lock(&flows_lock);
	r = flows_load(lab, &v, &k, err);
	pthread_mutex_unlock(&flows_lock);
	if (r < 0 || k == 0) {
		free(v);
		return r;
	}
	*out = calloc(k, sizeof(**out));
	if (*out == NULL) {
		free(v);
		return err_set(err, 500, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < k; i++)
		(*out)[i] = v[i].fr_flow;
	*n = k;
	free(v);
	return 0;
}

/* ---- the node room's calls (node-int.h) -------------------------------- */

/* Each lab's record in state_dir/flows, by name: fn(lab). */
static void flows_each_lab(void (*fn)(const char *lab, const void *arg), const void *arg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/" FLOWS_DIR, node_cfg->dc_state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char lab[NODE_NAME_MAX + 1];
		size_t len = strlen(de->d_name);

		if (len <= 5 || len - 5 > NODE_NAME_MAX ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(lab, sizeof(lab), "%.*s", (int)(len - 5), de->d_name);
		if (validate_name("lab", lab, NODE_NAME_MAX, NULL) == 0)
			fn(lab, arg);
	}
	closedir(d);
}

/* At start, after fw_init: the lab's recorded flows of nodes that still
 * exist, with their bridges now, into the table; the record follows. */
static void flows_init_lab(const char *lab, const void *arg)
{
	struct flow_rec *v = NULL, *now = NULL;
	struct dock_err e = { 0 };
	struct flow *f = NULL;
	size_t n = 0, k = 0;

	(void)arg;
	if (flows_load(lab, &v, &n, &e) < 0) {
		log_warn("%s: its flows are not installed", e.de_msg);
		return;
	}
	f = calloc(n + 1, sizeof(*f));
	for (size_t i = 0; f != NULL && i < n; i++) {
		struct dock_err e1 = { 0 };
		struct flow_rec *one = NULL;
		size_t n1 = 0;

		if (flows_resolve(lab, &v[i].fr_flow, 1, &one, &n1, &e1) == 0)
			f[k++] = v[i].fr_flow;
		else
			log_warn("%s: flow dropped", e1.de_msg);
		free(one);
	}
	if (f != NULL && flows_resolve(lab, f, k, &now, &k, &e) == 0 &&
	    (k == n || flows_save(lab, now, k, &e) == 0) &&
	    flows_fw_set(NULL, 0, now, k, &e) == 0) {
		flows_names_apply(lab, v, n, now, k);
		log_info("lab %s: %zu flow(s) installed", lab, k);
	} else {
		log_warn("lab %s: flows not installed: %s", lab, e.de_msg);
	}
	free(v);
	free(now);
	free(f);
}

void flows_init(void)
{
	pthread_mutex_lock(&flows_lock);
	flows_each_lab(flows_init_lab, NULL);
	pthread_mutex_unlock(&flows_lock);
}

/* The flows of node `arg` leave the lab's record and the table. */
static void flows_gone_lab(const char *lab, const void *arg)
{
	const char *name = arg;
	struct flow_rec *v = NULL, *gone = NULL;
	struct dock_err e = { 0 };
	size_t n = 0, k = 0, g = 0;

	if (flows_load(lab, &v, &n, &e) < 0 || n == 0) {
		free(v);
		return;
	}
	gone = calloc(n, sizeof(*gone));
	if (gone == NULL) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].fr_flow.from, name) == 0 || strcmp(v[i].fr_flow.to, name) == 0)
			gone[g++] = v[i];
		else
			v[k++] = v[i];
	}
	if (g > 0 && (flows_save(lab, v, k, &e) < 0 || flows_fw_set(gone, g, NULL, 0, &e) < 0)) {
		log_warn("lab %s: node %s's flows: %s", lab, name, e.de_msg);
	} else if (g > 0) {
		flows_names_apply(lab, gone, g, v, k);
		log_info("lab %s: node %s's %zu flow(s) removed with it", lab, name, g);
	}
	free(v);
	free(gone);
}

void flows_node_gone(const char *name)
{
	pthread_mutex_lock(&flows_lock);
	flows_each_lab(flows_gone_lab, name);
	pthread_mutex_unlock(&flows_lock);
}
