"""The training clips of a built dataset, in memory, and random fixed-length windows from them.

Clips are short (Bandai dataset-2 median 117 frames), so nothing is dropped: a clip
shorter than the window is taken whole and padded by repeating its last frame, with a
validity mask that keeps padded frames out of every loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import torch

from rohm.errors import RohmError
from rohm.io.motion_file import load_motion


@dataclass
class Windows:
    """A batch of windows: body parameters and labels, (B, W, ...) float64 tensors."""

    root_orient: torch.Tensor  # (B, W, 3)
    pose_body: torch.Tensor  # (B, W, 63)
    trans: torch.Tensor  # (B, W, 3)
    betas: torch.Tensor  # (B, B_dim)
    contacts: torch.Tensor  # (B, W, 4)
    valid: torch.Tensor  # (B, W) bool, False on padding


def _slerp_rotvec(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Per-element slerp between axis-angle rotations (..., 3) with weights t (...)."""
    qa, qb = roma.rotvec_to_unitquat(a), roma.rotvec_to_unitquat(b)
    qb = torch.where(((qa * qb).sum(-1, keepdim=True) < 0), -qb, qb)  # shortest arc
    q = qa + t[..., None] * (qb - qa)  # nlerp: adjacent frames are a few degrees apart
    return roma.unitquat_to_rotvec(q / q.norm(dim=-1, keepdim=True))


def retime(data: dict[str, torch.Tensor], index0: torch.Tensor, index1: torch.Tensor, frac: torch.Tensor
           ) -> dict[str, torch.Tensor]:
    """Interpolate per-frame clip data at fractional frames: rotations by slerp, translation
    linearly, contacts from the nearer frame. index0/index1 (B, W) frame indices, frac (B, W)."""
    def rot(key: str, width: int) -> torch.Tensor:
        a = data[key][index0].unflatten(-1, (width, 3))
        b = data[key][index1].unflatten(-1, (width, 3))
        return _slerp_rotvec(a, b, frac[..., None].expand(a.shape[:-1])).flatten(-2)
    trans = data["trans"][index0] + frac[..., None] * (data["trans"][index1] - data["trans"][index0])
    contacts = torch.where(frac[..., None] < 0.5, data["contacts"][index0], data["contacts"][index1])
    return {"root_orient": rot("root_orient", 1), "pose_body": rot("pose_body", 21), "trans": trans,
            "contacts": contacts}


class ClipStore:
    """All clips of one split: parameters concatenated, with per-clip offsets."""

    def __init__(self, folder: str | Path, split: str, max_clips: int | None = None) -> None:
        folder = Path(folder)
        files = sorted((folder / split).glob("*.npz"))[:max_clips]
        if not files:
            raise RohmError(f"no clips in split '{split}' (run `rohm data build` first)", folder)
        params: dict[str, list[np.ndarray]] = {"root_orient": [], "pose_body": [], "trans": [], "contacts": []}
        betas, lengths = [], []
        for f in files:
            m = load_motion(f)
            if not m.has_params or m.contacts is None or m.betas is None:
                raise RohmError("training clips need body parameters, betas and contacts", f)
            for key in params:
                params[key].append(getattr(m, key))
            betas.append(m.betas)
            lengths.append(m.num_frames)
        self.names = [f.stem for f in files]
        self.fps = float(m.fps)
        self.lengths = np.asarray(lengths)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.data = {k: torch.from_numpy(np.concatenate(v)) for k, v in params.items()}
        self.betas = torch.from_numpy(np.stack(betas))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    def sample(self, batch: int, window: int, generator: np.random.Generator, speed: float = 1.0) -> Windows:
        """Random windows; clips drawn in proportion to their length (every frame equally likely).
        `speed` != 1 plays them back faster (> 1) or slower (< 1), see `windows`."""
        clips = generator.choice(len(self), size=batch, p=self.lengths / self.lengths.sum())
        span = int(np.ceil((window - 1) * speed)) + 1  # source frames one window covers
        starts = np.array([generator.integers(0, max(1, n - span + 1)) for n in self.lengths[clips]])
        return self.windows(clips, starts, window, speed)

    def windows(self, clips: np.ndarray, starts: np.ndarray, window: int, speed: float = 1.0) -> Windows:
        """Windows at given clips/starts, padded with each clip's last frame where it is too short.
        Frame i of a window is source frame start + i * speed (interpolated when fractional)."""
        position = starts[:, None] + np.arange(window) * speed
        valid = torch.from_numpy(position <= self.lengths[clips, None] - 1 + 1e-9)
        last = self.offsets[clips] + self.lengths[clips] - 1
        first = np.floor(position).astype(np.int64)
        index0 = np.minimum(self.offsets[clips, None] + first, last[:, None])
        index1 = np.minimum(index0 + 1, last[:, None])
        betas = self.betas[torch.from_numpy(clips)]
        if speed == 1.0:
            idx = torch.from_numpy(index0)
            return Windows(*(self.data[k][idx] for k in ("root_orient", "pose_body", "trans")),
                           betas=betas, contacts=self.data["contacts"][idx], valid=valid)
        frac = torch.from_numpy(np.where(index1 > index0, position - first, 0.0))
        parts = retime(self.data, torch.from_numpy(index0), torch.from_numpy(index1), frac)
        return Windows(parts["root_orient"], parts["pose_body"], parts["trans"], betas, parts["contacts"], valid)
