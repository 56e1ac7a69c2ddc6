"""The README's benchmark tables, printed from committed `rohm benchmark` results (so every figure
in the README can be traced to a results.json and the command inside it).

Usage: python benchmarks/tables.py [--test benchmarks/results/benchmark] [--cmu benchmarks/results/cmu]
       [--old benchmarks/results/v0.2/results.json] > tables.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MAIN = ("input", "classical", "optim", "mdm++", "rohm", "rohm-paper")
PAPER = ("paper-k1", "paper-k2-no-tc", "paper-k2", "paper-k2-no-guidance")
COLUMNS = (("gmpjpe.vis", "GMPJPE vis", 1), ("gmpjpe.occ", "occ", 1), ("gmpjpe.all", "all", 1),
           ("mpjpe.all", "MPJPE", 1), ("accel", "Accel", 1), ("contact", "Contact", 2),
           ("skating", "Skating", 3), ("float", "Float", 1), ("dist", "Dist", 1))


def _cell(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: dict[str, dict[str, Any]], methods: tuple[str, ...], title: str) -> str:
    """One protocol: methods as rows, the metrics as columns."""
    rows = [f"| {title} | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for m in methods:
        if m in results:
            r = results[m]
            rows.append(f"| {m} ({r['clips']} clips) | " + " | ".join(_cell(r.get(k), d) for k, _, d in COLUMNS) + " |")
    return "\n".join(rows)


def shape_table(results: dict[str, dict[str, Any]], own: dict[str, Any]) -> str:
    """Shape grid: GMPJPE all per shape and method, and rohm's ratio to the clips' own shapes."""
    shapes = [p for p in results if p.startswith("shape-")]
    methods = [m for m in ("input", "classical", "mdm++", "rohm") if any(m in results[s] for s in shapes)]
    head = "| shape | " + " | ".join(f"{m} all / occ" for m in methods) + " | rohm vs own shape |"
    rows = [head, "|---" * (len(methods) + 2) + "|"]
    rows.append("| own (Occ-L k=3) | " + " | ".join(
        f"{_cell(own[m]['gmpjpe.all'], 1)} / {_cell(own[m]['gmpjpe.occ'], 1)}" if m in own else "-" for m in methods)
        + " | 1.00 |")
    for s in shapes:
        r = results[s]
        ratio = r["rohm"]["gmpjpe.all"] / own["rohm"]["gmpjpe.all"] if "rohm" in r and "rohm" in own else None
        rows.append(f"| {s[6:]} | " + " | ".join(
            f"{_cell(r[m]['gmpjpe.all'], 1)} / {_cell(r[m]['gmpjpe.occ'], 1)}" if m in r else "-" for m in methods)
            + f" | {_cell(ratio, 2)} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test", default="benchmarks/results/benchmark")
    ap.add_argument("--cmu", default="benchmarks/results/cmu")
    args = ap.parse_args()
    out = []
    test = Path(args.test) / "results.json"
    if test.exists():
        report = json.loads(test.read_text())
        res = report["results"]
        out.append(f"Bandai test split ({report['clips_in_split']} clips): `{report['command']}`\n")
        for p in ("occl-k3", "occl-k5", "occl-k7", "occ10-k3", "cam-k3"):
            if p in res:
                out += [table(res[p], MAIN + ("rohm-no-footlock", "rohm-no-gap"), report["protocols"][p]), ""]
        for p in ("occl-k3", "occl-k5", "occl-k7"):
            if p in res and any(m in res[p] for m in PAPER):
                out += [table(res[p], ("rohm",) + PAPER, f"paper's conditioning, {report['protocols'][p]}"), ""]
        if any(p.startswith("shape-") for p in res):
            out += [shape_table(res, res["occl-k3"]), ""]
    cmu = Path(args.cmu) / "results.json"
    if cmu.exists():
        report = json.loads(cmu.read_text())
        out.append(f"CMU subjects 1-9 ({report['clips_in_split']} clips): `{report['command']}`\n")
        for p, r in report["results"].items():
            out += [table(r, MAIN, report["protocols"][p]), ""]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
