r"""Expectation-maximisation for Gaussian mixtures, with k-means++ initialisation and restarts.

EM maximises the evidence lower bound

.. math::  \log p(X\mid\theta) \;\ge\; \mathcal L(q,\theta) =
    \sum_n \sum_k q_{nk}\,[\log \pi_k + \log\mathcal N(x_n\mid\mu_k,\Sigma_k) - \log q_{nk}]

by coordinate ascent: the E-step sets :math:`q_{nk} = p(z_n=k\mid x_n,\theta)` (the bound is
then tight), the M-step maximises over :math:`\theta` in closed form. So the log-likelihood can
never decrease.

Conventions (chosen to agree with scikit-learn's ``GaussianMixture``): ``reg_covar`` is added to
every covariance diagonal in the M-step; :math:`N_k = \sum_n r_{nk} + 10\,\epsilon`.

Degenerate cases. A component whose total responsibility falls below ``EMPTY_COUNT`` (it "lost
all its points") keeps its previous mean and covariance and gets weight :math:`N_k/N \approx 0`.
Any mean/covariance maximises that component's (vanishing) share of the bound, so this is still a
(generalised) EM step and the likelihood still cannot decrease; use ``n_init`` restarts to avoid
dead components. Duplicated points and ``D > N`` give singular sample covariances, which
``reg_covar > 0`` keeps positive definite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch

from ._blas import matmul, numpy_ok
from ._checks import check_data, check_int, check_nonneg, check_params
from .gmm import LOG_2PI, GMMParams, _log_gauss, gmm_component_log_prob, precision_cholesky

__all__ = ["GMMFit", "GMMConfig", "EMPTY_COUNT", "gmm_e_step", "gmm_m_step", "kmeans_plusplus",
           "init_gmm", "fit_gmm"]

EMPTY_COUNT = 1e-3  # a component with less total responsibility than this is "empty"
COVARIANCE_TYPES = ("full", "diag")
INIT_METHODS = ("kmeans++", "random")


class GMMFit(NamedTuple):
    """Result of :func:`fit_gmm` (the best of ``n_init`` runs).

    Attributes:
        params: the fitted :class:`GMMParams`.
        history: ``(n_iter + 1,)`` float64 mean log-likelihood per sample of the initial
            parameters and after every EM iteration (``history[-1]`` is that of ``params``).
        converged: whether the last change in mean log-likelihood was below ``tol``.
        n_iter: EM iterations run.
    """

    params: GMMParams
    history: torch.Tensor
    converged: bool
    n_iter: int


@dataclass(frozen=True)
class GMMConfig:
    """Settings of :func:`fit_gmm` (``fit_gmm(X, **asdict(cfg))``)."""

    n_components: int = 3
    covariance_type: str = "full"  # "full" or "diag"
    max_iter: int = 200  # EM iterations per restart
    tol: float = 1e-6  # stop when the mean log-likelihood changes by less
    n_init: int = 3  # k-means++ restarts; the best final likelihood wins
    reg_covar: float = 1e-6  # added to covariance diagonals
    seed: int = 0

    def smoke(self) -> GMMConfig:
        """The tiny variant for smoke runs."""
        return replace(self, max_iter=min(self.max_iter, 30), n_init=1)


def gmm_e_step(params: GMMParams, X: torch.Tensor,
               chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""E-step: mean log-likelihood and log-responsibilities :math:`\log r_{nk}`.

    Returns:
        ``(mean_loglik, log_resp)`` with shapes ``()`` and ``(N, K)``.
    """
    lp = gmm_component_log_prob(params, X, chunk_size)  # (N, K)
    return _normalise(lp)


def _normalise(lp):
    ll = torch.logsumexp(lp, dim=-1, keepdim=True)  # (N, 1)
    return ll.mean(), lp - ll


def _responsibilities(lp):
    r"""Mean log-likelihood and :math:`r_{nk} = e^{l_{nk} - m_n} / \sum_j e^{l_{nj} - m_n}` from joint
    log-probabilities ``lp`` ``(N, K)`` (overwritten), with one ``exp`` pass (:math:`m_n = \max_k l_{nk}`)."""
    m = lp.amax(-1, keepdim=True).clamp_min(torch.finfo(lp.dtype).min)  # (N, 1), finite
    lp.sub_(m)
    # below the smallest normal float: 0, not a subnormal (those slow every later product)
    lp.masked_fill_(lp < math.log(torch.finfo(lp.dtype).tiny * lp.shape[-1]), -math.inf)
    resp = lp.exp_()
    total = resp.sum(-1, keepdim=True)
    return (total.log() + m).mean(), resp.div_(total)


def _full_cov(X, resp, mu, nk, raw, step):
    r""":math:`\Sigma_k = \frac1{N_k}\sum_n r_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top`, ``(K, D, D)``.

    With :math:`\mu_k = \frac1{N_k}\sum_n r_{nk} x_n` and :math:`R_k = \sum_n r_{nk}` (``raw``;
    :math:`N_k` adds ``10 eps``) the sum expands to
    :math:`\frac1{N_k}\sum_n r_{nk} x_n x_n^\top - (2 - R_k/N_k)\,\mu_k\mu_k^\top`: one
    ``(K D, n) x (n, D)`` product per row chunk instead of ``K`` centred ``(n, K, D)`` copies. ``X``
    is centred on the data mean, which keeps the cancellation small.
    """
    K, D = mu.shape
    S = torch.zeros(K * D, D, dtype=X.dtype, device=X.device)
    fast = numpy_ok(X, resp) and X.dtype == resp.dtype
    for s in range(0, X.shape[0], step):
        xb, rb = X[s : s + step], resp[s : s + step]
        if fast:  # numpy's broadcasting product and BLAS, writing into S's memory
            x_np, w = xb.numpy(), rb.numpy()[:, :, None] * xb.numpy()[:, None, :]  # (n, K, D): r_nk x_n
            S.numpy()[...] += w.reshape(-1, K * D).T @ x_np
        else:
            S += (rb.unsqueeze(-1) * xb.unsqueeze(1)).reshape(xb.shape[0], K * D).T @ xb
    cov = S.view(K, D, D) / nk.view(-1, 1, 1)
    cov = cov - (2.0 - raw / nk).view(-1, 1, 1) * (mu.unsqueeze(-1) * mu.unsqueeze(-2))
    return 0.5 * (cov + cov.transpose(-1, -2))  # exactly symmetric


def gmm_m_step(X: torch.Tensor, resp: torch.Tensor, covariance_type: str = "full",
               reg_covar: float = 1e-6, previous: GMMParams | None = None,
               chunk_size: int | None = None) -> GMMParams:
    r"""M-step: the parameters maximising the bound for responsibilities ``resp``.

    .. math::  N_k = \sum_n r_{nk},\quad \pi_k = N_k/N,\quad
        \mu_k = \frac1{N_k}\sum_n r_{nk}x_n,\quad
        \Sigma_k = \frac1{N_k}\sum_n r_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top + \lambda I

    Args:
        X: ``(N, D)`` data.
        resp: ``(N, K)`` non-negative responsibilities (rows usually sum to one).
        covariance_type: ``"full"`` or ``"diag"``.
        reg_covar: :math:`\lambda \ge 0`.
        previous: parameters kept by components with total responsibility < ``EMPTY_COUNT``
            (None: such a component gets the data mean and covariance).

    Returns:
        :class:`GMMParams`.
    """
    X = check_data(X, "X")
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    reg_covar = check_nonneg(reg_covar, "reg_covar")
    if not torch.is_tensor(resp) or resp.ndim != 2 or resp.shape[0] != X.shape[0]:
        raise ValueError(f"resp must be an (N, K) tensor with N = {X.shape[0]}")
    if not bool(torch.isfinite(resp).all()) or bool((resp < 0).any()):
        raise ValueError("resp must be finite and non-negative")
    return _m_step(X, resp.to(X.dtype), covariance_type, reg_covar, previous, chunk_size)


def _m_step(X, resp, covariance_type, reg_covar, previous, chunk_size):
    raw = resp.sum(0)  # (K,)
    nk = raw + 10 * torch.finfo(X.dtype).eps
    c = X.mean(0)
    Xc = X - c  # centring keeps the diagonal formula below numerically safe
    muc = matmul(resp.T, Xc) / nk.unsqueeze(-1)  # (K, D)
    K, D = muc.shape
    if covariance_type == "full":
        step = chunk_size or max(256, (1 << 21) // (K * D))
        cov = _full_cov(Xc, resp, muc, nk, raw, step)
        cov = cov + reg_covar * torch.eye(D, dtype=X.dtype, device=X.device)
    else:
        cov = (matmul(resp.T, Xc * Xc) / nk.unsqueeze(-1) - muc * muc).clamp_min(0.0) + reg_covar
    weights = nk / nk.sum()
    means = muc + c
    empty = raw < EMPTY_COUNT
    if bool(empty.any()):
        means, cov = _fill_empty(empty, means, cov, X, covariance_type, reg_covar, previous)
    return GMMParams(weights, means, cov)


def _fill_empty(empty, means, cov, X, covariance_type, reg_covar, previous):
    """Components that lost all points keep ``previous`` (or get the data's moments)."""
    if previous is not None and previous.covariances.shape == cov.shape:
        keep_mu, keep_cov = previous.means, previous.covariances
    else:
        var = X.var(0, unbiased=False) + reg_covar  # (D,)
        keep_mu = X.mean(0).expand_as(means)
        keep_cov = (torch.diag(var) if covariance_type == "full" else var).expand_as(cov)
    idx = empty.view(-1, *[1] * (means.ndim - 1))
    means = torch.where(idx, keep_mu, means)
    cov = torch.where(empty.view(-1, *[1] * (cov.ndim - 1)), keep_cov, cov)
    return means, cov


def kmeans_plusplus(X: torch.Tensor, n_clusters: int, generator: torch.Generator | None = None,
                    n_local_trials: int | None = None) -> torch.Tensor:
    r"""Greedy k-means++ seeding (Arthur & Vassilvitskii 2007): indices of ``n_clusters`` rows.

    Each new centre is drawn with probability :math:`\propto d(x)^2`, the squared distance to
    the nearest chosen centre; of ``n_local_trials`` (default :math:`2 + \log K`) candidates the
    one that lowers the potential most is kept.

    Returns:
        ``(n_clusters,)`` int64 row indices (distinct unless ``X`` has duplicated rows).
    """
    X = check_data(X, "X")
    N = X.shape[0]
    K = check_int(n_clusters, "n_clusters", 1, N)
    trials = n_local_trials or 2 + int(math.log(K))
    idx = [int(torch.randint(N, (1,), generator=generator, device=X.device))]
    sq = (X * X).sum(1)  # (N,)
    closest = (sq - 2 * X @ X[idx[0]] + sq[idx[0]]).clamp_min(0.0)  # (N,)
    for _ in range(1, K):
        total = closest.sum()
        probs = closest / total if float(total) > 0 else torch.full_like(closest, 1.0 / N)
        cand = torch.multinomial(probs, trials, replacement=True, generator=generator)  # (T,)
        d = (sq.unsqueeze(0) - 2 * X[cand] @ X.T + sq[cand].unsqueeze(1)).clamp_min(0.0)  # (T, N)
        d = torch.minimum(d, closest.unsqueeze(0))
        best = int(d.sum(1).argmin())
        idx.append(int(cand[best]))
        closest = d[best]
    return torch.tensor(idx, dtype=torch.int64, device=X.device)


def init_gmm(X: torch.Tensor, n_components: int, covariance_type: str = "full",
             method: str = "kmeans++", reg_covar: float = 1e-6,
             generator: torch.Generator | None = None) -> GMMParams:
    """Initial parameters: an M-step from hard k-means++ assignments (``"kmeans++"``: each point
    to its nearest seed) or from random normalised responsibilities (``"random"``)."""
    X = check_data(X, "X")
    K = check_int(n_components, "n_components", 1, X.shape[0])
    if method not in INIT_METHODS:
        raise ValueError(f"method (init) must be one of {INIT_METHODS} or a GMMParams, got {method!r}")
    if method == "kmeans++":
        seeds = X[kmeans_plusplus(X, K, generator)]  # (K, D)
        d = (X * X).sum(1, keepdim=True) - 2 * X @ seeds.T + (seeds * seeds).sum(1)  # (N, K)
        resp = torch.nn.functional.one_hot(d.argmin(1), K).to(X.dtype)
    else:
        resp = torch.rand(X.shape[0], K, generator=generator, dtype=X.dtype, device=X.device)
        resp = resp / resp.sum(1, keepdim=True)
    return gmm_m_step(X, resp, covariance_type, reg_covar)


class _DiagNumpyEM:
    r"""The diagonal-covariance EM iteration on the CPU in numpy: two BLAS products per iteration.

    The same E- and M-step as the torch route (:func:`_log_gauss`, :func:`_responsibilities`,
    :func:`_m_step`, equal to ~1e-12), arranged for few passes over memory. The data are centred
    once on their mean :math:`c` and stacked as :math:`Z = [x - c,\ (x - c)^2,\ 1]` ``(N, 2D+1)``
    (twice the memory of ``X``), so that

    * the E-step is one product :math:`Z W` with :math:`W_{:D,k} = \tau_k \odot \tilde\mu_k`,
      :math:`W_{D:2D,k} = -\tau_k/2` (:math:`\tau = \sigma^{-2}`, :math:`\tilde\mu = \mu - c`) and
      the constant row :math:`\log\pi_k - \frac12\sum_d[\log 2\pi\sigma^2_{kd} + \tau_{kd}\tilde\mu_{kd}^2]`:
      the joint log-densities :math:`\log \pi_k + \log\mathcal N(x_n\mid\mu_k,\sigma^2_k)` directly
      (capped where round-off makes the Mahalanobis term negative, as the torch route clamps it);
    * the M-step is one product :math:`r^\top Z` ``(K, 2D+1)``: the weighted sums of
      :math:`x - c` and :math:`(x-c)^2` and :math:`R_k = \sum_n r_{nk}`, exactly the sums of
      :func:`_m_step`, which centres on the same :math:`c`.

    Everything else is a handful of numpy passes over the ``(N, K)`` responsibilities (one
    ``exp``; responsibilities that would be subnormal are set to zero). No torch kernel runs on
    the big arrays, so torch's OpenMP pool never competes with
    the BLAS threads (which made the mixed route slow on two threads).
    """

    def __init__(self, X: torch.Tensor, reg_covar: float):
        x = X.numpy()
        n, d = x.shape
        self.dtype, self.d, self.reg = x.dtype, d, reg_covar
        self.log_tiny = float(np.log(np.finfo(x.dtype).tiny))
        self.c = x.mean(0)
        z = np.empty((n, 2 * d + 1), dtype=x.dtype)
        np.subtract(x, self.c, out=z[:, :d])
        np.multiply(z[:, :d], z[:, :d], out=z[:, d : 2 * d])
        z[:, 2 * d] = 1.0
        self.z = z

    def e_step(self, params: GMMParams) -> tuple[float, np.ndarray]:
        """Mean log-likelihood and responsibilities ``(N, K)`` of ``params``."""
        d = self.d
        P = precision_cholesky(params.covariances).numpy()  # sigma^-1, raises if a variance <= 0
        log_det = np.log(P).sum(-1)  # (K,)
        prec = P * P
        muc = params.means.numpy() - self.c
        cap = np.log(params.weights.numpy()) + log_det - 0.5 * d * LOG_2PI  # log pi_k N(mu_k | mu_k)
        w = np.empty((2 * d + 1, prec.shape[0]), dtype=self.dtype)
        w[:d] = (prec * muc).T
        w[d : 2 * d] = -0.5 * prec.T
        w[2 * d] = cap - 0.5 * (muc * muc * prec).sum(-1)
        lp = self.z @ w  # (N, K)
        np.minimum(lp, cap, out=lp)
        m = lp.max(1, keepdims=True)
        np.maximum(m, np.finfo(self.dtype).min, out=m)
        np.subtract(lp, m, out=lp)
        # responsibilities below the smallest normal float become 0 instead of subnormal: those
        # slow every later pass and product many times over (well separated clusters give
        # millions) and change no sum by more than N * 1e-308
        np.putmask(lp, lp < self.log_tiny + math.log(lp.shape[1]), -np.inf)
        np.exp(lp, out=lp)
        total = lp.sum(1, keepdims=True)
        np.divide(lp, total, out=lp)
        np.log(total, out=total)
        return float((total + m).mean()), lp

    def m_step(self, resp: np.ndarray, previous: GMMParams) -> GMMParams:
        """The M-step of :func:`_m_step` (diag) from responsibilities ``(N, K)``."""
        d = self.d
        s = resp.T @ self.z  # (K, 2D+1)
        raw = s[:, 2 * d].copy()
        nk = raw + 10 * np.finfo(self.dtype).eps
        muc = s[:, :d] / nk[:, None]
        cov = np.maximum(s[:, d : 2 * d] / nk[:, None] - muc * muc, 0.0) + self.reg
        weights, means = nk / nk.sum(), muc + self.c
        out = GMMParams(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (weights, means, cov)))
        empty = raw < EMPTY_COUNT
        if empty.any():  # rare: components that lost all their points (torch helper, small tensors)
            x = torch.from_numpy(self.z[:, :d] + self.c)
            means_t, cov_t = _fill_empty(torch.from_numpy(empty), out.means, out.covariances, x, "diag",
                                         self.reg, previous)
            out = GMMParams(out.weights, means_t, cov_t)
        return out


def _run_em(X, params, max_iter, tol, reg_covar, chunk_size):
    check_params(params)
    fast = None
    if params.covariance_type == "diag" and numpy_ok(X, *params) \
            and all(t.dtype == X.dtype for t in params):
        fast = _DiagNumpyEM(X, reg_covar)
        ll, resp = fast.e_step(params)
    else:
        ll, resp = _responsibilities(_log_gauss(params, X, chunk_size).add_(params.weights.log()))
    history = [float(ll)]
    converged = False
    for _ in range(max_iter):
        if fast is not None:
            params = fast.m_step(resp, params)
            ll, resp = fast.e_step(params)
        else:
            params = _m_step(X, resp, params.covariance_type, reg_covar, params, chunk_size)
            ll, resp = _responsibilities(_log_gauss(params, X, chunk_size).add_(params.weights.log()))
        history.append(float(ll))
        if not math.isfinite(history[-1]):
            raise FloatingPointError(f"EM log-likelihood became {history[-1]} at iteration "
                                     f"{len(history) - 1}; increase reg_covar")
        if abs(history[-1] - history[-2]) < tol:
            converged = True
            break
    history_t = torch.tensor(history, dtype=torch.float64)  # device-free: a CPU record of Python floats
    return GMMFit(params, history_t, converged, len(history) - 1)


def fit_gmm(X: torch.Tensor, n_components: int, covariance_type: str = "full",
            init: str | GMMParams = "kmeans++", max_iter: int = 100, tol: float = 1e-3,
            n_init: int = 1, reg_covar: float = 1e-6, seed: int = 0,
            chunk_size: int | None = None) -> GMMFit:
    r"""Maximum-likelihood Gaussian mixture by EM, on ``X``'s device and dtype.

    Each iteration is an M-step from the current responsibilities followed by an E-step; the
    run stops after ``max_iter`` iterations or when the mean log-likelihood
    :math:`\frac1N\sum_n\log p(x_n)` changes by less than ``tol``.

    Args:
        X: ``(N, D)`` float32 or float64 data.
        n_components: :math:`K`, in ``[1, N]``.
        covariance_type: ``"full"`` or ``"diag"``.
        init: ``"kmeans++"``, ``"random"``, or a :class:`GMMParams` to start from (then
            ``n_init`` must be 1).
        max_iter: EM iterations per run (0 returns the initialisation).
        tol: convergence threshold on the change in mean log-likelihood (0: run all).
        n_init: restarts; the run with the highest final log-likelihood is returned.
        reg_covar: added to covariance diagonals (must be > 0 for duplicated points, D > N).
        seed: seeds the initialisation (a ``torch.Generator`` on ``X``'s device).
        chunk_size: rows per chunk in the E- and M-steps (default: automatic).

    Returns:
        :class:`GMMFit`.
    """
    X = check_data(X, "X")
    K = check_int(n_components, "n_components", 1, X.shape[0])
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    max_iter = check_int(max_iter, "max_iter", 0)
    n_init = check_int(n_init, "n_init", 1)
    tol, reg_covar = check_nonneg(tol, "tol"), check_nonneg(reg_covar, "reg_covar")
    seed = check_int(seed, "seed", 0)
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", 1)
    if isinstance(init, GMMParams):
        k0, d0 = check_params(init)
        if (k0, d0) != (K, X.shape[1]) or init.covariance_type != covariance_type:
            raise ValueError(f"init must have {K} components of dimension {X.shape[1]} and "
                             f"covariance_type {covariance_type!r}")
        if n_init != 1:
            raise ValueError("n_init must be 1 when init is a GMMParams")
        return _run_em(X, init.to(device=X.device, dtype=X.dtype), max_iter, tol, reg_covar, chunk_size)
    gen = torch.Generator(device=X.device).manual_seed(seed)
    best = None
    for _ in range(n_init):
        start = init_gmm(X, K, covariance_type, init, reg_covar, gen)
        fit = _run_em(X, start, max_iter, tol, reg_covar, chunk_size)
        if best is None or fit.history[-1] > best.history[-1]:
            best = fit
    return best
