#!/bin/bash
# tests/cli/isc-image.sh: isc-image's command line, on the real binary and
# without a VM: --version, help per verb, usage errors (exit 2), `ls` as a
# table and as JSON of a micro image built into a temporary directory, `ls`
# of a missing directory (exit 1, the directory named), `rm` (removes an
# image, refuses what is not one), and the image directory taken from a
# dockd.conf's image_dir (--config) with --images/--out overriding it, and
# reproducibility: two builds of micro give the same inputs and digests.
# TAP output. X=path picks another binary (default build/isc-image).
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
X=${X:-build/isc-image}
plan_start "isc-image CLI"
if [ ! -x "$X" ] || [ ! -x build/isc-agent ]; then
	echo "Bail out! $X or build/isc-agent is not built (make all)"
	exit 2
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/isc-image-cli.XXXXXX")
trap 't_done; rc=$?; rm -rf "$W"; exit $rc' EXIT

# run CMD...: sets $out (stdout and stderr) and $rc.
run() {
	out=$("$@" 2>&1 </dev/null)
	rc=$?
}
# t_has DESC TEXT...: ok if $out holds every TEXT.
t_has() {
	local desc=$1 t
	shift
	for t in "$@"; do
		grep -qF -e "$t" <<<"$out" || {
			t_fail "$desc" "no \"$t\" in:" "$out"
			return 1
		}
	done
	t_pass "$desc"
}
VERBS="build ls rm export scan"

# --- version and help ---------------------------------------------------------
run "$X" --version
t_is "--version: one line, exit 0" "$rc $(echo "$out" | wc -l)" "0 1"
if grep -qxE "isc-image $(cat VERSION) \(commit ([0-9a-f]{7,40}|unknown)\)" <<<"$out"; then
	t_pass "--version names isc-image, the VERSION file's version and a commit"
else
	t_fail "--version names isc-image, the VERSION file's version and a commit" "$out"
fi
for h in -h --help help; do
	run "$X" "$h"
	t_is "isc-image $h: exit 0" "$rc" 0
	miss=$(for v in $VERBS; do grep -qE "^  $v( |$)" <<<"$out" || echo "$v"; done)
	t_is "isc-image $h lists every verb" "$miss" ""
done
for v in $VERBS; do
	run "$X" help "$v"
	t_is "help $v: exit 0, its usage line" "$rc $(head -1 <<<"$out" | cut -d' ' -f1-3)" \
		"0 usage: isc-image $v"
	help=$out
	run "$X" "$v" --help
	t_is "$v --help = help $v" "$out" "$help"
	run "$X" "$v" -h
	t_is "$v -h = help $v" "$out" "$help"
	t_has "help $v names --images, --config and --help" '--images DIR' '--config PATH' \
		'-h, --help'
done
run "$X" help build
t_has "help build names --out, --agent, --kernel-version" "--out DIR" "--agent PATH" \
	"--kernel-version VER"
run "$X" help ls
t_has "help ls names --json" --json
run "$X" help scan
t_has "help scan names --root" "--root DIR"
run "$X" help export
t_has "help export names --format, --out, --force" "--format ovf|ova|qcow2" "--out DIR" --force

# --- usage errors: exit 2, one line naming what ------------------------------
usage_case() { # DESC EXPECTED-TEXT ARGS...
	local desc=$1 want=$2
	shift 2
	run "$X" "$@"
	if [ "$rc" = 2 ] && grep -qF -e "$want" <<<"$out"; then
		t_pass "$desc: exit 2"
	else
		t_fail "$desc: exit 2 naming \"$want\"" "exit $rc" "$out"
	fi
}
usage_case "no verb" "usage: isc-image"
usage_case "unknown verb" '"frobnicate"' frobnicate
usage_case "unknown global option" "--bogus" --bogus ls
usage_case "ls --bogus" "--bogus" ls --bogus
usage_case "ls -q (not an ls option)" "-q" ls -q
usage_case "ls --json=x (a flag given a value)" "--json=x" ls --json=x
usage_case "ls with an operand" "too many operands" ls extra
usage_case "ls --agent (build's option)" "--agent" ls --agent x
usage_case "build without a recipe" "missing" build
usage_case "build --images without a value" "--images" build micro --images
usage_case "rm without a name" "missing" rm
usage_case "export without --format" "--format is required" export micro --images "$W"
usage_case "export --format bogus" '"bogus"' export micro --format bogus --images "$W"
usage_case "help of an unknown verb" '"nope"' help nope

# --- build, ls, ls --json --------------------------------------------------------
IMG=$W/images
t_ok "build micro --out DIR (as make image does)" "$X" build micro --out "$IMG"
t_ok "the image is in DIR/micro" test -f "$IMG/micro/manifest.json"
run "$X" ls --images "$IMG"
t_is "ls: exit 0, a header and one row" "$rc $(echo "$out" | wc -l)" "0 2"
if grep -qE "^micro +[0-9T:Z-]+ +[^ ]+ +[0-9.]+M +- +$(jq -r '.files[] | select(.role=="base") | .sha256' "$IMG/micro/manifest.json")$" <<<"$out"; then
	t_pass "ls: the row is micro's, no SCAP score (-), its base digest"
else
	t_fail "ls: the row is micro's, no SCAP score (-), its base digest" "$out"
fi
run "$X" ls --out "$IMG"
t_is "ls --out DIR is ls --images DIR" "$rc $(echo "$out" | wc -l)" "0 2"
run "$X" ls --json --images "$IMG"
t_is "ls --json: exit 0" "$rc" 0
t_is "ls --json: one image named micro" "$(jq -c '[.[].name]' <<<"$out" 2>&1)" '["micro"]'
t_is "ls --json: its fields" "$(jq -c '.[0] | keys' <<<"$out" 2>&1)" \
	'["base_sha256","base_size","boot","built","kernel_version","name","path","scap_score"]'
t_is "ls --json: no scan, scap_score null" "$(jq -r '.[0].scap_score' <<<"$out")" null
t_is "ls --json: base_sha256 is the manifest's" "$(jq -r '.[0].base_sha256' <<<"$out")" \
	"$(jq -r '.files[] | select(.role=="base") | .sha256' "$IMG/micro/manifest.json")"
t_is "ls --json: path and boot" "$(jq -r '.[0] | "\(.path) \(.boot)"' <<<"$out")" "$IMG/micro kernel"
run "$X" scan micro --images "$IMG"
t_is "scan micro: refused (not a golden image), exit 1" "$rc" 1
t_has "scan micro: says why" "not a golden (boot = efi) image"
run "$X" scan no-such-image --images "$IMG"
t_is "scan of a missing image: exit 1" "$rc" 1
run "$X" scan ../etc --images "$IMG"
t_has "scan ../etc: not an image name" "is not an image name"
mkdir "$W/empty"
run "$X" ls --json --images "$W/empty"
t_is "ls --json of an empty directory: []" "$rc $out" "0 []"

# --- a missing directory -----------------------------------------------------------
run "$X" ls --images "$W/missing"
t_is "ls of a missing directory: exit 1" "$rc" 1
t_has "... naming the directory" "$W/missing"
run "$X" ls --json --images "$W/missing"
t_is "ls --json of a missing directory: exit 1, nothing on stdout" \
	"$rc $("$X" ls --json --images "$W/missing" 2>/dev/null)" "1 "

# --- the image directory from dockd.conf -------------------------------------------
CONF=$W/dockd.conf
printf '# a dockd.conf\nuri = qemu:///system\n\nimage_dir = %s/fromconf\nimage_dir = %s/fromconf2  \n' \
	"$W" "$W" >"$CONF"
t_ok "build micro --config FILE: into the last image_dir of FILE" \
	"$X" build micro --config "$CONF"
t_ok "... which holds micro" test -f "$W/fromconf2/micro/manifest.json"
t_ok "... and the first image_dir does not" test ! -e "$W/fromconf"
run "$X" --config "$CONF" ls --json
t_is "--config FILE ls --json (a global option before the verb)" \
	"$(jq -r '.[0].path' <<<"$out" 2>&1)" "$W/fromconf2/micro"
run "$X" ls --config "$CONF" --images "$IMG" --json
t_is "--images overrides dockd.conf" "$(jq -r '.[0].path' <<<"$out" 2>&1)" "$IMG/micro"
run "$X" ls --config "$W/no.conf"
t_is "--config of a missing file: exit 1" "$rc" 1
t_has "... naming the file" "$W/no.conf"
printf 'image_dir = relative/dir\n' >"$W/rel.conf"
run "$X" ls --config "$W/rel.conf"
t_is "a relative image_dir: exit 1" "$rc" 1
t_has "... file:line named" "$W/rel.conf:1: image_dir"
printf 'uri = qemu:///system\n' >"$W/nokey.conf"
run "$X" rm no-such-image --config "$W/nokey.conf"
t_has "a dockd.conf without image_dir: dockd's default, named" /var/lib/isc/images "$W/nokey.conf"
run "$X" help
t_has "help names dockd.conf and the built-in default image directory" /var/lib/isc/images \
	/dockd.conf

# --- reproducible: micro built twice, the same root filesystem ------------------------
# $IMG/micro and $W/fromconf2/micro are two builds of one recipe from the same
# packages (README "Reproducible images"): same inputs, same digests.
A=$IMG/micro/manifest.json B2=$W/fromconf2/micro/manifest.json
inputs() { jq -cS '.inputs' "$1" 2>&1; }
digests() { jq -cS '[.reproducible, [.files[] | {name, sha256}]]' "$1" 2>&1; }
t_is "reproducible: the manifest records the inputs" \
	"$(jq -r '.inputs | [(.builder | startswith("isc-image ")), (.source_date_epoch | type),
		(.source_date_epoch_from | IN("env", "git", "fixed")), (.recipe_sha256 | length),
		(.agent_sha256 | length), (.host_packages["busybox-static"] | type),
		(.host_packages["e2fsprogs"] | type)] | @tsv' "$A" 2>&1)" \
	"$(printf 'true\tnumber\ttrue\t64\t64\tstring\tstring')"
t_is "reproducible: micro's manifest names nothing that differs" \
	"$(jq -c '.reproducible | [(.rootfs_sha256 | length), .differs]' "$A" 2>&1)" '[64,[]]'
t_is "reproducible: two builds, the same inputs" "$(inputs "$B2")" "$(inputs "$A")"
t_is "reproducible: two builds, the same root filesystem and files (base, kernel, initrd)" \
	"$(digests "$B2")" "$(digests "$A")"
t_ok "build micro with SOURCE_DATE_EPOCH=1234567890" \
	env SOURCE_DATE_EPOCH=1234567890 "$X" build micro --out "$W/epoch"
t_is "... recorded as the environment's" \
	"$(jq -c '.inputs | [.source_date_epoch, .source_date_epoch_from]' "$W/epoch/micro/manifest.json" 2>&1)" \
	'[1234567890,"env"]'
if [ "$(jq -r .reproducible.rootfs_sha256 "$W/epoch/micro/manifest.json")" != \
	"$(jq -r .reproducible.rootfs_sha256 "$A")" ] &&
	[ "$(jq -r .inputs.recipe_sha256 "$W/epoch/micro/manifest.json")" = "$(jq -r .inputs.recipe_sha256 "$A")" ]; then
	t_pass "... another epoch, another root filesystem digest (the recipe's the same)"
else
	t_fail "... another epoch, another root filesystem digest (the recipe's the same)"
fi
run env SOURCE_DATE_EPOCH=yesterday "$X" build micro --out "$W/epoch"
t_is "SOURCE_DATE_EPOCH=yesterday: exit 1, named" "$rc $(grep -c 'SOURCE_DATE_EPOCH "yesterday"' <<<"$out")" "1 1"

# --- rm ------------------------------------------------------------------------------
mkdir "$IMG/notimage"
touch "$IMG/afile"
ln -s micro "$IMG/alink"
for n in notimage afile alink nosuch; do
	run "$X" rm "$n" --images "$IMG"
	if [ "$rc" = 1 ] && grep -qF -e "$n" <<<"$out" &&
		{ [ "$n" = nosuch ] || [ -L "$IMG/$n" ] || [ -e "$IMG/$n" ]; }; then
		t_pass "rm $n: refused, exit 1, named, left alone"
	else
		t_fail "rm $n: refused, exit 1, named, left alone" "exit $rc" "$out"
	fi
done
t_ok "rm of a non-image left micro alone" test -f "$IMG/micro/manifest.json"
run "$X" rm ../images/micro --images "$IMG"
t_ok "rm ../images/micro: not an image name, exit 1" test "$rc" = 1 -a -d "$IMG/micro"
run "$X" rm micro --images "$IMG"
t_is "rm micro: exit 0" "$rc" 0
t_ok "rm micro: gone, nothing left behind but what was not an image" \
	test "$(find "$IMG" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')" = "afile alink notimage "
run "$X" ls --json --images "$IMG"
t_is "ls --json after rm: []" "$rc $out" "0 []"
run "$X" --config "$CONF" rm micro
t_ok "rm with the directory from dockd.conf" test "$rc" = 0 -a ! -e "$W/fromconf2/micro"
