r"""PPCA as a Pyro program, fitted by stochastic variational inference.

::

        mu, W, sigma          (pyro.param)
             |
    z_n ~ N(0, I_q) ----> x_n ~ N(mu + W z_n, sigma^2 I_D)      plate n = 1..N

Two equivalent programs:

* ``latent=False`` (default): :math:`z` is integrated out analytically, so
  ``x ~ LowRankMultivariateNormal(mu, W, sigma^2)`` and the ELBO with an empty guide *is* the
  exact log-likelihood; SVI is then gradient ascent on the same objective the closed form solves.
* ``latent=True``: :math:`z_n` is sampled explicitly and an ``AutoNormal`` guide (a mean-field
  Gaussian per data point) approximates :math:`p(z_n\mid x_n)`; this is the template the VAE
  chapter amortises with an encoder network.
"""

from __future__ import annotations

from typing import NamedTuple

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import AutoNormal
from pyro.optim import Adam

from ._checks import check_data, check_nonneg_float, check_positive_int, check_q, check_seed
from .ppca import PPCAParams

__all__ = ["ppca_model", "ppca_svi", "PPCASVIResult"]


class PPCASVIResult(NamedTuple):
    """Result of :func:`ppca_svi`.

    Attributes:
        params: the fitted :class:`~ppl_models.ppca.PPCAParams` (detached).
        history: ``(n_steps,)`` loss (negative ELBO) per data point at each step.
        guide: the guide used (``None`` for the marginalised model).
    """

    params: PPCAParams
    history: torch.Tensor
    guide: object


def ppca_model(x: torch.Tensor | None = None, q: int = 2, dim: int | None = None,
               n: int | None = None, latent: bool = False) -> torch.Tensor:
    r"""PPCA in Pyro; with ``x=None`` it samples ``n`` points from the model.

    Parameters (``pyro.param``): ``mean (D,)``, ``W (D, q)``, ``sigma`` (positive scalar).
    Initial values are drawn from torch's global RNG (seed it first).

    Args:
        x: ``(N, D)`` observations, or ``None`` to sample.
        q: latent dimension.
        dim: ``D``; needed only when ``x`` is ``None``.
        n: number of points to sample when ``x`` is ``None``.
        latent: sample :math:`z_n` explicitly instead of marginalising it.

    Returns:
        ``(N, D)`` the observed or sampled points.
    """
    if x is not None:
        n, dim = x.shape
        opts = dict(dtype=x.dtype, device=x.device)
    else:
        if dim is None or n is None:
            raise ValueError("dim and n are required when x is None")
        opts = dict(dtype=torch.get_default_dtype())
    mean = pyro.param("mean", lambda: torch.zeros(dim, **opts))
    W = pyro.param("W", lambda: 0.1 * torch.randn(dim, q, **opts))
    sigma = pyro.param("sigma", lambda: torch.ones((), **opts), constraint=dist.constraints.positive)
    with pyro.plate("data", n):
        if latent:
            z = pyro.sample("z", dist.Normal(torch.zeros(q, **opts), 1.0).to_event(1))  # (N, q)
            return pyro.sample("x", dist.Normal(mean + z @ W.T, sigma).to_event(1), obs=x)
        cov_diag = (sigma**2).expand(dim)
        return pyro.sample("x", dist.LowRankMultivariateNormal(mean, W, cov_diag), obs=x)


def ppca_svi(X: torch.Tensor, q: int, n_steps: int = 2000, lr: float = 0.02, seed: int = 0,
             latent: bool = False) -> PPCASVIResult:
    r"""Fit :func:`ppca_model` to ``X`` with full-batch SVI (``Trace_ELBO``, Adam).

    With ``latent=False`` the loss is exactly :math:`-\frac1N\sum_n\log p(x_n)`, so the optimum
    is the maximum-likelihood solution of :func:`~ppl_models.ppca.ppca_mle` (same subspace
    and :math:`\sigma^2`, :math:`W` up to a rotation).

    Args:
        X: ``(N, D)`` data.
        q: latent dimension, ``1 <= q < D``.
        n_steps: optimisation steps.
        lr: Adam learning rate.
        seed: seeds Pyro (and clears the parameter store) before fitting.
        latent: use the explicit-latent model with an ``AutoNormal`` guide.

    Returns:
        :class:`PPCASVIResult`.
    """
    X = check_data(X)
    q = check_q(q, X.shape[1])
    n_steps = check_positive_int(n_steps, "n_steps")
    lr = check_nonneg_float(lr, "lr")
    if lr == 0:
        raise ValueError("lr must be positive")
    seed = check_seed(seed)
    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    model = lambda x: ppca_model(x, q=q, latent=latent)
    guide = AutoNormal(model, init_scale=0.1) if latent else (lambda x: None)
    svi = SVI(model, guide, Adam({"lr": lr}), loss=Trace_ELBO())
    n = X.shape[0]
    history = torch.tensor([svi.step(X) / n for _ in range(n_steps)],
                           dtype=torch.float64)  # device-free: a CPU record of Python floats
    store = pyro.get_param_store()
    params = PPCAParams(
        store["mean"].detach().clone(), store["W"].detach().clone(), store["sigma"].detach().clone() ** 2
    )
    return PPCASVIResult(params, history, guide if latent else None)
