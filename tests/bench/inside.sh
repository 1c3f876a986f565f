#!/bin/bash
# inside.sh — the benchmarks proper. Run by tests/bench/run.sh inside
# tests/lib/sandbox.sh (own network, mount and PID namespaces, own libvirtd):
# never run it on the host. Every figure is measured here, now; each one is
# appended as one JSON line to $BENCH_OUT/samples.jsonl (report.py makes the
# table). Nothing is asserted about time: a step that fails is reported as
# such and the others go on.
#
# Environment: ISC_SRC (the checkout), ISC_IMAGES (built images: micro,
# micro-hostile), BENCH_OUT (output dir), QUICK=1 (fewer runs and nodes),
# BENCH_ACCEL=auto|tcg (auto: KVM if /dev/kvm works and the CPU has vmx/svm).
set -u
SRC=${ISC_SRC:?}
OUT=${BENCH_OUT:?}
QUICK=${QUICK:-0}
BD=$SRC/tests/bench
SAMPLES=$OUT/samples.jsonl
: >"$SAMPLES"
. "$SRC/tests/e2e/lib.sh"
. "$BD/lib.sh"

if [ "$QUICK" = 1 ]; then
	N_READY=5 N_LUKS=3 DENSITY="1 5" CP_STOPPED=0 N_CLEANSE=2 CLEANSE_MIB=1024 N_GOLDEN=2
else
	N_READY=10 N_LUKS=10 DENSITY="1 10" CP_STOPPED=20 N_CLEANSE=5 CLEANSE_MIB="1024 65536" N_GOLDEN=3
fi
N_LS=200          # iscadm ls calls per configuration
LS_BLOCK=20       # interleaving block (flood on / flood off)
N_AGENT=50        # agent reports
MEM_READY=256     # MiB, ready latency nodes
MEM_DENSITY=128   # MiB, density nodes
MEM_STOPPED=96    # MiB, the control plane's stopped nodes
SCRATCH=64        # MiB, every node's ephemeral disk (LUKS header: 2 MiB of it)

say() { echo "bench: $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" -v k="${3:-1}" 'BEGIN { printf "%.6f\n", (a - b) * k }'; }

ACCEL=tcg
if [ "${BENCH_ACCEL:-auto}" != tcg ] && grep -Eqw 'vmx|svm' /proc/cpuinfo &&
	{ : <>/dev/kvm; } 2>/dev/null; then
	ACCEL=kvm
fi
echo "$ACCEL" >"$OUT/accel"

# ------------------------------------------------------------- 7. agent --
# shellcheck disable=SC2046 # the agent's samples: one word each
section_agent() {
	local agent=$SRC/build/isc-agent fx=$SRC/tests/agent/fixtures/good out size
	say "7. agent: size, RSS, CPU per report ($N_AGENT reports, fixture good, --unix mode)"
	size=$(stat -c %s "$agent")
	local stripped=stripped
	readelf -S "$agent" 2>/dev/null | grep -q '\.symtab' && stripped="NOT stripped"
	emit 7 agent.size "agent: build/isc-agent size ($stripped, static)" bytes "< 200 KiB" "" "" "$size"
	local nl=()
	if [ -f "$fx/netlink.json" ]; then
		python3 "$SRC/tests/agent/mknl.py" "$fx/netlink.json" "$OUT/nl-good" && nl=(--netlink-replay "$OUT/nl-good")
	fi
	if ! out=$(python3 "$BD/agent_bench.py" "$agent" "$fx" "$N_AGENT" "${nl[@]}"); then
		pending 7 agent.rss "agent: RSS / CPU per report" "failed: agent_bench.py"
		return
	fi
	emit 7 agent.rss "agent: RSS after $((N_AGENT + 1)) reports (host, --unix, fixture)" KiB "< 2 MiB" "" \
		"VmRSS of the real binary run against tests/agent/fixtures/good; a guest's own processes are not visible from the host" \
		"$(jq .rss_kib <<<"$out")"
	emit 7 agent.cpu "agent: CPU time of one full report ($(jq .facts <<<"$out") facts)" ms "" "" \
		"from /proc/PID/schedstat around each requested report" $(jq -r '.report_cpu_ms[]' <<<"$out") # word splitting wanted
	emit 7 agent.wall "agent: one report, request → report_end (wall)" ms "" "" "" \
		$(jq -r '.report_wall_ms[]' <<<"$out")
}

# ------------------------------------------------------- 2. LUKS format --
section_luks() {
	local i lk=() qi=() t0 t1 bin=$OUT/luks_bench
	say "2. LUKS header: dock's luks_format() vs qemu-img create -f luks, $N_LUKS each, interleaved"
	# shellcheck disable=SC2046
	if ! cc -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$SRC/common" -I"$SRC/dockd" -o "$bin" \
		"$BD/luks_bench.c" "$SRC/dockd/luks.c" "$SRC/common/err.c" \
		$(pkg-config --cflags --libs libcryptsetup libsodium); then
		pending 2 luks.dock "create: LUKS header write" "failed: luks_bench does not build"
		return
	fi
	for i in $(seq "$N_LUKS"); do
		rm -f "$OUT/luks.img" "$OUT/qluks.img"
		lk+=("$("$bin" "$OUT/luks.img" "$SCRATCH")")
		# qemu-img's PBKDF benchmark sometimes gives up under load ("Unable
		# to get accurate CPU usage"): try again, up to 3 times
		for _ in 1 2 3; do
			rm -f "$OUT/qluks.img"
			t0=$(now)
			qemu-img create -q --object secret,id=s0,data=bench-key -f luks -o key-secret=s0 \
				"$OUT/qluks.img" "${SCRATCH}M" && { t1=$(now); qi+=("$(sub "$t1" "$t0" 1000)"); break; }
		done
		rm -f "$OUT/qluks.img"
	done
	emit 2 luks.dock "create: LUKS header write, dock's luks_format() (${SCRATCH} MiB)" ms "milliseconds" \
		'[["luks.qemu","qemu-img"]]' "dockd/luks.c linked into tests/bench/luks_bench.c" "${lk[@]}"
	emit 2 luks.qemu "create: LUKS header write, qemu-img create -f luks (its PBKDF benchmark)" ms "" "" "" "${qi[@]}"
}

# ---------------------------------------------------- 4. policy change --
section_fw() {
	local out n init lib cli ratio
	say "4. policy change: tests/fw/bench.sh"
	if ! out=$(bash "$SRC/tests/fw/bench.sh" 2>&1); then
		pending 4 fw "policy: tests/fw/bench.sh" "failed: $(tail -1 <<<"$out")"
		return
	fi
	printf '%s\n' "$out" >"$OUT/fw-bench.txt"
	while read -r n init lib cli ratio; do
		if [ "$n" = flows ]; then # "flows N MS": one flow changed, N flows in the set
			case $init in *[!0-9]* | '') continue ;; esac
			emit_median 4 "fw.flows.$init" "policy: change one flow, $init flows, 1000 nodes, fw_flows_set" \
				ms "" 20 "" "tests/fw/bench.c: medians of 20; no min–max" "$lib"
			continue
		fi
		case $n in *[!0-9]* | '') continue ;; esac
		emit_median 4 "fw.publish.$n" "policy: publish one port, $n nodes, fw_publish (libnftnl)" ms "" 20 \
			"nft -f is ${ratio}" "tests/fw/bench.c: medians of 20, not interleaved; no min–max" "$lib"
		emit_median 4 "fw.nft.$n" "policy: the same change with nft -f, $n nodes" ms "" 20 "" "" "$cli"
		emit 4 "fw.init.$n" "policy: fw_init (whole table), $n nodes" ms "" "" "" "$init"
	done <<<"$out"
}

# --------------------------------------------------------------- dock --
tslog() { # prefix each line with the wall-clock time it arrived
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}
LOG=$W/dockd.tlog
start_dock() {
	dock_setup "" micro micro-hostile
	sed -i "s/^accel = .*/accel = $ACCEL/; s|^subnet_pool = .*|subnet_pool = 10.231.0.0/22|; s/^log_level = .*/log_level = info/" \
		"$W/dockd.conf"
	"$D" -c "$W/dockd.conf" -f </dev/null > >(tslog >>"$LOG") 2>&1 &
	DOCKD_PID=$!
	for _ in $(seq 100); do
		[ -S "$ISC_SOCKET" ] && "$A" ls >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	say "dockd does not start"
	tail -20 "$LOG" >&2
	return 1
}
# ready_at NODE [TIMEOUT]: the time the dock logged "node NODE: agent ... ready"
ready_at() {
	local n=$1 t=${2:-300} line
	for _ in $(seq $((t * 20))); do
		line=$(grep -m1 " node $n: agent .* ready" "$LOG") && { echo "${line%% *}"; return 0; }
		sleep 0.05
	done
	say "node $n: no agent ready line within ${t}s"
	return 1
}

# ready_after NODE SINCE [TIMEOUT]: the first such line logged after SINCE
ready_after() {
	local n=$1 since=$2 t=${3:-300} ts
	for _ in $(seq $((t * 20))); do
		ts=$(awk -v n=" node $n: agent " -v s="$since" 'index($0, n) && / ready / && $1 > s { print $1; exit }' "$LOG")
		[ -n "$ts" ] && { echo "$ts"; return 0; }
		sleep 0.05
	done
	say "node $n: no new agent ready line within ${t}s"
	return 1
}

# timing_of NODE OP: dockd's own timing of the node's last OP, from
# inspect's timing object (complete once the agent's first line arrived):
# its "ms" member, one JSON line.
timing_of() {
	local j
	for _ in $(seq 40); do
		j=$("$A" inspect "$1" --json |
			jq -c --arg op "$2" 'select(.timing.op == $op and .timing.complete) | .timing.ms') &&
			[ -n "$j" ] && { echo "$j"; return 0; }
		sleep 0.05
	done
	say "node $1: no complete $2 timing from dockd"
	return 1
}

PHASES="validate volume luks render network firewall domain first_line total other"
# emit_phases SEC ID LABEL FILE: the median of each phase of dockd's timing
# over the runs in FILE (timing_of lines); "other" is total − the phases
# (state-file writes with their fsyncs, waiting for the lock).
emit_phases() {
	local sec=$1 id=$2 lab=$3 f=$4 p what goal vs vals
	if [ ! -s "$f" ]; then
		pending "$sec" "$id" "$lab: per-phase breakdown" "failed: no timing from dockd (see the log)"
		return
	fi
	for p in $PHASES; do
		goal='' vs=''
		case $p in
		validate) what="validate (image digest, profile, policy)" ;;
		volume) what="storage volume + secret (libvirt)" ;;
		luks) what="LUKS key + header (libcryptsetup)" goal=milliseconds ;;
		render) what="XML render (all templates)" ;;
		network) what="network define + start (libvirt)" ;;
		firewall) what="firewall batch (libnftnl)" ;;
		domain) what="domain define + start (libvirt)" ;;
		first_line) what="domain started → first agent line (guest boot)" ;;
		total) what="total: request → first agent line" ;;
		other) what="other: total − phases (state writes, fsync)" ;;
		esac
		mapfile -t vals < <(jq -r --arg p "$p" 'if $p == "other"
			then .total - ([to_entries[] | select(.key != "total") | .value // 0] | add)
			else .[$p] // empty end' "$f")
		emit "$sec" "$id.$p" "$lab: $what" ms "$goal" "$vs" \
			"dockd's own CLOCK_MONOTONIC timing (iscadm inspect --json: timing), median per phase" "${vals[@]}"
	done
}

# ---------------------------------------------------- 1. ready latency --
RAWDIR=$SANDBOX_SCRATCH/raw
VDIR=$SANDBOX_SCRATCH/virsh
KERNEL='' INITRD='' CMDLINE=''
ready_setup() {
	mkdir -p "$RAWDIR" "$VDIR"
	chmod 0777 "$RAWDIR" "$VDIR"
	# libvirt's floor: the dock's own domain XML, from a node defined (not
	# started) by the dock, so its LUKS secret and network exist.
	"$A" create vtmpl --image micro --memory $MEM_READY --vcpus 1 --scratch-size ${SCRATCH}M --no-start \
		>/dev/null || return 1
	virsh dumpxml --inactive isc-vtmpl >"$VDIR/tmpl.xml" || return 1
	cp --sparse=always "$("$A" inspect vtmpl --json | jq -r .disks.ephemeral.path)" "$VDIR/pristine.img" || return 1
	virsh net-info isc-vtmpl 2>/dev/null | grep -Eq '^Active: +yes' || virsh net-start isc-vtmpl >/dev/null
	read -r KERNEL INITRD CMDLINE < <(python3 - "$VDIR/tmpl.xml" <<'PY'
import sys, xml.etree.ElementTree as E
o = E.parse(sys.argv[1]).getroot().find("os")
print(o.findtext("kernel"), o.findtext("initrd"), o.findtext("cmdline"))
PY
)
	# the physical floor: the same kernel, initrd, command line; a copy of the base disk
	cp "$(dirname "$KERNEL")/base.qcow2" "$RAWDIR/base.qcow2" && chmod 0444 "$RAWDIR/base.qcow2"
}

run_dock() { # I -> "READY_S API_S DESTROY_S"
	local n=rd$1 t0 t1 t2 t3 t4
	t0=$(now)
	"$A" create "$n" --image micro --memory $MEM_READY --vcpus 1 --scratch-size ${SCRATCH}M >/dev/null || return 1
	t1=$(now)
	t2=$(ready_at "$n") || { "$A" destroy --force "$n" >/dev/null; return 1; }
	timing_of "$n" create >>"$OUT/timing-create.jsonl"
	t3=$(now)
	"$A" destroy --force "$n" >/dev/null || return 1
	t4=$(now)
	echo "$(sub "$t2" "$t0") $(sub "$t1" "$t0") $(sub "$t4" "$t3")"
}

run_raw() { # I -> READY_S
	local i=$1 sock=$RAWDIR/agent-$1.sock img=$RAWDIR/scratch-$1.img t0 t2 qpid cpu=()
	rm -f "$img" "$sock"
	truncate -s $((SCRATCH - 2))M "$img" # the LUKS payload of the dock's volume
	[ "$ACCEL" = tcg ] && cpu=(-cpu qemu64)
	t0=$(now)
	qemu-system-x86_64 -name "raw-$i" -machine q35 -accel "$ACCEL" "${cpu[@]}" -m $MEM_READY -smp 1 \
		-nodefaults -no-user-config -display none \
		-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" \
		-drive "file=$RAWDIR/base.qcow2,if=virtio,format=qcow2,readonly=on" \
		-drive "file=$img,if=virtio,format=raw,discard=unmap" \
		-nic none \
		-device virtio-serial-pci \
		-chardev "socket,id=agent,path=$sock,server=on,wait=off" \
		-device virtserialport,chardev=agent,name=org.isc.agent.0 \
		-object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0 \
		-serial "file:$RAWDIR/console-$i.log" </dev/null >"$RAWDIR/qemu-$i.log" 2>&1 &
	qpid=$!
	t2=$(python3 "$BD/hello_wait.py" "$sock" 300)
	local rc=$?
	kill "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	rm -f "$img" "$sock"
	[ $rc = 0 ] || { tail -5 "$RAWDIR/qemu-$i.log" >&2; return 1; }
	sub "$t2" "$t0"
}

run_virsh() { # I -> READY_S
	local i=$1 dom=bench-virsh-$1 img=$VDIR/eph-$1.img sock=$VDIR/agent-$1.sock t0 t2 wpid rc
	rm -f "$sock"
	cp --sparse=always "$VDIR/pristine.img" "$img"
	python3 - "$VDIR/tmpl.xml" "$VDIR/dom-$i.xml" "$dom" "$img" "$sock" "$VDIR/console-$i.log" <<'PY' || return 1
import sys, xml.etree.ElementTree as E
src, dst, name, img, sock, log = sys.argv[1:]
t = E.parse(src)
d = t.getroot()
d.find("name").text = name
for tag in ("uuid", "genid"):
    for x in d.findall(tag):
        d.remove(x)
dev = d.find("devices")
for disk in dev.findall("disk"):
    if disk.find("encryption") is not None:
        disk.find("source").set("file", img)
for ch in dev.findall("channel"):
    ch.find("source").set("path", sock)
for x in dev.iter("log"):
    x.set("file", log)
t.write(dst)
PY
	python3 "$BD/hello_wait.py" "$sock" 300 >"$VDIR/hello-$i" &
	wpid=$!
	t0=$(now)
	if ! virsh create "$VDIR/dom-$i.xml" >/dev/null; then
		kill "$wpid"
		wait "$wpid"
		return 1
	fi
	wait "$wpid"
	rc=$?
	t2=$(cat "$VDIR/hello-$i")
	virsh destroy "$dom" >/dev/null 2>&1
	rm -f "$img" "$sock"
	[ $rc = 0 ] || return 1
	sub "$t2" "$t0"
}

section_ready() {
	local i r dk=() api=() des=() raw=() vir=()
	say "1. ready latency: dock / raw QEMU / virsh create, $N_READY rounds, interleaved"
	if ! ready_setup; then
		pending 1 ready "ready latency" "failed: set-up (see the log)"
		return
	fi
	local a b c
	for i in $(seq "$N_READY"); do
		a='' b='' c=''
		if r=$(run_dock "$i"); then
			read -r a b c <<<"$r"
			dk+=("$a") api+=("$b") des+=("$c")
		fi
		r=$(run_raw "$i") && raw+=("$r")
		r=$(run_virsh "$i") && vir+=("$r")
		say "  round $i: dock ${a:-?} s, raw ${raw[-1]:-?} s, virsh ${vir[-1]:-?} s"
	done
	local same=$'\n'"micro, $MEM_READY MiB, 1 vCPU, ${SCRATCH} MiB scratch, $ACCEL"
	same=${same#$'\n'}
	emit 1 ready.dock "ready: iscadm create → agent hello (dock) [$same]" s "dock/raw ≤ 1.10" \
		'[["ready.raw","raw QEMU"],["ready.virsh","virsh"]]' \
		"from before iscadm create to the dock's log line 'agent ... ready' (stderr time-stamped on arrival)" "${dk[@]}"
	emit 1 ready.raw "ready: raw qemu-system-x86_64 → hello (same kernel, initrd, cmdline, disks)" s "floor" "" \
		"base.qcow2 copy read-only, raw scratch file (no LUKS), -nic none, agent port read by hello_wait.py" "${raw[@]}"
	emit 1 ready.virsh "ready: virsh create of the dock's domain XML → hello" s "libvirt's floor" "" \
		"the XML of a dock-made node (kept defined, stopped, for its secret and network), new name, no uuid, fresh copy of its LUKS volume" \
		"${vir[@]}"
	emit 2 create.api "create: iscadm create returns (volume, LUKS, network, firewall, define, start)" s "" "" "" "${api[@]}"
	local boot=()
	for i in "${!dk[@]}"; do boot+=("$(sub "${dk[$i]}" "${api[$i]}")"); done
	emit 2 create.boot "create: iscadm create returned → agent hello (guest boot)" s "" "" "" "${boot[@]}"
	emit 2 destroy "destroy: iscadm destroy of a running node" s "" "" "" "${des[@]}"
	emit_phases 2 create.phase "create phase" "$OUT/timing-create.jsonl"
	"$A" destroy --force vtmpl >/dev/null
}

# ----------------------------------------------------------- 5. cleanse --
# One node per ephemeral-disk size; rounds interleave the sizes and, per
# size, a cleanse (halt, fresh ephemeral disk with a new key, start) with
# `virsh reboot` of the same node, each until the agent's hello of the new
# boot. The 64 GiB / 1 GiB ratio is the claim that a cleanse is O(1) in the
# disk's size.
section_cleanse() {
	local mib n i t0 t1 t2 sizes=() cd=$OUT/cleanse
	mkdir -p "$cd"
	for mib in $CLEANSE_MIB; do
		t0=$(now)
		if "$A" create "cl$mib" --image micro --memory $MEM_DENSITY --vcpus 1 --scratch-size "${mib}M" >/dev/null &&
			ready_after "cl$mib" "$t0" >/dev/null; then
			sizes+=("$mib")
		else
			pending 5 "cleanse.$mib" "cleanse, $((mib / 1024)) GiB" "failed: create"
		fi
	done
	say "5. cleanse: ${sizes[*]} MiB ephemeral disks, $N_CLEANSE rounds of cleanse / virsh reboot, interleaved"
	for i in $(seq "$N_CLEANSE"); do
		for mib in "${sizes[@]}"; do
			n=cl$mib
			t0=$(now)
			if "$A" cleanse "$n" >/dev/null; then
				t1=$(now)
				if t2=$(ready_after "$n" "$t0"); then
					sub "$t2" "$t0" >>"$cd/$mib.cl"
					sub "$t1" "$t0" >>"$cd/$mib.api"
					timing_of "$n" cleanse | jq '.volume + .luks' >>"$cd/$mib.disk"
				fi
			fi
			t0=$(now)
			virsh reboot "isc-$n" >/dev/null && t2=$(ready_after "$n" "$t0") && sub "$t2" "$t0" >>"$cd/$mib.rb"
			say "  round $i, $((mib / 1024)) GiB: cleanse $(tail -1 "$cd/$mib.cl" 2>/dev/null) s, reboot $(tail -1 "$cd/$mib.rb" 2>/dev/null) s"
		done
	done
	local g vs goal dvs cl api disk rb
	for mib in "${sizes[@]}"; do
		cl=() api=() disk=() rb=()
		mapfile -t cl < <(cat "$cd/$mib.cl" 2>/dev/null)
		mapfile -t api < <(cat "$cd/$mib.api" 2>/dev/null)
		mapfile -t disk < <(cat "$cd/$mib.disk" 2>/dev/null)
		mapfile -t rb < <(cat "$cd/$mib.rb" 2>/dev/null)
		g=$((mib / 1024)) vs="[[\"reboot.$mib\",\"virsh reboot\"]]" goal='' dvs=''
		if [ "$mib" != 1024 ] && [ -s "$cd/1024.cl" ]; then
			vs="[[\"reboot.$mib\",\"virsh reboot\"],[\"cleanse.1024\",\"the 1 GiB disk\"]]"
			goal="$g GiB / 1 GiB within 10%"
			dvs='[["cleanse.disk.1024","the 1 GiB disk"]]'
		fi
		emit 5 "cleanse.$mib" "cleanse: iscadm cleanse → agent hello, $g GiB ephemeral disk" s "$goal" "$vs" \
			"same node, $MEM_DENSITY MiB; cleanse = ACPI halt, fresh LUKS disk, new key, start; sizes and virsh reboot interleaved" \
			"${cl[@]}"
		emit 5 "cleanse.api.$mib" "cleanse: iscadm cleanse returns, $g GiB" s "" "" "" "${api[@]}"
		emit 5 "cleanse.disk.$mib" "cleanse: fresh disk (dockd's volume + luks phases), $g GiB" ms "" "$dvs" \
			"from dockd's timing of each cleanse" "${disk[@]}"
		emit 5 "reboot.$mib" "cleanse: virsh reboot → agent hello, $g GiB (same node)" s "" "" "" "${rb[@]}"
		"$A" destroy --force "cl$mib" >/dev/null
	done
	[ "$QUICK" = 1 ] && pending 5 cleanse.65536 "cleanse: 64 GiB ephemeral disk (ratio 64 GiB / 1 GiB)" \
		"not measured in QUICK: full run only (make bench)" "64 GiB / 1 GiB within 10%"
}

# ----------------------------------------------------------- 3. density --
qemu_pid() { pgrep -f "guest=isc-$1," | head -1; }
# guest_rss_kib PID MIB: Rss of QEMU's guest RAM mapping (the anonymous
# mapping of the guest's size), i.e. the guest RAM actually touched.
guest_rss_kib() {
	awk -v want=$(($2 * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { size = -1; next }
		/^Size:/ { size = $2; next }
		/^Rss:/ { if (size >= want && size <= want + 4096 && $2 > best) best = $2 }
		END { print best + 0 }' "/proc/$1/smaps"
}
# tcg_rss_kib PID: Rss of QEMU's anonymous executable mappings: TCG's
# translated-code buffer (none under KVM).
tcg_rss_kib() {
	awk '
		/^[0-9a-f]+-[0-9a-f]+ / { code = ($2 ~ /x/ && NF == 5); next }
		/^Rss:/ { if (code) sum += $2 }
		END { print sum + 0 }' "/proc/$1/smaps"
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# sandbox_ticks: CPU ticks used so far by every process in the sandbox's
# PID namespace (libvirtd, virtlogd, dockd and its readers, every QEMU, us)
sandbox_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{ sub(/.*\) /, ""); s += $12 + $13 } END { print s + 0 }'
}
host_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

DNODES=0
density_at() { # COUNT: bring the dock to COUNT running micro nodes, measure
	local k=$1 i p rss=() guest=() over=() tcg=() bare=() reader=() busy=() nodecpu=() drss=() dfds=()
	local hz t0s t1s b0 b1 c0=() c1=() s0 s1
	say "3. density: $k node(s) at $MEM_DENSITY MiB"
	while [ "$DNODES" -lt "$k" ]; do
		DNODES=$((DNODES + 1))
		"$A" create "d$DNODES" --image micro --memory $MEM_DENSITY --vcpus 1 --scratch-size ${SCRATCH}M \
			>/dev/null || { say "create d$DNODES failed"; return 1; }
	done
	for i in $(seq "$k"); do ready_at "d$i" 600 >/dev/null || return 1; done
	sleep 5 # the first reports, DHCP: let the guests go idle
	local pids=()
	for i in $(seq "$k"); do pids+=("$(qemu_pid "d$i")"); done
	for p in "${pids[@]}"; do
		local r g c
		r=$(status_kib "$p" VmRSS) g=$(guest_rss_kib "$p" $MEM_DENSITY) c=$(tcg_rss_kib "$p")
		rss+=("$(sub "$r" 0 0.0009765625)") guest+=("$(sub "$g" 0 0.0009765625)")
		over+=("$(sub "$r" "$g" 0.0009765625)") tcg+=("$(sub "$c" 0 0.0009765625)")
		bare+=("$(sub "$((r - g))" "$c" 0.0009765625)")
	done
	for p in $(pgrep -f -- '--agent-reader'); do reader+=("$(sub "$(status_kib "$p" VmRSS)" 0 0.0009765625)"); done
	# idle CPU: 10 one-second samples of the host; each QEMU over the 10 s
	hz=$(getconf CLK_TCK)
	for p in "${pids[@]}"; do c0+=("$(cpu_ticks "$p")"); done
	s0=$(sandbox_ticks)
	t0s=$(now)
	for i in $(seq 10); do
		read -r b0 t0 < <(host_busy)
		drss+=("$(sub "$(status_kib "$DOCKD_PID" VmRSS)" 0 0.0009765625)")
		dfds+=("$(ls "/proc/$DOCKD_PID/fd" | wc -l)")
		sleep 1
		read -r b1 t1 < <(host_busy)
		busy+=("$(awk -v a="$b0" -v b="$b1" -v c="$t0" -v d="$t1" 'BEGIN { printf "%.2f", (b - a) * 100 / (d - c) }')")
	done
	t1s=$(now)
	s1=$(sandbox_ticks)
	for p in "${pids[@]}"; do c1+=("$(cpu_ticks "$p")"); done
	for i in "${!pids[@]}"; do
		nodecpu+=("$(awk -v a="${c0[$i]}" -v b="${c1[$i]}" -v hz="$hz" -v s="$(sub "$t1s" "$t0s")" \
			'BEGIN { printf "%.2f", (b - a) * 100 / hz / s }')")
	done
	local tag="$k node(s)"
	emit 3 "density.$k.rss" "density, $tag: QEMU RSS per node ($MEM_DENSITY MiB guest)" MiB "" "" "one sample per node" "${rss[@]}"
	emit 3 "density.$k.guest" "density, $tag: guest RAM touched per node" MiB "" "" \
		"Rss of QEMU's guest RAM mapping (/proc/PID/smaps)" "${guest[@]}"
	emit 3 "density.$k.overhead" "density, $tag: VMM overhead per node (QEMU RSS − guest RAM touched)" MiB \
		"anchor: Firecracker ≤ 5 MiB" "" "under TCG this includes QEMU's translated-code cache (next rows)" "${over[@]}"
	emit 3 "density.$k.tcg" "density, $tag: … of which TCG translated-code cache" MiB "" "" \
		"Rss of QEMU's anonymous executable mappings; 0 under KVM" "${tcg[@]}"
	emit 3 "density.$k.bare" "density, $tag: VMM overhead per node without the TCG cache" MiB \
		"anchor: Firecracker ≤ 5 MiB" "" "" "${bare[@]}"
	emit 3 "density.$k.reader" "density, $tag: agent reader (dockd --agent-reader) RSS per node" MiB "" "" "" "${reader[@]}"
	emit 3 "density.$k.dockd_rss" "density, $tag: dockd RSS" MiB "" "" "sampled each second for 10 s" "${drss[@]}"
	emit 3 "density.$k.dockd_fds" "density, $tag: dockd open fds" fds "" "" "" "${dfds[@]}"
	emit 3 "density.$k.host_cpu" "density, $tag idle: host CPU busy (% of all $(nproc) cores)" % "" "" \
		"/proc/stat, 10 one-second samples; host-wide: anything else running on the machine counts too" "${busy[@]}"
	emit 3 "density.$k.sandbox_cpu" "density, $tag idle: CPU of the whole sandbox (QEMUs, libvirtd, dockd, readers; % of one core, 10 s)" % "" "" \
		"utime+stime of every process in the sandbox's PID namespace" \
		"$(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v s="$(sub "$t1s" "$t0s")" 'BEGIN { printf "%.2f", (b - a) * 100 / hz / s }')"
	emit 3 "density.$k.node_cpu" "density, $tag idle: CPU per QEMU (% of one core, over 10 s)" % "" "" "" "${nodecpu[@]}"
}

section_density() {
	local k
	for k in $DENSITY; do density_at "$k" || { pending 3 "density.$k" "density, $k node(s)" "failed (see the log)"; return 1; }; done
}

# ----------------------------------------------------- 8. control plane --
ls_times() { # CALLS -> ms per call, one per line
	local i t=()
	for i in $(seq "$1"); do
		t+=("$EPOCHREALTIME")
		"$A" ls >/dev/null
		t+=("$EPOCHREALTIME")
	done
	printf '%s %s\n' "${t[@]}" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }'
}

section_control() {
	local i running stopped total base=() on=() off=()
	say "8. control plane: iscadm ls, $N_LS calls"
	for i in $(seq "$CP_STOPPED"); do
		"$A" create "s$i" --image micro --memory $MEM_STOPPED --vcpus 1 --scratch-size 16M --no-start >/dev/null ||
			say "create s$i failed"
	done
	total=$("$A" ls --json | jq length)
	running=$("$A" ls --json | jq '[.[] | select(.state == "running")] | length')
	stopped=$((total - running))
	local desc="$total nodes: $running running, $stopped defined and stopped"
	mapfile -t base < <(ls_times "$N_LS")
	emit 8 ls.base "control: iscadm ls, $desc" ms "" "" "" "${base[@]}"
	# one more node, flooding its channel (micro-hostile); paired with the
	# same node paused (virsh suspend: no flood), in blocks of $LS_BLOCK calls
	"$A" create hfl --image micro-hostile --memory $MEM_STOPPED --vcpus 1 --scratch-size 16M >/dev/null ||
		{ pending 8 ls.flood "control: iscadm ls with a flooding node" "failed: create micro-hostile"; return; }
	if ! wait_for 300 bash -c "'$A' ls | grep -Eq '^hfl .*hostile'"; then
		say "hfl never flagged hostile; measuring anyway"
	fi
	for _ in $(seq $((N_LS / LS_BLOCK))); do
		virsh suspend isc-hfl >/dev/null
		sleep 0.5
		mapfile -t -O "${#off[@]}" off < <(ls_times $LS_BLOCK)
		virsh resume isc-hfl >/dev/null
		sleep 0.5
		mapfile -t -O "${#on[@]}" on < <(ls_times $LS_BLOCK)
	done
	emit 8 ls.flood "control: iscadm ls, $((total + 1)) nodes, one flooding its channel (micro-hostile)" ms "" \
		'[["ls.paused","flooder paused"]]' "interleaved blocks of $LS_BLOCK calls with the flooder paused (virsh suspend)" "${on[@]}"
	emit 8 ls.paused "control: iscadm ls, $((total + 1)) nodes, the flooder paused" ms "" "" "" "${off[@]}"
}

# ------------------------------------------------------ 9. hello flood --
# A node whose guest floods hellos with two alternating boot ids
# (micro-hostile booted with isc.hostile=hellos: 40 a second, under the
# reader's 50 lines/s), and a quiet micro node. Sampled each second: the
# hellos the dock took (inspect's agent.hellos), dockd's CPU, the flooder's
# record file replaced (its inode: each write is a rename), and the quiet
# node's heartbeats (the gaps between them), first without the flood, then
# with it. The garbage flooder of section 8 is paused meanwhile.
hello_samples() { # SECONDS QUIET [FLOODER] -> lines "HB_GAP_S|-", "HELLOS_PER_S CPU_PCT INODE_CHANGED"
	local i q f hb last_hb=0 hs last_hs=-1 c last_c ino last_ino="" hz
	hz=$(getconf CLK_TCK)
	q=$2 f=${3:-}
	last_c=$(cpu_ticks "$DOCKD_PID")
	for i in $(seq "$1"); do
		sleep 1
		hb=$("$A" inspect "$q" | jq '.agent.last_heartbeat // 0')
		if [ "$hb" != "$last_hb" ]; then
			[ "$last_hb" != 0 ] && echo "gap $((hb - last_hb))"
			last_hb=$hb
		fi
		c=$(cpu_ticks "$DOCKD_PID")
		echo "cpu $(sub "$c" "$last_c" "$((100 / hz))")"
		last_c=$c
		[ -n "$f" ] || continue
		hs=$("$A" inspect "$f" | jq '.agent.hellos')
		[ "$last_hs" -gt 0 ] && echo "hellos $((hs - last_hs))" # from its first hello on
		last_hs=$hs
		ino=$(stat -c %i "$W/state/nodes/$f.json" 2>/dev/null)
		[ -n "$last_ino" ] && [ "$ino" != "$last_ino" ] && echo "write 1"
		last_ino=$ino
	done
}

section_hellos() {
	local n=${1:-30} base=() flood=() cpu0=() cpu1=() rate=() writes
	say "9. hello flood: a node flooding hellos with alternating boot ids, a quiet node, $n s each"
	cp -r "$W/images/micro-hostile" "$W/images/micro-hellos"
	jq '.name = "micro-hellos" | .boot.cmdline += " isc.hostile=hellos"' \
		"$W/images/micro-hostile/manifest.json" >"$W/images/micro-hellos/manifest.json"
	virsh suspend isc-hfl >/dev/null 2>&1
	"$A" create hq --image micro --memory $MEM_DENSITY --vcpus 1 --scratch-size 16M >/dev/null &&
		ready_at hq 300 >/dev/null ||
		{ pending 9 hellos "hello flood" "failed: the quiet node hq"; return; }
	local out
	out=$(hello_samples "$n" hq)
	mapfile -t base < <(awk '$1 == "gap" { print $2 }' <<<"$out")
	mapfile -t cpu0 < <(awk '$1 == "cpu" { print $2 }' <<<"$out")
	# Sampled from the create on: the first boot changes' writes count.
	"$A" create hflip --image micro-hellos --memory $MEM_DENSITY --vcpus 1 --scratch-size 16M \
		--on-hostile alert >/dev/null ||
		{ pending 9 hellos "hello flood" "failed: the flooding node hflip"; return; }
	out=$(hello_samples "$n" hq hflip)
	mapfile -t flood < <(awk '$1 == "gap" { print $2 }' <<<"$out")
	mapfile -t cpu1 < <(awk '$1 == "cpu" { print $2 }' <<<"$out")
	mapfile -t rate < <(awk '$1 == "hellos" { print $2 }' <<<"$out")
	writes=$(awk '$1 == "write" { k++ } END { printf "%.2f\n", k * 60 / '"$n"' }' <<<"$out")
	emit 9 hellos.rate "hello flood: hellos/s the dock takes from the flooding node (alternating boot ids)" "hellos/s" "" "" \
		"per second, from inspect's agent.hellos; the guest sends 40/s" "${rate[@]}"
	emit 9 hellos.cpu "hello flood: dockd CPU (% of one core) while it floods" % "" "" \
		"per second, /proc/PID/stat" "${cpu1[@]}"
	emit 9 hellos.cpu0 "hello flood: dockd CPU (% of one core), the quiet node alone" % "" "" "" "${cpu0[@]}"
	emit 9 hellos.writes "hello flood: the flooder's record written (per minute)" "/min" "≤ 5 (4 boot changes + 1 a minute)" "" \
		"renames of its record seen, sampled each second over $n s from its create" "$writes"
	emit 9 hellos.gap "hello flood: the quiet node's heartbeat gap during the flood" s "" '[["hellos.gap0","no flood"]]' \
		"seconds between heartbeats seen, sampled each second" "${flood[@]}"
	emit 9 hellos.gap0 "hello flood: the quiet node's heartbeat gap, no flood" s "" "" "" "${base[@]}"
	"$A" destroy --force hflip >/dev/null
	"$A" destroy --force hq >/dev/null
	virsh resume isc-hfl >/dev/null 2>&1
}

# ------------------------------------------- 6. golden image through OVMF --
# BENCH_GOLDEN_IMAGE (default debian-web): an efi image; skipped (pending)
# when ISC_IMAGES does not hold it. One node at a time, destroyed after.
GOLDEN=${BENCH_GOLDEN_IMAGE:-debian-web}
section_golden() {
	local i n t0 t1 mem ready=()
	if [ ! -e "$ISC_IMAGES/$GOLDEN/manifest.json" ]; then
		pending 6 golden.ready "images: $GOLDEN boot-to-agent-ready through OVMF" "not built: no $GOLDEN in ISC_IMAGES"
		return
	fi
	cp -r "$ISC_IMAGES/$GOLDEN" "$W/images/$GOLDEN" && chmod -R a+rX "$W/images/$GOLDEN"
	mem=$(jq -r '.recommended.memory_mib // 512' "$W/images/$GOLDEN/manifest.json")
	say "6. golden: $GOLDEN boot-to-agent-ready through OVMF, $N_GOLDEN runs, ${mem} MiB"
	for i in $(seq "$N_GOLDEN"); do
		n=g$i
		t0=$(now)
		"$A" create "$n" --image "$GOLDEN" --memory "${mem}M" --vcpus 1 >/dev/null || { say "create $n failed"; continue; }
		t1=$(ready_at "$n" 900) && ready+=("$(sub "$t1" "$t0")")
		"$A" destroy --force "$n" >/dev/null || say "destroy $n failed"
	done
	emit 6 golden.ready "images: $GOLDEN, iscadm create → agent hello through OVMF (UEFI, $ACCEL)" s "" "" \
		"one node at a time; the image hash, firmware, boot loader, kernel, systemd up to isc-agent" "${ready[@]}"
}

# ------------------------------------------------------------------ main --
section_agent
section_luks
section_fw
if start_dock; then
	section_ready
	section_golden
	section_cleanse
	section_density
	section_control
	section_hellos "$([ "$QUICK" = 1 ] && echo 40 || echo 90)"
else
	pending 1 ready "ready latency, density, control plane" "failed: dockd does not start"
fi
cp "$LOG" "$OUT/dockd.log" 2>/dev/null
# Nodes are left running: the sandbox's PID namespace ends them all.
kill "$DOCKD_PID" 2>/dev/null
exit 0
