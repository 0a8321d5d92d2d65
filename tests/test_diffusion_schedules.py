"""Schedules, noising and single DDPM/DDIM steps against diffusers; the marginal against the chain."""

import math

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from ppl_models import diffusion as dm

T = 1000
NAMES = [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]


def _f64(sched):
    """Put a diffusers scheduler's tables in float64 (from its own float32 betas) and return our twin."""
    b = sched.betas.double()
    sched.betas, sched.alphas = b, 1 - b
    sched.alphas_cumprod = torch.cumprod(1 - b, 0)
    if hasattr(sched, "final_alpha_cumprod"):
        sched.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    return dm.DiscreteSchedule(b)


def _toy_eps(x, n):
    """A smooth nonlinear stand-in for a network, keyed by the integer step."""
    return torch.tanh(x) * (0.3 + 0.5 * n / T) + 0.1 * torch.sin(3 * x)


@pytest.mark.parametrize("ours,theirs", NAMES)
def test_betas_and_alphas_cumprod_match_diffusers(ours, theirs):
    ref = DDPMScheduler(num_train_timesteps=T, beta_schedule=theirs)
    s = dm.make_schedule(ours, T)
    # diffusers stores float32 betas: agreement to float32 rounding
    torch.testing.assert_close(s.betas, ref.betas.double(), rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(s.alphas_cumprod, ref.alphas_cumprod.double(), rtol=0, atol=1e-6)
    # exactly the same cumulative product from the same betas
    torch.testing.assert_close(dm.DiscreteSchedule(ref.betas.double()).alphas_cumprod,
                               torch.cumprod(1 - ref.betas.double(), 0), rtol=0, atol=1e-15)


def test_cosine_schedule_is_the_continuous_cosine_vp_on_the_grid():
    s = dm.make_schedule("cosine", T)
    t = dm.step_to_time(torch.arange(T), T)
    alpha, _ = dm.VPSDE("cosine").marginal(t)
    ok = s.betas < 0.999                     # the cap changes only the last steps
    torch.testing.assert_close(s.alphas_cumprod[ok], alpha[ok] ** 2, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("shape", [(6, 2), (6, 1, 4, 4)])
def test_add_noise_matches_diffusers(ours, theirs, shape):
    ref = DDPMScheduler(num_train_timesteps=T, beta_schedule=theirs, clip_sample=False)
    s = _f64(ref)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(shape, generator=g, dtype=torch.float64)
    noise = torch.randn(shape, generator=g, dtype=torch.float64)
    n = torch.tensor([0, 1, 17, 500, 998, 999])
    torch.testing.assert_close(s.add_noise(x0, n, noise), ref.add_noise(x0, noise, n), rtol=0, atol=1e-12)
    # the continuous-time view gives the same marginal at t = (n + 1) / T
    a, sg = s.marginal(dm.step_to_time(n, T))
    x_t = a.view(-1, *[1] * (x0.ndim - 1)) * x0 + sg.view(-1, *[1] * (x0.ndim - 1)) * noise
    torch.testing.assert_close(x_t, s.add_noise(x0, n, noise), rtol=0, atol=1e-12)


@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("variance,vtype", [("posterior", "fixed_small"), ("beta", "fixed_large")])
def test_ddpm_step_matches_diffusers(ours, theirs, variance, vtype):
    ref = DDPMScheduler(num_train_timesteps=T, beta_schedule=theirs, clip_sample=False, variance_type=vtype)
    s = _f64(ref)
    x = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for step in [999, 500, 1, 0]:
        eps = _toy_eps(x, step)
        want = ref.step(eps, step, x, generator=torch.Generator().manual_seed(step)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(step), dtype=torch.float64)
        got = dm.ddpm_step(eps, x, torch.full((4,), step), s, noise, variance)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_ddpm_sampler_trajectory_matches_diffusers():
    Ts = 50
    ref = DDPMScheduler(num_train_timesteps=Ts, beta_schedule="linear", clip_sample=False)
    ref.set_timesteps(Ts)
    s = _f64(ref)
    x_T = torch.randn(5, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    x = x_T.clone()
    for n in ref.timesteps:
        x = ref.step(_toy_eps(x, int(n) * T / Ts), int(n), x, generator=g).prev_sample

    def eps_fn(x, t):
        return _toy_eps(x, (torch.round(t[0] * Ts) - 1).item() * T / Ts)

    out = dm.ddpm_sample(eps_fn, s, x_T, generator=torch.Generator().manual_seed(4))
    assert out.nfe == Ts
    torch.testing.assert_close(out.samples, x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("steps", [1, 7, 50, 1000])
def test_timesteps_match_diffusers(spacing, steps):
    ref = DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing)
    ref.set_timesteps(steps)
    assert torch.equal(dm.timesteps(T, steps, spacing), ref.timesteps.long())
    t = dm.ddim_times(T, steps, spacing)
    assert t[-1] == 0 and torch.equal(dm.time_to_step(t[:-1], T), ref.timesteps.long())


@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_trajectory_matches_diffusers_leading(ours, theirs, eta):
    steps = 20
    ref = DDIMScheduler(num_train_timesteps=T, beta_schedule=theirs, clip_sample=False,
                        timestep_spacing="leading", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    s = _f64(ref)
    x_T = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    g = torch.Generator().manual_seed(6)
    x = x_T.clone()
    for n in ref.timesteps:
        noise = torch.randn(x.shape, generator=g, dtype=torch.float64) if eta > 0 else None
        x = ref.step(_toy_eps(x, int(n)), int(n), x, eta=eta, variance_noise=noise).prev_sample

    def eps_fn(x, t):
        return _toy_eps(x, (torch.round(t[0] * T) - 1).item())

    out = dm.ddim_sample(eps_fn, s, x_T, dm.ddim_times(T, steps, "leading"), eta=eta,
                         generator=torch.Generator().manual_seed(6))
    assert out.nfe == steps
    torch.testing.assert_close(out.samples, x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_clipped_ddim_trajectory_matches_diffusers_clip_sample(eta):
    steps = 20
    ref = DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", clip_sample=True,
                        clip_sample_range=0.5, timestep_spacing="leading", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    s = _f64(ref)
    x_T = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    g = torch.Generator().manual_seed(6)
    x = x_T.clone()
    clipped = 0
    for n in ref.timesteps:
        noise = torch.randn(x.shape, generator=g, dtype=torch.float64) if eta > 0 else None
        step = ref.step(_toy_eps(x, int(n)), int(n), x, eta=eta, variance_noise=noise)
        a = s.alphas_cumprod[int(n)]
        unclipped = (x - (1 - a).sqrt() * _toy_eps(x, int(n))) / a.sqrt()
        clipped += int((unclipped.abs() > 0.5).sum())
        x = step.prev_sample

    def eps_fn(x, t):
        return _toy_eps(x, (torch.round(t[0] * T) - 1).item())

    times = dm.ddim_times(T, steps, "leading")
    out = dm.ddim_sample(eps_fn, s, x_T, times, eta=eta, generator=torch.Generator().manual_seed(6),
                         clip_x0=0.5)
    assert clipped > 0, "the test must exercise the clamp"
    torch.testing.assert_close(out.samples, x, rtol=0, atol=1e-10)
    free = dm.ddim_sample(eps_fn, s, x_T, times, eta=eta, generator=torch.Generator().manual_seed(6))
    assert (free.samples - out.samples).abs().max() > 1e-3


def test_ddim_eta_one_on_full_grid_is_ddpm_posterior_variance():
    Ts = 30
    s = dm.make_schedule("linear", Ts, beta_start=1e-3, beta_end=0.2)
    x_T = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def eps_fn(x, t):
        return 0.5 * torch.tanh(x) * t.view(-1, 1)

    a = dm.ddim_sample(eps_fn, s, x_T, dm.ddim_times(Ts, Ts, "leading"), eta=1.0,
                       generator=torch.Generator().manual_seed(1))
    b = dm.ddpm_sample(eps_fn, s, x_T, generator=torch.Generator().manual_seed(1), variance="posterior")
    torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=1e-10)


def test_step_time_map_round_trip_and_interpolation():
    n = torch.arange(T)
    t = dm.step_to_time(n, T)
    assert t[0] == 1 / T and t[-1] == 1.0
    assert torch.equal(dm.time_to_step(t, T), n)
    s = dm.make_schedule("linear", T)
    a, sg = s.marginal(t)
    torch.testing.assert_close(a**2, s.alphas_cumprod, rtol=1e-12, atol=0)
    torch.testing.assert_close(a**2 + sg**2, torch.ones_like(a), rtol=0, atol=1e-12)
    a0, s0 = s.marginal(torch.zeros(1, dtype=torch.float64))
    assert a0.item() == 1.0 and s0.item() == 0.0
    fine = torch.linspace(0, 1, 5001, dtype=torch.float64)
    assert bool((torch.diff(s.marginal(fine)[0]) < 0).all())
    torch.testing.assert_close(s.log_snr, torch.log(s.alphas_cumprod / (1 - s.alphas_cumprod)))


def test_closed_form_marginal_matches_the_forward_chain():
    Ts, N = 40, 40_000
    s = dm.make_schedule("cosine", Ts)
    g = torch.Generator().manual_seed(0)
    x0 = torch.tensor([[1.5, -0.7]], dtype=torch.float64)
    x = x0.expand(N, 2).clone()
    for n in range(Ts):
        z = torch.randn(N, 2, generator=g, dtype=torch.float64)
        x = (1 - s.betas[n]).sqrt() * x + s.betas[n].sqrt() * z
        if n in (0, 5, 20, Ts - 1):
            ac = s.alphas_cumprod[n]
            mean, var = ac.sqrt() * x0[0], 1 - ac
            assert ((x.mean(0) - mean).abs() < 4 * (var / N).sqrt()).all()
            assert ((x.var(0) - var).abs() < 4 * var * math.sqrt(2 / (N - 1))).all()


def test_vp_sde_consistency_with_autograd():
    t = torch.linspace(0.01, 0.99, 9, dtype=torch.float64, requires_grad=True)
    for sde in (dm.VPSDE("linear"), dm.VPSDE("cosine")):
        (dla,) = torch.autograd.grad(sde.log_alpha(t).sum(), t)
        torch.testing.assert_close(-2 * dla, sde.beta(t).detach(), rtol=1e-10, atol=0)
        (dls,) = torch.autograd.grad(sde.log_snr(t).sum(), t)
        torch.testing.assert_close(dls, sde.dlog_snr_dt(t).detach(), rtol=1e-10, atol=0)
        a, sg = sde.marginal(t.detach())
        torch.testing.assert_close(a**2 + sg**2, torch.ones_like(a), rtol=0, atol=1e-12)
    ve = dm.VESDE(0.01, 50.0)
    (ds2,) = torch.autograd.grad(ve.sigma(t).pow(2).sum(), t)
    torch.testing.assert_close(ve.diffusion(t).detach() ** 2, ds2, rtol=1e-10, atol=0)
    (dls,) = torch.autograd.grad(ve.log_snr(t).sum(), t)
    torch.testing.assert_close(dls, ve.dlog_snr_dt(t.detach()), rtol=1e-10, atol=0)
    # VP linear closed form against quadrature of beta
    sde = dm.VPSDE("linear")
    u = torch.linspace(0, 0.7, 20001, dtype=torch.float64)
    integral = torch.trapezoid(sde.beta(u), u)
    torch.testing.assert_close(sde.log_alpha(torch.tensor([0.7], dtype=torch.float64)),
                               -0.5 * integral.reshape(1), rtol=1e-9, atol=0)


def test_forward_vp_sde_simulation_matches_marginal():
    sde, N, K = dm.VPSDE("linear"), 20_000, 200
    g = torch.Generator().manual_seed(2)
    x = torch.full((N, 1), 2.0, dtype=torch.float64)
    dt = 0.5 / K
    for k in range(K):
        t = torch.full((N,), k * dt, dtype=torch.float64)
        x = x + sde.drift(x, t) * dt + sde.diffusion(t).view(-1, 1) * math.sqrt(dt) * torch.randn(
            x.shape, generator=g, dtype=torch.float64)
    a, sg = sde.marginal(torch.tensor([0.5], dtype=torch.float64))
    assert abs(x.mean().item() - 2 * a.item()) < 4 * sg.item() / math.sqrt(N) + 0.01 * a.item()
    assert abs(x.std().item() - sg.item()) < 0.02


def test_score_eps_conversion_round_trip():
    sde = dm.VPSDE()

    def eps_fn(x, t):
        return x * t.view(-1, 1)

    score = dm.score_fn_from_eps(eps_fn, sde)
    back = dm.eps_fn_from_score(score, sde)
    x = torch.randn(5, 2, dtype=torch.float64)
    t = torch.full((5,), 0.3, dtype=torch.float64)
    _, sg = sde.marginal(t)
    torch.testing.assert_close(score(x, t), -eps_fn(x, t) / sg.view(-1, 1))
    torch.testing.assert_close(back(x, t), eps_fn(x, t))
