"""Before/after comparison of per-clip benchmark results: the safety net of a refactor.

Usage:
  rohm benchmark --data data/bandai --split test --protocols main --methods input,classical,mdm++,rohm \\
      --max-clips 20 --workers 1 --out BEFORE          # with the code before the change
  (the same with the code after the change, --out AFTER)
  python benchmarks/safety_net.py BEFORE AFTER --out benchmarks/results/safety_net/comparison.json
Every (protocol, clip, method, metric) of the two runs is compared (run times left out); the note
lists how many are identical and, per method and metric, the largest difference and the mean change.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from rohm.io.atomic import write_text_atomic

TOLERANCE = 1e-9  # relative: float noise below this counts as identical


def per_clip(folder: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(protocol, clip, method) -> flattened metrics of a benchmark output folder."""
    rows: dict[tuple[str, str, str], dict[str, float]] = {}
    for jsonl in sorted((folder / "clips").glob("*.jsonl")):
        for line in jsonl.read_text().splitlines():
            row = json.loads(line)
            for method, metrics in row["methods"].items():
                rows[(jsonl.stem, row["clip"], method)] = {k: v for k, v in metrics.items() if k != "seconds"}
    return rows


def compare(before: Path, after: Path) -> dict[str, object]:
    """Counts of identical values and, per (protocol, method, metric), the largest absolute difference
    and the mean signed change after - before."""
    a, b = per_clip(before), per_clip(after)
    if set(a) != set(b):
        raise SystemExit(f"the runs differ in what ran: {sorted(set(a) ^ set(b))[:5]} ...")
    same = total = 0
    diffs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for key, metrics in a.items():
        for name, value in metrics.items():
            other = b[key].get(name)
            total += 1
            if value is None or other is None:
                same += value is other
                continue
            delta = other - value
            if abs(delta) <= TOLERANCE * max(1.0, abs(value)):
                same += 1
            else:
                diffs[(key[0], key[2], name)].append(delta)
    changed = {f"{p} / {m} / {k}": {"clips": len(d), "max_abs": max(abs(x) for x in d), "mean": sum(d) / len(d)}
               for (p, m, k), d in sorted(diffs.items())}
    return {"values": total, "identical": same, "runs": len(a), "changed": changed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/safety_net/comparison.json"))
    args = ap.parse_args()
    result = compare(args.before, args.after)
    write_text_atomic(args.out, json.dumps(result, indent=2))
    print(f"{result['identical']} of {result['values']} values identical over {result['runs']} (protocol, clip, method) runs")
    for key, d in result["changed"].items():
        print(f"  {key}: {d['clips']} clips, max |diff| {d['max_abs']:.4g}, mean {d['mean']:+.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
