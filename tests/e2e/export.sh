#!/bin/bash
# End-to-end test of `isc-image export` (images/EXPORT.md): the image
# $EXPORT_IMAGE (default debian-web) from $ISC_IMAGES (default build/images)
# exported as OVA, OVF and qcow2; the OVA's member order (DSP0243), its .mf
# digests, its descriptor against images/ovf/envelope.rng, reproducible
# bytes; the refusals (unknown format, unknown image, existing output, a
# base disk that does not match its manifest) leave nothing behind; a copy
# of the image that claims EFI and recommends 512 MiB / 2 vCPUs shows those
# in the descriptor; and virt-v2v imports the OVA (needs a real OS, so only
# for an EFI image) into a domain with EFI firmware, the memory and vCPUs of
# the descriptor; export and build say their steps on a pipe, one line
# each, and nothing with --quiet. Run it inside tests/lib/sandbox.sh (run-all.sh does): the
# libguestfs appliance then has no way to any network but the sandbox's.
set -u
SRC=${ISC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/lib/tap.sh"
IMAGES=${ISC_IMAGES:-$SRC/build/images}
NAME=${EXPORT_IMAGE:-debian-web}
X=$SRC/build/isc-image
RNG=$SRC/images/ovf/envelope.rng
plan_start "export: $NAME as OVA, OVF and qcow2; virt-v2v imports the OVA"

W=$(mktemp -d "${SANDBOX_DIR:-${TMPDIR:-/tmp}}/export-test.XXXXXX")
chmod 755 "$W"
trap 't_done; rc=$?; rm -rf "$W"; exit $rc' EXIT
if [ ! -f "$IMAGES/$NAME/manifest.json" ]; then
	t_fail "image $NAME exists in $IMAGES" "build it first (make image RECIPE=$NAME)"
	exit 1
fi
M=$IMAGES/$NAME/manifest.json
BOOT=$(jq -r .boot.mode "$M")
BASE=$IMAGES/$NAME/$(jq -r '.files[] | select(.role=="base") | .name' "$M")
# The image's OpenSCAP results (manifest "scan"): after the disk in the OVA,
# in the .mf; none for an image without a scan.
SCAN=$(jq -r '.scan.profiles[]?.id | "scan-\(.).arf.xml scan-\(.).html"' "$M" | tr '\n' ' ')
SCAN_SORTED=$(printf '%s\n' $SCAN | sort | tr '\n' ' ')
[ -n "$SCAN" ] || SCAN_SORTED=

# mf_check DIR MF: every "SHA256(f)= hex" line of MF holds for DIR/f.
mf_check() {
	(cd "$1" && sed -n 's/^SHA256(\([^)]*\))= \([0-9a-f]\{64\}\)$/\2  \1/p' "$2" | sha256sum --quiet -c -) &&
		[ "$(wc -l <"$1/$2")" = "$(grep -c '^SHA256(' "$1/$2")" ]
}
# ovfq OVF RESOURCETYPE ELEMENT: a rasd value of the first item of that type.
ovfq() {
	xmllint --xpath "string(//*[local-name()='Item'][*[local-name()='ResourceType']='$2']/*[local-name()='$3'])" "$1"
}
# v2v_source OVA|DIR: what virt-v2v's OVA parser reads from it, without
# converting anything (no appliance, a second).
v2v_source() {
	LIBGUESTFS_BACKEND=direct virt-v2v -i ova "$1" -o null --print-source </dev/null 2>&1 |
		sed -n 's/^ *\(source name\|memory\|nr vCPUs\|firmware\): \(.*\)/\1=\2/p; s/^\t0 \[\(.*\)\]$/disk0=\1/p; s/^\tBridge "\(.*\)" \[\(.*\)\]$/nic=\1 \2/p' |
		tr '\n' ' '
}
ovf_firmware() {
	xmllint --xpath "string(//*[local-name()='Config'][@*[local-name()='key']='firmware']/@*[local-name()='value'])" "$1"
}

# --- OVA ---------------------------------------------------------------------
t_ok "export $NAME --format ova" "$X" export "$NAME" --format ova --images "$IMAGES" --out "$W/a"
OVA=$W/a/$NAME.ova
t_is "OVA members: descriptor, manifest, disk (DSP0243 order), the SCAP results" "$(tar tf "$OVA" | tr '\n' ' ')" \
	"$NAME.ovf $NAME.mf $NAME-disk1.vmdk $SCAN"
t_is "OVA members: uid/gid 0, mode 0644, the image's build time" \
	"$(tar --numeric-owner --full-time -tvf "$OVA" | awk '{print $1, $2, $4, $5}' | sort -u)" \
	"-rw-r--r-- 0/0 $(date -u -d "$(jq -r .built "$M")" '+%Y-%m-%d %H:%M:%S')"
mkdir -p "$W/ax"
tar xf "$OVA" -C "$W/ax"
OVF=$W/ax/$NAME.ovf
t_ok "OVA: the .mf's SHA256 lines hold for the descriptor and the disk" mf_check "$W/ax" "$NAME.mf"
t_is "OVA: the .mf names the descriptor, the disk and the SCAP results" "$(sed 's/)=.*//; s/^SHA256(//' "$W/ax/$NAME.mf" | tr '\n' ' ')" \
	"$NAME.ovf $NAME-disk1.vmdk $SCAN"
if [ -n "$SCAN" ]; then
	t_ok "OVA: the SCAP results are the image's, as the manifest's sha256 say" bash -c '
		for p in $(jq -r ".scan.profiles[].id" "$0"); do
			[ "$(sha256sum <"$1/scan-$p.arf.xml" | cut -d" " -f1)" = "$(jq -r ".scan.profiles[] | select(.id==\"$p\") | .arf_sha256" "$0")" ] &&
			[ "$(sha256sum <"$1/scan-$p.html" | cut -d" " -f1)" = "$(jq -r ".scan.profiles[] | select(.id==\"$p\") | .report_sha256" "$0")" ] || exit 1
		done' "$M" "$W/ax"
fi
t_ok "descriptor is well-formed XML" xmllint --noout "$OVF"
t_ok "descriptor validates against images/ovf/envelope.rng" xmllint --noout --relaxng "$RNG" "$OVF"
t_is "disk is a streamOptimized VMDK" \
	"$(qemu-img info --output=json -f vmdk "$W/ax/$NAME-disk1.vmdk" | jq -r '.["format-specific"].data["create-type"]')" \
	streamOptimized
t_is "descriptor: disk capacity is the base disk's virtual size" \
	"$(xmllint --xpath "string(//*[local-name()='Disk']/@*[local-name()='capacity'])" "$OVF")" \
	"$(qemu-img info --output=json -f qcow2 "$BASE" | jq '.["virtual-size"]')"
t_is "descriptor: File ovf:size is the VMDK's size" \
	"$(xmllint --xpath "string(//*[local-name()='File']/@*[local-name()='size'])" "$OVF")" \
	"$(stat -c %s "$W/ax/$NAME-disk1.vmdk")"
t_ok "the VMDK holds the base disk's data" qemu-img compare -f vmdk -F qcow2 "$W/ax/$NAME-disk1.vmdk" "$BASE"
t_is "descriptor: memory (MiB) from the manifest, else 1024" "$(ovfq "$OVF" 4 VirtualQuantity)" \
	"$(jq '.recommended.memory_mib // 1024' "$M")"
t_is "descriptor: vCPUs from the manifest, else 1" "$(ovfq "$OVF" 3 VirtualQuantity)" "$(jq '.recommended.vcpus // 1' "$M")"
t_is "descriptor: the disk hangs off the SCSI controller" "$(ovfq "$OVF" 17 Parent)" "$(ovfq "$OVF" 6 InstanceID)"
t_is "descriptor: firmware efi exactly when the image boots by EFI" "$(ovf_firmware "$OVF")" \
	"$([ "$BOOT" = efi ] && echo efi)"
if command -v virt-v2v >/dev/null; then
	t_is "virt-v2v reads the OVA: name, memory, vCPUs, firmware, disk, NIC" "$(v2v_source "$OVA")" \
		"source name=$NAME memory=$(($(ovfq "$OVF" 4 VirtualQuantity) * 1048576)) (bytes) nr vCPUs=$(ovfq "$OVF" 3 VirtualQuantity) firmware=$([ "$BOOT" = efi ] && echo uefi || echo bios) disk0=scsi nic=VM Network vmxnet3 "
else
	t_skip "virt-v2v reads the OVA" "virt-v2v not installed"
fi
t_ok "export again elsewhere: the same bytes" \
	bash -c '"$0" export "$1" --format ova --images "$2" --out "$3" >/dev/null 2>&1 && cmp "$4" "$3/$1.ova"' \
	"$X" "$NAME" "$IMAGES" "$W/a2" "$OVA"
rm -rf "$W/a2"

# --- OVF ---------------------------------------------------------------------
t_ok "export $NAME --format ovf" "$X" export "$NAME" --format ovf --images "$IMAGES" --out "$W/o"
t_is "OVF directory: descriptor, manifest, disk, the SCAP results" "$(ls "$W/o/$NAME-ovf" | tr '\n' ' ')" \
	"$NAME-disk1.vmdk $NAME.mf $NAME.ovf $SCAN_SORTED"
t_ok "OVF: the .mf holds" mf_check "$W/o/$NAME-ovf" "$NAME.mf"
t_ok "OVF: the same files as in the OVA" diff -r "$W/o/$NAME-ovf" "$W/ax"

# --- qcow2 -------------------------------------------------------------------
t_ok "export $NAME --format qcow2" "$X" export "$NAME" --format qcow2 --images "$IMAGES" --out "$W/q"
Q=$W/q/$NAME
QBASE=$Q/$(jq -r '.files[] | select(.role=="base") | .name' "$Q/manifest.json")
t_ok "qcow2: a valid qcow2 with the base disk's data" \
	bash -c 'qemu-img check -q -f qcow2 "$0" && qemu-img compare -q -f qcow2 -F qcow2 "$0" "$1"' "$QBASE" "$BASE"
t_ok "qcow2: compressed (no larger than the base disk)" test "$(stat -c %s "$QBASE")" -le "$(stat -c %s "$BASE")"
t_ok "qcow2: every file matches the new manifest's size and sha256" bash -c '
	cd "$0" && jq -r ".files[] | \"\(.sha256)  \(.name)\"" manifest.json | sha256sum --quiet -c - &&
	jq -r ".files[] | \"\(.size) \(.name)\"" manifest.json | while read -r s n; do [ "$(stat -c %s "$n")" = "$s" ] || exit 1; done' "$Q"
t_is "qcow2: the manifest is the image's but for the base's size and digest" \
	"$(jq -S 'del(.files)' "$Q/manifest.json")" "$(jq -S 'del(.files)' "$M")"

# --- refusals ----------------------------------------------------------------
# refuse DESC WANT_RC PATTERN ARGS...: fails with that status and one line matching PATTERN.
refuse() {
	local desc=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$X" export "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$want" ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q -- "$pat"; then
		t_pass "$desc ($out)"
	else
		t_fail "$desc" "exit $rc (want $want)" "$out"
	fi
}
no_debris() { [ -z "$(find "$@" -name '.*.export-*' -o -name '.stderr' | head -1)" ]; }
refuse "unknown format: refused" 2 'unknown format "zip"' "$NAME" --format zip --images "$IMAGES" --out "$W/r"
refuse "unknown image: refused" 1 'image "no-such-image" not found' no-such-image --format ova --images "$IMAGES" --out "$W/r"
refuse "bad image name: refused" 1 'image name' ../etc --format ova --images "$IMAGES" --out "$W/r"
before=$(sha256sum "$OVA")
refuse "existing OVA: refused" 1 "$OVA exists (--force replaces it)" "$NAME" --format ova --images "$IMAGES" --out "$W/a"
refuse "existing OVF directory: refused" 1 "exists" "$NAME" --format ovf --images "$IMAGES" --out "$W/o"
refuse "existing qcow2 directory: refused" 1 "exists" "$NAME" --format qcow2 --images "$IMAGES" --out "$W/q"
t_is "the refused OVA is untouched" "$(sha256sum "$OVA")" "$before"
t_ok "--force replaces an existing OVF directory" "$X" export "$NAME" --format ovf --images "$IMAGES" --out "$W/o" --force
t_ok "qcow2 --force into the images directory itself: refused" \
	bash -c '! "$0" export "$1" --format qcow2 --images "$2" --out "$2" --force 2>/dev/null' "$X" "$NAME" "$IMAGES"
t_is "the image itself is intact" "$(sha256sum <"$BASE" | cut -d' ' -f1)" \
	"$(jq -r '.files[] | select(.role=="base") | .sha256' "$M")"

# A copy of the image whose base disk was changed after the build.
mkdir -p "$W/bad"
cp -r "$IMAGES/$NAME" "$W/bad/$NAME"
chmod -R u+w "$W/bad/$NAME"
BADBASE=$W/bad/$NAME/$(basename "$BASE")
printf 'X' | dd of="$BADBASE" bs=1 seek=$(($(stat -c %s "$BADBASE") - 1)) conv=notrunc status=none
refuse "tampered base disk: refused, naming the file" 1 "$BADBASE does not match the image's manifest" \
	"$NAME" --format ova --images "$W/bad" --out "$W/t"
t_ok "nothing written for the refused exports" bash -c '[ ! -e "$0/t/'"$NAME"'.ova" ] && [ ! -e "$0/r" -o -z "$(ls -A "$0/r" 2>/dev/null)" ]' "$W"
t_ok "no temp files left anywhere" no_debris "$W"
rm -rf "$W/bad"

# A copy that claims EFI and recommends hardware: the descriptor says so.
mkdir -p "$W/efi"
cp -r "$IMAGES/$NAME" "$W/efi/$NAME"
chmod -R u+w "$W/efi/$NAME"
jq '.boot.mode = "efi" | .recommended = {memory_mib: 512, vcpus: 2}' "$M" >"$W/efi/$NAME/manifest.json"
t_ok "export of an EFI image recommending 512 MiB, 2 vCPUs" \
	"$X" export "$NAME" --format ovf --images "$W/efi" --out "$W/efi-out"
EOVF=$W/efi-out/$NAME-ovf/$NAME.ovf
t_is "  memory 512" "$(ovfq "$EOVF" 4 VirtualQuantity)" 512
t_is "  2 vCPUs" "$(ovfq "$EOVF" 3 VirtualQuantity)" 2
t_is "  firmware efi" "$(ovf_firmware "$EOVF")" efi
t_ok "  validates against envelope.rng" xmllint --noout --relaxng "$RNG" "$EOVF"
if command -v virt-v2v >/dev/null; then
	t_is "  virt-v2v reads 512 MiB, 2 vCPUs, UEFI" "$(v2v_source "$W/efi-out/$NAME-ovf")" \
		"source name=$NAME memory=536870912 (bytes) nr vCPUs=2 firmware=uefi disk0=scsi nic=VM Network vmxnet3 "
else
	t_skip "  virt-v2v reads the descriptor" "virt-v2v not installed"
fi
jq '.recommended = {memory_mib: 99999999}' "$M" >"$W/efi/$NAME/manifest.json"
refuse "recommended memory out of bounds: refused" 1 "memory_mib" "$NAME" --format ovf --images "$W/efi" --out "$W/efi-out2"
rm -rf "$W/efi" "$W/efi-out" "$W/efi-out2"

# --- progress (common/progress.h): on a pipe a line per step with its seconds
steps() { grep -E '^isc-image: (export|build) [a-z0-9-]+: .* \([0-9]+s\)$' "$1" | sed -E 's/ \([0-9]+s\)$//'; }
# (micro when it is there: a second, where a golden image takes a while)
P=$NAME
[ -f "$IMAGES/micro/manifest.json" ] && P=micro
"$X" export "$P" --format ova --images "$IMAGES" --out "$W/p" 2>"$W/p.err" >/dev/null
t_is "export on a pipe: a line per step, with its seconds" "$(steps "$W/p.err")" \
	"$(printf "isc-image: export $P: %s\n" \
		"converting the disk (VMDK), writing the descriptor" "packing the OVA" exported)"
"$X" export "$P" --format ova --images "$IMAGES" --out "$W/pq" --quiet 2>"$W/pq.err" >/dev/null
t_is "export --quiet: no progress" "$(steps "$W/pq.err")" ""
# A build (micro: a second or so) on a pipe: its steps, then built.
"$X" build micro --out "$W/b" 2>"$W/b.err" >/dev/null
t_is "isc-image build on a pipe: a line per step, with its seconds" \
	"$(steps "$W/b.err" | sed -E 's/[0-9]+ modules/N modules/')" \
	"$(printf 'isc-image: build micro: %s\n' "initramfs (busybox, N modules)" \
		"root filesystem (mke2fs, qemu-img)" "manifest (digests)" built)"
rm -rf "$W/p" "$W/pq" "$W/b"

# --- virt-v2v ----------------------------------------------------------------
if [ "$BOOT" != efi ]; then
	t_skip "virt-v2v imports the OVA" "$NAME boots by direct kernel: no OS for virt-v2v to inspect"
elif ! command -v virt-v2v >/dev/null; then
	t_skip "virt-v2v imports the OVA" "virt-v2v not installed"
else
	mkdir -p "$W/v2v"
	t0=$(date +%s%N)
	if LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
		virt-v2v -i ova "$OVA" -o local -os "$W/v2v" -of qcow2 -on "$NAME-v2v" \
		</dev/null >"$W/v2v.log" 2>&1; then
		t_pass "virt-v2v -i ova -o local imports the OVA ($((($(date +%s%N) - t0) / 1000000)) ms)"
	else
		t_fail "virt-v2v -i ova -o local imports the OVA" "$(tail -20 "$W/v2v.log")"
	fi
	DX=$W/v2v/$NAME-v2v.xml
	if [ -f "$DX" ]; then
		t_is "virt-v2v domain: EFI firmware" \
			"$(xmllint --xpath 'boolean(/domain/os[@firmware="efi"] | /domain/os/loader[contains(., "OVMF")])' "$DX")" true
		t_is "virt-v2v domain: memory from the OVF (KiB)" \
			"$(xmllint --xpath 'string(/domain/memory)' "$DX")" "$(($(ovfq "$OVF" 4 VirtualQuantity) * 1024))"
		t_is "virt-v2v domain: vCPUs from the OVF" "$(xmllint --xpath 'string(/domain/vcpu)' "$DX")" \
			"$(ovfq "$OVF" 3 VirtualQuantity)"
		t_ok "virt-v2v domain: a disk in qcow2" bash -c '[ -n "$(ls "$0"/*-sda)" ] && qemu-img info "$0"/*-sda | grep -q "file format: qcow2"' "$W/v2v"
	else
		t_fail "virt-v2v wrote the domain XML" "$(ls -la "$W/v2v")"
	fi
fi
