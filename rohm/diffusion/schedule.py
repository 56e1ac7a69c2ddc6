"""DDPM noise schedules (paper Sec. 3, Eq. 1-2) and their respaced sub-sequences.

Timesteps are 0-based: t in [0, T) where t = 0 is the first (least noisy) forward
step, as in improved-diffusion. All coefficients are precomputed in float64 on the
CPU and handed out in the dtype and device of the tensor they multiply, so mixed
precision never touches the schedule arithmetic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

COSINE_OFFSET = 0.008  # s in Nichol & Dhariwal's cosine schedule
MAX_BETA = 0.999  # clips the last betas, where alpha_bar -> 0 makes them blow up


class DiffusionSchedule:
    """A DDPM given by its alpha_bar_t (strictly decreasing in (0, 1)); step i calls the
    network with timestep `timestep_map[i]`.

    Built from alpha_bar rather than betas so that respacing keeps alpha_bar exact even
    where it is ~1e-9 (1 - beta would cancel there).
    """

    def __init__(self, alphas_cumprod: Tensor, timestep_map: Tensor) -> None:
        ab = alphas_cumprod.to(torch.float64)
        if ab.ndim != 1 or ab.numel() == 0 or timestep_map.shape != ab.shape:
            raise ValueError("alphas_cumprod and timestep_map must be non-empty 1-D tensors of equal length")
        self.alphas_cumprod = ab
        self.alphas_cumprod_prev = torch.cat([ab.new_ones(1), ab[:-1]])
        betas = 1.0 - ab / self.alphas_cumprod_prev
        if not bool(((ab > 0) & (betas > 0) & (betas < 1)).all()):
            raise ValueError("alphas_cumprod must decrease strictly within (0, 1)")
        self.betas = betas
        self.timestep_map = timestep_map.to(torch.long)
        # q(x_{t-1} | x_t, x0) = N(coef_x0 * x0 + coef_xt * x_t, posterior_variance).
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - ab)
        # The variance is 0 at t = 0; its log borrows step 1's value (improved-diffusion).
        first = self.posterior_variance[1:2] if len(betas) > 1 else betas[:1]
        self.posterior_log_variance_clipped = torch.log(torch.cat([first, self.posterior_variance[1:]]))
        self.posterior_coef_x0 = betas * self.alphas_cumprod_prev.sqrt() / (1.0 - ab)
        self.posterior_coef_xt = (
            (1.0 - self.alphas_cumprod_prev) * (ab / self.alphas_cumprod_prev).sqrt() / (1.0 - ab)
        )

    @property
    def num_steps(self) -> int:
        """Number of steps T of this schedule."""
        return len(self.betas)

    def sample_timesteps(
        self, batch: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor:
        """(B,) long step indices drawn uniformly from [0, T), e.g. for training."""
        source = generator.device if generator is not None else device
        t = torch.randint(0, self.num_steps, (batch,), generator=generator, device=source)
        return t.to(device) if device is not None else t

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise (Eq. 2), t of shape (B,)."""
        ab = extract(self.alphas_cumprod, t, x0)
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def posterior(self, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(mean, variance, log_variance_clipped) of q(x_{t-1} | x_t, x0), broadcastable to x_t."""
        mean = extract(self.posterior_coef_x0, t, x_t) * x0 + extract(self.posterior_coef_xt, t, x_t) * x_t
        return (
            mean,
            extract(self.posterior_variance, t, x_t),
            extract(self.posterior_log_variance_clipped, t, x_t),
        )

    def predict_eps(self, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
        """The noise implied by x_t and an x0 estimate (inverse of q_sample)."""
        ab = extract(self.alphas_cumprod, t, x_t)
        return (x_t - ab.sqrt() * x0) / (1.0 - ab).sqrt()

    def respace(self, steps: int) -> RespacedSchedule:
        """A DDPM on `steps` evenly spaced steps of this schedule, first (0) and last (T-1) included.

        Its betas are re-derived from the kept alpha_bars, so ancestral sampling on
        the sub-sequence has the same marginals q(x_t | x0) as the full chain.
        """
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in [1, {self.num_steps}], got {steps}")
        if steps == 1:
            kept = torch.tensor([self.num_steps - 1])
        else:
            # Spacing (T-1)/(steps-1) >= 1, so the rounded indices are distinct.
            kept = torch.linspace(0, self.num_steps - 1, steps, dtype=torch.float64).round().long()
        return RespacedSchedule(self.alphas_cumprod[kept], self.timestep_map[kept])


class GaussianDiffusion(DiffusionSchedule):
    """DDPM with the cosine schedule alpha_bar(t) = cos^2(((t/T) + s)/(1 + s) * pi/2)."""

    def __init__(self, num_steps: int = 1000, offset: float = COSINE_OFFSET) -> None:
        if num_steps < 2:
            raise ValueError(f"num_steps must be >= 2, got {num_steps}")
        grid = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        f = torch.cos((grid + offset) / (1.0 + offset) * math.pi / 2) ** 2
        betas = (1.0 - f[1:] / f[:-1]).clamp(max=MAX_BETA)
        super().__init__(torch.cumprod(1.0 - betas, dim=0), torch.arange(num_steps))


class RespacedSchedule(DiffusionSchedule):
    """A sub-sequence of a parent schedule: its kept alpha_bars and their parent timesteps."""


def extract(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t] as a (B, 1, ..., 1) tensor in `like`'s dtype and device."""
    out = values[t.to("cpu", torch.long)].to(device=like.device, dtype=like.dtype)
    return out.reshape(-1, *([1] * (like.ndim - 1)))
