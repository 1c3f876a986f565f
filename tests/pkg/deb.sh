#!/bin/bash
# tests/pkg/deb.sh: the Debian package. `make deb` builds it (debian/,
# dpkg-buildpackage, objects in debian/build: build/ is not touched) into
# build/deb/; lintian finds no error in it (debian/isc-dock.lintian-overrides
# lists the overridden tags, each with its reason; warnings are shown); its
# Depends hold scripts/install-deps' RUNTIME list and its Build-Depends the
# BUILD list; it holds the FHS layout `make install` makes for PREFIX=/usr,
# the config as a conffile and the sysusers/tmpfiles calls in its postinst.
# TAP output. About 30 s. Installing it is `make package-check` (not here).
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
B=${B:-build}
plan_start "the Debian package (make deb, lintian)"
W=$(mktemp -d "${TMPDIR:-/tmp}/deb-test.XXXXXX")
trap 't_done; rc=$?; rm -rf "$W"; exit $rc' EXIT

version=$(cat VERSION)
t_is "debian/changelog's version is VERSION ($version)" \
	"$(dpkg-parsechangelog -S Version 2>&1)" "$version"

# --- the build, and that it leaves build/ alone
before=$(stat -c %Y "$B/dockd" 2>/dev/null)
start=$SECONDS
if make -s deb B="$B" >"$W/build.log" 2>&1; then
	t_pass "make deb builds the package ($((SECONDS - start)) s)"
else
	t_fail "make deb builds the package" "$(tail -30 "$W/build.log")"
	exit 1
fi
debs=$(ls "$B"/deb/isc-dock_*.deb 2>/dev/null)
t_is "build/deb/ holds one package, isc-dock_${version}_amd64.deb" \
	"$debs" "$B/deb/isc-dock_${version}_amd64.deb"
deb=$B/deb/isc-dock_${version}_amd64.deb
[ -f "$deb" ] || exit 1
t_is "build/dockd is not rebuilt by make deb" "$(stat -c %Y "$B/dockd" 2>/dev/null)" "$before"
t_is "no file of the build is left untracked in debian/ (.gitignore)" \
	"$(git status --porcelain --untracked-files=all debian | grep '^??')" ""

# --- lintian: errors fail, warnings are shown
lintian --no-cfg --tag-display-limit 0 "$deb" >"$W/lintian.out" 2>&1
errors=$(grep -E '^E: ' "$W/lintian.out")
t_is "lintian: no error (overrides with reasons in debian/isc-dock.lintian-overrides)" \
	"$errors" ""
warnings=$(grep -E '^W: ' "$W/lintian.out")
[ -z "$warnings" ] || t_diag "lintian warnings:" "$warnings"
unused=$(grep -E 'unused-override|mismatched-override' "$W/lintian.out")
t_is "lintian: every override is used" "$unused" ""
# Each block of overrides (lines between blank lines) has a comment saying why.
missing=$(awk 'BEGIN { RS = "" } { n = split($0, l, "\n"); c = 0
	for (i = 1; i <= n; i++) if (l[i] ~ /^#/) c = 1
	if (!c) for (i = 1; i <= n; i++) print l[i] }' debian/isc-dock.lintian-overrides)
t_is "each lintian override has a comment saying why" "${missing# }" ""

# --- the control fields against scripts/install-deps' groups
field() { dpkg-deb -f "$deb" "$1" | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g' | grep .; }
depends=$(field Depends)
missing=""
for p in $(scripts/install-deps --print RUNTIME); do
	# An Essential package is never a dependency (lintian's rule).
	[ "$(dpkg-query -W -f='${Essential}' "$p" 2>/dev/null)" = yes ] && continue
	grep -qx "$p" <<<"$depends" || missing="$missing $p"
done
t_is "Depends holds install-deps' RUNTIME list" "${missing# }" ""
bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z][a-z-]*:/p' debian/control | sed '$d' |
	sed 's/^Build-Depends://' | tr ',' '\n' | sed 's/(.*//; s/ //g' | grep .)
missing=""
for p in $(scripts/install-deps --print BUILD); do
	[ "$p" = build-essential ] && continue # implied by every build
	grep -qx "$p" <<<"$bdeps" || missing="$missing $p"
done
t_is "Build-Depends holds install-deps' BUILD list" "${missing# }" ""

# --- the contents: the layout of make install with PREFIX=/usr
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$W/files"
want="/usr/sbin/dockd /usr/bin/iscadm /usr/bin/isc-image /usr/bin/isc-unseal
/usr/lib/isc/isc-agent /usr/lib/isc/images/recipes/micro /usr/lib/isc/images/recipes/debian-web
/usr/lib/isc/images/micro/rootfs/ /usr/share/isc/templates/domain.xml
/usr/share/isc/templates/profiles/micro.json /lib/systemd/system/dockd.service
/usr/lib/sysusers.d/isc.conf /usr/lib/tmpfiles.d/isc.conf /etc/isc/dockd.conf
/usr/share/man/man8/dockd.8.gz /usr/share/man/man5/dockd.conf.5.gz
/usr/share/man/man1/iscadm.1.gz /usr/share/man/man1/isc-unseal.1.gz
/usr/share/doc/isc-dock/README.md /usr/share/doc/isc-dock/copyright"
[ -e dist/dockd.socket ] && want="$want /lib/systemd/system/dockd.socket"
missing=$(for f in $want; do grep -qxF "$f" "$W/files" || echo "$f"; done)
t_is "the package holds the FHS layout (binaries, agent and recipes in /usr/lib/isc, profiles, units, sysusers/tmpfiles, man pages)" \
	"$missing" ""
t_is "nothing of the guest's on the host's PATH (no isc-agent in */bin)" \
	"$(grep -E '/s?bin/isc-agent$' "$W/files")" ""
t_is "/etc/isc/dockd.conf is a conffile" \
	"$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" "/etc/isc/dockd.conf"
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst)
t_ok "postinst makes the group and the directories (systemd-sysusers isc.conf, systemd-tmpfiles --create isc.conf)" \
	bash -c 'grep -q "systemd-sysusers.* isc.conf" <<<"$0" && grep -q "systemd-tmpfiles .*--create isc.conf" <<<"$0"' "$postinst"
mkdir -p "$W/x"
dpkg-deb -x "$deb" "$W/x"
# dockd -t names the default template_dir when it is missing (it is, unless
# the package is installed here).
: >"$W/empty.conf"
out=$("$W/x/usr/sbin/dockd" -t -c "$W/empty.conf" 2>&1)
if grep -q "template_dir /usr/share/isc/templates: no such directory" <<<"$out" ||
	{ [ -d /usr/share/isc/templates ] && ! grep -q "template_dir " <<<"$out"; }; then
	t_pass "the packaged dockd looks for templates in /usr/share/isc/templates"
else
	t_fail "the packaged dockd looks for templates in /usr/share/isc/templates" "$out"
fi
t_ok "the packaged unit runs /usr/sbin/dockd with /etc/isc/dockd.conf" \
	grep -qE '^ExecStart=/usr/sbin/dockd .*/etc/isc/dockd.conf' "$W/x/lib/systemd/system/dockd.service"
t_is "the packaged dockd.conf names the packaged template_dir" \
	"$(grep '^#template_dir' "$W/x/etc/isc/dockd.conf")" "#template_dir = /usr/share/isc/templates"
