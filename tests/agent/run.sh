#!/bin/bash
# tests/agent/run.sh — the guest agent's tests, on the real binary.
#
#   make build/isc-agent && tests/agent/run.sh
#
# build/isc-agent runs in --unix mode against tests/agent/dock.py (a fake
# dock) and reads fixture trees instead of the guest: fixtures/NAME/ holds
# fake proc/, sys/ and etc/ files, netlink.json (the kernel's netlink
# replies, turned into files by mknl.py; without it the agent runs with
# --no-netlink), service (the name the dock asks about) and expected.json
# (the facts the agent must report, compared with jq). Then the protocol:
# hostile input from the dock, the line limit, reconnects, periodic
# reports, a dock that stops reading; and, where user namespaces work, the
# netlink facts against the real kernel in a private network namespace.
#
# TAP output; the last line is "N passed, N failed"; exit 1 on a failure.
# AGENT=path picks another binary. UPDATE=1 rewrites each expected.json from
# what the agent says (the facts it already lists, or all): review the diff.
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh

AGENT=${AGENT:-build/isc-agent}
D=tests/agent
FACT_IDS="listen aslr net swap mounts audit nft service sysctl sshd"
if [ ! -x "$AGENT" ]; then
	echo "Bail out! $AGENT is not built (make build/isc-agent)"
	exit 2
fi
TMP=$(mktemp -d /tmp/isc-agent-test.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT

plan_start "isc-agent: facts from fixtures, protocol, real kernel"

# dock OUT ARGS... : run dock.py (steps on stdin) against the agent; the
# agent's lines go to OUT, dock.py's and the agent's stderr to OUT.err.
dock() {
	local out=$1
	shift
	python3 "$D/dock.py" -- "$AGENT" "$@" >"$out" 2>"$out.err"
}

# wellformed OUT REPORT: every line one JSON object within the line limit;
# REPORT has every fact once, in order, and a matching report_end.
wellformed() {
	local out=$1 seq=$2 ids
	if awk 'length($0) > 4095 { exit 1 }' "$out" && jq -e 'type == "object"' "$out" >/dev/null; then :; else
		echo "a line is over the limit or not a JSON object"
		return 1
	fi
	ids=$(jq -r --argjson n "$seq" 'select(.type == "fact" and .report == $n) | .id' "$out" | tr '\n' ' ')
	[ "$ids" = "$FACT_IDS " ] || { echo "report $seq facts: $ids"; return 1; }
	# -s: jq -e judges by the last input line, and audit lines may follow.
	jq -se --argjson n "$seq" 'map(select(.type == "report_end" and .report == $n)) | length == 1 and .[0].facts == 10' "$out" >/dev/null
}

# fact OUT REPORT ID: that fact, without type and report, keys sorted.
fact() {
	jq -cS --argjson n "$2" --arg id "$3" 'select(.type == "fact" and .report == $n and .id == $id) | del(.type, .report)' "$1"
}

# whole_reports OUT LAST: reports 1..LAST all complete, 1 < LAST < 5000.
whole_reports() {
	local out=$1 last=$2 n
	[ "$last" -gt 1 ] && [ "$last" -lt 5000 ] || return 1
	for n in $(seq 1 "$last"); do
		[ "$(jq -c --argjson n "$n" 'select(.type == "fact" and .report == $n)' "$out" | wc -l)" = 10 ] || return 1
	done
}

# prepare NAME: sets ROOT and NL (netlink arguments) for a fixture.
prepare() {
	local name=$1
	ROOT=$D/fixtures/$name
	if [ "$name" = edge ]; then
		# A FIFO where a config file should be: git cannot hold one.
		mkdir -p "$TMP/root-edge"
		cp -a "$ROOT/." "$TMP/root-edge/"
		mkfifo "$TMP/root-edge/etc/ssh/sshd_config.d/30-fifo.conf"
		ROOT=$TMP/root-edge
	fi
	NL=(--no-netlink)
	if [ -f "$ROOT/netlink.json" ]; then
		python3 "$D/mknl.py" "$ROOT/netlink.json" "$TMP/nl-$name"
		NL=(--netlink-replay "$TMP/nl-$name")
	fi
}

# --- 1. every fixture: report 2 (asked for its service) against expected.json
for dir in "$D"/fixtures/*/; do
	name=$(basename "$dir")
	prepare "$name"
	out=$TMP/$name.out
	svc=$(head -n 1 "$ROOT/service" 2>/dev/null || true)
	req=$(jq -cn --arg s "$svc" '{type: "report", service: $s}')
	if ! printf 'wait report_end 1\nsend %s\nwait report_end 2\n' "$req" |
		dock "$out" --root "$ROOT" --report-interval 0 "${NL[@]}"; then
		t_fail "$name: hello, a report, then a report on request" "$(tail -5 "$out.err")"
		continue
	fi
	t_ok "$name: hello, a report, then a report on request; lines well-formed" wellformed "$out" 2
	exp=$dir/expected.json
	if [ "${UPDATE:-0}" = 1 ]; then
		ids=$FACT_IDS
		[ -f "$exp" ] && ids=$(jq -r '.[].id' "$exp")
		for id in $ids; do fact "$out" 2 "$id"; done | jq -s . >"$exp.new" && mv "$exp.new" "$exp"
		t_diag "$exp rewritten"
	fi
	if [ ! -f "$exp" ]; then
		t_fail "$name: $exp exists"
		continue
	fi
	for id in $(jq -r '.[].id' "$exp"); do
		t_is "$name: fact $id" "$(fact "$out" 2 "$id")" "$(jq -cS --arg id "$id" '.[] | select(.id == $id)' "$exp")"
	done
done

# --- 2. protocol, on the good fixture
prepare good
GOOD=(--root "$ROOT" "${NL[@]}")
out=$TMP/good.out
t_is "hello first: protocol 4, boot id from the guest, the facts it reports" \
	"$(head -n 1 "$out" | jq -c '[.type, .protocol, .boot_id, (.facts | join(" "))]')" "[\"hello\",4,\"6c1b2f4e-0d6a-4c1e-9a53-000000000009\",\"$FACT_IDS\"]"
t_is "the report after hello names no service" "$(fact "$out" 1 service)" '{"found":false,"id":"service"}'

out=$TMP/garbage.out
dock "$out" "${GOOD[@]}" --report-interval 0 <<'EOF'
wait report_end 1
sendpy b"x" * 10000 + b"\n"
send {"type":"report"
send {"type":"report","service":12}
send {"type":"report","service":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
send {"type":"report","type":"hello"}
send {"type":"report","service":"a","service":"b"}
sendpy b"[" * 100 + b"\n"
sendpy b'{"type":"report","deep":' + b"[" * 20 + b"]" * 20 + b"}\n"
sendpy b'\xff\xfe\x00\x01{"type":"report"}\n'
send {}
send ["type","report"]
send {"type":"nosuch"}
send {"type":"report","service":"httpd"}
wait report_end 2
drain 1
EOF
rc=$?
t_is "garbage from the dock is ignored, the agent keeps working" \
	"$rc $(jq -r 'select(.type == "report_end") | .report' "$out" | tr '\n' ' ')$(fact "$out" 2 service | jq -c '[.name, .pid]')" \
	'0 1 2 ["httpd",100]'
t_ok "an over-long dock line is logged and dropped" grep -q "dock line over 4096 bytes discarded" "$out.err"

out=$TMP/limit.out
dock "$out" "${GOOD[@]}" --report-interval 0 <<'EOF'
wait report_end 1
sendpy (lambda h: h + b"p" * (4096 - len(h) - 2) + b'"}\n')(b'{"type":"report","service":"nope","pad":"')
sendpy (lambda h: h + b"p" * (4095 - len(h) - 2) + b'"}\n')(b'{"type":"report","service":"httpd","pad":"')
wait report_end 2
drain 1
EOF
t_is "a request of 4096 bytes is served, one of 4097 is not" \
	"$? $(jq -r 'select(.type == "report_end") | .report' "$out" | tr '\n' ' ')$(fact "$out" 2 service | jq -r .name)" \
	'0 1 2 httpd'

out=$TMP/hello.out
dock "$out" "${GOOD[@]}" --report-interval 0 <<'EOF'
wait report_end 1
send {"type":"hello"}
wait report_end 2
EOF
t_is "a hello request is answered with hello and a report" \
	"$? $(jq -r 'select(.type == "hello" or .type == "report_end") | .type' "$out" | tr '\n' ' ')" \
	'0 hello report_end hello report_end '

out=$TMP/reconnect.out
dock "$out" "${GOOD[@]}" --report-interval 0 <<'EOF'
wait report_end 1
send {"type":"report","service":"httpd"}
wait report_end 2
close
accept
wait report_end 3
EOF
t_is "after a reconnect: hello again, and the report keeps the service name" \
	"$? $(jq -c 'select(.type == "hello") | .type' "$out" | wc -l) $(fact "$out" 3 service | jq -c '[.name, .found]')" \
	'0 2 ["httpd",true]'
t_ok "the reconnected report is complete" wellformed "$out" 3

out=$TMP/periodic.out
dock "$out" "${GOOD[@]}" --report-interval 1 <<'EOF'
wait report_end 1
wait report_end 2
wait report_end 3
EOF
t_is "--report-interval 1: reports come unasked" "$?" 0

out=$TMP/flood.out
dock "$out" "${GOOD[@]}" --report-interval 0 <<'EOF'
wait report_end 1
sendpy b'{"type":"report"}\n' * 5000
sleep 1
rss
drain 1
send {"type":"report","service":"marker"}
drain 1
EOF
rc=$?
t_is "a dock that stops reading: the agent stays under 2 MiB" "$rc" 0
t_diag "$(grep '^# rss' "$out.err")"
last=$(jq -r 'select(.type == "report_end") | .report' "$out" | tail -n 1)
t_diag "5000 requests while not read: $last reports"
t_ok "... requests coalesce, and every report it sent is whole" whole_reports "$out" "${last:-0}"
t_is "... and then it answers the next request" "$(fact "$out" "${last:-0}" service | jq -r .name)" marker

# shutdown_with ROOT NAME: a shutdown request to an agent whose init is a
# stand-in process (--init-pid) that writes the name of the signal it gets.
shutdown_with() {
	local root=$1 name=$2 got=$TMP/$2.signal catcher
	bash -c 'trap "echo USR2 >$1; exit 0" USR2; trap "echo RTMIN+4 >$1; exit 0" RTMIN+4
		while :; do sleep 0.05; done' _ "$got" &
	catcher=$!
	sleep 0.3 # its traps are set
	printf 'wait report_end 1\nsend {"type":"shutdown"}\nwait shutdown_ack\ndrain 0.5\n' |
		dock "$TMP/$name.out" --root "$root" "${NL[@]}" --report-interval 0 --init-pid "$catcher"
	echo "rc $?"
	for _ in $(seq 40); do [ -s "$got" ] && break; sleep 0.05; done
	kill "$catcher" 2>/dev/null
	wait "$catcher" 2>/dev/null
	cat "$got" 2>/dev/null || echo "no signal"
}
t_is "shutdown (busybox init): shutdown_ack, then SIGUSR2 to init" \
	"$(shutdown_with "$ROOT" busybox | tr '\n' ' ')" "rc 0 USR2 "
t_ok "... and the agent says so on its console" grep -q "shutdown requested by the dock: signal $(kill -l USR2)" "$TMP/busybox.out.err"
mkdir -p "$TMP/root-systemd"
cp -a "$ROOT/." "$TMP/root-systemd/"
mkdir -p "$TMP/root-systemd/run/systemd/system"
t_is "shutdown (systemd: /run/systemd/system exists): SIGRTMIN+4 to init" \
	"$(shutdown_with "$TMP/root-systemd" systemd | tr '\n' ' ')" "rc 0 RTMIN+4 "
out=$TMP/noshut.out
dock "$out" "${GOOD[@]}" --report-interval 0 --init-pid 999999 <<'EOF'
wait report_end 1
send {"type":"shutdown","x":[[[[[[[[[[1]]]]]]]]]]}
send {"type":"shutdown","type":"shutdown"}
send {"type":"report","service":"httpd"}
wait report_end 2
drain 1
EOF
t_is "a malformed shutdown request is ignored (no ack)" \
	"$? $(jq -r 'select(.type == "shutdown_ack") | .type' "$out" | wc -l)" "0 0"

# --- 3. options and the binary itself
t_ok "a bad --report-interval is refused" bash -c "! '$AGENT' --report-interval x 2>/dev/null"
t_ok "--help lists --no-netlink and --netlink-replay" bash -c "'$AGENT' --help | grep -q -- --netlink-replay"
t_ok "static (no program interpreter)" bash -c "! readelf -l '$AGENT' | grep -q INTERP"
size=$(stat -c %s "$AGENT")
t_ok "stripped size $size bytes < 200 KiB" test "$size" -lt 204800

# --- 4. audit forwarding (protocol 4): records replayed as the kernel's
# multicast group delivers them (DIR/audit-records), through the real
# parser, buffer and channel; the rules file read from the fixture root.
# audit_root NAME RULES: a copy of the good fixture with RULES (printf %b;
# "-": no file) as /etc/isc/audit.rules; sets AROOT.
audit_root() {
	AROOT=$TMP/root-$1
	rm -rf "$AROOT"
	mkdir -p "$AROOT"
	cp -a "$D/fixtures/good/." "$AROOT/"
	mkdir -p "$AROOT/etc/isc"
	[ "$2" = - ] || printf '%b' "$2" >"$AROOT/etc/isc/audit.rules"
}
# audit_nl NAME RECORDS-JSON: the good fixture's replies, 2 rules listed,
# and these records; sets ANL.
audit_nl() {
	ANL=$TMP/nl-$1
	jq --argjson r "$2" '. + {"audit-rules": 2, "audit-records": $r}' \
		"$D/fixtures/good/netlink.json" >"$TMP/$1.json"
	python3 "$D/mknl.py" "$TMP/$1.json" "$ANL"
}
audit_lines() { jq -c 'select(.type == "audit")' "$1"; }
status_line() { jq -c 'select(.type == "audit_status") | del(.type)' "$1" | sed -n "${2}p"; }

# A backslash, a control byte, then the kernel's newline and NUL.
odd=$(printf 'audit(1733380001.007:1235): op=x \\ \001 end\n\0' | od -An -tx1 | tr -d ' \n')
recs=$(jq -cn --arg odd "$odd" '[
	{rtype: 1300, text: "audit(1733380000.123:1234): arch=c000003e syscall=59 success=yes exit=0 comm=\"ls\" key=\"isc\""},
	{rtype: 1309, text: "audit(1733380000.123:1234): argc=3 a0=\"ls\" a1=\"-l\" a2=\"MARKER\""},
	{rtype: 1000, text: "not a record: a reply is skipped, not counted"},
	{rtype: 1320, text: "audit(1733380000.123:1234): "},
	{rtype: 1309, text: "no prefix: dropped and counted"},
	{rtype: 1305, hex: $odd},
	{rtype: 1309, text: ("audit(1733380002.000:1236): " + ("a" * 5000))},
	{rtype: 1309, text: ("audit(1733380002.000:1237): " + ("a1=\"\" " * 700))}
]')
audit_root fwd 'execve\n# the agent audits these:\n  ptrace  # and this\n'
audit_nl fwd "$recs"
out=$TMP/audit-fwd.out
printf 'wait report_end 1\ndrain 1\n' | dock "$out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0
t_is "audit: the dock's steps ran" "$?" 0
t_is "audit: hello says protocol 4 and \"audit\":true" "$(head -n 1 "$out" | jq -c '[.protocol, .audit]')" '[4,true]'
t_is "audit: audit_status right after hello (one dropped: no prefix; 6 buffered)" \
	"$(sed -n 2p "$out")" '{"type":"audit_status","dropped":1,"kernel_lost":0,"buffered":6,"enabled":1,"rules":2,"overrun":0}'
t_is "audit: the records in order; no reply, no prefix-less one among them" \
	"$(audit_lines "$out" | jq -r '"\(.serial)/\(.rtype)"' | tr '\n' ' ')" "1234/1300 1234/1309 1234/1320 1235/1305 1236/1309 1237/1309 "
t_is "audit: an EXECVE record, prefix parsed, quotes escaped" "$(audit_lines "$out" | sed -n 2p)" \
	'{"type":"audit","serial":1234,"sec":1733380000,"ms":123,"rtype":1309,"msg":"argc=3 a0=\"ls\" a1=\"-l\" a2=\"MARKER\""}'
t_is "audit: an empty record (EOE)" "$(audit_lines "$out" | sed -n 3p | jq -c '[.ms, .msg, has("truncated")]')" '[123,"",false]'
t_is "audit: printable ASCII only, the backslash escaped, the final newline and NUL dropped" \
	"$(audit_lines "$out" | sed -n 4p | jq -c '[.ms, .msg]')" '[7,"op=x \\ ? end"]'
t_is "audit: 5000 bytes of text are cut to 3600, \"truncated\":true" \
	"$(audit_lines "$out" | sed -n 5p | jq -c '[(.msg | length), .truncated]')" '[3600,true]'
l=$(audit_lines "$out" | sed -n 6p)
t_ok "audit: a text of quotes is cut by the 4096-byte line first (${#l} bytes)" \
	bash -c "[ ${#l} -le 4095 ] && [ ${#l} -gt 4060 ] && jq -e .truncated <<<'$l'"
t_ok "audit: every line well-formed, the report complete" wellformed "$out" 1
t_ok "audit: the rules file's syscalls are named in the log" \
	grep -q 'audit: rules: execve ptrace (not loaded: netlink replay)' "$out.err"

out=$TMP/audit-beat.out
dock "$out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0 --heartbeat 1 <<'EOF'
wait report_end 1
wait heartbeat
wait audit_status
close
accept
wait report_end 2
drain 0.5
EOF
t_is "audit: audit_status again with the heartbeat, nothing buffered now" "$?/$(status_line "$out" 2)" \
	'0/{"dropped":1,"kernel_lost":0,"buffered":0,"enabled":1,"rules":2,"overrun":0}'
t_is "audit: after a reconnect, hello and audit_status again; records sent are not sent twice" \
	"$(jq -r 'select(.type == "hello" or .type == "audit_status" or .type == "audit") | .type' "$out" | uniq -c | awk '{printf "%s*%s ", $2, $1}')" \
	"hello*1 audit_status*1 audit*6 audit_status*1 hello*1 audit_status*1 "

audit_root full -
audit_nl full '[{"rtype": 1309, "text": "audit(1733380000.000:{n}): argc=1 a0=\"x\"", "repeat": 600}]'
out=$TMP/audit-full.out
dock "$out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0 <<'EOF'
sleep 1
rss
drain 1
EOF
t_is "audit: 600 records for a buffer of 512, the dock not reading: the agent stays under 2 MiB" "$?" 0
t_diag "$(grep '^# rss' "$out.err")"
t_is "... 512 forwarded, the first ones, in order" \
	"$(audit_lines "$out" | jq -r .serial | awk '$1 == NR { n++ } END { print n + 0, NR }')" "512 512"
t_is "... 88 dropped and counted" "$(status_line "$out" 1 | jq -c '[.dropped, .buffered]')" '[88,512]'
t_ok "... said in the agent's log" grep -q 'audit: buffer full (512 records or 512 KiB): records dropped' "$out.err"
t_ok "... no rules file: the built-in rules" grep -q 'audit: rules: execve execveat (not' "$out.err"

audit_nl bytes "$(jq -cn '[{rtype: 1309, text: ("audit(1733380000.000:{n}): " + ("b" * 3600)), repeat: 200}]')"
out=$TMP/audit-bytes.out
printf 'drain 1\n' | dock "$out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0
fwd=$(audit_lines "$out" | wc -l)
bytes=$(audit_lines "$out" | wc -c)
dropped=$(status_line "$out" 1 | jq -r .dropped)
t_ok "audit: 200 records of 3600 bytes: $fwd held ($bytes bytes, at most 512 KiB), $dropped dropped and counted" \
	test "$fwd" -gt 100 -a "$bytes" -le 524288 -a "$((fwd + dropped))" = 200

# rules_log RULES: what the agent says of that rules file.
rules_log() {
	audit_root rules "$1"
	printf 'wait report_end 1\n' | dock "$TMP/rules.out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0
	grep -o 'audit: .*rules.*' "$TMP/rules.out.err" | tr '\n' '|'
}
t_is "audit rules: an unknown syscall: the built-in rules, the line named" "$(rules_log 'execve\nfork\n')" \
	'audit: /etc/isc/audit.rules: line 2: "fork" is not a syscall the agent audits; built-in rules instead|audit: rules: execve execveat (not loaded: netlink replay)|'
t_is "audit rules: a line over 128 bytes" "$(rules_log "execve$(printf '%130s' '')\n")" \
	'audit: /etc/isc/audit.rules: line 1: longer than 128 bytes; built-in rules instead|audit: rules: execve execveat (not loaded: netlink replay)|'
t_is "audit rules: a file over 64 lines of 128 bytes" "$(rules_log "$(printf 'execve%200s\\n' $(seq 64))")" \
	'audit: /etc/isc/audit.rules: over 8256 bytes; built-in rules instead|audit: rules: execve execveat (not loaded: netlink replay)|'
t_is "audit rules: comments only: no rule" "$(rules_log '# none\n')" 'audit: rules: none (not loaded: netlink replay)|'
t_is "audit rules: a FIFO is refused, never waited on" "$(audit_root rules -; mkfifo "$AROOT/etc/isc/audit.rules"; printf 'wait report_end 1\n' | dock "$TMP/rules.out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0; echo "$?")" 0
t_ok "... and said" grep -q 'audit: /etc/isc/audit.rules: .*; built-in rules' "$TMP/rules.out.err"
t_is "audit: without netlink, hello says \"audit\":false and no audit_status comes" \
	"$(head -n 1 "$TMP/bare.out" | jq -c .audit) $(jq -c 'select(.type == "audit_status")' "$TMP/bare.out" | wc -l)" 'false 0'
audit_nl nostatus '[]'
rm "$ANL/audit" "$ANL/audit-rules"
audit_root nostatus -
out=$TMP/audit-nostatus.out
printf 'wait report_end 1\n' | dock "$out" --root "$AROOT" --netlink-replay "$ANL" --report-interval 0
t_is "audit: no AUDIT_GET nor rule list: enabled and kernel_lost 0 (none known yet), rules -1" \
	"$(status_line "$out" 1)" '{"dropped":0,"kernel_lost":0,"buffered":0,"enabled":0,"rules":-1,"overrun":0}'
t_ok "... and the agent says so once" grep -q 'audit: AUDIT_GET: .*; audit_status keeps the last answer' "$out.err"

# --- 5. the netlink facts against the real kernel, in a private network namespace
if unshare -rnm true 2>/dev/null && command -v nft >/dev/null; then
	cat >"$TMP/ns.sh" <<'EOF'
set -e
# The namespace's own /sys, so /sys/class/net lists its interfaces.
mount -t sysfs sysfs /sys
ip link add v0 type veth peer name v1
ip addr add 10.9.0.2/29 dev v0
ip link set v0 up
nft add table ip legacy
nft add chain ip legacy INPUT '{ type filter hook input priority 10; policy accept; }'
printf 'wait report_end 1\n' | python3 "$1/dock.py" -- "$2" --report-interval 0 >"$3.accept"
nft add table inet filter
nft add chain inet filter input '{ type filter hook input priority 0; policy drop; }'
nft add chain inet filter forward '{ type filter hook forward priority 0; policy drop; }'
printf 'wait report_end 1\n' | python3 "$1/dock.py" -- "$2" --report-interval 0 >"$3.drop"
EOF
	if unshare -rnm --propagation private bash "$TMP/ns.sh" "$D" "$AGENT" "$TMP/kernel" 2>"$TMP/kernel.err"; then
		t_is "kernel: nft, input only accepted" "$(fact "$TMP/kernel.accept" 1 nft)" \
			'{"id":"nft","input_chains":[{"chain":"INPUT","hook":"input","policy":"accept","priority":10,"table":"ip legacy","type":"filter"}],"tables":1}'
		t_is "kernel: nft, a drop input chain added" \
			"$(fact "$TMP/kernel.drop" 1 nft | jq -cS '.input_chains |= sort_by(.table)')" \
			'{"id":"nft","input_chains":[{"chain":"input","hook":"input","policy":"drop","priority":0,"table":"inet filter","type":"filter"},{"chain":"INPUT","hook":"input","policy":"accept","priority":10,"table":"ip legacy","type":"filter"}],"tables":2}'
		t_is "kernel: net, interfaces and their addresses" \
			"$(fact "$TMP/kernel.drop" 1 net | jq -c '[.ifaces[] | [.name, .addrs, .up]]')" \
			'[["v0",["10.9.0.2/29"],true],["v1",[],false]]'
		t_is "kernel: audit outside the initial user namespace is an error, not a hang" \
			"$(fact "$TMP/kernel.drop" 1 audit | jq -r 'has("error")')" true
		t_is "kernel: no audit records outside the initial user namespace: hello says \"audit\":false" \
			"$(head -n 1 "$TMP/kernel.drop" | jq -c '[.protocol, .audit]')" '[4,false]'
	else
		t_fail "kernel: namespace set-up" "$(tail -5 "$TMP/kernel.err")"
	fi
else
	t_skip "kernel: netlink facts in a private network namespace" "no user namespaces or no nft here"
fi

t_done
