/* sha256: the digest of a file, read in 64 KiB chunks through libsodium. */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

void sha256_hex(const void *buf, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, buf, (unsigned long long)len);
	sodium_bin2hex(hex, SHA256_HEX_LEN + 1, digest, sizeof(digest));
}

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *size,
		struct dock_err *err)
{
	crypto_hash_sha256_state st;
	unsigned char digest[crypto_hash_sha256_BYTES];
	static __thread unsigned char chunk[1 << 16];
	uint64_t total = 0;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	crypto_hash_sha256_init(&st);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		crypto_hash_sha256_update(&st, chunk, (unsigned long long)n);
		total += (uint64_t)n;
	}
	e = errno;
	close(fd);
	if (n < 0)
		return err_set(err, 500, e, "%s: %s", path, strerror(e));
	crypto_hash_sha256_final(&st, digest);
	sodium_bin2hex(hex, SHA256_HEX_LEN + 1, digest, sizeof(digest));
	if (size != NULL)
		*size = total;
	return 0;
}
