"""Train the `optim` baseline's pose prior (a VPoser-like VAE) on the train split.

Usage: python benchmarks/train_pose_prior.py --data data/bandai
       [--out rohm/weights/pose_prior.safetensors] [--steps 18000] [--max-minutes 7]
Frames: every `--stride`-th frame of each train clip plus its left/right mirror image;
validation: every `--stride`-th frame of the val split (encoder mean, no sampling).
Loss per pose: squared rotation-matrix error + JOINT_WEIGHT * squared joint-position error
(mean anny body, root fixed) + beta * KL(q(z|pose) || N(0, I)), beta ramped up over the
first KL_WARMUP of the steps. One CPU thread; weights and metadata written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import roma
import torch

from rohm.baselines.pose_prior import NUM_BODY, PosePrior, load_pose_prior, mirror_pose
from rohm.body import load_body
from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.checkpoint import save_tensors
from rohm.io.atomic import write_text_atomic
from rohm.io.motion_file import load_motion

JOINT_WEIGHT = 100.0  # 1 cm of joint error weighs like ~3.3 degrees of rotation error
KL_WARMUP = 0.2


def load_frames(folder: Path, stride: int, mirror: bool) -> np.ndarray:
    """(M, 63) float32 body poses: every `stride`-th frame of each clip, plus mirror images."""
    poses = [load_motion(p).pose_body[::stride] for p in sorted(folder.glob("*.npz"))]
    pose = np.concatenate(poses)
    if mirror:
        pose = np.concatenate([pose, mirror_pose(pose)])
    return pose.astype(np.float32)


def body_joints(rest: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Joints (B, 22, 3) of body rotations (B, 21, 3, 3) on the rest skeleton, root fixed."""
    eye = torch.eye(3, dtype=rot.dtype).expand(rot.shape[0], 1, 3, 3)
    return forward_kinematics_rotmat(rest, torch.cat([eye, rot], dim=1))[0]


@torch.no_grad()
def evaluate(model: PosePrior, pose: torch.Tensor, rest: torch.Tensor) -> dict[str, float]:
    """Reconstruction of poses through the encoder mean: joint error (mm), angle error (deg), KL."""
    model.eval()
    mean, logvar = model.encode(pose)
    rot_hat = model.decode(mean)
    rot = roma.rotvec_to_rotmat(pose.reshape(-1, NUM_BODY, 3))
    joint_mm = (body_joints(rest, rot_hat) - body_joints(rest, rot)).norm(dim=-1)[:, 1:].mean() * 1000
    angle = torch.rad2deg(roma.rotmat_geodesic_distance(rot_hat, rot)).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
    model.train()
    return {"joint_mm": float(joint_mm), "angle_deg": float(angle), "kl": float(kl)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="rohm/weights/pose_prior.safetensors")
    ap.add_argument("--results", default="benchmarks/results/pose_prior.json")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--steps", type=int, default=18000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--beta", type=float, default=1e-3, help="KL weight")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--max-minutes", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    data = Path(args.data)

    start = time.perf_counter()
    train = torch.from_numpy(load_frames(data / "train", args.stride, mirror=True))
    val = torch.from_numpy(load_frames(data / "val", args.stride, mirror=False))
    rest = load_body("anny").rest_joints(torch.full((1, 6), 0.5, dtype=torch.float64))[0].float()
    print(f"train poses {len(train)} (with mirrors), val poses {len(val)}, loaded in "
          f"{time.perf_counter() - start:.0f} s", flush=True)

    model = PosePrior(args.latent, args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    step = 0
    while step < args.steps and time.perf_counter() - t0 < 60 * args.max_minutes:
        pose = train[torch.randint(len(train), (args.batch,), generator=gen)]
        rot = roma.rotvec_to_rotmat(pose.reshape(-1, NUM_BODY, 3))
        mean, logvar = model.encode(pose)
        z = mean + torch.randn(mean.shape, generator=gen) * (0.5 * logvar).exp()
        rot_hat = model.decode(z)
        rot_err = (rot_hat - rot).pow(2).sum((-1, -2)).mean()
        joint_err = (body_joints(rest, rot_hat) - body_joints(rest, rot)).pow(2).sum(-1).mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
        beta = args.beta * min(1.0, step / (KL_WARMUP * args.steps))
        loss = rot_err + JOINT_WEIGHT * joint_err + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 1000 == 0:
            v = evaluate(model, val, rest)
            print(f"step {step} loss {loss.item():.4f} kl {kl.item():.1f} | val joint {v['joint_mm']:.1f} mm "
                  f"angle {v['angle_deg']:.2f} deg kl {v['kl']:.1f} | {time.perf_counter() - t0:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    final = evaluate(model, val, rest)
    meta = {"config": {"latent": args.latent, "hidden": args.hidden, "rotation": "6d", "joints": NUM_BODY},
            "steps": step, "wall_s": round(wall, 1), "val": final, "train_poses": len(train),
            "train": {"batch": args.batch, "lr": args.lr, "beta": args.beta, "stride": args.stride, "mirror": True,
                      "joint_weight": JOINT_WEIGHT, "seed": args.seed, "split": "train"}}
    out = save_tensors(args.out, model.state_dict(), meta)
    load_pose_prior(out)  # the file must read back
    report = {**meta, "params": sum(p.numel() for p in model.parameters()), "file_bytes": out.stat().st_size,
              "val_poses": len(val), "command": " ".join(sys.argv),
              "machine": {"platform": platform.platform(), "cpu_threads": 1, "torch": torch.__version__}}
    write_text_atomic(Path(args.results), json.dumps(report, indent=2))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) after {step} steps, {wall:.0f} s: val joint "
          f"{final['joint_mm']:.1f} mm, angle {final['angle_deg']:.2f} deg", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
