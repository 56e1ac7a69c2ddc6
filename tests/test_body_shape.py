"""Body shape from observed bone lengths, and the shape a joints-only input gets at inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rohm.body import load_body
from rohm.body.shape import fit_bone_lengths, observed_bone_lengths
from rohm.corruption import corrupt_motion
from rohm.inference.prepare import prepare
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import LOWER_BODY

CLIP = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips" / "walk_proud_001.npz"


def posed(betas: np.ndarray) -> Motion:
    """The demo clip's motion re-posed on another body shape (joints only)."""
    clip = load_motion(CLIP)
    body = load_body("anny")
    with torch.no_grad():
        joints = body(torch.as_tensor(betas), torch.as_tensor(clip.root_orient), torch.as_tensor(clip.pose_body),
                      torch.as_tensor(clip.trans)).joints.numpy()
    return Motion(joints=joints, fps=clip.fps)


def bone_error_mm(betas: np.ndarray, lengths: np.ndarray) -> float:
    fitted = observed_bone_lengths(posed(betas).joints, np.ones((1, 22), dtype=bool).repeat(len(posed(betas).joints), 0))
    known = ~np.isnan(lengths)
    return float(np.abs(fitted[known] - lengths[known]).mean() * 1000)


def test_bone_lengths_recover_a_shape_the_default_misses() -> None:
    body = load_body("anny")
    truth = np.array([0.1, 0.3, 0.8, 0.2, 0.9, 0.7])  # female-ish, young, muscular, light, tall
    motion = posed(truth)
    observed = np.ones(motion.joints.shape[:2], dtype=bool)
    lengths = observed_bone_lengths(motion.joints, observed)
    betas = fit_bone_lengths(body, lengths)
    assert ((betas >= 0) & (betas <= 1)).all()
    assert bone_error_mm(betas, lengths) < 0.25 * bone_error_mm(body.default_betas.numpy(), lengths)


def test_hidden_bones_do_not_pull() -> None:
    body = load_body("anny")
    motion = posed(np.array([0.5, 0.5, 0.5, 0.5, 1.0, 0.5]))  # tall
    observed = np.ones(motion.joints.shape[:2], dtype=bool)
    observed[:, list(LOWER_BODY)] = False
    lengths = observed_bone_lengths(motion.joints, observed)
    assert np.isnan(lengths[[j - 1 for j in LOWER_BODY]]).all() and not np.isnan(lengths[2])  # spine1 seen
    betas = fit_bone_lengths(body, lengths)
    assert betas[4] > 0.7  # the upper body alone says "tall"
    assert np.allclose(fit_bone_lengths(body, np.full(21, np.nan)), body.default_betas.numpy())


def test_joints_only_input_without_full_frames_gets_a_fitted_shape() -> None:
    body = load_body("anny")
    truth = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.5])  # short
    clip = load_motion(CLIP)
    gt = posed(truth)
    hidden = corrupt_motion(clip, 0.0, "lower", 0).joint_mask
    prep = prepare(Motion(joints=gt.joints, fps=gt.fps, joint_mask=hidden), body)
    assert prep.shape_source == "fitted"
    assert prep.betas[4] < 0.35
    with_params = prepare(clip, body)
    assert with_params.shape_source == "input" and np.allclose(with_params.betas, clip.betas)


def test_joints_only_input_with_its_own_shape_keeps_it() -> None:
    truth = np.array([0.2, 0.4, 0.6, 0.3, 0.7, 0.5])
    gt = posed(truth)
    prep = prepare(Motion(joints=gt.joints, fps=gt.fps, betas=truth, body_model="anny"), load_body("anny"))
    assert prep.shape_source == "input" and np.allclose(prep.betas, truth)
    assert np.abs(prep.joints - gt.joints).max() < 0.02  # retargeted onto its own body


def test_a_shape_the_caller_fitted_keeps_its_provenance() -> None:
    from rohm.video.person import with_own_shape

    truth = np.array([0.2, 0.4, 0.6, 0.3, 0.7, 0.5])
    gt = posed(truth)
    fitted = with_own_shape(Motion(joints=gt.joints, fps=gt.fps), load_body())
    assert fitted.shape_source == "fitted"
    assert prepare(fitted, load_body()).shape_source == "fitted"  # not "input": the caller fitted it
