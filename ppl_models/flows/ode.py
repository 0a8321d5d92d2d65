r"""Sampling a flow: integrate :math:`dx/dt = v(x, t)` from the noise (``t = 1``) to the data (``t = 0``).

Fixed-step solvers of our own on a uniform grid :math:`t_0 > t_1 > \dots > t_K` with step
:math:`h = t_{k+1} - t_k < 0`:

* Euler (1 evaluation per step): :math:`x_{k+1} = x_k + h\,v(x_k, t_k)`.
* Midpoint (2): :math:`x_{k+1} = x_k + h\,v\big(x_k + \tfrac h2 v(x_k, t_k),\ t_k + \tfrac h2\big)`.
* Heun (2): :math:`\tilde x = x_k + h\,v(x_k, t_k)`,
  :math:`x_{k+1} = x_k + \tfrac h2\big(v(x_k, t_k) + v(\tilde x, t_{k+1})\big)`.

``"adaptive"`` hands the problem to ``torchdiffeq.odeint`` (Dormand–Prince 5(4), error control by
``rtol``/``atol``) through :func:`ppl_models.diffusion.integrate`. Every solve reports its number of
velocity evaluations (NFE): budgets are quoted in NFE, not steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..diffusion import integrate
from ..diffusion._checks import check_choice, check_fraction, check_int, check_x

__all__ = ["FlowSamples", "SOLVERS", "solve", "sample", "euler_step", "midpoint_step", "heun_step",
           "evals_per_step"]

SOLVERS = ("euler", "midpoint", "heun", "adaptive")
TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class FlowSamples(NamedTuple):
    """Output of :func:`solve` / :func:`sample`."""

    x: torch.Tensor                  # (B, ...) the end point
    nfe: int                         # velocity evaluations
    path: torch.Tensor | None        # (K + 1, B, ...) the states on the grid (fixed steps, if asked)
    times: torch.Tensor | None       # (K + 1,) the grid


def _v(velocity_fn: TensorFn, x: torch.Tensor, t: float) -> torch.Tensor:
    out = velocity_fn(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))
    if not torch.is_tensor(out) or out.shape != x.shape:
        raise ValueError(f"velocity_fn must return a tensor shaped like x {tuple(x.shape)}")
    return out


def euler_step(velocity_fn: TensorFn, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One Euler step from ``t`` to ``t_next`` (1 evaluation)."""
    return x + (t_next - t) * _v(velocity_fn, x, t)


def midpoint_step(velocity_fn: TensorFn, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One explicit midpoint step (2 evaluations, second order)."""
    h = t_next - t
    return x + h * _v(velocity_fn, x + 0.5 * h * _v(velocity_fn, x, t), t + 0.5 * h)


def heun_step(velocity_fn: TensorFn, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One Heun (explicit trapezoidal) step (2 evaluations, second order)."""
    h = t_next - t
    k1 = _v(velocity_fn, x, t)
    k2 = _v(velocity_fn, x + h * k1, t_next)
    return x + 0.5 * h * (k1 + k2)


_STEPS = {"euler": (euler_step, 1), "midpoint": (midpoint_step, 2), "heun": (heun_step, 2)}


def evals_per_step(method: str) -> int:
    """Velocity evaluations per step of a fixed-step method (1 for Euler, 2 for midpoint and Heun)."""
    check_choice(method, "method", tuple(_STEPS))
    return _STEPS[method][1]


def solve(velocity_fn: TensorFn, x: torch.Tensor, t0: float = 1.0, t1: float = 0.0, steps: int = 100,
          method: str = "midpoint", rtol: float = 1e-5, atol: float = 1e-5,
          return_path: bool = False) -> FlowSamples:
    r"""Integrate :math:`dx/dt = v(x, t)` from ``t0`` to ``t1`` (either direction).

    Args:
        velocity_fn: ``velocity_fn(x, t) -> (B, ...)`` with ``t`` a ``(B,)`` tensor.
        x: ``(B, ...)`` start points.
        t0, t1: start and end times in ``[0, 1]``.
        steps: number of fixed steps (ignored by ``"adaptive"``); NFE = steps x evaluations per step.
        method: ``"euler"``, ``"midpoint"``, ``"heun"`` or ``"adaptive"`` (``torchdiffeq`` dopri5).
        return_path: keep every state on the grid (fixed-step methods only).
    Returns:
        :class:`FlowSamples`.
    """
    if not callable(velocity_fn):
        raise ValueError("velocity_fn must be callable as velocity_fn(x, t)")
    x = check_x(x, "x")
    check_choice(method, "method", SOLVERS)
    t0, t1 = check_fraction(t0, "t0"), check_fraction(t1, "t1")
    if t0 == t1:
        raise ValueError(f"t0 and t1 must differ, got {t0} and {t1}")
    if method == "adaptive":
        if return_path:
            raise ValueError("return_path needs a fixed-step method (euler, midpoint or heun)")
        (out,), nfe = integrate(lambda s, t: (velocity_fn(s[0], t),), (x,), t0, t1, method="adaptive",
                                rtol=rtol, atol=atol)
        return FlowSamples(out, nfe, None, None)
    steps = check_int(steps, "steps", low=1)
    step_fn, per = _STEPS[method]
    grid = torch.linspace(t0, t1, steps + 1, dtype=torch.float64)  # device-free: a CPU time grid
    states = [x] if return_path else None
    for k in range(steps):
        x = step_fn(velocity_fn, x, float(grid[k]), float(grid[k + 1]))
        if return_path:
            states.append(x)
    path = torch.stack(states) if return_path else None
    return FlowSamples(x, per * steps, path, grid.to(x.dtype) if return_path else None)


def sample(velocity_fn: TensorFn, noise: torch.Tensor, nfe: int | None = None, method: str = "midpoint",
           steps: int | None = None, **kwargs) -> FlowSamples:
    """Samples: solve from the noise at ``t = 1`` to ``t = 0`` within ``nfe`` evaluations (or ``steps``).

    Give exactly one of ``nfe`` (must be a multiple of the method's evaluations per step) and
    ``steps``; ``"adaptive"`` takes neither. Other keyword arguments go to :func:`solve`.
    """
    if method == "adaptive":
        if nfe is not None or steps is not None:
            raise ValueError("method='adaptive' chooses its own steps; give neither nfe nor steps")
        return solve(velocity_fn, noise, 1.0, 0.0, method="adaptive", **kwargs)
    if (nfe is None) == (steps is None):
        raise ValueError("give exactly one of nfe and steps")
    if nfe is not None:
        nfe, per = check_int(nfe, "nfe", low=1), evals_per_step(method)
        if nfe % per:
            raise ValueError(f"nfe={nfe} is not a multiple of the {per} evaluations per {method} step")
        steps = nfe // per
    return solve(velocity_fn, noise, 1.0, 0.0, steps=steps, method=method, **kwargs)
