"""The product with the shipped weights: guidance, any length without seams, any fps,
uncertainty, BVH export, and the reconstruct/export/demo commands with their bad inputs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gt_window import gt_window

from rohm.corruption import corrupt_motion
from rohm.demo import CLIPS_DIR
from rohm.errors import RohmError
from rohm.evaluation.metrics import evaluate
from rohm.inference import Reconstructor, Settings
from rohm.inference.guidance import (
    DEFAULT_EXTRINSICS,
    Keypoints2D,
    PoseGuidance,
    camera_maps,
    frame_extrinsics,
    project,
)
from rohm.inference.resample import resample_motion
from rohm.inference.windows import window_starts
from rohm.io.bvh import read_bvh
from rohm.io.motion_file import Motion, load_motion, save_motion
from rohm.skeleton import JOINT_NAMES, LOWER_BODY

WALK = CLIPS_DIR / "walk_proud_001.npz"  # 331 frames: five model windows
TURN = CLIPS_DIR / "walk-turn-left_normal_020.npz"  # 145 frames


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor.from_pretrained()


def _acc(joints: np.ndarray) -> np.ndarray:
    """Per-frame acceleration magnitude (N-2, J) in metres per frame^2."""
    return np.linalg.norm(joints[2:] - 2 * joints[1:-1] + joints[:-2], axis=-1)


def test_windows_blend_without_seams(rec: Reconstructor) -> None:
    gt = load_motion(WALK)
    inp = corrupt_motion(gt, 3.0, "lower", 0)
    limit = 2 * _acc(gt.joints)[:, 0].max()  # the clip's own largest pelvis acceleration, doubled

    def boundary_acc(overlap: int) -> np.ndarray:
        out = rec.reconstruct(inp, Settings(overlap=overlap))
        assert out.num_frames == gt.num_frames
        starts = window_starts(gt.num_frames, rec.window, overlap)
        edges = sorted({s for s in starts[1:]} | {s + rec.window for s in starts[:-1]})
        return _acc(out.joints)[[e - 1 for e in edges if 1 <= e - 1 < gt.num_frames - 2], 0]

    assert boundary_acc(32).max() < limit
    assert boundary_acc(0).max() > limit  # hard cuts between windows do jump: the check can fail


def test_clean_pelvis_does_not_drift_on_a_long_input(rec: Reconstructor) -> None:
    gt = load_motion(WALK)
    inp = corrupt_motion(gt, 0.0, "lower", 0)
    out = rec.reconstruct(inp)
    err = np.linalg.norm(out.joints[:, 0] - gt.joints[:, 0], axis=-1)
    assert err.max() < 0.05 and err[-60:].mean() < 0.025  # no growth along the clip (uncorrected: max 63 mm)


def test_skate_guidance_descends_the_skating_objective(rec: Reconstructor) -> None:
    gt, traj, pose, rest, frames = gt_window(rec, TURN)
    guide = PoseGuidance(rec.normalizer, traj, rest, skate_weight=1.0)
    canonical = frames[0].apply_points(gt.joints[:rec.window])
    assert np.abs(guide.joints(pose)[0].numpy() - canonical).max() < 0.02  # FK of the features = the clip
    noisy = pose + 0.05 * torch.randn(pose.shape, generator=torch.Generator().manual_seed(0))
    x = noisy.clone().requires_grad_(True)
    value = guide.objective(x, torch.zeros(1))
    (grad,) = torch.autograd.grad(value, x)
    assert value.item() > 0
    assert guide.objective(noisy - 1e-3 * grad / grad.abs().max(), torch.zeros(1)) < value  # the sampler's step lowers J


def test_reprojection_guidance_is_zero_on_the_truth(rec: Reconstructor) -> None:
    gt, traj, pose, rest, frames = gt_window(rec, TURN)
    extrinsics = DEFAULT_EXTRINSICS.copy()
    extrinsics[:3, 3] = -extrinsics[:3, :3] @ (gt.joints[0, 0] + np.array([0.0, 0.0, 5.0]))  # camera 5 m in front
    intrinsics = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    cam = gt.joints[:rec.window] @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    guide_joints = PoseGuidance(rec.normalizer, traj, rest, 0.0).joints(pose)[0].double()
    rot, off = camera_maps(frames, frame_extrinsics(extrinsics, rec.window)[None])  # (1, L, 3, 3), (1, L, 3)
    canon_to_cam = np.einsum("lij,lkj->lki", rot[0], guide_joints.numpy()) + off[0][:, None]
    assert np.allclose(canon_to_cam, cam, atol=0.02)  # canonical -> camera matches world -> camera
    pixels = project(torch.as_tensor(cam), torch.as_tensor(intrinsics)).float()
    f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    kp = Keypoints2D(pixels[None], torch.ones(1, rec.window, 22), f32(intrinsics), f32(rot), f32(off))
    truth = PoseGuidance(rec.normalizer, traj, rest, 0.0, kp, reproj_weight=1.0).objective(pose, torch.zeros(1))
    shifted = Keypoints2D(pixels[None] + 30.0, kp.confidence, kp.intrinsics, kp.rotation, kp.offset)
    off_target = PoseGuidance(rec.normalizer, traj, rest, 0.0, shifted, reproj_weight=1.0).objective(pose, torch.zeros(1))
    low_conf = Keypoints2D(shifted.points, torch.full((1, rec.window, 22), 0.1), kp.intrinsics, kp.rotation, kp.offset)
    ignored = PoseGuidance(rec.normalizer, traj, rest, 0.0, low_conf, reproj_weight=1.0).objective(pose, torch.zeros(1))
    assert truth < 0.05 * off_target and ignored == 0.0  # confidence below 0.2 is no evidence


def test_any_fps_gives_the_input_frames(rec: Reconstructor) -> None:
    gt = load_motion(TURN)
    fast = resample_motion(gt, 60.0)
    assert fast.num_frames == 2 * gt.num_frames - 1
    back = resample_motion(fast, 30.0)
    assert np.abs(back.joints - gt.joints).max() < 1e-6  # 30 -> 60 -> 30 lands on the original frames
    inp = corrupt_motion(fast, 2.0, "lower", 0)
    out = rec.reconstruct(inp, Settings(iterations=1))
    assert out.num_frames == fast.num_frames and out.fps == 60.0 and np.isfinite(out.joints).all()
    assert evaluate(out, fast, inp)["gmpjpe"]["all"] < 80  # as good as at the models' own rate (~55 mm)


def test_samples_give_a_joint_std_larger_where_hidden(rec: Reconstructor) -> None:
    gt = load_motion(TURN)
    inp = corrupt_motion(gt, 3.0, "lower", 0)
    out = rec.reconstruct(inp, Settings(samples=3, iterations=1))
    std = out.joints_std
    assert std.shape == (gt.num_frames, 22) and (std >= 0).all()
    upper = [j for j in range(1, 22) if j not in LOWER_BODY]
    assert std[:, list(LOWER_BODY)].mean() > std[:, upper].mean()
    single = rec.reconstruct(inp, Settings(iterations=1))
    assert single.joints_std is None


def test_too_short_and_bad_settings_are_clear_errors(rec: Reconstructor) -> None:
    gt = load_motion(TURN)
    short = dataclasses.replace(gt, joints=gt.joints[:2], trans=gt.trans[:2], root_orient=gt.root_orient[:2],
                                pose_body=gt.pose_body[:2], contacts=gt.contacts[:2])
    with pytest.raises(RohmError, match="at least 3"):
        rec.reconstruct(short)
    with pytest.raises(RohmError, match="samples"):
        rec.reconstruct(gt, Settings(samples=0))
    no_pelvis = dataclasses.replace(gt, joint_mask=np.tile(np.arange(22) > 0, (gt.num_frames, 1)))
    with pytest.raises(RohmError, match="pelvis"):
        rec.reconstruct(no_pelvis)


def test_export_bvh_reads_back_the_same_joints(tmp_path: Path) -> None:
    out = tmp_path / "walk.bvh"
    assert _run(["export", str(WALK), "--bvh", str(out)]).returncode == 0
    bvh, gt = read_bvh(out), load_motion(WALK)
    assert bvh.num_frames == gt.num_frames and bvh.fps == pytest.approx(30.0)
    idx = [bvh.skeleton.names.index(n) for n in JOINT_NAMES]
    assert np.abs(bvh.global_positions()[:, idx] - gt.joints).max() < 1e-4  # metres, y-up, same world
    joints_only = tmp_path / "joints.npz"
    save_motion(Motion(joints=gt.joints, fps=gt.fps), joints_only)
    proc = _run(["export", str(joints_only), "--bvh", str(tmp_path / "j.bvh")])
    assert proc.returncode == 2 and "body parameters" in proc.stderr and not (tmp_path / "j.bvh").exists()


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rohm.cli", *args], capture_output=True, text=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reconstruct_command_beats_the_corrupted_input(tmp_path: Path) -> None:
    inp = tmp_path / "noisy.npz"
    assert _run(["corrupt", str(TURN), "--noise", "3", "--occlusion", "lower", "--out", str(inp)]).returncode == 0
    joints_only = tmp_path / "joints_only.npz"
    noisy = load_motion(inp, allow_all_missing=True)
    save_motion(Motion(joints=noisy.joints, fps=noisy.fps, joint_mask=noisy.joint_mask), joints_only)
    before = _digest(inp)
    proc = _run(["reconstruct", str(inp), str(joints_only), "--out", str(tmp_path / "out"), "--seed", "3"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _digest(inp) == before
    gt = load_motion(TURN)
    for name in ("noisy", "joints_only"):
        out = load_motion(tmp_path / "out" / f"{name}.npz")
        assert out.num_frames == gt.num_frames and int(out.settings["seed"]) == 3
        assert out.input_joint_mask.shape == (gt.num_frames, 22)
        ours = evaluate(out, gt, noisy)
        theirs = evaluate(Motion(joints=np.where(np.isnan(noisy.joints), noisy.joints[:, :1], noisy.joints), fps=30.0),
                          gt, noisy)  # hidden joints at the pelvis: the floor any method must beat
        assert ours["gmpjpe"]["all"] < theirs["gmpjpe"]["all"] and ours["accel"] < theirs["accel"]


def test_reconstruct_bad_inputs_exit_2_with_one_line_and_no_output(tmp_path: Path) -> None:
    gt = load_motion(TURN)
    files = {
        "short": Motion(joints=gt.joints[:2], fps=30.0),
        "nan": Motion(joints=np.full_like(gt.joints, np.nan), fps=30.0),
        "shape": None,
        "nofps": None,
    }
    for name, motion in files.items():
        if motion is not None:
            np.savez(tmp_path / f"{name}.npz", joints=motion.joints, fps=motion.fps)
    np.savez(tmp_path / "shape.npz", joints=gt.joints[:, :21], fps=30.0)
    np.savez(tmp_path / "nofps.npz", joints=gt.joints)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(TURN.read_bytes()[:2000])
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "manifest.json").write_text(json.dumps({"window": 96, "traj_diffusion_steps": 100,
                                                        "pose_diffusion_steps": 1000}))
    (weights / "trajnet.safetensors").write_bytes(b"\0" * 100)
    cases = [
        ([str(tmp_path / "short.npz")], "at least 3"),
        ([str(tmp_path / "nan.npz")], "nan.npz"),
        ([str(tmp_path / "shape.npz")], "shape"),
        ([str(tmp_path / "nofps.npz")], "fps"),
        ([str(truncated)], "truncated.npz"),
        ([str(TURN), "--checkpoint", str(tmp_path / "missing")], "manifest.json missing"),
        ([str(TURN), "--checkpoint", str(weights)], "trajnet.safetensors"),
        ([str(TURN), "--samples", "0"], "samples"),
    ]
    for args, needle in cases:
        out = tmp_path / "out.npz"
        proc = _run(["reconstruct", *args, "--out", str(out)])
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], (args, proc.stderr)
        assert not out.exists()
    copy = tmp_path / "input.npz"
    copy.write_bytes(TURN.read_bytes())
    proc = _run(["reconstruct", str(copy), "--out", str(copy)])
    assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr and _digest(copy) == _digest(TURN)


def test_demo_writes_metrics_bvh_and_a_comparison_video(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = _run(["demo", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rohm"]["gmpjpe"]["all"] < metrics["input"]["gmpjpe"]["all"]
    assert metrics["rohm"]["accel"] < metrics["input"]["accel"]
    assert read_bvh(out / "rohm.bvh").num_frames == load_motion(out / "ground_truth.npz").num_frames
    video = out / "compare.mp4"
    assert video.stat().st_size > 10_000 and str(video) in proc.stdout
    again = _run(["render", str(out / "rohm.npz"), "--compare", str(out / "input.npz"), "--layout", "overlay",
                  "--out", str(tmp_path / "overlay.mp4")])
    assert again.returncode == 0 and (tmp_path / "overlay.mp4").stat().st_size > 10_000
    refused = _run(["render", str(out / "rohm.npz"), "--out", str(out / "rohm.npz")])
    assert refused.returncode == 2 and "refusing to overwrite" in refused.stderr


def test_drift_correction_follows_slow_offsets_not_noise() -> None:
    from rohm.inference.anchoring import drift_correction

    n = 300
    rng = np.random.default_rng(0)
    truth = np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0)
    drifted = truth + np.linspace(0, 0.2, n)[:, None]  # the reconstruction slowly walks away
    observed = np.ones(n, dtype=bool)
    observed[100:140] = False  # a gap is bridged
    noisy_input = truth + rng.normal(0, 0.03, (n, 3))  # 3 cm per-frame noise
    fixed = drifted + drift_correction(drifted, noisy_input, observed, sigma=15.0)
    err = np.linalg.norm(fixed - truth, axis=-1)
    assert err[20:-20].mean() < 0.02 and np.linalg.norm(drifted - truth, axis=-1).mean() > 0.08
    assert np.abs(np.diff(fixed - drifted, axis=0)).max() < 0.01  # the correction is smooth: no noise let in
    far = np.zeros(n, dtype=bool)
    far[:10] = True
    assert np.allclose(drift_correction(drifted, noisy_input, far, 15.0)[200:], 0.0)  # no evidence, no correction


def test_drift_correction_keeps_a_long_gap_on_the_line_between_its_ends() -> None:
    from rohm.inference.anchoring import drift_correction

    n = 300
    truth = np.stack([np.linspace(0, 10, n), np.full(n, 0.9), np.zeros(n)], axis=1)  # a straight walk
    observed = np.ones(n, dtype=bool)
    observed[60:240] = False  # 6 s unseen: longer than any window
    wander = truth.copy()
    wander[60:240, 2] += np.sin(np.linspace(0, np.pi, 180)) * 2.0  # the networks' path strays 2 m
    off = np.linalg.norm(wander + drift_correction(wander, truth, observed, 15.0) - truth, axis=-1)
    on = np.linalg.norm(wander + drift_correction(wander, truth, observed, 15.0, gap_weight=0.05) - truth, axis=-1)
    assert off[150] > 1.9 and on[150] < 0.1  # without gap weight the middle of the gap stays where it strayed
    assert on[:50].max() < 0.01 and on[250:].max() < 0.01 and on[:20].max() < 1e-4  # observed frames stay put


def test_joint_gap_weight_infills_missing_frames_towards_the_line_between_observations() -> None:
    from rohm.inference.anchoring import anchor_joints

    n = 120
    truth = np.zeros((n, 22, 3))
    truth[..., 0] = np.linspace(0, 3, n)[:, None]  # every joint moves in a straight line
    observed = np.ones((n, 22), dtype=bool)
    observed[50:66] = False  # half a second of whole missing frames (Occ-10%-like)
    observed[:, 5] = False  # one joint never seen
    output = truth.copy()
    output[50:66, :, 2] += 0.3 * np.sin(np.linspace(0, np.pi, 16))[:, None]  # the networks' infill bulges 30 cm
    plain = anchor_joints(output, truth, observed, 8.0)
    pulled = anchor_joints(output, truth, observed, 8.0, gap_weight=0.3)
    err = lambda joints: np.linalg.norm(joints - truth, axis=-1)[57:59, 0].mean()  # the middle of the gap  # noqa: E731
    assert err(plain) > 0.25 and err(pulled) < 0.8 * err(plain)
    assert err(anchor_joints(output, truth, observed, 8.0, gap_weight=3.0)) < 0.5 * err(plain)  # stronger, nearer
    assert np.array_equal(pulled[:, 5], output[:, 5])  # never observed: left as the networks made it
    assert np.abs(pulled[:30] - truth[:30]).max() < 1e-3  # observed frames far from the gap stay put


def test_low_2d_confidence_masks_the_joint_in_3d(rec: Reconstructor) -> None:
    from rohm.inference.reconstructor import with_confidence_mask

    gt = load_motion(TURN)
    conf = np.full((gt.num_frames, 22), 0.9)
    conf[:, list(LOWER_BODY)] = 0.1  # below the 0.2 threshold
    conf[:5, 16] = np.nan  # no detection at all
    seen = dataclasses.replace(gt, keypoints_2d=np.zeros((gt.num_frames, 22, 2)), keypoints_2d_conf=conf,
                               intrinsics=np.eye(3))
    mask = with_confidence_mask(seen).observed()
    assert not mask[:, list(LOWER_BODY)].any() and not mask[:5, 16].any() and mask[5:, 16].all() and mask[:, 0].all()
    out = rec.reconstruct(seen, Settings(iterations=1))
    assert np.array_equal(out.input_joint_mask, mask)  # the output records what was trusted
    seen.keypoints_2d_conf = np.full((gt.num_frames, 22), 0.1)
    with pytest.raises(RohmError, match="pelvis"):
        rec.reconstruct(seen)


def test_a_full_occlusion_longer_than_a_window_is_infilled(rec: Reconstructor) -> None:
    gt = load_motion(WALK)
    mask = np.ones((gt.num_frames, 22), dtype=bool)
    mask[100:220] = False  # 4 s unseen: more than a model window (96 frames)
    inp = corrupt_motion(dataclasses.replace(gt, joint_mask=mask), 2.0, "none", 0)
    out = rec.reconstruct(inp, Settings(iterations=1))
    assert out.num_frames == gt.num_frames and np.isfinite(out.joints).all()
    err = np.linalg.norm(out.joints[:, 0] - gt.joints[:, 0], axis=-1)
    assert err[:95].max() < 0.1 and err[240:].max() < 0.1  # the seen parts stay on their evidence
    # (Inside such a gap each window invents its own path: README, Limitations.)
