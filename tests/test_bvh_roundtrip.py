"""A BVH take back on its own skeleton: the rig solver against reachable targets, the writer alone
on real and synthetic rigs (other proportions, channel orders, units, up axes, fingers, twist
bones), a moved result moving the rig, and `rohm reconstruct take.bvh --out take_clean.bvh`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from rohm.body import load_body
from rohm.cli import main
from rohm.data.rigs import BANDAI_MAP
from rohm.inference.bvh_take import BvhTake, mapped_positions_m, read_take, write_take
from rohm.io.bvh import BVH, make_bvh, read_bvh, with_channels, write_bvh
from rohm.io.motion_file import Motion
from rohm.io.rig import pose_rig

FRAMES = 120  # 4 s of the first Bandai clip (a woman waving goodbye)

# The synthetic rig: the Bandai skeleton renamed, with other proportions.
RENAME = {"Hips": "C_pelvis", "Spine": "C_spineA", "Chest": "C_chest", "Neck": "C_neck", "Head": "C_head"}
for _s in ("L", "R"):
    RENAME.update({f"Shoulder_{_s}": f"{_s}_clavicle", f"UpperArm_{_s}": f"{_s}_upperarm",
                   f"LowerArm_{_s}": f"{_s}_forearm", f"Hand_{_s}": f"{_s}_hand", f"UpperLeg_{_s}": f"{_s}_thigh",
                   f"LowerLeg_{_s}": f"{_s}_calf", f"Foot_{_s}": f"{_s}_foot", f"Toes_{_s}": f"{_s}_ball"})
BONE_SCALE = {"LowerLeg": 1.12, "Foot": 1.12, "LowerArm": 0.9, "Hand": 0.9, "Chest": 1.1, "Neck": 1.05}
YUP_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def synthetic_rig(src: BVH, order: str, up: str = "y", extras: bool = True, scale: float = 0.01) -> BVH:
    """The Bandai take on another rig: root at the hips (no helper root), renamed joints, longer legs
    and shorter forearms, 3 rotation channels in `order` below a 6-channel root, `scale` metres per
    unit, the world turned z-up if asked; with `extras`, twist bones halfway along the upper arms,
    three curling three-joint fingers per hand and two eyes (none of them mapped)."""
    sk = src.skeleton
    rot, trans = src.local_transforms()
    t = np.arange(src.num_frames) / src.fps
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    rots: list[np.ndarray] = []

    def add(name: str, parent: int, offset: np.ndarray, local: np.ndarray) -> int:
        names.append(name)
        parents.append(parent)
        offsets.append(np.asarray(offset, dtype=float))
        rots.append(np.broadcast_to(local, (src.num_frames, 3, 3)))
        return len(names) - 1

    def spin(axis: tuple[float, float, float], angle: np.ndarray) -> np.ndarray:
        return Rotation.from_rotvec(np.outer(angle, axis)).as_matrix()

    for j, old in enumerate(sk.names):
        if old not in RENAME:
            continue  # joint_Root and the End Sites
        if old == "Hips":
            add(RENAME[old], -1, np.zeros(3), rot[:, j])
            continue
        parent = names.index(RENAME[sk.names[sk.parents[j]]])
        offset, local = trans[0, j] * BONE_SCALE.get(old.split("_")[0], 1.0), rot[:, j]
        if extras and old.startswith("LowerArm"):  # the twist turns about the bone; the forearm undoes it
            twist = spin((1.0, 0.0, 0.0), 0.3 * np.sin(2 * t))
            parent = add(names[parent] + "_twist", parent, offset / 2, twist)
            offset, local = offset / 2, np.swapaxes(twist, -1, -2) @ local
        me = add(RENAME[old], parent, offset, local)
        if extras and old.startswith("Hand"):
            sign = 1.0 if old.endswith("L") else -1.0
            for finger, side_offset in enumerate((2.0, 0.0, -2.5)):
                p = me
                for k in range(3):
                    offset_k = (sign * 6.0, 0.0, side_offset) if k == 0 else (sign * 4.0 / (k + 1), 0.0, 0.0)
                    p = add(f"{RENAME[old]}_f{finger}{k}", p, offset_k, spin((0.0, 0.0, sign), 0.4 + 0.3 * np.sin(3 * t + finger)))
        if extras and old == "Head":
            for eye, side in (("L", 1.0), ("R", -1.0)):
                add(f"C_eye{eye}", me, (6.0, 3.0, side * 3.0), np.eye(3))
    root_pos = trans[:, sk.names.index("Hips")].copy()
    rots_all = np.stack(rots, axis=1)
    probe = make_bvh(names, parents, np.stack(offsets), rots_all, root_pos, src.fps, order=order)
    lift = np.median(src.global_positions()[..., 1].min(axis=1) - probe.global_positions()[..., 1].min(axis=1))
    root_pos[:, 1] += lift  # longer legs: the feet back on the floor
    if up == "z":
        rots_all[:, 0] = YUP_TO_ZUP @ rots_all[:, 0]
        root_pos = root_pos @ YUP_TO_ZUP.T
    return make_bvh(names, parents, np.stack(offsets) * scale, rots_all, root_pos * scale, src.fps, order=order)


def synthetic_map(up: str) -> dict:
    """The Bandai joint map in the synthetic rig's names."""
    joints = {}
    for body_joint, entry in BANDAI_MAP["joints"].items():
        joints[body_joint] = RENAME[entry] if isinstance(entry, str) else \
            {"lerp": [RENAME[entry["lerp"][0]], RENAME[entry["lerp"][1]], entry["lerp"][2]]}
    return {"joints": joints, "scale": "auto", "up": up}


@pytest.fixture(scope="module")
def bandai_take(bandai_bvh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = read_bvh(bandai_bvh_dir / "dataset-1_bye_feminine_001.bvh")
    path = tmp_path_factory.mktemp("take") / "bye.bvh"
    write_bvh(path, BVH(src.skeleton, src.motion[:FRAMES], src.frame_time))
    return path


RIGS = {  # name: (rotation order, up axis, extra joints, metres per unit)
    "xyz-fingers-metres": ("XYZ", "y", True, 0.01),
    "yxz-zup-centimetres": ("YXZ", "z", True, 1.0),
    "zxy-plain-metres": ("ZXY", "y", False, 0.01),
}


@pytest.fixture(scope="module")
def rigs(bandai_take: Path) -> dict[str, tuple[Path, Path]]:
    """Each synthetic rig as (take.bvh, joint_map.json)."""
    src, out = read_bvh(bandai_take), {}
    for name, (order, up, extras, scale) in RIGS.items():
        folder = bandai_take.parent / name
        folder.mkdir(exist_ok=True)
        write_bvh(folder / "take.bvh", synthetic_rig(src, order, up, extras, scale))
        (folder / "map.json").write_text(json.dumps(synthetic_map(up)))
        out[name] = (folder / "take.bvh", folder / "map.json")
    return out


@pytest.fixture(scope="module")
def body():  # noqa: ANN201
    return load_body("anny")


@pytest.fixture(scope="module")
def takes(bandai_take: Path, rigs: dict[str, tuple[Path, Path]], body) -> dict[str, BvhTake]:  # noqa: ANN001
    """The Bandai take and each synthetic rig read for rohm (the shape fit is the slow part: once)."""
    cases = {"bandai": (bandai_take, None), **rigs}
    return {name: read_take(path, body, joint_map) for name, (path, joint_map) in cases.items()}


def _mean_mm(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean() * 1000)


def _rotation_columns(bvh: BVH, joints: list[int]) -> list[int]:
    starts = bvh.skeleton.channel_starts()
    return [starts[j] + k for j in joints for k, c in enumerate(bvh.skeleton.channels[j]) if c.endswith("rotation")]


def test_channels_written_back_unchanged(bandai_take: Path, rigs: dict[str, tuple[Path, Path]]) -> None:
    for path in [bandai_take, *(take for take, _ in rigs.values())]:
        bvh = read_bvh(path)
        local, _ = bvh.local_transforms()
        free = [j for j, c in enumerate(bvh.skeleton.channels) if sum(x.endswith("rotation") for x in c) == 3]
        again = with_channels(bvh, {j: local[:, j] for j in free})
        np.testing.assert_allclose(again.motion, bvh.motion, atol=1e-6)  # same numbers: no flips, no 360s


def test_pose_rig_lands_reachable_targets_and_keeps_other_joints(rigs: dict[str, tuple[Path, Path]]) -> None:
    rig = read_bvh(rigs["xyz-fingers-metres"][0])
    names = rig.skeleton.names
    chosen = [names.index(n) for n in RENAME.values()]
    other = rig.motion.copy()  # other poses of the same skeleton: every mapped joint turned by ~20 degrees
    cols = _rotation_columns(rig, chosen)
    other[:, cols] += np.random.default_rng(0).normal(0.0, 20.0, (rig.num_frames, len(cols)))
    start, goal = rig, BVH(rig.skeleton, other, rig.frame_time)
    targets = {j: goal.global_positions()[:, j] for j in chosen}
    before = np.linalg.norm(start.global_positions()[:, chosen] - goal.global_positions()[:, chosen], axis=-1)
    assert before.mean() > 0.1  # the targets are far from where the joints start
    posed = pose_rig(start, targets)
    np.testing.assert_allclose(posed.global_positions()[:, chosen], goal.global_positions()[:, chosen], atol=1e-6)
    others = [j for j, n in enumerate(names) if n not in RENAME.values() and rig.skeleton.channels[j]]
    assert any("_f" in names[j] for j in others) and any("twist" in names[j] for j in others)
    cols = _rotation_columns(start, others)
    np.testing.assert_array_equal(posed.motion[:, cols], start.motion[:, cols])  # fingers, twists, eyes kept


def test_writer_alone_brings_a_take_back(takes: dict[str, BvhTake], body, tmp_path: Path) -> None:  # noqa: ANN001
    for name, take in takes.items():
        out = tmp_path / f"{name}.bvh"
        write_take(take, take.motion, out, body)  # the fitted input itself, no network
        back, src = read_bvh(out), take.bvh
        assert back.skeleton.names == src.skeleton.names and back.skeleton.parents == src.skeleton.parents
        assert back.skeleton.channels == src.skeleton.channels
        np.testing.assert_allclose(back.skeleton.offsets, src.skeleton.offsets, atol=1e-6)
        assert back.num_frames == src.num_frames and back.frame_time == pytest.approx(src.frame_time, rel=1e-6)
        error = _mean_mm(mapped_positions_m(take, back), mapped_positions_m(take, src))
        assert error < 1.0, (name, error)
        kept = [j for j, c in enumerate(src.skeleton.channels) if c and j not in take.sources]
        cols = _rotation_columns(src, kept)
        np.testing.assert_allclose(back.motion[:, cols], src.motion[:, cols], atol=1e-5)


def _turned(motion: Motion, body, turn: np.ndarray, shift: np.ndarray) -> Motion:  # noqa: ANN001
    """The motion's body turned by `turn` about the world origin, then shifted (metres)."""
    rest = body.rest_joints(torch.as_tensor(motion.betas)[None])[0, 0].numpy()
    root = Rotation.from_matrix(turn) * Rotation.from_rotvec(motion.root_orient)
    trans = (motion.trans + rest) @ turn.T - rest + shift
    return Motion(joints=motion.joints @ turn.T + shift, fps=motion.fps, trans=trans, root_orient=root.as_rotvec(),
                  pose_body=motion.pose_body, betas=motion.betas, body_model="anny")


def test_a_moved_result_moves_the_rig(takes: dict[str, BvhTake], body, tmp_path: Path) -> None:  # noqa: ANN001
    turn, shift = Rotation.from_euler("y", 90, degrees=True).as_matrix(), np.array([1.0, 0.0, 0.5])
    for name in ("yxz-zup-centimetres", "xyz-fingers-metres"):
        take = takes[name]
        posed = write_take(take, _turned(take.motion, body, turn, shift), tmp_path / "moved.bvh", body)
        expected = mapped_positions_m(take, take.bvh) @ turn.T + shift
        assert _mean_mm(mapped_positions_m(take, posed), expected) < 1.0, name
        unmoved = write_take(take, take.motion, tmp_path / "still.bvh", body)
        assert _mean_mm(mapped_positions_m(take, unmoved), expected) > 500  # the check can fail


@pytest.mark.parametrize("rig", ["bandai", "xyz-fingers-metres"])
def test_reconstruct_command_round_trip_on_a_clean_take(rig: str, takes: dict[str, BvhTake],
                                                          rigs: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    take = takes[rig]
    out = tmp_path / "take_clean.bvh"
    args = ["reconstruct", str(take.path), "--out", str(out), "--iterations", "1", "--steps", "4"]
    assert main(args + (["--joint-map", str(rigs[rig][1])] if rig in rigs else [])) == 0
    back = read_bvh(out)
    assert back.skeleton.names == take.bvh.skeleton.names and back.num_frames == take.bvh.num_frames
    error = _mean_mm(mapped_positions_m(take, back), mapped_positions_m(take, take.bvh))
    assert error < 10.0, error
