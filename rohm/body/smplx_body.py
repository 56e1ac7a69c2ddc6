"""SMPL-X as a rohm body model, for users who own the SMPL-X .npz model file.

Only the body is posed: jaw, eyes and hands stay at zero pose. A joint at zero
local pose has the same skinning transform as its parent, so at load the skinning
weights of those 33 joints are folded into their nearest body ancestor, and the
pose blend shapes are cut to the 21 posed body joints (the other (R - I) terms are
zero). What is left is exact SMPL-X linear blend skinning over rohm's own 22-joint
forward kinematics, so the mesh and BodyModel.forward's joints always agree.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import roma
import torch

from rohm.body.base import BodyModel
from rohm.body.kinematics import forward_kinematics
from rohm.errors import RohmError
from rohm.skeleton import NUM_JOINTS, PARENTS

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The model arrays of an .npz, read without pickle; any failure is a one-line RohmError."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic not in _ZIP_MAGIC:  # else np.load would read it as .npy or try (and refuse) pickle
            raise RohmError("not an .npz archive (SMPL-X model files are .npz)", path)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _KEYS if k not in npz.files]
            if missing:
                raise RohmError(f"not an SMPL-X model file: missing {', '.join(missing)}", path)
            arrays = {k: npz[k] for k in _KEYS}
    except FileNotFoundError:
        raise RohmError("SMPL-X model file not found", path) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RohmError(f"cannot read SMPL-X model file: {reason}", path) from None
    for key, arr in arrays.items():
        if not np.issubdtype(arr.dtype, np.number):
            raise RohmError(f"'{key}' is not numeric ({arr.dtype})", path)
        if not np.isfinite(arr).all():
            raise RohmError(f"'{key}' has non-finite values", path)
    return arrays


def _check_shape(path: Path, key: str, arr: np.ndarray, expected: tuple[int | None, ...]) -> None:
    """Raise a RohmError unless arr matches expected (None: any size)."""
    if arr.ndim != len(expected) or any(e is not None and s != e for s, e in zip(arr.shape, expected)):
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise RohmError(f"'{key}' has shape {arr.shape}, expected {want}", path)


class SMPLXBody(BodyModel):
    """SMPL-X body from its .npz model file: `num_betas` shape coefficients, 22 posed joints."""

    name = "smplx"

    def __init__(self, model_path: str | Path, num_betas: int = 10) -> None:
        super().__init__()
        path = Path(model_path)
        a = _read_npz(path)

        _check_shape(path, "v_template", a["v_template"], (None, 3))
        n_verts = a["v_template"].shape[0]
        _check_shape(path, "kintree_table", a["kintree_table"], (2, None))
        parents = [-1] + [int(p) for p in a["kintree_table"][0, 1:]]
        n_joints = len(parents)
        if n_joints < NUM_JOINTS or tuple(parents[:NUM_JOINTS]) != PARENTS:
            raise RohmError("'kintree_table' does not start with the 22 SMPL-X body joints", path)
        if any(not 0 <= p < j for j, p in enumerate(parents) if j > 0):
            raise RohmError("'kintree_table' lists a joint before its parent", path)
        _check_shape(path, "J_regressor", a["J_regressor"], (n_joints, n_verts))
        _check_shape(path, "weights", a["weights"], (n_verts, n_joints))
        _check_shape(path, "shapedirs", a["shapedirs"], (n_verts, 3, None))
        if not 1 <= num_betas <= a["shapedirs"].shape[2]:
            raise RohmError(f"num_betas={num_betas} but the file has {a['shapedirs'].shape[2]} shape directions", path)
        n_pose = 9 * (n_joints - 1)
        posedirs = a["posedirs"]
        if posedirs.shape == (n_verts, 3, n_pose):
            posedirs = posedirs.reshape(n_verts * 3, n_pose).T
        elif posedirs.shape != (n_pose, n_verts * 3):
            raise RohmError(
                f"'posedirs' has shape {posedirs.shape}, expected ({n_verts}, 3, {n_pose}) or ({n_pose}, {n_verts * 3})", path
            )
        faces = a["f"]
        _check_shape(path, "f", faces, (None, 3))
        if not np.issubdtype(faces.dtype, np.integer) or faces.size and not 0 <= faces.min() <= faces.max() < n_verts:
            raise RohmError(f"'f' must hold vertex indices in [0, {n_verts})", path)

        # Nearest body joint of every joint: hands/jaw/eyes skin with it at zero pose.
        body_of = list(range(n_joints))
        for j in range(NUM_JOINTS, n_joints):
            body_of[j] = body_of[parents[j]]
        fold = np.zeros((n_joints, NUM_JOINTS))
        fold[np.arange(n_joints), body_of] = 1.0

        shapedirs = a["shapedirs"][:, :, :num_betas].astype(np.float64)
        v_template = a["v_template"].astype(np.float64)
        j_regressor = a["J_regressor"][:NUM_JOINTS].astype(np.float64)
        f64 = torch.float64
        self.num_betas = num_betas
        self.register_buffer("v_template", torch.tensor(v_template, dtype=f64), persistent=False)
        self.register_buffer("shapedirs", torch.tensor(shapedirs, dtype=f64), persistent=False)
        self.register_buffer("j_template", torch.tensor(j_regressor @ v_template, dtype=f64), persistent=False)
        self.register_buffer(
            "j_shapedirs", torch.tensor(np.einsum("jv,vcb->jcb", j_regressor, shapedirs), dtype=f64), persistent=False
        )
        body_pose_dirs = posedirs[: 9 * (NUM_JOINTS - 1)].astype(np.float64)
        self.register_buffer("posedirs", torch.tensor(body_pose_dirs, dtype=f64), persistent=False)
        self.register_buffer("skin_weights", torch.tensor(a["weights"] @ fold, dtype=f64), persistent=False)
        self.register_buffer("_faces", torch.tensor(faces.astype(np.int64)), persistent=False)

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, num_betas) -> (B, 22, 3) zero-pose joints J_regressor @ (v_template + shapedirs @ betas).

        Absolute positions (the pelvis is not moved to the origin): SMPL-X puts the
        posed pelvis at rest_joints[0] + transl.
        """
        betas = betas.to(self.j_template.dtype)
        return self.j_template + torch.einsum("jcb,nb->njc", self.j_shapedirs, betas)

    def vertices(
        self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor, transl: torch.Tensor
    ) -> torch.Tensor:
        """Skinned SMPL-X mesh (N, V, 3) for one shape (num_betas,) and N frames, in global_orient's dtype."""
        dtype, out_dtype = self.v_template.dtype, global_orient.dtype
        n = global_orient.shape[0]
        betas = betas.to(dtype).reshape(1, self.num_betas)
        global_orient = global_orient.to(dtype)
        body_pose = body_pose.to(dtype).reshape(n, NUM_JOINTS - 1, 3)

        v_shaped = self.v_template + self.shapedirs @ betas[0]
        rest = self.rest_joints(betas)[0]
        local = roma.rotvec_to_rotmat(body_pose)
        eye = torch.eye(3, dtype=dtype, device=local.device)
        v_posed = v_shaped + ((local - eye).reshape(n, -1) @ self.posedirs).reshape(n, -1, 3)

        joints, rot = forward_kinematics(rest, global_orient, body_pose)
        offset = joints - (rot @ rest[:, :, None])[..., 0]  # world = rot @ rest-frame point + offset
        blend_rot = torch.einsum("vj,njab->nvab", self.skin_weights, rot)
        blend_offset = torch.einsum("vj,nja->nva", self.skin_weights, offset)
        verts = (blend_rot @ v_posed[..., None])[..., 0] + blend_offset + transl.to(dtype)[:, None]
        return verts.to(out_dtype)

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) triangle indices (int64)."""
        return self._faces
