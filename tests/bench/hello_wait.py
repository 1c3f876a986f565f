#!/usr/bin/env python3
"""hello_wait.py SOCKET [TIMEOUT]: connect to an agent channel's unix socket
(retrying until it exists: QEMU creates it when it starts), read lines until
the agent's {"type":"hello"} and print the wall-clock time (seconds since
the epoch, like bash's $EPOCHREALTIME) at which that line arrived.
Exit 1 on a timeout or a closed channel. Used by tests/bench/inside.sh for
the raw QEMU and `virsh create` runs, where no dock reads the channel."""
import json
import socket
import sys
import time


def main():
    path = sys.argv[1]
    deadline = time.monotonic() + (float(sys.argv[2]) if len(sys.argv) > 2 else 180)
    s = None
    while s is None:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
        except OSError:
            s.close()
            s = None
            if time.monotonic() > deadline:
                print("hello_wait: cannot connect to %s" % path, file=sys.stderr)
                return 1
            time.sleep(0.005)
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("hello_wait: no hello in time", file=sys.stderr)
            return 1
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            print("hello_wait: channel closed", file=sys.stderr)
            return 1
        now = time.time()
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                if json.loads(line).get("type") == "hello":
                    print("%.6f" % now)
                    return 0
            except ValueError:
                pass


if __name__ == "__main__":
    sys.exit(main())
