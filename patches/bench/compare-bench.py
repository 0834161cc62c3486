"""Compares glibc benchtest JSON outputs of two builds (see run-benchtests.sh).

usage: compare-bench.py DIR BENCH NAME_A NAME_B
Reads DIR/BENCH.NAME.REP.json; for each entry with a "min" (time per
iteration: lower is better) or a "throughput" (higher is better) prints
the median over the runs for each build and the ratio B/A."""
import glob
import json
import statistics
import sys


def entries(obj, prefix=""):
    if isinstance(obj, dict):
        for key in ("min", "throughput", "mean"):
            if key in obj and not isinstance(obj[key], (dict, list)):
                yield prefix, key, float(obj[key])
                return
        for k, v in obj.items():
            yield from entries(v, f"{prefix}/{k}" if prefix else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from entries(v, f"{prefix}[{i}]")


def load(d, bench, name):
    runs = []
    for path in sorted(glob.glob(f"{d}/{bench}.{name}.*.json")):
        text = open(path).read().strip()
        if not text.startswith("{"):
            text = "{" + text + "}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        runs.append({(p, k): v for p, k, v in entries(data)})
    return runs


def main():
    d, bench, a, b = sys.argv[1:5]
    ra, rb = load(d, bench, a), load(d, bench, b)
    if not ra or not rb:
        print(f"{bench}: no results")
        return
    for key in ra[0]:
        va = [r[key] for r in ra if key in r]
        vb = [r[key] for r in rb if key in r]
        if not va or not vb:
            continue
        ma, mb = statistics.median(va), statistics.median(vb)
        ratio = mb / ma if ma else float("nan")
        print(f"{key[0]} [{key[1]}]: {a} {ma:.4g} {b} {mb:.4g} ratio {ratio:.3f}")


main()
