"""Posing a BVH file's own hierarchy onto target joint positions: a motion written back onto a user's rig.

The input file is the template: the output keeps its joint names, offsets, channel order,
frame rate and frame count, and every joint without a target keeps the input's local
rotation (fingers, eyes, twist bones, helper roots). A joint with a target is turned, in
world space, by its `turn` (how the body's corresponding bone turned; identity when not
given), then swung so that its bones point from where the joint now is towards the targets
of its nearest targeted descendants: one such descendant aims the bone and keeps the twist,
two or more fix the rotation by Kabsch. A target without three rotation channels (an End Site,
say the toe tip) is only aimed at by its parent. The translation goes into the position channels of
the nearest joint at or above the topmost targeted joint, so that joint lands on its target.
Bone lengths are the file's own, so positions follow the targets only as closely as the
skeleton's proportions allow.
"""

from __future__ import annotations

import numpy as np

from rohm.io.bvh import BVH, with_channels

_EPS = 1e-9


def nearest_descendants(parents: list[int], chosen: set[int]) -> dict[int, list[int]]:
    """For each chosen joint, the chosen joints below it with no chosen joint in between."""
    out: dict[int, list[int]] = {j: [] for j in chosen}
    for j in range(len(parents)):
        if j not in chosen:
            continue
        p = parents[j]
        while p >= 0 and p not in chosen:
            p = parents[p]
        if p >= 0:
            out[p].append(j)
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (F, 3, 3) taking directions a (F, 3) onto b (F, 3); identity where
    either is zero; a half turn about a perpendicular axis where they are opposite."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis, axis=-1), (a * b).sum(-1)
    opposite = (sin < 1e-8) & (cos < 0)
    if opposite.any():  # any axis perpendicular to a
        helper = np.where(np.abs(a[opposite, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis[opposite] = _unit(np.cross(a[opposite], helper))
        sin[opposite] = 0.0
    k = _unit(axis)
    kx = np.zeros(a.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2], kx[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    kx = kx - np.swapaxes(kx, -1, -2)
    eye = np.broadcast_to(np.eye(3), kx.shape)
    rot = eye + sin[..., None, None] * kx + (1 - cos)[..., None, None] * (kx @ kx)
    rot[opposite] = 2 * k[opposite, :, None] * k[opposite, None, :] - np.eye(3)
    zero = (np.linalg.norm(a, axis=-1) < 0.5) | (np.linalg.norm(b, axis=-1) < 0.5)
    rot[zero] = np.eye(3)
    return rot


def kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations (F, 3, 3) best turning unit directions a (F, K, 3) onto b (F, K, 3), each pair weighted alike."""
    cov = np.swapaxes(_unit(b), -1, -2) @ _unit(a)  # (F, 3, 3): sum_k b_k a_k^T
    u, _, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    d = np.ones(u.shape[:-1])
    d[..., -1] = np.where(sign == 0, 1.0, sign)
    return (u * d[..., None, :]) @ vt


def _translation_joint(parents: list[int], channels: list[list[str]], top: int) -> int:
    """The joint whose position channels move `top`: the nearest at or above it with all three."""
    j = top
    while j >= 0:
        if sum(c.endswith("position") for c in channels[j]) == 3:
            return j
        j = parents[j]
    raise ValueError("no joint at or above the topmost target joint has X, Y and Z position channels")


def pose_rig(bvh: BVH, targets: dict[int, np.ndarray], turns: dict[int, np.ndarray] | None = None) -> BVH:
    """A copy of `bvh` posed so its targeted joints follow `targets` (see the module docstring).

    targets: joint index -> (F, 3) world positions in the file's units and axes;
    turns: joint index -> (F, 3, 3) world rotation applied to that joint before aiming.
    Returns a BVH with the input's skeleton and frame time; only the rotation channels of the
    targeted joints and one joint's position channels change.
    """
    sk = bvh.skeleton
    parents, n_frames = sk.parents, bvh.num_frames
    turns = turns or {}
    rot_in, pos_in = bvh.global_transforms()
    local_rot_in, local_trans = bvh.local_transforms()
    chosen = set(targets)
    free = {j for j in chosen if sum(c.endswith("rotation") for c in sk.channels[j]) == 3}
    below = nearest_descendants(parents, chosen)
    tops = [j for j in sorted(chosen) if not any(j in kids for kids in below.values())]
    movers = {_translation_joint(parents, sk.channels, t): t for t in tops}
    if len(movers) != len(tops):
        raise ValueError("two topmost target joints share the joint that carries their translation")
    rot_out, pos_out = np.empty_like(rot_in), np.empty_like(pos_in)
    new_trans: dict[int, np.ndarray] = {}
    eye = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
    for j, p in enumerate(parents):
        parent_rot = rot_out[:, p] if p >= 0 else eye
        parent_pos = pos_out[:, p] if p >= 0 else np.zeros((n_frames, 3))
        if j in movers:  # this joint's translation carries the topmost target onto its place
            top = movers[j]
            shift = targets[top] - pos_in[:, top]
            new_trans[j] = local_trans[:, j] + (np.swapaxes(parent_rot, -1, -2) @ shift[..., None])[..., 0]
        trans = new_trans.get(j, local_trans[:, j])
        pos_out[:, j] = parent_pos + (parent_rot @ trans[..., None])[..., 0]
        if j not in free:  # not targeted, or cannot turn freely (an End Site): keeps its local rotation
            rot_out[:, j] = parent_rot @ local_rot_in[:, j]
            continue
        turn = turns.get(j, eye)
        guess = turn @ rot_in[:, j]
        kids = below[j]
        if kids:
            rest = np.stack([(turn @ (pos_in[:, c] - pos_in[:, j])[..., None])[..., 0] for c in kids], axis=1)
            aim = np.stack([targets[c] - pos_out[:, j] for c in kids], axis=1)
            correction = swing(rest[:, 0], aim[:, 0]) if len(kids) == 1 else kabsch(rest, aim)
            guess = correction @ guess
        rot_out[:, j] = guess
    local_out = {j: (np.swapaxes(rot_out[:, parents[j]], -1, -2) @ rot_out[:, j]) if parents[j] >= 0 else rot_out[:, j]
                 for j in free}
    return with_channels(bvh, local_out, new_trans)
