#!/bin/bash
# End-to-end test of a lab's node-to-node flows and names (issue 21), inside
# tests/lib/sandbox.sh, with packets from the guests' own shells. Three
# micro nodes of lab "t" (t-a egress deny, t-b, t-c egress deny); flows are
# set through PUT /v1/labs/t/flows (flows_apply, what `lab up` calls):
# t-a -> t-b:80/tcp answers; t-a -> t-b on another port (served there), t-b
# -> t-a and t-c -> t-b are dropped; t-a resolves "b" on its gateway and
# nothing else of the lab, t-b and t-c resolve no lab node; a change of the
# flow moves all of it; the same after kill -9 of dockd with table inet isc
# deleted; a destroyed node's flows and names go with it.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "flows: node to node only along a lab's flows, names only along them"
dock_setup "" micro
dock_start

finish() {
	kill "$DOCKD_PID" 2>/dev/null
	dock_diag
	[ "$_t_fail" != 0 ] && { t_diag "--- nft"; nft list table inet isc 2>&1 | sed 's/^/# /' | head -150; }
	[ "$_t_fail" != 0 ] && { t_diag "--- network isc-t-a"; virsh net-dumpxml isc-t-a 2>&1 | sed 's/^/# /'; }
	t_done
}
trap 'finish; exit $?' EXIT

has_hello() { "$A" inspect "$1" | jq -e '.agent.hello != null' >/dev/null; }
api() { # METHOD PATH [BODY]: the answer's body; fails (curl -f) on a status >= 400
	curl -sf --unix-socket "$ISC_SOCKET" -X "$1" ${3:+-H 'Content-Type: application/json' -d "$3"} \
		"http://dock$2"
}
flows() { # FROM>TO:PORT/PROTO...: PUT them as lab t's flows
	local body="" f
	for f in "$@"; do
		body+="${body:+,}{\"from\":\"t-${f%%>*}\",\"to\":\"t-$(cut -d'>' -f2 <<<"${f%%:*}")\",\"port\":\"${f#*:}\"}"
	done
	api PUT /v1/labs/t/flows "{\"flows\":[$body]}" >/dev/null
}
# probe NODE URL...: one word a URL: "answers" (the micro page came) or
# "dropped" (lib.sh's guest_fetch).
probe() {
	local node=$1
	shift
	guest_fetch "$node" 'isc micro ok' answers "$@"
}
# names NODE NAME...: what the node's gateway resolver says for each short
# name: "IP" or "-"
names() {
	local node=$1 gw out=""
	gw=$("$A" inspect "t-$node" | jq -r .gateway)
	shift
	for n in "$@"; do
		guest_run "t-$node" "timeout 3 nslookup $n $gw 2>/dev/null | sed -n 's/^Address[ 0-9]*: *\([0-9.]*\)$/\1/p' | grep -v '^$gw\$' | tail -1 > /tmp/ns.$n; grep -q . /tmp/ns.$n"
		if [ $? = 0 ]; then
			guest_run "t-$node" "grep -qx $(eval echo "\$IP_${n^^}") /tmp/ns.$n" && out+="$n " || out+="?$n "
		else
			out+="- "
		fi
	done
	echo "$out"
}

t_ok "create t-a (egress deny)" "$A" create t-a --image micro --memory 160M --scratch-size 32M --egress deny
t_ok "create t-b" "$A" create t-b --image micro --memory 160M --scratch-size 32M
t_ok "create t-c (egress deny)" "$A" create t-c --image micro --memory 160M --scratch-size 32M --egress deny
IP_A=$("$A" inspect t-a | jq -r .ip)
IP_B=$("$A" inspect t-b | jq -r .ip)
IP_C=$("$A" inspect t-c | jq -r .ip)
for n in a b c; do t_ok "t-$n boots and says hello" wait_for 120 has_hello "t-$n"; done
for n in a b c; do guest_attach "t-$n"; done
for n in a b c; do
	t_ok "t-$n is up on its network" wait_for 60 guest_run "t-$n" "ip -4 route | grep -q default"
done
# a second service on b, port 81: what a flow to port 80 must not open
guest_run t-b "busybox httpd -p 81 -h /srv/www"
t_ok "t-b serves port 81 too (seen from inside)" wait_for 10 guest_run t-b \
	"wget -q -O - http://127.0.0.1:81/ | grep -q 'isc micro ok'"

t_is "no flow: a -> b:80 dropped" "$(probe t-a "http://$IP_B/")" "dropped "
t_ok "PUT /v1/labs/t/flows a>b:80/tcp" flows "a>b:80/tcp"
t_is "GET /v1/labs/t/flows" "$(api GET /v1/labs/t/flows | jq -c .flows)" \
	'[{"from":"t-a","to":"t-b","port":"80/tcp"}]'
t_is "a -> b:80 answers; a -> b:81 dropped" "$(probe t-a "http://$IP_B/" "http://$IP_B:81/")" \
	"answers dropped "
t_is "b -> a:80 dropped" "$(probe t-b "http://$IP_A/")" "dropped "
t_is "c -> b:80 and :81 dropped" "$(probe t-c "http://$IP_B/" "http://$IP_B:81/")" "dropped dropped "
t_is "a resolves b (its flow), not c" "$(names a b c)" "b - "
t_is "b resolves no lab node (no flow from b)" "$(names b a c)" "- - "
t_is "c resolves no lab node" "$(names c a b)" "- - "
t_ok "a node of another lab is refused" bash -c "! curl -sf --unix-socket '$ISC_SOCKET' -X PUT -d '{\"flows\":[{\"from\":\"t-a\",\"to\":\"t-b\",\"port\":\"80\"}]}' http://dock/v1/labs/u/flows"

t_ok "change: a>b:81/tcp" flows "a>b:81/tcp"
t_is "after the change: a -> b:81 answers, a -> b:80 dropped" \
	"$(probe t-a "http://$IP_B:81/" "http://$IP_B/")" "answers dropped "

# --- kill -9 with the table deleted: the flows come back from the record
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
nft delete table inet isc
dock_start
t_is "dock restarted" $? 0
t_ok "fw show: the policy in force is fw_init's" bash -c "'$A' fw show --json | jq -e '.policy_ok'"
t_is "after the restart: a -> b:81 answers, a -> b:80 dropped" \
	"$(probe t-a "http://$IP_B:81/" "http://$IP_B/")" "answers dropped "
t_is "after the restart: b -> a and c -> b dropped" \
	"$(probe t-b "http://$IP_A/") $(probe t-c "http://$IP_B:81/")" "dropped  dropped "
t_is "after the restart: a resolves b, not c" "$(names a b c)" "b - "

# --- a node's flows and names leave with it
t_ok "destroy t-b" "$A" destroy --force t-b
t_is "t-b's flows are gone from the lab's record" "$(api GET /v1/labs/t/flows | jq -c .flows)" "[]"
t_is "and from the table" "$(nft -j list set inet isc node_flows | jq '[.nftables[].set.elem // empty] | length')" 0
t_is "a no longer resolves b" "$(names a b)" "- "
