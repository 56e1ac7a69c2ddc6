"""Cutting any-length sequences into overlapping windows and blending them back seamlessly.

Windows overlap; in an overlap the two windows' results are cross-faded with linear
weights, so the output has no seam and exactly as many frames as the input. Used by the
diffusion pipeline and by the optimisation baseline's chunks alike.
"""

from __future__ import annotations

import numpy as np
import roma
import torch

from rohm.skeleton import NUM_JOINTS


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


class Blender:
    """Cross-fades window results into one sequence, a batch of windows at a time (memory stays
    flat with length): local rotations are averaged and projected back onto SO(3) (Procrustes),
    other channels averaged. Shapes: rotations (S, N, J, 3, 3), channels (S, N, C), S samples."""

    def __init__(self, weights: np.ndarray, starts: list[int], num_frames: int, samples: int = 1,
                 channels: dict[str, int] | None = None, dtype: torch.dtype = torch.float64) -> None:
        self.weights, self.starts, self.length = torch.as_tensor(weights, dtype=dtype), starts, weights.shape[1]
        self.rotations = torch.zeros(samples, num_frames, NUM_JOINTS, 3, 3, dtype=dtype)
        self.channels = {k: torch.zeros(samples, num_frames, c, dtype=dtype) for k, c in (channels or {}).items()}

    def add(self, window: int, sample: int, rotations: torch.Tensor, **channels: torch.Tensor) -> None:
        """Add window number `window` (its (L, J, 3, 3) local rotations and (L, C) channels) of one sample."""
        at, w = slice(self.starts[window], self.starts[window] + self.length), self.weights[window][:, None]
        self.rotations[sample, at] += w[..., None, None] * rotations.to(self.rotations.dtype)
        for k, v in channels.items():
            self.channels[k][sample, at] += w * v.to(self.rotations.dtype)

    def result(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(S, N, J, 3, 3) blended rotations on SO(3) and the blended channels."""
        return roma.special_procrustes(self.rotations), self.channels
