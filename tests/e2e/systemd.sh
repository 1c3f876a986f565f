#!/bin/bash
# End-to-end test of dockd under systemd's conventions, run inside
# tests/lib/sandbox.sh (no systemd as PID 1 here): the shipped units pass
# `systemd-analyze verify` and rate at most 4.0 by `systemd-analyze
# security --offline=true`; then one dock runs as the unit would run it:
# under setpriv with exactly the unit's capability bounding set and
# NoNewPrivs, on a socket passed by systemd-socket-activate, with a fake
# NOTIFY_SOCKET and its stderr as the "journal" (JOURNAL_STREAM). It
# notifies READY=1 only once the API answers, logs "<N>" priorities, takes
# SIGHUP reloads (a live key applied, a restart-only key named, a broken
# file refused) without dying, and creates, publishes and destroys a micro
# node with those capabilities only.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "systemd: units, notify, socket activation, journal, reload, capability set"

. "$SRC/tests/e2e/lib.sh"
dock_setup "" micro
LOG=$W/dockd.log
NOTIFY=$W/notify.sock
trap 'dock_finish_wait "${LISTENER:-}"; exit $?' EXIT

# --- the units, with the paths `make install` would write (as root, here)
U=$W/units
mkdir -p "$U"
for u in dockd.service dockd.socket; do
	sed "s|/usr/local/sbin/dockd|$D|g; s|/etc/isc/dockd.conf|$W/dockd.conf|g" \
		"$SRC/dist/$u" >"$U/$u"
done
out=$(cd "$U" && systemd-analyze verify ./dockd.socket ./dockd.service 2>&1)
t_is "systemd-analyze verify: both units, no complaint" "$? $out" "0 "
out=$(cd "$U" && systemd-analyze security --offline=true ./dockd.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for dockd.service: \([0-9.]*\).*/\1/p' <<<"$out")
t_ok "systemd-analyze security: exposure ${score:-?} <= 4.0" \
	awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 4.0) }'
t_is "the socket unit: the API's path, 0660, group isc" \
	"$(grep -E '^(ListenStream|SocketMode|SocketGroup)=' "$U/dockd.socket" | tr '\n' ' ')" \
	"ListenStream=/run/isc/dockd.sock SocketMode=0660 SocketGroup=isc "
t_ok "the service: Type=notify, ExecReload sends SIGHUP, NoNewPrivileges" bash -c \
	"grep -qx Type=notify '$U/dockd.service' && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' '$U/dockd.service' && grep -qx NoNewPrivileges=yes '$U/dockd.service'"

# The unit's capabilities, as setpriv spells them: -all,+net_admin,...
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$U/dockd.service")
bset=-all
for c in $caps; do
	c=${c#CAP_}
	bset="$bset,+${c,,}"
done
t_diag "bounding set: $bset"

# --- a fake service manager: every datagram on a line; at READY=1, the
# status of GET /v1/nodes on the API socket at that very moment.
python3 - "$NOTIFY" "$ISC_SOCKET" "$W/notify.log" 2>"$W/notify.err" <<'PY' &
import socket, sys
path, api, log = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
out = open(log, "a")
while True:
    msg = s.recv(4096).decode(errors="replace")
    line = msg.replace("\n", " ")
    if "READY=1" in msg:
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(2)
            c.connect(api)
            c.sendall(b"GET /v1/nodes HTTP/1.0\r\nHost: localhost\r\n\r\n")
            line += " api=" + c.recv(64).decode(errors="replace").split(" ")[1]
            c.close()
        except Exception as e:
            line += " api=down(%s)" % e
    print(line, file=out, flush=True)
PY
LISTENER=$!
t_ok "the fake NOTIFY_SOCKET listens" wait_for 5 test -S "$NOTIFY"

# --- the dock as the unit runs it; stderr is the "journal" (the
# activator's own lines go elsewhere: the exec keeps dockd's pid, LISTEN_PID)
mkdir -p "$W/run"
cp "$W/dockd.conf" "$W/dockd.conf.orig"
: >"$LOG"
setpriv --bounding-set="$bset" --inh-caps=-all --no-new-privs -- \
	systemd-socket-activate -l "$ISC_SOCKET" -E NOTIFY_SOCKET="$NOTIFY" \
	-E JOURNAL_STREAM="$(stat -c %d:%i "$LOG")" \
	bash -c 'exec "$@" >>"$0" 2>&1' "$LOG" "$D" -c "$W/dockd.conf" -f \
	>"$W/activate.log" 2>&1 </dev/null &
DOCKD_PID=$!
# As systemd does, the activator holds the socket and starts dockd at the
# first connection: this `ls` waits in the backlog until dockd answers.
t_ok "the socket is there before dockd" wait_for 10 test -S "$ISC_SOCKET"
t_is "... and dockd not yet: it waits for a client" "$(grep -c 'dock: starting' "$LOG")" 0
t_ok "the first client starts dockd and is answered" timeout 60 "$A" ls
t_ok "READY=1 arrives" wait_for 10 grep -q READY=1 "$W/notify.log"
t_ok "... once the API answers (GET /v1/nodes: 200)" \
	grep -q '^READY=1 STATUS=ready api=200$' "$W/notify.log"
bnd=$(sed -n 's/^CapBnd:\t//p' "/proc/$DOCKD_PID/status")
eff=$(sed -n 's/^CapEff:\t//p' "/proc/$DOCKD_PID/status")
t_diag "dockd: CapBnd $bnd CapEff $eff ($(capsh --decode="$bnd" 2>/dev/null))"
t_ok "dockd runs with the unit's capabilities only (no CAP_SYS_ADMIN), NoNewPrivs" bash -c \
	"[ '$bnd' = '$eff' ] && [ \$(( 0x$bnd >> 21 & 1 )) = 0 ] && [ \$(( 0x$bnd >> 12 & 1 )) = 1 ] && grep -q '^NoNewPrivs:	1' /proc/$DOCKD_PID/status"
t_ok "the API is on the passed socket (fd 3)" grep -q 'api: listening on the socket systemd passed (fd 3)' "$LOG"
t_ok "journal format: every line starts with <N>, no timestamp of ours" bash -c \
	"grep -q . '$LOG' && ! grep -Ev '^<[0-7]>' '$LOG' && ! grep -Eq '^<[0-7]>[0-9]{4}-' '$LOG'"
t_ok "... info at <6>" grep -q '^<6>dock: ready$' "$LOG"

# --- a micro node with exactly those capabilities: create (LUKS, nft,
# libvirt, the VMM jail), its agent's hello (the reader drops to its uid),
# a publish (nft), destroy
t_ok "create n1 under the unit's capability set" \
	"$A" create n1 --image micro --memory 160M --scratch-size 32M
t_ok "n1's agent says hello (the reader's uid drop and seccomp)" \
	wait_for 120 bash -c "'$A' inspect n1 | jq -e .agent.hello.boot_id"
t_ok "publish 2500:80 (nftables)" "$A" publish n1 2500:80
t_ok "... debug at <7>" grep -q '^<7>node n1: agent channel connected' "$LOG"

# --- SIGHUP: live keys applied, restart-only keys named, nothing dies
t_ok "before SIGHUP: 198.18.0.0/15 is not a private range" bash -c \
	"! nft list set inet isc private_ranges | grep -q 198.18.0.0/15"
sed -i 's|^log_level = .*|log_level = warning\npublish_ports = 3000-4000\negress_private = 198.18.0.0/15|; s|^state_dir = .*|state_dir = /nonexistent/elsewhere|' "$W/dockd.conf"
kill -HUP "$DOCKD_PID"
t_ok "SIGHUP: state_dir named as needing a restart" \
	wait_for 10 grep -q '^<4>dock: reload: state_dir changed but needs a restart; kept as before$' "$LOG"
t_ok "... log_level and publish_ports applied" \
	grep -q "^<6>dock: reloaded [^ ]*/dockd.conf: applied log_level, egress_private, publish_ports$" "$LOG"
t_ok "... egress_private said, and in the firewall's private set" bash -c \
	"grep -q '^<6>dock: reload: egress_private 198.18.0.0/15 (was none): firewall set private_ranges rebuilt$' '$LOG' && nft list set inet isc private_ranges | grep -q 198.18.0.0/15 && nft list set inet isc private_ranges | grep -q 10.0.0.0/8"
t_ok "... RELOADING=1 then READY=1 to the manager" wait_for 5 bash -c \
	"grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9]*$' '$W/notify.log' && [ \$(grep -c '^READY=1' '$W/notify.log') = 2 ]"
t_ok "dockd still runs after SIGHUP" kill -0 "$DOCKD_PID"
n=$(wc -l <"$LOG")
out=$("$A" publish n1 2600:81 2>&1)
t_ok "publish_ports is live: 2600 refused now ($out)" bash -c "grep -q 'outside publish_ports 3000-4000' <<<\"\$0\"" "$out"
t_ok "log_level is live: warning, so no info or debug line since" bash -c \
	"! tail -n +$((n + 1)) '$LOG' | grep -Eq '^<[67]>'"
t_ok "state_dir unchanged: n1 still listed" bash -c "'$A' ls | grep -q '^n1 '"
printf 'log_level = loud\n' >>"$W/dockd.conf"
kill -HUP "$DOCKD_PID"
t_ok "a file that no longer parses: refused, nothing changed" \
	wait_for 10 grep -q "^<3>dock: reload refused, nothing changed: [^ ]*/dockd.conf:[0-9]*: log_level must be" "$LOG"
t_ok "dockd still runs after a refused reload" kill -0 "$DOCKD_PID"
sed -i '/^log_level = loud$/d; s|^log_level = .*|log_level = debug|' "$W/dockd.conf"
kill -HUP "$DOCKD_PID"
t_ok "back to debug: said at info" wait_for 10 grep -q "^<6>dock: reloaded [^ ]*/dockd.conf: applied log_level$" "$LOG"

t_ok "destroy n1 (force)" "$A" destroy --force n1
t_is "no domain left" "$(virsh list --all --name | grep -c .)" 0

# --- stop: STOPPING=1; the activated socket stays (it is systemd's)
kill "$DOCKD_PID"
wait "$DOCKD_PID"
t_is "dockd exits 0 on SIGTERM" $? 0
DOCKD_PID=
t_ok "STOPPING=1 sent" grep -q '^STOPPING=1' "$W/notify.log"
t_ok "the activated socket was left in place" test -S "$ISC_SOCKET"

# --- elsewhere (stderr not the journal, no socket passed): today's
# format, our own socket, and READY=1 only once it answers
cp "$W/dockd.conf.orig" "$W/dockd.conf"
rm -f "$ISC_SOCKET"
: >"$W/notify.log"
NOTIFY_SOCKET=$NOTIFY "$D" -c "$W/dockd.conf" -f >"$W/plain.log" 2>&1 </dev/null &
DOCKD_PID=$!
t_ok "without JOURNAL_STREAM: timestamped lines" wait_for 30 grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z dockd\[info\]: dock: ready$' "$W/plain.log"
t_ok "READY=1 only once its own socket answered (GET /v1/nodes: 200 at READY=1)" \
	wait_for 10 grep -q '^READY=1 STATUS=ready api=200$' "$W/notify.log"
t_is "... and nothing before it" "$(head -1 "$W/notify.log")" "READY=1 STATUS=ready api=200"
