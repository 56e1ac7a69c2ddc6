"""Validation figures for the model card: Occ-L, k = 3 on the val split, rohm vs MDM++ vs the input.

Usage: python benchmarks/validate.py --data data/bandai [--weights DIR] [--max-clips N]
       [--out benchmarks/results/val_occl_k3.json]
The input is scored with its missing joints filled by the one input fill every table uses
(`rohm.inference.prepare.filled_input`: interpolated in time; never-observed joints from the
rest pose); on its visible joints that is the input's own error.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from rohm.evaluation.protocol import run_protocol
from rohm.inference import Reconstructor, Settings
from rohm.inference.prepare import filled_input
from rohm.io.atomic import write_text_atomic


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--max-clips", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/val_occl_k3.json")
    ap.add_argument("--methods", default="input,rohm,mdm++",
                    help="comma-separated subset; results of other methods already in --out are kept")
    args = ap.parse_args()
    torch.set_num_threads(2)
    clips = sorted((Path(args.data) / "val").glob("*.npz"))[: args.max_clips]
    settings = Settings()

    def method(name: str):  # built lazily: only the networks a run asks for are loaded
        if name == "input":
            return filled_input
        rec = Reconstructor.from_pretrained(args.weights, model=name)
        return lambda m: rec.reconstruct(m, settings)

    out = Path(args.out)
    results = json.loads(out.read_text())["results"] if out.exists() else {}
    for name in args.methods.split(","):
        if name not in ("input", "rohm", "mdm++"):
            raise SystemExit(f"unknown method {name!r}")
        results[name] = run_protocol(method(name), clips, 3.0, "lower", desc=name)
    report = {"protocol": "Occ-L, noise k=3, seed 0 (+ clip index)", "split": "val", "settings": vars(settings),
              "command": " ".join(sys.argv), "machine": {"platform": platform.platform(), "cpu_threads": 2,
                                                          "torch": torch.__version__}, "results": results}
    write_text_atomic(out, json.dumps(report, indent=2))
    for name, r in results.items():
        print(f"{name:6s} GMPJPE all {r['gmpjpe.all']:.1f} vis {r['gmpjpe.vis']:.1f} occ {r['gmpjpe.occ']:.1f} "
              f"MPJPE all {r['mpjpe.all']:.1f} accel {r['accel']:.2f} skating {r['skating']:.3f} "
              f"({r['seconds_per_clip']:.2f} s/clip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
