"""Training augmentations: re-timing, upper-body swaps, body re-shaping, augmented statistics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.body.cache import CachedBody
from rohm.body.kinematics import forward_kinematics
from rohm.body.shape import leg_length
from rohm.representation import Normalizer
from rohm.skeleton import FOOT_JOINTS, LOWER_BODY
from rohm.training.augment import Augmentation, reshape, shape_bank, swap_upper_body
from rohm.training.batch import fit_augmented_normalizer
from rohm.training.clips import ClipStore


@pytest.fixture(scope="module")
def store(built_dataset: Path) -> ClipStore:
    return ClipStore(built_dataset, "train")


def test_retimed_windows_follow_the_clip(store: ClipStore) -> None:
    clips, starts = np.array([0, 1]), np.array([0, 2])
    normal = store.windows(clips, starts, 40)
    assert torch.equal(store.windows(clips, starts, 40, speed=1.0).pose_body, normal.pose_body)
    double = store.windows(clips, starts, 20, speed=2.0)
    assert torch.allclose(double.trans, normal.trans[:, ::2], atol=1e-9)
    assert torch.allclose(double.pose_body, normal.pose_body[:, ::2], atol=1e-6)
    half = store.windows(clips, starts, 40, speed=0.5)
    # Frame 2i+1 at half speed lies between source frames i and i+1.
    between = 0.5 * (normal.trans[:, :19] + normal.trans[:, 1:20])
    assert torch.allclose(half.trans[:, 1:39:2], between, atol=1e-9)
    assert not torch.allclose(half.trans[:, 1:39:2], normal.trans[:, :19], atol=1e-4)


def test_speed_draws_cover_the_range() -> None:
    aug = Augmentation(speed_prob=1.0)
    rng = np.random.default_rng(0)
    speeds = np.array([aug.draw_speed(rng) for _ in range(400)])
    assert speeds.min() >= 0.75 and speeds.max() <= 1.33
    assert speeds.min() < 0.8 and speeds.max() > 1.25
    assert Augmentation().draw_speed(rng) == 1.0


def test_upper_body_swap_keeps_legs_and_trajectory(store: ClipStore) -> None:
    w = store.sample(6, 30, np.random.default_rng(3))
    swapped = swap_upper_body(w, 1.0, np.random.default_rng(4))
    pose, new = w.pose_body.unflatten(-1, (21, 3)), swapped.pose_body.unflatten(-1, (21, 3))
    legs = [j - 1 for j in LOWER_BODY]
    assert torch.equal(pose[:, :, legs], new[:, :, legs])
    assert torch.equal(w.trans, swapped.trans) and torch.equal(w.root_orient, swapped.root_orient)
    assert not torch.equal(pose, new)
    assert swap_upper_body(w, 0.0, np.random.default_rng(4)) is w


def test_reshape_keeps_feet_planted_on_the_floor(store: ClipStore) -> None:
    body = load_body("anny")
    w = store.sample(8, 60, np.random.default_rng(5))
    bank = shape_bank(body, 16, seed=1)
    new = reshape(w, body, 1.0, np.random.default_rng(6), store.fps, bank)
    assert all(any(torch.equal(b, row) for row in bank) for b in new.betas)
    assert ((new.betas >= 0) & (new.betas <= 1)).all() and not torch.allclose(new.betas, w.betas)
    old_rest, new_rest = body.rest_joints(w.betas), body.rest_joints(new.betas)
    ratio = leg_length(new_rest) / leg_length(old_rest)
    assert torch.allclose(new.trans[..., [0, 2]], w.trans[..., [0, 2]] * ratio[:, None, None])
    old_j, _ = forward_kinematics(old_rest[:, None], w.root_orient, w.pose_body, w.trans)
    new_j, _ = forward_kinematics(new_rest[:, None], new.root_orient, new.pose_body, new.trans)
    feet_old, feet_new = old_j[..., list(FOOT_JOINTS), 1], new_j[..., list(FOOT_JOINTS), 1]
    assert torch.allclose(feet_old.amin(dim=(1, 2)), feet_new.amin(dim=(1, 2)), atol=1e-9)
    # Where the original foot was planted, the re-shaped foot stays nearly still too.
    speed = (new_j[:, 1:, list(FOOT_JOINTS)] - new_j[:, :-1, list(FOOT_JOINTS)]).norm(dim=-1) * store.fps
    planted = w.contacts[:, 1:].bool() & w.valid[:, 1:, None]
    assert planted.any() and speed[planted].median() < 0.2
    assert ((new.contacts == 0) | (new.contacts == 1)).all()
    untouched = reshape(w, body, 0.0, np.random.default_rng(6), store.fps, bank)
    assert untouched is w


def test_augmented_statistics_cover_other_bodies(built_dataset: Path, store: ClipStore) -> None:
    body = load_body("anny")
    data_stats = Normalizer.load(built_dataset / "normalization.safetensors")
    bank = shape_bank(body, 64, seed=0)
    aug = fit_augmented_normalizer(store, body, data_stats.layout, 64, 32, Augmentation(shape_prob=1.0),
                                   np.random.default_rng(0), bank)
    betas = data_stats.layout.betas
    assert (aug.std[betas] > 0.2).all()  # uniform over [0, 1]: 0.29
    assert (aug.std[data_stats.layout.r_z] > data_stats.std[data_stats.layout.r_z]).all()
    plain = fit_augmented_normalizer(store, body, data_stats.layout, 64, 32, replace(Augmentation(), shape_prob=0.0),
                                     np.random.default_rng(0), bank)
    assert (plain.std[betas] < 0.1).all()


def test_cached_body_returns_the_same_rest_joints() -> None:
    body = load_body("anny")
    cached = CachedBody(body)
    betas = shape_bank(body, 4, seed=3)
    twice = torch.cat([betas, betas[:2]])
    out = cached.rest_joints(twice)
    assert torch.allclose(out, body.rest_joints(twice), atol=1e-12)
    assert len(cached._rest) == 4
    assert torch.equal(cached.rest_joints(betas[2:3])[0], out[2])
