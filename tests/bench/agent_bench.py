#!/usr/bin/env python3
"""agent_bench.py AGENT ROOT RUNS [AGENT-ARGS...]: the guest agent's memory
and the CPU time of one full report, measured on the real binary in --unix
mode against a fixture tree (as tests/agent/run.sh runs it), since a guest's
processes cannot be seen from the host. Plays the dock: accepts the agent,
waits for the hello and the first report, then asks RUNS times for a report
(one at a time) and reads the agent's CPU time from /proc/PID/schedstat
(nanoseconds) around each. Prints one JSON object:
  {"rss_kib": N, "hwm_kib": N, "report_cpu_ms": [...], "report_wall_ms": [...],
   "facts": N}"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    return -1


class Chan:
    def __init__(self, conn):
        self.conn, self.buf = conn, b""
        conn.settimeout(20)

    def until(self, kind, report=None):
        n = 0
        while True:
            while b"\n" not in self.buf:
                data = self.conn.recv(65536)
                if not data:
                    raise ConnectionError("agent closed the channel")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            m = json.loads(line)
            if m.get("type") == "fact":
                n += 1
            if m.get("type") == kind and (report is None or m.get("report") == report):
                return m, n


def main():
    agent, root, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    extra = sys.argv[4:]
    d = tempfile.mkdtemp(prefix="isc-bench-agent-")
    path = os.path.join(d, "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(20)
    svc = ""
    try:
        svc = open(os.path.join(root, "service")).readline().strip()
    except OSError:
        pass
    proc = subprocess.Popen([agent, "--unix", path, "--root", root, "--report-interval", "0"] + extra,
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn, _ = srv.accept()
        ch = Chan(conn)
        ch.until("hello")
        ch.until("report_end", 1)
        cpu, wall, facts = [], [], 0
        req = json.dumps({"type": "report", "service": svc}).encode() + b"\n"
        for i in range(runs):
            c0, t0 = cpu_ns(proc.pid), time.monotonic()
            conn.sendall(req)
            _, facts = ch.until("report_end", 2 + i)
            t1 = time.monotonic()
            # the agent may still be returning from its last write: let it settle
            time.sleep(0.01)
            cpu.append((cpu_ns(proc.pid) - c0) / 1e6)
            wall.append((t1 - t0) * 1e3)
        print(json.dumps({"rss_kib": status(proc.pid, "VmRSS"), "hwm_kib": status(proc.pid, "VmHWM"),
                          "report_cpu_ms": cpu, "report_wall_ms": wall, "facts": facts}))
    finally:
        proc.kill()
        proc.wait()
        os.unlink(path)
        os.rmdir(d)


if __name__ == "__main__":
    main()
