"""The video front end (`rohm video`): landmark mapping, translation recovery, floor and camera
motion on synthetic walks, the RGB-D occlusion rule on a synthetic depth sequence, one
end-to-end run on a cut of the example video, and every bad input -> one line, exit 2, no folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from rohm.cli import main
from rohm.io.motion_file import load_motion
from rohm.skeleton import FOOT_JOINTS, JOINT_INDEX, NUM_JOINTS
from rohm.video.camera import intrinsics_from_fov, solve_translation
from rohm.video.depth import SURFACE_TO_JOINT, occluded, place_with_depth, sample_depth
from rohm.video.ground import estimate_ground
from rohm.video.landmarks import DERIVED, DERIVED_CONFIDENCE, map_confidence, map_points
from rohm.virtual_camera import look_at_extrinsics, project_points

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "running.mp4"
FPS = 30.0
J = JOINT_INDEX


# ----- synthetic people ---------------------------------------------------------------------
def _walk(seconds: float = 4.0, speed: float = 1.2, fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """A procedural upright walk along +x on the floor y = 0: joints (N, 22, 3) and sole points
    (N, 4, 3: left heel, left toe, right heel, right toe) 2 cm above the floor in stance."""
    t = np.arange(int(seconds * fps)) / fps
    period, stance = 1.0, 0.6
    stride = speed * period
    joints = np.zeros((len(t), NUM_JOINTS, 3))
    soles = np.zeros((len(t), 4, 3))
    pelvis = np.stack([speed * t, 0.95 + 0.02 * np.cos(4 * np.pi * t / period), np.zeros_like(t)], axis=1)
    for side, (lateral, shift) in enumerate(((0.1, 0.0), (-0.1, 0.5))):
        phase = (t / period + shift) % 1.0
        cycle = np.floor(t / period + shift)
        swing = np.clip((phase - stance) / (1 - stance), 0, 1)
        x = stride * (cycle + 0.5 * (1 - np.cos(np.pi * swing)))
        x += np.mean(pelvis[:, 0] - x)  # the feet are under the body on average
        lift = np.where(phase >= stance, 0.1 * np.sin(np.pi * swing), 0.0)
        ankle = np.stack([x, 0.09 + lift, np.full_like(t, lateral)], axis=1)
        name = "left" if side == 0 else "right"
        hip = pelvis + (0.0, -0.08, lateral)
        joints[:, J[f"{name}_hip"]] = hip
        joints[:, J[f"{name}_ankle"]] = ankle
        joints[:, J[f"{name}_knee"]] = 0.5 * (hip + ankle) + (0.05, 0.0, 0.0)
        joints[:, J[f"{name}_foot"]] = ankle + (0.12, -0.04, 0.0)
        soles[:, 2 * side] = ankle + (-0.05, -0.07, 0.0)
        soles[:, 2 * side + 1] = ankle + (0.18, -0.07, 0.0)
        for joint, offset in (("collar", (0.0, 0.38, 0.03 * np.sign(lateral))), ("shoulder", (0.0, 0.38, 1.5 * lateral)),
                              ("elbow", (0.0, 0.12, 1.6 * lateral)), ("wrist", (0.05, -0.12, 1.6 * lateral))):
            joints[:, J[f"{name}_{joint}"]] = pelvis + offset
    for name, height in (("pelvis", 0.0), ("spine1", 0.1), ("spine2", 0.2), ("spine3", 0.3), ("neck", 0.42), ("head", 0.55)):
        joints[:, J[name]] = pelvis + (0.0, height, 0.0)
    return joints, soles


def _to_camera(points: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """World points (N, ..., 3) -> camera points with per-frame (N, 4, 4) or one (4, 4) extrinsics."""
    ext = np.broadcast_to(extrinsics, (len(points), 4, 4))
    return np.einsum("nij,n...j->n...i", ext[:, :3, :3], points) + ext[:, None, :3, 3]


def _camera(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    ext = look_at_extrinsics(eye, target)
    a = np.radians(roll_deg)
    roll = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ext[:3] = roll @ ext[:3]
    return ext


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


# ----- landmarks ----------------------------------------------------------------------------
def test_landmark_mapping_places_joints_and_confidences() -> None:
    rng = np.random.default_rng(0)
    lm = rng.normal(size=(5, 33, 3))
    out = map_points(lm)
    assert out.shape == (5, NUM_JOINTS, 3)
    # MediaPipe's own joints are taken as they are, left as left (landmarks 23, 25, 27, 11, 13, 15).
    for name, k in (("left_hip", 23), ("right_hip", 24), ("left_knee", 25), ("left_ankle", 27),
                    ("right_ankle", 28), ("left_shoulder", 11), ("right_elbow", 14), ("left_wrist", 15)):
        np.testing.assert_allclose(out[:, J[name]], lm[:, k])
    hips, shoulders = lm[:, [23, 24]].mean(1), lm[:, [11, 12]].mean(1)
    # The spine climbs from the hip midpoint to the neck, in order; pelvis and neck where anny has them.
    fractions = [((out[:, J[n]] - hips) * (shoulders - hips)).sum(-1) / ((shoulders - hips) ** 2).sum(-1)
                 for n in ("pelvis", "spine1", "spine2", "spine3", "neck")]
    assert all(np.all(a < b) for a, b in zip(fractions, fractions[1:]))
    np.testing.assert_allclose(fractions[0], 0.16)
    np.testing.assert_allclose(out[:, J["head"]], lm[:, [7, 8]].mean(1))
    np.testing.assert_allclose(out[:, J["left_foot"]], 0.4 * lm[:, 27] + 0.6 * lm[:, 31])
    # Collars sit between the shoulder midpoint and their own shoulder.
    left = out[:, J["left_collar"]]
    assert np.all(np.linalg.norm(left - lm[:, 11], axis=1) < np.linalg.norm(shoulders - lm[:, 11], axis=1))
    # Translating every landmark translates every joint (the combinations are affine).
    np.testing.assert_allclose(map_points(lm + (1.0, 2.0, 3.0)), out + (1.0, 2.0, 3.0))

    vis = np.ones(33)
    vis[23] = 0.3  # a poorly seen left hip
    conf = map_confidence(vis)
    assert conf[J["left_hip"]] == pytest.approx(0.3)
    assert conf[J["pelvis"]] == pytest.approx(0.3 * DERIVED_CONFIDENCE)  # derived from both hips
    assert conf[J["right_knee"]] == 1.0
    assert np.all(conf[DERIVED & (conf > 0.3)] == pytest.approx(DERIVED_CONFIDENCE))


# ----- camera ------------------------------------------------------------------------------
def test_translation_is_recovered_from_projections() -> None:
    rng = np.random.default_rng(1)
    k = intrinsics_from_fov(60.0, (1280, 720))
    world = rng.normal(scale=0.3, size=(20, 33, 3))
    truth = np.stack([rng.uniform(-1, 1, 20), rng.uniform(-0.5, 0.5, 20), rng.uniform(3, 8, 20)], axis=1)
    cam = world + truth[:, None]
    pixels = cam[..., :2] / cam[..., 2:] * k[0, 0] + k[:2, 2] + rng.normal(scale=1.0, size=(20, 33, 2))
    weights = rng.uniform(0.5, 1.0, (20, 33))
    weights[3, 2:] = 0.0  # two points seen: too few, no answer rather than a wrong one
    trans = solve_translation(world, pixels, weights, k)
    ok = np.arange(20) != 3
    assert np.abs(trans[ok, :2] - truth[ok, :2]).max() < 0.02
    assert np.abs(trans[ok, 2] - truth[ok, 2]).max() < 0.1
    assert np.isnan(trans[3]).all()


# ----- ground ------------------------------------------------------------------------------
def test_tilted_floor_is_recovered_from_a_walk_seen_by_a_static_camera() -> None:
    """A straight walk across the view: the contacts give the roll; the pitch they leave open
    along the walk comes from the priors (a camera about chest-high) and the upright body, so it
    is only roughly right for this camera 2.2 m up (contacts spread both ways: test_video_world)."""
    joints, soles = _walk()
    rng = np.random.default_rng(2)
    eye = np.array([2.4, 2.2, 5.5])  # 2.2 m up, looking down at the walk: pitch about 14 deg
    ext = _camera(eye, np.array([2.4, 0.9, 0.0]), roll_deg=6.0)
    cam_joints = _to_camera(joints, ext) + rng.normal(scale=0.03, size=joints.shape)  # MediaPipe-like jitter
    cam_soles = _to_camera(soles, ext) + rng.normal(scale=0.03, size=soles.shape)
    ground = estimate_ground(cam_joints, cam_soles, FPS)
    assert not ground.moving  # jitter is not camera motion
    up_true = ext[:3, :3] @ np.array([0.0, 1.0, 0.0])
    assert _angle_deg(ground.rotation[1], up_true) < 5.0  # pitch 9 instead of 13 deg: the priors pull
    assert ground.camera_pitch_roll()[1] == pytest.approx(6.0, abs=0.7)  # the roll from the contacts
    assert ground.camera_height() == pytest.approx(2.2, abs=0.5)  # 1.75: with the pitch
    world = ground.to_world(cam_joints)
    stance = joints[:, J["left_foot"], 1] == joints[:, J["left_foot"], 1].min()
    assert np.median(world[stance, J["left_foot"], 1]) == pytest.approx(0.05, abs=0.03)  # toes on the floor
    assert np.abs(world[:, J["pelvis"], 1] - 0.95).max() < 0.1  # the floor is level along the walk


def test_tracking_camera_motion_is_recovered_from_foot_contacts() -> None:
    joints, soles = _walk(speed=1.4)
    n = len(joints)
    path = np.stack([1.4 * np.arange(n) / FPS, np.zeros(n), np.zeros(n)], axis=1)  # follows the walker
    ext = np.stack([_camera(np.array([0.0, 1.5, 4.0]) + p, np.array([0.0, 0.9, 0.0]) + p) for p in path])
    rng = np.random.default_rng(3)
    cam_joints = _to_camera(joints, ext) + rng.normal(scale=0.005, size=joints.shape)
    ground = estimate_ground(cam_joints, _to_camera(soles, ext) + rng.normal(scale=0.005, size=soles.shape), FPS)
    assert ground.moving
    world = ground.to_world(cam_joints)
    # The recovered world matches the true one up to where its origin and x axis were put.
    pelvis = world[:, J["pelvis"]]
    travelled = np.linalg.norm(pelvis[-1, [0, 2]] - pelvis[0, [0, 2]])
    assert travelled == pytest.approx(1.4 * (n - 1) / FPS, rel=0.05)
    assert np.abs(pelvis[:, 1] - 0.95).max() < 0.05
    # Feet in stance stay put in the world (the camera moved 0.8 m during each): its motion is gone.
    stance = joints[:, J["left_foot"], 1] == joints[:, J["left_foot"], 1].min()
    starts = np.flatnonzero(stance[1:] & ~stance[:-1]) + 1
    ends = np.flatnonzero(stance[:-1] & ~stance[1:])
    drift = [np.linalg.norm(world[e, J["left_foot"], [0, 2]] - world[s, J["left_foot"], [0, 2]])
             for s, e in zip(starts, ends[ends > starts[0]])]
    assert len(drift) >= 2 and np.median(drift) < 0.05


# ----- depth -------------------------------------------------------------------------------
def test_depth_places_the_body_and_finds_occluded_joints() -> None:
    """A synthetic RGB-D sequence: a walk towards the camera (7 to 4.6 m away) in front of a wall
    at 9 m, discs of body surface at each joint, and a box 2 m from the camera hiding the lower
    legs for the second half."""
    joints, _ = _walk(seconds=2.0)
    size = (320, 240)
    k = intrinsics_from_fov(70.0, size)
    ext = _camera(np.array([7.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    cam = _to_camera(joints, ext)
    pixels, depth_true = project_points(joints, ext, k)
    hidden_frames = np.arange(len(joints)) >= 30
    box = (np.arange(size[0])[None, :] >= 0) & (np.arange(size[1])[:, None] > 150)  # the bottom of the image
    worst, found, missed = 0.0, 0, 0
    for i in range(len(joints)):
        depth = np.full((size[1], size[0]), 9.0)
        yy, xx = np.mgrid[0:size[1], 0:size[0]]
        for j in np.argsort(-depth_true[i]):  # far to near: nearer surfaces win
            r = k[0, 0] * 0.06 / depth_true[i, j]
            disc = (xx - pixels[i, j, 0]) ** 2 + (yy - pixels[i, j, 1]) ** 2 <= r * r
            depth[disc] = depth_true[i, j] - SURFACE_TO_JOINT
        if hidden_frames[i]:
            depth[box] = 2.0
        observed = sample_depth(depth, pixels[i])
        rel = cam[i] - cam[i, J["pelvis"]]
        trans = place_with_depth(rel, pixels[i], np.ones(NUM_JOINTS), observed, k)
        worst = max(worst, float(np.abs(trans - cam[i, J["pelvis"]]).max()))
        hidden = occluded(rel[:, 2] + trans[2], observed)
        behind_box = hidden_frames[i] & (pixels[i, :, 1] > 152)
        found += int((hidden & behind_box).sum())
        missed += int((behind_box & ~hidden).sum())
        assert not (hidden & ~behind_box & (pixels[i, :, 1] < 148)).any()  # nothing in plain view is hidden
    assert worst < 0.03  # depth places the body to within 3 cm
    assert found > 0 and missed == 0


# ----- per-frame camera guidance --------------------------------------------------------------
@pytest.mark.parametrize("moving", [False, True])
def test_the_pipeline_hands_rohm_each_frames_camera_and_keeps_the_output_contract(moving: bool) -> None:
    import dataclasses

    import torch

    from rohm.inference.window_features import WindowCodec
    from rohm.representation.canonical import CanonicalFrame
    from rohm.video.decode import Span
    from rohm.video.ground import Ground
    from rohm.video.pipeline import Lifted, input_motion, output_motion

    joints, soles = _walk(seconds=1.0)
    n = len(joints)
    k = intrinsics_from_fov(60.0, (1280, 720))
    path = np.stack([np.linspace(0.0, 1.2 if moving else 0.0, n), np.zeros(n), np.zeros(n)], axis=1)
    ground = Ground(rotation=_camera(np.array([0.0, 1.5, 4.0]), np.array([0.0, 0.9, 0.0]))[:3, :3].T,
                    origin=np.array([0.1, 1.2, 4.5]), camera_path=path, moving=moving)
    cams = ground.extrinsics()
    cam_joints = _to_camera(joints, cams)  # what the detector saw, frame by frame
    pixels = cam_joints[..., :2] / cam_joints[..., 2:] @ k[:2, :2].T + k[:2, 2]
    lifted = Lifted(cam_joints, _to_camera(soles, cams), pixels, np.full((n, NUM_JOINTS), 0.9), None)
    detected = np.ones(n, dtype=bool)
    motion = input_motion(lifted, ground, detected, k, FPS)
    assert motion.extrinsics.shape == (n, 4, 4) and "camera_extrinsics" not in motion.extras
    np.testing.assert_allclose(motion.joints, joints, atol=1e-9)

    # rohm's 2D guidance sees the detections where the world joints project through each frame's camera.
    codec = WindowCodec.__new__(WindowCodec)  # no weights needed for the 2D evidence
    codec.device = torch.device("cpu")
    frames = [CanonicalFrame(0.4, np.array([0.3, 0.0, -0.5])), CanonicalFrame(-2.0, np.array([-1.0, 0.0, 0.2]))]
    idx = np.stack([np.arange(10), np.arange(10, 20)])
    kp = codec.keypoints(motion, idx, frames)
    assert kp.rotation.shape == (2, 10, 3, 3) and kp.offset.shape == (2, 10, 3)
    canonical = torch.as_tensor(np.stack([f.apply_points(joints[i]) for f, i in zip(frames, idx)]))
    assert kp.objective(canonical).item() < 1e-8
    assert kp.objective(canonical + torch.tensor([0.05, 0.0, 0.0], dtype=torch.float64)).item() > 1e-4

    # motion.npz keeps its camera fields: every frame's camera, the one pose only for a static camera.
    result = dataclasses.replace(motion, extras=dict(motion.extras))  # what reconstruct returns: the input's extras
    out = output_motion(result, ground, lifted, detected, Span(0, n))
    assert out.extras["camera_extrinsics"].shape == (n, 4, 4)
    np.testing.assert_allclose(out.extras["camera_extrinsics"], cams)
    if moving:
        assert out.extrinsics is None and out.keypoints_2d is None
        assert out.extras["detected_keypoints_2d"].shape == (n, NUM_JOINTS, 2)
    else:
        np.testing.assert_allclose(out.extrinsics, cams[0])
        assert out.keypoints_2d is not None


# ----- end to end and bad inputs --------------------------------------------------------------
@pytest.fixture
def one_torch_thread() -> None:
    """Denoising with one thread: on a shared 2-core machine two OpenMP threads can be 10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _leftovers(parent: Path, name: str) -> list[Path]:
    return [p for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}.")]


@pytest.mark.usefixtures("one_torch_thread")
def test_example_cut_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    if not EXAMPLE.exists():
        pytest.skip(f"example video not found at {EXAMPLE}")
    out = tmp_path / "run"
    assert main(["video", str(EXAMPLE), "--out", str(out), "--end", "1.5"]) == 0
    assert "45 frames" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["motion.bvh", "motion.glb", "motion.npz", "overlay.mp4", "render.mp4",
                                                  "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 45 and summary["detection_rate"] > 0.9
    assert set(summary["timings_s"]) >= {"decode", "detect", "background", "lift", "ground", "shape", "reconstruct",
                                         "overlay", "render"}
    assert summary["other_person"]["switches"] == 0 and summary["camera"]["decision"]
    figures = summary["plausibility"]
    assert figures["torso_tilt_deg_median"] < 10 and figures["reprojection_of_height_median"] < 0.1
    motion = load_motion(out / "motion.npz")
    assert motion.num_frames == 45 and np.isfinite(motion.joints).all() and motion.has_params
    assert motion.extras["camera_extrinsics"].shape == (45, 4, 4)
    np.testing.assert_allclose(motion.betas, summary["body"]["betas"], atol=1e-4)  # the shape fitted to its bones
    feet = motion.joints[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1]
    assert -0.05 < np.percentile(feet.min(axis=1), 10) < 0.15  # feet on the floor at y = 0
    stance = motion.contacts > 0.5
    step = np.linalg.norm(np.diff(motion.joints[:, list(FOOT_JOINTS)][..., [0, 2]], axis=0), axis=-1) * motion.fps
    held = stance[1:] & stance[:-1]
    assert held.sum() > 10  # the runner's stances are found...
    assert np.median(step[held]) < 0.01 and step[held].mean() < 0.15  # ...and the feet stay put (unlocked: ~0.5 m/s)
    for video in ("overlay.mp4", "render.mp4"):
        reader = imageio_ffmpeg.read_frames(str(out / video))
        next(reader)
        assert sum(1 for _ in reader) == 45
    assert "motion.bvh" in (out / "summary.json").read_text()
    assert (out / "motion.bvh").read_text().startswith("HIERARCHY")


def _write_video(path: Path, seconds: float, fps: float = 10.0, size: tuple[int, int] = (160, 120)) -> Path:
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, macro_block_size=8, ffmpeg_log_level="error")
    writer.send(None)
    rng = np.random.default_rng(0)
    for _ in range(int(round(seconds * fps))):
        writer.send(rng.integers(90, 110, (size[1], size[0], 3), dtype=np.uint8).tobytes())
    writer.close()
    return path


def _depth_folder(folder: Path, count: int, size: tuple[int, int] = (160, 120)) -> Path:
    folder.mkdir()
    for i in range(count):
        Image.fromarray(np.full((size[1], size[0]), 3000, dtype=np.uint16)).save(folder / f"{i:04d}.png")
    return folder


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    text = tmp / "notes.mp4"
    text.write_text("not a video")
    still = tmp / "still.png"
    Image.new("RGB", (64, 48)).save(still)
    empty = _write_video(tmp / "empty.mp4", 1.5)
    return {
        "unreadable": ([str(text)], "not a readable video"),
        "missing": ([str(tmp / "nope.mp4")], "no such file"),
        "still image": ([str(still)], "not a video"),
        "too short": ([str(_write_video(tmp / "short.mp4", 0.5))], "at least 1 s"),
        "no person": ([str(empty)], "no person was detected"),
        "depth count": ([str(empty), "--depth", str(_depth_folder(tmp / "depth5", 5))], "5 depth frames for a video of 15"),
        "depth size": ([str(empty), "--depth", str(_depth_folder(tmp / "depth_big", 15, (320, 240)))], "registered"),
    }


@pytest.mark.parametrize("case", ["unreadable", "missing", "still image", "too short", "no person", "depth count",
                                  "depth size"])
def test_bad_input_is_one_line_exit_2_and_no_output(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    assert main(["video", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rohm: error:") and message in err[0], err
    assert not _leftovers(tmp_path, "out")


def test_missing_mediapipe_names_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")] + ["mediapipe"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import mediapipe...` now fails
    video = _write_video(tmp_path / "clip.mp4", 1.5)
    assert main(["video", str(video), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "rohm[video]"' in err[0]
    assert not _leftovers(tmp_path, "out")


def test_an_unrelated_output_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.txt").write_text("keep me")
    assert main(["video", str(_write_video(tmp_path / "clip.mp4", 1.5)), "--out", str(out)]) == 2
    assert "not a `rohm video` output" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "keep me"



def test_missing_libgl_names_the_system_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from rohm.errors import RohmError
    from rohm.video.detect import check_available

    real_import = builtins.__import__

    def failing(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("mediapipe"):
            raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(RohmError, match="apt-get install libgl1"):
        check_available()
