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
