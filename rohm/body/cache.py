"""A body model whose rest joints are memoised per shape.

anny builds its whole rest mesh to place the joints of a shape (~50 ms per shape on a CPU
core), which would dominate a training step that re-poses every window on another body.
Training draws shapes from a fixed bank, so each shape's rest joints are computed once.
"""

from __future__ import annotations

import torch

from rohm.body.base import BodyModel, Skin


class CachedBody(BodyModel):
    """Wraps a body model; `rest_joints` of shapes seen before (exact values) come from memory.
    Shapes that need gradients always go to the wrapped model."""

    def __init__(self, body: BodyModel) -> None:
        super().__init__()
        self.inner = body
        self.name, self.num_betas, self.bounded_shape = body.name, body.num_betas, body.bounded_shape
        self._rest: dict[bytes, torch.Tensor] = {}

    @property
    def default_betas(self) -> torch.Tensor:
        return self.inner.default_betas

    @property
    def shape_bounds(self) -> tuple[float, float]:
        return self.inner.shape_bounds

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, num_betas) -> (B, 22, 3); new shapes are computed in one batch and remembered."""
        if betas.requires_grad:
            return self.inner.rest_joints(betas)
        rows = betas.detach().to(torch.float64).cpu()
        keys = [r.numpy().tobytes() for r in rows]
        new = [k for k in dict.fromkeys(keys) if k not in self._rest]
        if new:
            index = [keys.index(k) for k in new]
            with torch.no_grad():
                computed = self.inner.rest_joints(rows[index]).to(torch.float64)
            self._rest.update(zip(new, computed))
        return torch.stack([self._rest[k] for k in keys]).to(betas.dtype)

    def vertices(self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor,
                 transl: torch.Tensor) -> torch.Tensor:
        return self.inner.vertices(betas, global_orient, body_pose, transl)

    @property
    def faces(self) -> torch.Tensor:
        return self.inner.faces

    def skin(self, betas: torch.Tensor) -> Skin:
        return self.inner.skin(betas)
