"""Synthetic occlusion masks for training (Supp. B.1), (B, W, 22) bool, True = observed.

PROX's real occlusion masks are not available here; `body_part_spans` stands in for
them with what real occluders do: hide a contiguous body part (a limb, the legs, the
upper body) over a contiguous time span.
"""

from __future__ import annotations

import numpy as np

from rohm.skeleton import JOINT_INDEX as J
from rohm.skeleton import LOWER_BODY, NUM_JOINTS, UPPER_BODY

_PARTS: tuple[tuple[int, ...], ...] = (
    LOWER_BODY,
    UPPER_BODY,
    tuple(J[n] for n in ("left_hip", "left_knee", "left_ankle", "left_foot")),
    tuple(J[n] for n in ("right_hip", "right_knee", "right_ankle", "right_foot")),
    tuple(J[n] for n in ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot")),
    tuple(J[n] for n in ("left_collar", "left_shoulder", "left_elbow", "left_wrist")),
    tuple(J[n] for n in ("right_collar", "right_shoulder", "right_elbow", "right_wrist")),
    tuple(J[n] for n in ("left_elbow", "left_wrist", "right_elbow", "right_wrist")),
)


def no_mask(batch: int, window: int, rng: np.random.Generator) -> np.ndarray:
    return np.ones((batch, window, NUM_JOINTS), dtype=bool)


def lower_body(batch: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """The Occ-L protocol: the whole lower body hidden in every frame."""
    mask = no_mask(batch, window, rng)
    mask[..., list(LOWER_BODY)] = False
    return mask


def random_joints(batch: int, window: int, rng: np.random.Generator, low: int = 1, high: int = 6) -> np.ndarray:
    """Hide 1-6 random non-pelvis joints for the whole window (PoseNet's first epochs)."""
    mask = no_mask(batch, window, rng)
    for b in range(batch):
        hidden = rng.choice(np.arange(1, NUM_JOINTS), size=rng.integers(low, high + 1), replace=False)
        mask[b, :, hidden] = False
    return mask


def frame_span(batch: int, window: int, rng: np.random.Generator, fraction: float = 0.1) -> np.ndarray:
    """Hide the whole body over one contiguous run of `fraction` of the frames."""
    mask = no_mask(batch, window, rng)
    length = max(1, int(round(fraction * window)))
    for b in range(batch):
        start = rng.integers(0, window - length + 1)
        mask[b, start:start + length] = False
    return mask


def body_part_spans(batch: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """A random body part hidden over a random time span (a third of the window to all of it)."""
    mask = no_mask(batch, window, rng)
    for b in range(batch):
        part = np.asarray(_PARTS[rng.integers(len(_PARTS))])
        length = rng.integers(max(1, window // 3), window + 1)
        start = rng.integers(0, window - length + 1)
        mask[b, start:start + length, part[:, None]] = False
    return mask


def mixed(batch: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """The paper's mixed scheme, per sample: 0.5 real-looking part/time occlusions (standing in for
    PROX masks), 0.3 lower body, 0.2 upper body, and independently with 0.1 a 30% frame gap."""
    mask = no_mask(batch, window, rng)
    choice = rng.random(batch)
    parts = body_part_spans(batch, window, rng)
    for b in range(batch):
        if choice[b] < 0.5:
            mask[b] = parts[b]
        elif choice[b] < 0.8:
            mask[b][:, list(LOWER_BODY)] = False
        else:
            mask[b][:, list(UPPER_BODY)] = False
    gaps = rng.random(batch) < 0.1
    if gaps.any():
        mask[gaps] &= frame_span(int(gaps.sum()), window, rng, fraction=0.3)
    return mask


SCHEMES = {"none": no_mask, "lower": lower_body, "joints": random_joints, "frames-10": frame_span, "parts": body_part_spans, "mixed": mixed}


def make_mask(scheme: str, batch: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """(B, W, 22) observation mask for a named scheme."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown mask scheme '{scheme}' (expected one of {', '.join(SCHEMES)})")
    return SCHEMES[scheme](batch, window, rng)
