r"""Exact log-likelihoods of a continuous normalising flow (instantaneous change of variables).

A flow :math:`dx/dt = v(x, t)` carries the density :math:`p_0` of the data (``t = 0``) to the source
:math:`p_1` (``t = 1``: the Gaussian, or any density with a known ``log_prob``) and, along every path
(Chen et al. 2018),

.. math:: \frac{d}{dt}\log p_t\big(x(t)\big) = -\nabla\!\cdot v\big(x(t), t\big)
   \quad\Longrightarrow\quad
   \log p_0(x) = \log p_1\big(x(1)\big) + \int_0^1 \nabla\!\cdot v\big(x(t), t\big)\,dt ,

integrated *forward* from the data together with the state. The divergence is exact (``D``
backward passes: low dimension) or Hutchinson's unbiased estimate with probes held fixed along
the path (Grathwohl et al. 2019, FFJORD): one backward pass, so images are affordable. This is the
same computation as :func:`ppl_models.diffusion.ode_log_likelihood` with the velocity in place of the
probability-flow drift, and it reuses its pieces (:func:`~ppl_models.diffusion.divergence_exact`,
:func:`~ppl_models.diffusion.divergence_hutchinson`, :func:`~ppl_models.diffusion.integrate`); image
bits/dim use :func:`~ppl_models.diffusion.dequantize` and :func:`~ppl_models.diffusion.bits_per_dim`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..diffusion import (
    LogLikelihood,
    divergence_exact,
    divergence_hutchinson,
    integrate,
    make_probes,
    standard_normal_log_prob,
)
from ..diffusion._checks import check_choice, check_fraction, check_x
from ..diffusion.ode import ODE_METHODS

__all__ = ["log_likelihood", "LogLikelihood"]

TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def log_likelihood(velocity_fn: TensorFn, x: torch.Tensor,
                   prior_log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   t_min: float = 0.0, t_max: float = 1.0, steps: int = 100, method: str = "rk4",
                   divergence: str = "exact", probe: str = "rademacher", n_probes: int = 1,
                   generator: torch.Generator | None = None, rtol: float = 1e-5,
                   atol: float = 1e-5) -> LogLikelihood:
    r"""``log p_{t_min}(x)`` of the flow by the instantaneous change of variables (module docstring).

    Args:
        velocity_fn: ``velocity_fn(x, t)`` (``t = 0`` the data, ``t = 1`` the source).
        x: ``(B, ...)`` points (e.g. dequantised images in ``[-1, 1]``).
        prior_log_prob: ``z -> (B,)`` log-density of the source at ``t_max``; default the standard normal.
        t_min, t_max: integration interval.
        steps, method: ODE solver (:func:`ppl_models.diffusion.integrate`: ``"euler"``, ``"heun"``,
            ``"rk4"`` or ``"adaptive"``).
        divergence: ``"exact"`` or ``"hutchinson"`` (``n_probes`` ``probe`` vectors from ``generator``).
    Returns:
        :class:`~ppl_models.diffusion.LogLikelihood` (``log_prob``, ``prior_log_prob``, ``delta``, ``z``,
        ``nfe``).
    """
    if not callable(velocity_fn):
        raise ValueError("velocity_fn must be callable as velocity_fn(x, t)")
    x = check_x(x, "x")
    check_choice(method, "method", ODE_METHODS)
    check_choice(divergence, "divergence", ("exact", "hutchinson"))
    t_min = check_fraction(t_min, "t_min", 0.0, 1.0, open_high=True)
    t_max = check_fraction(t_max, "t_max", t_min, 1.0, open_low=True)
    if prior_log_prob is not None and not callable(prior_log_prob):
        raise ValueError("prior_log_prob must be callable as prior_log_prob(z) -> (B,)")
    if divergence == "exact":
        def F(s, t):
            return divergence_exact(velocity_fn, s[0], t)
    else:
        probes = make_probes(x.shape, n_probes, probe, generator, x.dtype, x.device)

        def F(s, t):
            return divergence_hutchinson(velocity_fn, s[0], t, probes)

    zero = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    (z, delta), nfe = integrate(F, (x.detach(), zero), t_min, t_max, steps, method, rtol, atol)
    prior = (prior_log_prob or standard_normal_log_prob)(z)
    if not torch.is_tensor(prior) or prior.shape != (x.shape[0],):
        raise ValueError(f"prior_log_prob must return a ({x.shape[0]},) tensor")
    return LogLikelihood(prior + delta, prior, delta, z, nfe)
