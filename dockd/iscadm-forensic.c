/* iscadm-forensic: `iscadm forensic export`, the verified copy of a
 * forensic snapshot: the files are downloaded into a new directory, the
 * disk's and the memory dump's sha256 computed as they arrive and compared
 * with the ones the audit trail recorded; on any mismatch or failure
 * nothing stays. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "iscadm-int.h"
#include "validate.h"

/* A download into a file: its sha256 as it arrives, and the first bytes
 * kept in case the answer is an error (JSON) rather than the file. */
struct iscadm_dl {
	int dl_fd;
	crypto_hash_sha256_state dl_sha;
	char dl_head[1024];
	size_t dl_head_len;
	bool dl_failed;
};

static size_t iscadm_dl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct iscadm_dl *dl = ud;
	size_t n = size * nmemb, keep = sizeof(dl->dl_head) - 1 - dl->dl_head_len;

	if (keep > n)
		keep = n;
	memcpy(dl->dl_head + dl->dl_head_len, ptr, keep);
	dl->dl_head_len += keep;
	dl->dl_head[dl->dl_head_len] = '\0';
	crypto_hash_sha256_update(&dl->dl_sha, (const unsigned char *)ptr, n);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(dl->dl_fd, ptr + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			dl->dl_failed = true;
			return 0;
		}
		off += (size_t)w;
	}
	return n;
}

/* The memory files only for a snapshot with a memory dump, last. */
static const char *const iscadm_forensic_files[] = { "meta.json", "key.sealed", "disk.luks",
						     "memory.key.sealed", "memory.enc" };
#define ISCADM_NFILES (sizeof(iscadm_forensic_files) / sizeof(iscadm_forensic_files[0]))

/* Remove what an export made (it never overwrote anything). */
static void iscadm_export_undo(const char *dest, size_t made)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < made; i++) {
		snprintf(p, sizeof(p), "%s/%s", dest, iscadm_forensic_files[i]);
		unlink(p);
	}
	rmdir(dest);
}

/* The sha256s the audit trail recorded for snapshot id's disk and memory
 * dump (the dock's own record, written when the snapshot was taken): ""
 * if none. */
static void iscadm_audit_digest(const char *id, char hex[65], char memhex[65])
{
	char node[NODE_NAME_MAX + 1], path[128];
	const char *dash = strrchr(id, '-');
	struct dock_err err = { 0 };
	struct json_object *a;

	hex[0] = memhex[0] = '\0';
	if (dash == NULL || (size_t)(dash - id) > NODE_NAME_MAX)
		iscadm_die("forensic export: \"%s\" is not a snapshot id (NODE-TIME)", id);
	snprintf(node, sizeof(node), "%.*s", (int)(dash - id), id);
	if (validate_name("node", node, NODE_NAME_MAX, &err) < 0)
		iscadm_die("forensic export: \"%s\" is not a snapshot id: %s", id, err.de_msg);
	snprintf(path, sizeof(path), "/v1/audit?node=%s", node);
	a = iscadm_call("GET", path, NULL);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *r = json_object_array_get_idx(a, i), *d, *v;
		if (strcmp(iscadm_raw(r, "action"), "forensic-snapshot") == 0 &&
		    json_object_object_get_ex(r, "detail", &d) &&
		    json_object_object_get_ex(d, "id", &v) &&
		    strcmp(json_object_get_string(v), id) == 0) {
			snprintf(hex, 65, "%s", iscadm_raw(d, "sha256"));
			if (json_object_object_get_ex(d, "memory_sha256", &v))
				snprintf(memhex, 65, "%s", json_object_get_string(v));
		}
	}
	json_object_put(a);
}

/* forensic export ID DEST: DEST (new) gets the snapshot's files; the
 * sha256 of the disk and of the encrypted memory dump must be the ones the
 * audit trail recorded, or nothing stays. */
int iscadm_forensic_export(const char *id, const char *dest)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char want[65], got[65] = "", wantmem[65], gotmem[65] = "", path[PATH_MAX], url[160];
	size_t made, nfiles;

	if (strchr(id, '/') != NULL || id[0] == '.' || strlen(id) > 60)
		iscadm_die("forensic export: \"%s\" is not a snapshot id", id);
	if (sodium_init() < 0)
		iscadm_die("libsodium did not initialise");
	iscadm_audit_digest(id, want, wantmem);
	nfiles = wantmem[0] != '\0' ? ISCADM_NFILES : ISCADM_NFILES - 2;
	if (want[0] == '\0')
		iscadm_die(
			"forensic export: the audit trail records no digest for %s: refusing an unverifiable copy",
			id);
	if (mkdir(dest, 0700) < 0)
		iscadm_die("forensic export: %s: %s%s", dest, strerror(errno),
			   errno == EEXIST ? " (refusing to overwrite)" : "");
	for (made = 0; made < nfiles; made++) {
		const char *f = iscadm_forensic_files[made];
		struct iscadm_dl dl = { .dl_fd = -1 };
		long status;

		snprintf(path, sizeof(path), "%s/%s", dest, f);
		snprintf(url, sizeof(url), "/v1/forensics/%s/%s", id, f);
		dl.dl_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (dl.dl_fd < 0) {
			iscadm_export_undo(dest, made);
			iscadm_die("forensic export: %s: %s", path, strerror(errno));
		}
		crypto_hash_sha256_init(&dl.dl_sha);
		status = iscadm_request("GET", url, NULL, iscadm_dl_write, &dl);
		if (fsync(dl.dl_fd) < 0)
			dl.dl_failed = true;
		close(dl.dl_fd);
		if (status != 200 || dl.dl_failed) {
			struct json_object *o = json_tokener_parse(dl.dl_head);
			iscadm_export_undo(dest, made + 1);
			if (dl.dl_failed)
				iscadm_die("forensic export: writing %s failed", path);
			iscadm_die_http(status, o);
		}
		chmod(path, 0400);
		if (strcmp(f, "disk.luks") == 0 || strcmp(f, "memory.enc") == 0) {
			crypto_hash_sha256_final(&dl.dl_sha, digest);
			sodium_bin2hex(f[0] == 'd' ? got : gotmem, 65, digest, sizeof(digest));
		}
	}
	if (strcmp(gotmem, wantmem) != 0) {
		iscadm_export_undo(dest, made);
		iscadm_die(
			"forensic export: %s: the memory dump's sha256 %s is not the one in the audit trail (%s): copy removed",
			id, gotmem, wantmem);
	}
	if (strcmp(got, want) != 0) {
		iscadm_export_undo(dest, made);
		iscadm_die(
			"forensic export: %s: the disk's sha256 %s is not the one in the audit trail (%s): copy removed",
			id, got, want);
	}
	printf("forensic snapshot %s exported to %s (sha256 %s%s%s, as in the audit trail)\n", id,
	       dest, got, gotmem[0] ? ", memory " : "", gotmem);
	return 0;
}
