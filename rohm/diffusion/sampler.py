"""Ancestral (DDPM) and DDIM sampling for x0-predicting networks, with RoHM score guidance.

Kept apart from the networks, like diffusers' schedulers: a network is any
`model_fn(x_t, t) -> x0_hat` called once per step with the ORIGINAL timesteps
(B,) of the schedule it was trained on, also when sampling a respaced sub-sequence.

Score guidance (paper Eq. 12-14, supp. B.3). The paper writes
x_{t-1} ~ N(mu_t + lambda * grad(J) * Sigma_t, Sigma_t). Here `guidance(x0_hat, t)`
returns the gradient of an objective J to MINIMISE (a penalty such as J_skate or
J_2D, with lambda folded in), and the sampler DESCENDS it:
    mean <- mean - weight * guidance(x0_hat, t),   weight = Sigma_t by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from rohm.diffusion.schedule import DiffusionSchedule, extract

ModelFn = Callable[[Tensor, Tensor], Tensor]
"""(x_t, t (B,) long original timesteps) -> x0_hat."""
GuidanceFn = Callable[[Tensor, Tensor], Tensor]
"""(x0_hat, t) -> dJ/dx0_hat, same shape as x0_hat, for an objective J to minimise."""
GuidanceWeightFn = Callable[[Tensor, Tensor], Tensor]
"""(t, posterior variance (B, 1, ...)) -> weight broadcastable to x_t."""

METHODS = ("ddpm", "ddim")


@dataclass(frozen=True)
class Guidance:
    """Score guidance for `sample`: the gradient `fn` acts on the last `steps` steps of the
    (respaced) sequence; each update is weighted by the posterior variance Sigma_t (or
    `weight_fn(t, variance)`) and, with `clip`, clamped elementwise to that many posterior
    standard deviations, so a steep objective cannot throw the sample off the data manifold
    (needed with few, coarse DDIM steps; the paper's 1000 steps are finer)."""

    fn: GuidanceFn
    steps: int
    clip: float | None = None
    weight_fn: GuidanceWeightFn | None = None


def gradient_guidance(objective: Callable[[Tensor, Tensor], Tensor]) -> GuidanceFn:
    """Turn an objective J(x0_hat, t) -> scalar (summed over the batch) into a GuidanceFn by autograd."""

    def guidance(x0_hat: Tensor, t: Tensor) -> Tensor:
        with torch.enable_grad():
            x = x0_hat.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(objective(x, t), x)
        return grad

    return guidance


def sample(
    model_fn: ModelFn,
    shape: tuple[int, ...],
    schedule: DiffusionSchedule,
    steps: int | None = None,
    method: str = "ddim",
    eta: float = 0.0,
    x_T: Tensor | None = None,
    generator: torch.Generator | None = None,
    guidance: Guidance | None = None,
    progress: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Draw x0 of `shape` (batch first) by reverse diffusion; returns the final x0 prediction.

    steps: sample on `schedule.respace(steps)` instead of all T steps.
    method: "ddpm" (ancestral) or "ddim" (Song et al.; deterministic when eta = 0).
    x_T: the starting noise (its device and dtype win over `device`/`dtype`);
        drawn with `generator` when None. All noise comes from `generator`
        (which must live on `device`).
    guidance: step indices i run n-1 ... 0 on the (respaced) sequence; guidance acts on
        the steps with i < guidance.steps. The returning step (i = 0) only yields x0_hat
        (Sigma_0 = 0), so the guided updates are those with 0 < i < guidance.steps. DDIM uses
        the matching DDPM posterior variance as weight, so one guidance strength serves both.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    sched = schedule if steps is None else schedule.respace(steps)
    n = sched.num_steps
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if x_T is None:
        x = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    else:
        if tuple(x_T.shape) != tuple(shape):
            raise ValueError(f"x_T has shape {tuple(x_T.shape)}, expected {tuple(shape)}")
        x = x_T
    batch = shape[0]

    def predict(x_t: Tensor, i: int) -> tuple[Tensor, Tensor, Tensor]:
        """(respaced index (B,), original timestep (B,), x0_hat) at step i."""
        idx = torch.full((batch,), i, dtype=torch.long)
        t = sched.timestep_map[idx].to(x_t.device)
        with torch.no_grad():
            x0_hat = model_fn(x_t, t)
        return idx, t, x0_hat

    for i in tqdm(range(n - 1, 0, -1), disable=not progress, desc=f"{method} sampling"):
        idx, t, x0_hat = predict(x, i)
        mean, variance, _ = sched.posterior(x0_hat, x, idx)
        noise_std = variance.sqrt()
        if method == "ddim":
            ab_prev = extract(sched.alphas_cumprod_prev, idx, x)
            noise_std = eta * noise_std  # eta = 1 gives the DDPM posterior variance
            eps = sched.predict_eps(x, idx, x0_hat)
            mean = ab_prev.sqrt() * x0_hat + (1.0 - ab_prev - noise_std**2).clamp(min=0).sqrt() * eps
        if guidance is not None and i < guidance.steps:
            weight = variance if guidance.weight_fn is None else guidance.weight_fn(t, variance)
            update = weight * guidance.fn(x0_hat, t)
            if guidance.clip is not None:
                bound = guidance.clip * variance.sqrt()
                update = torch.maximum(torch.minimum(update, bound), -bound)
            mean = mean - update
        if method == "ddim" and eta == 0:
            x = mean  # draws no noise, so the generator is left untouched
        else:
            source = generator.device if generator is not None else x.device
            noise = torch.randn(x.shape, generator=generator, device=source, dtype=x.dtype).to(x.device)
            x = mean + noise_std * noise
    # The last step (t = 0) returns x0_hat without adding noise.
    return predict(x, 0)[2]
