"""SMPL-X backend on a synthetic model file: skinning, shape, pose blend shapes, file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from synthetic_smplx import SMPLX_PARENTS, make_synthetic_smplx

import rohm.body
from rohm.body import load_body
from rohm.body.kinematics import forward_kinematics
from rohm.body.smplx_body import SMPLXBody
from rohm.errors import RohmError

F64 = torch.float64


@pytest.fixture()
def model_file(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "SMPLX_SYNTH.npz"
    return path, make_synthetic_smplx(path)


def _save(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def _random_motion(n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    betas = torch.randn(10, generator=g, dtype=F64)
    orient = torch.randn(n, 3, generator=g, dtype=F64)
    pose = 0.5 * torch.randn(n, 63, generator=g, dtype=F64)
    transl = torch.randn(n, 3, generator=g, dtype=F64)
    return betas, orient, pose, transl


def _reference_lbs(a: dict[str, np.ndarray], betas, orient, pose, transl) -> np.ndarray:
    """Plain SMPL-X LBS over all 55 joints and all 486 pose blend shapes (as the smplx package does)."""
    betas, orient, pose, transl = (np.asarray(x) for x in (betas, orient, pose, transl))
    n_verts, n_joints = a["weights"].shape
    v_shaped = a["v_template"] + a["shapedirs"][..., : len(betas)] @ betas
    joints = a["J_regressor"] @ v_shaped
    posedirs = a["posedirs"].reshape(n_verts * 3, -1)
    out = []
    for go, bp, t in zip(orient, pose, transl):
        rotvecs = np.zeros((n_joints, 3))
        rotvecs[0], rotvecs[1:22] = go, bp.reshape(21, 3)
        rot = Rotation.from_rotvec(rotvecs).as_matrix()
        v_posed = v_shaped + (posedirs @ (rot[1:] - np.eye(3)).reshape(-1)).reshape(n_verts, 3)
        world = np.zeros((n_joints, 4, 4))
        for j, p in enumerate(SMPLX_PARENTS):
            local = np.eye(4)
            local[:3, :3] = rot[j]
            local[:3, 3] = joints[j] - (joints[p] if p >= 0 else 0.0)
            world[j] = local if p < 0 else world[p] @ local
        world[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
        skin = np.einsum("vj,jab->vab", a["weights"], world)
        out.append(np.einsum("vab,vb->va", skin[:, :3, :3], v_posed) + skin[:, :3, 3] + t)
    return np.stack(out)


def test_zero_pose_is_shaped_template_plus_transl(model_file):
    path, a = model_file
    body = SMPLXBody(path)
    betas, _, _, transl = _random_motion(4)
    zeros = torch.zeros(4, 3, dtype=F64)
    out = body(betas, zeros, torch.zeros(4, 63, dtype=F64), transl, return_vertices=True)
    v_shaped = a["v_template"] + a["shapedirs"] @ betas.numpy()
    np.testing.assert_allclose(out.vertices.numpy(), v_shaped + transl.numpy()[:, None], atol=1e-12)
    rest = a["J_regressor"][:22] @ v_shaped
    np.testing.assert_allclose(out.joints.numpy(), rest + transl.numpy()[:, None], atol=1e-12)
    assert out.vertices.shape == (4, a["v_template"].shape[0], 3)


def test_matches_full_55_joint_reference_lbs(model_file):
    path, a = model_file
    betas, orient, pose, transl = _random_motion(3, seed=1)
    verts = SMPLXBody(path).vertices(betas, orient, pose, transl)
    np.testing.assert_allclose(verts.numpy(), _reference_lbs(a, betas, orient, pose, transl), atol=1e-10)


def test_single_joint_vertices_move_rigidly_with_that_joint(model_file, tmp_path):
    path, a = model_file
    a["posedirs"] = np.zeros_like(a["posedirs"])
    body = SMPLXBody(_save(tmp_path / "no_posedirs.npz", a))
    betas, orient, pose, transl = _random_motion(5, seed=2)
    out = body(betas, orient, pose, transl, return_vertices=True)

    v_shaped = a["v_template"] + a["shapedirs"] @ betas.numpy()
    rest55 = torch.tensor(a["J_regressor"] @ v_shaped)
    full_pose = torch.cat([pose, torch.zeros(5, 3 * (len(SMPLX_PARENTS) - 22), dtype=F64)], dim=1)
    joints55, rot55 = forward_kinematics(rest55, orient, full_pose, transl, parents=SMPLX_PARENTS)
    torch.testing.assert_close(out.joints, joints55[:, :22], rtol=0, atol=1e-12)

    rigid = np.flatnonzero(np.isclose(a["weights"].max(axis=1), 1.0))
    owner = a["weights"][rigid].argmax(axis=1)
    assert set(owner) == set(range(len(SMPLX_PARENTS)))  # every joint, hands and face included
    local = torch.tensor(v_shaped[rigid] - rest55.numpy()[owner])
    expected = (rot55[:, owner] @ local[..., None])[..., 0] + joints55[:, owner]
    torch.testing.assert_close(out.vertices[:, rigid], expected, rtol=0, atol=1e-12)


def test_betas_move_rest_joints_as_regressed_shapedirs(model_file):
    path, a = model_file
    body = SMPLXBody(path, num_betas=4)
    betas = torch.randn(3, 4, dtype=F64, requires_grad=True)
    rest = body.rest_joints(betas)
    j_reg = a["J_regressor"][:22]
    expected = j_reg @ a["v_template"] + np.einsum("jv,vcb,nb->njc", j_reg, a["shapedirs"][..., :4], betas.detach().numpy())
    np.testing.assert_allclose(rest.detach().numpy(), expected, atol=1e-12)
    assert rest[0, 0, 1].item() < -0.2  # absolute rest joints: the pelvis is not moved to the origin
    rest.sum().backward()
    grad = np.einsum("jv,vcb->b", j_reg, a["shapedirs"][..., :4])
    np.testing.assert_allclose(betas.grad.numpy(), np.broadcast_to(grad, (3, 4)), atol=1e-12)


def test_num_betas_beyond_the_file_is_an_error(model_file):
    path, _ = model_file
    with pytest.raises(RohmError, match="num_betas=11"):
        SMPLXBody(path, num_betas=11)


def test_pose_blend_shapes_act_only_when_posed(model_file, tmp_path):
    path, a = model_file
    with_dirs = SMPLXBody(path)
    without = SMPLXBody(_save(tmp_path / "zero.npz", {**a, "posedirs": np.zeros_like(a["posedirs"])}))
    betas, orient, pose, transl = _random_motion(2, seed=3)
    zero_pose = torch.zeros_like(pose)
    torch.testing.assert_close(
        with_dirs.vertices(betas, orient, zero_pose, transl), without.vertices(betas, orient, zero_pose, transl)
    )
    diff = (with_dirs.vertices(betas, orient, pose, transl) - without.vertices(betas, orient, pose, transl)).abs()
    assert diff.max() > 1e-3


def test_both_posedirs_layouts_agree(model_file, tmp_path):
    path, a = model_file
    n_verts, _, n_pose = a["posedirs"].shape
    flat = {**a, "posedirs": a["posedirs"].reshape(n_verts * 3, n_pose).T.copy()}
    assert flat["posedirs"].shape == (486, n_verts * 3)
    betas, orient, pose, transl = _random_motion(3, seed=4)
    torch.testing.assert_close(
        SMPLXBody(path).vertices(betas, orient, pose, transl),
        SMPLXBody(_save(tmp_path / "flat.npz", flat)).vertices(betas, orient, pose, transl),
        rtol=0,
        atol=1e-12,
    )


def test_extra_pickled_keys_do_not_stop_loading(model_file, tmp_path):
    path, a = model_file
    extra = {**a, "joint2num": np.array({"pelvis": 0}, dtype=object)}
    body = SMPLXBody(_save(tmp_path / "extra.npz", extra))
    assert body.faces.dtype == torch.int64 and body.faces.shape == a["f"].shape


def _malformed(a: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray] | bytes:
    n_verts = a["v_template"].shape[0]
    parents = a["kintree_table"].copy()
    parents[0, 5] = 1
    return {
        "missing_key": {k: v for k, v in a.items() if k != "J_regressor"},
        "regressor_shape": {**a, "J_regressor": a["J_regressor"][:54]},
        "weights_transposed": {**a, "weights": a["weights"].T.copy()},
        "posedirs_shape": {**a, "posedirs": a["posedirs"][..., :207]},
        "shapedirs_2d": {**a, "shapedirs": a["shapedirs"][:, :, 0]},
        "faces_quads": {**a, "f": np.zeros((3, 4), dtype=np.int64)},
        "faces_out_of_range": {**a, "f": np.array([[0, 1, n_verts]])},
        "wrong_tree": {**a, "kintree_table": parents},
        "nan_template": {**a, "v_template": np.full_like(a["v_template"], np.nan)},
        "pickled_key": {**a, "weights": np.array([{"x": 1}], dtype=object)},
        "text": b"this is not a model\n",
        "empty": b"",
    }[kind]


@pytest.mark.parametrize(
    "kind",
    ["missing_key", "regressor_shape", "weights_transposed", "posedirs_shape", "shapedirs_2d", "faces_quads",
     "faces_out_of_range", "wrong_tree", "nan_template", "pickled_key", "text", "empty"],
)
def test_malformed_files_raise_rohm_error_naming_the_file(model_file, tmp_path, kind):
    _, a = model_file
    bad = tmp_path / f"bad_{kind}.npz"
    content = _malformed(a, kind)
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        _save(bad, content)
    with pytest.raises(RohmError) as err:
        SMPLXBody(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_file_raises_rohm_error(model_file, tmp_path, keep):
    path, _ = model_file
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(RohmError, match="truncated.npz"):
        SMPLXBody(bad)


def test_npy_and_missing_files_raise_rohm_error(tmp_path):
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(RohmError, match="not an .npz"):
        SMPLXBody(npy)
    with pytest.raises(RohmError, match="not found"):
        SMPLXBody(tmp_path / "nowhere.npz")


def test_float32_follows_module_dtype(model_file):
    path, _ = model_file
    body = SMPLXBody(path)
    betas, orient, pose, transl = _random_motion(2, seed=5)
    ref = body.vertices(betas, orient, pose, transl)
    verts32 = body.float().vertices(*(x.float() for x in (betas, orient, pose, transl)))
    assert verts32.dtype == torch.float32 and body.faces.dtype == torch.int64
    torch.testing.assert_close(verts32, ref.float(), rtol=0, atol=1e-5)


def test_load_body_smplx(model_file, monkeypatch):
    path, a = model_file
    monkeypatch.setattr(rohm.body, "_CACHE", {})
    monkeypatch.delenv("ROHM_SMPLX_MODEL", raising=False)
    with pytest.raises(RohmError, match="ROHM_SMPLX_MODEL"):
        load_body("smplx")
    body = load_body("smplx", model_path=path)
    assert isinstance(body, SMPLXBody) and body.name == "smplx" and body.num_betas == 10
    betas, orient, pose, transl = _random_motion(2, seed=6)
    out = body(betas, orient, pose, transl, return_vertices=True)
    assert out.joints.shape == (2, 22, 3) and out.vertices.shape == (2, a["v_template"].shape[0], 3)
    monkeypatch.setenv("ROHM_SMPLX_MODEL", str(path))
    assert isinstance(load_body("smplx"), SMPLXBody)


def test_shape_fit_starts_at_the_default_shape_unbounded(model_file):
    from rohm.body.ik import fit_shape

    body = SMPLXBody(model_file[0])
    assert not body.bounded_shape
    target = body(torch.zeros(10, dtype=F64), *_random_motion(4)[1:]).joints
    betas, _ = fit_shape(body, target, steps=0)
    assert torch.equal(betas, body.default_betas)


def test_no_skinned_mesh_for_gltf_export(model_file):
    with pytest.raises(RohmError, match="'smplx' body model has no skinned mesh"):
        SMPLXBody(model_file[0]).skin(torch.zeros(10, dtype=F64))
