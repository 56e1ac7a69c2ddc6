"""The paper's evaluation metrics (Sec. 5.2): accuracy and physical plausibility of a prediction.

GMPJPE / MPJPE (mm, global / pelvis-aligned) split into visible, occluded and all
joints by the input's observation mask; Accel (m/s^2) acceleration error; Contact
foot-contact accuracy; Skating foot skating ratio; Dist ground penetration (mm).
All joints in metres, y-up, floor at y = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rohm.data.contacts import foot_contacts
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import ANKLE_JOINTS, FOOT_JOINTS, TOE_JOINTS

# Sliding (paper, Sec. 5.2): every foot joint faster than 10 cm/s while both toes
# are below 10 cm and both ankles below 15 cm.
SKATE_SPEED = 0.10  # m/s
SKATE_TOE_HEIGHT = 0.10  # m
SKATE_ANKLE_HEIGHT = 0.15  # m


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


def skating_ratio(joints: np.ndarray, fps: float) -> float | None:
    """Share of the N-1 frame pairs in which the feet slide (speed from forward differences,
    heights at the first frame of the pair); None for a single frame."""
    if joints.shape[0] < 2:
        return None
    speed = np.linalg.norm(np.diff(joints[:, FOOT_JOINTS], axis=0), axis=-1) * fps
    toes_low = (joints[:-1, TOE_JOINTS, 1] < SKATE_TOE_HEIGHT).all(axis=1)
    ankles_low = (joints[:-1, ANKLE_JOINTS, 1] < SKATE_ANKLE_HEIGHT).all(axis=1)
    return float(((speed > SKATE_SPEED).all(axis=1) & toes_low & ankles_low).mean())


def penetration_mm(joints: np.ndarray) -> float:
    """Mean of max(0, -y) over every toe-frame, in mm.

    Averaged over all toe-frames (not only penetrating ones), so a motion that
    never goes below the floor scores 0 and rare penetrations weigh by how often
    they happen.
    """
    return float(np.maximum(0.0, -joints[:, TOE_JOINTS, 1]).mean() * 1000.0)


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
    return {
        "gmpjpe": _split(global_err, vis),
        "mpjpe": _split(local_err, vis),
        "accel": accel,
        "contact": float((_contact_labels(pred, fps) == _contact_labels(gt, fps)).mean()),
        "skating": skating_ratio(p, fps),
        "skating_gt": skating_ratio(g, fps),
        "dist": penetration_mm(p),
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
                               ("skating", "Skating", 3), ("skating_gt", "Skating (gt)", 3),
                               ("dist", "Dist (mm)", 1)):
        rows.append(f"{label:<16}{'':>20}{_cell(results[key], digits):>10}")
    f = results["frames"]
    rows.append(f"frames: pred {f['pred']}, gt {f['gt']}, input {'-' if f['input'] is None else f['input']}")
    return "\n".join(rows)
