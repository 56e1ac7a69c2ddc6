"""The person's own body: shape from the detections' bone lengths, and the floor under their feet.

- Shape: MediaPipe's world landmarks are metric but noisy (bones drift by 2-4 cm from frame to
  frame), so each bone's length is the median over the frames that see both of its ends
  (`rohm.body.shape.observed_bone_lengths`), and the body's shape is fitted to those
  (`fit_bone_lengths`). The motion is then given body parameters on that shape (inverse
  kinematics, as rohm's own preparation does for a joints-only motion), so that rohm keeps
  the shape instead of fitting one to a few single, noisy frames.
- Floor: the floor was put through MediaPipe's sole landmarks before the reconstruction; the
  reconstructed body's feet (the body model's joints) can end a few centimetres higher or lower.
  The floor is moved (the whole scene, camera included, so nothing changes in the image) to where
  the output's feet stand: the lowest foot joint in contact, median over the contact frames,
  at the default body's standing toe height; at most MAX_SETTLE_M.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from rohm.body.base import BodyModel
from rohm.body.shape import fit_bone_lengths, observed_bone_lengths
from rohm.io.motion_file import Motion
from rohm.video.plausibility import STANDING_TOE_M, lowest_foot_m

MAX_SETTLE_M = 0.1
MIN_CONTACT_FRAMES = 5


def with_own_shape(motion: Motion, body: BodyModel) -> Motion:
    """A joints-only motion (world joints, mask) -> the same with `betas` fitted to its median bone
    lengths and body parameters (root_orient, pose_body, trans) on that shape."""
    from rohm.body.ik import retarget
    from rohm.inference.prepare import fill_joints

    observed = motion.observed()
    if not observed[:, 0].any():
        return motion  # rohm refuses it with its own message
    betas = fit_bone_lengths(body, observed_bone_lengths(motion.joints, observed))
    with torch.no_grad():
        rest = body.rest_joints(torch.as_tensor(betas)[None])[0]
        filled = fill_joints(np.where(observed[..., None], motion.joints, np.nan), observed, rest.numpy())
        fit = retarget(rest, torch.as_tensor(filled))
    return dataclasses.replace(motion, trans=fit.trans.numpy(), root_orient=fit.root_orient.numpy(),
                               pose_body=fit.pose_body.numpy(), betas=np.asarray(betas, dtype=np.float64),
                               body_model=body.name, shape_source="fitted")


def floor_offset(joints: np.ndarray, contacts: np.ndarray | None, fps: float) -> float:
    """How far (m) the floor should rise so that the lowest foot joint in contact (median over the
    frames with a contact: labelled, or slow and low as `stance_labels` has it) stands at the
    default body's standing toe height; 0 with too few contact frames."""
    from rohm.inference.foot_lock import stance_labels

    if contacts is None:
        return 0.0
    in_contact = ((contacts > 0.5) | stance_labels(joints, contacts, fps)).any(axis=1)
    if in_contact.sum() < MIN_CONTACT_FRAMES:
        return 0.0
    lowest = float(np.median(lowest_foot_m(joints)[in_contact]))
    return float(np.clip(lowest - float(np.mean(STANDING_TOE_M)), -MAX_SETTLE_M, MAX_SETTLE_M))


def lowered(motion: Motion, offset: float) -> Motion:
    """The motion with everything `offset` metres lower (joints and translation)."""
    joints = motion.joints.copy()
    joints[..., 1] -= offset
    trans = None if motion.trans is None else motion.trans - np.array([0.0, offset, 0.0])
    return dataclasses.replace(motion, joints=joints, trans=trans)
