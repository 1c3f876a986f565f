#!/bin/bash
# sandbox-selftest.sh — proves that tests/lib/sandbox.sh keeps its promises.
#
#   tests/e2e/sandbox-selftest.sh               normal run
#   tests/e2e/sandbox-selftest.sh --kill-midway SIGKILL sandbox.sh while a
#                                               domain, dnsmasq, an "outside"
#                                               netns and a daemon are running
#
# Inside the sandbox it checks libvirtd, an open-forward network, a TCG
# domain, an ephemeral private secret and an "outside" netns joined by a
# veth pair; outside, after the sandbox ended, that nothing is left in the
# host (links, addresses, routes, netns, nft rules, processes, libvirt
# files, cgroups, the work dir).  TAP on stdout; exit 0 only if all passed,
# 77 if it cannot run here (not root).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
SANDBOX=$ROOT/tests/lib/sandbox.sh
. "$ROOT/tests/lib/tap.sh"

NET=isc-selftest BR=iscst0 DOM=isc-selftest-tiny
# argument of the detached "test daemon" (sleep), unique per run, to find it
MARK=${SELFTEST_MARK:-7391.$$}

info() { echo "$1=$2" >>"$INFO"; }
retry() { # CMD...: up to 5 s for CMD to succeed
	local i
	for i in $(seq 1 50); do "$@" && return 0; sleep 0.1; done
	"$@"
}
getinfo() { sed -n "s/^$1=//p" "$INFO" | tail -n1; }

# ------------------------------------------------------------------ inside --
inner() {
	local mode=${1:-} i out uuid k initrd

	t_diag "inside: SANDBOX_DIR=$SANDBOX_DIR, start-up took ${SANDBOX_STARTUP_MS} ms"
	info sandbox_dir "$SANDBOX_DIR"
	info pidns "$(readlink /proc/self/ns/pid)"
	info netns "$(readlink /proc/self/ns/net)"
	info cgroups "$(cut -f3 "$SANDBOX_DIR/.state/cgroups" 2>/dev/null | tr '\n' ' ')"
	info startup_ms "$SANDBOX_STARTUP_MS"

	t_ok "libvirtd answers (virsh version)" virsh version
	t_is "LIBVIRT_DEFAULT_URI is the sandbox's" "$LIBVIRT_DEFAULT_URI" qemu:///system
	t_is "/run is a private tmpfs" "$(findmnt -n -o FSTYPE /run | tail -1)" tmpfs
	t_ok "PID 1 is the sandbox's init (new PID namespace)" \
		grep -q -- '--inner' /proc/1/cmdline
	t_is "fresh network namespace: only lo" "$(ip -o link | awk -F': ' '{print $2}' | tr '\n' ' ')" "lo "
	t_is "private sysfs: /sys/class/net shows only lo" "$(ls /sys/class/net | tr '\n' ' ')" "lo "
	out=$(virsh capabilities | xmllint --xpath '//host/secmodel/model/text()' - 2>&1 | tr '\n' ' ')
	t_is "security drivers: no AppArmor/SELinux, DAC only" "$out" "none dac "
	t_is "cgroup namespace: the sandbox sees its own cgroup as /" \
		"$(sed -n 's/^[0-9]*:cpu:\(.*\)/\1/p' /proc/self/cgroup)" /

	# --- an "outside" host in its own netns, joined by a veth pair
	t_ok "ip netns add outside" ip netns add outside
	info outside_ns "net:[$(stat -L -c %i /run/netns/outside)]"
	# Let the outer side take references on our namespaces (see hold_ns).
	info hold 1
	for i in $(seq 1 100); do [ -e "$INFO.held" ] && break; sleep 0.1; done
	t_ok "veth pair sandbox <-> outside" sh -ec '
		ip link add sbx-in type veth peer name sbx-out netns outside
		ip addr add 10.213.8.1/30 dev sbx-in; ip link set sbx-in up
		ip -n outside link set lo up
		ip -n outside addr add 10.213.8.2/30 dev sbx-out
		ip -n outside link set sbx-out up'
	socat -T5 TCP-LISTEN:7000,bind=10.213.8.1,reuseaddr SYSTEM:'echo hello-from-sandbox' \
		</dev/null >/dev/null 2>&1 &
	for i in $(seq 1 50); do
		out=$(ip netns exec outside socat -T3 - TCP:10.213.8.1:7000 </dev/null 2>&1) && break
		sleep 0.1
	done
	t_is "TCP from 'outside' reaches the sandbox over the veth" "$out" hello-from-sandbox

	# --- a detached "test daemon": must die with the sandbox
	setsid sleep "$MARK" </dev/null >/dev/null 2>&1 &
	t_ok "detached test daemon runs" retry pgrep -f "^sleep $MARK\$"

	# --- an isolated network with forward mode='open'
	cat >"$SANDBOX_SCRATCH/net.xml" <<-EOF
	<network>
	  <name>$NET</name>
	  <bridge name='$BR'/>
	  <forward mode='open'/>
	  <ip address='10.213.7.1' prefix='29'>
	    <dhcp><range start='10.213.7.2' end='10.213.7.6'/></dhcp>
	  </ip>
	</network>
	EOF
	t_ok "define network (forward mode='open')" virsh net-define "$SANDBOX_SCRATCH/net.xml"
	t_ok "start network" virsh net-start "$NET"
	t_ok "bridge $BR exists inside" ip link show "$BR"
	t_ok "dnsmasq serves the network" retry pgrep -f "dnsmasq.*/$NET.conf"
	out=$(nft list ruleset 2>&1)
	t_ok "nft ruleset has nothing for $BR / 10.213.7.0/29" \
		sh -c '! printf "%s\n" "$1" | grep -E "$2|10\.213\.7\."' _ "$out" "$BR"
	t_diag "nft ruleset inside has $(printf '%s' "$out" | grep -c .) lines"

	# --- an ephemeral, private secret
	cat >"$SANDBOX_SCRATCH/secret.xml" <<-EOF
	<secret ephemeral='yes' private='yes'><description>sandbox self-test</description></secret>
	EOF
	uuid=$(virsh secret-define "$SANDBOX_SCRATCH/secret.xml" | grep -oE '[0-9a-f-]{36}')
	t_ok "define ephemeral private secret" test -n "$uuid"
	t_ok "set its value" virsh secret-set-value "$uuid" \
		"$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n' | base64 -w0)"
	t_ok "its value cannot be read back" sh -c '! virsh secret-get-value "$1"' _ "$uuid"
	t_ok "it is not stored on disk" sh -c '! ls /etc/libvirt/secrets/"$1"*' _ "$uuid"

	# --- a tiny TCG domain: direct kernel boot, no disk
	k=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1)
	initrd=/boot/initrd.img-${k#/boot/vmlinuz-}
	if [ -z "$k" ] || [ ! -r "$initrd" ]; then
		t_skip "domain tests" "no /boot/vmlinuz-*-cloud-amd64 with initrd"
	else
		# Copies: with dynamic_ownership libvirt chowns them to libvirt-qemu.
		cp "$k" "$SANDBOX_SCRATCH/vmlinuz"
		cp "$initrd" "$SANDBOX_SCRATCH/initrd.img"
		cat >"$SANDBOX_SCRATCH/dom.xml" <<-EOF
		<domain type='qemu'>
		  <name>$DOM</name>
		  <memory unit='MiB'>256</memory>
		  <vcpu>1</vcpu>
		  <cputune><shares>512</shares><period>100000</period><quota>50000</quota></cputune>
		  <os>
		    <type arch='x86_64' machine='pc'>hvm</type>
		    <kernel>$SANDBOX_SCRATCH/vmlinuz</kernel>
		    <initrd>$SANDBOX_SCRATCH/initrd.img</initrd>
		    <cmdline>console=ttyS0 panic=-1</cmdline>
		  </os>
		  <on_crash>destroy</on_crash>
		  <devices>
		    <serial type='file'><source path='$SANDBOX_SCRATCH/console.log'/></serial>
		    <interface type='network'><source network='$NET'/><model type='virtio'/></interface>
		  </devices>
		</domain>
		EOF
		t_ok "define TCG domain" virsh define "$SANDBOX_SCRATCH/dom.xml"
		t_ok "start it" virsh start "$DOM"
		t_is "it is running" "$(virsh domstate "$DOM" 2>&1 | head -n1)" running
		t_is "dynamic_ownership: kernel copy owned by libvirt-qemu while running" \
			"$(stat -c %U "$SANDBOX_SCRATCH/vmlinuz")" libvirt-qemu
		t_ok "its cgroup is the sandbox's, with cpu.shares applied" \
			grep -qx 512 /sys/fs/cgroup/cpu/machine/qemu-*-"$DOM".libvirt-qemu/cpu.shares
		for i in $(seq 1 300); do
			grep -q 'Linux version' "$SANDBOX_SCRATCH/console.log" 2>/dev/null && break
			sleep 0.1
		done
		t_ok "the guest kernel prints on ttyS0 (TCG runs)" \
			grep -m1 'Linux version' "$SANDBOX_SCRATCH/console.log"
	fi

	if [ "$mode" = --kill-midway ]; then
		t_diag "midway: waiting to be killed"
		info midway 1
		sleep 600
		exit 1
	fi

	if [ -n "$k" ]; then
		t_ok "destroy it" virsh destroy "$DOM"
		t_is "it is shut off" "$(virsh domstate "$DOM" 2>&1 | head -n1)" "shut off"
		t_ok "no qemu process left (not even a zombie)" retry sh -c '! pgrep -x qemu-system-x86'
		t_is "kernel copy's owner restored after destroy" \
			"$(stat -c %U "$SANDBOX_SCRATCH/vmlinuz")" root
		t_ok "undefine it" virsh undefine "$DOM"
	fi
	t_ok "undefine the secret" virsh secret-undefine "$uuid"
	t_ok "stop the network" virsh net-destroy "$NET"
	t_ok "bridge gone" sh -c '! ip link show "$1"' _ "$BR"
	t_ok_so_far
	i=$?
	info exit $i
	return $i
}

# ----------------------------------------------------------------- outside --
pids_in_ns() { # TYPE "pid:[INODE]" -> "PID COMM" lines
	local p
	[ -n "$2" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/$1" 2>/dev/null)" = "$2" ] &&
			echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
	done
}

ns_mounted() { # "net:[INODE]" -> the /proc/PID/mountinfo files that mount it
	[ -n "$1" ] && grep -lF " $1 " /proc/[0-9]*/mountinfo 2>/dev/null
}

host_state() { # CATEGORY
	case $1 in
	links) ip -o link ;;
	addresses) ip -o addr ;;
	routes) ip route show table all; ip -6 route show table all; ip rule ;;
	netns) ip netns list ;;
	nft) nft list ruleset 2>&1 ;;
	processes) # in the host's PID namespace (other sandboxes have their own)
		for c in libvirtd virtlogd dnsmasq qemu-system-x86; do
			echo "$c $(pgrep --ns $$ --nslist pid -c -x "$c")"
		done ;;
	libvirt-files)
		find /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt \
			/run/libvirt /boot -printf '%p %u:%g %m %s\n' 2>/dev/null | sort ;;
	esac
}
CATEGORIES="links addresses routes netns nft processes libvirt-files"

# Namespace inode numbers are recycled as soon as a namespace is freed: a
# sandbox started meanwhile (by another test) could get ours.  So hold
# references on the sandbox's PID and network namespaces and on its
# "outside" netns while checking; the inner side waits for "$INFO.held".
hold_ns() { # SANDBOX.SH-PID
	local i uns="" init=""
	for i in $(seq 1 1200); do
		[ "$(getinfo hold)" = 1 ] && break
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	uns=$(pgrep -P "$1" -x unshare) && init=$(pgrep -P "$uns") || return 1
	exec {H_PID}<"/proc/$init/ns/pid" {H_NET}<"/proc/$init/ns/net" \
		{H_OUT}<"/proc/$init/root/run/netns/outside" || return 1
	touch "$INFO.held"
	[ "$(readlink "/proc/self/fd/$H_PID")" = "$(getinfo pidns)" ] &&
		[ "$(readlink "/proc/self/fd/$H_NET")" = "$(getinfo netns)" ] &&
		[ "net:[$(stat -L -c %i "/proc/self/fd/$H_OUT")]" = "$(getinfo outside_ns)" ]
}

outer() {
	local mode=${1:-} c rc i before=() after left out held

	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP must run as root"
		exit 77
	fi
	T_STATE=$(mktemp /tmp/sandbox-selftest.tap.XXXXXX)
	INFO=$(mktemp /tmp/sandbox-selftest.info.XXXXXX)
	SELFTEST_MARK=$MARK
	export T_STATE INFO SELFTEST_MARK
	trap 'rm -f "$T_STATE" "$INFO" "$INFO.held"' EXIT
	trap '[ -n "${spid:-}" ] && kill -TERM "$spid"; exit 130' INT TERM

	plan_start "sandbox self-test ${mode:-(normal run)}"
	for c in $CATEGORIES; do before+=("$(host_state "$c")"); done

	"$SANDBOX" -- "$SELF" --inner $mode &
	spid=$!
	hold_ns "$spid"
	held=$? # reported once the inner side is quiet (TAP numbering)

	if [ "$mode" = --kill-midway ]; then
		for i in $(seq 1 1200); do
			[ "$(getinfo midway)" = 1 ] && break
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
		done
		t_load
		t_is "host side holds the sandbox's namespaces" "$held" 0
		left=$(pids_in_ns pid "$(getinfo pidns)" | awk '{print $2}' | sort | uniq -c |
			awk '{print $2"×"$1}' | tr '\n' ' ')
		t_diag "before the kill, the sandbox runs: $left"
		t_ok "midway reached with qemu, libvirtd and dnsmasq running" \
			sh -c 'case "$1" in *qemu-system*) ;; *) exit 1;; esac
			       case "$1" in *libvirtd*) ;; *) exit 1;; esac
			       case "$1" in *dnsmasq*) ;; *) exit 1;; esac' _ "$left"
		t_ok "'outside' netns is mounted inside the sandbox" \
			test -n "$(ns_mounted "$(getinfo outside_ns)")"
		t_is "the detached test daemon is visible from the host" \
			"$(pgrep -c -f "^sleep $MARK\$")" 1
		t_diag "SIGKILL to sandbox.sh (pid $spid)"
		kill -KILL "$spid"
		wait "$spid" 2>/dev/null
		rc=$?
		t_is "sandbox.sh died of SIGKILL" "$rc" 137
	else
		wait "$spid"
		rc=$?
		t_load
		t_is "host side held the sandbox's namespaces" "$held" 0
		t_is "sandbox.sh returns the command's exit status" "$rc" "$(getinfo exit)"
	fi

	# The watcher cleans up asynchronously after a SIGKILL; allow it 20 s.
	for i in $(seq 1 200); do
		[ -z "$(pids_in_ns pid "$(getinfo pidns)")" ] &&
			[ ! -e "$(getinfo sandbox_dir)" ] && break
		sleep 0.1
	done
	t_is "no process left in the sandbox's PID namespace" \
		"$(pids_in_ns pid "$(getinfo pidns)")" ""
	t_is "no process left in the sandbox's network namespace" \
		"$(pids_in_ns net "$(getinfo netns)")" ""
	t_is "no detached test daemon left" "$(pgrep -c -f "^sleep $MARK\$")" 0
	t_is "'outside' netns is mounted nowhere any more" \
		"$(ns_mounted "$(getinfo outside_ns)")" ""
	t_ok "work dir removed ($(getinfo sandbox_dir))" test ! -e "$(getinfo sandbox_dir)"
	left=
	for c in $(getinfo cgroups); do [ -e "$c" ] && left="$left $c"; done
	t_is "sandbox cgroups removed" "$left" ""
	i=0
	for c in $CATEGORIES; do
		after=$(host_state "$c")
		if [ "$after" = "${before[$i]}" ]; then
			t_pass "host $c unchanged"
		else
			t_fail "host $c unchanged" "$(diff <(echo "${before[$i]}") <(echo "$after"))"
		fi
		i=$((i + 1))
	done
	exec {H_PID}<&- {H_NET}<&- {H_OUT}<&-

	if [ "$mode" != --kill-midway ]; then
		"$SANDBOX" -- sh -c 'exit 42'
		t_is "exit status 42 propagates" "$?" 42
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SANDBOX" -- true 2>&1)
		t_is "not root: exit 77" "$?" 77
		t_diag "$out"
	fi
	t_diag "sandbox start-up: $(getinfo startup_ms) ms"
	t_done
}

case ${1:-} in
--inner) shift; inner "$@" ;;
*) outer "$@" ;;
esac
