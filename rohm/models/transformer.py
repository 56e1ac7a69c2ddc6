"""Shared MDM-style transformer denoiser behind PoseNet and MDM++.

Per-frame tokens = Linear(x_t) + Linear(condition) + sinusoidal position; one timestep token
is prepended (as in MDM) and every frame attends to it. Pre-norm GELU encoder layers, final
LayerNorm, linear head to x0. The timestep token is never padding, so even a sequence with
no valid frame has a key to attend to (no NaN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rohm.models.embedding import PositionalEncoding, TimestepEmbedder


class TransformerDenoiser(nn.Module):
    """Base class: subclasses assemble the condition and call denoise()."""

    def __init__(self, x_dim: int, cond_dim: int, out_dim: int, width: int, layers: int, heads: int,
                 ff: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.x_proj = nn.Linear(x_dim, width)
        self.cond_proj = nn.Linear(cond_dim, width)
        self.time_embed = TimestepEmbedder(width)
        self.position = PositionalEncoding(width, max_len)
        layer = nn.TransformerEncoderLayer(width, heads, ff, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(width),
                                                 enable_nested_tensor=False)
        self.head = nn.Linear(width, out_dim)

    def denoise(self, x_t: Tensor, t: Tensor, cond: Tensor, valid: Tensor | None) -> Tensor:
        """x_t (B, N, x_dim), t (B,), cond (B, N, cond_dim), valid (B, N) bool or None ->
        (B, N, out_dim). Invalid (padding) frames are zeroed on input and masked as keys, so
        whatever they hold (even NaN) cannot reach valid frames; their outputs are meaningless."""
        n = x_t.shape[1]
        if valid is not None:
            if valid.shape != x_t.shape[:2]:
                raise ValueError(f"valid must have shape {tuple(x_t.shape[:2])}, got {tuple(valid.shape)}")
            valid = valid.bool()
            x_t = x_t.masked_fill(~valid[..., None], 0.0)
            cond = cond.masked_fill(~valid[..., None], 0.0)
        frames = self.x_proj(x_t) + self.cond_proj(cond) + self.position(n)
        tokens = torch.cat([self.time_embed(t)[:, None], frames], dim=1)
        padding = None if valid is None else nn.functional.pad(~valid, (1, 0), value=False)
        return self.head(self.transformer(tokens, src_key_padding_mask=padding)[:, 1:])
