"""The benchmark's catalogue: protocols, methods, and which method runs on which protocol.

Plain data (no numerical imports), so the command line can list it without loading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    """How inputs are made from a ground-truth clip."""

    name: str
    noise: float
    occlusion: str  # "lower", "frames-10", "none" (rohm corrupt) or "camera" (rohm.virtual_camera)
    title: str
    shape: tuple[float, ...] | None = None  # re-pose ground truth and input on this body shape first


# The shape grid (the default body's shape values: gender, age, muscle, weight, height,
# proportions): the same test motions re-posed on bodies the training data does not have.
SHAPE_GRID: dict[str, tuple[float, ...]] = {
    "default": (0.5, 0.5, 0.5, 0.5, 0.5, 0.5),  # the average body, the one `rohm video` starts from
    "female": (0.0, 0.5, 0.5, 0.5, 0.5, 0.5),
    "male": (1.0, 0.5, 0.5, 0.5, 0.5, 0.5),
    "heavy-short-longlegs": (0.5, 0.5, 0.5, 1.0, 0.0, 1.0),
    "tall-slim": (0.5, 0.5, 0.3, 0.0, 1.0, 0.5),
    "tall-muscular-male": (1.0, 0.5, 1.0, 0.5, 0.9, 0.5),
    "older-heavy-female": (0.0, 1.0, 0.3, 0.8, 0.4, 0.3),
    "child": (0.5, 0.25, 0.5, 0.5, 0.5, 0.5),
    "short-legs": (0.5, 0.7, 0.5, 0.6, 0.6, 0.0),
}
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in [
    *(Protocol(f"occl-k{k}", float(k), "lower", f"Occ-L, k={k}") for k in range(1, 8)),
    Protocol("occ10-k3", 3.0, "frames-10", "Occ-10%, k=3"),
    Protocol("cam-k3", 3.0, "camera", "Cam (2D + depth-noisy 3D + occluder), k=3"),
    *(Protocol(f"shape-{name}", 3.0, "lower", f"Occ-L, k=3, re-posed on the {name} shape", shape)
      for name, shape in SHAPE_GRID.items()),
]}
SHAPE_PROTOCOLS = tuple(f"shape-{name}" for name in SHAPE_GRID)
MAIN_PROTOCOLS = ("occl-k3", "occl-k5", "occl-k7", "occ10-k3", "cam-k3")
SWEEP = tuple(f"occl-k{k}" for k in range(1, 8))
DEFAULT_PROTOCOLS = tuple(dict.fromkeys(MAIN_PROTOCOLS + SWEEP))
PROTOCOL_GROUPS: dict[str, tuple[str, ...]] = {"shape": SHAPE_PROTOCOLS, "main": MAIN_PROTOCOLS, "sweep": SWEEP}

METHODS = ("input", "classical", "optim", "mdm++", "rohm", "rohm-paper", "rohm-no-trajcontrol", "rohm-k1",
           "rohm-no-guidance", "rohm-no-skate", "rohm-no-footlock", "rohm-no-gap",
           "paper-k1", "paper-k2-no-tc", "paper-k2", "paper-k2-no-guidance")
# Ablations of the paper's mechanisms under its own conditioning (Settings.paper_fast): Fig. 3 right.
PAPER_ABLATION_PROTOCOLS = ("occl-k3", "occl-k5", "occl-k7")
# Where each method runs by default: ablations and the slow paper setting only on the main protocols.
METHOD_PROTOCOLS: dict[str, tuple[str, ...]] = {
    "optim": MAIN_PROTOCOLS, "rohm-paper": ("occl-k3",), "mdm++": DEFAULT_PROTOCOLS, "rohm-no-trajcontrol": ("occl-k3", "cam-k3"),
    "rohm-k1": ("occl-k3", "cam-k3"), "rohm-no-guidance": ("occl-k3", "cam-k3"), "rohm-no-skate": ("occl-k3", "cam-k3"),
    "rohm-no-footlock": ("occl-k3", "occ10-k3", "cam-k3"), "rohm-no-gap": ("occ10-k3", "cam-k3"),
    **{m: PAPER_ABLATION_PROTOCOLS for m in ("paper-k1", "paper-k2-no-tc", "paper-k2", "paper-k2-no-guidance")},
}


def parse_list(text: str | None, default: Sequence[str]) -> list[str]:
    """Comma-separated names (a protocol group name such as `shape` stands for its members), or the default."""
    if not text:
        return list(default)
    names = [t.strip() for t in text.split(",") if t.strip()]
    return list(dict.fromkeys(m for n in names for m in PROTOCOL_GROUPS.get(n, (n,))))
