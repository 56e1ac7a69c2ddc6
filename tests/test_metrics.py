"""Tests for rohm.evaluation.metrics on hand-made joint sequences with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rohm.corruption import corrupt_motion
from rohm.errors import RohmError
from rohm.evaluation.metrics import (
    SKATE_SPEED,
    evaluate,
    flatten,
    format_table,
    planted_feet,
    speed_span,
)
from rohm.io.motion_file import Motion, load_motion
from rohm.skeleton import FOOT_JOINTS, NUM_JOINTS

FPS = 30.0
L_ANKLE, L_TOE, R_ANKLE, R_TOE = FOOT_JOINTS


def walk(n: int = 20, seed: int = 0) -> np.ndarray:
    """(n, 22, 3) joints: a random standing skeleton (feet well above 15 cm) translating along z."""
    rng = np.random.default_rng(seed)
    body = rng.uniform(-0.3, 0.3, size=(NUM_JOINTS, 3)) + np.array([0.0, 1.0, 0.0])
    joints = np.repeat(body[None], n, axis=0)
    joints[..., 2] += np.arange(n)[:, None] / FPS
    return joints


def motion(joints: np.ndarray, **kwargs) -> Motion:
    return Motion(joints=joints, fps=FPS, **kwargs)


def test_identical_prediction_scores_zero() -> None:
    gt = motion(walk())
    r = evaluate(motion(gt.joints.copy()), gt, motion(gt.joints.copy()))
    assert r["gmpjpe"] == {"vis": 0.0, "occ": None, "all": 0.0}
    assert r["mpjpe"] == {"vis": 0.0, "occ": None, "all": 0.0}
    assert r["accel"] == pytest.approx(0.0, abs=1e-9)
    assert r["contact"] == 1.0
    assert r["frames"] == {"pred": 20, "gt": 20, "input": 20}


def test_constant_offset_is_global_not_local() -> None:
    gt = motion(walk())
    pred = motion(gt.joints + np.array([0.010, 0.0, 0.0]))
    r = evaluate(pred, gt)
    for split in ("vis", "all"):
        assert r["gmpjpe"][split] == pytest.approx(10.0)
        assert r["mpjpe"][split] == pytest.approx(0.0, abs=1e-9)
    assert r["gmpjpe"]["occ"] is None and r["mpjpe"]["occ"] is None
    assert r["accel"] == pytest.approx(0.0, abs=1e-6)


def test_visible_occluded_split_follows_input_mask() -> None:
    n = 4
    gt = motion(walk(n))
    # Joint j is off by j mm along x, so every split's mean is known.
    pred = motion(gt.joints + np.arange(NUM_JOINTS)[None, :, None] * np.array([0.001, 0.0, 0.0]))
    mask = np.zeros((n, NUM_JOINTS), dtype=bool)
    mask[:, :11] = True
    inp_joints = gt.joints.copy()
    inp_joints[:, 3] = np.nan  # in the mask but missing: counts as occluded
    r = evaluate(pred, gt, motion(inp_joints, joint_mask=mask))
    visible = [0, 1, 2] + list(range(4, 11))
    occluded = [3] + list(range(11, NUM_JOINTS))
    assert r["gmpjpe"]["vis"] == pytest.approx(np.mean(visible))
    assert r["gmpjpe"]["occ"] == pytest.approx(np.mean(occluded))
    assert r["gmpjpe"]["all"] == pytest.approx(np.mean(np.arange(NUM_JOINTS)))
    # Pelvis-aligned: joint j is off by j - 0 mm, the pelvis itself is exact.
    assert r["mpjpe"]["occ"] == pytest.approx(np.mean(occluded))


def test_all_visible_input_has_no_occluded_set() -> None:
    gt = motion(walk())
    r = evaluate(motion(gt.joints + 0.002), gt, motion(gt.joints.copy()))
    assert r["gmpjpe"]["occ"] is None
    assert r["gmpjpe"]["vis"] == pytest.approx(r["gmpjpe"]["all"])


def test_accel_ignores_constant_velocity_and_measures_a_spike() -> None:
    n = 20
    gt = motion(walk(n))
    drift = np.arange(n)[:, None, None] / FPS * np.array([0.3, -0.1, 0.2])
    assert evaluate(motion(gt.joints + drift), gt)["accel"] == pytest.approx(0.0, abs=1e-8)
    d = 0.01
    spiked = gt.joints.copy()
    spiked[10, 5, 1] += d
    # The spike's second difference is (+d, -2d, +d) on three frames of one joint.
    expected = 4 * d * FPS**2 / ((n - 2) * NUM_JOINTS)
    assert evaluate(motion(spiked), gt)["accel"] == pytest.approx(expected)


def still_feet(n: int = 60) -> np.ndarray:
    """n frames of a body whose feet stand still at ankle 0.10 / toe 0.05 m."""
    joints = walk(n)
    joints[..., 2] = 0.0
    for j, height in ((L_ANKLE, 0.10), (L_TOE, 0.05), (R_ANKLE, 0.10), (R_TOE, 0.05)):
        joints[:, j] = [0.0, height, 0.0]
    return joints


def test_skating_counts_planted_frames_that_slide() -> None:
    gt = still_feet()
    pred = gt.copy()
    step = 0.01  # the left foot slides 1 cm a frame (0.3 m/s) for 30 frames, then stands
    pred[:, [L_ANKLE, L_TOE], 0] += (step * np.minimum(np.arange(60), 30))[:, None]
    span = speed_span(FPS)
    starts = np.arange(60 - span)
    moved = step * (np.minimum(starts + span, 30) - np.minimum(starts, 30))
    sliding = (moved / (span / FPS) > SKATE_SPEED).sum()
    assert sliding > 20
    r = evaluate(motion(pred), motion(gt))
    assert r["skating"] == pytest.approx(2 * sliding / (4 * len(starts)))  # 2 of the 4 joints
    assert evaluate(motion(gt), motion(gt))["skating"] == 0.0


def test_sliding_is_horizontal_speed() -> None:
    bobbing = still_feet()
    bobbing[::2, list(FOOT_JOINTS), 1] += 0.02  # 0.6 m/s up and down, in place
    assert evaluate(motion(bobbing), motion(still_feet()))["skating"] == 0.0
    assert evaluate(motion(bobbing + np.array([0.0, 0.0, 0.001]) * np.arange(60)[:, None, None]),
                    motion(still_feet()))["skating"] == 0.0  # 3 cm/s drift is not sliding


def test_float_and_penetration_follow_the_ground_truth_feet() -> None:
    gt = still_feet()
    assert evaluate(motion(gt), motion(gt))["float"] == pytest.approx(0.0)
    high = gt.copy()
    high[..., 1] += 0.05
    r = evaluate(motion(high), motion(gt))
    assert r["float"] == pytest.approx(50.0) and r["dist"] == 0.0
    low = gt.copy()
    low[..., 1] -= 0.03
    r = evaluate(motion(low), motion(gt))
    assert r["dist"] == pytest.approx(30.0) and r["float"] == 0.0


def test_contact_accuracy_from_labels_and_from_joints() -> None:
    gt_contacts = np.array([[1, 1, 0, 0], [1, 0, 0, 1]], dtype=float)
    pred_contacts = np.array([[0.9, 0.2, 0.1, 0.4], [0.7, 0.6, 0.3, 0.8]])  # 2 of 8 wrong
    joints = walk(2)
    r = evaluate(motion(joints, contacts=pred_contacts), motion(joints, contacts=gt_contacts))
    assert r["contact"] == pytest.approx(6 / 8)
    # Without labels both sides come from the joints: feet high above the floor, never in contact.
    r = evaluate(motion(joints), motion(joints, contacts=gt_contacts))
    assert r["contact"] == pytest.approx(4 / 8)


def test_mismatched_frames_and_missing_joints_raise() -> None:
    with pytest.raises(RohmError, match="20 frames .* 19"):
        evaluate(motion(walk(20)), motion(walk(19)))
    with pytest.raises(RohmError, match="input has 5"):
        evaluate(motion(walk(20)), motion(walk(20)), motion(walk(5)))
    pred = walk(20)
    pred[3, 4] = np.nan
    with pytest.raises(RohmError, match="prediction has missing joints"):
        evaluate(motion(pred), motion(walk(20)))


def test_short_sequence_has_no_accel() -> None:
    r = evaluate(motion(walk(2)), motion(walk(2)))
    assert r["accel"] is None
    assert r["skating"] is None  # the feet are never planted (they move at 1 m/s)
    assert evaluate(motion(walk(1)), motion(walk(1)))["skating"] is None


def test_flatten_and_table() -> None:
    gt = motion(walk())
    r = evaluate(motion(gt.joints + np.array([0.010, 0.0, 0.0])), gt)
    flat = flatten(r)
    assert flat["gmpjpe.all"] == pytest.approx(10.0)
    assert flat["gmpjpe.occ"] is None
    assert flat["frames.input"] is None
    assert set(flat) == {f"{m}.{s}" for m in ("gmpjpe", "mpjpe") for s in ("vis", "occ", "all")} | {
        "accel", "contact", "skating", "float", "dist", "frames.pred", "frames.gt", "frames.input"}
    table = format_table(r)
    gm_row = next(line for line in table.splitlines() if line.startswith("GMPJPE"))
    assert gm_row.split()[2:] == ["10.0", "-", "10.0"]
    assert "frames: pred 20, gt 20, input -" in table


# ----- on real mocap: the properties the metrics exist for ---------------------------------
DEMO = Path(__file__).resolve().parents[1] / "rohm" / "demo_clips"


def real_clip(name: str = "walk_proud_001") -> Motion:
    return load_motion(DEMO / f"{name}.npz")


def slide_planted_feet(joints: np.ndarray, per_step: float) -> np.ndarray:
    """Move each foot forward by `per_step` metres over each of its contact spans (the rule's
    labels), linearly, and keep the shift afterwards: a foot that slides while planted."""
    out = joints.copy()
    planted_pairs = planted_feet(joints, FPS)
    contacts = np.r_[planted_pairs, np.repeat(planted_pairs[-1:], len(joints) - len(planted_pairs), axis=0)]
    for side in ((0, 1), (2, 3)):
        planted = contacts[:, list(side)].any(axis=1)
        shift, offset = np.zeros(len(joints)), 0.0
        for start in np.flatnonzero(planted & ~np.r_[False, planted[:-1]]):
            end = start
            while end + 1 < len(joints) and planted[end + 1]:
                end += 1
            span = np.arange(start, end + 1)
            shift[span] = offset + per_step * (span - start + 1) / len(span)
            offset += per_step
            shift[end + 1:] = offset
        for k in side:
            out[:, FOOT_JOINTS[k], 0] += shift
    return out


@pytest.mark.parametrize("name", ["walk_proud_001", "run_proud_001", "walk-turn-left_normal_020"])
def test_clean_mocap_skates_little_and_slid_feet_skate_a_lot(name: str) -> None:
    gt = real_clip(name)
    clean = evaluate(gt, gt)
    assert clean["skating"] == 0.0 and clean["float"] == 0.0 and clean["dist"] == 0.0
    # Through the body model (float32 weights, a refit) clean mocap stays clean too.
    refit = Motion(joints=gt.joints + np.random.default_rng(0).normal(0.0, 0.001, gt.joints.shape), fps=gt.fps)
    assert evaluate(refit, gt)["skating"] < 0.02
    slid = evaluate(Motion(joints=slide_planted_feet(gt.joints, 0.05), fps=gt.fps), gt)
    assert slid["skating"] > 0.3


def test_skating_is_stable_under_a_centimetre_of_height() -> None:
    gt = real_clip()
    noisy = corrupt_motion(gt, 3.0, "none", seed=0)
    base = evaluate(Motion(joints=noisy.joints, fps=gt.fps), gt)["skating"]
    assert base > 0.05
    for dy in (-0.01, 0.01):
        moved = Motion(joints=noisy.joints + np.array([0.0, dy, 0.0]), fps=gt.fps)
        assert abs(evaluate(moved, gt)["skating"] - base) < 0.2 * base


def test_floating_and_sunken_feet_show_in_float_and_dist() -> None:
    gt = real_clip()
    high = evaluate(Motion(joints=gt.joints + np.array([0.0, 0.05, 0.0]), fps=gt.fps), gt)
    assert high["float"] == pytest.approx(50.0) and high["dist"] == 0.0
    low = evaluate(Motion(joints=gt.joints - np.array([0.0, 0.03, 0.0]), fps=gt.fps), gt)
    assert low["float"] == 0.0 and low["dist"] > 10.0
