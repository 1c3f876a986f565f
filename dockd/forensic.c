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
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "image.h"
#include "jsonin.h"
#include "log.h"
#include "validate.h"

#define FORENSIC_META_MAX 4096

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

int forensic_snapshot(const char *name, const char *volume, const char *reason,
		      struct json_object **out, struct dock_err *err)
{
	char id[NODE_NAME_MAX + 32], dir[PATH_MAX], disk[PATH_MAX + 16], key[PATH_MAX + 16],
		meta[PATH_MAX + 16], sealed[PATH_MAX], hex[65];
	struct json_object *o;
	char *kbuf = NULL;
	size_t klen;
	uint64_t size;
	int r;

	if (!fz_enabled)
		return err_set(err, 409, EPERM,
			       "forensic snapshots need forensic_pubkey in dockd.conf (the operator's public key): refusing to keep an unprotected copy of node %s's disk",
			       name);
	forensic_key_path(name, sealed, sizeof(sealed));
	r = file_read(sealed, 1024, &kbuf, &klen);
	if (r < 0)
		return err_set(err, 409, -r,
			       "node %s: no sealed key for its disk (made before forensic_pubkey was set?): %s",
			       name, strerror(-r));
	snprintf(id, sizeof(id), "%s-%lld", name, (long long)time(NULL));
	snprintf(dir, sizeof(dir), "%s/forensics/%s", fz_cfg->dc_state_dir, id);
	if (mkdir(dir, 0700) < 0) {
		free(kbuf);
		return err_set(err, 409, errno, "forensic snapshot %s: %s", dir, strerror(errno));
	}
	snprintf(disk, sizeof(disk), "%s/disk.luks", dir);
	snprintf(key, sizeof(key), "%s/key.sealed", dir);
	snprintf(meta, sizeof(meta), "%s/meta.json", dir);
	r = forensic_copy(volume, disk, hex, &size, err);
	if (r == 0)
		r = file_write_atomic(key, kbuf, klen, 0400, err);
	free(kbuf);
	if (r < 0) {
		unlink(disk);
		unlink(key);
		rmdir(dir);
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
	{
		const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		r = file_write_atomic(meta, txt, strlen(txt), 0400, err);
	}
	chmod(dir, 0500);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
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

static const char *const forensic_files[] = { "disk.luks", "key.sealed", "meta.json" };

/* Remove a snapshot's files and its directory. */
static int forensic_rmdir(const char *dir)
{
	if (chmod(dir, 0700) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(forensic_files) / sizeof(forensic_files[0]); i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", dir, forensic_files[i]);
		unlink(p);
	}
	return rmdir(dir) < 0 ? -errno : 0;
}

void forensic_discard_partial(const char *name)
{
	char dir[PATH_MAX];
	size_t nlen = strlen(name);
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

		if (strncmp(de->d_name, name, nlen) != 0 || de->d_name[nlen] != '-' ||
		    de->d_name[nlen + 1] == '\0' ||
		    strspn(de->d_name + nlen + 1, "0123456789") != strlen(de->d_name + nlen + 1))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(meta, sizeof(meta), "%s/meta.json", path);
		if (access(meta, F_OK) == 0)
			continue; /* whole: meta.json is written last */
		log_warn("forensic snapshot %s: incomplete (the dock stopped while taking it): removed",
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

int forensic_open(const char *id, const char *file, int *fd, uint64_t *size,
		  struct dock_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int f;

	if (forensic_id_check(id, err) < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(forensic_files) / sizeof(forensic_files[0]); i++)
		if (strcmp(file, forensic_files[i]) == 0)
			break;
	if (i == sizeof(forensic_files) / sizeof(forensic_files[0]))
		return err_set(err, 404, ENOENT, "forensic snapshot %s: no file \"%s\"", id, file);
	snprintf(path, sizeof(path), "%s/forensics/%s/%s", fz_cfg->dc_state_dir, id, file);
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return err_set(err, errno == ENOENT ? 404 : 500, errno, "forensic snapshot %s: %s: %s",
			       id, file, strerror(errno));
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return err_set(err, 500, EINVAL, "forensic snapshot %s: %s is not a regular file", id,
			       file);
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
