r"""Gaussian mixture densities as pure functions on tensors.

A mixture of :math:`K` Gaussians in :math:`D` dimensions,

.. math::  p(x) = \sum_{k=1}^K \pi_k \, \mathcal N(x \mid \mu_k, \Sigma_k),

is stored as :class:`GMMParams` (weights, means, covariances). The covariance type is read off
the shapes: ``(K, D, D)`` is a full covariance per component, ``(K, D)`` a diagonal one.
Everything works in log space, on the tensors' device and dtype, in chunks of rows so that
100k x 32 x 16 problems fit in memory.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ._blas import matmul, numpy_ok
from ._checks import check_data, check_params

__all__ = [
    "GMMParams", "GMMSample", "precision_cholesky", "gmm_component_log_prob",
    "gmm_log_likelihood", "gmm_responsibilities", "gmm_sample", "gmm_n_parameters", "gmm_bic",
]

LOG_2PI = math.log(2.0 * math.pi)


class GMMParams(NamedTuple):
    """Parameters of a Gaussian mixture.

    Attributes:
        weights: ``(K,)`` mixing proportions :math:`\\pi_k`, non-negative, summing to one.
        means: ``(K, D)`` component means :math:`\\mu_k`.
        covariances: ``(K, D, D)`` full covariances or ``(K, D)`` diagonal variances.
    """

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor

    @property
    def covariance_type(self) -> str:
        """``"full"`` or ``"diag"``, from the shape of ``covariances``."""
        return "full" if self.covariances.ndim == 3 else "diag"

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def to(self, *args, **kwargs) -> GMMParams:
        """Move/cast all three tensors (``params.to(torch.float64)``, ``params.to(device)``)."""
        return GMMParams(*(t.to(*args, **kwargs) for t in self))


class GMMSample(NamedTuple):
    """Draws from a mixture: ``x`` ``(n, D)`` and the component ``z`` ``(n,)`` of each."""

    x: torch.Tensor
    z: torch.Tensor


def precision_cholesky(covariances: torch.Tensor, name: str = "covariances") -> torch.Tensor:
    r"""Factor :math:`P_k` with :math:`\Sigma_k^{-1} = P_k P_k^\top` (``(K, D, D)``, upper).

    :math:`P_k = L_k^{-\top}` where :math:`\Sigma_k = L_k L_k^\top` (the factor scikit-learn
    calls ``precisions_cholesky_``). For diagonal covariances ``(K, D)`` this is
    :math:`\sigma_{kd}^{-1}`.

    Raises:
        ValueError: a covariance is not positive definite (names ``name``; add ``reg_covar``).
    """
    if covariances.ndim == 2:
        if not bool((covariances > 0).all()):
            raise ValueError(f"{name}: variances must be > 0 (increase reg_covar)")
        return covariances.rsqrt()
    L, info = torch.linalg.cholesky_ex(covariances)
    if bool((info > 0).any()):
        raise ValueError(f"{name}: a covariance is not positive definite (increase reg_covar)")
    eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand_as(L)
    return torch.linalg.solve_triangular(L, eye, upper=False).transpose(-1, -2)


def _default_chunk(K: int, D: int, full: bool) -> int:
    """Rows per chunk so the ``(rows, K, D)`` temporaries stay near 4M elements."""
    return max(256, (1 << 22) // max(1, K * (D if full else 1)))


def _log_gauss(params: GMMParams, X: torch.Tensor, chunk_size: int | None) -> torch.Tensor:
    """``(N, K)`` :math:`\\log \\mathcal N(x_n \\mid \\mu_k, \\Sigma_k)`, computed in row chunks."""
    w, mu, cov = params
    K, D = mu.shape
    full = cov.ndim == 3
    # Shift by the weighted centre: log-densities are translation invariant, and this keeps
    # the expanded quadratic forms below away from catastrophic cancellation.
    c = w @ mu
    Xc, muc = X - c, mu - c
    P = precision_cholesky(cov)
    if full:
        log_det = torch.diagonal(P, dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        P_all = P.transpose(0, 1).reshape(D, K * D)  # (D, K*D): [P_1 | ... | P_K]
        muP = torch.einsum("kd,kde->ke", muc, P)  # (K, D)
    else:
        log_det = P.log().sum(-1)
        prec = P * P  # (K, D)
        mu_term = (muc * muc * prec).sum(-1)  # (K,)
        muprec = (muc * prec).T  # (D, K)
    step = chunk_size or _default_chunk(K, D, full)
    out = []
    for s in range(0, X.shape[0], step):
        xb = Xc[s : s + step]
        if full:
            y = matmul(xb, P_all).view(-1, K, D).sub_(muP)  # (n, K, D)
            maha = torch.einsum("nkd,nkd->nk", y, y) if not numpy_ok(y) else torch.from_numpy(
                np.einsum("nkd,nkd->nk", y.numpy(), y.numpy()))  # sum of squares, no (n, K, D) temporary
        else:
            maha = matmul(xb * xb, prec.T).sub_(matmul(xb, muprec), alpha=2.0).add_(mu_term)  # (n, K)
            maha = maha.clamp_min_(0.0)
        out.append(maha.mul_(-0.5).add_(log_det - 0.5 * D * LOG_2PI))
    return out[0] if len(out) == 1 else torch.cat(out, 0)


def gmm_component_log_prob(params: GMMParams, X: torch.Tensor,
                           chunk_size: int | None = None) -> torch.Tensor:
    r"""Joint log-probabilities :math:`\log \pi_k + \log \mathcal N(x_n \mid \mu_k, \Sigma_k)`.

    Args:
        params: the mixture (``K`` components in ``D`` dimensions).
        X: ``(N, D)`` data.
        chunk_size: rows per chunk (default: about 4M temporary elements).

    Returns:
        ``(N, K)`` log joint :math:`\log p(x_n, z_n = k)`.
    """
    K, D = check_params(params)
    X = check_data(X, "X", dim=D, dtype=params.means.dtype)
    if X.device != params.means.device:
        raise ValueError(f"X is on {X.device} but params are on {params.means.device}")
    return _log_gauss(params, X, chunk_size) + params.weights.log()


def gmm_log_likelihood(params: GMMParams, X: torch.Tensor,
                       chunk_size: int | None = None) -> torch.Tensor:
    r"""Per-sample log-likelihood :math:`\log p(x_n) = \operatorname{logsumexp}_k
    [\log\pi_k + \log \mathcal N(x_n \mid \mu_k, \Sigma_k)]`.

    Args:
        params: the mixture.
        X: ``(N, D)``.

    Returns:
        ``(N,)`` log densities (``.mean()`` is scikit-learn's ``score``).
    """
    return torch.logsumexp(gmm_component_log_prob(params, X, chunk_size), dim=-1)


def gmm_responsibilities(params: GMMParams, X: torch.Tensor, log: bool = False,
                         chunk_size: int | None = None) -> torch.Tensor:
    r"""Posterior over the component of each point, :math:`r_{nk} = p(z_n = k \mid x_n)`.

    .. math::  r_{nk} = \frac{\pi_k \mathcal N(x_n\mid\mu_k,\Sigma_k)}
               {\sum_j \pi_j \mathcal N(x_n\mid\mu_j,\Sigma_j)}

    Args:
        params: the mixture.
        X: ``(N, D)``.
        log: return :math:`\log r_{nk}` instead.

    Returns:
        ``(N, K)``; rows sum to one (or logsumexp to zero).
    """
    lp = gmm_component_log_prob(params, X, chunk_size)
    log_r = lp - torch.logsumexp(lp, dim=-1, keepdim=True)
    return log_r if log else log_r.exp()


def gmm_sample(params: GMMParams, n: int, generator: torch.Generator | None = None) -> GMMSample:
    r"""Ancestral sampling: :math:`z \sim \mathrm{Cat}(\pi)`, :math:`x = \mu_z + L_z \varepsilon`.

    Args:
        params: the mixture.
        n: number of draws.
        generator: a ``torch.Generator`` on the parameters' device (None: the global RNG).

    Returns:
        :class:`GMMSample` with ``x`` ``(n, D)`` and ``z`` ``(n,)`` int64.
    """
    K, D = check_params(params)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    w, mu, cov = params
    z = torch.multinomial(w, n, replacement=True, generator=generator)  # (n,)
    eps = torch.randn(n, D, generator=generator, dtype=mu.dtype, device=mu.device)
    if cov.ndim == 3:
        L = torch.linalg.cholesky(cov)  # (K, D, D)
        x = mu[z] + (L[z] @ eps.unsqueeze(-1)).squeeze(-1)
    else:
        x = mu[z] + cov[z].sqrt() * eps
    return GMMSample(x, z)


def gmm_n_parameters(params: GMMParams) -> int:
    r"""Free parameters: :math:`(K-1) + KD + K\,D(D+1)/2` (full) or :math:`+ KD` (diag)."""
    K, D = check_params(params)
    cov = K * D * (D + 1) // 2 if params.covariance_type == "full" else K * D
    return (K - 1) + K * D + cov


def gmm_bic(params: GMMParams, X: torch.Tensor) -> float:
    r"""Bayesian information criterion :math:`-2\sum_n \log p(x_n) + p \log N` (lower is better).

    Equals scikit-learn's ``GaussianMixture.bic``.
    """
    ll = gmm_log_likelihood(params, X)
    return float(-2.0 * ll.sum() + gmm_n_parameters(params) * math.log(X.shape[0]))
