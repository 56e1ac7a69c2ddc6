"""Foot locking: pinned contacts, smooth fades, bone lengths and body parameters kept consistent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.body.contacts import foot_contacts
from rohm.body.kinematics import forward_kinematics
from rohm.errors import RohmError
from rohm.inference.foot_lock import (
    BLEND,
    MAX_DROP,
    contact_spans,
    lock_feet,
    pin_displacement,
    place_knee,
)
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import FOOT_JOINTS, LOWER_BODY, NUM_JOINTS, PARENTS


def test_contact_spans_close_short_breaks_and_drop_single_frames() -> None:
    labels = np.array([0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0], bool)
    assert contact_spans(labels) == [(1, 6), (9, 11)]


def test_pin_is_constant_in_the_span_and_fades_out() -> None:
    positions = np.stack([np.arange(30) * 0.01, np.zeros(30), np.zeros(30)], axis=1)
    labels = np.zeros(30, bool)
    labels[10:16] = True
    shift, weight = pin_displacement(positions, labels, 1.0)
    pinned = positions + shift
    assert np.allclose(pinned[10:16], pinned[10])  # no motion inside the span
    assert np.all(weight[10:16] == 1.0)
    assert np.all(weight[:10 - BLEND - 1] == 0) and np.all(weight[16 + BLEND:] == 0)
    assert np.all(np.diff(weight[:11]) >= 0) and np.all(np.diff(weight[15:]) <= 0)  # fades, no jumps
    speed = np.diff(pinned[:, 0])
    assert np.abs(speed).max() < 0.025  # at most 2.5x the original speed while the pin fades
    assert np.abs(np.diff(speed)).max() < 0.01  # and no velocity jump


def test_a_span_needing_more_than_max_shift_is_left_alone() -> None:
    positions = np.stack([np.arange(30) * 0.01, np.zeros(30), np.zeros(30)], axis=1)
    labels = np.zeros(30, bool)
    labels[10:16] = True  # the joint travels 5 cm in the span: 2.5 cm from its mean at the ends
    shift, weight = pin_displacement(positions, labels, 0.02)
    assert not shift.any() and not weight.any()
    assert pin_displacement(positions, labels, 0.03)[1].max() == 1.0


def test_place_knee_keeps_bone_lengths_and_bend_plane() -> None:
    rng = np.random.default_rng(0)
    hip = rng.normal(size=(50, 3))
    ankle = hip + rng.normal(size=(50, 3)) * 0.3
    knee = hip + np.array([0.0, -0.4, 0.1])
    new = place_knee(hip, knee, ankle, 0.42, 0.40)
    assert np.allclose(np.linalg.norm(new - hip, axis=-1), 0.42, atol=1e-6)
    reach = np.linalg.norm(ankle - hip, axis=-1)
    ok = (reach < 0.81) & (reach > 0.03)
    assert np.allclose(np.linalg.norm(new - ankle, axis=-1)[ok], 0.40, atol=1e-6)
    normal = np.cross(ankle - hip, knee - hip)  # the new knee stays in the old bending plane
    assert np.allclose((normal * (new - hip)).sum(-1), 0.0, atol=1e-6)


@pytest.fixture(scope="module")
def skating_clip(built_dataset: Path) -> tuple[Motion, torch.Tensor]:
    """A real clip whose whole body slides sideways by up to 4 cm, with the true contacts."""
    gt = load_motion(sorted(built_dataset.glob("*/*.npz"))[0])
    body = load_body("anny")
    rest = body.rest_joints(torch.as_tensor(gt.betas, dtype=torch.float64)[None])[0]
    contacts = foot_contacts(gt.joints, gt.fps).astype(np.float64)
    slide = np.zeros((gt.num_frames, 3))
    slide[:, 0] = 0.04 * np.sin(np.arange(gt.num_frames) / 6.0)
    moved = dataclasses.replace(gt, joints=gt.joints + slide[:, None], trans=gt.trans + slide, contacts=contacts)
    return moved, rest


def test_lock_feet_stops_sliding_and_keeps_one_body(skating_clip: tuple[Motion, torch.Tensor]) -> None:
    motion, rest = skating_clip
    assert motion.contacts.any()
    upper = [j for j in range(NUM_JOINTS) if j not in LOWER_BODY]
    assert np.allclose(lock_feet(motion, rest).joints[:, upper], motion.joints[:, upper], atol=2e-3)  # no drop: legs only
    with pytest.raises(RohmError, match="max_drop"):
        lock_feet(motion, rest, max_drop=0.5)
    out = lock_feet(motion, rest, max_drop=MAX_DROP)
    inside = np.zeros_like(motion.contacts, dtype=bool)  # frames inside a span, not at its edges
    for k in range(4):
        for a, b in contact_spans(motion.contacts[:, k] > 0.5):
            inside[a + 1:b, k] = True
    for k, j in enumerate(FOOT_JOINTS):
        if not inside[:, k].any():
            continue
        before = np.linalg.norm(np.diff(motion.joints[:, j], axis=0), axis=-1)[inside[1:, k]]
        after = np.linalg.norm(np.diff(out.joints[:, j], axis=0), axis=-1)[inside[1:, k]]
        assert after.mean() < 0.25 * before.mean(), (j, before.mean(), after.mean())
    moved = out.joints[:, upper] - motion.joints[:, upper]  # the upper body is at most lowered a little
    assert np.abs(moved[..., [0, 2]]).max() < 2e-3
    assert np.all(moved[..., 1] <= 1e-6) and np.all(moved[..., 1] >= -MAX_DROP - 1e-6)
    bones = [(j, p) for j, p in enumerate(PARENTS) if p >= 0]
    length = lambda x: np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for j, p in bones], 1)  # noqa: E731
    assert np.allclose(length(out.joints), length(motion.joints), atol=1e-4)
    fk, _ = forward_kinematics(rest, torch.as_tensor(out.root_orient), torch.as_tensor(out.pose_body),
                               torch.as_tensor(out.trans))
    assert np.allclose(fk.numpy(), out.joints, atol=1e-6)


def test_lock_feet_leaves_a_motion_without_contacts_alone(skating_clip: tuple[Motion, torch.Tensor]) -> None:
    motion, rest = skating_clip
    up = np.array([0.0, 1.0, 0.0])  # no contact labels and the feet far above the floor: nothing to pin
    none = dataclasses.replace(motion, contacts=np.zeros_like(motion.contacts), joints=motion.joints + up,
                               trans=motion.trans + up)
    assert lock_feet(none, rest) is none
    assert lock_feet(dataclasses.replace(motion, contacts=None), rest).contacts is None
