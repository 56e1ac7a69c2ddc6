"""Windows <-> network features: each window in its own canonical frame, and back to the world.

`encode` turns the prepared motion's windows into normalised, masked condition features (the
networks' input); `keypoints` gathers the windows' 2D evidence with cameras expressed in each
window's canonical frame (for reprojection guidance); `to_world` decodes denoised features
into world-frame root/joint rotations, translation and contacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rohm.inference.guidance import Keypoints2D, camera_maps, frame_extrinsics
from rohm.inference.prepare import Prepared
from rohm.io.motion_file import Motion
from rohm.representation import Normalizer, canonical_frame, encode, feature_mask
from rohm.representation.canonical import CanonicalFrame, apply_frames
from rohm.representation.features import decode


@dataclass
class WindowBatch:
    """Condition features of B windows of L frames: cond (B, L, D), joint_mask (B, L, 22), each
    window's canonical frame and its frame indices idx (B, L) into the motion."""

    cond: torch.Tensor
    joint_mask: torch.Tensor
    frames: list[CanonicalFrame]
    idx: np.ndarray


class WindowCodec:
    """Encodes windows for the networks and decodes their output (see the module docstring)."""

    def __init__(self, normalizer: Normalizer, device: torch.device) -> None:
        self.normalizer, self.layout, self.device = normalizer, normalizer.layout, device

    def encode(self, prep: Prepared, rest: torch.Tensor, starts: list[int], length: int) -> WindowBatch:
        """Windows starting at `starts` (`length` frames) of a prepared motion; rest (22, 3) joints of its shape."""
        idx = np.asarray(starts)[:, None] + np.arange(length)
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        joints, observed = prep.joints[idx], prep.observed[idx]
        # A window whose pelvis is never seen (a long full occlusion) is placed by the filled-in joints.
        frames = [canonical_frame(np.where(observed[b][..., None], joints[b], np.nan), observed[b],
                                  prep.root_orient[idx[b]], floor_height=0.0) if observed[b][:, 0].any()
                  else canonical_frame(joints[b], None, prep.root_orient[idx[b]], floor_height=0.0)
                  for b in range(len(starts))]
        pelvis = rest[0].expand(len(starts), 3)
        c_joints, c_orient, c_trans = apply_frames(t(joints), t(prep.root_orient[idx]), t(prep.trans[idx]), pelvis, frames)
        betas = t(prep.betas).expand(len(starts), -1)
        feats = encode(c_joints, c_orient, c_trans, t(prep.pose_body[idx]), betas,
                       torch.zeros(*idx.shape, 4, dtype=torch.float64), self.layout)
        mask = torch.as_tensor(observed)
        norm = self.normalizer.normalize(feats)
        cond = torch.where(feature_mask(mask, self.layout), norm, torch.zeros_like(norm)).float().to(self.device)
        return WindowBatch(cond, mask.float().to(self.device), frames, idx)

    def keypoints(self, motion: Motion, idx: np.ndarray, frames: list[CanonicalFrame]) -> Keypoints2D | None:
        """The 2D evidence of windows idx (B, L) in their canonical frames, or None without keypoints and intrinsics."""
        if motion.keypoints_2d is None or motion.intrinsics is None:
            return None
        points = np.asarray(motion.keypoints_2d, dtype=np.float64)[idx]
        conf = np.ones(points.shape[:-1]) if motion.keypoints_2d_conf is None else np.asarray(motion.keypoints_2d_conf)[idx]
        missing = np.isnan(points).any(-1) | np.isnan(conf)
        extrinsics = frame_extrinsics(motion.extrinsics, motion.num_frames)[idx]  # (B, L, 4, 4)
        rot, off = camera_maps(frames, extrinsics)
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        return Keypoints2D(f32(np.where(missing[..., None], 0.0, points)), f32(np.where(missing, 0.0, conf)),
                           f32(motion.intrinsics), f32(rot), f32(off))

    def to_world(self, traj: torch.Tensor, pose: torch.Tensor, frames: list[CanonicalFrame],
                 pelvis: torch.Tensor) -> dict[str, torch.Tensor]:
        """Denoised (B, L, 13) trajectory and (B, L, Dp) pose -> world "rotations" (B, L, 22, 3, 3),
        root first, "trans" (B, L, 3) and "contacts" (B, L, 4); pelvis (3,) rest pelvis of the shape."""
        full = torch.zeros(*traj.shape[:2], self.layout.dim, dtype=torch.float64)
        full[..., list(self.layout.traj_abs)] = traj.double().cpu()
        full[..., self.layout.local] = pose.double().cpu()
        d = decode(self.normalizer.denormalize(full), self.layout)
        inverse = [f.inverse() for f in frames]
        rot = torch.stack([torch.as_tensor(f.rotation) for f in inverse])  # (B, 3, 3)
        off = torch.stack([torch.as_tensor(f.offset) for f in inverse])
        root = rot[:, None] @ d["root_rotmat"]
        trans = (d["trans"] + pelvis) @ rot.transpose(-1, -2) + off[:, None] - pelvis
        rotations = torch.cat([root[..., None, :, :], d["pose_rotmat"]], dim=-3)
        return {"rotations": rotations, "trans": trans, "contacts": d["contacts"]}
