"""Keeping well-observed joints where the input says they are (no slow drift, no bias).

The networks see each window in its own canonical frame and can leave a slowly varying
offset between the reconstructed and the observed pelvis. The offset, measured on frames
where the pelvis is observed, is low-pass filtered (a Gaussian over time, normalised over
observed frames, so gaps are bridged and fade to no correction far from any observation)
and added back to the whole body. Inside a long full-body gap, where a network window has no
evidence at all, the straight line between the observations around the gap counts as a weak
observation (`gap_weight`), so the path cannot wander off. Filtering keeps the input's frame-to-frame noise out:
only the part of the disagreement that persists over many frames is corrected.

The same filter, per joint and on a shorter time scale, pulls every observed joint towards its
observations (`anchor_joints`), and through a joint's own gaps towards the line between the
observations around them (`joint_gap_weight`: whole missing frames are infilled nearer that line,
which over a half-second gap is a better guess than the networks' own); inverse kinematics then turns the anchored joints back into body
parameters, so joints and parameters stay one consistent body.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from rohm.inference.prepare import fill_in_time

MIN_SUPPORT = 0.05  # below this share of observed frames under the kernel the correction fades out


def anchor_joints(output: np.ndarray, observed_joints: np.ndarray, observed: np.ndarray, sigma: float,
                  gap_weight: float = 0.0) -> np.ndarray:
    """(N, 22, 3) output joints moved by their low-passed disagreement with the observed ones.
    A joint's unobserved frames count with `gap_weight` towards the line between its observations
    around them (missing frames are then infilled closer to that line at low frequency); joints
    never observed keep the output's position, and with gap_weight 0 so do frames far from any
    observation."""
    shifted = output.copy()
    for j in range(output.shape[1]):
        shifted[:, j] += drift_correction(output[:, j], np.nan_to_num(observed_joints[:, j]), observed[:, j], sigma,
                                          gap_weight)
    return shifted


def drift_correction(output_pelvis: np.ndarray, input_pelvis: np.ndarray, observed: np.ndarray,
                     sigma: float, gap_weight: float = 0.0) -> np.ndarray:
    """(N, 3) translation to add to the output so its pelvis follows the observed one at time scales
    above `sigma` frames. Unobserved frames count with `gap_weight` towards the straight line
    between the observations around them (so deep inside a long gap the output follows that line
    at low frequency, while the networks still give the gait); with gap_weight 0 the correction
    fades to zero far from any observation."""
    if gap_weight > 0 and observed.any():
        target = fill_in_time(np.where(observed[:, None], input_pelvis, np.nan), observed)
        weight = np.where(observed, 1.0, gap_weight)
    else:
        target, weight = input_pelvis, observed.astype(np.float64)
    offset = np.where(weight[:, None] > 0, target - output_pelvis, 0.0) * weight[:, None]
    num = gaussian_filter1d(offset, sigma, axis=0, mode="nearest")
    den = gaussian_filter1d(weight, sigma, mode="nearest")[:, None]
    fade = np.clip(den / MIN_SUPPORT, 0.0, 1.0) if gap_weight <= 0 else 1.0
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0) * fade
