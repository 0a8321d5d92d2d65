r"""Reflow (Liu et al. 2023, rectified flow) and how straight a flow's paths are.

A trained flow defines a deterministic coupling: noise :math:`\varepsilon` and the sample
:math:`\hat x_0 = \Phi(\varepsilon)` its ODE ends at. Training a new flow on these *pairs* with the
straight path (``noise`` given to :func:`.training.train_flow`) gives a "2-rectified" flow whose
paths cross less, hence are straighter, hence need fewer steps: a perfectly straight flow is
sampled exactly by one Euler step :math:`\hat x_0 = \varepsilon - v(\varepsilon, 1)`.

Straightness (Liu et al. eq. 4, in our time direction): with :math:`x(t)` the ODE solution from
:math:`x(1) = \varepsilon` to :math:`x(0) = \hat x_0`,

.. math:: S = \int_0^1 \big\|\,(\varepsilon - \hat x_0) - v(x(t), t)\big\|^2\,dt \;\ge 0,

zero exactly when every path is a straight line travelled at constant speed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..diffusion._checks import check_int, check_x
from .ode import solve

__all__ = ["ReflowPairs", "reflow_pairs", "straightness"]

TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ReflowPairs(NamedTuple):
    """Output of :func:`reflow_pairs`."""

    x0: torch.Tensor     # (N, ...) the flow's samples (the new "data")
    noise: torch.Tensor  # (N, ...) the noise each one came from
    nfe: int             # velocity evaluations per batch


@torch.no_grad()
def reflow_pairs(velocity_fn: TensorFn, noise: torch.Tensor, steps: int = 100, method: str = "midpoint",
                 batch_size: int = 10_000) -> ReflowPairs:
    """Pairs ``(Phi(noise), noise)`` from the flow's ODE, solved in batches from ``t = 1`` to ``t = 0``.

    Args:
        velocity_fn: the trained flow's ``velocity_fn(x, t)``.
        noise: ``(N, ...)`` draws of the source.
        steps, method: the solver (:func:`.ode.solve`); use enough steps that the pairs are accurate.
    """
    noise = check_x(noise, "noise")
    batch_size = check_int(batch_size, "batch_size", low=1)
    outs, nfe = [], 0
    for s in range(0, noise.shape[0], batch_size):
        res = solve(velocity_fn, noise[s : s + batch_size], 1.0, 0.0, steps=steps, method=method)
        outs.append(res.x)
        nfe = res.nfe
    return ReflowPairs(torch.cat(outs), noise, nfe)


@torch.no_grad()
def straightness(velocity_fn: TensorFn, noise: torch.Tensor, steps: int = 100) -> torch.Tensor:
    r"""``(B,)`` straightness :math:`S` of each path (module docstring) by an Euler solve of ``steps`` steps.

    The integral is the mean over the grid points of :math:`\|(\varepsilon - \hat x_0) - v\|^2`
    (summed over dimensions); the velocities are those the Euler solve used, so ``S`` is exactly zero
    for a constant field.
    """
    noise = check_x(noise, "noise")
    steps = check_int(steps, "steps", low=1)
    res = solve(velocity_fn, noise, 1.0, 0.0, steps=steps, method="euler", return_path=True)
    chord = noise - res.x                                                     # (B, ...) = x(1) - x(0)
    # Euler: x_{k+1} = x_k - h v_k with h = 1/steps, so v_k = (x_k - x_{k+1}) * steps
    vel = (res.path[:-1] - res.path[1:]) * steps                              # (K, B, ...)
    dev = (vel - chord.unsqueeze(0)).reshape(steps, noise.shape[0], -1).pow(2).sum(-1)
    return dev.mean(0)
