#!/bin/bash
# tests/pkg/install-check.sh DEB_DIR: `make package-check`. The Debian package
# installed the way an operator installs it, `apt-get install ./isc-dock_*.deb`,
# into a throwaway Debian bookworm root (debootstrap --variant=minbase into a
# temporary directory), then checked there: the files dpkg says it installed,
# the group isc and the directories (sysusers.d, tmpfiles.d through the
# postinst), the conffile, `dockd -t` on the installed configuration, the
# binaries' --version. Not in `make check`: it needs the network to Debian's
# archive (ISC_MIRROR, default http://deb.debian.org/debian) and minutes.
# The root is used inside a private mount and PID namespace (its /proc and
# /dev mounts and any process the maintainer scripts leave vanish with it;
# policy-rc.d starts no service) and removed at the end (ISC_KEEP_ROOT=1
# keeps it). The minbase root is cached as build/pkg-cache/bookworm.tar.gz.
# Run as root. TAP output.
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
DEB_DIR=${1:-build/deb}
MIRROR=${ISC_MIRROR:-http://deb.debian.org/debian}
CACHE=build/pkg-cache
plan_start "package-check: apt-get install ./isc-dock_*.deb into a throwaway bookworm root"
[ "$(id -u)" = 0 ] || { t_fail "runs as root (debootstrap, chroot)"; t_done; exit 1; }
deb=$(ls "$DEB_DIR"/isc-dock_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { t_fail "a package in $DEB_DIR (make deb)"; t_done; exit 1; }
T=$(mktemp -d /var/tmp/isc-package-check.XXXXXX)
ROOT=$T/root
trap 't_done; rc=$?; [ "${ISC_KEEP_ROOT:-0}" = 1 ] && echo "# root kept: $ROOT" || rm -rf "$T"; exit $rc' EXIT

# --- the throwaway root: debootstrap once, then from the cache
mkdir -p "$CACHE" "$ROOT"
tarball=$(realpath "$CACHE")/bookworm.tar.gz
if [ ! -s "$tarball" ]; then
	debootstrap --variant=minbase --make-tarball="$tarball" bookworm "$T/tb" "$MIRROR" \
		>"$T/tarball.log" 2>&1 || { rm -f "$tarball"; t_fail "debootstrap --make-tarball" \
		"$(tail -20 "$T/tarball.log")"; exit 1; }
	rm -rf "$T/tb"
fi
if debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$ROOT" "$MIRROR" \
	>"$T/debootstrap.log" 2>&1; then
	t_pass "debootstrap --variant=minbase bookworm (a throwaway root in $T)"
else
	t_fail "debootstrap --variant=minbase bookworm" "$(tail -20 "$T/debootstrap.log")"
	exit 1
fi
cp "$deb" "$ROOT/tmp/"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
echo "deb $MIRROR bookworm main" >"$ROOT/etc/apt/sources.list"
# The host's apt settings (a proxy, a frozen archive's dates) hold here too.
cp /etc/apt/apt.conf.d/* "$ROOT/etc/apt/apt.conf.d/" 2>/dev/null
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# in_root CMD...: CMD chrooted into the root, in a private mount and PID
# namespace with its own /proc and the host's /dev.
in_root() {
	unshare --mount --pid --fork --propagation private /bin/sh -c '
		r=$1; shift
		mount -t proc proc "$r/proc" && mount --bind /dev "$r/dev" &&
			mount -t tmpfs tmpfs "$r/run" 2>/dev/null
		exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"' sh "$ROOT" "$@"
}

start=$SECONDS
if in_root sh -c 'apt-get update -q && apt-get install -y -q ./tmp/'"$(basename "$deb")" \
	>"$T/apt.log" 2>&1; then
	t_pass "apt-get install ./$(basename "$deb") with its dependencies ($((SECONDS - start)) s)"
else
	t_fail "apt-get install ./$(basename "$deb")" "$(tail -30 "$T/apt.log")"
	exit 1
fi

# --- what is there
t_is "dpkg says isc-dock is installed" \
	"$(in_root dpkg-query -W -f='${Status}' isc-dock)" "install ok installed"
missing=$(in_root dpkg -L isc-dock | while read -r f; do
	[ -e "$ROOT$f" ] || [ -L "$ROOT$f" ] || echo "$f"; done)
t_is "every file dpkg -L lists is in place" "$missing" ""
want="/usr/sbin/dockd /usr/bin/iscadm /usr/bin/isc-image /usr/bin/isc-unseal
/usr/lib/isc/isc-agent /usr/lib/isc/images/recipes/micro /usr/share/isc/templates/profiles/micro.json
/lib/systemd/system/dockd.service /usr/lib/sysusers.d/isc.conf /usr/lib/tmpfiles.d/isc.conf
/etc/isc/dockd.conf /usr/share/man/man8/dockd.8.gz"
missing=$(for f in $want; do [ -e "$ROOT$f" ] || echo "$f"; done)
t_is "the FHS layout (binaries, /usr/lib/isc, profiles, unit, sysusers/tmpfiles, conffile, man)" \
	"$missing" ""
t_ok "the group isc exists (systemd-sysusers in the postinst)" in_root getent group isc
t_is "the directories exist with their modes (systemd-tmpfiles in the postinst)" \
	"$(stat -c '%a' "$ROOT/var/lib/isc" "$ROOT/var/lib/isc/images" 2>&1 | tr '\n' ' ')" "711 755 "
t_ok "dockd.service is enabled (dh_installsystemd)" \
	test -L "$ROOT/etc/systemd/system/multi-user.target.wants/dockd.service"
t_ok "/etc/isc/dockd.conf is a conffile" in_root sh -c \
	'dpkg-query -W -f="\${Conffiles}" isc-dock | grep -q " /etc/isc/dockd.conf "'
# /run is a fresh tmpfs in each in_root: make the run directory as boot does.
out=$(in_root sh -c 'systemd-tmpfiles --create isc.conf >/dev/null 2>&1; dockd -t' 2>&1)
t_is "dockd -t passes on the installed configuration" "$out" \
	"dockd: /etc/isc/dockd.conf: configuration OK"
for b in dockd isc-image isc-unseal; do
	t_ok "$b --version runs (its libraries resolved)" in_root "$b" --version
done
# iscadm --version asks the dock too (exit 6: none runs here); its own line counts.
out=$(in_root iscadm --version 2>&1)
if grep -q "^client: iscadm " <<<"$out"; then
	t_pass "iscadm --version runs (its libraries resolved)"
else
	t_fail "iscadm --version runs (its libraries resolved)" "$out"
fi
t_ok "isc-agent is not on the PATH" in_root sh -c '! command -v isc-agent'

# --- removal keeps the conffile; purge removes it
in_root apt-get remove -y -q isc-dock >"$T/remove.log" 2>&1
t_ok "apt-get remove keeps /etc/isc/dockd.conf" test -f "$ROOT/etc/isc/dockd.conf"
in_root apt-get purge -y -q isc-dock >>"$T/remove.log" 2>&1
t_ok "apt-get purge removes it" test ! -e "$ROOT/etc/isc/dockd.conf"
