/* fw-int: the firewall's private header, shared by its sibling files and
 * by nothing outside firewall/ but the firewall's own unit tests. It holds
 * the checked form of a node (fw_info), the batch being built (fw_batch),
 * set elements, what is read back from the kernel, and the calls one
 * sibling makes of another. fw.h stays the contract with the dock. The
 * rooms: fw.c the public calls; fw-check.c the pure input checks;
 * fw-batch.c the batch and its messages; fw-sets.c the table's sets;
 * fw-elems.c set elements; fw-rule.c rule expressions; fw-chains.c the
 * policy, one function per chain; fw-send.c the netlink socket and the
 * send; fw-dry.c the dry run; fw-str.c a growable string; fw-read.c
 * reading the table back; fw-show.c and fw-showfmt.c `fw show`;
 * fw-flows.c node-to-node flows; fw-bw.c a node's network bandwidth;
 * fw-names.c allow entries by name (pure), fw-names-nft.c their sets,
 * chain and verdict map. */
#ifndef ISC_FW_INT_H
#define ISC_FW_INT_H

#include "fw.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>

#include <linux/netfilter/nf_tables.h>

struct nftnl_expr;
struct nftnl_rule;
struct nftnl_set;
struct nlmsghdr;
struct mnl_socket;

/* nft's own datatype ids and byte-order tags (nftables' datatype.h and
 * expression.h). Not kernel ABI, but `nft list` reads them back to print
 * set keys, so we store what nft itself stores for `type ifname`,
 * `type ipv4_addr` and so on; a concatenation's type is its parts' ids, 6
 * bits each, first part highest. */
#define FW_TYPE_IPADDR        7
#define FW_TYPE_ETHERADDR     9
#define FW_TYPE_INET_PROTOCOL 12
#define FW_TYPE_INET_SERVICE  13
#define FW_TYPE_IFNAME        41
#define FW_TYPE_BITS          6
#define FW_BYTEORDER_NONE     0 /* what nft stores for concatenations */
#define FW_BYTEORDER_HOST     1
#define FW_BYTEORDER_BIG      2

#define FW_COMMENT      "ISC dock policy, owned by dockd: do not edit, fw_init rebuilds it"
#define FW_CHAIN_PREFIX "node-" /* node-NAME: the node's drop chain */
#define FW_DROP_FROM    "drop-from-node"
#define FW_DROP_TO      "drop-to-node"
#define FW_BW_PREFIX    "bw-"    /* bw-NAME: the node's bandwidth limits */
#define FW_NAMES_PREFIX "names-" /* names-BRIDGE: the node's allow entries by name */
#define FW_EGRESS_CHAIN "egress" /* what a node starts: allow-list, deny, private ranges */

/* Elements per message: the element list is one netlink nest whose length
 * is a u16, so a message must stay well under 64 KiB. */
#define FW_CHUNK_ELEMS 128
/* Bytes reserved before building a message. libnftnl writes attributes
 * without bounds checks, so these are generous upper bounds: a rule here is
 * under 600 bytes, an element (two keys, data, comment) under 256. */
#define FW_MSG_ROOM      2048
#define FW_ELEM_ROOM     256
#define FW_ACK_TIMEOUT_S 10 /* a dock never hangs on a silent kernel */
#define FW_SEQ_BEGIN     1u /* batch begin; message i has FW_SEQ_BEGIN + 1 + i */
#define FW_WHAT_MAX      160
#define FW_SAFE_MAX      48           /* how much of a bad input a message quotes */
#define FW_KEY_MAX       40           /* the longest key: ifname . ifname . proto . port */
#define FW_DUMP_BUF      (128 * 1024) /* one recv of a dump; the kernel sends at most 32 KiB */

/* ---- the table's sets --------------------------------------------------- */

enum fw_field { FW_F_IFNAME, FW_F_IPV4, FW_F_ETHER, FW_F_PROTO, FW_F_PORT };

/* Each part of a key takes whole 32-bit registers. */
struct fw_field_def {
	uint32_t fd_type;
	uint32_t fd_size; /* bytes of the value */
	uint32_t fd_len;  /* bytes in the key */
};

/* The part types, by enum fw_field (fw-sets.c). */
extern const struct fw_field_def fw_fields[];

enum fw_set {
	FW_BRIDGES,
	FW_SUBNETS,
	FW_ADDRS,
	FW_SERVICES,
	FW_QUARANTINED,
	FW_EGRESS_DENIED,
	FW_EGRESS_ALLOWED,
	FW_PUBLISHED,
	FW_PUBLISHED_TO,
	FW_NODE_DROP,
	FW_PRIVATE,
	FW_FLOWS,
	FW_NODE_BW,
	FW_NODE_NAMES,
	FW_NSETS
};

struct fw_set_def {
	const char *sd_name;
	uint32_t sd_flags; /* NFT_SET_INTERVAL, NFT_SET_CONCAT, NFT_SET_MAP */
	size_t sd_nkey;
	enum fw_field sd_key[4];
	size_t sd_ndata; /* map data parts; 0 and sd_verdict for a vmap */
	enum fw_field sd_data[2];
	bool sd_verdict;
	const char *sd_type; /* as nft prints it */
};

/* Our sets, by enum fw_set (fw-sets.c). */
extern const struct fw_set_def fw_sets[FW_NSETS];

/* ---- checked input ------------------------------------------------------ */

struct fw_range {
	uint32_t r_first; /* host order, inclusive */
	uint32_t r_last;
	uint8_t r_proto; /* allow entries: IPPROTO_TCP/UDP, 0 for any protocol and port */
	uint16_t r_port;
};

#define FW_NAME_HOST_MAX 253 /* RFC 1035's longest name, without the root dot */
#define FW_NAMES_MAX     16  /* allow entries by name per node */

/* An allow entry by name, checked (fw-names.c). */
struct fw_name_entry {
	char ne_host[FW_NAME_HOST_MAX + 1]; /* RFC 1123, lower case */
	uint16_t ne_port;
	uint8_t ne_proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* A checked node in the form the messages need. */
struct fw_info {
	const char *fi_name;
	char fi_bridge[IFNAMSIZ]; /* zero-padded: the key is all 16 bytes */
	char fi_chain[sizeof(FW_CHAIN_PREFIX) + FW_NAME_MAX];
	char fi_cidr[20];
	uint32_t fi_first; /* host order: the network address */
	uint32_t fi_end;   /* host order: one past the last address */
	uint32_t fi_ip;
	uint32_t fi_gateway;
	uint8_t fi_mac[6];
	const struct fw_publish *fi_pub;
	size_t fi_npub;
	bool fi_deny;
	size_t fi_nallow;
	struct fw_range fi_allow[FW_ALLOW_MAX];
	bool fi_quarantined;
	char fi_bw_chain[sizeof(FW_BW_PREFIX) + FW_NAME_MAX];
	uint64_t fi_in_bps; /* bytes/s, 0: none */
	uint64_t fi_out_bps;
	char fi_names_chain[sizeof(FW_NAMES_PREFIX) + IFNAMSIZ];
	size_t fi_nnames; /* allow entries by name, in the record's order */
	struct fw_name_entry fi_names[FW_NAMES_MAX];
};

/* ---- batch building ----------------------------------------------------- */

/* How a kernel error on a message is told: what the message was for. */
enum fw_kind {
	FW_K_PLAIN,
	FW_K_SUBNET,  /* EEXIST: overlaps another subnet */
	FW_K_BRIDGE,  /* EEXIST: the bridge is another node's */
	FW_K_PUBLISH, /* EEXIST: the host port is another publish's */
	FW_K_UNPUBLISH,
	FW_K_PRESENT, /* ENOENT: the node is not in the table */
};

struct fw_msg {
	char fm_what[FW_WHAT_MAX]; /* what the message does, for the error */
	enum fw_kind fm_kind;
	const struct fw_info *fm_node;
	struct fw_publish fm_pub;
};

/* One batch being built. */
struct fw_batch {
	char *fb_buf;
	size_t fb_len;
	size_t fb_cap;
	size_t fb_last; /* offset of the last message */
	struct fw_msg *fb_msgs;
	uint32_t fb_nmsgs;
	uint32_t fb_msgs_cap;
	int fb_errno; /* first build failure, reported at send */
};

/* ---- elements ----------------------------------------------------------- */

struct fw_key {
	uint8_t k_buf[FW_KEY_MAX];
	uint32_t k_len;
};

/* One element: key, optional end of a range (pipapo), map data or verdict. */
struct fw_el {
	struct fw_key e_key;
	struct fw_key e_end; /* k_len 0: none */
	struct fw_key e_data;
	const char *e_chain; /* vmap: goto this chain (jump with e_jump) */
	bool e_jump;
	const char *e_comment;
	uint32_t e_flags;   /* NFT_SET_ELEM_INTERVAL_END */
	const char *e_node; /* whose, for messages */
};

struct fw_els {
	struct fw_el *v;
	size_t n;
	size_t cap;
};

/* ---- a growable string -------------------------------------------------- */

/* A growable string: the dry run's description, fw_show's text. */
struct fw_str {
	char *s_buf;
	size_t s_len;
	size_t s_cap;
	bool s_oom;
};

/* ---- reading back ------------------------------------------------------- */

/* What was read (or, for the expected policy, built): chains and their
 * rules, sets, and the elements of our sets. */
struct fw_rrule {
	char rr_chain[NFT_CHAIN_MAXNAMELEN];
	char *rr_sig;
	uint64_t rr_pkts;
	uint64_t rr_bytes;
	uint64_t rr_limit_bps; /* a byte limit "over" that drops: its rate */
	uint32_t rr_limit_if;  /* and the meta key it follows (IIFNAME, OIFNAME) */
};

struct fw_rchain {
	char rc_name[NFT_CHAIN_MAXNAMELEN];
	bool rc_base;
	char rc_type[16];
	uint32_t rc_hook;
	int32_t rc_prio;
	uint32_t rc_policy;
};

struct fw_rset {
	char rs_name[NFT_SET_MAXNAMELEN];
	uint32_t rs_flags;
	uint32_t rs_key_type;
	uint32_t rs_key_len;
	uint32_t rs_data_type;
	char rs_comment[48]; /* its comment (entries by name: the entry), truncated */
};

struct fw_relem {
	struct fw_key re_key;
	struct fw_key re_end;
	struct fw_key re_data;
	char re_chain[NFT_CHAIN_MAXNAMELEN];
	char re_comment[FW_NAME_MAX + 1];
	uint32_t re_flags;
};

struct fw_read {
	struct fw_rrule *rules;
	size_t nrules;
	struct fw_rchain *chains;
	size_t nchains;
	struct fw_rset *sets;
	size_t nsets;
	struct fw_relem *elems[FW_NSETS];
	size_t nelems[FW_NSETS];
	bool table;
	bool oom;
	struct fw_show *show; /* for warnings about other tables */
};

/* ---- fw-sets.c ---------------------------------------------------------- */

uint32_t fw_set_id(enum fw_set s);
uint32_t fw_parts_type(const enum fw_field *f, size_t n);
uint32_t fw_parts_len(const enum fw_field *f, size_t n);
struct nftnl_set *fw_set_ref(struct fw_batch *b, enum fw_set which, bool with_id);
void fw_set_create(struct fw_batch *b, enum fw_set which);

/* ---- fw-check.c: pure, no netlink, no globals --------------------------- */

const char *fw_ntoa(uint32_t host, char *buf);
uint32_t fw_mask(unsigned prefix);
const char *fw_proto_name(uint8_t proto);
/* A node record into its checked form; 400 naming the bad input. */
int fw_node_parse(const struct fw_node *node, struct fw_info *fi, struct dock_err *err);
/* A publish as part of a node named `name`. */
int fw_check_publish(const char *name, const struct fw_publish *p, struct dock_err *err);
/* An egress allow-list into fi (replacing what it held). */
int fw_parse_allow(struct fw_info *fi, bool deny, const char *const *allow, size_t n,
		   struct dock_err *err);
/* s quoted for a message: printable, no '"', at most FW_SAFE_MAX. */
const char *fw_safe(const char *s, char *out, size_t outsz);
/* Decimal digits only, at most max_digits, no leading zero; -1 if not. */
int fw_parse_uint(const char *s, size_t max_digits, unsigned long *v);
/* What fw_init refuses beyond each node's own checks: names, bridges,
 * subnets and host ports shared by two nodes. */
int fw_init_check(const struct fw_info *fi, size_t n, struct dock_err *err);

/* ---- fw-names.c: allow entries by name (pure) --------------------------- */

#define FW_NAME_SET_MAX     (sizeof("names__") + IFNAMSIZ + 4)
#define FW_NAME_TIMEOUT_MS  (3600u * 1000u) /* an answer pinned without a TTL of its own */
#define FW_NAME_COMMENT_MAX 200             /* of the entry's text kept on its set (fw show) */

/* An RFC 1123 host name: lower-case labels of [a-z0-9-] (1..63, no '-' at
 * either end), at least two, the last not all digits, FW_NAME_HOST_MAX. */
bool fw_name_host_ok(const char *s);
/* "NAME:PORT[/tcp|/udp]" (the port required) into e; 400 naming it. */
int fw_name_entry_parse(const char *who, const char *s, struct fw_name_entry *e,
			struct dock_err *err);
/* A name entry as fw_parse_allow meets it: checked, then appended to
 * fi->fi_names (400 for a duplicate or more than FW_NAMES_MAX). */
int fw_names_parse_entry(const char *who, const char *s, struct fw_info *fi, struct dock_err *err);
/* Whether two checked nodes have the same entries by name (the same order). */
bool fw_names_same(const struct fw_info *a, const struct fw_info *b);
/* e as "NAME:PORT/PROTO" (truncated to size). */
void fw_name_format(const struct fw_name_entry *e, char *buf, size_t size);
/* The nft set (table inet isc, ipv4_addr, timeout) entry i of the node
 * on bridge pins its answers into: "names_BRIDGE_I". */
int fw_name_set(const char *bridge, size_t i, char *buf, size_t size);
/* Entry i's two dnsmasq options: "server=/NAME/UPSTREAM" and
 * "nftset=/NAME/4#inet#isc#SET"; -ENAMETOOLONG if a buffer is short. */
int fw_name_dnsmasq(const struct fw_name_entry *e, const char *bridge, size_t i,
		    const char *upstream, char *server, size_t ssize, char *nftset, size_t nsize);

/* ---- fw-names-nft.c: the sets, chain and map of entries by name --------- */

/* The egress rule looking a packet's input interface up in node_names
 * (after the private ranges' drop, before egress_denied's). */
void fw_names_rule(struct fw_batch *b);
/* A node's sets names_BRIDGE_I and chain names-BRIDGE, made complete
 * (nothing for a node without entries by name); node_names' element is
 * fw_node_elems'. */
void fw_names_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table);
/* Remove them (its node_names element, the chain, the sets). */
void fw_names_remove(struct fw_batch *b, const struct fw_info *fi);

/* ---- fw-private.c: the private ranges (pure but for fw_private_elems) -- */

/* The built-in private ranges (link-local, loopback, RFC 1918, RFC 6598,
 * multicast, broadcast, 0/8), then extra[0..n) ("a.b.c.d/p"), sorted and
 * merged (overlapping or adjacent ranges become one) into out[0..*nout),
 * at most FW_PRIVATE_MAX. 400 naming a bad entry. */
int fw_private_ranges(const char *const *extra, size_t n, struct fw_range *out, size_t *nout,
		      struct dock_err *err);
/* The interval elements of set private_ranges for r[0..n). */
void fw_private_elems(struct fw_batch *b, const struct fw_range *r, size_t n, struct fw_els *out);
/* "a.b.c.d/p" (or a bare address, /32) into a range; `who` and `what`
 * start the message. */
int fw_parse_range(const char *who, const char *what, const char *cidr, struct fw_range *r,
		   struct dock_err *err);

/* ---- fw-batch.c --------------------------------------------------------- */

void fw_batch_fail(struct fw_batch *b, int errnum);
void fw_oom_if(struct fw_batch *b, int rc);
uint32_t fw_seq(uint32_t index);
struct nlmsghdr *fw_msg_begin(struct fw_batch *b, uint16_t type, uint16_t flags, size_t room,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void fw_msg_kind(struct fw_batch *b, enum fw_kind kind, const struct fw_info *fi,
		 const struct fw_publish *p);
void fw_msg_end(struct fw_batch *b, struct nlmsghdr *nlh, size_t room);
void fw_batch_free(struct fw_batch *b);
void fw_batch_begin(struct fw_batch *b);
void fw_batch_end(struct fw_batch *b);
void fw_table_msg(struct fw_batch *b, uint16_t type, uint16_t flags, bool comment,
		  const char *what);

/* ---- fw-elems.c --------------------------------------------------------- */

struct fw_el *fw_el_push(struct fw_batch *b, struct fw_els *els, const char *who);
void fw_key_ifname(struct fw_key *k, const char *bridge);
void fw_key_proto(struct fw_key *k, uint8_t proto);
void fw_key_port(struct fw_key *k, uint16_t port);
void fw_el_publish(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
		   const struct fw_publish *p);
void fw_el_published_to(struct fw_batch *b, struct fw_els *out, const struct fw_info *fi,
			const struct fw_publish *p);
void fw_node_elems(struct fw_batch *b, const struct fw_info *fi, enum fw_set which, bool all,
		   struct fw_els *out);
void fw_elems(struct fw_batch *b, uint16_t type, uint16_t flags, const char *verb,
	      enum fw_set which, bool set_in_batch, const struct fw_el *els, size_t n);
void fw_node_set(struct fw_batch *b, const struct fw_info *fi, enum fw_set which, bool remove);

/* ---- fw-rule.c ---------------------------------------------------------- */

void fw_chain_msg(struct fw_batch *b, uint16_t type, uint16_t flags, const char *name,
		  const char *kind, uint32_t hook, int32_t prio, const char *verb);
void fw_chain_create(struct fw_batch *b, const char *name, const char *kind, uint32_t hook,
		     int32_t prio);
struct nftnl_expr *fw_expr(struct fw_batch *b, struct nftnl_rule *r, const char *name);
void fw_put(struct nftnl_rule *r, struct nftnl_expr *e);
void fw_meta(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void fw_lookup(struct fw_batch *b, struct nftnl_rule *r, enum fw_set which, bool negate, int dreg);
/* The same for a set by name (id 0: none), from register sreg. */
void fw_lookup_set(struct fw_batch *b, struct nftnl_rule *r, const char *set, uint32_t id,
		   uint32_t sreg, bool negate, int dreg);
void fw_cmp(struct fw_batch *b, struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
void fw_payload(struct fw_batch *b, struct nftnl_rule *r, uint32_t base, uint32_t offset,
		uint32_t len, uint32_t dreg);
void fw_nfproto(struct fw_batch *b, struct nftnl_rule *r, uint8_t proto);
void fw_ct_bits(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, uint32_t bits);
void fw_verdict(struct fw_batch *b, struct nftnl_rule *r, int verdict, const char *chain);
struct nftnl_rule *fw_rule_new(struct fw_batch *b, const char *chain);
void fw_rule_add(struct fw_batch *b, struct nftnl_rule *r, const char *text);
void fw_if_in(struct fw_batch *b, struct nftnl_rule *r, uint32_t key, enum fw_set which,
	      bool negate);
void fw_if_rule(struct fw_batch *b, const char *chain, uint32_t key, enum fw_set which, int verdict,
		const char *to, const char *text);

/* ---- fw-chains.c -------------------------------------------------------- */

void fw_node_chain_rules(struct fw_batch *b, const struct fw_info *fi);
void fw_policy(struct fw_batch *b);
/* A chain to fill: created in a new table, else made sure of and every
 * rule of it deleted ("flush chain CHAIN"), in the batch. */
void fw_chain_fresh(struct fw_batch *b, const char *chain, bool new_table);
void fw_node_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table);

/* ---- fw-bw.c ------------------------------------------------------------ */

/* The two forward rules looking a packet's interfaces up in node_bw. */
void fw_bw_rules(struct fw_batch *b);
/* A node's bandwidth chain bw-NAME, made complete (nothing without limits). */
void fw_bw_chain(struct fw_batch *b, const struct fw_info *fi, bool new_table);
/* Remove it (its node_bw element, then the chain), whatever it held. */
void fw_bw_remove(struct fw_batch *b, const struct fw_info *fi);

/* ---- fw-flows.c -------------------------------------------------------- */

/* The two forward rules of the flows (fw_chain_forward puts them before
 * the node-to-node drop). */
void fw_flows_rules(struct fw_batch *b);
/* A flow into its checked form: the bridges zero-padded; 400 naming it. */
int fw_flow_check(const struct fw_flow *f, struct dock_err *err);

/* ---- fw-str.c ----------------------------------------------------------- */

void fw_str_vadd(struct fw_str *d, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void fw_str_add(struct fw_str *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fw_str_take(struct fw_str *d);

/* ---- fw-dry.c ----------------------------------------------------------- */

/* Whether this thread is between fw_dryrun_begin and fw_dryrun_end. */
bool fw_dry_active(void);
void fw_dry_batch(const struct fw_batch *b);
size_t fw_fmt_field(enum fw_field f, const uint8_t *p, char *buf, size_t size);

/* ---- fw-send.c ---------------------------------------------------------- */

struct mnl_socket *fw_socket(struct dock_err *err);
void fw_socket_drop(void);
int fw_batch_send(struct fw_batch *b, struct dock_err *err);

/* ---- fw-read.c ---------------------------------------------------------- */

void *fw_grow(void *vp, size_t *n, size_t sz, bool *oom);
void fw_read_free(struct fw_read *rd);
int fw_expected(struct fw_read *ex, const char *node);
void fw_warn(struct fw_show *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fw_read_all(struct fw_read *rd, struct dock_err *err);

#endif
