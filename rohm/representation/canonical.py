"""Per-clip canonical frame: first pelvis at the origin on the floor, facing +z.

Every clip is turned about +y and shifted so that training and test motions share
one frame: the first frame where the pelvis is observed sits at x = z = 0, the
floor at y = 0, and the body faces +z. The transform is kept (`CanonicalFrame`)
so results can be mapped back exactly to the user's world.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import roma
import torch

from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

_HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])
_SHOULDERS = (JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"])


def yaw_matrix(yaw: float) -> np.ndarray:
    """(3, 3) rotation by `yaw` radians about +y (turns +z towards +x)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def heading_of(direction: np.ndarray) -> float:
    """Yaw angle of a facing direction (angle from +z towards +x on the floor)."""
    return float(np.arctan2(direction[0], direction[2]))


def _like(value: np.ndarray, ref: ArrayT) -> ArrayT:
    """`value` as the same array type, dtype and device as `ref`."""
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    return value.astype(ref.dtype if np.issubdtype(ref.dtype, np.floating) else np.float64)


@dataclass
class CanonicalFrame:
    """The rigid map world -> canonical: x' = Ry(yaw) x + offset."""

    yaw: float
    offset: np.ndarray  # (3,)

    @property
    def rotation(self) -> np.ndarray:
        return yaw_matrix(self.yaw)

    def apply_points(self, x: ArrayT) -> ArrayT:
        """Map points (..., 3), numpy or torch, into the canonical frame (NaN stays NaN)."""
        return x @ _like(self.rotation.T, x) + _like(np.asarray(self.offset, dtype=np.float64), x)

    def apply_params(
        self, root_orient: ArrayT | None, trans: ArrayT | None, rest_pelvis: np.ndarray
    ) -> tuple[ArrayT | None, ArrayT | None]:
        """Map SMPL-X root_orient (..., 3) and trans (..., 3) so the posed body lands where
        `apply_points` puts its joints: the root turns about the rest pelvis, not the origin."""
        new_orient = None
        if root_orient is not None:
            orient = torch.as_tensor(root_orient)
            rot = torch.as_tensor(self.rotation, dtype=orient.dtype, device=orient.device)
            turned = roma.rotmat_to_rotvec(rot @ roma.rotvec_to_rotmat(orient))
            new_orient = turned if isinstance(root_orient, torch.Tensor) else turned.numpy()
        new_trans = None
        if trans is not None:
            pelvis = _like(np.asarray(rest_pelvis, dtype=np.float64), trans)
            new_trans = self.apply_points(trans + pelvis) - pelvis
        return new_orient, new_trans

    def inverse(self) -> CanonicalFrame:
        """The map canonical -> world."""
        return CanonicalFrame(-self.yaw, -(yaw_matrix(-self.yaw) @ np.asarray(self.offset, dtype=np.float64)))


def _first_observed(points: np.ndarray, mask: np.ndarray) -> int | None:
    ok = np.flatnonzero(mask & ~np.isnan(points).any(axis=-1))
    return int(ok[0]) if ok.size else None


def canonical_frame(
    joints: np.ndarray,
    joint_mask: np.ndarray | None = None,
    root_orient: np.ndarray | None = None,
    floor_height: float | None = None,
) -> CanonicalFrame:
    """The canonical frame of a clip of joints (N, 22, 3), NaN or masked where missing.

    Facing = (left - right hip) x up in the first frame with an observed pelvis;
    shoulders if the hips are missing there, else the root orientation's +z axis,
    else no turn. Floor = `floor_height`, or the lowest observed foot joint, or 0.
    """
    joints = np.asarray(joints, dtype=np.float64)
    observed = ~np.isnan(joints).any(axis=-1)
    if joint_mask is not None:
        observed &= np.asarray(joint_mask, dtype=bool)
    ref = _first_observed(joints[:, 0], observed[:, 0])
    if ref is None:
        raise RohmError("cannot canonicalise: the pelvis is not observed in any frame")
    up = np.array([0.0, 1.0, 0.0])
    yaw = 0.0
    for left, right in (_HIPS, _SHOULDERS):
        if observed[ref, left] and observed[ref, right]:
            facing = np.cross(joints[ref, left] - joints[ref, right], up)
            yaw = -heading_of(facing)
            break
    else:
        if root_orient is not None and not np.isnan(root_orient[ref]).any():
            z_axis = roma.rotvec_to_rotmat(torch.as_tensor(root_orient[ref], dtype=torch.float64))[:, 2].numpy()
            yaw = -heading_of(z_axis)
    if floor_height is None:
        feet = joints[:, FOOT_JOINTS, 1][observed[:, FOOT_JOINTS]]
        floor_height = float(feet.min()) if feet.size else 0.0
    pelvis = yaw_matrix(yaw) @ joints[ref, 0]
    return CanonicalFrame(yaw, np.array([-pelvis[0], -floor_height, -pelvis[2]]))


def canonicalize(
    motion: Motion, rest_pelvis: np.ndarray, floor_height: float | None = None
) -> tuple[Motion, CanonicalFrame]:
    """A copy of `motion` in its canonical frame, and the frame (NaN stays NaN).

    `rest_pelvis` is the body's zero-pose pelvis for the motion's betas (needed to
    move SMPL-X parameters correctly)."""
    frame = canonical_frame(motion.joints, motion.joint_mask, motion.root_orient, floor_height)
    root_orient, trans = frame.apply_params(motion.root_orient, motion.trans, rest_pelvis)
    out = dataclasses.replace(copy.deepcopy(motion), root_orient=root_orient, trans=trans,
                              joints=frame.apply_points(np.asarray(motion.joints, dtype=np.float64)))
    return out, frame


def apply_frames(joints: torch.Tensor, root_orient: torch.Tensor, trans: torch.Tensor, rest_pelvis: torch.Tensor,
                 frames: list[CanonicalFrame]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One frame per sequence of a batch: joints (B, N, 22, 3), root_orient and trans (B, N, 3),
    rest_pelvis (B, 3) -> the same in each sequence's frame (torch, batched)."""
    rot = torch.stack([torch.as_tensor(f.rotation) for f in frames]).to(joints.dtype)  # (B, 3, 3)
    off = torch.stack([torch.as_tensor(f.offset) for f in frames]).to(joints.dtype)  # (B, 3)
    joints = joints @ rot[:, None].transpose(-1, -2) + off[:, None, None]
    orient = roma.rotmat_to_rotvec(rot[:, None] @ roma.rotvec_to_rotmat(root_orient))
    pelvis = rest_pelvis[:, None]
    trans = (trans + pelvis) @ rot.transpose(-1, -2) + off[:, None] - pelvis
    return joints, orient, trans
