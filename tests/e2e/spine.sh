#!/bin/bash
# End-to-end test of the dock's spine, run inside tests/lib/sandbox.sh (own
# libvirtd, network and mount namespaces, TCG): create a node from the micro
# image, wait for its agent, check through libvirt (not through dockd) what
# the node is made of, stop/start it, kill -9 the dock and restart it,
# reconcile a crashed create, destroy it and check that nothing is left.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "spine: dockd + iscadm + libvirt + QEMU (TCG) + micro image"

. "$SRC/tests/e2e/lib.sh"
dock_setup "stop_timeout_s = 20
socket_group = users" micro

hello_of() { "$A" inspect "$1" | jq -er '.agent.hello.boot_id'; }
has_hello() { hello_of "$1" >/dev/null; }
state_of() { "$A" inspect "$1" | jq -r .state; }
dom_state() { virsh domstate "$1" 2>/dev/null | head -1; }
nothing_of() { # NAME: no libvirt object, volume, state file or set element for it
	local n=$1 bad=""
	virsh dominfo "isc-$n" >/dev/null 2>&1 && bad="$bad domain"
	virsh net-info "isc-$n" >/dev/null 2>&1 && bad="$bad network"
	virsh secret-list | grep -q "isc-$n.img" && bad="$bad secret"
	virsh vol-list isc-ephemeral 2>/dev/null | grep -q "isc-$n.img" && bad="$bad volume"
	[ -e "$W/state/nodes/$n.json" ] && bad="$bad state-file"
	[ -e "$W/state/volumes/isc-$n.img" ] && bad="$bad volume-file"
	compgen -G "$W/run/console/$n.log*" >/dev/null && bad="$bad console-log"
	[ -z "$bad" ] || { echo "left behind:$bad"; return 1; }
}
# api METHOD PATH [BODY]: the API over the unix socket, as any client; the
# status code on stdout, the answer in $W/api.out.
api() {
	local body=()
	[ $# -ge 3 ] && body=(-H 'Content-Type: application/json' -d "$3")
	curl -s -o "$W/api.out" -w '%{http_code}' --unix-socket "$ISC_SOCKET" -X "$1" "${body[@]}" \
		"http://localhost$2"
}
trap 'dock_finish_wait; exit $?' EXIT

# --- configuration
t_ok "dockd -t accepts the test configuration" "$D" -t -c "$W/dockd.conf"
# --- the binaries' own options: --version, --help/-h, a bad option exits 2
U=$SRC/build/isc-unseal
for b in "$D" "$U"; do
	n=$(basename "$b")
	out=$("$b" --version 2>&1)
	t_ok "$n --version: one line \"$n VERSION (commit C)\", exit $?" \
		bash -c "[ $? = 0 ] && grep -Eqx '$n [^ ]+ \\(commit [^ )]+\\)' <<<\"\$0\"" "$out"
	for h in --help -h; do
		out=$("$b" $h 2>/dev/null)
		t_ok "$n $h: usage on stdout, exit 0" bash -c "[ $? = 0 ] && grep -q '^usage: $n' <<<\"\$0\"" "$out"
	done
	"$b" --bogus >/dev/null 2>"$W/usage.err"
	rc=$?
	t_ok "$n --bogus: usage on stderr, exit $rc (2)" bash -c "[ $rc = 2 ] && grep -q 'usage: $n' '$W/usage.err'"
done
t_ok "dockd --help names every option" bash -c "h=\$('$D' --help); for o in -c -f -t --test-hooks --version --help; do grep -q -- \"\$o\" <<<\"\$h\" || exit 1; done"
"$D" -c "$W/dockd.conf" stray >/dev/null 2>&1
t_is "dockd with a stray argument exits 2" $? 2
"$U" a b c d >/dev/null 2>&1
t_is "isc-unseal with a command line of no form exits 2" $? 2
printf 'accel = warp\n' >"$W/bad.conf"
out=$("$D" -t -c "$W/bad.conf" 2>&1)
t_is "dockd -t names the bad line" "$out" "dockd: $W/bad.conf:1: accel must be auto, kvm or tcg, not \"warp\""
out=$("$A" --socket "$W/none.sock" ls 2>&1)
t_is "iscadm says in one line when dockd is not there" "$out" \
	"iscadm: cannot reach dockd: no socket at $W/none.sock (is dockd running? --socket or ISC_SOCKET choose another socket)"

sed 's|^uri = .*|uri = qemu+unix:///system?socket=/nonexistent/sock|' "$W/dockd.conf" >"$W/nolibvirt.conf"
out=$("$D" -c "$W/nolibvirt.conf" -f 2>&1 </dev/null)
rc=$?
t_ok "dockd says in one line that libvirt is not reachable, exit $rc" \
	bash -c "[ $rc != 0 ] && [ \$(wc -l <<<\"\$0\") = 1 ] && grep -q 'is not reachable' <<<\"\$0\"" "$out"
dock_start; t_is "dockd starts" $? 0
# Peer credentials: the dock's group here is "users" (nobody is not in it
# by the user database); the socket is 0660 root:users, so open it up for a
# moment to show that dockd itself refuses others.
chmod 0666 "$ISC_SOCKET"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$A" ls 2>&1)
case $out in
*"iscadm: permission denied: not root and not in the dock's group: the API is open to root and group users; add your user to it (sudo usermod -aG users"*)
	t_pass "a non-root peer outside the dock's group gets 403, told its group and what to do" ;;
*) t_fail "a non-root peer outside the dock's group gets 403, told its group and what to do" "$out" ;;
esac
chmod 0660 "$ISC_SOCKET"
# The groups judged are the caller's real ones (SO_PEERGROUPS), not the
# user database's: nobody given "users" by setgroups is in.
t_ok "a peer holding the dock's group as a supplementary group is let in" \
	setpriv --reuid=65534 --regid=65534 --groups="$(getent group users | cut -d: -f3)" "$A" ls
t_ok "image ls lists micro" bash -c "'$A' image ls | grep -q '^micro '"

# --- refusals: clear message, non-zero exit, nothing created
refuse() { # DESC EXPECTED-MESSAGE ARGS...
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$A" create "$@" 2>&1)
	rc=$?
	if [ $rc != 0 ] && [ "${out% (try iscadm help create)}" = "iscadm: $want" ]; then t_pass "$desc"; else
		t_fail "$desc" "exit $rc" "got: $out" "want: iscadm: $want"; fi
}
refuse "bad name refused" 'create: node name "Web1" must start with a lower-case letter' Web1 --image micro
refuse "unknown image refused" "image \"nosuch\" not found in $W/images" web1 --image nosuch
refuse "memory over the limit refused" "memory must be between 64 and 16384 MiB (the dock's limit)" \
	web1 --image micro --memory 64G
refuse "scratch too small refused" "scratch size must be between 16 and 65536 MiB (the dock's limit)" \
	web1 --image micro --scratch-size 1M
t_ok "nothing created by refused requests" nothing_of web1
t_is "no domain at all after refusals" "$(virsh list --all --name | grep -c .)" 0

# --- a real node
t_ok "create web1 (micro, 256 MiB, 1 vCPU, 256M scratch)" \
	"$A" create web1 --image micro --memory 256 --vcpus 1 --scratch-size 256M
t_is "web1 is running" "$(state_of web1)" running
t_ok "agent hello arrives (boot under TCG)" wait_for 120 has_hello web1
boot1=$(hello_of web1)
t_ok "ls shows web1 with its IP" bash -c "'$A' ls | grep -Eq '^web1 +running +micro +10\\.231\\.0\\.2 '"
refuse "duplicate name refused" 'node "web1" already exists' web1 --image micro

"$A" inspect web1 --json >"$W/inspect1.json"
J=$(cat "$W/inspect1.json")
t_ok "inspect has the documented fields" jq -e '.name=="web1" and .state=="running" and .image=="micro"
	and .domain=="isc-web1" and .network=="isc-web1" and (.ip|test("^10\\.231\\.0\\.")) and (.mac|test("^52:54:00:"))
	and .disks.base.readonly==true and (.disks.base.sha256|length)==64 and (.disks.base.path|length)>0
	and .disks.ephemeral.format=="luks" and (.disks.ephemeral.secret_uuid|length)==36
	and (.agent.hello.agent|length)>0 and (.agent.hello.kernel|length)>0' "$W/inspect1.json"
# dockd's own timing of the create (#7): inspect's timing object, every
# phase measured, and the same in one log line; no figure is judged.
t_ok "inspect: the create's timing, every phase a number >= 0" jq -e '.timing.op=="create"
	and .timing.complete==true and (.timing.ms|length)==9
	and ([.timing.ms[]] | all(type=="number" and . >= 0))' "$W/inspect1.json"
t_ok "dockd logged the create's timing in one line" grep -Eq \
	'node web1: create timing: validate=[0-9.]+m?s volume=[0-9.]+m?s luks=[0-9.]+m?s render=[0-9.]+m?s network=[0-9.]+m?s firewall=[0-9.]+m?s domain=[0-9.]+m?s first_line=[0-9.]+m?s total=[0-9.]+m?s$' \
	"$W/dockd.log"
SECRET=$(jq -r .disks.ephemeral.secret_uuid <<<"$J")
VOL=$(jq -r .disks.ephemeral.path <<<"$J")
BASE=$(jq -r .disks.base.path <<<"$J")

# --- what libvirt says, not what dockd says
virsh dumpxml isc-web1 >"$W/web1.xml"
t_ok "libvirt: base disk is attached read-only" python3 -c '
import sys, xml.etree.ElementTree as E
d = E.parse(sys.argv[2]).getroot()
ok = [x for x in d.iter("disk") if x.find("source").get("file") == sys.argv[1] and x.find("readonly") is not None]
sys.exit(0 if ok else 1)' "$BASE" "$W/web1.xml"
t_ok "libvirt: ephemeral disk is LUKS with the node's secret" python3 -c '
import sys, xml.etree.ElementTree as E
d = E.parse(sys.argv[3]).getroot()
for x in d.iter("disk"):
    if x.find("source").get("file") == sys.argv[1]:
        e = x.find("encryption"); s = e.find("secret")
        sys.exit(0 if e.get("format") == "luks" and s.get("uuid") == sys.argv[2] and x.find("readonly") is None else 1)
sys.exit(1)' "$VOL" "$SECRET" "$W/web1.xml"
t_ok "the volume file carries a LUKS header" cryptsetup isLuks "$VOL"
virsh secret-dumpxml "$SECRET" >"$W/secret1.xml"
t_ok "libvirt: secret is ephemeral and private" bash -c "grep -q \"ephemeral='yes'\" '$W/secret1.xml' && grep -q \"private='yes'\" '$W/secret1.xml'"
t_ok "libvirt: reading the secret's value fails" bash -c "! virsh secret-get-value $SECRET"
t_ok "the key is nowhere in the dock's state" bash -c "! grep -rqi 'passphrase\\|\"key\"' '$W/state/nodes'"
virsh net-dumpxml isc-web1 >"$W/net1.xml"
t_ok "libvirt: network forwards in mode open" grep -q "<forward mode='open'/>" "$W/net1.xml"
t_ok "libvirt: memory hard limit applied" bash -c "virsh memtune isc-web1 | grep -Eq 'hard_limit *: *[0-9]+$'"
t_ok "libvirt: agent channel org.isc.agent.0 on a unix socket" grep -q "name='org.isc.agent.0'" "$W/web1.xml"
t_ok "guest: root mounted read-only (console)" grep -q "root mounted read-only" "$W/run/console/web1.log"

# --- a second node: own network, own subnet; firewall separates them
t_ok "create web2" "$A" create web2 --image micro --memory 128 --scratch-size 64M
t_ok "web2 has its own bridge" bash -c "[ \"\$(virsh net-dumpxml isc-web1 | grep -o \"bridge name='[^']*'\")\" != \"\$(virsh net-dumpxml isc-web2 | grep -o \"bridge name='[^']*'\")\" ]"
t_ok "firewall knows both bridges (node-to-node drop)" bash -c "nft list set inet isc node_bridges | grep -q iscbr0 && nft list set inet isc node_bridges | grep -q iscbr1"

# --- stop / start; the console log kept across boots (issue 18): a boot
# marker before each boot, rotated at start when big, read by tail and by
# since (boots), followed as a stream (curl -N on the API)
CON=$W/run/console/web1.log
LOGS="http://dock/v1/nodes"
logs_get() { curl -s --unix-socket "$ISC_SOCKET" "$LOGS/$1/logs?$2"; }
follow_code() { curl -s -o /dev/null -w '%{http_code}' --max-time "$2" --unix-socket "$ISC_SOCKET" "$LOGS/$1/logs?follow=1&tail=0"; }
t_is "console: one boot marker after create" "$(grep -c '^-- isc: boot [0-9T:Z-]* --$' "$CON")" 1
curl -sN --unix-socket "$ISC_SOCKET" "$LOGS/web1/logs?follow=1&tail=0" >"$W/follow1.out" 2>&1 &
FOLLOW1=$!
sleep 0.5
t_ok "stop web1" "$A" stop web1
t_is "web1 stopped (dock)" "$(state_of web1)" stopped
t_is "web1 shut off (libvirt)" "$(dom_state isc-web1)" "shut off"
t_is "stop of a stopped node: 200" "$(api POST /v1/nodes/web1/stop)" 200
t_ok "... with the node's view and already: true" jq -e '.already == true and .name == "web1" and .state == "stopped"' "$W/api.out"
t_ok "console: a follower started before the stop streams the guest's shutdown line" \
	wait_for 10 grep -q 'isc-micro: stopping' "$W/follow1.out"
t_ok "console: the follower's lines are escaped lines, no CR" bash -c "! grep -q \$'\r' '$W/follow1.out'"
kill "$FOLLOW1"
wait "$FOLLOW1" 2>/dev/null
t_ok "console: dockd answers after the follower was killed" "$A" ls
t_mid=$(date +%s)
# 1.2 MB of lines: over the 1 MiB at which the next start rotates the log.
yes 'filler: a line of the e2e test that makes the console log big enough to rotate' |
	head -c 1200000 >>"$CON"
t_ok "start web1" "$A" start web1
t_ok "agent hello after restart" wait_for 120 has_hello web1
t_ok "console: the big log was rotated at start (web1.log.0)" test "$(stat -c %s "$CON.0")" -gt 1000000
# (after a newline that ends the old file's last line, cut by the rotation)
t_ok "console: the new log begins with the boot marker" bash -c "grep -m1 . '$CON' | grep -q '^-- isc: boot '"
t_ok "console: its files stay bounded (4 files of at most 2 MiB)" \
	test "$(cat "$CON" "$CON".* | wc -c)" -le $((4 * 2 * 1024 * 1024))
second_boot() { curl -sN --max-time 2 --unix-socket "$ISC_SOCKET" "$LOGS/web1/logs?follow=1" >"$W/all.out"; [ "$(grep -c 'root mounted read-only' "$W/all.out")" = 2 ]; }
t_ok "console: both boots' lines, across the rotated files (the stream from the start)" wait_for 30 second_boot
t_is "console: two boot markers" "$(grep -c '^-- isc: boot ' "$W/all.out")" 2
t_is "console: tail=3 gives exactly 3 lines" "$(logs_get web1 tail=3 | jq '.lines|length')" 3
logs_get web1 "since=$t_mid" >"$W/since.json"
t_ok "console: since (a time between the boots) selects the second boot only" jq -e \
	'(.lines[0]|startswith("-- isc: boot ")) and ([.lines[]|select(startswith("-- isc: boot "))]|length)==1
	and ([.lines[]|select(test("root mounted read-only"))]|length)==1 and ([.lines[]|select(startswith("filler"))]|length)==0' \
	"$W/since.json"
t_ok "console: the view is bounded and counts what it left out" \
	bash -c "curl -s --unix-socket '$ISC_SOCKET' '$LOGS/web1/logs?tail=all' | jq -e '(.lines|length) <= 10000 and .omitted > 0'"
t_is "console: a bad since is refused naming it" "$(logs_get web1 since=yesterday | jq -r .error)" \
	'since "yesterday" is not a time: give RFC 3339 (2026-12-05T10:00:00Z, 2026-12-05T11:00:00+01:00), an age (90s, 10m, 6h, 2d, 1h30m) or UNIX seconds'
t_ok "console: an RFC 3339 since is taken too" bash -c "curl -s --unix-socket '$ISC_SOCKET' '$LOGS/web1/logs?since=$(date -u -d @"$t_mid" +%Y-%m-%dT%H:%M:%SZ)' | jq -e '([.lines[]|select(startswith(\"-- isc: boot \"))]|length)==1'"
t_is "start of a running node: 200" "$(api POST /v1/nodes/web1/start '{}')" 200
t_ok "... with already: true, rekeyed: false, still running" jq -e '.already == true and .rekeyed == false and .state == "running"' "$W/api.out"
t_is "start with a flag it does not know: 400" "$(api POST /v1/nodes/web1/start '{"rekey":true,"bogus":true}')" 400
t_ok "inspect: the start's timing (validate, render, domain, first line)" bash -c \
	"'$A' inspect web1 | jq -e '.timing.op==\"start\" and .timing.complete and .timing.ms.luks==null and .timing.ms.first_line >= 0'"
t_ok "a new boot id after restart" bash -c "[ \"\$(jq -r .agent.hello.boot_id <<<\"\$('$A' inspect web1)\")\" != '$boot1' ]"

# --- kill -9 the dock while nodes run
QPID=$(pgrep -f 'guest=isc-web1' | head -1)
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
dock_start; t_is "dock restarts after kill -9" $? 0
t_is "web1 still known and running" "$(state_of web1)" running
t_is "the same QEMU process runs web1" "$(pgrep -f 'guest=isc-web1' | head -1)" "$QPID"
t_ok "agent channel reconnects (hello on record)" wait_for 60 has_hello web1

# --- crash in the middle of a create: a record in 'creating' and orphans
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
jq '.name="ghost" | .state="creating" | .subnet=9 | .secret_uuid="" | .volume=""' \
	"$W/state/nodes/web2.json" >"$W/state/nodes/ghost.json"
cat >"$W/orphan-net.xml" <<N
<network><name>isc-orphan</name><bridge name='iscbr99'/><forward mode='open'/>
<ip address='10.231.5.1' netmask='255.255.255.0'/></network>
N
virsh net-define "$W/orphan-net.xml" >/dev/null && virsh net-start isc-orphan >/dev/null
virsh vol-create-as isc-ephemeral isc-orphan.img 1M >/dev/null
t_ok "orphans in place before the restart" bash -c "virsh net-info isc-orphan && virsh vol-info --pool isc-ephemeral isc-orphan.img"
dock_start; t_is "dock restarts with a half-made node and orphans" $? 0
t_ok "half-made node removed" nothing_of ghost
t_ok "orphan network and volume removed" nothing_of orphan
t_is "web1 and web2 still there" "$("$A" ls --json | jq -r '[.[].name]|sort|join(",")')" "web1,web2"

# --- tampered base image refuses to start
cp -r "$W/images/micro" "$W/images/tampered"
jq '.name="tampered"' "$W/images/micro/manifest.json" >"$W/images/tampered/manifest.json"
printf 'x' | dd of="$W/images/tampered/base.qcow2" bs=1 seek=100000 conv=notrunc 2>/dev/null
refuse "tampered base disk refused" "image \"tampered\": base.qcow2 digest mismatch: manifest says $(jq -r '.files[]|select(.name=="base.qcow2").sha256' "$W/images/micro/manifest.json" | cut -c1-12)..., file has $(sha256sum "$W/images/tampered/base.qcow2" | cut -c1-12)... (refusing to start)" web3 --image tampered
t_ok "nothing created for the tampered image" nothing_of web3
# A base that names a backing file boots content the digest does not
# cover: refused even with a manifest that matches it.
mkdir "$W/images/backed"
cp "$W/images/micro/"{vmlinuz,initrd.img} "$W/images/backed/" 2>/dev/null
qemu-img create -q -f qcow2 -b "$W/images/micro/base.qcow2" -F qcow2 "$W/images/backed/base.qcow2"
chmod -R a+rX "$W/images/backed"
jq '.name="backed"' "$W/images/micro/manifest.json" | jq --arg s "$(sha256sum "$W/images/backed/base.qcow2" | cut -d' ' -f1)" \
	--argjson n "$(stat -c %s "$W/images/backed/base.qcow2")" \
	'(.files[] | select(.name=="base.qcow2")) |= (.sha256=$s | .size=$n)' >"$W/images/backed/manifest.json"
refuse "a base naming a backing file refused" "image \"backed\": base base.qcow2 names a backing file (a base disk must stand alone; refusing it)" web3 --image backed
t_ok "nothing created for the backed image" nothing_of web3

# --- followers: at most 16 at once, released when their client goes, ended
# when their node is destroyed
pids=()
for _ in $(seq 16); do
	curl -sN --unix-socket "$ISC_SOCKET" "$LOGS/web2/logs?follow=1&tail=0" >/dev/null 2>&1 &
	pids+=($!)
done
sleep 1
sixteen() { [ "$(follow_code web2 1)" = 503 ]; }
t_ok "console: a 17th follower is refused (503)" wait_for 5 sixteen
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
freed() { [ "$(follow_code web2 1)" = 200 ]; }
t_ok "console: killed followers are released" wait_for 5 freed
curl -sN --unix-socket "$ISC_SOCKET" "$LOGS/web2/logs?follow=1&tail=1" >"$W/follow2.out" 2>&1 &
FOLLOW2=$!
t_ok "console: tail=1 streams the last line first" wait_for 5 test -s "$W/follow2.out"

# --- image rm: refused while a node uses the image, 404 unknown, removed when unused
t_is "DELETE an image two nodes use: 409" "$(api DELETE /v1/images/micro)" 409
t_ok "... naming them" grep -Eqx 'image "micro" is used by 2 nodes \((web1, web2|web2, web1)\): destroy them first' <(jq -r .error "$W/api.out")
t_ok "... and the image is all there" bash -c "cd '$W/images/micro' && sha256sum -c --quiet <(jq -r '.files[] | .sha256 + \"  \" + .name' manifest.json)"
t_is "DELETE an unknown image: 404" "$(api DELETE /v1/images/nosuch)" 404
t_is "DELETE a bad image name: 400" "$(api DELETE /v1/images/Bad..Name)" 400
cp -r "$W/images/micro" "$W/images/spare"
jq '.name="spare"' "$W/images/micro/manifest.json" >"$W/images/spare/manifest.json"
t_ok "image ls lists the spare copy" bash -c "'$A' image ls | grep -q '^spare '"
t_is "DELETE an image no node uses: 200" "$(api DELETE /v1/images/spare)" 200
t_ok "... saying what it removed (manifest + 3 files)" jq -e '.removed == "spare" and .files == 4 and .bytes > 0 and .dir_kept == false' "$W/api.out"
t_ok "... its directory is gone" test ! -e "$W/images/spare"
t_ok "... image ls no longer lists it" bash -c "! '$A' image ls | grep -q '^spare '"
t_is "... a second DELETE: 404" "$(api DELETE /v1/images/spare)" 404
t_ok "audit: the refusal and the removal, by uid 0" bash -c "'$A' audit --json | jq -e '[.[] | select(.action == \"image-rm\" and .result != \"intent\") | .result[0:5]] | . == [\"error\", \"error\", \"error\", \"ok\", \"error\"]'"

# --- destroy refuses a running node without force; removes every trace
t_is "DELETE a running node without force: 409" "$(api DELETE /v1/nodes/web2)" 409
t_is "... saying to stop it first or force" "$(jq -r .error "$W/api.out")" \
	'node "web2" is running: stop it first (iscadm stop web2) or destroy it with force (iscadm destroy --force web2)'
t_is "... and web2 still runs" "$(state_of web2) $(dom_state isc-web2)" "running running"
t_ok "iscadm destroy without --force refuses too (non-zero exit)" bash -c "! '$A' destroy web2"
t_ok "quarantine --pause web2" "$A" quarantine web2 --pause
t_is "start of a node paused by quarantine: 409" "$(api POST /v1/nodes/web2/start)" 409
t_is "... saying release resumes it" "$(jq -r .error "$W/api.out")" \
	'node "web2" is paused by quarantine: release resumes it (iscadm release web2)'
t_is "DELETE a paused node without force: 409" "$(api DELETE /v1/nodes/web2)" 409
t_is "... saying it is paused" "$(jq -r .error "$W/api.out")" \
	'node "web2" is paused: stop it first (iscadm stop web2) or destroy it with force (iscadm destroy --force web2)'
t_ok "release web2" "$A" release web2
t_is "DELETE ?force=maybe: 400" "$(api DELETE '/v1/nodes/web2?force=maybe')" 400
t_is "DELETE ?force=1 destroys the running web2: 200" "$(api DELETE '/v1/nodes/web2?force=1')" 200
t_ok "... answering destroyed: web2" jq -e '.destroyed == "web2"' "$W/api.out"
t_ok "audit: web2's refused destroys, then the forced one" bash -c "'$A' audit --node web2 --json | jq -e '[.[] | select(.action == \"destroy\" and .result != \"intent\") | (.result[0:5]) + (if .detail.force then \"+force\" else \"\" end)] | . == [\"error\", \"error\", \"error\", \"error\", \"ok+force\"]'"
# (curl's zombie until it is waited for: ended is its state, not kill -0)
ended() { [ ! -e "/proc/$FOLLOW2" ] || grep -q '^[0-9]* (.*) Z' "/proc/$FOLLOW2/stat"; }
t_ok "console: the follower of web2 ends when web2 is destroyed" wait_for 5 ended
wait "$FOLLOW2"
t_is "console: ... cleanly (curl's exit status)" $? 0
t_ok "web2: no domain, network, secret, volume or state left" nothing_of web2
t_ok "web2's bridge left the firewall set" bash -c "! nft list set inet isc node_bridges | grep -q iscbr1"
t_ok "stop web1, then destroy it without force" bash -c "'$A' stop web1 && '$A' destroy web1"
t_ok "web1: no domain, network, secret, volume or state left" nothing_of web1
t_is "no isc domains or networks left" "$(virsh list --all --name | grep -c isc-)$(virsh net-list --all --name | grep -c isc-)" 00
# --- the audit trail
"$A" audit --node web1 --json >"$W/audit-web1.json"
t_is "audit: web1's administrative actions, in order, by uid 0" \
	"$(jq -r '[.[] | select((.who|type) == "object" and .who.uid == 0 and .result != "intent") | .action + ":" + (if .result == "ok" then "ok" else "error" end)] | join(" ")' "$W/audit-web1.json")" \
	"create:error create:ok create:error stop:ok stop:ok start:ok start:ok start:error stop:ok destroy:ok"
t_is "audit: every result of an action by uid 0 follows its intent" \
	"$(jq -s '[.[] | select((.who|type) == "object" and .who.uid == 0)] | . as $r | [range(0; length) | select($r[.].result != "intent" and (. == 0 or $r[. - 1].result != "intent" or $r[. - 1].action != $r[.].action))] | length' "$W/state/audit.log")" 0
t_ok "audit: the refused peer (uid 65534) is recorded" \
	bash -c "'$A' audit --json | jq -e '[.[] | select((.who|type) == \"object\" and .who.uid == 65534 and .action == \"refused\")] | length == 1'"
t_ok "audit verify: the chain is intact" "$A" audit verify
line=$(grep -n '"result":"ok"' "$W/state/audit.log" | sed -n 3p | cut -d: -f1)
sed -i "${line}s/\"result\":\"ok\"/\"result\":\"OK\"/" "$W/state/audit.log"
out=$("$A" audit verify 2>&1)
rc=$?
t_ok "audit verify finds the record edited in the middle (line $line; exit $rc: $out)" \
	bash -c "[ $rc = 7 ] && grep -q 'BROKEN at line $line' <<<\"\$0\"" "$out"
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
DOCKD_PID=
t_ok "dock removes its nft table when it exits with no node" bash -c "! nft list table inet isc"
