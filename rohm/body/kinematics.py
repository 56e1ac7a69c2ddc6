"""Batched, differentiable forward kinematics of the 22-joint body skeleton.

SMPL-X conventions: `global_orient` rotates the body about its rest pelvis, the
pelvis ends at `rest_joints[0] + transl`, and each joint's local rotation is
applied in its parent's frame. Runs a tree level at a time (8 levels), never a
Python loop over frames.
"""

from __future__ import annotations

import roma
import torch

from rohm.skeleton import PARENTS, tree_levels

_LEVELS = tree_levels(PARENTS)


def forward_kinematics(
    rest_joints: torch.Tensor,
    global_orient: torch.Tensor,
    body_pose: torch.Tensor,
    transl: torch.Tensor | None = None,
    parents: tuple[int, ...] = PARENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose a skeleton.

    Args:
        rest_joints: (..., J, 3) zero-pose joint positions (broadcast over frames).
        global_orient: (..., 3) axis-angle of the root.
        body_pose: (..., J-1, 3) or (..., 3*(J-1)) local axis-angle of the other joints.
        transl: (..., 3) translation added to every joint.
    Returns:
        joints (..., J, 3) world positions and rotations (..., J, 3, 3) world rotation matrices.
    """
    batch = global_orient.shape[:-1]
    body_pose = body_pose.reshape(*batch, len(parents) - 1, 3)
    local = roma.rotvec_to_rotmat(torch.cat([global_orient[..., None, :], body_pose], dim=-2))
    return forward_kinematics_rotmat(rest_joints, local, transl, parents)


def forward_kinematics_rotmat(
    rest_joints: torch.Tensor,
    local: torch.Tensor,
    transl: torch.Tensor | None = None,
    parents: tuple[int, ...] = PARENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like `forward_kinematics`, from local rotation matrices (..., J, 3, 3) (root first);
    used where rotations come as matrices (6D features) so no axis-angle round trip is needed."""
    batch = local.shape[:-3]
    n_joints = len(parents)
    rest = rest_joints.to(local.dtype).expand(*batch, n_joints, 3)
    levels = _LEVELS if parents == PARENTS else tree_levels(parents)
    parent_idx = torch.tensor(parents)
    offsets = rest - rest[..., parent_idx.clamp(min=0), :]
    rot = local.clone()
    pos = rest.clone()
    for level in levels[1:]:
        idx = torch.tensor(level)
        par = parent_idx[idx]
        rot_par = rot[..., par, :, :]
        rot[..., idx, :, :] = rot_par @ local[..., idx, :, :]
        pos[..., idx, :] = pos[..., par, :] + (rot_par @ offsets[..., idx, :, None])[..., 0]
    if transl is not None:
        pos = pos + transl[..., None, :].to(pos.dtype)
    return pos, rot
