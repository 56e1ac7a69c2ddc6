"""Changing a motion's frame rate, so clips at any fps meet models trained at one fps.

Positions are interpolated linearly, rotations by slerp; a frame of the new rate is
observed only where both source frames around it are (masks never invent evidence).
Joint rotations may hold NaN (hidden joints): they stay NaN, as the input said.
The 2D evidence moves with the frames: keypoints linearly, confidences as the lower of the
two source frames, and per-frame camera extrinsics (`Motion.extrinsics`, (N, 4, 4)) with the
camera's orientation by slerp and its position linearly (one (4, 4) camera is kept as is).
A reconstruction's per-frame uncertainty (`joints_std`) is interpolated; its input mask is dropped
(it belongs to the input's frames).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from rohm.io.motion_file import Motion


def resample_times(num_frames: int, fps: float, new_fps: float, count: int | None = None) -> np.ndarray:
    """Source-frame positions (float) of `count` frames at `new_fps` (default: those spanning
    the same duration), held at the last source frame beyond it."""
    if count is None:
        count = int(np.floor((num_frames - 1) / fps * new_fps + 1e-6)) + 1
    return np.minimum(np.arange(count) * (fps / new_fps), num_frames - 1)


def _split(times: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = np.clip(np.floor(times).astype(np.int64), 0, num_frames - 1)
    hi = np.minimum(lo + 1, num_frames - 1)
    return lo, hi, times - lo


def interpolate(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 at fractional frame positions; NaN spreads to its neighbours."""
    lo, hi, w = _split(times, len(values))
    w = w.reshape(-1, *([1] * (values.ndim - 1)))
    return values[lo] * (1.0 - w) + values[hi] * w


def slerp_rotvec(rotvec: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Slerp of axis-angle rotations (N, ..., 3) at fractional frame positions."""
    lo, hi, w = _split(times, len(rotvec))
    q = roma.rotvec_to_unitquat(torch.as_tensor(rotvec, dtype=torch.float64))
    steps = torch.as_tensor(w, dtype=torch.float64).reshape(-1, *([1] * (q.dim() - 2)))
    q0, q1 = q[lo], q[hi]
    q1 = torch.where((q0 * q1).sum(-1, keepdim=True) < 0, -q1, q1)  # shortest path
    out = roma.quat_normalize(q0 + steps[..., None] * (q1 - q0))  # nlerp: exact at the ends, fine between frames
    return roma.unitquat_to_rotvec(out).numpy()


def slerp_rotmat(rotmat: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Slerp of rotation matrices (N, ..., 3, 3) at fractional frame positions (geodesic, exact)."""
    lo, hi, w = _split(times, len(rotmat))
    r = torch.as_tensor(rotmat, dtype=torch.float64)
    r0, r1 = r[lo], r[hi]
    delta = roma.rotmat_to_rotvec(r0.transpose(-1, -2) @ r1)  # (T, ..., 3): from r0 to r1, in r0's frame
    steps = torch.as_tensor(w, dtype=torch.float64).reshape(-1, *([1] * (delta.dim() - 1)))
    return (r0 @ roma.rotvec_to_rotmat(steps * delta)).numpy()


def resample_extrinsics(extrinsics: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per-frame world -> camera extrinsics (N, 4, 4) at fractional frame positions: the camera's
    orientation by slerp, its centre in the world linearly (exact for a camera that pans at a
    constant rate while it moves at a constant velocity)."""
    rot = extrinsics[:, :3, :3]
    centre = -np.einsum("nji,nj->ni", rot, extrinsics[:, :3, 3])  # -R^T t
    out = np.tile(np.eye(4), (len(times), 1, 1))
    out[:, :3, :3] = slerp_rotmat(rot, times)
    out[:, :3, 3] = -np.einsum("nij,nj->ni", out[:, :3, :3], interpolate(centre, times))
    return out


def resample_motion(motion: Motion, fps: float, num_frames: int | None = None) -> Motion:
    """The motion at `fps`, first frame kept: the same duration, or `num_frames` frames."""
    if abs(motion.fps - fps) < 1e-6 and num_frames in (None, motion.num_frames):
        return motion
    times = resample_times(motion.num_frames, motion.fps, fps, num_frames)
    observed = motion.observed()
    lo, hi, _ = _split(times, motion.num_frames)
    mask = observed[lo] & observed[hi]
    joints = interpolate(np.where(observed[..., None], motion.joints, np.nan), times)
    params: dict[str, np.ndarray | None] = {"trans": None, "root_orient": None, "pose_body": None}
    if motion.has_params:
        n = motion.num_frames
        params = {"trans": interpolate(motion.trans, times),
                  "root_orient": slerp_rotvec(motion.root_orient, times),
                  "pose_body": slerp_rotvec(motion.pose_body.reshape(n, -1, 3), times).reshape(len(times), -1)}
    contacts = None if motion.contacts is None else interpolate(motion.contacts, times)
    cameras = motion.extrinsics
    if cameras is not None and np.shape(cameras) == (motion.num_frames, 4, 4):  # one camera per frame
        cameras = resample_extrinsics(np.asarray(cameras, dtype=np.float64), times)
    std = None if motion.joints_std is None else interpolate(motion.joints_std, times)
    keypoints = conf = None
    if motion.keypoints_2d is not None:
        keypoints = interpolate(motion.keypoints_2d, times)
        if motion.keypoints_2d_conf is not None:
            conf = np.minimum(motion.keypoints_2d_conf[lo], motion.keypoints_2d_conf[hi])
    return dataclasses.replace(motion, joints=joints, fps=float(fps), joint_mask=mask, contacts=contacts,
                               keypoints_2d=keypoints, keypoints_2d_conf=conf, extrinsics=cameras, joints_std=std,
                               input_joint_mask=None, **params)
