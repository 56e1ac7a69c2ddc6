"""RoHM's diffusion denoisers (TrajNet + TrajControl, PoseNet) and the MDM++ baseline.

All predict x0 from (x_t, t, condition) on normalised (B, N, C) features, t on the original
0..T-1 scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from rohm.errors import RohmError
from rohm.models.config import MDMConfig, PoseNetConfig, TrajNetConfig
from rohm.models.embedding import PositionalEncoding, TimestepEmbedder
from rohm.models.mdm import MDM
from rohm.models.posenet import PoseNet
from rohm.models.trajnet import TrajControl, TrajNet

MODELS: dict[str, tuple[type, type]] = {
    "trajnet": (TrajNet, TrajNetConfig),
    "posenet": (PoseNet, PoseNetConfig),
    "mdm": (MDM, MDMConfig),
}


def build_model(kind: str, cfg_dict: Mapping[str, Any] | None = None) -> nn.Module:
    """A fresh model of `kind` ("trajnet", "posenet", "mdm") from a config dict (None = defaults)."""
    if kind not in MODELS:
        raise RohmError(f"unknown model kind {kind!r} (expected one of {', '.join(MODELS)})")
    model_cls, cfg_cls = MODELS[kind]
    return model_cls(cfg_cls.from_dict(cfg_dict or {}))


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (only those with requires_grad if trainable_only)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "MDM", "MDMConfig", "MODELS", "PoseNet", "PoseNetConfig", "PositionalEncoding",
    "TimestepEmbedder", "TrajControl", "TrajNet", "TrajNetConfig", "build_model",
    "count_parameters",
]
