"""Canonical frame: first pelvis at the origin on the floor facing +z, exact inverse,
SMPL-X-correct parameter transform with a rest pelvis away from the origin."""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from rohm.body.kinematics import forward_kinematics
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.representation import CanonicalFrame, canonical_frame, canonicalize
from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX

# A T-posed 22-joint rest skeleton facing +z (left side at +x) whose pelvis is NOT
# at the origin, like an SMPL-X body.
_T_POSE = np.array([
    [0.00, 0.00, 0.00], [0.10, -0.08, 0.02], [-0.10, -0.08, 0.02], [0.00, 0.05, 0.00],
    [0.10, -0.47, 0.02], [-0.10, -0.47, 0.02], [0.00, 0.11, 0.00], [0.10, -0.86, 0.02],
    [-0.10, -0.86, 0.02], [0.00, 0.18, -0.01], [0.10, -0.91, 0.14], [-0.10, -0.91, 0.14],
    [0.00, 0.42, -0.01], [0.02, 0.39, 0.04], [-0.02, 0.39, 0.04], [0.00, 0.54, 0.03],
    [0.15, 0.39, -0.01], [-0.15, 0.39, -0.01], [0.40, 0.39, -0.01], [-0.40, 0.39, -0.01],
    [0.65, 0.39, -0.01], [-0.65, 0.39, -0.01],
])
REST = _T_POSE + np.array([0.03, 0.35, -0.02])


def _rotvecs(yaw: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """Root axis-angles: a yaw about +y after a small tilt."""
    turn = roma.rotvec_to_rotmat(torch.as_tensor(np.stack([0 * yaw, yaw, 0 * yaw], -1)))
    return roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(torch.as_tensor(tilt))).numpy()


def _motion(n: int = 40, seed: int = 0) -> Motion:
    """A turning, walking clip posed by FK on REST, far from the origin."""
    rng = np.random.default_rng(seed)
    yaw = 2.0 + 0.08 * np.arange(n)
    root_orient = _rotvecs(yaw, rng.normal(0, 0.05, (n, 3)))
    trans = np.array([4.0, 1.1, -3.0]) + np.cumsum(0.04 * np.stack([np.sin(yaw), 0 * yaw, np.cos(yaw)], -1), 0)
    pose_body = rng.normal(0, 0.1, (n, 63))
    joints, _ = forward_kinematics(torch.as_tensor(REST), torch.as_tensor(root_orient),
                                   torch.as_tensor(pose_body), torch.as_tensor(trans))
    return Motion(joints=joints.numpy(), fps=30.0, trans=trans, root_orient=root_orient,
                  pose_body=pose_body, betas=np.zeros(10), body_model="smplx")


def _facing(joints: np.ndarray, left: int, right: int) -> np.ndarray:
    return np.cross(joints[left] - joints[right], [0.0, 1.0, 0.0])


def _rotmats(rotvec: np.ndarray) -> np.ndarray:
    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec)).numpy()


def test_canonical_motion_starts_at_origin_on_floor_facing_z() -> None:
    motion = _motion()
    original = motion.joints.copy()
    canon, frame = canonicalize(motion, REST[0])
    pelvis = canon.joints[0, 0]
    assert abs(pelvis[0]) < 1e-12 and abs(pelvis[2]) < 1e-12
    assert abs(canon.joints[:, FOOT_JOINTS, 1].min()) < 1e-12
    facing = _facing(canon.joints[0], JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])
    assert facing[2] > 0 and abs(facing[0]) < 1e-12
    assert abs(frame.yaw) > 0.5  # the clip was not already canonical
    np.testing.assert_array_equal(motion.joints, original)  # a new Motion, input untouched


def test_inverse_restores_points_and_params() -> None:
    motion = _motion()
    canon, frame = canonicalize(motion, REST[0])
    back = frame.inverse()
    np.testing.assert_allclose(back.apply_points(canon.joints), motion.joints, atol=1e-9)
    root_orient, trans = back.apply_params(canon.root_orient, canon.trans, REST[0])
    np.testing.assert_allclose(trans, motion.trans, atol=1e-9)
    np.testing.assert_allclose(_rotmats(root_orient), _rotmats(motion.root_orient), atol=1e-9)
    np.testing.assert_array_equal(canon.pose_body, motion.pose_body)


def test_params_transform_matches_forward_kinematics_with_offset_rest_pelvis() -> None:
    motion = _motion()
    canon, frame = canonicalize(motion, REST[0])
    joints, _ = forward_kinematics(torch.as_tensor(REST), torch.as_tensor(canon.root_orient),
                                   torch.as_tensor(canon.pose_body), torch.as_tensor(canon.trans))
    np.testing.assert_allclose(joints.numpy(), canon.joints, atol=1e-9)
    # Treating the rest pelvis as the origin would misplace the body.
    _, naive_trans = frame.apply_params(None, motion.trans, np.zeros(3))
    assert np.abs(naive_trans - canon.trans).max() > 1e-2


def test_apply_points_torch_matches_numpy() -> None:
    frame = CanonicalFrame(1.3, np.array([0.2, -0.5, 3.0]))
    points = np.random.default_rng(1).normal(size=(5, 22, 3))
    out = frame.apply_points(torch.as_tensor(points))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), frame.apply_points(points), atol=1e-12)


def test_reference_frame_is_first_observed_pelvis_and_nan_is_kept() -> None:
    motion = _motion()
    motion.joints[:2, 0] = np.nan
    mask = np.ones((motion.num_frames, 22), dtype=bool)
    mask[2, 0] = False
    motion.joint_mask = mask
    canon, _ = canonicalize(motion, REST[0])
    assert np.isnan(canon.joints[:2, 0]).all() and not np.isnan(canon.joints[2:]).any()
    assert abs(canon.joints[3, 0, 0]) < 1e-12 and abs(canon.joints[3, 0, 2]) < 1e-12


def test_facing_falls_back_to_shoulders_then_root_orientation() -> None:
    motion = _motion()
    joints = motion.joints.copy()
    hips = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
    shoulders = [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]
    joints[0, hips] = np.nan
    frame = canonical_frame(joints, root_orient=motion.root_orient)
    facing = frame.rotation @ _facing(motion.joints[0], *shoulders)
    assert facing[2] > 0 and abs(facing[0]) < 1e-12

    joints[0, shoulders] = np.nan
    frame = canonical_frame(joints, root_orient=motion.root_orient)
    z_axis = frame.rotation @ _rotmats(motion.root_orient[0])[:, 2]
    assert z_axis[2] > 0 and abs(z_axis[0]) < 1e-12
    assert canonical_frame(joints).yaw == 0.0


def test_floor_given_estimated_or_zero() -> None:
    motion = _motion()
    assert canonical_frame(motion.joints, floor_height=0.25).offset[1] == -0.25
    lowest = motion.joints[:, FOOT_JOINTS, 1].min()
    assert canonical_frame(motion.joints).offset[1] == pytest.approx(-lowest)
    mask = np.ones((motion.num_frames, 22), dtype=bool)
    mask[:, list(FOOT_JOINTS)] = False
    assert canonical_frame(motion.joints, joint_mask=mask).offset[1] == 0.0


def test_no_observed_pelvis_is_an_error() -> None:
    joints = _motion(5).joints
    joints[:, 0] = np.nan
    with pytest.raises(RohmError, match="pelvis"):
        canonical_frame(joints)
