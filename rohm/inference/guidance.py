"""Test-time score guidance for PoseNet sampling (paper Eq. 12-14).

Two objectives on PoseNet's x0 prediction, with the trajectory fixed:
- J_skate = sum over frames and foot joints of f * |foot velocity|^2, where f are the
  foot contacts PoseNet itself predicts (thresholded at 0.5, no gradient through them);
- J_2D = sum of c * |Pi_K(J_3D) - J_det|^2 over joints with 2D evidence, c the detector
  confidence (0 below 0.2). Residuals are measured in focal-length units (pixels / f) so
  one weight serves every image size. Pi_K projects through each frame's own camera
  (world -> camera extrinsics: one (4, 4) for the clip or one per frame, `frame_extrinsics`).
Joints come from the decoded rotations by forward kinematics, as in the paper, so the
gradient reaches the pose parameters that make the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rohm.errors import RohmError
from rohm.representation import Normalizer, joints_from_features
from rohm.representation.canonical import CanonicalFrame
from rohm.skeleton import FOOT_JOINTS

CONFIDENCE_THRESHOLD = 0.2
# The world is the OpenGL-style camera frame (y up, looking down -z) unless extrinsics say otherwise.
DEFAULT_EXTRINSICS = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class Keypoints2D:
    """2D evidence for a batch of windows: pixels (B, L, 22, 2), confidence (B, L, 22),
    intrinsics (3, 3), and each frame's canonical -> camera map: rotation (B, L, 3, 3), offset (B, L, 3)."""

    points: torch.Tensor
    confidence: torch.Tensor
    intrinsics: torch.Tensor
    rotation: torch.Tensor
    offset: torch.Tensor

    def objective(self, joints: torch.Tensor) -> torch.Tensor:
        """J_2D (unweighted): the sum of confidence x squared reprojection error, in focal-length
        units, of canonical joints (B, L, 22, 3), each frame seen by its own camera."""
        cam = joints @ self.rotation.transpose(-1, -2).to(joints) + self.offset[:, :, None].to(joints)
        pixels = project(cam, self.intrinsics.to(joints))
        residual = ((pixels - self.points.to(joints)) / self.intrinsics[0, 0].to(joints)).pow(2).sum(-1)
        conf = torch.where(self.confidence >= CONFIDENCE_THRESHOLD, self.confidence, 0.0).to(joints)
        return (conf * residual).sum()


def frame_extrinsics(extrinsics: np.ndarray | None, num_frames: int) -> np.ndarray:
    """World -> camera extrinsics of every frame (num_frames, 4, 4), from one camera for the clip
    (4, 4) or one per frame (num_frames, 4, 4); None: DEFAULT_EXTRINSICS. Other shapes: RohmError."""
    ext = np.asarray(DEFAULT_EXTRINSICS if extrinsics is None else extrinsics, dtype=np.float64)
    if ext.shape not in ((4, 4), (num_frames, 4, 4)):
        raise RohmError(f"extrinsics has shape {ext.shape}; expected (4, 4) for one camera or "
                        f"({num_frames}, 4, 4), one per frame of the {num_frames}-frame motion")
    return np.broadcast_to(ext, (num_frames, 4, 4))


def camera_maps(frames: list[CanonicalFrame], extrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (B, L, 3, 3) and offset (B, L, 3) taking each window's canonical points to the
    camera of each of its frames (OpenCV axes), given the world -> camera extrinsics of the
    windows' frames (B, L, 4, 4)."""
    inverse = [frame.inverse() for frame in frames]  # canonical -> world, one per window
    canon_rot = np.stack([f.rotation for f in inverse])[:, None]  # (B, 1, 3, 3)
    canon_off = np.stack([np.asarray(f.offset) for f in inverse])[:, None, :, None]  # (B, 1, 3, 1)
    rc, tc = extrinsics[..., :3, :3], extrinsics[..., :3, 3]
    return rc @ canon_rot, (rc @ canon_off)[..., 0] + tc


def project(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of camera points (..., 3) to pixels (..., 2); depth clamped to >= 1 cm."""
    z = points[..., 2:].clamp(min=0.01)
    return (points[..., :2] / z) @ intrinsics[:2, :2].T + intrinsics[:2, 2]


class PoseGuidance:
    """J = w_skate * J_skate + w_2d * J_2D on normalised PoseNet predictions, for one batch of windows."""

    def __init__(self, normalizer: Normalizer, traj: torch.Tensor, rest: torch.Tensor, skate_weight: float,
                 keypoints: Keypoints2D | None = None, reproj_weight: float = 0.0) -> None:
        layout = normalizer.layout
        self.normalizer, self.layout = normalizer, layout
        self.traj, self.rest = traj.detach(), rest
        self.skate_weight, self.reproj_weight = skate_weight, reproj_weight
        self.keypoints = keypoints
        local = layout.local.start
        self.contacts = slice(layout.contacts.start - local, layout.contacts.stop - local)
        self.contact_mean = torch.as_tensor(normalizer.mean[layout.contacts], dtype=torch.float32)
        self.contact_std = torch.as_tensor(normalizer.std[layout.contacts], dtype=torch.float32)

    def joints(self, pose: torch.Tensor) -> torch.Tensor:
        """Canonical joints (B, L, 22, 3) of the fixed trajectory and a normalised pose prediction."""
        full = pose.new_zeros(*pose.shape[:2], self.layout.dim)
        full[..., list(self.layout.traj_abs)] = self.traj.to(pose.dtype)
        full[..., self.layout.local] = pose
        rest = self.rest.to(pose.dtype).expand(pose.shape[0], *self.rest.shape[-2:])
        return joints_from_features(full, self.normalizer, rest)

    def objective(self, pose: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The weighted objective, summed over the batch (each window's gradient is its own)."""
        joints = self.joints(pose)
        total = pose.new_zeros(())
        if self.skate_weight > 0:
            contact = pose[..., self.contacts].detach() * self.contact_std.to(pose) + self.contact_mean.to(pose) > 0.5
            feet = joints[..., list(FOOT_JOINTS), :]
            speed2 = (feet[:, 1:] - feet[:, :-1]).pow(2).sum(-1)  # (B, L-1, 4)
            total = total + self.skate_weight * (contact[:, 1:].to(pose.dtype) * speed2).sum()
        if self.keypoints is not None and self.reproj_weight > 0:
            total = total + self.reproj_weight * self.keypoints.objective(joints)
        return total
