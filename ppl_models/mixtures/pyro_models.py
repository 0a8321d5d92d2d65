r"""The Gaussian mixture as a Pyro program: exact enumeration of the assignments, a MAP fit of
the parameters (``AutoDelta`` guide + ``TraceEnum_ELBO``) and ``infer_discrete`` for the
assignments.

Generative story (diagonal covariances; ``obs=None`` samples from the prior)::

    weights ~ Dirichlet(alpha 1_K)
    for k in 1..K:   locs[k] ~ N(0, loc_scale^2 I_D),  scales[k] ~ LogNormal(0, scale_sd)
    for n in 1..N:   z[n] ~ Categorical(weights)
                     x[n] ~ N(locs[z[n]], diag(scales[z[n]]^2))

        alpha --> weights --> z[n] --> x[n] <-- (locs[k], scales[k])
                              [   plate N   ]   [    plate K     ]

With ``@config_enumerate`` and ``TraceEnum_ELBO`` Pyro sums ``z`` out exactly, so with a
point-mass guide on the parameters the loss is
:math:`-[\sum_n \log\sum_k \pi_k \mathcal N(x_n\mid\mu_k,\sigma_k^2) + \log p(\theta)]`.
"""

from __future__ import annotations

from typing import NamedTuple

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO, config_enumerate, infer_discrete
from pyro.infer.autoguide import AutoDelta
from pyro.infer.autoguide.initialization import init_to_value

from ._checks import check_data, check_int, check_params
from .em import init_gmm
from .gmm import GMMParams

__all__ = ["MixturePrior", "MAPFit", "mixture_model", "fit_map", "map_assignments",
           "mixture_log_prior"]

PARAM_SITES = ("weights", "locs", "scales")


class MixturePrior(NamedTuple):
    """Hyper-parameters of the mixture prior (shared with the NumPyro model)."""

    concentration: float = 1.0  # Dirichlet alpha on the weights (1: uniform on the simplex)
    loc_scale: float = 5.0  # prior std of every mean coordinate
    scale_sd: float = 1.0  # std of log(scale)


DEFAULT_PRIOR = MixturePrior()


class MAPFit(NamedTuple):
    """A MAP fit: ``params`` (diagonal :class:`GMMParams`) and the ``losses`` per step."""

    params: GMMParams
    losses: torch.Tensor


@config_enumerate
def mixture_model(x: torch.Tensor | None = None, n_components: int = 3, n: int | None = None,
                  dim: int | None = None, prior: MixturePrior = DEFAULT_PRIOR) -> torch.Tensor:
    """The mixture above. ``x``: ``(N, D)`` observations, or None with ``n`` and ``dim`` given.

    Returns:
        ``(N, D)`` observations (sampled when ``x`` is None).
    """
    if x is None:
        if n is None or dim is None:
            raise ValueError("n and dim are needed when x is None (sampling from the prior)")
        dtype, device = torch.get_default_dtype(), None
    else:
        n, dim, dtype, device = x.shape[0], x.shape[1], x.dtype, x.device
    K = n_components
    ones = torch.ones(K, dtype=dtype, device=device)
    weights = pyro.sample("weights", dist.Dirichlet(prior.concentration * ones))
    zero = torch.zeros(dim, dtype=dtype, device=device)
    with pyro.plate("components", K):
        locs = pyro.sample("locs", dist.Normal(zero, prior.loc_scale).to_event(1))  # (K, D)
        scales = pyro.sample("scales", dist.LogNormal(zero, prior.scale_sd).to_event(1))
    with pyro.plate("data", n):
        z = pyro.sample("z", dist.Categorical(weights))  # (N,) or (K, 1) when enumerated
        return pyro.sample("x", dist.Normal(locs[z], scales[z]).to_event(1), obs=x)


def mixture_log_prior(params: GMMParams, prior: MixturePrior = DEFAULT_PRIOR) -> torch.Tensor:
    r""":math:`\log p(\theta)` of diagonal ``params`` under ``prior`` (scales = sqrt variances)."""
    check_params(params)
    if params.covariance_type != "diag":
        raise ValueError("params must have diagonal covariances (K, D)")
    w, mu, var = params
    lp = dist.Dirichlet(prior.concentration * torch.ones_like(w)).log_prob(w)
    lp = lp + dist.Normal(torch.zeros_like(mu), prior.loc_scale).log_prob(mu).sum()
    return lp + dist.LogNormal(torch.zeros_like(var), prior.scale_sd).log_prob(var.sqrt()).sum()


def _check_diag(params: GMMParams, dim: int) -> None:
    K, D = check_params(params)
    if params.covariance_type != "diag" or D != dim:
        raise ValueError(f"params must be a diagonal GMMParams of dimension {dim}")


def fit_map(x: torch.Tensor, n_components: int, n_steps: int = 500, lr: float = 0.05,
            seed: int = 0, init: GMMParams | None = None,
            prior: MixturePrior = DEFAULT_PRIOR) -> MAPFit:
    r"""MAP estimate :math:`\arg\max_\theta \log p(x\mid\theta) + \log p(\theta)` by SVI with an
    ``AutoDelta`` guide and ``TraceEnum_ELBO`` (assignments enumerated, not sampled).

    Args:
        x: ``(N, D)`` data.
        n_components: :math:`K`.
        n_steps: Adam steps.
        lr: Adam learning rate.
        seed: seeds Pyro and the k-means++ initialisation (used when ``init`` is None).
        init: diagonal :class:`GMMParams` to start from.

    Returns:
        :class:`MAPFit` (``losses`` are negative log joints, one per step).
    """
    x = check_data(x, "x")
    K = check_int(n_components, "n_components", 1, x.shape[0])
    n_steps = check_int(n_steps, "n_steps", 1)
    if not (lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    pyro.set_rng_seed(check_int(seed, "seed", 0))
    if init is None:
        gen = torch.Generator(device=x.device).manual_seed(seed)
        init = init_gmm(x, K, "diag", generator=gen)
    _check_diag(init, x.shape[1])
    values = {"weights": init.weights, "locs": init.means, "scales": init.covariances.sqrt()}
    guide = AutoDelta(poutine.block(mixture_model, expose=list(PARAM_SITES)),
                      init_loc_fn=init_to_value(values=values))
    pyro.clear_param_store()
    svi = SVI(mixture_model, guide, pyro.optim.Adam({"lr": lr}),
              TraceEnum_ELBO(max_plate_nesting=1))
    losses = [svi.step(x, K, prior=prior) for _ in range(n_steps)]
    with torch.no_grad():
        med = guide.median(x, K, prior=prior)
    params = GMMParams(med["weights"].detach(), med["locs"].detach(), med["scales"].detach() ** 2)
    return MAPFit(params, torch.tensor(losses, dtype=torch.float64))  # device-free: CPU loss record


def map_assignments(x: torch.Tensor, params: GMMParams, temperature: int = 0,
                    prior: MixturePrior = DEFAULT_PRIOR) -> torch.Tensor:
    r"""Assignments from ``infer_discrete``: the MAP :math:`\arg\max_k p(z_n = k\mid x_n,\theta)`
    (``temperature=0``) or a posterior sample (``temperature=1``), given diagonal ``params``.

    Returns:
        ``(N,)`` int64 component indices.
    """
    x = check_data(x, "x")
    _check_diag(params, x.shape[1])
    if temperature not in (0, 1):
        raise ValueError(f"temperature must be 0 (MAP) or 1 (sample), got {temperature!r}")
    data = {"weights": params.weights, "locs": params.means, "scales": params.covariances.sqrt()}
    conditioned = poutine.condition(mixture_model, data=data)
    decoder = infer_discrete(conditioned, first_available_dim=-2, temperature=temperature)
    trace = poutine.trace(decoder).get_trace(x, params.n_components, prior=prior)
    return trace.nodes["z"]["value"].long()
