"""Per-feature standardisation fitted on the training split, stored as safetensors.

The diffusion models work on features scaled to zero mean and unit spread. Columns
that never vary get a floored spread (so they do not blow up), and contact labels
stay 0/1 (mean 0, std 1) because they are predicted as labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from rohm.errors import RohmError
from rohm.io.atomic import atomic_path
from rohm.representation.features import FeatureLayout

STD_FLOOR = 1e-3
# Rotations (6D, in [-1, 1]) and body shape get a larger floor: some of their columns are
# (nearly) constant in the data (leaf joints, few performers), and a tiny std would turn a few
# degrees of input noise into a huge normalised value.
ROTATION_STD_FLOOR = 0.05
# Positions (pelvis height, translation, pelvis-relative joints) get a 2 cm floor: with few
# performers a joint like the hip barely moves relative to the pelvis (std ~3 mm), so another
# body's wider hips would sit tens of standard deviations out.
POSITION_STD_FLOOR = 0.02
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _like(value: np.ndarray, ref: ArrayT) -> ArrayT:
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    return value.astype(ref.dtype)


@dataclass
class Normalizer:
    """Feature mean and std (D,) for a layout."""

    mean: np.ndarray
    std: np.ndarray
    layout: FeatureLayout

    @classmethod
    def fit(cls, features: Sequence[np.ndarray], layout: FeatureLayout) -> Normalizer:
        """Fit on feature arrays (..., D) of the training split, ignoring NaN entries."""
        if not features:
            raise ValueError("no feature arrays to fit the normalizer on")
        data = np.concatenate([np.asarray(f, dtype=np.float64).reshape(-1, layout.dim) for f in features])
        valid = ~np.isnan(data)
        count = np.maximum(valid.sum(axis=0), 1)
        mean = np.where(valid, data, 0.0).sum(axis=0) / count
        var = np.square(np.where(valid, data - mean, 0.0)).sum(axis=0) / count
        floor = np.full(layout.dim, STD_FLOOR)
        for block in (layout.phi, layout.rotations, layout.betas):
            floor[block] = ROTATION_STD_FLOOR
        for block in (layout.r_z, layout.gamma, layout.joints):
            floor[block] = POSITION_STD_FLOOR
        std = np.maximum(np.sqrt(var), floor)
        unseen = ~valid.any(axis=0)
        mean[unseen], std[unseen] = 0.0, 1.0
        mean[layout.contacts], std[layout.contacts] = 0.0, 1.0
        return cls(mean, std, layout)

    def normalize(self, x: ArrayT) -> ArrayT:
        """(..., D) features -> normalised features, numpy or torch."""
        return (x - _like(self.mean, x)) / _like(self.std, x)

    def denormalize(self, x: ArrayT) -> ArrayT:
        """Inverse of `normalize`."""
        return x * _like(self.std, x) + _like(self.mean, x)

    def save(self, path: str | Path) -> Path:
        """Write mean/std (and the layout's num_betas) as a safetensors file, atomically."""
        path = Path(path)
        with atomic_path(path) as tmp:
            save_file({"mean": self.mean.astype(np.float64), "std": self.std.astype(np.float64)}, str(tmp),
                      metadata={"num_betas": str(self.layout.num_betas)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        """Read a file written by `save`; a missing or malformed file is a RohmError naming it."""
        path = Path(path)
        if not path.is_file():
            raise RohmError("no such normalizer file", path)
        try:
            with safe_open(str(path), framework="np") as fh:
                num_betas = int((fh.metadata() or {})["num_betas"])
                mean, std = fh.get_tensor("mean"), fh.get_tensor("std")
        except (SafetensorError, OSError, KeyError, ValueError) as exc:
            raise RohmError(f"not a valid normalizer file ({type(exc).__name__}: {exc})", path) from None
        layout = FeatureLayout(num_betas)
        if mean.shape != (layout.dim,) or std.shape != (layout.dim,):
            raise RohmError(f"normalizer has shapes {mean.shape}/{std.shape}, expected ({layout.dim},)", path)
        return cls(mean.astype(np.float64), std.astype(np.float64), layout)
