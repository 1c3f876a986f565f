#!/bin/bash
# tests/bench/run.sh — `make bench`: ISC Dock's benchmarks (issue #7).
#
#   sudo make bench            # full: 10 runs per latency, 1 and 10 nodes, ls with 30 nodes
#   sudo make bench QUICK=1    # reduced: 5 runs, 1 and 5 nodes (under 5 minutes)
#
# Everything runs inside tests/lib/sandbox.sh (private network, mount and
# PID namespaces, own libvirtd): tests/bench/inside.sh measures, report.py
# prints the markdown table and writes build/bench/results.json (samples,
# medians, pair ratios, the machine and the commit). It asserts nothing
# about time and is never part of `make check`. Exit 0 unless the sandbox
# cannot run at all. BENCH_ACCEL=tcg forces TCG even where KVM works.
set -u
cd "$(dirname "$0")/../.." || exit 2
SRC=$(pwd)
B=${B:-build}
OUT=$SRC/$B/bench
QUICK=${QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
for f in "$B/dockd" "$B/iscadm" "$B/isc-agent" "$B/images/micro/manifest.json" "$B/images/micro-hostile/manifest.json"; do
	[ -e "$f" ] || { echo "bench: $f missing (make all; make image RECIPE=\"micro micro-hostile\")" >&2; exit 2; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)
ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" BENCH_OUT="$OUT" QUICK="$QUICK" \
	tests/lib/sandbox.sh -- bash tests/bench/inside.sh 2>&1 | tee "$OUT/bench.log" >&2
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ] || [ ! -s "$OUT/samples.jsonl" ]; then
	echo "bench: the sandbox run failed (exit $rc); log: $OUT/bench.log" >&2
	exit 1
fi
# images: on the host (debootstrap needs the Debian archive); full run only
ISC_SRC="$SRC" B="$B" BENCH_OUT="$OUT" SAMPLES="$OUT/samples.jsonl" QUICK="$QUICK" \
	tests/bench/images.sh 2>&1 | tee -a "$OUT/bench.log" >&2
accel=$(cat "$OUT/accel" 2>/dev/null || echo unknown)
kvm=no
grep -Eqw 'vmx|svm' /proc/cpuinfo && [ -e /dev/kvm ] && kvm=yes
dirty=false
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=true
jq -n --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
	--argjson cores "$(nproc)" --arg accel "$accel" --arg kvm "$kvm" \
	--arg mem "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
	--arg kernel "$(uname -r)" --arg qemu "$(qemu-system-x86_64 --version | head -1)" \
	--arg libvirt "$(libvirtd --version 2>/dev/null | head -1)" \
	--arg commit "$(git rev-parse HEAD 2>/dev/null)" --argjson dirty "$dirty" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson quick "$([ "$QUICK" = 1 ] && echo true || echo false)" \
	--argjson secs $(($(date +%s) - start)) \
	'{cpu_model: $cpu, cores: $cores, memory: $mem, accel: $accel, kvm_usable: ($kvm == "yes"),
	  kernel: $kernel, qemu: $qemu, libvirt: $libvirt, commit: $commit, dirty: $dirty,
	  date: $date, quick: $quick, duration_s: $secs}' >"$OUT/machine.json"
python3 tests/bench/report.py "$OUT/samples.jsonl" "$OUT/machine.json" "$OUT/results.json" | tee "$OUT/table.md"
echo "($(($(date +%s) - start)) s)"
