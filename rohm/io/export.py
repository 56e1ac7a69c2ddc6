"""Motion -> BVH for animators: the 22-joint skeleton of the motion's own body, in metres, y-up.

Blender's BVH importer (defaults: scale 1, forward -Z, up Y) then shows the body at its
real size, standing on the floor, at the motion's frame rate. Offsets are the rest-pose
bones of the motion's shape; the root carries the world position of the pelvis; rotations
are written as ZXY Euler angles (the usual mocap order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import roma
import torch

from rohm.body import BodyModel, load_body
from rohm.config import DEFAULT_BODY
from rohm.errors import RohmError
from rohm.io.bvh import make_bvh, write_bvh
from rohm.io.motion_file import Motion
from rohm.skeleton import JOINT_NAMES, PARENTS

# End sites (metres, in the parent's rest frame): head top, fingertips, toe tips.
END_SITES = {"head": (0.0, 0.10, 0.0), "left_wrist": (0.08, 0.0, 0.0), "right_wrist": (-0.08, 0.0, 0.0),
             "left_foot": (0.0, 0.0, 0.05), "right_foot": (0.0, 0.0, 0.05)}


def check_exportable(motion: Motion, what: str) -> None:
    """One-line errors for a motion no file format can be written from: it needs complete body
    parameters of the default body (rohm's outputs have them)."""
    if not motion.has_params:
        raise RohmError(f"{what} export needs body parameters (trans, root_orient, pose_body); "
                        "run `rohm reconstruct` on a joints-only file first")
    params = np.concatenate([motion.trans, motion.root_orient, motion.pose_body], axis=1)
    if not np.isfinite(params).all():
        raise RohmError(f"{what} export needs complete body parameters, but some are NaN")
    if motion.body_model != DEFAULT_BODY:
        raise RohmError(f"{what} export supports {DEFAULT_BODY} motions (rohm's outputs), not {motion.body_model!r}")


def export_bvh(motion: Motion, out: str | Path, body: BodyModel | None = None) -> Path:
    """Write `motion` (with body parameters) as a BVH file, atomically."""
    check_exportable(motion, "BVH")
    body = body or load_body()
    betas = body.default_betas if motion.betas is None else torch.as_tensor(motion.betas, dtype=torch.float64)
    with torch.no_grad():
        rest = body.rest_joints(betas[None])[0].numpy()
    parents = list(PARENTS)
    offsets = np.stack([rest[j] - rest[p] if p >= 0 else np.zeros(3) for j, p in enumerate(parents)])
    rotvecs = np.concatenate([motion.root_orient[:, None], motion.pose_body.reshape(-1, 21, 3)], axis=1)
    rotations = roma.rotvec_to_rotmat(torch.as_tensor(rotvecs, dtype=torch.float64)).numpy()
    bvh = make_bvh(JOINT_NAMES, parents, offsets, rotations, motion.trans + rest[0], motion.fps,
                   order="ZXY", end_site_offsets=END_SITES)
    out = Path(out)
    write_bvh(out, bvh)
    return out
