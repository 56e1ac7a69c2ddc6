"""Training configuration: model sizes, data windows and the curriculum of Supp. B.1, as JSON.

Sizes and step counts are configuration, not code. The defaults come from step times
measured on 2 CPU cores (batch 32, 96-frame windows: TrajNet 32-64-128 channels 0.2 s,
PoseNet and MDM++ 256 wide x 4 layers 0.6-0.7 s, data included) so that the whole
curriculum, MDM++ with PoseNet's budget included, runs in about 1 h 40 min there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rohm.errors import RohmError
from rohm.training.augment import Augmentation

MODEL_KINDS = ("trajnet", "trajcontrol", "posenet", "mdm")


@dataclass
class Stage:
    """One curriculum stage: which network, how long, and how hard its inputs are."""

    name: str
    model: str  # trajnet | trajcontrol | posenet | mdm
    steps: int
    noise: float  # noise level k of the inputs
    mask: str  # occlusion scheme (rohm.training.masks.SCHEMES)
    lr: float = 1e-4
    skate: float = 0.0  # weight of the foot-skating loss


def default_stages(scale: float = 1.0) -> list[Stage]:
    """The paper's curriculum (PROX masks replaced by body-part/time-span occlusions), steps scaled."""
    def n(steps: int) -> int:
        return max(1, int(round(steps * scale)))
    return [
        Stage("trajnet-k1", "trajnet", n(800), 1.0, "none", lr=2e-4),
        Stage("trajnet-k2", "trajnet", n(800), 2.0, "none", lr=2e-4),
        Stage("trajnet-k3-frames10", "trajnet", n(1200), 3.0, "frames-10", lr=1e-4),
        Stage("trajcontrol-k2", "trajcontrol", n(800), 2.0, "none", lr=1e-4),
        Stage("posenet-k1-joints", "posenet", n(800), 1.0, "joints", lr=2e-4),
        Stage("posenet-k1-mixed", "posenet", n(1600), 1.0, "mixed", lr=2e-4),
        Stage("posenet-k2-mixed-skate", "posenet", n(1600), 2.0, "mixed", lr=1e-4, skate=100.0),
        Stage("mdm-k1-joints", "mdm", n(800), 1.0, "joints", lr=2e-4),
        Stage("mdm-k1-mixed", "mdm", n(1600), 1.0, "mixed", lr=2e-4),
        Stage("mdm-k2-mixed-skate", "mdm", n(1600), 2.0, "mixed", lr=1e-4, skate=100.0),
    ]


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data folder."""

    window: int = 96
    batch_size: int = 32
    seed: int = 0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    checkpoint_every: int = 250
    log_every: int = 25
    val_every: int = 500
    val_windows: int = 32
    val_sampling_steps: int = 10
    traj_diffusion_steps: int = 100
    pose_diffusion_steps: int = 1000
    trajnet: dict[str, Any] = field(default_factory=lambda: {"channels": [32, 64, 128]})
    posenet: dict[str, Any] = field(default_factory=dict)
    mdm: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=default_stages)
    # Augmentation fields (rohm.training.augment.Augmentation); {} = none.
    augment: dict[str, Any] = field(default_factory=lambda: asdict(Augmentation.default()))
    # Feature statistics: "data" = the build's (train split as built), "augmented" = fitted
    # on `norm_windows` augmented training windows and saved in the run folder.
    normalization: str = "augmented"
    norm_windows: int = 4096
    # A weights folder (as `export_run` writes) whose networks start the run (fine-tuning).
    init_weights: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def augmentation(self) -> Augmentation:
        """The `augment` fields as an Augmentation."""
        return Augmentation(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.augment.items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "<config>") -> TrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RohmError(f"unknown training config keys: {', '.join(unknown)}", origin)
        data = dict(data)
        if "stages" in data:
            try:
                data["stages"] = [Stage(**s) for s in data["stages"]]
            except TypeError as exc:
                raise RohmError(f"bad stage in config ({exc})", origin) from None
        if "augment" in data:
            try:
                Augmentation(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["augment"].items()})
            except TypeError as exc:
                raise RohmError(f"bad augment settings in config ({exc})", origin) from None
        cfg = cls(**data)
        if cfg.normalization not in ("data", "augmented"):
            raise RohmError(f"normalization must be 'data' or 'augmented', got {cfg.normalization!r}", origin)
        for stage in cfg.stages:
            if stage.model not in MODEL_KINDS:
                raise RohmError(f"stage '{stage.name}': unknown model '{stage.model}'", origin)
            if stage.steps < 1:
                raise RohmError(f"stage '{stage.name}': steps must be >= 1", origin)
        if len({s.name for s in cfg.stages}) != len(cfg.stages):
            raise RohmError("stage names must be unique", origin)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()), str(path))
        except OSError as exc:
            raise RohmError(f"cannot read config ({exc.strerror})", path) from None
        except json.JSONDecodeError as exc:
            raise RohmError(f"config is not valid JSON ({exc.msg} at line {exc.lineno})", path) from None
