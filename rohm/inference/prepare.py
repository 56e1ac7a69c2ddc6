"""Turning a user's motion (any contract layout) into complete body parameters plus an observation mask.

The networks read features of a posed body, so every input needs body parameters for
every frame; what is missing is then hidden by the mask, never trusted:
- files with parameters of the pipeline's body: NaN rotations become identity, NaN
  root/translation frames are filled from the nearest observed frame;
- joints-only files (or another body's parameters): the shape is fitted to fully observed
  frames (so bone lengths match), or, where no frame shows the whole body, to the median
  lengths of the bones that are seen (`rohm.body.shape`); missing joints are filled by
  `fill_joints`, then everything is retargeted to the body by inverse kinematics.

`fill_motion` is the one input fill that every table's "input" row, the classical baseline and
rohm's evidence smoothing share: linear interpolation in time (nearest frame at the ends);
joints never observed placed by the rest pose relative to their parent, turned with the torso.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from rohm.body import BodyModel, load_body
from rohm.body.ik import fit_shape, retarget, two_axis_rotation
from rohm.body.shape import fit_bone_lengths, observed_bone_lengths
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import NUM_JOINTS, PARENTS

SHAPE_FRAMES = 8  # fully observed frames used to fit the body shape of a joints-only input
SHAPE_STEPS = 20  # with SHAPE_LR: ~6 mm retargeting error vs ~21 mm for the average body, 0.5 s
SHAPE_LR = 0.15


@dataclass
class Prepared:
    """Complete body parameters and joints (N frames) and the (N, 22) observation mask."""

    root_orient: np.ndarray
    pose_body: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    observed: np.ndarray
    shape_source: str  # "input" (the given betas, or `Motion.shape_source` if set), "fitted" (to its joints) or "default"


def fill_in_time(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames (axis 0) of rows where `known` (N,) is False; nearest at the ends."""
    if known.all() or not known.any():
        return values.copy()
    frames = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(frames, frames[known], flat[known, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def torso_rotation(joints: np.ndarray, observed: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(N, 3, 3) world rotation of the torso per frame: the rest pelvis -> spine1 direction turned
    onto the observed one, the left-right axis onto the hips, else shoulders, else collars;
    heading only when the spine is unseen; identity with no left-right pair at all.
    Never-seen joints follow it (`joints` are already filled in time where ever seen)."""
    seen = observed.any(axis=0)
    pair = next(((a, b) for a, b in ((1, 2), (16, 17), (13, 14)) if seen[a] and seen[b]), None)
    if pair is None:
        return np.tile(np.eye(3), (len(joints), 1, 1))
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    across_rest, across = t(rest[pair[0]] - rest[pair[1]]), t(joints[:, pair[0]] - joints[:, pair[1]])
    if seen[3] and seen[0]:
        up_rest, up = t(rest[3] - rest[0]), t(joints[:, 3] - joints[:, 0])
    else:
        up_rest, up = t([0.0, 1.0, 0.0]), t([0.0, 1.0, 0.0]).expand_as(across)
    return two_axis_rotation(up_rest, across_rest, up, across).numpy()


def fill_joints(joints: np.ndarray, observed: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Complete joints (N, 22, 3): interpolate each joint in time; never-observed joints follow the
    rest pose relative to their parent, turned with the torso."""
    out = joints.copy()
    for j in range(NUM_JOINTS):
        if observed[:, j].any():
            out[:, j] = fill_in_time(joints[:, j], observed[:, j])
    turn = torso_rotation(out, observed, rest)
    for j in range(NUM_JOINTS):  # parents first: PARENTS[j] < j
        if not observed[:, j].any():
            p = PARENTS[j]
            out[:, j] = out[:, p] + turn @ (rest[j] - rest[p]) if p >= 0 else 0.0
    return out


def fit_body_shape(joints: np.ndarray, observed: np.ndarray, body: BodyModel) -> tuple[np.ndarray, str]:
    """(betas, source): fitted to up to SHAPE_FRAMES fully observed frames, else to the lengths of
    the bones that are observed ("fitted"); the body's default shape without any bone."""
    full = np.flatnonzero(observed.all(axis=1))
    if full.size:
        pick = full[np.linspace(0, full.size - 1, min(SHAPE_FRAMES, full.size)).round().astype(int)]
        betas, _ = fit_shape(body, torch.as_tensor(joints[pick], dtype=torch.float64), steps=SHAPE_STEPS, lr=SHAPE_LR)
        return betas.numpy(), "fitted"
    lengths = observed_bone_lengths(joints, observed)
    if np.isnan(lengths).all():
        return body.default_betas.numpy(), "default"
    return fit_bone_lengths(body, lengths), "fitted"


@functools.lru_cache(maxsize=64)
def _rest_joints(name: str, betas: tuple[float, ...]) -> np.ndarray:
    """(22, 3) rest joints of one body shape (cached: clips share few shapes)."""
    with torch.no_grad():
        return load_body(name).rest_joints(torch.tensor([betas], dtype=torch.float64))[0].numpy()


def rest_pose(motion: Motion) -> np.ndarray:
    """(22, 3) rest joints for placing never-observed joints: the input's own shape when it carries
    one of the default body, else the default body's average shape."""
    body = load_body()
    default = body.default_betas.numpy()
    betas = default
    if motion.body_model == body.name and motion.betas is not None and np.size(motion.betas) == default.size:
        betas = np.asarray(motion.betas, dtype=np.float64).reshape(-1)
        betas = np.where(np.isnan(betas), default, betas)
    return _rest_joints(body.name, tuple(float(b) for b in betas))


def fill_motion(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Complete joints (N, 22, 3), filled as the module docstring says, and the (N, 22) observed mask."""
    observed = motion.observed()
    joints = np.where(observed[..., None], motion.joints, np.nan)
    return fill_joints(joints, observed, rest_pose(motion)), observed


def filled_input(motion: Motion) -> Motion:
    """The input scored as a prediction (the tables' "input" row): `fill_motion`'s joints, no smoothing."""
    return Motion(joints=fill_motion(motion)[0], fps=motion.fps)


def prepare(motion: Motion, body: BodyModel) -> Prepared:
    """Complete body parameters for every frame plus the mask of what was really observed."""
    observed = motion.observed()
    if not observed[:, 0].any():
        raise RohmError("the pelvis is never observed: the motion cannot be placed in the world")
    if motion.has_params and motion.body_model == body.name:
        default = body.default_betas.numpy()
        betas = default if motion.betas is None else np.where(np.isnan(motion.betas), default, motion.betas)
        source = "default" if motion.betas is None else motion.shape_source or "input"
        root_known = ~np.isnan(motion.root_orient).any(-1) & ~np.isnan(motion.trans).any(-1)
        if not root_known.any():
            raise RohmError("root_orient/trans are missing in every frame")
        root_orient = fill_in_time(motion.root_orient, root_known)
        trans = fill_in_time(motion.trans, root_known)
        pose_body = np.nan_to_num(motion.pose_body, nan=0.0)
        with torch.no_grad():
            joints = body(torch.as_tensor(betas), torch.as_tensor(root_orient), torch.as_tensor(pose_body),
                          torch.as_tensor(trans)).joints.numpy()
        return Prepared(root_orient, pose_body, trans, betas, joints, observed, source)
    if motion.betas is not None and motion.body_model == body.name and np.size(motion.betas) == body.num_betas \
            and np.isfinite(motion.betas).all():
        betas = np.asarray(motion.betas, dtype=np.float64).reshape(-1)  # a shape the caller knows
        source = motion.shape_source or "input"
    else:
        betas, source = fit_body_shape(motion.joints, observed, body)
    with torch.no_grad():
        rest = body.rest_joints(torch.as_tensor(betas)[None])[0]
        filled = fill_joints(np.where(observed[..., None], motion.joints, np.nan), observed, rest.numpy())
        res = retarget(rest, torch.as_tensor(filled))
    return Prepared(res.root_orient.numpy(), res.pose_body.numpy(), res.trans.numpy(), betas,
                    res.joints.numpy(), observed, source)
