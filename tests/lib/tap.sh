# shellcheck shell=bash
# tap.sh — a tiny TAP producer for bash tests.  Source it:
#
#   . tests/lib/tap.sh
#   plan_start "my tests"              # resets the counters, prints "# my tests"
#   t_ok   "daemon answers" virsh version   # ok if the command succeeds;
#                                      # else "not ok" + its output as "# " lines
#   t_is   "two links" "$n" 2          # ok if got == expected (strings)
#   t_pass "desc" / t_fail "desc" [diagnostic lines...]
#   t_skip "desc" "reason"             # "ok N - desc # SKIP reason"
#   t_diag "text"                      # "# text"
#   t_done                             # "1..N", then "P passed, F failed[, S skipped]";
#                                      # returns 1 if anything failed
#   t_ok_so_far                        # true while nothing has failed
#
# t_ok runs the command in a subshell (its variable assignments are lost),
# with stdin from /dev/null; T_VERBOSE=1 also shows the output of passing
# commands.  If T_STATE is set to a file, the counters are saved there after
# every test and t_load reads them back: a parent process can continue the
# numbering of tests run in a child (even one that was killed).

_t_n=0 _t_pass=0 _t_fail=0 _t_skip=0

_t_save() {
	[ -n "${T_STATE:-}" ] && echo "$_t_n $_t_pass $_t_fail $_t_skip" >"$T_STATE"
	return 0
}
t_load() { # [FILE]
	local f=${1:-${T_STATE:-}}
	[ -n "$f" ] && [ -s "$f" ] && read -r _t_n _t_pass _t_fail _t_skip <"$f"
	return 0
}
plan_start() {
	_t_n=0 _t_pass=0 _t_fail=0 _t_skip=0
	[ $# -gt 0 ] && echo "# $*"
	_t_save
}
t_diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
t_pass() {
	_t_n=$((_t_n + 1)) _t_pass=$((_t_pass + 1))
	echo "ok $_t_n - $1"
	_t_save
}
t_fail() {
	_t_n=$((_t_n + 1)) _t_fail=$((_t_fail + 1))
	echo "not ok $_t_n - $1"
	shift
	[ $# -gt 0 ] && t_diag "$@"
	_t_save
	return 1
}
t_skip() {
	_t_n=$((_t_n + 1)) _t_skip=$((_t_skip + 1))
	echo "ok $_t_n - $1 # SKIP ${2:-}"
	_t_save
}
t_ok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	if [ $rc = 0 ]; then
		t_pass "$desc"
		[ "${T_VERBOSE:-0}" = 1 ] && [ -n "$out" ] && t_diag "$out"
		return 0
	fi
	t_fail "$desc" "command: $* (exit $rc)" ${out:+"$out"}
	return 1
}
t_is() {
	if [ "$2" = "$3" ]; then
		t_pass "$1"
	else
		t_fail "$1" "     got: '$2'" "expected: '$3'"
	fi
}
t_ok_so_far() { [ "$_t_fail" = 0 ]; }
t_done() {
	echo "1..$_t_n"
	if [ $_t_skip -gt 0 ]; then
		echo "$_t_pass passed, $_t_fail failed, $_t_skip skipped"
	else
		echo "$_t_pass passed, $_t_fail failed"
	fi
	[ $_t_fail = 0 ]
}
