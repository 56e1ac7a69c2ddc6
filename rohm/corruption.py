"""Synthetic test inputs as in the paper's AMASS experiments (Sec. 5.3): noisy, occluded motion.

Noise level k adds zero-mean Gaussian noise with std k degrees to the axis-angle
root orientation and body pose and k cm to the translation; joints are then
recomputed by forward kinematics, so the pose noise accumulates along the
kinematic tree. Occlusions mask the lower body in every frame ("lower", Occ-L.)
or the whole body over one contiguous 10% run of frames ("frames-10", Occ-10%).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rohm.body import BodyModel, load_body
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.occlusions import OCCLUSIONS
from rohm.skeleton import LOWER_BODY, NUM_JOINTS

FRAMES_FRACTION = 0.10  # share of frames masked by "frames-10"


def occlusion_mask(num_frames: int, occlusion: str, rng: np.random.Generator) -> np.ndarray:
    """(N, 22) bool, True = observed, for one of OCCLUSIONS."""
    mask = np.ones((num_frames, NUM_JOINTS), dtype=bool)
    if occlusion == "lower":
        mask[:, LOWER_BODY] = False
    elif occlusion == "frames-10":
        # Round half up so the run length grows monotonically with the clip length.
        length = max(1, math.floor(FRAMES_FRACTION * num_frames + 0.5))
        start = int(rng.integers(0, num_frames - length + 1))
        mask[start:start + length] = False
    return mask


def _check(motion: Motion, noise: float, occlusion: str, seed: int) -> None:
    if occlusion not in OCCLUSIONS:
        raise RohmError(f"unknown occlusion '{occlusion}' (expected one of {', '.join(OCCLUSIONS)})")
    if not np.isfinite(noise) or noise < 0:
        raise RohmError(f"noise level must be a non-negative number, got {noise}")
    if seed < 0:
        raise RohmError(f"seed must be a non-negative integer, got {seed}")
    if not motion.has_params:
        raise RohmError("motion has no body parameters (trans, root_orient, pose_body) to corrupt")
    if occlusion == "frames-10" and motion.num_frames < 2:
        raise RohmError(f"occlusion 'frames-10' needs at least 2 frames, the motion has {motion.num_frames}")


def corrupt_motion(motion: Motion, noise: float, occlusion: str, seed: int, body: BodyModel | None = None) -> Motion:
    """A noisy, occluded copy of `motion` (the input is left untouched).

    The output carries noisy parameters and joints, NaN where masked, and
    `joint_mask` (N, 22) True = observed (combined with the input's own mask).
    Contacts are dropped: they are a ground-truth label. 2D keypoints are
    dropped too: clean evidence of masked joints would defeat the occlusion.
    `extras` records corrupt_noise / corrupt_occlusion / corrupt_seed.
    """
    _check(motion, noise, occlusion, seed)
    if body is None:
        body = load_body(motion.body_model)
    n = motion.num_frames
    rng = np.random.default_rng(seed)
    mask = occlusion_mask(n, occlusion, rng)
    rot_std = np.deg2rad(noise)
    root_orient = motion.root_orient + rng.normal(0.0, rot_std, size=(n, 3))
    pose_body = motion.pose_body + rng.normal(0.0, rot_std, size=(n, 3 * (NUM_JOINTS - 1)))
    trans = motion.trans + rng.normal(0.0, 0.01 * noise, size=(n, 3))

    if motion.betas is None:
        betas = body.default_betas.numpy()
    else:
        betas = np.array(motion.betas[: body.num_betas], dtype=np.float64)
    with torch.no_grad():
        joints = body(torch.as_tensor(betas), torch.as_tensor(root_orient),
                      torch.as_tensor(pose_body), torch.as_tensor(trans)).joints.numpy()

    if motion.joint_mask is not None:
        mask &= motion.joint_mask.astype(bool)
    joints[~mask] = np.nan
    # Rotations follow their joints: pose_body block j-1 is joint j (joint 0 is the root).
    pose_body.reshape(n, NUM_JOINTS - 1, 3)[~mask[:, 1:]] = np.nan
    root_orient[~mask[:, 0]] = np.nan
    trans[~mask[:, 0]] = np.nan

    extras = dict(motion.extras)
    extras.update(corrupt_noise=np.float64(noise), corrupt_occlusion=np.str_(occlusion),
                  corrupt_seed=np.int64(seed))
    return Motion(
        joints=joints, fps=motion.fps, trans=trans, root_orient=root_orient, pose_body=pose_body,
        betas=betas, body_model=motion.body_model, joint_mask=mask,
        intrinsics=None if motion.intrinsics is None else motion.intrinsics.copy(),
        extrinsics=None if motion.extrinsics is None else motion.extrinsics.copy(), extras=extras,
    )
