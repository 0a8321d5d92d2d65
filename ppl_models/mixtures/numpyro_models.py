r"""A one-dimensional Gaussian mixture in NumPyro for NUTS, with the assignments marginalised,
and two cures for label switching: an ordering constraint and post-hoc relabelling.

Generative story (same prior as :func:`ppl_models.mixtures.pyro_models.mixture_model`)::

    weights ~ Dirichlet(alpha 1_K)
    for k:  locs[k] ~ N(0, loc_scale^2),  scales[k] ~ LogNormal(0, scale_sd)
    for n:  x[n] ~ sum_k weights[k] N(locs[k], scales[k]^2)      (z[n] summed out)

The likelihood is invariant to permuting the component labels, so the posterior has
:math:`K!` symmetric modes; chains that settle in different modes disagree about what
"component 0" is. ``ordered=True`` restricts ``locs`` to :math:`\mu_1 < \dots < \mu_K` (the
prior density there is :math:`K!` times the exchangeable one; the constant is dropped), which
keeps one mode. :func:`relabel` instead sorts every draw after sampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import unconstrain_fn

from .pyro_models import DEFAULT_PRIOR, MixturePrior

__all__ = ["mixture_model_1d", "run_nuts", "relabel", "COMPONENT_SITES"]

COMPONENT_SITES = ("weights", "locs", "scales")


def mixture_model_1d(x=None, n_components: int = 3, n: int | None = None,
                     prior: MixturePrior = DEFAULT_PRIOR, ordered: bool = False):
    """The 1-D mixture above; ``x``: ``(N,)`` or None (then ``n`` draws from the prior)."""
    if x is None and n is None:
        raise ValueError("n is needed when x is None (sampling from the prior)")
    K = n_components
    n = x.shape[0] if x is not None else n
    weights = numpyro.sample("weights", dist.Dirichlet(prior.concentration * jnp.ones(K)))
    if ordered:
        locs = numpyro.sample("locs", dist.ImproperUniform(constraints.ordered_vector, (), (K,)))
        numpyro.factor("locs_prior", dist.Normal(0.0, prior.loc_scale).log_prob(locs).sum())
    else:
        with numpyro.plate("components", K):
            locs = numpyro.sample("locs", dist.Normal(0.0, prior.loc_scale))
    with numpyro.plate("components", K):
        scales = numpyro.sample("scales", dist.LogNormal(0.0, prior.scale_sd))
    mix = dist.MixtureSameFamily(dist.Categorical(probs=weights), dist.Normal(locs, scales))
    with numpyro.plate("data", n):
        return numpyro.sample("x", mix, obs=x)


def _init_params(x, n_components, prior, ordered, init_values):
    """Stack per-chain constrained values into the unconstrained ``init_params`` NUTS expects."""
    kwargs = dict(n_components=n_components, prior=prior, ordered=ordered)
    per_chain = [unconstrain_fn(mixture_model_1d, (x,), kwargs,
                                {k: jnp.asarray(v) for k, v in vals.items()}) for vals in init_values]
    return {k: jnp.stack([c[k] for c in per_chain]) for k in per_chain[0]}


def run_nuts(x, n_components: int, key, num_warmup: int = 500, num_samples: int = 500,
             num_chains: int = 2, ordered: bool = False, prior: MixturePrior = DEFAULT_PRIOR,
             init_values: Sequence[dict] | None = None) -> MCMC:
    """NUTS on :func:`mixture_model_1d` (chains in parallel when JAX has enough CPU devices).

    Args:
        x: ``(N,)`` observations.
        n_components: :math:`K`.
        key: a JAX PRNG key (``config.jax_key(seed)``).
        num_warmup, num_samples, num_chains: NUTS sizes.
        ordered: use the ordering constraint on ``locs``.
        init_values: optional, one dict of constrained ``weights``/``locs``/``scales`` per
            chain (e.g. to start chains in different labellings).

    Returns:
        The finished ``numpyro.infer.MCMC`` (``get_samples(group_by_chain=True)``).
    """
    x = jnp.asarray(x)
    if x.ndim != 1 or x.shape[0] < 1 or not bool(jnp.isfinite(x).all()):
        raise ValueError(f"x must be a finite 1-D array, got shape {tuple(x.shape)}")
    for name, v, low in (("n_components", n_components, 1), ("num_warmup", num_warmup, 0),
                         ("num_samples", num_samples, 1), ("num_chains", num_chains, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if init_values is not None and len(init_values) != num_chains:
        raise ValueError(f"init_values must hold one dict per chain ({num_chains})")
    parallel = jax.local_device_count() >= num_chains
    mcmc = MCMC(NUTS(mixture_model_1d), num_warmup=num_warmup, num_samples=num_samples,
                num_chains=num_chains, chain_method="parallel" if parallel else "sequential",
                progress_bar=False)
    init = None if init_values is None else _init_params(x, n_components, prior, ordered, init_values)
    mcmc.run(key, x, n_components=n_components, prior=prior, ordered=ordered, init_params=init,
             extra_fields=("diverging",))
    return mcmc


def relabel(samples: dict, by: str = "locs",
            sites: Sequence[str] = COMPONENT_SITES) -> dict[str, np.ndarray]:
    r"""Undo label switching: in every draw, permute the components so ``samples[by]`` is
    increasing, applying the same permutation to every site in ``sites``.

    Args:
        samples: site -> array ``(..., K)`` (e.g. ``mcmc.get_samples(group_by_chain=True)``).
        by: the site that defines the order.
        sites: component-indexed sites to permute (others are copied unchanged).

    Returns:
        A new dict of numpy arrays.
    """
    if by not in samples:
        raise ValueError(f"by={by!r} is not a site in samples ({sorted(samples)})")
    order = np.argsort(np.asarray(samples[by]), axis=-1)
    out = {}
    for name, value in samples.items():
        arr = np.asarray(value)
        if name in sites:
            if arr.shape != order.shape:
                raise ValueError(f"sites: samples[{name!r}] has shape {arr.shape}, expected {order.shape}")
            arr = np.take_along_axis(arr, order, axis=-1)
        out[name] = arr
    return out
