"""Inverse kinematics (retargeting): body parameters whose forward kinematics reproduce given joints.

Works on positions only (any rig, markers or joints), in three steps:
1. shape: per subject, the body betas whose posed joints best match the source
   (optimised through the whole retargeting, so bone lengths and the pelvis and
   chest geometry are fitted together);
2. pose: analytic inverse kinematics, one joint at a time along the tree. Each
   joint's world rotation aims its rest bone from the posed parent at the observed child; the
   twist about the bone comes from a second observed direction (pelvis and chest:
   all their children, Kabsch; legs: the foot's lateral axis, so knees and ankles
   act as hinges; arms: the elbow's bending plane, falling back to the parent's
   frame when the arm is straight; spine and neck: the pelvis/chest lateral axis).
   Wrists, head and toes carry no positional evidence of their own orientation and
   keep their parent's frame;
3. translation: the pelvis of the result lands exactly on the source pelvis.
"""

from __future__ import annotations

from dataclasses import dataclass

import roma
import torch

from rohm.body.base import BodyModel
from rohm.body.kinematics import forward_kinematics
from rohm.skeleton import JOINT_INDEX as J
from rohm.skeleton import NUM_JOINTS, PARENTS

_EPS = 1e-9
_X = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
_Y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp(min=_EPS)


def _frame(primary: torch.Tensor, secondary: torch.Tensor) -> torch.Tensor:
    """Orthonormal frame (..., 3, 3) whose first column is `primary`, second in the span of both."""
    e1 = _unit(primary)
    e2 = _unit(secondary - (secondary * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=-1)


def two_axis_rotation(rest_p: torch.Tensor, rest_s: torch.Tensor, obs_p: torch.Tensor, obs_s: torch.Tensor) -> torch.Tensor:
    """World rotation taking rest direction `rest_p` exactly onto `obs_p`, and `rest_s` as close as possible to `obs_s`."""
    return _frame(obs_p, obs_s) @ _frame(rest_p, rest_s).transpose(-1, -2)


def _kabsch(rest_vecs: torch.Tensor, obs_vecs: torch.Tensor) -> torch.Tensor:
    """Best rotation (..., 3, 3) mapping rest vectors (K, 3) onto observed vectors (..., K, 3)."""
    return roma.rigid_vectors_registration(rest_vecs.expand_as(obs_vecs), obs_vecs)


def _bend_normal(a: torch.Tensor, b: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Normal of the plane of two bones, blended towards `fallback` as the limb straightens."""
    n = torch.linalg.cross(a, b)
    sin = n.norm(dim=-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp(min=_EPS)
    weight = (sin / 0.25).clamp(max=1.0)  # fully trusted from ~15 degrees of bend
    return weight * _unit(n) + (1 - weight) * _unit(fallback)


def inverse_kinematics(rest: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """World rotations (N, 22, 3, 3) that pose the rest skeleton (22, 3) onto target joints (N, 22, 3).

    Bones are aimed from where the posed parent actually is towards the target
    child, so a bone-length mismatch costs only that joint's error and never
    accumulates down the chain.
    """
    rest = rest.to(target.dtype)
    n = target.shape[0]
    G: list[torch.Tensor | None] = [None] * NUM_JOINTS
    pos: list[torch.Tensor | None] = [None] * NUM_JOINTS
    pos[0] = target[:, 0]
    eye = torch.eye(3, dtype=target.dtype).expand(n, 3, 3)

    def rest_bone(j: int, c: int) -> torch.Tensor:
        return rest[c] - rest[j]

    def aim(j: int, c: int) -> torch.Tensor:
        return target[:, c] - pos[j]

    def place_children(j: int) -> None:
        for c in range(NUM_JOINTS):
            if PARENTS[c] == j:
                pos[c] = pos[j] + (G[j] @ rest_bone(j, c))

    def set_kabsch(j: int, children: list[int]) -> None:
        rest_v = torch.stack([rest_bone(j, c) for c in children])
        obs_v = torch.stack([aim(j, c) for c in children], dim=-2)
        G[j] = _kabsch(rest_v, obs_v)
        place_children(j)

    def set_two_axis(j: int, child: int, rest_s: torch.Tensor, obs_s: torch.Tensor) -> None:
        G[j] = two_axis_rotation(rest_bone(j, child).expand(n, 3), rest_s.expand(n, 3), aim(j, child), obs_s)
        place_children(j)

    def bone(j: int, c: int) -> torch.Tensor:
        return target[:, c] - target[:, j]

    set_kabsch(J["pelvis"], [J["left_hip"], J["right_hip"], J["spine1"]])
    pelvis_lateral = G[J["pelvis"]][..., 0]
    set_two_axis(J["spine1"], J["spine2"], _X, pelvis_lateral)
    set_two_axis(J["spine2"], J["spine3"], _X, pelvis_lateral)
    set_kabsch(J["spine3"], [J["neck"], J["left_collar"], J["right_collar"]])
    set_two_axis(J["neck"], J["head"], _X, G[J["spine3"]][..., 0])
    for side in ("left", "right"):
        hip, knee, ankle, toe = (J[f"{side}_{p}"] for p in ("hip", "knee", "ankle", "foot"))
        foot_lateral = _unit(torch.linalg.cross(bone(ankle, toe), bone(knee, ankle)))
        for j, c in ((hip, knee), (knee, ankle), (ankle, toe)):
            set_two_axis(j, c, _X, foot_lateral)
        collar, shoulder, elbow, wrist = (J[f"{side}_{p}"] for p in ("collar", "shoulder", "elbow", "wrist"))
        set_two_axis(collar, shoulder, _Y, G[J["spine3"]][..., 1])
        hinge = -_Y if side == "left" else _Y  # elbow flexion axis of the T-pose arm
        normal = _bend_normal(bone(shoulder, elbow), bone(elbow, wrist), G[collar] @ hinge)
        set_two_axis(shoulder, elbow, hinge, normal)
        set_two_axis(elbow, wrist, hinge, normal)
    for j in range(NUM_JOINTS):
        if G[j] is None:  # leaves: wrists, head, toes keep their parent's frame
            G[j] = G[PARENTS[j]] if PARENTS[j] >= 0 else eye
    return torch.stack(G, dim=1)  # type: ignore[arg-type]


def local_from_global(rot: torch.Tensor) -> torch.Tensor:
    """World rotations (..., 22, 3, 3) -> local axis-angle (..., 22, 3) relative to each parent."""
    parent = rot[..., [max(p, 0) for p in PARENTS], :, :]
    local = parent.transpose(-1, -2) @ rot
    local[..., 0, :, :] = rot[..., 0, :, :]
    return roma.rotmat_to_rotvec(local)


@dataclass
class Retargeted:
    """Body parameters and their joints for one clip."""

    root_orient: torch.Tensor  # (N, 3)
    pose_body: torch.Tensor  # (N, 63)
    trans: torch.Tensor  # (N, 3)
    joints: torch.Tensor  # (N, 22, 3) forward kinematics of the parameters
    error: torch.Tensor  # (N, 22) distance to the source joints, metres


def retarget(rest: torch.Tensor, target: torch.Tensor) -> Retargeted:
    """Fit pose and translation of a body with rest joints (22, 3) to target joints (N, 22, 3)."""
    rot = inverse_kinematics(rest, target)
    aa = local_from_global(rot)
    root_orient, pose_body = aa[:, 0], aa[:, 1:].reshape(-1, 63)
    trans = target[:, 0] - rest[0].to(target.dtype)
    joints, _ = forward_kinematics(rest, root_orient, pose_body, trans)
    return Retargeted(root_orient, pose_body, trans, joints, (joints - target).norm(dim=-1))


def fit_shape(
    body: BodyModel, targets: torch.Tensor, steps: int = 150, lr: float = 0.05, init: torch.Tensor | None = None
) -> tuple[torch.Tensor, float]:
    """Betas minimising the retargeting error over sample frames (M, 22, 3) of one subject, from
    `init` or the body's default shape.

    A `bounded_shape` body's betas are optimised through a sigmoid onto its `shape_bounds`.
    Returns (betas, mean error in metres).
    """
    targets = targets.to(torch.float64)
    start = body.default_betas if init is None else init.to(torch.float64)
    low, high = body.shape_bounds
    span = high - low
    bounded = body.bounded_shape
    raw = torch.logit(((start - low) / span).clamp(0.02, 0.98)) if bounded else start.clone()
    raw.requires_grad_(True)
    opt = torch.optim.Adam([raw], lr=lr)
    to_betas = (lambda r: low + span * torch.sigmoid(r)) if bounded else (lambda r: r)
    for _ in range(steps):
        rest = body.rest_joints(to_betas(raw)[None])[0]
        loss = retarget(rest, targets).error.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    betas = to_betas(raw).detach()
    with torch.no_grad():
        err = retarget(body.rest_joints(betas[None])[0], targets).error.mean().item()
    return betas, err
