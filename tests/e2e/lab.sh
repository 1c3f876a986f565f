#!/bin/bash
# End-to-end test of labs (issue 21), inside tests/lib/sandbox.sh: a 3-node
# micro lab from a file: validate (and its errors, with file:line:col: key),
# a clash with a node outside the lab, up, a second up that changes and
# restarts nothing (libvirt's domain ids), a changed flow that changes only
# the firewall, packets from the guests' own shells along and across the
# flows, kill -9 of the dock during an up and the next up finishing it,
# down leaving nothing of the lab (libvirt, nft, state) and the audit trail.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "lab: a 3-node micro lab from one file"

. "$SRC/tests/e2e/lib.sh"
dock_setup "stop_timeout_s = 10" micro
trap 'dock_finish_wait; exit $?' EXIT
t_ok "dock starts" dock_start

L=$W/lab
mkdir -p "$L"
cd "$L" || exit 1
# lab_file FLOWPORT [EXTRA-NODE-LINE]: the lab's file
lab_file() {
	cat >"$L/shop.lab.yaml" <<Y
name: shop
defaults: {image: micro, memory: 160M, scratch: 32M, vcpus: 1}
nodes:
  web: {egress: deny}
  db:  {egress: deny}
  job: {egress: deny}
${2:-}
flows:
  - {from: web, to: db, port: $1/tcp}
Y
}
domids() { for n in web db job; do virsh domid "isc-shop-$n" 2>/dev/null; done | tr '\n' ' '; }
running3() { [ "$("$A" ls --json | jq '[.[] | select(.lab == "shop" and .state == "running")] | length')" = 3 ]; }

# --- validate: a good file, bad files named to the line, column and key
lab_file 80
t_ok "lab validate (the one *.lab.yaml here)" "$A" lab validate
printf 'name: shop\nnodes:\n  web: {image: micro, memroy: 1G}\n' >"$L/bad.yaml"
out=$("$A" lab validate "$L/bad.yaml" 2>&1)
t_is "an unknown key: exit 2" $? 2
t_ok "... named with file:line:col: key ($out)" grep -q 'bad.yaml:3:22: nodes.web.memroy: unknown key' <<<"$out"
printf 'name: shop\nnodes:\n  web: &a {image: micro}\n  db: *a\n' >"$L/bad.yaml"
out=$("$A" lab validate "$L/bad.yaml" 2>&1)
t_ok "anchors are refused ($out)" grep -q 'bad.yaml:3:8: nodes.web: anchors are not allowed' <<<"$out"
printf 'name: shop\nnodes:\n  web: {image: micro, memory: 9999999M}\n' >"$L/bad.yaml"
out=$("$A" lab validate "$L/bad.yaml" 2>&1)
t_ok "sizes go through create's checks ($out)" grep -q 'nodes.web: memory must be between' <<<"$out"
cp "$L/shop.lab.yaml" "$L/two.lab.yaml"
"$A" lab validate >/dev/null 2>&1
t_is "two *.lab.yaml here and no FILE: exit 2" $? 2
rm -f "$L/two.lab.yaml" "$L/bad.yaml"

# --- a clash with a node outside the lab is an error at plan time
"$A" create shop-db --image micro --no-start >/dev/null
out=$("$A" lab validate 2>&1)
t_is "a node shop-db outside the lab: exit 4" $? 4
t_ok "... naming it ($out)" grep -q 'shop-db exists and is not a node of lab shop' <<<"$out"
"$A" destroy shop-db >/dev/null

# --- up
t0=$SECONDS
"$A" lab up --parallel 3 </dev/null >"$W/up1" 2>&1
rc=$?
t_is "lab up: exit 0 ($((SECONDS - t0)) s)" $rc 0
t_ok "... its plan created the three nodes" bash -c "[ \$(grep -c '^+ create shop-' '$W/up1') = 3 ]"
t_ok "... its table: three nodes running" bash -c "[ \$(grep -c '^shop-[a-z]* *running' '$W/up1') = 3 ]"
t_ok "ls shows each node's lab" bash -c "'$A' ls | grep -q '^shop-web .* shop '"
t_is "inspect names the lab" "$("$A" inspect shop-db | jq -r .lab)" shop
t_ok "lab ls lists the lab" bash -c "'$A' lab ls | grep -Eq '^shop +3'"
ids=$(domids)

# --- a second up: nothing changes, nothing restarts
"$A" lab up </dev/null >"$W/up2" 2>&1
t_is "second up: exit 0" $? 0
t_ok "... its plan keeps everything" bash -c "[ \$(grep -c '^= keep shop-' '$W/up2') = 3 ] && grep -q '^= flows' '$W/up2' && ! grep -q '^[+~-]' '$W/up2'"
t_is "... the same domains (ids: nothing restarted)" "$(domids)" "$ids"

# --- a changed flow: only the firewall
lab_file 8080
"$A" lab up </dev/null >"$W/up3" 2>&1
t_is "up with a changed flow: exit 0" $? 0
t_ok "... the plan changes the flows only" bash -c "grep -q '^~ flows change' '$W/up3' && [ \$(grep -c '^= keep shop-' '$W/up3') = 3 ]"
t_is "... no node restarted" "$(domids)" "$ids"
lab_file 80
"$A" lab up </dev/null >/dev/null 2>&1
t_is "and back to port 80, still no restart" "$(domids)" "$ids"

# --- packets from the guests' own shells (busybox httpd on :80 in each)
ip_of() { "$A" inspect "$1" | jq -r .ip; }
DB=$(ip_of shop-db) WEB=$(ip_of shop-web)
for n in web db job; do guest_attach "shop-$n"; done
reach() { guest_run "$1" "timeout 4 wget -q -O /dev/null http://$2:$3/"; }
t_ok "web -> db:80 answers" reach shop-web "$DB" 80
t_not "web -> db:22 dropped" reach shop-web "$DB" 22
t_not "db -> web:80 dropped" reach shop-db "$WEB" 80
t_not "job -> db:80 dropped" reach shop-job "$DB" 80

# --- removing needs --yes; never a hang on a pipe
lab_file 80 "  extra: {}"
"$A" lab up </dev/null >"$W/up4" 2>&1 &
upid=$!
# the dock's record names extra before its create: kill -9 the dock then
wait_for 30 grep -q shop-extra "$W/state/labs/shop.json"
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
wait "$upid" 2>/dev/null
t_ok "dock restarts after kill -9 during an up" dock_start
"$A" lab up </dev/null >"$W/up5" 2>&1
t_is "the next up finishes it: exit 0" $? 0
t_ok "... shop-extra runs" bash -c "'$A' inspect shop-extra | jq -e '.state == \"running\"'"
t_is "... the other nodes were not restarted" "$(domids)" "$ids"
lab_file 80
"$A" lab up </dev/null >"$W/up6" 2>&1
t_is "removing a node without --yes on a pipe: exit 4, no wait" $? 4
t_ok "... naming it" grep -q 'remove shop-extra' "$W/up6"
t_ok "up --yes removes it" "$A" lab up --yes
t_not "... shop-extra is gone" virsh dominfo isc-shop-extra

# --- down: nothing of the lab is left; the audit trail is
"$A" create other --image micro --no-start >/dev/null
"$A" lab down </dev/null >/dev/null 2>&1
t_is "down without --yes on a pipe: exit 4" $? 4
t_ok "lab down --yes" "$A" lab down --yes
t_not "no domain of the lab" bash -c "virsh list --all --name | grep -q shop"
t_not "no network of the lab" bash -c "virsh net-list --all --name | grep -q shop"
t_not "no record of the lab" bash -c "ls '$W/state/nodes' '$W/state/labs' | grep -q shop"
t_not "no nft element of the lab" bash -c "nft list table inet isc | grep -q shop"
t_ok "the node outside the lab is kept" "$A" inspect other
sha=$(sha256sum "$L/shop.lab.yaml" | cut -d' ' -f1)
t_ok "audit: each up with the file's sha256, and the down" bash -c \
	"jq -e 'select(.action == \"lab-up\" and .result == \"ok\" and .detail.sha256 == \"$sha\")' '$W/state/audit.log' >/dev/null &&
	 jq -e 'select(.action == \"lab-down\" and .result == \"ok\")' '$W/state/audit.log' >/dev/null"
"$A" destroy other >/dev/null
