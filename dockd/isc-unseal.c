/* isc-unseal: the operator's side of forensic snapshots, run off the dock.
 *   isc-unseal --keygen PREFIX      writes PREFIX.pub (give it to dockd.conf's
 *                                   forensic_pubkey) and PREFIX.sec (keep it)
 *   isc-unseal PREFIX.sec SEALED    prints the disk passphrase a snapshot's
 *                                   key.sealed holds, to open disk.luks with
 *                                   cryptsetup or qemu-img. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNSEAL_MAX 512

static int unseal_write_hex(const char *path, const unsigned char *b, size_t n, mode_t mode)
{
	char hex[2 * 64 + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int ok;

	if (fd < 0) {
		fprintf(stderr, "isc-unseal: %s: %s\n", path, strerror(errno));
		return -1;
	}
	sodium_bin2hex(hex, sizeof(hex) - 1, b, n);
	strcat(hex, "\n");
	ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0;
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	return ok ? 0 : -1;
}

static ssize_t unseal_read(const char *path, unsigned char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "isc-unseal: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, size);
	close(fd);
	if (n < 0 || (size_t)n == size) {
		fprintf(stderr, "isc-unseal: %s: unreadable or larger than %zu bytes\n", path, size - 1);
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	unsigned char sealed[UNSEAL_MAX], plain[UNSEAL_MAX], hex[UNSEAL_MAX];
	char path[4096];
	ssize_t n, hn;
	const char *end;
	size_t sklen;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "--keygen") == 0) {
		crypto_box_keypair(pk, sk);
		snprintf(path, sizeof(path), "%s.pub", argv[2]);
		if (unseal_write_hex(path, pk, sizeof(pk), 0644) < 0)
			return 1;
		snprintf(path, sizeof(path), "%s.sec", argv[2]);
		if (unseal_write_hex(path, sk, sizeof(sk), 0600) < 0)
			return 1;
		sodium_memzero(sk, sizeof(sk));
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: isc-unseal --keygen PREFIX | isc-unseal PREFIX.sec SEALED\n");
		return 2;
	}
	hn = unseal_read(argv[1], hex, sizeof(hex));
	if (hn < 0)
		return 1;
	sklen = strcspn((const char *)hex, " \t\r\n");
	if (sklen != 2 * sizeof(sk) ||
	    sodium_hex2bin(sk, sizeof(sk), (const char *)hex, sklen, NULL, NULL, &end) != 0) {
		fprintf(stderr, "isc-unseal: %s: not a secret key from --keygen\n", argv[1]);
		return 1;
	}
	crypto_scalarmult_base(pk, sk);
	n = unseal_read(argv[2], sealed, sizeof(sealed));
	if (n < (ssize_t)crypto_box_SEALBYTES ||
	    crypto_box_seal_open(plain, sealed, (unsigned long long)n, pk, sk) != 0) {
		fprintf(stderr, "isc-unseal: %s: cannot be opened with this key\n", argv[2]);
		return 1;
	}
	fwrite(plain, 1, (size_t)n - crypto_box_SEALBYTES, stdout);
	putchar('\n');
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(plain, sizeof(plain));
	return 0;
}
