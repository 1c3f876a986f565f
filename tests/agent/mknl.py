#!/usr/bin/env python3
"""mknl.py FIXTURE/netlink.json OUTDIR: write the netlink replies a kernel
would send for the agent's queries, one file per query, for
`isc-agent --netlink-replay OUTDIR` (see guest-agent/PROTOCOL.md).

netlink.json has up to six keys; a missing one means no file (the fact
then says "disabled"):
  "audit":      {"status": {"enabled":1,"pid":321,...}} | {"errno": 1}
  "audit-rules": N (the kernel lists N audit rules)
  "audit-records": [{"rtype":1309,"text":"audit(1.000:1): argc=1 a0=\"ls\""},
                  {"rtype":1300,"hex":"6175..."} (exact bytes),
                  {"rtype":1309,"text":"audit(1.000:{n}): x","repeat":600}, ...]
                 (the records the audit multicast group would deliver,
                 "{n}" counting 1..repeat)
  "nft-tables": [{"family":"inet","name":"filter"}, ...]
  "nft-chains": [{"family":"inet","table":"filter","name":"input",
                  "hook":"input","priority":0,"policy":"drop","type":"filter"}, ...]
                 (no "hook": a regular chain)
  "addrs":      [{"index":2,"family":"inet","addr":"10.231.0.2","prefixlen":29}, ...]
Any of them may instead be {"raw_hex": "..."} (exact bytes, for malformed
replies), and a list may end with the string "no-done" to leave out the
final NLMSG_DONE.
"""
import json
import os
import socket
import struct
import sys

NLMSG_ERROR, NLMSG_DONE = 2, 3
AUDIT_GET = 1000
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN = 0, 3
RTM_NEWADDR = 20
NLA_F_NESTED = 0x8000
FAMILIES = {"inet": 1, "ip": 2, "arp": 3, "netdev": 5, "bridge": 7, "ip6": 10}
HOOKS = {"prerouting": 0, "input": 1, "forward": 2, "output": 3, "postrouting": 4, "ingress": 5}
POLICIES = {"drop": 0, "accept": 1}


def align(b):
    return b + b"\0" * (-len(b) % 4)


def msg(mtype, payload, flags=0x2):  # NLM_F_MULTI, as in dumps
    return align(struct.pack("=IHHII", 16 + len(payload), mtype, flags, 0, 0) + payload)


def attr(atype, data):
    return align(struct.pack("=HH", 4 + len(data), atype) + data)


def strz(s):
    return s.encode() + b"\0"


def be32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def done():
    return msg(NLMSG_DONE, struct.pack("=i", 0))


def nfgen(family):
    return struct.pack("=BBH", FAMILIES[family], 0, socket.htons(1))


def audit(spec):
    if "errno" in spec:
        req = struct.pack("=IHHII", 16, AUDIT_GET, 1, 0, 0)
        return msg(NLMSG_ERROR, struct.pack("=i", -spec["errno"]) + req, 0)
    s = spec["status"]
    keys = ["mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog",
            "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual"]
    return msg(AUDIT_GET, struct.pack("=11I", *[s.get(k, 0) for k in keys]), 0)


def table(t):
    return msg(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE,
               nfgen(t["family"]) + attr(1, strz(t["name"])) + attr(3, be32(0)))


def chain(c):
    a = attr(1, strz(c["table"])) + attr(2, struct.pack(">Q", 1)) + attr(3, strz(c["name"]))
    if "hook" in c:
        hook = attr(1, be32(HOOKS[c["hook"]])) + attr(2, be32(c.get("priority", 0)))
        a += attr(4 | NLA_F_NESTED, hook) + attr(5, be32(POLICIES.get(c.get("policy"), c.get("policy", 1))))
        a += attr(7, strz(c.get("type", "filter")))
    return msg(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWCHAIN, nfgen(c["family"]) + a)


def addr(a):
    fam = socket.AF_INET if a["family"] == "inet" else socket.AF_INET6
    raw = socket.inet_pton(fam, a["addr"])
    body = struct.pack("=BBBBI", fam, a["prefixlen"], 0, 0, a["index"]) + attr(1, raw)
    if fam == socket.AF_INET:
        body += attr(2, raw)
    return msg(RTM_NEWADDR, body)


AUDIT_LIST_RULES = 1013


def audit_rules(n):
    return b"".join(msg(AUDIT_LIST_RULES, b"\0" * 1040) for _ in range(n)) + done()


def audit_records(spec):
    out = b""
    for r in spec:
        if "hex" in r:
            out += msg(r["rtype"], bytes.fromhex(r["hex"]), 0)
            continue
        for n in range(1, r.get("repeat", 1) + 1):
            out += msg(r["rtype"], r["text"].replace("{n}", str(n)).encode(), 0)
    return out


BUILDERS = {"nft-tables": table, "nft-chains": chain, "addrs": addr}


def build(name, spec):
    if isinstance(spec, dict) and "raw_hex" in spec:
        return bytes.fromhex(spec["raw_hex"])
    if name == "audit":
        return audit(spec)
    if name == "audit-rules":
        return audit_rules(spec)
    if name == "audit-records":
        return audit_records(spec)
    out = b"".join(BUILDERS[name](item) for item in spec if item != "no-done")
    return out if "no-done" in spec else out + done()


def main():
    spec = json.load(open(sys.argv[1]))
    os.makedirs(sys.argv[2], exist_ok=True)
    for name, value in spec.items():
        with open(os.path.join(sys.argv[2], name), "wb") as f:
            f.write(build(name, value))


if __name__ == "__main__":
    main()
