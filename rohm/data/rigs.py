"""The built-in joint maps: where each of the 22 body joints sits on a known motion-capture rig.

Each map is the JSON form that `rohm.data.joint_map` reads (a source joint name, a lerp of two,
or a blend of several source joints with weights summing to 1). Names are matched to a file's
joints after `normalise_joint_name`, so namespaces ("mixamorig:"), case, separators and
L_/_L side markers do not matter. `rohm data build` reports the error each map reaches
(summary.json, retarget_error_mm); the figures quoted here were measured with the default body.
"""

from __future__ import annotations

from typing import Any

from rohm.skeleton import JOINT_NAMES


def _sided(pattern: dict[str, Any], marks: tuple[str, str]) -> dict[str, Any]:
    """Both sides of a map written once: "{s}" becomes each side's marker (left, right), "{o}" the other's."""
    out: dict[str, Any] = {}
    for side, mark, other in (("left", *marks), ("right", *marks[::-1])):
        fill = lambda text: text.format(s=mark, o=other)  # noqa: E731
        for joint, entry in pattern.items():
            if isinstance(entry, str):
                out[f"{side}_{joint}"] = fill(entry)
            elif "lerp" in entry:
                a, b, t = entry["lerp"]
                out[f"{side}_{joint}"] = {"lerp": [fill(a), fill(b), t]}
            else:
                out[f"{side}_{joint}"] = {"blend": {fill(k): w for k, w in entry["blend"].items()}}
    return out


# Bandai Namco Research motion datasets 1 and 2. Their Hips joint sits at the level of the hip
# joints and their spine has two joints where SMPL-X has three, so the pelvis and spine joints
# are placed along the Hips-Spine-Chest line at SMPL-X-like heights (22 mm mean retargeting
# error instead of 45 mm with the naive one-to-one map).
BANDAI_MAP: dict[str, Any] = {
    "joints": {
        "pelvis": {"lerp": ["Hips", "Spine", 0.3]},
        "spine1": {"lerp": ["Hips", "Spine", 0.6]},
        "spine2": "Spine",
        "spine3": {"lerp": ["Spine", "Chest", 0.75]},
        "neck": "Neck",
        "head": "Head",
        **_sided({"hip": "UpperLeg_{s}", "knee": "LowerLeg_{s}", "ankle": "Foot_{s}", "foot": "Toes_{s}",
                  "collar": "Shoulder_{s}", "shoulder": "UpperArm_{s}", "elbow": "LowerArm_{s}",
                  "wrist": "Hand_{s}"}, ("L", "R")),
    },
    "scale": "auto",
    "up": "y",
}

# The CMU motion capture database in B. Hahne's "Daz-friendly" BVH conversion (cgspeed 2010):
# every subject on one Daz (Aiko3) rig. Its proportions differ from a body model's, so each
# body joint is a fixed point of the Daz segment that carries it, as a blend of that segment's
# joints (fitted once, jointly with the default body's shape, on frames of all 84 clips of
# subjects 1-9; fitted on half the clips and checked on the other half: the same error):
# - pelvis: 45% of the way from the thigh joints' midpoint up to the abdomen joint (the Daz
#   'hip' root sits 2.6 cm below the thigh joints; the body's pelvis ~8 cm above its hips);
# - hips 9% further out than the thigh joints; knees 11% of the way down the shin (the Daz
#   thigh is 37 cm, its shin 45 cm: a body's are nearly equal);
# - spine1/2/3 along hip-abdomen-chest; neck a little up the neck bone; head as far again
#   above the Daz head joint as that is above the neck (the Daz head joint is at the skull base);
# - collars at the midpoint of the two Daz collar joints (the body's collars sit near the
#   sternum); shoulders 6% out along the upper arm; wrists 9% beyond the hand joint;
#   toes 10% beyond the foot's End Site (which is the ball of the foot, 12.6 cm from the ankle).
# Measured on the whole set: 52 mm mean retargeting error with the naive one-to-one map
# (the shape fit then pins the default body's shape values at their bounds), ~6 mm with this one.
CMU_MAP: dict[str, Any] = {
    "joints": {
        "pelvis": {"blend": {"lThigh": 0.275, "rThigh": 0.275, "abdomen": 0.45}},
        "spine1": {"lerp": ["abdomen", "hip", 0.23]},
        "spine2": {"lerp": ["abdomen", "chest", 0.19]},
        "spine3": {"lerp": ["chest", "abdomen", 0.21]},
        "neck": {"lerp": ["neck", "head", 0.14]},
        "head": {"lerp": ["neck", "head", 2.0]},
        **_sided({"hip": {"lerp": ["{s}Thigh", "{o}Thigh", -0.09]},
                  "knee": {"lerp": ["{s}Shin", "{s}Foot", 0.11]},
                  "ankle": "{s}Foot",
                  "foot": {"lerp": ["{s}Foot/End Site", "{s}Foot", -0.1]},
                  "collar": {"lerp": ["{s}Collar", "{o}Collar", 0.5]},
                  "shoulder": {"lerp": ["{s}Shldr", "{s}ForeArm", 0.06]},
                  "elbow": "{s}ForeArm",
                  "wrist": {"lerp": ["{s}Hand", "{s}ForeArm", -0.09]}}, ("l", "r")),
    },
    "scale": "auto",
    "up": "y",
}

# Adobe Mixamo rigs ("mixamorig:Hips", "mixamorig1:LeftUpLeg", or the same names without a
# namespace): one Mixamo joint per body joint, the toe base for the body's foot joint.
MIXAMO_MAP: dict[str, Any] = {
    "joints": {
        "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
        "head": "Head",
        **_sided({"hip": "{s}UpLeg", "knee": "{s}Leg", "ankle": "{s}Foot", "foot": "{s}ToeBase",
                  "collar": "{s}Shoulder", "shoulder": "{s}Arm", "elbow": "{s}ForeArm", "wrist": "{s}Hand"},
                 ("Left", "Right")),
    },
    "scale": "auto",
    "up": "auto",
}
# Skeletons named after SMPL / SMPL-X joints ("pelvis", "left_hip", or "Pelvis", "L_Hip", ...):
# the identity map.
SMPLX_MAP: dict[str, Any] = {"joints": {name: name for name in JOINT_NAMES}, "scale": "auto", "up": "auto"}

# Detection tries these in order and takes the first whose joints a file has.
BUILTIN_MAPS: dict[str, dict[str, Any]] = {
    "bandai": BANDAI_MAP, "cmu": CMU_MAP, "mixamo": MIXAMO_MAP, "smplx": SMPLX_MAP,
}
