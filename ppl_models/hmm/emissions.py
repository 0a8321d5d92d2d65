r"""Emission models for HMMs: log-likelihood ``(..., T, K)``, weighted M-step, initialisation, sampling.

Each family is a few pure functions on a NamedTuple of parameters, bundled in an :class:`Emission`
so :func:`ppl_models.hmm.learning.fit_hmm` can run Baum-Welch for any of them:

=====================  ==========================  =====================================
family                 data ``x``                  parameters
=====================  ==========================  =====================================
categorical            ``(..., T)`` int in [0, V)  ``probs (K, V)``
Gaussian, diagonal     ``(..., T, D)`` float       ``means (K, D)``, ``variances (K, D)``
Gaussian, full         ``(..., T, D)`` float       ``means (K, D)``, ``covariances (K, D, D)``
Poisson                ``(..., T, D)`` counts      ``rates (K, D)``
=====================  ==========================  =====================================

M-steps take posterior weights ``w (..., T, K)`` (:math:`p(z_t = k \mid x)`; zero at padded steps)
and return the weighted maximum-likelihood estimate, the same update as hmmlearn with neutral
priors. ``reg_covar`` is added to the variances after the update (0 reproduces hmmlearn with
``covars_prior=0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import torch

from ppl_models.hmm.validate import check_probs, check_tensor
from ppl_models.validation import check_nonneg

__all__ = [
    "Emission", "CategoricalParams", "GaussianDiagParams", "GaussianFullParams", "PoissonParams",
    "categorical_log_lik", "categorical_m_step", "gaussian_diag_log_lik", "gaussian_diag_m_step",
    "gaussian_full_log_lik", "gaussian_full_m_step", "poisson_log_lik", "poisson_m_step",
    "categorical_emission", "gaussian_diag_emission", "gaussian_full_emission", "poisson_emission",
]


class CategoricalParams(NamedTuple):
    probs: torch.Tensor  # (K, V) rows sum to one


class GaussianDiagParams(NamedTuple):
    means: torch.Tensor  # (K, D)
    variances: torch.Tensor  # (K, D) > 0


class GaussianFullParams(NamedTuple):
    means: torch.Tensor  # (K, D)
    covariances: torch.Tensor  # (K, D, D) positive definite


class PoissonParams(NamedTuple):
    rates: torch.Tensor  # (K, D) > 0


@dataclass(frozen=True)
class Emission:
    """An emission family as functions: ``log_lik(x, p)``, ``m_step(x, w)``, ``init(x, K, gen)``,
    ``sample(z, p, gen)``, ``n_free(p)`` (free parameters, for BIC) and ``event_dims`` (dims of one
    observation: 0 for categorical, 1 for vectors)."""

    name: str
    log_lik: Callable[[torch.Tensor, Any], torch.Tensor]
    m_step: Callable[[torch.Tensor, torch.Tensor], Any]
    init: Callable[[torch.Tensor, int, torch.Generator | None], Any]
    sample: Callable[[torch.Tensor, Any, torch.Generator | None], torch.Tensor]
    n_free: Callable[[Any], int]
    event_dims: int


# ---------------------------------------------------------------------------- checks


def _check_weights(weights, x_batch_shape, k: int | None = None) -> torch.Tensor:
    weights = check_tensor(weights, "weights", min_ndim=2)
    if tuple(weights.shape[:-1]) != tuple(x_batch_shape):
        raise ValueError(f"weights must have shape (..., T, K) with (..., T) = {tuple(x_batch_shape)}, "
                         f"got {tuple(weights.shape)}")
    if (weights < 0).any() or not torch.isfinite(weights).all():
        raise ValueError("weights must be finite and non-negative")
    if k is not None and weights.shape[-1] != k:
        raise ValueError(f"weights last dim must be K = {k}")
    return weights


def _check_vectors(x, name: str = "x") -> torch.Tensor:
    x = check_tensor(x, name, min_ndim=2)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains infinite values")
    return x


def _check_means(means, d: int, name: str = "means") -> int:
    check_tensor(means, name, ndim=2)
    if means.shape[1] != d:
        raise ValueError(f"{name} must have shape (K, D={d}), got {tuple(means.shape)}")
    if not torch.isfinite(means).all():
        raise ValueError(f"{name} contains infinite values")
    return means.shape[0]


def _positive(v, name: str, shape) -> None:
    check_tensor(v, name)
    if tuple(v.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(v.shape)}")
    if not (torch.isfinite(v).all() and (v > 0).all()):
        raise ValueError(f"{name} must be finite and positive")


def _check_counts(x) -> torch.Tensor:
    x = _check_vectors(x)
    if (x < 0).any() or (x != x.round()).any():
        raise ValueError("x must hold non-negative integer counts (as floats)")
    return x


def _check_categories(x, n_symbols: int | None = None) -> torch.Tensor:
    if not torch.is_tensor(x) or x.dtype.is_floating_point or x.dtype == torch.bool or x.ndim < 1:
        raise ValueError("x must be an integer tensor of symbols with shape (..., T)")
    if x.numel() and (x.min() < 0 or (n_symbols is not None and x.max() >= n_symbols)):
        raise ValueError(f"x symbols must lie in [0, V={n_symbols})")
    return x


def _flat_weights(weights):
    """Weights flattened to ``(N, K)``."""
    return weights.reshape(-1, weights.shape[-1])


def _random_rows(x_flat: torch.Tensor, k: int, generator) -> torch.Tensor:
    if x_flat.shape[0] < k:
        raise ValueError(f"x has {x_flat.shape[0]} observations, fewer than n_states = {k}")
    idx = torch.randperm(x_flat.shape[0], generator=generator)[:k].to(x_flat.device)  # device-free: moved
    return x_flat[idx]


def _dirichlet_ones(shape, generator, dtype, device) -> torch.Tensor:
    """Rows ~ Dirichlet(1, ..., 1) as normalised exponentials (explicit generator)."""
    e = -torch.log1p(-torch.rand(shape, generator=generator, dtype=dtype))  # device-free: moved below
    return (e / e.sum(-1, keepdim=True)).to(device)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return num / den.clamp_min(torch.finfo(num.dtype).tiny)


# ---------------------------------------------------------------------------- categorical


def categorical_log_lik(x: torch.Tensor, params: CategoricalParams) -> torch.Tensor:
    r""":math:`\log p(x_t = v \mid z_t = k) = \log B_{kv}`.

    Args:
        x: ``(..., T)`` integer symbols in ``[0, V)``.
        params: :class:`CategoricalParams` with ``probs (K, V)``.

    Returns:
        ``(..., T, K)`` log-likelihoods.
    """
    probs = check_probs(params.probs, "probs")
    x = _check_categories(x, probs.shape[-1])
    return torch.log(probs).T[x]


def categorical_m_step(x: torch.Tensor, weights: torch.Tensor) -> CategoricalParams:
    r""":math:`B_{kv} \propto \sum_t w_{tk} [x_t = v]` (states with no weight get uniform rows).

    Args:
        x: ``(..., T)`` symbols; weights: ``(..., T, K)``. ``V`` is ``x.max() + 1``.

    Returns:
        :class:`CategoricalParams`.
    """
    x = _check_categories(x)
    weights = _check_weights(weights, x.shape)
    v = int(x.max()) + 1
    onehot = torch.nn.functional.one_hot(x.reshape(-1), v).to(weights.dtype)
    counts = _flat_weights(weights).T @ onehot  # (K, V)
    total = counts.sum(-1, keepdim=True)
    probs = torch.where(total > 0, _safe_div(counts, total), torch.full_like(counts, 1.0 / v))
    return CategoricalParams(probs)


def _categorical_init(x, k, generator):
    x = _check_categories(x)
    return CategoricalParams(_dirichlet_ones((k, int(x.max()) + 1), generator, torch.float64, x.device))


def _categorical_sample(z, params, generator):
    cdf = params.probs.cumsum(-1)[z]  # (..., V)
    u = torch.rand(z.shape, generator=generator, dtype=cdf.dtype).to(z.device)
    return (cdf < u.unsqueeze(-1)).sum(-1).clamp_max(cdf.shape[-1] - 1)


# ---------------------------------------------------------------------------- Gaussian


def gaussian_diag_log_lik(x: torch.Tensor, params: GaussianDiagParams) -> torch.Tensor:
    r""":math:`\log \mathcal N(x_t; \mu_k, \mathrm{diag}(\sigma^2_k)) = -\tfrac12 \sum_d
    [\log 2\pi\sigma^2_{kd} + (x_{td} - \mu_{kd})^2 / \sigma^2_{kd}]`.

    Args:
        x: ``(..., T, D)``; params: ``means (K, D)``, ``variances (K, D)``.

    Returns:
        ``(..., T, K)``.
    """
    x = _check_vectors(x)
    k = _check_means(params.means, x.shape[-1])
    _positive(params.variances, "variances", (k, x.shape[-1]))
    diff = x.unsqueeze(-2) - params.means  # (..., T, K, D)
    if diff.requires_grad:
        return -0.5 * (torch.log(2 * math.pi * params.variances) + diff**2 / params.variances).sum(-1)
    # the same arithmetic on one temporary, in place (fresh big allocations cost page faults)
    q = diff.square_().div_(params.variances)
    q = q.add_(torch.log(2 * math.pi * params.variances))
    q = q.squeeze(-1) if q.shape[-1] == 1 else q.sum(-1)
    return q.mul_(-0.5)


def _gaussian_moments(x, weights):
    w = _flat_weights(weights)  # (N, K)
    xf = x.reshape(-1, x.shape[-1])  # (N, D)
    post = w.sum(0)  # (K,)
    obs = w.T @ xf  # (K, D)
    return w, xf, post, obs


def _gaussian_m_step_stats(x, weights, reg_covar):
    """Checked inputs of a Gaussian M-step, the weighted moments and the new means ``(K, D)``."""
    x = _check_vectors(x)
    weights = _check_weights(weights, x.shape[:-1])
    check_nonneg(reg_covar, "reg_covar")
    w, xf, post, obs = _gaussian_moments(x, weights)
    return w, xf, post, obs, _safe_div(obs, post[:, None])


def gaussian_diag_m_step(x: torch.Tensor, weights: torch.Tensor,
                         reg_covar: float = 0.0) -> GaussianDiagParams:
    r""":math:`\mu_k = \sum_t w_{tk} x_t / N_k`, :math:`\sigma^2_{kd} = \sum_t w_{tk}(x_{td}-\mu_{kd})^2/N_k
    + \text{reg\_covar}`, with :math:`N_k = \sum_t w_{tk}`.

    Args:
        x: ``(..., T, D)``; weights: ``(..., T, K)``; reg_covar: ``>= 0`` added to the variances.

    Returns:
        :class:`GaussianDiagParams`.
    """
    w, xf, post, obs, means = _gaussian_m_step_stats(x, weights, reg_covar)
    obs2 = w.T @ xf**2
    c_n = obs2 - 2 * means * obs + means**2 * post[:, None]
    return GaussianDiagParams(means, _safe_div(c_n, post[:, None]) + reg_covar)


def _check_covariances(cov, k: int, d: int) -> torch.Tensor:
    check_tensor(cov, "covariances", ndim=3)
    if tuple(cov.shape) != (k, d, d):
        raise ValueError(f"covariances must have shape (K, D, D) = ({k}, {d}, {d}), got {tuple(cov.shape)}")
    if not torch.isfinite(cov).all() or not torch.allclose(cov, cov.transpose(-1, -2)):
        raise ValueError("covariances must be finite and symmetric")
    chol, info = torch.linalg.cholesky_ex(cov)
    if (info != 0).any():
        raise ValueError("covariances must be positive definite")
    return chol


def gaussian_full_log_lik(x: torch.Tensor, params: GaussianFullParams) -> torch.Tensor:
    r""":math:`\log \mathcal N(x_t; \mu_k, \Sigma_k) = -\tfrac12[D\log 2\pi + \log|\Sigma_k| +
    (x_t-\mu_k)^\top \Sigma_k^{-1} (x_t-\mu_k)]`, via the Cholesky factor :math:`\Sigma_k = L_k L_k^\top`.

    Args:
        x: ``(..., T, D)``; params: ``means (K, D)``, ``covariances (K, D, D)``.

    Returns:
        ``(..., T, K)``.
    """
    x = _check_vectors(x)
    d = x.shape[-1]
    k = _check_means(params.means, d)
    chol = _check_covariances(params.covariances, k, d)
    diff = (x.unsqueeze(-2) - params.means).unsqueeze(-1)  # (..., T, K, D, 1)
    sol = torch.linalg.solve_triangular(chol.expand(*diff.shape[:-2], d, d), diff, upper=False)
    maha = (sol.squeeze(-1) ** 2).sum(-1)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
    return -0.5 * (d * math.log(2 * math.pi) + logdet + maha)


def gaussian_full_m_step(x: torch.Tensor, weights: torch.Tensor,
                         reg_covar: float = 0.0) -> GaussianFullParams:
    r""":math:`\Sigma_k = \sum_t w_{tk}(x_t-\mu_k)(x_t-\mu_k)^\top / N_k + \text{reg\_covar}\, I`.

    Args:
        x: ``(..., T, D)``; weights: ``(..., T, K)``; reg_covar: ``>= 0``.

    Returns:
        :class:`GaussianFullParams`.
    """
    w, xf, post, obs, means = _gaussian_m_step_stats(x, weights, reg_covar)
    outer = torch.einsum("nk,nd,ne->kde", w, xf, xf)
    om = obs.unsqueeze(-1) * means.unsqueeze(-2)  # (K, D, D)
    c_n = outer - om - om.transpose(-1, -2) + post[:, None, None] * means.unsqueeze(-1) * means.unsqueeze(-2)
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return GaussianFullParams(means, _safe_div(c_n, post[:, None, None]) + reg_covar * eye)


def _gaussian_init(x, k, generator, full: bool, reg_covar: float):
    x = _check_vectors(x)
    xf = x.reshape(-1, x.shape[-1])
    means = _random_rows(xf, k, generator)
    eye = torch.eye(xf.shape[1], dtype=x.dtype, device=x.device)
    cov = torch.atleast_2d(torch.cov(xf.T)) + reg_covar * eye
    if full:
        return GaussianFullParams(means.clone(), cov.expand(k, -1, -1).clone())
    return GaussianDiagParams(means.clone(), torch.diagonal(cov).expand(k, -1).clone())


def _gaussian_sample(z, params, generator):
    means = params.means[z]
    eps = torch.randn(means.shape, generator=generator, dtype=means.dtype).to(means.device)
    if isinstance(params, GaussianFullParams):
        chol = torch.linalg.cholesky(params.covariances)[z]
        return means + (chol @ eps.unsqueeze(-1)).squeeze(-1)
    return means + params.variances[z].sqrt() * eps


# ---------------------------------------------------------------------------- Poisson


def poisson_log_lik(x: torch.Tensor, params: PoissonParams) -> torch.Tensor:
    r""":math:`\log p(x_t \mid k) = \sum_d [x_{td}\log\lambda_{kd} - \lambda_{kd} - \log x_{td}!]`.

    Args:
        x: ``(..., T, D)`` non-negative counts (float); params: ``rates (K, D)``.

    Returns:
        ``(..., T, K)``.
    """
    x = _check_counts(x)
    check_tensor(params.rates, "rates", ndim=2)
    _positive(params.rates, "rates", (params.rates.shape[0], x.shape[-1]))
    xe = x.unsqueeze(-2)  # (..., T, 1, D)
    return (xe * torch.log(params.rates) - params.rates - torch.lgamma(xe + 1)).sum(-1)


def poisson_m_step(x: torch.Tensor, weights: torch.Tensor) -> PoissonParams:
    r""":math:`\lambda_{kd} = \sum_t w_{tk} x_{td} / \sum_t w_{tk}`.

    Args:
        x: ``(..., T, D)`` counts; weights: ``(..., T, K)``.

    Returns:
        :class:`PoissonParams`.
    """
    x = _check_counts(x)
    weights = _check_weights(weights, x.shape[:-1])
    _, _, post, obs = _gaussian_moments(x, weights)
    return PoissonParams(_safe_div(obs, post[:, None]))


def _poisson_init(x, k, generator):
    x = _check_counts(x)
    xf = x.reshape(-1, x.shape[-1])
    picks = _random_rows(xf, k, generator)
    return PoissonParams(0.5 * (picks + xf.mean(0)) + 0.1)


def _poisson_sample(z, params, generator):
    return torch.poisson(params.rates[z].cpu(), generator=generator).to(params.rates.device)


# ---------------------------------------------------------------------------- bundles


def categorical_emission() -> Emission:
    """Categorical emissions over ``V`` symbols (``V`` taken from the data at initialisation)."""
    return Emission("categorical", categorical_log_lik, categorical_m_step, _categorical_init,
                    _categorical_sample, lambda p: p.probs.shape[0] * (p.probs.shape[1] - 1), 0)


def gaussian_diag_emission(reg_covar: float = 1e-6) -> Emission:
    """Gaussian emissions with diagonal covariances; ``reg_covar`` keeps variances away from zero."""
    check_nonneg(reg_covar, "reg_covar")
    return Emission("gaussian_diag", gaussian_diag_log_lik,
                    partial(gaussian_diag_m_step, reg_covar=reg_covar),
                    partial(_gaussian_init, full=False, reg_covar=reg_covar), _gaussian_sample,
                    lambda p: 2 * p.means.numel(), 1)


def gaussian_full_emission(reg_covar: float = 1e-6) -> Emission:
    """Gaussian emissions with full covariances."""
    check_nonneg(reg_covar, "reg_covar")
    n_free = lambda p: p.means.numel() + p.means.shape[0] * p.means.shape[1] * (p.means.shape[1] + 1) // 2
    return Emission("gaussian_full", gaussian_full_log_lik,
                    partial(gaussian_full_m_step, reg_covar=reg_covar),
                    partial(_gaussian_init, full=True, reg_covar=reg_covar), _gaussian_sample, n_free, 1)


def poisson_emission() -> Emission:
    """Poisson emissions (independent counts per dimension)."""
    return Emission("poisson", poisson_log_lik, poisson_m_step, _poisson_init, _poisson_sample,
                    lambda p: p.rates.numel(), 1)

