#!/bin/bash
# Runs every test suite of `make check` and adds up their TAP results into
# one closing line "N passed, N failed". Expects `make all tests image` done.
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)
B=${B:-build}
LOG=$B/test-logs
mkdir -p "$LOG"
passed=0 failed=0 skipped=0

# run_suite NAME CMD...: run, show its output, count its TAP lines. A suite
# that exits non-zero without reporting a failure counts as one failure.
run_suite() {
	local name=$1 rc p f s t0=$SECONDS
	shift
	echo "### $name"
	"$@" >"$LOG/$name.log" 2>&1
	rc=$?
	cat "$LOG/$name.log"
	p=$(grep -Ec '^ok [0-9]+' "$LOG/$name.log")
	s=$(grep -Ec '^ok [0-9]+.*# SKIP' "$LOG/$name.log")
	f=$(grep -Ec '^not ok [0-9]+' "$LOG/$name.log")
	p=$((p - s))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - suite $name exited with status $rc"
		f=1
	fi
	if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then
		echo "not ok - suite $name ran no test"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "### $name: $p passed, $f failed ($((SECONDS - t0)) s)"
}

tap_cmd() { # DESC CMD...: a one-test TAP suite around a command
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then echo "ok 1 - $desc"; else
		echo "not ok 1 - $desc"
		printf '%s\n' "$out" | tail -30 | sed 's/^/# /'
	fi
}

fuzz_replay() {
	local n=0 t
	for t in agent request manifest template profile audit egress netlisten reader escape vmmproc timearg gaudit lab; do
		n=$((n + 1))
		local k
		k=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
		if out=$("$B/asan/fuzz-$t" -runs=0 "tests/fuzz/corpus/$t" 2>&1); then
			echo "ok $n - fuzz replay $t ($k inputs, ASan+UBSan)"
		else
			echo "not ok $n - fuzz replay $t"
			printf '%s\n' "$out" | tail -30 | sed 's/^/# /'
		fi
	done
}

host_view() {
	{ ip netns list; ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//'; nft list tables; virsh -c qemu:///system list --all --name 2>/dev/null; } | sort
}

before=$(host_view)

run_suite unit env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_core" "$SRC"
run_suite unit-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_core" "$SRC"
run_suite fw-check env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_fwcheck"
run_suite fw-check-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_fwcheck"
run_suite records env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_records" "$SRC"
run_suite records-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_records" "$SRC"
run_suite audit env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_audit"
run_suite audit-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_audit"
run_suite gaudit env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_gaudit"
run_suite gaudit-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_gaudit"
run_suite node-spec env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_node_spec"
run_suite node-spec-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_node_spec"
run_suite escape env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_escape"
run_suite escape-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_escape"
run_suite agentmsg env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_agentmsg" "$SRC" "$B/dockd"
run_suite timearg env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_timearg"
run_suite timearg-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_timearg"
run_suite config env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_config" "$SRC"
run_suite config-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_config" "$SRC"
run_suite api env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_api"
run_suite api-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_api"
run_suite agentmsg-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_agentmsg" "$SRC" "$B/dockd"
run_suite progress env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_progress"
run_suite progress-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_progress"
run_suite reload env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_reload"
run_suite reload-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_reload"
run_suite agent-audit env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_agent_audit"
run_suite agent-audit-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_agent_audit"
run_suite lab-file env CMOCKA_MESSAGE_OUTPUT=TAP "$B/test_lab"
run_suite lab-file-asan env CMOCKA_MESSAGE_OUTPUT=TAP "$B/asan/test_lab"
run_suite fuzz-replay fuzz_replay
run_suite tree tests/tree/rules.sh
run_suite openapi python3 tests/api/openapi.py static docs/openapi.yaml dockd/api.c dockd/api-err.h
run_suite clang-build tap_cmd "make CC=clang builds warning-free" make -s CC=clang B="$B/clang" \
	"$B/clang/dockd" "$B/clang/iscadm" "$B/clang/isc-image"
run_suite agent tests/agent/run.sh
run_suite cli-isc-image tests/cli/isc-image.sh
run_suite man tests/cli/man.sh
run_suite pkg-deb tests/pkg/deb.sh
[ -x tests/fw/fw-selftest.sh ] && run_suite firewall tests/fw/fw-selftest.sh
run_suite sandbox tests/lib/sandbox.sh -- tests/e2e/sandbox-selftest.sh
run_suite pkg-install env ISC_SRC="$SRC" tests/lib/sandbox.sh -- tests/pkg/install.sh
run_suite e2e-spine env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/spine.sh
run_suite e2e-cli env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/cli.sh
run_suite e2e-api env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/api.sh
run_suite e2e-quickstart env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/quickstart.sh
run_suite e2e-audit env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/audit.sh
run_suite e2e-firewall env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/firewall.sh
run_suite e2e-egress env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/egress.sh
run_suite e2e-resources env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/resources.sh
run_suite e2e-cleanse env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/cleanse.sh
run_suite e2e-forensic env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/forensic.sh
run_suite e2e-status env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/status.sh
run_suite e2e-lab env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/lab.sh
run_suite e2e-policy env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/policy.sh
run_suite e2e-jail env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/jail.sh
run_suite e2e-systemd env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/systemd.sh
run_suite e2e-gaudit env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/gaudit.sh
run_suite e2e-fulldisk env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/fulldisk.sh
# The golden image (debian-web, built by `make check`): the slow test, one
# node through OVMF, all PASS; then exported and imported by virt-v2v.
run_suite e2e-golden env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/golden.sh
run_suite e2e-export env ISC_SRC="$SRC" ISC_IMAGES="$SRC/$B/images" tests/lib/sandbox.sh -- tests/e2e/export.sh

after=$(host_view)
if [ "$before" = "$after" ]; then
	echo "ok - nothing left on the host (netns, links, nft tables, libvirt domains)"
	passed=$((passed + 1))
else
	echo "not ok - the host changed during the tests:"
	diff <(echo "$before") <(echo "$after") | sed 's/^/# /'
	failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
