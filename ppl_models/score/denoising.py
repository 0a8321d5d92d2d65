r"""Denoising score matching (Vincent, 2011), its noise-conditional form (Song & Ermon, 2019)
and Tweedie's denoiser.

Gaussian perturbation with noise level :math:`\sigma`:
:math:`q_\sigma(\tilde x\mid x) = \mathcal N(\tilde x; x, \sigma^2 I)`, whose marginal is
:math:`p_\sigma(\tilde x) = \int p(x)\,q_\sigma(\tilde x\mid x)\,dx` and whose conditional score
is :math:`\nabla_{\tilde x}\log q_\sigma(\tilde x\mid x) = -(\tilde x - x)/\sigma^2 = -z/\sigma`
for :math:`\tilde x = x + \sigma z`, :math:`z\sim\mathcal N(0, I)`.

The closures are called as ``score_fn(x_tilde, sigma)`` with ``sigma`` a number or a ``(B,)``
tensor, exactly as given (a ladder level per example for :func:`ncsn_loss`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_generator,
    check_reduction,
    check_score_out,
    check_sigma,
    reduce,
    sigma_like,
)
from .ladder import check_ladder

__all__ = ["dsm_loss", "ncsn_loss", "tweedie_denoise"]

ScoreFn = Callable[[torch.Tensor, "float | torch.Tensor"], torch.Tensor]


def _half_sqnorm(v: torch.Tensor) -> torch.Tensor:
    """:math:`\\tfrac12\\|v\\|^2` over every non-batch axis: ``(B, ...) -> (B,)``."""
    return 0.5 * v.flatten(1).pow(2).sum(1)


def dsm_loss(score_fn: ScoreFn, x: torch.Tensor, sigma, *, generator: torch.Generator,
             reduction: str = "mean") -> torch.Tensor:
    r"""Denoising score matching at one noise level :math:`\sigma` (Vincent, 2011).

    .. math::
        J_{\mathrm{DSM}}(\theta;\sigma) = \tfrac12\,\mathbb E_{p(x)}\mathbb E_{z}
        \Big\|s_\theta(x + \sigma z, \sigma) + \frac{z}{\sigma}\Big\|^2 .

    It equals explicit score matching on the perturbed density plus a constant: expanding the
    square, the only term that involves both :math:`\theta` and the noise is
    :math:`\mathbb E_{x,\tilde x}[s_\theta(\tilde x)^\top\nabla_{\tilde x}\log q_\sigma(\tilde x\mid x)]
    = \int s_\theta(\tilde x)^\top \nabla_{\tilde x}\!\int p(x)q_\sigma(\tilde x\mid x)\,dx\,d\tilde x
    = \mathbb E_{p_\sigma}[s_\theta^\top\nabla\log p_\sigma]`, so

    .. math::
        J_{\mathrm{DSM}}(\theta;\sigma) = \tfrac12\,\mathbb E_{p_\sigma}\|s_\theta(\tilde x,\sigma)
        - \nabla\log p_\sigma(\tilde x)\|^2 + \frac{D}{2\sigma^2}
        - \tfrac12\,\mathbb E_{p_\sigma}\|\nabla\log p_\sigma\|^2 ,

    minimised by the score of :math:`p_\sigma`, with no Jacobian and no known score.

    Args:
        score_fn: closure ``score_fn(x_tilde, sigma) -> (B, ...)``.
        x: ``(B, D)`` or ``(B, C, H, W)`` clean samples of :math:`p`.
        sigma: noise level, a number ``> 0`` or a ``(B,)`` tensor of levels ``> 0``.
        generator: draws :math:`z` (shaped like ``x``).
        reduction: ``'mean'`` (scalar) or ``'none'`` (``(B,)``).

    Returns:
        The loss, a scalar or ``(B,)``.
    """
    check_callable(score_fn)
    x = check_batch(x)
    sigma = check_sigma(sigma, x)
    check_generator(generator, x)
    check_reduction(reduction)
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    sig = sigma_like(sigma, x)
    s = check_score_out(score_fn(x + sig * z, sigma), x)
    return reduce(_half_sqnorm(s + z / sig), reduction)


def ncsn_loss(score_fn: ScoreFn, x: torch.Tensor, sigmas: torch.Tensor, *, generator: torch.Generator,
              reduction: str = "mean") -> torch.Tensor:
    r"""Noise-conditional DSM over a ladder with weighting :math:`\lambda(\sigma) = \sigma^2`.

    Song & Ermon (2019) train one network :math:`s_\theta(x, \sigma)` for all levels
    :math:`\sigma_1 > \dots > \sigma_L` with

    .. math::
        \mathcal L(\theta) = \frac1L\sum_{i=1}^L \lambda(\sigma_i)\,J_{\mathrm{DSM}}(\theta;\sigma_i),
        \qquad \lambda(\sigma) = \sigma^2 .

    Since the optimal :math:`\|s(\tilde x,\sigma)\|` scales like :math:`1/\sigma`, the weight
    :math:`\sigma^2` makes every level's term of order one,
    :math:`\sigma^2 J_{\mathrm{DSM}} = \tfrac12\mathbb E\|\sigma s_\theta(\tilde x,\sigma) + z\|^2`,
    so no level dominates the gradient. Each example draws one level uniformly (an unbiased
    estimate of the average over levels), then its noise: first ``B`` level indices, then
    :math:`z` shaped like ``x``, both from ``generator``.

    Args:
        score_fn: closure ``score_fn(x_tilde, sigma) -> (B, ...)``, called with a ``(B,)``
            tensor of levels.
        x: ``(B, D)`` or ``(B, C, H, W)`` clean samples.
        sigmas: ``(L,)`` strictly decreasing positive ladder (e.g. :func:`geometric_sigmas`).
        generator: draws the levels and the noise.
        reduction: ``'mean'`` (scalar) or ``'none'`` (``(B,)``).

    Returns:
        The loss, a scalar or ``(B,)``.
    """
    check_callable(score_fn)
    x = check_batch(x)
    sigmas = check_ladder(sigmas).to(device=x.device, dtype=x.dtype)
    check_generator(generator, x)
    check_reduction(reduction)
    idx = torch.randint(sigmas.shape[0], (x.shape[0],), generator=generator, device=x.device)
    sigma = sigmas[idx]  # (B,)
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    sig = sigma_like(sigma, x)
    s = check_score_out(score_fn(x + sig * z, sigma), x)
    return reduce(_half_sqnorm(sig * s + z), reduction)


def tweedie_denoise(score_fn: ScoreFn, x: torch.Tensor, sigma) -> torch.Tensor:
    r"""Tweedie's formula: the posterior mean of the clean sample, :math:`x + \sigma^2 s(x, \sigma)`.

    Differentiating :math:`p_\sigma(x) = \int p(x_0)\,\mathcal N(x; x_0, \sigma^2 I)\,dx_0` gives
    :math:`\nabla p_\sigma(x) = \int p(x_0)\,\mathcal N(x; x_0,\sigma^2 I)\,\frac{x_0 - x}{\sigma^2}\,dx_0`;
    dividing by :math:`p_\sigma(x)`,

    .. math::
        \mathbb E[x_0\mid x] = x + \sigma^2\,\nabla_x\log p_\sigma(x).

    NCSN's annealed Langevin sampler ends with this step (one extra evaluation).

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``.
        x: ``(B, D)`` or ``(B, C, H, W)`` noisy samples.
        sigma: their noise level, a number ``> 0`` or a ``(B,)`` tensor.

    Returns:
        ``(B, ...)`` denoised samples.
    """
    check_callable(score_fn)
    x = check_batch(x)
    sigma = check_sigma(sigma, x)
    s = check_score_out(score_fn(x, sigma), x)
    return x + sigma_like(sigma, x) ** 2 * s
