"""The video renderer: frames, layouts, markers, the mp4 itself, and its errors."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image
from synthetic_smplx import smplx_rest_joints

from rohm.body.kinematics import forward_kinematics
from rohm.errors import RohmError
from rohm.io.motion_file import Motion
from rohm.skeleton import JOINT_INDEX, LOWER_BODY, NUM_JOINTS
from rohm.visualisation import render_frames, render_still, render_video
from rohm.visualisation.draw import CONTACT, INFILLED
from rohm.visualisation.render import Scene

SIZE = (320, 180)
HEAD = JOINT_INDEX["head"]


def walk(n: int = 24, fps: float = 30.0, speed: float = 1.0) -> Motion:
    """A stick figure walking along +z at `speed` m/s, feet near the floor."""
    t = torch.arange(n, dtype=torch.float64) / fps
    swing = torch.sin(2 * torch.pi * t)
    pose = torch.zeros(n, NUM_JOINTS - 1, 3, dtype=torch.float64)
    pose[:, 0, 0], pose[:, 1, 0] = -0.5 * swing, 0.5 * swing  # hips
    pose[:, 3, 0], pose[:, 4, 0] = 0.8 * swing.clamp(min=0), 0.8 * (-swing).clamp(min=0)  # knees
    transl = torch.stack([torch.zeros(n), torch.full((n,), 1.3), speed * t], dim=1).double()
    rest = torch.as_tensor(smplx_rest_joints()[:NUM_JOINTS])
    joints, _ = forward_kinematics(rest, torch.zeros(n, 3, dtype=torch.float64), pose.reshape(n, -1), transl)
    joints = joints.numpy()
    contacts = (joints[:, [7, 10, 8, 11], 1] < 0.1).astype(float)
    return Motion(joints=joints, fps=fps, contacts=contacts)


def only(motion: Motion, keep: list[int]) -> Motion:
    """A copy of `motion` where every joint but `keep` is missing (NaN)."""
    joints = np.full_like(motion.joints, np.nan)
    joints[:, keep] = motion.joints[:, keep]
    return Motion(joints=joints, fps=motion.fps)


def pixel(scene: Scene, track: int, frame: int, joint: int) -> tuple[int, int]:
    """Integer pixel (column, row) of a joint in a panel."""
    uv, _ = scene.camera.project(scene.tracks[track].joints[frame : frame + 1, joint], np.array([frame]))
    return int(uv[0, 0]), int(uv[0, 1])


def test_frames_shape_dtype_and_count() -> None:
    frames = list(render_frames([walk(12)], size=SIZE))
    assert len(frames) == 12
    assert all(f.shape == (SIZE[1], SIZE[0], 3) and f.dtype == np.uint8 for f in frames)


def test_body_drawn_where_projected_and_nowhere_else() -> None:
    """Side layout: a body next to an (almost) empty panel seen by the same camera."""
    motion = walk()
    scene = Scene([motion, only(motion, [HEAD])], layout="side", size=SIZE)
    k = 10
    frame = np.asarray(scene.frame(k)).astype(int)
    body, empty = frame[:, : SIZE[0]], frame[:, SIZE[0] :]
    differs = np.abs(body - empty).sum(axis=-1) > 30
    for joint in (JOINT_INDEX["pelvis"], JOINT_INDEX["left_knee"], JOINT_INDEX["right_elbow"]):
        x, y = pixel(scene, 0, k, joint)
        assert differs[y, x], joint
        assert body[y, x, 2] > body[y, x, 0] + 40  # drawn in the first motion's blue
    with_shadow = np.concatenate([motion.joints[k], motion.joints[k] * (1, 0, 1)])
    uv, _ = scene.camera.project(with_shadow[None], np.array([k]))
    lo, hi = uv[0].min(axis=0) - 10, uv[0].max(axis=0) + 10
    differs[:, -2:] = differs[:, :2] = False  # the line between the panels
    rows, cols = np.nonzero(differs)
    outside = (cols < lo[0]) | (cols > hi[0]) | (rows < lo[1]) | (rows > hi[1])
    assert not (outside & (rows > 40)).any()  # apart from the text and legend at the top


def test_missing_joints_are_not_drawn() -> None:
    motion = walk()
    partial = Motion(joints=motion.joints.copy(), fps=motion.fps)
    partial.joints[:, list(LOWER_BODY)] = np.nan
    partial.joints[5, :] = np.nan  # a frame with nothing at all
    scene = Scene([motion, partial, only(motion, [HEAD])], layout="side", size=SIZE)
    for k in (5, 10):
        frame = np.asarray(scene.frame(k)).astype(int)
        full, part, empty = (frame[:, i * SIZE[0] : (i + 1) * SIZE[0]] for i in range(3))
        x, y = pixel(scene, 0, k, JOINT_INDEX["left_knee"])
        assert np.abs(full[y, x] - empty[y, x]).sum() > 30
        assert np.array_equal(part[y, x], empty[y, x])


def test_infilled_joints_and_contacts_are_marked() -> None:
    motion = walk()
    mask = np.ones((motion.num_frames, NUM_JOINTS), dtype=bool)
    mask[:, list(LOWER_BODY)] = False
    marked = Motion(joints=motion.joints, fps=motion.fps, contacts=motion.contacts,
                    input_joint_mask=mask)
    plain = Motion(joints=motion.joints, fps=motion.fps)
    k = int(np.flatnonzero(motion.contacts[:, 0] > 0.5)[0])

    def count(m: Motion, colour: tuple[int, int, int]) -> int:
        frame = next(render_frames([m], size=SIZE, frames=[k])).astype(int)
        legend_free = frame[40:]
        return int((np.abs(legend_free - colour).sum(axis=-1) < 10).sum())

    assert count(marked, INFILLED) > 20 and count(plain, INFILLED) == 0
    assert count(marked, CONTACT) > 5 and count(plain, CONTACT) == 0


def test_side_layout_width_and_shorter_motion_holds_last_frame() -> None:
    long, short = walk(20), walk(8)
    scene = Scene([long, short], layout="side", size=SIZE)
    assert scene.frame_size == (2 * SIZE[0], SIZE[1])
    assert np.asarray(scene.frame(0)).shape == (SIZE[1], 2 * SIZE[0], 3)
    assert scene.num_frames == 20
    assert scene.tracks[1].source.tolist() == list(range(8)) + [7] * 12


def test_frame_rates_are_resampled_to_the_output_fps() -> None:
    scene = Scene([walk(40, fps=60.0), walk(20, fps=30.0)], fps=30.0, size=SIZE)
    assert scene.num_frames == 20
    assert scene.tracks[0].source[:4].tolist() == [0, 2, 4, 6]


def test_camera_follows_a_long_walk_smoothly() -> None:
    motion = walk(300, speed=1.5)  # 15 m
    scene = Scene([motion], size=SIZE)
    uv, _ = scene.camera.project(motion.joints, np.arange(motion.num_frames))
    assert (uv[..., 0] > 0).all() and (uv[..., 0] < SIZE[0]).all()
    assert (uv[..., 1] > 0).all() and (uv[..., 1] < SIZE[1]).all()
    height = uv[..., 1].max(axis=1) - uv[..., 1].min(axis=1)
    assert (height > 0.5 * SIZE[1]).all()  # followed closely, not framed from afar
    jerk = np.abs(np.diff(scene.camera.positions, n=2, axis=0)).max()
    assert jerk < 1e-3


def test_video_decodes_with_the_right_frames_and_size(tmp_path) -> None:
    out = render_video([walk(15), walk(10)], tmp_path / "walk.mp4", layout="side", size=(160, 96), progress=False)
    assert out.exists() and out.stat().st_size > 0
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"] == (320, 96) and meta["codec"] == "h264" and "yuv420p" in meta["pix_fmt"]
    assert len(frames) == 15
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]  # no temporary left


def test_still_strip(tmp_path) -> None:
    out = render_still([walk(30)], tmp_path / "s.png", frames=[0, 10, 20], size=SIZE)
    assert Image.open(out).size == (3 * SIZE[0], SIZE[1])


def test_mesh_mode_draws_the_body() -> None:
    n = 3
    motion = walk(n)
    motion.trans = np.tile([0.0, 0.95, 0.0], (n, 1))
    motion.root_orient = np.zeros((n, 3))
    motion.pose_body = np.zeros((n, 63))
    frame = next(render_frames([motion], mode="mesh", size=SIZE, frames=[1])).astype(int)
    bluish = frame[..., 2] - frame[..., 0] > 40
    assert bluish[40:].sum() > 500


def _motion(joints: np.ndarray) -> Motion:
    return Motion(joints=joints, fps=30.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(motions=[]), "no motions"),
    (dict(motions=[_motion(np.zeros((0, NUM_JOINTS, 3)))]), "no frames"),
    (dict(motions=[_motion(np.full((5, NUM_JOINTS, 3), np.nan))]), "missing"),
    (dict(mode="wireframe"), "unknown render mode"),
    (dict(layout="grid"), "unknown layout"),
    (dict(size=(321, 180)), "even"),
    (dict(mode="mesh"), "body parameters"),
    (dict(labels=["a", "b"]), "labels"),
])
def test_errors(kwargs: dict, message: str, tmp_path) -> None:
    kwargs = {"motions": [walk(4)], **kwargs}
    with pytest.raises(RohmError, match=message):
        render_video(out=tmp_path / "x.mp4", progress=False, **kwargs)
    assert not list(tmp_path.iterdir())


def test_output_name_must_be_mp4(tmp_path) -> None:
    with pytest.raises(RohmError, match=".mp4"):
        render_video([walk(4)], tmp_path / "x.avi", progress=False)
