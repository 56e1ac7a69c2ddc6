"""`rohm reconstruct` on inputs it cannot use: one line naming the file, exit 2, no output; and
inputs no human body can produce, refused (or warned about where borderline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rohm.cli import main
from rohm.demo import CLIPS_DIR
from rohm.errors import RohmError
from rohm.io.bvh import BVH, Skeleton, read_bvh, write_bvh
from rohm.io.motion_file import Motion, check_human, load_motion, save_motion

CLIP = CLIPS_DIR / "walk-turn-left_normal_020.npz"


@pytest.fixture(scope="module")
def clean() -> Motion:
    return load_motion(CLIP)


@pytest.fixture(scope="module")
def bvh_take(bandai_bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = read_bvh(bandai_bvh_dir / "dataset-1_bye_feminine_001.bvh")
    path = tmp_path_factory.mktemp("take") / "take.bvh"
    write_bvh(path, BVH(src.skeleton, src.motion[:45], src.frame_time))
    return path


def _refused(args: list[str], needles: list[str], out: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["reconstruct", *args, "--out", str(out), "--iterations", "1", "--steps", "2"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rohm: error: "), lines
    assert all(n in lines[0] for n in needles), (needles, lines[0])
    assert not out.exists()


def test_garbage_is_neither_a_motion_npz_nor_a_bvh(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, data in (("take.bvh", b"\x00\x01 binary junk"), ("clip.npz", b"# a text file\n1 2 3\n"),
                       ("empty.npz", b"")):
        path = tmp_path / name
        path.write_bytes(data)
        _refused([str(path)], [str(path), "neither a motion .npz nor a BVH file"], tmp_path / "out.npz", capsys)


def test_a_bvh_is_read_as_a_bvh_wherever_it_is_named(bvh_take: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "take.npz"
    disguised.write_bytes(bvh_take.read_bytes())
    assert main(["reconstruct", str(disguised), "--out", str(tmp_path / "clean.bvh"), "--iterations", "1",
                 "--steps", "2"]) == 0
    assert read_bvh(tmp_path / "clean.bvh").skeleton.names == read_bvh(bvh_take).skeleton.names
    with pytest.raises(RohmError, match="a BVH file, not a motion .npz"):  # commands that read npz only say so
        load_motion(bvh_take)


def test_bodies_no_human_has_are_refused(clean: Motion, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    far = clean.joints.copy()
    far[60, 20] += [0.0, 0.0, 1500.0]  # a wrist 1.5 km away for one frame
    drifting = clean.joints.copy()
    drifting[rng.random(len(drifting)) < 0.4, 15] += [0.0, 1.2, 0.0]  # a head 1.2 m above itself, often
    cases = {
        "huge": (rng.normal(0.0, 1e9, clean.joints.shape), ["no human bone is"]),
        "centimetres": (clean.joints * 100, ["no human bone is", "centimetres?"]),
        "giant": (rng.normal(0.0, 0.3, clean.joints.shape), ["m tall", "no human is"]),
        "far": (far, ["frame 61", "left_wrist", "1.5e+03 m from the pelvis"]),
        "stretchy": (drifting, ["neck-head changes length by"]),
    }
    for name, (joints, needles) in cases.items():
        path = tmp_path / f"{name}.npz"
        save_motion(Motion(joints=joints, fps=30.0), path)
        _refused([str(path)], [str(path), *needles], tmp_path / "out.npz", capsys)


def test_borderline_bodies_are_warnings(clean: Motion, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert check_human(clean) == []
    noisy = Motion(joints=clean.joints + np.random.default_rng(0).normal(0.0, 0.03, clean.joints.shape), fps=30.0)
    assert check_human(noisy) == []  # 3 cm of joint noise is what rohm is for
    glitch = clean.joints.copy()
    glitch[60:62, 20] += [0.0, 0.0, 3.0]
    notes = check_human(Motion(joints=glitch, fps=30.0))
    assert len(notes) == 1 and "in frame 61, left_wrist is 2.87 m" in notes[0] and "2 frames" in notes[0]
    small = check_human(Motion(joints=clean.joints * 0.4, fps=30.0))
    assert len(small) == 1 and "tall" in small[0]
    hidden = clean.joints.copy()
    hidden[:, 1:] = np.nan  # only the pelvis seen: nothing to judge, nothing said
    assert check_human(Motion(joints=hidden, fps=30.0)) == []
    path = tmp_path / "glitch.npz"
    save_motion(Motion(joints=glitch[40:80], fps=30.0), path)
    out = tmp_path / "out.npz"
    assert main(["reconstruct", str(path), "--out", str(out), "--iterations", "1", "--steps", "2"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rohm: warning:")]
    assert warnings == [f"rohm: warning: {path}: {check_human(load_motion(path))[0]}"] and out.exists()
    assert "in frame 21, left_wrist" in warnings[0]


def _renamed(path: Path, old: str, new: str, out: Path) -> Path:
    bvh = read_bvh(path)
    sk = bvh.skeleton
    names = [n.replace(old, new) if n.split("/")[0] == old else n for n in sk.names]
    write_bvh(out, BVH(Skeleton(names, sk.parents, sk.offsets, sk.channels), bvh.motion, bvh.frame_time))
    return out


def test_a_bvh_the_map_cannot_read_names_the_joints(bvh_take: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    odd = _renamed(bvh_take, "Foot_L", "Ankle_L", tmp_path / "odd.bvh")
    out = tmp_path / "out.bvh"
    _refused([str(odd), "--joint-map", "bandai"], [str(odd), "lacks: Foot_L"], out, capsys)
    _refused([str(odd)], [str(odd), "unknown skeleton", "Foot_L", "--joint-map"], out, capsys)
    _refused([str(bvh_take), "--joint-map", "nosuchrig"], ["nosuchrig", "built-in"], out, capsys)
    _refused([str(bvh_take), "--joint-map", str(tmp_path / "missing.json")], ["missing.json"], out, capsys)


def test_an_output_equal_to_its_input_is_refused(bvh_take: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "take.bvh"
    copy.write_bytes(bvh_take.read_bytes())
    before = copy.read_bytes()
    assert main(["reconstruct", str(copy), "--out", str(copy)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err and copy.read_bytes() == before
    assert main(["reconstruct", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err and copy.read_bytes() == before
