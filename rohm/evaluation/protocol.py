"""Evaluation protocols: corrupt ground-truth clips the paper's way, reconstruct, score, aggregate.

Averages are weighted by frames (every frame counts the same, whatever its clip's length).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rohm.corruption import corrupt_motion
from rohm.evaluation.metrics import evaluate, flatten
from rohm.io.motion_file import Motion, load_motion

Method = Callable[[Motion], Motion]


def aggregate(per_clip: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Frame-weighted mean of each flattened metric over clips (None values skipped)."""
    frames = np.array([r["frames.gt"] for r in per_clip], dtype=np.float64)
    keys = [k for k in per_clip[0] if not k.startswith("frames.")]
    out: dict[str, Any] = {"clips": len(per_clip), "frames": int(frames.sum())}
    for k in keys:
        vals = np.array([np.nan if r.get(k) is None else r[k] for r in per_clip], dtype=np.float64)
        ok = ~np.isnan(vals)
        out[k] = float(np.average(vals[ok], weights=frames[ok])) if ok.any() else None
    return out


def run_protocol(method: Method, clips: Sequence[str | Path], noise: float, occlusion: str, seed: int = 0,
                 desc: str = "clips") -> dict[str, Any]:
    """Score `method` on corrupted copies of `clips`; returns aggregated metrics and seconds per clip."""
    per_clip = []
    seconds = 0.0
    for i, path in enumerate(tqdm(clips, desc=desc, unit="clip")):
        gt = load_motion(path)
        inp = corrupt_motion(gt, noise, occlusion, seed + i)
        start = time.perf_counter()
        pred = method(inp)
        seconds += time.perf_counter() - start
        per_clip.append(flatten(evaluate(pred, gt, inp)))
    result = aggregate(per_clip)
    result["seconds_per_clip"] = seconds / max(1, len(clips))
    return result
