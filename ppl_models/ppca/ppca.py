r"""Probabilistic PCA (Tipping & Bishop, 1999): closed form, EM, density, posterior, sampling.

Generative story, for each of :math:`N` points::

    z_n ~ N(0, I_q)                 (latent, q-dimensional)
    x_n | z_n ~ N(mu + W z_n, sigma^2 I_D)

        z_n  --W-->  x_n        (plate over n = 1..N;  mu, W, sigma^2 are parameters)

so that, marginally, :math:`x_n \sim \mathcal N(\mu, C)` with :math:`C = W W^\top + \sigma^2 I_D`.
All functions are pure: they take tensors and return tensors or NamedTuples, keep the dtype and
device of their input, and work in float32 or float64. Matrices of size ``D x D`` are never
inverted: the Woodbury identity reduces every solve to the ``q x q`` matrix
:math:`M = W^\top W + \sigma^2 I_q`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._checks import (
    check_data,
    check_loading,
    check_matching,
    check_nonneg_float,
    check_positive_int,
    check_q,
    check_seed,
)

__all__ = [
    "PPCAParams",
    "PPCAEMResult",
    "ppca_mle",
    "ppca_em",
    "ppca_log_likelihood",
    "ppca_posterior",
    "ppca_sample",
    "principal_angles",
]


class PPCAParams(NamedTuple):
    """Parameters of a PPCA model.

    Attributes:
        mean: ``(D,)`` the offset :math:`\\mu`.
        W: ``(D, q)`` the factor loadings.
        sigma2: 0-dim tensor, the isotropic noise variance :math:`\\sigma^2 > 0`.
    """

    mean: torch.Tensor
    W: torch.Tensor
    sigma2: torch.Tensor


class PPCAEMResult(NamedTuple):
    """Result of :func:`ppca_em`.

    Attributes:
        params: the fitted :class:`PPCAParams`.
        history: ``(n_iter + 1,)`` mean per-sample log-likelihood, at the initial parameters and
            after each EM iteration (non-decreasing up to round-off).
        n_iter: number of EM iterations run.
        converged: whether the last improvement was below ``tol``.
    """

    params: PPCAParams
    history: torch.Tensor
    n_iter: int
    converged: bool


def _check_params(params: PPCAParams) -> int:
    if not isinstance(params, tuple) or len(params) != 3:
        raise ValueError("params must be a PPCAParams(mean, W, sigma2)")
    mean, W, sigma2 = params
    check_loading(mean, W)
    if not torch.is_tensor(sigma2) or sigma2.numel() != 1 or not bool(sigma2 > 0):
        raise ValueError("params.sigma2 must be a positive scalar tensor")
    return int(mean.shape[0])


def _moments(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and centred data ``(N, D)``."""
    mean = X.mean(0)
    return mean, X - mean


def _fix_signs(U: torch.Tensor) -> torch.Tensor:
    """Flip each column so its largest-magnitude entry is positive (a deterministic convention)."""
    idx = U.abs().argmax(0)  # (q,)
    signs = torch.sign(U[idx, torch.arange(U.shape[1], device=U.device)])
    signs[signs == 0] = 1
    return U * signs


def ppca_mle(X: torch.Tensor, q: int, min_sigma2: float = 0.0) -> PPCAParams:
    r"""Maximum-likelihood PPCA in closed form (Tipping & Bishop, 1999, eq. 7-8).

    With :math:`S = \frac1N\sum_n (x_n-\bar x)(x_n-\bar x)^\top` (the :math:`1/N` covariance)
    and its eigen-decomposition :math:`\lambda_1 \ge \dots \ge \lambda_D`, :math:`U`,

    .. math::
        \hat\mu = \bar x,\quad
        \hat\sigma^2 = \frac{1}{D-q}\sum_{j>q}\lambda_j,\quad
        \hat W = U_q(\Lambda_q - \hat\sigma^2 I)^{1/2}.

    The rotation :math:`R` of the general solution :math:`U_q(\Lambda_q-\sigma^2 I)^{1/2}R` is
    fixed to the identity, and each column's largest entry is made positive.

    Args:
        X: ``(N, D)`` data.
        q: latent dimension, ``1 <= q < D``.
        min_sigma2: floor for :math:`\hat\sigma^2`; with the default 0 a singular residual
            (e.g. ``N <= q``) raises, a positive value regularises it instead.

    Returns:
        :class:`PPCAParams` with ``mean (D,)``, ``W (D, q)``, ``sigma2`` (0-dim).
    """
    X = check_data(X)
    q = check_q(q, X.shape[1])
    min_sigma2 = check_nonneg_float(min_sigma2, "min_sigma2")
    mean, Xc = _moments(X)
    S = Xc.T @ Xc / X.shape[0]  # (D, D)
    evals, evecs = torch.linalg.eigh(S)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = evals[q:].clamp_min(0).mean()
    rank_tol = evals[0].clamp_min(0) * X.shape[1] * torch.finfo(X.dtype).eps
    if not bool(sigma2 > rank_tol) and min_sigma2 == 0:
        raise ValueError(
            f"q = {q}: the residual variance is zero (the data span at most q dimensions); "
            "use a smaller q or a positive min_sigma2"
        )
    sigma2 = sigma2.clamp_min(min_sigma2)
    U = _fix_signs(evecs[:, :q])
    W = U * (evals[:q] - sigma2).clamp_min(0).sqrt()
    return PPCAParams(mean, W, sigma2)


def _woodbury(W: torch.Tensor, sigma2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cholesky factor of :math:`M = W^\\top W + \\sigma^2 I_q` and :math:`\\log|C|`."""
    D, q = W.shape
    M = W.T @ W + sigma2 * torch.eye(q, dtype=W.dtype, device=W.device)
    L = torch.linalg.cholesky(M)  # (q, q)
    logdet_C = (D - q) * torch.log(sigma2) + 2 * torch.log(torch.diagonal(L)).sum()
    return L, logdet_C


def ppca_log_likelihood(params: PPCAParams, X: torch.Tensor) -> torch.Tensor:
    r"""Per-sample marginal log-density :math:`\log \mathcal N(x_n; \mu, WW^\top + \sigma^2 I)`.

    Uses :math:`C^{-1} = \sigma^{-2}(I - W M^{-1} W^\top)` and
    :math:`\log|C| = (D-q)\log\sigma^2 + \log|M|` with :math:`M = W^\top W + \sigma^2 I_q`.

    Args:
        params: :class:`PPCAParams` (``mean (D,)``, ``W (D, q)``, ``sigma2``).
        X: ``(N, D)`` points.

    Returns:
        ``(N,)`` log p(x_n).
    """
    D = _check_params(params)
    X = check_matching(X, D)
    mean, W, sigma2 = params
    L, logdet_C = _woodbury(W, sigma2)
    Xc = X - mean  # (N, D)
    proj = torch.linalg.solve_triangular(L, (Xc @ W).T, upper=False)  # (q, N)
    maha = ((Xc**2).sum(1) - (proj**2).sum(0)) / sigma2  # (N,)
    return -0.5 * (D * math.log(2 * math.pi) + logdet_C + maha)


def ppca_posterior(params: PPCAParams, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Posterior of the latents given the points.

    .. math::
        p(z_n\mid x_n) = \mathcal N\big(M^{-1}W^\top(x_n-\mu),\ \sigma^2 M^{-1}\big).

    Args:
        params: :class:`PPCAParams`.
        X: ``(N, D)`` points.

    Returns:
        ``(mean (N, q), cov (q, q))``; the covariance is the same for every point.
    """
    D = _check_params(params)
    X = check_matching(X, D)
    mean, W, sigma2 = params
    L, _ = _woodbury(W, sigma2)
    rhs = ((X - mean) @ W).T  # (q, N)
    post_mean = torch.cholesky_solve(rhs, L, upper=False).T  # (N, q)
    eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    cov = sigma2 * torch.cholesky_solve(eye, L, upper=False)  # (q, q)
    return post_mean, cov


def ppca_sample(params: PPCAParams, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw ``n`` points from the generative story: :math:`x = \mu + Wz + \sigma\epsilon`.

    Args:
        params: :class:`PPCAParams`.
        n: number of samples.
        generator: optional ``torch.Generator`` (on the parameters' device) for reproducibility.

    Returns:
        ``(n, D)`` samples.
    """
    D = _check_params(params)
    n = check_positive_int(n, "n")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    mean, W, sigma2 = params
    kw = dict(dtype=W.dtype, device=W.device, generator=generator)
    z = torch.randn(n, W.shape[1], **kw)  # (n, q)
    eps = torch.randn(n, D, **kw)  # (n, D)
    return mean + z @ W.T + sigma2.sqrt() * eps


def _mean_loglik(W, sigma2, SW, trS, D):
    """Mean per-sample log-likelihood from sufficient statistics (``SW = S W``, ``trS = tr S``)."""
    L, logdet_C = _woodbury(W, sigma2)
    A = torch.linalg.solve_triangular(L, W.T @ SW, upper=False)  # (q, q) L^{-1} W^T S W
    tr_term = torch.trace(torch.linalg.solve_triangular(L, A.T, upper=False))  # tr(M^{-1} W^T S W)
    tr_Cinv_S = (trS - tr_term) / sigma2
    return -0.5 * (D * math.log(2 * math.pi) + logdet_C + tr_Cinv_S)


def _em_step(W, sigma2, Xc, trS):
    r"""One EM update (Tipping & Bishop eq. 29-30) computed without forming ``S``."""
    N, D = Xc.shape
    q = W.shape[1]
    SW = Xc.T @ (Xc @ W) / N  # (D, q)
    L, _ = _woodbury(W, sigma2)
    MinvWtSW = torch.cholesky_solve(W.T @ SW, L, upper=False)  # (q, q)
    eye = torch.eye(q, dtype=W.dtype, device=W.device)
    W_new = torch.linalg.solve((sigma2 * eye + MinvWtSW).T, SW.T).T  # (D, q)
    SWMinv = torch.cholesky_solve(SW.T, L, upper=False).T  # (D, q) S W M^{-1}
    sigma2_new = (trS - (SWMinv * W_new).sum()) / D
    return W_new, sigma2_new


def ppca_em(X: torch.Tensor, q: int, n_iter: int = 500, tol: float = 1e-8, seed: int = 0,
            init: PPCAParams | None = None) -> PPCAEMResult:
    r"""Fit PPCA by expectation-maximisation (Tipping & Bishop, 1999, sec. 4.2).

    E-step: :math:`\mathbb E[z_n] = M^{-1}W^\top(x_n-\mu)`,
    :math:`\mathbb E[z_nz_n^\top] = \sigma^2M^{-1} + \mathbb E[z_n]\mathbb E[z_n]^\top`.
    Folding the E-step into the M-step gives, with :math:`S` the :math:`1/N` covariance,

    .. math::
        W' = SW(\sigma^2 I + M^{-1}W^\top S W)^{-1},\qquad
        \sigma'^2 = \tfrac1D \operatorname{tr}(S - SWM^{-1}W'^\top).

    Each iteration costs :math:`O(NDq)`; the fixed point is the closed form of
    :func:`ppca_mle` up to a rotation of :math:`W`. Convergence is linear with rate about
    :math:`1 - 2\sigma^2/\lambda_q` (a one-direction analysis of the update), so EM is slow
    when the noise is small compared with the retained eigenvalues: the log-likelihood then
    flattens (and ``tol`` stops it) long before :math:`W` has settled.

    Args:
        X: ``(N, D)`` data.
        q: latent dimension, ``1 <= q < D``.
        n_iter: maximum number of iterations.
        tol: stop when the mean log-likelihood improves by less than ``tol`` (nats per point).
        seed: seeds the random initial ``W`` (ignored when ``init`` is given).
        init: optional initial parameters (``mean`` is always the data mean).

    Returns:
        :class:`PPCAEMResult` with ``params``, ``history``, ``n_iter`` and ``converged``.
    """
    X = check_data(X)
    q = check_q(q, X.shape[1])
    n_iter = check_positive_int(n_iter, "n_iter")
    tol = check_nonneg_float(tol, "tol")
    seed = check_seed(seed)
    N, D = X.shape
    mean, Xc = _moments(X)
    trS = (Xc**2).sum() / N
    if init is None:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        W = torch.randn(D, q, generator=gen, dtype=torch.float64).to(X) * (trS / D).sqrt()
        sigma2 = trS / D
    else:
        if _check_params(init) != D or init.W.shape[1] != q:
            raise ValueError(f"init must have D = {D} and q = {q}")
        W, sigma2 = init.W.to(X), init.sigma2.to(X)
    history = [_mean_loglik(W, sigma2, Xc.T @ (Xc @ W) / N, trS, D)]
    converged, it = False, 0
    for it in range(1, n_iter + 1):  # noqa: B007
        W, sigma2 = _em_step(W, sigma2, Xc, trS)
        history.append(_mean_loglik(W, sigma2, Xc.T @ (Xc @ W) / N, trS, D))
        if abs(float(history[-1] - history[-2])) < tol:
            converged = True
            break
    return PPCAEMResult(PPCAParams(mean, W, sigma2), torch.stack(history), it, converged)


def principal_angles(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    r"""Principal angles (radians, ascending) between the column spaces of ``A`` and ``B``.

    With orthonormal bases :math:`Q_A, Q_B`, the cosines are the singular values of
    :math:`Q_A^\top Q_B` (Björck & Golub, 1973). Zero angles mean the same subspace.

    Args:
        A: ``(D, p)`` matrix.
        B: ``(D, r)`` matrix.

    Returns:
        ``(min(p, r),)`` angles in :math:`[0, \pi/2]`.
    """
    for name, M in (("A", A), ("B", B)):
        if not torch.is_tensor(M) or M.ndim != 2 or not torch.is_floating_point(M):
            raise ValueError(f"{name} must be a floating (D, k) tensor")
        if not torch.isfinite(M).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows, got {A.shape[0]} and {B.shape[0]}")
    Qa, _ = torch.linalg.qr(A)
    Qb, _ = torch.linalg.qr(B.to(A))
    cos = torch.linalg.svdvals(Qa.T @ Qb).clamp(-1.0, 1.0)
    # arccos is ill-conditioned near 0: use the sine of the residual for accuracy
    resid = Qb - Qa @ (Qa.T @ Qb)
    sin = torch.linalg.svdvals(resid).flip(0)[: cos.numel()].clamp(0.0, 1.0)
    return torch.where(cos > 0.7, torch.arcsin(sin), torch.arccos(cos))
