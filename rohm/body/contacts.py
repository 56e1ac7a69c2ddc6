"""Foot-ground contact labels from joint positions (the paper's velocity + height rule).

A foot joint is in contact when its speed is below 0.2 m/s and its height above
the floor (y = 0) is below 0.18 m for ankles and 0.15 m for toes.
"""

from __future__ import annotations

import numpy as np

from rohm.skeleton import FOOT_JOINTS

SPEED_THRESHOLD = 0.2  # m/s
# Height thresholds in FOOT_JOINTS order: left ankle, left toe, right ankle, right toe.
HEIGHT_THRESHOLDS = np.array([0.18, 0.15, 0.18, 0.15])


def joint_speed(joints: np.ndarray, fps: float) -> np.ndarray:
    """(N, J, 3) -> (N, J) speed in m/s; forward differences, the last frame repeats the one before."""
    if joints.shape[0] < 2:
        return np.zeros(joints.shape[:2])
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * fps
    return np.concatenate([speed, speed[-1:]], axis=0)


def foot_contacts(joints: np.ndarray, fps: float, floor_height: float = 0.0) -> np.ndarray:
    """(N, 22, 3) joints in metres, y-up -> (N, 4) bool contact labels in FOOT_JOINTS order."""
    feet = joints[:, FOOT_JOINTS]
    speed = joint_speed(feet, fps)
    height = feet[..., 1] - floor_height
    return (speed < SPEED_THRESHOLD) & (height < HEIGHT_THRESHOLDS)
