"""Source-data checks: leading T-pose frames, impossible motion flagged and kept out of a build."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rohm.data import build
from rohm.data.build import build_dataset
from rohm.data.joint_map import load_joint_map
from rohm.data.quality import (
    bone_stretch,
    check_motion,
    floor_level,
    leading_tpose,
    tpose_frames,
)
from rohm.data.sources import read_clip
from rohm.io.bvh import read_bvh, write_bvh
from rohm.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS

FPS = 30.0


@pytest.fixture(scope="module")
def clean_clip(bandai_bvh_dir: Path) -> tuple[Path, np.ndarray]:
    """The longest of the real Bandai clips and its body joints (N, 22, 3)."""
    path = max(bandai_bvh_dir.glob("*.bvh"), key=lambda p: read_bvh(p).num_frames)
    bvh = read_bvh(path)
    return path, load_joint_map(None).apply(bvh.skeleton.names, bvh.global_positions(), path)


def _tpose(joints: np.ndarray) -> np.ndarray:
    """A T-pose frame at the first frame's pelvis: arms out along the hips' axis, legs straight down."""
    pelvis = joints[0, JOINT_INDEX["pelvis"]]
    lateral = joints[0, JOINT_INDEX["left_hip"]] - joints[0, JOINT_INDEX["right_hip"]]
    lateral = lateral / np.linalg.norm(lateral)
    frame = np.repeat(pelvis[None], 22, axis=0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for part, out, down in (("hip", 0.09, -0.08), ("knee", 0.09, -0.48), ("ankle", 0.09, -0.88),
                                ("foot", 0.09, -0.93), ("collar", 0.03, 0.45), ("shoulder", 0.17, 0.45),
                                ("elbow", 0.43, 0.45), ("wrist", 0.68, 0.45)):
            frame[JOINT_INDEX[f"{side}_{part}"]] += sign * out * lateral + np.array([0, down, 0])
    for part, up in (("spine1", 0.1), ("spine2", 0.2), ("spine3", 0.3), ("neck", 0.5), ("head", 0.6)):
        frame[JOINT_INDEX[part]] += np.array([0, up, 0])
    return frame


def test_clean_bandai_clips_pass_every_check(bandai_bvh_dir: Path) -> None:
    for path in sorted(bandai_bvh_dir.glob("*.bvh")):
        clip = read_clip(path, None, FPS)  # detected: the Bandai map
        assert clip.joint_map == "bandai"
        assert clip.dropped_frames == 0 and clip.problems == [], (path.name, clip.problems)


def test_leading_tpose_and_the_jump_out_of_it_are_dropped(clean_clip) -> None:
    _, joints = clean_clip
    assert not tpose_frames(joints).any()
    tpose = np.repeat(_tpose(joints)[None] + np.array([2.0, 0, 0]), 3, axis=0)  # 2 m from where the motion starts
    # The conversion's jump into the motion, smeared over two frames (20 m/s, far faster than 12 m/s).
    jump = np.stack([(1 - t) * tpose[0] + t * joints[0] for t in (1 / 3, 2 / 3)])
    clip = np.concatenate([tpose, jump, joints])
    assert tpose_frames(clip)[:3].all() and not tpose_frames(clip)[5:].any()
    assert leading_tpose(clip, FPS) == 5
    assert leading_tpose(joints, FPS) == 0  # no T-pose: nothing dropped
    assert leading_tpose(np.repeat(tpose, 10, axis=0), FPS) == 0  # T-pose throughout: kept
    late = np.concatenate([joints[:10], tpose, joints[10:]])  # a T-pose later on is motion, not a header
    assert leading_tpose(late, FPS) == 0


def test_feet_under_the_floor(clean_clip) -> None:
    _, joints = clean_clip
    assert check_motion(joints, FPS) == []
    floor = floor_level(joints)
    assert abs(floor - joints[:, [7, 8, 10, 11], 1].min(axis=1).min()) < 0.05
    sunk = joints.copy()
    sunk[40:70] -= np.array([0, 0.4, 0])  # the whole body 40 cm through the floor for 30 frames
    (problem,) = [p for p in check_motion(sunk, FPS) if p["check"] == "below_floor"]
    assert problem["frames"] == 30 and problem["first_frame"] == 40
    assert problem["depth_m"] == pytest.approx(0.4, abs=0.03)
    brief = joints.copy()
    brief[40:43] -= np.array([0, 0.4, 0])  # 0.1 s: a tracking blip, not a clip to throw away
    assert not [p for p in check_motion(brief, FPS) if p["check"] == "below_floor"]


def test_teleport_jitter_and_bone_stretch(clean_clip) -> None:
    _, joints = clean_clip
    jumped = joints.copy()
    jumped[50:] += np.array([1.0, 0, 0])  # one metre sideways between two frames: 30 m/s
    checks = {p["check"]: p for p in check_motion(jumped, FPS)}
    assert checks["teleport"]["frame"] == 49 and checks["teleport"]["speed_m_s"] == pytest.approx(30, abs=3)
    flipped = joints.copy()
    flipped[60, JOINT_INDEX["right_ankle"]] += np.array([0, 0.3, 0.3])  # a one-frame joint flip
    (jitter,) = check_motion(flipped, FPS)
    assert jitter["check"] == "jitter" and jitter["joint"] == "right_ankle" and jitter["frame"] == 60
    shaky = joints + np.random.default_rng(0).normal(0, 0.05, joints.shape)  # 5 cm of noise on every joint
    assert [p["check"] for p in check_motion(shaky, FPS)] == ["jitter"]
    assert bone_stretch(joints, PARENTS, list(JOINT_NAMES)) is None
    stretched = joints.copy()
    stretched[20:25, JOINT_INDEX["left_wrist"]] += np.array([0.1, 0, 0])
    problem = bone_stretch(stretched, PARENTS, list(JOINT_NAMES))
    assert problem["joint"] == "left_wrist" and problem["source_frames"] == 5


def _sunk_copy(src: Path, dst: Path, frames: slice, depth_cm: float) -> None:
    """A copy of a Bandai BVH whose Hips (the translated joint) sinks for some frames."""
    bvh = read_bvh(src)
    hips = bvh.skeleton.names.index("Hips")
    col = bvh.skeleton.channel_starts()[hips] + bvh.skeleton.channels[hips].index("Yposition")
    bvh.motion[frames, col] -= depth_cm
    write_bvh(dst, bvh)


def test_build_excludes_flagged_clips_and_says_why(clean_clip, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(build, "SHAPE_FIT_STEPS", 3)  # the shape is not under test here
    path, _ = clean_clip
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(path, src / path.name)
    _sunk_copy(path, src / "sunk.bvh", slice(40, 70), 40.0)
    summary = build_dataset(src, tmp_path / "out", workers=1)
    assert summary["clips"] == 1 and summary["source_clips"] == 2
    flagged = summary["flagged"]
    assert flagged["excluded"] and flagged["count"] == 1 and flagged["by_check"] == {"below_floor": 1, "teleport": 1}
    (entry,) = flagged["clips"]
    assert entry["clip"] == "sunk" and re.fullmatch(r"feet 4\d cm below the floor for 30 frames \(from frame 40\)",
                                                    entry["reasons"][0])
    written = sorted(p.stem for p in (tmp_path / "out").glob("*/*.npz"))
    assert written == [path.stem]
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["flagged"]["clips"][0]["problems"][0]["depth_m"] == pytest.approx(0.4, abs=0.03)
    # Kept on request; an evaluation-only set in one split writes no training statistics.
    kept = build_dataset(src, tmp_path / "out", workers=1, keep_flagged=True, split="val")
    assert kept["clips"] == 2 and not kept["flagged"]["excluded"] and kept["flagged"]["count"] == 1
    assert kept["splits"]["val"]["clips"] == 2 and kept["normalization"] is None
    assert sorted(p.parent.name for p in (tmp_path / "out").glob("*/*.npz")) == ["val", "val"]
