"""Joint maps: which source joint (or End Site, or blend of several) gives each of the 22 body joints.

A map is JSON:
    {"joints": {"pelvis": "Hips", "spine2": {"lerp": ["Spine", "Chest", 0.5]},
                "spine3": {"blend": {"Spine": 0.2, "Chest": 0.5, "Neck": 0.3}},
                "left_foot": "Toes_L/End Site", ...},
     "scale": "auto" | 0.01,        # source units -> metres ("auto": cm if the body is > 3 units tall)
     "up": "y" | "z" | "auto"}      # the source's up axis ("auto": the one from pelvis to head)
Every body joint must be mapped; unknown body joint names are errors. A lerp's t may lie
outside [0, 1] (a point beyond either joint); a blend's weights must sum to 1.

Built-in maps (`rohm.data.rigs`: Bandai, CMU, Mixamo, SMPL-X names) are chosen by name
(`joint_map_by_name`) or detected from a file's joint names (`detect_joint_map`). Source
names match a file's after `normalise_joint_name`, so "mixamorig:LeftUpLeg" finds "LeftUpLeg"
and "L_Hip" finds "left_hip"; `JointMap.bind` rewrites a map with the file's own spellings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rohm.data.rigs import BANDAI_MAP, BUILTIN_MAPS
from rohm.errors import RohmError
from rohm.io.motion_file import ZUP_TO_YUP
from rohm.skeleton import JOINT_INDEX, JOINT_NAMES

__all__ = ["BANDAI_MAP", "BUILTIN_MAPS", "JointMap", "detect_joint_map", "joint_map_by_name", "load_joint_map",
           "normalise_joint_name", "parse_joint_map"]

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SIDE_WORDS = {"l": "left", "left": "left", "r": "right", "right": "right"}
_BLEND_TOLERANCE = 1e-6


def normalise_joint_name(name: str) -> str:
    """A joint name reduced to what identifies it: no namespace ("mixamorig:"), lower case, no
    separators, the side spelled out in front ("L_Hip", "hip_l", "LeftHip" -> "lefthip"); an
    End Site keeps its "/end site" tail."""
    base, sep, tail = name.partition("/")
    words = [w.lower() for w in _WORD.findall(base.rsplit(":", 1)[-1])]
    side = ""
    if len(words) > 1 and words[0] in _SIDE_WORDS:
        side, words = _SIDE_WORDS[words[0]], words[1:]
    elif len(words) > 1 and words[-1] in _SIDE_WORDS:
        side, words = _SIDE_WORDS[words[-1]], words[:-1]
    return side + "".join(words) + (sep + tail.lower() if sep else "")


def _name_index(names: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """A file's joints by exact name and by normalised name (the first of any clash wins)."""
    exact = {n: i for i, n in enumerate(names)}
    loose: dict[str, int] = {}
    for i, n in enumerate(names):
        loose.setdefault(normalise_joint_name(n), i)
    return exact, loose


@dataclass
class JointMap:
    """A validated joint map: per body joint, source joints and blend weights."""

    sources: list[list[tuple[str, float]]]  # per body joint: (source joint name, weight)
    scale: float | None  # None = auto
    up: str  # "y", "z" or "auto"
    origin: str = "<built-in Bandai map>"
    name: str | None = None  # the built-in map's name ("cmu"); None for a JSON file

    def source_names(self) -> set[str]:
        return {name for entry in self.sources for name, _ in entry}

    def missing(self, names: list[str]) -> list[str]:
        """The map's source joints that a file with these joint names lacks (after normalising)."""
        exact, loose = _name_index(names)
        return sorted(n for n in self.source_names() if n not in exact and normalise_joint_name(n) not in loose)

    def bind(self, names: list[str], path: str | Path | None = None) -> JointMap:
        """This map with source names spelled as in a file with these joints ("Hips" ->
        "mixamorig:Hips"); a RohmError naming the file lists the joints it lacks."""
        lacking = self.missing(names)
        if lacking:
            raise RohmError(f"joint map {self.origin} names joints the file lacks: {', '.join(lacking)}", path)
        exact, loose = _name_index(names)
        spelled = lambda n: n if n in exact else names[loose[normalise_joint_name(n)]]  # noqa: E731
        return replace(self, sources=[[(spelled(n), w) for n, w in entry] for entry in self.sources])

    def apply(self, names: list[str], positions: np.ndarray, path: str | Path) -> np.ndarray:
        """Source world positions (F, S, 3) in source units -> body joints (F, 22, 3) in metres, y-up."""
        return self.to_body(names, positions, path)[0]

    def to_body(self, names: list[str], positions: np.ndarray, path: str | Path) -> tuple[np.ndarray, float]:
        """Like `apply`, also returning the scale used (metres per source unit)."""
        index = {n: i for i, n in enumerate(names)}
        out = np.zeros((positions.shape[0], len(JOINT_NAMES), 3))
        for j, entry in enumerate(self.bind(names, path).sources):
            for name, weight in entry:
                out[:, j] += weight * positions[:, index[name]]
        if self.up == "z" or (self.up == "auto" and _z_is_up(out)):
            out = out @ ZUP_TO_YUP.T
        scale = self.scale
        if scale is None:
            height = np.nanmedian(out[:, JOINT_INDEX["head"], 1] - out[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 1].min(axis=1))
            scale = 0.01 if height > 3.0 else 1.0
        return out * scale, scale


def _z_is_up(joints: np.ndarray) -> bool:
    """Whether the median pelvis-to-head direction of body joints (F, 22, 3) points along +z rather than +y."""
    rise = np.nanmedian(joints[:, JOINT_INDEX["head"]] - joints[:, JOINT_INDEX["pelvis"]], axis=0)
    return bool(rise[2] > rise[1])


def _parse_entry(name: str, entry: Any, origin: str) -> list[tuple[str, float]]:
    """One body joint's sources: a name, {"lerp": [a, b, t]} or {"blend": {joint: weight}}."""
    if isinstance(entry, str):
        return [(entry, 1.0)]
    if isinstance(entry, dict) and isinstance(entry.get("lerp"), list) and len(entry["lerp"]) == 3:
        a, b, t = entry["lerp"]
        if not (isinstance(a, str) and isinstance(b, str) and isinstance(t, (int, float))):
            raise RohmError(f"joint map entry for '{name}': lerp must be [joint, joint, t]", origin)
        return [(a, 1.0 - float(t)), (b, float(t))]
    if isinstance(entry, dict) and isinstance(entry.get("blend"), dict) and entry["blend"]:
        blend = entry["blend"]
        if not all(isinstance(w, (int, float)) for w in blend.values()):
            raise RohmError(f"joint map entry for '{name}': blend weights must be numbers", origin)
        if abs(sum(blend.values()) - 1.0) > _BLEND_TOLERANCE:
            raise RohmError(f"joint map entry for '{name}': blend weights sum to {sum(blend.values()):g}, not 1",
                            origin)
        return [(joint, float(w)) for joint, w in blend.items()]
    raise RohmError(f"joint map entry for '{name}' must be a joint name, {{\"lerp\": [a, b, t]}} "
                    f"or {{\"blend\": {{joint: weight}}}}", origin)


def parse_joint_map(spec: dict[str, Any], origin: str, name: str | None = None) -> JointMap:
    """Validate a joint-map dictionary (see module docstring)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("joints"), dict):
        raise RohmError("joint map must be a JSON object with a 'joints' object", origin)
    joints = spec["joints"]
    unknown = sorted(set(joints) - set(JOINT_NAMES))
    if unknown:
        raise RohmError(f"unknown body joint names in joint map: {', '.join(unknown)} (expected SMPL-X body joints)", origin)
    missing = [n for n in JOINT_NAMES if n not in joints]
    if missing:
        raise RohmError(f"joint map does not map body joints: {', '.join(missing)}", origin)
    sources = [_parse_entry(joint, joints[joint], origin) for joint in JOINT_NAMES]
    scale = spec.get("scale", "auto")
    if scale != "auto" and not (isinstance(scale, (int, float)) and scale > 0):
        raise RohmError(f"joint map 'scale' must be 'auto' or a positive number, got {scale!r}", origin)
    up = spec.get("up", "y")
    if up not in ("y", "z", "auto"):
        raise RohmError(f"joint map 'up' must be 'y', 'z' or 'auto', got {up!r}", origin)
    return JointMap(sources, None if scale == "auto" else float(scale), up, origin, name)


def joint_map_by_name(name: str) -> JointMap:
    """A built-in map by name: bandai, cmu, mixamo or smplx (any case)."""
    key = name.lower()
    if key not in BUILTIN_MAPS:
        raise RohmError(f"no built-in joint map called '{name}' (built-in: {', '.join(BUILTIN_MAPS)}); "
                        "a JSON joint map is a file ending in .json")
    return parse_joint_map(BUILTIN_MAPS[key], f"<built-in {key} map>", key)


def detect_joint_map(names: list[str], path: str | Path | None = None) -> JointMap:
    """The first built-in map whose joints a skeleton has, bound to the skeleton's own spellings.

    An unknown skeleton is a RohmError naming the file and what the closest built-in map lacks.
    """
    candidates = [joint_map_by_name(key) for key in BUILTIN_MAPS]
    lacking = [jm.missing(names) for jm in candidates]
    for jm, miss in zip(candidates, lacking):
        if not miss:
            return jm.bind(names, path)
    closest = min(range(len(candidates)), key=lambda k: len(lacking[k]))
    shown = ", ".join(lacking[closest][:8]) + (", ..." if len(lacking[closest]) > 8 else "")
    raise RohmError(f"unknown skeleton: no built-in joint map ({', '.join(BUILTIN_MAPS)}) fits its joints; "
                    f"the closest, {candidates[closest].name}, lacks {shown}; pass a JSON joint map (--joint-map)",
                    path)


def load_joint_map(spec: str | Path | None) -> JointMap:
    """A joint map from a JSON file, or a built-in map by name ("cmu"); the Bandai map when None."""
    if spec is None:
        return joint_map_by_name("bandai")
    path = Path(spec)
    if isinstance(spec, str) and spec.lower() in BUILTIN_MAPS and not path.is_file():
        return joint_map_by_name(spec)
    try:
        text = path.read_text()
    except OSError as exc:
        hint = f"; built-in maps: {', '.join(BUILTIN_MAPS)}" if not path.suffix else ""
        raise RohmError(f"cannot read joint map ({exc.strerror}){hint}", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RohmError(f"joint map is not valid JSON ({exc.msg} at line {exc.lineno})", path) from None
    return parse_joint_map(data, str(path))
