/*
 * imgdir.h: the image directory as isc-image sees it (imgdir.c): where it
 * is (--images DIR, else the image_dir dockd reads from dockd.conf, else
 * dockd's own default), what it holds (`ls`, a table or JSON) and taking
 * an image out of it (`rm`). Fallible functions return 0 or a negative
 * errno and fill err with one line naming the directory or the image.
 */
#ifndef ISC_IMGDIR_H
#define ISC_IMGDIR_H

#include <limits.h>
#include <stdbool.h>

#include "err.h"

#ifndef ISC_SYSCONFDIR
#define ISC_SYSCONFDIR "/etc/isc"
#endif
/* dockd's configuration file, as dockd -c defaults to it. */
#define IMGDIR_CONFIG ISC_SYSCONFDIR "/dockd.conf"
/* dockd's image_dir when dockd.conf does not set it (dockd/config.c). */
#define IMGDIR_DEFAULT "/var/lib/isc/images"

struct img_dir {
	char id_path[PATH_MAX];
	/* Where id_path came from, for messages: "--images", "image_dir in
	 * /etc/isc/dockd.conf", "dockd's default, /etc/isc/dockd.conf absent". */
	char id_from[PATH_MAX + 48];
};

/*
 * The image directory: images when not NULL; else image_dir in the
 * dockd.conf at config (NULL: IMGDIR_CONFIG, and a missing file means
 * dockd's default); the last image_dir line wins, as in dockd. Only that
 * key is read: the rest of the file is dockd's to judge (dockd -t).
 */
int imgdir_resolve(const char *images, const char *config, struct img_dir *d, struct dock_err *err);

/* The images in d (directories NAME holding manifest.json), sorted by
 * name, as a table (columns sized to their content) or a JSON array on
 * stdout. A missing directory is an error naming it; an unreadable
 * manifest is reported and the others are still listed (then -EINVAL). */
int imgdir_ls(const struct img_dir *d, bool json, struct dock_err *err);

/* Remove the image NAME from d: NAME must be an image name and d/NAME a
 * directory (not a symlink) holding manifest.json. It is renamed away
 * first, so a reader never sees half an image, then deleted. */
int imgdir_rm(const struct img_dir *d, const char *name, struct dock_err *err);

#endif
