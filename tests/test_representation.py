"""Motion features (Eq. 4-5): exact round trips on anny motions, no lost frames,
unwrapped heading, feature masks and NaN that stays in its own columns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import roma
import torch

from rohm.body import BodyModel, load_body
from rohm.body.contacts import foot_contacts
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.representation import (
    FeatureLayout,
    canonicalize,
    decode,
    encode,
    feature_mask,
    features_to_motion,
    motion_to_features,
    unwrap_angle,
)
from rohm.skeleton import JOINT_INDEX, NUM_JOINTS

LAYOUT = FeatureLayout(num_betas=6)
KNEE = JOINT_INDEX["left_knee"]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body("anny")


def _yaw_rotvecs(yaw: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    turn = roma.rotvec_to_rotmat(torch.as_tensor(np.stack([0 * yaw, yaw, 0 * yaw], -1)))
    return roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(torch.as_tensor(tilt))).numpy()


def walking_motion(
    body: BodyModel, n: int = 60, yaw_rate: float = 1.5, speed: float = 1.2, seed: int = 0
) -> Motion:
    """An anny clip moving forward while turning through +-pi, with small, smoothly varying
    random joint rotations, away from the origin and above the floor."""
    rng = np.random.default_rng(seed)
    fps = 30.0
    t = np.arange(n) / fps
    yaw = 2.6 + yaw_rate * t
    root_orient = _yaw_rotvecs(yaw, rng.normal(0, 0.05, (n, 3)))
    step = speed / fps * np.stack([np.sin(yaw), 0 * t, np.cos(yaw)], -1)
    trans = np.array([3.0, 1.3, -2.0]) + np.cumsum(step, 0)
    trans[:, 1] += 0.02 * np.sin(8 * t)
    amplitude, freq, phase = rng.normal(0, 0.15, 63), rng.uniform(0.2, 1.0, 63), rng.uniform(0, 2 * np.pi, 63)
    pose_body = amplitude * np.sin(2 * np.pi * freq * t[:, None] + phase)
    betas = np.full(6, 0.5)
    joints = body(torch.as_tensor(betas), torch.as_tensor(root_orient), torch.as_tensor(pose_body),
                  torch.as_tensor(trans)).joints.numpy()
    return Motion(joints=joints, fps=fps, trans=trans, root_orient=root_orient, pose_body=pose_body, betas=betas)


def _encode_canonical(motion: Motion, contacts: np.ndarray | None = None) -> torch.Tensor:
    t = torch.as_tensor
    return encode(t(motion.joints), t(motion.root_orient), t(motion.trans), t(motion.pose_body),
                  t(motion.betas), None if contacts is None else t(contacts), LAYOUT, fps=motion.fps)


def _rotmats(rotvec: np.ndarray) -> np.ndarray:
    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec).reshape(-1, 3)).numpy()


def test_layout_blocks() -> None:
    assert LAYOUT.dim == 25 + 256 + 6
    assert LAYOUT.traj == slice(0, 25) and LAYOUT.local == slice(25, LAYOUT.dim)
    assert (LAYOUT.joints.stop - LAYOUT.joints.start, LAYOUT.rotations.stop - LAYOUT.rotations.start) == (63, 126)
    cols = np.arange(LAYOUT.dim)
    expected = np.concatenate([cols[s] for s in (LAYOUT.r_l, LAYOUT.r_a, LAYOUT.r_z, LAYOUT.gamma, LAYOUT.phi)])
    assert list(LAYOUT.traj_abs) == list(expected) and len(LAYOUT.traj_abs) == 13
    assert FeatureLayout(10).dim == 291


@pytest.mark.parametrize("n", [1, 2, 37, 60])
def test_round_trip_keeps_every_frame(body: BodyModel, n: int) -> None:
    motion = walking_motion(body, n)
    feats, frame = motion_to_features(motion, LAYOUT, np.zeros(3))
    assert feats.shape == (n, LAYOUT.dim)
    back = features_to_motion(feats, LAYOUT, body, frame, motion.fps)
    assert back.num_frames == n
    np.testing.assert_allclose(back.joints, motion.joints, atol=1e-4)
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-6)
    np.testing.assert_allclose(_rotmats(back.root_orient), _rotmats(motion.root_orient), atol=1e-6)
    np.testing.assert_allclose(_rotmats(back.pose_body), _rotmats(motion.pose_body), atol=1e-6)
    np.testing.assert_allclose(back.betas, motion.betas, atol=1e-12)
    if n == 1:
        velocity = [LAYOUT.dr_l, LAYOUT.dr_a, LAYOUT.dgamma, LAYOUT.dphi, LAYOUT.joint_vel]
        assert all((feats[:, s] == 0).all() for s in velocity)


def test_velocities_are_frame_differences(body: BodyModel) -> None:
    feats, _ = motion_to_features(walking_motion(body, 9), LAYOUT, np.zeros(3))
    for pos, vel in ((LAYOUT.r_l, LAYOUT.dr_l), (LAYOUT.gamma, LAYOUT.dgamma), (LAYOUT.joints, LAYOUT.joint_vel)):
        np.testing.assert_allclose(feats[1:, vel], np.diff(feats[:, pos], axis=0), atol=1e-12)
        np.testing.assert_array_equal(feats[0, vel], feats[1, vel])


def test_joint_block_decodes_to_body_joints(body: BodyModel) -> None:
    motion = walking_motion(body)
    canon, _ = canonicalize(motion, np.zeros(3))
    feats = _encode_canonical(canon)
    out = decode(feats, LAYOUT)
    np.testing.assert_allclose(out["joints_local"].numpy(), canon.joints, atol=1e-5)
    posed = body(out["betas"], out["root_orient"], out["pose_body"], out["trans"]).joints
    np.testing.assert_allclose(out["joints_local"].numpy(), posed.numpy(), atol=1e-5)


def test_heading_is_unwrapped_for_a_spinning_motion(body: BodyModel) -> None:
    spin = 12.0  # rad/s: several full turns in 60 frames
    motion = walking_motion(body, 60, yaw_rate=spin)
    feats, _ = motion_to_features(motion, LAYOUT, np.zeros(3))
    heading = feats[:, LAYOUT.r_a][:, 0]
    steps = np.diff(heading)
    assert np.abs(steps).max() < np.pi
    assert heading[-1] - heading[0] > 3 * 2 * np.pi  # the turns add up instead of wrapping
    np.testing.assert_allclose(feats[1:, LAYOUT.dr_a][:, 0], steps, atol=1e-12)


def test_unwrap_skips_missing_frames() -> None:
    raw = torch.tensor([3.0, -3.1, float("nan"), 3.0, -3.0], dtype=torch.float64)
    out = unwrap_angle(raw)
    expected = torch.tensor([3.0, 2 * np.pi - 3.1, float("nan"), 3.0, 2 * np.pi - 3.0], dtype=torch.float64)
    assert torch.allclose(out, expected, equal_nan=True)


def test_encode_and_decode_are_batched(body: BodyModel) -> None:
    motions = [canonicalize(walking_motion(body, 12, seed=s), np.zeros(3))[0] for s in range(3)]
    single = torch.stack([_encode_canonical(m) for m in motions])
    t = torch.as_tensor
    batched = encode(*(t(np.stack([getattr(m, k) for m in motions])) for k in
                       ("joints", "root_orient", "trans", "pose_body", "betas")), None, LAYOUT, fps=30.0)
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-12)
    assert decode(batched[None], LAYOUT)["joints_local"].shape == (1, 3, 12, NUM_JOINTS, 3)


def test_decode_is_differentiable() -> None:
    feats = torch.randn(2, 3, LAYOUT.dim, dtype=torch.float64, requires_grad=True)
    keys = ("joints_local", "root_rotmat", "pose_rotmat", "pose_body", "trans", "betas")
    assert torch.autograd.gradcheck(lambda f: tuple(decode(f, LAYOUT)[k] for k in keys), (feats,), fast_mode=True)


def test_contacts_follow_the_velocity_height_rule(body: BodyModel) -> None:
    canon, _ = canonicalize(walking_motion(body, speed=0.0, yaw_rate=0.0), np.zeros(3))
    feats = _encode_canonical(canon).numpy()
    labels = foot_contacts(canon.joints, canon.fps)
    assert labels.any() and not labels.all()
    np.testing.assert_array_equal(feats[:, LAYOUT.contacts], labels.astype(float))
    given = np.zeros((canon.num_frames, 4))
    given[::3] = 1.0
    np.testing.assert_array_equal(_encode_canonical(canon, given).numpy()[:, LAYOUT.contacts], given)


def test_feature_mask_pelvis_knee_and_velocity_frames() -> None:
    n = 6
    joint_mask = np.ones((n, NUM_JOINTS), dtype=bool)
    joint_mask[2, 0] = False
    joint_mask[4, KNEE] = False
    mask = feature_mask(joint_mask, LAYOUT)
    assert isinstance(mask, np.ndarray) and mask.shape == (n, LAYOUT.dim)
    positions = [LAYOUT.r_l, LAYOUT.r_a, LAYOUT.r_z, LAYOUT.gamma, LAYOUT.phi]
    velocities = [LAYOUT.dr_l, LAYOUT.dr_a, LAYOUT.dgamma, LAYOUT.dphi]
    for s in positions:
        assert not mask[2, s].any() and mask[[0, 1, 3, 4, 5], s].all()
    for s in velocities:  # frame 2 is used by the velocities of frames 2 and 3
        assert not mask[[2, 3], s].any() and mask[[0, 1, 4, 5], s].all()
    assert not mask[2, LAYOUT.joints].any()  # pelvis-relative positions need the pelvis
    assert mask[2, LAYOUT.rotations].all()

    knee = LAYOUT.joint_columns(KNEE)
    assert knee.size == 12
    expected = np.ones(LAYOUT.dim, dtype=bool)
    expected[knee] = False
    expected[LAYOUT.contacts] = False
    np.testing.assert_array_equal(mask[4], expected)
    knee_vel = np.intersect1d(knee, np.arange(LAYOUT.dim)[LAYOUT.joint_vel])
    assert knee_vel.size == 3
    assert not mask[5, knee_vel].any() and mask[5, np.setdiff1d(knee, knee_vel)].all()
    assert mask[:, LAYOUT.betas].all() and not mask[:, LAYOUT.contacts].any()

    first = np.ones((n, NUM_JOINTS), dtype=bool)
    first[1, KNEE] = False  # frame 0's velocity is frame 1's
    assert not feature_mask(first, LAYOUT)[0, knee_vel].any()
    as_torch = feature_mask(torch.as_tensor(joint_mask)[None].expand(2, n, NUM_JOINTS), LAYOUT)
    assert isinstance(as_torch, torch.Tensor) and (as_torch.numpy() == mask).all()


@pytest.mark.parametrize("joint", [KNEE, 0])
def test_nan_stays_in_the_masked_columns(body: BodyModel, joint: int) -> None:
    canon, _ = canonicalize(walking_motion(body, 20), np.zeros(3))
    motion = dataclasses.replace(canon, joints=canon.joints.copy(), trans=canon.trans.copy(),
                                 root_orient=canon.root_orient.copy())
    frames = [0, 9]
    motion.joints[frames, joint] = np.nan
    if joint == 0:  # a missing joint's parameters are missing too
        motion.trans[frames] = np.nan
        motion.root_orient[frames] = np.nan
    else:
        motion.pose_body = motion.pose_body.copy()
        motion.pose_body[frames, 3 * (joint - 1): 3 * joint] = np.nan
    feats = _encode_canonical(motion).numpy()
    observed = ~np.isnan(motion.joints).any(-1)
    mask = feature_mask(observed, LAYOUT)
    rest = np.setdiff1d(np.arange(LAYOUT.dim), np.arange(LAYOUT.dim)[LAYOUT.contacts])
    assert np.isnan(feats).any()
    np.testing.assert_array_equal(np.isnan(feats[:, rest]), ~mask[:, rest])
    assert not np.isnan(feats[:, LAYOUT.contacts]).any()  # the knee and pelvis are not foot joints


def test_bad_inputs_are_reported(body: BodyModel) -> None:
    motion = walking_motion(body, 5)
    t = torch.as_tensor
    with pytest.raises(ValueError, match="fps"):
        encode(t(motion.joints), t(motion.root_orient), t(motion.trans), t(motion.pose_body),
               t(motion.betas), None, LAYOUT)
    with pytest.raises(ValueError, match="betas"):
        encode(t(motion.joints), t(motion.root_orient), t(motion.trans), t(motion.pose_body),
               t(np.zeros(10)), None, LAYOUT, fps=30.0)
    with pytest.raises(RohmError, match="body parameters"):
        motion_to_features(Motion(joints=motion.joints, fps=30.0), LAYOUT, np.zeros(3))
