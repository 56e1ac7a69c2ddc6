"""Inference building blocks: windows and their blending, input preparation, and a full
reconstruction with tiny trained weights (same frames out as in, world frame kept)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training import TINY

from rohm.body import load_body
from rohm.corruption import corrupt_motion
from rohm.inference import Reconstructor, Settings
from rohm.inference.prepare import fill_in_time, prepare
from rohm.inference.pretrained import export_run
from rohm.inference.windows import blend_weights, window_starts
from rohm.io.motion_file import Motion, load_motion


@pytest.mark.parametrize("n,window,overlap", [(10, 96, 32), (96, 96, 32), (97, 96, 32), (500, 96, 32), (200, 64, 16)])
def test_windows_cover_and_blend_to_one(n: int, window: int, overlap: int) -> None:
    starts = window_starts(n, window, overlap)
    length = min(window, n)
    assert starts[0] == 0 and starts[-1] + length == n
    assert all(b - a <= window - overlap for a, b in zip(starts, starts[1:]))
    w = blend_weights(n, starts, length)
    total = np.zeros(n)
    for i, s in enumerate(starts):
        total[s:s + length] += w[i]
    assert np.allclose(total, 1.0) and (w >= 0).all()


def test_fill_in_time() -> None:
    x = np.array([[0.0], [np.nan], [2.0], [np.nan]])
    known = ~np.isnan(x[:, 0])
    assert np.allclose(fill_in_time(x, known)[:, 0], [0.0, 1.0, 2.0, 2.0])


def test_prepare_joints_only_and_params(built_dataset: Path) -> None:
    body = load_body()
    gt = load_motion(sorted((built_dataset / "test").glob("*.npz"))[0])
    noisy = corrupt_motion(gt, 0.0, "lower", 0)
    prep = prepare(noisy, body)
    assert np.isfinite(prep.pose_body).all() and not prep.observed[:, 4].any()
    joints_only = Motion(joints=noisy.joints, fps=gt.fps, joint_mask=noisy.joint_mask)
    prep2 = prepare(joints_only, body)
    vis = prep2.observed
    err = np.linalg.norm(prep2.joints - gt.joints, axis=-1)[vis]
    assert err.mean() < 0.03  # IK onto the default body reproduces the observed joints closely


@pytest.fixture(scope="module")
def tiny_weights(built_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tiny")
    (tmp / "cfg.json").write_text(json.dumps(TINY))
    proc = subprocess.run([sys.executable, "-m", "rohm.cli", "train", "--data", str(built_dataset), "--out",
                           str(tmp / "run"), "--config", str(tmp / "cfg.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return export_run(tmp / "run", built_dataset, tmp / "weights")


def test_reconstruct_keeps_frames_and_world(built_dataset: Path, tiny_weights: Path) -> None:
    rec = Reconstructor.from_pretrained(tiny_weights)
    gt = load_motion(sorted((built_dataset / "test").glob("*.npz"))[0])
    inp = corrupt_motion(gt, 3.0, "frames-10", 1)
    settings = Settings(iterations=2, traj_steps=2, pose_steps=2)
    out = rec.reconstruct(inp, settings)
    assert out.num_frames == gt.num_frames and np.isfinite(out.joints).all()
    assert out.pose_body.shape == (gt.num_frames, 63) and out.contacts.shape == (gt.num_frames, 4)
    again = rec.reconstruct(inp, settings)
    assert np.array_equal(out.joints, again.joints)  # deterministic per seed
    # Windows are mapped back to the input's world: the untrained model stays near the input trajectory.
    assert np.linalg.norm(out.joints[:, 0] - gt.joints[:, 0], axis=-1).mean() < 2.0


@pytest.mark.parametrize("paper", [True, False])
def test_paper_iterations_condition_on_the_previous_estimate(built_dataset: Path, tiny_weights: Path,
                                                            paper: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eq. 10-11: under the paper's conditioning iteration 2 sees iteration 1's trajectory and pose
    (fully observed); rohm's default keeps conditioning on the input."""
    import rohm.inference.denoise as denoise

    rec = Reconstructor.from_pretrained(tiny_weights)
    calls: list[dict] = []
    real = denoise.sample_network

    def spy(net, schedule, shape, steps, settings, gen, guidance=None, **kwargs):
        result = real(net, schedule, shape, steps, settings, gen, guidance=guidance, **kwargs)
        calls.append({"net": net, "out": result, **kwargs})
        return result
    monkeypatch.setattr(denoise, "sample_network", spy)
    gt = load_motion(sorted((built_dataset / "test").glob("*.npz"))[0])
    settings = Settings.paper_fast() if paper else Settings()
    settings.traj_steps, settings.pose_steps = 2, 2
    rec.reconstruct(corrupt_motion(gt, 3.0, "lower", 1), settings)
    traj1, pose1, traj2, pose2 = calls[:4]
    assert traj1["net"] is rec.denoiser.trajnet and pose2["net"] is rec.denoiser.posenet
    if paper:
        assert torch.equal(traj2["cond"], traj1["out"]) and torch.equal(pose2["cond"], pose1["out"])
        assert bool((pose2["cond_mask"] == 1).all())
    else:
        assert torch.equal(traj2["cond"], traj1["cond"]) and torch.equal(pose2["cond"], pose1["cond"])
    assert traj2["control"] is pose1["out"]  # TrajControl is driven by the last pose either way


def test_paper_settings_are_the_paper() -> None:
    paper = Settings.paper()
    assert (paper.method, paper.traj_steps, paper.pose_steps, paper.guidance_steps) == ("ddpm", None, None, 100)
    assert paper.guidance_clip is None and not paper.anchor_input and paper.window == 144
    assert paper.drift_sigma is None and paper.joint_sigma is None and not paper.foot_lock


def test_missing_weights_are_a_clear_error(tmp_path: Path) -> None:
    from rohm.errors import RohmError

    with pytest.raises(RohmError, match="manifest.json missing"):
        Reconstructor.from_pretrained(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"window": 8, "traj_diffusion_steps": 5, "pose_diffusion_steps": 5}))
    (tmp_path / "trajnet.safetensors").write_bytes(b"garbage")
    with pytest.raises(RohmError, match="trajnet.safetensors"):
        Reconstructor.from_pretrained(tmp_path)


def test_shipped_weights_improve_a_corrupted_real_clip(built_dataset: Path) -> None:
    from rohm.evaluation.metrics import evaluate
    from rohm.inference.prepare import filled_input

    rec = Reconstructor.from_pretrained()  # rohm/weights
    gt = load_motion(sorted((built_dataset / "test").glob("*.npz"))[0])
    inp = corrupt_motion(gt, 3.0, "lower", 0)
    out = rec.reconstruct(inp)
    assert out.num_frames == gt.num_frames
    filled = filled_input(inp)
    ours, theirs = evaluate(out, gt, inp), evaluate(filled, gt, inp)
    assert ours["gmpjpe"]["all"] < theirs["gmpjpe"]["all"]
    assert ours["accel"] < theirs["accel"]
