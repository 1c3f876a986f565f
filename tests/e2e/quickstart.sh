#!/bin/bash
# The README's quickstart, pasted and run as written inside
# tests/lib/sandbox.sh (its own libvirtd, network, PID and /run): the lines
# between the README's quickstart markers, out of their code fence, run by
# bash -e in the source tree. Then: every relative link of the README and
# docs/ resolves (a file of the tree, a heading of the page).
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "quickstart: the README's commands as written; its links"
cd "$SRC" || exit 1

sed -n '/^<!-- quickstart -->$/,/^<!-- \/quickstart -->$/p' README.md |
	sed '1d;$d' | sed '/^```/d' >"$SANDBOX_DIR/quickstart.sh"
t_ok "the README has a quickstart between its markers" \
	grep -q 'iscadm create' "$SANDBOX_DIR/quickstart.sh"
out=$(bash -e "$SANDBOX_DIR/quickstart.sh" 2>&1 </dev/null)
rc=$?
if [ $rc = 0 ]; then t_pass "the quickstart runs as written (exit 0)"; else
	t_fail "the quickstart runs as written" "exit $rc" "$(tail -40 <<<"$out")"
fi
t_ok "it created the node and ls showed it running" \
	bash -c "grep -Eq '^web +running +micro .*8080:80/tcp' <<<\"\$0\"" "$out"
t_ok "its status table had no FAIL row" bash -c "! grep -Eq '^[0-9]+ +[a-z-]+ +(dock|agent) +FAIL' <<<\"\$0\" && grep -q ' 0 fail,' <<<\"\$0\"" "$out"
# (pkill only asks: the dock takes a moment to stop)
t_ok "the node is destroyed and the dock stopped" bash -c "for _ in \$(seq 40); do pgrep -x dockd >/dev/null || break; sleep 0.25; done; ! pgrep -x dockd && [ -z \"\$(virsh list --all --name | grep isc-)\" ]"
pkill -x dockd 2>/dev/null
rm -rf build/quick build/quick.conf

# Links: [text](target) outside code; a target that is no URL must be a
# file of the tree (relative to the page), its #anchor a heading of it.
anchor_of() { # a heading as GitHub's anchor: lower case, punctuation out, spaces as -
	sed -E 's/^#+ +//; s/[A-Z]/\L&/g; s/[^a-z0-9 _-]//g; s/ /-/g'
}
bad=""
nlinks=0
for page in README.md docs/*.md; do
	dir=$(dirname "$page")
	while read -r target; do
		nlinks=$((nlinks + 1))
		file=${target%%#*} frag=
		[[ $target == *"#"* ]] && frag=${target#*#}
		[ -n "$file" ] && path=$dir/$file || path=$page
		if [ ! -e "$path" ]; then bad="$bad [$page: $target: no such file]"; continue; fi
		if [ -n "$frag" ] && ! grep -E '^#+ ' "$path" | anchor_of | grep -qx "$frag"; then
			bad="$bad [$page: $target: no such heading]"
		fi
	done < <(sed '/^```/,/^```/d' "$page" | grep -oE '\]\([^)]+\)' | sed -E 's/^\]\(//; s/\)$//' |
		grep -vE '^(https?|mailto):')
done
t_ok "the $nlinks relative links of README.md and docs/ resolve" test -z "$bad"
[ -z "$bad" ] || t_diag "$bad"
t_done
