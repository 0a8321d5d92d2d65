r"""Mixtures of independent Bernoullis (binary images): density, EM, sampling, as pure functions.

.. math:: p(x) = \sum_{k=1}^K \pi_k \prod_{d=1}^D \mu_{kd}^{x_d} (1 - \mu_{kd})^{1 - x_d},
          \qquad x \in \{0, 1\}^D.

EM maximises the log-likelihood plus a symmetric Beta(a, a) log-prior on every
:math:`\mu_{kd}` (``a = 1 + pseudo_count``), so no pixel probability is ever exactly 0 or 1 and a
test image with a pixel the training images never switch on keeps a finite likelihood:

.. math:: r_{nk} \propto \pi_k\, p(x_n \mid \mu_k), \qquad
          \pi_k = \frac{\sum_n r_{nk}}{N}, \qquad
          \mu_{kd} = \frac{\sum_n r_{nk} x_{nd} + c}{\sum_n r_{nk} + 2c}.

Everything runs in float64 on the input's device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..validation import check_int, check_matrix, check_nonneg

__all__ = ["BMMParams", "BMMConfig", "BMMFit", "check_bmm_params", "bmm_component_log_prob",
           "bmm_log_likelihood",
           "bmm_responsibilities", "bmm_m_step", "fit_bmm", "bmm_sample", "bmm_n_parameters"]


class BMMParams(NamedTuple):
    """``weights (K,)`` summing to one and pixel probabilities ``probs (K, D)`` in (0, 1)."""

    weights: torch.Tensor
    probs: torch.Tensor


@dataclass(frozen=True)
class BMMConfig:
    """Settings of :func:`fit_bmm`."""

    n_components: int = 50       # K
    n_iter: int = 100            # EM iterations (stops earlier when the gain is below tol)
    tol: float = 1e-6            # stop when the objective per image rises by less than this
    pseudo_count: float = 1.0    # c: Beta(1 + c, 1 + c) prior on every pixel probability
    seed: int = 0                # initial responsibilities

    def __post_init__(self):
        check_int(self.n_components, "n_components")
        check_int(self.n_iter, "n_iter")
        check_nonneg(self.tol, "tol")
        if not isinstance(self.pseudo_count, (int, float)) or isinstance(self.pseudo_count, bool) \
                or not self.pseudo_count > 0:
            raise ValueError(f"pseudo_count must be > 0, got {self.pseudo_count!r}")
        check_int(self.seed, "seed", low=0)

    def smoke(self) -> BMMConfig:
        """The tiny variant: 10 components, 20 iterations."""
        return BMMConfig(min(self.n_components, 10), min(self.n_iter, 20), self.tol, self.pseudo_count,
                         self.seed)


class BMMFit(NamedTuple):
    """Fitted parameters, the objective (mean log-likelihood + log-prior / N) per iteration, seconds."""

    params: BMMParams
    objective: list[float]
    seconds: float


def _check_binary(x, name: str = "x", dim: int | None = None) -> torch.Tensor:
    x = check_matrix(x, name, dim=dim, dtype=torch.float64, allow_numpy=True)
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must contain only 0 and 1")
    return x


def check_bmm_params(params) -> tuple[int, int]:
    """Validate a :class:`BMMParams`; return ``(K, D)``."""
    if not (isinstance(params, tuple) and len(params) == 2 and all(torch.is_tensor(t) for t in params)):
        raise ValueError("params must be a BMMParams(weights, probs) of tensors")
    w, mu = params
    if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
        raise ValueError(f"params.probs must have shape (K, D), got {tuple(mu.shape)}")
    if w.shape != (mu.shape[0],):
        raise ValueError(f"params.weights must have shape ({mu.shape[0]},), got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > 1e-6:
        raise ValueError("params.weights must be non-negative and sum to one")
    if not bool(((mu > 0) & (mu < 1)).all()):
        raise ValueError("params.probs must lie strictly between 0 and 1")
    return int(mu.shape[0]), int(mu.shape[1])


def bmm_component_log_prob(x: torch.Tensor, params: BMMParams) -> torch.Tensor:
    r""":math:`\log p(x_n \mid \mu_k) = \sum_d x_{nd}\log\mu_{kd} + (1-x_{nd})\log(1-\mu_{kd})`: ``(N, K)``.

    Args:
        x: ``(N, D)`` binary. params: :class:`BMMParams` with ``probs (K, D)``.
    """
    _, d = check_bmm_params(params)
    x = _check_binary(x, "x", d)
    mu = params.probs.to(x)
    log_mu, log_1m = mu.log(), torch.log1p(-mu)                # (K, D)
    return x @ (log_mu - log_1m).T + log_1m.sum(1)             # (N, K)


def bmm_log_likelihood(x: torch.Tensor, params: BMMParams) -> torch.Tensor:
    r""":math:`\log p(x_n) = \operatorname{logsumexp}_k [\log\pi_k + \log p(x_n\mid\mu_k)]`: ``(N,)`` nats."""
    lp = bmm_component_log_prob(x, params)
    return torch.logsumexp(lp + params.weights.to(lp).log(), dim=1)


def bmm_responsibilities(x: torch.Tensor, params: BMMParams) -> torch.Tensor:
    r"""E-step: :math:`r_{nk} = p(k \mid x_n)`, ``(N, K)`` rows summing to one."""
    lp = bmm_component_log_prob(x, params) + params.weights.to(torch.float64).log()
    return torch.softmax(lp, dim=1)


def bmm_m_step(x: torch.Tensor, resp: torch.Tensor, pseudo_count: float = 1.0) -> BMMParams:
    r"""M-step, MAP under Beta(1 + c, 1 + c) (module docstring): new weights and pixel probabilities.

    Args:
        x: ``(N, D)`` binary. resp: ``(N, K)`` non-negative rows summing to one. pseudo_count: ``c > 0``.
    """
    x = _check_binary(x)
    resp = check_matrix(resp, "resp", dtype=torch.float64)
    if resp.shape[0] != x.shape[0]:
        raise ValueError(f"resp must have {x.shape[0]} rows (one per row of x), got {resp.shape[0]}")
    if bool((resp < 0).any()) or not torch.allclose(resp.sum(1), torch.ones_like(resp[:, 0]), atol=1e-6):
        raise ValueError("resp rows must be non-negative and sum to one")
    if isinstance(pseudo_count, bool) or not isinstance(pseudo_count, (int, float)) or not pseudo_count > 0:
        raise ValueError(f"pseudo_count must be > 0, got {pseudo_count!r}")
    nk = resp.sum(0)                                           # (K,)
    probs = (resp.T @ x.to(resp) + pseudo_count) / (nk[:, None] + 2 * pseudo_count)
    return BMMParams(nk / nk.sum(), probs)


def _log_prior(params: BMMParams, c: float) -> float:
    mu = params.probs
    return float(c * (mu.log() + torch.log1p(-mu)).sum())


def fit_bmm(x: torch.Tensor, cfg: BMMConfig) -> BMMFit:
    """EM from random responsibilities (seeded); the objective never decreases (tests check it).

    Args:
        x: ``(N, D)`` binary training data, ``N >= cfg.n_components``.
        cfg: a :class:`BMMConfig`.
    """
    if not isinstance(cfg, BMMConfig):
        raise ValueError(f"cfg must be a BMMConfig, got {type(cfg).__name__}")
    x = _check_binary(x)
    if x.shape[0] < cfg.n_components:
        raise ValueError(f"x has {x.shape[0]} rows, fewer than n_components = {cfg.n_components}")
    start = time.perf_counter()
    gen = torch.Generator(device=x.device).manual_seed(cfg.seed)
    resp = torch.rand(x.shape[0], cfg.n_components, generator=gen, dtype=x.dtype, device=x.device)
    params = bmm_m_step(x, resp / resp.sum(1, keepdim=True), cfg.pseudo_count)
    objective: list[float] = []
    for _ in range(cfg.n_iter):
        lp = bmm_component_log_prob(x, params) + params.weights.log()
        ll = torch.logsumexp(lp, 1)
        objective.append(float(ll.mean()) + _log_prior(params, cfg.pseudo_count) / x.shape[0])
        if len(objective) > 1 and objective[-1] - objective[-2] < cfg.tol:
            break
        params = bmm_m_step(x, torch.exp(lp - ll[:, None]), cfg.pseudo_count)
    return BMMFit(params, objective, time.perf_counter() - start)


def bmm_sample(params: BMMParams, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Ancestral samples: ``(x (n, D) float in {0, 1}, component (n,))``."""
    check_bmm_params(params)
    check_int(n, "n")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    w, mu = params.weights, params.probs
    k = torch.multinomial(w, n, replacement=True, generator=generator)
    u = torch.rand(n, mu.shape[1], generator=generator, dtype=mu.dtype, device=mu.device)
    return (u < mu[k]).to(mu.dtype), k


def bmm_n_parameters(n_components: int, dim: int) -> int:
    """Free parameters: ``K - 1`` weights and ``K D`` pixel probabilities."""
    check_int(n_components, "n_components")
    check_int(dim, "dim")
    return n_components - 1 + n_components * dim

