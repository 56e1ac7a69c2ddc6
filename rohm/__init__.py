"""rohm: robust human motion reconstruction via diffusion (RoHM, CVPR 2024), CPU-first.

`rohm.Reconstructor.from_pretrained().reconstruct(motion)` is the main entry point; it is
imported lazily so that light modules (errors, skeleton, I/O) stay cheap to import.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Reconstructor", "Settings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import rohm.inference

        return getattr(rohm.inference, name)
    raise AttributeError(f"module 'rohm' has no attribute {name!r}")
