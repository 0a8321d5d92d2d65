r"""Factor analysis by EM (Rubin & Thayer, 1982; Bishop, PRML sec. 12.2.4).

The same linear-Gaussian story as PPCA, but each coordinate has its own noise variance::

    z_n ~ N(0, I_q)
    x_n | z_n ~ N(mu + W z_n, diag(psi))          (psi: (D,) positive)

so :math:`x_n \sim \mathcal N(\mu, WW^\top + \Psi)`. Unlike PPCA there is no closed form; EM
is the classic fit. All solves go through the ``q x q`` matrix
:math:`G^{-1} = I_q + W^\top\Psi^{-1}W`.
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

__all__ = ["FAParams", "FAEMResult", "fa_em", "fa_log_likelihood", "fa_sample"]


class FAParams(NamedTuple):
    """Parameters of a factor-analysis model.

    Attributes:
        mean: ``(D,)`` offset.
        W: ``(D, q)`` factor loadings.
        psi: ``(D,)`` positive per-coordinate noise variances.
    """

    mean: torch.Tensor
    W: torch.Tensor
    psi: torch.Tensor


class FAEMResult(NamedTuple):
    """Result of :func:`fa_em`.

    Attributes:
        params: the fitted :class:`FAParams`.
        history: mean per-sample log-likelihood at the initial parameters and after each
            iteration (non-decreasing up to round-off).
        n_iter: number of EM iterations run.
        converged: whether the last improvement was below ``tol``.
    """

    params: FAParams
    history: torch.Tensor
    n_iter: int
    converged: bool


def _check_params(params: FAParams) -> int:
    if not isinstance(params, tuple) or len(params) != 3:
        raise ValueError("params must be an FAParams(mean, W, psi)")
    mean, W, psi = params
    check_loading(mean, W)
    if not torch.is_tensor(psi) or psi.shape != mean.shape or not bool((psi > 0).all()):
        raise ValueError("params.psi must be a positive (D,) tensor")
    return int(mean.shape[0])


def _chol_G_inv(W: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of :math:`I_q + W^\\top \\Psi^{-1} W`."""
    Wt = W / psi.sqrt().unsqueeze(-1)  # (D, q)
    eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.cholesky(eye + Wt.T @ Wt)


def fa_log_likelihood(params: FAParams, X: torch.Tensor) -> torch.Tensor:
    r"""Per-sample log-density :math:`\log\mathcal N(x_n;\mu, WW^\top+\Psi)`.

    With :math:`\tilde W = \Psi^{-1/2}W`, :math:`\tilde x = \Psi^{-1/2}(x-\mu)` and
    :math:`L L^\top = I + \tilde W^\top\tilde W`:
    :math:`\log|C| = \sum_d\log\psi_d + 2\sum_k \log L_{kk}` and
    :math:`(x-\mu)^\top C^{-1}(x-\mu) = \|\tilde x\|^2 - \|L^{-1}\tilde W^\top\tilde x\|^2`.

    Args:
        params: :class:`FAParams` (``mean (D,)``, ``W (D, q)``, ``psi (D,)``).
        X: ``(N, D)`` points.

    Returns:
        ``(N,)`` log p(x_n).
    """
    D = _check_params(params)
    X = check_matching(X, D)
    mean, W, psi = params
    L = _chol_G_inv(W, psi)
    xt = (X - mean) / psi.sqrt()  # (N, D)
    Wt = W / psi.sqrt().unsqueeze(-1)  # (D, q)
    proj = torch.linalg.solve_triangular(L, (xt @ Wt).T, upper=False)  # (q, N)
    maha = (xt**2).sum(1) - (proj**2).sum(0)
    logdet = torch.log(psi).sum() + 2 * torch.log(torch.diagonal(L)).sum()
    return -0.5 * (D * math.log(2 * math.pi) + logdet + maha)


def fa_sample(params: FAParams, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw ``n`` points :math:`x = \mu + Wz + \Psi^{1/2}\epsilon`; returns ``(n, D)``."""
    D = _check_params(params)
    n = check_positive_int(n, "n")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    mean, W, psi = params
    kw = dict(dtype=W.dtype, device=W.device, generator=generator)
    z = torch.randn(n, W.shape[1], **kw)
    return mean + z @ W.T + psi.sqrt() * torch.randn(n, D, **kw)


def _stats(W, psi, Xc, diagS):
    """Mean log-likelihood and the statistics the M-step needs, in one pass over the data."""
    N, D = Xc.shape
    L = _chol_G_inv(W, psi)
    PW = W / psi.unsqueeze(-1)  # (D, q) Psi^{-1} W
    SPW = Xc.T @ (Xc @ PW) / N  # (D, q) S Psi^{-1} W
    WPSPW = PW.T @ SPW  # (q, q)
    tr_term = torch.trace(torch.cholesky_solve(WPSPW, L, upper=False))
    tr_CinvS = (diagS / psi).sum() - tr_term
    logdet = torch.log(psi).sum() + 2 * torch.log(torch.diagonal(L)).sum()
    ll = -0.5 * (D * math.log(2 * math.pi) + logdet + tr_CinvS)
    return ll, L, SPW, WPSPW


def _m_step(L, SPW, WPSPW, diagS, min_psi):
    r"""M-step: :math:`W' = SB^\top(G + BSB^\top)^{-1}`, :math:`\psi' = \mathrm{diag}(S - W'BS)`,
    with :math:`B = GW^\top\Psi^{-1}` (so :math:`\mathbb E[z_n] = B(x_n-\mu)`)."""
    q = L.shape[0]
    eye = torch.eye(q, dtype=L.dtype, device=L.device)
    G = torch.cholesky_solve(eye, L, upper=False)  # (q, q)
    SBt = SPW @ G  # (D, q) S B^T
    Ezz = G + G @ WPSPW @ G  # (q, q) mean E[z z^T]
    W_new = torch.linalg.solve(Ezz, SBt.T).T  # Ezz symmetric
    psi_new = (diagS - (W_new * SBt).sum(1)).clamp_min(min_psi)
    return W_new, psi_new


def fa_em(X: torch.Tensor, q: int, n_iter: int = 1000, tol: float = 1e-8, seed: int = 0,
          min_psi: float = 1e-12) -> FAEMResult:
    r"""Fit factor analysis by EM.

    E-step: :math:`G = (I + W^\top\Psi^{-1}W)^{-1}`, :math:`\mathbb E[z_n] = GW^\top\Psi^{-1}(x_n-\mu)`,
    :math:`\mathbb E[z_nz_n^\top] = G + \mathbb E[z_n]\mathbb E[z_n]^\top`. M-step:

    .. math::
        W' = \Big(\sum_n (x_n-\mu)\mathbb E[z_n]^\top\Big)\Big(\sum_n\mathbb E[z_nz_n^\top]\Big)^{-1},
        \quad \Psi' = \operatorname{diag}\Big(S - W'\tfrac1N\sum_n\mathbb E[z_n](x_n-\mu)^\top\Big).

    Args:
        X: ``(N, D)`` data.
        q: number of factors, ``1 <= q < D``.
        n_iter: maximum number of iterations.
        tol: stop when the mean log-likelihood improves by less than ``tol`` nats per point.
        seed: seeds the random initial loadings.
        min_psi: floor on each noise variance (guards against Heywood cases, :math:`\psi_d\to0`).

    Returns:
        :class:`FAEMResult` with ``params``, ``history``, ``n_iter``, ``converged``.
    """
    X = check_data(X)
    q = check_q(q, X.shape[1])
    n_iter = check_positive_int(n_iter, "n_iter")
    tol = check_nonneg_float(tol, "tol")
    seed = check_seed(seed)
    min_psi = check_nonneg_float(min_psi, "min_psi")
    N, D = X.shape
    mean = X.mean(0)
    Xc = X - mean
    diagS = (Xc**2).mean(0)  # (D,)
    if not bool((diagS > 0).all()):
        raise ValueError("X has a constant column: factor analysis needs positive variance everywhere")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    W = torch.randn(D, q, generator=gen, dtype=torch.float64).to(X) * diagS.sqrt().unsqueeze(-1) * 0.5
    psi = diagS.clone()
    ll, L, SPW, WPSPW = _stats(W, psi, Xc, diagS)
    history, converged, it = [ll], False, 0
    for it in range(1, n_iter + 1):  # noqa: B007
        W, psi = _m_step(L, SPW, WPSPW, diagS, min_psi)
        ll, L, SPW, WPSPW = _stats(W, psi, Xc, diagS)
        history.append(ll)
        if abs(float(history[-1] - history[-2])) < tol:
            converged = True
            break
    return FAEMResult(FAParams(mean, W, psi), torch.stack(history), it, converged)
