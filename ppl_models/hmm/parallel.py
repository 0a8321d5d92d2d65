r"""Parallel-scan twins of :mod:`ppl_models.hmm.inference` (same names, signatures and results).

Filtering is a prefix product of the per-step matrices
:math:`M_t(i, j) = A_{ij}\, p(x_t \mid z_t = j)` (with :math:`M_1(i, j) = \pi_j p(x_1 \mid j)`) in the
log semiring, and Viterbi the same product in the max-plus semiring. Matrix products are
associative, so an associative scan (Blelloch; Särkkä & García-Fernández 2021) computes all
prefixes in :math:`O(\log T)` sequential depth and :math:`O(T K^3)` work. Backward messages are
suffix products, and Viterbi back-tracking and posterior sampling are compositions of index maps
:math:`z_t = f_t(z_{t+1})`, also associative.

This pays off on a GPU for long sequences. On a CPU the extra :math:`K` factor of work usually
costs more than the Python loop it saves, except for very long sequences with small ``K``.
Memory: ``O(T K^2)`` for the filter/smoother/sampler; Viterbi's max-plus product needs a
``(T/2, K, K, K)`` intermediate, so keep ``T K^3`` moderate there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ppl_models.hmm.inference import (
    HMMPosterior,
    HMMPosteriorFiltered,
    ViterbiResult,
    _expected_transitions,
    _finish_path,
    _mask_probs,
    _posterior_sampling_inputs,
    _smoothed,
)
from ppl_models.hmm.validate import check_inputs

__all__ = [
    "associative_scan",
    "hmm_log_likelihood",
    "hmm_filter",
    "hmm_smoother",
    "hmm_viterbi",
    "hmm_sample_posterior",
]

Elems = tuple[torch.Tensor, ...]


def associative_scan(fn: Callable[[Elems, Elems], Elems], elems: Elems) -> Elems:
    r"""Inclusive prefix scan :math:`(e_1, e_1 \circ e_2, \dots)` of an associative ``fn`` over dim 0.

    Odd-even recursion as in ``jax.lax.associative_scan``: combine neighbouring pairs, scan the
    half-length sequence, then fill in the even positions; depth :math:`O(\log T)`.

    Args:
        fn: associative binary operation on tuples of tensors, vectorised over dim 0
            (``fn(earlier, later)``).
        elems: tuple of tensors sharing their leading (time) dim ``T``.

    Returns:
        Tuple of tensors of the same shapes holding the prefixes.
    """
    if not isinstance(elems, tuple) or not elems or not all(torch.is_tensor(e) for e in elems):
        raise ValueError("elems must be a non-empty tuple of tensors")
    n = elems[0].shape[0] if elems[0].ndim else 0
    if n == 0 or any(e.ndim == 0 or e.shape[0] != n for e in elems):
        raise ValueError("elems must share a non-empty leading (time) dim")
    return _scan(fn, elems)


def _scan(fn, elems: Elems) -> Elems:
    n = elems[0].shape[0]
    if n < 2:
        return elems
    reduced = fn(tuple(e[0:-1:2] for e in elems), tuple(e[1::2] for e in elems))
    odd = _scan(fn, reduced)  # prefixes at positions 1, 3, 5, ...
    rest = tuple(e[2::2] for e in elems)
    even = fn(tuple(o[:-1] for o in odd) if n % 2 == 0 else odd, rest)  # positions 2, 4, ...
    out = tuple(torch.empty_like(e) for e in elems)
    for o, e, od, ev in zip(out, elems, odd, even, strict=True):
        o[0] = e[0]
        o[1::2] = od
        o[2::2] = ev
    return out


def _finite_max(x: torch.Tensor, dim) -> torch.Tensor:
    m = x.amax(dim=dim, keepdim=True)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _log_matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\log (e^X e^Y)` via a shifted BLAS matmul: :math:`m_X + m_Y + \log(e^{X-m_X} e^{Y-m_Y})`."""
    mx, my = _finite_max(x, -1), _finite_max(y, -2)
    return torch.log(torch.exp(x - mx) @ torch.exp(y - my)) + mx + my


def _max_matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Max-plus product :math:`\\max_k X_{ik} + Y_{kj}` (``(..., K, K, K)`` intermediate)."""
    return (x.unsqueeze(-1) + y.unsqueeze(-3)).amax(-2)


def _normalised(product):
    """Lift a matrix product to (matrix, log-scale) pairs that stay normalised (max entry 0)."""

    def fn(a: Elems, b: Elems) -> Elems:
        z = product(a[0], b[0])
        m = _finite_max(z, (-1, -2))
        return z - m, a[1] + b[1] + m.squeeze(-1).squeeze(-1)

    return fn


def _step_matrices(log_init, log_trans, log_lik, mask):
    """Per-step log matrices ``(T, ..., K, K)``, normalised, with their log scales ``(T, ...)``."""
    k = log_init.shape[0]
    mats = log_trans + log_lik.unsqueeze(-2)  # (..., T, K, K)
    first = (log_init + log_lik[..., 0, :]).unsqueeze(-2).expand(*log_lik.shape[:-2], k, k)
    mats = torch.cat([first.unsqueeze(-3), mats[..., 1:, :, :]], -3)
    if mask is not None:
        eye = torch.full((k, k), float("-inf"), dtype=mats.dtype, device=mats.device)
        eye.fill_diagonal_(0.0)
        mats = torch.where(mask[..., None, None], mats, eye)
    m = _finite_max(mats, (-1, -2))
    mats, scale = mats - m, m.squeeze(-1).squeeze(-1)
    return mats.movedim(-3, 0), scale.movedim(-1, 0)


def _prefix(mats, scale, product):
    """Inclusive prefix products (time first); row 0 of prefix ``t`` is the forward message."""
    p, s = associative_scan(_normalised(product), (mats, scale))
    return p[..., 0, :].movedim(0, -2), s.movedim(0, -1)  # (..., T, K), (..., T)


def _forward(log_init, log_trans, log_lik, mask):
    mats, scale = _step_matrices(log_init, log_trans, log_lik, mask)
    msg, s = _prefix(mats, scale, _log_matmul)
    norm = torch.logsumexp(msg, -1)
    return msg - norm.unsqueeze(-1), s[..., -1] + norm[..., -1]


def _backward(log_init, log_trans, log_lik, mask):
    """Log backward messages (each step normalised) by a reverse scan of suffix products."""
    mats, scale = _step_matrices(log_init, log_trans, log_lik, mask)
    if mats.shape[0] == 1:
        return torch.zeros_like(log_lik).movedim(-2, 0)
    rev = (mats[1:].flip(0), scale[1:].flip(0))
    later_first = _normalised(_log_matmul)
    suffix, _ = associative_scan(lambda a, b: later_first(b, a), rev)
    beta = torch.logsumexp(suffix.flip(0), -1)  # (T-1, ..., K)
    beta = torch.cat([beta, torch.zeros_like(beta[:1])], 0)
    return beta - torch.logsumexp(beta, -1, keepdim=True)


def hmm_log_likelihood(log_init, log_trans, log_lik, lengths=None) -> torch.Tensor:
    """Parallel-scan twin of :func:`ppl_models.hmm.inference.hmm_log_likelihood`."""
    return hmm_filter(log_init, log_trans, log_lik, lengths).marginal_loglik


def hmm_filter(log_init, log_trans, log_lik, lengths=None) -> HMMPosteriorFiltered:
    r"""Parallel-scan twin of :func:`ppl_models.hmm.inference.hmm_filter`:
    :math:`\alpha_t = \text{row}_1(M_1 M_2 \cdots M_t)` for every ``t`` at once."""
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    log_f, loglik = _forward(li, lt, ll, mask)
    return HMMPosteriorFiltered(loglik, _mask_probs(log_f.exp(), mask))


def hmm_smoother(log_init, log_trans, log_lik, lengths=None) -> HMMPosterior:
    r"""Parallel-scan twin of :func:`ppl_models.hmm.inference.hmm_smoother`:
    :math:`\beta_t = (M_{t+1} \cdots M_T)\mathbf{1}` by a reverse scan."""
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    log_f, loglik = _forward(li, lt, ll, mask)
    log_b = _backward(li, lt, ll, mask).movedim(0, -2)
    counts = _expected_transitions(log_f, lt, ll, log_b, mask)
    return HMMPosterior(loglik, _mask_probs(log_f.exp(), mask), _smoothed(log_f, log_b, mask), counts)


def _compose_later_first(a: Elems, b: Elems) -> Elems:
    """In reversed time, ``a`` holds later maps: result = b ∘ a, i.e. ``b[a[j]]``."""
    return (b[0].gather(-1, a[0]),)


def _compose_maps(maps: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """States ``(..., T)`` from ``z_T = last`` and ``z_t = maps[..., t, z_{t+1}]`` by a reverse scan."""
    if maps.shape[-2] == 0:
        return last.unsqueeze(-1)
    rev = (maps.movedim(-2, 0).flip(0),)  # (T-1, ..., K), latest map first
    (composed,) = associative_scan(_compose_later_first, rev)
    idx = last.unsqueeze(0).unsqueeze(-1).expand(composed.shape[0], *last.shape, 1)
    earlier = composed.gather(-1, idx).squeeze(-1).flip(0).movedim(0, -1)  # (..., T-1)
    return torch.cat([earlier, last.unsqueeze(-1)], -1)


def hmm_viterbi(log_init, log_trans, log_lik, lengths=None) -> ViterbiResult:
    r"""Parallel-scan twin of :func:`ppl_models.hmm.inference.hmm_viterbi`: max-plus prefix products
    give :math:`\delta_t`, then back-pointer maps :math:`\psi_{t+1}` are composed by a reverse scan."""
    li, lt, ll, mask = check_inputs(log_init, log_trans, log_lik, lengths)
    k = li.shape[0]
    mats, scale = _step_matrices(li, lt, ll, mask)
    delta, s = _prefix(mats, scale, _max_matmul)  # (..., T, K) normalised, log-scales
    pointers = (delta[..., :-1, :, None] + lt).argmax(-2)  # (..., T-1, K): best i for each j
    if mask is not None:
        ident = torch.arange(k, device=ll.device).expand_as(pointers)
        pointers = torch.where(mask[..., 1:, None], pointers, ident)
    best, last = delta[..., -1, :].max(-1)
    path = _compose_maps(pointers, last)
    return ViterbiResult(_finish_path(path, mask), best + s[..., -1])


def hmm_sample_posterior(log_init, log_trans, log_lik, num_samples: int = 1, generator=None,
                         lengths=None) -> torch.Tensor:
    """Parallel-scan twin of :func:`ppl_models.hmm.inference.hmm_sample_posterior` (same draws for
    the same generator state)."""
    maps, last, mask = _posterior_sampling_inputs(
        log_init, log_trans, log_lik, num_samples, generator, lengths, lambda *a: _forward(*a)[0])
    return _finish_path(_compose_maps(maps, last), mask)
