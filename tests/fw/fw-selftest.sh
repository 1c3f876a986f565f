#!/bin/bash
# fw-selftest: build tests/unit/test_fw.c with firewall/fw.c (gcc and clang),
# run it in a network namespace of its own, then prove at packet level that
# the policy isolates two fake nodes, with namespaces this script makes and
# that vanish with it. Nothing is created in the host's namespaces, and the
# script checks that too. Run as root: bash tests/fw/fw-selftest.sh
# Needs: gcc (clang optional), libnftnl-dev, libmnl-dev, libcmocka-dev,
# nftables, iproute2, util-linux, busybox (or ping), socat (optional).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
root=$(cd "$(dirname "$self")/../.." && pwd)
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
      -Wcast-qual -Wformat=2 -Wimplicit-fallthrough -Werror"
CFLAGS="-std=gnu11 $WARN -D_FORTIFY_SOURCE=2 -O2 -g"

# ---- packet level: runs inside `unshare --net --mount` (see below) ---------
# This namespace plays the host ("mid"): two node bridges, ip_forward on.
# node-a and node-b are the nodes (a veth into each bridge); "outside" is a
# client beyond the host, with a route back to the node subnets so that only
# the firewall can stop it.
#
#   node-a 10.231.0.2/29 --- isc-a 10.231.0.1 \
#                                               mid --- 192.0.2.1  192.0.2.2 outside
#   node-b 10.231.0.10/29 -- isc-b 10.231.0.9 /
listener=""  # pid of the socat server in "outside": ours to stop
# shellcheck disable=SC2317  # called by the EXIT trap
stop_listener() {
	if [ -n "$listener" ]; then
		kill "$listener" 2>/dev/null || true
		wait "$listener" 2>/dev/null || true
	fi
}

packet() {
	local fw=$1 n=0 fails=0

	# Private /run: `ip netns` keeps its mounts there, the host never sees them.
	mount -t tmpfs -o mode=0755 tmpfs /run
	trap stop_listener EXIT

	ip link set lo up
	echo 1 >/proc/sys/net/ipv4/ip_forward
	for ns in node-a node-b outside; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	node() {  # node NS BRIDGE GW/PREFIX ADDR/PREFIX
		ip link add "$2" type bridge
		ip addr add "$3" dev "$2"
		ip link set "$2" up
		ip link add "v-$1" type veth peer name eth0 netns "$1"
		ip link set "v-$1" master "$2" up
		ip -n "$1" addr add "$4" dev eth0
		ip -n "$1" link set eth0 up
		ip -n "$1" route add default via "${3%/*}"
	}
	node node-a isc-a 10.231.0.1/29 10.231.0.2/29
	node node-b isc-b 10.231.0.9/29 10.231.0.10/29
	ip link add v-out type veth peer name eth0 netns outside
	ip addr add 192.0.2.1/24 dev v-out
	ip link set v-out up
	ip -n outside addr add 192.0.2.2/24 dev eth0
	ip -n outside link set eth0 up
	ip -n outside route add 10.231.0.0/24 via 192.0.2.1

	if command -v ping >/dev/null; then pinger=(ping); else pinger=(busybox ping); fi
	ping_ok() { ip netns exec "$1" "${pinger[@]}" -c 1 -W 1 "$2" >/dev/null 2>&1; }
	tap() {  # tap reach|blocked FROM TO DESCRIPTION
		local got=blocked
		n=$((n + 1))
		ping_ok "$2" "$3" && got=reach
		if [ "$got" = "$1" ]; then
			echo "ok $n - $4: $2 -> $3 $got"
		else
			echo "not ok $n - $4: $2 -> $3 expected $1, got $got"
			fails=$((fails + 1))
		fi
	}
	# The source address a TCP client in node-a shows to "outside".
	seen_from_outside() {
		local _
		for _ in 1 2 3 4 5; do
			ip netns exec node-a timeout 5 socat -T 3 - TCP:192.0.2.2:7000 </dev/null \
				2>/dev/null && return 0
			sleep 0.2
		done
		echo "(no connection)"
	}
	tap_source() {  # tap_source EXPECTED DESCRIPTION
		local got
		n=$((n + 1))
		if [ -z "$listener" ]; then
			echo "ok $n - $2 # SKIP no socat"
			return
		fi
		got=$(seen_from_outside)
		if [ "$got" = "$1" ]; then
			echo "ok $n - $2: outside sees node-a as $got"
		else
			echo "not ok $n - $2: outside sees node-a as $got, expected $1"
			fails=$((fails + 1))
		fi
	}
	if command -v socat >/dev/null; then
		# timeout: even if this script is killed, the server does not linger.
		# shellcheck disable=SC2016  # socat's shell expands it, per connection
		ip netns exec outside timeout 300 socat TCP-LISTEN:7000,reuseaddr,fork \
			SYSTEM:'echo $SOCAT_PEERADDR' </dev/null >/dev/null 2>&1 &
		listener=$!
	fi
	fw_do() {
		echo "# test_fw $*"
		"$fw" "$@"
	}

	echo "# before fw_init: everything flows"
	tap reach node-a 10.231.0.10 "nodes talk without the dock's table"
	tap reach node-b 10.231.0.2 "nodes talk without the dock's table"
	tap reach outside 10.231.0.2 "inbound works without the dock's table"
	tap_source 10.231.0.2 "no masquerade without the dock's table"

	fw_do init a:isc-a:10.231.0.0/29 b:isc-b:10.231.0.8/29
	tap blocked node-a 10.231.0.10 "node to node is dropped"
	tap blocked node-b 10.231.0.2 "node to node is dropped"
	tap blocked outside 10.231.0.2 "nothing inbound to a node"
	tap blocked outside 10.231.0.10 "nothing inbound to a node"
	tap reach node-a 192.0.2.2 "outbound, and its replies"
	tap reach node-b 192.0.2.2 "outbound, and its replies"
	tap reach node-a 10.231.0.1 "the host's side of the bridge (input hook: a later slice)"
	tap_source 192.0.2.1 "outbound is masqueraded"

	fw_do remove b:isc-b:10.231.0.8/29
	tap reach node-a 10.231.0.10 "b is no node any more"
	tap reach outside 10.231.0.10 "b is no node any more"
	tap blocked outside 10.231.0.2 "a still is"
	fw_do add b:isc-b:10.231.0.8/29
	tap blocked node-a 10.231.0.10 "b is a node again"
	tap blocked outside 10.231.0.10 "b is a node again"

	fw_do teardown
	tap reach node-a 10.231.0.10 "teardown removes the policy"
	n=$((n + 1))
	if [ -z "$(nft list tables)" ]; then
		echo "ok $n - teardown leaves no table"
	else
		echo "not ok $n - teardown leaves: $(nft list tables | tr '\n' ' ')"
		fails=$((fails + 1))
	fi
	echo "1..$n"
	[ "$fails" -eq 0 ]
}

if [ "${1:-}" = --packet ]; then
	packet "$2"
	exit
fi

# ---- main -----------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "fw-selftest: needs root (network namespaces, nftables): skipped" >&2
	exit 77
fi

host_state() {
	ip netns list
	nft list tables
	ip -o link show | awk -F': ' '{print $2}'
	awk '$2 ~ /netns/ {print $2}' /proc/self/mounts
}

out=$(mktemp -d /tmp/fw-selftest.XXXXXX)
trap 'rm -rf "$out"' EXIT
before=$(host_state)
status=0

compilers=(gcc)
command -v clang >/dev/null && compilers+=(clang)
for cc in "${compilers[@]}"; do
	echo "# build with $cc"
	# shellcheck disable=SC2086
	"$cc" $CFLAGS -I"$root/dockd" -I"$root/firewall" -o "$out/test_fw.$cc" \
		"$root/tests/unit/test_fw.c" "$root/firewall/fw.c" "$root/dockd/err.c" \
		-lnftnl -lmnl -lcmocka
done

for cc in "${compilers[@]}"; do
	echo "# unit: test_fw.$cc in a private network namespace"
	unshare --net --fork "$out/test_fw.$cc" || status=1
done

echo "# packet level: private network and mount namespaces"
# test_fw's CLI refuses to run in the namespace named here: the host's.
export FW_TEST_HOST_NETNS
FW_TEST_HOST_NETNS=$(stat -L -c %i /proc/self/ns/net)
unshare --net --mount --propagation private --fork \
	bash "$self" --packet "$out/test_fw.gcc" || status=1

after=$(host_state)
if [ "$before" = "$after" ]; then
	echo "# host namespaces unchanged (netns list, nft tables, links, netns mounts)"
else
	echo "not ok - the host's namespaces changed:"
	diff <(echo "$before") <(echo "$after") || true
	status=1
fi
[ "$status" -eq 0 ] && echo "# fw-selftest: PASS" || echo "# fw-selftest: FAIL"
exit "$status"
