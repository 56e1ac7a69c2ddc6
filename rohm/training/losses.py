"""Training losses (Eq. 15-18): L_simple + joint positions + joint velocities + foot skating.

Joint losses run the prediction through the decoder and the body's forward kinematics
(differentiable), using the ground-truth rest skeleton: shape is learnt through
L_simple on the beta features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rohm.representation import Normalizer, joints_from_features
from rohm.skeleton import FOOT_JOINTS


@dataclass
class LossWeights:
    """The paper's weights: lambda_3D = 100, lambda_vel = 1000; lambda_skate per stage (0 or 0.1)."""

    joints: float = 100.0
    velocity: float = 1000.0
    skate: float = 0.0


def _masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of x (B, W, ...) over valid frames (B, W)."""
    weight = valid.to(x.dtype).reshape(*valid.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return (x * weight).sum() / weight.sum().clamp(min=1.0)


def diffusion_loss(pred: torch.Tensor, target: torch.Tensor, columns: torch.Tensor | slice, valid: torch.Tensor,
                   normalizer: Normalizer, rest: torch.Tensor, gt_joints: torch.Tensor, contacts: torch.Tensor,
                   weights: LossWeights) -> dict[str, torch.Tensor]:
    """Losses for a prediction of some feature columns; the other columns are taken from the target.

    pred (B, W, C) x0-prediction of `columns` of the full feature vector; target (B, W, D).
    Returns the named terms and their weighted sum under "total".
    """
    full = target.clone()
    full[..., columns] = pred
    terms = {"simple": _masked_mean((pred - target[..., columns]) ** 2, valid)}
    joints = joints_from_features(full, normalizer, rest)
    terms["joints"] = _masked_mean(((joints - gt_joints) ** 2).sum(-1), valid)
    pair = valid[:, 1:] & valid[:, :-1]
    vel = joints[:, 1:] - joints[:, :-1]
    gt_vel = gt_joints[:, 1:] - gt_joints[:, :-1]
    terms["velocity"] = _masked_mean(((vel - gt_vel) ** 2).sum(-1), pair)
    foot_vel = (vel[:, :, list(FOOT_JOINTS)] ** 2).sum(-1)  # (B, W-1, 4)
    terms["skate"] = _masked_mean(contacts[:, 1:] * foot_vel, pair)
    terms["total"] = (terms["simple"] + weights.joints * terms["joints"] + weights.velocity * terms["velocity"]
                      + weights.skate * terms["skate"])
    return terms
