"""MediaPipe's 33 pose landmarks -> rohm's 22 body joints, with masks and confidences.

MediaPipe (BlazePose) has hips, knees, ankles, shoulders, elbows and wrists where the
SMPL-X skeleton has them; the other joints are combinations placed where the 22-joint
skeleton has them (fractions measured on the anny body's rest pose):
- pelvis, spine1-3 and the neck along the hip-midpoint -> shoulder-midpoint line,
- the collars just inside the shoulders at shoulder height,
- the head at the midpoint of the ears,
- the feet (SMPL-X's toe base) at 0.4 ankle + 0.6 foot_index: the ball of the foot, a few
  centimetres above the sole.
A derived joint's confidence is the lowest visibility of its sources times
DERIVED_CONFIDENCE, so it weighs less in 2D guidance and is the first to be masked.
"""

from __future__ import annotations

import numpy as np

from rohm.skeleton import JOINT_INDEX, NUM_JOINTS

NUM_LANDMARKS = 33
VISIBLE = 0.5  # a joint whose confidence is below this is missing in 3D (mask False)
DERIVED_CONFIDENCE = 0.8  # confidence factor of joints that MediaPipe does not have

# MediaPipe landmark indices.
_MP = {"nose": 0, "left_ear": 7, "right_ear": 8, "left_shoulder": 11, "right_shoulder": 12,
       "left_elbow": 13, "right_elbow": 14, "left_wrist": 15, "right_wrist": 16, "left_hip": 23,
       "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
       "left_foot_index": 31, "right_foot_index": 32}
# Fractions of the way from the hip midpoint to the shoulder midpoint (anny rest pose).
_SPINE = {"pelvis": 0.16, "spine1": 0.26, "spine2": 0.40, "spine3": 0.55, "neck": 1.06}
_COLLAR_OUT = 0.1  # collars: this far from the shoulder midpoint towards each shoulder
_FOOT_TOE = 0.6  # foot = (1 - _FOOT_TOE) * ankle + _FOOT_TOE * foot_index


def _weights() -> np.ndarray:
    """(22, 33) linear map from landmarks to joints."""
    w = np.zeros((NUM_JOINTS, NUM_LANDMARKS))
    for name in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
                 "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"):
        w[JOINT_INDEX[name], _MP[name]] = 1.0
    hips = [_MP["left_hip"], _MP["right_hip"]]
    shoulders = [_MP["left_shoulder"], _MP["right_shoulder"]]
    for name, f in _SPINE.items():
        w[JOINT_INDEX[name], hips] = 0.5 * (1 - f)
        w[JOINT_INDEX[name], shoulders] += 0.5 * f
    for side in ("left", "right"):
        collar = JOINT_INDEX[f"{side}_collar"]
        w[collar, shoulders] = 0.5 * (1 - _COLLAR_OUT)
        w[collar, _MP[f"{side}_shoulder"]] += _COLLAR_OUT
        w[JOINT_INDEX[f"{side}_foot"], _MP[f"{side}_ankle"]] = 1 - _FOOT_TOE
        w[JOINT_INDEX[f"{side}_foot"], _MP[f"{side}_foot_index"]] = _FOOT_TOE
    w[JOINT_INDEX["head"], [_MP["left_ear"], _MP["right_ear"]]] = 0.5
    return w


WEIGHTS = _weights()
DERIVED = (WEIGHTS > 0).sum(axis=1) > 1  # (22,) joints that MediaPipe does not have itself


def map_points(points: np.ndarray) -> np.ndarray:
    """Landmark coordinates (..., 33, D) -> joint coordinates (..., 22, D)."""
    return np.einsum("jk,...kd->...jd", WEIGHTS, points)


def map_confidence(visibility: np.ndarray) -> np.ndarray:
    """Landmark visibility (..., 33) -> joint confidence (..., 22): a joint is as visible as its
    least visible source; derived joints are scaled down by DERIVED_CONFIDENCE."""
    sources = np.where(WEIGHTS > 0, visibility[..., None, :], np.inf)
    conf = sources.min(axis=-1)
    return np.where(DERIVED, DERIVED_CONFIDENCE * conf, conf)
