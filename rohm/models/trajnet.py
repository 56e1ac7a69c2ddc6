"""TrajNet (paper Sec. 4.1, supp. A): x0-predicting 1D-conv U-Net for the global trajectory,
with the optional TrajControl branch (Sec. 4.2) that conditions it on the local pose.

The occlusion mask is an explicit input channel of the condition encoder, so a zeroed
missing value is distinguishable from an observed zero.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from rohm.models.config import TrajNetConfig
from rohm.models.embedding import TimestepEmbedder
from rohm.models.shapes import check_frames
from rohm.models.unet import ConditionEncoder, UNetDecoder, UNetEncoder, conv1d


def zero_conv(ch: int) -> nn.Conv1d:
    """1x1 Conv1d with weight and bias 0: contributes exactly nothing until trained."""
    conv = nn.Conv1d(ch, ch, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


def _channels_first(x: Tensor, pad: int) -> Tensor:
    """(B, N, C) -> (B, C, N + pad), repeating the last frame."""
    x = x.transpose(1, 2)
    return nn.functional.pad(x, (0, pad), mode="replicate") if pad else x


class TrajControl(nn.Module):
    """Trainable copy of TrajNet's U-Net encoder fed the local pose instead of x_t.

    Only the input conv is new (the pose has another width); every later layer starts from
    the encoder's current weights. It sees the same condition features and timestep
    embedding as the frozen encoder, and returns per-level residuals for the skip and middle
    features through zero convolutions.
    """

    def __init__(self, encoder: UNetEncoder, pose_dim: int, kernel: int) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        self.encoder.in_conv = conv1d(pose_dim, encoder.channels[0], kernel)
        self.encoder.requires_grad_(True)
        self.zero_convs = nn.ModuleList(zero_conv(c) for c in encoder.channels + encoder.channels[-1:])

    def forward(self, pose: Tensor, temb: Tensor, cond_feats: list[Tensor]) -> list[Tensor]:
        """pose (B, pose_dim, N) -> L + 1 residuals matching UNetEncoder's outputs."""
        return [zc(f) for zc, f in zip(self.zero_convs, self.encoder(pose, temb, cond_feats))]


class TrajNet(nn.Module):
    """D_R(x_t, t, c_R): predicts the clean trajectory (B, N, traj_dim) for any N >= 1.

    Sequences are replicate-padded at the end to a multiple of 2**levels and cropped back,
    so the output at frame n may depend (weakly) on how much padding N needed. A checkpoint
    holding TrajControl weights ("control.*") needs add_control() before load_state_dict.
    """

    def __init__(self, cfg: TrajNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.multiple = 2 ** len(cfg.channels)
        args = (cfg.channels, cfg.time_dim, cfg.kernel, cfg.dropout)
        self.time_embed = TimestepEmbedder(cfg.time_dim)
        self.cond_encoder = ConditionEncoder(cfg.traj_dim + cfg.mask_dim, *args)
        self.encoder = UNetEncoder(cfg.traj_dim, *args)
        self.decoder = UNetDecoder(cfg.traj_dim, *args)
        self.control: TrajControl | None = None

    def add_control(self) -> TrajControl:
        """Create TrajControl from the encoder's current weights (output unchanged until trained)."""
        if self.control is not None:
            raise RuntimeError("TrajNet already has a TrajControl module")
        self.control = TrajControl(self.encoder, self.cfg.pose_dim, self.cfg.kernel)
        return self.control

    def control_parameters(self) -> Iterator[nn.Parameter]:
        """TrajControl's parameters only (what fine-tuning updates)."""
        if self.control is None:
            raise RuntimeError("TrajNet has no TrajControl module; call add_control() first")
        return self.control.parameters()

    def freeze_base(self) -> None:
        """requires_grad=False on everything except TrajControl."""
        self.requires_grad_(False)
        if self.control is not None:
            self.control.requires_grad_(True)

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor, cond_mask: Tensor,
                control: Tensor | None = None) -> Tensor:
        """x_t, cond (B, N, traj_dim); t (B,); cond_mask (B, N, mask_dim), 1 = observed;
        control (B, N, pose_dim) local pose, ignored unless TrajControl exists."""
        cfg = self.cfg
        b, n = check_frames(x_t, "x_t", cfg.traj_dim)
        check_frames(cond, "cond", cfg.traj_dim, b, n)
        check_frames(cond_mask, "cond_mask", cfg.mask_dim, b, n)
        pad = -n % self.multiple
        temb = self.time_embed(t)
        cond_feats = self.cond_encoder(_channels_first(torch.cat([cond, cond_mask], dim=-1), pad), temb)
        feats = self.encoder(_channels_first(x_t, pad), temb, cond_feats)
        if control is not None and self.control is not None:
            check_frames(control, "control", cfg.pose_dim, b, n)
            residuals = self.control(_channels_first(control, pad), temb, cond_feats)
            feats = [f + r for f, r in zip(feats, residuals)]
        return self.decoder(feats, temb)[..., :n].transpose(1, 2)
