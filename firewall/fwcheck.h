/* fwcheck: read-only questions to the kernel about the dock's table. */
#ifndef ISC_FWCHECK_H
#define ISC_FWCHECK_H

#include "fw.h"

/* 0 when the node's bridge is in the dock's bridge set (its isolation is in
 * force); otherwise an error saying what is missing. */
int fw_node_present(const struct fw_node *node, struct dock_err *err);

#endif
