/* checks: the ISC validation table. Two sources, each row says which:
 * dock-side checks from what libvirt, the disk and the firewall hold (a guest
 * cannot forge them), and agent-side checks judging the agent's facts against
 * the node's profile. Pure functions: node.c gathers the inputs. */
#ifndef ISC_CHECKS_H
#define ISC_CHECKS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto.h"
#include "profile.h"
#include "resctl.h"

enum check_status { CHECK_PASS, CHECK_FAIL, CHECK_WARN, CHECK_SKIP, CHECK_STALE };

#define CHECKS_MAX         32
#define CHECK_EVIDENCE_MAX 256

struct check_row {
	const char *cr_id;
	const char *cr_title;
	const char *cr_source; /* "dock" | "agent" */
	enum check_status cr_status;
	char cr_evidence[CHECK_EVIDENCE_MAX];
};

/* What the dock itself can see. */
struct dock_facts {
	bool df_running;
	int df_base_readonly; /* 1 yes, 0 no, -1 unknown (no live XML) */
	int df_digest_ok;     /* 1 matches, 0 mismatch, -1 error */
	char df_digest_note[512];
	int df_eph_luks;   /* disk attached with <encryption format='luks'> + our secret */
	int df_eph_header; /* the volume file carries a LUKS header */
	int df_secret_ephemeral, df_secret_private;
	int df_net_own;  /* the interface is on the node's own network */
	int df_net_open; /* forward mode open */
	int64_t df_net_connections;
	int df_fw_in_force;          /* default-deny and anti-spoofing in the dock's nft table */
	int df_fw_published_ok;      /* the kernel publishes exactly the recorded ports */
	char df_ports_withheld[200]; /* recorded ports not installed at start, why; "" none */
	char df_fw_note[512];
	uint64_t df_hard_limit_kib, df_want_hard_limit_kib;
	uint64_t df_vcpus, df_want_vcpus;
	struct resctl df_want_limits;         /* the record's (resctl.h) */
	struct resctl_live df_limits;         /* what libvirt's live XML and the cgroup hold */
	enum check_status df_vmm;             /* the VMM's jail (vmm.h), judged by node-vmm.c */
	char df_vmm_note[CHECK_EVIDENCE_MAX]; /* its evidence; "" not judged */
};

/* What the agent said, and how the channel behaves. */
struct agent_view {
	bool av_connected;
	int64_t av_last_heartbeat;         /* unix time, 0 never */
	int64_t av_report_time;            /* unix time of the last complete report, 0 none */
	const struct agent_fact *av_facts; /* AF_COUNT entries */
	const bool *av_have;
	uint64_t av_bad, av_overlong, av_dropped;
	/* The protocol of the agent that made the report (0 unknown: judged as
	 * an old agent), what its hello announced, and for each fact how many
	 * consecutive reports up to this one lacked it or had it in error. */
	uint64_t av_protocol;
	uint32_t av_announced;
	const uint8_t *av_miss; /* AF_COUNT entries, or NULL: none counted */
};

struct checks_node {
	const char *cn_name;
	const char *cn_ip;
	const char *cn_mac;
	int64_t cn_now;
	int64_t cn_deadline_s; /* heartbeat and report freshness */
};

/* Fill df from libvirt's live XML (domain, network, secret). */
void checks_dock_from_xml(const char *domain_xml, const char *network_xml, const char *secret_xml,
			  const char *base_path, const char *volume_path, const char *secret_uuid,
			  const char *network, struct dock_facts *df);

/* The profile's "skip" names agent-side rows only (a dock-side check is
 * what the dock enforces and no profile waives it): 0, else 400 naming it. */
int checks_profile_check(const struct profile *p, struct dock_err *err);

/* The table, rows in a fixed order. An agent row the profile skips
 * (profile_skip_reason) is SKIP instead of FAIL or WARN, with the reason. */
size_t checks_evaluate(const struct checks_node *cn, const struct dock_facts *df,
		       const struct agent_view *av, const struct profile *pol,
		       struct check_row *rows, size_t max);

/* A complete report of a protocol 3 agent: each fact's count of consecutive
 * reports lacking it or having it in error goes up (to 255), or back to 0. */
void checks_count_misses(const bool *have, const struct agent_fact *facts, uint8_t *miss);

const char *checks_status_name(enum check_status s);
/* {"node":…, "checks":[{"id","title","source","status","evidence"}], "summary":{…}} */
struct json_object *checks_json(const char *node, const struct check_row *rows, size_t n);

#endif
