r"""Class-conditional Gaussian classifiers: a generative model of :math:`(x, y)`.

Generative story::

    y ~ Categorical(pi)                        pi: (K,) class prior
    x | y = k ~ N(mu_k, Sigma_k)               mu: (K, D), Sigma: (K, D, D)

        y ---> x           classify with Bayes' rule:  p(y=k|x) ∝ pi_k N(x; mu_k, Sigma_k)

Covariance families (``covariance=``), from most to fewest parameters per class:

* ``"full"``:  :math:`\Sigma_k` unrestricted, :math:`D(D+1)/2` numbers per class
  (quadratic discriminant analysis, QDA); singular when :math:`n_k \le D`.
* ``"shrinkage"``: :math:`(1-\alpha)\hat\Sigma_k + \alpha\,\tfrac{\operatorname{tr}\hat\Sigma_k}{D} I`
  with the Ledoit-Wolf :math:`\alpha` (or a fixed one).
* ``"ppca"``: :math:`W_kW_k^\top + \sigma_k^2 I` (probabilistic PCA per class, rank ``q``).
* ``"tied"``: one shared :math:`\Sigma` for all classes (linear discriminant analysis, LDA).
* ``"diag"``: :math:`\operatorname{diag}(\sigma^2_{k1..kD})`, i.e. Gaussian naive Bayes.

Every family is stored the same way, as the Cholesky factor of each class covariance, so one
function evaluates and samples all of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..ppca import ppca_mle

__all__ = [
    "COVARIANCE_TYPES",
    "GaussianClassifierParams",
    "fit_gaussian_classifier",
    "class_log_likelihood",
    "predict_log_proba",
    "with_prior",
    "sample_class_conditional",
    "ledoit_wolf_shrinkage",
    "n_covariance_parameters",
]

COVARIANCE_TYPES = ("full", "diag", "tied", "shrinkage", "ppca")


class GaussianClassifierParams(NamedTuple):
    """Fitted class-conditional Gaussians.

    Attributes:
        log_prior: ``(K,)`` :math:`\\log\\pi_k`.
        means: ``(K, D)`` class means.
        scale_tril: ``(K, D, D)`` lower Cholesky factors of the class covariances.
    """

    log_prior: torch.Tensor
    means: torch.Tensor
    scale_tril: torch.Tensor

    @property
    def covariances(self) -> torch.Tensor:
        """``(K, D, D)`` class covariances :math:`L_kL_k^\\top`."""
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)


def _check_xy(X, y, n_classes):
    if not torch.is_tensor(X) or X.ndim != 2 or not torch.is_floating_point(X):
        raise ValueError("X must be a floating (N, D) tensor")
    if not torch.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    if not torch.is_tensor(y) or y.shape != X.shape[:1] or y.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"y must be an integer tensor of shape ({X.shape[0]},)")
    K = int(y.max()) + 1 if n_classes is None else n_classes
    if isinstance(K, bool) or not isinstance(K, int) or K < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    if (y < 0).any() or (y >= K).any():
        raise ValueError(f"y must hold labels in 0..{K - 1}")
    counts = torch.bincount(y, minlength=K)
    if (counts < 2).any():
        raise ValueError(f"y: every class needs at least 2 examples, got counts {counts.tolist()}")
    return K, counts


def ledoit_wolf_shrinkage(Xc: torch.Tensor) -> torch.Tensor:
    r"""Ledoit & Wolf (2004) optimal shrinkage :math:`\alpha` towards :math:`\mu I` for centred data.

    With :math:`S = X^\top X/n`, :math:`\mu = \operatorname{tr}S/D`,
    :math:`\delta = \|S-\mu I\|_F^2/D` and
    :math:`\beta = \frac{1}{nD}\big(\frac1n\sum_i\|x_i\|^4 - \|S\|_F^2\big)` (the estimated
    variance of the entries of :math:`S`), the estimate is :math:`\alpha = \min(\beta, \delta)/\delta`.

    Args:
        Xc: ``(n, D)`` centred data.

    Returns:
        0-dim tensor in [0, 1].
    """
    if not torch.is_tensor(Xc) or Xc.ndim != 2 or Xc.shape[0] < 1:
        raise ValueError("Xc must be an (n, D) tensor")
    n, D = Xc.shape
    S = Xc.T @ Xc / n  # (D, D)
    mu = torch.trace(S) / D
    sq_norms = (Xc**2).sum(1)  # (n,) ||x_i||^2, so ||x_i x_i^T||_F^2 = ||x_i||^4
    delta = ((S - mu * torch.eye(D, dtype=S.dtype, device=S.device)) ** 2).sum() / D
    beta = ((sq_norms**2).sum() / n - (S**2).sum()) / (n * D)
    beta = torch.minimum(beta, delta)
    return torch.where(delta > 0, beta / delta, torch.zeros_like(delta))


def _class_covariance(Xk, covariance, ddof, shrinkage, q, reg):
    """``(D, D)`` covariance of one class under the chosen family (before ``reg``)."""
    n, D = Xk.shape
    Xc = Xk - Xk.mean(0)
    S = Xc.T @ Xc / (n - ddof)
    if covariance == "diag":
        return torch.diag(torch.diagonal(S))
    if covariance == "shrinkage":
        alpha = ledoit_wolf_shrinkage(Xc) if shrinkage is None else torch.tensor(shrinkage).to(S)
        return (1 - alpha) * S + alpha * torch.trace(S) / D * torch.eye(D, dtype=S.dtype, device=S.device)
    if covariance == "ppca":
        q_k = max(1, min(q, n - 2, D - 1))
        p = ppca_mle(Xk, q_k, min_sigma2=max(reg, 1e-12))
        return (p.W @ p.W.T + p.sigma2 * torch.eye(D, dtype=S.dtype, device=S.device)) * n / (n - ddof)
    return S


def fit_gaussian_classifier(
    X: torch.Tensor,
    y: torch.Tensor,
    covariance: str = "full",
    n_classes: int | None = None,
    reg: float = 0.0,
    ddof: int = 0,
    shrinkage: float | None = None,
    q: int = 10,
    prior: torch.Tensor | None = None,
) -> GaussianClassifierParams:
    r"""Fit class-conditional Gaussians by maximum likelihood (closed form per class).

    .. math::
        \hat\pi_k = \frac{n_k}{N},\quad \hat\mu_k = \frac1{n_k}\sum_{i:y_i=k}x_i,\quad
        \hat\Sigma_k = \frac1{n_k - \text{ddof}}\sum_{i:y_i=k}(x_i-\hat\mu_k)(x_i-\hat\mu_k)^\top
        + \text{reg}\cdot I

    then restricted to the chosen ``covariance`` family (see the module docstring). ``tied``
    pools :math:`\sum_k \frac{n_k}{N}\hat\Sigma_k`.

    Args:
        X: ``(N, D)`` features.
        y: ``(N,)`` integer labels in ``0..K-1``; every class needs at least 2 examples.
        covariance: one of ``"full"``, ``"diag"``, ``"tied"``, ``"shrinkage"``, ``"ppca"``.
        n_classes: ``K`` (default: ``max(y) + 1``).
        reg: added to every covariance's diagonal (``>= 0``).
        ddof: 0 for maximum likelihood (as scikit-learn's QDA/LDA), 1 for the unbiased estimate.
        shrinkage: fixed :math:`\alpha \in [0, 1]` for ``"shrinkage"``; ``None``: Ledoit-Wolf.
        q: PPCA rank per class (capped at :math:`n_k - 2` and :math:`D - 1`).
        prior: ``(K,)`` class prior to use instead of the class frequencies.

    Returns:
        :class:`GaussianClassifierParams`.

    Raises:
        ValueError: bad arguments, or a covariance that is not positive definite (e.g.
            ``"full"`` with :math:`n_k \le D` and ``reg = 0``).
    """
    K, counts = _check_xy(X, y, n_classes)
    if covariance not in COVARIANCE_TYPES:
        raise ValueError(f"covariance must be one of {COVARIANCE_TYPES}, got {covariance!r}")
    if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not reg >= 0:
        raise ValueError(f"reg must be a non-negative number, got {reg!r}")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    if shrinkage is not None and not (isinstance(shrinkage, (int, float)) and 0 <= shrinkage <= 1):
        raise ValueError(f"shrinkage must be None or a number in [0, 1], got {shrinkage!r}")
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ValueError(f"q must be a positive int, got {q!r}")
    log_prior = torch.log(counts.to(X) / counts.sum()) if prior is None else _log_prior(prior, K, X)
    means = torch.stack([X[y == k].mean(0) for k in range(K)])  # (K, D)
    base = "full" if covariance == "tied" else covariance
    covs = torch.stack([_class_covariance(X[y == k], base, ddof, shrinkage, q, reg) for k in range(K)])
    if covariance == "tied":
        covs = (counts.to(X) / counts.sum()).view(-1, 1, 1).mul(covs).sum(0).expand(K, -1, -1)
    covs = covs + reg * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    L, info = torch.linalg.cholesky_ex(covs)
    bad = (info > 0).nonzero().flatten().tolist()
    if bad:
        raise ValueError(
            f"covariance {covariance!r}: class(es) {bad} have a singular covariance "
            f"(n_k = {[int(counts[k]) for k in bad]} for D = {X.shape[1]}); use reg > 0 or "
            "a restricted family (diag, shrinkage, ppca, tied)"
        )
    return GaussianClassifierParams(log_prior, means, L)


def _log_prior(prior, K, like):
    if not torch.is_tensor(prior) or prior.shape != (K,):
        raise ValueError(f"prior must be a ({K},) tensor")
    if (prior <= 0).any() or abs(float(prior.sum()) - 1) > 1e-6:
        raise ValueError("prior must be positive and sum to one")
    return torch.log(prior.to(like))


def _check_params(params) -> tuple[int, int]:
    if not isinstance(params, GaussianClassifierParams):
        raise ValueError("params must be a GaussianClassifierParams")
    K, D = params.means.shape
    if params.log_prior.shape != (K,) or params.scale_tril.shape != (K, D, D):
        raise ValueError("params: log_prior (K,), means (K, D) and scale_tril (K, D, D) disagree")
    return K, D


def class_log_likelihood(params: GaussianClassifierParams, X: torch.Tensor) -> torch.Tensor:
    r"""``(N, K)`` class-conditional log-densities :math:`\log\mathcal N(x_n;\mu_k,\Sigma_k)`."""
    K, D = _check_params(params)
    if not torch.is_tensor(X) or X.ndim != 2 or X.shape[1] != D or not torch.isfinite(X).all():
        raise ValueError(f"X must be a finite (N, {D}) tensor")
    diff = (X.unsqueeze(0) - params.means.unsqueeze(1)).transpose(-1, -2)  # (K, D, N)
    white = torch.linalg.solve_triangular(params.scale_tril, diff, upper=False)  # (K, D, N)
    logdet = 2 * torch.log(torch.diagonal(params.scale_tril, dim1=-2, dim2=-1)).sum(-1)  # (K,)
    ll = -0.5 * ((white**2).sum(1) + logdet.unsqueeze(-1) + D * math.log(2 * math.pi))  # (K, N)
    return ll.T


def predict_log_proba(params: GaussianClassifierParams, X: torch.Tensor) -> torch.Tensor:
    r"""``(N, K)`` posterior :math:`\log p(y=k\mid x) = \log\pi_k + \log p(x\mid k) - \log p(x)`."""
    joint = class_log_likelihood(params, X) + params.log_prior
    return joint - torch.logsumexp(joint, dim=1, keepdim=True)


def with_prior(params: GaussianClassifierParams, prior: torch.Tensor) -> GaussianClassifierParams:
    """The same class-conditionals with a new class prior ``(K,)`` (prior-shift adaptation)."""
    K, _ = _check_params(params)
    return params._replace(log_prior=_log_prior(prior, K, params.means))


def sample_class_conditional(params: GaussianClassifierParams, labels: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw :math:`x_m \sim \mathcal N(\mu_{y_m}, \Sigma_{y_m})` for each label; returns ``(M, D)``."""
    K, D = _check_params(params)
    if not torch.is_tensor(labels) or labels.ndim != 1 or (labels < 0).any() or (labels >= K).any():
        raise ValueError(f"labels must be a 1-D integer tensor with values in 0..{K - 1}")
    eps = torch.randn(len(labels), D, 1, dtype=params.means.dtype, device=params.means.device,
                      generator=generator)
    return params.means[labels] + (params.scale_tril[labels] @ eps).squeeze(-1)


def n_covariance_parameters(covariance: str, D: int, q: int = 10) -> int:
    """Free covariance parameters per class: full ``D(D+1)/2``, diag ``D``, ppca ``Dq - q(q-1)/2 + 1``."""
    if covariance not in COVARIANCE_TYPES:
        raise ValueError(f"covariance must be one of {COVARIANCE_TYPES}, got {covariance!r}")
    if not isinstance(D, int) or D < 1:
        raise ValueError(f"D must be a positive int, got {D!r}")
    return {"full": D * (D + 1) // 2, "tied": D * (D + 1) // 2, "shrinkage": D * (D + 1) // 2,
            "diag": D, "ppca": D * q - q * (q - 1) // 2 + 1}[covariance]
