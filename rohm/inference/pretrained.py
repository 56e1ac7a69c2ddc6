"""Shipped weights: exporting a training run's EMA weights into a weights folder and reading
its manifest (each network loads with `rohm.models.weights.load_network`).

A weights folder holds `trajnet.safetensors` (TrajNet with TrajControl),
`posenet.safetensors`, `mdm.safetensors` (the MDM++ baseline), each with its network
config as metadata, `normalization.safetensors` (feature statistics of the training
split) and `manifest.json` (window length, diffusion steps, training provenance).
Weights are stored in float16 to keep the repository small and loaded as float32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from rohm.checkpoint import load_tensors, save_tensors
from rohm.errors import RohmError
from rohm.io.atomic import write_text_atomic

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
NETWORKS = ("trajnet", "posenet", "mdm")


def export_run(run: str | Path, data: str | Path, out: str | Path, networks: tuple[str, ...] = NETWORKS) -> Path:
    """Write the EMA weights of a run's networks, the data's normalisation and a manifest into `out`."""
    run, data, out = Path(run), Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = json.loads((run / "state.json").read_text())
    cfg = state["config"]
    nets: dict[str, Any] = {}
    for net in networks:
        tensors, meta = load_tensors(run / f"{net}.safetensors")
        ema = {k[4:]: v.to(torch.float16) for k, v in tensors.items() if k.startswith("ema/")}
        keep = {k: meta[k] for k in ("kind", "config", "stage", "step", "has_control", "num_betas", "diffusion_steps")}
        save_tensors(out / f"{net}.safetensors", ema, keep)
        nets[net] = {"stage": meta["stage"], "step": meta["step"],
                     "parameters": sum(v.numel() for v in ema.values())}
    stats = run / "normalization.safetensors"  # a run's own (augmented) statistics, else the build's
    shutil.copyfile(stats if stats.exists() else data / "normalization.safetensors", out / "normalization.safetensors")
    summary = data / "summary.json"
    fps = json.loads(summary.read_text()).get("fps", 30.0) if summary.exists() else 30.0
    manifest = {"window": cfg["window"], "fps": fps, "networks": nets, "stages_done": state["done"],
                "augment": cfg.get("augment", {}), "init_weights": cfg.get("init_weights"),
                "traj_diffusion_steps": cfg["traj_diffusion_steps"], "pose_diffusion_steps": cfg["pose_diffusion_steps"]}
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2))
    return out


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a weights folder."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise RohmError("not a rohm weights folder (manifest.json missing)", folder)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise RohmError("manifest.json is corrupt", path) from None
