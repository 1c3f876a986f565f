#!/bin/bash
# End-to-end test of the resource controls (issue 21), inside
# tests/lib/sandbox.sh. Bad limits are refused naming the input (exit 2,
# HTTP 400); three micro nodes get limits that land in libvirt's live XML,
# the QEMU's cgroup and the dock's nft table, and are measured with
# one-sided bounds only (a slow machine makes each pass more easily, never
# fail):
#  - c (--cpus 0.25): a busy loop in the guest uses at most 40% of a core
#    over 10 s (the QEMU cgroup's CPU usage);
#  - r (--disk-write-mbps 5): a dd to /scratch takes at least what 5 MB/s
#    implies;
#  - n (--net-out-mbps 10): a transfer from the guest through a published
#    port takes at least what 10 Mbit/s implies (the node's chain bw-n).
# The `resources` row PASSes, and FAILs naming the limit once one is
# changed behind the dock's back (virsh blkdeviotune, schedinfo, the
# cgroup file itself, the bw chain). Last, a domain left paused without
# its memory cap (a dock killed mid-start) is capped by the next dock
# before it runs.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "resources: CPU quota and weight, disk and network bandwidth, measured; the resources row"
dock_setup "" micro
outside_setup
dock_start

t_like() { # DESC VALUE ERE
	if grep -qE -- "$3" <<<"$2"; then t_pass "$1"; else t_fail "$1" "     got: '$2'" "expected: /$3/"; fi
}
row() { # NODE ID: "STATUS evidence" of the node's row
	"$A" status "$1" --json >"$W/$1.status.json"
	jq -r --arg id "$2" '.checks[] | select(.id == $id) | "\(.status) \(.evidence)"' "$W/$1.status.json"
}
has_hello() { "$A" inspect "$1" | jq -e '.agent.hello != null' >/dev/null; }
# No wait: the consoles' readers (guest_attach) end with their QEMU.
finish() {
	kill "$DOCKD_PID" 2>/dev/null
	dock_diag
	[ "$_t_fail" != 0 ] && for n in c r n; do t_diag "--- $n: $(row $n resources)"; done
	t_done
}
trap 'finish; exit $?' EXIT

# --- bad input: exit 2 (400), naming it; nothing made
bad() { # WHAT EXPECTED-TEXT ARGS...
	local what=$1 want=$2 out rc
	shift 2
	out=$("$A" create x --image micro "$@" 2>&1)
	rc=$?
	t_is "$what: exit 2, naming it ($out)" "$rc $(grep -cF -- "$want" <<<"$out")" "2 1"
}
bad "--cpus 1.5 with 1 vCPU" '"cpus" 1.5 is outside 0.05 to 1' --cpus 1.5
bad "--cpus 0.01" '"cpus" 0.01 is outside 0.05 to 1' --cpus 0.01
bad "--cpus half" '--cpus "half" is not a number of cores' --cpus half
bad "--cpu-weight 0" '"cpu_weight" must be a whole number from 1 to 10000' --cpu-weight 0
bad "--disk-write-mbps 0" '"disk"."write_mbps" must be a whole number from 1 to 100000 (MB/s)' \
	--disk-write-mbps 0
bad "--net-out-mbps 100001" '"net"."out_mbps" must be a whole number from 1 to 100000 (Mbit/s)' \
	--net-out-mbps 100001
api() { curl -s --unix-socket "$ISC_SOCKET" -o "$W/api.out" -w '%{http_code}' -X POST -d "$1" http://dock/v1/nodes; }
t_is "API: a misspelt disk limit is 400 naming it" \
	"$(api '{"name":"x","image":"micro","disk":{"wirte_mbps":5}}') $(jq -r .error "$W/api.out")" \
	'400 create request: "disk": unknown field "wirte_mbps"'
t_is "API: \"cpus\" as a string is 400" \
	"$(api '{"name":"x","image":"micro","cpus":"0.5"}') $(jq -r .error "$W/api.out")" \
	'400 create request: "cpus" must be a number (a fraction of one host core, 0.5)'
t_ok "... and no node x was made" bash -c "! '$A' inspect x >/dev/null 2>&1 && ! virsh dominfo isc-x >/dev/null 2>&1"

# --- two nodes with limits
t_ok "create c (--cpus 0.25 --cpu-weight 50)" \
	"$A" create c --image micro --memory 160M --scratch-size 32M --cpus 0.25 --cpu-weight 50
t_ok "create r (disk write 5 MB/s, read 500 IOPS)" \
	"$A" create r --image micro --memory 160M --scratch-size 64M --disk-write-mbps 5 \
	--disk-read-iops 500
# The network's limits are the firewall's (nft limit), not libvirt's
# <bandwidth> (tc: sch_sfq and act_police, which a kernel may lack).
t_ok "create n (net in 20, out 10 Mbit/s; publish 8081:81)" \
	"$A" create n --image micro --memory 160M --scratch-size 32M --net-in-mbps 20 \
	--net-out-mbps 10 --publish 8081:81
t_is "inspect c shows its limits" "$("$A" inspect c | jq -c .limits)" '{"cpus":0.25,"cpu_weight":50}'
t_is "inspect r shows its limits" "$("$A" inspect r | jq -c .limits)" \
	'{"disk":{"write_mbps":5,"read_iops":500}}'
t_is "c's record keeps them" "$(jq -c .limits "$W/state/nodes/c.json")" '{"cpus":0.25,"cpu_weight":50}'
virsh dumpxml isc-c >"$W/c.xml"
virsh dumpxml isc-r >"$W/r.xml"
t_is "c's live XML: <cputune> shares 50, global period 100000, quota 25000" \
	"$(xmllint --xpath 'concat(//cputune/shares, " ", //cputune/global_period, " ", //cputune/global_quota)' "$W/c.xml")" \
	"50 100000 25000"
t_is "r's live XML: <iotune> of the ephemeral disk (vdb)" \
	"$(xmllint --xpath 'concat(//disk[target/@dev="vdb"]/iotune/write_bytes_sec, " ", //disk[target/@dev="vdb"]/iotune/read_iops_sec)' "$W/r.xml")" \
	"5000000 500"
virsh dumpxml isc-n >"$W/n.xml"
t_is "n's live XML: no <bandwidth>" "$(xmllint --xpath 'count(//interface/bandwidth)' "$W/n.xml")" 0
BR_N=$(nft list map inet isc node_bw | sed -n 's/.*"\([^"]*\)" : jump bw-n\b.*/\1/p')
t_ok "n's bridge ($BR_N) goes to chain bw-n in map node_bw" test -n "$BR_N"
nft list chain inet isc bw-n >"$W/bw-n.nft"
t_like "chain bw-n: what n sends over 1250000 bytes/s dropped" "$(cat "$W/bw-n.nft")" \
	"iifname \"$BR_N\" limit rate over 1250000 bytes/second burst 125000 bytes drop"
t_like "chain bw-n: what n receives over 2500000 bytes/s dropped" "$(cat "$W/bw-n.nft")" \
	"oifname \"$BR_N\" limit rate over 2500000 bytes/second burst 250000 bytes drop"

# The QEMU's cgroup (v1: the cpu and cpuacct controllers' directories).
qemu_cg() { # NODE CONTROLLER: the node's directory of that controller
	local pid line p
	pid=$(cat "/run/libvirt/qemu/isc-$1.pid") || return 1
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		p=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
		p=${p%/emulator}
		echo "/sys/fs/cgroup${p%/libvirt}"
	else
		line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$pid/cgroup") || return 1
		p=${line#*:*:}
		echo "/sys/fs/cgroup/$2${p%/emulator}"
	fi
}
cpu_usage_us() { # NODE: its QEMU's CPU time so far, microseconds
	local d
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		d=$(qemu_cg "$1" cpu) && sed -n 's/^usage_usec //p' "$d/cpu.stat"
	else
		d=$(qemu_cg "$1" cpuacct) && echo $(($(cat "$d/cpuacct.usage") / 1000))
	fi
}

t_ok "c boots and says hello (at a quarter of a core)" wait_for 240 has_hello c
t_ok "r boots and says hello" wait_for 120 has_hello r
t_like "c: resources PASS" "$(row c resources)" "^PASS .*cpus 0.25; cpu_weight 50"
t_like "r: resources PASS" "$(row r resources)" "^PASS .*disk.write_mbps 5; disk.read_iops 500\$"

# --- CPU: a busy loop for 14 s; 10 s of it measured from the host
guest_attach c
guest_run c "{ timeout 14 sh -c 'while :; do :; done' >/dev/null 2>&1 & }"
sleep 2
u0=$(cpu_usage_us c)
t0=$(date +%s%N)
sleep 10
u1=$(cpu_usage_us c)
t1=$(date +%s%N)
pct=$(((u1 - u0) * 100000 / (t1 - t0)))
t_diag "c: its QEMU used ${pct}% of a core over $(((t1 - t0) / 1000000)) ms of a busy loop"
t_ok "c (--cpus 0.25) used at most 40% of a core over 10 s (${pct}%)" test "$pct" -le 40

# --- disk: 20 MB written with fsync at 5 MB/s takes at least 3.5 s
guest_attach r
s=$(date +%s%N)
t_ok "r: dd of 20 MB to /scratch" guest_run r "dd if=/dev/zero of=/scratch/big bs=1M count=20 conv=fsync"
ms=$((($(date +%s%N) - s) / 1000000))
t_diag "r: 20 MB written in $ms ms ($((20000 / (ms > 0 ? ms : 1))) MB/s)"
t_ok "r (--disk-write-mbps 5): 20 MB took at least 3.5 s ($ms ms)" test "$ms" -ge 3500

# --- network: 8 MB sent from the guest through a published port
t_ok "n boots and says hello" wait_for 120 has_hello n
t_like "n: resources PASS" "$(row n resources)" "^PASS .*net.in_mbps 20; net.out_mbps 10\$"
guest_attach n
guest_run n "mkdir -p /scratch/www && dd if=/dev/zero of=/scratch/www/f bs=1M count=8 2>/dev/null && httpd -p 81 -h /scratch/www"
t_ok "n serves on 81" wait_for 20 $OUT bash -c 'exec 3<>/dev/tcp/192.0.2.1/8081'
read -r size secs < <($OUT curl -s -m 60 -o /dev/null -w '%{size_download} %{time_total}\n' http://192.0.2.1:8081/f)
t_diag "n: $size bytes sent through the published port in $secs s"
t_is "the whole 8 MB arrived" "$size" 8388608
# 8 MiB at 1.25 MB/s, less the bucket (a second's worth and the 0.1 s
# burst): 5.6 s; 4.5 s asked.
t_ok "n (--net-out-mbps 10): 8 MB took at least 4.5 s (${secs} s)" \
	awk -v s="$secs" 'BEGIN { exit !(s >= 4.5) }'
# changed behind the dock's back: the row names it, from the firewall
nft flush chain inet isc bw-n
t_like "n: resources FAIL after its bandwidth chain was flushed, naming both" "$(row n resources)" \
	"^FAIL differs from the record: net.in_mbps 20: firewall 0 B/s; net.out_mbps 10: firewall 0 B/s"
nft -f - <<EOF_NFT
add rule inet isc bw-n iifname "$BR_N" limit rate over 1250000 bytes/second burst 125000 bytes drop
add rule inet isc bw-n oifname "$BR_N" limit rate over 5000000 bytes/second burst 500000 bytes drop
EOF_NFT
t_like "n: resources FAIL with another in limit, naming net.in_mbps" "$(row n resources)" \
	"^FAIL differs from the record: net.in_mbps 20: firewall 5000000 B/s\$"

# --- changed behind the dock's back: the row names what differs
virsh blkdeviotune isc-r vdb --write-bytes-sec 10000000 --live >/dev/null
t_like "r: resources FAIL after virsh blkdeviotune, naming disk.write_mbps" "$(row r resources)" \
	"^FAIL differs from the record: disk.write_mbps 5: XML 10000000 B/s"
virsh schedinfo isc-c --live global_quota=50000 >/dev/null
t_like "c: resources FAIL after virsh schedinfo, naming cpus" "$(row c resources)" \
	"^FAIL differs from the record: cpus 0.25: XML quota 50000/100000 us"
virsh schedinfo isc-c --live global_quota=25000 >/dev/null
t_like "c: PASS again once libvirt has the recorded quota" "$(row c resources)" "^PASS "
cg=$(qemu_cg c cpu)
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	echo "60000 100000" >"$cg/cpu.max"
else
	echo 60000 >"$cg/cpu.cfs_quota_us"
fi
t_like "c: FAIL after the cgroup's quota was written directly, naming it" "$(row c resources)" \
	"^FAIL differs from the record: cpus 0.25: cgroup quota 60000/100000 us"

# --- a domain left paused without its memory cap (what a dock killed
# between the paused start and the cap leaves): the next dock caps it,
# then lets it run
want=$((($(jq .memory_mib "$W/state/nodes/r.json") + 512) * 1024))
hard() { virsh memtune isc-r | awk '$1 == "hard_limit" { print $3 }'; }
t_is "r's memory hard limit is the record's memory + 512 MiB" "$(hard)" "$want"
virsh suspend isc-r >/dev/null && virsh memtune isc-r --hard-limit -1 --live >/dev/null
t_is "r paused and uncapped behind the dock's back" "$(virsh domstate isc-r) $(hard)" "paused unlimited"
kill -9 "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
dock_start
t_is "dock restarted (kill -9)" $? 0
wait_for 30 bash -c '[ "$(virsh domstate isc-r)" = running ]'
t_is "the restarted dock capped r, then resumed it" "$(virsh domstate isc-r) $(hard)" "running $want"
t_ok "... and said so" grep -q 'node r: found paused without its memory hard limit' "$W/dockd.log"
t_ok "r's resources row no longer names the memory limit" \
	bash -c "! '$A' status r --json | jq -r '.checks[] | select(.id == \"resources\") | .evidence' | grep -q 'hard limit'"
