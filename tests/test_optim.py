"""The `optim` baseline: its pose prior (shipped weights) and the test-time fit on a real clip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from rohm.baselines.optim import OptimBaseline, OptimSettings
from rohm.baselines.pose_prior import (
    DEFAULT_PATH,
    NUM_BODY,
    PosePrior,
    load_pose_prior,
    mirror_pose,
)
from rohm.body import load_body
from rohm.body.kinematics import forward_kinematics
from rohm.checkpoint import save_tensors
from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.evaluation.metrics import evaluate
from rohm.inference.guidance import project
from rohm.inference.prepare import prepare
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import LOWER_BODY, MIRROR

DEMO = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips" / "walk-turn-left_normal_020.npz"
FRAMES = 60
ITERATIONS = 40
ITERATIONS_2D = 80  # the legs have to travel further than the noise
# A camera 4 m in front of the origin, looking at the body (world -> camera, OpenCV axes).
EXTRINSICS = np.array([[1.0, 0, 0, 0], [0, -1, 0, 1], [0, 0, -1, 4], [0, 0, 0, 1]])
INTRINSICS = np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]])


@pytest.fixture(scope="module")
def prior() -> PosePrior:
    return load_pose_prior()


@pytest.fixture(scope="module")
def clip() -> tuple[Motion, Motion]:
    """Ground truth (first FRAMES frames of a test-split demo clip) and its Occ-L, k = 3 input."""
    full = load_motion(DEMO)
    cut = {k: getattr(full, k)[:FRAMES] for k in ("joints", "trans", "root_orient", "pose_body")}
    gt = replace(full, **cut, contacts=None, joint_mask=None)
    return gt, corrupt_motion(gt, 3.0, "lower", seed=0)


@pytest.fixture(scope="module")
def fit(prior: PosePrior) -> OptimBaseline:
    return OptimBaseline(OptimSettings(iterations=ITERATIONS), prior)


def test_prior_reconstructs_real_poses(prior: PosePrior) -> None:
    pose = torch.as_tensor(load_motion(DEMO).pose_body, dtype=torch.float32)
    with torch.no_grad():
        rot_hat = prior.decode(prior.encode(pose)[0])
    angle = torch.rad2deg(roma.rotmat_geodesic_distance(rot_hat, roma.rotvec_to_rotmat(pose.reshape(-1, NUM_BODY, 3))))
    assert angle.mean() < 4.0, f"mean joint rotation error {angle.mean():.2f} deg"
    # The latent is informative: a different pose's code decodes to a clearly different pose.
    with torch.no_grad():
        other = prior.decode(prior.encode(pose.flip(0))[0])
    assert torch.rad2deg(roma.rotmat_geodesic_distance(other, rot_hat)).mean() > 2 * angle.mean()


def test_mirror_pose_mirrors_the_skeleton() -> None:
    rest = load_body("anny").rest_joints(torch.full((1, 6), 0.5, dtype=torch.float64))[0]
    rest = 0.5 * (rest + rest[list(MIRROR)] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    pose = np.random.default_rng(0).normal(0.0, 0.4, size=(5, 3 * NUM_BODY))
    root = torch.zeros(5, 3, dtype=torch.float64)
    joints = forward_kinematics(rest, root, torch.as_tensor(pose))[0]
    mirrored = forward_kinematics(rest, root, torch.as_tensor(mirror_pose(pose)))[0]
    expected = joints[:, list(MIRROR)] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert torch.allclose(mirrored, expected, atol=1e-9)
    np.testing.assert_allclose(mirror_pose(mirror_pose(pose)), pose)


def test_optim_improves_on_the_filled_input(fit: OptimBaseline, clip: tuple[Motion, Motion]) -> None:
    gt, inp = clip
    out = fit(inp)
    assert out.num_frames == FRAMES and out.fps == gt.fps and out.body_model == "anny"
    assert out.pose_body.shape == (FRAMES, 63) and out.root_orient.shape == out.trans.shape == (FRAMES, 3)
    assert np.isfinite(out.joints).all() and np.isfinite(out.pose_body).all()
    filled = Motion(joints=prepare(inp, fit.body).joints, fps=inp.fps)
    before, after = evaluate(filled, gt, inp), evaluate(out, gt, inp)
    assert after["gmpjpe"]["all"] < before["gmpjpe"]["all"] - 5.0
    assert after["accel"] < 0.5 * before["accel"]
    # The output's joints are its own parameters posed by forward kinematics.
    again = fit.body(torch.as_tensor(out.betas), torch.as_tensor(out.root_orient), torch.as_tensor(out.pose_body),
                     torch.as_tensor(out.trans)).joints.numpy()
    np.testing.assert_allclose(again, out.joints, atol=1e-4)


def test_long_clips_are_fitted_in_chunks(prior: PosePrior, clip: tuple[Motion, Motion]) -> None:
    gt, inp = clip
    out = OptimBaseline(OptimSettings(iterations=20, chunk=30, overlap=10), prior)(inp)
    assert out.num_frames == FRAMES and np.isfinite(out.joints).all()
    assert evaluate(out, gt, inp)["gmpjpe"]["all"] < evaluate(Motion(joints=prepare(inp, load_body()).joints,
                                                                      fps=inp.fps), gt, inp)["gmpjpe"]["all"]


def _reprojection_px(motion: Motion, points: np.ndarray, joints: list[int]) -> float:
    cam = torch.as_tensor(motion.joints) @ torch.as_tensor(EXTRINSICS[:3, :3]).T + torch.as_tensor(EXTRINSICS[:3, 3])
    pixels = project(cam, torch.as_tensor(INTRINSICS)).numpy()
    return float(np.linalg.norm(pixels - points, axis=-1)[:, joints].mean())


def test_2d_term_pulls_the_projection_to_the_keypoints(prior: PosePrior, clip: tuple[Motion, Motion]) -> None:
    gt, inp = clip
    cam = torch.as_tensor(gt.joints) @ torch.as_tensor(EXTRINSICS[:3, :3]).T + torch.as_tensor(EXTRINSICS[:3, 3])
    points = project(cam, torch.as_tensor(INTRINSICS)).numpy()
    conf = np.ones(points.shape[:2])
    bad = np.zeros_like(points)  # a confidence below 0.2 must be ignored, whatever the point says
    conf[:, 0] = 0.1
    with_2d = replace(inp, keypoints_2d=np.where(conf[..., None] < 0.2, bad, points), keypoints_2d_conf=conf,
                      intrinsics=INTRINSICS, extrinsics=EXTRINSICS)
    settings = OptimSettings(iterations=ITERATIONS_2D)
    plain = OptimBaseline(replace(settings, reproj=0.0), prior)(with_2d)
    guided = OptimBaseline(settings, prior)(with_2d)
    lower = list(LOWER_BODY)
    assert _reprojection_px(guided, points, lower) < 0.7 * _reprojection_px(plain, points, lower)
    assert _reprojection_px(guided, points, [0]) < 20.0
    assert evaluate(guided, gt, inp)["gmpjpe"]["occ"] < evaluate(plain, gt, inp)["gmpjpe"]["occ"]
    assert guided.intrinsics is not None and guided.keypoints_2d is not None


def test_missing_or_corrupt_prior_raises(tmp_path: Path) -> None:
    with pytest.raises(RohmError, match="not found"):
        load_pose_prior(tmp_path / "none.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(RohmError, match="corrupt"):
        load_pose_prior(garbage)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(DEFAULT_PATH.read_bytes()[:5000])
    with pytest.raises(RohmError):
        load_pose_prior(truncated)
    foreign = tmp_path / "foreign.safetensors"
    save_tensors(foreign, {"w": torch.zeros(3)}, {"config": {"latent": 32, "hidden": 256}})
    with pytest.raises(RohmError, match="do not match"):
        load_pose_prior(foreign)
    save_tensors(foreign, PosePrior().state_dict(), {"steps": 1})
    with pytest.raises(RohmError, match="not a pose prior"):
        load_pose_prior(foreign)
