"""The body-model API shared by every backend (anny by default, SMPL-X for licence holders).

Like smplx's forward: named tensors in, named tensors out. A backend only has to
say where its zero-pose joints are for a shape (`rest_joints`) and, when a mesh is
asked for, skin it (`vertices`); posing the 22 joints is common code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rohm.body.kinematics import forward_kinematics
from rohm.errors import RohmError


@dataclass
class BodyOutput:
    """What a body forward pass returns."""

    joints: torch.Tensor  # (..., 22, 3) metres, y-up
    rotations: torch.Tensor  # (..., 22, 3, 3) world rotation of each joint
    vertices: torch.Tensor | None = None  # (..., V, 3) when asked for


@dataclass(frozen=True)
class Skin:
    """A body mesh bound to the 22 joints for linear blend skinning (numpy, float64, metres, y-up)."""

    bind_vertices: np.ndarray  # (V, 3) the mesh in its bind pose
    faces: np.ndarray  # (F, 3) triangle vertex indices
    joint_weights: np.ndarray  # (V, 22) rows sum to 1
    inverse_bind: np.ndarray  # (22, 4, 4) bind pose -> each joint's zero-pose frame
    rest_joints: np.ndarray  # (22, 3) zero-pose joints, pelvis at the origin


class BodyModel(torch.nn.Module):
    """Base class: pose the 22-joint skeleton of a shape; a mesh on request."""

    name: str = ""
    num_betas: int = 0
    # True: shape values outside `shape_bounds` mean nothing, so shape fits stay strictly inside;
    # False: the bounds are only a typical range and fits may leave it.
    bounded_shape: bool = False

    @property
    def default_betas(self) -> torch.Tensor:
        """(num_betas,) float64 shape of the body's average person (used when a motion has none)."""
        return torch.zeros(self.num_betas, dtype=torch.float64)

    @property
    def shape_bounds(self) -> tuple[float, float]:
        """(low, high): the range every shape value may take (augmentation draws from it,
        shape fits are clamped to it)."""
        return (-2.0, 2.0)

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, num_betas) -> (B, 22, 3) zero-pose joints, differentiable in betas."""
        raise NotImplementedError

    def vertices(
        self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor, transl: torch.Tensor
    ) -> torch.Tensor:
        """Posed mesh vertices (N, V, 3) for one shape and N frames."""
        raise NotImplementedError

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) triangle indices of the mesh."""
        raise NotImplementedError

    def skin(self, betas: torch.Tensor) -> Skin:
        """The mesh of one shape (num_betas,) bound to the 22 joints (what glTF export writes)."""
        raise RohmError(f"the {self.name!r} body model has no skinned mesh for glTF export")

    def forward(
        self,
        betas: torch.Tensor,
        global_orient: torch.Tensor,
        body_pose: torch.Tensor,
        transl: torch.Tensor | None = None,
        return_vertices: bool = False,
    ) -> BodyOutput:
        """Pose a body: betas (num_betas,) or (N, num_betas); global_orient (N, 3);
        body_pose (N, 63); transl (N, 3)."""
        betas = torch.as_tensor(betas, dtype=global_orient.dtype, device=global_orient.device)
        rest = self.rest_joints(betas.reshape(-1, self.num_betas)).to(global_orient.dtype)
        if betas.dim() == 1:
            rest = rest[0]
        joints, rotations = forward_kinematics(rest, global_orient, body_pose, transl)
        verts = None
        if return_vertices:
            if transl is None:
                transl = torch.zeros_like(global_orient)
            verts = self.vertices(betas.reshape(-1, self.num_betas)[0], global_orient, body_pose, transl)
        return BodyOutput(joints=joints, rotations=rotations, vertices=verts)
