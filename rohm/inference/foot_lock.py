"""Foot locking: a foot in contact with the floor stays where it is, as animators' foot IK does.

Score guidance (Eq. 13) lowers foot skating but cannot bring it to zero, and a few
centimetres of slide per step is what people notice first in a render. Here, after
reconstruction, each foot joint (ankles, toes) is pinned during its contact spans:
- spans come from the reconstruction's own contact labels (> 0.5) where the joint also moves
  slower than `LOCK_SPEED` (a fast "contact" is a wrong label, not a stance to pin);
- in a span the joint sits at its mean position over the span, and the pin fades in and out
  over `BLEND` frames around it (smoothstep weights: no jump in position or velocity);
- a toe not in contact moves with its ankle; where a pinned foot is out of the leg's reach, the
  foot gives way (the leg straightens towards it) unless `max_drop` allows lowering the body a
  little, smoothly, as animators' foot IK does. Off by default: a measured pelvis (mocap, depth)
  should stay where it was measured; a monocular pelvis height is uncertain by more than that
  (the video front end allows MAX_DROP). The knee follows by two-bone IK (the body's own bone
  lengths, the knee kept in its bending plane);
- the body parameters are refitted to the joints by inverse kinematics, so joints and
  parameters stay one body.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from rohm.body.contacts import HEIGHT_THRESHOLDS, joint_speed
from rohm.body.ik import retarget
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX

LOCK_SPEED = 1.0  # m/s; above it a labelled contact is not pinned
BLEND = 4  # frames over which a pin fades in before and out after its span
MIN_SPAN = 2  # frames; shorter contact runs are left alone
MAX_GAP = 2  # frames; shorter breaks inside a contact run are closed
REACH = 1.0  # share of the leg's length a pinned ankle may be from the hip before the body is lowered
MAX_DROP = 0.08  # m; the most `lock_feet` may be allowed to lower the body
DROP_SMOOTH = 2  # frames
_EPS = 1e-9


class _Leg(NamedTuple):
    """One leg's joint indices, bone lengths and the pinned ankle and toe it must reach."""

    hip: int
    knee: int
    ankle: int
    toe: int
    thigh: float
    shin: float
    ankle_target: np.ndarray  # (N, 3)
    toe_target: np.ndarray  # (N, 3)


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True in a (N,) bool array."""
    edges = np.diff(np.concatenate([[0], labels.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def contact_spans(labels: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) contact runs of a (N,) bool array, gaps of up to MAX_GAP frames inside a run
    closed (one noisy frame does not split a stance), runs shorter than MIN_SPAN dropped."""
    closed = labels.astype(bool).copy()
    runs = _runs(closed)
    for (_, stop), (start, _) in zip(runs[:-1], runs[1:]):
        if start - stop <= MAX_GAP:
            closed[stop:start] = True
    return [(a, b) for a, b in _runs(closed) if b - a >= MIN_SPAN]


def pin_displacement(positions: np.ndarray, labels: np.ndarray, max_shift: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) displacement that pins a joint's (N, 3) positions during its contact spans, with
    smooth fades over BLEND frames around each span (the strongest pin wins where fades meet),
    and the (N,) pin weight (1 in a span, 0 far from any). A span whose joint strays more than
    `max_shift` metres from its pinned place is left alone: a wrong label, or a body path (say,
    monocular depth noise) that pinning would only turn into bent legs."""
    n = len(positions)
    best, shift = np.zeros(n), np.zeros((n, 3))
    frames = np.arange(n)
    for a, b in contact_spans(labels):
        target = positions[a:b].mean(axis=0)
        if np.linalg.norm(positions[a:b] - target, axis=-1).max() > max_shift:
            continue
        before = np.clip((frames - (a - BLEND - 1)) / (BLEND + 1), 0.0, 1.0)
        after = np.clip(((b + BLEND) - frames) / (BLEND + 1), 0.0, 1.0)
        ramp = np.minimum(before, after)
        weight = ramp * ramp * (3.0 - 2.0 * ramp)
        take = weight > best
        shift[take] = weight[take, None] * (target - positions[take])
        best[take] = weight[take]
    return shift, best


def place_knee(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, thigh: float, shin: float) -> np.ndarray:
    """(N, 3) knee positions reaching `ankle` from `hip` with the given bone lengths, bending in the
    plane of the old knee (two-bone IK); the ankle is pulled in when out of reach."""
    reach = ankle - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    axis = reach / np.maximum(dist, _EPS)
    d = np.clip(dist, abs(thigh - shin) + 1e-6, thigh + shin - 1e-6)
    along = (thigh**2 - shin**2 + d**2) / (2 * d)
    height = np.sqrt(np.maximum(thigh**2 - along**2, 0.0))
    bend = knee - hip
    bend = bend - (bend * axis).sum(-1, keepdims=True) * axis
    bend = bend / np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), _EPS)
    return hip + along * axis + height * bend


def stance_labels(joints: np.ndarray, contacts: np.ndarray, fps: float) -> np.ndarray:
    """(N, 4) bool, FOOT_JOINTS order: the foot joint is slower than LOCK_SPEED and either labelled
    in contact (> 0.5) or near the floor (y = 0; the contact rule's height thresholds)."""
    feet = joints[:, list(FOOT_JOINTS)]
    return ((contacts > 0.5) | (feet[..., 1] < HEIGHT_THRESHOLDS)) & (joint_speed(feet, fps) < LOCK_SPEED)


def pelvis_drop(joints: np.ndarray, legs: list[_Leg], max_drop: float) -> np.ndarray:
    """(N,) how far to lower the body so every pinned ankle is within REACH of its leg's length
    from the hip. Widened over a few frames and smoothed (no jerk), at most `max_drop` metres."""
    need = np.zeros(len(joints))
    for leg in legs:
        across = np.linalg.norm((joints[:, leg.hip] - leg.ankle_target)[:, [0, 2]], axis=-1)
        height = joints[:, leg.hip, 1] - leg.ankle_target[:, 1]
        allowed = np.sqrt(np.maximum((REACH * (leg.thigh + leg.shin)) ** 2 - across**2, 0.0))
        need = np.maximum(need, height - allowed)
    need = np.clip(need, 0.0, max_drop)
    return gaussian_filter1d(maximum_filter1d(need, 2 * DROP_SMOOTH + 1), DROP_SMOOTH, mode="nearest")


def lock_feet(motion: Motion, rest: torch.Tensor, max_shift: float = 0.2, max_drop: float = 0.0) -> Motion:
    """The motion with feet pinned during contact (spans needing a shift above `max_shift` metres
    left alone) and the body refitted (lowered by at most `max_drop` metres where a leg cannot
    reach its pinned foot); unchanged without contacts."""
    if not 0.0 <= max_drop <= MAX_DROP:
        raise RohmError(f"foot-lock max_drop must be between 0 and {MAX_DROP} m, got {max_drop}")
    if motion.contacts is None or motion.num_frames < 2:
        return motion
    joints = np.asarray(motion.joints, dtype=np.float64).copy()
    rest_np = rest.detach().cpu().double().numpy()
    labels = stance_labels(joints, np.asarray(motion.contacts), motion.fps)
    if not labels.any():
        return motion
    columns = dict(zip(FOOT_JOINTS, range(len(FOOT_JOINTS))))
    legs = []
    for side in ("left", "right"):
        hip, knee, ankle, toe = (JOINT_INDEX[f"{side}_{p}"] for p in ("hip", "knee", "ankle", "foot"))
        ankle_shift, ankle_weight = pin_displacement(joints[:, ankle], labels[:, columns[ankle]], max_shift)
        toe_pin, toe_weight = pin_displacement(joints[:, toe], labels[:, columns[toe]], max_shift)
        new_ankle = joints[:, ankle] + ankle_shift
        new_toe = joints[:, toe] + toe_pin + (1.0 - toe_weight)[:, None] * ankle_shift  # unpinned, it follows the ankle
        # Keep the foot's length: the less pinned of ankle and toe moves (a pinned toe stays exact).
        length = float(np.linalg.norm(rest_np[toe] - rest_np[ankle]))
        along = new_toe - new_ankle
        along /= np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), _EPS)
        move_ankle = (toe_weight > ankle_weight)[:, None]
        thigh = float(np.linalg.norm(rest_np[knee] - rest_np[hip]))
        shin = float(np.linalg.norm(rest_np[ankle] - rest_np[knee]))
        legs.append(_Leg(hip, knee, ankle, toe, thigh, shin, np.where(move_ankle, new_toe - length * along, new_ankle),
                         np.where(move_ankle, new_toe, new_ankle + length * along)))
    if max_drop > 0:
        joints[..., 1] -= pelvis_drop(joints, legs, max_drop)[:, None]
    for leg in legs:
        joints[:, leg.ankle], joints[:, leg.toe] = leg.ankle_target, leg.toe_target
        joints[:, leg.knee] = place_knee(joints[:, leg.hip], joints[:, leg.knee], leg.ankle_target, leg.thigh, leg.shin)
    fit = retarget(rest.detach().cpu().double(), torch.as_tensor(joints))
    return dataclasses.replace(motion, joints=fit.joints.numpy(), trans=fit.trans.numpy(),
                               root_orient=fit.root_orient.numpy(), pose_body=fit.pose_body.numpy())
