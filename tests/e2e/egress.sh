#!/bin/bash
# End-to-end test of public-only egress (issue 15), inside
# tests/lib/sandbox.sh, with packets from the guests' shells. The sandbox's
# namespace is the host. A "lan" namespace behind a veth of the host holds
# the LAN-side targets (a cloud metadata address, RFC 1918, RFC 6598, a
# range of dockd.conf's egress_private) and a "public" one (198.51.100.10,
# which exists only in this namespace), with routes to them from the host:
# a node's packets to them are forwarded (FORWARD, not INPUT) and
# masqueraded as a real LAN would see them. Nothing is sent to an address
# outside the namespaces this test made. Allow entries by name: a dnsmasq
# in "lan" (203.0.113.2, dockd.conf's dns_upstream) answers allowed.test
# and other.test with the public address, rebind.test with an RFC 1918
# one; node d (egress deny) may reach allowed.test:8000 and :8002 (two
# entries of one host) and rebind.test:8000.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "egress: public only by default, allow entries open exactly what they name"
dock_setup "egress_private = 198.18.0.0/15
dns_upstream = 203.0.113.2" micro
dock_start

META=169.254.169.254 RFC1918=192.168.77.10 CGNAT=100.64.7.10 EXTRA=198.18.0.10 PUB=198.51.100.10
LAN="ip netns exec lan"
ip netns add lan
ip link add vlan0 type veth peer name vlan1
ip link set vlan1 netns lan
ip addr add 203.0.113.1/30 dev vlan0 && ip link set vlan0 up
$LAN ip addr add 203.0.113.2/30 dev vlan1
$LAN ip link set vlan1 up
$LAN ip link set lo up
for a in $META $RFC1918 $CGNAT $EXTRA $PUB; do
	$LAN ip addr add "$a/32" dev lo
	ip route add "$a/32" via 203.0.113.2
done
sysctl -qw net.ipv4.ip_forward=1
mkdir -p "$W/www" && echo "lan ok" >"$W/www/index.html"
$LAN python3 -m http.server --bind 0.0.0.0 --directory "$W/www" 8000 >/dev/null 2>&1 &
$LAN python3 -m http.server --bind 0.0.0.0 --directory "$W/www" 8001 >/dev/null 2>&1 &
$LAN python3 -m http.server --bind 0.0.0.0 --directory "$W/www" 8002 >/dev/null 2>&1 &
$LAN dnsmasq -k --port=53 --listen-address=203.0.113.2 --bind-interfaces --no-resolv --no-hosts \
	--pid-file="$W/lan-dns.pid" --log-queries --log-facility="$W/lan-dns.log" \
	--local=/test/ --address=/allowed.test/$PUB --address=/other.test/$PUB \
	--address=/rebind.test/$RFC1918 &

finish() {
	kill "$DOCKD_PID" 2>/dev/null
	dock_diag
	[ "$_t_fail" != 0 ] && { t_diag "--- nft ruleset"; nft list table inet isc 2>&1 | sed 's/^/# /' | head -120; }
	t_done
}
trap 'finish; exit $?' EXIT

has_hello() { "$A" inspect "$1" | jq -e '.agent.hello != null' >/dev/null; }
lan_up() { for p in 8000 8001 8002; do $LAN ss -ltn | grep -q ":$p " || return 1; done; }
drops() { "$A" fw show "$1" --json | jq '[.nodes[].drops.packets] | add // 0'; }
# probe NODE HOST:PORT...: prints one word a target, "reached" or "dropped"
# (lib.sh's guest_fetch).
probe() {
	local node=$1 t urls=()
	shift
	for t in "$@"; do urls+=("http://$t/"); done
	guest_fetch "$node" 'lan ok' reached "${urls[@]}"
}

t_ok "lan servers listen" wait_for 20 lan_up
t_ok "create a (egress allow, allow entry $RFC1918:8000/tcp)" \
	"$A" create a --image micro --memory 160M --scratch-size 32M --egress-allow "$RFC1918:8000/tcp"
t_ok "create b (egress deny, allow entry $CGNAT:8000)" \
	"$A" create b --image micro --memory 160M --scratch-size 32M --egress deny --egress-allow "$CGNAT:8000"
t_ok "create d (egress deny, allow entries by name allowed.test:8000/tcp, rebind.test:8000, allowed.test:8002)" \
	"$A" create d --image micro --memory 160M --scratch-size 32M --egress deny \
	--egress-allow allowed.test:8000/tcp --egress-allow rebind.test:8000 \
	--egress-allow allowed.test:8002
"$A" create e --image micro --egress deny --egress-allow Bad_Name:80 >"$W/refused" 2>&1
rc=$?
t_ok "a bad name is refused (exit $rc: 2), naming it ($(head -c 160 "$W/refused"))" \
	bash -c '[ "$0" = 2 ] && grep -q "Bad_Name:80" "$1" && grep -q "not a host name" "$1"' "$rc" "$W/refused"
t_is "a's record keeps its allow entry" "$("$A" inspect a | jq -r '.firewall.egress_allow | join(",")')" "$RFC1918:8000/tcp"
"$A" create c --image micro --egress-allow 10.0.0.1/8 >"$W/refused" 2>&1
t_ok "an allow entry with host bits set is refused, naming it ($(head -c 120 "$W/refused"))" grep -q '10.0.0.1/8' "$W/refused"
t_ok "a boots and says hello" wait_for 120 has_hello a
t_ok "b boots and says hello" wait_for 120 has_hello b
t_ok "d boots and says hello" wait_for 120 has_hello d
guest_attach a
guest_attach b
guest_attach d
t_ok "a is up on its network" wait_for 60 guest_run a "ip -4 route | grep -q default"
t_ok "b is up on its network" wait_for 60 guest_run b "ip -4 route | grep -q default"
t_ok "d is up on its network" wait_for 60 guest_run d "ip -4 route | grep -q default"

# --- the default: public only, the allow entry opens its port and no other
d0=$(drops a)
t_is "a: public reached; $RFC1918 port 8000 reached, 8001 dropped; metadata, RFC 6598 and egress_private dropped" \
	"$(probe a "$PUB:8000" "$RFC1918:8000" "$RFC1918:8001" "$META:8000" "$CGNAT:8000" "$EXTRA:8000")" \
	"reached reached dropped dropped dropped dropped "
d1=$(drops a)
t_ok "a's drops were counted on its drop chain ($d0 -> $d1)" test "$d1" -gt "$d0"

# --- egress deny with an allow entry: only that
d0=$(drops b)
t_is "b: only $CGNAT:8000 reached; 8001, public and RFC 1918 dropped" \
	"$(probe b "$CGNAT:8000" "$CGNAT:8001" "$PUB:8000" "$RFC1918:8000")" \
	"reached dropped dropped dropped "
d1=$(drops b)
t_ok "b's drops were counted on its drop chain ($d0 -> $d1)" test "$d1" -gt "$d0"
t_ok "fw show: the policy in force is fw_init's" bash -c "'$A' fw show --json | jq -e '.policy_ok'"

# --- allow entries by name: d's resolver answers its names only (forwarded
# to dns_upstream) and pins the answers; public ones open their port only.
GW_D=$("$A" inspect d | jq -r .gateway)
# lookup NAME ADDR: d's gateway answers NAME with ADDR (the answer shown on
# d's console, in the test's log when it fails)
lookup() {
	guest_run d "timeout 5 nslookup $1 $GW_D >/tmp/ns.out 2>&1; cat /tmp/ns.out; grep -q '^Address[ 0-9]*: *$2\$' /tmp/ns.out"
}
t_is "fw show lists d's entries by name" \
	"$("$A" fw show d --json | jq -r '.nodes[0].egress.allow | join(",")')" \
	"allowed.test:8000/tcp,allowed.test:8002/tcp,rebind.test:8000/tcp"
t_is "d: before any lookup, $PUB:8000 is dropped (egress deny)" "$(probe d "$PUB:8000")" "dropped "
t_ok "d resolves allowed.test on its gateway" \
	lookup allowed.test "$PUB"
t_ok "the answer is pinned in d's set, with a timeout" \
	bash -c "nft list table inet isc | grep -A6 'set names_.*_0 ' | grep -q '$PUB expires'"
t_is "d: now $PUB:8000 and :8002 reached (allowed.test's two entries, one lookup), $PUB:8001 dropped" \
	"$(probe d "$PUB:8000" "$PUB:8002" "$PUB:8001")" "reached reached dropped "
lookup other.test "$PUB"
t_is "d does not resolve other.test (not in its list)" "$?" 1
t_ok "d resolves rebind.test to its private answer" \
	lookup rebind.test "$RFC1918"
t_ok "its private answer is pinned in d's set too" \
	bash -c "nft list table inet isc | grep -A6 'set names_.*_1 ' | grep -q '$RFC1918 expires'"
t_is "d: rebind.test's private answer ($RFC1918:8000) is dropped all the same" \
	"$(probe d "$RFC1918:8000")" "dropped "
t_ok "the upstream saw d's lookups of its names, not other.test's" \
	bash -c "grep -q 'query.*allowed.test' '$W/lan-dns.log' && ! grep -q 'query.*other.test' '$W/lan-dns.log'"

# --- kill -9 with the table deleted; a's record as before this change
# (no egress_public_only): the dock restores the same policy and says, once,
# that a lost its LAN access.
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
nft delete table inet isc
rec=$W/state/nodes/a.json
jq 'del(.egress_public_only)' "$rec" >"$rec.new" && mv "$rec.new" "$rec"
dock_start
t_is "dock restarted" $? 0
t_is "after the restart: a as before" \
	"$(probe a "$PUB:8000" "$RFC1918:8000" "$RFC1918:8001" "$META:8000")" \
	"reached reached dropped dropped "
t_is "after the restart: b as before" "$(probe b "$CGNAT:8000" "$PUB:8000")" "reached dropped "
t_is "after the restart: d's sets start empty: $PUB:8000 dropped" "$(probe d "$PUB:8000")" "dropped "
t_ok "after the restart: d resolves allowed.test again (no cache hides it from the set)" \
	lookup allowed.test "$PUB"
t_is "after the restart: $PUB:8000 reached again" "$(probe d "$PUB:8000")" "reached "
t_is "the narrowing of a's egress is audited once, by the dock" \
	"$("$A" audit --node a | grep -cE ' dock +egress-narrowed +a ')" 1
t_is "and not for b, created after the change" "$("$A" audit --node b | grep -c 'egress-narrowed')" 0
t_is "a's record now remembers it" "$(jq -r .egress_public_only "$rec")" true
t_ok "the dock logged it" grep -q "node a: egress is now public-only" "$W/dockd.log"
