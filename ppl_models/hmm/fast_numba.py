r"""Compiled CPU Viterbi (numba): the torch loop's arithmetic, one sequence at a time, no Python per step.

:func:`ppl_models.hmm.fast_cpu.viterbi_cpu` makes a few numpy calls per time step on the whole batch,
so a short batch of sequences pays the per-call cost of numpy ``T`` times. This module compiles the
same recursion with numba (a pip wheel: no compiler is needed on the learner's machine) and runs it
as plain loops over sequences, steps and states:

.. math:: \tilde\delta_t(j) = \max_i [\delta_{t-1}(i) + \log A_{ij}] + \log p(x_t \mid j),\quad
    m_t = \max_j \tilde\delta_t(j),\quad \delta_t = \tilde\delta_t - m_t,\quad
    \psi_t(j) = \arg\max_i [\delta_{t-1}(i) + \log A_{ij}],

in the input's own precision (float32 stays float32), the arg-max taking the lowest index among
ties, padded steps copying :math:`\delta_{t-1}` with :math:`\psi_t` the identity and :math:`m_t = 0`,
and :math:`\log p = \max_j \delta_T(j) + (((m_1 + m_2) + m_3) + \dots)`. Every operation is the one
:func:`ppl_models.hmm.inference._viterbi_torch` performs, in the same order, so path and log-probability
are bit-identical to it (tested). Without numba, :data:`AVAILABLE` is False and the numpy path is used.
The first call compiles (about a second; cached on disk in ``__pycache__`` afterwards).
"""

from __future__ import annotations

import numpy as np
import torch

try:  # numba is a dependency of the course; the package still works (slower Viterbi) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

__all__ = ["AVAILABLE", "viterbi_numba"]

AVAILABLE = numba is not None


def _viterbi_kernel(log_init, log_trans, lik, keep, path, log_prob):  # pragma: no cover - compiled
    n, n_steps, k = lik.shape
    delta = np.empty(k, dtype=lik.dtype)
    new = np.empty(k, dtype=lik.dtype)
    psi = np.empty((n_steps, k), dtype=np.int64)
    for b in range(n):
        for j in range(k):
            delta[j] = log_init[j] + lik[b, 0, j]
        # the three maximum loops are written out on purpose: a shared compiled helper measured
        # 2-17% slower (K = 50 down to K = 2) on the benchmark's problem
        scale = delta[0]
        for j in range(1, k):
            if delta[j] > scale:
                scale = delta[j]
        for j in range(k):
            delta[j] = delta[j] - scale
        for t in range(1, n_steps):
            if not keep[b, t]:
                for j in range(k):
                    psi[t, j] = j
                continue  # delta unchanged, m_t = 0: the scale is unchanged
            # states i outer, j inner: contiguous rows of A, so the loop over j vectorises
            d0 = delta[0]
            for j in range(k):
                new[j] = d0 + log_trans[0, j]
                psi[t, j] = 0
            for i in range(1, k):
                di = delta[i]
                for j in range(k):
                    s = di + log_trans[i, j]
                    if s > new[j]:  # strictly larger: ties keep the lowest state
                        new[j] = s
                        psi[t, j] = i
            for j in range(k):
                new[j] = new[j] + lik[b, t, j]
            m = new[0]
            for j in range(1, k):
                if new[j] > m:
                    m = new[j]
            for j in range(k):
                delta[j] = new[j] - m
            scale = scale + m
        best = delta[0]
        z = 0
        for j in range(1, k):
            if delta[j] > best:
                best = delta[j]
                z = j
        log_prob[b] = best + scale
        path[b, n_steps - 1] = z
        for t in range(n_steps - 1, 0, -1):
            z = psi[t, z]
            path[b, t - 1] = z


_kernel = numba.njit(cache=True, nogil=True)(_viterbi_kernel) if AVAILABLE else None


def viterbi_numba(log_init: torch.Tensor, log_trans: torch.Tensor, log_lik: torch.Tensor,
                  mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Max-product Viterbi compiled with numba; bit-identical to the torch loop.

    Args:
        log_init ``(K,)``, log_trans ``(K, K)``, log_lik ``(..., T, K)``: validated, one float dtype, CPU
        (as :func:`ppl_models.hmm.validate.check_inputs` returns them).
        mask: ``(..., T)`` bool, ``True`` on real steps, or ``None``.

    Returns:
        ``path (..., T)`` int64 (padding not yet marked) and ``log_prob (...)``.
    """
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; use ppl_models.hmm.fast_cpu.viterbi_cpu")
    batch, (n_steps, k) = log_lik.shape[:-2], log_lik.shape[-2:]
    lik = np.ascontiguousarray(log_lik.detach().reshape(-1, n_steps, k).numpy())
    n = lik.shape[0]
    if mask is None:
        keep = np.ones((n, n_steps), dtype=np.bool_)
    else:
        keep = np.ascontiguousarray(mask.reshape(n, n_steps).numpy())
    li = np.ascontiguousarray(log_init.detach().numpy())
    lt = np.ascontiguousarray(log_trans.detach().numpy())
    path = np.empty((n, n_steps), dtype=np.int64)
    log_prob = np.empty(n, dtype=lik.dtype)
    _kernel(li, lt, lik, keep, path, log_prob)
    return torch.from_numpy(path).reshape(*batch, n_steps), torch.from_numpy(log_prob).reshape(batch)
