"""Augmentations that widen what the networks see beyond one studio's performers and takes.

The Bandai build has two body shapes and one repertoire. Each training window is
therefore, on top of the random mirror:
- re-timed: played back 0.75-1.33x faster or slower (applied when windows are cut
  from the clips, see `ClipStore.windows`);
- recombined: with some probability the upper body of another window rides on this
  window's legs and trajectory (`swap_upper_body`);
- re-shaped: re-posed on a body shape drawn from the body model's whole shape range
  (`reshape`), with a trajectory consistent with the new legs (translation scaled by
  the leg-length ratio, so a planted foot stays planted) and the lowest foot of the
  window kept at the same height above the floor. Contacts are relabelled with the
  build's rule on the new joints.
Every draw comes from the caller's generators, so training stays resumable bit-exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from rohm.body.base import BodyModel
from rohm.body.shape import repose
from rohm.representation.features import foot_contacts_torch
from rohm.skeleton import LOWER_BODY
from rohm.training.clips import Windows


@dataclass(frozen=True)
class Augmentation:
    """Probabilities and ranges of the augmentations (all off = the data as built)."""

    shape_prob: float = 0.0  # share of windows re-posed on a random body shape
    shape_bank: int = 512  # shapes drawn uniformly from the body's range once per run (rest joints cached)
    speed_prob: float = 0.0  # share of batches played back at another speed
    speed_range: tuple[float, float] = (0.75, 1.33)
    upper_swap_prob: float = 0.0  # share of windows whose upper body comes from another window

    @classmethod
    def default(cls) -> Augmentation:
        """The shipped training augmentations."""
        return cls(shape_prob=0.8, speed_prob=0.5, upper_swap_prob=0.2)

    def draw_speed(self, rng: np.random.Generator) -> float:
        """1.0, or a playback speed log-uniform in `speed_range`."""
        if self.speed_prob <= 0 or rng.random() >= self.speed_prob:
            return 1.0
        low, high = np.log(self.speed_range[0]), np.log(self.speed_range[1])
        return float(np.exp(rng.uniform(low, high)))


def swap_upper_body(w: Windows, prob: float, rng: np.random.Generator) -> Windows:
    """Give a random share `prob` of the windows the upper-body rotations of another window
    of the batch (legs, root and trajectory stay): new combinations of arm and leg motion."""
    batch = w.pose_body.shape[0]
    chosen = np.flatnonzero(rng.random(batch) < prob)
    if chosen.size == 0 or batch < 2:
        return w
    donors = (chosen + rng.integers(1, batch, size=chosen.size)) % batch
    source = w.pose_body.unflatten(-1, (21, 3))
    pose = source.clone()
    upper = torch.tensor([j - 1 for j in range(1, 22) if j not in LOWER_BODY])  # pose_body block j-1 = joint j
    for window, donor in zip(chosen, donors):
        pose[window, :, upper] = source[donor, :, upper]
    return replace(w, pose_body=pose.flatten(-2))


def shape_bank(body: BodyModel, size: int, seed: int) -> torch.Tensor:
    """(size, num_betas) shapes drawn uniformly from the body's shape range
    (`shape_bounds`), the same for a given seed (so a resumed run draws from the same bank)."""
    low, high = body.shape_bounds
    return torch.from_numpy(np.random.default_rng(seed).uniform(low, high, size=(size, body.num_betas)))


def reshape(w: Windows, body: BodyModel, prob: float, rng: np.random.Generator, fps: float,
            bank: torch.Tensor) -> Windows:
    """Re-pose a random share `prob` of the windows on shapes drawn from `bank` (see
    `shape_bank`) with `rohm.body.shape.repose` (translation
    scaled by the leg-length ratio, the window's lowest foot kept at its height); contacts
    relabelled with the build's rule."""
    batch = w.betas.shape[0]
    chosen = torch.from_numpy(rng.random(batch) < prob)
    if not bool(chosen.any()):
        return w
    drawn = bank[torch.from_numpy(rng.integers(0, len(bank), size=batch))].to(w.betas.dtype)
    betas = torch.where(chosen[:, None], drawn, w.betas)
    trans, joints = repose(body, w.betas, betas, w.root_orient, w.pose_body, w.trans, w.valid)
    contacts = foot_contacts_torch(joints, fps).to(w.contacts.dtype)
    keep = ~chosen[:, None, None]
    return Windows(w.root_orient, w.pose_body, torch.where(keep, w.trans, trans), betas,
                   torch.where(keep, w.contacts, contacts), w.valid)
