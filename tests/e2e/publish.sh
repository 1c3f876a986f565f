#!/bin/bash
# End-to-end test of "deny means deny" and of the publish limits, inside
# tests/lib/sandbox.sh (issue 15):
#  1. DNS: libvirt's dnsmasq forwards to a resolver of the test's own in an
#     "outside" namespace (a resolv.conf bind-mounted before any network
#     starts); an egress-deny node's lookup of a made-up name never reaches
#     it, an egress-allow node's does.
#  2. publish: a host port below publish_ports (default 1024-65535) and a
#     port on which a socket of the host listens are refused, naming the port
#     and the range or the listener; an allowed one works.
#  3. a recorded publish whose port became busy while the dock was down is
#     not installed at start: status WARN with the reason, no on_fail, logged
#     and audited.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "publish limits and egress deny without DNS upstream"
dock_setup "" micro

outside_setup
# The resolver: answers every query NXDOMAIN and logs the name asked.
cat >"$W/resolver.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 53))
log = open(sys.argv[1], "a", buffering=1)
while True:
    q, peer = s.recvfrom(512)
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    log.write(".".join(labels) + "\n")
    s.sendto(q[:2] + b"\x81\x83" + q[4:6] + b"\0\0\0\0\0\0" + q[12:i + 5], peer)
PY
: >"$W/queries.log"
$OUT python3 "$W/resolver.py" "$W/queries.log" &
echo "nameserver 192.0.2.2" >"$W/resolv.conf"
mount --bind "$W/resolv.conf" /etc/resolv.conf
dock_start

finish() {
	kill "$DOCKD_PID" 2>/dev/null
	dock_diag
	[ "$_t_fail" != 0 ] && { t_diag "--- queries"; sed 's/^/# /' "$W/queries.log"; }
	t_done
}
trap 'finish; exit $?' EXIT

has_hello() { "$A" inspect "$1" | jq -e '.agent.hello != null' >/dev/null; }
listening() { ss -Hltn "sport = :$1" | grep -q .; }
http_out() { $OUT curl -s -m 3 "$@"; }

# --- 1. egress deny: no lookup leaves by the gateway's resolver
t_ok "create d (egress deny)" "$A" create d --image micro --memory 160M --scratch-size 32M --egress deny
t_ok "create e (egress allow)" "$A" create e --image micro --memory 160M --scratch-size 32M
t_ok "d's network forwards no DNS (dnsmasq no-resolv: its own names only)" bash -c "virsh net-dumpxml isc-d | grep -q \"<dnsmasq:option value='no-resolv'/>\""
GW_D=$("$A" inspect d | jq -r .gateway)
GW_E=$("$A" inspect e | jq -r .gateway)
t_ok "d boots and says hello" wait_for 90 has_hello d
t_ok "e boots and says hello" wait_for 90 has_hello e
guest_attach d
guest_attach e
guest_run d "timeout 5 nslookup leak-from-d.example $GW_D >/dev/null 2>&1"
guest_run e "timeout 5 nslookup asked-by-e.example $GW_E >/dev/null 2>&1"
t_ok "e's lookup reaches the outside resolver (egress allow)" \
	wait_for 10 grep -q '^asked-by-e\.example$' "$W/queries.log"
# d asked first: had it left, it would be there by now.
t_is "d's lookup never reaches the resolver (egress deny)" \
	"$(grep -c 'leak-from-d' "$W/queries.log")" 0

# --- 2. publish limits
out=$("$A" publish e 80:80 2>&1)
t_is "publish 80:80 refused, exit 2 (bad input) ($out)" "$? $(grep -c 'host port 80 is outside publish_ports 1024-65535' <<<"$out")" "2 1"
out=$("$A" create x --image micro --memory 160M --scratch-size 32M --publish 22:22 2>&1)
t_is "create --publish 22:22 refused, exit 2 ($out)" "$? $(grep -c 'host port 22 is outside publish_ports' <<<"$out")" "2 1"
t_ok "... and nothing of x was made" bash -c "! '$A' inspect x >/dev/null 2>&1 && ! virsh net-info isc-x >/dev/null 2>&1"
mkdir -p "$W/www" && echo "host ok" >"$W/www/index.html"
python3 -m http.server --bind 0.0.0.0 --directory "$W/www" 18080 >/dev/null 2>&1 &
t_ok "a host service listens on 18080" wait_for 20 listening 18080
out=$("$A" publish e 18080:80 2>&1)
t_is "publish 18080:80 refused naming the listener, exit 4 (conflict) ($out)" \
	"$? $(grep -c 'host port 18080/tcp is in use by a listening socket (0.0.0.0:18080)' <<<"$out")" "4 1"
t_ok "publish 8080:80 (allowed)" "$A" publish e 8080:80
t_is "outside -> host:8080 reaches e's service" "$(http_out http://192.0.2.1:8080/)" "isc micro ok"

# --- 3. a recorded port taken while the dock was down is withheld at start
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
python3 -m http.server --bind 0.0.0.0 --directory "$W/www" 8080 >/dev/null 2>&1 &
t_ok "a host service now listens on 8080" wait_for 20 listening 8080
dock_start
t_is "the dock restarts" $? 0
t_is "e's record still publishes 8080:80" "$("$A" inspect e | jq -r '.firewall.published | join(" ")')" "8080:80/tcp"
t_is "the kernel does not publish it" "$("$A" fw show e --json | jq '.nodes[0].published | length')" 0
t_is "outside -> host:8080 reaches the host's own listener" "$(http_out http://192.0.2.1:8080/)" "host ok"
"$A" status e --json >"$W/e.status.json"
t_is "status: published-ports is WARN" \
	"$(jq -r '.checks[] | select(.id == "published-ports") | .status' "$W/e.status.json")" WARN
t_ok "... with the reason" bash -c "jq -r '.checks[] | select(.id == \"published-ports\") | .evidence' '$W/e.status.json' | grep -q 'not installed: publish 8080:80/tcp: host port 8080/tcp is in use by a listening socket (0.0.0.0:8080)'"
t_ok "the dock logged it" grep -q 'node e: not installed: publish 8080:80/tcp' "$W/dockd.log"
t_is "the audit trail has it, from the dock" \
	"$("$A" audit --node e --json | jq '[.[] | select(.action == "publish-withheld" and .who == "dock" and .detail.publish == "8080:80/tcp")] | length')" 1
t_is "no check turned FAIL for it (on_fail not fired)" \
	"$("$A" audit --node e --json | jq '[.[] | select(.action == "check-failed" and .detail.check == "published-ports")] | length')" 0
t_is "e is not quarantined" "$("$A" inspect e | jq -r .state)" running
t_ok "unpublish of the withheld port works" "$A" unpublish e 8080:80
t_is "... and status is PASS again" \
	"$("$A" status e --json | jq -r '.checks[] | select(.id == "published-ports") | .status')" PASS
