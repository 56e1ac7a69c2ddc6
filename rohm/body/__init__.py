"""Body models behind one API: `body(betas, global_orient, body_pose, transl) -> BodyOutput`.

`anny` (default, free, offline) and `smplx` (for users who own the SMPL-X .npz
model file; point ROHM_SMPLX_MODEL at it or pass `model_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

from rohm.body.base import BodyModel, BodyOutput, Skin
from rohm.config import DEFAULT_BODY
from rohm.errors import RohmError

__all__ = ["BodyModel", "BodyOutput", "Skin", "load_body", "body_for_motion"]

_CACHE: dict[tuple[str, str], BodyModel] = {}


def load_body(name: str = DEFAULT_BODY, model_path: str | Path | None = None) -> BodyModel:
    """Load (once per process) the named body model (`rohm.config.DEFAULT_BODY` by default)."""
    if name == "smplx":
        model_path = model_path or os.environ.get("ROHM_SMPLX_MODEL")
    key = (name, str(model_path))
    if key in _CACHE:
        return _CACHE[key]
    if name == "anny":
        from rohm.body.anny_body import AnnyBody

        body: BodyModel = AnnyBody()
    elif name == "smplx":
        from rohm.body.smplx_body import SMPLXBody

        if not model_path:
            raise RohmError("body_model 'smplx' needs the SMPL-X .npz model file: set ROHM_SMPLX_MODEL")
        body = SMPLXBody(model_path)
    else:
        raise RohmError(f"unknown body model '{name}' (expected 'anny' or 'smplx')")
    _CACHE[key] = body
    return body


def body_for_motion(name: str, path: str | Path) -> BodyModel:
    """The body a motion file names, with errors that name the motion file."""
    try:
        return load_body(name)
    except RohmError as exc:
        raise RohmError(str(exc), path) from None
