"""Network sizes as JSON-able dataclasses, so checkpoints can rebuild their model.

Defaults: TrajNet sees the 13 absolute trajectory columns (FeatureLayout.traj_abs) and one
root visibility flag per frame; PoseNet diffuses the 262 local columns with one flag per
joint (22); MDM++ diffuses all 275 columns (13 + 262) with the same 22 flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self

from rohm.errors import RohmError


def _positive(cfg: object, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RohmError(f"{type(cfg).__name__}.{name} must be a positive integer, got {value!r}")


def _dropout(cfg: object) -> None:
    value = getattr(cfg, "dropout")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise RohmError(f"{type(cfg).__name__}.dropout must be in [0, 1), got {value!r}")


def _transformer(cfg: object) -> None:
    _positive(cfg, "width", "layers", "heads", "ff", "max_len")
    _dropout(cfg)
    if cfg.width % cfg.heads:
        raise RohmError(f"{type(cfg).__name__}.width ({cfg.width}) must be divisible by heads ({cfg.heads})")


class _Config:
    """to_dict / from_dict shared by the model configs."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of to_dict; missing keys take their defaults, unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RohmError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
        return cls(**data)


@dataclasses.dataclass
class TrajNetConfig(_Config):
    """1D-conv U-Net for the global trajectory; len(channels) = number of down/up levels."""

    traj_dim: int = 13
    pose_dim: int = 262
    mask_dim: int = 1
    channels: tuple[int, ...] = (64, 128, 256)
    time_dim: int = 128
    kernel: int = 5
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if isinstance(self.channels, (str, bytes)) or not hasattr(self.channels, "__iter__"):
            raise RohmError(f"TrajNetConfig.channels must be a list of integers, got {self.channels!r}")
        self.channels = tuple(self.channels)
        if not self.channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                                    for c in self.channels):
            raise RohmError(f"TrajNetConfig.channels must be positive integers, got {list(self.channels)}")
        _positive(self, "traj_dim", "pose_dim", "mask_dim", "time_dim", "kernel")
        _dropout(self)
        if self.kernel % 2 == 0:
            raise RohmError(f"TrajNetConfig.kernel must be odd (length-preserving), got {self.kernel}")


@dataclasses.dataclass
class PoseNetConfig(_Config):
    """Transformer encoder for the local pose, conditioned on trajectory + masked pose + mask."""

    pose_dim: int = 262
    traj_dim: int = 13
    mask_dim: int = 22
    width: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 512
    dropout: float = 0.1
    max_len: int = 1024

    def __post_init__(self) -> None:
        _positive(self, "pose_dim", "traj_dim", "mask_dim")
        _transformer(self)


@dataclasses.dataclass
class MDMConfig(_Config):
    """MDM++ baseline: one transformer diffusing the full feature vector."""

    feature_dim: int = 275
    mask_dim: int = 22
    width: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 512
    dropout: float = 0.1
    max_len: int = 1024

    def __post_init__(self) -> None:
        _positive(self, "feature_dim", "mask_dim")
        _transformer(self)
