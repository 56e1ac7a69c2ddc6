"""MediaPipe's 33 pose landmarks -> rohm's 22 body joints, with masks and confidences.

MediaPipe (BlazePose) has hips, knees, ankles, shoulders, elbows and wrists where the
SMPL-X skeleton has them; the other joints are combinations placed where the 22-joint
skeleton has them (fractions measured on the default body's rest pose):
- pelvis, spine1-3 and the neck along the hip-midpoint -> shoulder-midpoint line,
- the collars just inside the shoulders at shoulder height,
- the head at the midpoint of the ears,
- the feet (SMPL-X's toe base) at 0.4 ankle + 0.6 foot_index: the ball of the foot, a few
  centimetres above the sole.
A derived joint's confidence is the lowest visibility of its sources times
DERIVED_CONFIDENCE, so it weighs less in 2D guidance and is the first to be masked.

In 3D, `place_trunk` then puts the trunk's derived joints where the default body has them
relative to the hips and shoulders, off the hip-shoulder line too: its spine runs 2-3 cm behind
that line and its collars 5 cm in front of the shoulders. Left on the line, they made the retargeted
body lean back by 4-5 degrees on the dev videos (inverse kinematics tilts the spine to bring
the collars back).
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
# Fractions of the way from the hip midpoint to the shoulder midpoint (default body, rest pose).
_SPINE = {"pelvis": 0.16, "spine1": 0.26, "spine2": 0.40, "spine3": 0.55, "neck": 1.06}
_COLLAR_OUT = 0.1  # collars: this far from the shoulder midpoint towards each shoulder
_FOOT_TOE = 0.6  # foot = (1 - _FOOT_TOE) * ankle + _FOOT_TOE * foot_index


# Trunk joints in the torso frame of the default body's rest pose (default shape): (across, up,
# forward) in units of the hip-midpoint -> shoulder-midpoint length; up along that line, across
# from the right to the left shoulder and hip, forward = across x up (the way the body faces).
TRUNK_FRAME = {"pelvis": (0.0, 0.164, -0.031), "spine1": (0.0, 0.261, -0.027), "spine2": (0.0, 0.401, -0.018),
               "spine3": (0.0, 0.547, -0.023), "neck": (0.0, 1.064, 0.009),
               "left_collar": (0.035, 0.993, 0.106), "right_collar": (-0.035, 0.993, 0.106)}


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


def torso_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | np.ndarray]:
    """Joints (..., 22, 3) -> origin (..., 3) at the hip midpoint, axes (..., 3, 3) whose rows are
    across, up and forward (see TRUNK_FRAME), and the hip-shoulder length (...)."""
    j = JOINT_INDEX
    hips = 0.5 * (joints[..., j["left_hip"], :] + joints[..., j["right_hip"], :])
    shoulders = 0.5 * (joints[..., j["left_shoulder"], :] + joints[..., j["right_shoulder"], :])
    up = shoulders - hips
    length = np.linalg.norm(up, axis=-1)
    up = up / length[..., None]
    across = (joints[..., j["left_shoulder"], :] - joints[..., j["right_shoulder"], :]
              + joints[..., j["left_hip"], :] - joints[..., j["right_hip"], :])
    across = across - (across * up).sum(-1, keepdims=True) * up
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    return hips, np.stack([across, up, np.cross(across, up)], axis=-2), length


def place_trunk(joints: np.ndarray) -> np.ndarray:
    """3D joints (..., 22, 3) from `map_points` with the TRUNK_FRAME joints placed as the default
    body has them relative to the hips and shoulders (a right-handed frame: camera or world axes)."""
    origin, axes, length = torso_frame(joints)
    out = joints.copy()
    for name, coefficients in TRUNK_FRAME.items():
        out[..., JOINT_INDEX[name], :] = origin + length[..., None] * (np.asarray(coefficients) @ axes)
    return out
