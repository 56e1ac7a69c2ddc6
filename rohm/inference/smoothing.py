"""Smoothing of per-joint coordinates over time, with observation masks (no learning).

Each smoother is a callable `(joints (N, J, 3), observed (N, J), fps) -> (N, J, 3)`:
Savitzky-Golay, zero-phase Butterworth low-pass, or an RTS (Kalman filter +
Rauch-Tung-Striebel) smoother that skips missing observations, so its motion model bridges
gaps. The classical baseline runs them on filled inputs; rohm's joint anchoring pulls
towards the RTS estimate of the observations. Defaults tuned on val by
`benchmarks/tune_classical.py` (benchmarks/results/classical_tuning.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, savgol_filter, sosfiltfilt

from rohm.errors import RohmError

CLASSICAL_KINDS: tuple[str, ...] = ("savgol", "butterworth", "rts")


@dataclass(frozen=True)
class SavGol:
    """Savitzky-Golay filter (local polynomial fit) over frames; the window shrinks to fit short clips."""

    window: int = 9  # frames; tuned (classical_tuning.json)
    polyorder: int = 1  # tuned (classical_tuning.json)

    def __post_init__(self) -> None:
        if self.window < 1 or self.polyorder < 0 or self.polyorder >= self.window:
            raise RohmError(f"savgol needs window >= 1 and 0 <= polyorder < window, got {self.window}, {self.polyorder}")

    def __call__(self, joints: np.ndarray, observed: np.ndarray, fps: float) -> np.ndarray:
        n = joints.shape[0]
        window = min(self.window, n if n % 2 else n - 1)
        window -= 1 - window % 2  # savgol_filter needs an odd window
        polyorder = min(self.polyorder, window - 1)
        return savgol_filter(joints, window, polyorder, axis=0, mode="interp")


@dataclass(frozen=True)
class Butterworth:
    """Zero-phase Butterworth low-pass (forward-backward, so no lag); padding shrinks for short clips."""

    cutoff: float = 2.0  # Hz; tuned (classical_tuning.json)
    order: int = 2  # per pass (the forward-backward response is squared); tuned (classical_tuning.json)

    def __post_init__(self) -> None:
        if not self.cutoff > 0 or self.order < 1:
            raise RohmError(f"butterworth needs cutoff > 0 Hz and order >= 1, got {self.cutoff}, {self.order}")

    def __call__(self, joints: np.ndarray, observed: np.ndarray, fps: float) -> np.ndarray:
        n = joints.shape[0]
        if self.cutoff >= fps / 2 or n < 2:  # nothing above Nyquist to remove / nothing to filter
            return joints.copy()
        sos = butter(self.order, self.cutoff, fs=fps, output="sos")
        return sosfiltfilt(sos, joints, axis=0, padlen=min(3 * (2 * len(sos) + 1), n - 1))


@dataclass(frozen=True)
class RTS:
    """Kalman filter + Rauch-Tung-Striebel smoother per joint coordinate, all coordinates at once.

    State: position and its first `order` derivatives (1 = constant velocity, 2 = constant
    acceleration), driven by white noise of spectral density `q` on the highest derivative;
    observations are positions with noise std `r` metres. Missing observations are skipped, so
    gaps are bridged by the motion model; coordinates never observed are returned as given.
    The smoothed mean depends only on q / r^2.
    """

    q: float = 0.7  # process noise spectral density, m^2/s^(2*order+1); tuned (classical_tuning.json)
    r: float = 0.04  # measurement noise std, metres; measured on val (classical_tuning.json)
    order: int = 1  # tuned (classical_tuning.json)

    def __post_init__(self) -> None:
        if not (self.q > 0 and self.r > 0) or self.order not in (1, 2):
            raise RohmError(f"rts needs q > 0, r > 0 and order 1 or 2, got {self.q}, {self.r}, {self.order}")

    def _model(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Transition F and process noise Q (continuous white noise on the highest derivative)."""
        d = self.order + 1
        f = np.array([[dt ** (j - i) / math.factorial(j - i) if j >= i else 0.0 for j in range(d)] for i in range(d)])
        q = np.array([[self.q * dt ** (2 * d - 1 - i - j)
                       / (math.factorial(d - 1 - i) * math.factorial(d - 1 - j) * (2 * d - 1 - i - j))
                       for j in range(d)] for i in range(d)])
        return f, q

    def __call__(self, joints: np.ndarray, observed: np.ndarray, fps: float) -> np.ndarray:
        n, shape = joints.shape[0], joints.shape
        y = joints.reshape(n, -1)  # (N, C) coordinates
        seen = np.repeat(observed, shape[-1], axis=1)  # (N, C)
        f, q = self._model(1.0 / fps)
        c, d = y.shape[1], f.shape[0]
        m = np.zeros((c, d))
        m[:, 0] = y[0]  # the filled first frame; a wide prior lets the first observation take over
        p = np.tile(np.diag([1.0, 10.0, 100.0][:d]), (c, 1, 1))
        m_pred, p_pred, m_filt, p_filt = (np.empty((n, c, d)), np.empty((n, c, d, d)),
                                          np.empty((n, c, d)), np.empty((n, c, d, d)))
        for t in range(n):
            if t:
                m, p = m @ f.T, f @ p @ f.T + q
            m_pred[t], p_pred[t] = m, p
            gain = p[:, :, 0] / (p[:, :1, 0] + self.r**2)  # (C, d)
            gain[~seen[t]] = 0.0
            m = m + gain * (y[t] - m[:, 0])[:, None]
            p = p - gain[:, :, None] * p[:, None, 0, :]
            m_filt[t], p_filt[t] = m, p
        out = np.empty((n, c))
        out[-1] = m[:, 0]
        for t in range(n - 2, -1, -1):
            # G = P_filt F^T P_pred^-1, i.e. G^T = P_pred^-1 F P_filt (covariances are symmetric).
            g_t = np.linalg.solve(p_pred[t + 1], f @ p_filt[t])
            m = m_filt[t] + np.einsum("cji,cj->ci", g_t, m - m_pred[t + 1])
            out[t] = m[:, 0]
        never = ~seen.any(axis=0)
        out[:, never] = y[:, never]  # nothing to smooth: left as given (the caller places these joints)
        return out.reshape(shape)


SMOOTHERS: dict[str, type] = {"savgol": SavGol, "butterworth": Butterworth, "rts": RTS}
