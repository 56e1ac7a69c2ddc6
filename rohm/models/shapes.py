"""Input shape checks shared by the denoisers: a wrong width fails with a clear message."""

from __future__ import annotations

from torch import Tensor


def check_frames(x: Tensor, name: str, dim: int, batch: int | None = None,
                 frames: int | None = None) -> tuple[int, int]:
    """Require x to be (batch, frames, dim) with frames >= 1; return its (batch, frames)."""
    expected = (batch, frames, dim)
    if (x.dim() != 3 or x.shape[1] < 1
            or any(e is not None and e != s for e, s in zip(expected, x.shape))):
        shown = tuple("B" if batch is None and i == 0 else "N" if frames is None and i == 1 else e
                      for i, e in enumerate(expected))
        raise ValueError(f"{name} must have shape {shown}, got {tuple(x.shape)}")
    return x.shape[0], x.shape[1]
