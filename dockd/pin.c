/* pin: the pin of a node's base image and the upgrade of older records
 * (the contract is pin.h). */
#include "pin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *pin_image_base(const struct image *im)
{
	return im->im_base != NULL ? im->im_base->if_sha256 : "";
}

int pin_check(const struct node_rec *r, const struct image *im, struct dock_err *err)
{
	const char *now = pin_image_base(im);

	if (r->nr_base_sha256[0] == '\0' || strcmp(r->nr_base_sha256, now) == 0)
		return 0;
	return err_set(err, 409, ESTALE,
		       "image %s was rebuilt: pinned base sha256 %s, now %s; start --rebase "
		       "moves the node to the new base",
		       r->nr_image, r->nr_base_sha256, now[0] ? now : "(no base disk)");
}

bool pin_set(struct node_rec *r, const struct image *im, char old[65])
{
	const char *now = pin_image_base(im);
	bool changed = strcmp(r->nr_base_sha256, now) != 0;

	if (old != NULL)
		snprintf(old, 65, "%s", r->nr_base_sha256);
	snprintf(r->nr_base_sha256, sizeof(r->nr_base_sha256), "%s", now);
	return changed;
}

bool pin_upgrade(struct node_rec *r, const struct image *im)
{
	if (r->nr_version >= STATE_VERSION)
		return false;
	if (r->nr_base_sha256[0] == '\0' && im != NULL)
		pin_set(r, im, NULL);
	r->nr_version = STATE_VERSION;
	return true;
}
