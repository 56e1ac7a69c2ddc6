"""A small VPoser-like pose prior: a VAE over the 21 body joint rotations.

Poses are encoded as 6D rotations (first two rotation-matrix columns, continuous, unlike
axis-angle) by an MLP into a Gaussian latent; the decoder maps a latent back to 6D and on
to rotation matrices by Gram-Schmidt. The `optim` baseline parameterises each frame's body
pose by this latent so the search stays near poses seen in training (|z|^2 is the prior).
Trained by `benchmarks/train_pose_prior.py` on the train split only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import roma
import torch
from torch import nn

from rohm.checkpoint import load_tensors
from rohm.errors import RohmError
from rohm.skeleton import MIRROR, NUM_JOINTS

NUM_BODY = NUM_JOINTS - 1  # every joint but the root
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "weights" / "pose_prior.safetensors"


def rotvec_to_6d(pose_body: torch.Tensor) -> torch.Tensor:
    """(..., 63) axis-angle -> (..., 126) 6D rotation features."""
    rot = roma.rotvec_to_rotmat(pose_body.reshape(*pose_body.shape[:-1], NUM_BODY, 3))
    return rot[..., :2].reshape(*pose_body.shape[:-1], NUM_BODY * 6)


def mirror_pose(pose_body: np.ndarray) -> np.ndarray:
    """(N, 63) axis-angle of the left/right mirror image (reflection x -> -x, joints swapped)."""
    pose = pose_body.reshape(-1, NUM_BODY, 3)
    swap = [MIRROR[j + 1] - 1 for j in range(NUM_BODY)]
    return (pose[:, swap] * np.array([1.0, -1.0, -1.0])).reshape(pose_body.shape)


class PosePrior(nn.Module):
    """VAE: body pose (21 joint rotations) <-> latent z of `latent` dims."""

    def __init__(self, latent: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.latent, self.hidden = latent, hidden
        self.encoder = nn.Sequential(
            nn.Linear(NUM_BODY * 6, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, NUM_BODY * 6))

    def encode(self, pose_body: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 63) axis-angle -> mean and log-variance (..., latent) of q(z | pose)."""
        mean, logvar = self.encoder(rotvec_to_6d(pose_body)).chunk(2, dim=-1)
        return mean, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., latent) -> (..., 21, 3, 3) local rotation matrices of the body joints."""
        six = self.decoder(z).reshape(*z.shape[:-1], NUM_BODY, 3, 2)
        return roma.special_gramschmidt(six)

    def decode_rotvec(self, z: torch.Tensor) -> torch.Tensor:
        """(..., latent) -> (..., 63) axis-angle body pose."""
        rot = self.decode(z)
        return roma.rotmat_to_rotvec(rot).reshape(*z.shape[:-1], NUM_BODY * 3)


def load_pose_prior(path: str | Path | None = None) -> PosePrior:
    """The trained prior (the shipped file by default), in eval mode with frozen weights."""
    path = Path(path or DEFAULT_PATH)
    tensors, meta = load_tensors(path)
    config = meta.get("config")
    if not isinstance(config, dict) or not {"latent", "hidden"} <= config.keys():
        raise RohmError("not a pose prior file (no 'config' with latent and hidden sizes)", path)
    model = PosePrior(int(config["latent"]), int(config["hidden"]))
    try:
        model.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as exc:
        raise RohmError(f"pose prior weights do not match its config ({str(exc).splitlines()[0]})", path) from None
    return model.eval().requires_grad_(False)
