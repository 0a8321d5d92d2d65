r"""The exact eight-schools posterior by one-dimensional quadrature (BDA3 section 5.4).

Given ``tau`` the model is linear-Gaussian, so ``mu`` and every ``theta_j`` integrate out in
closed form; only ``p(tau | y)`` needs numerical integration:

.. math::
    p(\tau \mid y) \propto p(\tau)\, \mathcal N\!\big(y;\ m_0 \mathbf 1,\
        \operatorname{diag}(\sigma_j^2 + \tau^2) + s_0^2 \mathbf 1 \mathbf 1^\top\big),

    \mu \mid \tau, y \sim \mathcal N(\hat\mu, V_\mu),\quad
    V_\mu^{-1} = s_0^{-2} + \textstyle\sum_j (\sigma_j^2+\tau^2)^{-1},\quad
    \hat\mu = V_\mu\big(m_0 s_0^{-2} + \sum_j y_j (\sigma_j^2+\tau^2)^{-1}\big),

    \theta_j \mid \mu, \tau, y \sim \mathcal N\big(b_j \mu + (1-b_j) y_j,\ (1-b_j)\sigma_j^2\big),
    \quad b_j = \sigma_j^2 / (\sigma_j^2 + \tau^2).

The evidence :math:`\log p(y) = \log \int p(\tau) p(y \mid \tau)\, d\tau` comes out of the same
integral. With :class:`~.eight_schools.FlatPrior` (:math:`p(\mu,\tau)\propto 1`, BDA3 section 5.5)
the same formulas hold with :math:`s_0 \to \infty`: :math:`V_\mu^{-1} = \sum_j(\sigma_j^2+\tau^2)^{-1}`
and :math:`p(\tau\mid y) \propto V_\mu^{1/2}\prod_j(\sigma_j^2+\tau^2)^{-1/2}
\exp\!\big(-\tfrac12\sum_j (y_j-\hat\mu)^2/(\sigma_j^2+\tau^2)\big)` (BDA3 eq. 5.21).
An independent reference for every sampler in chapter 00 (no Monte Carlo error).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from .eight_schools import DEFAULT_PRIOR, FlatPrior, Prior, check_data

__all__ = ["ExactPosterior", "exact_posterior"]


class ExactPosterior(NamedTuple):
    """Posterior moments; ``tau_grid``/``tau_density`` give ``p(tau | y)`` on a grid."""

    mu_mean: float
    mu_sd: float
    tau_mean: float
    tau_sd: float
    theta_mean: np.ndarray  # (J,)
    theta_sd: np.ndarray    # (J,)
    tau_grid: np.ndarray    # (G,)
    tau_density: np.ndarray  # (G,), integrates to 1 over tau_grid
    log_evidence: float      # log p(y), the quantity every ELBO bounds from below (NaN if flat)


def _log_prior_tau(tau: np.ndarray, prior: Prior | FlatPrior) -> np.ndarray:
    if isinstance(prior, FlatPrior):
        return np.zeros_like(tau)
    if prior.tau_family == "half_cauchy":
        return stats.halfcauchy.logpdf(tau, scale=prior.tau_scale)
    return stats.halfnorm.logpdf(tau, scale=prior.tau_scale)


def _log_marginal(y: np.ndarray, v: np.ndarray, prior: Prior | FlatPrior):
    """``log p(y | tau)`` on the grid, with ``mu`` integrated out; also ``(prec_mu, mu_hat)``."""
    if isinstance(prior, FlatPrior):
        prec_mu = (1 / v).sum(1)  # (G,)
        mu_hat = (y / v).sum(1) / prec_mu
        quad = ((y[None, :] - mu_hat[:, None]) ** 2 / v).sum(1)
        logdet = np.log(v).sum(1) + np.log(prec_mu)  # the flat p(mu) = 1 adds no normaliser
        return -0.5 * (quad + logdet + (len(y) - 1) * np.log(2 * np.pi)), prec_mu, mu_hat
    s0sq = prior.mu_scale**2
    prec_mu = 1 / s0sq + (1 / v).sum(1)  # (G,)
    mu_hat = (prior.mu_loc / s0sq + (y / v).sum(1)) / prec_mu
    # log N(y; m0 1, diag(v) + s0^2 11^T) via the matrix determinant lemma / Sherman-Morrison
    r = y[None, :] - prior.mu_loc
    quad = (r**2 / v).sum(1) - s0sq * ((r / v).sum(1)) ** 2 / (1 + s0sq * (1 / v).sum(1))
    logdet = np.log(v).sum(1) + np.log1p(s0sq * (1 / v).sum(1))
    return -0.5 * (quad + logdet + len(y) * np.log(2 * np.pi)), prec_mu, mu_hat


def exact_posterior(sigma, y, prior: Prior | FlatPrior = DEFAULT_PRIOR, n_grid: int = 4000,
                    tau_range: tuple[float, float] = (1e-4, 1e4)) -> ExactPosterior:
    """Posterior means and sds of ``mu``, ``tau`` and ``theta`` by quadrature over ``log tau``.

    Args:
        sigma: (J,) known standard errors. y: (J,) observed effects.
        prior: a proper :class:`Prior` or the improper :class:`FlatPrior` (then ``log_evidence``
            is NaN: an improper prior has no evidence).
        n_grid: grid points in ``log tau`` (trapezoidal rule).
    """
    check_data(sigma, y)
    if not isinstance(prior, (Prior, FlatPrior)):
        raise ValueError(f"prior must be a Prior or a FlatPrior, got {type(prior).__name__}")
    if n_grid < 100:
        raise ValueError(f"n_grid must be >= 100, got {n_grid}")
    s2 = np.asarray(sigma, dtype=float) ** 2
    y = np.asarray(y, dtype=float)
    tau = np.exp(np.linspace(np.log(tau_range[0]), np.log(tau_range[1]), n_grid))  # (G,)
    v = s2[None, :] + tau[:, None] ** 2  # (G, J)
    log_marg, prec_mu, mu_hat = _log_marginal(y, v, prior)
    log_post = log_marg + _log_prior_tau(tau, prior) + np.log(tau)  # + log-Jacobian of log tau
    w = np.exp(log_post - log_post.max())
    z = np.trapezoid(w, np.log(tau))
    log_evidence = float(log_post.max() + np.log(z)) if isinstance(prior, Prior) else float("nan")
    w /= z
    integ = lambda f: np.trapezoid(w[:, None] * f if f.ndim == 2 else w * f, np.log(tau), axis=0)
    mu_mean = integ(mu_hat)
    mu_var = integ(1 / prec_mu + mu_hat**2) - mu_mean**2
    b = s2[None, :] / v  # (G, J) shrinkage factors
    th_mean_t = b * mu_hat[:, None] + (1 - b) * y[None, :]
    th_var_t = (1 - b) * s2[None, :] + b**2 / prec_mu[:, None]
    theta_mean = integ(th_mean_t)
    theta_var = integ(th_var_t + th_mean_t**2) - theta_mean**2
    tau_mean = integ(tau)
    tau_var = integ(tau**2) - tau_mean**2
    density = w / tau  # p(tau | y) with respect to tau
    return ExactPosterior(float(mu_mean), float(np.sqrt(mu_var)), float(tau_mean),
                          float(np.sqrt(tau_var)), theta_mean, np.sqrt(theta_var), tau, density,
                          log_evidence)
