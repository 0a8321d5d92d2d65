r"""Exact HMM inference in log space: filter, smoother, Viterbi, posterior sampling (sequential).

Pure functions on tensors, in the style of dynamax's ``hidden_markov_model/inference.py``. The core
is emission-agnostic: every function takes

* ``log_init``  ``(K,)``      :math:`\log \pi_k = \log p(z_1 = k)`,
* ``log_trans`` ``(K, K)``    :math:`\log A_{ij} = \log p(z_{t+1} = j \mid z_t = i)`,
* ``log_lik``   ``(..., T, K)`` :math:`\log p(x_t \mid z_t = k)` for any emission model, with any
  leading batch dims,
* ``lengths``   ``(...)`` optional ints in ``[1, T]`` for variable-length sequences padded to ``T``.

The recursions loop over time in Python and are vectorised over the batch dims, so many
sequences cost about as much as one. :mod:`ppl_models.hmm.parallel` has the same functions as an
associative scan (O(log T) depth). Padded steps (``t >= lengths``) are treated as identity
transitions with no emission, so they change nothing; outputs there are zero (probabilities) or
``-1`` (states).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ppl_models.hmm import fast_numba
from ppl_models.hmm.fast_cpu import smoother_cpu, viterbi_cpu
from ppl_models.hmm.validate import check_generator, check_inputs, check_positive_int

__all__ = [
    "HMMPosteriorFiltered",
    "HMMPosterior",
    "ViterbiResult",
    "hmm_log_likelihood",
    "hmm_filter",
    "hmm_smoother",
    "hmm_viterbi",
    "hmm_sample_posterior",
]


class HMMPosteriorFiltered(NamedTuple):
    """Filtering result.

    Attributes:
        marginal_loglik: ``(...)`` :math:`\\log p(x_{1:T})`.
        filtered_probs: ``(..., T, K)`` :math:`p(z_t \\mid x_{1:t})` (zero rows at padded steps).
    """

    marginal_loglik: torch.Tensor
    filtered_probs: torch.Tensor


class HMMPosterior(NamedTuple):
    """Smoothing result (what the E-step of Baum-Welch needs).

    Attributes:
        marginal_loglik: ``(...)`` :math:`\\log p(x_{1:T})`.
        filtered_probs: ``(..., T, K)`` :math:`p(z_t \\mid x_{1:t})`.
        smoothed_probs: ``(..., T, K)`` :math:`p(z_t \\mid x_{1:T})`.
        trans_counts: ``(..., K, K)`` :math:`\\sum_{t\\ge2} p(z_{t-1}=i, z_t=j \\mid x_{1:T})`.
    """

    marginal_loglik: torch.Tensor
    filtered_probs: torch.Tensor
    smoothed_probs: torch.Tensor
    trans_counts: torch.Tensor


class ViterbiResult(NamedTuple):
    """Most probable path ``(..., T)`` (``-1`` at padded steps) and its joint log-probability ``(...)``."""

    path: torch.Tensor
    log_prob: torch.Tensor


def _log_matvec(log_p: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """:math:`\\log \\sum_i p_i A_{ij}` for normalised ``log_p`` ``(..., K)`` (max <= 0, no overflow)."""
    return torch.log(torch.exp(log_p) @ trans)


def _forward(log_init, log_trans, log_lik, mask):
    """Normalised forward pass: log filtered probs ``(..., T, K)`` and log normalisers ``(..., T)``."""
    trans = log_trans.exp()
    u = log_init + log_lik[..., 0, :]
    c = torch.logsumexp(u, -1)
    f = u - c.unsqueeze(-1)
    fs, cs = [f], [c]
    for t in range(1, log_lik.shape[-2]):
        u = _log_matvec(f, trans) + log_lik[..., t, :]  # (..., K)
        c = torch.logsumexp(u, -1)
        f_new = u - c.unsqueeze(-1)
        if mask is not None:
            keep = mask[..., t]
            f_new = torch.where(keep.unsqueeze(-1), f_new, f)
            c = torch.where(keep, c, torch.zeros_like(c))
        f = f_new
        fs.append(f)
        cs.append(c)
    return torch.stack(fs, -2), torch.stack(cs, -1)


def _backward(log_trans, log_lik, log_norms, mask):
    r"""Scaled backward messages :math:`\log\hat\beta_t = \log p(x_{t+1:T}|z_t) - \sum_{s>t}\log c_s`."""
    trans = log_trans.exp()
    n_steps = log_lik.shape[-2]
    b = torch.zeros_like(log_lik[..., -1, :])
    bs = [b]
    for t in range(n_steps - 2, -1, -1):
        w = log_lik[..., t + 1, :] + b - log_norms[..., t + 1].unsqueeze(-1)
        m = w.amax(-1, keepdim=True).clamp_min(torch.finfo(w.dtype).min)
        b_new = torch.log(torch.exp(w - m) @ trans.T) + m  # (..., K)
        if mask is not None:
            b_new = torch.where(mask[..., t + 1].unsqueeze(-1), b_new, torch.zeros_like(b_new))
        b = b_new
        bs.append(b)
    return torch.stack(bs[::-1], -2)


def _expected_transitions(log_filtered, log_trans, log_lik, log_beta, mask):
    r"""Expected transition counts :math:`\sum_t \xi_t(i, j)` from filtered and backward messages.

    :math:`\xi_t(i,j) \propto \alpha_{t-1}(i) A_{ij} p(x_t \mid j) \beta_t(j)`, normalised per step, so
    any per-step scaling of :math:`\beta` cancels. Summed over time with one matmul (no ``T K^2`` array).
    """
    trans = log_trans.exp()
    p_prev = torch.exp(log_filtered[..., :-1, :])  # (..., T-1, K)
    w = log_lik[..., 1:, :] + log_beta[..., 1:, :]  # (..., T-1, K)
    log_norm = torch.logsumexp(torch.log(p_prev @ trans) + w, -1, keepdim=True)
    q = torch.exp((w - log_norm).clamp_max(700.0))
    if mask is not None:
        q = q * mask[..., 1:].unsqueeze(-1).to(q.dtype)
    return trans * (p_prev.transpose(-1, -2) @ q)


def _mask_probs(probs, mask):
    return probs if mask is None else probs * mask.unsqueeze(-1).to(probs.dtype)


def _smoothed(log_filtered, log_beta, mask):
    s = log_filtered + log_beta
    return _mask_probs(torch.exp(s - torch.logsumexp(s, -1, keepdim=True)), mask)


def hmm_log_likelihood(log_init, log_trans, log_lik, lengths=None) -> torch.Tensor:
    r"""Marginal log-likelihood :math:`\log p(x_{1:T}) = \log \sum_{z_{1:T}} \pi_{z_1} p(x_1|z_1)
    \prod_{t\ge2} A_{z_{t-1} z_t} p(x_t|z_t)` by the forward algorithm in log space.

    Args:
        log_init: ``(K,)`` initial log-probabilities.
        log_trans: ``(K, K)`` transition log-probabilities, rows sum to one.
        log_lik: ``(..., T, K)`` emission log-likelihoods.
        lengths: optional ``(...)`` integer lengths in ``[1, T]``.

    Returns:
        ``(...)`` log-likelihood of each sequence.
    """
    return hmm_filter(log_init, log_trans, log_lik, lengths).marginal_loglik


def hmm_filter(log_init, log_trans, log_lik, lengths=None) -> HMMPosteriorFiltered:
    r"""Forward filter :math:`\alpha_t(j) = p(x_t|j) \sum_i \alpha_{t-1}(i) A_{ij}`, normalised per step.

    With :math:`c_t = \sum_j \tilde\alpha_t(j)`, the filtered probabilities are
    :math:`\tilde\alpha_t / c_t` and :math:`\log p(x_{1:T}) = \sum_t \log c_t`.

    Args: see :func:`hmm_log_likelihood`.

    Returns:
        :class:`HMMPosteriorFiltered` with ``marginal_loglik (...)`` and ``filtered_probs (..., T, K)``.
    """
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    log_f, log_c = _forward(li, lt, ll, mask)
    return HMMPosteriorFiltered(log_c.sum(-1), _mask_probs(log_f.exp(), mask))


def hmm_smoother(log_init, log_trans, log_lik, lengths=None) -> HMMPosterior:
    r"""Forward-backward smoother: :math:`p(z_t \mid x_{1:T}) \propto \alpha_t(z_t)\beta_t(z_t)`, with
    :math:`\beta_t(i) = \sum_j A_{ij} p(x_{t+1}|j) \beta_{t+1}(j)`, :math:`\beta_T = 1`, and the
    expected transition counts :math:`\sum_t p(z_{t-1}=i, z_t=j \mid x_{1:T})`.

    Args: see :func:`hmm_log_likelihood`.

    Returns:
        :class:`HMMPosterior` (marginals ``(..., T, K)``, counts ``(..., K, K)``).
    """
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    if mask is None and ll.device.type == "cpu" and ll.dtype in (torch.float32, torch.float64) \
            and not (li.requires_grad or lt.requires_grad or ll.requires_grad):
        fast = smoother_cpu(li, lt, ll)  # None where a scale underflowed
        if fast is not None:
            return HMMPosterior(*fast)
    return _smoother_torch(li, lt, ll, mask)


def _smoother_torch(li, lt, ll, mask) -> HMMPosterior:
    """The log-space forward-backward with torch ops (any device, autograd, padding)."""
    log_f, log_c = _forward(li, lt, ll, mask)
    log_b = _backward(lt, ll, log_c, mask)
    counts = _expected_transitions(log_f, lt, ll, log_b, mask)
    return HMMPosterior(log_c.sum(-1), _mask_probs(log_f.exp(), mask), _smoothed(log_f, log_b, mask), counts)


def _identity_map(like: torch.Tensor, k: int) -> torch.Tensor:
    return torch.arange(k, device=like.device).expand(*like.shape[:-1], k)


def _finish_path(path, mask):
    return path if mask is None else torch.where(mask, path, torch.full_like(path, -1))


def hmm_viterbi(log_init, log_trans, log_lik, lengths=None) -> ViterbiResult:
    r"""Most probable path :math:`\arg\max_{z_{1:T}} p(z_{1:T}, x_{1:T})` by max-product dynamic programming.

    :math:`\delta_t(j) = \log p(x_t|j) + \max_i [\delta_{t-1}(i) + \log A_{ij}]`, back-pointers
    :math:`\psi_t(j)` the arg-max; ties go to the lowest state index.

    Args: see :func:`hmm_log_likelihood`.

    Returns:
        :class:`ViterbiResult`: ``path (..., T)`` int64 and ``log_prob (...)``.
    """
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    if ll.device.type == "cpu" and ll.dtype in (torch.float32, torch.float64):
        fast = fast_numba.viterbi_numba if fast_numba.AVAILABLE else viterbi_cpu
        path, log_prob = fast(li, lt, ll, mask)
        return ViterbiResult(_finish_path(path, mask), log_prob)
    return _viterbi_torch(li, lt, ll, mask)


def _viterbi_torch(li, lt, ll, mask) -> ViterbiResult:
    """The max-product recursion with torch ops (any device); the reference for the CPU fast path
    :func:`ppl_models.hmm.fast_numba.viterbi_numba` and the numpy :func:`ppl_models.hmm.fast_cpu.viterbi_cpu`
    (both bit-identical)."""
    k, n_steps = li.shape[0], ll.shape[-2]
    delta = li + ll[..., 0, :]
    scale = delta.amax(-1)
    delta = delta - scale.unsqueeze(-1)
    pointers = []
    for t in range(1, n_steps):
        best, arg = (delta.unsqueeze(-1) + lt).max(-2)  # (..., K)
        new = best + ll[..., t, :]
        m = new.amax(-1)
        new = new - m.unsqueeze(-1)
        if mask is not None:
            keep = mask[..., t]
            new = torch.where(keep.unsqueeze(-1), new, delta)
            arg = torch.where(keep.unsqueeze(-1), arg, _identity_map(arg, k))
            m = torch.where(keep, m, torch.zeros_like(m))
        delta, scale = new, scale + m
        pointers.append(arg)
    log_prob, z = delta.max(-1)
    states = [z]
    for arg in reversed(pointers):
        z = arg.gather(-1, z.unsqueeze(-1)).squeeze(-1)
        states.append(z)
    path = torch.stack(states[::-1], -1)
    return ViterbiResult(_finish_path(path, mask), log_prob + scale)


def _sampling_maps(log_filtered, log_trans, uniforms):
    r"""Inverse-CDF maps for backward sampling.

    ``maps[..., t, j]`` is the draw of :math:`z_t \sim p(z_t \mid z_{t+1}=j, x_{1:t}) \propto
    \alpha_t(z_t) A_{z_t j}` from the uniform ``u_t`` (the same uniform for every ``j``), for
    ``t < T-1``; ``last`` is the draw of :math:`z_T \sim p(z_T \mid x_{1:T})` from ``u_T``.

    Args:
        log_filtered: ``(..., T, K)``; log_trans ``(K, K)``; uniforms ``(S, ..., T)``.

    Returns:
        ``maps (S, ..., T-1, K)`` and ``last (S, ...)`` int64.
    """
    k = log_trans.shape[0]
    w = log_filtered[..., :-1, :, None] + log_trans  # (..., T-1, K_i, K_j)
    cdf = torch.softmax(w, dim=-2).cumsum(-2).transpose(-1, -2)  # (..., T-1, K_j, K_i)
    u = uniforms[..., :-1, None, None]  # (S, ..., T-1, 1, 1)
    maps = (cdf < u).sum(-1).clamp_max(k - 1)
    cdf_last = torch.softmax(log_filtered[..., -1, :], -1).cumsum(-1)  # (..., K)
    last = (cdf_last < uniforms[..., -1:]).sum(-1).clamp_max(k - 1)
    return maps, last


def _posterior_sampling_inputs(log_init, log_trans, log_lik, num_samples, generator, lengths, forward):
    check_positive_int(num_samples, "num_samples")
    check_generator(generator)
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    log_f = forward(li, lt, ll, mask)
    shape = (num_samples, *ll.shape[:-1])
    uniforms = torch.rand(shape, generator=generator, dtype=ll.dtype, device="cpu").to(ll.device)
    maps, last = _sampling_maps(log_f, lt, uniforms)
    if mask is not None:  # padded steps copy the next state
        maps = torch.where(mask[..., 1:, None], maps, _identity_map(maps, lt.shape[0]))
    return maps, last, mask


def hmm_sample_posterior(log_init, log_trans, log_lik, num_samples: int = 1, generator=None,
                         lengths=None) -> torch.Tensor:
    r"""Forward-filter backward-sample: exact draws :math:`z_{1:T} \sim p(z_{1:T} \mid x_{1:T})`.

    :math:`z_T \sim p(z_T|x_{1:T})`, then :math:`z_t \sim p(z_t \mid z_{t+1}, x_{1:t}) \propto
    \alpha_t(z_t) A_{z_t z_{t+1}}` by inverse CDF. Uniforms are drawn on the CPU from ``generator``,
    so the parallel twin gives the same draws for the same generator state.

    Args:
        log_init, log_trans, log_lik, lengths: see :func:`hmm_log_likelihood`.
        num_samples: number of paths ``S``.
        generator: optional ``torch.Generator`` (CPU) for reproducible draws.

    Returns:
        ``(S, ..., T)`` int64 state paths (``-1`` at padded steps).
    """
    maps, z, mask = _posterior_sampling_inputs(
        log_init, log_trans, log_lik, num_samples, generator, lengths, lambda *a: _forward(*a)[0])
    states = [z]
    for t in range(maps.shape[-2] - 1, -1, -1):
        z = maps[..., t, :].gather(-1, z.unsqueeze(-1)).squeeze(-1)
        states.append(z)
    return _finish_path(torch.stack(states[::-1], -1), mask)
