#!/usr/bin/env python3
"""report.py SAMPLES.jsonl MACHINE.json OUT.json: turn the benchmark's raw
samples into the markdown table (stdout) and build/bench/results.json.

Each line of SAMPLES is one figure, written by tests/bench/inside.sh:
  {"sec": "1", "id": "ready.dock", "label": "...", "unit": "s",
   "values": [...], "goal": "...", "note": "...",
   "vs": [["ready.raw", "raw QEMU"], ...]}      # paired: ratio of medians
  {"sec": "4", "id": ..., "label": ..., "unit": "ms", "median": 0.013,
   "runs": 20, ...}                             # a median reported by another tool
  {"sec": "5", "id": ..., "label": ..., "status": "waits for issue #6"}
Nothing here measures anything: it only sorts and divides."""
import json
import statistics
import sys


def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("bytes", "KiB", "fds", "procs", "facts", "nodes"):
        s = "%d" % round(v)
    elif abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    elif abs(v) >= 1:
        s = "%.2f" % v
    elif v == 0:
        s = "0"
    else:
        s = "%.3g" % v
    return s + ("" if unit in ("", "x") else (" " + unit if unit != "%" else "%"))


def ratio_text(r):
    return "%.2f×" % r if r >= 0.1 else "%.4f× (1/%.0f)" % (r, 1 / r)


def pct(values, p):
    """nearest-rank percentile"""
    v = sorted(values)
    k = max(1, -(-len(v) * p // 100))
    return v[int(k) - 1]


def main():
    samples_path, machine_path, out_path = sys.argv[1:4]
    machine = json.load(open(machine_path))
    figs = []
    for ln in open(samples_path):
        ln = ln.strip()
        if ln:
            figs.append(json.loads(ln))
    figs.sort(key=lambda f: int(f["sec"]))  # stable: measurement order within a section
    by_id = {f["id"]: f for f in figs}
    for f in figs:
        vals = f.get("values")
        if vals:
            f["median"] = statistics.median(vals)
            f["min"], f["max"], f["runs"] = min(vals), max(vals), len(vals)
            if len(vals) >= 20:
                f["p99"] = pct(vals, 99)
        f["ratios"] = []
        for other, name in f.get("vs", []):
            o = by_id.get(other)
            if not o or not o.get("values") or not vals:
                continue
            r = {"vs": other, "label": name,
                 "ratio_of_medians": f["median"] / statistics.median(o["values"])}
            if len(o["values"]) == len(vals):  # interleaved pairs, run i with run i
                pr = [a / b for a, b in zip(vals, o["values"])]
                r.update(pair_median=statistics.median(pr), pair_min=min(pr), pair_max=max(pr))
            f["ratios"].append(r)
    out = {"machine": machine, "figures": figs}
    with open(out_path, "w") as fp:
        json.dump(out, fp, indent=1)
        fp.write("\n")

    m = machine
    print("ISC Dock benchmarks — %s, %s cores, accel %s, commit %s%s, %s%s" % (
        m.get("cpu_model"), m.get("cores"), m.get("accel"), m.get("commit", "")[:12],
        " (dirty)" if m.get("dirty") else "", m.get("date"), ", QUICK" if m.get("quick") else ""))
    print()
    print("| # | figure | median | min–max | runs | ratio | goal |")
    print("|---|---|---|---|---|---|---|")
    for f in figs:
        if f.get("status"):
            print("| %s | %s | %s | | | | %s |" % (f["sec"], f["label"], f["status"], f.get("goal", "")))
            continue
        u = f.get("unit", "")
        mm = "—"
        if "min" in f and f.get("runs", 0) > 1:
            mm = "%s–%s" % (fmt(f["min"], u).split(" ")[0], fmt(f["max"], u))
        med = fmt(f.get("median"), u)
        if "p99" in f:
            med += " (p99 %s)" % fmt(f["p99"], u)
        ratio = ", ".join(ratio_text(r["ratio_of_medians"]) + " " + r["label"] for r in f["ratios"])
        if f.get("ratio_text"):
            ratio = f["ratio_text"]
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            f["sec"], f["label"], med, mm, f.get("runs", ""), ratio, f.get("goal", "")))
    seen, notes = set(), []
    for f in figs:
        if f.get("note") and f["note"] not in seen:
            seen.add(f["note"])
            notes.append("- %s: %s" % (f["label"], f["note"]))
    if notes:
        print()
        print("\n".join(notes))
    print()
    print("Raw samples and pair ratios: %s" % out_path)


if __name__ == "__main__":
    main()
