/* agentproto: the dock's reader of agent lines (guest-agent/PROTOCOL.md).
 * Everything the guest sends is hostile: one line at most AGENT_LINE_MAX
 * bytes, JSON depth and member counts bounded, every field copied into a
 * fixed struct with bounds, truncation is an error. */
#ifndef ISC_AGENTPROTO_H
#define ISC_AGENTPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

#define AGENT_LINE_MAX 4096
#define AGENT_PROTOCOL 4
/* The first protocol whose agents take a `shutdown` request. */
#define AGENT_PROTOCOL_SHUTDOWN 2
/* The first protocol whose agents announce their facts in hello, list every
 * matching service process and name each listening socket's process: the
 * protocol from which a missing fact, a decoy or a stray UDP/68 socket FAILs. */
#define AGENT_PROTOCOL_UNDODGEABLE 3
/* The first protocol whose agents may forward the kernel's audit records
 * (`audit` and `audit_status` lines), when their hello says "audit":true. */
#define AGENT_PROTOCOL_AUDIT 4
/* Bytes of an audit record's text (its "msg", unescaped): the agent cuts
 * longer ones and marks them truncated; more is refused. */
#define AGENT_AUDIT_MSG_MAX 3600

enum agent_msg_type {
	AGENT_MSG_HELLO,
	AGENT_MSG_HEARTBEAT,
	AGENT_MSG_FACT,
	AGENT_MSG_REPORT_END,
	AGENT_MSG_SHUTDOWN_ACK,
	AGENT_MSG_AUDIT,
	AGENT_MSG_AUDIT_STATUS,
	AGENT_MSG_OTHER
};

/* Facts: what the agent observed, copied into fixed structs. The dock, not
 * the agent, judges them (checks.c). Array bounds match the agent's. */
#define AF_PROTO_ARRAY_MAX 32 /* PROTOCOL.md: no array has more elements */
/* What the dock keeps of each array; more elements mark the fact truncated. */
#define AF_MAX_SOCKETS 32
#define AF_MAX_IFACES  8
#define AF_MAX_ADDRS   8
#define AF_MAX_SWAPS   8
#define AF_MAX_MOUNTS  32
#define AF_MAX_CHAINS  8
#define AF_MAX_PROCS   16 /* service processes listed (protocol 3) */

enum agent_fact_id {
	AF_LISTEN,
	AF_ASLR,
	AF_NET,
	AF_SWAP,
	AF_MOUNTS,
	AF_AUDIT,
	AF_NFT,
	AF_SERVICE,
	AF_SYSCTL,
	AF_SSHD,
	AF_COUNT
};

struct af_socket {
	char s_proto[8];
	char s_addr[48];
	uint32_t s_port;
	int64_t s_uid;
	int64_t s_pid;   /* protocol 3: the process holding it, 0 unknown */
	char s_comm[16]; /* ... and its comm, "" unknown */
};

struct af_iface {
	char i_name[16];
	char i_mac[18];
	char i_addrs[AF_MAX_ADDRS][48];
	uint8_t i_n_addrs;
	bool i_up;
};

struct af_swap {
	char w_path[128];
	char w_disk[32]; /* "" when the agent did not say */
	bool w_dm_crypt;
};

struct af_mount {
	char m_target[256];
	char m_source[128];
	char m_fstype[32];
	char m_disk[32]; /* the whole disk under it; "" if none said */
	bool m_ro;
};

struct af_chain {
	char c_table[96];
	char c_chain[96];
	char c_policy[8];
	char c_hook[16];
};

/* One process of the service (protocol 3). */
struct af_proc {
	int64_t p_pid, p_uid, p_gid, p_no_new_privs, p_seccomp;
	char p_cap_eff[17], p_cap_bnd[17];
};

/* One fact line. af_error is the agent's reason when it could not observe. */
struct agent_fact {
	enum agent_fact_id af_id;
	char af_error[128];
	bool af_truncated;
	union {
		struct {
			struct af_socket l_sockets[AF_MAX_SOCKETS];
			uint8_t l_n;
		} listen;
		struct {
			int64_t a_randomize_va_space;
			bool a_nx;
		} aslr;
		struct {
			struct af_iface n_ifaces[AF_MAX_IFACES];
			uint8_t n_n;
		} net;
		struct {
			struct af_swap w_devices[AF_MAX_SWAPS];
			uint8_t w_n;
		} swap;
		struct {
			struct af_mount m_mounts[AF_MAX_MOUNTS];
			uint8_t m_n;
		} mounts;
		struct {
			int64_t a_enabled, a_pid, a_backlog, a_lost;
		} audit;
		struct {
			int64_t f_tables;
			struct af_chain f_chains[AF_MAX_CHAINS];
			uint8_t f_n;
		} nft;
		struct {
			bool s_found;
			char s_name[16];
			int64_t s_pid, s_uid, s_gid, s_count, s_no_new_privs, s_seccomp;
			char s_cap_eff[17], s_cap_bnd[17];
			/* Protocol 3: every matching process, lowest pids first. */
			struct af_proc s_procs[AF_MAX_PROCS];
			uint8_t s_n_procs;
		} service;
		struct {
			int64_t s_modules_disabled, s_kptr_restrict, s_dmesg_restrict,
				s_ptrace_scope;
		} sysctl;
		struct {
			bool h_present;
			char h_password_authentication[16];
			char h_permit_root_login[24];
		} sshd;
	} af;
};

/* One kernel audit record (protocol 4): the "audit(SEC.MS:SERIAL): "
 * prefix as numbers, the rest as text, printable ASCII only. */
struct agent_audit {
	uint64_t aa_serial;
	int64_t aa_sec;
	uint32_t aa_ms;    /* 0..999 */
	uint32_t aa_rtype; /* netlink message type: 1300 SYSCALL, 1309 EXECVE, ... */
	bool aa_truncated; /* the agent cut the text at AGENT_AUDIT_MSG_MAX */
	char aa_msg[AGENT_AUDIT_MSG_MAX + 1];
};
/* Bounds of the record's numbers: the kernel's serial and time are
 * unsigned 32/64-bit; rtype a 16-bit netlink type. */
#define AGENT_AUDIT_RTYPE_MAX 65535
#define AGENT_AUDIT_SEC_MAX   INT64_C(253402300799) /* 9999-12-31 */

/* The agent's audit counters (protocol 4), each over the agent's life. */
struct agent_audit_status {
	int64_t as_dropped;     /* read, not forwarded (buffer full) */
	int64_t as_kernel_lost; /* the kernel's own lost counter */
	int64_t as_buffered;    /* held in the agent's buffer now */
	int64_t as_enabled;     /* kernel audit enabled flag, 0..2 */
	int64_t as_rules;       /* rules loaded, -1 unknown */
	int64_t as_overrun;     /* ENOBUFS on the audit socket */
};

struct agent_msg {
	enum agent_msg_type am_type;
	struct agent_hello am_hello;
	uint64_t am_seq; /* heartbeat seq, or the report a fact belongs to */
	uint64_t am_uptime;
	uint64_t am_count; /* report_end: number of facts */
	uint32_t am_facts; /* hello (protocol 3): facts announced, bit 1u << agent_fact_id */
	bool am_audit_on;  /* hello (protocol 4): "audit":true, the agent forwards audit */
	struct agent_fact am_fact;
	struct agent_audit am_audit;               /* AGENT_MSG_AUDIT */
	struct agent_audit_status am_audit_status; /* AGENT_MSG_AUDIT_STATUS */
};

/* Is a parsed message one of the audit stream's (its own budget)? */
static inline bool agentproto_is_audit(enum agent_msg_type t)
{
	return t == AGENT_MSG_AUDIT || t == AGENT_MSG_AUDIT_STATUS;
}

/* Name of a fact id as it appears on the wire ("listen", ...). */
const char *agentproto_fact_name(enum agent_fact_id id);
/* Every fact id, as a mask of bits 1u << agent_fact_id. */
#define AF_ALL_FACTS ((uint32_t)((1u << AF_COUNT) - 1))

/* Parse one line (without its newline). Unknown message types parse as
 * AGENT_MSG_OTHER so newer agents do not break older docks. */
int agentproto_parse(const char *line, size_t len, struct agent_msg *msg, struct dock_err *err);

/* The dock's side of the reader's wire (agentproto-sanitise.c): a message
 * from an agent reader is as hostile as the guest behind it. Run on every
 * message before anything reads it (agentreader_recv does).
 * Refused (-EBADMSG; the dock resets the channel): a message type or a
 * fact id outside its enum, which nothing could interpret.
 * Clamped, each repair counted: an array count over its cap to the cap
 * (the fact marked truncated, as the parser marks one it cut), a string
 * without a NUL within its buffer cut at the last byte (and a byte of it
 * that starts no whole UTF-8 sequence made '?', as json-c's validation
 * would have refused it: a record must read back), a bool byte other
 * than 0/1 to true (as C converts), a number outside the parser's range
 * to the nearest bound. Only the fact's own union member is touched.
 * The parser never produces what needs a repair, so a repair is hostile
 * input. Returns the number of repairs (>= 0) or -EBADMSG. */
int agentproto_sanitise(struct agent_msg *m);

/* Line reassembly with the resync rule: bytes are fed in; complete lines
 * are handed to `cb`; a line over the limit is dropped up to the next
 * newline and counted. */
struct agentproto_reader {
	char ar_buf[AGENT_LINE_MAX + 1];
	size_t ar_len;
	int ar_discarding;
	uint64_t ar_overlong;
};

typedef void (*agentproto_line_cb)(void *ctx, const char *line, size_t len);
void agentproto_feed(struct agentproto_reader *rd, const char *data, size_t len,
		     agentproto_line_cb cb, void *ctx);

#endif
