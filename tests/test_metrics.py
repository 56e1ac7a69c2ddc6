"""Tests for rohm.evaluation.metrics on hand-made joint sequences with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from rohm.errors import RohmError
from rohm.evaluation.metrics import evaluate, flatten, format_table
from rohm.io.motion_file import Motion
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


def feet_sequence() -> np.ndarray:
    """11 frames (10 frame pairs) of low feet: the feet slide during pairs 0, 1 and 3 only."""
    n = 11
    joints = walk(n)
    joints[..., 2] = 0.0  # only the feet move
    x = 0.02 * np.minimum(np.arange(n), 5)  # 0.6 m/s for pairs 0-4, then still
    for j, height in ((L_ANKLE, 0.10), (L_TOE, 0.05), (R_ANKLE, 0.12), (R_TOE, 0.03)):
        joints[:, j] = np.stack([x, np.full(n, height), np.zeros(n)], axis=1)
    joints[2, L_ANKLE, 1] = 0.16  # pair 2: an ankle too high
    joints[5, R_TOE, 0] = joints[4, R_TOE, 0]  # pair 4: one toe does not move
    return joints


def test_skating_ratio_on_sliding_feet() -> None:
    pred = feet_sequence()
    still = pred.copy()
    still[:, :, 0] = 0.0
    r = evaluate(motion(pred), motion(still))
    assert r["skating"] == pytest.approx(3 / 10)
    assert r["skating_gt"] == 0.0


def test_skating_needs_all_feet_fast() -> None:
    pred = feet_sequence()
    pred[:, L_TOE, 0] = 0.0  # one foot planted throughout
    assert evaluate(motion(pred), motion(pred))["skating"] == 0.0


def test_ground_penetration_of_toes() -> None:
    joints = walk(4)
    joints[:, L_TOE, 1] = [0.0, -0.01, -0.01, 0.02]
    joints[:, R_TOE, 1] = 0.02
    joints[:, L_ANKLE, 1] = -0.05  # ankles do not count
    r = evaluate(motion(joints), motion(walk(4)))
    assert r["dist"] == pytest.approx(20.0 / 8)


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
    assert r["skating"] == 0.0


def test_flatten_and_table() -> None:
    gt = motion(walk())
    r = evaluate(motion(gt.joints + np.array([0.010, 0.0, 0.0])), gt)
    flat = flatten(r)
    assert flat["gmpjpe.all"] == pytest.approx(10.0)
    assert flat["gmpjpe.occ"] is None
    assert flat["frames.input"] is None
    assert set(flat) == {f"{m}.{s}" for m in ("gmpjpe", "mpjpe") for s in ("vis", "occ", "all")} | {
        "accel", "contact", "skating", "skating_gt", "dist", "frames.pred", "frames.gt", "frames.input"}
    table = format_table(r)
    gm_row = next(line for line in table.splitlines() if line.startswith("GMPJPE"))
    assert gm_row.split()[2:] == ["10.0", "-", "10.0"]
    assert "frames: pred 20, gt 20, input -" in table
