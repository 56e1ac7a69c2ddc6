"""joints_from_features: normalised features pose the joints they were encoded from, on the rest
skeleton given, with gradients reaching the rotations."""

from __future__ import annotations

import numpy as np
import torch

from rohm.body import load_body
from rohm.representation import FeatureLayout, Normalizer, encode, joints_from_features


def test_features_pose_the_joints_they_were_encoded_from() -> None:
    body = load_body()
    rng = np.random.default_rng(0)
    n = 12
    betas = body.default_betas
    root_orient = torch.as_tensor(rng.normal(0.0, 0.3, (n, 3)))
    pose_body = torch.as_tensor(rng.normal(0.0, 0.2, (n, 63)))
    trans = torch.as_tensor(np.cumsum(rng.normal(0.0, 0.02, (n, 3)), axis=0) + [0.0, 0.9, 0.0])
    joints = body(betas, root_orient, pose_body, trans).joints.to(torch.float64)
    layout = FeatureLayout(body.num_betas)
    features = encode(joints, root_orient, trans, pose_body, betas, None, layout, fps=30.0)
    normalizer = Normalizer(rng.normal(0.0, 1.0, layout.dim), rng.uniform(0.5, 2.0, layout.dim), layout)
    normalised = normalizer.normalize(features)[None].requires_grad_()
    rest = body.rest_joints(betas[None]).to(torch.float64)

    posed = joints_from_features(normalised, normalizer, rest)
    torch.testing.assert_close(posed[0], joints, atol=1e-5, rtol=0)
    posed[..., 1].sum().backward()
    assert normalised.grad is not None and normalised.grad[..., layout.rotations].abs().sum() > 0
    taller = joints_from_features(normalised.detach(), normalizer, rest * 1.1)  # the rest skeleton is used
    assert (taller[0] - joints).abs().max() > 0.01
