"""Classical baseline: fill the gaps, then smooth each joint coordinate in time (no learning).

What practitioners do with noisy, gappy per-frame joints, run on the same corrupted inputs as rohm:
- Filling: the input fill every method and table shares (`rohm.inference.prepare.fill_motion`:
  interpolation in time; never-observed joints from the rest pose of the input's shape, or of the
  default body, turned with the torso).
- Smoothing of the joints seen at least once, with one of CLASSICAL_KINDS
  (`rohm.inference.smoothing`): Savitzky-Golay, zero-phase Butterworth low-pass, or an RTS
  (Kalman filter + Rauch-Tung-Striebel) smoother that skips missing observations, so its motion
  model does the infilling of gaps itself.
- Never-observed joints are then placed again from the smoothed torso, so they inherit its smoothness.

The defaults are tuned on the val split under Occ-L, k = 3 by `benchmarks/tune_classical.py`
(results in benchmarks/results/classical_tuning.json).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from rohm.errors import RohmError
from rohm.inference.prepare import fill_joints, fill_motion, rest_pose
from rohm.inference.smoothing import CLASSICAL_KINDS, SMOOTHERS
from rohm.io.motion_file import Motion


def smooth_motion(motion: Motion, smoother: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> Motion:
    """Fill `motion`, smooth the joints seen at least once, place never-seen joints from the smoothed torso."""
    filled, observed = fill_motion(motion)
    smoothed = smoother(filled, observed, float(motion.fps))
    seen = np.broadcast_to(observed.any(axis=0), observed.shape)
    return Motion(joints=fill_joints(smoothed, seen, rest_pose(motion)), fps=motion.fps)


def classical_method(kind: str = "rts", **params: float) -> Callable[[Motion], Motion]:
    """The `Motion -> Motion` baseline for one of CLASSICAL_KINDS; `params` override its tuned defaults."""
    if kind not in SMOOTHERS:
        raise RohmError(f"unknown classical smoother '{kind}' (expected one of {', '.join(CLASSICAL_KINDS)})")
    try:
        smoother = SMOOTHERS[kind](**params)
    except TypeError:
        raise RohmError(f"unknown parameter for '{kind}' in {sorted(params)}") from None
    return functools.partial(smooth_motion, smoother=smoother)
