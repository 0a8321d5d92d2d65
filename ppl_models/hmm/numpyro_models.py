r"""Bayesian Poisson HMM in NumPyro: ``scan`` over time, states enumerated (funsor), NUTS-ready.

The same model as :mod:`ppl_models.hmm.pyro_models`::

    trans_k ~ Dirichlet(1 + s e_k)     init ~ Dirichlet(1)     d_k ~ Gamma(a, b), rate = cumsum(d)
           z_1 ---> z_2 ---> ... ---> z_T
            |        |                 |
           x_1      x_2               x_T          (x_t | z_t ~ Poisson(rate[z_t]))

``numpyro.contrib.control_flow.scan`` keeps the compiled graph small for long series; NUTS sums the
states out exactly because the ``z`` site is marked for parallel enumeration.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.contrib.control_flow import scan

__all__ = ["GLOBALS", "poisson_hmm", "run_nuts", "log_joint"]

GLOBALS = ("init", "trans", "increments")


def poisson_hmm(counts, n_states: int, n_steps: int | None = None, sticky: float = 5.0,
                rate_shape: float = 2.0, rate_rate: float = 0.2) -> None:
    """NumPyro program for the Bayesian Poisson HMM; ``counts=None`` samples from the prior.

    Args:
        counts: ``(T,)`` counts or ``None`` (then ``n_steps`` gives ``T``).
        n_states: ``K``; sticky: extra Dirichlet mass on self-transitions;
        rate_shape, rate_rate: Gamma prior on the rate increments.
    """
    if isinstance(n_states, bool) or not isinstance(n_states, int) or n_states < 1:
        raise ValueError(f"n_states must be a positive int, got {n_states!r}")
    if counts is None and (not isinstance(n_steps, int) or n_steps < 1):
        raise ValueError(f"n_steps must be a positive int when counts is None, got {n_steps!r}")
    if counts is not None and (np.ndim(counts) != 1 or np.size(counts) < 1):
        raise ValueError("counts must be a non-empty 1-D array")
    k = n_states
    init = numpyro.sample("init", dist.Dirichlet(jnp.ones(k)))
    trans = numpyro.sample("trans", dist.Dirichlet(jnp.ones((k, k)) + sticky * jnp.eye(k)).to_event(1))
    gamma = dist.Gamma(jnp.full(k, rate_shape), jnp.full(k, rate_rate))
    inc = numpyro.sample("increments", gamma.to_event(1))
    rates = numpyro.deterministic("rates", jnp.cumsum(inc, -1))
    table = jnp.concatenate([trans, init[None, :]], 0)  # (K + 1, K): last row = start state

    def step(z_prev, x_t):
        z = numpyro.sample("z", dist.Categorical(table[z_prev]), infer={"enumerate": "parallel"})
        numpyro.sample("x", dist.Poisson(rates[z]), obs=x_t)
        return z, None

    xs = None if counts is None else jnp.asarray(counts)
    scan(step, k, xs, length=None if counts is not None else n_steps)


def run_nuts(key, counts, n_states: int, num_warmup: int, num_samples: int, num_chains: int = 2, **kw):
    """NUTS over the global parameters (states enumerated); returns the fitted ``numpyro.infer.MCMC``."""
    from numpyro.infer import MCMC, NUTS

    for name, v in (("num_warmup", num_warmup), ("num_samples", num_samples), ("num_chains", num_chains)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    mcmc = MCMC(NUTS(poisson_hmm), num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="parallel", progress_bar=False)
    mcmc.run(key, jnp.asarray(counts), n_states, **kw)
    return mcmc


def log_joint(params: dict, counts, n_states: int, **kw) -> float:
    r""":math:`\log p(x, \theta)` with the states summed out, at constrained ``params`` (for tests)."""
    from numpyro.contrib.funsor import enum, log_density

    model = enum(poisson_hmm, first_available_dim=-1)
    value, _ = log_density(model, (jnp.asarray(counts), n_states), kw, params)
    return float(value)
