"""rohm's reconstructor with one camera pose per frame, for 2D guidance under a moving camera.

`rohm.inference.Reconstructor` scores the 2D reprojection against one camera for the whole
clip (`extras['extrinsics']`, (4, 4)). A tracking shot moves the camera by metres, so here
the camera maps are built per frame from `extras['camera_extrinsics']` (N, 4, 4) and the 2D
term of the paper's guidance (Eq. 13, the same residuals, confidences and weight as
`rohm.inference.guidance.PoseGuidance`) is evaluated frame by frame; the skating term is
rohm's own. Everything else (windows, sampling, blending) is the base class's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rohm.diffusion import gradient_guidance
from rohm.diffusion.sampler import GuidanceFn
from rohm.inference import Reconstructor, Settings
from rohm.inference.guidance import CONFIDENCE_THRESHOLD, PoseGuidance, project
from rohm.io.motion_file import Motion
from rohm.representation.canonical import CanonicalFrame


@dataclass
class FrameKeypoints:
    """2D evidence of a batch of windows with a camera per frame: pixels (B, L, 22, 2),
    confidence (B, L, 22), intrinsics (3, 3), canonical -> camera rotation (B, L, 3, 3) and
    offset (B, L, 3)."""

    points: torch.Tensor
    confidence: torch.Tensor
    intrinsics: torch.Tensor
    rotation: torch.Tensor
    offset: torch.Tensor

    def objective(self, joints: torch.Tensor) -> torch.Tensor:
        """Sum of confidence x squared reprojection error (focal-length units) of canonical
        joints (B, L, 22, 3)."""
        cam = torch.einsum("blij,blkj->blki", self.rotation.to(joints), joints) + self.offset[:, :, None].to(joints)
        pixels = project(cam, self.intrinsics.to(joints))
        residual = ((pixels - self.points.to(joints)) / self.intrinsics[0, 0].to(joints)).pow(2).sum(-1)
        conf = torch.where(self.confidence >= CONFIDENCE_THRESHOLD, self.confidence, 0.0).to(joints)
        return (conf * residual).sum()


class MovingCameraReconstructor(Reconstructor):
    """A Reconstructor whose 2D guidance takes the camera of each frame (extras['camera_extrinsics'])."""

    def _keypoints(self, motion: Motion, idx: np.ndarray, frames: list[CanonicalFrame]) -> FrameKeypoints | None:
        cameras = motion.extras.get("camera_extrinsics")
        if motion.keypoints_2d is None or motion.intrinsics is None or cameras is None:
            return None
        points = np.asarray(motion.keypoints_2d, dtype=np.float64)[idx]
        conf = np.ones(points.shape[:-1]) if motion.keypoints_2d_conf is None else np.asarray(motion.keypoints_2d_conf)[idx]
        missing = np.isnan(points).any(-1) | np.isnan(conf)
        ext = np.asarray(cameras, dtype=np.float64)[idx]  # (B, L, 4, 4) world -> camera
        inverse = [frame.inverse() for frame in frames]  # canonical -> world, per window
        canon_rot = np.stack([f.rotation for f in inverse])[:, None]  # (B, 1, 3, 3)
        canon_off = np.stack([np.asarray(f.offset) for f in inverse])[:, None, :, None]  # (B, 1, 3, 1)
        rotation = ext[..., :3, :3] @ canon_rot
        offset = (ext[..., :3, :3] @ canon_off)[..., 0] + ext[..., :3, 3]
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        return FrameKeypoints(f32(np.where(missing[..., None], 0.0, points)), f32(np.where(missing, 0.0, conf)),
                              f32(motion.intrinsics), f32(rotation), f32(offset))

    def _guidance(self, settings: Settings, rest: torch.Tensor,
                  keypoints: FrameKeypoints | None) -> Callable[[torch.Tensor], GuidanceFn | None] | None:
        reproj = settings.reproj_weight if keypoints is not None else 0.0
        if not settings.guidance or (settings.skate_weight <= 0 and reproj <= 0):
            return None

        def make(traj: torch.Tensor) -> GuidanceFn:
            skate = PoseGuidance(self.normalizer, traj, rest, settings.skate_weight)

            def objective(pose: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                total = skate.objective(pose, t)
                if reproj > 0:
                    total = total + reproj * keypoints.objective(skate.joints(pose))
                return total
            return gradient_guidance(objective)
        return make
