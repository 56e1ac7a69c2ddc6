"""Retargeting: exact on a matching skeleton, hinge-like knees and elbows, shape recovery."""

import roma
import torch

from rohm.body import load_body
from rohm.body.ik import fit_shape, inverse_kinematics, local_from_global, retarget
from rohm.skeleton import JOINT_INDEX as J
from rohm.skeleton import PARENTS


def _random_motion(betas: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    go = 0.5 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    bp = 0.3 * torch.randn(n, 63, generator=g, dtype=torch.float64)
    tr = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return load_body("anny")(betas, go, bp, tr).joints


def test_exact_on_the_same_skeleton() -> None:
    betas = torch.tensor([0.2, 0.7, 0.5, 0.4, 0.8, 0.3], dtype=torch.float64)
    target = _random_motion(betas, 50, 0)
    res = retarget(load_body("anny").rest_joints(betas[None])[0], target)
    assert res.error.max() < 1e-9
    assert res.joints.shape == target.shape and res.pose_body.shape == (50, 63)


def test_error_does_not_accumulate_down_the_chain() -> None:
    body = load_body("anny")
    target = _random_motion(torch.full((6,), 0.5, dtype=torch.float64), 40, 1)
    wrong = body.rest_joints(torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.7, 0.5]], dtype=torch.float64))[0]
    right = body.rest_joints(torch.full((1, 6), 0.5, dtype=torch.float64))[0]
    err = retarget(wrong, target).error
    # Aiming each bone from the posed parent at the target child keeps the wrist error well
    # below the sum of the bone-length mismatches along the chain (what parallel bones give).
    chain, total = J["left_wrist"], 0.0
    while PARENTS[chain] >= 0:
        length = lambda r: (r[chain] - r[PARENTS[chain]]).norm()  # noqa: E731
        total += abs(length(wrong) - length(right)).item()
        chain = PARENTS[chain]
    assert total > 0.05
    assert err[:, J["left_wrist"]].mean() < 0.7 * total


def test_bent_knee_is_a_hinge_about_x() -> None:
    body = load_body("anny")
    betas = torch.full((6,), 0.5, dtype=torch.float64)
    bp = torch.zeros(3, 63, dtype=torch.float64)
    angles = torch.tensor([0.3, 0.8, 1.4], dtype=torch.float64)
    bp[:, 3 * (J["left_knee"] - 1)] = angles  # knee flexion about the x axis
    bp[:, 3 * (J["left_hip"] - 1)] = -0.5 * angles
    target = body(betas, torch.zeros(3, 3, dtype=torch.float64), bp, torch.zeros(3, 3, dtype=torch.float64)).joints
    local = local_from_global(inverse_kinematics(body.rest_joints(betas[None])[0], target))
    knee = local[:, J["left_knee"]]
    assert torch.allclose(knee[:, 0], angles, atol=1e-6) and knee[:, 1:].abs().max() < 1e-6


def test_straight_arms_give_finite_rotations() -> None:
    body = load_body("anny")
    betas = torch.full((6,), 0.5, dtype=torch.float64)
    rest = body.rest_joints(betas[None])[0]
    rot = inverse_kinematics(rest, rest[None].clone())  # T-pose: every limb straight
    assert torch.isfinite(rot).all()
    assert torch.allclose(roma.rotmat_to_rotvec(rot), torch.zeros(1, 22, 3, dtype=torch.float64), atol=1e-6)


def test_shape_fit_recovers_the_body() -> None:
    body = load_body("anny")
    true = torch.tensor([0.3, 0.6, 0.5, 0.4, 0.85, 0.5], dtype=torch.float64)
    target = _random_motion(true, 60, 2)
    start = body.rest_joints(torch.full((1, 6), 0.5, dtype=torch.float64))[0]
    before = retarget(start, target).error.mean()
    betas, err = fit_shape(body, target, steps=40, lr=0.08)
    assert err < 0.3 * before.item() and err < 0.01
    assert abs(betas[4] - true[4]) < 0.1  # height


def test_shape_fit_starts_at_the_default_shape() -> None:
    body = load_body()
    target = _random_motion(body.default_betas, 5, 3)
    betas, _ = fit_shape(body, target, steps=0)
    assert torch.equal(betas, body.default_betas)
