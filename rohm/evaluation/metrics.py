"""The paper's evaluation metrics (Sec. 5.2): accuracy and physical plausibility of a prediction.

GMPJPE / MPJPE (mm, global / pelvis-aligned) split into visible, occluded and all
joints by the input's observation mask; Accel (m/s^2) acceleration error; Contact
foot-contact accuracy; Skating (share of the ground truth's planted foot frames in which the
prediction's foot slides), Float (mm a planted foot is held too high) and Dist (mm of ground
penetration), all three against the ground truth's own feet (see the constants below).
All joints in metres, y-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rohm.body.contacts import foot_contacts
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import FOOT_JOINTS

# Plausibility is measured against the ground truth's own feet, not the paper's absolute SMPL-X
# heights: on another body (the default body's ankle stands at ~14.5 cm, SMPL-X's lower) absolute heights
# decide whether a floating foot counts at all, and a 1 cm shift of the whole body changed the
# old ratio 1.5-2x. A foot joint is *planted* where the ground truth holds it still (horizontal
# speed below PLANTED_SPEED) within GROUNDED_MARGIN of its own lowest height in the clip.
# Speeds are taken over SPEED_SPAN seconds so that millimetres of frame-to-frame jitter do not
# read as sliding.
GROUNDED_MARGIN = 0.05  # m
PLANTED_SPEED = 0.05  # m/s, ground truth
SKATE_SPEED = 0.075  # m/s, prediction: a planted foot moving faster slides
SPEED_SPAN = 1.0 / 6.0  # s


def _mean(values: np.ndarray) -> float | None:
    """Mean as a plain float, None for an empty set (reported as JSON null)."""
    return float(values.mean()) if values.size else None


def _split(err: np.ndarray, vis: np.ndarray | None) -> dict[str, float | None]:
    """{vis, occ, all} means of a (N, 22) error; without a mask every joint is visible."""
    if vis is None:
        return {"vis": _mean(err), "occ": None, "all": _mean(err)}
    return {"vis": _mean(err[vis]), "occ": _mean(err[~vis]), "all": _mean(err)}


def acceleration(joints: np.ndarray, fps: float) -> np.ndarray:
    """(N, J, 3) -> (N-2, J, 3) accelerations in m/s^2 (central second difference)."""
    return (joints[2:] - 2.0 * joints[1:-1] + joints[:-2]) * fps**2


def speed_span(fps: float) -> int:
    """Frames over which foot speed is measured (SPEED_SPAN seconds, at least one)."""
    return max(1, round(SPEED_SPAN * fps))


def horizontal_speed(joints: np.ndarray, fps: float) -> np.ndarray:
    """(N, J, 3) -> (N-s, J) speed in the floor plane (m/s) from frame n to frame n+s, s = speed_span(fps)."""
    s = speed_span(fps)
    return np.linalg.norm(joints[s:, :, [0, 2]] - joints[:-s, :, [0, 2]], axis=-1) * fps / s


def planted_feet(gt_joints: np.ndarray, fps: float) -> np.ndarray:
    """(N-s, 4) bool (s = speed_span(fps); frame n to n+s): ground-truth foot joints (FOOT_JOINTS
    order) held still on the floor: slower than PLANTED_SPEED, within GROUNDED_MARGIN of their
    lowest height in the clip."""
    feet = gt_joints[:, FOOT_JOINTS]
    low = feet[..., 1].min(axis=0)
    near = feet[:-speed_span(fps), :, 1] - low < GROUNDED_MARGIN
    return near & (horizontal_speed(feet, fps) < PLANTED_SPEED)


def skating_ratio(joints: np.ndarray, fps: float, planted: np.ndarray) -> float | None:
    """Share of the ground truth's planted foot-joint frames in which the prediction's joint
    slides faster than SKATE_SPEED in the floor plane; None when nothing is planted."""
    if not planted.any():
        return None
    return float((horizontal_speed(joints[:, FOOT_JOINTS], fps)[planted] > SKATE_SPEED).mean())


def float_mm(joints: np.ndarray, gt_joints: np.ndarray, planted: np.ndarray) -> float | None:
    """Foot float (mm): how far above the ground truth's planted foot joint the prediction holds
    it, mean of max(0, y - y_gt) over the planted joint-frames."""
    if not planted.any():
        return None
    n = planted.shape[0]
    above = np.maximum(0.0, joints[:n, FOOT_JOINTS, 1] - gt_joints[:n, FOOT_JOINTS, 1])
    return float(above[planted].mean() * 1000.0)


def penetration_mm(joints: np.ndarray, gt_joints: np.ndarray) -> float:
    """Dist (mm): ground penetration, mean of max(0, floor - y) over every foot joint-frame, where
    a joint's floor is the lowest height the ground truth ever gives it (below it the sole is
    in the floor). Averaged over all joint-frames, so rare penetrations weigh by how often
    they happen."""
    floor = gt_joints[:, FOOT_JOINTS, 1].min(axis=0)
    return float(np.maximum(0.0, floor - joints[:, FOOT_JOINTS, 1]).mean() * 1000.0)


def _contact_labels(motion: Motion, fps: float) -> np.ndarray:
    """(N, 4) bool: the motion's own contacts (> 0.5) if it has them, else the velocity+height rule."""
    if motion.contacts is not None:
        return np.asarray(motion.contacts) > 0.5
    return foot_contacts(motion.joints, fps)


def evaluate(pred: Motion, gt: Motion, inp: Motion | None = None) -> dict[str, Any]:
    """Compare a predicted motion with the ground truth; `inp` (the corrupted input) gives vis/occ.

    Contact accuracy uses pred.contacts > 0.5 when the prediction carries contact
    labels, otherwise labels computed from its joints by `foot_contacts`; likewise
    for the ground truth. Metrics that need more frames than there are are None.
    """
    n = pred.num_frames
    if gt.num_frames != n:
        raise RohmError(f"prediction has {n} frames but ground truth has {gt.num_frames}")
    if inp is not None and inp.num_frames != n:
        raise RohmError(f"prediction has {n} frames but input has {inp.num_frames}")
    if np.isnan(pred.joints).any():
        raise RohmError("prediction has missing joints (NaN)")
    if np.isnan(gt.joints).any():
        raise RohmError("ground truth has missing joints (NaN)")
    if not np.isclose(pred.fps, gt.fps):
        raise RohmError(f"prediction is at {pred.fps} fps but ground truth at {gt.fps} fps")
    fps = float(gt.fps)
    vis = None if inp is None else inp.observed()

    p, g = pred.joints, gt.joints
    global_err = np.linalg.norm(p - g, axis=-1) * 1000.0
    local_err = np.linalg.norm((p - p[:, :1]) - (g - g[:, :1]), axis=-1) * 1000.0
    accel = None
    if n >= 3:
        accel = float(np.linalg.norm(acceleration(p, fps) - acceleration(g, fps), axis=-1).mean())
    planted = planted_feet(g, fps) if n > speed_span(fps) else np.zeros((0, len(FOOT_JOINTS)), dtype=bool)
    return {
        "gmpjpe": _split(global_err, vis),
        "mpjpe": _split(local_err, vis),
        "accel": accel,
        "contact": float((_contact_labels(pred, fps) == _contact_labels(gt, fps)).mean()),
        "skating": skating_ratio(p, fps, planted),
        "float": float_mm(p, g, planted),
        "dist": penetration_mm(p, g),
        "frames": {"pred": n, "gt": gt.num_frames, "input": None if inp is None else inp.num_frames},
    }


def flatten(results: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested results -> {"gmpjpe.all": ..., "accel": ...} (for CSV rows and summaries)."""
    flat: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of `evaluate`'s results for the terminal ("-" = not available)."""
    rows = [f"{'metric':<16}{'vis':>10}{'occ':>10}{'all':>10}"]
    for key, label in (("gmpjpe", "GMPJPE (mm)"), ("mpjpe", "MPJPE (mm)")):
        r = results[key]
        rows.append(f"{label:<16}" + "".join(f"{_cell(r[s], 1):>10}" for s in ("vis", "occ", "all")))
    for key, label, digits in (("accel", "Accel (m/s^2)", 3), ("contact", "Contact (acc)", 3),
                               ("skating", "Skating", 3),
                               ("float", "Float (mm)", 1), ("dist", "Dist (mm)", 1)):
        rows.append(f"{label:<16}{'':>20}{_cell(results[key], digits):>10}")
    f = results["frames"]
    rows.append(f"frames: pred {f['pred']}, gt {f['gt']}, input {'-' if f['input'] is None else f['input']}")
    return "\n".join(rows)
