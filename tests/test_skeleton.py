"""The joint table: parents, subsets and mirror pairs agree with the SMPL-X body."""

from rohm.skeleton import (
    FOOT_JOINTS,
    JOINT_NAMES,
    LOWER_BODY,
    MIRROR,
    NUM_JOINTS,
    PARENTS,
    UPPER_BODY,
    tree_levels,
)


def test_parents_precede_children_and_match_smplx() -> None:
    assert NUM_JOINTS == 22 and PARENTS[0] == -1
    assert all(p < j for j, p in enumerate(PARENTS))
    assert JOINT_NAMES[PARENTS[JOINT_NAMES.index("left_wrist")]] == "left_elbow"
    assert JOINT_NAMES[PARENTS[JOINT_NAMES.index("head")]] == "neck"


def test_mirror_swaps_sides_and_is_an_involution() -> None:
    assert all(MIRROR[MIRROR[j]] == j for j in range(NUM_JOINTS))
    for j, name in enumerate(JOINT_NAMES):
        other = JOINT_NAMES[MIRROR[j]]
        if name.startswith("left_"):
            assert other == "right_" + name[5:]
        elif not name.startswith("right_"):
            assert other == name


def test_subsets() -> None:
    assert [JOINT_NAMES[j] for j in FOOT_JOINTS] == ["left_ankle", "left_foot", "right_ankle", "right_foot"]
    assert set(LOWER_BODY) | set(UPPER_BODY) | {0} == set(range(NUM_JOINTS))
    assert not set(LOWER_BODY) & set(UPPER_BODY)


def test_tree_levels_cover_every_joint_once_in_depth_order() -> None:
    levels = tree_levels()
    assert sorted(j for level in levels for j in level) == list(range(NUM_JOINTS))
    depth = {j: d for d, level in enumerate(levels) for j in level}
    assert all(depth[j] == depth[p] + 1 for j, p in enumerate(PARENTS) if p >= 0)
