"""Inference settings: one dataclass, saved with every output, and its named presets.

The defaults are rohm's fast CPU setting; `paper()` is Algorithm 1 as the paper writes it,
`paper_fast()` its conditioning at rohm's step counts (for ablations), `video()` what
`rohm video` runs. Each post-processing step (drift correction, joint anchoring, foot
locking) is switched off by setting its field to None / False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rohm.errors import RohmError
from rohm.inference.foot_lock import MAX_DROP

# The paper's conditioning: iterations on the previous estimates (Eq. 10-11), its window, no post-processing.
PAPER_CONDITIONING: dict[str, Any] = dict(anchor_input=False, drift_sigma=None, joint_sigma=None, foot_lock=False,
                                          window=144)
# Foot lock for video: a stance foot may be moved up to 40 cm and the body lowered up to MAX_DROP
# (8 cm) to reach it. The networks, trained on real-speed mocap, let stance feet glide on footage
# like the slow-motion example (24-57 cm per stance); a monocular pelvis height is uncertain by
# more than the drop.
VIDEO_FOOT_SHIFT = 0.4
# One iteration of Algorithm 1 for video: on the benchmark's monocular-camera protocol (Cam) K = 1
# was as accurate as K = 2 (GMPJPE 309.8 vs 310.8 mm, benchmarks/results/benchmark) at half the time.
VIDEO_ITERATIONS = 1


@dataclass
class Settings:
    """Inference settings; the defaults are the fast CPU setting."""

    iterations: int = 2
    traj_steps: int | None = 10  # None: every step of the schedule (paper)
    pose_steps: int | None = 20
    method: str = "ddim"
    trajcontrol: bool = True
    overlap: int = 32
    seed: int = 0
    anchor_input: bool = True  # iterations > 1 stay conditioned on the input (False: on the previous estimate, Eq. 10-11)
    guidance: bool = True
    # Guidance strengths, in rohm's units (metres and focal lengths against normalised features),
    # chosen on val clips (see MODEL_CARD.md): more lowers skating / 2D error but costs accuracy.
    skate_weight: float = 1e8
    reproj_weight: float = 3e6
    guidance_steps: int | None = 8  # last PoseNet steps that are guided; None: a tenth of them (paper: 100 of 1000)
    guidance_clip: float | None = 10.0  # bound on each guidance update, in posterior std (None: unbounded)
    drift_sigma: float | None = 15.0  # frames; low-pass pelvis correction towards the input (None: off)
    joint_sigma: float | None = 2.0  # frames; low-pass per-joint anchoring to observed joints + IK (None: off)
    gap_weight: float = 0.05  # weight of the straight path through unobserved pelvis frames (drift correction)
    joint_gap_weight: float = 1.0  # the same for each joint in its own gaps (joint anchoring)
    # Joint anchoring pulls towards an RTS smoothing of the observations (the evidence's best
    # estimate) rather than the raw ones; sigma, gap weight and this chosen on val + CMU
    # (benchmarks/results/val_anchoring.json).
    smooth_evidence: bool = True
    # With 2D keypoints (a camera) the 3D observations carry depth errors that no smoothing removes:
    # anchoring then uses the raw 3D at (sigma, gap weight) = camera_anchoring (v0.2's, chosen on Cam val).
    camera_anchoring: tuple[float, float] = (8.0, 0.3)
    foot_lock: bool = True  # pin feet during their contact spans + IK (rohm.inference.foot_lock)
    foot_shift: float = 0.2  # metres a pinned foot may be moved; spans needing more are left alone (video: 0.4)
    foot_drop: float = 0.0  # metres the body may be lowered so a leg reaches its pinned foot (video: 0.08)
    samples: int = 1
    batch_windows: int = 32  # windows (x samples) denoised together; bounds memory
    window: int | None = None  # frames per window (None: the length the networks were trained on)

    @classmethod
    def paper(cls) -> Settings:
        """Algorithm 1 as the paper writes it: iterations conditioned on the previous estimates
        (Eq. 10-11), full ancestral DDPM (100 TrajNet / 1000 PoseNet steps), unbounded guidance
        (Eq. 12-14) on the last 100 PoseNet steps, 144-frame windows, none of rohm's
        post-processing (drift correction, joint anchoring, foot locking). Windows still
        overlap and cross-fade (the paper's code cuts hard every 143 frames)."""
        return cls(traj_steps=None, pose_steps=None, method="ddpm", guidance_steps=100, guidance_clip=None,
                   **PAPER_CONDITIONING)

    @classmethod
    def paper_fast(cls) -> Settings:
        """The paper's conditioning and no post-processing (as `paper`), sampled with rohm's
        fast DDIM steps (guidance bounded, which coarse steps need): for ablations of the
        paper's mechanisms at a cost the whole benchmark can afford."""
        return cls(**PAPER_CONDITIONING)

    @classmethod
    def video(cls) -> Settings:
        """What `rohm video` runs: one iteration, feet pinned more firmly (VIDEO_FOOT_SHIFT) and
        the body allowed to drop up to MAX_DROP to reach them (a monocular pelvis height is uncertain)."""
        return cls(iterations=VIDEO_ITERATIONS, foot_shift=VIDEO_FOOT_SHIFT, foot_drop=MAX_DROP)

    def check(self) -> None:
        """Refuse settings that cannot run, with one line."""
        if self.window is not None and self.window < 8:
            raise RohmError(f"window must be at least 8 frames, got {self.window}")
        if self.iterations < 1 or self.samples < 1 or self.batch_windows < 1:
            raise RohmError(f"iterations, samples and batch_windows must be >= 1 (got {self.iterations}, "
                            f"{self.samples}, {self.batch_windows})")
        for name in ("traj_steps", "pose_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RohmError(f"{name} must be >= 1, got {value}")
        weights = (self.foot_shift, self.gap_weight, self.joint_gap_weight)
        if not 0.0 <= self.foot_drop <= MAX_DROP or min(weights) < 0:
            raise RohmError(f"foot_drop must be in [0, {MAX_DROP}] m, foot_shift, gap_weight and joint_gap_weight >= 0 "
                            f"(got {self.foot_drop}, {self.foot_shift}, {self.gap_weight}, {self.joint_gap_weight})")
        if self.method not in ("ddim", "ddpm"):
            raise RohmError(f"method must be ddim or ddpm, got {self.method!r}")
