r"""The partition function of an RBM: exactly for small layers, by annealed importance sampling.

Exact: with the smaller layer enumerated and the other summed in closed form,

.. math::

    \log Z = \log \sum_{v} e^{-F(v)}
           = \log \sum_{h} \exp\Big(c^\top h + \sum_i \mathrm{softplus}(b_i + W_{i,:} h)\Big).

AIS (Neal 2001; Salakhutdinov & Murray 2008): from a base-rate model :math:`A` (``W = 0``,
``c = 0``, visible biases :math:`b_A` from the data's pixel means, so
:math:`\log Z_A = \sum_i \mathrm{softplus}(b_{A,i}) + H \log 2`) anneal to the RBM :math:`B`
through :math:`p_k(v, h) \propto p_A(v, h)^{1 - \beta_k} p_B(v, h)^{\beta_k}`, i.e. the RBM with
parameters :math:`(\beta_k W, (1 - \beta_k) b_A + \beta_k b, \beta_k c)` and unnormalised marginal

.. math::

    \log p_k^*(v) = \big((1-\beta_k) b_A + \beta_k b\big)^\top v
                    + \sum_j \mathrm{softplus}\big(\beta_k (c_j + v^\top W_{:,j})\big).

Starting from exact samples of :math:`p_0 = p_A`, each chain accumulates
:math:`\log w = \sum_{k=1}^{K} [\log p_k^*(v_k) - \log p_{k-1}^*(v_k)]` with
:math:`v_{k+1}` drawn by one block Gibbs sweep of :math:`p_k` (which leaves :math:`p_k`
invariant), and :math:`Z_B / Z_A \approx \frac1M \sum_m w_m`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..validation import check_int, check_matrix, check_nonneg
from .rbm import RBM, _bernoulli, check_generator

__all__ = ["AISResult", "NLLResult", "exact_log_partition", "exact_log_likelihood", "base_rate_bias",
           "ais_betas", "ais_log_partition", "rbm_nll"]


class AISResult(NamedTuple):
    """An AIS estimate of :math:`\\log Z`.

    Attributes:
        log_Z: :math:`\\log Z_A + \\log \\frac1M \\sum_m w_m`.
        log_Z_std_err: delta-method standard error, :math:`\\mathrm{sd}(w) / (\\sqrt M\\, \\bar w)`.
        log_weights: ``(M,)`` float64 log importance weights :math:`\\log w_m`.
        log_Z_base: :math:`\\log Z_A` of the base-rate model.
        ess: effective sample size :math:`(\\sum w)^2 / \\sum w^2` of the weights.
    """

    log_Z: float
    log_Z_std_err: float
    log_weights: torch.Tensor
    log_Z_base: float
    ess: float


class NLLResult(NamedTuple):
    """Mean negative log-likelihood :math:`\\overline{F(v)} + \\log Z` (nats per example).

    Attributes:
        nll: the estimate.
        std_err: :math:`\\sqrt{\\text{log\\_Z\\_std\\_err}^2 + \\text{free\\_energy\\_std\\_err}^2}`.
        log_Z_std_err: the part from the :math:`\\log Z` estimate (0 for an exact one).
        free_energy_std_err: standard error of the mean free energy over the examples.
    """

    nll: float
    std_err: float
    log_Z_std_err: float
    free_energy_std_err: float


def _bit_states(start: int, stop: int, n: int, dtype, device) -> torch.Tensor:
    """Rows ``start..stop-1`` of the ``(2^n, n)`` table of all binary states (bit i of the index)."""
    idx = torch.arange(start, stop, device=device)
    return ((idx[:, None] >> torch.arange(n, device=device)) & 1).to(dtype)


def exact_log_partition(rbm: RBM, *, max_units: int = 20, chunk_size: int = 2**14) -> float:
    r"""Exact :math:`\log Z` in float64 by enumerating the smaller layer (``<= max_units`` units).

    Args:
        rbm: the model.
        max_units: refuse when both layers are larger than this (``2^n`` states).
        chunk_size: states evaluated at once (memory ``chunk_size * max(V, H)``).

    Returns:
        :math:`\log Z` as a Python float.
    """
    if not isinstance(rbm, RBM):
        raise ValueError(f"rbm must be an RBM, got {type(rbm).__name__}")
    max_units = check_int(max_units, "max_units", high=30)
    chunk_size = check_int(chunk_size, "chunk_size")
    W, b, c = (p.detach().double() for p in (rbm.W, rbm.b, rbm.c))
    V, H = W.shape
    if min(V, H) > max_units:
        raise ValueError(f"rbm has {V} visible and {H} hidden units; exact log Z enumerates the smaller "
                         f"layer and needs one with <= max_units={max_units} units (use AIS)")
    if V > H:  # sum over hidden states: roles of (b, c) swap and W transposes
        W, b, c = W.T, c, b
    n = W.shape[0]
    parts = []
    for start in range(0, 2**n, chunk_size):
        s = _bit_states(start, min(start + chunk_size, 2**n), n, W.dtype, W.device)
        parts.append(torch.logsumexp(s @ b + F.softplus(s @ W + c).sum(-1), 0))
    return float(torch.logsumexp(torch.stack(parts), 0))


def exact_log_likelihood(rbm: RBM, v: torch.Tensor, log_Z: float | None = None) -> torch.Tensor:
    r""":math:`\log p(v) = -F(v) - \log Z` in float64, ``(N, V)`` -> ``(N,)``.

    ``log_Z`` defaults to :func:`exact_log_partition` (small layers only).
    """
    v = rbm._v(v).double()
    if log_Z is None:
        log_Z = exact_log_partition(rbm)
    elif not isinstance(log_Z, (int, float)) or not math.isfinite(log_Z):
        raise ValueError(f"log_Z must be a finite number, got {log_Z!r}")
    W, b, c = (p.detach().double() for p in (rbm.W, rbm.b, rbm.c))
    return (v @ b + F.softplus(v @ W + c).sum(-1)) - log_Z


def base_rate_bias(x: torch.Tensor, pseudocount: float = 1.0) -> torch.Tensor:
    r"""Visible biases of the base-rate model, :math:`b_{A,i} = \log \frac{p_i}{1 - p_i}`, with
    :math:`p_i = (\sum_n x_{ni} + \alpha) / (N + 2\alpha)` the smoothed mean of column ``i``.

    Args:
        x: ``(N, V)`` data with entries in [0, 1] (binary pixels or pixel probabilities).
        pseudocount: :math:`\alpha \ge 0`, keeps always-off pixels finite.

    Returns:
        ``(V,)`` on ``x``'s device and dtype.
    """
    x = check_matrix(x, "x")
    if bool((x < 0).any() | (x > 1).any()):
        raise ValueError("x must lie in [0, 1] (binary data or probabilities)")
    a = check_nonneg(pseudocount, "pseudocount")
    p = (x.sum(0) + a) / (x.shape[0] + 2 * a)
    if bool(((p <= 0) | (p >= 1)).any()):
        raise ValueError("x has a column that is always 0 or always 1; use pseudocount > 0")
    return torch.log(p) - torch.log1p(-p)


def ais_betas(n_betas: int = 14_500, *, dtype: torch.dtype = torch.float64,
              device: torch.device | str = "cpu") -> torch.Tensor:
    r"""Salakhutdinov & Murray's schedule: :math:`\beta` rises 0 -> 0.5 -> 0.9 -> 1 linearly in
    three pieces holding 500 / 4,000 / 10,000 of the paper's 14,500 steps (scaled to ``n_betas``).

    Returns:
        ``(n_betas + 1,)`` from exactly 0 to exactly 1, non-decreasing.
    """
    n = check_int(n_betas, "n_betas", low=3)
    n1 = max(1, round(n * 500 / 14_500))
    n2 = max(1, round(n * 4_000 / 14_500))
    n3 = n - n1 - n2
    pieces = [torch.zeros(1, dtype=dtype, device=device)]
    for lo, hi, m in ((0.0, 0.5, n1), (0.5, 0.9, n2), (0.9, 1.0, n3)):
        pieces.append(torch.linspace(lo, hi, m + 1, dtype=dtype, device=device)[1:])
    return torch.cat(pieces)


def _check_betas(betas) -> torch.Tensor:
    if not torch.is_tensor(betas) or betas.ndim != 1 or betas.shape[0] < 2:
        raise ValueError("betas must be a 1-D tensor of at least 2 inverse temperatures")
    if not bool(torch.isfinite(betas).all()):
        raise ValueError("betas contains NaN or infinite values")
    if betas[0] != 0 or betas[-1] != 1 or bool((betas.diff() < 0).any()):
        raise ValueError("betas must rise monotonically from exactly 0 to exactly 1")
    return betas


@torch.no_grad()
def ais_log_partition(rbm: RBM, base_bias: torch.Tensor, betas: torch.Tensor, n_chains: int = 100, *,
                      generator: torch.Generator, dtype: torch.dtype = torch.float64) -> AISResult:
    r"""Annealed importance sampling estimate of :math:`\log Z` of ``rbm`` (see the module docstring).

    Args:
        rbm: the model :math:`B`.
        base_bias: ``(V,)`` visible biases :math:`b_A` of the base-rate model (:func:`base_rate_bias`).
        betas: ``(K + 1,)`` inverse temperatures from 0 to 1 (:func:`ais_betas`).
        n_chains: independent AIS runs :math:`M`.
        generator: a ``torch.Generator`` on the model's device.
        dtype: precision of the chains (float64 default: the weights are sums of ``K`` small
            differences of softplus terms).

    Returns:
        An :class:`AISResult`.
    """
    if not isinstance(rbm, RBM):
        raise ValueError(f"rbm must be an RBM, got {type(rbm).__name__}")
    dev = rbm.W.device
    if not torch.is_tensor(base_bias) or base_bias.shape != (rbm.n_visible,):
        raise ValueError(f"base_bias must be a tensor of shape ({rbm.n_visible},)")
    if not bool(torch.isfinite(base_bias).all()):
        raise ValueError("base_bias contains NaN or infinite values")
    betas = _check_betas(betas).to(device=dev, dtype=torch.float64).tolist()
    M = check_int(n_chains, "n_chains", low=2)
    check_generator(generator, dev)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    W, b, c = (p.detach().to(dtype) for p in (rbm.W, rbm.b, rbm.c))
    bA = base_bias.detach().to(device=dev, dtype=dtype)
    log_ZA = float(F.softplus(bA.double()).sum()) + rbm.n_hidden * math.log(2.0)
    v = _bernoulli(torch.sigmoid(bA).expand(M, -1), generator)         # exact samples of p_0
    logw = torch.zeros(M, dtype=torch.float64, device=dev)
    db = b - bA
    for k in range(1, len(betas)):
        bk, bprev = betas[k], betas[k - 1]
        a = torch.addmm(c, v, W)                                           # (M, H)
        logw += ((bk - bprev) * (v @ db) + (F.softplus(bk * a) - F.softplus(bprev * a)).sum(-1)).double()
        if k < len(betas) - 1:  # Gibbs sweep on p_k, reusing a for p(h | v)
            h = _bernoulli(torch.sigmoid(bk * a), generator)
            v = _bernoulli(torch.addmm(bA + bk * db, h, W.T, alpha=bk).sigmoid_(), generator)
    log_mean_w = float(torch.logsumexp(logw, 0)) - math.log(M)
    w = torch.exp(logw - logw.max())
    std_err = float(w.std() / (math.sqrt(M) * w.mean()))
    ess = float(w.sum() ** 2 / (w**2).sum())
    return AISResult(log_ZA + log_mean_w, std_err, logw, log_ZA, ess)


def rbm_nll(rbm: RBM, v: torch.Tensor, log_Z: float | AISResult) -> NLLResult:
    r"""Mean negative log-likelihood :math:`\frac1N \sum_n F(v_n) + \log Z` in nats per example.

    Args:
        rbm: the model.
        v: ``(N, V)`` binary (e.g. test) data, ``N >= 2``.
        log_Z: an exact value (float) or an :class:`AISResult`, whose standard error is carried over.

    Returns:
        An :class:`NLLResult`; the two standard errors combine in quadrature.
    """
    v = rbm._v(v).double()
    if v.shape[0] < 2:
        raise ValueError("v needs at least 2 rows for a standard error")
    if isinstance(log_Z, AISResult):
        lz, lz_se = log_Z.log_Z, log_Z.log_Z_std_err
    elif isinstance(log_Z, (int, float)) and not isinstance(log_Z, bool) and math.isfinite(log_Z):
        lz, lz_se = float(log_Z), 0.0
    else:
        raise ValueError(f"log_Z must be a finite float or an AISResult, got {log_Z!r}")
    W, b, c = (p.detach().double() for p in (rbm.W, rbm.b, rbm.c))
    fe = -(v @ b) - F.softplus(v @ W + c).sum(-1)
    fe_se = float(fe.std() / math.sqrt(fe.shape[0]))
    return NLLResult(float(fe.mean()) + lz, math.hypot(lz_se, fe_se), lz_se, fe_se)
