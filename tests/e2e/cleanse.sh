#!/bin/bash
# End-to-end test of self-cleansing, inside tests/lib/sandbox.sh: what a
# node writes to /scratch is gone after a cleanse (on demand, and when its
# maximum lifetime is up), the old key is gone from libvirt (the old data is
# crypto-shredded), the node is back and reporting; a dock killed in the
# middle of a cleanse finishes it at restart and leaves nothing behind.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "cleanse: fresh ephemeral disk with a new key, lifetime timer, crash in the middle"
dock_setup "stop_timeout = 15" micro
dock_start
trap 'dock_finish; exit $?' EXIT

ins() { "$A" inspect c | jq -r "$1"; }
has_hello() { "$A" inspect c | jq -e '.agent.hello != null and .state == "running"' >/dev/null; }
marker() { guest_run c "test -e /scratch/marker"; }
cleanses_are() { [ "$(ins .cleanses)" = "$1" ] && has_hello; }
secrets_of_c() { virsh secret-list | grep -c 'isc-c.img'; }

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
t_ok "the lifetime expires and c is cleansed by the dock (within 90 s)" wait_for 90 cleanses_are 2
grep -q "maximum lifetime (40s) reached" "$W/dockd.log"
t_is "the dock logged why" $? 0
guest_attach c
marker
t_is "the marker is gone after the automatic cleanse" $? 1
t_ok "the timer is re-armed" test "$(ins .next_cleanse)" -gt "$(date +%s)"

# --- kill -9 the dock in the middle of a cleanse
"$A" cleanse c >/dev/null 2>&1 &
seen=
for _ in $(seq 80); do
	seen=$(ins .state)
	[ "$seen" = cleansing ] && break
	sleep 0.1
done
kill -9 "$DOCKD_PID"
t_is "the dock was killed while a cleanse was under way" "$seen" cleansing
wait "$DOCKD_PID" 2>/dev/null
dock_start
t_is "the dock restarts" $? 0
t_ok "the cleanse is finished: c running and saying hello" wait_for 120 has_hello
t_ok "three cleanses counted" test "$(ins .cleanses)" -ge 3
t_is "still exactly one secret for c" "$(secrets_of_c)" 1
t_is "exactly one volume for c" "$(virsh vol-list isc-ephemeral | grep -c 'isc-c.img')" 1
t_ok "destroy c" "$A" destroy c
t_is "no secret left" "$(secrets_of_c)" 0
