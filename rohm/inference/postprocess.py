"""Post-processing steps: each a `Motion -> Motion` with a name, built for one input.

After denoising and blending, rohm keeps what the evidence says where the evidence is good:
- `DriftCorrection`: the pelvis follows the observed one at time scales above `sigma` frames;
- `JointAnchoring`: every observed joint follows its (RTS-smoothed) observations, the body is
  refitted by inverse kinematics;
- `FootLock`: feet in contact stay put (`rohm.inference.foot_lock`).
`model_rate_steps` and `output_rate_steps` list the steps that `Settings` switch on; the paper's
mode (`Settings.paper()`) switches all of them off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from rohm.body import BodyModel
from rohm.body.ik import retarget
from rohm.inference.anchoring import anchor_joints, drift_correction
from rohm.inference.foot_lock import lock_feet
from rohm.inference.prepare import fill_motion
from rohm.inference.settings import Settings
from rohm.inference.smoothing import RTS
from rohm.io.motion_file import Motion


class Step:
    """A named `Motion -> Motion` post-processing step."""

    name: str = ""

    def __call__(self, motion: Motion) -> Motion:
        raise NotImplementedError


def smoothed_evidence(motion: Motion) -> Motion:
    """The motion with its observed joints replaced by a Kalman/RTS smoothing of the observations
    (constant-velocity model, the classical baseline's val-tuned noise levels): the best the
    evidence alone says about where an observed joint is, for joint anchoring to pull towards."""
    filled, observed = fill_motion(motion)
    smoothed = RTS()(filled, observed, float(motion.fps))
    return dataclasses.replace(motion, joints=np.where(observed[..., None], smoothed, np.nan), joint_mask=observed)


def _rest(body: BodyModel, motion: Motion) -> torch.Tensor:
    """(22, 3) rest joints of the motion's shape."""
    return body.rest_joints(torch.as_tensor(motion.betas, dtype=torch.float64)[None])[0]


@dataclass
class DriftCorrection(Step):
    """Shift the whole body so its pelvis follows the evidence's above `sigma` frames
    (`rohm.inference.anchoring.drift_correction`)."""

    evidence: Motion
    sigma: float
    gap_weight: float
    name: str = "drift correction"

    def __call__(self, motion: Motion) -> Motion:
        observed = self.evidence.observed()[:, 0]
        shift = drift_correction(motion.joints[:, 0], np.nan_to_num(self.evidence.joints[:, 0]), observed, self.sigma,
                                 self.gap_weight)
        return dataclasses.replace(motion, joints=motion.joints + shift[:, None], trans=motion.trans + shift)


@dataclass
class JointAnchoring(Step):
    """Pull observed joints towards the evidence above `sigma` frames (and through their gaps with
    `gap_weight`), then refit the body by inverse kinematics (joints and parameters stay one body)."""

    evidence: Motion
    sigma: float
    gap_weight: float
    body: BodyModel
    name: str = "joint anchoring"

    def __call__(self, motion: Motion) -> Motion:
        joints = anchor_joints(motion.joints, self.evidence.joints, self.evidence.observed(), self.sigma, self.gap_weight)
        fit = retarget(_rest(self.body, motion), torch.as_tensor(joints))
        return dataclasses.replace(motion, joints=fit.joints.numpy(), trans=fit.trans.numpy(),
                                   root_orient=fit.root_orient.numpy(), pose_body=fit.pose_body.numpy())


@dataclass
class FootLock(Step):
    """Pin feet during their contact spans (`rohm.inference.foot_lock.lock_feet`)."""

    body: BodyModel
    max_shift: float
    max_drop: float
    name: str = "foot locking"

    def __call__(self, motion: Motion) -> Motion:
        return lock_feet(motion, _rest(self.body, motion), self.max_shift, self.max_drop)


def model_rate_steps(settings: Settings, work: Motion, body: BodyModel) -> list[Step]:
    """Steps run at the models' frame rate against `work`, the input resampled to it."""
    steps: list[Step] = []
    if settings.drift_sigma is not None:
        steps.append(DriftCorrection(work, settings.drift_sigma, settings.gap_weight))
    if settings.joint_sigma is not None:
        if work.keypoints_2d is not None:  # a camera: depth-noisy 3D, anchored loosely to the raw input
            steps.append(JointAnchoring(work, *settings.camera_anchoring, body))
        else:
            evidence = smoothed_evidence(work) if settings.smooth_evidence else work
            steps.append(JointAnchoring(evidence, settings.joint_sigma, settings.joint_gap_weight, body))
    return steps


def output_rate_steps(settings: Settings, body: BodyModel) -> list[Step]:
    """Steps run on the result at the input's own frame rate."""
    return [FootLock(body, settings.foot_shift, settings.foot_drop)] if settings.foot_lock else []
