r"""Log-likelihoods from the probability-flow ODE, dequantisation and bits/dim.

The probability-flow ODE :math:`dx/dt = \tilde f(x, t) = f(x,t) - \tfrac12 g(t)^2\nabla_x\log p_t(x)`
moves each marginal :math:`p_t` into the next, so by the instantaneous change of variables
(Chen et al. 2018; Song et al. 2021, eq. 39)

.. math:: \log p_{t_{\min}}(x) = \log p_{t_{\max}}\big(x(t_{\max})\big)
          + \int_{t_{\min}}^{t_{\max}} \nabla\!\cdot \tilde f(x(t), t)\,dt ,

integrated *forward* from the data. The result is the density of the slightly noised marginal
:math:`p_{t_{\min}}` (Song et al. use :math:`t_{\min} = 10^{-5}`), and :math:`p_{t_{\max}}` is replaced by
the prior (``sde.prior_log_prob``) unless ``prior_log_prob`` is given. The divergence is exact
(``D`` backward passes per evaluation: low dimension only) or Hutchinson's estimate
:math:`\mathbb E_\varepsilon[\varepsilon^\top (\partial\tilde f/\partial x)\,\varepsilon]` with
Rademacher or Gaussian probes held fixed along the path (Grathwohl et al. 2019), which makes the
log-likelihood unbiased, not the likelihood.

**Discrete pixels.** For integer pixels :math:`k \in \{0,\dots,L-1\}`, :func:`dequantize` returns
:math:`y = 2(k + u)/L - 1 \in (-1, 1)` with :math:`u \sim U[0,1)^D`. Each bin has volume
:math:`(2/L)^D` in ``y`` space, so by Jensen
:math:`\log P(k) \ge \mathbb E_u[\log p(y)] + D\log(2/L)` and

.. math:: \text{bits/dim} = \frac{-\log p(y) + D\log(L/2)}{D\ln 2}
          = \frac{-\log p(y)}{D\ln 2} + \log_2\frac{L}{2} \quad (= \ldots + 7 \text{ for } L = 256),

an upper bound on the discrete NLL in bits/dim: ``log2(256)`` = 8 for the bin width ``1/256`` of
pixels in ``[0, 1]``, minus 1 for the Jacobian of the map ``[0, 1] -> [-1, 1]`` (:func:`bits_per_dim`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from ._checks import check_choice, check_fraction, check_generator, check_int, check_x
from .ode import ODE_METHODS, integrate, probability_flow_drift

__all__ = ["LogLikelihood", "divergence_exact", "divergence_hutchinson", "make_probes", "ode_log_likelihood",
           "dequantize", "bits_per_dim", "PROBES"]

PROBES = ("rademacher", "gaussian")
TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class LogLikelihood(NamedTuple):
    """Output of :func:`ode_log_likelihood` (all nats)."""

    log_prob: torch.Tensor        # (B,) log p_{t_min}(x)
    prior_log_prob: torch.Tensor  # (B,) log p_{t_max}(z) under the prior
    delta: torch.Tensor           # (B,) integral of the divergence
    z: torch.Tensor               # (B, ...) the ODE's end point at t_max
    nfe: int                      # evaluations of the ODE right-hand side (each one score_fn call)


def divergence_exact(fn: TensorFn, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``fn(x, t)`` and its exact divergence :math:`\sum_i \partial f_i/\partial x_i` (D backward passes).

    Returns:
        ``(f, div)``: ``(B, ...)`` and ``(B,)``, both detached.
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        flat = f.reshape(x.shape[0], -1)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(flat.shape[1]):
            (g,) = torch.autograd.grad(flat[:, i].sum(), x, retain_graph=True)
            div = div + g.reshape(x.shape[0], -1)[:, i]
    return f.detach(), div.detach()


def divergence_hutchinson(fn: TensorFn, x: torch.Tensor, t: torch.Tensor,
                          probes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``fn(x, t)`` and Hutchinson's divergence estimate averaged over ``K`` probes.

    .. math:: \widehat{\nabla\cdot f} = \frac1K\sum_k \varepsilon_k^\top \nabla_x(f\cdot\varepsilon_k)

    Args:
        probes: ``(K, B, ...)`` probe vectors with :math:`\mathbb E[\varepsilon\varepsilon^\top] = I`.
    Returns:
        ``(f, div)``: ``(B, ...)`` and ``(B,)``, both detached.
    """
    if not torch.is_tensor(probes) or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (K, *x.shape) = (K, {', '.join(map(str, x.shape))})")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for k in range(probes.shape[0]):
            (g,) = torch.autograd.grad((f * probes[k]).sum(), x, retain_graph=k < probes.shape[0] - 1)
            div = div + (g * probes[k]).reshape(x.shape[0], -1).sum(1)
    return f.detach(), div.detach() / probes.shape[0]


def make_probes(shape, n_probes: int = 1, kind: str = "rademacher", generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """``(n_probes, *shape)`` Rademacher (+-1) or standard Gaussian probe vectors."""
    check_choice(kind, "kind", PROBES)
    n_probes = check_int(n_probes, "n_probes", low=1)
    check_generator(generator)
    size = (n_probes, *shape)
    if kind == "gaussian":
        return torch.randn(size, generator=generator, dtype=dtype, device=device)
    return torch.randint(0, 2, size, generator=generator, device=device).to(dtype) * 2 - 1


def ode_log_likelihood(score_fn: TensorFn, sde, x: torch.Tensor, t_min: float = 1e-5, t_max: float = 1.0,
                       steps: int = 200, method: str = "rk4", divergence: str = "exact",
                       probe: str = "rademacher", n_probes: int = 1, generator: torch.Generator | None = None,
                       prior_log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       rtol: float = 1e-5, atol: float = 1e-5) -> LogLikelihood:
    r"""``log p_{t_min}(x)`` by integrating the probability-flow ODE and its divergence (module docstring).

    Args:
        score_fn: ``score_fn(x, t)``; sde: a :class:`.VPSDE` / :class:`.VESDE`.
        x: ``(B, ...)`` points (e.g. dequantised images in ``[-1, 1]``).
        t_min, t_max: integration interval.
        steps, method: ODE solver (see :func:`.ode.integrate`; ``"adaptive"`` uses ``torchdiffeq``).
        divergence: ``"exact"`` or ``"hutchinson"`` (``n_probes`` ``probe`` vectors from ``generator``).
        prior_log_prob: ``z -> (B,)`` density at ``t_max``; default ``sde.prior_log_prob``.
    Returns:
        :class:`LogLikelihood`.
    """
    x = check_x(x, "x")
    check_choice(method, "method", ODE_METHODS)
    check_choice(divergence, "divergence", ("exact", "hutchinson"))
    t_min = check_fraction(t_min, "t_min", 0.0, 1.0, open_high=True)
    t_max = check_fraction(t_max, "t_max", t_min, 1.0, open_low=True)
    if prior_log_prob is not None and not callable(prior_log_prob):
        raise ValueError("prior_log_prob must be callable as prior_log_prob(z) -> (B,)")
    v = probability_flow_drift(score_fn, sde)
    if divergence == "exact":
        def F(s, t):
            return divergence_exact(v, s[0], t)
    else:
        probes = make_probes(x.shape, n_probes, probe, generator, x.dtype, x.device)

        def F(s, t):
            return divergence_hutchinson(v, s[0], t, probes)

    zero = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    (z, delta), nfe = integrate(F, (x.detach(), zero), t_min, t_max, steps, method, rtol, atol)
    prior = (prior_log_prob or sde.prior_log_prob)(z)
    return LogLikelihood(prior + delta, prior, delta, z, nfe)


def dequantize(k: torch.Tensor, levels: int = 256, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Uniform dequantisation of integer pixels to [-1, 1]: :math:`y = 2(k + u)/L - 1`, :math:`u\sim U[0,1)`.

    Args:
        k: integer tensor with values in ``{0, ..., levels - 1}``, any shape.
    Returns:
        Float tensor shaped like ``k``.
    """
    levels = check_int(levels, "levels", low=2)
    check_generator(generator)
    if not torch.is_tensor(k) or torch.is_floating_point(k) or torch.is_complex(k):
        raise ValueError("k must be an integer tensor of pixel levels")
    if bool((k < 0).any()) or bool((k >= levels).any()):
        raise ValueError(f"k must lie in {{0, ..., {levels - 1}}}")
    u = torch.rand(k.shape, generator=generator, dtype=dtype, device=k.device)
    return 2 * (k.to(dtype) + u) / levels - 1


def bits_per_dim(log_prob: torch.Tensor, dim: int, levels: int | None = 256,
                 data_range: float = 2.0) -> torch.Tensor:
    r"""Bits/dim of a continuous density on dequantised data (module docstring for the offset).

    .. math:: \frac{-\log p(y) + D\log(L/\text{range})}{D \ln 2}

    with ``range = 2`` for data in ``[-1, 1]``; ``levels=None`` drops the offset (bits/dim of the
    continuous density itself).

    Args:
        log_prob: ``(B,)`` log-densities in nats of the ``D``-dimensional ``y``.
        dim: ``D``.
    """
    dim = check_int(dim, "dim", low=1)
    data_range = check_fraction(data_range, "data_range", 0.0, 1e12, open_low=True)
    if not torch.is_tensor(log_prob) or log_prob.ndim != 1:
        raise ValueError("log_prob must be a (B,) tensor")
    offset = 0.0 if levels is None else dim * math.log(check_int(levels, "levels", low=2) / data_range)
    return (-log_prob + offset) / (dim * math.log(2))
