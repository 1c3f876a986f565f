#!/bin/bash
# End-to-end test of the on_fail policy, inside tests/lib/sandbox.sh: a
# micro-weak node (judged by its image's own policy, micro's service without
# the micro profile's skips, it fails its 3 weaknesses and packet-filter;
# audit is the dock's row since #20, never an on_fail) created with --on-fail quarantine ends
# quarantined once its reports have said FAIL for 20 s; each check that
# turned FAIL is a security event in the audit trail, the policy runs once,
# and a restarted dock does not run it again.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
. "$SRC/tests/e2e/lib.sh"
plan_start "on_fail: a check turning FAIL triggers the node's policy once, audited"
dock_setup "agent_deadline_s = 60" micro-weak
dock_start
trap 'dock_finish; exit $?' EXIT

ins() { "$A" inspect weak | jq -r "$1"; }
quarantined() { [ "$(ins .state)" = quarantined ]; }
events() { "$A" audit --node weak --json | jq -r '[.[] | select(.action == "check-failed") | .detail.check] | sort | join(" ")'; }

out=$("$A" create bad --image micro-weak --on-fail panic 2>&1)
t_is "--on-fail panic is refused ($out)" "$? $(grep -c 'on_fail must be' <<<"$out")" "2 1"
t_ok "create weak --on-fail quarantine" \
	"$A" create weak --image micro-weak --memory 192M --scratch-size 64M --on-fail quarantine
t_is "inspect shows on_fail" "$(ins .on_fail)" quarantine
t_ok "weak ends quarantined (FAIL for 20 s, reports every 30 s: within 150 s)" wait_for 150 quarantined
t_is "the checks that turned FAIL are in the audit trail, each once" "$(events)" "nx-aslr packet-filter ports swap"
t_ok "... as security events of the dock" bash -c "'$A' audit --node weak --json | jq -e '[.[] | select(.action == \"check-failed\") | select(.who == \"dock\" and .detail.policy == \"quarantine\")] | length == 4'"
t_is "inspect lists the failing checks" "$(ins '.failing | sort | join(" ")')" "nx-aslr packet-filter ports swap"
t_is "the policy ran once" "$(grep -c 'node weak: 4 check(s) turned FAIL: policy quarantine' "$W/dockd.log")" 1
t_ok "the firewall has it quarantined" bash -c "'$A' fw show weak --json | jq -e '.nodes[0].quarantined'"

t_ok "release weak" "$A" release weak
kill "$DOCKD_PID"
wait "$DOCKD_PID" 2>/dev/null
dock_start
t_is "the dock restarts" $? 0
# Two more reports judged by the restarted dock (every 30 s): the same
# FAILs, not new ones. (status exits 7 on a FAIL row: the JSON is there.)
report_time() { "$A" status weak --json 2>/dev/null | jq -r '.report_time // 0'; }
newer_report() { [ "$(report_time)" -gt "$1" ]; }
r0=$(report_time)
t_ok "a report after the restart" wait_for 75 newer_report "$r0"
r1=$(report_time)
t_ok "and another one" wait_for 75 newer_report "$r1"
t_is "after a restart, checks still FAIL are not events again" "$(events)" "nx-aslr packet-filter ports swap"
t_ok "and weak is not quarantined again" bash -c "[ \"\$('$A' inspect weak | jq -r .state)\" = running ]"
t_ok "destroy weak" "$A" destroy --force weak
