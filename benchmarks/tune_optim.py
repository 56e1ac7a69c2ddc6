"""Score settings of the `optim` baseline on val clips (Occ-L and Occ-10%, k = 3), as its tuning did.

Usage: nice -n 10 python benchmarks/tune_optim.py [--data data/bandai] [--config '{"joint_acc": 3}' ...]
With no --config it re-scores every row of benchmarks/results/optim_tuning.json ("results"),
printing the selection score: mean over the two protocols of GMPJPE all (mm) + Accel (m/s^2).
The clips are every 8th val clip, 24 of them (the test split is never read).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rohm.baselines.optim import optim_method
from rohm.evaluation.protocol import run_protocol

TUNING = Path(__file__).resolve().parent / "results" / "optim_tuning.json"


def score(config: dict, clips: list[Path]) -> dict:
    """Both protocols' metrics and the selection score of one setting."""
    out = {o: run_protocol(optim_method(**config), clips, 3.0, o, seed=0, desc=o) for o in ("lower", "frames-10")}
    out["score"] = sum(r["gmpjpe.all"] + r["accel"] for r in out.values()) / 2
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/bandai")
    ap.add_argument("--config", action="append", default=None, help="JSON settings over the defaults")
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = sorted((Path(args.data) / "val").glob("*.npz"))[::8][:24]
    configs = [json.loads(c) for c in args.config] if args.config else [
        row["config"] for row in json.loads(TUNING.read_text())["results"]]
    for config in configs:
        r = score(config, clips)
        print(f"{json.dumps(config):60s} score {r['score']:.2f}  Occ-L {r['lower']['gmpjpe.all']:.1f} mm "
              f"accel {r['lower']['accel']:.2f}  Occ-10% {r['frames-10']['gmpjpe.all']:.1f} mm", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
