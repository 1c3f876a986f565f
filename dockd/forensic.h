/* forensic: forensic snapshots of a node's ephemeral disk. The disk's key
 * is sealed (libsodium sealed box) to the operator's public key when the
 * disk is made — the dock can seal but never open it — and a snapshot is a
 * read-only copy of the still-encrypted disk with that sealed key and its
 * sha256. Without an operator key, snapshots are refused rather than kept
 * unprotected. */
#ifndef ISC_FORENSIC_H
#define ISC_FORENSIC_H

#include <json-c/json.h>
#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "luks.h"

/* Load the operator's public key (a file with 64 hex digits). */
int forensic_init(const struct dock_config *cfg, struct dock_err *err);
bool forensic_enabled(void);
/* 0 when snapshots can be taken, else -EPERM and err says why (for node
 * `name`): callers ask before a step they would have to undo. */
int forensic_refuse_unless_enabled(const char *name, struct dock_err *err);

/* Seal a disk key for node `name` into <state_dir>/keys/<name>.sealed. */
int forensic_seal_key(const char *name, const struct luks_key *key, struct dock_err *err);
void forensic_forget_key(const char *name);

/* A memory dump taken with a snapshot: fm_dump writes the paused guest's
 * memory to path (a new file). It holds plaintext guest data, keys
 * included, so the snapshot keeps it only encrypted: memory.enc, under a
 * fresh key sealed to the operator (memory.key.sealed). */
struct forensic_memory {
	int (*fm_dump)(const char *path, void *arg, struct dock_err *err);
	void *fm_arg;
	uint64_t
		fm_max_bytes; /* the guest's RAM and the dump's headers: a larger file is refused */
};

/* memory.enc: a crypto_secretstream_xchacha20poly1305 header, then the
 * dump in chunks of FORENSIC_MEMORY_CHUNK bytes (the last one shorter, maybe
 * empty), each pushed with FORENSIC_MEMORY_ABYTES of tag and MAC; the last
 * chunk carries the FINAL tag and nothing follows it. isc-unseal --memory
 * reads it. */
#define FORENSIC_MEMORY_CHUNK  (1u << 20)
#define FORENSIC_MEMORY_ABYTES 17u /* crypto_secretstream_xchacha20poly1305_ABYTES */

/* Copy the (halted or paused) node's encrypted disk and its sealed key into
 * <state_dir>/forensics/<name>-<time>/, read-only, and with mem != NULL its
 * encrypted memory; *out describes it. Nothing stays if a step fails. */
int forensic_snapshot(const char *name, const char *volume, const char *reason,
		      const struct forensic_memory *mem, struct json_object **out,
		      struct dock_err *err);
/* Every snapshot (the metadata of each). */
struct json_object *forensic_list(void);
int forensic_remove(const char *id, struct dock_err *err);
/* Open one file of a snapshot (disk.luks, key.sealed, meta.json,
 * memory.enc or memory.key.sealed) for
 * reading: *fd and its *size, or a negative errno with err filled. */
int forensic_open(const char *id, const char *file, int *fd, uint64_t *size, struct dock_err *err);
/* Remove node `name`'s snapshots (NULL: any node's) that a dock stopped in
 * the middle of taking (no meta.json: it is written last). */
void forensic_discard_partial(const char *name);

#endif
