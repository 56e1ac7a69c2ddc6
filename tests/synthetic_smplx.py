"""A made-up SMPL-X model file for tests: the real one is licensed and never shipped.

Same keys, layouts and 55-joint tree as SMPL_X's .npz, with a rough T-posed
stick-figure body (y-up, facing +z, left at +x, pelvis near y = -0.35 like the
real template). Every joint gets a tetrahedron of vertices that follow only that
joint and whose mean is the joint, so `J_regressor` reproduces the rest joints;
each bone gets rings of vertices blended between its two joints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# SMPL-X's 55-joint tree: 22 body joints, jaw, eyes, then 15 joints per hand in
# the order index, middle, pinky, ring, thumb (3 each) off each wrist.
SMPLX_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
    15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)
NUM_SMPLX_JOINTS = len(SMPLX_PARENTS)

# Left-side and centre rest joints of the 22 body joints plus jaw and eyes (metres).
_BODY_JOINTS = np.array([
    [0.00, -0.35, 0.01], [0.06, -0.44, 0.00], [-0.06, -0.44, 0.00], [0.00, -0.24, -0.01],
    [0.11, -0.82, 0.00], [-0.11, -0.82, 0.00], [0.00, -0.11, 0.01], [0.07, -1.22, -0.04],
    [-0.07, -1.22, -0.04], [0.00, -0.06, 0.03], [0.12, -1.28, 0.08], [-0.12, -1.28, 0.08],
    [0.00, 0.16, -0.01], [0.07, 0.07, 0.00], [-0.07, 0.07, 0.00], [0.00, 0.25, 0.03],
    [0.17, 0.11, -0.02], [-0.17, 0.11, -0.02], [0.43, 0.08, -0.04], [-0.43, 0.08, -0.04],
    [0.68, 0.09, -0.04], [-0.68, 0.09, -0.04],
    [0.00, 0.22, 0.05], [0.03, 0.30, 0.09], [-0.03, 0.30, 0.09],
])
# Knuckle of each finger relative to the left wrist, in hand-joint order.
_FINGER_BASES = np.array([[0.09, 0.0, 0.03], [0.09, 0.0, 0.01], [0.08, 0.0, -0.035],
                          [0.085, 0.0, -0.015], [0.03, -0.015, 0.03]])
_TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) * 0.01
_RING = 4


def smplx_rest_joints() -> np.ndarray:
    """(55, 3) rest joints of the synthetic body."""
    hands = []
    for side, wrist in ((1.0, 20), (-1.0, 21)):
        for base in _FINGER_BASES:
            for k in range(3):
                hands.append(_BODY_JOINTS[wrist] + (base + [0.025 * k, 0.0, 0.0]) * [side, 1.0, 1.0])
    return np.concatenate([_BODY_JOINTS, np.array(hands)])


def make_synthetic_smplx(path: str | Path, num_betas: int = 10, num_verts: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a synthetic SMPL-X .npz (posedirs in the (V, 3, P) layout) and return its arrays.

    `num_verts` must be at least 4 per joint (220); the rest become bone rings.
    """
    n_joints = NUM_SMPLX_JOINTS
    if num_verts < 4 * n_joints:
        raise ValueError(f"num_verts must be >= {4 * n_joints}")
    rng = np.random.default_rng(seed)
    joints = smplx_rest_joints()

    verts = [joints[j] + _TETRA for j in range(n_joints)]
    weights = [np.repeat(np.eye(n_joints)[j : j + 1], 4, axis=0) for j in range(n_joints)]
    faces = [4 * j + np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]) for j in range(n_joints)]

    # Bone rings, dealt out to the 54 bones in turn; leftover vertices sit on the pelvis.
    bones = list(range(1, n_joints))
    n_rings = (num_verts - 4 * n_joints) // _RING
    per_bone = [n_rings // len(bones) + (i < n_rings % len(bones)) for i in range(len(bones))]
    start = 4 * n_joints
    for child, count in zip(bones, per_bone):
        parent = SMPLX_PARENTS[child]
        axis = joints[child] - joints[parent]
        side = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 * np.linalg.norm(axis) else [1.0, 0.0, 0.0])
        side /= np.linalg.norm(side)
        up = np.cross(axis / np.linalg.norm(axis), side)
        radius = 0.02 if child >= 22 else 0.05
        for k in range(count):
            t = (k + 1) / (count + 1)
            angles = np.arange(_RING) * 2 * np.pi / _RING
            verts.append(joints[parent] + t * axis + radius * (np.cos(angles)[:, None] * side + np.sin(angles)[:, None] * up))
            w = np.zeros((_RING, n_joints))
            w[:, parent], w[:, child] = 1.0 - t, t
            weights.append(w)
            if k > 0:
                a, b = start - _RING, start
                faces.extend([[a + i, a + (i + 1) % _RING, b + i], [b + i, a + (i + 1) % _RING, b + (i + 1) % _RING]]
                             for i in range(_RING))
            start += _RING
    extra = num_verts - start
    verts.append(joints[0] + rng.normal(scale=0.01, size=(extra, 3)))
    weights.append(np.repeat(np.eye(n_joints)[:1], extra, axis=0))

    v_template = np.concatenate(verts)
    faces_arr = np.concatenate([np.asarray(f).reshape(-1, 3) for f in faces]).astype(np.uint32)
    j_regressor = np.zeros((n_joints, num_verts))
    for j in range(n_joints):
        j_regressor[j, 4 * j : 4 * j + 4] = 0.25

    # Shape: smooth linear deformations of the template (height, width, ...) plus a little noise.
    linear = rng.normal(scale=0.05, size=(num_betas, 3, 3))
    shapedirs = np.einsum("vc,bdc->vdb", v_template, linear) + rng.normal(scale=0.002, size=(num_verts, 3, num_betas))
    posedirs = rng.normal(scale=0.005, size=(num_verts, 3, 9 * (n_joints - 1)))
    kintree = np.stack([np.array(SMPLX_PARENTS), np.arange(n_joints)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # how the real files mark the root

    arrays = {
        "v_template": v_template, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": j_regressor,
        "weights": np.concatenate(weights), "kintree_table": kintree, "f": faces_arr,
    }
    np.savez(path, **arrays)
    return arrays
