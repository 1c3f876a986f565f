/* timing: where a node's create, start or cleanse spends its time, phase
 * by phase, on CLOCK_MONOTONIC: one log line when it is complete, and the
 * `timing` object of `iscadm inspect --json` (the benchmark reads it). */
#ifndef ISC_TIMING_H
#define ISC_TIMING_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum timing_phase {
	TIMING_VALIDATE,   /* image digest, profile, policy: everything refusable */
	TIMING_VOLUME,     /* libvirt storage volume and secret */
	TIMING_LUKS,       /* key and LUKS header */
	TIMING_RENDER,     /* the XML templates */
	TIMING_NETWORK,    /* libvirt network define and start */
	TIMING_FIREWALL,   /* the node's nft batch */
	TIMING_DOMAIN,     /* libvirt domain define and start */
	TIMING_FIRST_LINE, /* domain started -> the agent's first line */
	TIMING_COUNT
};

struct timing {
	char tm_op[8]; /* "create", "start", "cleanse"; "" none */
	int64_t tm_begin_ns;
	int64_t tm_started_ns;       /* domain started; 0 until then */
	int64_t tm_ns[TIMING_COUNT]; /* -1: the phase did not run (yet) */
	int64_t tm_total_ns;         /* begin -> complete; -1 until then */
};

int64_t timing_now(void); /* CLOCK_MONOTONIC, ns */
const char *timing_phase_name(enum timing_phase p);
void timing_begin(struct timing *t, const char *op, int64_t now);
/* Adds now - since to the phase (phases may run more than once). */
void timing_add(struct timing *t, enum timing_phase p, int64_t since, int64_t now);
void timing_end(struct timing *t, int64_t now);
/* "validate=0.21ms volume=12ms ... total=2.9s": the phases that ran;
 * truncated to fit, always terminated. */
void timing_format(const struct timing *t, char *buf, size_t len);
/* {"op", "complete", "ms": {PHASE: ms or null, ..., "total": ms or null}},
 * or NULL when nothing was timed. */
struct json_object *timing_json(const struct timing *t);

#endif
