"""Training batches: ground-truth windows -> augmented, noised, occluded model inputs and targets.

Everything is drawn afresh every step (the authors' code drew the noise once per data
set): a random mirror, Gaussian noise on the body parameters (k degrees on rotations,
k cm on translation, 0.01k on shape) pushed through forward kinematics so it
accumulates along the tree, and an occlusion mask. Each window is canonicalised from
its *noisy, occluded input*, exactly as at inference, and the ground truth is expressed
in that same frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rohm.body import BodyModel
from rohm.body.kinematics import forward_kinematics
from rohm.representation import (
    FeatureLayout,
    Normalizer,
    canonical_frame,
    encode,
    feature_mask,
)
from rohm.representation.canonical import apply_frames
from rohm.skeleton import MIRROR
from rohm.training.augment import Augmentation, reshape, swap_upper_body
from rohm.training.clips import ClipStore, Windows
from rohm.training.masks import make_mask

_CONTACT_MIRROR = [2, 3, 0, 1]  # (l-ankle, l-toe, r-ankle, r-toe) -> right <-> left


@dataclass
class Batch:
    """One training batch, canonical frame, normalised features (B, W, D) unless noted."""

    target: torch.Tensor  # clean features x0
    cond: torch.Tensor  # noisy, occluded features, zero where missing
    cond_mask: torch.Tensor  # (B, W, D) float, 1 = observed
    joint_mask: torch.Tensor  # (B, W, 22) float, 1 = observed
    valid: torch.Tensor  # (B, W) bool, False on padding
    rest: torch.Tensor  # (B, 22, 3) ground-truth rest joints
    joints: torch.Tensor  # (B, W, 22, 3) ground-truth joints, canonical frame
    contacts: torch.Tensor  # (B, W, 4) ground-truth contact labels


def mirror(w: Windows) -> Windows:
    """Reflect across the x = 0 plane: swap left and right, negate x, reflect rotations."""
    flip = torch.tensor([1.0, -1.0, -1.0], dtype=w.root_orient.dtype)  # axis-angle under x-reflection
    pose = w.pose_body.unflatten(-1, (21, 3))
    pose = pose[..., [MIRROR[j] - 1 for j in range(1, 22)], :] * flip
    trans = w.trans * torch.tensor([-1.0, 1.0, 1.0], dtype=w.trans.dtype)
    return Windows(w.root_orient * flip, pose.flatten(-2), trans, w.betas, w.contacts[..., _CONTACT_MIRROR], w.valid)


def add_noise(w: Windows, k: float, gen: torch.Generator) -> Windows:
    """The paper's noise level k: (k deg, k deg, k cm, 0.01k) on (root, pose, translation, shape)."""
    def n(x: torch.Tensor, std: float) -> torch.Tensor:
        return x + std * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    rad = np.deg2rad(k)
    return Windows(n(w.root_orient, rad), n(w.pose_body, rad), n(w.trans, 0.01 * k),
                   n(w.betas, 0.01 * k).clamp(0.0, 1.0), w.contacts, w.valid)


def sample_windows(store: ClipStore, body: BodyModel, batch_size: int, window: int, rng: np.random.Generator,
                   augment: Augmentation, mirror_prob: float = 0.5, bank: torch.Tensor | None = None) -> Windows:
    """Clean ground-truth windows with every augmentation applied (speed, mirror, upper-body
    swap, body shape drawn from `bank`, see rohm.training.augment.shape_bank)."""
    w = store.sample(batch_size, window, rng, speed=augment.draw_speed(rng))
    if rng.random() < mirror_prob:
        w = mirror(w)
    w = swap_upper_body(w, augment.upper_swap_prob, rng)
    if bank is None or augment.shape_prob <= 0:
        return w
    return reshape(w, body, augment.shape_prob, rng, store.fps, bank)


def make_batch(store: ClipStore, body: BodyModel, normalizer: Normalizer, batch_size: int, window: int,
               noise: float, mask_scheme: str, rng: np.random.Generator, gen: torch.Generator,
               mirror_prob: float = 0.5, augment: Augmentation = Augmentation(),
               bank: torch.Tensor | None = None) -> Batch:
    """Sample, augment, corrupt and encode one batch."""
    layout: FeatureLayout = normalizer.layout
    w = sample_windows(store, body, batch_size, window, rng, augment, mirror_prob, bank)
    noisy = add_noise(w, noise, gen)
    with torch.no_grad():
        rest = body.rest_joints(w.betas)
    # The shape noise reaches the betas features, not the joints: the joints' bone-length noise
    # of 0.01k in phenotype is a few mm, and every noisy shape would cost a rest mesh of its own.
    noisy_rest = rest
    joints, _ = forward_kinematics(rest[:, None], w.root_orient, w.pose_body, w.trans)
    noisy_joints, _ = forward_kinematics(noisy_rest[:, None], noisy.root_orient, noisy.pose_body, noisy.trans)
    mask = torch.from_numpy(make_mask(mask_scheme, batch_size, window, rng)) & w.valid[..., None]
    mask[:, 0, 0] |= ~mask[:, :, 0].any(dim=1)  # keep one pelvis observation to anchor the frame
    frames = [canonical_frame(noisy_joints[b].numpy(), mask[b].numpy(), noisy.root_orient[b].numpy(), floor_height=0.0)
              for b in range(batch_size)]
    joints, orient, trans = apply_frames(joints, w.root_orient, w.trans, rest[:, 0], frames)
    n_joints, n_orient, n_trans = apply_frames(noisy_joints, noisy.root_orient, noisy.trans, noisy_rest[:, 0], frames)
    target = normalizer.normalize(encode(joints, orient, trans, w.pose_body, w.betas, w.contacts, layout))
    noisy_feats = normalizer.normalize(encode(n_joints, n_orient, n_trans, noisy.pose_body, noisy.betas,
                                              torch.zeros_like(w.contacts), layout))
    fmask = feature_mask(mask, layout)
    cond = torch.where(fmask, noisy_feats, torch.zeros_like(noisy_feats))
    f32 = torch.float32
    return Batch(target.to(f32), cond.to(f32), fmask.to(f32), mask.to(f32), w.valid, rest.to(f32),
                 joints.to(f32), w.contacts.to(f32))


def fit_augmented_normalizer(store: ClipStore, body: BodyModel, layout: FeatureLayout, windows: int, window: int,
                             augment: Augmentation, rng: np.random.Generator, bank: torch.Tensor | None = None,
                             chunk: int = 128) -> Normalizer:
    """Feature statistics of `windows` clean, augmented training windows, each in its own
    canonical frame as the networks see them: the distribution training actually draws from,
    not just the two body shapes of the build."""
    features = []
    for start in range(0, windows, chunk):
        w = sample_windows(store, body, min(chunk, windows - start), window, rng, augment, bank=bank)
        with torch.no_grad():
            rest = body.rest_joints(w.betas)
        joints, _ = forward_kinematics(rest[:, None], w.root_orient, w.pose_body, w.trans)
        full = np.ones(joints.shape[:3], dtype=bool)
        frames = [canonical_frame(joints[b].numpy(), full[b], w.root_orient[b].numpy(), floor_height=0.0)
                  for b in range(joints.shape[0])]
        joints, orient, trans = apply_frames(joints, w.root_orient, w.trans, rest[:, 0], frames)
        feats = encode(joints, orient, trans, w.pose_body, w.betas, w.contacts, layout)
        features.append(feats[w.valid].numpy())
    return Normalizer.fit(features, layout)
