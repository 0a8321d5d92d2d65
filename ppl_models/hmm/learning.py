r"""Baum-Welch (EM) for HMMs with any :class:`~ppl_models.hmm.emissions.Emission`, plus sampling.

E-step: the smoother gives :math:`\gamma_t(k) = p(z_t=k \mid x)` and expected transition counts
:math:`\xi(i,j) = \sum_t p(z_{t-1}=i, z_t=j \mid x)`. M-step: :math:`\pi \propto \sum_n \gamma_1`,
:math:`A_{ij} \propto \xi(i,j)`, and the emission's weighted maximum likelihood with weights
:math:`\gamma`. Each iteration cannot decrease :math:`\log p(x)`; EM finds a local optimum, so
:func:`fit_hmm` runs several random restarts and keeps the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from ppl_models.hmm import inference
from ppl_models.hmm.emissions import Emission
from ppl_models.hmm.validate import check_generator, check_positive_int, check_probs

__all__ = ["HMMParams", "HMMFit", "hmm_log_lik_terms", "em_step", "fit_hmm", "sample_hmm", "bic"]


class HMMParams(NamedTuple):
    """``initial_probs (K,)``, ``transition_matrix (K, K)`` and the emission's parameter tuple."""

    initial_probs: torch.Tensor
    transition_matrix: torch.Tensor
    emission: Any


class HMMFit(NamedTuple):
    """Result of :func:`fit_hmm`.

    Attributes:
        params: the best restart's :class:`HMMParams`.
        log_likelihood: total :math:`\\log p(x)` under ``params``.
        history: ``(n_iter,)`` log-likelihood at each E-step of the best restart (non-decreasing).
        restart_log_likelihoods: ``(n_restarts,)`` final log-likelihood of every restart.
        converged: whether the best restart stopped on ``tol`` before ``n_iter``.
    """

    params: HMMParams
    log_likelihood: float
    history: torch.Tensor
    restart_log_likelihoods: torch.Tensor
    converged: bool


def _check_emission(emission) -> Emission:
    if not isinstance(emission, Emission):
        raise ValueError(f"emission must be an Emission (e.g. poisson_emission()), "
                         f"got {type(emission).__name__}")
    return emission


def _check_params(params) -> HMMParams:
    if not isinstance(params, HMMParams):
        raise ValueError(f"params must be an HMMParams, got {type(params).__name__}")
    init = check_probs(params.initial_probs, "initial_probs")
    trans = check_probs(params.transition_matrix, "transition_matrix")
    if init.ndim != 1 or trans.shape != (init.shape[0], init.shape[0]):
        raise ValueError("transition_matrix must have shape (K, K) matching initial_probs (K,)")
    return params


def hmm_log_lik_terms(x: torch.Tensor, params: HMMParams, emission: Emission):
    """``(log_init (K,), log_trans (K, K), log_lik (..., T, K))`` for the inference functions."""
    params, emission = _check_params(params), _check_emission(emission)
    log_lik = emission.log_lik(x, params.emission)
    return params.initial_probs.log(), params.transition_matrix.log(), log_lik


def _normalise_rows(counts: torch.Tensor) -> torch.Tensor:
    total = counts.sum(-1, keepdim=True)
    uniform = torch.full_like(counts, 1.0 / counts.shape[-1])
    return torch.where(total > 0, counts / total.clamp_min(torch.finfo(counts.dtype).tiny), uniform)


def em_step(x: torch.Tensor, params: HMMParams, emission: Emission, lengths=None,
            smoother: Callable = inference.hmm_smoother) -> tuple[HMMParams, float]:
    r"""One Baum-Welch iteration.

    Args:
        x: data ``(..., T, *event)`` (all sequences padded to ``T``).
        params: current :class:`HMMParams`.
        emission: the emission family.
        lengths: optional ``(...)`` sequence lengths.
        smoother: :func:`ppl_models.hmm.inference.hmm_smoother` or its parallel twin.

    Returns:
        ``(new_params, log_lik)`` where ``log_lik`` is :math:`\log p(x)` under the *old* params.
    """
    log_init, log_trans, log_lik = hmm_log_lik_terms(x, params, emission)
    post = smoother(log_init, log_trans, log_lik, lengths)
    k = log_init.shape[0]
    init = _normalise_rows(post.smoothed_probs[..., 0, :].reshape(-1, k).sum(0))
    trans = _normalise_rows(post.trans_counts.reshape(-1, k, k).sum(0))
    new = HMMParams(init, trans, emission.m_step(x, post.smoothed_probs))
    return new, float(post.marginal_loglik.sum())


def _random_params(x, k: int, emission: Emission, generator) -> HMMParams:
    dtype, dev = (x.dtype if x.dtype.is_floating_point else torch.float64), x.device
    init = torch.full((k,), 1.0 / k, dtype=dtype, device=dev)
    e = -torch.log1p(-torch.rand((k, k), generator=generator, dtype=dtype)).to(dev)  # device-free: moved
    trans = _normalise_rows(e + 2.0 * k * torch.eye(k, dtype=dtype, device=dev))  # sticky start
    return HMMParams(init, trans, emission.init(x, k, generator))


def _run_em(x, params, emission, lengths, n_iter, tol, smoother):
    history, converged = [], False
    for _ in range(n_iter):
        new, ll = em_step(x, params, emission, lengths, smoother)
        if not math.isfinite(ll):
            raise FloatingPointError(f"EM log-likelihood is {ll} at iteration {len(history)}")
        history.append(ll)
        params = new
        if len(history) > 1 and history[-1] - history[-2] < tol:
            converged = True
            break
    final = float(_total_log_likelihood(x, params, emission, lengths))
    return params, final, history, converged


def _total_log_likelihood(x, params, emission, lengths=None) -> torch.Tensor:
    """Total :math:`\\log p(x)` over all sequences under ``params``."""
    return inference.hmm_log_likelihood(*hmm_log_lik_terms(x, params, emission), lengths).sum()


def fit_hmm(x: torch.Tensor, n_states: int, emission: Emission, *, lengths=None, n_iter: int = 100,
            tol: float = 1e-6, n_restarts: int = 5, init: HMMParams | None = None, seed: int = 0,
            smoother: Callable = inference.hmm_smoother) -> HMMFit:
    r"""Baum-Welch from ``n_restarts`` random starts (or from ``init``); keeps the best :math:`\log p(x)`.

    Runs on ``x``'s device. Each restart draws a sticky random transition matrix, a uniform
    initial distribution and the emission's random initialisation from a generator seeded by
    ``seed``.

    Args:
        x: data ``(..., T, *event)``; n_states: ``K``; emission: the family.
        lengths: optional ``(...)`` lengths; n_iter: max EM iterations; tol: stop when the
            log-likelihood gains less than ``tol``; n_restarts: random starts (must be 1 with ``init``);
        init: optional starting :class:`HMMParams`; seed: restart seed; smoother: E-step function.

    Returns:
        :class:`HMMFit`.
    """
    check_positive_int(n_states, "n_states")
    check_positive_int(n_iter, "n_iter")
    check_positive_int(n_restarts, "n_restarts")
    _check_emission(emission)
    if not torch.is_tensor(x):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(tol, (int, float)) or math.isnan(tol):
        raise ValueError(f"tol must be a number, got {tol!r}")
    if init is not None:
        if n_restarts != 1:
            raise ValueError("n_restarts must be 1 when init is given")
        if _check_params(init).initial_probs.shape[0] != n_states:
            raise ValueError("init must have n_states states")
    generator = torch.Generator().manual_seed(seed)
    best, finals = None, []
    for _ in range(n_restarts):
        start = init if init is not None else _random_params(x, n_states, emission, generator)
        run = _run_em(x, start, emission, lengths, n_iter, tol, smoother)
        finals.append(run[1])
        if best is None or run[1] > best[1]:
            best = run
    params, final, history, converged = best
    hist = torch.tensor(history, dtype=torch.float64)  # device-free: a CPU record of Python floats
    finals_t = torch.tensor(finals, dtype=torch.float64)  # device-free: a CPU record of Python floats
    return HMMFit(params, final, hist, finals_t, converged)


def sample_hmm(params: HMMParams, emission: Emission, n_steps: int, batch_shape: tuple[int, ...] = (),
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Ancestral sampling: :math:`z_1 \sim \pi`, :math:`z_t \sim A_{z_{t-1},\cdot}`,
    :math:`x_t \sim p(x \mid z_t)`.

    Args:
        params: :class:`HMMParams`; emission: the family; n_steps: ``T``;
        batch_shape: leading dims of independent sequences; generator: CPU ``torch.Generator``.

    Returns:
        ``(states (*batch, T) int64, x (*batch, T, *event))``.
    """
    _check_params(params)
    _check_emission(emission)
    check_positive_int(n_steps, "n_steps")
    check_generator(generator)
    if not isinstance(batch_shape, tuple) or any(not isinstance(b, int) or b < 1 for b in batch_shape):
        raise ValueError(f"batch_shape must be a tuple of positive ints, got {batch_shape!r}")
    init_cdf = params.initial_probs.cpu().cumsum(-1)
    trans_cdf = params.transition_matrix.cpu().cumsum(-1)
    u = torch.rand((*batch_shape, n_steps), generator=generator,
                   dtype=init_cdf.dtype)  # device-free: this sampler runs on the CPU
    k = init_cdf.shape[0]
    z = (init_cdf < u[..., 0:1]).sum(-1).clamp_max(k - 1)
    states = [z]
    for t in range(1, n_steps):
        z = (trans_cdf[z] < u[..., t : t + 1]).sum(-1).clamp_max(k - 1)
        states.append(z)
    states = torch.stack(states, -1).to(params.initial_probs.device)
    return states, emission.sample(states, params.emission, generator)


def bic(log_likelihood: float, params: HMMParams, emission: Emission, n_observations: int) -> float:
    r"""Bayesian information criterion :math:`-2\log p(x) + p \log N` (lower is better), with
    :math:`p = (K-1) + K(K-1) + p_{\text{emission}}` free parameters and ``N`` observations."""
    _check_params(params)
    check_positive_int(n_observations, "n_observations")
    if not math.isfinite(log_likelihood):
        raise ValueError(f"log_likelihood must be finite, got {log_likelihood}")
    k = params.initial_probs.shape[0]
    n_free = (k - 1) + k * (k - 1) + _check_emission(emission).n_free(params.emission)
    return -2.0 * log_likelihood + n_free * math.log(n_observations)
