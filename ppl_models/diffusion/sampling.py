r"""Samplers joined to a model by one closure, ``eps_fn(x, t)`` or ``score_fn(x, t)`` (``t``: ``(B,)``).

Every sampler starts from a given ``x_T`` (draw it with ``process.prior_sample(shape, generator)``
or ``torch.randn``), uses an explicit ``generator`` for its own noise, and returns
``Samples(samples, nfe)``: NFE counts calls of the closure (a guided closure from
:func:`.guidance.guided_eps_fn` is one call on a doubled batch).

* :func:`ddpm_sample` - ancestral sampling of the discrete chain (Ho et al. 2020, Algorithm 2).
* :func:`ddim_sample` - DDIM (Song, Meng & Ermon 2021) with ``eta`` on any decreasing time grid;
  ``eta = 0`` is deterministic (a first-order solver of the probability-flow ODE), ``eta = 1`` on the
  full grid is ancestral DDPM with posterior variance. Grids: :func:`ddim_times` (integer
  subsequences, ``"leading"``/``"trailing"``/``"linspace"``) or :func:`uniform_times`.
* :func:`euler_maruyama_sample` - the reverse SDE :math:`dx = [f - g^2\nabla\log p_t]dt + g\,d\bar w`.
* :func:`pc_sample` - predictor-corrector (Song et al. 2021): Langevin corrector with
  signal-to-noise ratio ``snr`` followed by an Euler-Maruyama predictor at each time.
* :func:`probability_flow_sample` - the probability-flow ODE (Heun, RK4, or adaptive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ._checks import bcast, check_choice, check_fraction, check_generator, check_int, check_x
from .ode import ODE_METHODS, integrate, probability_flow_drift
from .posterior import VARIANCES, p_mean_logvar
from .schedules import DiscreteSchedule, check_steps, timesteps
from .sde import check_process

__all__ = ["Samples", "ddpm_step", "ddpm_sample", "ddim_step", "ddim_sample", "ddim_times", "uniform_times",
           "euler_maruyama_sample", "pc_sample", "probability_flow_sample"]

TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Samples(NamedTuple):
    """Output of every sampler."""

    samples: torch.Tensor   # (B, ...) final samples
    nfe: int                # number of eps_fn / score_fn calls


def _call(fn: TensorFn, x: torch.Tensor, t: torch.Tensor, name: str) -> torch.Tensor:
    out = fn(x, t)
    if not torch.is_tensor(out) or out.shape != x.shape:
        raise ValueError(f"{name} must return a tensor shaped like x {tuple(x.shape)}")
    return out


def _tvec(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)


def ddpm_step(eps: torch.Tensor, x: torch.Tensor, n: torch.Tensor, schedule: DiscreteSchedule,
              noise: torch.Tensor, variance: str = "posterior") -> torch.Tensor:
    r"""One ancestral step :math:`x_{n-1} = \mu_\theta(x_n, \hat\epsilon) + \sigma_n z` (no noise at n = 0).

    Args:
        eps: ``(B, ...)`` predicted noise at ``x``; x: ``(B, ...)`` current state at step ``n``.
        n: ``(B,)`` integer steps; noise: standard normal, shaped like ``x``.
        variance: ``"posterior"`` (:math:`\tilde\beta_n`, ``diffusers`` ``fixed_small``) or ``"beta"``.
    Returns:
        ``(B, ...)`` state at step ``n - 1`` (the data when ``n = 0``).
    """
    x = check_x(x, "x")
    n = check_steps(n, schedule.T, x.shape[0])
    mean, logvar = p_mean_logvar(schedule, eps, x, n, variance)
    std = torch.where(n > 0, torch.exp(0.5 * logvar), torch.zeros_like(logvar))
    return mean + bcast(std, x) * noise


def ddpm_sample(eps_fn: TensorFn, schedule: DiscreteSchedule, x_T: torch.Tensor,
                generator: torch.Generator | None = None, variance: str = "posterior") -> Samples:
    """Ancestral DDPM sampling over all ``T`` steps, ``eps_fn`` called at ``t = (n + 1) / T``; NFE = T."""
    x = check_x(x_T, "x_T")
    if not isinstance(schedule, DiscreteSchedule):
        raise ValueError("schedule must be a DiscreteSchedule")
    check_choice(variance, "variance", VARIANCES)
    check_generator(generator)
    T = schedule.T
    for step in range(T - 1, -1, -1):
        n = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        eps = _call(eps_fn, x, _tvec((step + 1) / T, x), "eps_fn")
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = ddpm_step(eps, x, n, schedule, noise, variance)
    return Samples(x, T)


def ddim_step(eps: torch.Tensor, x: torch.Tensor, alpha_t: torch.Tensor, sigma_t: torch.Tensor,
              alpha_s: torch.Tensor, sigma_s: torch.Tensor, eta: float = 0.0,
              noise: torch.Tensor | None = None, clip_x0: float | None = None) -> torch.Tensor:
    r"""One DDIM step from time ``t`` to an earlier time ``s`` (Song et al. 2021, eq. 12).

    .. math:: x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - c^2}\,\hat\epsilon + c\,z, \quad
              c^2 = \eta^2\frac{\sigma_s^2}{\sigma_t^2}
              \Big(\sigma_t^2 - \frac{\alpha_t^2}{\alpha_s^2}\sigma_s^2\Big),

    :math:`\hat x_0 = (x - \sigma_t\hat\epsilon)/\alpha_t`. For VP processes :math:`c^2` is
    ``diffusers``' :math:`\eta^2\frac{1-\bar\alpha_s}{1-\bar\alpha_t}(1-\bar\alpha_t/\bar\alpha_s)`.

    Args:
        eps, x: ``(B, ...)``; alpha_t, sigma_t, alpha_s, sigma_s: ``(B,)``.
        eta: ``>= 0``; noise: standard normal shaped like ``x`` (needed when ``eta > 0``).
        clip_x0: ``None`` (the default: the step as derived) or a bound ``c > 0``: clamp
            :math:`\hat x_0` to ``[-c, c]`` before stepping and keep :math:`\hat\epsilon`
            (``diffusers``' ``clip_sample=True``). A clipped step no longer follows the
            probability-flow ODE; use it as a diagnostic or a sampler, never in a likelihood.
    """
    eta = check_fraction(eta, "eta", 0.0, 1e6)
    if clip_x0 is not None:
        clip_x0 = check_fraction(clip_x0, "clip_x0", 0.0, 1e6, open_low=True)
    a_t, s_t, a_s, s_s = (bcast(v, x) for v in (alpha_t, sigma_t, alpha_s, sigma_s))
    x0_hat = (x - s_t * eps) / a_t
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
    c2 = eta**2 * (s_s**2 / s_t**2) * (s_t**2 - (a_t / a_s) ** 2 * s_s**2)
    c2 = torch.clamp(c2, min=0.0)
    out = a_s * x0_hat + torch.sqrt(torch.clamp(s_s**2 - c2, min=0.0)) * eps
    if eta > 0:
        if noise is None or noise.shape != x.shape:
            raise ValueError("noise shaped like x is needed when eta > 0")
        out = out + torch.sqrt(c2) * noise
    return out


def ddim_times(T: int, steps: int, spacing: str = "leading") -> torch.Tensor:
    """``(steps + 1,)`` float64 times ``(n + 1) / T`` of :func:`.schedules.timesteps`, then 0 (the data).

    Each DDIM step goes to the *next element* of this grid. ``diffusers``' ``DDIMScheduler`` instead
    always steps to ``n - T // steps``, which is the same for ``"leading"`` spacing but not, in
    general, for ``"trailing"`` or ``"linspace"``.
    """
    n = timesteps(T, steps, spacing)
    return torch.cat([(n.to(torch.float64) + 1) / T,
                      torch.zeros(1, dtype=torch.float64)])  # device-free: a CPU time grid


def uniform_times(steps: int, t_max: float = 1.0, t_min: float = 0.0) -> torch.Tensor:
    """``(steps + 1,)`` float64 times evenly spaced from ``t_max`` down to ``t_min``."""
    steps = check_int(steps, "steps", low=1)
    t_max = check_fraction(t_max, "t_max", 0.0, 1.0, open_low=True)
    t_min = check_fraction(t_min, "t_min", 0.0, t_max, open_high=True)
    return torch.linspace(t_max, t_min, steps + 1, dtype=torch.float64)  # device-free: a CPU time grid


def _check_times(times) -> torch.Tensor:
    if (not torch.is_tensor(times) or times.ndim != 1 or times.numel() < 2
            or not torch.is_floating_point(times)):
        raise ValueError("times must be a 1-D floating-point tensor with at least 2 entries")
    if bool((times < 0).any()) or bool((times > 1).any()) or bool((times[1:] >= times[:-1]).any()):
        raise ValueError("times must be strictly decreasing and lie in [0, 1]")
    return times


def ddim_sample(eps_fn: TensorFn, process, x_T: torch.Tensor, times: torch.Tensor, eta: float = 0.0,
                generator: torch.Generator | None = None, clip_x0: float | None = None) -> Samples:
    r"""DDIM from ``times[0]`` down to ``times[-1]``; NFE = ``len(times) - 1``.

    Args:
        eps_fn: ``eps_fn(x, t)``.
        process: anything with ``marginal(t)`` (:class:`.DiscreteSchedule`, :class:`.VPSDE`, :class:`.VESDE`).
        x_T: ``(B, ...)`` start at ``times[0]``.
        times: strictly decreasing grid, e.g. :func:`ddim_times` (ends at 0: the last step returns
            :math:`\hat x_0`, ``diffusers``' ``set_alpha_to_one=True``) or :func:`uniform_times`.
        eta: 0 deterministic, 1 ancestral.
        clip_x0: ``None`` or a bound passed to every :func:`ddim_step` (clamps :math:`\hat x_0`).
    """
    x = check_x(x_T, "x_T")
    check_process(process)
    times = _check_times(times)
    eta = check_fraction(eta, "eta", 0.0, 1e6)
    check_generator(generator)
    if clip_x0 is not None:
        clip_x0 = check_fraction(clip_x0, "clip_x0", 0.0, 1e6, open_low=True)
    for i in range(times.numel() - 1):
        t, s = _tvec(times[i], x), _tvec(times[i + 1], x)
        a_t, s_t = process.marginal(t)
        a_s, s_s = process.marginal(s)
        eps = _call(eps_fn, x, t, "eps_fn")
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device) if eta > 0 else None
        x = ddim_step(eps, x, a_t, s_t, a_s, s_s, eta, noise, clip_x0)
    return Samples(x, times.numel() - 1)


def _check_sde_args(score_fn, sde, x_T, steps, t_max, t_min, generator):
    if not callable(score_fn):
        raise ValueError("score_fn must be callable as score_fn(x, t)")
    x = check_x(x_T, "x_T")
    for attr in ("drift", "diffusion"):
        if not callable(getattr(sde, attr, None)):
            raise ValueError(f"sde must offer {attr}() (a VPSDE or VESDE)")
    check_generator(generator)
    return x, uniform_times(steps, t_max, t_min)


def _em_step(score_fn, sde, x, t, dt, noise):
    """Reverse-time Euler-Maruyama step over ``dt < 0``; returns (new x, its noise-free mean)."""
    g = bcast(sde.diffusion(t), x)
    drift = sde.drift(x, t) - g**2 * _call(score_fn, x, t, "score_fn")
    mean = x + drift * dt
    return mean + g * (-dt) ** 0.5 * noise, mean


def euler_maruyama_sample(score_fn: TensorFn, sde, x_T: torch.Tensor, steps: int = 1000,
                          generator: torch.Generator | None = None, t_max: float = 1.0, t_min: float = 1e-3,
                          denoise: bool = True) -> Samples:
    r"""Euler-Maruyama on the reverse SDE from ``t_max`` to ``t_min`` on a uniform grid; NFE = ``steps``.

    ``denoise=True`` drops the noise of the last step (Song et al.'s final denoising step).
    """
    x, times = _check_sde_args(score_fn, sde, x_T, steps, t_max, t_min, generator)
    for i in range(steps):
        t, dt = _tvec(times[i], x), float(times[i + 1] - times[i])
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x, mean = _em_step(score_fn, sde, x, t, dt, z)
    return Samples(mean if denoise else x, steps)


def _langevin(score_fn, x, t, snr, generator):
    r"""Langevin corrector :math:`x + \epsilon s + \sqrt{2\epsilon}z` (step from batch-mean norms)."""
    s = _call(score_fn, x, t, "score_fn")
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    s_norm = s.reshape(x.shape[0], -1).norm(dim=1).mean().clamp_min(1e-30)
    z_norm = z.reshape(x.shape[0], -1).norm(dim=1).mean()
    step = 2 * (snr * z_norm / s_norm) ** 2
    return x + step * s + torch.sqrt(2 * step) * z


def pc_sample(score_fn: TensorFn, sde, x_T: torch.Tensor, steps: int = 1000, snr: float = 0.16,
              n_corrector: int = 1, generator: torch.Generator | None = None, t_max: float = 1.0,
              t_min: float = 1e-3, denoise: bool = True) -> Samples:
    r"""Predictor-corrector sampling; NFE = ``steps * (n_corrector + 1)``.

    At each grid time: ``n_corrector`` Langevin steps with step size
    :math:`\epsilon = 2(r\|z\|/\|\nabla\log p_t\|)^2` (Song et al. 2021, Algorithm 4/5; as in their
    code the norms are averaged over the batch, so the step is shared by the batch; without the VP
    factor :math:`\alpha_i`), then one Euler-Maruyama predictor step. Per-sample norms fail in low
    dimension, where the score vanishes at every mode's centre and the step explodes.
    """
    x, times = _check_sde_args(score_fn, sde, x_T, steps, t_max, t_min, generator)
    snr = check_fraction(snr, "snr", 0.0, 1e3, open_low=True)
    n_corrector = check_int(n_corrector, "n_corrector", low=0)
    for i in range(steps):
        t, dt = _tvec(times[i], x), float(times[i + 1] - times[i])
        for _ in range(n_corrector):
            x = _langevin(score_fn, x, t, snr, generator)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x, mean = _em_step(score_fn, sde, x, t, dt, z)
    return Samples(mean if denoise else x, steps * (n_corrector + 1))


def probability_flow_sample(score_fn: TensorFn, sde, x_T: torch.Tensor, steps: int = 100,
                            method: str = "heun", t_max: float = 1.0, t_min: float = 1e-3, rtol: float = 1e-5,
                            atol: float = 1e-5) -> Samples:
    r"""Solve the probability-flow ODE :math:`dx/dt = f - \tfrac12 g^2\nabla\log p_t` from t_max to t_min.

    ``method``: ``"euler"`` (NFE = steps), ``"heun"`` (2 steps), ``"rk4"`` (4 steps) or ``"adaptive"``
    (``torchdiffeq`` dopri5 with ``rtol``/``atol``; NFE counted).
    """
    x, _ = _check_sde_args(score_fn, sde, x_T, steps, t_max, t_min, None)
    check_choice(method, "method", ODE_METHODS)
    if t_min >= t_max:
        raise ValueError(f"t_min must be < t_max, got {t_min} >= {t_max}")
    v = probability_flow_drift(score_fn, sde)
    (x,), nfe = integrate(lambda s, t: (v(s[0], t),), (x,), t_max, t_min, steps, method, rtol, atol)
    return Samples(x, nfe)

