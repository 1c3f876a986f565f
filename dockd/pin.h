/* pin: a node is pinned to the base disk of the image it was created from,
 * by the sha256 the image's manifest gives that disk. An image rebuilt
 * under the same name has another base digest: the node does not boot it
 * silently; start refuses, naming both digests, until the operator moves
 * the node with start --rebase. Pure functions: no I/O, no globals. */
#ifndef ISC_PIN_H
#define ISC_PIN_H

#include <stdbool.h>

#include "err.h"
#include "manifest.h"
#include "state.h"

/* The image's base digest ("" when the manifest names no base disk). */
const char *pin_image_base(const struct image *im);

/* 0 when the node may boot im: pinned to its base, or not pinned yet.
 * Otherwise 409 "image NAME was rebuilt: pinned base sha256 OLD, now NEW;
 * start --rebase moves the node to the new base". */
int pin_check(const struct node_rec *r, const struct image *im, struct dock_err *err);

/* Pin r to im's base. Returns true when the pin changed (old, if not NULL,
 * receives the previous pin, "" if none). */
bool pin_set(struct node_rec *r, const struct image *im, char old[65]);

/* An older record brought to STATE_VERSION: im (NULL when the image cannot
 * be read now) gives the pin a record without one gets. Returns true when
 * the record must be written back. Touches nothing else: not the state,
 * not the checks failing, so no policy can fire because of it. */
bool pin_upgrade(struct node_rec *r, const struct image *im);

#endif
