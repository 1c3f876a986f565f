# lib.sh — what the end-to-end tests share, sourced inside tests/lib/sandbox.sh:
# a dock configured under $SANDBOX_DIR/dock with copies of the built images,
# started in this shell, and a polling helper.
#   dock_setup "extra config lines" IMAGE...   # writes $W/dockd.conf, copies images
#   dock_start [DOCKD-ARGS...]                 # starts dockd, sets DOCKD_PID
#   wait_for SECONDS CMD...                    # polls CMD every 0.25 s
#   outside_setup                              # netns "outside" (192.0.2.2) <-> here (192.0.2.1); $OUT runs in it
#   guest_attach NODE; guest_run NODE CMD      # a command in the guest's console shell
#   guest_fetch NODE MATCH WORD URL...         # fetch URLs from the guest at once: WORD or "dropped" each
#   syslog_listen SOCK FILE                    # a datagram listener standing in for the system logger
#   bg_run NAME CMD...; bg_ok DESC NAME; bg_wait NAME  # CMD in the background (creates side by side)
SRC=${ISC_SRC:?}
W=$SANDBOX_DIR/dock
A=$SRC/build/iscadm
D=$SRC/build/dockd
DOCKD_PID=
export ISC_SOCKET=$W/run/dockd.sock

dock_setup() {
	local extra=$1 i
	shift
	mkdir -p "$W/images"
	chmod 755 "$W" "$W/images"
	for i in "$@"; do cp -r "${ISC_IMAGES:?}/$i" "$W/images/$i"; done
	chmod -R a+rX "$W/images"
	cat >"$W/dockd.conf" <<C
uri = qemu:///system
state_dir = $W/state
run_dir = $W/run
image_dir = $W/images
template_dir = $SRC/templates
accel = tcg
log_level = debug
subnet_pool = 10.231.0.0/24
$extra
C
}

# Runs in the caller's shell (not in t_ok's subshell): DOCKD_PID must stay
# known, and dockd must not hold a command substitution's pipe open.
dock_start() {
	"$D" -c "$W/dockd.conf" -f "$@" >>"$W/dockd.log" 2>&1 </dev/null &
	DOCKD_PID=$!
	for _ in $(seq 50); do
		[ -S "$ISC_SOCKET" ] && "$A" ls >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# An "outside" client: its own namespace joined by a veth pair, routed to
# the nodes' pool through this (the sandbox's) namespace. Sets OUT only
# here: the bench, which sources this file too, has an OUT of its own.
outside_setup() {
	OUT="ip netns exec outside"
	ip netns add outside
	ip link add vout0 type veth peer name vout1
	ip link set vout1 netns outside
	ip addr add 192.0.2.1/24 dev vout0 && ip link set vout0 up
	$OUT ip addr add 192.0.2.2/24 dev vout1
	$OUT ip link set vout1 up
	$OUT ip link set lo up
	$OUT ip route add 10.231.0.0/24 via 192.0.2.1
	sysctl -qw net.ipv4.ip_forward=1
}

wait_for() { # SECONDS CMD...: until CMD succeeds, SECONDS of wall time at most
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.25
	done
}

# bg_run NAME CMD...: start CMD in the background, in the caller's shell (a
# create beside another: it waits on libvirt and QEMU, not only on a CPU).
# bg_ok DESC NAME: wait for it; t_ok's line.
# bg_wait NAME: wait for it; its exit status.
declare -A BG_PID
bg_run() {
	local n=$1
	shift
	"$@" </dev/null >"$W/bg-$n.out" 2>&1 &
	BG_PID[$n]=$!
}
bg_wait() { wait "${BG_PID[$1]}"; } # NAME: its exit status
bg_ok() {
	local rc
	bg_wait "$2"
	rc=$?
	if [ $rc = 0 ]; then t_pass "$1"; else
		t_fail "$1" "command in the background: $2 (exit $rc)" "$(tail -30 "$W/bg-$2.out")"
	fi
}

# On failure, show the tail of the dock's log and of every console.
dock_diag() {
	[ "$_t_fail" != 0 ] || return 0
	t_diag "--- dockd.log (tail)"
	tail -40 "$W/dockd.log" | sed 's/^/# /'
	for f in "$W"/run/console/*.log; do
		[ -e "$f" ] && { t_diag "--- $f (tail)"; tail -25 "$f" | sed 's/^/# /'; }
	done
}

# The usual EXIT trap of a test: stop the dock, diagnose a failure, count.
dock_finish() {
	[ -n "$DOCKD_PID" ] && kill "$DOCKD_PID" 2>/dev/null
	dock_diag
	t_done
}

# The same, waiting for the test's background jobs first (a test whose
# jobs all end once the dock is gone: the followers, the activator).
# dock_finish_wait [PID...]: the jobs that would not end by themselves
# (a listener) are named and killed too; an empty PID is skipped.
dock_finish_wait() {
	local p
	[ -n "$DOCKD_PID" ] && kill "$DOCKD_PID" 2>/dev/null
	for p in "$@"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	dock_diag
	t_done
}

# guest_attach NODE: hold the node's serial pty open in this shell (QEMU
# only reads a pty while a client holds it; it notices within a second).
declare -A PTYFD
guest_attach() {
	local pty fd old
	pty=$(virsh dumpxml "isc-$1" | sed -n "s/.*<source path='\(\/dev\/pts\/[0-9]*\)'.*/\1/p" | head -1)
	[ -n "$pty" ] || return 1
	old=${PTYFD[$1]:-}
	[ -n "$old" ] && exec {old}>&- # a restarted guest has a new pty
	exec {fd}<>"$pty"
	PTYFD[$1]=$fd
	# Drain what the guest prints (it is in the console log too), or the
	# pty fills up and the guest's console stalls.
	cat <&"$fd" >/dev/null 2>&1 &
	# Until the guest's shell echoes a word typed now (QEMU notices the
	# client within a second; what is typed before waits in the pty): the
	# typed line holds the word split by quotes, only the output has it whole.
	local id=A$GUEST_SEQ$RANDOM$RANDOM log=$W/run/console/$1.log
	printf '\necho %s"RE"ADY\n' "$id" >&"$fd"
	for _ in $(seq 30); do
		grep -aq "${id}READY" "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 0 # as before (a sleep): a later guest_run says if the shell answers
}
# guest_run NODE CMD: run CMD in the guest's console shell; its exit status.
GUEST_SEQ=0
guest_run() {
	local node=$1 cmd=$2 log id
	GUEST_SEQ=$((GUEST_SEQ + 1))
	id=R$GUEST_SEQ$RANDOM
	log=$W/run/console/$node.log
	[ -n "${PTYFD[$node]:-}" ] || return 99
	printf '\n%s; echo %s-$?-END\n' "$cmd" "$id" >&"${PTYFD[$node]}"
	for _ in $(seq 300); do
		if grep -aq "$id-[0-9]*-END" "$log"; then
			return "$(grep -ao "$id-[0-9]*-END" "$log" | tail -1 | cut -d- -f2)"
		fi
		sleep 0.1
	done
	return 98
}

# guest_fetch NODE MATCH WORD URL...: from the guest's shell, all at once,
# each bounded by timeout(1); one word a URL: WORD when its page came and
# holds MATCH, "dropped" when not.
guest_fetch() {
	local node=$1 match=$2 word=$3 cmd="" i=0 rc
	shift 3
	for u in "$@"; do
		cmd+="(timeout 3 wget -q -O - $u 2>/dev/null | grep -q '$match') & p$i=\$!; "
		i=$((i + 1))
	done
	cmd+="s=0; "
	for ((i = 0; i < $#; i++)); do cmd+="wait \$p$i && s=\$((s + $((1 << i)))); "; done
	cmd+="(exit \$s)"
	guest_run "$node" "$cmd"
	rc=$?
	for ((i = 0; i < $#; i++)); do
		if ((rc & (1 << i))); then printf '%s ' "$word"; else printf 'dropped '; fi
	done
	echo
}

# syslog_listen SOCK FILE: the system logger's stand-in, one line of FILE
# per datagram on the unix socket SOCK; its pid in LISTENER. Runs in the
# caller's shell (LISTENER must stay known).
syslog_listen() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], "ab", 0)
while True:
    f.write(s.recv(65536) + b"\n")
' "$1" "$2" &
	# shellcheck disable=SC2034 # the caller's EXIT trap kills it
	LISTENER=$!
}
