r"""DDPM chains on any increasing time grid of a continuous process ("respacing").

For times :math:`0 < \tau_0 < \dots < \tau_{K-1} \le 1` of a process with marginal mean coefficient
:math:`\alpha(t)`, the discrete chain with

.. math:: \bar\alpha_i = \alpha(\tau_i)^2, \qquad \beta_i = 1 - \bar\alpha_i/\bar\alpha_{i-1}
          \quad (\bar\alpha_{-1} = 1)

has exactly the process's marginals on the grid (Nichol & Dhariwal 2021, section 4: sampling a
model trained with ``T`` steps in ``K < T`` steps). :func:`schedule_at` builds it;
:func:`ddpm_sample_at` runs ancestral DDPM on it with the network queried at the true times
:math:`\tau_i`. With the posterior variance this is DDIM with ``eta = 1`` on the same grid;
with ``variance="beta"`` it is Ho et al.'s larger-variance sampler (the DDIM paper's
:math:`\hat\sigma` row).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_choice, check_generator, check_x
from .posterior import VARIANCES
from .sampling import Samples, ddpm_sample
from .schedules import DiscreteSchedule
from .sde import check_process

__all__ = ["schedule_at", "ddpm_sample_at"]


def _check_grid(times) -> torch.Tensor:
    if (not torch.is_tensor(times) or times.ndim != 1 or times.numel() < 1
            or not torch.is_floating_point(times)):
        raise ValueError("times must be a non-empty 1-D floating-point tensor")
    if bool((times <= 0).any()) or bool((times > 1).any()) or bool((times[1:] <= times[:-1]).any()):
        raise ValueError("times must be strictly increasing and lie in (0, 1]")
    return times


def schedule_at(process, times: torch.Tensor) -> DiscreteSchedule:
    r"""The :class:`.DiscreteSchedule` whose step ``i`` has :math:`\bar\alpha_i = \alpha(\tau_i)^2`.

    Args:
        process: anything with ``marginal(t)`` (a :class:`.VPSDE` or a :class:`.DiscreteSchedule`).
        times: ``(K,)`` strictly increasing times in ``(0, 1]``.
    Returns:
        A schedule with ``K`` steps (float64).
    """
    check_process(process)
    times = _check_grid(times).to(torch.float64)
    alpha, _ = process.marginal(times)
    ac = alpha.to(torch.float64) ** 2
    prev = torch.cat([torch.ones(1, dtype=ac.dtype, device=ac.device), ac[:-1]])
    return DiscreteSchedule(1.0 - ac / prev)


def ddpm_sample_at(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], process,
                   x_T: torch.Tensor, times: torch.Tensor, generator: torch.Generator | None = None,
                   variance: str = "beta") -> Samples:
    r"""Ancestral DDPM on the grid ``times`` (increasing), the network called at :math:`\tau_i`; NFE = K.

    Args:
        eps_fn: ``eps_fn(x, t)`` of the model trained on ``process``.
        process: the process the model was trained on.
        x_T: ``(B, ...)`` start at ``times[-1]``.
        times: ``(K,)`` strictly increasing grid, e.g. ``ddim_times(T, K)[:-1].flip(0)``.
        variance: ``"beta"`` (:math:`\beta_i`) or ``"posterior"`` (:math:`\tilde\beta_i`).
    """
    x = check_x(x_T, "x_T")
    check_choice(variance, "variance", VARIANCES)
    check_generator(generator)
    sched = schedule_at(process, times)
    grid = times.to(torch.float64)
    K = sched.T

    def eps_at(xs: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        i = torch.round(s.to(torch.float64) * K).long() - 1  # ddpm_sample queries s = (i + 1) / K
        return eps_fn(xs, grid.to(xs.device)[i].to(xs.dtype))

    return ddpm_sample(eps_at, sched, x, generator, variance)
