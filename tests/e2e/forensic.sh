#!/bin/bash
# End-to-end test of forensic snapshots, inside tests/lib/sandbox.sh: the
# disk's key is sealed to an operator key made here; a snapshot (on demand
# and at a cleanse) is a read-only copy of the encrypted disk whose sha256 is
# in the audit trail; only the operator's secret key opens it, and what the
# guest wrote is inside; with --memory the guest's memory too, kept only
# encrypted; quarantine --pause --snapshot catches a node and holds it until
# release; `forensic export` copies one out, verified against the trail,
# never overwriting. Without an operator key the dock refuses.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "forensic snapshots: sealed keys, digests in the audit trail, opened by the operator"
mkdir -p "$W"
U=$SRC/build/isc-unseal
t_ok "operator key pair made off the dock" "$U" --keygen "$W/operator"
dock_setup "forensic_pubkey = $W/operator.pub
stop_timeout_s = 15" micro
dock_start
trap 'dock_finish; exit $?' EXIT
has_hello() { "$A" inspect f | jq -e '.agent.hello != null and .state == "running"' >/dev/null; }

t_ok "create f" "$A" create f --image micro --memory 160M --scratch-size 32M
t_ok "f says hello" wait_for 120 has_hello
guest_attach f
guest_run f "echo forensic-marker-4711 > /scratch/evidence && sync"
t_is "the guest wrote evidence to /scratch" $? 0

"$A" snapshot f --json >"$W/snap.json"
t_is "iscadm snapshot f" $? 0
ID=$(jq -r .id "$W/snap.json")
DISK=$(jq -r .disk "$W/snap.json")
SUM=$(jq -r .sha256 "$W/snap.json")
t_is "the copy's sha256 is the one recorded" "$(sha256sum "$DISK" | cut -d' ' -f1)" "$SUM"
t_is "the copy is read-only" "$(stat -c %a "$DISK")" 400
t_ok "forensic ls lists it" bash -c "'$A' forensic ls --json | jq -e --arg id '$ID' '[.[]|select(.id==\$id)]|length==1'"
t_ok "the audit trail holds its digest" bash -c "'$A' audit --node f --json | jq -e --arg s '$SUM' '[.[]|select(.action==\"forensic-snapshot\" and .detail.sha256==\$s)]|length==1'"
t_ok "f still runs after the snapshot (paused and resumed)" has_hello
t_ok "the dock keeps no plain key: the sealed key is not the passphrase" bash -c "! grep -qa '[0-9a-f]\\{64\\}' '$(jq -r .sealed_key "$W/snap.json")'"

PASS=$("$U" "$W/operator.sec" "$(jq -r .sealed_key "$W/snap.json")")
t_is "the operator's secret key unseals a 64-hex-digit passphrase" "${#PASS}" 64
t_ok "it opens the snapshot's LUKS header" bash -c "printf %s '$PASS' | cryptsetup luksOpen --test-passphrase --key-file - '$DISK'"
"$U" --keygen "$W/other" >/dev/null
t_ok "another key cannot unseal it" bash -c "! '$U' '$W/other.sec' '$(jq -r .sealed_key "$W/snap.json")'"

# --- memory: dumped while paused, kept only encrypted, opened by the operator.
# The marker is put together in the guest, so the typed command does not hold it.
guest_run f "printf '%s-%s-%s\\n' mem marker 5127 > /run/evidence"
t_is "the guest keeps a marker in its memory (/run is a tmpfs)" $? 0
"$A" snapshot f --memory --json >"$W/msnap.json"
t_is "iscadm snapshot f --memory" $? 0
MID=$(jq -r .id "$W/msnap.json")
MENC=$(jq -r .memory.file "$W/msnap.json")
MKEY=$(jq -r .memory.sealed_key "$W/msnap.json")
t_is "the encrypted dump's sha256 is the one recorded" "$(sha256sum "$MENC" | cut -d' ' -f1)" "$(jq -r .memory.sha256 "$W/msnap.json")"
t_ok "the audit trail holds it" bash -c "'$A' audit --node f --json | jq -e --arg id '$MID' --arg s '$(jq -r .memory.sha256 "$W/msnap.json")' '[.[]|select(.action==\"forensic-snapshot\" and .detail.id==\$id and .detail.memory_sha256==\$s)]|length==1'"
t_is "the dump and its sealed key are read-only" "$(stat -c %a "$MENC" "$MKEY" | tr '\n' ' ')" "400 400 "
t_is "no plaintext is left on the dock" "$(LC_ALL=C ls "$(dirname "$MENC")")" "$(printf '%s\n' disk.luks key.sealed memory.enc memory.key.sealed meta.json)"
t_ok "the marker is not in the stored dump" bash -c "! grep -aq mem-marker-5127 '$MENC'"
t_ok "isc-unseal --memory decrypts it" "$U" --memory "$W/operator.sec" "$MKEY" "$MENC" "$W/mem.core"
t_is "... into an ELF core" "$(head -c4 "$W/mem.core" | tail -c3)" ELF
t_ok "... that holds the guest's marker" grep -aq mem-marker-5127 "$W/mem.core"
t_ok "another key cannot decrypt it" bash -c "! '$U' --memory '$W/other.sec' '$MKEY' '$MENC' '$W/mem2.core' 2>/dev/null"
t_ok "... and makes no file" test ! -e "$W/mem2.core"
cp "$MENC" "$W/altered.enc"
chmod 600 "$W/altered.enc"
printf 'X' | dd of="$W/altered.enc" bs=1 seek=100000 conv=notrunc 2>/dev/null
out=$("$U" --memory "$W/operator.sec" "$MKEY" "$W/altered.enc" "$W/mem3.core" 2>&1)
t_ok "an altered dump is refused ($out)" bash -c 'grep -q "altered" <<<"$0"' "$out"
t_ok "... and makes no file" test ! -e "$W/mem3.core"
head -c 2000000 "$MENC" >"$W/short.enc"
out=$("$U" --memory "$W/operator.sec" "$MKEY" "$W/short.enc" "$W/mem4.core" 2>&1)
t_ok "a truncated dump is refused ($out)" bash -c 'grep -q "truncated" <<<"$0"' "$out"
rm -f "$W/mem.core" "$W/altered.enc" "$W/short.enc"
t_ok "f runs on after the memory snapshot" has_hello

# --- quarantine --pause --snapshot: caught, kept paused, released
t_ok "quarantine f --pause --snapshot" "$A" quarantine f --pause --snapshot
t_is "f shows as quarantined" "$("$A" ls --json | jq -r '.[]|select(.name=="f").state')" quarantined
t_is "its domain is paused" "$(virsh domstate isc-f)" paused
t_is "inspect says paused" "$("$A" inspect f | jq -r .paused)" true
t_is "a snapshot was taken for the quarantine" "$("$A" forensic ls --json | jq '[.[]|select(.reason=="quarantine")]|length')" 1
t_ok "the quarantine, paused, with its snapshot, is in the audit trail" bash -c "'$A' audit --node f --json | jq -e '[.[]|select(.action==\"quarantine\" and .result==\"ok\" and .detail.pause==true and .detail.snapshot_id!=null)]|length==1'"
HB=$("$A" inspect f | jq .agent.heartbeats)
t_ok "release f" "$A" release f
t_is "its domain runs again" "$(virsh domstate isc-f)" running
t_is "inspect says running, not paused" "$("$A" inspect f | jq -r '.state + " " + (.paused|tostring)')" "running false"
has_beat() { [ "$("$A" inspect f | jq .agent.heartbeats)" -gt "$HB" ]; }
t_ok "the agent reports again" wait_for 30 has_beat
plain() { # DISK PASS OUT: decrypt a snapshot with QEMU's LUKS driver
	qemu-img convert --object "secret,id=s0,data=$2" -O raw \
		"json:{\"driver\":\"luks\",\"key-secret\":\"s0\",\"file\":{\"driver\":\"file\",\"filename\":\"$1\"}}" "$3"
}
t_ok "decrypted with that passphrase" plain "$DISK" "$PASS" "$W/plain.raw"
t_ok "the guest's evidence is inside" grep -aq forensic-marker-4711 "$W/plain.raw"
rm -f "$W/plain.raw"

t_ok "cleanse f (a forensic snapshot is taken before the disk is shredded)" "$A" cleanse f
t_is "four snapshots now (on demand, memory, quarantine, cleanse)" "$("$A" forensic ls --json | jq length)" 4
CID=$("$A" forensic ls --json | jq -r '.[]|select(.reason=="cleanse").id')
CDIR=$SANDBOX_DIR/dock/state/forensics/$CID
PASS2=$("$U" "$W/operator.sec" "$CDIR/key.sealed")
t_ok "the cleanse snapshot opens and holds the evidence" bash -c "$(declare -f plain); plain '$CDIR/disk.luks' '$PASS2' '$W/plain2.raw' && grep -aq forensic-marker-4711 '$W/plain2.raw'"
rm -f "$W/plain2.raw"
# --- export: a verified copy out of the dock
X=$SANDBOX_DIR/export
t_ok "forensic export $CID" "$A" forensic export "$CID" "$X"
t_is "the copy holds the disk, the sealed key and the metadata, read-only" \
	"$(cd "$X" && stat -c '%n %a' disk.luks key.sealed meta.json | tr '\n' ' ')" "disk.luks 400 key.sealed 400 meta.json 400 "
t_is "the copy's disk has the digest of the audit trail" "$(sha256sum "$X/disk.luks" | cut -d' ' -f1)" \
	"$("$A" audit --node f --json | jq -r --arg id "$CID" '.[] | select(.action == "forensic-snapshot" and .detail.id == $id) | .detail.sha256')"
t_ok "the operator opens the exported copy" bash -c "printf %s \"\$('$U' '$W/operator.sec' '$X/key.sealed')\" | cryptsetup luksOpen --test-passphrase --key-file - '$X/disk.luks'"
t_ok "the export is in the audit trail" bash -c "'$A' audit --node f --json | jq -e --arg id '$CID' '[.[] | select(.action == \"forensic-export\" and .detail.id == \$id and .result == \"ok\")] | length == 1'"
out=$("$A" forensic export "$CID" "$X" 2>&1)
t_ok "an existing destination is refused ($out)" bash -c 'grep -q "refusing to overwrite" <<<"$0"' "$out"
t_is "... and left as it was" "$(sha256sum "$X/disk.luks" | cut -d' ' -f1)" "$(sha256sum "$CDIR/disk.luks" | cut -d' ' -f1)"
out=$("$A" forensic export f-1 "$SANDBOX_DIR/export2" 2>&1)
t_ok "an id without a digest in the audit trail is refused ($out)" bash -c 'grep -q "records no digest" <<<"$0"' "$out"
t_ok "... and nothing made" test ! -e "$SANDBOX_DIR/export2"
# The dock's copy altered after its digest was recorded: the export says so
# and keeps nothing.
chmod 600 "$CDIR/disk.luks"
printf 'X' | dd of="$CDIR/disk.luks" bs=1 seek=4096 conv=notrunc 2>/dev/null
chmod 400 "$CDIR/disk.luks"
out=$("$A" forensic export "$CID" "$SANDBOX_DIR/export3" 2>&1)
t_ok "a copy whose digest differs from the audit trail is refused ($out)" bash -c 'grep -q "is not the one in the audit trail" <<<"$0"' "$out"
t_ok "... and removed" test ! -e "$SANDBOX_DIR/export3"
out=$("$A" forensic export ../etc "$SANDBOX_DIR/export4" 2>&1)
t_ok "a path for an id is refused ($out)" bash -c 'grep -q "is not a snapshot id" <<<"$0"' "$out"
t_is "a file outside the three is not served" \
	"$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$ISC_SOCKET" "http://dock/v1/forensics/$CID/..%2Fmeta.json")" 404

# The memory snapshot's export carries the encrypted dump, verified too.
XM=$SANDBOX_DIR/export-mem
t_ok "forensic export $MID (with memory)" "$A" forensic export "$MID" "$XM"
t_is "the copy holds the encrypted dump and its sealed key" "$(cd "$XM" && stat -c '%n %a' memory.enc memory.key.sealed | tr '\n' ' ')" "memory.enc 400 memory.key.sealed 400 "
t_ok "the operator decrypts the exported dump" bash -c "'$U' --memory '$W/operator.sec' '$XM/memory.key.sealed' '$XM/memory.enc' '$W/memx.core' && grep -aq mem-marker-5127 '$W/memx.core'"
rm -f "$W/memx.core"

t_ok "forensic rm" "$A" forensic rm --yes "$ID"
t_is "three snapshots left" "$("$A" forensic ls --json | jq length)" 3

# --- the autonomic loop end to end: a node whose maximum lifetime expires
# is cleansed by the dock alone; the snapshot taken before its disk was
# shredded is in the trail and opens with the operator's key, evidence inside.
l_ok() { "$A" inspect l | jq -e --argjson n "$1" '.cleanses == $n and .agent.hello != null and .state == "running"' >/dev/null; }
t_ok "create l with a 30 s lifetime" "$A" create l --image micro --memory 160M --scratch-size 32M --lifetime 30s
t_ok "l says hello" wait_for 120 l_ok 0
guest_attach l
guest_run l "echo lifetime-marker-8086 > /scratch/evidence && sync"
t_is "l wrote evidence to /scratch" $? 0
t_ok "the lifetime expires: the dock cleanses l by itself, l is back and says hello" wait_for 150 l_ok 1
guest_attach l
guest_run l "test -e /scratch/evidence"
t_is "the evidence is gone from l's /scratch" $? 1
LID=$("$A" forensic ls --json | jq -r '[.[]|select(.node=="l" and .reason=="cleanse")][0].id')
LDIR=$SANDBOX_DIR/dock/state/forensics/$LID
t_ok "a forensic snapshot of l was taken before the cleanse ($LID)" test -s "$LDIR/disk.luks"
t_is "its digest is in the audit trail" \
	"$("$A" audit --node l --json | jq -r --arg id "$LID" '.[] | select(.action == "forensic-snapshot" and .detail.id == $id) | .detail.sha256')" \
	"$(sha256sum "$LDIR/disk.luks" | cut -d' ' -f1)"
PASS3=$("$U" "$W/operator.sec" "$LDIR/key.sealed")
t_ok "the operator's key opens it and the evidence is inside" bash -c "$(declare -f plain); plain '$LDIR/disk.luks' '$PASS3' '$W/plain3.raw' && grep -aq lifetime-marker-8086 '$W/plain3.raw'"
rm -f "$W/plain3.raw"
t_ok "destroy l" "$A" destroy --force l

# Without an operator key: refused, nothing stored.
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
sed -i '/^forensic_pubkey/d' "$W/dockd.conf"
# A dock stopped while encrypting a memory dump left its plaintext: gone at start.
P=$SANDBOX_DIR/dock/state/forensics/f-1000000000
mkdir -m 700 "$P" && echo mem-marker-5127 >"$P/memory.plain"
dock_start
t_ok "a half-made snapshot's plaintext dump is removed at start" test ! -e "$P"
out=$("$A" snapshot f 2>&1)
t_ok "without forensic_pubkey a snapshot is refused ($out)" bash -c 'grep -q "refusing to keep an unprotected copy" <<<"$0"' "$out"
out=$("$A" quarantine f --pause --snapshot 2>&1)
t_ok "... and so is quarantine --snapshot ($out)" bash -c 'grep -q "refusing to keep an unprotected copy" <<<"$0"' "$out"
t_is "... which did nothing else: f is neither quarantined nor paused" "$("$A" ls --json | jq -r '.[]|select(.name=="f").state') $(virsh domstate isc-f)" "running running"
t_is "nothing was stored" "$("$A" forensic ls --json | jq length)" 4
t_ok "destroy f" "$A" destroy --force f
