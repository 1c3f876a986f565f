/* Unit tests of what issues 14 and 17 added to node records and the dock's
 * disk: record versions (records written by 0ca61eb and by the dock before
 * issue 17, tests/unit/fixtures/, are read, upgraded and round-trip; a
 * newer one is refused), the pin of a node's base image (pin.h), the floor
 * of free space (diskguard_judge) and its config key, the uid of a node's
 * QEMU (vmm.h: the range, the allocator) and the `vmm` row judged on
 * fixture /proc trees. Temp files only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "diskguard.h"
#include "file.h"
#include "pin.h"
#include "state.h"
#include "vmm.h"

static const char *src_dir = ".";

#define SHA_OLD "0bfb1ad4cafe0000000000000000000000000000000000000000000000000001"
#define SHA_NEW "9a3c5e7700000000000000000000000000000000000000000000000000000002"

/* An image whose base disk has digest sha. */
static void image_with_base(struct image *im, const char *sha)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->im_name, sizeof(im->im_name), "micro");
	snprintf(im->im_files[0].if_name, sizeof(im->im_files[0].if_name), "base.qcow2");
	snprintf(im->im_files[0].if_role, sizeof(im->im_files[0].if_role), "base");
	snprintf(im->im_files[0].if_sha256, sizeof(im->im_files[0].if_sha256), "%s", sha);
	im->im_n_files = 1;
	im->im_base = &im->im_files[0];
}

/* A temp state_dir holding `text` as nodes/NAME.json. */
static void state_dir_with(char *dir, const char *name, const char *text)
{
	char path[256];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/nodes/%s.json", dir, name);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, NULL), 0);
}

static void state_dir_rm(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/nodes/%s.json", dir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nodes", dir);
	rmdir(path);
	rmdir(dir);
}

static char *fixture(const char *name)
{
	char path[512], *buf = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/unit/fixtures/%s", src_dir, name);
	assert_int_equal(file_read(path, 64 * 1024, &buf, &len), 0);
	return buf;
}

/* The record 0ca61eb wrote (no "version") loads as version 1, unpinned,
 * every field as it was written. */
static void test_record_v1_loads(void **st)
{
	char *v1 = fixture("record-v1-web1.json");
	struct node_rec r;
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(state_from_json(v1, strlen(v1), &r, &e), 0);
	assert_int_equal(r.nr_version, 1);
	assert_string_equal(r.nr_base_sha256, "");
	assert_string_equal(r.nr_name, "web1");
	assert_int_equal(r.nr_state, NODE_RUNNING);
	assert_string_equal(r.nr_image, "micro");
	assert_string_equal(r.nr_secret_uuid, "6f1e0c7a-58f4-4c8e-9d2b-3f8a1c2d4e5f");
	assert_int_equal(r.nr_n_published, 1);
	assert_string_equal(r.nr_published[0], "8080:80/tcp");
	assert_int_equal(r.nr_on_fail, NODE_ACT_CLEANSE);
	assert_int_equal(r.nr_n_failing, 1);
	assert_string_equal(r.nr_failing[0], "swap");
	assert_true(r.nr_have_hello);
	assert_string_equal(r.nr_hello.ah_boot_id, "8d3c5a1e-2b4f-4e6a-9c7d-0f1e2d3c4b5a");
	assert_false(r.nr_egress_public_only); /* from before: announced at start */
	free(v1);
}

/* Upgraded: version 2 and the current base pinned, nothing else changed
 * (state, failing checks, policies: nothing an on_fail could see); written
 * back and read again, the same record. */
static void test_record_upgrade(void **st)
{
	char *v1 = fixture("record-v1-web1.json"), dir[] = "/tmp/isc-rec-XXXXXX", *json;
	struct node_rec r, before, back;
	struct image im;
	(void)st;
	image_with_base(&im, SHA_OLD);
	assert_int_equal(state_from_json(v1, strlen(v1), &r, NULL), 0);
	before = r;
	assert_true(pin_upgrade(&r, &im));
	assert_int_equal(r.nr_version, STATE_VERSION);
	assert_string_equal(r.nr_base_sha256, SHA_OLD);
	before.nr_version = r.nr_version;
	memcpy(before.nr_base_sha256, r.nr_base_sha256, sizeof(r.nr_base_sha256));
	assert_memory_equal(&before, &r, sizeof(r));
	assert_false(pin_upgrade(&r, &im)); /* once */

	json = state_to_json(&r);
	assert_non_null(strstr(json, "\"version\":3"));
	assert_null(strstr(json, "vmm_uid")); /* its uid comes at its next start */
	assert_non_null(strstr(json, "\"base_sha256\":\"" SHA_OLD "\""));
	state_dir_with(dir, "web1", json);
	assert_int_equal(state_load(dir, "web1", &back, NULL), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	state_dir_rm(dir, "web1");
	free(json);
	free(v1);
}

/* The record the dock wrote before issue 17 (version 2, pinned, no
 * "vmm_uid") loads without a uid and upgrades to 3 touching nothing else;
 * a uid round-trips; one out of bounds is refused. */
static void test_record_v2_loads(void **st)
{
	char *v2 = fixture("record-v2-web1.json"), *json, *bad;
	struct node_rec r, before, back;
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(state_from_json(v2, strlen(v2), &r, NULL), 0);
	assert_int_equal(r.nr_version, 2);
	assert_int_equal(r.nr_vmm_uid, VMM_UID_NONE);
	assert_string_equal(r.nr_base_sha256, SHA_OLD);
	before = r;
	assert_true(pin_upgrade(&r, NULL));
	before.nr_version = STATE_VERSION;
	assert_memory_equal(&before, &r, sizeof(r));
	r.nr_vmm_uid = 90007;
	json = state_to_json(&r);
	assert_non_null(strstr(json, "\"vmm_uid\":90007"));
	assert_int_equal(state_from_json(json, strlen(json), &back, NULL), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	bad = malloc(strlen(v2) + 32);
	assert_non_null(bad);
	snprintf(bad, strlen(v2) + 32, "{\"vmm_uid\":0,%s", v2 + 1);
	assert_int_equal(state_from_json(bad, strlen(bad), &back, &e), -EINVAL);
	free(bad);
	free(json);
	free(v2);
}

/* An image that cannot be read at upgrade: upgraded, not pinned. */
static void test_record_upgrade_no_image(void **st)
{
	char *v1 = fixture("record-v1-web1.json");
	struct node_rec r;
	(void)st;
	assert_int_equal(state_from_json(v1, strlen(v1), &r, NULL), 0);
	assert_true(pin_upgrade(&r, NULL));
	assert_int_equal(r.nr_version, STATE_VERSION);
	assert_string_equal(r.nr_base_sha256, "");
	free(v1);
}

/* A record newer than the dock: refused, its file and both versions named. */
static void test_record_newer_refused(void **st)
{
	char *v1 = fixture("record-v1-web1.json"), dir[] = "/tmp/isc-rec-XXXXXX", want[512];
	char *v3 = malloc(strlen(v1) + 32);
	struct node_rec r;
	struct dock_err e = { 0 };
	(void)st;
	assert_non_null(v3);
	snprintf(v3, strlen(v1) + 32, "{\"version\":4,%s", v1 + 1);
	state_dir_with(dir, "web1", v3);
	assert_int_equal(state_load(dir, "web1", &r, &e), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/nodes/web1.json: node record: version 4 is newer than this dock's 3 "
		 "(refusing to read it)",
		 dir);
	assert_string_equal(e.de_msg, want);
	state_dir_rm(dir, "web1");
	err_clear(&e);
	snprintf(v3, strlen(v1) + 32, "{\"base_sha256\":\"0bfb\",%s", v1 + 1);
	assert_int_equal(state_from_json(v3, strlen(v3), &r, &e), -EINVAL);
	assert_string_equal(e.de_msg, "node record: \"base_sha256\" is not a sha256 digest");
	free(v3);
	free(v1);
}

static void test_pin(void **st)
{
	struct node_rec r = { 0 };
	struct image old, rebuilt;
	struct dock_err e = { 0 };
	char prev[65];
	(void)st;
	snprintf(r.nr_image, sizeof(r.nr_image), "micro");
	image_with_base(&old, SHA_OLD);
	image_with_base(&rebuilt, SHA_NEW);
	assert_int_equal(pin_check(&r, &rebuilt, NULL), 0); /* not pinned yet */
	assert_true(pin_set(&r, &old, prev));
	assert_string_equal(prev, "");
	assert_int_equal(pin_check(&r, &old, NULL), 0);
	assert_int_equal(pin_check(&r, &rebuilt, &e), -ESTALE);
	assert_int_equal(e.de_status, 409);
	assert_string_equal(e.de_msg,
			    "image micro was rebuilt: pinned base sha256 " SHA_OLD ", now " SHA_NEW
			    "; start --rebase moves the node to the new base");
	assert_true(pin_set(&r, &rebuilt, prev)); /* the rebase */
	assert_string_equal(prev, SHA_OLD);
	assert_string_equal(r.nr_base_sha256, SHA_NEW);
	assert_false(pin_set(&r, &rebuilt, prev));
	assert_int_equal(pin_check(&r, &rebuilt, NULL), 0);
}

static void test_diskguard(void **st)
{
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(diskguard_judge("create", "state_dir", "/s", 512ULL << 20, 512, &e), 0);
	assert_int_equal(diskguard_judge("create", "state_dir", "/s", 0, 0, &e), 0); /* off */
	assert_int_equal(
		diskguard_judge("create", "state_dir", "/var/lib/isc", (120ULL << 20) + 5, 512, &e),
		-ENOSPC);
	assert_int_equal(e.de_status, 507);
	assert_string_equal(
		e.de_msg,
		"create refused: state_dir /var/lib/isc: 120 MiB free, below min_free_mib 512");
}

static void test_config_min_free(void **st)
{
	struct dock_config c;
	struct dock_err e = { 0 };
	(void)st;
	config_defaults(&c);
	assert_int_equal(c.dc_min_free_mib, 512);
	assert_int_equal(config_parse("dockd.conf", "min_free_mib = 0\n", &c, NULL), 0);
	assert_int_equal(c.dc_min_free_mib, 0);
	assert_int_equal(config_parse("dockd.conf", "min_free_mib = 64\n", &c, NULL), 0);
	assert_int_equal(c.dc_min_free_mib, 64);
	assert_int_equal(config_parse("dockd.conf", "min_free_mib = -1\n", &c, &e), -EINVAL);
	assert_string_equal(e.de_msg, "dockd.conf:1: min_free_mib must be a number in 0..1048576");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_v1_loads),
		cmocka_unit_test(test_record_upgrade),
		cmocka_unit_test(test_record_v2_loads),
		cmocka_unit_test(test_record_upgrade_no_image),
		cmocka_unit_test(test_record_newer_refused),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_diskguard),
		cmocka_unit_test(test_config_min_free),
	};

	if (argc > 1)
		src_dir = argv[1];
	return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
