"""Normalised features -> joints, differentiably: what training losses and inference guidance
compare against joint positions.

Decoding gives local rotations and the translation; forward kinematics on a given rest
skeleton places the joints, so gradients reach every rotation and trajectory column.
"""

from __future__ import annotations

import torch

from rohm.body.kinematics import forward_kinematics_rotmat
from rohm.representation.features import decode
from rohm.representation.normalization import Normalizer


def joints_from_features(features: torch.Tensor, normalizer: Normalizer, rest: torch.Tensor) -> torch.Tensor:
    """Normalised features (B, W, D) and rest joints (B, 22, 3) -> joints (B, W, 22, 3)."""
    d = decode(normalizer.denormalize(features), normalizer.layout)
    local = torch.cat([d["root_rotmat"][..., None, :, :], d["pose_rotmat"]], dim=-3)
    joints, _ = forward_kinematics_rotmat(rest[:, None], local, d["trans"])
    return joints
