"""Body shape: fitting it to observed bone lengths, and re-posing a motion on another shape.

The fit is used where no frame shows the whole body (a lower body hidden in every frame, a video whose
feet leave the picture): the shape whose rest-pose bones best match the median observed bone
lengths. Bones never seen do not pull; the shape stays inside the body's bounds.
"""

from __future__ import annotations

import numpy as np
import torch

from rohm.body.base import BodyModel
from rohm.body.kinematics import forward_kinematics
from rohm.skeleton import ANKLE_JOINTS, FOOT_JOINTS, NUM_JOINTS, PARENTS

_BONES = [(j, PARENTS[j]) for j in range(1, NUM_JOINTS)]


def observed_bone_lengths(joints: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(N, 22, 3) joints, (N, 22) bool -> (21,) median length of each bone (child j, parent) over
    the frames that observe both ends; NaN for a bone never seen whole."""
    lengths = np.full(len(_BONES), np.nan)
    for b, (child, parent) in enumerate(_BONES):
        both = observed[:, child] & observed[:, parent]
        if both.any():
            lengths[b] = np.median(np.linalg.norm(joints[both, child] - joints[both, parent], axis=-1))
    return lengths


def fit_bone_lengths(body: BodyModel, lengths: np.ndarray, steps: int = 60, lr: float = 0.1) -> np.ndarray:
    """(21,) target bone lengths (NaN = unknown) -> (num_betas,) shape within body.shape_bounds
    minimising the squared relative bone-length error; the default shape without any bone."""
    known = torch.as_tensor(~np.isnan(lengths))
    start = body.default_betas
    if not bool(known.any()):
        return start.numpy()
    target = torch.as_tensor(np.nan_to_num(lengths, nan=1.0), dtype=torch.float64)
    low, high = body.shape_bounds
    span = high - low
    raw = torch.logit(((start - low) / span).clamp(0.02, 0.98)).requires_grad_(True)
    child = torch.tensor([c for c, _ in _BONES])
    parent = torch.tensor([p for _, p in _BONES])
    opt = torch.optim.Adam([raw], lr=lr)
    for _ in range(steps):
        rest = body.rest_joints((low + span * torch.sigmoid(raw))[None])[0].to(torch.float64)
        model = (rest[child] - rest[parent]).norm(dim=-1)
        loss = torch.square((model - target) / target)[known].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (low + span * torch.sigmoid(raw)).detach().numpy()


def leg_length(rest: torch.Tensor) -> torch.Tensor:
    """(..., 22, 3) rest joints -> (...) pelvis-to-ankle height of the standing body."""
    return rest[..., 0, 1] - rest[..., list(ANKLE_JOINTS), 1].mean(dim=-1)


def repose(body: BodyModel, betas: torch.Tensor, new_betas: torch.Tensor, root_orient: torch.Tensor,
           pose_body: torch.Tensor, trans: torch.Tensor, valid: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The same motion on another body: translation scaled by the leg-length ratio (a planted foot
    stays planted: strides scale with the legs) and shifted so the lowest foot joint over the
    valid frames keeps its height. Shapes: betas/new_betas (B, num_betas); root_orient, trans
    (B, N, 3); pose_body (B, N, 63); valid (B, N) bool or None. Returns (trans, joints (B, N, 22, 3))."""
    with torch.no_grad():
        old_rest = body.rest_joints(betas).to(trans.dtype)
        new_rest = body.rest_joints(new_betas).to(trans.dtype)
    new_trans = trans * (leg_length(new_rest) / leg_length(old_rest))[:, None, None]
    old_joints, _ = forward_kinematics(old_rest[:, None], root_orient, pose_body, trans)
    new_joints, _ = forward_kinematics(new_rest[:, None], root_orient, pose_body, new_trans)
    if valid is None:
        valid = torch.ones(trans.shape[:2], dtype=torch.bool)
    big = torch.finfo(trans.dtype).max

    def lowest(joints: torch.Tensor) -> torch.Tensor:
        return torch.where(valid[..., None], joints[..., list(FOOT_JOINTS), 1], big).amin(dim=(1, 2))
    lift = lowest(old_joints) - lowest(new_joints)  # (B,)
    new_trans[..., 1] += lift[:, None]
    new_joints[..., 1] += lift[:, None, None]
    return new_trans, new_joints
