/* vmm-dev: the devices the nodes' QEMU opens itself. Under the jail each
 * QEMU runs as a uid of its own with vmm_group as its only group (libvirt
 * gives a static DAC label no supplementary groups), so on a host whose
 * /dev/kvm is 0660 root:kvm (Debian's udev rule) no node could use KVM.
 * The dock gives vmm_group read-write on /dev/kvm with one POSIX ACL entry
 * (libacl), which libvirt copies into QEMU's private /dev: the access
 * libvirt's own QEMU user already has through its kvm membership, no more. */
#include "vmm.h"

#include <acl/libacl.h>
#include <errno.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>

/* Does the ACL hold an entry for gid with read and write? */
static bool vmm_acl_has(acl_t acl, gid_t gid)
{
	acl_entry_t e;
	int r = acl_get_entry(acl, ACL_FIRST_ENTRY, &e);

	for (; r == 1; r = acl_get_entry(acl, ACL_NEXT_ENTRY, &e)) {
		acl_tag_t tag;
		acl_permset_t ps;
		gid_t *q;
		bool match;

		if (acl_get_tag_type(e, &tag) < 0 || tag != ACL_GROUP)
			continue;
		q = acl_get_qualifier(e);
		match = q != NULL && *q == gid;
		acl_free(q);
		if (match && acl_get_permset(e, &ps) == 0 && acl_get_perm(ps, ACL_READ) == 1 &&
		    acl_get_perm(ps, ACL_WRITE) == 1)
			return true;
	}
	return false;
}

static int vmm_acl_add(acl_t *acl, gid_t gid)
{
	acl_entry_t e;
	acl_permset_t ps;

	if (acl_create_entry(acl, &e) < 0 || acl_set_tag_type(e, ACL_GROUP) < 0 ||
	    acl_set_qualifier(e, &gid) < 0 || acl_get_permset(e, &ps) < 0 ||
	    acl_clear_perms(ps) < 0 || acl_add_perm(ps, ACL_READ) < 0 ||
	    acl_add_perm(ps, ACL_WRITE) < 0 || acl_set_permset(e, ps) < 0 || acl_calc_mask(acl) < 0)
		return -errno;
	return 0;
}

int vmm_dev_grant(const char *path, gid_t gid, struct dock_err *err)
{
	struct stat st;
	acl_t acl;
	int r = 0;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : err_set(err, 500, errno, "%s: %s", path, strerror(errno));
	if ((st.st_mode & 06) == 06 || (st.st_gid == gid && (st.st_mode & 060) == 060))
		return 0;
	acl = acl_get_file(path, ACL_TYPE_ACCESS);
	if (acl == NULL)
		return err_set(err, 500, errno, "%s: reading its ACL: %s", path, strerror(errno));
	/* An entry with rw is not enough under a mask without rw: recompute. */
	if (vmm_acl_has(acl, gid) && (st.st_mode & 060) == 060)
		goto out;
	if (!vmm_acl_has(acl, gid) && (r = vmm_acl_add(&acl, gid)) < 0) {
		err_set(err, 500, -r, "%s: adding group %u: %s", path, (unsigned)gid, strerror(-r));
		goto out;
	}
	if (acl_calc_mask(&acl) < 0 || acl_set_file(path, ACL_TYPE_ACCESS, acl) < 0) {
		r = -errno;
		err_set(err, 500, errno, "%s: setting its ACL: %s", path, strerror(errno));
		goto out;
	}
	r = 1;
out:
	acl_free(acl);
	return r;
}
