#!/bin/bash
# End-to-end test of the CLI as an operator meets it, inside
# tests/lib/sandbox.sh: help and --version on every binary and every verb,
# unknown arguments refused, the bash completion script loaded and asked,
# the exit code of each kind of failure (usage, not found, conflict,
# permission denied, unreachable, check failed, timeout) against a real
# dock, the guard rails refusing without a terminal (destroy of a running
# node, forensic rm), idempotent start/stop, create --wait and
# --wait=healthy, ls -q, --format csv and the PORTS column.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "cli: iscadm's help, exit codes, guard rails, waiting, output"

. "$SRC/tests/e2e/lib.sh"
mkdir -p "$W"
"$SRC/build/isc-unseal" --keygen "$W/operator" >/dev/null
dock_setup "stop_timeout_s = 6
socket_group = users
forensic_pubkey = $W/operator.pub" micro micro-weak
trap 'dock_finish; exit $?' EXIT

# rc_is DESC WANT CMD...: the command's exit code is WANT (stdin not a TTY).
rc_is() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" = "$want" ]; then t_pass "$desc (exit $rc)"; else
		t_fail "$desc" "command: $* (exit $rc, expected $want)" "$out"
	fi
}

# --- help and versions, no dock needed
for b in iscadm dockd isc-image isc-unseal; do
	t_ok "$b --version names the version and the commit" \
		bash -c "'$SRC/build/$b' --version | grep -Eq '^(client: )?$b [0-9.]+ \\(commit [0-9a-f]+|unknown\\)'"
	t_ok "$b --help exits 0 with a usage" bash -c "'$SRC/build/$b' --help | grep -qi usage"
	rc_is "$b with an unknown option" 2 "$SRC/build/$b" --no-such-option
done
verbs=$("$A" help | sed -n '/^commands:/,/^$/p' | sed '1d;$d' | awk '{ if ($1 == "lab" || $2 ~ /^(ls|rm|export|verify|show)$/) print $1 " " $2; else print $1 }')
n=0 bad=""
while read -r v; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	"$A" $v --help | grep -q "^usage: iscadm $v" || bad="$bad [$v --help]"
	# shellcheck disable=SC2086
	"$A" help $v | grep -q "^usage: iscadm $v" || bad="$bad [help $v]"
	# shellcheck disable=SC2086
	"$A" $v --no-such-flag >/dev/null 2>&1
	[ $? = 2 ] || bad="$bad [$v --no-such-flag]"
done <<<"$verbs"
t_ok "all $n verbs: --help, help VERB, an unknown flag refused with 2" test -z "$bad" -a "$n" -gt 20
[ -z "$bad" ] || t_diag "$bad"
t_ok "create --help gives units and bounds" bash -c "'$A' create --help | grep -q 'at least 64 MiB'"
rc_is "an unknown verb" 2 "$A" frobnicate
rc_is "ls with an extra argument" 2 "$A" ls extra
rc_is "a node name that is not one" 2 "$A" inspect 'Bad_Name'
rc_is "forensic without its verb" 2 "$A" forensic
rc_is "--format csv on a verb that is not a read" 2 "$A" --format csv create x --image micro

# --- completion
"$A" completion bash >"$W/iscadm.bash"
complete_of() { # WORDS...: what bash completion offers after them
	bash -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _iscadm; echo "${COMPREPLY[*]}"' \
		"$W/iscadm.bash" iscadm "$@"
}
t_ok "the bash completion script loads" bash -c ". '$W/iscadm.bash' && complete -p iscadm"
t_is "it completes verbs" "$(complete_of cre)" create
t_is "it completes a group's verbs" "$(complete_of forensic "")" "ls rm export"
t_is "it completes a verb's flags" "$(complete_of destroy x --f)" --force
if command -v zsh >/dev/null; then
	t_ok "the zsh completion script parses" bash -c "'$A' completion zsh | zsh -n"
fi

# --- unreachable, then a dock
rc_is "no dock on the socket" 6 env ISC_SOCKET="$W/nothing.sock" "$A" ls
dock_start
t_ok "dockd started" test -n "$DOCKD_PID"
t_ok "version shows the daemon's version and API" bash -c "'$A' version | grep -Eq '^daemon: dockd [0-9.]+ \\(commit [0-9a-f]+\\), API [0-9]'"
rc_is "permission denied: the socket's group keeps nobody out" 5 \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$A" ls
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$A" ls 2>&1)
t_ok "the message names the socket's group and what to do" \
	bash -c "grep -q 'permission denied on .*group users.*usermod -aG users' <<<\"\$0\"" "$out"
rc_is "inspect of a node that does not exist" 3 "$A" inspect nosuch
rc_is "a request the dock calls bad (egress)" 2 "$A" create bad --image micro --egress sideways

# --- create --wait, healthy, timeout
# The two waits for healthy run side by side (the micro-weak one in the
# background, its exit status checked after): each waits for its agent's
# reports, not for a CPU.
"$A" create w --image micro-weak --memory 160M --scratch-size 32M --wait=healthy --timeout 3m \
	</dev/null >"$W/create-w.out" 2>&1 &
create_w=$!
rc_is "create --wait=healthy of a micro node" 0 "$A" create a --image micro --memory 160M \
	--scratch-size 32M --publish 18080:80 --wait=healthy --timeout 3m
rc_is "status of a healthy node" 0 "$A" status a
wait "$create_w"
rc=$?
if [ "$rc" = 7 ]; then t_pass "create --wait=healthy of a micro-weak node: a FAIL row (exit $rc)"; else
	t_fail "create --wait=healthy of a micro-weak node: a FAIL row" "(exit $rc, expected 7)" "$(cat "$W/create-w.out")"
fi
rc_is "status with a FAIL row" 7 "$A" status w
rc_is "create of a name that exists" 4 "$A" create a --image micro
rc_is "create --wait with a timeout too short" 8 "$A" create t --image micro --memory 160M \
	--scratch-size 32M --wait --timeout 1s

# --- output
t_is "ls -q prints the names alone" "$("$A" ls -q | sort | tr '\n' ' ')" "a t w "
t_ok "ls shows the published port in PORTS" bash -c "'$A' ls | grep -Eq '^a +running +micro .*18080:80/tcp'"
t_ok "ls --format csv has a header and a row a node" \
	bash -c "'$A' ls --format csv | head -1 | grep -qx 'NAME,STATE,IMAGE,IP,AGENT,PORTS,AGE,LAB' && [ \$('$A' ls --format csv | wc -l) = 4 ]"
t_ok "status --format csv: the rows" bash -c "'$A' status a --format csv | grep -q '^1,base-readonly,dock,PASS,'"
rc_is "--format yaml" 2 "$A" ls --format yaml

# --- logs and times
t_is "logs --tail 3: three lines" "$("$A" logs a --tail 3 | wc -l)" 3
t_ok "logs --since 10m: the boot marker of this boot" bash -c "'$A' logs a --since 10m | grep -q '^-- isc: boot '"
t_is "logs --since a future RFC 3339 time: nothing" "$("$A" logs a --since 2099-01-01T00:00:00Z | wc -l)" 0
rc_is "logs --since yesterday" 2 "$A" logs a --since yesterday
rc_is "logs --tail -1" 2 "$A" logs a --tail -1
t_ok "audit --since 1h: the creates" bash -c "'$A' audit --since 1h | grep -q ' create '"
t_is "audit --since a future time: the header alone" "$("$A" audit --since 2099-01-01T00:00:00+01:00 | wc -l)" 1
"$A" logs -f --tail 0 a >"$W/follow.out" 2>&1 &
follower=$!

# --- guard rails and idempotence
rc_is "destroy of a running node without --force" 4 "$A" destroy w
t_ok "the node is still there" "$A" inspect w
rc_is "start of a running node" 0 "$A" start a
t_ok "it says so" bash -c "'$A' start a | grep -qx 'a is already running'"
rc_is "stop" 0 "$A" stop w
rc_is "stop of a stopped node" 0 "$A" stop w
t_ok "it says so" bash -c "'$A' stop w | grep -qx 'w is already stopped'"
rc_is "destroy of a stopped node needs no --force" 0 "$A" destroy w
rc_is "rm --force of a running node" 0 "$A" rm --force t
rc_is "snapshot a" 0 "$A" snapshot a
id=$("$A" forensic ls --json | jq -r '.[0].id')
rc_is "forensic rm without --yes, not on a terminal" 2 "$A" forensic rm "$id"
t_is "the snapshot is kept" "$("$A" forensic ls --json | jq length)" 1
t_ok "forensic rm asks on a terminal and keeps it on no" \
	bash -c "echo n | script -qec \"'$A' forensic rm $id\" /dev/null | grep -q 'Delete forensic snapshot' && [ \$('$A' forensic ls --json | jq length) = 1 ]"
rc_is "forensic rm --yes" 0 "$A" forensic rm --yes "$id"
rc_is "forensic rm of one that is gone" 3 "$A" forensic rm --yes "$id"
rc_is "stop a" 0 "$A" stop a
rc_is "destroy a (stopped: no --force needed)" 0 "$A" destroy a
# (the follower's zombie until it is waited for: ended is its state)
ended() { [ ! -e "/proc/$follower" ] || grep -q '^[0-9]* (.*) Z' "/proc/$follower/stat"; }
t_ok "logs -f of a ends when a is destroyed" wait_for 10 ended
wait "$follower"
t_is "... with exit 0" $? 0
t_ok "... and it streamed the guest's shutdown line" grep -q 'isc-micro: stopping' "$W/follow.out"
t_is "nothing left" "$("$A" ls -q | wc -l)" 0
