"""BVH reader/writer: forward kinematics against hand-computed answers and scipy, round trips,
one-line errors for malformed files, and a real Bandai Namco clip when one is at hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from rohm.errors import RohmError
from rohm.io.bvh import Skeleton, make_bvh, read_bvh, write_bvh

# Root (6 channels) -> A (offset +1 X, 3 channels) -> End Site (offset +1 X).
# Frame 1: rest. Frame 2: root at (1,2,3) turned 90 deg about Z. Frame 3: A turned 90 deg about Z.
CHAIN = """HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT A
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 1 0 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
0 0 0 0 0 0 90 0 0
"""


def _write(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _single_joint(order: str, angles_deg: dict[str, float]) -> str:
    """A root with rotation channels in `order` and a child End Site at +1 X."""
    chans = " ".join(f"{axis}rotation" for axis in order)
    values = " ".join(str(angles_deg[axis]) for axis in order)
    return (f"HIERARCHY\nROOT R\n{{\n OFFSET 0 0 0\n CHANNELS 3 {chans}\n End Site\n {{\n  OFFSET 1 0 0\n }}\n}}\n"
            f"MOTION\nFrames: 1\nFrame Time: 0.01\n{values}\n")


def _reference_fk(parents: list[int], offsets: np.ndarray, rot: np.ndarray, root_pos: np.ndarray) -> np.ndarray:
    """Plain per-frame, per-joint forward kinematics, independent of the module under test."""
    n_frames, n_joints = rot.shape[:2]
    out = np.zeros((n_frames, n_joints, 3))
    for f in range(n_frames):
        glob = [np.eye(3)] * n_joints
        for j, p in enumerate(parents):
            if p < 0:
                glob[j], out[f, j] = rot[f, j], root_pos[f]
            else:
                glob[j] = glob[p] @ rot[f, j]
                out[f, j] = out[f, p] + glob[p] @ offsets[j]
    return out


def test_parse_fixture(tmp_path: Path) -> None:
    bvh = read_bvh(_write(tmp_path, CHAIN))
    sk = bvh.skeleton
    assert sk.names == ["Root", "A", "A/End Site"]
    assert sk.parents == [-1, 0, 1]
    np.testing.assert_array_equal(sk.offsets, [[0, 0, 0], [1, 0, 0], [1, 0, 0]])
    assert sk.channels[1] == ["Zrotation", "Xrotation", "Yrotation"] and sk.channels[2] == []
    assert bvh.motion.shape == (3, 9)
    assert bvh.fps == pytest.approx(30.0, rel=1e-5)


def test_forward_kinematics_known_answer(tmp_path: Path) -> None:
    bvh = read_bvh(_write(tmp_path, CHAIN))
    expected = [
        [[0, 0, 0], [1, 0, 0], [2, 0, 0]],  # rest pose along +X
        [[1, 2, 3], [1, 3, 3], [1, 4, 3]],  # root moved and turned: chain now points along +Y
        [[0, 0, 0], [1, 0, 0], [1, 1, 0]],  # only A turned: its child swings from +X to +Y
    ]
    np.testing.assert_allclose(bvh.global_positions(), expected, atol=1e-9)
    rz90 = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    np.testing.assert_allclose(bvh.global_rotations()[1, 2], rz90, atol=1e-9)
    np.testing.assert_allclose(bvh.global_rotations()[2, 0], np.eye(3), atol=1e-9)


def test_position_channels_replace_offset(tmp_path: Path) -> None:
    text = CHAIN.replace("OFFSET 0 0 0", "OFFSET 5 5 5", 1)
    positions = read_bvh(_write(tmp_path, text)).global_positions()
    np.testing.assert_allclose(positions[1, 0], [1, 2, 3])


def test_channel_order_matters(tmp_path: Path) -> None:
    angles = {"X": 90.0, "Y": 0.0, "Z": 90.0}
    xyz = read_bvh(_write(tmp_path, _single_joint("XYZ", angles), "xyz.bvh")).global_positions()[0, 1]
    zxy = read_bvh(_write(tmp_path, _single_joint("ZXY", angles), "zxy.bvh")).global_positions()[0, 1]
    np.testing.assert_allclose(xyz, [0, 0, 1], atol=1e-9)  # Rx90 @ Rz90 @ x = Rx90 @ y = z
    np.testing.assert_allclose(zxy, [0, 1, 0], atol=1e-9)  # Rz90 @ Rx90 @ x = Rz90 @ x = y


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_rotation_matches_scipy_intrinsic(tmp_path: Path, order: str) -> None:
    angles = {"X": 31.0, "Y": -47.0, "Z": 113.0}
    rot = read_bvh(_write(tmp_path, _single_joint(order, angles))).global_rotations()[0, 0]
    expected = Rotation.from_euler(order, [angles[a] for a in order], degrees=True).as_matrix()
    np.testing.assert_allclose(rot, expected, atol=1e-12)


def test_make_write_read_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = ["pelvis", "hip_l", "hip_r", "spine", "knee_l", "knee_r", "neck"]
    parents = [-1, 0, 0, 0, 1, 2, 3]  # not depth-first order: the writer must reorder columns
    offsets = rng.normal(scale=20.0, size=(7, 3))
    rot = Rotation.random(5 * 7, random_state=1).as_matrix().reshape(5, 7, 3, 3)
    root_pos = rng.normal(scale=100.0, size=(5, 3))
    expected = _reference_fk(parents, offsets, rot, root_pos)

    built = make_bvh(names, parents, offsets, rot, root_pos, fps=30.0, order="ZXY",
                     end_site_offsets={"neck": (0.0, 10.0, 0.0)})
    assert built.skeleton.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation",
                                          "Yrotation"]
    assert built.skeleton.names[7:] == ["knee_l/End Site", "knee_r/End Site", "neck/End Site"]
    np.testing.assert_allclose(built.global_positions()[:, :7], expected, atol=1e-9)

    out = tmp_path / "round.bvh"
    write_bvh(out, built)
    back = read_bvh(out)
    assert sorted(back.skeleton.names) == sorted(built.skeleton.names)
    assert back.fps == pytest.approx(30.0)
    index = [back.skeleton.names.index(n) for n in built.skeleton.names]
    np.testing.assert_allclose(back.global_positions()[:, index], built.global_positions(), atol=1e-4)
    np.testing.assert_allclose(back.global_positions()[:, index[-1]],
                               expected[:, 6] + (built.global_rotations()[:, 6] @ [0.0, 10.0, 0.0]), atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["round.bvh"]  # no temporary file left behind


def test_written_file_reads_back_identically(tmp_path: Path) -> None:
    original = read_bvh(_write(tmp_path, CHAIN))
    write_bvh(tmp_path / "copy.bvh", original)
    copy = read_bvh(tmp_path / "copy.bvh")
    assert copy.skeleton.names == original.skeleton.names
    assert copy.skeleton.channels == original.skeleton.channels
    np.testing.assert_allclose(copy.motion, original.motion, atol=1e-6)
    assert copy.frame_time == pytest.approx(original.frame_time)


def test_make_bvh_rejects_bad_order() -> None:
    with pytest.raises(ValueError, match="permutation"):
        make_bvh(["a"], [-1], np.zeros((1, 3)), np.eye(3)[None, None], np.zeros((1, 3)), 30.0, order="ZXX")


def _drop_last_brace(text: str) -> str:
    head, motion = text.split("MOTION")
    return head[: head.rindex("}")] + "MOTION" + motion


MALFORMED = {
    "empty": ("", "empty file"),
    "blank": ("\n  \n", "empty file"),
    "not_bvh": ("hello world\n", "HIERARCHY"),
    "truncated_hierarchy": (CHAIN[: CHAIN.index("End Site")], "truncated"),
    "truncated_motion_row": (CHAIN[:-6], "frame 3 .* has 7 values, expected 9"),
    "truncated_motion_rows": (CHAIN[: CHAIN.rindex("0 0 0 0 0 0 90")], "frame count mismatch"),
    "missing_motion": (CHAIN[: CHAIN.index("MOTION")], "missing MOTION"),
    "missing_frames_line": (CHAIN.replace("Frames: 3\n", ""), "Frames:"),
    "bad_frame_count": (CHAIN.replace("Frames: 3", "Frames: three"), "frame count"),
    "too_few_frames_declared": (CHAIN.replace("Frames: 3", "Frames: 2"), "frame count mismatch"),
    "too_many_frames_declared": (CHAIN.replace("Frames: 3", "Frames: 4"), "frame count mismatch"),
    "no_frames": (CHAIN.replace("Frames: 3", "Frames: 0").split("0.0333333\n")[0] + "0.0333333\n", "no frames"),
    "bad_frame_time": (CHAIN.replace("0.0333333", "-1"), "Frame Time"),
    "extra_value": (CHAIN.replace("1 2 3 90 0 0 0 0 0", "1 2 3 90 0 0 0 0 0 7"), "frame 2 .* has 10 values"),
    "non_numeric": (CHAIN.replace("1 2 3 90", "1 2 x3 90"), "non-numeric value 'x3' in frame 2"),
    "nan_value": (CHAIN.replace("1 2 3 90", "1 2 nan 90"), "non-finite value in frame 2"),
    "non_numeric_offset": (CHAIN.replace("OFFSET 1 0 0", "OFFSET 1 zero 0", 1), "non-numeric OFFSET"),
    "unknown_channel": (CHAIN.replace("Zrotation Xrotation Yrotation\n", "Wrotation Xrotation Yrotation\n"),
                        "unknown channel 'Wrotation'"),
    "duplicate_channel": (CHAIN.replace("3 Zrotation Xrotation", "3 Xrotation Xrotation"), "duplicate channel"),
    "bad_channel_count": (CHAIN.replace("CHANNELS 3", "CHANNELS many"), "channel count"),
    "missing_open_brace": (CHAIN.replace("JOINT A\n  {", "JOINT A"), "brace mismatch"),
    "missing_close_brace": (_drop_last_brace(CHAIN), "brace mismatch"),
    "extra_close_brace": (CHAIN.replace("MOTION", "}\nMOTION"), "brace mismatch"),
    "joint_outside_root": (CHAIN.replace("ROOT Root", "JOINT Root"), "outside any ROOT"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_raises_one_line_error(tmp_path: Path, case: str) -> None:
    text, pattern = MALFORMED[case]
    path = _write(tmp_path, text, f"bad_{case}.bvh")
    with pytest.raises(RohmError, match=pattern) as info:
        read_bvh(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and path.name in message
    assert "\n" not in message


def test_missing_and_binary_files_raise(tmp_path: Path) -> None:
    with pytest.raises(RohmError, match="cannot read") as info:
        read_bvh(tmp_path / "absent.bvh")
    assert "absent.bvh" in str(info.value)
    binary = tmp_path / "binary.bvh"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 8)
    with pytest.raises(RohmError, match="not a text file"):
        read_bvh(binary)


def test_skeleton_rejects_child_before_parent() -> None:
    with pytest.raises(ValueError, match="parents must precede"):
        Skeleton(["a", "b"], [1, -1], np.zeros((2, 3)), [[], []])


def test_real_bandai_clip(bandai_bvh_dir: Path) -> None:
    bandai_file = sorted(bandai_bvh_dir.glob("*.bvh"))[0]
    bvh = read_bvh(bandai_file)
    sk = bvh.skeleton
    header_frames = int(bandai_file.read_text().split("Frames:")[1].split()[0])
    assert bvh.motion.shape == (header_frames, 22 * 6)
    assert bvh.fps == pytest.approx(30.0, rel=1e-4)
    assert len(sk.names) == 22 + 5 and sum(n.endswith("/End Site") for n in sk.names) == 5
    assert all(c == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
               for c in sk.channels if c)

    # Independent FK on a few frames: per-joint loop with scipy's intrinsic ZXY Euler angles.
    starts = sk.channel_starts()
    positions = bvh.global_positions()
    for f in (0, header_frames // 2, header_frames - 1):
        glob_rot: list[np.ndarray] = []
        glob_pos: list[np.ndarray] = []
        for j, p in enumerate(sk.parents):
            if sk.channels[j]:
                values = bvh.motion[f, starts[j]: starts[j] + 6]
                local_rot = Rotation.from_euler("ZXY", values[3:], degrees=True).as_matrix()
                local_pos = values[:3]
            else:
                local_rot, local_pos = np.eye(3), sk.offsets[j]
            glob_rot.append(local_rot if p < 0 else glob_rot[p] @ local_rot)
            glob_pos.append(local_pos if p < 0 else glob_pos[p] + glob_rot[p] @ local_pos)
        np.testing.assert_allclose(positions[f], glob_pos, atol=1e-6)

    # A standing person in centimetres: head well above the feet.
    head, toes = sk.names.index("Head"), sk.names.index("Toes_L")
    assert np.median(positions[:, head, 1] - positions[:, toes, 1]) > 100.0
