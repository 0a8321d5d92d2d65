r"""ODE integration shared by the probability-flow sampler and the likelihood.

:func:`integrate` solves :math:`ds/dt = F(s, t)` for a tuple of tensors ``s`` (the batch axis first)
from ``t0`` to ``t1`` (either direction) with fixed-step Euler, Heun (2nd order) or classical RK4,
or adaptively with ``torchdiffeq.odeint`` (Dormand–Prince, ``rtol``/``atol``). It returns the final
state and the number of evaluations of ``F`` (NFE).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_choice, check_fraction, check_int

__all__ = ["ODE_METHODS", "integrate", "probability_flow_drift"]

ODE_METHODS = ("euler", "heun", "rk4", "adaptive")
State = tuple[torch.Tensor, ...]


def _axpy(s: State, h: float, *ks_and_ws) -> State:
    """``s + h * sum_i w_i k_i`` elementwise over the tuple."""
    out = []
    for j, sj in enumerate(s):
        acc = torch.zeros_like(sj)
        for k, w in ks_and_ws:
            acc = acc + w * k[j]
        out.append(sj + h * acc)
    return tuple(out)


def _step(F, s: State, t: float, t_next: float, method: str) -> tuple[State, int]:
    h = t_next - t
    k1 = F(s, t)
    if method == "euler":
        return _axpy(s, h, (k1, 1.0)), 1
    if method == "heun":
        k2 = F(_axpy(s, h, (k1, 1.0)), t_next)
        return _axpy(s, h, (k1, 0.5), (k2, 0.5)), 2
    k2 = F(_axpy(s, h / 2, (k1, 1.0)), t + h / 2)
    k3 = F(_axpy(s, h / 2, (k2, 1.0)), t + h / 2)
    k4 = F(_axpy(s, h, (k3, 1.0)), t_next)
    return _axpy(s, h, (k1, 1 / 6), (k2, 1 / 3), (k3, 1 / 3), (k4, 1 / 6)), 4


def integrate(F: Callable[[State, torch.Tensor], State], state: State, t0: float, t1: float,
              steps: int = 100, method: str = "heun", rtol: float = 1e-5,
              atol: float = 1e-5) -> tuple[State, int]:
    r"""Integrate :math:`ds/dt = F(s, t)` from ``t0`` to ``t1``.

    Args:
        F: ``F(state, t) -> state-shaped tuple``; ``t`` is a ``(B,)`` tensor (B = batch of ``state[0]``).
        state: tuple of ``(B, ...)`` tensors.
        t0, t1: start and end times.
        steps: number of fixed steps (ignored by ``"adaptive"``).
        method: ``"euler"``, ``"heun"``, ``"rk4"`` or ``"adaptive"`` (``torchdiffeq`` dopri5).
    Returns:
        ``(final_state, nfe)``.
    """
    check_choice(method, "method", ODE_METHODS)
    t0, t1 = check_fraction(t0, "t0"), check_fraction(t1, "t1")
    if not isinstance(state, tuple) or not state or not all(torch.is_tensor(s) for s in state):
        raise ValueError("state must be a non-empty tuple of tensors")
    x = state[0]
    B = x.shape[0]

    lo, hi = min(t0, t1), max(t0, t1)

    def Ft(s: State, t: float | torch.Tensor) -> State:
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(()).clamp(lo, hi).expand(B)
        return tuple(F(s, tt))

    if method == "adaptive":
        from torchdiffeq import odeint  # optional dependency, imported only here

        rtol = check_fraction(rtol, "rtol", 0.0, 1.0, open_low=True)
        atol = check_fraction(atol, "atol", 0.0, 1.0, open_low=True)
        count = [0]

        def G(t, s):
            count[0] += 1
            return Ft(s, t)

        ts = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
        out = odeint(G, state, ts, rtol=rtol, atol=atol, method="dopri5")
        return tuple(o[-1] for o in out), count[0]
    steps = check_int(steps, "steps", low=1)
    grid = [t0 + (t1 - t0) * i / steps for i in range(steps)] + [t1]
    nfe = 0
    for i in range(steps):
        state, k = _step(Ft, state, grid[i], grid[i + 1], method)
        nfe += k
    return state, nfe


def probability_flow_drift(score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                           sde) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    r"""Probability-flow velocity :math:`\tilde f(x, t) = f(x, t) - \tfrac12 g(t)^2\nabla_x\log p_t(x)`."""
    if not callable(score_fn):
        raise ValueError("score_fn must be callable as score_fn(x, t)")
    for attr in ("drift", "diffusion"):
        if not callable(getattr(sde, attr, None)):
            raise ValueError(f"sde must offer {attr}() (a VPSDE or VESDE)")

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        g2 = sde.diffusion(t) ** 2
        score = score_fn(x, t)
        if not torch.is_tensor(score) or score.shape != x.shape:
            raise ValueError(f"score_fn must return a tensor shaped like x {tuple(x.shape)}")
        return sde.drift(x, t) - 0.5 * g2.reshape(-1, *[1] * (x.ndim - 1)) * score

    return velocity
