"""Cutting any-length sequences into overlapping model windows and blending them back seamlessly.

Windows overlap; in an overlap the two windows' results are cross-faded with linear
weights, so the output has no seam and exactly as many frames as the input.
"""

from __future__ import annotations

import numpy as np


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of windows covering [0, num_frames); the last window ends at the last frame."""
    if num_frames <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, num_frames - window, hop))
    starts.append(num_frames - window)
    return starts


def blend_weights(num_frames: int, starts: list[int], window: int) -> np.ndarray:
    """(num_windows, window) weights that sum to 1 over windows at every frame (linear cross-fades)."""
    length = min(window, num_frames)
    raw = np.zeros((len(starts), length))
    for i, s in enumerate(starts):
        w = np.ones(length)
        if i > 0:
            ramp = starts[i - 1] + length - s  # overlap with the previous window
            w[:ramp] = np.linspace(0.0, 1.0, ramp + 2)[1:-1]
        if i + 1 < len(starts):
            ramp = s + length - starts[i + 1]
            w[length - ramp:] = np.minimum(w[length - ramp:], np.linspace(1.0, 0.0, ramp + 2)[1:-1])
        raw[i] = w
    total = np.zeros(num_frames)
    for i, s in enumerate(starts):
        total[s:s + length] += raw[i]
    for i, s in enumerate(starts):
        raw[i] /= total[s:s + length]
    return raw
