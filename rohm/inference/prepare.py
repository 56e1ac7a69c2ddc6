"""Turning a user's motion (any contract layout) into complete body parameters plus an observation mask.

The networks read features of a posed body, so every input needs body parameters for
every frame; what is missing is then hidden by the mask, never trusted:
- files with anny parameters: NaN rotations become identity, NaN root/translation frames
  are filled from the nearest observed frame;
- joints-only (or SMPL-X) files: missing joints are filled by linear interpolation in
  time (nearest frame at the ends; joints never observed are placed by the rest pose
  relative to their parent), then retargeted to anny by inverse kinematics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rohm.body import BodyModel
from rohm.data.retarget import retarget
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import NUM_JOINTS, PARENTS

DEFAULT_BETAS = np.full(6, 0.5)


@dataclass
class Prepared:
    """Complete anny parameters and joints (N frames) and the (N, 22) observation mask."""

    root_orient: np.ndarray
    pose_body: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    observed: np.ndarray


def fill_in_time(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames (axis 0) of rows where `known` (N,) is False; nearest at the ends."""
    if known.all() or not known.any():
        return values.copy()
    frames = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(frames, frames[known], flat[known, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def fill_joints(joints: np.ndarray, observed: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Complete joints (N, 22, 3): interpolate each joint in time; never-observed joints follow the rest pose."""
    out = joints.copy()
    for j in range(NUM_JOINTS):
        if observed[:, j].any():
            out[:, j] = fill_in_time(joints[:, j], observed[:, j])
    for j in range(NUM_JOINTS):  # parents first: PARENTS[j] < j
        if not observed[:, j].any():
            p = PARENTS[j]
            out[:, j] = out[:, p] + (rest[j] - rest[p]) if p >= 0 else 0.0
    return out


def prepare(motion: Motion, body: BodyModel) -> Prepared:
    """Complete anny parameters for every frame plus the mask of what was really observed."""
    observed = motion.observed()
    if not observed[:, 0].any():
        raise RohmError("the pelvis is never observed: the motion cannot be placed in the world")
    if motion.has_params and motion.body_model == "anny":
        betas = DEFAULT_BETAS if motion.betas is None else np.nan_to_num(np.asarray(motion.betas, dtype=np.float64), nan=0.5)
        root_known = ~np.isnan(motion.root_orient).any(-1) & ~np.isnan(motion.trans).any(-1)
        if not root_known.any():
            raise RohmError("root_orient/trans are missing in every frame")
        root_orient = fill_in_time(motion.root_orient, root_known)
        trans = fill_in_time(motion.trans, root_known)
        pose_body = np.nan_to_num(motion.pose_body, nan=0.0)
        with torch.no_grad():
            joints = body(torch.as_tensor(betas), torch.as_tensor(root_orient), torch.as_tensor(pose_body),
                          torch.as_tensor(trans)).joints.numpy()
        return Prepared(root_orient, pose_body, trans, betas, joints, observed)
    betas = DEFAULT_BETAS
    with torch.no_grad():
        rest = body.rest_joints(torch.as_tensor(betas)[None])[0]
        filled = fill_joints(np.where(observed[..., None], motion.joints, np.nan), observed, rest.numpy())
        res = retarget(rest, torch.as_tensor(filled))
    return Prepared(res.root_orient.numpy(), res.pose_body.numpy(), res.trans.numpy(), betas,
                    res.joints.numpy(), observed)
