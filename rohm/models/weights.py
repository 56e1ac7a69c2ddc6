"""A network rebuilt from a weights file: the config in the file's metadata builds it, the
tensors fill it.

Below inference and training alike: training starts fine-tuning from exported weights,
inference loads the shipped ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rohm.checkpoint import load_tensors
from rohm.errors import RohmError
from rohm.models import build_model


def load_network(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """A network from an exported weights file (float16 or float32 on disk), float32, in eval
    mode, with the file's metadata."""
    tensors, meta = load_tensors(path)
    try:
        model = build_model(meta["kind"], meta["config"])
        if meta.get("has_control"):
            model.add_control()
        model.load_state_dict({k: v.float() for k, v in tensors.items()})
    except (KeyError, RuntimeError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        raise RohmError(f"weights do not match their network config ({reason})", path) from None
    return model.to(device).eval(), meta
