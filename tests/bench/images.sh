#!/bin/bash
# tests/bench/images.sh — figure 6 (images), run by tests/bench/run.sh on the
# host, not in the sandbox: debootstrap needs the Debian archive, which the
# sandbox's private network cannot reach. Full run only (QUICK=1 lists the
# figure as not measured): a cold `isc-image build debian-web` into a fresh
# directory (no download cache) takes ~4 minutes here; then a second build
# from the same packages must give the same root filesystem (repro.sh).
# Appends to $SAMPLES.
#
# Environment: ISC_SRC (the checkout), B (build dir), SAMPLES, BENCH_OUT, QUICK.
set -u
SRC=${ISC_SRC:?}
OUT=${BENCH_OUT:?}
: "${SAMPLES:?}"
QUICK=${QUICK:-0}
. "$SRC/tests/bench/lib.sh"
RECIPE=debian-web
LABEL="images: $RECIPE build time (isc-image build, cold: fresh --out, no download cache)"
LABEL_REPRO="images: $RECIPE reproducible (built again from the same packages: same root filesystem digest)"

say() { echo "bench: $*" >&2; }

# ---- hook: debian-web build time ------------------------------------------
if [ "$QUICK" = 1 ]; then
	pending 6 images.build "$LABEL" "not measured in QUICK: full run only (make bench; ~4 min, needs the Debian archive)"
	pending 6 images.repro "$LABEL_REPRO" "not checked in QUICK: full run only (or make image-repro RECIPE=$RECIPE)"
elif [ ! -f "$SRC/images/recipes/$RECIPE" ]; then
	pending 6 images.build "$LABEL" "not measured: no recipe images/recipes/$RECIPE"
elif [ ! -x "$SRC/${B:-build}/isc-image" ]; then
	pending 6 images.build "$LABEL" "not measured: ${B:-build}/isc-image missing (make all)"
else
	tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/isc-bench-image.XXXXXX")
	say "6. images: $RECIPE build into $tmp (log: $OUT/image-build.log)"
	t0=$EPOCHREALTIME
	# The scan adds ANSSI's restrictive profile here (make check scans standard and high).
	if ISC_IMAGE_SCAP_EXTRA=anssi_np_nt28_restrictive \
		"$SRC/${B:-build}/isc-image" build "$RECIPE" --out "$tmp" >"$OUT/image-build.log" 2>&1; then
		t1=$EPOCHREALTIME
		emit 6 images.build "$LABEL" s "" "" \
			"one build; debootstrap from the machine's apt mirror, libguestfs (TCG appliance), packing; OpenSCAP: standard, anssi_np_nt28_high, anssi_np_nt28_restrictive ($(jq -r '[.scan.profiles[] | "\(.id) \(.score)%"] | join(", ")' "$tmp/$RECIPE/manifest.json" 2>/dev/null))" \
			"$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')"
		# Reproducible: the same recipe again, the same package versions (the
		# cold build's download cache), the same root filesystem (repro.sh).
		say "6. images: $RECIPE again into $tmp.2, compared (log: $OUT/image-repro.log)"
		t0=$EPOCHREALTIME
		if ISC_SRC="$SRC" B="${B:-build}" "$SRC/tests/bench/repro.sh" "$RECIPE" "$tmp" "$tmp.2" >"$OUT/image-repro.log" 2>&1; then
			t1=$EPOCHREALTIME
			emit 6 images.repro "$LABEL_REPRO" s "" "" \
				"second build (warm cache): inputs, packages, rootfs $(jq -r .reproducible.rootfs_sha256 "$tmp/$RECIPE/manifest.json" | cut -c1-12) and files identical" \
				"$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')"
		else
			pending 6 images.repro "$LABEL_REPRO" "failed: not reproducible (build/bench/image-repro.log: $(grep -m1 '^not ok' "$OUT/image-repro.log"))"
		fi
		cat "$OUT/image-repro.log" >&2
	else
		pending 6 images.build "$LABEL" "failed: isc-image build (see build/bench/image-build.log: $(tail -1 "$OUT/image-build.log"))"
		pending 6 images.repro "$LABEL_REPRO" "not measured: the first build failed"
	fi
	rm -rf "$tmp" "$tmp.2" "$tmp.2.log"
fi
exit 0
