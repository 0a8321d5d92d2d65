r"""Langevin samplers driven by a score: single-level and annealed (NCSN).

Both use the update of Song & Ermon (2019),

.. math::
    x_{t+1} = x_t + \frac{\alpha}{2}\,s(x_t, \sigma) + \sqrt{\alpha}\,z_t,
    \qquad z_t \sim \mathcal N(0, I),

the Euler-Maruyama step of the Langevin diffusion
:math:`dx = \tfrac12\nabla\log p(x)\,dt + dW`, whose stationary law is :math:`p` (exactly as
:math:`\alpha\to0` and the number of steps :math:`\to\infty`). It is the unadjusted Langevin
algorithm of :func:`ppl_models.ebm.ula` at temperature 1 (step :math:`\epsilon = \alpha`),
which runs every level here, so the course has one Langevin update. With the step written
:math:`\alpha/2` the values of :math:`\epsilon` in the NCSN paper carry over unchanged.

Samplers return the samples and the number of score evaluations (NFE). They run without
gradients (as :func:`~ppl_models.ebm.ula` does), so ``score_fn`` must compute the score in
closed form or with a network, not by autograd of an energy (use ``ula(log_prob_fn=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..ebm.langevin import LangevinResult, ula
from ._checks import check_batch, check_callable, check_generator, check_int, check_positive
from .denoising import tweedie_denoise
from .ladder import check_ladder

__all__ = ["langevin", "annealed_langevin", "AnnealedLangevinResult"]

ScoreFn = Callable[[torch.Tensor, "float | torch.Tensor"], torch.Tensor]


class AnnealedLangevinResult(NamedTuple):
    """Output of :func:`annealed_langevin`."""

    samples: torch.Tensor  # (B, ...) final samples (denoised when asked)
    nfe: int  # score evaluations, the denoising step included
    snapshots: torch.Tensor | None  # (L, B, ...) state at the end of each level, or None


def _at_level(score_fn: ScoreFn, sigma) -> Callable[[torch.Tensor], torch.Tensor]:
    """The one-argument score ``x -> score_fn(x, sigma)`` that :func:`~ppl_models.ebm.ula` takes."""
    return lambda x: score_fn(x, sigma)


def langevin(score_fn: ScoreFn, x_init: torch.Tensor, *, step: float, n_steps: int,
             generator: torch.Generator, sigma: float = 0.0) -> LangevinResult:
    r"""Unadjusted Langevin dynamics with a fixed step at one noise level.

    .. math::
        x_{t+1} = x_t + \frac{\alpha}{2}\,s(x_t,\sigma) + \sqrt{\alpha}\,z_t,\qquad t = 0,\dots,T-1.

    On a multimodal density with small :math:`\alpha` the chains stay in the basin they start
    in: crossing a low-density gap takes a time exponential in its depth, so the fraction of
    chains per mode reflects the initialisation, not the mixture weights (the failure that
    annealing fixes; see :func:`annealed_langevin`).

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``, called with ``sigma`` as given.
        x_init: ``(B, D)`` or ``(B, C, H, W)`` starting points.
        step: :math:`\alpha > 0`.
        n_steps: :math:`T \ge 1`.
        generator: draws the noise.
        sigma: the level passed to the closure (``>= 0``; ``0`` for the data score).

    Returns:
        :class:`~ppl_models.ebm.LangevinResult` (``samples`` ``(B, ...)``, ``nfe = T``,
        ``acceptance_rate = 1``, ``chain = None``).
    """
    check_callable(score_fn)
    x = check_batch(x_init, "x_init")
    alpha = check_positive(step, "step")
    n_steps = check_int(n_steps, "n_steps", low=1)
    check_generator(generator, x)
    sigma = check_positive(sigma, "sigma", allow_zero=True)
    return ula(x, n_steps, alpha, generator=generator, score_fn=_at_level(score_fn, sigma))


def annealed_langevin(score_fn: ScoreFn, x_init: torch.Tensor, sigmas: torch.Tensor, *, eps: float,
                      n_steps_each: int, generator: torch.Generator, denoise: bool = True,
                      return_snapshots: bool = False) -> AnnealedLangevinResult:
    r"""Annealed Langevin dynamics (Song & Ermon, 2019, Algorithm 1) with a final Tweedie step.

    For :math:`i = 1, \dots, L` (from the largest level down) run :math:`T` Langevin steps on
    :math:`p_{\sigma_i}` with step

    .. math::
        \alpha_i = \epsilon\,\frac{\sigma_i^2}{\sigma_L^2},

    starting from where level :math:`i-1` ended. Since the score's size scales like
    :math:`1/\sigma_i`, scaling :math:`\alpha_i \propto \sigma_i^2` keeps the signal-to-noise
    ratio of an update,
    :math:`\|\tfrac{\alpha_i}{2}s\| / \|\sqrt{\alpha_i}z\| \propto \sqrt{\alpha_i}\,\|s\|
    \propto \sqrt{\alpha_i}/\sigma_i`, the same at every level. At large :math:`\sigma` the
    perturbed modes overlap, so chains move between them and settle in proportion to the
    mixture weights; the later levels mostly sharpen each mode. With ``denoise`` the samples
    end with Tweedie's step :math:`x + \sigma_L^2 s(x, \sigma_L)` (Jolicoeur-Martineau et al.,
    2021), removing the residual noise of level :math:`L`.

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``, called with a ``(B,)`` tensor of
            the current level.
        x_init: ``(B, D)`` or ``(B, C, H, W)`` starting points (e.g. uniform noise).
        sigmas: ``(L,)`` strictly decreasing positive ladder (:func:`geometric_sigmas`).
        eps: base step :math:`\epsilon > 0` (the step at the last level).
        n_steps_each: :math:`T \ge 1` steps per level.
        generator: draws the noise.
        denoise: end with the Tweedie step (one more evaluation).
        return_snapshots: also return the state at the end of each level.

    Returns:
        :class:`AnnealedLangevinResult` ``(samples, nfe = L T (+1), snapshots (L, B, ...) or None)``.
    """
    check_callable(score_fn)
    x = check_batch(x_init, "x_init")
    sigmas = check_ladder(sigmas).to(device=x.device, dtype=x.dtype)
    eps = check_positive(eps, "eps")
    n_steps = check_int(n_steps_each, "n_steps_each", low=1)
    check_generator(generator, x)
    x = x.detach()
    snapshots = []
    sigma_last = float(sigmas[-1])
    for sigma_i in sigmas.tolist():
        level = torch.full((x.shape[0],), sigma_i, device=x.device, dtype=x.dtype)  # (B,)
        alpha = eps * sigma_i ** 2 / sigma_last ** 2
        x = ula(x, n_steps, alpha, generator=generator, score_fn=_at_level(score_fn, level)).samples
        if return_snapshots:
            snapshots.append(x)
    nfe = sigmas.shape[0] * n_steps
    if denoise:
        level = torch.full((x.shape[0],), sigma_last, device=x.device, dtype=x.dtype)
        with torch.no_grad():
            x = tweedie_denoise(score_fn, x, level)
        nfe += 1
    return AnnealedLangevinResult(x, nfe, torch.stack(snapshots) if return_snapshots else None)
