#!/bin/bash
# End-to-end test of self-cleansing, inside tests/lib/sandbox.sh: what a
# node writes to /scratch is gone after a cleanse (on demand, and when its
# maximum lifetime is up), the old key is gone from libvirt (the old data is
# crypto-shredded), the node is back and reporting; the guest is powered off
# by its agent first; a dock killed in each phase of a cleanse finishes it
# at restart and leaves nothing behind; after libvirtd lost the ephemeral
# secrets, start refuses to wipe the disk unasked and start with rekey
# gives the node a fresh disk with a new key.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "cleanse: fresh ephemeral disk with a new key, lifetime timer, crash in the middle"
mkdir -p "$W"
"$SRC/build/isc-unseal" --keygen "$W/operator" || exit 1
dock_setup "stop_timeout_s = 15
shutdown_timeout_s = 20
forensic_pubkey = $W/operator.pub" micro
ISC_DEBUG_CLEANSE_PAUSE=rekey dock_start # without --test-hooks: ignored
trap 'dock_finish; exit $?' EXIT

# N: the node under test: c, then c2 (made while c's lifetime runs out)
N=c
ins() { "$A" inspect "$N" | jq -r "$1"; }
has_hello() { "$A" inspect "$N" | jq -e '.agent.hello != null and .state == "running"' >/dev/null; }
marker() { guest_run "$N" "test -e /scratch/marker"; }
cleanses_are() { [ "$(ins .cleanses)" = "$1" ] && has_hello; }
secrets_of_c() { virsh secret-list | grep -c "isc-$N\.img"; }

t_ok "create c with a 40 s lifetime" "$A" create c --image micro --memory 160M --scratch-size 32M --lifetime 40s
t_ok "c says hello" wait_for 120 has_hello
t_ok "inspect shows the next cleanse" test "$(ins .next_cleanse)" -gt "$(date +%s)"
guest_attach c
guest_run c "echo secret-data > /scratch/marker && sync"
t_is "a marker written to /scratch" $? 0
old_secret=$(ins .disks.ephemeral.secret_uuid)
old_boot=$(ins .agent.hello.boot_id)

t_ok "iscadm cleanse c" "$A" cleanse c
t_ok "c is back and says hello" wait_for 120 has_hello
t_is "one cleanse counted" "$(ins .cleanses)" 1
t_ok "the guest was powered off by its agent" grep -q "node c: cleanse: powered off by its agent$" "$W/dockd.log"
t_ok "... which acknowledged the request" grep -q "node c: the agent acknowledged the shutdown request" "$W/dockd.log"
t_ok "the hook's variable alone (no --test-hooks) changed nothing" bash -c "! grep -q 'test hook' '$W/dockd.log'"
t_ok "each phase logged" bash -c "for p in shutdown snapshot rekey start wait-agent; do grep -q \"node c: cleanse: \$p\$\" '$W/dockd.log' || exit 1; done"
t_ok "a new boot" test "$(ins .agent.hello.boot_id)" != "$old_boot"
new_secret=$(ins .disks.ephemeral.secret_uuid)
t_ok "a new key (secret $new_secret)" test "$new_secret" != "$old_secret"
t_ok "the old key is gone from libvirt" bash -c "! virsh secret-dumpxml $old_secret"
t_is "exactly one secret for c" "$(secrets_of_c)" 1
guest_attach c
marker
t_is "the marker is gone" $? 1

guest_run c "echo secret-data > /scratch/marker && sync"
t_is "a marker written again" $? 0
# The crash tests' node, without a lifetime (the timer must not race them):
# it boots while c waits for its lifetime.
t_ok "create c2 without a lifetime" "$A" create c2 --image micro --memory 160M --scratch-size 32M
t_ok "the lifetime expires and c is cleansed by the dock (within 90 s)" wait_for 90 cleanses_are 2
grep -q "maximum lifetime (40s) reached" "$W/dockd.log"
t_is "the dock logged why" $? 0
guest_attach c
marker
t_is "the marker is gone after the automatic cleanse" $? 1
t_ok "the timer is re-armed" test "$(ins .next_cleanse)" -gt "$(date +%s)"

# --- kill -9 the dock in each phase of a cleanse (dockd --test-hooks stops
# there for good), then restart it: the phase is finished or rolled back
vol_count() { virsh vol-list isc-ephemeral | grep -c "isc-$N\.img"; }
dom_count() { virsh list --all --name | grep -cx "isc-$N"; }
t_ok "destroy c (c2, without a lifetime, takes over)" "$A" destroy --force c
N=c2
t_ok "c2 says hello" wait_for 120 has_hello
old_secret=$(ins .disks.ephemeral.secret_uuid)
n=0
for phase in shutdown snapshot rekey start wait-agent; do
	guest_attach c2
	guest_run c2 "echo secret-data > /scratch/marker && sync"
	t_is "$phase: a marker written to /scratch" $? 0
	kill "$DOCKD_PID"
	wait "$DOCKD_PID" 2>/dev/null
	ISC_DEBUG_CLEANSE_PAUSE=$phase dock_start --test-hooks
	"$A" cleanse c2 >/dev/null 2>&1 &
	client=$!
	t_ok "$phase: the dock stops in phase $phase (iscadm ls says cleansing:$phase)" \
		wait_for 120 bash -c "'$A' ls --json | jq -e '.[] | select(.name == \"c2\") | .state == \"cleansing:$phase\"'"
	t_ok "$phase: inspect shows the phase" test "$(ins .phase)" = "$phase"
	t_is "$phase: inspect shows the operation and its step" "$(ins '"\(.op) \(.op_phase)"')" "cleanse $phase"
	kill -9 "$DOCKD_PID"
	wait "$DOCKD_PID" 2>/dev/null
	kill "$client" 2>/dev/null
	wait "$client" 2>/dev/null
	# As if the dock had died in the middle of the copy.
	[ "$phase" = snapshot ] && mkdir -p "$W/state/forensics/c2-1" && echo partial >"$W/state/forensics/c2-1/disk.luks"
	dock_start
	t_is "$phase: the dock restarts (without the hook)" $? 0
	t_ok "$phase: c2 ends up running and saying hello" wait_for 180 has_hello
	n=$((n + 1))
	t_is "$phase: the cleanse is counted once" "$(ins .cleanses)" "$n"
	t_is "$phase: no phase left" "$(ins .phase)" null
	t_is "$phase: exactly one secret, one volume, one domain for c2" \
		"$(secrets_of_c) $(vol_count) $(dom_count)" "1 1 1"
	t_ok "$phase: the old key is gone" test "$(ins .disks.ephemeral.secret_uuid)" != "$old_secret"
	old_secret=$(ins .disks.ephemeral.secret_uuid)
	guest_attach c2
	marker
	t_is "$phase: the marker is gone" $? 1
done
t_ok "the incomplete forensic snapshot of the snapshot phase was removed" test ! -e "$W/state/forensics/c2-1"
t_ok "a whole snapshot was taken at each cleanse" test "$("$A" forensic ls --json | jq '[.[] | select(.node == "c" or .node == "c2")] | length')" -ge 5

# --- libvirtd restarted: the ephemeral secret is gone; start re-keys
t_ok "stop c2" "$A" stop c2
gone_secret=$(ins .disks.ephemeral.secret_uuid)
kill "$(cat /run/libvirtd.pid)"
for _ in $(seq 100); do [ -e "/proc/$(cat /run/libvirtd.pid 2>/dev/null)" ] || break; sleep 0.1; done
libvirtd -d
t_ok "libvirtd restarted in the sandbox" wait_for 30 virsh -q version
t_ok "... and c2's ephemeral secret is gone with it" bash -c "! virsh secret-dumpxml $gone_secret"
code=$(curl -s -o "$W/api.out" -w '%{http_code}' --unix-socket "$ISC_SOCKET" -X POST http://localhost/v1/nodes/c2/start)
t_is "start c2 without rekey: 409" "$code" 409
t_is "... saying the key is gone, the data lost, and how to go on" "$(jq -r .error "$W/api.out")" \
	'node "c2": its ephemeral disk'"'"'s key is gone from libvirt (libvirtd restarted?); the data on that disk is lost: start it with rekey for a fresh disk with a new key (iscadm start --rekey c2)'
t_is "... c2 stays stopped, with no new secret" "$(ins .state) $(secrets_of_c)" "stopped 0"
t_ok "iscadm start c2 without --rekey refuses too (non-zero exit)" bash -c "! '$A' start c2"
code=$(curl -s -o "$W/api.out" -w '%{http_code}' --unix-socket "$ISC_SOCKET" -X POST http://localhost/v1/nodes/c2/start)
t_is "asked again, on libvirt's new connection: 409 again (not a libvirt error)" "$code $(jq -r .error "$W/api.out" | cut -c1-43)" \
	"409 node \"c2\": its ephemeral disk's key is gone"
code=$(curl -s -o "$W/api.out" -w '%{http_code}' --unix-socket "$ISC_SOCKET" -X POST \
	-H 'Content-Type: application/json' -d '{"rekey":true}' http://localhost/v1/nodes/c2/start)
t_is "start c2 with rekey: 200: a fresh disk with a new key" "$code" 200
t_ok "... the answer says rekeyed: true" jq -e '.rekeyed == true and .already == false' "$W/api.out"
t_ok "c2 runs and says hello" wait_for 180 has_hello
t_ok "a new key" test "$(ins .disks.ephemeral.secret_uuid)" != "$gone_secret"
new_key=$(ins .disks.ephemeral.secret_uuid)
t_is "exactly one secret, one volume for c2" "$(secrets_of_c) $(vol_count)" "1 1"
grep -q "node c2: its disk's key (secret $gone_secret) is gone from libvirt" "$W/dockd.log"
t_is "the dock says why in its log" $? 0
t_ok "and in the audit trail" bash -c "'$A' audit --node c2 --json | jq -e '[.[] | select(.action == \"rekey-at-start\" and .result == \"ok\")] | length == 1'"
t_ok "... the operator's start with rekey and rekeyed, the refused ones before it" bash -c "'$A' audit --node c2 --json | jq -e '[.[] | select(.action == \"start\" and .result != \"intent\")] | (.[-3:] | map(.result[0:5])) == [\"error\", \"error\", \"ok\"] and .[-1].detail.rekey == true and .[-1].detail.rekeyed == true'"
t_ok "stop c2, start --rekey c2 with its key there: an ordinary start" bash -c "'$A' stop c2 && '$A' start --rekey c2"
t_is "... the same key as before (nothing re-keyed)" "$(ins .disks.ephemeral.secret_uuid)" "$new_key"

t_ok "destroy c2" "$A" destroy --force c2
t_is "no secret left" "$(secrets_of_c)" 0
