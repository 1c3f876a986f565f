#!/bin/bash
# fw-selftest: build tests/unit/test_fw.c with firewall/*.c (gcc and clang,
# the project's warning and hardening flags), run it in a network namespace
# of its own, then prove the policy with packets, in namespaces this script
# makes and that vanish with it. Nothing is created in the host's
# namespaces, and the script checks that too. TAP; the last line is
# "N passed, N failed". Run as root: bash tests/fw/fw-selftest.sh
# Needs: gcc (clang optional), libnftnl-dev, libmnl-dev, libjson-c-dev,
# libcmocka-dev, nftables, iproute2, util-linux, busybox, python3.
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$self")
root=$(cd "$here/../.." && pwd)
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
      -Wcast-qual -Wformat=2 -Wimplicit-fallthrough -Werror"
CFLAGS="-std=gnu11 -D_GNU_SOURCE $WARN -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -O2 -g"
PY=$(command -v /usr/bin/python3 || command -v python3)
probe_py="$here/netprobe.py"

# ---- packet level: runs inside `unshare --net --mount` (see below) ---------
# This namespace plays the host ("mid"): two node bridges, forwarding on,
# the gateways' DNS (and, on isc-a, DHCP) served here. node-a and node-b are
# the nodes (a veth each into its bridge, with the MAC the firewall knows);
# "rogue" is another veth plugged into node a's bridge; "outside" is a
# client beyond the host, with a route back to the node subnets so that only
# the firewall can stop it from reaching them directly.
#
#   node-a 10.231.0.2/29  --- isc-a 10.231.0.1 \
#   rogue  (isc-a port)  ---/                   mid 192.0.2.1 --- 192.0.2.2, .3 outside
#   node-b 10.231.0.10/29 --- isc-b 10.231.0.9 /
A="a,isc-a,10.231.0.0/29,10.231.0.2,02:00:00:00:00:0a,10.231.0.1"
B="b,isc-b,10.231.0.8/29,10.231.0.10,02:00:00:00:00:0b,10.231.0.9"

pids=()  # servers this script started, in its own namespaces: ours to stop
# shellcheck disable=SC2317  # called by the EXIT trap
stop_servers() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

packet() {
	local fw=$1 n=0 fails=0

	# Private /run: `ip netns` keeps its mounts there, the host never sees them.
	mount -t tmpfs -o mode=0755 tmpfs /run
	trap stop_servers EXIT

	ip link set lo up
	echo 1 >/proc/sys/net/ipv4/ip_forward
	# The sweeps leave unanswered SYNs in this namespace's conntrack table.
	echo 10 >/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_syn_sent 2>/dev/null || true
	for ns in node-a node-b outside rogue; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	port() {  # port NS BRIDGE MAC: a veth from NS into BRIDGE, eth0 there
		ip link add "v-$1" type veth peer name eth0 netns "$1"
		ip -n "$1" link set eth0 address "$3"
		ip link set "v-$1" master "$2" up
		ip -n "$1" link set eth0 up
	}
	node() {  # node NS BRIDGE GW/PREFIX ADDR/PREFIX MAC
		ip link add "$2" type bridge
		ip addr add "$3" dev "$2"
		ip link set "$2" up
		port "$1" "$2" "$5"
		ip -n "$1" addr add "$4" dev eth0
		ip -n "$1" route add default via "${3%/*}"
	}
	node node-a isc-a 10.231.0.1/29 10.231.0.2/29 02:00:00:00:00:0a
	node node-b isc-b 10.231.0.9/29 10.231.0.10/29 02:00:00:00:00:0b
	port rogue isc-a 02:00:00:00:00:ee
	ip link add v-out type veth peer name eth0 netns outside
	ip addr add 192.0.2.1/24 dev v-out
	ip link set v-out up
	ip -n outside addr add 192.0.2.2/24 dev eth0
	ip -n outside addr add 192.0.2.3/24 dev eth0
	ip -n outside link set eth0 up
	ip -n outside route add 10.231.0.0/24 via 192.0.2.1
	# LAN-side targets beyond the host (forwarded, not the host's own):
	# a metadata address and an RFC 1918 one, routed to "outside"
	ip -n outside addr add 169.254.169.254/32 dev eth0
	ip -n outside addr add 192.168.77.10/32 dev eth0
	ip route add 169.254.169.254/32 via 192.0.2.2
	ip route add 192.168.77.10/32 via 192.0.2.2

	# Servers; `timeout`: even if this script is killed, none lingers.
	serve() {  # serve NS SPEC...
		local ready
		ready=$(mktemp -p /run)
		if [ "$1" = mid ]; then
			timeout 300 "$PY" "$probe_py" serve "${@:2}" >"$ready" 2>&1 &
		else
			ip netns exec "$1" timeout 300 "$PY" "$probe_py" serve "${@:2}" >"$ready" 2>&1 &
		fi
		pids+=($!)
		for _ in $(seq 50); do grep -q ready "$ready" && return; sleep 0.1; done
		echo "Bail out! server in $1 did not start: $(cat "$ready")"
		exit 1
	}
	serve outside tcp:0.0.0.0:7000:%PEER tcp:0.0.0.0:7001:%PEER
	serve node-a tcp:0.0.0.0:80:a80 tcp:0.0.0.0:81:a81 tcp:0.0.0.0:22:a22
	serve node-b tcp:0.0.0.0:80:b80 tcp:0.0.0.0:82:%PEER
	serve mid udp:10.231.0.1:53:dns tcp:10.231.0.1:53:dns-tcp tcp:10.231.0.1:22:host-ssh \
		udp:10.231.0.9:53:dns-b udp:192.0.2.1:53:dns-outside
	cat >/run/udhcpd.conf <<-EOF
		interface isc-a
		start 10.231.0.2
		end 10.231.0.6
		lease_file /run/udhcpd.leases
		pidfile /run/udhcpd.pid
		option subnet 255.255.255.248
		option router 10.231.0.1
	EOF
	timeout 300 busybox udhcpd -f /run/udhcpd.conf >/dev/null 2>&1 &
	pids+=($!)

	result() {  # result DESCRIPTION EXPECTED GOT
		n=$((n + 1))
		# shellcheck disable=SC2053  # EXPECTED is a glob
		if [[ "$3" == $2 ]]; then
			echo "ok $n - $1: $3"
		else
			echo "not ok $n - $1: got \"$3\", expected \"$2\""
			fails=$((fails + 1))
		fi
	}
	at() {  # at NS CMD...: run in NS ("mid": here), first line of output
		if [ "$1" = mid ]; then "${@:2}" 2>&1 | head -1; else
			ip netns exec "$1" "${@:2}" 2>&1 | head -1; fi
	}
	tcp() { at "$1" "$PY" "$probe_py" tcp "$2" "$3" 0.5 || true; }
	udp() { at "$1" "$PY" "$probe_py" udp "$2" "$3" 0.5 || true; }
	udpc() { at "$1" "$PY" "$probe_py" udpc "$2" "$3" 0.5 || true; }
	ping1() {
		if ip netns exec "$1" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
			echo reach
		else
			echo blocked
		fi
	}
	dhcp() {  # a lease for NS's eth0 from udhcpd on isc-a? (the script configures nothing)
		if ip netns exec "$1" busybox udhcpc -i eth0 -q -n -t 2 -T 1 -s /bin/true \
			>/dev/null 2>&1; then echo lease; else echo "no lease"; fi
	}
	sweep() { at outside "$PY" "$probe_py" sweep "$1" 1 65535 0.5; }
	has() {  # yes when CMD's whole output contains TEXT (no grep -q: its early exit
		# would SIGPIPE the command, and pipefail would turn a match into "no")
		local text=$1 out
		shift
		out=$("$@")
		case $out in *"$text"*) echo yes ;; *) echo no ;; esac
	}
	drops() {  # the drop counter of NODE's chain
		nft list chain inet isc "node-$1" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
	}
	fw() {  # a call that must succeed; a failure is a failed test
		echo "# test_fw $*"
		if ! "$fw" "$@"; then
			n=$((n + 1))
			fails=$((fails + 1))
			echo "not ok $n - test_fw $1 failed"
		fi
	}
	fw_err() {  # the one-line error of a call that must fail
		"$fw" "$@" 2>&1 >/dev/null | head -1
	}

	echo "# before fw_init: everything flows"
	result "nodes talk without the dock's table" reach "$(ping1 node-a 10.231.0.10)"
	result "inbound works without the dock's table" a80 "$(tcp outside 10.231.0.2 80)"
	result "the host's services too" host-ssh "$(tcp node-a 10.231.0.1 22)"

	fw init "$A" "$B"
	echo "# node <-> node"
	result "node a to node b (ping)" blocked "$(ping1 node-a 10.231.0.10)"
	result "node a to node b (tcp)" timeout "$(tcp node-a 10.231.0.10 80)"
	result "node b to node a (tcp)" timeout "$(tcp node-b 10.231.0.2 80)"
	echo "# inbound: nothing unless published"
	result "outside to node a directly" timeout "$(tcp outside 10.231.0.2 80)"
	result "sweep of the host's address from outside" "open: none" "$(sweep 192.0.2.1)"
	echo "# outbound: allowed, masqueraded"
	result "node a to outside (ping)" reach "$(ping1 node-a 192.0.2.2)"
	result "node a to outside is masqueraded" 192.0.2.1 "$(tcp node-a 192.0.2.2 7000)"
	echo "# node -> host: DHCP and DNS on its own gateway only"
	result "DNS (udp) on a's gateway" dns "$(udp node-a 10.231.0.1 53)"
	result "DNS (tcp) on a's gateway" dns-tcp "$(tcp node-a 10.231.0.1 53)"
	result "DHCP for node a (from 0.0.0.0, its MAC)" lease "$(dhcp node-a)"
	result "DHCP for a veth with another MAC on a's bridge" "no lease" "$(dhcp rogue)"
	result "ssh on a's gateway" timeout "$(tcp node-a 10.231.0.1 22)"
	result "ping of a's gateway" blocked "$(ping1 node-a 10.231.0.1)"
	result "DNS on b's gateway, from a" timeout "$(udp node-a 10.231.0.9 53)"
	result "DNS on the host's outside address, from a" timeout "$(udp node-a 192.0.2.1 53)"
	result "DNS on b's gateway, from b" dns-b "$(udp node-b 10.231.0.9 53)"

	echo "# flows: a -> b:80/tcp and :82/tcp only"
	fw flows -- a,isc-a,b,isc-b,80/tcp a,isc-a,b,isc-b,82/tcp
	result "flow a -> b:80 answers" b80 "$(tcp node-a 10.231.0.10 80)"
	result "flow a -> b:82: b sees a's own address (no masquerade)" 10.231.0.2 \
		"$(tcp node-a 10.231.0.10 82)"
	result "flow a -> b: another port of b" timeout "$(tcp node-a 10.231.0.10 81)"
	result "flow a -> b: udp to b's 80" timeout "$(udp node-a 10.231.0.10 80)"
	result "flow a -> b: ping" blocked "$(ping1 node-a 10.231.0.10)"
	result "flow a -> b: not b -> a:80" timeout "$(tcp node-b 10.231.0.2 80)"
	fw flows a,isc-a,b,isc-b,80/tcp a,isc-a,b,isc-b,82/tcp -- a,isc-a,b,isc-b,80/tcp \
		a,isc-a,b,isc-b,82/tcp a,isc-a,b,isc-b,84/udp
	result "flow a -> b:84/udp, nothing listening: no ICMP error crosses between nodes" \
		timeout "$(udpc node-a 10.231.0.10 84)"
	fw flows a,isc-a,b,isc-b,80/tcp a,isc-a,b,isc-b,82/tcp a,isc-a,b,isc-b,84/udp -- \
		a,isc-a,b,isc-b,80/tcp a,isc-a,b,isc-b,82/tcp
	fw flows a,isc-a,b,isc-b,80/tcp a,isc-a,b,isc-b,82/tcp -- b,isc-b,a,isc-a,81/tcp
	result "flow changed to b -> a:81: a -> b:80 cut" timeout "$(tcp node-a 10.231.0.10 80)"
	result "flow changed to b -> a:81: it answers" a81 "$(tcp node-b 10.231.0.2 81)"
	result "flow changed to b -> a:81: not a:80" timeout "$(tcp node-b 10.231.0.2 80)"
	fw flows b,isc-b,a,isc-a,81/tcp --
	result "no flow: b -> a:81 dropped again" timeout "$(tcp node-b 10.231.0.2 81)"

	echo "# publish"
	fw publish "$A" 8080:80/tcp
	A_PUB="$A,publish=8080:80/tcp"
	result "published port from outside" a80 "$(tcp outside 192.0.2.1 8080)"
	result "node port directly from outside" timeout "$(tcp outside 10.231.0.2 80)"
	result "sweep of the host's address from outside" "open: 8080" "$(sweep 192.0.2.1)"
	result "sweep of node a's address from outside" "open: none" "$(sweep 10.231.0.2)"
	result "a's published port from node b (host address)" timeout "$(tcp node-b 192.0.2.1 8080)"
	result "a's published port from node b (b's gateway)" timeout "$(tcp node-b 10.231.0.9 8080)"
	result "the same host port for node b" \
		"*host port 8080/tcp is already published by node a (to 10.231.0.2:80)" \
		"$(fw_err publish "$B" 8080:80/tcp)"

	echo "# egress"
	fw egress "$A_PUB" deny
	result "egress deny: node a to outside" timeout "$(tcp node-a 192.0.2.2 7000)"
	result "egress deny: ping outside" blocked "$(ping1 node-a 192.0.2.2)"
	result "egress deny: the published port still answers" a80 "$(tcp outside 192.0.2.1 8080)"
	result "egress deny: DNS on the gateway still answers" dns "$(udp node-a 10.231.0.1 53)"
	fw egress "$A_PUB,deny" deny 192.0.2.2
	result "allow-listed 192.0.2.2" 192.0.2.1 "$(tcp node-a 192.0.2.2 7000)"
	result "not allow-listed 192.0.2.3" timeout "$(tcp node-a 192.0.2.3 7000)"
	fw egress "$A_PUB,deny,allow=192.0.2.2" allow
	result "egress allowed again: 192.0.2.3" 192.0.2.1 "$(tcp node-a 192.0.2.3 7000)"
	result "node b's egress was never denied" 192.0.2.1 "$(tcp node-b 192.0.2.3 7000)"

	echo "# public-only egress: private ranges dropped unless an entry names them"
	result "a to the metadata address" timeout "$(tcp node-a 169.254.169.254 7000)"
	result "a to RFC 1918 192.168.77.10" timeout "$(tcp node-a 192.168.77.10 7000)"
	fw egress "$A_PUB" allow 192.168.77.10:7000/tcp
	result "allow entry 192.168.77.10:7000/tcp: that port" 192.0.2.1 \
		"$(tcp node-a 192.168.77.10 7000)"
	result "allow entry 192.168.77.10:7000/tcp: not port 7001" timeout \
		"$(tcp node-a 192.168.77.10 7001)"
	result "allow entry: the metadata address still dropped" timeout \
		"$(tcp node-a 169.254.169.254 7000)"
	result "allow entry: public still reached" 192.0.2.1 "$(tcp node-a 192.0.2.3 7000)"
	fw egress "$A_PUB,allow=192.168.77.10:7000/tcp" deny 192.168.77.10:7000/tcp
	result "deny with the entry: it" 192.0.2.1 "$(tcp node-a 192.168.77.10 7000)"
	result "deny with the entry: public dropped" timeout "$(tcp node-a 192.0.2.3 7000)"
	fw egress "$A_PUB,deny,allow=192.168.77.10:7000/tcp" allow
	result "no entry: 192.168.77.10 dropped again" timeout "$(tcp node-a 192.168.77.10 7000)"
	result "no entry: public reached" 192.0.2.1 "$(tcp node-a 192.0.2.3 7000)"

	echo "# anti-spoofing (drops counted in node-a's chain and logged there)"
	local before after
	before=$(drops a)
	ip -n node-a addr add 10.231.0.3/29 dev eth0
	result "forged source address from node a" blocked \
		"$(ip netns exec node-a busybox ping -c 1 -W 1 -I 10.231.0.3 192.0.2.2 >/dev/null 2>&1 && echo reach || echo blocked)"
	ip -n node-a addr del 10.231.0.3/29 dev eth0
	ip -n node-a link set eth0 address 02:00:00:00:00:ff
	ip neigh flush dev isc-a
	result "forged MAC from node a (its own address)" blocked "$(ping1 node-a 192.0.2.2)"
	ip -n node-a link set eth0 address 02:00:00:00:00:0a
	ip neigh flush dev isc-a
	ip -n rogue addr add 10.231.0.4/29 dev eth0
	ip -n rogue route add default via 10.231.0.1
	result "a veth plugged into a's bridge, another address and MAC" blocked \
		"$(ping1 rogue 192.0.2.2)"
	result "node a itself, its address and MAC again" reach "$(ping1 node-a 192.0.2.2)"
	after=$(drops a)
	result "node a's drop counter rose by 3 or more" yes "$([ "$after" -ge $((before + 3)) ] && echo yes || echo "no ($before -> $after)")"
	result "node a's drops are logged with its prefix" yes \
		"$(has 'log prefix "isc-a-drop "' nft list chain inet isc node-a)"
	if [ "$(cat /proc/sys/net/netfilter/nf_log_all_netns 2>/dev/null)" != 1 ]; then
		echo "# (the log lines themselves go to the kernel log of the host's namespace only:"
		echo "#  net.netfilter.nf_log_all_netns is 0, so a test namespace shows none)"
	fi

	echo "# quarantine"
	fw quarantine "$A_PUB" on
	result "quarantine: the published port" timeout "$(tcp outside 192.0.2.1 8080)"
	result "quarantine: node a to outside" timeout "$(tcp node-a 192.0.2.2 7000)"
	result "quarantine: DNS on a's gateway" timeout "$(udp node-a 10.231.0.1 53)"
	result "quarantine: the host to node a" timeout "$(tcp mid 10.231.0.2 80)"
	result "quarantine: node b unaffected" b80 "$(tcp mid 10.231.0.10 80)"
	fw quarantine "$A_PUB,quarantined" off
	result "release: the published port" a80 "$(tcp outside 192.0.2.1 8080)"
	result "release: node a to outside" 192.0.2.1 "$(tcp node-a 192.0.2.2 7000)"

	echo "# dock restart: fw_init from the records gives the same table and answers"
	local table_before table_after
	fw egress "$A_PUB" deny 192.0.2.2
	table_before=$(nft -s list table inet isc)
	fw init "$A_PUB,deny,allow=192.0.2.2" "$B"
	table_after=$(nft -s list table inet isc)
	result "the same table after fw_init" same "$([ "$table_before" = "$table_after" ] && echo same || echo different)"
	result "after restart: published port" a80 "$(tcp outside 192.0.2.1 8080)"
	result "after restart: node port directly" timeout "$(tcp outside 10.231.0.2 80)"
	result "after restart: node a to node b" timeout "$(tcp node-a 10.231.0.10 80)"
	result "after restart: allow-listed 192.0.2.2" 192.0.2.1 "$(tcp node-a 192.0.2.2 7000)"
	result "after restart: not allow-listed 192.0.2.3" timeout "$(tcp node-a 192.0.2.3 7000)"
	result "after restart: DNS on a's gateway" dns "$(udp node-a 10.231.0.1 53)"
	fw egress "$A_PUB,deny,allow=192.0.2.2" allow

	echo "# bandwidth: 3 MiB from node a to outside, a limited to 500000 bytes/s out"
	local secs
	fw init "$A_PUB,out=500000" "$B"
	ip netns exec outside timeout 30 "$PY" -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7100)); s.listen(1); print("ready", flush=True); c, _ = s.accept()
while c.recv(65536): pass' >/run/bw-sink.out 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do grep -q ready /run/bw-sink.out && break; sleep 0.1; done
	secs=$(ip netns exec node-a timeout 30 "$PY" -c 'import socket, time
t = time.monotonic(); s = socket.create_connection(("192.0.2.2", 7100), 5)
s.sendall(bytes(3 << 20)); s.shutdown(socket.SHUT_WR); s.recv(1)
print("%.2f" % (time.monotonic() - t))' 2>&1 || true)
	# 3 MiB at 500000 B/s, less the bucket (a second's worth and the burst
	# of 65536 bytes): 5.2 s; 4 s asked
	result "3 MiB from a (out 500000 B/s) took at least 4 s ($secs s)" yes \
		"$(awk -v s="$secs" 'BEGIN { print (s + 0 >= 4) ? "yes" : "no" }')"
	fw init "$A_PUB" "$B"
	result "without the limit: the published port" a80 "$(tcp outside 192.0.2.1 8080)"

	echo "# atomicity: 200 publish/unpublish of 9090 -> a:81 under live probes"
	local stop=/run/churn.stop churn_out churn_rc=0 t0 t1
	rm -f "$stop"
	churn_out=$(mktemp -p /run)
	ip netns exec outside "$PY" "$probe_py" churn "$stop" \
		192.0.2.1:9090 192.0.2.1:9091:must-not-open 10.231.0.2:81:must-not-open \
		10.231.0.2:80:must-not-open >"$churn_out" 2>&1 &
	local churn_pid=$!
	sleep 0.3
	t0=$(date +%s%N)
	fw toggle "$A_PUB" 9090:81/tcp 200 2
	t1=$(date +%s%N)
	sleep 0.2
	touch "$stop"
	wait "$churn_pid" || churn_rc=$?
	sed 's/^/# /' "$churn_out"
	echo "# 400 batches, 2 ms apart, in $(((t1 - t0) / 1000000)) ms"
	result "no unpublished port ever opened" 0 "$churn_rc"
	result "the churned port was seen open (the probes overlapped the churn)" yes \
		"$(grep -q '9090 published: [1-9]' "$churn_out" && echo yes || echo no)"
	result "after the churn: 9090 is closed" "*refused*" "$(tcp outside 192.0.2.1 9090)"
	result "after the churn: 8080 still answers" a80 "$(tcp outside 192.0.2.1 8080)"

	echo "# node removal and return"
	fw remove "$B"
	# 10/8 is a private range: a does not reach the address either
	result "b is no node any more: a still does not reach it" timeout \
		"$(tcp node-a 10.231.0.10 80)"
	result "b is no node any more: outside reaches it" b80 "$(tcp outside 10.231.0.10 80)"
	fw add "$B"
	result "b is a node again" timeout "$(tcp node-a 10.231.0.10 80)"
	result "fw show: policy intact" yes \
		"$(has 'present, policy as fw_init makes it' "$fw" show)"
	"$fw" show | sed 's/^/# /'

	fw teardown
	result "teardown removes the policy" reach "$(ping1 node-a 10.231.0.10)"
	result "teardown leaves no table" "" "$(nft list tables)"
	echo "1..$n"
	echo "# packet level: $((n - fails)) passed, $fails failed"
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
start=$(date +%s)

run() {
	compilers=(gcc)
	command -v clang >/dev/null && compilers+=(clang)
	for cc in "${compilers[@]}"; do
		echo "# build with $cc"
		# shellcheck disable=SC2086
		"$cc" $CFLAGS -I"$root/common" -I"$root/firewall" -pie -o "$out/test_fw.$cc" \
			"$root/tests/unit/test_fw.c" "$root"/firewall/*.c "$root/common/err.c" \
			-lnftnl -lmnl -ljson-c -lcmocka || return 1
	done

	for cc in "${compilers[@]}"; do
		echo "# unit: test_fw.$cc in a private network namespace"
		FW_EXPECTED_DIR="$here/expected" unshare --net --fork "$out/test_fw.$cc" || status=1
	done

	echo "# packet level: private network and mount namespaces"
	# test_fw's CLI refuses to run in the namespace named here: the host's.
	export FW_TEST_HOST_NETNS
	FW_TEST_HOST_NETNS=$(stat -L -c %i /proc/self/ns/net)
	unshare --net --mount --propagation private --fork \
		bash "$self" --packet "$out/test_fw.gcc" || status=1

	after=$(host_state)
	if [ "$before" = "$after" ]; then
		echo "ok - the host's namespaces are unchanged (netns list, nft tables, links, netns mounts)"
	else
		echo "not ok - the host's namespaces changed:"
		diff <(echo "$before") <(echo "$after") || true
		status=1
	fi
	return "$status"
}

run 2>&1 | tee "$out/log" || status=1
passed=$(grep -Ec '^ok ' "$out/log" || true)
failed=$(grep -Ec '^not ok ' "$out/log" || true)
[ "$failed" -eq 0 ] || status=1
echo "# fw-selftest: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
exit "$status"
