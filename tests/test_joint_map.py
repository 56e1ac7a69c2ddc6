"""Joint maps: the built-in Bandai map, JSON maps for other rigs, and their errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from rohm.data.joint_map import BANDAI_MAP, load_joint_map
from rohm.errors import RohmError
from rohm.skeleton import JOINT_INDEX, JOINT_NAMES

RIG = ["Root", "A", "B", "B/End Site"]


def _spec(**changes) -> dict:
    joints = {name: "A" for name in JOINT_NAMES}
    joints.update(changes)
    return {"joints": joints, "scale": 1.0, "up": "y"}


def test_builtin_map_covers_every_joint() -> None:
    jm = load_joint_map(None)
    assert len(jm.sources) == 22
    assert set(BANDAI_MAP["joints"]) == set(JOINT_NAMES)


def test_lerp_end_site_scale_and_zup(tmp_path: Path) -> None:
    spec = _spec(pelvis={"lerp": ["A", "B", 0.25]}, head="B/End Site")
    spec.update(scale=0.01, up="z")
    path = tmp_path / "map.json"
    path.write_text(json.dumps(spec))
    jm = load_joint_map(path)
    pos = np.zeros((1, 4, 3))
    pos[0, 1], pos[0, 2], pos[0, 3] = [0, 0, 100], [0, 0, 200], [0, 0, 300]
    out = jm.apply(RIG, pos, path)
    assert np.allclose(out[0, JOINT_INDEX["pelvis"]], [0, 1.25, 0])  # z-up 125 cm -> y-up 1.25 m
    assert np.allclose(out[0, JOINT_INDEX["head"]], [0, 3.0, 0])


def test_auto_scale_detects_centimetres() -> None:
    jm = load_joint_map(None)
    jm.scale = None
    names = sorted({n for e in jm.sources for n, _ in e})
    pos = np.zeros((2, len(names), 3))
    pos[:, names.index("Head"), 1] = 170.0
    out = jm.apply(names, pos, "x.bvh")
    assert out[:, JOINT_INDEX["head"], 1].max() < 3.0


@pytest.mark.parametrize("spec,needle", [
    (_spec(tail="A"), "unknown body joint names in joint map: tail"),
    ({"joints": {"pelvis": "A"}}, "does not map body joints"),
    (_spec(pelvis={"lerp": ["A"]}), "'pelvis' must be a joint name"),
    (dict(_spec(), scale=-2), "'scale'"),
    (dict(_spec(), up="x"), "'up'"),
    ([], "JSON object"),
])
def test_bad_maps(tmp_path: Path, spec, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(RohmError, match=needle) as err:
        load_joint_map(path)
    assert "bad.json" in str(err.value)


def test_unknown_source_joint_and_unreadable_map(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(_spec(head="Nope")))
    jm = load_joint_map(path)
    with pytest.raises(RohmError, match="names joints the file lacks: Nope"):
        jm.apply(RIG, np.zeros((1, 4, 3)), "clip.bvh")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(RohmError, match="not valid JSON"):
        load_joint_map(tmp_path / "broken.json")
    with pytest.raises(RohmError, match="cannot read"):
        load_joint_map(tmp_path / "absent.json")


# --- built-in maps: by name, detected from joint names, bound to a file's spellings ---------------

from rohm.data.joint_map import (  # noqa: E402
    detect_joint_map,
    joint_map_by_name,
    normalise_joint_name,
)
from rohm.data.rigs import BUILTIN_MAPS, MIXAMO_MAP  # noqa: E402
from rohm.io.bvh import make_bvh, read_bvh, write_bvh  # noqa: E402
from rohm.io.motion_file import ZUP_TO_YUP  # noqa: E402
from rohm.skeleton import PARENTS  # noqa: E402

# A T-posed 22-joint body (metres, y-up, facing +z) in SMPL-X joint order.
REST_M = np.array([
    [0, 0.95, 0], [0.09, 0.87, 0], [-0.09, 0.87, 0], [0, 1.05, 0], [0.09, 0.48, 0], [-0.09, 0.48, 0],
    [0, 1.17, 0], [0.09, 0.08, 0], [-0.09, 0.08, 0], [0, 1.25, 0], [0.09, 0.02, 0.12], [-0.09, 0.02, 0.12],
    [0, 1.48, 0], [0.03, 1.42, 0], [-0.03, 1.42, 0], [0, 1.6, 0.02], [0.17, 1.42, 0], [-0.17, 1.42, 0],
    [0.43, 1.42, 0], [-0.43, 1.42, 0], [0.68, 1.42, 0], [-0.68, 1.42, 0],
])


def _rig_file(tmp_path: Path, names: list[str], *, zup: bool = False, cm: bool = True,
               extra: tuple[str, ...] = ()) -> Path:
    """A 3-frame BVH of the T-posed body under the given joint names (plus leaf joints `extra` under the head)."""
    rest = REST_M @ ZUP_TO_YUP if zup else REST_M  # y-up -> z-up
    rest = rest * (100.0 if cm else 1.0)
    parents = list(PARENTS) + [JOINT_INDEX["head"]] * len(extra)
    positions = np.concatenate([rest, rest[[JOINT_INDEX["head"]] * len(extra)] + 5.0])
    offsets = np.array([positions[j] - (positions[p] if p >= 0 else 0) for j, p in enumerate(parents)])
    offsets[0] = 0.0
    n = len(parents)
    bvh = make_bvh(names + list(extra), parents, offsets, np.broadcast_to(np.eye(3), (3, n, 3, 3)),
                   np.repeat(positions[:1], 3, axis=0), fps=30.0)
    path = tmp_path / "rig.bvh"
    write_bvh(path, bvh)
    return path


def _names_from(spec: dict) -> list[str]:
    """One source joint name per body joint, taken from a one-to-one map."""
    return [spec["joints"][n] for n in JOINT_NAMES]


@pytest.mark.parametrize("name,expected", [
    ("mixamorig:LeftUpLeg", "leftupleg"), ("mixamorig1:Hips", "hips"), ("L_Hip", "lefthip"),
    ("left_hip", "lefthip"), ("LeftHip", "lefthip"), ("hip.R", "righthip"), ("UpperLeg_L", "leftupperleg"),
    ("lThigh", "leftthigh"), ("Spine1", "spine1"), ("lFoot/End Site", "leftfoot/end site"), ("hip", "hip"),
])
def test_normalised_names(name: str, expected: str) -> None:
    assert normalise_joint_name(name) == expected


def test_builtin_maps_by_name_and_file_name_fallback(tmp_path: Path) -> None:
    for key in BUILTIN_MAPS:
        jm = joint_map_by_name(key.upper())
        assert jm.name == key and len(jm.sources) == 22
        assert all(abs(sum(w for _, w in entry) - 1) < 1e-9 for entry in jm.sources)
    assert load_joint_map("cmu").name == "cmu"
    with pytest.raises(RohmError, match="built-in maps: bandai, cmu"):
        load_joint_map("cmuu")
    with pytest.raises(RohmError, match="no built-in joint map called 'vicon'"):
        joint_map_by_name("vicon")


def test_cmu_map_detected_from_cmu_joint_names() -> None:
    names = ["hip", "abdomen", "chest", "neck", "head", "leftEye", "leftEye/End Site", "rightEye",
             "rightEye/End Site", "rCollar", "rShldr", "rForeArm", "rHand", "rMid1", "lCollar", "lShldr",
             "lForeArm", "lHand", "lMid1", "rButtock", "rThigh", "rShin", "rFoot", "rFoot/End Site",
             "lButtock", "lThigh", "lShin", "lFoot", "lFoot/End Site"]
    jm = detect_joint_map(names)
    assert jm.name == "cmu" and jm.source_names() <= set(names)
    bandai = sorted(load_joint_map(None).source_names()) + ["joint_Root"]
    assert detect_joint_map(bandai).name == "bandai"


def test_blend_entries(tmp_path: Path) -> None:
    spec = _spec(pelvis={"blend": {"A": 0.25, "B": 0.5, "B/End Site": 0.25}})
    path = tmp_path / "map.json"
    path.write_text(json.dumps(spec))
    pos = np.zeros((1, 4, 3))
    pos[0, 1], pos[0, 2], pos[0, 3] = [0, 1, 0], [0, 2, 0], [0, 4, 0]
    out = load_joint_map(path).apply(RIG, pos, path)
    assert np.allclose(out[0, JOINT_INDEX["pelvis"]], [0, 0.25 + 1.0 + 1.0, 0])
    path.write_text(json.dumps(_spec(pelvis={"blend": {"A": 0.5, "B": 0.4}})))
    with pytest.raises(RohmError, match="blend weights sum to 0.9, not 1"):
        load_joint_map(path)


def test_mixamo_rig_detected_with_namespace(tmp_path: Path) -> None:
    names = ["mixamorig:" + n for n in _names_from(MIXAMO_MAP)]
    path = _rig_file(tmp_path, names, extra=("mixamorig:HeadTop_End",))
    bvh = read_bvh(path)
    jm = detect_joint_map(bvh.skeleton.names, path)
    assert jm.name == "mixamo"
    assert "mixamorig:LeftUpLeg" in jm.source_names() and "LeftUpLeg" not in jm.source_names()
    joints = jm.apply(bvh.skeleton.names, bvh.global_positions(), path)  # centimetres found out
    assert np.allclose(joints, REST_M[None], atol=1e-6)


def test_smplx_names_capitalised_and_z_up(tmp_path: Path) -> None:
    names = [("L_" if n.startswith("left_") else "R_" if n.startswith("right_") else "")
             + n.removeprefix("left_").removeprefix("right_").title() for n in JOINT_NAMES]
    assert names[:3] == ["Pelvis", "L_Hip", "R_Hip"]
    path = _rig_file(tmp_path, names, zup=True, cm=False)
    bvh = read_bvh(path)
    jm = detect_joint_map(bvh.skeleton.names, path)
    assert jm.name == "smplx"
    joints = jm.apply(bvh.skeleton.names, bvh.global_positions(), path)  # z-up found out
    assert np.allclose(joints, REST_M[None], atol=1e-6)


def test_unknown_rig_names_the_file_and_missing_joints(tmp_path: Path) -> None:
    names = [f"Bone{k:02d}" for k in range(22)]
    path = _rig_file(tmp_path, names)
    with pytest.raises(RohmError) as err:
        detect_joint_map(read_bvh(path).skeleton.names, path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "unknown skeleton" in message and "lacks" in message and "--joint-map" in message
