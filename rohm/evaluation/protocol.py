"""Evaluation protocols: corrupt ground-truth clips the paper's way, reconstruct, score, aggregate.

`score_input` is the one evaluation step every table uses (the benchmark, the demo, the val and
tuning scripts): methods run on one input, timed, checked and scored against the ground truth;
`score_clip` makes that input deterministically from a clip (protocol, seed). Averages are
weighted by frames (every frame counts the same, whatever its clip's length).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rohm.errors import RohmError
from rohm.evaluation.catalogue import Protocol
from rohm.evaluation.metrics import evaluate, flatten
from rohm.io.motion_file import Motion, load_motion

Method = Callable[[Motion], Motion]


def reposed(gt: Motion, shape: tuple[float, ...]) -> Motion:
    """The ground-truth clip's motion on another body shape (rohm.body.shape.repose), contacts relabelled."""
    import torch

    from rohm.body import load_body
    from rohm.body.contacts import foot_contacts
    from rohm.body.shape import repose

    body = load_body(gt.body_model)
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))[None]  # noqa: E731
    trans, joints = repose(body, t(gt.betas), t(shape), t(gt.root_orient), t(gt.pose_body), t(gt.trans))
    joints = joints[0].numpy()
    return dataclasses.replace(gt, joints=joints, trans=trans[0].numpy(), betas=np.asarray(shape, dtype=np.float64),
                               contacts=foot_contacts(joints, gt.fps))


def make_input(protocol: Protocol, gt: Motion, seed: int) -> Motion:
    """The corrupted input of one clip under a protocol."""
    if protocol.occlusion == "camera":
        from rohm.virtual_camera import camera_corrupt

        return camera_corrupt(gt, seed, protocol.noise)
    from rohm.corruption import corrupt_motion

    return corrupt_motion(gt, protocol.noise, protocol.occlusion, seed)


def score_input(gt: Motion, inp: Motion, methods: Mapping[str, Method], name: str = "<clip>") -> dict[str, Any]:
    """Run each method on one input and score it against the ground truth: {method: flattened
    metrics + "seconds"}. The one evaluation step every table uses."""
    scores: dict[str, Any] = {}
    for method_name, method in methods.items():
        start = time.perf_counter()
        pred = method(inp)
        seconds = time.perf_counter() - start
        if pred.num_frames != gt.num_frames:
            raise RohmError(f"{method_name} returned {pred.num_frames} frames for {gt.num_frames}", name)
        scores[method_name] = {**flatten(evaluate(pred, gt, inp)), "seconds": seconds}
    return scores


def score_clip(protocol: Protocol, path: str | Path, seed: int, methods: Mapping[str, Method]) -> dict[str, Any]:
    """Corrupt one clip (seed as given) and score each method on it: {"clip", "frames", "methods"}."""
    gt = load_motion(path)
    if protocol.shape is not None:
        gt = reposed(gt, protocol.shape)
    inp = make_input(protocol, gt, seed)
    return {"clip": Path(path).stem, "frames": gt.num_frames, "methods": score_input(gt, inp, methods, str(path))}


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
    """Score `method` on corrupted copies of `clips` (clip i with seed + i); returns aggregated
    metrics and seconds per clip."""
    protocol = Protocol(f"{occlusion}-k{noise:g}", noise, occlusion, desc)
    rows = [score_clip(protocol, path, seed + i, {"method": method})["methods"]["method"]
            for i, path in enumerate(tqdm(clips, desc=desc, unit="clip"))]
    seconds = [r.pop("seconds") for r in rows]
    result = aggregate(rows)
    result["seconds_per_clip"] = float(np.sum(seconds)) / max(1, len(clips))
    return result
