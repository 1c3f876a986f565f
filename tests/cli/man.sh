#!/bin/bash
# tests/cli/man.sh: the man pages (docs/man/*.scd, scdoc) build without a
# word from scdoc, render with `man -l` without a groff warning, and say
# what the binaries do: dockd.conf(5) and dist/dockd.conf name every key
# dockd/config.c accepts (taken from its key table mechanically), each with
# a default, and the renamed keys' old names;
# dockd(8) every option of `dockd -h`; isc-image(1) every verb and option
# of isc-image's help; iscadm(1) its exit statuses. TAP output. Expects
# `make all man` done.
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
M=build/man
PAGES="iscadm.1 dockd.8 dockd.conf.5 isc-image.1 isc-unseal.1"
plan_start "man pages"
W=$(mktemp -d "${TMPDIR:-/tmp}/man-test.XXXXXX")
trap 't_done; rc=$?; rm -rf "$W"; exit $rc' EXIT

render() { # PAGE: the page as a terminal shows it, 80 columns, no hyphenation
	MANWIDTH=80 MAN_KEEP_FORMATTING='' man --nh --nj -E UTF-8 -l "$M/$1" 2>/dev/null | col -bx
}
# has DESC PATTERN: ok if $out has a line matching the extended regex.
has() {
	if grep -qE -e "$2" <<<"$out"; then t_pass "$1"; else t_fail "$1" "no line matches: $2"; fi
}

for p in $PAGES; do
	if [ ! -f "docs/man/$p.scd" ]; then
		t_fail "docs/man/$p.scd exists"
		continue
	fi
	scdoc <"docs/man/$p.scd" >"$W/$p" 2>"$W/$p.err"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$W/$p.err" ]; then
		t_pass "$p: scdoc builds it without a word"
	else
		t_fail "$p: scdoc builds it without a word (exit $rc)" "$(cat "$W/$p.err")"
	fi
	t_ok "$p: build/man/$p is up to date (make man)" cmp -s "$W/$p" "$M/$p"
	err=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$M/$p" 2>&1 >/dev/null)
	t_is "$p: man -l renders it without a warning" "$err" ""
	out=$(render "$p")
	name=${p%.*} sec=${p##*.}
	if grep -q "^NAME" <<<"$out" && grep -q "^$name($sec) " <<<"$out" &&
		grep -q "^SEE ALSO" <<<"$out"; then
		t_pass "$p: rendered with its title, NAME and SEE ALSO"
	else
		t_fail "$p: rendered with its title, NAME and SEE ALSO" "$(head -5 <<<"$out")"
	fi
done

# --- iscadm(1) -------------------------------------------------------------------
out=$(render iscadm.1)
has "iscadm.1: the create command is described" '^ {7}create NAME --image IMAGE'
has "iscadm.1: MANWIDTH=80 man -l shows the destroy command" '^ {7}destroy NAME \[--force\]'
t_is "iscadm.1: EXIT STATUS lists 0 to 8" \
	"$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' <<<"$out" | grep -oE '^ {7}[0-9]$' | tr -d ' ' | tr '\n' ' ')" \
	"0 1 2 3 4 5 6 7 8 "

# --- dockd.conf(5): every key of dockd/config.c -----------------------------------
# The key table's rows (STR("k", ...), U64("k", ...), { "k", CK_... }) and
# the keys config_parse handles before the table (strcmp(key, "k")).
keys=$({
	sed -n '/^static const struct config_key config_keys\[\] = {/,/^};/p' dockd/config.c |
		grep -oE '^\s*(STR|U64)?\(?\{? ?"[a-z_0-9]+"' | grep -oE '"[a-z_0-9]+"'
	grep -oE 'strcmp\(key, "[a-z_0-9]+"\)' dockd/config.c | grep -oE '"[a-z_0-9]+"'
} | tr -d '"' | sort -u)
nkeys=$(echo "$keys" | grep -c .)
if [ "$nkeys" -lt 20 ]; then
	t_fail "dockd/config.c: its keys found ($nkeys: the extraction is broken)" "$keys"
fi
out=$(render dockd.conf.5)
# Each key is a term "KEY = VALUE" at the definition list's indent; its
# paragraph, up to the next term, must say its default.
missing="" nodefault=""
for k in $keys; do
	if ! grep -qE "^ {7}$k = " <<<"$out"; then
		missing="$missing $k"
		continue
	fi
	awk -v k="$k" '$0 ~ "^       " k " = " { on = 1; next }
		on && /^       [a-z_]+ = / { exit }
		on && /^[A-Z]/ { exit }
		on { print }' <<<"$out" | tr '\n' ' ' | grep -q 'Default' || nodefault="$nodefault $k"
done
t_is "dockd.conf.5 names every key dockd/config.c accepts ($nkeys)" "${missing# }" ""
t_is "dockd.conf.5 gives every key a default" "${nodefault# }" ""
documented=$(grep -oE '^ {7}[a-z_0-9]+ = ' <<<"$out" | awk '{print $1}' | sort -u)
t_is "dockd.conf.5 documents no key config.c does not accept" \
	"$(comm -23 <(echo "$documented") <(echo "$keys") | tr '\n' ' ')" ""

# --- dist/dockd.conf, the commented copy `make install` writes: every key too,
# each after a comment block that gives its default; the renamed keys' old
# names (config.c's config_renamed table) told in both, and not used.
missing="" nodefault=""
for k in $keys; do
	grep -qE "^#?$k = " dist/dockd.conf || missing="$missing $k"
done
t_is "dist/dockd.conf names every key dockd/config.c accepts ($nkeys)" "${missing# }" ""
nodefault=$(awk '/^$/ { cmt = ""; next }
	/^#?[a-z_0-9]+ = / { if (cmt !~ /Default/) print $1; next }
	/^#/ { cmt = cmt $0 }' dist/dockd.conf | tr -d '#' | tr '\n' ' ')
t_is "dist/dockd.conf gives every key a default" "${nodefault% }" ""
renamed=$(sed -n '/config_renamed\[\] = {/,/^};/p' dockd/config.c |
	grep -oE '\{ "[a-z_0-9]+", "[a-z_0-9]+" \}' | tr -d '{}",')
if [ -z "$renamed" ]; then
	t_fail "dockd/config.c: its renamed keys found (the extraction is broken)"
fi
bad=""
while read -r old new; do
	[ -n "$old" ] || continue
	grep -qE "^ {7}$new = " <<<"$out" || bad="$bad $new(not-a-term)"
	grep -qE "Formerly $old\b" <<<"$(tr -s ' \n' ' ' <<<"$out")" || bad="$bad $old(man)"
	grep -qE "^#.*Formerly $old\b" dist/dockd.conf || bad="$bad $old(dist)"
	grep -qE "^#?$old = " dist/dockd.conf && bad="$bad $old(used-in-dist)"
done <<<"$renamed"
t_is "the renamed keys' old names: told in dockd.conf.5 and dist/dockd.conf, used in neither" \
	"${bad# }" ""

# --- dockd(8): every option of dockd's usage ------------------------------------
out=$(render dockd.8)
if [ -x build/dockd ]; then
	opts=$(build/dockd -h 2>&1 | grep -oE '(^|[[ ])--?[a-z][a-z-]*' | tr -d '[ ' | sort -u)
	missing=$(for o in $opts; do grep -qE "^ {7}(-[a-zA-Z], )?$o( |,|$)" <<<"$out" || echo "$o"; done)
	t_is "dockd.8 describes every option of dockd -h ($(echo $opts))" "$missing" ""
else
	t_fail "build/dockd is built"
fi
for s in SIGTERM SIGINT 'THE API SOCKET' 'EXIT STATUS' FILES; do
	has "dockd.8 has $s" "$s"
done

# --- isc-unseal(1): every option of isc-unseal -h --------------------------------
out=$(render isc-unseal.1)
if [ -x build/isc-unseal ]; then
	missing=$(for o in $(build/isc-unseal -h | grep -oE -- '--[a-z]+' | sort -u); do
		grep -qE "^ {7}(-[A-Za-z], )?$o( |,|$)" <<<"$out" || echo "$o"
	done)
	t_is "isc-unseal.1 describes every option of isc-unseal -h" "$missing" ""
else
	t_fail "build/isc-unseal is built"
fi

# --- isc-image(1): every verb and option of isc-image's help ------------------------
out=$(render isc-image.1)
if [ -x build/isc-image ]; then
	verbs=$(build/isc-image --help | sed -n '/^Verbs:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
	missing=""
	for v in $verbs; do
		[ "$v" = help ] && continue
		grep -qE "^ {7}$v( |$)" <<<"$out" || missing="$missing $v"
		for o in $(build/isc-image help "$v" | grep -oE '^  (-h, )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
			grep -qF -- "$o" <<<"$out" || missing="$missing $v:$o"
		done
	done
	t_is "isc-image.1 describes every verb and option of isc-image help ($(echo $verbs))" \
		"${missing# }" ""
else
	t_fail "build/isc-image is built"
fi

# --- iscadm(1): every verb and every flag of iscadm's command table -------------
out=$(render iscadm.1)
if [ -x build/iscadm ]; then
	verbs=$(build/iscadm help | sed -n '/^commands:/,/^$/p' | sed '1d;$d' |
		awk '{ if ($1 == "lab" || $2 ~ /^(ls|rm|export|verify|show)$/) print $1 "_" $2; else print $1 }')
	missing="" n=0
	for v in $verbs; do
		n=$((n + 1))
		words=${v/_/ }
		grep -qE "^ {7}$words( |$)" <<<"$out" || missing="$missing [$words]"
		# shellcheck disable=SC2086
		for o in $(build/iscadm help $words | sed -n '/^options:/,/^$/p' | grep -oE -- '--[a-z-]+'); do
			grep -qF -- "$o" <<<"$out" || missing="$missing $words:$o"
		done
	done
	t_is "iscadm.1 describes every verb and flag of iscadm's command table ($n verbs)" \
		"${missing# }" ""
else
	t_fail "build/iscadm is built"
fi
