"""Sinusoidal embeddings: diffusion timesteps (followed by an MLP) and frame positions.

Frame positions are computed, not learned, so a model trained on short clips still has a
meaningful encoding for every length up to max_len.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal(positions: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """(...,) positions -> (..., dim) float32 [sin | cos] features (Vaswani et al., 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) / max(half, 1)
                      * torch.arange(half, dtype=torch.float32, device=positions.device))
    angles = positions.to(torch.float32)[..., None] * freqs
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    return nn.functional.pad(emb, (0, dim - 2 * half))


class TimestepEmbedder(nn.Module):
    """Diffusion step t (B,) on its original 0..T-1 scale -> (B, dim) via sinusoid + MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal(t, self.dim).to(self.mlp[0].weight.dtype))


class PositionalEncoding(nn.Module):
    """Frame index n -> fixed sinusoid (n < max_len); a non-persistent buffer, not a parameter."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal(torch.arange(max_len), dim), persistent=False)

    def forward(self, length: int) -> Tensor:
        """(length, dim) encodings of frames 0..length-1."""
        if length > self.table.shape[0]:
            raise ValueError(f"sequence of {length} frames exceeds max_len {self.table.shape[0]}")
        return self.table[:length]
