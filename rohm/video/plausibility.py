"""Plausibility figures of a reconstruction from a video, where there is no ground truth.

- torso tilt: the angle of pelvis -> neck from world up, median over frames (clean mocap of
  standing and walking: ~5 degrees);
- lowest foot during contacts: the lowest of the four foot joints above the floor, median over
  the frames with a foot in contact (the default body's standing toe joint sits STANDING_TOE_M
  up: higher floats, lower sinks), and its 10th and 90th percentiles (feet that stay on one
  floor keep them close; the video pipeline settles the median itself, `rohm.video.person`);
- jitter: mean |acceleration| of all joints (m/s^2);
- 2D reprojection error: the output projected through each frame's camera against the
  detections seen (confidence >= VISIBLE), relative to the person's 2D height in that frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX
from rohm.video.landmarks import VISIBLE

STANDING_TOE_M = (0.05, 0.065)  # default body's toe joints above the floor, standing (Bandai shapes)
FLOAT_TOLERANCE_M = 0.03  # lowest foot in contact this far outside STANDING_TOE_M: floating or sinking


def torso_tilt_deg(joints: np.ndarray) -> np.ndarray:
    """(N,) degrees between pelvis -> neck and world up (+y), joints (N, 22, 3)."""
    trunk = joints[:, JOINT_INDEX["neck"]] - joints[:, JOINT_INDEX["pelvis"]]
    cosine = trunk[:, 1] / np.linalg.norm(trunk, axis=1)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def lowest_foot_m(joints: np.ndarray) -> np.ndarray:
    """(N,) height of the lowest foot joint (ankles and toes) above the floor y = 0."""
    return joints[:, list(FOOT_JOINTS), 1].min(axis=1)


def jitter(joints: np.ndarray, fps: float) -> float:
    """Mean |acceleration| (m/s^2) over all joints and frames."""
    if len(joints) < 3:
        return 0.0
    return float(np.linalg.norm(np.diff(joints, n=2, axis=0), axis=-1).mean() * fps * fps)


def reprojection_error(joints: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray, keypoints: np.ndarray,
                       confidence: np.ndarray, detected: np.ndarray) -> tuple[float, float]:
    """(median pixels, median fraction of the person's 2D height) between the world joints (N, 22, 3)
    seen through each frame's camera (N, 4, 4) and the detected keypoints (N, 22, 2), over the
    joints seen (confidence (N, 22) >= VISIBLE) in frames with a detection (N,); NaN if none."""
    cam = np.einsum("nij,nkj->nki", extrinsics[:, :3, :3], joints) + extrinsics[:, None, :3, 3]
    pixels = cam[..., :2] / cam[..., 2:] @ intrinsics[:2, :2].T + intrinsics[:2, 2]
    seen = (confidence >= VISIBLE) & detected[:, None] & np.isfinite(keypoints).all(axis=-1)
    if not seen.any():
        return float("nan"), float("nan")
    error = np.linalg.norm(pixels - keypoints, axis=-1)
    y = keypoints[..., 1]
    height = np.where(seen, y, -np.inf).max(axis=1) - np.where(seen, y, np.inf).min(axis=1)  # -inf: none seen
    relative = error / np.where(height > 0, height, np.nan)[:, None]
    return float(np.median(error[seen])), float(np.nanmedian(np.where(seen, relative, np.nan)))


def plausibility(joints: np.ndarray, contacts: np.ndarray | None, fps: float, extrinsics: np.ndarray,
                 intrinsics: np.ndarray, keypoints: np.ndarray, confidence: np.ndarray,
                 detected: np.ndarray) -> dict[str, Any]:
    """The figures above for summary.json (rounded)."""
    lowest = lowest_foot_m(joints)
    in_contact = (contacts > 0.5).any(axis=1) if contacts is not None else np.zeros(len(joints), dtype=bool)
    contact_foot = float(np.median(lowest[in_contact])) if in_contact.any() else None
    spread = np.percentile(lowest[in_contact], [10, 90]).round(4).tolist() if in_contact.any() else None
    pixels, relative = reprojection_error(joints, extrinsics, intrinsics, keypoints, confidence, detected)
    low, high = STANDING_TOE_M
    return {
        "torso_tilt_deg_median": round(float(np.median(torso_tilt_deg(joints))), 2),
        "lowest_foot_m_median": round(float(np.median(lowest)), 4),
        "lowest_foot_in_contact_m_median": None if contact_foot is None else round(contact_foot, 4),
        "lowest_foot_in_contact_m_p10_p90": spread,
        "contact_frames": int(in_contact.sum()),
        "feet_on_floor": None if contact_foot is None else bool(
            low - FLOAT_TOLERANCE_M <= contact_foot <= high + FLOAT_TOLERANCE_M),
        "jitter_m_s2": round(jitter(joints, fps), 3),
        "reprojection_px_median": round(pixels, 2) if np.isfinite(pixels) else None,
        "reprojection_of_height_median": round(relative, 4) if np.isfinite(relative) else None,
    }
