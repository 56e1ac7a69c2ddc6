"""The motion file contract: round trips, the other accepted layouts, and one-line errors."""

from pathlib import Path

import numpy as np
import pytest
import roma
import torch
from synthetic_smplx import make_synthetic_smplx

from rohm.body import load_body
from rohm.body.smplx_body import SMPLXBody
from rohm.errors import RohmError
from rohm.io.motion_file import ZUP_TO_YUP, Motion, load_motion, save_motion


def _motion(n: int = 12) -> Motion:
    rng = np.random.default_rng(0)
    return Motion(joints=rng.normal(size=(n, 22, 3)), fps=30.0, trans=rng.normal(size=(n, 3)),
                  root_orient=rng.normal(size=(n, 3)), pose_body=rng.normal(size=(n, 63)), betas=np.full(6, 0.5),
                  joint_mask=rng.random((n, 22)) > 0.2, contacts=rng.random((n, 4)))


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = _motion()
    save_motion(m, tmp_path / "m.npz")
    back = load_motion(tmp_path / "m.npz")
    for key in ("joints", "trans", "root_orient", "pose_body", "betas", "joint_mask", "contacts"):
        assert np.array_equal(getattr(back, key), getattr(m, key)), key
    assert back.fps == 30.0 and back.body_model == "anny"
    assert not list(tmp_path.glob("*.part*"))


def test_joints_only_and_nan_means_missing(tmp_path: Path) -> None:
    joints = np.random.default_rng(1).normal(size=(5, 22, 3))
    joints[2, 7] = np.nan
    np.savez(tmp_path / "j.npz", joints=joints, fps=25)
    m = load_motion(tmp_path / "j.npz")
    assert not m.has_params and m.fps == 25
    obs = m.observed()
    assert not obs[2, 7] and obs.sum() == 5 * 22 - 1


def test_params_only_file_gets_joints_from_the_body(tmp_path: Path) -> None:
    m = _motion(4)
    np.savez(tmp_path / "p.npz", trans=m.trans, root_orient=m.root_orient, pose_body=m.pose_body, betas=m.betas, fps=30)
    loaded = load_motion(tmp_path / "p.npz")
    expect = load_body("anny")(torch.as_tensor(m.betas), torch.as_tensor(m.root_orient),
                               torch.as_tensor(m.pose_body), torch.as_tensor(m.trans)).joints.numpy()
    assert np.allclose(loaded.joints, expect)


def test_amass_style_zup_is_turned_to_yup(tmp_path: Path) -> None:
    model = tmp_path / "smplx.npz"
    make_synthetic_smplx(model)
    body = SMPLXBody(model)
    rng = np.random.default_rng(2)
    n = 6
    poses, trans, betas = 0.3 * rng.normal(size=(n, 165)), rng.normal(size=(n, 3)), 0.5 * rng.normal(size=16)
    np.savez(tmp_path / "amass.npz", poses=poses, trans=trans, betas=betas, mocap_framerate=120.0)
    m = load_motion(tmp_path / "amass.npz", body=body)
    zup = body(torch.as_tensor(betas[:10]), torch.as_tensor(poses[:, :3]), torch.as_tensor(poses[:, 3:66]),
               torch.as_tensor(trans)).joints.numpy()
    assert m.fps == 120.0 and m.body_model == "smplx"
    assert np.allclose(m.joints, zup @ ZUP_TO_YUP.T, atol=1e-9)
    # The y-up parameters reproduce the same joints through the body.
    again = body(torch.as_tensor(m.betas), torch.as_tensor(m.root_orient), torch.as_tensor(m.pose_body),
                 torch.as_tensor(m.trans)).joints.numpy()
    assert np.allclose(again, m.joints, atol=1e-9)
    assert np.allclose(roma.rotvec_to_rotmat(torch.as_tensor(m.root_orient)).numpy(),
                       ZUP_TO_YUP @ roma.rotvec_to_rotmat(torch.as_tensor(poses[:, :3])).numpy())


BAD = {
    "no fps": dict(joints=np.zeros((3, 22, 3))),
    "wrong joint shape": dict(joints=np.zeros((3, 21, 3)), fps=30),
    "empty": dict(joints=np.zeros((0, 22, 3)), fps=30),
    "all nan": dict(joints=np.full((3, 22, 3), np.nan), fps=30),
    "bad fps": dict(joints=np.zeros((3, 22, 3)), fps=-1),
    "trans frames": dict(joints=np.zeros((3, 22, 3)), fps=30, trans=np.zeros((4, 3)),
                         root_orient=np.zeros((3, 3)), pose_body=np.zeros((3, 63))),
    "mask shape": dict(joints=np.zeros((3, 22, 3)), fps=30, joint_mask=np.ones((3, 21), bool)),
    "unknown body": dict(joints=np.zeros((3, 22, 3)), fps=30, body_model="smpl"),
    "text joints": dict(joints=np.array(["a", "b"]), fps=30),
    "no joints no params": dict(fps=30, betas=np.zeros(6)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_raise_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case.replace(' ', '_')}.npz"
    np.savez(path, **BAD[case])
    with pytest.raises(RohmError) as err:
        load_motion(path)
    msg = str(err.value)
    assert path.name in msg and "\n" not in msg


def test_unreadable_files(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    save_motion(_motion(), good)
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    text = tmp_path / "text.npz"
    text.write_text("hello")
    for path in (truncated, text, tmp_path / "missing.npz"):
        with pytest.raises(RohmError, match=path.name):
            load_motion(path)
