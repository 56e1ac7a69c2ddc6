"""Cosine DDPM schedule, respacing, and DDPM/DDIM sampling with score guidance."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from rohm.diffusion import GaussianDiffusion, Guidance, gradient_guidance, sample
from rohm.diffusion.schedule import extract

T = 1000
F64 = torch.float64


@pytest.fixture(scope="module")
def schedule() -> GaussianDiffusion:
    return GaussianDiffusion(T)


def oracle(x0: Tensor, calls: list | None = None):
    """A model that always predicts x0 and records (x_t, t) of every call."""

    def model_fn(x_t: Tensor, t: Tensor) -> Tensor:
        if calls is not None:
            calls.append((x_t.clone(), t.clone()))
        return x0.expand_as(x_t).to(x_t.dtype)

    return model_fn


def gaussian_denoiser(schedule: GaussianDiffusion, mu: float, s: float):
    """The exact E[x0 | x_t] for 1-D data x0 ~ N(mu, s^2)."""

    def model_fn(x_t: Tensor, t: Tensor) -> Tensor:
        ab = extract(schedule.alphas_cumprod, t, x_t)
        return mu + ab.sqrt() * s**2 / (ab * s**2 + 1 - ab) * (x_t - ab.sqrt() * mu)

    return model_fn


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- schedule ----------------------------------------------------------------------------


def test_cosine_schedule_properties(schedule: GaussianDiffusion) -> None:
    ab = schedule.alphas_cumprod
    assert schedule.num_steps == T and ab.dtype == F64
    assert bool((ab[1:] < ab[:-1]).all())
    assert ab[0] > 0.9999 and ab[-1] < 1e-4
    assert bool(((schedule.betas > 0) & (schedule.betas < 1)).all())
    assert schedule.betas.max() == pytest.approx(0.999)  # the clip is active at the end
    # alpha_bar(t) = f(t+1)/f(0) with f the cosine; at mid-schedule no clipping has happened yet.
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert ab[499].item() == pytest.approx(f(0.5) / f(0.0), rel=1e-12)


def test_sample_timesteps_uniform_and_seeded(schedule: GaussianDiffusion) -> None:
    t = schedule.sample_timesteps(20000, generator=gen(0))
    assert t.dtype == torch.long and t.shape == (20000,)
    assert t.min() >= 0 and t.max() == T - 1
    assert t.float().mean().item() == pytest.approx((T - 1) / 2, rel=0.03)
    assert torch.equal(t, schedule.sample_timesteps(20000, generator=gen(0)))


def test_q_sample_statistics(schedule: GaussianDiffusion) -> None:
    n = 50000
    x0 = torch.full((2, n, 1), 3.0)
    t = torch.tensor([100, 700])
    x_t = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen(1)))
    assert x_t.dtype == torch.float32
    for b in range(2):
        ab = schedule.alphas_cumprod[t[b]].item()
        assert x_t[b].mean().item() == pytest.approx(3.0 * math.sqrt(ab), abs=0.03)
        assert x_t[b].std().item() == pytest.approx(math.sqrt(1 - ab), rel=0.02)


def test_posterior_mean_formula(schedule: GaussianDiffusion) -> None:
    x0, x_t = torch.tensor([[1.5, -2.0]], dtype=F64), torch.tensor([[0.3, 0.7]], dtype=F64)
    for step in (0, 1, 321, T - 1):
        t = torch.tensor([step])
        beta = schedule.betas[step].item()
        ab = schedule.alphas_cumprod[step].item()
        ab_prev = schedule.alphas_cumprod[step - 1].item() if step > 0 else 1.0
        mean, var, log_var = schedule.posterior(x0, x_t, t)
        expected = (math.sqrt(ab_prev) * beta * x0 + math.sqrt(1 - beta) * (1 - ab_prev) * x_t) / (1 - ab)
        torch.testing.assert_close(mean, expected, rtol=1e-12, atol=1e-12)
        assert var.item() == pytest.approx(beta * (1 - ab_prev) / (1 - ab), rel=1e-12, abs=0)
        assert math.isfinite(log_var.item())
    # At t = 0 the posterior collapses onto x0.
    mean, var, _ = schedule.posterior(x0, x_t, torch.tensor([0]))
    torch.testing.assert_close(mean, x0)
    assert var.item() == 0.0


# --- respacing ---------------------------------------------------------------------------


def test_respace_full_reproduces_schedule(schedule: GaussianDiffusion) -> None:
    full = schedule.respace(T)
    torch.testing.assert_close(full.betas, schedule.betas, rtol=1e-9, atol=1e-12)
    assert torch.equal(full.timestep_map, torch.arange(T))


@pytest.mark.parametrize("steps", [1, 2, 10, 50, 999])
def test_respace_keeps_alpha_bars_at_even_timesteps(schedule: GaussianDiffusion, steps: int) -> None:
    sub = schedule.respace(steps)
    kept = sub.timestep_map
    assert sub.num_steps == steps and len(set(kept.tolist())) == steps
    assert kept[-1] == T - 1 and (steps == 1 or kept[0] == 0)
    if steps > 2:
        gaps = kept.diff()
        assert bool((gaps > 0).all()) and gaps.max() - gaps.min() <= 1
    torch.testing.assert_close(sub.alphas_cumprod, schedule.alphas_cumprod[kept], rtol=1e-9, atol=0)


def test_respace_rejects_bad_steps(schedule: GaussianDiffusion) -> None:
    for steps in (0, T + 1):
        with pytest.raises(ValueError):
            schedule.respace(steps)


# --- sampling ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "steps"), [("ddpm", 10), ("ddpm", None), ("ddim", 10)])
def test_oracle_sampling_converges_to_x0(schedule: GaussianDiffusion, method: str, steps: int | None) -> None:
    x0 = torch.linspace(-2, 2, 2000, dtype=F64).reshape(4, 500)
    calls: list = []
    out = sample(oracle(x0, calls), x0.shape, schedule, steps=steps, method=method,
                 generator=gen(2), dtype=F64)
    torch.testing.assert_close(out, x0, rtol=0, atol=0)
    sub = schedule if steps is None else schedule.respace(steps)
    assert len(calls) == sub.num_steps
    # With the true x0 every intermediate x_t follows the forward marginal q(x_t | x0).
    eps_first = sub.predict_eps(calls[0][0], torch.full((4,), sub.num_steps - 1), x0)
    for k, (x_t, _) in enumerate(calls):
        i = sub.num_steps - 1 - k
        eps = sub.predict_eps(x_t, torch.full((4,), i), x0)
        if method == "ddim":  # eta = 0 keeps the initial noise direction exactly
            torch.testing.assert_close(eps, eps_first, rtol=1e-9, atol=1e-9)
        elif k % max(1, len(calls) // 10) == 0:
            assert eps.mean().abs().item() < 0.05 and eps.std().item() == pytest.approx(1.0, rel=0.05)


def test_model_receives_original_timesteps(schedule: GaussianDiffusion) -> None:
    for method in ("ddpm", "ddim"):
        calls: list = []
        sample(oracle(torch.zeros(()), calls), (3, 2), schedule, steps=10, method=method, generator=gen(3))
        ts = torch.stack([t for _, t in calls])
        assert ts.dtype == torch.long and ts.shape == (10, 3)
        assert torch.equal(ts[:, 0], schedule.respace(10).timestep_map.flip(0))
        assert ts[0, 0] == T - 1 and ts[-1, 0] == 0 and bool((ts == ts[:, :1]).all())


def test_ddim_eta0_deterministic_given_x_T(schedule: GaussianDiffusion) -> None:
    model = gaussian_denoiser(schedule, 1.0, 0.5)
    x_T = torch.randn(8, 1, generator=gen(4))
    a = sample(model, x_T.shape, schedule, steps=20, x_T=x_T, generator=gen(5))
    b = sample(model, x_T.shape, schedule, steps=20, x_T=x_T, generator=gen(6))
    c = sample(model, x_T.shape, schedule, steps=20, x_T=x_T)
    assert torch.equal(a, b) and torch.equal(a, c)
    d = sample(model, x_T.shape, schedule, steps=20, x_T=x_T, eta=0.5, generator=gen(6))
    assert not torch.allclose(a, d)


def test_ddpm_seeded(schedule: GaussianDiffusion) -> None:
    model = gaussian_denoiser(schedule, 1.0, 0.5)
    a = sample(model, (8, 1), schedule, steps=20, method="ddpm", generator=gen(7))
    b = sample(model, (8, 1), schedule, steps=20, method="ddpm", generator=gen(7))
    c = sample(model, (8, 1), schedule, steps=20, method="ddpm", generator=gen(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_ddim_eta1_equals_ddpm(schedule: GaussianDiffusion) -> None:
    model = gaussian_denoiser(schedule, 1.0, 0.5)
    x_T = torch.randn(64, 1, generator=gen(9), dtype=F64)
    kw = dict(steps=25, x_T=x_T)
    ddpm = sample(model, x_T.shape, schedule, method="ddpm", generator=gen(10), **kw)
    ddim = sample(model, x_T.shape, schedule, method="ddim", eta=1.0, generator=gen(10), **kw)
    torch.testing.assert_close(ddim, ddpm, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_guidance_shift_sign_and_window(schedule: GaussianDiffusion, method: str) -> None:
    """Oracle x0 = 0 and J = ||x - c||^2: guidance moves x_t towards c by exactly Sigma_t * 2c."""
    c = torch.tensor([1.0, -2.0, 3.0], dtype=F64).expand(4, 3)
    guide = gradient_guidance(lambda x, t: ((x - c) ** 2).sum())
    x_T = torch.randn(4, 3, generator=gen(11), dtype=F64)
    steps, k = 10, 3

    def run(**kw) -> list:
        calls: list = []
        out = sample(oracle(torch.zeros((), dtype=F64), calls), x_T.shape, schedule, steps=steps,
                     method=method, eta=0.0, x_T=x_T, generator=gen(12), **kw)
        assert torch.equal(out, torch.zeros_like(x_T))  # the oracle's x0 is returned as is
        return [x for x, _ in calls]

    plain = run()
    guided = run(guidance=Guidance(guide, k))
    # Calls at step index i see x after the updates of steps > i; only steps 1..k-1 are guided.
    for idx, (p, g) in enumerate(zip(plain, guided)):
        i = steps - 1 - idx
        if i >= k - 1:
            assert torch.equal(p, g)
    # One guided update (k = 2, at step 1) shifts the last input by exactly +2 Sigma_1 c.
    var_1 = schedule.respace(steps).posterior_variance[1].item()
    once = run(guidance=Guidance(guide, 2))
    torch.testing.assert_close(once[-1] - plain[-1], 2 * var_1 * c, rtol=1e-9, atol=1e-12)
    assert torch.equal(once[:-1][-1], plain[:-1][-1])
    # More guided steps move closer to c; Guidance(..., 0) changes nothing.
    assert (guided[-1] - c).norm() < (once[-1] - c).norm() < (plain[-1] - c).norm()
    unused = run(guidance=Guidance(guide, 0))
    assert all(torch.equal(p, u) for p, u in zip(plain, unused))
    # A custom weight replaces Sigma_t.
    weighted = run(guidance=Guidance(guide, 2, weight_fn=lambda t, var: 0.25 * torch.ones_like(var)))
    torch.testing.assert_close(weighted[-1] - plain[-1], 0.5 * c, rtol=1e-9, atol=1e-12)


def test_guidance_clip_bounds_each_update(schedule: GaussianDiffusion) -> None:
    """With `clip`, one guided step moves x by at most clip posterior standard deviations."""
    c = torch.full((4, 3), 100.0, dtype=F64)
    guide = gradient_guidance(lambda x, t: ((x - c) ** 2).sum())
    x_T = torch.randn(4, 3, generator=gen(16), dtype=F64)

    def last_input(guidance: Guidance | None) -> Tensor:
        calls: list = []
        sample(oracle(torch.zeros((), dtype=F64), calls), x_T.shape, schedule, steps=10, x_T=x_T, guidance=guidance)
        return calls[-1][0]

    plain = last_input(None)
    free = last_input(Guidance(guide, 2))
    bounded = last_input(Guidance(guide, 2, clip=0.5))
    std_1 = schedule.respace(10).posterior_variance[1].sqrt().item()
    torch.testing.assert_close(bounded - plain, torch.full_like(plain, 0.5 * std_1), rtol=1e-9, atol=1e-12)
    assert ((free - plain).abs() > (bounded - plain).abs()).all()


def test_guidance_pulls_samples_towards_target(schedule: GaussianDiffusion) -> None:
    model = gaussian_denoiser(schedule, 0.0, 1.0)
    c = 2.0
    guide = gradient_guidance(lambda x, t: 50.0 * ((x - c) ** 2).sum())
    for method in ("ddpm", "ddim"):
        kw = dict(steps=50, method=method, generator=gen(13), dtype=F64)
        plain = sample(model, (2000, 1), schedule, **kw)
        guided = sample(model, (2000, 1), schedule, guidance=Guidance(guide, 25), **kw)
        assert guided.mean().item() > plain.mean().item() + 0.5
        assert (guided - c).abs().mean() < (plain - c).abs().mean()


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_gaussian_data_recovered_by_optimal_denoiser(schedule: GaussianDiffusion, method: str) -> None:
    mu, s, n = 3.0, 0.5, 4000
    out = sample(gaussian_denoiser(schedule, mu, s), (n, 1), schedule, steps=50, method=method,
                 generator=gen(15), dtype=F64)
    assert abs(out.mean().item() - mu) < 0.1 * s
    if method == "ddpm":
        assert out.std().item() == pytest.approx(s, rel=0.1)
