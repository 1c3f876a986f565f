#!/usr/bin/env python3
"""dock.py [--timeout S] -- AGENT [ARGS...]: play the dock's side of the
agent protocol for tests. Listens on a fresh unix socket, starts
`AGENT --unix SOCKET ARGS...`, then runs the steps read from stdin, one per
line, and prints every line the agent sent, in order, on stdout:

  wait report_end N   read until {"type":"report_end","report":N}
  wait TYPE           read until a message of that type
  send TEXT           send TEXT and a newline
  sendpy EXPR         send the bytes of a Python expression (b"x" * 9000)
  sleep S             let time pass without reading
  drain S             read until the agent has been quiet for S seconds
  rss                 print "# rss KIB" (the agent's VmRSS) on stderr and
                      exit 3 if over 2 MiB
  close               hang up; the agent reconnects: "accept" takes it
  accept              accept the agent's (next) connection

Exit 0 when every step is done, 1 on a timeout or a closed channel, 3 if
the agent's memory grew past the bound. The agent is killed at the end.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

RSS_MAX_KIB = 2048


class Dock:
    def __init__(self, agent_cmd, timeout):
        self.dir = tempfile.mkdtemp(prefix="isc-dock-")
        self.path = os.path.join(self.dir, "agent.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.timeout = timeout
        self.buf = b""
        self.conn = None
        self.proc = subprocess.Popen([agent_cmd[0], "--unix", self.path] + agent_cmd[1:],
                                     stdin=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "agent.log"), "wb"))

    def accept(self):
        self.srv.settimeout(self.timeout)
        self.conn, _ = self.srv.accept()
        self.buf = b""

    def close(self):
        self.conn.close()
        self.conn = None

    def line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete line in time")
            self.conn.settimeout(left)
            data = self.conn.recv(65536)
            if not data:
                raise ConnectionError("agent closed the channel")
            self.buf += data
        text, self.buf = self.buf.split(b"\n", 1)
        sys.stdout.write(text.decode("ascii", "replace") + "\n")
        sys.stdout.flush()
        return text

    def wait(self, args):
        deadline = time.monotonic() + self.timeout
        while True:
            text = self.line(deadline)
            try:
                m = json.loads(text)
            except ValueError:
                continue
            if m.get("type") != args[0]:
                continue
            if len(args) == 1 or m.get("report") == int(args[1]):
                return

    def drain(self, quiet):
        data = b""
        while True:
            # Lines already received (after the one a wait step stopped at) first.
            self.buf += data
            while b"\n" in self.buf:
                text, self.buf = self.buf.split(b"\n", 1)
                sys.stdout.write(text.decode("ascii", "replace") + "\n")
            sys.stdout.flush()
            self.conn.settimeout(quiet)
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                return
            if not data:
                raise ConnectionError("agent closed the channel")

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    kib = int(ln.split()[1])
                    sys.stderr.write("# rss %d KiB\n" % kib)
                    return kib <= RSS_MAX_KIB
        return False

    def finish(self):
        self.proc.kill()
        self.proc.wait()
        sys.stderr.write(open(os.path.join(self.dir, "agent.log")).read())
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def main():
    argv = sys.argv[1:]
    timeout = 10.0
    if argv[:1] == ["--timeout"]:
        timeout = float(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    steps = [ln.rstrip("\n") for ln in sys.stdin if ln.strip()]
    dock = Dock(argv, timeout)
    rc = 0
    try:
        dock.accept()
        for step in steps:
            verb, _, rest = step.partition(" ")
            if verb == "wait":
                dock.wait(rest.split())
            elif verb == "send":
                dock.conn.sendall(rest.encode() + b"\n")
            elif verb == "sendpy":
                dock.conn.sendall(eval(rest))  # test scripts only
            elif verb == "drain":
                dock.drain(float(rest))
            elif verb == "sleep":
                time.sleep(float(rest))
            elif verb == "rss":
                if not dock.rss():
                    rc = 3
                    break
            elif verb == "close":
                dock.close()
            elif verb == "accept":
                dock.accept()
            else:
                raise SystemExit("dock.py: unknown step %r" % step)
    except (TimeoutError, ConnectionError, socket.timeout) as e:
        sys.stderr.write("dock.py: %s\n" % e)
        rc = 1
    finally:
        dock.finish()
    sys.exit(rc)


if __name__ == "__main__":
    main()
