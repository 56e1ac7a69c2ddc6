"""Keeping well-observed joints where the input says they are (no slow drift, no bias).

The networks see each window in its own canonical frame and can leave a slowly varying
offset between the reconstructed and the observed pelvis. The offset, measured on frames
where the pelvis is observed, is low-pass filtered (a Gaussian over time, normalised over
observed frames, so gaps are bridged and fade to no correction far from any observation)
and added back to the whole body. Filtering keeps the input's frame-to-frame noise out:
only the part of the disagreement that persists over many frames is corrected.

The same filter, per joint and on a shorter time scale, pulls every observed joint towards its
observations (`anchor_joints`); inverse kinematics then turns the anchored joints back into body
parameters, so joints and parameters stay one consistent body.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

MIN_SUPPORT = 0.05  # below this share of observed frames under the kernel the correction fades out


def anchor_joints(output: np.ndarray, observed_joints: np.ndarray, observed: np.ndarray, sigma: float) -> np.ndarray:
    """(N, 22, 3) output joints moved by their low-passed disagreement with the observed ones;
    joints never observed nearby keep the output's position."""
    shifted = output.copy()
    for j in range(output.shape[1]):
        shifted[:, j] += drift_correction(output[:, j], np.nan_to_num(observed_joints[:, j]), observed[:, j], sigma)
    return shifted


def drift_correction(output_pelvis: np.ndarray, input_pelvis: np.ndarray, observed: np.ndarray,
                     sigma: float) -> np.ndarray:
    """(N, 3) translation to add to the output so its pelvis follows the observed one at time scales
    above `sigma` frames; zero where the pelvis was never observed nearby."""
    offset = np.where(observed[:, None], input_pelvis - output_pelvis, 0.0)
    weight = observed.astype(np.float64)
    num = gaussian_filter1d(offset, sigma, axis=0, mode="nearest")
    den = gaussian_filter1d(weight, sigma, mode="nearest")[:, None]
    fade = np.clip(den / MIN_SUPPORT, 0.0, 1.0)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0) * fade
