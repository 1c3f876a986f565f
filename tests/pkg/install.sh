#!/bin/bash
# tests/pkg/install.sh: `make install` and the README's "Running it for real"
# order, inside tests/lib/sandbox.sh (a private mount namespace: the user
# database below is a bind-mounted copy, the host's is never written).
#  - make install DESTDIR=...: the FHS layout (binaries, the agent and the
#    recipes under PREFIX/lib/isc, profiles, units, sysusers.d, tmpfiles.d,
#    man pages), an edited dockd.conf kept; where units go for other PREFIXes;
#  - dockd -t on the installed tree fails naming the missing group and
#    directories, and passes once systemd-sysusers and systemd-tmpfiles ran
#    on the installed files; the installed isc-image finds its recipe and
#    the agent;
#  - a socket_group made after dockd started opens the API without a restart.
# TAP output. Expects `make all man` done.
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "install: make install's layout, dockd -t on it, a group made after the start"
. "$SRC/tests/e2e/lib.sh"
cd "$SRC" || exit 1
R=$SANDBOX_DIR/root
trap 'dock_finish_wait; exit $?' EXIT

# --- make install into DESTDIR, default PREFIX (/usr/local): nothing rebuilt
if make -s install DESTDIR="$R" >"$SANDBOX_DIR/install.log" 2>&1; then
	t_pass "make install DESTDIR=... installs"
else
	t_fail "make install DESTDIR=... installs" "$(tail -20 "$SANDBOX_DIR/install.log")"
	exit 1
fi
P=$R/usr/local
want="sbin/dockd bin/iscadm bin/isc-image bin/isc-unseal lib/isc/isc-agent
lib/isc/images/recipes/micro lib/isc/images/micro/rootfs share/isc/templates/domain.xml
share/isc/templates/profiles/micro.json lib/systemd/system/dockd.service
lib/sysusers.d/isc.conf lib/tmpfiles.d/isc.conf share/man/man5/dockd.conf.5
share/man/man1/isc-unseal.1 share/doc/isc/README.md"
[ -e dist/dockd.socket ] && want="$want lib/systemd/system/dockd.socket"
missing=$(for f in $want; do [ -e "$P/$f" ] || echo "$f"; done)
t_is "the FHS layout under PREFIX (binaries, lib/isc, profiles, units, sysusers.d, tmpfiles.d, man)" \
	"$missing" ""
t_is "isc-agent is not on the host's PATH" "$(ls "$P"/bin "$P"/sbin | grep -c isc-agent)" 0
t_ok "the unit runs PREFIX's dockd" grep -q "^ExecStart=/usr/local/sbin/dockd " \
	"$P/lib/systemd/system/dockd.service"
t_ok "dockd.conf written, its template_dir comment names PREFIX's templates" \
	grep -qx "#template_dir = /usr/local/share/isc/templates" "$R/etc/isc/dockd.conf"
echo "# edited" >>"$R/etc/isc/dockd.conf"
make -s install DESTDIR="$R" >/dev/null 2>&1
t_ok "a second make install keeps an edited dockd.conf" grep -qx "# edited" "$R/etc/isc/dockd.conf"
sed -i '$d' "$R/etc/isc/dockd.conf"

# Where systemd looks, per PREFIX (make -n: what install would do).
unit_dir() { make -n install PREFIX="$1" DESTDIR=/D 2>/dev/null |
	grep -oE '/D[^ ]*/\$\{u##\*/\}' | head -1 | sed 's|^/D||; s|/\${u##\*/}$||'; }
sysusers_dir() { make -n install PREFIX="$1" DESTDIR=/D 2>/dev/null |
	grep -oE '/D[^ ]*/isc.conf' | grep sysusers | head -1 | sed 's|^/D||; s|/isc.conf$||'; }
t_is "units: PREFIX=/usr -> /usr/lib/systemd/system" "$(unit_dir /usr)" /usr/lib/systemd/system
t_is "units: PREFIX=/opt/isc -> /etc/systemd/system (systemd does not look in /opt)" \
	"$(unit_dir /opt/isc)" /etc/systemd/system
t_is "sysusers.d: PREFIX=/usr/local -> /usr/local/lib/sysusers.d" "$(sysusers_dir /usr/local)" \
	/usr/local/lib/sysusers.d

# --- dockd -t on the installed tree, before and after sysusers and tmpfiles.
# The user database: a copy of the host's without isc, bind-mounted over
# /etc/group (this namespace only); systemd-sysusers --root writes the
# installed tree's copy (a new file: bound again after).
mkdir -p "$R/etc"
grep -v '^isc:' /etc/group >"$R/etc/group" && cp /etc/passwd "$R/etc/passwd"
cp "$R/etc/group" "$SANDBOX_DIR/group.before"
mount --bind "$SANDBOX_DIR/group.before" /etc/group
sed -e "s|^state_dir = .*|state_dir = $R/var/lib/isc|" -e "s|^run_dir = .*|run_dir = $R/run/isc|" \
	-e "s|^image_dir = .*|image_dir = $R/var/lib/isc/images|" \
	-e "s|^#template_dir = .*|template_dir = $P/share/isc/templates|" \
	"$R/etc/isc/dockd.conf" >"$SANDBOX_DIR/installed.conf"
C=$SANDBOX_DIR/installed.conf
out=$("$P/sbin/dockd" -t -c "$C" 2>&1)
rc=$?
t_is "dockd -t before sysusers/tmpfiles: exit 1" "$rc" 1
want="dockd: $C: state_dir $R/var/lib/isc: does not exist and cannot be made: $R/var/lib: No such file or directory
dockd: $C: run_dir $R/run/isc: does not exist and cannot be made: $R/run: No such file or directory
dockd: $C: socket_group isc: no such group (the package's sysusers.d file or groupadd makes it; until then only root may use the API)
dockd: $C: 3 problems: test failed"
t_is "... one line per problem, naming the key and the directory or group" "$out" "$want"
systemd-sysusers --root="$R" >/dev/null 2>&1
systemd-tmpfiles --root="$R" --create >/dev/null 2>&1
umount /etc/group && mount --bind "$R/etc/group" /etc/group
t_ok "systemd-sysusers on the installed isc.conf makes the group isc" grep -q '^isc:' /etc/group
t_is "systemd-tmpfiles on the installed isc.conf makes the directories with their modes" \
	"$(stat -c '%a %U' "$R/var/lib/isc" "$R/var/lib/isc/images" "$R/run/isc" 2>&1 | tr '\n' ' ')" \
	"711 root 755 root 755 root "
out=$("$P/sbin/dockd" -t -c "$C" 2>&1)
t_is "dockd -t after them: configuration OK" "$out" "dockd: $C: configuration OK"

# The installed isc-image finds the recipe and the agent (PREFIX/lib/isc).
if "$P/bin/isc-image" build micro --out "$SANDBOX_DIR/img" >"$SANDBOX_DIR/img.log" 2>&1; then
	t_pass "the installed isc-image builds micro from PREFIX/lib/isc (recipe, trees, agent)"
else
	t_fail "the installed isc-image builds micro from PREFIX/lib/isc" "$(tail -5 "$SANDBOX_DIR/img.log")"
fi

# --- a socket_group made after dockd started: no restart needed
dock_setup "socket_group = isc-late"
dock_start
t_is "dockd starts with a socket_group that does not exist" $? 0
t_is "its socket is root:root 0660 meanwhile" "$(stat -c '%U:%G %a' "$ISC_SOCKET")" "root:root 660"
setpriv --reuid=65534 --regid=4242 --clear-groups "$A" ls >/dev/null 2>&1
t_is "a process of gid 4242 is refused (exit 5)" $? 5
echo "isc-late:x:4242:" >>/etc/group
wait_for 10 bash -c '[ "$(stat -c %G "$ISC_SOCKET")" = isc-late ]'
t_is "within seconds the socket is root:isc-late" "$(stat -c '%U:%G %a' "$ISC_SOCKET")" \
	"root:isc-late 660"
out=$(setpriv --reuid=65534 --regid=4242 --clear-groups "$A" ls 2>&1)
t_is "the group's process now uses the API, the dock not restarted (exit $?)" "$?" 0
t_ok "dockd said so in its log" grep -q "api: group isc-late (gid 4242) now exists" "$W/dockd.log"
t_ok "the same dockd (pid $DOCKD_PID)" kill -0 "$DOCKD_PID"
