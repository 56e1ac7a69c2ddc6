"""Tests for rohm.corruption: the paper's noisy / occluded test inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.io.motion_file import Motion, load_motion, save_motion
from rohm.skeleton import JOINT_INDEX, LOWER_BODY, NUM_JOINTS

BETAS = 0.5 * np.ones(6)


def make_motion(n: int, seed: int = 0) -> Motion:
    """An anny motion: small random poses, walking forward along +z at 1 m/s."""
    rng = np.random.default_rng(seed)
    root_orient = rng.normal(0.0, 0.05, size=(n, 3))
    pose_body = rng.normal(0.0, 0.15, size=(n, 63))
    trans = np.stack([np.zeros(n), np.full(n, 0.95), np.arange(n) / 30.0], axis=1)
    with torch.no_grad():
        joints = load_body("anny")(torch.as_tensor(BETAS), torch.as_tensor(root_orient),
                                   torch.as_tensor(pose_body), torch.as_tensor(trans)).joints.numpy()
    contacts = np.zeros((n, 4))
    return Motion(joints=joints, fps=30.0, trans=trans, root_orient=root_orient, pose_body=pose_body,
                  betas=BETAS.copy(), body_model="anny", contacts=contacts, extras={"source": np.str_("synthetic")})


@pytest.fixture(scope="module")
def motion() -> Motion:
    return make_motion(60)


@pytest.fixture(scope="module")
def long_motion() -> Motion:
    return make_motion(500, seed=1)


def test_same_seed_same_output_other_seed_differs(motion: Motion) -> None:
    a = corrupt_motion(motion, 2.0, "frames-10", seed=7)
    b = corrupt_motion(motion, 2.0, "frames-10", seed=7)
    c = corrupt_motion(motion, 2.0, "frames-10", seed=8)
    for key in ("joints", "trans", "root_orient", "pose_body", "joint_mask"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    both = ~np.isnan(a.pose_body) & ~np.isnan(c.pose_body)
    assert not np.allclose(a.pose_body[both], c.pose_body[both])


def test_noise_magnitude_matches_level(long_motion: Motion) -> None:
    k = 3.0
    out = corrupt_motion(long_motion, k, "none", seed=0)
    rad = np.deg2rad(k)
    assert np.std(out.root_orient - long_motion.root_orient) == pytest.approx(rad, rel=0.2)
    assert np.std(out.pose_body - long_motion.pose_body) == pytest.approx(rad, rel=0.2)
    assert np.std(out.trans - long_motion.trans) == pytest.approx(0.01 * k, rel=0.2)
    assert abs(np.mean(out.pose_body - long_motion.pose_body)) < 0.1 * rad


def test_zero_noise_reproduces_joints(motion: Motion) -> None:
    out = corrupt_motion(motion, 0.0, "none", seed=3)
    np.testing.assert_allclose(out.joints, motion.joints, atol=1e-9)
    assert out.joint_mask.all()


def test_noise_accumulates_along_tree(long_motion: Motion) -> None:
    out = corrupt_motion(long_motion, 2.0, "none", seed=0)
    err = np.linalg.norm(out.joints - long_motion.joints, axis=-1).mean(axis=0)
    pelvis, wrist = err[JOINT_INDEX["pelvis"]], err[JOINT_INDEX["left_wrist"]]
    assert err[JOINT_INDEX["right_wrist"]] > 1.5 * pelvis
    assert wrist > 1.5 * pelvis
    assert wrist > err[JOINT_INDEX["left_elbow"]] > err[JOINT_INDEX["left_collar"]]


def test_lower_occlusion_masks_exactly_lower_body(motion: Motion) -> None:
    out = corrupt_motion(motion, 1.0, "lower", seed=0)
    lower = np.zeros(NUM_JOINTS, dtype=bool)
    lower[list(LOWER_BODY)] = True
    np.testing.assert_array_equal(out.joint_mask, np.broadcast_to(~lower, out.joint_mask.shape))
    np.testing.assert_array_equal(np.isnan(out.joints).all(axis=-1), ~out.joint_mask)
    assert not np.isnan(out.joints[:, ~lower]).any()
    pose_nan = np.isnan(out.pose_body).reshape(-1, NUM_JOINTS - 1, 3).all(axis=-1)
    np.testing.assert_array_equal(pose_nan, np.broadcast_to(lower[1:], pose_nan.shape))
    assert not np.isnan(out.pose_body.reshape(-1, NUM_JOINTS - 1, 3)[:, ~lower[1:]]).any()
    assert np.isfinite(out.trans).all() and np.isfinite(out.root_orient).all()


@pytest.mark.parametrize("n, expected", [(60, 6), (25, 3), (5, 1)])
def test_frames_occlusion_masks_one_contiguous_run(n: int, expected: int) -> None:
    m = make_motion(n)
    starts = set()
    for seed in range(8):
        out = corrupt_motion(m, 1.0, "frames-10", seed=seed)
        hidden = np.flatnonzero(~out.joint_mask.any(axis=1))
        assert len(hidden) == expected
        assert (np.diff(hidden) == 1).all()
        assert out.joint_mask[np.setdiff1d(np.arange(n), hidden)].all()
        for key in ("joints", "trans", "root_orient", "pose_body"):
            value = getattr(out, key)
            nan_rows = np.isnan(value).reshape(n, -1)
            assert nan_rows[hidden].all(), key
            assert not np.delete(nan_rows, hidden, axis=0).any(), key
        starts.add(int(hidden[0]))
    assert len(starts) > 1  # the position comes from the seed


def test_input_untouched_and_outputs_labelled(motion: Motion) -> None:
    before = copy.deepcopy(motion)
    out = corrupt_motion(motion, 5.0, "lower", seed=1)
    for key in ("joints", "trans", "root_orient", "pose_body", "betas", "contacts"):
        np.testing.assert_array_equal(getattr(motion, key), getattr(before, key))
    assert motion.joint_mask is None
    assert out.contacts is None
    assert out.extras["corrupt_noise"] == 5.0
    assert str(out.extras["corrupt_occlusion"]) == "lower"
    assert out.extras["corrupt_seed"] == 1
    assert str(out.extras["source"]) == "synthetic"


def test_existing_mask_is_kept(motion: Motion) -> None:
    masked = copy.deepcopy(motion)
    masked.joint_mask = np.ones((motion.num_frames, NUM_JOINTS), dtype=bool)
    masked.joint_mask[:, JOINT_INDEX["head"]] = False
    out = corrupt_motion(masked, 1.0, "lower", seed=0)
    assert not out.joint_mask[:, JOINT_INDEX["head"]].any()
    assert np.isnan(out.joints[:, JOINT_INDEX["head"]]).all()


def test_round_trip_through_file(motion: Motion, tmp_path) -> None:
    out = corrupt_motion(motion, 2.0, "frames-10", seed=4)
    back = load_motion(save_motion(out, tmp_path / "noisy.npz"))
    np.testing.assert_array_equal(back.joint_mask, out.joint_mask)
    np.testing.assert_array_equal(back.joints, out.joints)
    assert str(back.extras["corrupt_occlusion"]) == "frames-10"
    assert float(back.extras["corrupt_noise"]) == 2.0


def test_errors(motion: Motion) -> None:
    with pytest.raises(RohmError, match="unknown occlusion 'upper'"):
        corrupt_motion(motion, 1.0, "upper", seed=0)
    with pytest.raises(RohmError, match="non-negative"):
        corrupt_motion(motion, -1.0, "none", seed=0)
    with pytest.raises(RohmError, match="seed"):
        corrupt_motion(motion, 1.0, "none", seed=-3)
    joints_only = Motion(joints=motion.joints.copy(), fps=30.0)
    with pytest.raises(RohmError, match="no body parameters"):
        corrupt_motion(joints_only, 1.0, "none", seed=0)
    with pytest.raises(RohmError, match="at least 2 frames"):
        corrupt_motion(make_motion(1), 1.0, "frames-10", seed=0)
