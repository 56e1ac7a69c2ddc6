"""The denoising stage: normalised, masked window features in, clean trajectory and pose out.

Two denoisers share one call signature, so the rest of the pipeline (windows, blending,
refitting, post-processing) is the same for both:
- `Algorithm1`: the paper's iterative inference with TrajNet (+ TrajControl) and PoseNet.
  Iteration 1 infills the trajectory (c_R = M_R * R~), then the pose given it
  (c_P = (R^1, M_P * P~)); iteration i > 1 runs TrajNet controlled by P^{i-1}, then PoseNet on
  R^i. The paper (Eq. 10-11) conditions these on the previous estimates; by default rohm keeps
  them conditioned on the input (`Settings.anchor_input`), as the networks were trained,
  which measured better on val. PoseNet sampling takes score guidance (Eq. 12-14).
- `JointDenoiser`: the MDM++ baseline (supp. C), one transformer over the whole feature
  vector, one pass, no guidance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import torch

from rohm.diffusion import GaussianDiffusion, Guidance, GuidanceFn, sample
from rohm.inference.settings import Settings
from rohm.representation import FeatureLayout
from rohm.skeleton import NUM_JOINTS

GuidanceFactory = Callable[[torch.Tensor], GuidanceFn]
"""A trajectory estimate (B, L, 13) -> the PoseNet guidance for it."""


class Denoiser(Protocol):
    """What the pipeline needs from a denoiser."""

    name: str
    guided: bool  # whether it takes PoseNet guidance (the pipeline builds none otherwise)

    def effective(self, settings: Settings) -> Settings:
        """The settings as this denoiser really uses them (recorded with the output)."""

    def __call__(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings, gen: torch.Generator,
                 guidance: GuidanceFactory | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, D) condition features and (B, L, 22) joint mask -> (trajectory (B, L, 13), pose (B, L, Dp))."""


def sample_network(net: torch.nn.Module, schedule: GaussianDiffusion, shape: tuple[int, ...], steps: int | None,
                   settings: Settings, gen: torch.Generator, guidance: GuidanceFn | None = None,
                   **conditions: Any) -> torch.Tensor:
    """One reverse diffusion of `net` (x0-predicting) from noise drawn with `gen`; `steps` None: the
    whole schedule. Guidance, when given, acts on the last `settings.guidance_steps` steps
    (None: a tenth of them)."""
    device = next(net.parameters()).device
    x_T = torch.randn(shape, generator=gen).to(device)
    guided = None
    if guidance is not None:
        last = settings.guidance_steps if settings.guidance_steps is not None else max(2, (steps or schedule.num_steps) // 10)
        guided = Guidance(guidance, last, settings.guidance_clip)
    return sample(lambda x_t, t: net(x_t, t, **conditions), shape, schedule, steps=steps, method=settings.method,
                  x_T=x_T, generator=gen, guidance=guided)


class Algorithm1:
    """TrajNet (+ TrajControl) and PoseNet, iterated (see the module docstring)."""

    name = "rohm"
    guided = True

    def __init__(self, trajnet: torch.nn.Module, posenet: torch.nn.Module, layout: FeatureLayout,
                 traj_diffusion_steps: int, pose_diffusion_steps: int) -> None:
        self.trajnet, self.posenet, self.layout = trajnet.eval(), posenet.eval(), layout
        self.traj_schedule = GaussianDiffusion(traj_diffusion_steps)
        self.pose_schedule = GaussianDiffusion(pose_diffusion_steps)
        self.has_control = getattr(trajnet, "control", None) is not None

    def effective(self, settings: Settings) -> Settings:
        return replace(settings, trajcontrol=settings.trajcontrol and self.has_control)

    @torch.no_grad()
    def __call__(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings, gen: torch.Generator,
                 guidance: GuidanceFactory | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        traj_cols, local = list(self.layout.traj_abs), self.layout.local
        b, n = cond.shape[:2]
        traj_shape, pose_shape = (b, n, len(traj_cols)), (b, n, local.stop - local.start)
        ones = torch.ones(b, n, NUM_JOINTS, device=cond.device)
        use_control = settings.trajcontrol and self.has_control
        r_cond, r_mask, control = cond[..., traj_cols], joint_mask[..., :1], None
        p_cond, p_mask = cond[..., local], joint_mask
        traj = pose = torch.empty(0)
        for _ in range(settings.iterations):
            traj = sample_network(self.trajnet, self.traj_schedule, traj_shape, settings.traj_steps, settings, gen,
                                  cond=r_cond, cond_mask=r_mask, control=control)
            pose = sample_network(self.posenet, self.pose_schedule, pose_shape, settings.pose_steps, settings, gen,
                                  guidance=guidance(traj) if guidance is not None else None,
                                  traj=traj, cond=p_cond, cond_mask=p_mask)
            control = pose if use_control else None
            if not settings.anchor_input:
                r_cond, r_mask, p_cond, p_mask = traj, ones[..., :1], pose, ones
        return traj, pose


class JointDenoiser:
    """MDM++: one network over trajectory and pose together, one pass, no guidance."""

    name = "mdm++"
    guided = False

    def __init__(self, net: torch.nn.Module, layout: FeatureLayout, diffusion_steps: int) -> None:
        self.net, self.layout = net.eval(), layout
        self.schedule = GaussianDiffusion(diffusion_steps)

    def effective(self, settings: Settings) -> Settings:
        return replace(settings, iterations=1, trajcontrol=False, guidance=False, traj_steps=None)

    @torch.no_grad()
    def __call__(self, cond: torch.Tensor, joint_mask: torch.Tensor, settings: Settings, gen: torch.Generator,
                 guidance: GuidanceFactory | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        full = sample_network(self.net, self.schedule, tuple(cond.shape), settings.pose_steps, settings, gen,
                              cond=cond, cond_mask=joint_mask)
        return full[..., list(self.layout.traj_abs)], full[..., self.layout.local]
