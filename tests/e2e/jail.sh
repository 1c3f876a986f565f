#!/bin/bash
# End-to-end test of the VMM jail (issue 17), inside tests/lib/sandbox.sh:
# two nodes' QEMU under distinct uids of vmm_uid_range; one node's uid can
# neither read the other's volume nor open its QEMU's /proc/PID/mem or
# environ; the `vmm` row PASS, FAIL for a domain redefined by hand without
# the dock's seclabel, WARN for an older dock's node until its next start
# (which gives it a uid); an exhausted range refused naming vmm_uid_range;
# kill -9 of the dock in the middle of a create orphans no uid; a cleanse
# keeps the node's uid.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "jail: a uid per node's QEMU, checked dock-side"

. "$SRC/tests/e2e/lib.sh"
# Two uids: a third node is refused.
dock_setup "vmm_uid_range = 90000-90001
stop_timeout_s = 2
shutdown_timeout_s = 5" micro
dock_start

GID=$(getent group libvirt-qemu | cut -d: -f3)
row() { "$A" status "$1" --json | jq -r --arg id "$2" '.checks[] | select(.id == $id) | "\(.status) \(.evidence)"'; }
uid_of() { jq -r '.vmm_uid // "none"' "$W/state/nodes/$1.json" 2>/dev/null || echo "no-record"; }
qpid() { cat "/run/libvirt/qemu/isc-$1.pid" 2>/dev/null || echo "no-pid"; }
as_uid() { # UID CMD...: CMD under UID, the dock's QEMU group, no other group
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$GID" --clear-groups --inh-caps=-all -- "$@"
}
# denied UID PATH: PATH exists, and UID cannot open it for reading.
denied() { [ -e "$2" ] && ! as_uid "$1" bash -c 'exec 3<"$0"' "$2" 2>/dev/null; }
finish() {
	kill "$DOCKD_PID" 2>/dev/null
	wait 2>/dev/null
	dock_diag
	t_done
}
trap 'finish; exit $?' EXIT

# side by side (a create waits on libvirt and QEMU, not only on a CPU)
bg_run a "$A" create a --image micro --memory 160M --scratch-size 32M
bg_run b "$A" create b --image micro --memory 160M --scratch-size 32M
bg_ok "create a" a
bg_ok "create b" b
UA=$(uid_of a) UB=$(uid_of b)
t_ok "a and b have distinct uids of the range ($UA, $UB)" \
	bash -c "[ '$UA' != '$UB' ] && [ '$UA' -ge 90000 ] && [ '$UB' -ge 90000 ] && [ '$UA' -le 90001 ] && [ '$UB' -le 90001 ]"
PA=$(qpid a) PB=$(qpid b)
t_ok "both QEMU processes found ($PA, $PB)" test -n "$PA" -a -n "$PB" -a -e "/proc/$PA" -a -e "/proc/$PB"
t_diag "a's QEMU: $(grep -E '^(Uid|Gid|Groups|Seccomp|NoNewPrivs|CapEff):' "/proc/$PA/status" | tr -s '\t\n' '  ')" "cgroup: $(tr '\n' ' ' <"/proc/$PA/cgroup")"
t_is "a's QEMU runs as a's uid" "$(awk '/^Uid:/{print $2}' "/proc/$PA/status")" "$UA"
t_is "b's QEMU runs as b's uid" "$(awk '/^Uid:/{print $2}' "/proc/$PB/status")" "$UB"
t_is "the image's kernel stays root's" "$(stat -c '%u' "$W/images/micro/vmlinuz")" 0
t_is "a's volume: owned by a's uid, 0600" "$(stat -c '%u %a' "$W/state/volumes/isc-a.img")" "$UA 600"
t_is "a's console log is not world-readable" "$(stat -c '%a' "$W/run/console/a.log" | cut -c3)" 0
t_is "the base disk stays root's, not writable by others" "$(stat -c '%u %A' "$W/images/micro/base.qcow2" | cut -c1-8)" "0 -rw-r-"
t_ok "a's uid cannot read b's volume" denied "$UA" "$W/state/volumes/isc-b.img"
t_ok "b's uid cannot read a's volume" denied "$UB" "$W/state/volumes/isc-a.img"
t_ok "a's uid cannot open b's QEMU's /proc/PID/mem" denied "$UA" "/proc/$PB/mem"
t_ok "a's uid cannot read b's QEMU's environ" denied "$UA" "/proc/$PB/environ"
t_ok "b's uid cannot open a's QEMU's /proc/PID/mem" denied "$UB" "/proc/$PA/mem"
# The control: the same commands work for the QEMU's own uid, so the
# refusals above are the uids', not the commands' failing anyway.
t_ok "(control) b's own uid opens b's QEMU's environ" as_uid "$UB" cat "/proc/$PB/environ"
t_ok "(control) root reads b's volume" head -c1 "$W/state/volumes/isc-b.img"
# shellcheck disable=SC2254 # a glob on purpose
t_like() { case $2 in $3) t_pass "$1" ;; *) t_fail "$1" "got: $2" ;; esac; }
t_like "vmm row of a PASS" "$(row a vmm)" "PASS *uid/gid $UA/$GID its own*"
t_like "vmm row of b PASS" "$(row b vmm)" "PASS *"
t_like "the evidence says whether QEMU is dumpable" "$(row a vmm)" "*dumpable*"
t_diag "vmm row of a: $(row a vmm)"

# --- the range is exhausted: refused at create, nothing made
"$A" create c --image micro --memory 160M --scratch-size 32M >"$W/c.err" 2>&1
t_is "a third node is refused (exit 4: conflict)" $? 4
t_ok "... naming vmm_uid_range ($(head -c 200 "$W/c.err"))" grep -q "vmm_uid_range 90000-90001 is exhausted" "$W/c.err"
t_ok "... and nothing of c exists" bash -c "[ ! -e '$W/state/nodes/c.json' ] && ! virsh dominfo isc-c"

# --- a domain the dock did not confine: b redefined by hand without the seclabel
virsh destroy isc-b >/dev/null
virsh dumpxml --inactive isc-b | sed '/<seclabel type=.static/,/<\/seclabel>/d' >"$W/b-bare.xml"
t_ok "b redefined and started without the dock's seclabel" bash -c "virsh define '$W/b-bare.xml' && virsh start isc-b"
t_like "vmm row of b FAIL (its QEMU is not under b's uid)" "$(row b vmm)" "FAIL *"

# --- an older dock's node: no uid in its record, its QEMU libvirt's default
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
jq 'del(.vmm_uid) | .version = 2' "$W/state/nodes/a.json" >"$W/a.json" && mv "$W/a.json" "$W/state/nodes/a.json"
virsh destroy isc-a >/dev/null
virsh dumpxml --inactive isc-a | sed '/<seclabel type=.static/,/<\/seclabel>/d' >"$W/a-bare.xml"
virsh define "$W/a-bare.xml" >/dev/null && virsh start isc-a >/dev/null
dock_start
t_is "the dock restarts" $? 0
t_like "vmm row of the older node a: WARN, restart it" "$(row a vmm)" "WARN *no uid of its own yet: restart the node*"
t_is "a's record upgraded, still without a uid" "$(jq -r '"\(.version) \(.vmm_uid // "none")"' "$W/state/nodes/a.json")" "3 none"
t_ok "stop and start a" bash -c "'$A' stop a && '$A' start a"
NA=$(uid_of a)
t_ok "a got a uid of the range at its start ($NA)" bash -c "[ '$NA' -ge 90000 ] && [ '$NA' -le 90001 ]"
t_like "vmm row of a PASS after its restart" "$(row a vmm)" "PASS *uid/gid $NA/$GID*"
t_is "a's volume re-owned by its uid" "$(stat -c '%u' "$W/state/volumes/isc-a.img")" "$NA"

# --- kill -9 in the middle of a create: no uid orphaned
t_ok "destroy b (its uid is free again)" "$A" destroy --force b
"$A" create c --image micro --memory 160M --scratch-size 32M >/dev/null 2>&1 &
client=$!
for _ in $(seq 400); do
	grep -qs '"state":"creating"' "$W/state/nodes/c.json" && break
	sleep 0.05
done
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
t_is "the dock died with c's record in creating, holding a uid" \
	"$(jq -r '"\(.state) \(.vmm_uid != null)"' "$W/state/nodes/c.json" 2>/dev/null)" "creating true"
dock_start
t_is "the dock restarts" $? 0
t_ok "the half-made c is gone" bash -c "[ ! -e '$W/state/nodes/c.json' ] && ! virsh dominfo isc-c"
t_ok "its uid is free: c is created again" "$A" create c --image micro --memory 160M --scratch-size 32M
t_ok "a and c have distinct uids" test "$(uid_of a)" != "$(uid_of c)"
UC=$(uid_of c)
t_ok "cleanse c (fresh disk, new key, new boot)" "$A" cleanse c
t_is "c keeps its uid across the cleanse" "$(uid_of c)" "$UC"
t_is "c's new volume is its uid's" "$(stat -c '%u %a' "$W/state/volumes/isc-c.img")" "$UC 600"
t_like "vmm row of c PASS after the cleanse" "$(row c vmm)" "PASS *uid/gid $UC/$GID*"
t_ok "destroy a and c" bash -c "'$A' destroy --force a && '$A' destroy --force c"
