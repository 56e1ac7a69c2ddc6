"""The default body: anny (Apache-2.0, CC0 body data) with its "soma" rig.

Shape is anny's 6 phenotype values in [0, 1] (gender, age, muscle, weight,
height, proportions). Its zero pose is a T-pose, y-up, facing +z, and 22 of its
bones map 1:1 onto the SMPL-X body joints, so rest joints from anny plus rohm's
own forward kinematics give the joints for all frames; the full anny mesh is only
built when vertices are asked for.

`AnnyBody.skin` binds the mesh to the 22 joints for glTF export: anny skins its rest mesh (arms
lowered, fingers relaxed) with 78 bones and reaches its zero pose by rotating them. Bones that
are not body joints (Neck2, jaw, eyes, fingers, toe ends) never move by themselves in rohm's
motions, so their weights are merged onto the nearest body joint above them. The bind mesh is
anny's rest mesh, each vertex placed so that every joint it hangs from carries it to where
anny's own zero pose puts it (exact for vertices of a single joint; a weighted least-squares
compromise where merged bones bend differently), and each inverse bind matrix maps it into
that joint's zero pose.

anny's first model build takes about a minute and writes ~1 GB to its cache
(`ROHM_ANNY_CACHE` or `ANNY_CACHE_DIR`, default ~/.cache/anny); later builds
load in well under a second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import roma
import torch

from rohm.body.base import BodyModel, Skin
from rohm.skeleton import NUM_JOINTS

# anny bone for each of the 22 body joints, in rohm.skeleton.JOINT_NAMES order.
ANNY_BONES: tuple[str, ...] = (
    "Hips", "LeftLeg", "RightLeg", "Spine1", "LeftShin", "RightShin", "Spine2",
    "LeftFoot", "RightFoot", "Chest", "LeftToeBase", "RightToeBase", "Neck1",
    "LeftShoulder", "RightShoulder", "Head", "LeftArm", "RightArm", "LeftForeArm",
    "RightForeArm", "LeftHand", "RightHand",
)
PHENOTYPES: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")
DEFAULT_BETAS: tuple[float, ...] = (0.5,) * 6


def anny_cache_dir() -> Path:
    """Where anny keeps its built model data (set ROHM_ANNY_CACHE to move it)."""
    env = os.environ.get("ROHM_ANNY_CACHE") or os.environ.get("ANNY_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "anny"


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send C-level stderr to /dev/null for the duration (Python exceptions still surface)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@functools.lru_cache(maxsize=1)
def _load_anny(cache_dir: str):
    """Build (first time, ~1 min) or load (cached, <1 s) anny's soma-rigged model."""
    if not any(Path(cache_dir).rglob("*.safetensors")):
        print(f"rohm: building the anny body model in {cache_dir} (first run only, about a minute)", file=sys.stderr)
    # anny starts warp, which greets on every command and warns from C that a CPU-only
    # machine has no CUDA driver: keep the user's terminal for rohm's own output.
    with _native_stderr_silenced():
        import warp

        warp.config.log_level = warp.LOG_ERROR
        import anny
        import anny.paths

        anny.paths.set_anny_cache_path(cache_dir)
        model = anny.Anny(rig="soma")
    model.requires_grad_(False)
    return model


class AnnyBody(BodyModel):
    """anny as a rohm body model: 6 phenotype betas, 22 joints, 13,718-vertex mesh."""

    name = "anny"
    num_betas = 6
    bounded_shape = True

    @property
    def default_betas(self) -> torch.Tensor:
        return torch.tensor(DEFAULT_BETAS, dtype=torch.float64)

    @property
    def shape_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)  # phenotypes are proportions of their range

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        super().__init__()
        self._model = _load_anny(str(cache_dir or anny_cache_dir()))
        labels = list(self._model.bone_labels)
        self.register_buffer("_bone_idx", torch.tensor([labels.index(b) for b in ANNY_BONES]), persistent=False)
        self._num_bones = len(labels)

    def _zero_pose(self, batch: int, dtype: torch.dtype) -> torch.Tensor:
        return torch.eye(4, dtype=dtype).repeat(batch, self._num_bones, 1, 1)

    def _rest_model(self, betas: torch.Tensor) -> dict[str, torch.Tensor]:
        """anny's rest model (rest_vertices, rest_bone_poses, ...) of shapes (B, 6)."""
        m = self._model
        # anny's public (if deprecated, "kept for SOMA") route to the blend-shape coefficients, not
        # the private one its forward pass takes: the two agree while the model's phenotypes are
        # PHENOTYPES, the first six of anny's full list (anny is pinned; tests/test_anny_body.py).
        phenotypes = dict(zip(PHENOTYPES, betas.to(m.dtype).unbind(-1)))
        return m.get_rest_model(m.get_phenotype_blendshape_coefficients(**phenotypes))

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, 6) phenotypes -> (B, 22, 3) T-pose joints with the pelvis at the origin."""
        m = self._model
        rest = self._rest_model(betas)
        _, bone_poses = m.get_bone_transforms(self._zero_pose(betas.shape[0], m.dtype), rest["rest_bone_poses"])
        joints = bone_poses[:, self._bone_idx, :3, 3]
        return joints - joints[:, :1]

    def vertices(
        self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor, transl: torch.Tensor
    ) -> torch.Tensor:
        """Skinned anny mesh (N, 13718, 3) for one shape and N frames."""
        m = self._model
        n = global_orient.shape[0]
        local = torch.cat([global_orient[:, None], body_pose.reshape(n, NUM_JOINTS - 1, 3)], dim=1).to(m.dtype)
        pose = self._zero_pose(n, m.dtype)
        pose[:, self._bone_idx, :3, :3] = roma.rotvec_to_rotmat(local)
        pose[:, 0, :3, 3] = transl.to(m.dtype)
        phen = betas.to(m.dtype).reshape(1, -1).expand(n, -1)
        out = m(pose_parameters=pose, phenotype_kwargs=phen)
        return out["vertices"].to(global_orient.dtype)

    @property
    def faces(self) -> torch.Tensor:
        return self._model.get_triangular_faces()

    def skin(self, betas: torch.Tensor) -> Skin:
        """The mesh of one shape (6,) bound to the 22 joints (see the module docstring).

        Posing it with the 22 joints' forward kinematics gives `body(..., return_vertices=True)`
        up to the merged bones' share (measured in tests/test_glb.py).
        """
        m = self._model
        joint_bones = self._bone_idx.tolist()
        with torch.no_grad():
            rest = self._rest_model(betas.reshape(1, -1))
            zero = self._zero_pose(1, m.dtype)
            to_zero_pose = m.get_bone_transforms(zero, rest["rest_bone_poses"])[0][0].double()  # (78, 4, 4)
        rest_vertices = rest["rest_vertices"][0].double()
        joint_of_bone = torch.tensor(_joint_of_bone(list(m.bone_parents), joint_bones))
        bone_weights = torch.zeros(rest_vertices.shape[0], self._num_bones, dtype=torch.float64)
        bone_weights.scatter_add_(1, m.vertex_bone_indices.long(), m.vertex_bone_weights.double())
        joint_weights = torch.zeros(rest_vertices.shape[0], NUM_JOINTS, dtype=torch.float64)
        joint_weights.index_add_(1, joint_of_bone, bone_weights)
        # Where each joint's share of anny's zero-pose vertex lies: sum over its bones of w * T0 v.
        posed = torch.einsum("bij,vj->vbi", to_zero_pose[:, :3, :3], rest_vertices) + to_zero_pose[:, :3, 3]
        share = torch.zeros(rest_vertices.shape[0], NUM_JOINTS, 3, dtype=torch.float64)
        share.index_add_(1, joint_of_bone, bone_weights[..., None] * posed)
        # Bind space = anny's rest space turned by the pelvis's zero-pose transform (y-up, pelvis at
        # the origin); joint j's zero pose is T0_j from there. A vertex's bind position is the
        # weighted mean of where each of its joints would send its share back to.
        joint_to_zero = to_zero_pose[joint_bones] @ torch.linalg.inv(to_zero_pose[joint_bones[0]])  # (22, 4, 4)
        back = torch.linalg.inv(joint_to_zero)
        bind = torch.einsum("jab,vjb->va", back[:, :3, :3], share) + joint_weights @ back[:, :3, 3]
        rest_joints = self.rest_joints(betas.reshape(1, -1).double())[0]
        inverse_bind = joint_to_zero.clone()
        inverse_bind[:, :3, 3] -= rest_joints
        return Skin(bind.numpy(), self.faces.numpy().astype(np.int64), joint_weights.numpy(),
                    inverse_bind.numpy(), rest_joints.numpy())


def _joint_of_bone(parents: list[int], joint_bones: list[int]) -> list[int]:
    """For each anny bone, the body joint it moves with: itself, else its nearest joint ancestor
    (the root bone above the pelvis goes to the pelvis)."""
    out = []
    for bone in range(len(parents)):
        b = bone
        while b >= 0 and b not in joint_bones:
            b = parents[b]
        out.append(joint_bones.index(b) if b >= 0 else 0)
    return out
