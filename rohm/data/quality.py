"""Source-data checks for the data build: leading T-pose frames, and motion that no person makes.

Converted motion capture often starts with the rig's T-pose (every clip of CMU's cgspeed
BVH conversion: one T-pose frame, then a jump into the motion smeared over a few frames), and
early captures contain glitches (joint flips, a drifting root, feet through the floor).
Everything works on body joints (N, 22, 3) in metres, y-up, so any source gets the same checks.

Thresholds, measured at 30 fps (each build lists what it flagged, with the numbers, in its
summary.json): clean optical mocap (all 3,076 Bandai clips) reaches at most 5.3 m/s at the
pelvis, 194 m/s^2 at any joint (a kick) with at most 1.3% of a clip's frames above 150 m/s^2,
and never puts a foot more than 1 cm below its floor. CMU glitches reach 600-2,300 m/s^2 (joint
flips), 43-97% of frames above 150 m/s^2 (a broken root trajectory) and feet 13-55 cm below
the floor (uneven terrain, a broken root).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX, JOINT_NAMES

TPOSE_ARM_DEG = 20.0  # a T-pose's arm bones lie within this angle of the body's left-right axis
TPOSE_LEG_DEG = 15.0  # and its leg bones within this angle of straight down
SETTLE_SPEED_M_S = 12.0  # after a T-pose, frames whose joints still move faster are the jump into the motion
SETTLE_MAX_S = 0.15  # the jump is never longer than this

FLOOR_BIN_M = 0.02  # histogram bin of the floor estimate
BELOW_FLOOR_M = 0.10  # a foot this far below the floor ...
BELOW_FLOOR_MIN_S = 0.2  # ... for this long (in one stretch) is impossible
TELEPORT_M_S = 12.0  # pelvis speed between two frames: the fastest sprinters reach ~12 m/s
SPIKE_ACCEL_M_S2 = 400.0  # any joint: twice the largest acceleration of clean mocap
JITTER_ACCEL_M_S2 = 150.0  # frames with a joint above this acceleration ...
JITTER_FRACTION = 0.2  # ... on this share of a clip's frames: shaking, not motion
BONE_STRETCH = 0.10  # a source bone changing its length by this fraction ...
BONE_STRETCH_MIN_M = 0.02  # ... and by at least this much


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def tpose_frames(joints: np.ndarray) -> np.ndarray:
    """(N, 22, 3) -> (N,) bool: arms straight out sideways, legs straight down."""
    lateral = _unit(joints[:, JOINT_INDEX["left_hip"]] - joints[:, JOINT_INDEX["right_hip"]])
    bone = lambda a, b: _unit(joints[:, JOINT_INDEX[b]] - joints[:, JOINT_INDEX[a]])  # noqa: E731
    ok = np.ones(len(joints), dtype=bool)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist")):
            ok &= sign * (bone(f"{side}_{a}", f"{side}_{b}") * lateral).sum(-1) > np.cos(np.radians(TPOSE_ARM_DEG))
        for a, b in (("hip", "knee"), ("knee", "ankle")):
            ok &= -bone(f"{side}_{a}", f"{side}_{b}")[:, 1] > np.cos(np.radians(TPOSE_LEG_DEG))
    return ok


def leading_tpose(joints: np.ndarray, fps: float) -> int:
    """How many leading frames to drop: a T-pose at the start and the jump out of it.

    0 when the clip does not start in a T-pose, or when it is T-pose throughout.
    """
    is_tpose = tpose_frames(joints)
    if not is_tpose[0] or is_tpose.all():
        return 0
    start = int(np.argmin(is_tpose))
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(axis=1) * fps  # (N-1,) fastest joint
    settled_by = min(len(joints) - 1, start + int(round(SETTLE_MAX_S * fps)))
    while start < settled_by and speed[start] > SETTLE_SPEED_M_S:
        start += 1
    return start


def floor_level(joints: np.ndarray) -> float:
    """The height where the feet rest most often: the mode of the lowest foot joint's height."""
    low = joints[:, list(FOOT_JOINTS), 1].min(axis=1)
    bins = np.arange(low.min(), low.max() + 2 * FLOOR_BIN_M, FLOOR_BIN_M)
    counts, edges = np.histogram(low, bins=bins)
    k = int(counts.argmax())
    return float(edges[k] + FLOOR_BIN_M / 2)


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(length, first index) of the longest run of True."""
    best, best_start, run = 0, 0, 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run > best:
            best, best_start = run, i - run + 1
    return best, best_start


def _below_floor(joints: np.ndarray, fps: float) -> dict[str, Any] | None:
    floor = floor_level(joints)
    depth = floor - joints[:, list(FOOT_JOINTS), 1].min(axis=1)
    frames, first = _longest_run(depth > BELOW_FLOOR_M)
    if frames < max(1, round(BELOW_FLOOR_MIN_S * fps)):
        return None
    deepest = float(depth[first:first + frames].max())
    return {"check": "below_floor", "reason": f"feet {100 * deepest:.0f} cm below the floor for {frames} frames "
            f"(from frame {first})", "depth_m": round(deepest, 3), "frames": frames, "first_frame": first,
            "floor_m": round(floor, 3)}


def _teleport(joints: np.ndarray, fps: float) -> dict[str, Any] | None:
    speed = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1) * fps
    if len(speed) == 0 or speed.max() <= TELEPORT_M_S:
        return None
    frame = int(speed.argmax())
    return {"check": "teleport", "reason": f"pelvis moves at {speed[frame]:.0f} m/s between frames {frame} and "
            f"{frame + 1}", "speed_m_s": round(float(speed[frame]), 1), "frame": frame,
            "frames": int((speed > TELEPORT_M_S).sum())}


def _jitter(joints: np.ndarray, fps: float) -> dict[str, Any] | None:
    if len(joints) < 3:
        return None
    accel = np.linalg.norm(joints[2:] - 2 * joints[1:-1] + joints[:-2], axis=-1) * fps**2  # (N-2, 22)
    peak = accel.max(axis=1)
    frame = int(peak.argmax())
    joint = JOINT_NAMES[int(accel[frame].argmax())]
    shaking = float((peak > JITTER_ACCEL_M_S2).mean())
    if peak[frame] <= SPIKE_ACCEL_M_S2 and shaking <= JITTER_FRACTION:
        return None
    if peak[frame] > SPIKE_ACCEL_M_S2:
        reason = f"{joint} accelerates at {peak[frame]:.0f} m/s^2 at frame {frame + 1}"
    else:
        reason = f"joints accelerate above {JITTER_ACCEL_M_S2:.0f} m/s^2 on {100 * shaking:.0f}% of frames"
    return {"check": "jitter", "reason": reason, "max_accel_m_s2": round(float(peak[frame]), 1), "joint": joint,
            "frame": frame + 1, "shaking_frames": int((peak > JITTER_ACCEL_M_S2).sum()),
            "shaking_share": round(shaking, 3)}  # frames with a joint above JITTER_ACCEL_M_S2


def check_motion(joints: np.ndarray, fps: float) -> list[dict[str, Any]]:
    """Problems of body joints (N, 22, 3): each a dict with 'check', a one-line 'reason' and its numbers."""
    found = (_below_floor(joints, fps), _teleport(joints, fps), _jitter(joints, fps))
    return [p for p in found if p is not None]


def bone_stretch(positions: np.ndarray, parents: list[int] | tuple[int, ...], names: list[str],
                 metres_per_unit: float = 1.0) -> dict[str, Any] | None:
    """A problem when a source bone changes its length: joint positions (N, S, 3) in source units.

    The root's children are skipped: their 'bone' is the root's position in many rigs.
    """
    positions = positions * metres_per_unit
    bones = [(j, p) for j, p in enumerate(parents) if p > 0]
    if not bones or len(positions) < 2:
        return None
    lengths = np.stack([np.linalg.norm(positions[:, j] - positions[:, p], axis=-1) for j, p in bones], axis=1)
    median = np.median(lengths, axis=0)
    change = np.abs(lengths - median)
    bad = (change > BONE_STRETCH * median) & (change > BONE_STRETCH_MIN_M) & (median > 1e-3)
    if not bad.any():
        return None
    frame, k = np.unravel_index(int(np.where(bad, change, 0).argmax()), change.shape)
    name = names[bones[k][0]]
    return {"check": "bone_length", "reason": f"bone to {name} changes length by {100 * change[frame, k]:.0f} cm "
            f"({100 * change[frame, k] / median[k]:.0f}%) at source frame {frame}", "joint": name,
            "change_m": round(float(change[frame, k]), 3), "source_frames": int(bad.any(axis=1).sum()),
            "source_frame": int(frame)}

