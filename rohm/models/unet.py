"""1D temporal conv building blocks of TrajNet's U-Net (after Janner et al.'s diffuser).

Tensors are channels-first (B, C, N). Every level halves N, so inputs must have N divisible
by 2**levels (TrajNet pads to that).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

GROUPS = 8  # GroupNorm groups (reduced to gcd(GROUPS, channels) for odd widths)


def conv1d(in_ch: int, out_ch: int, kernel: int) -> nn.Conv1d:
    """Length-preserving temporal convolution (odd kernel)."""
    return nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2)


class ConvNormAct(nn.Sequential):
    """Conv1d -> GroupNorm -> SiLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__(conv1d(in_ch, out_ch, kernel), nn.GroupNorm(math.gcd(GROUPS, out_ch), out_ch),
                         nn.SiLU())


class ResBlock(nn.Module):
    """Two ConvNormAct layers with the timestep embedding added between them, plus a residual."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(in_ch, out_ch, kernel)
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, out_ch))
        self.dropout = nn.Dropout(dropout)
        self.conv2 = ConvNormAct(out_ch, out_ch, kernel)
        self.residual = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(x) + self.time(temb)[..., None]
        return self.conv2(self.dropout(h)) + self.residual(x)


def downsample(ch: int) -> nn.Conv1d:
    """Strided conv: N -> N / 2 (N even)."""
    return nn.Conv1d(ch, ch, 3, stride=2, padding=1)


def upsample(ch: int) -> nn.ConvTranspose1d:
    """Transposed conv: N -> 2 N."""
    return nn.ConvTranspose1d(ch, ch, 4, stride=2, padding=1)


def _level_inputs(channels: tuple[int, ...]) -> tuple[int, ...]:
    """Channels entering each level: the first level gets the input conv's channels[0]."""
    return (channels[0],) + channels[:-1]


class ConditionEncoder(nn.Module):
    """Encodes the condition (masked trajectory + mask) into the features entering each U-Net
    encoder level and its middle block: L + 1 tensors of channels[0], ..., channels[-1]."""

    def __init__(self, in_dim: int, channels: tuple[int, ...], time_dim: int, kernel: int,
                 dropout: float) -> None:
        super().__init__()
        self.in_conv = conv1d(in_dim, channels[0], kernel)
        self.blocks = nn.ModuleList(ResBlock(c_in, c, time_dim, kernel, dropout)
                                    for c_in, c in zip(_level_inputs(channels), channels))
        self.downs = nn.ModuleList(downsample(c) for c in channels)

    def forward(self, cond: Tensor, temb: Tensor) -> list[Tensor]:
        g = self.in_conv(cond)
        feats = [g]
        for block, down in zip(self.blocks, self.downs):
            g = down(block(g, temb))
            feats.append(g)
        return feats


class UNetEncoder(nn.Module):
    """U-Net encoder: input conv, one ResBlock + downsample per level, a middle ResBlock. Every
    block sees its input concatenated with the condition features of the same resolution.
    Returns the L skip features (before each downsample) followed by the middle output."""

    def __init__(self, in_dim: int, channels: tuple[int, ...], time_dim: int, kernel: int,
                 dropout: float) -> None:
        super().__init__()
        self.channels = channels
        self.in_conv = conv1d(in_dim, channels[0], kernel)
        self.blocks = nn.ModuleList(ResBlock(2 * c_in, c, time_dim, kernel, dropout)
                                    for c_in, c in zip(_level_inputs(channels), channels))
        self.downs = nn.ModuleList(downsample(c) for c in channels)
        self.mid = ResBlock(2 * channels[-1], channels[-1], time_dim, kernel, dropout)

    def forward(self, x: Tensor, temb: Tensor, cond_feats: list[Tensor]) -> list[Tensor]:
        h = self.in_conv(x)
        feats = []
        for block, down, g in zip(self.blocks, self.downs, cond_feats):
            h = block(torch.cat([h, g], dim=1), temb)
            feats.append(h)
            h = down(h)
        feats.append(self.mid(torch.cat([h, cond_feats[-1]], dim=1), temb))
        return feats


class UNetDecoder(nn.Module):
    """Upsample from the middle features, merging each level's skip features, back to
    channels[0] at full resolution, then a head to out_dim."""

    def __init__(self, out_dim: int, channels: tuple[int, ...], time_dim: int, kernel: int,
                 dropout: float) -> None:
        super().__init__()
        below = channels[1:] + channels[-1:]  # channels arriving from the level below
        self.ups = nn.ModuleList(upsample(c_below) for c_below in below)
        self.blocks = nn.ModuleList(ResBlock(c_below + c, c, time_dim, kernel, dropout)
                                    for c_below, c in zip(below, channels))
        self.head = nn.Sequential(ConvNormAct(channels[0], channels[0], kernel),
                                  nn.Conv1d(channels[0], out_dim, 1))

    def forward(self, feats: list[Tensor], temb: Tensor) -> Tensor:
        h = feats[-1]
        for up, block, skip in reversed(list(zip(self.ups, self.blocks, feats[:-1]))):
            h = block(torch.cat([up(h), skip], dim=1), temb)
        return self.head(h)
