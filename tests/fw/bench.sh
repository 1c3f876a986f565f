#!/bin/bash
# bench.sh: build tests/fw/bench.c with firewall/*.c and run it (as root; it
# works in a network namespace of its own). Prints a table; asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d /tmp/fw-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2086
${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$root/common" -I"$root/firewall" \
	-o "$out/bench" "$here/bench.c" "$root"/firewall/*.c "$root/common/err.c" \
	-lnftnl -lmnl -ljson-c
"$out/bench"
