"""MDM++ baseline (paper supp. C): PoseNet's design diffusing trajectory and local pose
together, conditioned on the masked noisy full motion and the occlusion mask."""

from __future__ import annotations

import torch
from torch import Tensor

from rohm.models.config import MDMConfig
from rohm.models.shapes import check_frames
from rohm.models.transformer import TransformerDenoiser


class MDM(TransformerDenoiser):
    """D(X_t, t, (M * X~, M)) -> X0_hat (B, N, feature_dim)."""

    def __init__(self, cfg: MDMConfig) -> None:
        super().__init__(cfg.feature_dim, cfg.feature_dim + cfg.mask_dim, cfg.feature_dim,
                         cfg.width, cfg.layers, cfg.heads, cfg.ff, cfg.dropout, cfg.max_len)
        self.cfg = cfg

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor, cond_mask: Tensor,
                valid: Tensor | None = None) -> Tensor:
        """x_t, cond (B, N, feature_dim); t (B,); cond_mask (B, N, mask_dim), 1 = observed;
        valid (B, N) bool, False = padding."""
        cfg = self.cfg
        b, n = check_frames(x_t, "x_t", cfg.feature_dim)
        check_frames(cond, "cond", cfg.feature_dim, b, n)
        check_frames(cond_mask, "cond_mask", cfg.mask_dim, b, n)
        return self.denoise(x_t, t, torch.cat([cond, cond_mask], dim=-1), valid)
