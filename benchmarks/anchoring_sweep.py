"""How joint anchoring should use the evidence: chosen on the Bandai val split and the CMU set.

Usage: python benchmarks/anchoring_sweep.py --variants A,B,C,D,E [--out benchmarks/results/val_anchoring.json]
Variants (rohm.inference.Settings fields):
  A  v0.2: raw observations, joint_sigma 8, joint_gap_weight 0.3
  B  RTS-smoothed observations, joint_sigma 8, joint_gap_weight 0.3
  C  RTS-smoothed observations, joint_sigma 2, joint_gap_weight 0.3
  D  RTS-smoothed observations, joint_sigma 2, joint_gap_weight 1.0   (the v0.3 default)
  E  raw observations, joint_sigma 8, joint_gap_weight 1.0
Inputs: Occ-L k=3 and Occ-10% k=3 (rohm benchmark's inputs, seed = clip index) on every CMU clip
(data/cmu, `rohm data build ... --split val`) and every 6th Bandai val clip (32 clips).
Results of variants already in --out are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rohm.evaluation.catalogue import PROTOCOLS
from rohm.evaluation.protocol import aggregate, score_clip
from rohm.inference import Reconstructor, Settings
from rohm.io.atomic import write_text_atomic

VARIANTS = {
    "A": Settings(smooth_evidence=False, joint_sigma=8.0, joint_gap_weight=0.3),
    "B": Settings(smooth_evidence=True, joint_sigma=8.0, joint_gap_weight=0.3),
    "C": Settings(smooth_evidence=True, joint_sigma=2.0, joint_gap_weight=0.3),
    "D": Settings(smooth_evidence=True, joint_sigma=2.0, joint_gap_weight=1.0),
    "E": Settings(smooth_evidence=False, joint_sigma=8.0, joint_gap_weight=1.0),
}
KEYS = ("gmpjpe.vis", "gmpjpe.occ", "gmpjpe.all", "accel", "skating")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="A,B,C,D,E")
    ap.add_argument("--cmu", default="data/cmu")
    ap.add_argument("--bandai", default="data/bandai")
    ap.add_argument("--out", default="benchmarks/results/val_anchoring.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rec = Reconstructor.from_pretrained()
    sets = {"cmu": sorted((Path(args.cmu) / "val").glob("*.npz")),
            "bandai-val": sorted((Path(args.bandai) / "val").glob("*.npz"))[::6][:32]}
    out = Path(args.out)
    results = json.loads(out.read_text())["results"] if out.exists() else {}
    for data, clips in sets.items():
        for protocol in ("occl-k3", "occ10-k3"):
            methods = {name: (lambda m, s=VARIANTS[name]: rec.reconstruct(m, s)) for name in args.variants.split(",")}
            rows = [score_clip(PROTOCOLS[protocol], clip, i, methods)["methods"] for i, clip in enumerate(clips)]
            for name in methods:
                agg = aggregate([r[name] for r in rows])
                results[f"{data}/{protocol}/{name}"] = {k: agg[k] for k in KEYS if agg.get(k) is not None}
                print(data, protocol, name, {k: round(v, 2) for k, v in results[f"{data}/{protocol}/{name}"].items()})
    report = {"command": " ".join(sys.argv), "variants": {k: {"smooth_evidence": v.smooth_evidence,
              "joint_sigma": v.joint_sigma, "joint_gap_weight": v.joint_gap_weight} for k, v in VARIANTS.items()},
              "clips": {k: len(v) for k, v in sets.items()}, "results": results}
    write_text_atomic(out, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
