"""The default anny body: SMPL-X conventions, shape control, mesh consistent with the joints."""

import torch

from rohm.body import load_body
from rohm.skeleton import JOINT_INDEX as J


def test_rest_pose_is_a_yup_tpose_facing_z() -> None:
    body = load_body("anny")
    rest = body.rest_joints(torch.full((1, 6), 0.5, dtype=torch.float64))[0]
    assert torch.allclose(rest[0], torch.zeros(3, dtype=torch.float64))
    assert rest[J["head"], 1] > rest[J["pelvis"], 1] > rest[J["left_ankle"], 1]
    assert rest[J["left_hip"], 0] > 0 > rest[J["right_hip"], 0]  # left is +x when facing +z
    assert rest[J["left_foot"], 2] > rest[J["left_ankle"], 2]  # toes point forward (+z)
    arm = rest[J["left_wrist"]] - rest[J["left_shoulder"]]
    assert arm[0] > 0.4 and abs(arm[1]) < 0.02  # arms out horizontally


def test_height_phenotype_scales_the_skeleton() -> None:
    body = load_body("anny")
    betas = torch.full((2, 6), 0.5, dtype=torch.float64)
    betas[0, 4], betas[1, 4] = 0.1, 0.9
    rest = body.rest_joints(betas)
    span = rest[:, J["head"], 1] - rest[:, J["left_ankle"], 1]
    assert span[1] > span[0] + 0.3


def test_mesh_follows_the_joints() -> None:
    body = load_body("anny")
    g = torch.Generator().manual_seed(1)
    betas = torch.rand(6, generator=g, dtype=torch.float64)
    go = 0.3 * torch.randn(2, 3, generator=g, dtype=torch.float64)
    bp = 0.3 * torch.randn(2, 63, generator=g, dtype=torch.float64)
    tr = torch.randn(2, 3, generator=g, dtype=torch.float64)
    out = body(betas, go, bp, tr, return_vertices=True)
    assert out.vertices.shape == (2, 13718, 3)
    # Vertices nearest each wrist joint in the rest pose stay near it when posed.
    rest_out = body(betas, torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 63, dtype=torch.float64),
                    torch.zeros(1, 3, dtype=torch.float64), return_vertices=True)
    for j in (J["left_wrist"], J["right_ankle"], J["head"]):
        near = (rest_out.vertices[0] - rest_out.joints[0, j]).norm(dim=-1).argsort()[:20]
        gap_rest = (rest_out.vertices[0, near] - rest_out.joints[0, j]).norm(dim=-1).mean()
        gap_posed = (out.vertices[:, near] - out.joints[:, j, None]).norm(dim=-1).mean()
        assert abs(gap_posed - gap_rest) < 0.02
    assert body.faces.shape[1] == 3 and int(body.faces.max()) < 13718


def test_rest_joints_match_annys_own_forward_pass() -> None:
    """The public coefficient route of `rest_joints` poses the bones as anny's forward pass does."""
    body = load_body("anny")
    model = body._model
    betas = torch.rand(3, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    zero_pose = torch.eye(4, dtype=model.dtype).repeat(3, len(model.bone_labels), 1, 1)
    bones = model(pose_parameters=zero_pose, phenotype_kwargs=betas.to(model.dtype))["bone_poses"]
    joints = bones[:, body._bone_idx, :3, 3]
    assert torch.allclose(body.rest_joints(betas), joints - joints[:, :1], atol=1e-6)
    assert not torch.allclose(body.rest_joints(betas.flip(-1)), joints - joints[:, :1], atol=1e-3)  # negative control


def test_shape_is_bounded_to_phenotype_range() -> None:
    body = load_body("anny")
    assert body.bounded_shape and body.shape_bounds == (0.0, 1.0)
    assert torch.equal(body.default_betas, torch.full((6,), 0.5, dtype=torch.float64))
