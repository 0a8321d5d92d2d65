r"""The full DDPM variational bound in nats per image, with a discrete decoder.

For data :math:`x_0` scaled to ``[-1, 1]`` with ``levels`` evenly spaced values, Ho et al. (2020,
eq. 5) bound the negative log-likelihood of the *discrete* image by

.. math:: -\log p_\theta(x_0) \le
   \underbrace{D_{KL}(q(x_T \mid x_0) \,\|\, \mathcal N(0, I))}_{L_T}
   + \sum_{k=2}^{T} \underbrace{\mathbb E_q D_{KL}(q(x_{k-1}|x_k, x_0) \| p_\theta(x_{k-1}|x_k))}_{L_{k-1}}
   \underbrace{-\ \mathbb E_q \log p_\theta(x_0 \mid x_1)}_{L_0},

in Ho's 1-based indexing (``k = n + 1`` for this package's integer step ``n``). The decoder
:math:`p_\theta(x_0 \mid x_1)` (Ho et al. eq. 13) integrates the Gaussian
:math:`\mathcal N(\mu_\theta(x_1), \sigma_1^2)` over each pixel's bin
:math:`[x - \tfrac{1}{L-1}, x + \tfrac{1}{L-1}]` (``L = levels``), with the outermost bins extended
to :math:`\pm\infty`; it is a probability mass function over the ``L`` values, so the bound is a true
bound on the NLL of discrete images with **no dequantisation offset**: bits/dim is simply
``total / (D ln 2)``. ``levels=2`` gives the binary decoder (:math:`x \in \{-1, 1\}`,
:math:`p(x = 1) = \Phi(\mu/\sigma)`).

Each of the ``T`` terms is evaluated at one draw :math:`x_n \sim q(x_n \mid x_0)` (so ``T`` network
evaluations per batch): an unbiased estimate of every expectation, exact in the sum over terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from ._checks import check_choice, check_generator, check_int, check_x
from .posterior import VARIANCES, p_mean_logvar, q_posterior
from .schedules import DiscreteSchedule

__all__ = ["VLB", "gaussian_kl", "discretized_gaussian_log_likelihood", "ddpm_vlb"]


class VLB(NamedTuple):
    """Terms of the DDPM bound, nats per image (``B`` images, ``T`` steps)."""

    total: torch.Tensor     # (B,) the bound on -log p(x0)
    prior: torch.Tensor     # (B,) L_T = KL(q(x_T | x0) || N(0, I))
    kl: torch.Tensor        # (B, T-1) L_k for integer steps n = k = 1..T-1 (Ho's L_1..L_{T-1})
    decoder: torch.Tensor   # (B,) L_0 = -log p(x0 | x_1), discrete
    bits_per_dim: torch.Tensor  # (B,) total / (D ln 2)
    nfe: int                # network evaluations (= T)


def gaussian_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor,
                logvar2: torch.Tensor) -> torch.Tensor:
    r"""Elementwise :math:`D_{KL}(\mathcal N(\mu_1, e^{v_1}) \| \mathcal N(\mu_2, e^{v_2}))` (broadcasting).

    .. math:: \tfrac12\big(v_2 - v_1 + e^{v_1 - v_2} + (\mu_1-\mu_2)^2 e^{-v_2} - 1\big)
    """
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1.0)


def _log_diff_ndtr(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``log(Phi(hi) - Phi(lo))`` for ``lo < hi``, stable in both tails."""
    flip = lo > 0
    lo, hi = torch.where(flip, -hi, lo), torch.where(flip, -lo, hi)
    lh, ll = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    d = ll - lh
    log1mexp = torch.where(d > -math.log(2), torch.log(-torch.expm1(d)), torch.log1p(-torch.exp(d)))
    return lh + log1mexp


def _check_grid(x: torch.Tensor, levels: int, name: str) -> torch.Tensor:
    k = (x + 1) * (levels - 1) / 2
    if bool((k < -1e-6).any()) or bool((k > levels - 1 + 1e-6).any()) or bool(
            ((k - torch.round(k)).abs() > 1e-4).any()):
        raise ValueError(f"{name} must take the {levels} values -1 + 2 i / {levels - 1} (data in [-1, 1])")
    return torch.round(k)


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                        levels: int = 256) -> torch.Tensor:
    r"""Elementwise log-mass of a Gaussian integrated over the pixel bin of ``x`` (Ho et al. eq. 13).

    .. math:: \log \int_{\delta_-(x)}^{\delta_+(x)} \mathcal N(u; \mu, s^2)\,du, \quad
       \delta_\pm(x) = x \pm \tfrac{1}{L-1}\ \text{(} \pm\infty \text{ at } x = \pm 1\text{)}.

    Args:
        x: data on the grid ``-1 + 2 i / (levels - 1)``, any shape.
        mean, log_scale: broadcastable to ``x`` (``log_scale`` = log standard deviation).
        levels: number of values per pixel (256 for 8-bit images, 2 for binary).
    Returns:
        Tensor shaped like ``x``: log-probabilities, which sum to 1 in probability over the levels.
    """
    levels = check_int(levels, "levels", low=2)
    if not torch.is_tensor(x) or not torch.is_floating_point(x) or not bool(torch.isfinite(x).all()):
        raise ValueError("x must be a finite floating-point tensor")
    k = _check_grid(x, levels, "x")
    h = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    z_lo, z_hi = (x - h - mean) * inv_s, (x + h - mean) * inv_s
    mid = _log_diff_ndtr(z_lo, z_hi)
    low_edge = torch.special.log_ndtr(z_hi)
    high_edge = torch.special.log_ndtr(-z_lo)
    return torch.where(k <= 0, low_edge, torch.where(k >= levels - 1, high_edge, mid))


def _sum(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(v.shape[0], -1).sum(1)


def ddpm_vlb(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor,
             schedule: DiscreteSchedule, variance: str = "posterior", levels: int = 256,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> VLB:
    r"""All ``T + 1`` terms of the DDPM bound for a batch of discrete images (module docstring).

    Args:
        eps_fn: ``eps_fn(x_n, t) -> (B, ...)``, called at ``t = (n + 1) / T``.
        x0: ``(B, ...)`` data on the ``levels``-value grid in ``[-1, 1]``.
        schedule: the DDPM schedule.
        variance: reverse-step variance, ``"beta"`` or ``"posterior"`` (see :func:`.posterior.p_mean_logvar`).
        levels: values per pixel (256, or 2 for binary data).
        generator: draws the ``x_n``; or pass ``noise`` of shape ``(T, B, ...)`` explicitly.
    Returns:
        :class:`VLB` with the terms in nats per image.
    """
    x0 = check_x(x0, "x0")
    if not isinstance(schedule, DiscreteSchedule):
        raise ValueError("schedule must be a DiscreteSchedule")
    check_choice(variance, "variance", VARIANCES)
    levels = check_int(levels, "levels", low=2)
    _check_grid(x0, levels, "x0")
    check_generator(generator)
    T, B = schedule.T, x0.shape[0]
    if noise is None:
        noise = torch.randn((T, *x0.shape), generator=generator, dtype=x0.dtype, device=x0.device)
    elif not torch.is_tensor(noise) or noise.shape != (T, *x0.shape):
        raise ValueError(f"noise must have shape (T, *x0.shape) = {(T, *x0.shape)}")
    ac_last = schedule.alphas_cumprod[-1].to(x0)
    zero = torch.zeros((), dtype=x0.dtype, device=x0.device)
    prior = _sum(gaussian_kl(ac_last.sqrt() * x0, torch.log(1 - ac_last), zero, zero))
    kl = torch.zeros(B, T - 1, dtype=x0.dtype, device=x0.device)
    decoder = torch.zeros(B, dtype=x0.dtype, device=x0.device)
    for step in range(T):
        n = torch.full((B,), step, dtype=torch.long, device=x0.device)
        x_n = schedule.add_noise(x0, n, noise[step])
        eps = eps_fn(x_n, (n.to(x0.dtype) + 1) / T)
        if not torch.is_tensor(eps) or eps.shape != x0.shape:
            raise ValueError(f"eps_fn must return a tensor shaped like x0 {tuple(x0.shape)}")
        mean, logvar = p_mean_logvar(schedule, eps, x_n, n, variance)
        lv = logvar.reshape(-1, *[1] * (x0.ndim - 1))
        if step == 0:
            decoder = -_sum(discretized_gaussian_log_likelihood(x0, mean, 0.5 * lv, levels))
        else:
            q_mean, q_var = q_posterior(schedule, x0, x_n, n)
            q_lv = torch.log(q_var).reshape(-1, *[1] * (x0.ndim - 1))
            kl[:, step - 1] = _sum(gaussian_kl(q_mean, q_lv, mean, lv))
    total = prior + kl.sum(1) + decoder
    d = x0[0].numel()
    return VLB(total, prior, kl, decoder, total / (d * math.log(2)), T)
