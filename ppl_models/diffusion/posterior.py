r"""Conversions between network parameterisations and the Gaussian posteriors of the DDPM chain.

With :math:`x_t = \alpha x_0 + \sigma\epsilon` a network may predict

* ``"eps"``: the noise :math:`\epsilon` (Ho et al. 2020);
* ``"x0"``: the data :math:`x_0`;
* ``"v"``: the velocity :math:`v = \alpha\epsilon - \sigma x_0` (Salimans & Ho 2022).

Given :math:`x_t`, each determines the others:
:math:`\hat x_0 = (x_t - \sigma\hat\epsilon)/\alpha`, and from ``v``
:math:`\hat x_0 = (\alpha x_t - \sigma \hat v)/(\alpha^2+\sigma^2)`,
:math:`\hat\epsilon = (\sigma x_t + \alpha \hat v)/(\alpha^2+\sigma^2)`
(for VP processes :math:`\alpha^2 + \sigma^2 = 1`).
"""

from __future__ import annotations

import torch

from ._checks import bcast, check_choice, check_x
from .schedules import DiscreteSchedule, check_steps

__all__ = ["PREDICTIONS", "VARIANCES", "target", "to_x0", "to_eps", "q_posterior", "p_mean_logvar"]

PREDICTIONS = ("eps", "x0", "v")
VARIANCES = ("beta", "posterior")


def target(x0: torch.Tensor, noise: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
           prediction: str) -> torch.Tensor:
    """The regression target of a parameterisation: ``noise``, ``x0`` or ``alpha*noise - sigma*x0``.

    Args:
        x0, noise: ``(B, ...)``; alpha, sigma: ``(B,)``.
    """
    check_choice(prediction, "prediction", PREDICTIONS)
    if prediction == "eps":
        return noise
    if prediction == "x0":
        return x0
    return bcast(alpha, x0) * noise - bcast(sigma, x0) * x0


def to_x0(pred: torch.Tensor, x_t: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
          prediction: str) -> torch.Tensor:
    r""":math:`\hat x_0` implied by a prediction at :math:`x_t` (formulas in the module docstring)."""
    check_choice(prediction, "prediction", PREDICTIONS)
    a, s = bcast(alpha, x_t), bcast(sigma, x_t)
    if prediction == "eps":
        return (x_t - s * pred) / a
    if prediction == "x0":
        return pred
    return (a * x_t - s * pred) / (a**2 + s**2)


def to_eps(pred: torch.Tensor, x_t: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
           prediction: str) -> torch.Tensor:
    r""":math:`\hat\epsilon` implied by a prediction at :math:`x_t`."""
    check_choice(prediction, "prediction", PREDICTIONS)
    a, s = bcast(alpha, x_t), bcast(sigma, x_t)
    if prediction == "eps":
        return pred
    if prediction == "x0":
        return (x_t - a * pred) / s
    return (s * x_t + a * pred) / (a**2 + s**2)


def _coef(schedule: DiscreteSchedule, n: torch.Tensor, like: torch.Tensor):
    ac = schedule.alphas_cumprod.to(like)
    acp = schedule.alphas_cumprod_prev.to(like)
    b = schedule.betas.to(like)
    return ac[n], acp[n], b[n]


def q_posterior(schedule: DiscreteSchedule, x0: torch.Tensor, x_n: torch.Tensor,
                n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean and variance of :math:`q(x_{n-1} \mid x_n, x_0)` (Ho et al. 2020, eqs. 6-7).

    .. math:: \tilde\mu = \frac{\sqrt{\bar\alpha_{n-1}}\beta_n}{1-\bar\alpha_n} x_0
              + \frac{\sqrt{\alpha_n}(1-\bar\alpha_{n-1})}{1-\bar\alpha_n} x_n, \qquad
              \tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\beta_n,

    with :math:`\bar\alpha_{-1} = 1` (step ``n = 0`` lands on the data, variance 0).

    Args:
        x0, x_n: ``(B, ...)``; n: ``(B,)`` integer steps in ``{0, ..., T-1}``.
    Returns:
        ``(mean, var)``: mean ``(B, ...)``, variance ``(B,)``.
    """
    x_n = check_x(x_n, "x_n")
    n = check_steps(n, schedule.T, x_n.shape[0])
    ac, acp, b = _coef(schedule, n, x_n)
    c0 = acp.sqrt() * b / (1 - ac)
    cn = (1 - b).sqrt() * (1 - acp) / (1 - ac)
    return bcast(c0, x0) * x0 + bcast(cn, x_n) * x_n, (1 - acp) / (1 - ac) * b


def p_mean_logvar(schedule: DiscreteSchedule, eps: torch.Tensor, x_n: torch.Tensor, n: torch.Tensor,
                  variance: str = "posterior") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean and log-variance of the reverse step :math:`p_\theta(x_{n-1} \mid x_n)` from a predicted noise.

    The mean is :math:`\tilde\mu(\hat x_0, x_n)` with
    :math:`\hat x_0 = (x_n - \sqrt{1-\bar\alpha_n}\hat\epsilon)/\sqrt{\bar\alpha_n}`, identical to Ho et al.'s
    :math:`\frac{1}{\sqrt{\alpha_n}}(x_n - \frac{\beta_n}{\sqrt{1-\bar\alpha_n}}\hat\epsilon)`.
    Variance ``"beta"``: :math:`\sigma_n^2 = \beta_n` (``diffusers`` ``fixed_large``); ``"posterior"``:
    :math:`\sigma_n^2 = \tilde\beta_n` (``fixed_small``), except at ``n = 0`` where :math:`\tilde\beta_0 = 0`
    is replaced by :math:`\tilde\beta_1` (the clipped log-variance of Nichol & Dhariwal's code), so the
    decoder :math:`p(x_0 \mid x_1)` keeps a positive width. (Sampling adds no noise at ``n = 0``.)

    Returns:
        ``(mean, logvar)``: mean ``(B, ...)``, log-variance ``(B,)``.
    """
    check_choice(variance, "variance", VARIANCES)
    x_n = check_x(x_n, "x_n")
    n = check_steps(n, schedule.T, x_n.shape[0])
    ac = schedule.alphas_cumprod.to(x_n)[n]
    x0_hat = to_x0(eps, x_n, ac.sqrt(), (1 - ac).sqrt(), "eps")
    mean, _ = q_posterior(schedule, x0_hat, x_n, n)
    if variance == "beta":
        var = schedule.betas.to(x_n)[n]
    else:
        pv = schedule.posterior_variance.to(x_n)
        if schedule.T > 1:
            pv = torch.cat([pv[1:2], pv[1:]])
        else:
            pv = schedule.betas.to(x_n)
        var = pv[n]
    return mean, torch.log(var)
