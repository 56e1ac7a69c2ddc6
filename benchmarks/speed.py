"""Reconstruction speed on 144-frame clips (the paper's clip length), with accuracy alongside.

Usage: python benchmarks/speed.py [--data data/bandai] [--clips 20] [--threads 2]
       [--out benchmarks/results/speed.json]
Clips: the first 144 frames of val clips at least that long (or the built-in demo clips
without a built dataset), corrupted as Occ-L with noise k=3. Each setting is timed per
clip after one warm-up clip; model loading is reported apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rohm.corruption import corrupt_motion
from rohm.evaluation.metrics import evaluate
from rohm.inference import Reconstructor, Settings
from rohm.io.atomic import write_text_atomic
from rohm.io.motion_file import Motion, load_motion

CLIP_FRAMES = 144


def clips_144(data: Path | None, count: int) -> list[Motion]:
    """Up to `count` real 144-frame clips."""
    folder = data / "val" if data is not None and (data / "val").is_dir() else Path("rohm/demo_clips")
    out = []
    for path in sorted(folder.glob("*.npz")):
        m = load_motion(path)
        if m.num_frames >= CLIP_FRAMES:
            out.append(dataclasses.replace(m, joints=m.joints[:CLIP_FRAMES], trans=m.trans[:CLIP_FRAMES],
                                           root_orient=m.root_orient[:CLIP_FRAMES], pose_body=m.pose_body[:CLIP_FRAMES],
                                           contacts=m.contacts[:CLIP_FRAMES], extras={}))
        if len(out) == count:
            break
    return out


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"platform": platform.platform(), "cpu": cpu, "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}


def time_setting(rec: Reconstructor, settings: Settings, gts: list[Motion]) -> dict[str, float]:
    inputs = [corrupt_motion(gt, 3.0, "lower", i) for i, gt in enumerate(gts)]
    rec.reconstruct(inputs[0], settings)  # warm-up
    seconds, gmpjpe, accel = [], [], []
    for gt, inp in zip(gts, inputs):
        start = time.perf_counter()
        out = rec.reconstruct(inp, settings)
        seconds.append(time.perf_counter() - start)
        r = evaluate(out, gt, inp)
        gmpjpe.append(r["gmpjpe"]["all"])
        accel.append(r["accel"])
    return {"clips": len(gts), "seconds_mean": float(np.mean(seconds)), "seconds_median": float(np.median(seconds)),
            "seconds_max": float(np.max(seconds)), "gmpjpe_all_mm": float(np.mean(gmpjpe)), "accel": float(np.mean(accel))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/bandai")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--paper-clips", type=int, default=2, help="clips for the slow paper setting")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gts = clips_144(Path(args.data), args.clips)
    start = time.perf_counter()
    rec = Reconstructor.from_pretrained()
    load_seconds = time.perf_counter() - start
    variants = {
        "default (K=2, DDIM 10/20 steps, guidance)": (Settings(), gts),
        "default without guidance": (Settings(guidance=False), gts),
        "K=1": (Settings(iterations=1), gts),
        "paper (K=2, DDPM 100/1000 steps, guidance)": (Settings.paper(), gts[: args.paper_clips]),
        "default on the paper setting's clips": (Settings(), gts[: args.paper_clips]),
    }
    results = {}
    for name, (settings, clips) in variants.items():
        results[name] = {"settings": dataclasses.asdict(settings), **time_setting(rec, settings, clips)}
        r = results[name]
        print(f"{name:45s} {r['seconds_mean']:.3f} s/clip (median {r['seconds_median']:.3f}, max {r['seconds_max']:.3f}) "
              f"GMPJPE {r['gmpjpe_all_mm']:.1f} mm, accel {r['accel']:.2f}", flush=True)
    report = {"what": f"seconds to reconstruct one {CLIP_FRAMES}-frame clip (Occ-L, k=3), model loaded",
              "model_load_seconds": load_seconds, "machine": machine(), "command": " ".join(sys.argv),
              "results": results}
    write_text_atomic(args.out, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
