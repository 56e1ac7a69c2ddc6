"""`rohm demo`: the whole product on a built-in real clip, with no data of the user's own.

A held-out mocap clip (rohm/demo_clips) is corrupted like the paper's Occ-L test (noise and
a hidden lower body), reconstructed with the shipped weights, scored against the clean
clip, exported to BVH and rendered side by side (input | rohm | ground truth).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rohm.builtin_clips import CLIPS_DIR, DEFAULT_CLIP, demo_clips
from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.evaluation.metrics import evaluate, format_table
from rohm.inference import Reconstructor, Settings
from rohm.inference.prepare import filled_input
from rohm.io.atomic import write_text_atomic
from rohm.io.export import export_bvh
from rohm.io.motion_file import load_motion, save_motion


def run_demo(out: str | Path, clip: str = DEFAULT_CLIP, noise: float = 3.0, occlusion: str = "lower",
             seed: int = 0, settings: Settings | None = None, weights: str | Path | None = None,
             video: bool = True) -> dict[str, Path]:
    """Corrupt, reconstruct, score, export and render one built-in clip; returns the files written."""
    if clip not in demo_clips():
        raise RohmError(f"unknown demo clip {clip!r}; choose one of {', '.join(demo_clips())}")
    out = Path(out)
    settings = settings or Settings(seed=seed)
    gt = load_motion(CLIPS_DIR / f"{clip}.npz")
    noisy = corrupt_motion(gt, noise, occlusion, seed)
    result = Reconstructor.from_pretrained(weights).reconstruct(noisy, settings, progress=True)
    files = {"ground_truth": out / "ground_truth.npz", "input": out / "input.npz", "output": out / "rohm.npz",
             "metrics": out / "metrics.json", "bvh": out / "rohm.bvh"}
    save_motion(gt, files["ground_truth"])
    save_motion(noisy, files["input"])
    save_motion(result, files["output"])
    metrics = {"clip": clip, "noise": noise, "occlusion": occlusion, "seed": seed, "settings": asdict(settings),
               "input": evaluate(filled_input(noisy), gt, noisy), "rohm": evaluate(result, gt, noisy)}
    write_text_atomic(files["metrics"], json.dumps(metrics, indent=2))
    export_bvh(result, files["bvh"])
    if video:
        from rohm.visualisation import render_video

        files["video"] = render_video([noisy, result, gt], out / "compare.mp4",
                                      labels=["input (noisy, legs hidden)", "rohm", "ground truth"], layout="side",
                                      size=(640, 360))
    print(f"demo clip {clip}: {gt.num_frames} frames, noise k={noise:g}, occlusion {occlusion}")
    print("input:\n" + format_table(metrics["input"]))
    print("rohm:\n" + format_table(metrics["rohm"]))
    i, r = metrics["input"], metrics["rohm"]
    print(f"GMPJPE {i['gmpjpe']['all']:.1f} -> {r['gmpjpe']['all']:.1f} mm, Accel {i['accel']:.1f} -> {r['accel']:.1f} m/s^2, "
          f"Skating {i['skating']:.2f} -> {r['skating']:.2f} (input -> rohm)")
    return files
