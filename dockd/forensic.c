/* forensic: sealed keys and read-only copies of encrypted disks. */
#include "forensic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "image.h"
#include "jsonin.h"
#include "log.h"
#include "validate.h"

#define FORENSIC_META_MAX 4096
/* Free space a memory dump needs beyond twice its size (the plaintext and
 * its encryption exist together for a moment): the dock's own files. */
#define FORENSIC_MEMORY_SPARE (64ull << 20)
#define FORENSIC_MEMORY_PLAIN "memory.plain"

_Static_assert(FORENSIC_MEMORY_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES,
	       "forensic.h describes memory.enc with the wrong tag size");

static const struct dock_config *fz_cfg;
static unsigned char fz_pub[crypto_box_PUBLICKEYBYTES];
static bool fz_enabled;

int forensic_init(const struct dock_config *cfg, struct dock_err *err)
{
	char *text = NULL, path[PATH_MAX];
	size_t len, hexlen;
	const char *end;
	int r;

	fz_cfg = cfg;
	fz_enabled = false;
	if (sodium_init() < 0)
		return err_set(err, 500, EIO, "libsodium did not initialise");
	snprintf(path, sizeof(path), "%s/keys", cfg->dc_state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/forensics", cfg->dc_state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	/* A plaintext memory dump must not outlive a dock stopped while
	 * encrypting it: snapshots left half made go. */
	forensic_discard_partial(NULL);
	if (cfg->dc_forensic_pubkey[0] == '\0')
		return 0;
	r = file_read(cfg->dc_forensic_pubkey, 256, &text, &len);
	if (r < 0)
		return err_set(err, 400, -r, "forensic_pubkey %s: %s", cfg->dc_forensic_pubkey,
			       strerror(-r));
	hexlen = strcspn(text, " \t\r\n");
	if (hexlen != 2 * sizeof(fz_pub) ||
	    sodium_hex2bin(fz_pub, sizeof(fz_pub), text, hexlen, NULL, NULL, &end) != 0) {
		free(text);
		return err_set(err, 400, EINVAL,
			       "forensic_pubkey %s: expected %zu hex digits (an X25519 public key)",
			       cfg->dc_forensic_pubkey, 2 * sizeof(fz_pub));
	}
	free(text);
	fz_enabled = true;
	return 0;
}

bool forensic_enabled(void)
{
	return fz_enabled;
}

int forensic_refuse_unless_enabled(const char *name, struct dock_err *err)
{
	if (fz_enabled)
		return 0;
	return err_set(
		err, 409, EPERM,
		"forensic snapshots need forensic_pubkey in dockd.conf (the operator's public key): refusing to keep an unprotected copy of node %s's disk",
		name);
}

static void forensic_key_path(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/keys/%s.sealed", fz_cfg->dc_state_dir, name);
}

int forensic_seal_key(const char *name, const struct luks_key *key, struct dock_err *err)
{
	unsigned char sealed[crypto_box_SEALBYTES + sizeof(key->lk_hex)];
	char path[PATH_MAX];
	size_t klen = strlen(key->lk_hex);

	if (!fz_enabled)
		return 0;
	forensic_key_path(name, path, sizeof(path));
	if (crypto_box_seal(sealed, (const unsigned char *)key->lk_hex, klen, fz_pub) != 0)
		return err_set(err, 500, EIO, "node %s: sealing the disk key failed", name);
	return file_write_atomic(path, sealed, crypto_box_SEALBYTES + klen, 0600, err);
}

void forensic_forget_key(const char *name)
{
	char path[PATH_MAX];

	if (fz_cfg == NULL)
		return;
	forensic_key_path(name, path, sizeof(path));
	unlink(path);
}

/* Copy src to dst (new, mode 0400) and hash what was written. */
static int forensic_copy(const char *src, const char *dst, char hex[65], uint64_t *size,
			 struct dock_err *err)
{
	static __thread unsigned char chunk[1 << 20];
	crypto_hash_sha256_state st;
	unsigned char digest[crypto_hash_sha256_BYTES];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
	ssize_t n;

	*size = 0;
	if (in < 0)
		return err_set(err, 500, errno, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (out < 0) {
		r = err_set(err, 500, errno, "%s: %s", dst, strerror(errno));
		goto done;
	}
	crypto_hash_sha256_init(&st);
	while ((n = read(in, chunk, sizeof(chunk))) > 0) {
		if (write(out, chunk, (size_t)n) != n) {
			r = err_set(err, 500, errno, "%s: %s", dst, strerror(errno));
			goto done;
		}
		crypto_hash_sha256_update(&st, chunk, (unsigned long long)n);
		*size += (uint64_t)n;
	}
	if (n < 0 || fsync(out) < 0) {
		r = err_set(err, 500, errno, "%s: %s", n < 0 ? src : dst, strerror(errno));
		goto done;
	}
	crypto_hash_sha256_final(&st, digest);
	sodium_bin2hex(hex, 65, digest, sizeof(digest));
done:
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

static const char *const forensic_files[] = { "disk.luks", "key.sealed", "meta.json", "memory.enc",
					      "memory.key.sealed" };
#define FORENSIC_NFILES (sizeof(forensic_files) / sizeof(forensic_files[0]))

/* Remove a snapshot's files (a plaintext memory dump a dock stopped while
 * encrypting included) and its directory. */
static int forensic_rmdir(const char *dir)
{
	char p[PATH_MAX + 32];

	if (chmod(dir, 0700) < 0)
		return -errno;
	for (size_t i = 0; i < FORENSIC_NFILES; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, forensic_files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/%s", dir, FORENSIC_MEMORY_PLAIN);
	unlink(p);
	return rmdir(dir) < 0 ? -errno : 0;
}

/* Encrypt the plaintext dump on fd `in` into enc (new, 0400) with key:
 * the memory.enc format of forensic.h; *size is the plaintext's length,
 * hex the sha256 of what was written. */
static int forensic_memory_encrypt(int in, const char *enc, const unsigned char *key, uint64_t max,
				   uint64_t *size, char hex[65], struct dock_err *err)
{
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state sha;
	unsigned char *plain = sodium_malloc(FORENSIC_MEMORY_CHUNK);
	unsigned char *cipher = malloc(FORENSIC_MEMORY_CHUNK + FORENSIC_MEMORY_ABYTES);
	int out = -1, r = 0;
	bool last = false;

	*size = 0;
	if (plain == NULL || cipher == NULL) {
		r = err_set(err, 500, ENOMEM, "%s: out of memory", enc);
		goto done;
	}
	out = open(enc, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (out < 0) {
		r = err_set(err, 500, errno, "%s: %s", enc, strerror(errno));
		goto done;
	}
	crypto_secretstream_xchacha20poly1305_init_push(&ss, header, key);
	crypto_hash_sha256_init(&sha);
	crypto_hash_sha256_update(&sha, header, sizeof(header));
	if (file_write_fd(out, header, sizeof(header)) < 0) {
		r = err_set(err, 500, errno, "%s: %s", enc, strerror(errno));
		goto done;
	}
	while (!last) {
		unsigned long long clen;
		size_t n = 0;
		ssize_t k;

		/* Whole chunks: the reader relies on every chunk but the last being full. */
		while (n < FORENSIC_MEMORY_CHUNK &&
		       (k = read(in, plain + n, FORENSIC_MEMORY_CHUNK - n)) != 0) {
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				r = err_set(err, 500, errno, "memory dump: %s", strerror(errno));
				goto done;
			}
			n += (size_t)k;
		}
		last = n < FORENSIC_MEMORY_CHUNK;
		*size += n;
		if (*size > max) {
			r = err_set(err, 500, EFBIG,
				    "memory dump: larger than %llu bytes, more than the guest has",
				    (unsigned long long)max);
			goto done;
		}
		crypto_secretstream_xchacha20poly1305_push(
			&ss, cipher, &clen, plain, n, NULL, 0,
			last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
		crypto_hash_sha256_update(&sha, cipher, clen);
		if (file_write_fd(out, cipher, (size_t)clen) < 0) {
			r = err_set(err, 500, errno, "%s: %s", enc, strerror(errno));
			goto done;
		}
	}
	if (fsync(out) < 0) {
		r = err_set(err, 500, errno, "%s: %s", enc, strerror(errno));
		goto done;
	}
	crypto_hash_sha256_final(&sha, digest);
	sodium_bin2hex(hex, 65, digest, sizeof(digest));
done:
	sodium_memzero(&ss, sizeof(ss));
	sodium_free(plain);
	free(cipher);
	if (out >= 0)
		close(out);
	return r;
}

/* The paused guest's memory into dir: memory.enc and memory.key.sealed;
 * *o gets their description. */
static int forensic_memory_take(const char *dir, const struct forensic_memory *mem,
				struct json_object **o, struct dock_err *err)
{
	char plain[PATH_MAX + 32], enc[PATH_MAX + 32], kpath[PATH_MAX + 32], hex[65];
	unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	unsigned char sealed[crypto_box_SEALBYTES + sizeof(key)];
	struct statvfs vfs;
	uint64_t size = 0;
	int in, r;

	snprintf(plain, sizeof(plain), "%s/%s", dir, FORENSIC_MEMORY_PLAIN);
	snprintf(enc, sizeof(enc), "%s/memory.enc", dir);
	snprintf(kpath, sizeof(kpath), "%s/memory.key.sealed", dir);
	if (statvfs(dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < 2 * mem->fm_max_bytes + FORENSIC_MEMORY_SPARE)
		return err_set(
			err, 507, ENOSPC,
			"%s: a memory dump needs %llu MiB free (the dump and its encryption), %llu MiB are",
			dir,
			(unsigned long long)((2 * mem->fm_max_bytes + FORENSIC_MEMORY_SPARE) >> 20),
			(unsigned long long)(((uint64_t)vfs.f_bavail * vfs.f_frsize) >> 20));
	/* The plaintext rests on the dock's disk from the dump until it is
	 * opened below: libvirt's dump API writes only to a path, and QEMU
	 * needs the whole guest paused meanwhile, so there is no encrypting
	 * pipe in between. It lies in the snapshot's directory (0700, root's;
	 * libvirtd opens the file as root and hands QEMU the descriptor), is
	 * unlinked as soon as it is open, and a dock stopped in between
	 * removes it at its next start (forensic_init). Its blocks are
	 * freed, not scrubbed: keep state_dir on an encrypted filesystem. */
	r = mem->fm_dump(plain, mem->fm_arg, err);
	in = r == 0 ? open(plain, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (r == 0 && in < 0)
		r = err_set(err, 500, errno, "%s: %s", plain, strerror(errno));
	unlink(plain);
	if (r < 0)
		return r;
	randombytes_buf(key, sizeof(key));
	r = forensic_memory_encrypt(in, enc, key, mem->fm_max_bytes, &size, hex, err);
	close(in);
	if (r == 0 && crypto_box_seal(sealed, key, sizeof(key), fz_pub) != 0)
		r = err_set(err, 500, EIO, "%s: sealing the memory key failed", dir);
	sodium_memzero(key, sizeof(key));
	if (r == 0)
		r = file_write_atomic(kpath, sealed, sizeof(sealed), 0400, err);
	if (r < 0) {
		unlink(enc);
		return r;
	}
	*o = json_object_new_object();
	json_object_object_add(*o, "file", json_object_new_string(enc));
	json_object_object_add(*o, "sealed_key", json_object_new_string(kpath));
	json_object_object_add(*o, "format", json_object_new_string("elf-core"));
	json_object_object_add(*o, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(*o, "sha256", json_object_new_string(hex));
	return 0;
}

/* A snapshot's id is NAME-N, N the first free number from the current
 * unix time (two snapshots in one second: the next second's number), so
 * ids keep their NODE-DIGITS form; mkdir is the claim, meta.json keeps
 * the real time. */
static int forensic_mkdir_unique(const char *name, char *id, size_t idsz, char *dir, size_t dirsz)
{
	long long now = (long long)time(NULL);

	for (int n = 0; n < 100; n++) {
		snprintf(id, idsz, "%s-%lld", name, now + n);
		snprintf(dir, dirsz, "%s/forensics/%s", fz_cfg->dc_state_dir, id);
		if (mkdir(dir, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int forensic_snapshot(const char *name, const char *volume, const char *reason,
		      const struct forensic_memory *mem, struct json_object **out,
		      struct dock_err *err)
{
	char id[NODE_NAME_MAX + 32], dir[PATH_MAX], disk[PATH_MAX + 16], key[PATH_MAX + 16],
		meta[PATH_MAX + 16], sealed[PATH_MAX], hex[65];
	struct json_object *o, *memo = NULL;
	char *kbuf = NULL;
	size_t klen;
	uint64_t size;
	int r;

	if (forensic_refuse_unless_enabled(name, err) < 0)
		return -EPERM;
	forensic_key_path(name, sealed, sizeof(sealed));
	r = file_read(sealed, 1024, &kbuf, &klen);
	if (r < 0)
		return err_set(
			err, 409, -r,
			"node %s: no sealed key for its disk (made before forensic_pubkey was set?): %s",
			name, strerror(-r));
	r = forensic_mkdir_unique(name, id, sizeof(id), dir, sizeof(dir));
	if (r < 0) {
		free(kbuf);
		return err_set(err, 409, -r, "forensic snapshot %s: %s", dir, strerror(-r));
	}
	snprintf(disk, sizeof(disk), "%s/disk.luks", dir);
	snprintf(key, sizeof(key), "%s/key.sealed", dir);
	snprintf(meta, sizeof(meta), "%s/meta.json", dir);
	r = forensic_copy(volume, disk, hex, &size, err);
	if (r == 0)
		r = file_write_atomic(key, kbuf, klen, 0400, err);
	free(kbuf);
	if (r == 0 && mem != NULL)
		r = forensic_memory_take(dir, mem, &memo, err);
	if (r < 0) {
		forensic_rmdir(dir);
		return r;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "node", json_object_new_string(name));
	json_object_object_add(o, "time", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_object_add(o, "disk", json_object_new_string(disk));
	json_object_object_add(o, "sealed_key", json_object_new_string(key));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(o, "sha256", json_object_new_string(hex));
	if (memo != NULL)
		json_object_object_add(o, "memory", memo);
	{
		const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		r = file_write_atomic(meta, txt, strlen(txt), 0400, err);
	}
	if (r < 0) {
		forensic_rmdir(dir);
		json_object_put(o);
		return r;
	}
	chmod(dir, 0500);
	*out = o;
	return 0;
}

struct json_object *forensic_list(void)
{
	struct json_object *a = json_object_new_array();
	static const struct jsonin_limits lim = { FORENSIC_META_MAX, 4, 16 };
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (fz_cfg == NULL)
		return a;
	snprintf(dir, sizeof(dir), "%s/forensics", fz_cfg->dc_state_dir);
	d = opendir(dir);
	if (d == NULL)
		return a;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300], *buf;
		struct json_object *o;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/meta.json", dir, de->d_name);
		if (file_read(path, FORENSIC_META_MAX, &buf, &len) < 0)
			continue;
		if (jsonin_parse("forensic meta", buf, len, &lim, &o, NULL) == 0)
			json_object_array_add(a, o);
		free(buf);
	}
	closedir(d);
	return a;
}

void forensic_discard_partial(const char *name)
{
	char dir[PATH_MAX];
	size_t nlen = name != NULL ? strlen(name) : 0;
	struct dirent *de;
	DIR *d;

	if (fz_cfg == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s/forensics", fz_cfg->dc_state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300], meta[PATH_MAX + 320];
		const char *dash = strrchr(de->d_name, '-');

		if (name == NULL) /* any node's */
			nlen = dash != NULL && dash != de->d_name ? (size_t)(dash - de->d_name) : 0;
		if (nlen == 0 || (name != NULL && strncmp(de->d_name, name, nlen) != 0) ||
		    de->d_name[nlen] != '-' || de->d_name[nlen + 1] == '\0' ||
		    strspn(de->d_name + nlen + 1, "0123456789") != strlen(de->d_name + nlen + 1))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(meta, sizeof(meta), "%s/meta.json", path);
		if (access(meta, F_OK) == 0)
			continue; /* whole: meta.json is written last */
		log_warn(
			"forensic snapshot %s: incomplete (the dock stopped while taking it): removed",
			de->d_name);
		forensic_rmdir(path);
	}
	closedir(d);
}

/* ids are NODE-UNIXTIME: a name, a dash, digits; nothing that walks. */
static int forensic_id_check(const char *id, struct dock_err *err)
{
	if (strchr(id, '/') != NULL || id[0] == '.' || strlen(id) > NODE_NAME_MAX + 24)
		return err_set(err, 400, EINVAL, "\"%s\" is not a forensic snapshot id", id);
	return 0;
}

int forensic_open(const char *id, const char *file, int *fd, uint64_t *size, struct dock_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int f;

	if (forensic_id_check(id, err) < 0)
		return -EINVAL;
	for (i = 0; i < FORENSIC_NFILES; i++)
		if (strcmp(file, forensic_files[i]) == 0)
			break;
	if (i == FORENSIC_NFILES)
		return err_set(err, 404, ENOENT, "forensic snapshot %s: no file \"%s\"", id, file);
	snprintf(path, sizeof(path), "%s/forensics/%s/%s", fz_cfg->dc_state_dir, id, file);
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return err_set(err, errno == ENOENT ? 404 : 500, errno,
			       "forensic snapshot %s: %s: %s", id, file, strerror(errno));
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return err_set(err, 500, EINVAL, "forensic snapshot %s: %s is not a regular file",
			       id, file);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int forensic_remove(const char *id, struct dock_err *err)
{
	char dir[PATH_MAX];
	int r;

	if (forensic_id_check(id, err) < 0)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/forensics/%s", fz_cfg->dc_state_dir, id);
	r = forensic_rmdir(dir);
	if (r < 0)
		return err_set(err, r == -ENOENT ? 404 : 500, -r, "forensic snapshot %s: %s", id,
			       strerror(-r));
	return 0;
}
