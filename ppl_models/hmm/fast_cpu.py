r"""CPU fast path of the forward-backward smoother: scaled recursions in probability space (numpy).

The generic smoother in :mod:`ppl_models.hmm.inference` works in log space with a dozen torch
calls per time step. On the CPU, for sequences without padding, this module runs the classical
scaled recursions (Rabiner 1989) with a handful of numpy calls per step:

.. math::  \tilde\alpha_t = (\hat\alpha_{t-1} A) \odot e_t,\quad c_t = \textstyle\sum_j \tilde\alpha_t(j),
    \quad \hat\alpha_t = \tilde\alpha_t / c_t,\qquad
    \hat\beta_{t} = A\,(e_{t+1} \odot \hat\beta_{t+1}) / c_{t+1},

with :math:`e_t(j) = \exp(\log p(x_t|j) - m_t)`, :math:`m_t = \max_j \log p(x_t|j)`, so
:math:`\log p(x_{1:T}) = \sum_t (\log c_t + m_t)`. Probabilities can underflow where the
log-space version cannot (a state reachable only through an emission below ``exp(-745)``); then
some :math:`c_t` is zero or not finite and the caller falls back to the log-space recursions, so
the results agree with them to rounding in every case.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["smoother_cpu"]


def _forward(init, trans, e):
    """Scaled forward pass: ``alpha (B, T, K)`` normalised rows and scales ``c (B, T)``."""
    n, n_steps, k = e.shape
    alpha, c = np.empty_like(e), np.empty(e.shape[:2], dtype=e.dtype)
    a = init * e[:, 0]
    for t in range(n_steps):
        if t:
            np.multiply(alpha[:, t - 1] @ trans, e[:, t], out=a)
        np.sum(a, -1, out=c[:, t])
        np.divide(a, c[:, t, None], out=alpha[:, t])
    return alpha, c


def _backward(trans, e, c):
    """Scaled backward pass: ``beta (B, T, K)`` with ``beta_T = 1``."""
    beta = np.empty_like(e)
    beta[:, -1] = 1.0
    trans_t = np.ascontiguousarray(trans.T)
    for t in range(e.shape[1] - 2, -1, -1):
        np.divide((e[:, t + 1] * beta[:, t + 1]) @ trans_t, c[:, t + 1, None], out=beta[:, t])
    return beta


def smoother_cpu(log_init: torch.Tensor, log_trans: torch.Tensor, log_lik: torch.Tensor):
    r"""Forward-backward on the CPU in probability space; ``None`` where a scale underflowed.

    Args:
        log_init: ``(K,)``; log_trans: ``(K, K)``; log_lik: ``(..., T, K)`` (validated, one dtype,
            CPU, float32/float64, no padding).

    Returns:
        ``(marginal_loglik (...), filtered (..., T, K), smoothed (..., T, K), counts (..., K, K))``
        as tensors, or ``None`` when the log-space recursions must be used instead.
    """
    batch, (n_steps, k) = log_lik.shape[:-2], log_lik.shape[-2:]
    ll = log_lik.detach().reshape(-1, n_steps, k).numpy()
    trans, init = np.exp(log_trans.detach().numpy()), np.exp(log_init.detach().numpy())
    m = ll.max(-1)  # (B, T)
    e = np.exp(ll - m[..., None])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        alpha, c = _forward(init, trans, e)
        if not (np.isfinite(c).all() and (c > 0).all()):
            return None
        beta = _backward(trans, e, c)
    gamma = alpha * beta
    gamma /= gamma.sum(-1, keepdims=True)
    q = e[:, 1:] * beta[:, 1:] / c[:, 1:, None]  # (B, T-1, K)
    counts = trans * (alpha[:, :-1].transpose(0, 2, 1) @ q)  # sum_t xi_t(i, j)
    loglik = (np.log(c) + m).sum(-1)
    out = ((loglik, batch), (alpha, (*batch, n_steps, k)), (gamma, (*batch, n_steps, k)),
           (counts, (*batch, k, k)))
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).reshape(shape) for a, shape in out)
