#!/bin/bash
# End-to-end test of the audit trail's anchor, run inside tests/lib/sandbox.sh:
# a dock in the foreground (as dist/dockd.service runs it) sends every record
# with the chain's head to the datagram socket syslog_socket names; the last
# lines cut while the dock is down are found against the checkpoint: `iscadm
# audit verify` fails naming it, the restarted dock logs it at critical level,
# and the API and a node's status show it. No node boots (--no-start).
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "audit: syslog copy in the foreground, truncation found at start"

. "$SRC/tests/e2e/lib.sh"
dock_setup "syslog_socket = $SANDBOX_DIR/syslog.sock
audit_reserve_mib = 1" micro
LOG=$W/state/audit.log
SYSLOG=$SANDBOX_DIR/syslog.txt
LISTENER=

trap 'dock_finish_wait "$LISTENER"; exit $?' EXIT

api() { curl -sf --unix-socket "$ISC_SOCKET" "http://dock$1"; }
dock_stop() {
	kill "$DOCKD_PID"
	wait "$DOCKD_PID" 2>/dev/null
	DOCKD_PID=
}

# The system logger's stand-in: one line per datagram.
syslog_listen "$SANDBOX_DIR/syslog.sock" "$SYSLOG"
t_ok "a datagram listener stands in for the system logger" wait_for 30 test -S "$SANDBOX_DIR/syslog.sock"

dock_start
t_is "dockd -f starts" $? 0
t_ok "create (no start) is recorded" "$A" create a1 --image micro --memory 192M --scratch-size 64M --no-start
t_ok "the syslog copy gets each record with the head, in the foreground" \
	wait_for 10 grep -q 'dockd-audit\[[0-9]*\]: record head seq=[0-9]* hash=[0-9a-f]\{64\}: {"seq":[0-9]*,.*"action":"create","node":"a1","result":"ok"' "$SYSLOG"
out=$(jq -r 'select(.node == "a1") | "\(.action) \(.result)"' "$LOG" | tr '\n' ';')
t_is "the intent is on record before the action's result" "$out" "create intent;create ok;"
t_ok "iscadm audit verify: intact" bash -c "'$A' audit verify | grep -q '^audit trail intact'"
t_ok "a checkpoint sits beside the log" grep -q '^isc-chainlog-head 1 seq=' "$LOG.head"

# --- roll the log back while the dock is down
dock_stop
lines=$(wc -l <"$LOG")
head -n $((lines - 2)) "$LOG" >"$W/cut" && cat "$W/cut" >"$LOG"
dock_start
t_is "dockd still starts on a cut log" $? 0
t_ok "dockd logs it at critical level" grep -q '\[critical\]: dock: audit trail .*truncated or rolled back: the log ends at seq' "$W/dockd.log"
out=$("$A" audit verify 2>&1)
rc=$?
t_ok "iscadm audit verify exits non-zero (rc $rc) naming the truncation" \
	bash -c "[ $rc != 0 ] && grep -q 'at dock start: .*truncated or rolled back' <<<\"\$0\"" "$out"
t_ok "GET /v1/version shows it" bash -c "api() { curl -sf --unix-socket '$ISC_SOCKET' \"http://dock\$1\"; }; api /v1/version | jq -er '.audit_alarm | test(\"truncated or rolled back\")'"
t_ok "the status of a node shows it (dock-side)" bash -c "'$A' status a1 | grep -q '^dock-side: AUDIT TRAIL DAMAGED at dock start: .*truncated'"
t_ok "the syslog copy got it at critical level (AUTHPRIV.CRIT)" \
	wait_for 10 grep -q '^<82>.*CRITICAL .*truncated or rolled back' "$SYSLOG"
kept=$(ls "$LOG".damaged.* 2>/dev/null | head -1)
first=$(head -1 "$LOG")
t_ok "the cut log is kept aside" test -n "$kept"
t_is "the new chain starts with a record linking to the old head and the kept file's sha256" \
	"$(jq -r '"\(.seq) \(.action) \(.detail.sha256) \(.prev == .detail.old_head.hash)"' <<<"$first")" \
	"1 audit-restart $(sha256sum "$kept" | cut -d' ' -f1) true"
t_ok "destroy a1" "$A" destroy a1
