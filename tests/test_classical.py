"""Tests for rohm.baselines.classical: gap filling plus Savitzky-Golay / Butterworth / RTS smoothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rohm.baselines.classical import classical_method
from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.evaluation.metrics import evaluate
from rohm.inference.prepare import fill_motion, rest_pose
from rohm.inference.smoothing import CLASSICAL_KINDS, SMOOTHERS
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import LOWER_BODY, NUM_JOINTS, PARENTS

REPO = Path(__file__).resolve().parents[1]
TUNING = REPO / "benchmarks" / "results" / "classical_tuning.json"
FPS = 30.0


def smooth_truth(n: int, seed: int = 0) -> np.ndarray:
    """(n, 22, 3) slow, smooth joint trajectories (sums of < 1 Hz sinusoids around a walk)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None, None] / FPS
    amp, freq, phase = rng.uniform(0.05, 0.2, (3, NUM_JOINTS, 3)), rng.uniform(0.2, 0.8, (NUM_JOINTS, 3)), \
        rng.uniform(0, 2 * np.pi, (NUM_JOINTS, 3))
    base = rng.normal(0.0, 0.3, (NUM_JOINTS, 3)) + np.array([0.0, 1.0, 0.0])
    return base + amp[0] * np.sin(2 * np.pi * freq * t + phase) + np.array([0.0, 0.0, 1.0]) * t


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_smoother_lowers_noise(kind: str) -> None:
    truth = smooth_truth(150)
    noisy = truth + np.random.default_rng(1).normal(0.0, 0.03, truth.shape)
    out = classical_method(kind)(Motion(joints=noisy, fps=FPS)).joints
    assert rmse(out, truth) < 0.6 * rmse(noisy, truth)


def test_rts_bridges_gap_of_constant_velocity_motion() -> None:
    n, gap = 120, slice(45, 75)
    rng = np.random.default_rng(2)
    start, velocity = rng.normal(0.0, 0.5, (NUM_JOINTS, 3)), rng.normal(0.0, 1.0, (NUM_JOINTS, 3))
    truth = start + velocity * (np.arange(n)[:, None, None] / FPS)
    noisy = truth + rng.normal(0.0, 0.01, truth.shape)
    noisy[gap] = np.nan
    motion = Motion(joints=noisy, fps=FPS)
    out = classical_method("rts")(motion).joints

    def gap_err(joints: np.ndarray) -> float:
        return float(np.linalg.norm(joints[gap] - truth[gap], axis=-1).mean())

    held = np.where(np.isnan(noisy), noisy[gap.start - 1], noisy)  # the last frame before the gap, held
    assert gap_err(out) < 0.2 * gap_err(held)
    assert gap_err(out) < 1.2 * gap_err(fill_motion(motion)[0])  # linear interpolation over the gap
    seen = ~np.isnan(noisy[..., 0])
    assert np.linalg.norm(out - truth, axis=-1)[seen].mean() < 0.6 * np.linalg.norm(noisy - truth, axis=-1)[seen].mean()


def test_rts_skips_missing_observations() -> None:
    truth = smooth_truth(40)
    observed = np.ones(truth.shape[:2], dtype=bool)
    observed[10:20, 3] = observed[:, 5] = False
    garbage = truth.copy()
    garbage[~observed] = 5.0
    rts = SMOOTHERS["rts"]()
    seen = observed.any(axis=0)
    np.testing.assert_allclose(rts(garbage, observed, FPS)[:, seen], rts(truth, observed, FPS)[:, seen], atol=1e-12)


def test_rts_is_exact_on_clean_constant_velocity() -> None:
    truth = np.linspace(0.0, 2.0, 60)[:, None, None] * np.arange(1, NUM_JOINTS * 3 + 1).reshape(NUM_JOINTS, 3) / 66
    missing = truth.copy()
    missing[20:35, :5] = np.nan
    out = classical_method("rts")(Motion(joints=missing, fps=FPS)).joints
    np.testing.assert_allclose(out, truth, atol=2e-3)


@pytest.fixture(scope="module")
def demo() -> tuple[Motion, Motion]:
    """A real test-split clip and its Occ-L, k = 3 corruption."""
    gt = load_motion(REPO / "rohm" / "demo_clips" / "run_proud_001.npz")
    return gt, corrupt_motion(gt, 3.0, "lower", seed=0)


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_output_complete_and_unseen_joints_from_rest_pose(kind: str, demo: tuple[Motion, Motion]) -> None:
    gt, inp = demo
    out = classical_method(kind)(inp)
    assert out.joints.shape == (gt.num_frames, NUM_JOINTS, 3) and out.fps == inp.fps
    assert np.isfinite(out.joints).all()
    rest = rest_pose(inp)
    for j in LOWER_BODY:  # never observed: rest bone length to the parent in every frame
        bone = np.linalg.norm(out.joints[:, j] - out.joints[:, PARENTS[j]], axis=-1)
        np.testing.assert_allclose(bone, np.linalg.norm(rest[j] - rest[PARENTS[j]]), atol=1e-9)


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_tuned_smoother_beats_filled_input_on_occ_l(kind: str, demo: tuple[Motion, Motion]) -> None:
    gt, inp = demo
    filled = evaluate(Motion(joints=fill_motion(inp)[0], fps=inp.fps), gt, inp)
    smoothed = evaluate(classical_method(kind)(inp), gt, inp)
    assert smoothed["gmpjpe"]["all"] < 0.85 * filled["gmpjpe"]["all"]
    assert smoothed["accel"] < 0.2 * filled["accel"]


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_very_short_input(kind: str, n: int) -> None:
    joints = smooth_truth(n) + np.random.default_rng(3).normal(0.0, 0.01, (n, NUM_JOINTS, 3))
    joints[n // 2, 4] = np.nan
    joints[:, 7] = np.nan  # never observed
    out = classical_method(kind)(Motion(joints=joints, fps=FPS))
    assert out.joints.shape == (n, NUM_JOINTS, 3) and np.isfinite(out.joints).all()


def test_bad_kind_or_parameters_raise_rohm_error() -> None:
    with pytest.raises(RohmError, match="unknown classical smoother"):
        classical_method("kalman")
    with pytest.raises(RohmError, match="parameter"):
        classical_method("savgol", cutoff=3.0)
    with pytest.raises(RohmError):
        classical_method("rts", q=-1.0)
    with pytest.raises(RohmError):
        classical_method("savgol", window=5, polyorder=5)


@pytest.mark.skipif(not TUNING.exists(), reason="no tuning results")
def test_defaults_are_the_tuned_parameters() -> None:
    chosen = json.loads(TUNING.read_text())["chosen"]
    assert set(chosen) == set(CLASSICAL_KINDS)
    for kind, params in chosen.items():
        defaults = {f.name: f.default for f in dataclasses.fields(SMOOTHERS[kind])}
        assert defaults == params, kind
