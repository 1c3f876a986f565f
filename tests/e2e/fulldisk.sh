#!/bin/bash
# End-to-end test of a full disk, pinned images and record versions, inside
# tests/lib/sandbox.sh. state_dir (and the volume pool in it) is a 128 MiB
# tmpfs of the sandbox's own mount namespace, filled to the brim by hand
# and by a guest writing to its /scratch: every API call still answers,
# create, start and cleanse are refused naming the free space and the
# limit, stop and destroy work, every record parses, the audit trail is
# intact, destroy frees space and create works again once it is back. Then
# micro is rebuilt under the same name: start refuses naming both digests,
# start --rebase moves the node (audited). Last, at a dock restart, a
# record of the old format (no version, no pin) is upgraded in place and a
# record newer than the dock is refused without its node being touched.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "fulldisk: min_free_mib, a full state_dir, pinned images, record versions"

S=$W/state
mkdir -p "$S"
mount -t tmpfs -o size=128m,mode=0711 isc-fulldisk "$S" || exit 1
dock_setup "stop_timeout_s = 5
min_free_mib = 80" micro
dock_start
trap 'dock_finish; exit $?' EXIT

avail() { df --output=avail -B1 "$S" | tail -1 | tr -d ' '; }
ins() { "$A" inspect "$1" | jq -r "$2"; }
has_hello() { "$A" inspect "$1" | jq -e '.agent.hello != null and .state == "running"' >/dev/null; }
refused() { # DESC EXPECTED CMD...: fails with exactly "iscadm: EXPECTED"
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc != 0 ] && [ "$out" = "iscadm: $want" ]; then t_pass "$desc"; else
		t_fail "$desc" "exit $rc" "got:  $out" "want: iscadm: $want"; fi
}
records_parse() { # every record is whole JSON, no temp file left
	local f
	for f in "$S"/nodes/*; do
		case $f in *.json) jq -e .name "$f" >/dev/null || return 1 ;; *) return 1 ;; esac
	done
}

# --- filled by hand, then by a guest
t_ok "create a (scratch 128M, more than the disk has)" \
	"$A" create a --image micro --memory 160M --scratch-size 128M
t_ok "create b, not started" "$A" create b --image micro --memory 160M --scratch-size 16M --no-start
t_ok "a says hello" wait_for 120 has_hello a
t_ok "by hand: a 56 MiB file in state_dir" fallocate -l 56M "$S/hand-fill"
guest_attach a
# Not guest_run: when the host's disk is full QEMU pauses the guest on
# ENOSPC (or the guest's dd fails first); either ends the filling.
printf '\ndd if=/dev/zero of=/scratch/fill bs=1M; sync; echo FILL-$?-DONE\n' >&"${PTYFD[a]}"
guest_stopped() {
	[ "$(virsh domstate isc-a | head -1)" = paused ] ||
		grep -aq 'FILL-[0-9]*-DONE' "$W/run/console/a.log"
}
t_ok "the guest writes to /scratch until it stops" wait_for 150 guest_stopped
t_ok "... when the host's disk is full: $(avail) bytes free, a $(virsh domstate isc-a --reason | head -1)" \
	test "$(avail)" -lt 1048576
dd if=/dev/zero of="$S/brim" bs=4k >/dev/null 2>&1
t_is "by hand to the brim: 0 bytes free" "$(avail)" 0

# --- every API call answers
t_ok "ls answers" "$A" ls
t_ok "inspect answers" "$A" inspect a
t_ok "status answers (0, or 7 for a FAIL row)" bash -c "'$A' status a; rc=\$?; [ \$rc = 0 ] || [ \$rc = 7 ]"
t_ok "image ls answers" "$A" image ls
refused "create refused, naming the free space and the limit" \
	"create refused: state_dir $S: 0 MiB free, below min_free_mib 80" \
	"$A" create c --image micro --scratch-size 16M
t_is "... with HTTP 507" "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$ISC_SOCKET" \
	-X POST -d '{"name":"c","image":"micro"}' http://dock/v1/nodes)" 507
t_ok "... and nothing of c exists" bash -c "! virsh dominfo isc-c && [ ! -e '$S/nodes/c.json' ]"
refused "start refused" "node b: start refused: state_dir $S: 0 MiB free, below min_free_mib 80" \
	"$A" start b
refused "cleanse refused" "node a: cleanse refused: state_dir $S: 0 MiB free, below min_free_mib 80" \
	"$A" cleanse a
t_ok "stop a works on the full disk" "$A" stop a
t_is "a is stopped" "$(ins a .state)" stopped
t_ok "the records' reserve was given back for it" grep -q "diskguard: out of space: the 4 MiB reserve" "$W/dockd.log"
t_ok "every node record parses (jq), no temp file left" records_parse
t_ok "audit verify: the chain is intact" "$A" audit verify
before=$(avail)
t_ok "destroy a works on the full disk" "$A" destroy a
t_ok "destroy freed space ($before -> $(avail) bytes)" test "$(avail)" -gt $((before + 32 * 1048576))
t_ok "every node record parses after destroy" records_parse
out=$("$A" create c --image micro --scratch-size 16M 2>&1)
if grep -Eq "^iscadm: create refused: state_dir $S: [1-7][0-9] MiB free, below min_free_mib 80\$" <<<"$out"; then
	t_pass "below min_free_mib still: create refused, naming the new free space"
else t_fail "below min_free_mib still: create refused, naming the new free space" "got: $out"; fi
rm -f "$S/hand-fill" "$S/brim"
t_ok "the hand-made files removed: create c works again" \
	"$A" create c --image micro --memory 160M --scratch-size 16M
t_ok "audit verify: still intact" "$A" audit verify

# --- pinned images: micro rebuilt under the same name
M=$W/images/micro
OLD=$(jq -r '.files[] | select(.role == "base") | .sha256' "$M/manifest.json")
t_is "inspect shows c's pin: micro's base" "$(ins c .disks.base.pinned_sha256)" "$OLD"
t_ok "stop c" "$A" stop c
# The same content packed again (compressed clusters): another digest, as
# a rebuild has; the manifest fixed up as isc-image writes it.
qemu-img convert -c -O qcow2 "$M/base.qcow2" "$M/base.new" && mv "$M/base.new" "$M/base.qcow2"
chmod a+r "$M/base.qcow2"
NEW=$(sha256sum "$M/base.qcow2" | cut -d' ' -f1)
jq --arg s "$NEW" --argjson n "$(stat -c %s "$M/base.qcow2")" \
	'(.files[] | select(.role == "base")) |= (.sha256 = $s | .size = $n)' "$M/manifest.json" >"$M/m.new" &&
	mv "$M/m.new" "$M/manifest.json"
t_ok "micro rebuilt: its base digest changed" test "$NEW" != "$OLD"
refused "start refuses the rebuilt image, naming both digests" \
	"node c: image micro was rebuilt: pinned base sha256 $OLD, now $NEW; start --rebase moves the node to the new base" \
	"$A" start c
t_is "c stays stopped" "$(ins c .state)" stopped
t_ok "start c --rebase" "$A" start c --rebase
t_is "c is pinned to the new base" "$(ins c .disks.base.pinned_sha256)" "$NEW"
t_ok "the rebase is in the audit trail with both digests" bash -c "'$A' audit --node c --json | jq -e --arg o '$OLD' --arg n '$NEW' '[.[] | select(.action == \"rebase\" and .detail.pinned_sha256 == \$o and .detail.base_sha256 == \$n)] | length == 1'"
t_ok "... and the start that asked for it" bash -c "'$A' audit --node c --json | jq -e '[.[] | select(.action == \"start\" and .result == \"ok\" and .detail.rebase == true)] | length == 1'"
t_ok "c boots the new base and says hello" wait_for 120 has_hello c

# --- record versions, at a dock restart
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
keep() { jq -S 'del(.version, .base_sha256, .hello)' "$1"; }
jq 'del(.version, .base_sha256)' "$S/nodes/c.json" >"$W/c.v1" && cp "$W/c.v1" "$S/nodes/c.json"
jq '.version = 99' "$S/nodes/b.json" >"$W/b.v99" && cp "$W/b.v99" "$S/nodes/b.json"
t_is "c's record is of the old format now (no version, no pin)" "$(jq -r '.version // "none"' "$S/nodes/c.json")" none
dock_start
t_is "c's record upgraded: version 3" "$(jq -r .version "$S/nodes/c.json")" 3
t_is "... pinned to micro's current base" "$(jq -r .base_sha256 "$S/nodes/c.json")" "$NEW"
t_is "... nothing else changed" "$(keep "$S/nodes/c.json")" "$(keep "$W/c.v1")"
t_ok "... and the log says so" grep -q "node c: record version 1 upgraded to 3; pinned to image micro's current base sha256 $NEW" "$W/dockd.log"
t_is "c still running" "$(ins c .state)" running
t_ok "the record newer than the dock is refused, its file and both versions named" \
	grep -q "node b: record not loaded, its libvirt objects and volume left alone: $S/nodes/b.json: node record: version 99 is newer than this dock's 3 (refusing to read it)" "$W/dockd.log"
t_ok "... b is not listed" bash -c "! '$A' ls | grep -q '^b '"
t_ok "... its domain and volume are left alone" bash -c "virsh dominfo isc-b >/dev/null && [ -e '$S/volumes/isc-b.img' ]"
t_is "... its record is as it was" "$(cat "$S/nodes/b.json")" "$(cat "$W/b.v99")"
t_ok "audit verify: intact at the end" "$A" audit verify
