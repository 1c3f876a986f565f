#!/usr/bin/env python3
"""netprobe: the client and servers of the firewall's packet tests
(tests/fw/fw-selftest.sh), run inside the namespaces that script makes.

  serve SPEC...                 tcp:ADDR:PORT:BANNER or udp:ADDR:PORT:BANNER;
                                answers BANNER (%PEER: the client's address)
  tcp ADDR PORT [TIMEOUT]       prints the banner, "refused" or "timeout"
  udp ADDR PORT [TIMEOUT]       the same over UDP
  sweep ADDR FIRST LAST [WAIT]  prints the open TCP ports ("open: 80 8080")
  churn STOPFILE TARGET...      TARGET is ADDR:PORT[:must-not-open]; connects
                                to each target over and over until STOPFILE
                                exists, then prints per target how many
                                attempts opened; exit 1 if a must-not-open
                                target ever opened

Exit status of tcp/udp: 0 answered, 1 refused, 2 timeout.
"""
import errno
import os
import resource
import select
import socket
import sys
import time


def serve(specs):
    socks = []
    for spec in specs:
        proto, addr, port, banner = spec.split(":", 3)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM  # udp, udpc
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if proto == "udp" and addr == "0.0.0.0":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen(128)
        s.setblocking(False)
        socks.append((proto, s, banner))
    print("ready", flush=True)
    by_fd = {s.fileno(): (proto, s, banner) for proto, s, banner in socks}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            proto, s, banner = by_fd[fd]
            try:
                if proto == "tcp":
                    c, peer = s.accept()
                    c.settimeout(1)
                    c.sendall(banner.replace("%PEER", peer[0]).encode() + b"\n")
                    c.close()
                else:
                    _, peer = s.recvfrom(2048)
                    s.sendto(banner.replace("%PEER", peer[0]).encode() + b"\n", peer)
            except OSError:
                pass


def client(proto, addr, port, timeout):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM  # udp, udpc
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            s.connect((addr, port))
        elif proto == "udpc":  # connected: an ICMP error is "refused"
            s.connect((addr, port))
            s.send(b"q\n")
        else:
            s.sendto(b"q\n", (addr, port))
        data = s.recv(512)
        print(data.decode(errors="replace").strip() or "(empty)")
        return 0
    except ConnectionRefusedError:
        print("refused")
        return 1
    except OSError as e:
        print("timeout" if isinstance(e, socket.timeout) else e.strerror or str(e))
        return 2
    finally:
        s.close()


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, want)), hard))
    return min(hard, max(soft, want))


def open_ports(addr, ports, wait):
    """Non-blocking connects to all ports at once; those that complete."""
    socks, found = {}, []
    poller = select.poll()
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((addr, p))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            continue
        socks[s.fileno()] = (p, s)
        poller.register(s, select.POLLOUT)
    deadline = time.monotonic() + wait
    while socks and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            p, s = socks.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                found.append(p)
            s.close()
    for _, s in socks.values():
        s.close()
    return found


def sweep(addr, first, last, wait):
    batch = raise_nofile(20000) - 100
    batch = max(100, min(batch, 10000))
    found = []
    for start in range(first, last + 1, batch):
        found += open_ports(addr, range(start, min(last, start + batch - 1) + 1), wait)
    print("open:", " ".join(str(p) for p in sorted(found)) or "none")


def churn(stopfile, targets):
    parsed = []
    for t in targets:
        parts = t.split(":")
        parsed.append((parts[0], int(parts[1]), len(parts) > 2 and parts[2] == "must-not-open"))
    tries = {t: 0 for t in parsed}
    opened = {t: 0 for t in parsed}
    # Rounds of 5 SYNs per target, all sent at once, 5 ms to answer: a
    # firewall that let one through, even for a moment, shows up here.
    while not os.path.exists(stopfile):
        for t in parsed:
            tries[t] += 5
            opened[t] += len(open_ports(t[0], [t[1]] * 5, 0.005))
    bad = False
    for t in parsed:
        print("%s:%d %s: %d of %d attempts opened"
              % (t[0], t[1], "unpublished" if t[2] else "published", opened[t], tries[t]))
        bad |= t[2] and opened[t] > 0
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, args = argv[1], argv[2:]
    if cmd == "serve":
        serve(args)
    elif cmd in ("tcp", "udp", "udpc"):
        return client(cmd, args[0], int(args[1]), float(args[2]) if len(args) > 2 else 1.0)
    elif cmd == "sweep":
        sweep(args[0], int(args[1]), int(args[2]), float(args[3]) if len(args) > 3 else 0.5)
    elif cmd == "churn":
        return churn(args[0], args[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
