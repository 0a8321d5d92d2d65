r"""Langevin samplers for any differentiable log-density: ULA and MALA.

One convention throughout, with step size :math:`\epsilon > 0` and temperature :math:`T > 0`:

.. math::

    x_{k+1} = x_k + \frac{\epsilon}{2} \nabla_x \log p(x_k) + \sqrt{\epsilon T}\, z_k,
    \qquad z_k \sim \mathcal N(0, I).

This is the Euler-Maruyama step, of size :math:`h = \epsilon T`, of the Langevin diffusion whose
stationary law is the tempered density :math:`p_T \propto p^{1/T}`: at :math:`T = 1` it targets
:math:`p`, and :math:`T \to 0` turns it into gradient ascent. The unadjusted algorithm (ULA)
keeps every step and is biased by :math:`O(\epsilon)`; MALA treats the step as a proposal
:math:`q(x' \mid x) = \mathcal N(x + \frac\epsilon2 \nabla \log p(x), \epsilon T I)` and accepts
it with probability

.. math::

    \min\Big(1, \frac{p(x')^{1/T} q(x \mid x')}{p(x)^{1/T} q(x' \mid x)}\Big),

which leaves :math:`p_T` exactly invariant.

Many EBM codebases write the update as :math:`x + \lambda \nabla \log p(x) + \sigma z` with an
unrelated gradient step :math:`\lambda` and noise std :math:`\sigma` (e.g. :math:`\lambda = 10`,
:math:`\sigma = 0.005`). Matching terms gives :math:`\epsilon = 2\lambda` and
:math:`T = \sigma^2 / (2 \lambda)`: a hidden temperature, here :math:`1.25 \times 10^{-6}`, so such a
"sampler" is nearly noiseless gradient ascent (:func:`langevin_temperature`).

Samplers take ``log_prob_fn(x) -> (N,)`` (its gradient by autograd) or, for ULA, a
``score_fn(x) -> x.shape``; ``x`` is ``(N, ...)`` with one chain per row, any event shape. NFE
counts calls of the function (each with its gradient).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import torch

from ..validation import check_int

__all__ = ["LangevinResult", "ula", "mala", "langevin_temperature", "langevin_update_scales"]


class LangevinResult(NamedTuple):
    """What a Langevin sampler returns.

    Attributes:
        samples: the final states, shaped like ``x0``.
        acceptance_rate: MALA's accepted fraction over all chains and steps (1.0 for ULA).
        chain: ``(n_kept, N, ...)`` states after every ``thin``-th step (first row ``x0``) if
            asked, else None.
        nfe: evaluations of ``log_prob_fn`` / ``score_fn`` (with gradient).
    """

    samples: torch.Tensor
    acceptance_rate: float
    chain: torch.Tensor | None
    nfe: int


def _positive(value, name: str) -> float:
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (is_real and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def langevin_temperature(grad_step: float, noise_std: float) -> tuple[float, float]:
    r"""The :math:`(\epsilon, T)` implied by an update :math:`x + \lambda \nabla \log p(x) + \sigma z`.

    .. math:: \epsilon = 2\lambda, \qquad T = \frac{\sigma^2}{2 \lambda}.

    Args:
        grad_step: :math:`\lambda > 0`, the factor on the gradient (on :math:`-\nabla E` for an energy).
        noise_std: :math:`\sigma > 0`, the standard deviation of the added noise.

    Returns:
        ``(step_size, temperature)``.
    """
    lam = _positive(grad_step, "grad_step")
    sigma = _positive(noise_std, "noise_std")
    return 2.0 * lam, sigma**2 / (2.0 * lam)


def langevin_update_scales(step_size: float, temperature: float = 1.0) -> tuple[float, float]:
    r"""The inverse of :func:`langevin_temperature`: :math:`\lambda = \epsilon / 2`,
    :math:`\sigma = \sqrt{\epsilon T}`. Returns ``(grad_step, noise_std)``."""
    eps = _positive(step_size, "step_size")
    T = _positive(temperature, "temperature")
    return eps / 2.0, math.sqrt(eps * T)


def _check_x0(x0) -> torch.Tensor:
    if not torch.is_tensor(x0) or x0.ndim < 2 or x0.shape[0] < 1:
        shape = tuple(x0.shape) if torch.is_tensor(x0) else type(x0).__name__
        raise ValueError(f"x0 must be a tensor of shape (N, ...) with N >= 1 and an event dim, got {shape}")
    if not torch.is_floating_point(x0):
        raise ValueError(f"x0 must be a floating-point tensor, got {x0.dtype}")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError("x0 contains NaN or infinite values")
    return x0.detach()


def _log_prob_and_grad(log_prob_fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(x)`` ``(N,)`` and its gradient (shape of ``x``), both detached."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        lp = log_prob_fn(x)
        if not torch.is_tensor(lp) or lp.shape != (x.shape[0],):
            shape = tuple(lp.shape) if torch.is_tensor(lp) else type(lp).__name__
            raise ValueError(f"log_prob_fn must return shape ({x.shape[0]},), got {shape}")
        (grad,) = torch.autograd.grad(lp.sum(), x)
    return lp.detach(), grad.detach()


def _score(score_fn, x: torch.Tensor) -> torch.Tensor:
    s = score_fn(x)
    if not torch.is_tensor(s) or s.shape != x.shape:
        shape = tuple(s.shape) if torch.is_tensor(s) else type(s).__name__
        raise ValueError(f"score_fn must return a tensor shaped like x {tuple(x.shape)}, got {shape}")
    return s.detach()


def _check_common(x0, n_steps, step_size, temperature, generator, thin):
    x = _check_x0(x0)
    n_steps = check_int(n_steps, "n_steps")
    eps = _positive(step_size, "step_size")
    T = _positive(temperature, "temperature")
    thin = check_int(thin, "thin")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != x.device.type:
        raise ValueError(f"generator is on {generator.device} but x0 is on {x.device}")
    return x, n_steps, eps, T, thin


@torch.no_grad()
def ula(x0: torch.Tensor, n_steps: int, step_size: float, *, generator: torch.Generator,
        log_prob_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        score_fn: Callable[[torch.Tensor], torch.Tensor] | None = None, temperature: float = 1.0,
        return_chain: bool = False, thin: int = 1) -> LangevinResult:
    r"""Unadjusted Langevin: :math:`x' = x + \frac\epsilon2 \nabla \log p(x) + \sqrt{\epsilon T} z`.

    Its stationary law is :math:`p^{1/T}` only as :math:`\epsilon \to 0`; for a Gaussian
    :math:`\mathcal N(0, s^2)` target it is :math:`\mathcal N(0, T s^2 / (1 - \epsilon / (4 s^2)))`
    (stable for :math:`\epsilon < 4 s^2`).

    Args:
        x0: ``(N, ...)`` starting states, one chain per row.
        n_steps: number of steps, ``>= 1``.
        step_size: :math:`\epsilon > 0`.
        generator: a ``torch.Generator`` on ``x0``'s device.
        log_prob_fn: ``(N, ...) -> (N,)`` differentiable log-density (up to a constant), or
        score_fn: ``(N, ...) -> (N, ...)`` :math:`\nabla_x \log p`; give exactly one.
        temperature: :math:`T > 0`.
        return_chain: also return the states after every ``thin``-th step.
        thin: keep every ``thin``-th state in the chain.

    Returns:
        A :class:`LangevinResult` with ``nfe = n_steps``.
    """
    x, n_steps, eps, T, thin = _check_common(x0, n_steps, step_size, temperature, generator, thin)
    if (log_prob_fn is None) == (score_fn is None):
        raise ValueError("give exactly one of log_prob_fn and score_fn")
    grad = (lambda y: _log_prob_and_grad(log_prob_fn, y)[1]) if score_fn is None else (
        lambda y: _score(score_fn, y))
    noise_std = math.sqrt(eps * T)
    chain = [x] if return_chain else None
    for k in range(1, n_steps + 1):
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = x + 0.5 * eps * grad(x) + noise_std * z
        if chain is not None and k % thin == 0:
            chain.append(x)
    return LangevinResult(x, 1.0, torch.stack(chain) if chain is not None else None, n_steps)


def _log_q(x_to: torch.Tensor, x_from: torch.Tensor, grad_from: torch.Tensor, eps: float, T: float):
    """:math:`\\log q(x_\\text{to} \\mid x_\\text{from})` up to a constant, ``(N,)``."""
    diff = (x_to - x_from - 0.5 * eps * grad_from).flatten(1)
    return -(diff**2).sum(1) / (2.0 * eps * T)


@torch.no_grad()
def mala(x0: torch.Tensor, n_steps: int, step_size: float, *,
         log_prob_fn: Callable[[torch.Tensor], torch.Tensor], generator: torch.Generator,
         temperature: float = 1.0, return_chain: bool = False, thin: int = 1) -> LangevinResult:
    r"""Metropolis-adjusted Langevin: the ULA step as a proposal, accepted with probability
    :math:`\min(1, \frac{p(x')^{1/T} q(x \mid x')}{p(x)^{1/T} q(x' \mid x)})` (module docstring).

    Leaves :math:`p^{1/T}` invariant for every :math:`\epsilon`; larger steps are accepted less often.

    Args:
        x0: ``(N, ...)`` starting states, one chain per row.
        n_steps: number of steps, ``>= 1``.
        step_size: :math:`\epsilon > 0`.
        log_prob_fn: ``(N, ...) -> (N,)`` differentiable log-density up to a constant.
        generator: a ``torch.Generator`` on ``x0``'s device.
        temperature: :math:`T > 0`.
        return_chain, thin: as in :func:`ula`.

    Returns:
        A :class:`LangevinResult` with the acceptance rate and ``nfe = n_steps + 1``.
    """
    x, n_steps, eps, T, thin = _check_common(x0, n_steps, step_size, temperature, generator, thin)
    if not callable(log_prob_fn):
        raise ValueError("log_prob_fn must be a callable x -> (N,) log-density")
    lp, g = _log_prob_and_grad(log_prob_fn, x)
    noise_std = math.sqrt(eps * T)
    accepted = 0.0
    chain = [x] if return_chain else None
    bshape = (-1,) + (1,) * (x.ndim - 1)
    for k in range(1, n_steps + 1):
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        prop = x + 0.5 * eps * g + noise_std * z
        lp_p, g_p = _log_prob_and_grad(log_prob_fn, prop)
        log_alpha = (lp_p - lp) / T + _log_q(x, prop, g_p, eps, T) - _log_q(prop, x, g, eps, T)
        u = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device)
        acc = torch.log(u) < torch.nan_to_num(log_alpha, nan=-math.inf)   # (N,)
        x = torch.where(acc.view(bshape), prop, x)
        g = torch.where(acc.view(bshape), g_p, g)
        lp = torch.where(acc, lp_p, lp)
        accepted += float(acc.to(x.dtype).mean())
        if chain is not None and k % thin == 0:
            chain.append(x)
    return LangevinResult(x, accepted / n_steps, torch.stack(chain) if chain is not None else None,
                          n_steps + 1)
