#!/bin/bash
# sandbox.sh — run a command inside a private, throwaway libvirt environment.
#
#   tests/lib/sandbox.sh [--keep-dir DIR] -- CMD [ARGS...]
#
# CMD runs as root in new mount, network, PID, cgroup, IPC and UTS namespaces
# with its own virtlogd + libvirtd (qemu:///system), a private /run, private
# /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt and a scrubbed copy
# of /etc/libvirt (no networks, domains, pools, secrets or hooks from the
# host).  Nothing is created in the host's namespaces.  When CMD exits — or
# when this script, unshare or the sandbox's init is killed, even with
# SIGKILL — the kernel kills every process left inside (PID namespace), and
# the work dir and the sandbox's cgroups are removed.
#
# Environment given to CMD:
#   SANDBOX_ACTIVE=1           you are inside a sandbox
#   SANDBOX_DIR                the work dir (0755, on the host's disk)
#   SANDBOX_SCRATCH            $SANDBOX_DIR/scratch: put files QEMU must read here
#   SANDBOX_LOG_DIR            $SANDBOX_DIR/log = /var/log/libvirt inside
#   SANDBOX_STARTUP_MS         time from start to "libvirtd answers"
#   LIBVIRT_DEFAULT_URI        qemu:///system (the sandbox's libvirtd)
#
# Knobs (environment of the caller):
#   SANDBOX_KEEP=1             keep the work dir (its path is printed)
#   SANDBOX_VERBOSE=1          print set-up progress on stderr
#   SANDBOX_CGROUPS=0          do not give the sandbox its own cgroups; libvirt
#                              then runs with cgroup_controllers = [ ]
#   SANDBOX_QEMU_CONF=TEXT     lines appended to the sandbox's qemu.conf
#   SANDBOX_LIBVIRTD_CONF=TEXT lines appended to the sandbox's libvirtd.conf
#   SANDBOX_START_TIMEOUT=20   seconds to wait for libvirtd
#   SANDBOX_CAPS_CACHE=DIR     share libvirt's QEMU capabilities cache between
#                              sandboxes (root-owned DIR, created 0700): start-up
#                              drops from ~1.7 s to ~0.3 s.  libvirt revalidates
#                              the cache (QEMU/libvirt/kernel versions) itself.
#
# Exit status: CMD's, 77 if the sandbox cannot run here (not root, missing
# tools), 99 if setting it up failed, 128+N if this script was killed by
# signal N (TERM, INT, HUP are handled: the sandbox is killed and removed),
# 137 if the sandbox's init or unshare was killed.
set -u

SANDBOX_SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SANDBOX_SELF

sbx_say() { echo "sandbox: $*" >&2; }
sbx_log() { [ "${SANDBOX_VERBOSE:-0}" = 1 ] && echo "sandbox: $*" >&2; return 0; }
sbx_setup_fail() { sbx_say "set-up failed: $*"; exit 99; }
sbx_now_ms() { local s; s=$(date +%s%N); echo $((s / 1000000)); }

sbx_usage() {
	sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$SANDBOX_SELF"
}

# ---------------------------------------------------------------- cgroups --
# One line per hierarchy in $W/.state/cgroups: "NAME<TAB>MOUNTOPTS<TAB>HOSTDIR"
# HOSTDIR is the sandbox's own cgroup (created under the caller's cgroup).

sbx_cgroup_create() { # W ID
	local w=$1 id=$2 list=$1/.state/cgroups
	local mnt root fstype sopts name opts place dir ctrl line o
	: >"$list" || return 1
	while read -r _ _ _ root mnt _ rest; do
		fstype=${rest#*- }; fstype=${fstype%% *}
		case $fstype in cgroup|cgroup2) ;; *) continue ;; esac
		[ "$root" = / ] || continue
		case $mnt in /sys/fs/cgroup/*) ;; *) continue ;; esac
		name=${mnt#/sys/fs/cgroup/}
		case $name in */*) continue ;; esac
		sopts=${rest#*- }; sopts=${sopts#* }; sopts=${sopts#* }   # super options
		place=
		if [ "$fstype" = cgroup2 ]; then
			opts=cgroup2
			place=$(sed -n 's/^0:://p' /proc/self/cgroup)
		else
			opts=
			for o in ${sopts//,/ }; do
				case $o in rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|xattr) ;;
				*) opts=${opts:+$opts,}$o ;;
				esac
			done
			[ -n "$opts" ] || continue
			while IFS=: read -r _ ctrl line; do
				[ "$ctrl" = "$opts" ] && place=$line
			done </proc/self/cgroup
			case $opts in name=*) opts=none,$opts ;; esac
		fi
		[ -n "$place" ] || continue
		dir=$mnt${place%/}/isc-sandbox.$id
		mkdir "$dir" || return 1
		printf '%s\t%s\t%s\n' "$name" "$opts" "$dir" >>"$list"
		if [ -f "$dir/cpuset.cpus" ]; then
			cat "$dir/../cpuset.cpus" >"$dir/cpuset.cpus" || return 1
			cat "$dir/../cpuset.mems" >"$dir/cpuset.mems" || return 1
		fi
	done </proc/self/mountinfo
	[ -s "$list" ]
}

sbx_cgroup_enter() { # LIST PID
	local name opts dir
	while IFS=$'\t' read -r name opts dir; do
		echo "$2" >"$dir/cgroup.procs" || return 1
	done <"$1"
}

# Remove the sandbox's cgroups, deepest first.  Processes still in them
# (there should be none once the PID namespace is gone) are ours: kill them.
sbx_cgroup_remove() { # LIST
	local list=$1 name opts dir left pids
	[ -s "$list" ] || return 0
	for _ in $(seq 1 100); do
		left=0
		while IFS=$'\t' read -r name opts dir; do
			[ -d "$dir" ] || continue
			pids=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null)
			[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
			find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$dir" ] && left=1
		done <"$list"
		[ $left = 0 ] && return 0
		sleep 0.1
	done
	sbx_say "warning: could not remove cgroups listed in $list"
	return 1
}

# ---------------------------------------------------------------- outside --

# Runs in its own session, reading a pipe whose write end only the main
# process holds: "pid N" when unshare started, "done" when the main process
# cleaned up.  EOF without "done" means the main process died (SIGKILL):
# make sure the sandbox is gone, then remove its cgroups and work dir.
sbx_alive() { # PID: exists and is not a zombie
	local st
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

sbx_watch() { # W KEEP
	local w=$1 keep=$2 line pid=''
	trap '' INT TERM HUP QUIT PIPE
	while read -r line; do
		case $line in
		"pid "*) pid=${line#pid } ;;
		done) exit 0 ;;
		esac
	done
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null # normally already dead (pdeathsig)
		# Dead once gone or a zombie (our dead parent's reaper may be slow).
		for _ in $(seq 1 100); do
			sbx_alive "$pid" || break
			sleep 0.1
		done
	fi
	sbx_cgroup_remove "$w/.state/cgroups"
	[ "$keep" = 1 ] || rm -rf --one-file-system "$w"
}

sbx_outer() {
	local keep=${SANDBOX_KEEP:-0} w='' keepdir='' id rc=0 pid wfd use_cg=0 sig

	while [ $# -gt 0 ]; do
		case $1 in
		--keep-dir) [ $# -ge 2 ] || { sbx_usage >&2; exit 2; }; keepdir=$2; shift 2 ;;
		--keep-dir=*) keepdir=${1#*=}; shift ;;
		-h|--help) sbx_usage; exit 0 ;;
		--) shift; break ;;
		*) sbx_say "unknown option '$1' (use -- before the command)"; exit 2 ;;
		esac
	done
	[ $# -gt 0 ] || { sbx_usage >&2; exit 2; }

	if [ "$(id -u)" != 0 ]; then
		echo "sandbox: skipped: must run as root (needs namespaces and its own libvirtd)"
		exit 77
	fi
	local t
	for t in unshare setpriv libvirtd virtlogd virsh ip mount; do
		command -v "$t" >/dev/null ||
			{ echo "sandbox: skipped: '$t' not found"; exit 77; }
	done

	# An asynchronous command needs an open stdin to pass it on.
	{ true <&0; } 2>/dev/null || exec </dev/null
	local t0; t0=$(sbx_now_ms)
	id=$(printf '%s.%s' "$$" "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')")
	if [ -n "$keepdir" ]; then
		keep=1
		mkdir -p "$keepdir" || sbx_setup_fail "cannot create $keepdir"
		[ -z "$(ls -A "$keepdir")" ] || sbx_setup_fail "--keep-dir $keepdir is not empty"
		w=$(readlink -f "$keepdir")
	else
		w=$(mktemp -d /var/tmp/isc-sandbox.XXXXXX) || sbx_setup_fail "mktemp"
	fi
	chmod 0755 "$w" && mkdir -m 0700 "$w/.state" || sbx_setup_fail "cannot prepare $w"

	# Watcher first, so that from here on a SIGKILL still gets cleaned up.
	exec {wfd}> >(exec setsid bash -c '. "$0" --source-only; sbx_watch "$@"' \
		"$SANDBOX_SELF" "$w" "$keep" >/dev/null)

	if [ "${SANDBOX_CGROUPS:-1}" != 0 ]; then
		if sbx_cgroup_create "$w" "$id" 2>"$w/.state/cgroup.err"; then
			use_cg=1
		else
			sbx_say "warning: no private cgroups ($(head -n1 "$w/.state/cgroup.err")); libvirt will not use cgroups"
			sbx_cgroup_remove "$w/.state/cgroups"
			: >"$w/.state/cgroups"
		fi
	fi

	# To the watcher; if it is gone, no SIGPIPE for us (nor for CMD).
	sbx_tell() { (trap '' PIPE; echo "$1" >&"$wfd") 2>/dev/null; }
	sbx_finish() {
		trap '' INT TERM HUP
		[ -n "${pid:-}" ] && { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
		sbx_cgroup_remove "$w/.state/cgroups"
		if [ "$keep" = 1 ]; then
			sbx_say "kept work dir $w"
		else
			rm -rf --one-file-system "$w"
		fi
		sbx_tell "done"
		exec {wfd}>&-
	}
	for sig in INT TERM HUP; do
		# shellcheck disable=SC2064
		trap "sbx_say 'caught SIG$sig, killing the sandbox'; sbx_finish; exit \$((128 + $(kill -l $sig)))" $sig
	done

	sbx_log "work dir $w, cgroups: $use_cg"
	# The child joins the sandbox cgroups, then becomes unshare; if this shell
	# dies, the kernel kills unshare (pdeathsig), whose --kill-child kills the
	# namespace's init, and with it every process in the PID namespace.
	(
		exec {wfd}>&-
		cgflag=
		if [ $use_cg = 1 ]; then
			sbx_cgroup_enter "$w/.state/cgroups" "$BASHPID" || exit 99
			cgflag=--cgroup
		fi
		# (bash checks, after the pdeathsig is set, that we have not died
		# already: if we had, its parent would no longer be us.)
		exec setpriv --pdeathsig KILL \
			bash -c '[ "$PPID" = "$1" ] || exit 99; shift; exec "$@"' _ $$ \
			unshare --mount --net --pid --fork --mount-proc --propagation private \
			--ipc --uts $cgflag --kill-child=SIGKILL \
			-- bash "$SANDBOX_SELF" --inner "$w" "$use_cg" "$t0" -- "$@"
	) <&0 &
	pid=$!
	sbx_tell "pid $pid"
	# wait returns early (>128) when a trapped signal arrives; the trap exits.
	wait "$pid"
	rc=$?
	pid=
	if [ ! -s "$w/.state/exit" ]; then
		# The sandbox's init died before CMD returned: it was killed (unshare
		# reports that as 1), or set-up failed (reported already, 99).
		[ $rc = 99 ] || { sbx_say "the sandbox was killed"; rc=137; }
	fi
	sbx_finish
	exit $rc
}

# ----------------------------------------------------------------- inside --

# Append "key = value" lines to a libvirt config file, first deleting the
# keys' existing settings (libvirt uses the first one it finds).
sbx_conf() { # FILE LINES...
	local f=$1 line key
	shift
	printf '\n# --- ISC Dock test sandbox ---\n' >>"$f"
	for line in "$@"; do
		while IFS= read -r line; do
			key=$(expr "$line" : '[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=')
			[ -n "$key" ] && sed -i -E "/^[[:space:]]*${key}[[:space:]]*=/d" "$f"
			printf '%s\n' "$line" >>"$f"
		done <<<"$line"
	done
}

sbx_inner() { # W USE_CG T0 -- CMD...
	local w=$1 use_cg=$2 t0=$3 name opts dir d
	shift 4
	# We are PID 1 of the new PID namespace; our parent (unshare) kills us
	# with SIGKILL if it dies.  Make the mounts of this namespace private.
	mount --make-rprivate / || sbx_setup_fail "make-rprivate"

	# A sysfs of our own: /sys/class/net must show this namespace's links,
	# not the host's (libvirt writes bridge settings through sysfs).
	mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || sbx_setup_fail "mount sysfs"
	mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs /sys/fs/cgroup ||
		sbx_setup_fail "tmpfs on /sys/fs/cgroup"
	if [ "$use_cg" = 1 ]; then
		# In our cgroup namespace these mounts show the sandbox's own cgroup
		# as the root: libvirt's /machine tree lands under it.
		while IFS=$'\t' read -r name opts dir; do
			mkdir -p "/sys/fs/cgroup/$name"
			if [ "$opts" = cgroup2 ]; then
				mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "/sys/fs/cgroup/$name"
			else
				mount -t cgroup -o "nosuid,nodev,noexec,$opts" cgroup "/sys/fs/cgroup/$name"
			fi || sbx_setup_fail "mount cgroup $name"
		done <"$w/.state/cgroups"
	fi

	# Private /run (pidfiles, sockets, /run/netns).
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || sbx_setup_fail "tmpfs on /run"
	mkdir -p /run/libvirt /run/lock /run/netns /run/user
	chmod 1777 /run/lock

	# Private libvirt state, logs, cache and configuration.
	mkdir -p "$w/lib" "$w/log" "$w/cache" "$w/scratch"
	chmod 0755 "$w/lib" "$w/log" "$w/scratch"
	chmod 0711 "$w/cache"
	for d in boot images; do mkdir -p "$w/lib/$d"; chmod 0711 "$w/lib/$d"; done
	for d in network dnsmasq; do mkdir -p "$w/lib/$d"; chmod 0755 "$w/lib/$d"; done
	for d in sanlock lockd; do mkdir -p "$w/lib/$d"; chmod 0700 "$w/lib/$d"; done
	mkdir -p "$w/lib/qemu/channel/target" "$w/lib/qemu/nvram" "$w/lib/qemu/save" \
		"$w/lib/qemu/snapshot" "$w/lib/qemu/dump" "$w/lib/qemu/ram"
	chown -R libvirt-qemu:libvirt-qemu "$w/lib/qemu" 2>/dev/null ||
		sbx_say "warning: cannot chown $w/lib/qemu to libvirt-qemu"
	chmod 0750 "$w/lib/qemu" "$w/lib/qemu/channel" "$w/lib/qemu/channel/target"
	mkdir -p "$w/log/qemu"; chmod 0755 "$w/log/qemu"
	mkdir -p "$w/cache/qemu"; chmod 0711 "$w/cache/qemu"

	rm -rf "${w:?}/etc"
	cp -a /etc/libvirt "$w/etc" || sbx_setup_fail "copy /etc/libvirt"
	# Keep the *.conf files and the stock nwfilters; drop every object the
	# host defined (networks, domains, pools, secrets, node devices, hooks).
	rm -rf "$w/etc/secrets" "$w/etc/storage" "$w/etc/nodedev" "$w/etc/hooks" \
		"$w/etc/qemu" "$w/etc/lxc" "$w/etc/libxl" "$w/etc/ch" "$w/etc/bhyve"
	mkdir -p "$w/etc/qemu/networks/autostart" "$w/etc/qemu/autostart" \
		"$w/etc/storage/autostart" "$w/etc/hooks"
	local cg_conf=
	[ "$use_cg" = 1 ] || cg_conf='cgroup_controllers = [ ]'
	sbx_conf "$w/etc/libvirtd.conf" 'auth_unix_ro = "none"' 'auth_unix_rw = "none"' \
		'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"' "${SANDBOX_LIBVIRTD_CONF:-}"
	sbx_conf "$w/etc/virtlogd.conf" 'log_outputs = "3:file:/var/log/libvirt/virtlogd.log"'
	sbx_conf "$w/etc/qemu.conf" "$cg_conf" "${SANDBOX_QEMU_CONF:-}"

	mount --bind "$w/lib" /var/lib/libvirt &&
		mount --bind "$w/log" /var/log/libvirt &&
		mount --bind "$w/cache" /var/cache/libvirt &&
		mount --bind "$w/etc" /etc/libvirt || sbx_setup_fail "bind mounts"
	if [ -d /var/log/swtpm ]; then
		mkdir -p "$w/log-swtpm" && mount --bind "$w/log-swtpm" /var/log/swtpm
	fi
	# A /dev/kvm that QEMU's user cannot open (a host whose /dev/kvm group
	# is not that user's): libvirt probes QEMU's capabilities with
	# CAP_DAC_OVERRIDE and finds KVM, its cache check (access(2) as that
	# user) does not, so the cache is stale at every lookup and libvirt
	# probes QEMU again, twice (0.3 s each, ~100 times a create: most of a
	# create's 15-30 s). Here the user is given /dev/kvm's group, as a
	# host's kvm group does (a copy of /etc/group, this namespace only).
	# (Not a mount over /dev/kvm: libvirt moves /dev's mounts into QEMU's.)
	local quser kgid
	quser=$(sed -n 's/^[[:space:]]*user[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$w/etc/qemu.conf" | tail -1)
	quser=${quser:-libvirt-qemu}
	if [ -c /dev/kvm ] && getent passwd "$quser" >/dev/null &&
		! setpriv --reuid="$quser" --regid="$(id -g "$quser")" --init-groups \
			sh -c ': <>/dev/kvm' 2>/dev/null; then
		kgid=$(stat -c %g /dev/kvm)
		awk -F: -v OFS=: -v g="$kgid" -v u="$quser" '$3 == g { $4 = $4 == "" ? u : $4 "," u } 1' \
			/etc/group >"$w/group" && chmod 644 "$w/group" &&
			mount --bind "$w/group" /etc/group || sbx_setup_fail "/dev/kvm's group for $quser"
	fi

	ip link set lo up || sbx_setup_fail "ip link set lo up"

	# Keep libvirt's environment clean of the caller's libvirt settings.
	unset LIBVIRT_DEFAULT_URI VIRSH_DEFAULT_CONNECT_URI LIBVIRT_LOG_OUTPUTS \
		LIBVIRT_LOG_FILTERS LIBVIRT_DEBUG
	local caps=${SANDBOX_CAPS_CACHE:-}
	if [ -n "$caps" ]; then
		mkdir -p -m 0700 "$caps" 2>/dev/null
		if [ -d "$caps" ] && [ "$(stat -c %u "$caps")" = 0 ]; then
			mkdir -p "$w/cache/qemu/capabilities"
			cp -p "$caps"/*.xml "$w/cache/qemu/capabilities/" 2>/dev/null
		else
			sbx_say "warning: ignoring SANDBOX_CAPS_CACHE=$caps (not a root-owned directory)"
			caps=
		fi
	fi

	sbx_start_fail() {
		local f
		sbx_say "set-up failed: $*"
		for f in "$w/log/virtlogd.log" "$w/log/libvirtd.log"; do
			[ -s "$f" ] || continue
			sbx_say "--- tail of $f:"
			tail -n 30 "$f" >&2
		done
		exit 99
	}
	virtlogd -d || sbx_start_fail "virtlogd did not start"
	libvirtd -d || sbx_start_fail "libvirtd did not start"

	local deadline=$(( $(sbx_now_ms) + ${SANDBOX_START_TIMEOUT:-20} * 1000 ))
	until virsh -q -c qemu:///system version >/dev/null 2>&1; do
		if [ "$(sbx_now_ms)" -ge "$deadline" ]; then
			virsh -c qemu:///system version >&2
			sbx_start_fail "libvirtd did not answer within ${SANDBOX_START_TIMEOUT:-20} s"
		fi
		sleep 0.05
	done

	if [ -n "$caps" ]; then # store what libvirt (re)probed, atomically
		local f tmp
		for f in "$w"/cache/qemu/capabilities/*.xml; do
			[ -f "$f" ] || continue
			cmp -s "$f" "$caps/${f##*/}" && continue
			tmp=$(mktemp "$caps/.tmp.XXXXXX") && cp "$f" "$tmp" &&
				mv -f "$tmp" "$caps/${f##*/}" || rm -f "$tmp"
		done
	fi

	export SANDBOX_ACTIVE=1 SANDBOX_DIR=$w SANDBOX_SCRATCH=$w/scratch \
		SANDBOX_LOG_DIR=$w/log LIBVIRT_DEFAULT_URI=qemu:///system
	export SANDBOX_STARTUP_MS=$(( $(sbx_now_ms) - t0 ))
	sbx_log "ready in ${SANDBOX_STARTUP_MS} ms"

	"$@"
	local rc=$?
	echo $rc >"$w/.state/exit"

	# Courtesy: destroy running domains so libvirt restores the ownership of
	# any host file it relabelled (dynamic_ownership).  Everything else dies
	# with the PID namespace when we return.
	local dom
	for dom in $(timeout 5 virsh -q list --name 2>/dev/null); do
		timeout 10 virsh -q destroy "$dom" >/dev/null 2>&1
	done
	exit $rc
}

case ${1:-} in
--source-only) return 0 2>/dev/null || exit 0 ;;
--inner) shift; sbx_inner "$@" ;;
*) sbx_outer "$@" ;;
esac
