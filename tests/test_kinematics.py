"""Forward kinematics against a plain per-joint loop, and the SMPL-X root convention."""

import roma
import torch

from rohm.body.kinematics import forward_kinematics
from rohm.skeleton import PARENTS


def _naive(rest, go, bp, tr):
    local = roma.rotvec_to_rotmat(torch.cat([go[:, None], bp.view(-1, 21, 3)], 1))
    rots, pos = [], []
    for j, p in enumerate(PARENTS):
        if p < 0:
            rots.append(local[:, 0])
            pos.append(rest[0].expand(len(go), 3))
        else:
            rots.append(rots[p] @ local[:, j])
            pos.append(pos[p] + (rots[p] @ (rest[j] - rest[p])))
    return torch.stack(pos, 1) + tr[:, None], torch.stack(rots, 1)


def test_matches_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    rest = torch.randn(22, 3, generator=g, dtype=torch.float64)
    go, bp, tr = (torch.randn(7, d, generator=g, dtype=torch.float64) for d in (3, 63, 3))
    pos, rot = forward_kinematics(rest, go, bp, tr)
    ref_pos, ref_rot = _naive(rest, go, bp, tr)
    assert torch.allclose(pos, ref_pos, atol=1e-12) and torch.allclose(rot, ref_rot, atol=1e-12)


def test_root_rotates_about_rest_pelvis() -> None:
    rest = torch.randn(22, 3, dtype=torch.float64)
    go = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    pos, _ = forward_kinematics(rest, go, torch.zeros(1, 63, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64))
    assert torch.allclose(pos[0, 0], rest[0])  # pelvis stays put
    zero, _ = forward_kinematics(rest, torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 63, dtype=torch.float64))
    assert torch.allclose(zero[0], rest)


def test_differentiable() -> None:
    rest = torch.randn(22, 3, dtype=torch.float64, requires_grad=True)
    bp = torch.randn(4, 63, dtype=torch.float64, requires_grad=True)
    pos, _ = forward_kinematics(rest, torch.zeros(4, 3, dtype=torch.float64), bp)
    pos[:, 20].sum().backward()
    assert torch.isfinite(bp.grad).all() and bp.grad.abs().sum() > 0 and rest.grad.abs().sum() > 0
