"""The training clips of a built dataset, in memory, and random fixed-length windows from them.

Clips are short (Bandai dataset-2 median 117 frames), so nothing is dropped: a clip
shorter than the window is taken whole and padded by repeating its last frame, with a
validity mask that keeps padded frames out of every loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
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

    def sample(self, batch: int, window: int, generator: np.random.Generator) -> Windows:
        """Random windows; clips drawn in proportion to their length (every frame equally likely)."""
        clips = generator.choice(len(self), size=batch, p=self.lengths / self.lengths.sum())
        starts = np.array([generator.integers(0, max(1, n - window + 1)) for n in self.lengths[clips]])
        return self.windows(clips, starts, window)

    def windows(self, clips: np.ndarray, starts: np.ndarray, window: int) -> Windows:
        """Windows at given clips/starts, padded with each clip's last frame where it is too short."""
        steps = np.arange(window)
        last = self.offsets[clips] + self.lengths[clips] - 1
        index = np.minimum(self.offsets[clips, None] + starts[:, None] + steps, last[:, None])
        valid = torch.from_numpy(starts[:, None] + steps < self.lengths[clips, None])
        idx = torch.from_numpy(index)
        return Windows(*(self.data[k][idx] for k in ("root_orient", "pose_body", "trans")),
                       betas=self.betas[torch.from_numpy(clips)], contacts=self.data["contacts"][idx], valid=valid)
