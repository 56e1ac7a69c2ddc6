"""The CMU rig (cgspeed's Daz-friendly BVH): map detection, T-pose header, retargeting error, glitches.

Real clips streamed from the shared CMU archive (a validation set: never trained on).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rohm.body import load_body
from rohm.body.ik import fit_shape, retarget
from rohm.data.joint_map import parse_joint_map
from rohm.data.quality import tpose_frames
from rohm.data.sources import read_clip
from rohm.io.bvh import read_bvh
from rohm.skeleton import JOINT_NAMES

CMU_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-mocap-01-09-bvh.tar.xz"
CLEAN = ("06_04", "09_12")  # basketball dribble; walking forwards, backwards, sideways
BROKEN = ("07_12", "05_10")  # a shaking root trajectory; a right-ankle flip
FPS = 30.0


@pytest.fixture(scope="module")
def cmu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CMU_ARCHIVE.exists():
        pytest.skip(f"CMU archive not found at {CMU_ARCHIVE}")
    out = tmp_path_factory.mktemp("cmu-bvh")
    wanted = {f"{stem}.bvh" for stem in CLEAN + BROKEN}
    with tarfile.open(CMU_ARCHIVE, "r|xz") as tar:  # these four are among the archive's first members
        for member in tar:
            if Path(member.name).name in wanted:
                (out / Path(member.name).name).write_bytes(tar.extractfile(member).read())
                wanted.discard(Path(member.name).name)
                if not wanted:
                    break
    return out


def test_cmu_rig_detected_and_its_tpose_header_dropped(cmu_dir: Path) -> None:
    path = cmu_dir / "06_04.bvh"
    clip = read_clip(path, None, FPS)
    assert clip.joint_map == "cmu"
    bvh = read_bvh(path)
    assert bvh.fps == pytest.approx(120.0, rel=1e-3)
    raw = parse_joint_map({"joints": {}, **_naive()}, "naive").apply(bvh.skeleton.names, bvh.global_positions(), path)
    assert tpose_frames(raw)[0] and not tpose_frames(raw)[1:].any()  # one T-pose frame, then motion
    # The T-pose frame and the few frames of the jump out of it (at 120 fps), nothing more.
    assert 2 <= clip.dropped_frames <= 8
    assert len(clip.joints) == int((bvh.num_frames - clip.dropped_frames - 1) / bvh.fps * FPS + 1e-6) + 1
    assert not tpose_frames(clip.joints).any()


def _naive() -> dict:
    """The one-to-one CMU map (Daz joint for SMPL-X joint): the negative control."""
    joints = {"pelvis": "hip", "spine1": "abdomen", "spine2": {"lerp": ["abdomen", "chest", 0.5]},
              "spine3": "chest", "neck": "neck", "head": "head"}
    for side, s in (("left", "l"), ("right", "r")):
        joints |= {f"{side}_hip": f"{s}Thigh", f"{side}_knee": f"{s}Shin", f"{side}_ankle": f"{s}Foot",
                   f"{side}_foot": f"{s}Foot/End Site", f"{side}_collar": f"{s}Collar",
                   f"{side}_shoulder": f"{s}Shldr", f"{side}_elbow": f"{s}ForeArm", f"{side}_wrist": f"{s}Hand"}
    return {"joints": joints, "scale": "auto", "up": "y"}


def _retarget_error_mm(joints: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean retargeting error (and per joint) after a short shape fit, as the build does it."""
    body = load_body("anny")
    frames = torch.from_numpy(joints)
    pick = torch.from_numpy(np.random.default_rng(0).choice(len(frames), 60, replace=False))
    betas, _ = fit_shape(body, frames[pick], steps=25, lr=0.1)
    with torch.no_grad():
        err = retarget(body.rest_joints(betas[None])[0], frames).error.numpy()
    return 1000 * float(err.mean()), 1000 * err.mean(axis=0)


def test_cmu_retargeting_error_below_30_mm(cmu_dir: Path) -> None:
    clips = [read_clip(cmu_dir / f"{stem}.bvh", None, FPS) for stem in CLEAN]
    joints = np.concatenate([c.joints for c in clips])
    mean, per_joint = _retarget_error_mm(joints)
    assert mean < 30.0 and per_joint.max() < 40.0, dict(zip(JOINT_NAMES, per_joint.round(1)))
    # Negative control: the one-to-one map leaves anny's proportions unmatched (hips, knees, spine).
    naive = parse_joint_map(_naive(), "naive")
    joints_naive = np.concatenate([read_clip(cmu_dir / f"{stem}.bvh", naive, FPS).joints for stem in CLEAN])
    assert _retarget_error_mm(joints_naive)[0] > 40.0


def test_real_cmu_glitches_are_flagged(cmu_dir: Path) -> None:
    for stem in CLEAN:
        assert read_clip(cmu_dir / f"{stem}.bvh", None, FPS).problems == []
    shaking = read_clip(cmu_dir / "07_12.bvh", None, FPS).problems
    assert [p["check"] for p in shaking] == ["jitter"] and shaking[0]["shaking_share"] > 0.3
    (flip,) = read_clip(cmu_dir / "05_10.bvh", None, FPS).problems
    assert flip["check"] == "jitter" and flip["joint"] == "right_ankle" and flip["max_accel_m_s2"] > 600
