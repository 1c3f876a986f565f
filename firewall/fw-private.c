/* fw-private: the private ranges no node reaches unless its allow-list
 * names them (set private_ranges): the built-in list, the caller's extra
 * CIDRs (the dock's subnet pool, dockd.conf's egress_private), sorted and
 * merged into the disjoint intervals an interval set needs; and their
 * elements. Pure but for fw_private_elems, which only builds elements. */
#include "fw-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const fw_private_builtin[] = {
	"0.0.0.0/8",       /* "this network" */
	"10.0.0.0/8",      /* RFC 1918 */
	"100.64.0.0/10",   /* RFC 6598, carrier-grade NAT */
	"127.0.0.0/8",     /* loopback */
	"169.254.0.0/16",  /* link-local: cloud metadata services */
	"172.16.0.0/12",   /* RFC 1918 */
	"192.168.0.0/16",  /* RFC 1918 */
	"224.0.0.0/4",     /* multicast */
	"255.255.255.255", /* broadcast */
};

#define FW_NBUILTIN (sizeof(fw_private_builtin) / sizeof(fw_private_builtin[0]))

static int fw_range_cmp(const void *a, const void *b)
{
	const struct fw_range *x = a, *y = b;

	return x->r_first < y->r_first ? -1 : x->r_first > y->r_first;
}

int fw_private_ranges(const char *const *extra, size_t n, struct fw_range *out, size_t *nout,
		      struct dock_err *err)
{
	struct fw_range all[FW_NBUILTIN + FW_PRIVATE_MAX];
	size_t k = 0, m = 0;
	int r;

	if (n > FW_PRIVATE_MAX)
		return err_set(err, 400, E2BIG, "firewall: %zu private ranges, more than %d", n,
			       FW_PRIVATE_MAX);
	if (n > 0 && extra == NULL)
		return err_set(err, 400, EINVAL, "firewall: %zu private ranges but no list", n);
	for (size_t i = 0; i < FW_NBUILTIN; i++)
		fw_parse_range("firewall", "private range", fw_private_builtin[i], &all[k++], NULL);
	for (size_t i = 0; i < n; i++) {
		r = fw_parse_range("firewall", "private range", extra[i], &all[k++], err);
		if (r < 0)
			return r;
	}
	qsort(all, k, sizeof(all[0]), fw_range_cmp);
	for (size_t i = 0; i < k; i++) {
		/* overlapping or adjacent: one interval (the kernel refuses overlaps) */
		if (m > 0 &&
		    (out[m - 1].r_last == UINT32_MAX || all[i].r_first <= out[m - 1].r_last + 1)) {
			if (all[i].r_last > out[m - 1].r_last)
				out[m - 1].r_last = all[i].r_last;
			continue;
		}
		if (m == FW_PRIVATE_MAX)
			return err_set(err, 400, E2BIG,
				       "firewall: more than %d private ranges after merging",
				       FW_PRIVATE_MAX);
		out[m++] = all[i];
	}
	*nout = m;
	return 0;
}

void fw_private_elems(struct fw_batch *b, const struct fw_range *r, size_t n, struct fw_els *out)
{
	for (size_t i = 0; i < n && b->fb_errno == 0; i++) {
		/* an interval's end element is one past its last address; none
		 * for an interval that reaches 255.255.255.255 */
		for (int end = 0; end < 2; end++) {
			struct fw_el *e;
			uint32_t be;

			if (end && r[i].r_last == UINT32_MAX)
				break;
			if (out->n == out->cap) {
				size_t cap = out->cap != 0 ? out->cap * 2 : 32;

				e = realloc(out->v, cap * sizeof(*e));
				if (e == NULL) {
					fw_batch_fail(b, ENOMEM);
					return;
				}
				out->v = e;
				out->cap = cap;
			}
			e = &out->v[out->n++];
			memset(e, 0, sizeof(*e));
			e->e_node = "the dock";
			be = htonl(end ? r[i].r_last + 1 : r[i].r_first);
			memcpy(e->e_key.k_buf, &be, 4);
			e->e_key.k_len = fw_fields[FW_F_IPV4].fd_len;
			if (end)
				e->e_flags = NFT_SET_ELEM_INTERVAL_END;
		}
	}
}
