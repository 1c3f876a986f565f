/* luks: the ephemeral disk's key and LUKS header. The key is 32 random
 * bytes, hex-encoded (QEMU wants a UTF-8 passphrase); it lives only in
 * memory and is wiped by the caller with luks_key_wipe() once libvirt has it.
 * The key is random, so key stretching protects nothing: the header is
 * written with forced low PBKDF iterations and no benchmark (~50 ms instead
 * of QEMU's 2-5 s). The dock's only user of libcryptsetup. */
#ifndef ISC_LUKS_H
#define ISC_LUKS_H

#include <stdint.h>

#include "err.h"

#define LUKS_KEY_BYTES    32
#define LUKS_KEY_HEX      (LUKS_KEY_BYTES * 2 + 1)
#define LUKS_HEADER_BYTES (2 * 1024 * 1024) /* LUKS1 aes-xts-plain64/512 payload offset */

struct luks_key {
	char lk_hex[LUKS_KEY_HEX];
};

int luks_key_new(struct luks_key *key, struct dock_err *err);
void luks_key_wipe(struct luks_key *key);

/* Format an existing file (at least LUKS_HEADER_BYTES long) as LUKS1 with
 * the key as passphrase in keyslot 0. */
int luks_format(const char *path, const struct luks_key *key, struct dock_err *err);

/* 1 if the file at path carries a LUKS1 header libcryptsetup can load,
 * 0 if not (or it cannot be opened): what a node's status reports. */
int luks_header_present(const char *path);

#endif
