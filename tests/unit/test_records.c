/* Unit tests of what issues 14 and 17 added to node records and the dock's
 * disk: record versions (records written by 0ca61eb and by the dock before
 * issue 17, tests/unit/fixtures/, are read, upgraded and round-trip; a
 * newer one is refused), the pin of a node's base image (pin.h), the floor
 * of free space (diskguard_judge) and its config key, the uid of a node's
 * QEMU (vmm.h: the range, the allocator) and the `vmm` row judged on
 * fixture /proc trees; the resource limits of issue 21 in records (a record
 * of the dock before them has none, and is written back without) and the
 * cgroup they are read back from, on fixture trees of cgroup v1 and v2.
 * Temp files only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "checks.h"
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

/* A record of the dock before issue 21 (version 3, no "limits") loads with
 * no limit and is written back as it was; limits round-trip under
 * "limits"; a bad one is refused naming it. */
static void test_record_limits(void **st)
{
	char *v3 = fixture("record-v3-web1.json"), *json, *bad;
	struct node_rec r, back;
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(state_from_json(v3, strlen(v3), &r, NULL), 0);
	assert_int_equal(r.nr_version, 3);
	assert_int_equal(r.nr_vmm_uid, 90003);
	assert_false(resctl_any(&r.nr_limits));
	json = state_to_json(&r);
	assert_null(strstr(json, "limits"));
	free(json);
	/* allow slots widened for entries by name: the old entries load as
	 * they were, and a 253-character name round-trips */
	assert_int_equal(r.nr_n_allow, 1);
	assert_string_equal(r.nr_egress_allow[0], "192.0.2.0/24");
	memset(r.nr_egress_allow[1], 'a', 248);
	strcpy(r.nr_egress_allow[1] + 248, ".test:65535/udp");
	r.nr_n_allow = 2;
	json = state_to_json(&r);
	assert_int_equal(state_from_json(json, strlen(json), &back, NULL), 0);
	assert_int_equal(back.nr_n_allow, 2);
	assert_string_equal(back.nr_egress_allow[1], r.nr_egress_allow[1]);
	free(json);
	r.nr_n_allow = 1;
	r.nr_vcpus = 2;
	r.nr_limits.rc_cpu_quota_us = 150000;
	r.nr_limits.rc_cpu_weight = 200;
	r.nr_limits.rc_io[RESCTL_DISK_WRITE_MBPS] = 5;
	r.nr_limits.rc_io[RESCTL_NET_OUT_MBPS] = 10;
	json = state_to_json(&r);
	assert_non_null(strstr(json,
			       "\"limits\":{\n    \"cpus\":1.5,\n    \"cpu_weight\":200,\n"
			       "    \"disk\":{\n      \"write_mbps\":5\n    },\n"
			       "    \"net\":{\n      \"out_mbps\":10\n    }\n  }"));
	assert_int_equal(state_from_json(json, strlen(json), &back, NULL), 0);
	assert_memory_equal(&back.nr_limits, &r.nr_limits, sizeof(r.nr_limits));
	free(json);
	bad = malloc(strlen(v3) + 64);
	assert_non_null(bad);
	snprintf(bad, strlen(v3) + 64, "{\"limits\":{\"cpus\":4},%s", v3 + 1);
	assert_int_equal(state_from_json(bad, strlen(bad), &back, &e), -EINVAL);
	assert_string_equal(e.de_msg,
			    "node record: \"limits\": \"cpus\" 4 is outside 0.05 to 1 "
			    "(the node's vCPUs): a fraction of one host core for the whole node");
	err_clear(&e);
	snprintf(bad, strlen(v3) + 64, "{\"limits\":{\"iops\":4},%s", v3 + 1);
	assert_int_equal(state_from_json(bad, strlen(bad), &back, &e), -EINVAL);
	assert_string_equal(e.de_msg, "node record: \"limits\": unknown field \"iops\"");
	free(bad);
	free(v3);
}

/* A fixture file under root (its directories made). */
static void put(const char *root, const char *rel, const char *text)
{
	char path[512], cmd[600];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, NULL), 0);
}

/* The limits read back from a QEMU's cgroup: v1 (cgroupfs, libvirt's
 * machine/NAME.libvirt-qemu with the emulator below) and v2 (systemd's
 * scope with libvirt's nested "libvirt" group, the weight on the scope). */
static void test_resctl_cgroup(void **st)
{
	const char *v1cg = "12:memory:/machine/qemu-1-isc-c.libvirt-qemu/emulator\n"
			   "3:cpu:/machine/qemu-1-isc-c.libvirt-qemu/emulator\n"
			   "2:cpuacct:/machine/qemu-1-isc-c.libvirt-qemu/emulator\n"
			   "0::/\n";
	const char *v2cg =
		"0::/machine.slice/machine-qemu\\x2d1\\x2disc\\x2dc.scope/libvirt/emulator\n";
	char root[] = "/tmp/isc-cg-XXXXXX", p[600];
	const char *d1 = "sys/fs/cgroup/cpu/machine/qemu-1-isc-c.libvirt-qemu";
	const char *m1 = "sys/fs/cgroup/memory/machine/qemu-1-isc-c.libvirt-qemu";
	const char *d2 = "sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2disc\\x2dc.scope";
	struct resctl_live rl;
	(void)st;
	assert_non_null(mkdtemp(root));
	/* v1 */
	snprintf(p, sizeof(p), "%s/cpu.cfs_quota_us", d1);
	put(root, p, "25000\n");
	snprintf(p, sizeof(p), "%s/cpu.cfs_period_us", d1);
	put(root, p, "100000\n");
	snprintf(p, sizeof(p), "%s/cpu.shares", d1);
	put(root, p, "50\n");
	snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", m1);
	put(root, p, "704643072\n");
	resctl_cgroup_read(root, v1cg, &rl);
	assert_int_equal(rl.rl_cg, 1);
	assert_string_equal(rl.rl_cg_path, "/machine/qemu-1-isc-c.libvirt-qemu");
	assert_int_equal(rl.rl_cg_quota_us, 25000);
	assert_int_equal(rl.rl_cg_period_us, 100000);
	assert_int_equal(rl.rl_cg_weight, 50);
	assert_int_equal(rl.rl_cg_mem_bytes, 704643072);
	/* no quota, no memory limit (the kernel's "unlimited") */
	snprintf(p, sizeof(p), "%s/cpu.cfs_quota_us", d1);
	put(root, p, "-1\n");
	snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", m1);
	put(root, p, "9223372036854771712\n");
	resctl_cgroup_read(root, v1cg, &rl);
	assert_int_equal(rl.rl_cg, 1);
	assert_int_equal(rl.rl_cg_quota_us, -1);
	assert_int_equal(rl.rl_cg_mem_bytes, UINT64_MAX);
	/* a file missing: not read, naming it */
	snprintf(p, sizeof(p), "%s/%s/cpu.shares", root, d1);
	unlink(p);
	resctl_cgroup_read(root, v1cg, &rl);
	assert_int_equal(rl.rl_cg, 0);
	assert_non_null(strstr(rl.rl_cg_note, "qemu-1-isc-c.libvirt-qemu/cpu.shares"));
	/* in the root cgroup: not the node's own */
	resctl_cgroup_read(root, "3:cpu:/\n", &rl);
	assert_int_equal(rl.rl_cg, 0);
	assert_string_equal(rl.rl_cg_note, "no cpu cgroup of its own");
	resctl_cgroup_read(root, NULL, &rl);
	assert_string_equal(rl.rl_cg_note, "no live QEMU process");
	/* v2: the weight on the scope, the quota and memory on libvirt's group */
	put(root, "sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
	snprintf(p, sizeof(p), "%s/cpu.max", d2);
	put(root, p, "max 100000\n");
	snprintf(p, sizeof(p), "%s/cpu.weight", d2);
	put(root, p, "50\n");
	snprintf(p, sizeof(p), "%s/memory.max", d2);
	put(root, p, "max\n");
	snprintf(p, sizeof(p), "%s/libvirt/cpu.max", d2);
	put(root, p, "25000 100000\n");
	snprintf(p, sizeof(p), "%s/libvirt/cpu.weight", d2);
	put(root, p, "100\n");
	snprintf(p, sizeof(p), "%s/libvirt/memory.max", d2);
	put(root, p, "704643072\n");
	resctl_cgroup_read(root, v2cg, &rl);
	assert_int_equal(rl.rl_cg, 2);
	assert_string_equal(rl.rl_cg_path, "/machine.slice/machine-qemu\\x2d1\\x2disc\\x2dc.scope");
	assert_int_equal(rl.rl_cg_quota_us, 25000);
	assert_int_equal(rl.rl_cg_period_us, 100000);
	assert_int_equal(rl.rl_cg_weight, 50);
	assert_int_equal(rl.rl_cg_mem_bytes, 704643072);
	snprintf(p, sizeof(p), "%s/libvirt/cpu.max", d2);
	put(root, p, "25000\n");
	resctl_cgroup_read(root, v2cg, &rl);
	assert_int_equal(rl.rl_cg, 0);
	assert_non_null(strstr(rl.rl_cg_note, "cpu.max: not \"QUOTA PERIOD\""));
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
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

/* ---- vmm.h: the uid range, the allocator, the `vmm` row on fixture trees ---- */

static void test_vmm_range(void **st)
{
	uint32_t lo, hi;
	struct dock_config c;
	struct dock_err e = { 0 };
	(void)st;
	assert_int_equal(vmm_range_parse("90000-91023", &lo, &hi), 0);
	assert_int_equal(lo, 90000);
	assert_int_equal(hi, 91023);
	assert_int_equal(vmm_range_parse("5000-5000", &lo, &hi), 0);
	const char *bad[] = { "999-2000",
			      "6000-5000",
			      "90000-",
			      "-5",
			      "90000-200000",
			      "a-b",
			      "90000-91023x",
			      "2147483647-2147483647",
			      "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vmm_range_parse(bad[i], &lo, &hi), -EINVAL);
	config_defaults(&c);
	assert_int_equal(c.dc_vmm_uid_lo, VMM_UID_LO_DEFAULT);
	assert_true(c.dc_vmm_uid_hi - c.dc_vmm_uid_lo + 1 >= 1024); /* NODE_MAX */
	assert_string_equal(c.dc_vmm_group, "libvirt-qemu");
	assert_int_equal(
		config_parse("t", "vmm_uid_range = 70000-70009\nvmm_group = qemu\n", &c, NULL), 0);
	assert_int_equal(c.dc_vmm_uid_lo, 70000);
	assert_int_equal(c.dc_vmm_uid_hi, 70009);
	assert_string_equal(c.dc_vmm_group, "qemu");
	assert_int_equal(config_parse("t", "vmm_uid_range = 0-10\n", &c, &e), -EINVAL);
	assert_non_null(strstr(e.de_msg, "t:1: vmm_uid_range must be LOW-HIGH"));
}

/* Busy: 1002 (as if in the user database or owning a file). */
static bool busy_1002(uint32_t uid, void *arg)
{
	(*(int *)arg)++;
	return uid == 1002;
}

static void test_vmm_alloc(void **st)
{
	const uint32_t held[] = { 1000, 1001, 1001, 5 };
	struct dock_err e = { 0 };
	uint32_t uid = 0;
	int asked = 0;
	(void)st;
	assert_int_equal(vmm_uid_alloc(1000, 1003, held, 4, busy_1002, &asked, &uid, NULL), 0);
	assert_int_equal(uid, 1003); /* the lowest neither held nor busy */
	assert_int_equal(asked, 2);  /* held uids are not even asked about */
	assert_int_equal(vmm_uid_alloc(1000, 1002, held, 4, busy_1002, &asked, &uid, &e), -ENOSPC);
	assert_int_equal(uid, 1003); /* untouched on failure */
	assert_string_equal(e.de_msg,
			    "vmm_uid_range 1000-1002 is exhausted: 2 uid(s) held by nodes, 1 in "
			    "the user database or still owning files (widen vmm_uid_range in "
			    "dockd.conf)");
	assert_int_equal(e.de_status, 409);
	assert_int_equal(vmm_uid_alloc(1000, 1000, NULL, 0, NULL, NULL, &uid, NULL), 0);
	assert_int_equal(uid, 1000);
}

/* A fixture tree: <root>/proc/4242/{status,cgroup,attr/current} and
 * <root>/sys/kernel/security/lsm; NULL leaves a file out. */
static void vmm_tree(const char *root, const char *status, const char *cgroup, const char *label,
		     const char *lsm)
{
	char p[512];
	const char *dirs[] = { "proc", "proc/4242",  "proc/4242/attr",
			       "sys",  "sys/kernel", "sys/kernel/security" };
	const struct {
		const char *rel, *text;
	} files[] = { { "proc/4242/status", status },
		      { "proc/4242/cgroup", cgroup },
		      { "proc/4242/attr/current", label },
		      { "sys/kernel/security/lsm", lsm } };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		mkdir(p, 0700);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i].rel);
		unlink(p);
		if (files[i].text != NULL)
			assert_int_equal(file_write_atomic(p, files[i].text, strlen(files[i].text),
							   0600, NULL),
					 0);
	}
}

#define ST_OK                                                                           \
	"Name:\tqemu-system-x86\nUid:\t90000\t90000\t90000\t90000\n"                    \
	"Gid:\t64055\t64055\t64055\t64055\nGroups:\t64055\nCapEff:\t0000000000000000\n" \
	"NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
/* Hybrid cgroups as the test sandbox has them: v1 controllers, 0::/ unused. */
#define CG_V1                                                             \
	"9:name=systemd:/\n4:memory:/machine/qemu-1-isc-a.libvirt-qemu\n" \
	"1:cpu:/machine/qemu-1-isc-a.libvirt-qemu/emulator\n0::/\n"
#define CG_V2 "0::/machine.slice/machine-qemu\\x2d1\\x2disc\\x2da.scope/libvirt/emulator\n"

/* Judge the tree at root for node uid `uid`, others' uids `others`. */
static enum vmm_verdict vmm_at(const char *root, uint32_t uid, uint32_t other, char *ev)
{
	struct vmm_proc vp;
	struct vmm_want vw = {
		.vw_uid = uid, .vw_domain = "isc-a", .vw_others = &other, .vw_n_others = other != 0
	};

	assert_int_equal(vmm_proc_read(root, 4242, &vp), 0);
	vw.vw_mac = vmm_mac_active(root);
	return vmm_judge(&vp, &vw, ev, CHECK_EVIDENCE_MAX);
}

/* /dev/kvm for the jailed QEMU: vmm_group gets rw through one ACL entry on
 * a 0660 root:kvm device, once; a device whose mode already lets it in is
 * left alone. A file in a temporary directory stands in for the device. */
static void test_vmm_dev_grant(void **st)
{
	char dir[] = "/tmp/isc-kvm-XXXXXX", path[64], *text;
	struct dock_err e = { 0 };
	const gid_t vmm_gid = 64055;
	acl_t acl;
	FILE *f;
	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kvm", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(vmm_dev_grant(path, vmm_gid, &e), 1);
	assert_non_null(acl = acl_get_file(path, ACL_TYPE_ACCESS));
	assert_non_null(text = acl_to_any_text(acl, NULL, ',', TEXT_NUMERIC_IDS));
	assert_non_null(strstr(text, "group:64055:rw-"));
	assert_non_null(strstr(text, "mask::rw-"));
	acl_free(text);
	acl_free(acl);
	assert_int_equal(vmm_dev_grant(path, vmm_gid, &e), 0); /* once */
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(vmm_dev_grant(path, 4242, &e), 0); /* the mode lets it in */
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(vmm_dev_grant(path, vmm_gid, &e), 0); /* no device: nothing to do */
	snprintf(path, sizeof(path), "%s/kvm", dir);
	unlink(path);
	rmdir(dir);
}

static void test_vmm_judge(void **st)
{
	char root[] = "/tmp/isc-vmm-XXXXXX", ev[CHECK_EVIDENCE_MAX];
	struct vmm_proc vp;
	(void)st;
	assert_non_null(mkdtemp(root));
	assert_int_equal(vmm_proc_read(root, 4242, &vp), -ENOENT);
	/* No MAC system (the attr file unreadable, no lsm file): the uid is the jail. */
	vmm_tree(root, ST_OK, CG_V1, NULL, NULL);
	assert_int_equal(vmm_at(root, 90000, 90001, ev), VMM_PASS);
	assert_non_null(strstr(ev, "uid/gid 90000/64055 its own"));
	assert_non_null(strstr(ev, "no MAC system"));
	vmm_tree(root, ST_OK, CG_V2, NULL, NULL);
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_PASS);
	/* Another node's QEMU under the same uid; the record names another uid. */
	assert_int_equal(vmm_at(root, 90000, 90000, ev), VMM_FAIL);
	assert_non_null(strstr(ev, "shared with another node's QEMU"));
	assert_int_equal(vmm_at(root, 90005, 0, ev), VMM_FAIL);
	assert_non_null(strstr(ev, "uid 90000, the node's is 90005"));
	/* An older dock's node: WARN, whatever is wrong. */
	assert_int_equal(vmm_at(root, VMM_UID_NONE, 90000, ev), VMM_WARN);
	assert_non_null(strstr(ev, "no uid of its own yet: restart the node"));
	/* Each missing property is a FAIL that names it. */
	const struct {
		const char *status, *cgroup, *why;
	} bad[] = {
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n"
		  "Seccomp:\t2\n",
		  CG_V1, "runs as root" },
		{ "Uid:\t90000\t90000\t0\t90000\nGid:\t1\t1\t1\t1\nCapEff:\t0000000000000000\n"
		  "NoNewPrivs:\t1\nSeccomp:\t2\n",
		  CG_V1, "runs as root" },
		{ "Uid:\t90000\t90000\t90000\t90000\nGid:\t1\t1\t1\t1\nCapEff:\t0000000000000000\n"
		  "NoNewPrivs:\t1\nSeccomp:\t0\n",
		  CG_V1, "Seccomp 0, want 2" },
		{ "Uid:\t90000\t90000\t90000\t90000\nGid:\t1\t1\t1\t1\nCapEff:\t0000000000000000\n"
		  "NoNewPrivs:\t0\nSeccomp:\t2\n",
		  CG_V1, "NoNewPrivs 0, want 1" },
		{ "Uid:\t90000\t90000\t90000\t90000\nGid:\t1\t1\t1\t1\nCapEff:\t0000000000200000\n"
		  "NoNewPrivs:\t1\nSeccomp:\t2\n",
		  CG_V1, "CapEff 0000000000200000, want 0" },
		{ "Uid:\t90000\t90000\t90000\t90000\nGid:\t1\t1\t1\t1\nNoNewPrivs:\t1\nSeccomp:\t2\n",
		  CG_V1, "CapEff ffffffffffffffff" }, /* a field missing reads unsafe */
		{ ST_OK, "0::/\n", "cgroup / is not the domain's own" },
		{ ST_OK, "0::/machine/qemu-2-isc-b.libvirt-qemu\n", "is not the domain's own" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vmm_tree(root, bad[i].status, bad[i].cgroup, NULL, NULL);
		assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_FAIL);
		if (strstr(ev, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, ev, bad[i].why);
	}
	/* AppArmor (untested on these hosts: fixtures only): libvirt's profile, enforced. */
	vmm_tree(root, ST_OK, CG_V1, "libvirt-6c1d1b0e-1f6a-4f55-8a51-0d2b3c4d5e6f (enforce)\n",
		 "lockdown,capability,landlock,yama,apparmor");
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_PASS);
	assert_non_null(strstr(ev, "apparmor label enforced"));
	vmm_tree(root, ST_OK, CG_V1, "libvirt-6c1d1b0e-1f6a-4f55-8a51-0d2b3c4d5e6f (complain)\n",
		 "capability,apparmor");
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_FAIL);
	assert_non_null(strstr(ev, "apparmor label"));
	vmm_tree(root, ST_OK, CG_V1, "unconfined\n", "capability,apparmor");
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_FAIL);
	/* SELinux: svirt's type, the policy enforcing; permissive is no MAC. */
	vmm_tree(root, ST_OK, CG_V1, "system_u:system_r:svirt_t:s0:c12,c345", "capability,selinux");
	char p[512];
	snprintf(p, sizeof(p), "%s/sys/fs", root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/sys/fs/selinux", root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/sys/fs/selinux/enforce", root);
	assert_int_equal(file_write_atomic(p, "1", 1, 0600, NULL), 0);
	assert_string_equal(vmm_mac_active(root), "selinux");
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_PASS);
	vmm_tree(root, ST_OK, CG_V1, "system_u:system_r:unconfined_t:s0", "capability,selinux");
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_FAIL);
	/* Dumpable or not is evidence, never a verdict: the fixture's owner is ours, not root. */
	vmm_tree(root, ST_OK, CG_V1, NULL, NULL);
	unlink(p);
	assert_int_equal(vmm_at(root, 90000, 0, ev), VMM_PASS);
	assert_non_null(strstr(ev, "dumpable"));
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_v1_loads),
		cmocka_unit_test(test_record_upgrade),
		cmocka_unit_test(test_record_v2_loads),
		cmocka_unit_test(test_record_limits),
		cmocka_unit_test(test_resctl_cgroup),
		cmocka_unit_test(test_vmm_range),
		cmocka_unit_test(test_vmm_alloc),
		cmocka_unit_test(test_vmm_judge),
		cmocka_unit_test(test_vmm_dev_grant),
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
