/* isc-unseal: the operator's side of forensic snapshots, run off the dock.
 *   isc-unseal --keygen PREFIX      writes PREFIX.pub (give it to dockd.conf's
 *                                   forensic_pubkey) and PREFIX.sec (keep it)
 *   isc-unseal PREFIX.sec SEALED    prints the disk passphrase a snapshot's
 *                                   key.sealed holds, to open disk.luks with
 *                                   cryptsetup or qemu-img
 *   isc-unseal --memory PREFIX.sec memory.key.sealed memory.enc OUT
 *                                   decrypts a snapshot's memory dump into
 *                                   OUT (new; an ELF core for crash or
 *                                   volatility), or makes nothing.
 *   isc-unseal --version | --help | -h
 * Exit status: 0 ok, 1 error, 2 bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "forensic.h" /* the format of memory.enc */
#include "version.h"

#define UNSEAL_MAX 512

_Static_assert(FORENSIC_MEMORY_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES,
	       "forensic.h describes memory.enc with the wrong tag size");

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
		fprintf(stderr, "isc-unseal: %s: unreadable or larger than %zu bytes\n", path,
			size - 1);
		return -1;
	}
	return n;
}

/* The operator's key pair from a --keygen secret key file. */
static int unseal_secret(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES],
			 unsigned char sk[crypto_box_SECRETKEYBYTES])
{
	unsigned char hex[UNSEAL_MAX];
	ssize_t hn = unseal_read(path, hex, sizeof(hex));
	const char *end;
	size_t sklen;
	int r = 0;

	if (hn < 0)
		return -1;
	hex[hn] = '\0';
	sklen = strcspn((const char *)hex, " \t\r\n");
	if (sklen != 2 * crypto_box_SECRETKEYBYTES ||
	    sodium_hex2bin(sk, crypto_box_SECRETKEYBYTES, (const char *)hex, sklen, NULL, NULL,
			   &end) != 0) {
		fprintf(stderr, "isc-unseal: %s: not a secret key from --keygen\n", path);
		r = -1;
	} else {
		crypto_scalarmult_base(pk, sk);
	}
	sodium_memzero(hex, sizeof(hex));
	return r;
}

/* Open a sealed key of exactly len bytes into out. */
static int unseal_open(const char *path, const unsigned char *pk, const unsigned char *sk,
		       unsigned char *out, size_t len)
{
	unsigned char sealed[UNSEAL_MAX];
	ssize_t n = unseal_read(path, sealed, sizeof(sealed));

	if (n < 0)
		return -1;
	if ((size_t)n != crypto_box_SEALBYTES + len ||
	    crypto_box_seal_open(out, sealed, (unsigned long long)n, pk, sk) != 0) {
		fprintf(stderr, "isc-unseal: %s: cannot be opened with this key\n", path);
		return -1;
	}
	return 0;
}

/* One sealed chunk of memory.enc into cipher, *np its length: shorter than
 * a chunk only at the end of the file. */
static int unseal_fill(int in, unsigned char *cipher, size_t *np, const char **why)
{
	size_t n = 0;
	ssize_t k;

	while (n < FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES &&
	       (k = read(in, cipher + n, FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES - n)) !=
		       0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			*why = strerror(errno);
			return -1;
		}
		n += (size_t)k;
	}
	*np = n;
	return 0;
}

/* Open one chunk and write it to fd; *final is set on the last one. */
static int unseal_chunk(crypto_secretstream_xchacha20poly1305_state *ss,
			const unsigned char *cipher, size_t n, unsigned char *plain, int fd,
			const char *out, bool *final, const char **why)
{
	unsigned long long plen;
	unsigned char tag;

	if (crypto_secretstream_xchacha20poly1305_pull(ss, plain, &plen, &tag, cipher, n, NULL,
						       0) != 0) {
		/* A short chunk is the file's end: cut there, or changed. */
		*why = n == 0 ? "truncated (no final chunk)"
			: n < FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES
			? "truncated or altered"
			: "altered or not sealed with this key";
		return -1;
	}
	*final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	if (!*final && n < FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES) {
		*why = "truncated (no final chunk)";
		return -1;
	}
	if (write(fd, plain, (size_t)plen) != (ssize_t)plen) {
		fprintf(stderr, "isc-unseal: %s: %s\n", out, strerror(errno));
		return -1;
	}
	return 0;
}

/* memory.enc (forensic.h) into the new file out; out removed on failure. */
static int unseal_memory(const unsigned char *key, const char *enc, const char *out)
{
	unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char *cipher = malloc(FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES);
	unsigned char *plain = sodium_malloc(FORENSIC_MEMORY_CHUNK);
	int in = open(enc, O_RDONLY | O_CLOEXEC), fd = -1, r = -1;
	const char *why = NULL;
	bool final = false;

	if (in < 0 || cipher == NULL || plain == NULL) {
		fprintf(stderr, "isc-unseal: %s: %s\n", enc, strerror(in < 0 ? errno : ENOMEM));
		goto done;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "isc-unseal: %s: %s\n", out, strerror(errno));
		goto done;
	}
	if (read(in, header, sizeof(header)) != (ssize_t)sizeof(header) ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&ss, header, key) != 0) {
		why = "no memory dump header";
		goto done;
	}
	while (!final) {
		size_t n = 0;

		if (unseal_fill(in, cipher, &n, &why) < 0 ||
		    unseal_chunk(&ss, cipher, n, plain, fd, out, &final, &why) < 0)
			goto done;
	}
	if (read(in, cipher, 1) != 0) {
		why = "data after the final chunk";
		goto done;
	}
	if (fsync(fd) < 0) {
		fprintf(stderr, "isc-unseal: %s: %s\n", out, strerror(errno));
		goto done;
	}
	r = 0;
done:
	if (why != NULL)
		fprintf(stderr, "isc-unseal: %s: %s\n", enc, why);
	if (fd >= 0) {
		close(fd);
		if (r < 0)
			unlink(out);
	}
	if (in >= 0)
		close(in);
	free(cipher);
	sodium_free(plain);
	sodium_memzero(&ss, sizeof(ss));
	return r;
}

static void unseal_usage(FILE *f)
{
	fprintf(f,
		"usage: isc-unseal --keygen PREFIX\n"
		"       isc-unseal PREFIX.sec SEALED\n"
		"       isc-unseal --memory PREFIX.sec memory.key.sealed memory.enc OUT\n"
		"       isc-unseal --version | --help\n"
		"  --keygen PREFIX    write the operator's key pair: PREFIX.pub (dockd.conf's\n"
		"                     forensic_pubkey) and PREFIX.sec (keep it off the dock)\n"
		"  PREFIX.sec SEALED  print the disk passphrase a snapshot's key.sealed holds\n"
		"                     (opens disk.luks with cryptsetup or qemu-img)\n"
		"  --memory ...       decrypt a snapshot's memory dump into OUT (a new file)\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         print this help and exit\n"
		"exit status: 0 ok, 1 error, 2 bad usage\n");
}

/* --version, --help, or a command line none of the forms has: the exit
 * status; -1 to go on. */
static int unseal_options(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("%s\n", ISC_VERSION_LINE("isc-unseal"));
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		unseal_usage(stdout);
		return 0;
	}
	if ((argc == 3 && strcmp(argv[1], "--keygen") == 0) ||
	    (argc == 6 && strcmp(argv[1], "--memory") == 0) ||
	    (argc == 3 && argv[1][0] != '-' && argv[2][0] != '-'))
		return -1;
	if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--keygen") != 0 &&
	    strcmp(argv[1], "--memory") != 0)
		fprintf(stderr, "isc-unseal: unknown option \"%s\"\n", argv[1]);
	unseal_usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	unsigned char plain[UNSEAL_MAX];
	unsigned char mkey[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	char path[4096];
	int r = unseal_options(argc, argv);

	if (r >= 0)
		return r;
	if (sodium_init() < 0)
		return 1;
	if (strcmp(argv[1], "--keygen") == 0) {
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
	if (strcmp(argv[1], "--memory") == 0) {
		r = unseal_secret(argv[2], pk, sk) < 0 ||
			unseal_open(argv[3], pk, sk, mkey, sizeof(mkey)) < 0 ||
			unseal_memory(mkey, argv[4], argv[5]) < 0;
		sodium_memzero(sk, sizeof(sk));
		sodium_memzero(mkey, sizeof(mkey));
		return r;
	}
	if (unseal_secret(argv[1], pk, sk) < 0)
		return 1;
	r = unseal_open(argv[2], pk, sk, plain, LUKS_KEY_HEX - 1); /* the disk passphrase, hex */
	sodium_memzero(sk, sizeof(sk));
	if (r < 0)
		return 1;
	fwrite(plain, 1, LUKS_KEY_HEX - 1, stdout);
	putchar('\n');
	sodium_memzero(plain, sizeof(plain));
	return 0;
}
