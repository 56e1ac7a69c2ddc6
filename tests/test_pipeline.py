"""The inference pipeline's structure: stages listed and switched by settings, each post-processing
step a `Motion -> Motion` that works alone, MDM++ built from the same pieces, one input fill and
one evaluation step, typed provenance on the output."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.evaluation.catalogue import PROTOCOLS
from rohm.evaluation.protocol import score_clip, score_input
from rohm.inference import Reconstructor, Settings
from rohm.inference.denoise import Algorithm1, JointDenoiser
from rohm.inference.postprocess import (
    DriftCorrection,
    FootLock,
    JointAnchoring,
    model_rate_steps,
    output_rate_steps,
)
from rohm.inference.prepare import filled_input
from rohm.inference.windows import Blender, blend_weights, window_starts
from rohm.io.motion_file import Motion, load_motion, save_motion

CLIP = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips" / "walk-turn-left_normal_020.npz"
POST = ["drift correction", "joint anchoring", "resample back", "foot locking"]


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor.from_pretrained()


def test_stages_follow_the_settings(rec: Reconstructor) -> None:
    core = ["check", "resample", "prepare", "windows", "denoise (rohm)", "blend", "refit"]
    assert rec.stages(Settings()) == core + POST
    assert rec.stages(Settings.paper()) == core + ["resample back"]  # none of rohm's post-processing
    assert rec.stages(Settings(foot_lock=False, drift_sigma=None)) == core + ["joint anchoring", "resample back"]
    at_model_rate = Motion(joints=np.zeros((10, 22, 3)), fps=rec.fps)
    assert "resample" not in rec.stages(Settings(), at_model_rate)


def test_mdm_is_the_same_pipeline_with_its_own_denoiser_only() -> None:
    mdm = Reconstructor.from_pretrained(model="mdm++")
    assert isinstance(mdm.denoiser, JointDenoiser) and not hasattr(mdm.denoiser, "trajnet")
    assert "denoise (mdm++)" in mdm.stages(Settings())
    out = mdm.reconstruct(corrupt_motion(load_motion(CLIP), 3.0, "lower", 0), Settings(pose_steps=4))
    assert out.settings["guidance"] is False and out.settings["iterations"] == 1  # what it really used
    with pytest.raises(RohmError, match="unknown model"):
        Reconstructor.from_pretrained(model="rohm2")


def test_rohm_records_its_settings_and_provenance_as_typed_fields(rec: Reconstructor, tmp_path: Path) -> None:
    assert isinstance(rec.denoiser, Algorithm1)
    inp = corrupt_motion(load_motion(CLIP), 3.0, "lower", 0)
    out = rec.reconstruct(inp, Settings(iterations=1, seed=5))
    assert out.settings["seed"] == 5 and out.shape_source == "input" and out.joints_std is None
    assert np.array_equal(out.input_joint_mask, inp.observed())
    save_motion(out, tmp_path / "out.npz")
    back = load_motion(tmp_path / "out.npz")
    assert int(back.settings["seed"]) == 5 and back.shape_source == "input"
    assert np.array_equal(back.input_joint_mask, out.input_joint_mask) and not any(
        k.startswith("settings_") or k in ("input_joint_mask", "shape_source") for k in back.extras)


def _walk() -> Motion:
    return load_motion(CLIP)


def test_drift_correction_alone_removes_a_slow_offset() -> None:
    gt = _walk()
    drifted = dataclasses.replace(gt, joints=gt.joints + [0.3, 0.0, 0.0], trans=gt.trans + [0.3, 0.0, 0.0])
    out = DriftCorrection(gt, sigma=15.0, gap_weight=0.05)(drifted)
    assert np.abs(out.joints - gt.joints).max() < 1e-6 and np.abs(out.trans - gt.trans).max() < 1e-6
    assert np.abs(drifted.joints - gt.joints).max() > 0.29  # the input is not changed


def test_joint_anchoring_alone_pulls_joints_to_the_evidence_and_refits() -> None:
    gt = _walk()
    body = load_body()
    bent = dataclasses.replace(gt, joints=gt.joints + np.array([0.0, 0.0, 0.1]))  # every joint 10 cm off
    out = JointAnchoring(gt, sigma=2.0, gap_weight=1.0, body=body)(bent)
    assert np.linalg.norm(out.joints - gt.joints, axis=-1).mean() < 0.01
    posed = body(torch.as_tensor(out.betas), torch.as_tensor(out.root_orient), torch.as_tensor(out.pose_body),
                 torch.as_tensor(out.trans)).joints.numpy()
    assert np.abs(posed - out.joints).max() < 1e-6  # joints and parameters are one body


def test_foot_lock_alone_pins_a_sliding_stance_foot() -> None:
    gt = _walk()
    contacts = np.zeros((gt.num_frames, 4))
    contacts[20:40] = 1.0
    slid = gt.joints.copy()
    slid[20:40, [7, 10]] += np.linspace(0.0, 0.06, 20)[:, None, None] * np.array([1.0, 0.0, 0.0])
    motion = dataclasses.replace(gt, joints=slid, contacts=contacts)
    out = FootLock(load_body(), max_shift=0.2, max_drop=0.0)(motion)
    span = out.joints[24:36, 7]
    assert np.ptp(span[:, 0]) < 0.25 * np.ptp(slid[24:36, 7, 0])


def test_post_steps_are_listed_and_switched_by_settings() -> None:
    gt = _walk()
    body = load_body()
    assert [s.name for s in model_rate_steps(Settings(), gt, body)] == ["drift correction", "joint anchoring"]
    assert model_rate_steps(Settings.paper(), gt, body) == [] and output_rate_steps(Settings.paper(), body) == []
    assert [s.name for s in output_rate_steps(Settings(), body)] == ["foot locking"]


def test_blender_averages_rotations_on_so3_and_channels_linearly() -> None:
    n, length = 50, 30
    starts = window_starts(n, length, 10)
    blender = Blender(blend_weights(n, starts, length), starts, n, channels={"trans": 3})
    eye = torch.eye(3, dtype=torch.float64).expand(length, 22, 3, 3)
    for i in range(len(starts)):
        blender.add(i, 0, eye, trans=torch.full((length, 3), float(i)))
    rot, channels = blender.result()
    assert torch.allclose(rot, torch.eye(3, dtype=torch.float64).expand_as(rot))
    trans = channels["trans"][0, :, 0].numpy()
    assert trans[0] == 0.0 and trans[-1] == len(starts) - 1 and (np.diff(trans) >= -1e-12).all()


def test_one_input_fill_and_one_evaluation_step() -> None:
    from rohm.evaluation.benchmark import build_method

    assert build_method("input") is filled_input
    gt = _walk()
    inp = corrupt_motion(gt, 3.0, "lower", 0)
    row = score_input(gt, inp, {"input": filled_input})
    assert row["input"]["gmpjpe.vis"] > 0 and "seconds" in row["input"]
    with pytest.raises(RohmError, match="returned 10 frames"):
        score_input(gt, inp, {"short": lambda m: Motion(joints=m.joints[:10], fps=m.fps)})
    again = score_clip(PROTOCOLS["occl-k3"], CLIP, 0, {"input": filled_input})
    assert again["methods"]["input"]["gmpjpe.all"] == row["input"]["gmpjpe.all"]  # same input, same score
