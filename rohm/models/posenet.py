"""PoseNet (paper Sec. 4.1, supp. A): x0-predicting transformer for the local pose.

The trajectory is an input and condition only; PoseNet never outputs one, which is the
paper's "overwrite the global part with R0 at every step" by construction.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rohm.models.config import PoseNetConfig
from rohm.models.shapes import check_frames
from rohm.models.transformer import TransformerDenoiser


class PoseNet(TransformerDenoiser):
    """D_P(P_t, t, (R0, M_P * P~, M_P)) -> P0_hat (B, N, pose_dim)."""

    def __init__(self, cfg: PoseNetConfig) -> None:
        super().__init__(cfg.pose_dim, cfg.traj_dim + cfg.pose_dim + cfg.mask_dim, cfg.pose_dim,
                         cfg.width, cfg.layers, cfg.heads, cfg.ff, cfg.dropout, cfg.max_len)
        self.cfg = cfg

    def forward(self, x_t: Tensor, t: Tensor, traj: Tensor, cond: Tensor, cond_mask: Tensor,
                valid: Tensor | None = None) -> Tensor:
        """x_t, cond (B, N, pose_dim); t (B,); traj (B, N, traj_dim) clean/denoised trajectory;
        cond_mask (B, N, mask_dim), 1 = observed; valid (B, N) bool, False = padding."""
        cfg = self.cfg
        b, n = check_frames(x_t, "x_t", cfg.pose_dim)
        check_frames(traj, "traj", cfg.traj_dim, b, n)
        check_frames(cond, "cond", cfg.pose_dim, b, n)
        check_frames(cond_mask, "cond_mask", cfg.mask_dim, b, n)
        return self.denoise(x_t, t, torch.cat([traj, cond, cond_mask], dim=-1), valid)
