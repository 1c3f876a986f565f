#!/bin/bash
# End-to-end test of the guest side of audit forwarding (issue 20, protocol
# 4), inside tests/lib/sandbox.sh: a micro node's agent loads the image's
# /etc/isc/audit.rules, enables audit and reads the kernel's records (a real
# guest kernel, nothing mocked). To see the channel itself, the dock is
# stopped (nodes keep running) and this test takes the host end of the
# node's agent socket: a command run in the guest while nobody listens is
# buffered by the agent and arrives after hello and audit_status; one run
# while the test listens arrives as it happens; both with their marker
# argument in the EXECVE record. The records do not flood the console.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "guest audit (agent side): kernel records on the agent channel"

. "$SRC/tests/e2e/lib.sh"
dock_setup "stop_timeout_s = 15" micro
dock_start || { t_fail "dockd starts"; t_done; exit 1; }
READER=
trap '[ -n "$READER" ] && kill "$READER" 2>/dev/null; dock_finish_wait; exit $?' EXIT

# The host end of the channel: connect, log every line the agent sends.
cat >"$W/chan.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    s.settimeout(max(0.1, end - time.monotonic()))
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    if not data:
        break
    out.write(data)
EOF
CHAN=$W/chan.out
lines() { jq -c "select($1)" "$CHAN" 2>/dev/null; }
has_line() { [ -n "$(lines "$1")" ]; }
has_hello() { "$A" inspect a | jq -e '.agent.hello != null and .state == "running"' >/dev/null; }
# marker_record MARKER: the EXECVE record whose arguments hold MARKER
marker_record() { lines ".type == \"audit\" and .rtype == 1309 and (.msg | contains(\"$1\"))"; }

# on_hostile alert: a dock before protocol 4 counts the boot's audit lines
# against its report budget (50 lines/s) and would quarantine the node.
t_ok "create a (micro)" "$A" create a --image micro --memory 160M --scratch-size 32M --on-hostile alert
t_ok "a says hello" wait_for 120 has_hello
t_is "its agent speaks protocol 4" "$("$A" inspect a | jq -r .agent.hello.protocol)" 4
t_diag "node up at ${SECONDS}s"
guest_attach a
# A script in /tmp: its execve cannot be a busybox applet run in-process.
guest_run a "printf '#!/bin/sh\nexit 0\n' >/tmp/m.sh && chmod +x /tmp/m.sh"
t_is "a script to run in the guest" $? 0

# --- the dock away: the agent keeps the records
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
DOCKD_PID=
SOCK=$W/run/agents/a.sock
t_ok "dock stopped, the node runs on" bash -c "[ \"\$(virsh domstate isc-a | head -1)\" = running ] && [ -S '$SOCK' ]"
AWAY=gaudit-away-$RANDOM$RANDOM
guest_run a "/tmp/m.sh $AWAY"
t_is "a command run while the channel has no host end" $? 0
sleep 1

# --- the host end taken by this test
: >"$CHAN"
python3 "$W/chan.py" "$SOCK" "$CHAN" 90 &
READER=$!
t_ok "on connect: hello" wait_for 30 has_line '.type == "hello"'
t_is "hello: protocol 4, \"audit\":true" "$(lines '.type == "hello"' | head -1 | jq -c '[.protocol, .audit]')" '[4,true]'
t_is "the line after hello is audit_status" "$(sed -n 2p "$CHAN" | jq -r .type)" audit_status
st=$(sed -n 2p "$CHAN")
t_diag "first audit_status: $st"
t_ok "audit_status: enabled 1, the 2 rules of /etc/isc/audit.rules (execve, execveat for b64 and b32), nothing lost" \
	jq -e '.enabled == 1 and .rules == 2 and .dropped == 0 and .overrun == 0 and .kernel_lost == 0 and .buffered > 0' <<<"$st"
t_ok "the record made while the dock was away arrives (the agent's buffer)" wait_for 20 has_line \
	".type == \"audit\" and (.msg | contains(\"$AWAY\"))"
rec=$(marker_record "$AWAY" | head -1)
t_diag "EXECVE: $rec"
t_ok "... an EXECVE record with the script's arguments" \
	jq -e --arg m "$AWAY" '.msg | test("a0=\"/bin/sh\" a1=\"/tmp/m.sh\" a2=\"" + $m + "\"")' <<<"$rec"
t_ok "... serial, seconds and milliseconds from the kernel's prefix" \
	jq -e '(.serial > 0) and (.sec > 1700000000) and (.ms >= 0 and .ms < 1000) and (.msg | startswith("audit(") | not)' <<<"$rec"
serial=$(jq -r .serial <<<"$rec")
t_ok "... its SYSCALL record (same serial): execve, success, key \"isc\"" has_line \
	".type == \"audit\" and .rtype == 1300 and .serial == $serial and (.msg | test(\"syscall=59 success=yes.*key=\\\"isc\\\"\"))"

LIVE=gaudit-live-$RANDOM$RANDOM
guest_run a "/tmp/m.sh $LIVE"
t_is "a command run while the test holds the channel" $? 0
t_ok "its record arrives as it happens" wait_for 20 has_line \
	".type == \"audit\" and .rtype == 1309 and (.msg | contains(\"$LIVE\"))"

# A burst: 200 executions back to back. Every one arrives, or the agent
# counts what it could not forward (dropped, overrun, kernel_lost).
FLOOD=gaudit-flood-$RANDOM
guest_run a "i=0; while [ \$i -lt 200 ]; do /tmp/m.sh $FLOOD \$i; i=\$((i + 1)); done"
t_is "200 executions in a loop" $? 0
flood_n() { lines ".type == \"audit\" and .rtype == 1309 and (.msg | contains(\"$FLOOD\"))" | wc -l; }
last_loss() { jq -c 'select(.type == "audit_status") | .dropped + .overrun + .kernel_lost' "$CHAN" | tail -1; }
wait_for 30 bash -c "[ \$(jq -c 'select(.type == \"audit\" and .rtype == 1309 and (.msg | contains(\"$FLOOD\")))' '$CHAN' | wc -l) = 200 ]"
sleep 6 # one more audit_status
t_ok "... all 200 EXECVE records arrived ($(flood_n)), or the loss is counted ($(last_loss))" \
	bash -c "[ $(flood_n) = 200 ] || [ $(last_loss) -gt 0 ]"
t_diag "burst done at ${SECONDS}s"
t_ok "every line is a JSON object of at most 4096 bytes" \
	bash -c "awk 'length(\$0) > 4095 { exit 1 }' '$CHAN' && jq -e 'type == \"object\"' '$CHAN' >/dev/null"
t_ok "the audit serials never go back" bash -c \
	"jq -r 'select(.type == \"audit\") | .serial' '$CHAN' | awk 'NR > 1 && \$1 < prev { exit 1 } { prev = \$1 }'"
t_ok "audit_status comes again with the heartbeat" wait_for 15 \
	bash -c "[ \$(jq -c 'select(.type == \"audit_status\")' '$CHAN' | wc -l) -ge 2 ]"
t_ok "... and says nothing was lost or dropped" bash -c \
	"jq -c 'select(.type == \"audit_status\")' '$CHAN' | tail -1 | jq -e '.dropped == 0 and .overrun == 0 and .kernel_lost == 0'"
n=$(grep -ac 'type=13[0-9][0-9]' "$W/run/console/a.log")
t_is "no audit record on the node's console (the kernel's copy is a rate-limited notice, under \"quiet\")" "$n" 0
t_diag "$(jq -r 'select(.type == "audit") | .rtype' "$CHAN" | sort | uniq -c | tr '\n' ' ')"
kill "$READER" 2>/dev/null
wait "$READER" 2>/dev/null
READER=
t_diag "channel checks done at ${SECONDS}s"

# --- the dock back: it takes the channel again
dock_start
t_is "dockd starts again" $? 0
t_ok "the restarted dock hears the agent (heartbeats)" wait_for 30 \
	bash -c "'$A' inspect a | jq -e '.agent.connected and .agent.heartbeats > 0'"
t_ok "destroy a" "$A" destroy --force a
t_diag "done at ${SECONDS}s"
