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

/* Seal a disk key for node `name` into <state_dir>/keys/<name>.sealed. */
int forensic_seal_key(const char *name, const struct luks_key *key, struct dock_err *err);
void forensic_forget_key(const char *name);

/* Copy the (halted or paused) node's encrypted disk and its sealed key into
 * <state_dir>/forensics/<name>-<time>/, read-only; *out describes it. */
int forensic_snapshot(const char *name, const char *volume, const char *reason,
		      struct json_object **out, struct dock_err *err);
/* Every snapshot (the metadata of each). */
struct json_object *forensic_list(void);
int forensic_remove(const char *id, struct dock_err *err);
/* Open one file of a snapshot (disk.luks, key.sealed or meta.json) for
 * reading: *fd and its *size, or a negative errno with err filled. */
int forensic_open(const char *id, const char *file, int *fd, uint64_t *size,
		  struct dock_err *err);
/* Remove node `name`'s snapshots that a dock stopped in the middle of
 * taking (no meta.json: it is written last). */
void forensic_discard_partial(const char *name);

#endif
