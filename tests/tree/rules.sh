#!/bin/bash
# tree/rules.sh: the rules the source tree keeps (issue 13, docs/ARCHITECTURE.md),
# as TAP: every C file formatted by clang-format; code outside tests/ in files of
# at most 900 lines and functions of at most 80; every #include an arrow that
# docs/ARCHITECTURE.md allows; every source file in exactly one Makefile list.
# Needs git, clang-format (14) and universal-ctags.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh

FILE_MAX=900
FUNC_MAX=80
ARCH=docs/ARCHITECTURE.md

all_c=$(git ls-files '*.c' '*.h')
code_c=$(git ls-files '*.c' | grep -v '^tests/')
code_ch=$(git ls-files '*.c' '*.h' | grep -v '^tests/')

plan_start "tree rules"

# 1. clang-format: a file that differs from its formatted self fails.
unformatted=$(for f in $all_c; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -z "$unformatted" ]; then
	t_pass "every C file is as clang-format formats it ($(echo "$all_c" | wc -w) files)"
else
	t_fail "files differ from clang-format's output (make format)" $unformatted
fi

# 2. file length
big=$(for f in $code_ch; do
	n=$(wc -l <"$f")
	[ "$n" -gt "$FILE_MAX" ] && echo "$f ($n lines)"
done)
if [ -z "$big" ]; then t_pass "no source file outside tests/ over $FILE_MAX lines"; else
	t_fail "source files over $FILE_MAX lines" "$big"
fi

# 3. function length, as universal-ctags sees each function's first and last line
# shellcheck disable=SC2086
long=$(ctags --fields=+ne -o - --c-kinds=f $code_c 2>/dev/null | awk -F'\t' -v max="$FUNC_MAX" '
	{ l = e = 0
	  for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) l = substr($i, 6); if ($i ~ /^end:/) e = substr($i, 5) }
	  if (e - l + 1 > max) print $1 " in " $2 " (" e - l + 1 " lines)" }')
nfunc=$(ctags --fields=+ne -o - --c-kinds=f $code_c 2>/dev/null | wc -l)
if [ -n "$nfunc" ] && [ "$nfunc" -gt 0 ] && [ -z "$long" ]; then
	t_pass "no function outside tests/ over $FUNC_MAX lines ($nfunc functions)"
else
	t_fail "functions over $FUNC_MAX lines (or ctags found none)" "$long"
fi

# 4. includes against the rooms and arrows of docs/ARCHITECTURE.md: its
# ```rooms block has lines "ROOM  GLOB[,GLOB...]  ALLOWED[,ALLOWED...]|-".
rooms=$(awk '/^```rooms/{f=1; next} /^```/{f=0} f && !/^#/ && NF' "$ARCH" 2>/dev/null)
room_of() { # FILE -> the first room whose glob matches
	local room globs allowed g
	while read -r room globs allowed; do
		IFS=, read -ra gl <<<"$globs"
		for g in "${gl[@]}"; do
			# shellcheck disable=SC2053
			[[ $1 == $g ]] && { echo "$room"; return; }
		done
	done <<<"$rooms"
}
allowed_of() {
	awk -v r="$1" '$1 == r { print $3 }' <<<"$rooms" | tr ',' ' '
}
# resolve_inc FILE HEADER: the tracked file the compiler finds, searching the
# including file's directory first, then the rooms' directories.
resolve_inc() {
	local d
	for d in "$(dirname "$1")" common firewall dockd images guest-agent; do
		[ -f "$d/$2" ] && { echo "$d/$2"; return; }
	done
}
bad=""  # each problem starts with \n
unroomed=""
nchecked=0
if [ -z "$rooms" ]; then
	bad="no \`\`\`rooms block in $ARCH"
else
	for f in $code_ch; do
		r=$(room_of "$f")
		if [ -z "$r" ]; then unroomed="$unroomed $f"; continue; fi
		ok=" $r $(allowed_of "$r") "
		while read -r h; do
			[ -n "$h" ] || continue
			t=$(resolve_inc "$f" "$h")
			[ -n "$t" ] || { bad="$bad\n$f: \"$h\" is no file of the tree"; continue; }
			tr=$(room_of "$t")
			nchecked=$((nchecked + 1))
			case "$ok" in
			*" $tr "*) ;;
			*) bad="$bad\n$f (room $r) includes $t (room $tr): no such arrow" ;;
			esac
			# a private header (*-int.h) stays inside its room
			case "$t" in *-int.h) [ "$tr" = "$r" ] || bad="$bad\n$f includes $t, private to $tr" ;; esac
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
fi
[ -n "$unroomed" ] && bad="$bad\nin no room of $ARCH:$unroomed"
if [ -z "$bad" ]; then
	t_pass "every #include follows an arrow of $ARCH ($nchecked includes)"
else
	t_fail "includes against $ARCH" "$(printf "%b" "$bad" | sed "/^$/d")"
fi

# 5. every source file outside tests/ is in exactly one Makefile source list
lists=$(make -s -f Makefile -f - print-lists <<<'print-lists: ; @echo $(SOURCE_LISTS)' 2>/dev/null)
missing="" twice=""
for f in $code_c; do
	n=$(tr ' ' '\n' <<<"$lists" | grep -cx "$f")
	[ "$n" = 0 ] && missing="$missing $f"
	[ "$n" -gt 1 ] && twice="$twice $f"
done
if [ -n "$lists" ] && [ -z "$missing$twice" ]; then
	t_pass "every source file is in exactly one Makefile source list"
else
	t_fail "Makefile source lists" "missing:${missing:- none}" "in two lists:${twice:- none}"
fi

t_done
