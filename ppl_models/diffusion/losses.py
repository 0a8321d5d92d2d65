r"""Denoising training losses for eps-, x0- and v-prediction, with their ELBO weights.

A network closure ``model_fn(x_t, t) -> prediction`` (``t`` a ``(B,)`` tensor in ``[0, 1]``) is
trained on :math:`x_t = \alpha(t) x_0 + \sigma(t)\epsilon` to predict the target of its
parameterisation (:mod:`.posterior`). Errors of the three parameterisations at the same
:math:`x_t` are proportional:

.. math:: \|\epsilon - \hat\epsilon\|^2 = \mathrm{SNR}\,\|x_0 - \hat x_0\|^2
          = \frac{\alpha^2}{(\alpha^2+\sigma^2)^2}\|v - \hat v\|^2, \qquad \mathrm{SNR} = \alpha^2/\sigma^2 .

**Continuous time** (Kingma et al. 2021, VDM eq. 17). With :math:`\lambda(t) = \log\mathrm{SNR}(t)`
the diffusion part of the negative ELBO (nats per example) is

.. math:: \mathcal L_\infty(x_0) = -\tfrac12\,\mathbb E_{t\sim U(0,1),\,\epsilon}
          \big[\lambda'(t)\, \|\epsilon - \hat\epsilon(x_t, t)\|^2\big],

so ``weighting="elbo"`` multiplies the *summed* squared error of a prediction by
:math:`w(t) = -\tfrac12\lambda'(t)\cdot c(t)` with
:math:`c = 1,\ \mathrm{SNR},\ \alpha^2/(\alpha^2+\sigma^2)^2` for eps, x0, v (and by the length
of the sampled time interval). ``weighting="simple"`` is the
unweighted *mean* squared error over dimensions (Ho et al.'s :math:`L_\text{simple}`), which is an
ELBO only up to this time-dependent weight.

**Discrete time** (Ho et al. 2020 eq. 12; VDM eq. 13). For integer step ``n >= 1`` and reverse
variance :math:`\tilde\beta_n`, the KL term is
:math:`L_n = \tfrac12(\mathrm{SNR}_{n-1} - \mathrm{SNR}_n)\|x_0 - \hat x_0\|^2`, i.e. for eps-prediction
:math:`\frac{\beta_n}{2\alpha_n(1-\bar\alpha_{n-1})}\|\epsilon-\hat\epsilon\|^2`
(:func:`discrete_elbo_weight`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import bcast, check_choice, check_fraction, check_generator, check_t, check_x
from .posterior import PREDICTIONS, target
from .schedules import DiscreteSchedule, check_steps
from .sde import check_process

__all__ = ["WEIGHTINGS", "elbo_weight", "discrete_elbo_weight", "diffusion_loss", "ddpm_loss"]

WEIGHTINGS = ("simple", "elbo")
ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _conversion(alpha: torch.Tensor, sigma: torch.Tensor, prediction: str) -> torch.Tensor:
    """``c`` with ``||eps err||^2 = c ||pred err||^2`` at fixed ``x_t``."""
    check_choice(prediction, "prediction", PREDICTIONS)
    if prediction == "eps":
        return torch.ones_like(alpha)
    if prediction == "x0":
        return alpha**2 / sigma**2
    return alpha**2 / (alpha**2 + sigma**2) ** 2


def elbo_weight(process, t: torch.Tensor, prediction: str = "eps") -> torch.Tensor:
    r"""``(B,)`` continuous-time ELBO weight :math:`w(t) = -\tfrac12\lambda'(t)\,c(t)` (module docstring)."""
    check_process(process)
    alpha, sigma = process.marginal(check_t(t))
    return -0.5 * process.dlog_snr_dt(t) * _conversion(alpha, sigma, prediction)


def discrete_elbo_weight(schedule: DiscreteSchedule, n: torch.Tensor,
                         prediction: str = "eps") -> torch.Tensor:
    r"""``(B,)`` weight with :math:`L_n = w_n \|\text{pred} - \text{target}\|^2` for steps ``n >= 1``.

    :math:`w_n = \tfrac12(\mathrm{SNR}_{n-1}/\mathrm{SNR}_n - 1)\,c_n` where :math:`c_n` converts the
    prediction's error to the eps error (module docstring); the reverse variance is :math:`\tilde\beta_n`.
    ``n = 0`` is the decoder term, which is not a squared error (see :func:`.vlb.ddpm_vlb`).
    """
    if not isinstance(schedule, DiscreteSchedule):
        raise ValueError("schedule must be a DiscreteSchedule")
    n = check_steps(n, schedule.T)
    if bool((n < 1).any()):
        raise ValueError("n must be >= 1 (n = 0 is the decoder term)")
    snr = torch.exp(schedule.log_snr).to(n.device)
    ratio = snr[n - 1] / snr[n]
    ac = schedule.alphas_cumprod.to(n.device)[n]
    return 0.5 * (ratio - 1) * _conversion(ac.sqrt(), (1 - ac).sqrt(), prediction)


def _loss(model_fn, x0, t, alpha, sigma, noise, prediction, weight):
    x_t = bcast(alpha, x0) * x0 + bcast(sigma, x0) * noise
    pred = model_fn(x_t, t)
    if not torch.is_tensor(pred) or pred.shape != x0.shape:
        raise ValueError(f"model_fn must return a tensor shaped like x0 {tuple(x0.shape)}")
    sq = (pred - target(x0, noise, alpha, sigma, prediction)).pow(2).reshape(x0.shape[0], -1)
    return sq.mean(1) if weight is None else weight * sq.sum(1)


def _noise(noise, x0, generator):
    if noise is None:
        return torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    if not torch.is_tensor(noise) or noise.shape != x0.shape:
        raise ValueError(f"noise must be a tensor shaped like x0 {tuple(x0.shape)}")
    return noise


def diffusion_loss(model_fn: ModelFn, x0: torch.Tensor, process, prediction: str = "eps",
                   weighting: str = "simple", generator: torch.Generator | None = None,
                   t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                   t_min: float = 1e-5, t_max: float = 1.0) -> torch.Tensor:
    r"""Per-example continuous-time denoising loss, ``t ~ U(t_min, t_max)`` unless ``t`` is given.

    ``weighting="elbo"`` returns :math:`(t_{\max}-t_{\min})\,w(t)\|\text{pred}-\text{target}\|^2`,
    an unbiased estimate of
    :math:`-\tfrac12\int_{t_{\min}}^{t_{\max}}\lambda'(t)\,\mathbb E\|\epsilon-\hat\epsilon\|^2 dt`
    in nats (the diffusion term of the VDM bound); ``"simple"`` the mean squared error over dims.

    Args:
        model_fn: ``model_fn(x_t, t) -> (B, ...)`` prediction.
        x0: ``(B, ...)`` data.
        process: a :class:`.VPSDE` / :class:`.VESDE` (``v`` also works for VE) or a
            :class:`.DiscreteSchedule` (interpolated in ``t``).
        generator: draws ``t`` and the noise.
    Returns:
        ``(B,)`` loss.
    """
    x0 = check_x(x0, "x0")
    check_process(process)
    check_choice(prediction, "prediction", PREDICTIONS)
    check_choice(weighting, "weighting", WEIGHTINGS)
    check_generator(generator)
    t_min = check_fraction(t_min, "t_min", 0.0, 1.0)
    t_max = check_fraction(t_max, "t_max", t_min, 1.0, open_low=True)
    if t is None:
        u = torch.rand(x0.shape[0], generator=generator, dtype=x0.dtype, device=x0.device)
        t = t_min + (t_max - t_min) * u
    t = check_t(t, x0.shape[0], low=t_min, high=t_max)
    noise = _noise(noise, x0, generator)
    alpha, sigma = process.marginal(t)
    weight = None
    if weighting == "elbo":
        if not callable(getattr(process, "dlog_snr_dt", None)):
            raise ValueError("process must offer dlog_snr_dt(t) for weighting='elbo' (a VPSDE or VESDE; "
                             "use ddpm_loss for a DiscreteSchedule)")
        weight = (t_max - t_min) * elbo_weight(process, t, prediction)
    return _loss(model_fn, x0, t, alpha, sigma, noise, prediction, weight)


def ddpm_loss(model_fn: ModelFn, x0: torch.Tensor, schedule: DiscreteSchedule, prediction: str = "eps",
              weighting: str = "simple", generator: torch.Generator | None = None,
              n: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    r"""Per-example discrete-time DDPM loss; the network sees ``t = (n + 1) / T``.

    ``weighting="simple"``: ``n ~ U{0..T-1}``, mean squared error over dims (Ho et al. 2020).
    ``weighting="elbo"``: ``n ~ U{1..T-1}`` and :math:`(T-1)\,w_n\|\text{pred}-\text{target}\|^2`, an
    unbiased estimate of :math:`\sum_{n=1}^{T-1} L_n` in nats (:func:`discrete_elbo_weight`; prior and
    decoder terms are in :func:`.vlb.ddpm_vlb`).

    Returns:
        ``(B,)`` loss.
    """
    if not isinstance(schedule, DiscreteSchedule):
        raise ValueError("schedule must be a DiscreteSchedule")
    x0 = check_x(x0, "x0")
    check_choice(prediction, "prediction", PREDICTIONS)
    check_choice(weighting, "weighting", WEIGHTINGS)
    check_generator(generator)
    T, B = schedule.T, x0.shape[0]
    low = 1 if weighting == "elbo" else 0
    if weighting == "elbo" and T < 2:
        raise ValueError("weighting='elbo' needs a schedule with T >= 2")
    if n is None:
        n = torch.randint(low, T, (B,), generator=generator, device=x0.device)
    n = check_steps(n, T, B)
    if bool((n < low).any()):
        raise ValueError("n must be >= 1 with weighting='elbo'")
    noise = _noise(noise, x0, generator)
    ac = schedule.alphas_cumprod.to(x0)[n]
    t = (n.to(x0.dtype) + 1) / T
    weight = None
    if weighting == "elbo":
        weight = (T - 1) * discrete_elbo_weight(schedule, n, prediction).to(x0)
    return _loss(model_fn, x0, t, ac.sqrt(), (1 - ac).sqrt(), noise, prediction, weight)
