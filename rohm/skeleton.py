"""The 22-joint SMPL-X body skeleton that every part of rohm speaks.

Joint order, parents and named subsets (feet, lower/upper body, left/right mirror
pairs) live here and nowhere else.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Foot joints used for contact labels, skating and ground penetration, in the
# order of the 4 contact channels: left ankle, left toe, right ankle, right toe.
FOOT_JOINTS: tuple[int, ...] = (7, 10, 8, 11)
ANKLE_JOINTS: tuple[int, ...] = (7, 8)
TOE_JOINTS: tuple[int, ...] = (10, 11)

# Lower body as masked by the paper's Occ-L protocol (the pelvis stays visible:
# it carries the trajectory).
LOWER_BODY: tuple[int, ...] = (1, 2, 4, 5, 7, 8, 10, 11)
UPPER_BODY: tuple[int, ...] = tuple(j for j in range(1, NUM_JOINTS) if j not in LOWER_BODY)

# Index of each joint's mirror image (left <-> right); centre joints map to themselves.
MIRROR: tuple[int, ...] = tuple(
    JOINT_INDEX[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
    for n in JOINT_NAMES
)


def tree_levels(parents: tuple[int, ...] = PARENTS) -> list[list[int]]:
    """Group joints by depth in the tree so forward kinematics can run a level at a time."""
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        depth[j] = 0 if p < 0 else depth[p] + 1
    levels: list[list[int]] = [[] for _ in range(max(depth) + 1)]
    for j, d in enumerate(depth):
        levels[d].append(j)
    return levels
