#!/bin/bash
# tests/bench/repro.sh RECIPE DIR-A DIR-B — is RECIPE reproducible? Builds
# it into DIR-A (unless DIR-A/RECIPE is there already: images.sh hands over
# its cold build) and again into DIR-B with DIR-A's download cache (the same
# package versions), then compares what the manifests record: the inputs
# (minus nothing), the package list, the root filesystem's digest, and every
# file's digest unless the manifest's "differs" names that file. TAP on
# stdout; exit 1 when something differs. `make image-repro RECIPE=...` and
# the full `make bench` (tests/bench/images.sh, debian-web) run it; README
# "Reproducible images".
#
# Environment: ISC_SRC (the checkout, default .), B (build dir, default build).
set -u
SRC=${ISC_SRC:-.}
X=$SRC/${B:-build}/isc-image
R=${1:?recipe} A=${2:?first output directory} D=${3:?second output directory}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() {
	n=$((n + 1)) failed=1
	echo "not ok $n - $1"
	shift
	printf '# %s\n' "$@"
}
same() { # DESC JQ-FILTER
	local a b
	a=$(jq -cS "$2" "$A/$R/manifest.json" 2>&1) b=$(jq -cS "$2" "$D/$R/manifest.json" 2>&1)
	if [ "$a" = "$b" ]; then ok "$1"; else nok "$1" "first:  ${a:0:400}" "second: ${b:0:400}"; fi
}
build() { # DIR LOG
	local t0=$EPOCHREALTIME
	mkdir -p "$(dirname "$2")"
	if "$X" build "$R" --out "$1" >"$2" 2>&1; then
		ok "build $R into $1 ($(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.0f", a - b }') s)"
	else
		nok "build $R into $1" "$(tail -3 "$2")"
		return 1
	fi
}
[ -f "$A/$R/manifest.json" ] || build "$A" "$A.log" || exit 1
rm -rf "$D" && mkdir -p "$D"
[ -d "$A/.cache" ] && cp -a "$A/.cache" "$D/"
build "$D" "$D.log" || exit 1
same "the same inputs (builder, SOURCE_DATE_EPOCH, recipe, agent, host packages)" .inputs
same "the same packages" '.packages // []'
same "the same root filesystem digest" .reproducible.rootfs_sha256
# A file the manifest names in "differs" ("base.qcow2: ...") is not compared.
# shellcheck disable=SC2016 # $d is jq's
same "the same digest of every file \"differs\" does not name" \
	'[.reproducible.differs[].what | split(":")[0]] as $d | [.files[] | select(.name | IN($d[]) | not) | {name, sha256}]'
echo "1..$n"
exit $failed
