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

__all__ = ["smoother_cpu", "viterbi_cpu"]


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


# ---------------------------------------------------------------------------- Viterbi

_VECTOR_BACKTRACE_K = 4  # up to this many states the back-pointers of all steps are formed at once
_TORCH_ADD_SIZE = 2_000  # K * K * B above which torch forms the (K, K, B) sums


def viterbi_cpu(log_init: torch.Tensor, log_trans: torch.Tensor, log_lik: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Max-product Viterbi on the CPU with numpy, batch innermost; bit-identical to the torch loop.

    The same arithmetic as :func:`ppl_models.hmm.inference._viterbi_torch`: with the states first
    and the batch of sequences last (contiguous), one step is five numpy calls on whole
    ``(K, K, B)`` / ``(K, B)`` slabs,

    .. math:: s_{ijb} = \delta_{t-1}(i, b) + \log A_{ij},\quad
        \tilde\delta_t(j, b) = \max_i s_{ijb} + \log p(x_{t,b} \mid j),\quad
        \delta_t = \tilde\delta_t - \max_j \tilde\delta_t,

    the maximum over ``i`` being an element-wise maximum of ``K`` contiguous slabs (no arg-max
    in the forward pass). The normalised :math:`\delta_t` of every step are kept, so the
    back-pointers :math:`\psi_t(j) = \arg\max_i [\delta_{t-1}(i) + \log A_{ij}]` are recomputed
    from the very same sums, either only for the state on the path (one gather, add and arg-max
    per step) or, for a few states, for all steps in one call. Following the pointers then costs
    one ``take`` per step on flat indices. Ties go to the lowest state, as in torch and numpy.

    Args:
        log_init ``(K,)``, log_trans ``(K, K)``, log_lik ``(..., T, K)``: validated, one dtype, CPU.
        mask: ``(..., T)`` bool, ``True`` on real steps, or ``None``.

    Returns:
        ``path (..., T)`` int64 (padding not yet marked) and ``log_prob (...)``.
    """
    batch, (n_steps, k) = log_lik.shape[:-2], log_lik.shape[-2:]
    lik = log_lik.detach().reshape(-1, n_steps, k).numpy()
    n, dtype = lik.shape[0], lik.dtype
    lik = np.ascontiguousarray(lik.transpose(1, 2, 0))  # (T, K, B)
    a = log_trans.detach().numpy()  # (K_i, K_j)
    a3 = np.ascontiguousarray(a[:, :, None])
    keep = None if mask is None else np.ascontiguousarray(mask.reshape(n, n_steps).numpy().T)  # (T, B)
    deltas = np.empty((n_steps, k, n), dtype=dtype)  # normalised delta_t, max over states 0
    maxima = np.empty((n_steps, n), dtype=dtype)  # m_t, the amount taken off at step t
    np.add(log_init.detach().numpy()[:, None], lik[0], out=deltas[0])
    np.maximum.reduce(deltas[0], 0, None, maxima[0])
    np.subtract(deltas[0], maxima[0], out=deltas[0])
    s, new = np.empty((k, k, n), dtype=dtype), np.empty((k, n), dtype=dtype)
    # lists of views made once: indexing a list costs far less than slicing an array every step
    d_rows, d_cols = list(deltas), list(deltas[:, :, None, :])
    m_rows, lik_rows = list(maxima), list(lik)
    add, maximum, subtract = np.add, np.maximum, np.subtract
    two = k == 2  # two binary maxima are cheaper than two reductions
    s0, s1, new0, new1 = (s[0], s[1], new[0], new[1]) if two else (s, s, new, new)
    # numpy's broadcasting add has a high cost per inner loop; torch's add (same IEEE sums,
    # written into the same memory) wins on big slabs
    big = k * k * n > _TORCH_ADD_SIZE
    s_t, a3_t = torch.from_numpy(s), torch.from_numpy(a3)
    d_cols_t = torch.from_numpy(deltas).unsqueeze(2).unbind(0) if big else None
    for t in range(1, n_steps):
        if big:
            torch.add(d_cols_t[t - 1], a3_t, out=s_t)
        else:
            add(d_cols[t - 1], a3, s)
        m_t = m_rows[t]
        if two:
            maximum(s0, s1, out=new)
            add(new, lik_rows[t], new)
            maximum(new0, new1, out=m_t)
        else:
            maximum.reduce(s, 0, None, new)
            add(new, lik_rows[t], new)
            maximum.reduce(new, 0, None, m_t)
        if keep is None:
            subtract(new, m_t, d_rows[t])
        else:
            subtract(new, m_t, new)
            kt = keep[t]
            np.copyto(d_rows[t], np.where(kt, new, d_rows[t - 1]))
            m_t[~kt] = 0.0
    scale = np.cumsum(maxima, axis=0)[-1]  # ((m_0 + m_1) + m_2) + ..., the torch loop's order
    last = deltas[-1]
    z = last.argmax(0)
    cols = np.arange(n)
    log_prob = last[z, cols] + scale
    # flat indices j * B + b into a (K, B) slab; pointers[t - 1][j, b] = psi_t(j) * B + b
    idx = np.empty((n_steps, n), dtype=np.int64)
    idx[-1] = z * n + cols
    idx_rows = list(idx)
    if n_steps > 1:
        if k <= _VECTOR_BACKTRACE_K:
            cand = deltas[:-1, None, :, :] + a.T[None, :, :, None]  # (T-1, K_j, K_i, B)
            if two:  # arg-max of two: 1 only where strictly larger (ties to 0; NaN was rejected)
                psi = (cand[:, :, 1] > cand[:, :, 0]).view(np.int8)
            else:
                psi = cand.argmax(2)
            if keep is not None:
                psi = np.where(keep[1:, None, :], psi, np.arange(k)[:, None])
            pointers = list(psi * n + cols)
            for t in range(n_steps - 1, 0, -1):
                pointers[t - 1].take(idx_rows[t], out=idx_rows[t - 1])
        else:
            a_t = np.ascontiguousarray(a.T)  # (K_j, K_i)
            cand = np.empty((n, k), dtype=dtype)
            d_rows_t = list(deltas.transpose(0, 2, 1))  # (B, K) views
            zs = np.empty((n_steps, n), dtype=np.int64)
            zs[-1] = z
            z_rows = list(zs)
            for t in range(n_steps - 1, 0, -1):
                a_t.take(z_rows[t], 0, cand)
                add(cand, d_rows_t[t - 1], cand)  # cand[b, i] = log A_{i, z_t} + delta_{t-1}(i, b)
                cand.argmax(1, out=z_rows[t - 1])
                if keep is not None:
                    np.copyto(z_rows[t - 1], z_rows[t], where=~keep[t])
            return (torch.from_numpy(np.ascontiguousarray(zs.T)).reshape(*batch, n_steps),
                    torch.from_numpy(log_prob).reshape(batch))
    path = idx.T // n  # (B, T)
    return (torch.from_numpy(np.ascontiguousarray(path)).reshape(*batch, n_steps),
            torch.from_numpy(log_prob).reshape(batch))
