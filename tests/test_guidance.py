"""2D guidance with a camera per frame: `Motion.extrinsics` may be one (4, 4) camera for the
clip or one per frame (N, 4, 4); per-frame cameras are resampled with the motion; wrong shapes
are one-line errors; the 2D objective projects each frame through its own camera."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from gt_window import gt_window

from rohm.cli import main
from rohm.demo import CLIPS_DIR
from rohm.errors import RohmError
from rohm.inference import Reconstructor, Settings
from rohm.inference.guidance import PoseGuidance, camera_maps, frame_extrinsics, project
from rohm.inference.resample import resample_motion
from rohm.io.motion_file import Motion, load_motion, save_motion
from rohm.representation.canonical import yaw_matrix
from rohm.virtual_camera import camera_corrupt, look_at_extrinsics

TURN = CLIPS_DIR / "walk-turn-left_normal_020.npz"  # 145 frames
INTRINSICS = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor.from_pretrained()


def _moving_cameras(n: int, fps: float = 30.0) -> np.ndarray:
    """(n, 4, 4) world -> camera of a camera that tracks along x at 1 m/s and pans at 20 deg/s,
    about 5 m in front of the origin, 1.5 m high."""
    t = np.arange(n) / fps
    ext = np.tile(np.eye(4), (n, 1, 1))
    for i, ti in enumerate(t):
        eye = np.array([ti, 1.5, 5.0])
        base = look_at_extrinsics(eye, np.array([ti, 0.9, 0.0]))
        pan = yaw_matrix(np.radians(20.0) * ti)
        ext[i, :3, :3] = base[:3, :3] @ pan.T
        ext[i, :3, 3] = -ext[i, :3, :3] @ eye
    return ext


def _camera_input(fps: float) -> Motion:
    """The Cam protocol's input (one static camera, 2D keypoints) for the first 100 frames of a clip at `fps`."""
    gt = load_motion(TURN)
    gt = dataclasses.replace(gt, **{k: getattr(gt, k)[:100] for k in ("joints", "trans", "root_orient", "pose_body",
                                                                          "contacts")})
    return camera_corrupt(resample_motion(gt, fps), 0)


@pytest.mark.parametrize("fps", [30.0, 24.0])  # at the models' rate, and resampled to it and back
def test_per_frame_extrinsics_all_equal_give_the_one_camera_result(rec: Reconstructor, fps: float) -> None:
    inp = _camera_input(fps)
    one = inp.extrinsics
    per_frame = dataclasses.replace(inp, extrinsics=np.tile(one, (inp.num_frames, 1, 1)))
    settings = Settings(iterations=1, traj_steps=4, pose_steps=8)
    a, b = rec.reconstruct(inp, settings), rec.reconstruct(per_frame, settings)
    assert a.num_frames == b.num_frames == inp.num_frames
    np.testing.assert_allclose(b.joints, a.joints, atol=1e-6)
    np.testing.assert_allclose(b.trans, a.trans, atol=1e-6)
    assert b.extrinsics.shape == (inp.num_frames, 4, 4)  # the input's cameras are kept in the output


def test_wrong_shape_extrinsics_are_one_line_errors(rec: Reconstructor, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    inp = _camera_input(30.0)
    n = inp.num_frames
    for bad in (np.tile(np.eye(4), (n - 1, 1, 1)), np.eye(4)[:3], np.tile(np.eye(4)[:3], (n, 1, 1)), np.eye(3)):
        motion = dataclasses.replace(inp, extrinsics=bad)
        with pytest.raises(RohmError) as err:
            rec.reconstruct(motion, Settings(iterations=1))
        message = str(err.value)
        assert "\n" not in message and str(bad.shape) in message and f"({n}, 4, 4)" in message, message
    path = tmp_path / "bad.npz"
    save_motion(dataclasses.replace(inp, extras={"extrinsics": np.tile(np.eye(4), (n + 5, 1, 1))}, extrinsics=None), path)
    out = tmp_path / "out.npz"
    assert main(["reconstruct", str(path), "--out", str(out)]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "bad.npz" in err_lines[0] and f"({n + 5}, 4, 4)" in err_lines[0], err_lines
    assert not out.exists()
    assert frame_extrinsics(None, 3).shape == (3, 4, 4)  # no extrinsics: the default camera on every frame


def test_per_frame_extrinsics_are_resampled_with_the_frames() -> None:
    n = 31
    cams = _moving_cameras(n, fps=30.0)
    motion = Motion(joints=np.zeros((n, 22, 3)), fps=30.0, extrinsics=cams)
    fast = resample_motion(motion, 60.0)
    ext = fast.extrinsics
    assert ext.shape == (fast.num_frames, 4, 4) == (2 * n - 1, 4, 4)
    np.testing.assert_allclose(ext[::2], cams, atol=1e-12)  # the source frames are kept
    mid = _moving_cameras(2 * n - 1, fps=60.0)  # constant pan and speed: slerp + lerp land on the true camera
    np.testing.assert_allclose(ext, mid, atol=1e-9)
    np.testing.assert_allclose(ext[:, :3, :3] @ ext[:, :3, :3].transpose(0, 2, 1), np.broadcast_to(np.eye(3), (2 * n - 1, 3, 3)),
                               atol=1e-12)  # still rotations
    assert motion.extrinsics is cams  # the input is not touched
    back = resample_motion(fast, 30.0)
    np.testing.assert_allclose(back.extrinsics, cams, atol=1e-12)
    slow = resample_motion(motion, 24.0)
    assert slow.extrinsics.shape == (slow.num_frames, 4, 4)
    one = cams[0].copy()
    static = dataclasses.replace(motion, extrinsics=one)
    assert resample_motion(static, 60.0).extrinsics is one  # one camera for the clip stays one


def test_2d_objective_projects_each_frame_through_its_own_camera(rec: Reconstructor) -> None:
    _, traj, pose, rest, (frame,) = gt_window(rec, TURN)
    n = rec.window
    cams = _moving_cameras(n)
    rot, off = camera_maps([frame], cams[None])
    assert rot.shape == (1, n, 3, 3) and off.shape == (1, n, 3)
    guide_joints = PoseGuidance(rec.normalizer, traj, rest, 0.0).joints(pose)[0].double().numpy()
    world = frame.inverse().apply_points(guide_joints)
    cam_world = np.einsum("nij,nkj->nki", cams[:, :3, :3], world) + cams[:, None, :3, 3]
    np.testing.assert_allclose(np.einsum("nij,nkj->nki", rot[0], guide_joints) + off[0][:, None], cam_world, atol=1e-9)
    pixels = project(torch.as_tensor(cam_world), torch.as_tensor(INTRINSICS))  # exactly where the joints project

    motion = Motion(joints=world, fps=30.0, keypoints_2d=pixels.numpy(), keypoints_2d_conf=np.full((n, 22), 0.9),
                    intrinsics=INTRINSICS, extrinsics=cams)
    idx = np.arange(n)[None]

    def objective(m: Motion) -> float:
        kp = rec.codec.keypoints(m, idx, [frame])
        return PoseGuidance(rec.normalizer, traj, rest.float(), 0.0, kp, reproj_weight=1.0).objective(pose, t=None).item()

    exact = objective(motion)
    off_target = objective(dataclasses.replace(motion, keypoints_2d=motion.keypoints_2d + 3.0))  # 3 px off
    first_camera_only = objective(dataclasses.replace(motion, extrinsics=cams[0]))
    assert off_target > 0 and first_camera_only > 0
    assert exact < 1e-3 * off_target  # zero up to float32 rounding
    assert exact < 1e-3 * first_camera_only  # the moving camera matters: one camera for all frames is wrong
    hidden = dataclasses.replace(motion, keypoints_2d=motion.keypoints_2d + 3.0, keypoints_2d_conf=np.full((n, 22), 0.1))
    assert objective(hidden) == 0.0  # confidence below 0.2 is no evidence
