"""Speed of the video renderer: frames per second, encoding included, on one CPU core.

Usage: python benchmarks/render_speed.py [--data data/bandai] [--frames 3000] [--mesh-frames 300]
       [--cores 1] [--out benchmarks/results/render_speed.json]
Skeleton mode renders a long motion (val clips chained end to end, or a synthetic walk
when the data set is absent) overlaid with a noisy copy whose lower body is missing;
mesh mode renders one clip with body parameters. The process (and the ffmpeg it starts)
is pinned to `--cores` cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import PIL
import torch

from rohm.body import load_body
from rohm.io.atomic import write_text_atomic
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import LOWER_BODY
from rohm.visualisation import render_video
from rohm.visualisation.render import X264, Scene


def chained_clips(folder: Path, frames: int) -> Motion:
    """Val clips played one after another, each moved to start where the last one ended."""
    parts, contacts, start = [], [], np.zeros(3)
    for path in sorted(folder.glob("*.npz")):
        clip = load_motion(path)
        joints = clip.joints + start - clip.joints[0, 0] * (1, 0, 1)
        parts.append(joints)
        contacts.append(clip.contacts if clip.contacts is not None else np.zeros((clip.num_frames, 4)))
        start = joints[-1, 0] * (1, 0, 1)
        if sum(len(p) for p in parts) >= frames:
            break
    return Motion(joints=np.concatenate(parts)[:frames], fps=30.0, contacts=np.concatenate(contacts)[:frames])


def synthetic_walk(frames: int, fps: float = 30.0) -> Motion:
    """A walk along +z posed by the anny skeleton (used when no data set is at hand)."""
    body = load_body("anny")
    t = np.arange(frames) / fps
    swing = np.sin(2 * np.pi * t)
    pose = np.zeros((frames, 21, 3))
    pose[:, 0, 0], pose[:, 1, 0] = -0.5 * swing, 0.5 * swing
    pose[:, 3, 0], pose[:, 4, 0] = 0.8 * np.clip(swing, 0, None), 0.8 * np.clip(-swing, 0, None)
    pose[:, 15, 2], pose[:, 16, 2] = -1.2, 1.2  # arms down
    trans = np.stack([np.zeros(frames), np.full(frames, 0.95), 1.2 * t], axis=1)
    betas = np.full(body.num_betas, 0.5)
    with torch.no_grad():
        joints = body(torch.as_tensor(betas), torch.zeros(frames, 3, dtype=torch.float64),
                      torch.as_tensor(pose.reshape(frames, -1)), torch.as_tensor(trans)).joints.numpy()
    return Motion(joints=joints, fps=fps, trans=trans, root_orient=np.zeros((frames, 3)),
                  pose_body=pose.reshape(frames, -1), betas=betas)


def first_frames(motion: Motion, n: int) -> Motion:
    """The first n frames of a motion (extras dropped)."""
    cut = {k: getattr(motion, k)[:n] for k in ("joints", "trans", "root_orient", "pose_body", "joint_mask",
                                                "contacts") if getattr(motion, k) is not None}
    return dataclasses.replace(motion, **cut, extras={})


def noisy_input(motion: Motion, seed: int = 0) -> tuple[Motion, Motion]:
    """(output with its input mask, noisy input without the lower body), like a reconstruction run."""
    rng = np.random.default_rng(seed)
    joints = motion.joints + rng.normal(scale=0.03, size=motion.joints.shape)
    joints[:, list(LOWER_BODY)] = np.nan
    mask = ~np.isnan(joints).any(axis=-1)
    output = Motion(joints=motion.joints, fps=motion.fps, contacts=motion.contacts,
                    input_joint_mask=mask)
    return output, Motion(joints=joints, fps=motion.fps)


def timed_video(motions: list[Motion], mode: str, size: tuple[int, int], labels: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = render_video(motions, Path(tmp) / "bench.mp4", labels=labels, mode=mode, size=size, progress=False)
        seconds = time.perf_counter() - start
        megabytes = out.stat().st_size / 1e6
    scene = Scene(motions, labels, mode=mode, size=size)
    start = time.perf_counter()
    for k in range(scene.num_frames):
        scene.frame(k).tobytes()
    draw_s = time.perf_counter() - start
    return {"frames": scene.num_frames, "size": list(size), "motions": len(motions), "mode": mode,
            "seconds": round(seconds, 2), "fps": round(scene.num_frames / seconds, 1),
            "fps_drawing_only": round(scene.num_frames / draw_s, 1), "file_mb": round(megabytes, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/bandai")
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--mesh-frames", type=int, default=300)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/render_speed.json")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    torch.set_num_threads(args.cores)
    size = (960, 540)
    val = Path(args.data) / "val"
    if val.is_dir() and any(val.glob("*.npz")):
        long = chained_clips(val, args.frames)
        mesh_clip = load_motion(max(val.glob("*.npz"), key=lambda p: p.stat().st_size))
        source = f"{val} clips chained to {args.frames} frames; mesh: the largest val clip"
    else:
        long = synthetic_walk(args.frames)
        mesh_clip = long
        source = "synthetic walk (anny skeleton), no data set found"
    mesh_clip = first_frames(mesh_clip, args.mesh_frames)
    output, noisy = noisy_input(long)
    load_body(mesh_clip.body_model)  # model loading is not rendering
    results = {
        "skeleton_overlay": timed_video([output, noisy], "skeleton", size, ["output", "noisy input"]),
        "mesh": timed_video([mesh_clip], "mesh", size, ["clip"]),
    }
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    report = {
        "command": " ".join(sys.argv), "source": source, "encoder": ["libx264", *X264, "yuv420p"],
        "results": results,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "cores_used": cores, "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "numpy": np.__version__, "pillow": PIL.__version__,
                    "torch": torch.__version__, "imageio_ffmpeg": imageio_ffmpeg.__version__},
    }
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
