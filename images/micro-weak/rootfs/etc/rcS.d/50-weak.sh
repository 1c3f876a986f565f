# micro-weak, sourced by /etc/init.d/rcS: weaknesses the checks must find.

# An unencrypted swap file on the scratch disk (a plain virtio disk in the
# guest: not dm-crypt). Kept across boots like the rest of /scratch.
swap=/scratch/swapfile
if [ ! -f $swap ]; then
	dd if=/dev/zero of=$swap bs=1048576 count=16 2>/dev/null && chmod 600 $swap &&
		mkswap $swap >/dev/null || say "WEAK: cannot make $swap"
fi
swapon $swap && say "WEAK: swap on $swap, not encrypted"

# A TCP port nobody declared, owned by root: nc echoes what it is sent.
nc -ll -p 2323 -e /bin/cat </dev/null >/dev/null 2>&1 &
say "WEAK: undeclared TCP listener on port 2323 (nc, root)"
