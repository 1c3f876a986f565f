#!/bin/bash
# End-to-end test of labs (issue 21), inside tests/lib/sandbox.sh: a 3-node
# micro lab from a file: validate (and its errors, with file:line:col: key),
# a clash with a node outside the lab, up, a second up that changes and
# restarts nothing (libvirt's domain ids), a changed flow that changes only
# the firewall, packets from the guests' own shells along and across the
# flows, kill -9 of the dock during an up and the next up finishing it,
# kill -9 of iscadm during an up (the dock finishes it; the live progress),
# down leaving nothing of the lab (libvirt, nft, state) and the audit trail.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "lab: a 3-node micro lab from one file"

. "$SRC/tests/e2e/lib.sh"
dock_setup "stop_timeout_s = 10" micro
trap 'dock_finish_wait; exit $?' EXIT
# t_not DESC CMD...: CMD fails
t_not() {
	local d=$1
	shift
	t_ok "$d" bash -c '! "$@"' _ "$@"
}
# lab_up OUT [ARGS...]: iscadm lab up into OUT, its exit status; shown
# when it is neither 0 nor 4 (a refusal the test looks for)
lab_up() {
	local out=$1 rc
	shift
	"$A" lab up "$@" </dev/null >"$out" 2>&1
	rc=$?
	if [ $rc != 0 ] && [ $rc != 4 ]; then
		t_diag "lab up $* (exit $rc):" "$(cat "$out")" "$("$A" ls 2>&1)"
		for n in $("$A" ls -q | grep '^shop-'); do
			t_diag "$("$A" status "$n" 2>&1 | grep -v PASS)"
		done
		t_diag "$(grep -E 'lab shop|warn|error' "$W/dockd.log" | tail -15)"
	fi
	return $rc
}
# has TEXT PATTERN: grep's -q on a string
has() { grep -q -- "$2" <<<"$1"; }
dock_start # in this shell: DOCKD_PID is known
t_is "dock starts" $? 0

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
t_ok "... named with file:line:col: key ($out)" has "$out" 'bad.yaml:3:23: nodes.web.memroy: unknown key'
printf 'name: shop\nnodes:\n  web: &a {image: micro}\n  db: *a\n' >"$L/bad.yaml"
out=$("$A" lab validate "$L/bad.yaml" 2>&1)
t_ok "anchors are refused ($out)" has "$out" 'bad.yaml:3:8: nodes.web: anchors are not allowed'
printf 'name: shop\nnodes:\n  web: {image: micro, memory: 9999999M}\n' >"$L/bad.yaml"
out=$("$A" lab validate "$L/bad.yaml" 2>&1)
t_ok "sizes go through create's checks ($out)" has "$out" 'bad.yaml:3:31: nodes.web.memory: memory must be between'
cp "$L/shop.lab.yaml" "$L/two.lab.yaml"
"$A" lab validate >/dev/null 2>&1
t_is "two *.lab.yaml here and no FILE: exit 2" $? 2
rm -f "$L/two.lab.yaml" "$L/bad.yaml"

# --- a clash with a node outside the lab is an error at plan time; that
# node, named like the lab's, must outlive the lab's down
"$A" create shop-zz --image micro --no-start >/dev/null
lab_file 80 "  zz: {}"
out=$("$A" lab validate 2>&1)
t_is "a node shop-zz outside the lab: exit 4" $? 4
t_ok "... naming it ($out)" has "$out" 'shop-zz exists and is not a node of lab shop'
lab_file 80

# --- up, the dock killed (-9) while it creates the nodes: the next up finishes
t0=$SECONDS
lab_up "$W/up0" --parallel 3 &
upid=$!
t_ok "the dock's lab record names a node before its create" \
	wait_for 60 grep -q shop-web "$W/state/labs/shop.json"
sleep 2
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
wait "$upid" 2>/dev/null
dock_start
t_is "dock restarts after kill -9 during the up" $? 0
lab_up "$W/up1"
rc=$?
# A define the killed dock had sent may still be in libvirtd's hands when
# the new dock reconciles (it removes the half-made node, then libvirtd
# defines the domain): that create fails "already exists" and is undone;
# the up after finishes the lab. (A node-room race, reported in #21.)
if [ $rc = 7 ] && grep -q 'already exists' "$W/up1"; then
	t_diag "a create met the killed dock's late define; one more up"
	lab_up "$W/up1"
	rc=$?
fi
t_is "the next up finishes the lab: exit 0 ($((SECONDS - t0)) s)" $rc 0
t_ok "... its table: three nodes running" bash -c "[ \$(grep -c '^shop-[a-z]* *running' '$W/up1') = 3 ]"
t_ok "ls shows each node's lab" bash -c "'$A' ls | grep -Eq '^shop-web .* shop *$'"
t_is "inspect names the lab" "$("$A" inspect shop-db | jq -r .lab)" shop
t_ok "lab ls lists the lab" bash -c "'$A' lab ls | grep -Eq '^shop +3'"
ids=$(domids)

# --- a second up: nothing changes, nothing restarts
lab_up "$W/up2"
t_is "second up: exit 0" $? 0
t_ok "... its plan keeps everything" bash -c "[ \$(grep -c '^= keep shop-' '$W/up2') = 3 ] && grep -q '^= flows' '$W/up2' && ! grep -q '^[+~-]' '$W/up2'"
t_is "... the same domains (ids: nothing restarted)" "$(domids)" "$ids"

# --- a changed flow: only the firewall
lab_file 8080
lab_up "$W/up3"
t_is "up with a changed flow: exit 0" $? 0
t_ok "... the plan changes the flows only" bash -c "grep -q '^~ flows change' '$W/up3' && [ \$(grep -c '^= keep shop-' '$W/up3') = 3 ]"
t_is "... no node restarted" "$(domids)" "$ids"
lab_file 80
lab_up "$W/up3b"
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

# --- removing needs --yes; never a wait on a pipe
cat >"$L/shop.lab.yaml" <<Y
name: shop
defaults: {image: micro, memory: 160M, scratch: 32M, vcpus: 1}
nodes: {web: {egress: deny}, db: {egress: deny}}
flows: [{from: web, to: db, port: 80/tcp}]
Y
lab_up "$W/up6"
t_is "removing a node without --yes on a pipe: exit 4, no wait" $? 4
t_ok "... naming it" grep -q 'remove shop-job' "$W/up6"
t_is "... and nothing done" "$(domids)" "$ids"
lab_file 80

# --- iscadm killed (-9) during an up: the dock finishes the up on its own.
# On a pipe the up says each node's progress live (a line per node and
# milestone) while the creates run.
lab_file 80 "  new: {egress: deny}"
"$A" lab up </dev/null >"$W/up7" 2>&1 &
upid=$!
t_ok "lab up shows the new node's create live, step by step" \
	wait_for 60 grep -q '^shop-new: create' "$W/up7"
kill -9 "$upid"
wait "$upid" 2>/dev/null
t_ok "iscadm killed (-9) during the up: the dock brings shop-new up on its own" \
	wait_for 120 bash -c "'$A' ls --json | jq -e '.[] | select(.name == \"shop-new\" and .state == \"running\" and .op == null)' >/dev/null"
lab_up "$W/up8"
t_is "the next up: exit 0" $? 0
t_ok "... it keeps all four nodes" bash -c "[ \$(grep -c '^= keep shop-' '$W/up8') = 4 ] && ! grep -q '^[+~-]' '$W/up8'"
t_is "... the three others were not restarted" "$(domids)" "$ids"
sha7=$(sha256sum "$L/shop.lab.yaml" | cut -d' ' -f1)
t_ok "audit: the killed client's up, done (ok) with its file's sha256" \
	grep -q '"action":"lab-up","node":"shop","result":"ok".*"sha256":"'"$sha7"'"' "$W/state/audit.log"

# --- down: nothing of the lab is left; the audit trail is
"$A" lab down </dev/null >/dev/null 2>&1
t_is "down without --yes on a pipe: exit 4" $? 4
t_ok "lab down --yes" "$A" lab down --yes
LABRE='shop-(web|db|job|new)'
t_not "no domain of the lab" bash -c "virsh list --all --name | grep -Eq '$LABRE'"
t_not "no network of the lab" bash -c "virsh net-list --all --name | grep -Eq '$LABRE'"
t_not "no record of the lab" bash -c "ls '$W/state/nodes' '$W/state/labs' | grep -Eq '$LABRE|shop.json'"
t_not "no nft element or set of the lab" bash -c "nft list table inet isc | grep -Eq '$LABRE'"
t_ok "the node outside the lab is kept" "$A" inspect shop-zz
sha=$(sha256sum "$L/shop.lab.yaml" | cut -d' ' -f1)
t_ok "audit: each up with the file's sha256, and the down" bash -c \
	"grep -q '\"action\":\"lab-up\".*\"sha256\":\"$sha\"' '$W/state/audit.log' &&
	 grep -q '\"action\":\"lab-down\",\"node\":\"shop\",\"result\":\"ok\"' '$W/state/audit.log'"
"$A" destroy shop-zz >/dev/null
