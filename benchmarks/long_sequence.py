"""Memory and seams on long inputs: up to 10 minutes of real motion in one call.

Usage: python benchmarks/long_sequence.py [--minutes 1 2.5 5 10] [--threads 2]
       [--out benchmarks/results/long_sequence.json]
The input is a real walk (the built-in demo clip walk_proud_001) played forwards and
backwards until it lasts the asked time (a continuous motion), corrupted as Occ-L with
noise k=3. Each length runs in a fresh process so its peak RSS (whole process: Python,
torch, anny, weights, data) is its own. Seams: the pelvis acceleration of the output at
every window boundary, against the largest pelvis acceleration of the clean motion.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLIP = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips" / "walk_proud_001.npz"


def long_motion(minutes: float):  # noqa: ANN201 - a Motion, imported lazily in the child
    """The demo walk, ping-ponged to `minutes` at its own fps."""
    import dataclasses

    from rohm.io.motion_file import load_motion

    m = load_motion(CLIP)
    n = int(round(minutes * 60 * m.fps))
    cycle = np.concatenate([np.arange(m.num_frames), np.arange(m.num_frames - 2, 0, -1)])
    idx = cycle[np.arange(n) % len(cycle)]
    return dataclasses.replace(m, joints=m.joints[idx], trans=m.trans[idx], root_orient=m.root_orient[idx],
                               pose_body=m.pose_body[idx], contacts=m.contacts[idx], extras={})


def child(minutes: float, threads: int) -> None:
    """Run one length and print a JSON line (runs in its own process)."""
    import torch

    from rohm.corruption import corrupt_motion
    from rohm.inference import Reconstructor, Settings
    from rohm.inference.windows import window_starts

    torch.set_num_threads(threads)
    gt = long_motion(minutes)
    inp = corrupt_motion(gt, 3.0, "lower", 0)
    rec = Reconstructor.from_pretrained()
    start = time.perf_counter()
    settings = Settings()
    out = rec.reconstruct(inp, settings, progress=True)
    seconds = time.perf_counter() - start

    def pelvis_acc(j: np.ndarray) -> np.ndarray:
        return np.linalg.norm(j[2:, 0] - 2 * j[1:-1, 0] + j[:-2, 0], axis=-1)

    starts = window_starts(gt.num_frames, rec.window, settings.overlap)
    edges = sorted({s for s in starts[1:]} | {s + rec.window for s in starts[:-1]})
    acc = pelvis_acc(out.joints)
    at_edges = acc[[e - 1 for e in edges if 1 <= e - 1 < len(acc)]]
    err = np.linalg.norm(out.joints - gt.joints, axis=-1).mean() * 1000
    print(json.dumps({"minutes": minutes, "frames_in": gt.num_frames, "frames_out": out.num_frames,
                      "windows": len(starts), "seconds": seconds, "frames_per_second": gt.num_frames / seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "gmpjpe_all_mm": float(err),
                      "boundary_pelvis_acc_max": float(at_edges.max()), "pelvis_acc_max": float(acc.max()),
                      "clean_pelvis_acc_max": float(pelvis_acc(gt.joints).max())}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 2.5, 5.0, 10.0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/long_sequence.json")
    ap.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.threads)
        return 0
    from rohm.io.atomic import write_text_atomic

    rows = []
    for minutes in args.minutes:
        proc = subprocess.run([sys.executable, __file__, "--child", str(minutes), "--threads", str(args.threads)],
                              stdout=subprocess.PIPE, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{minutes:5.1f} min: {row['frames_out']} frames in {row['seconds']:.1f} s, peak RSS "
              f"{row['peak_rss_mb']:.0f} MB, boundary pelvis acc {row['boundary_pelvis_acc_max'] * 1000:.1f} mm/f^2 "
              f"(clean max {row['clean_pelvis_acc_max'] * 1000:.1f})", flush=True)
    report = {"what": "one reconstruct call on a long real walk (Occ-L, k=3), default settings",
              "machine": {"platform": platform.platform(), "torch_threads": args.threads},
              "command": " ".join(sys.argv), "results": rows}
    write_text_atomic(args.out, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
