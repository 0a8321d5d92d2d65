"""Thin, timed wrappers that run the same inference on the Pyro and the NumPyro model.

They exist so the chapter, the tests and ``tests/benchmarks/nuts.py`` run *identical*
settings in both frameworks; the chapter shows the few lines each one wraps.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch

from .eight_schools import DEFAULT_PRIOR, Prior, check_data, numpyro_model, pyro_model

__all__ = ["TimedRun", "run_numpyro_nuts", "run_pyro_nuts", "fit_pyro_svi", "fit_numpyro_svi"]


class TimedRun(NamedTuple):
    """A fitted object (MCMC or guide), its wall-clock seconds, and a loss history if any."""

    result: object
    seconds: float
    losses: np.ndarray | None = None


def _check_counts(**counts: int) -> None:
    for name, n in counts.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be a positive int, got {n!r}")


def run_numpyro_nuts(key, sigma, y, num_warmup: int, num_samples: int, num_chains: int = 2,
                     prior: Prior = DEFAULT_PRIOR, centered: bool = False,
                     target_accept: float = 0.8) -> TimedRun:
    """NUTS in NumPyro; chains run in parallel when JAX has enough CPU devices."""
    import jax
    from numpyro.infer import MCMC, NUTS

    check_data(sigma, y)
    _check_counts(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains)
    method = "parallel" if jax.local_device_count() >= num_chains else "sequential"
    mcmc = MCMC(NUTS(numpyro_model, target_accept_prob=target_accept), num_warmup=num_warmup,
                num_samples=num_samples, num_chains=num_chains, chain_method=method,
                progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(key, np.asarray(sigma, dtype=np.float32), np.asarray(y, dtype=np.float32),
             prior, centered, extra_fields=("diverging",))
    jax.block_until_ready(mcmc.get_samples())
    return TimedRun(mcmc, time.perf_counter() - t0)


def run_pyro_nuts(sigma, y, num_warmup: int, num_samples: int, seed: int = 0,
                  prior: Prior = DEFAULT_PRIOR, centered: bool = False,
                  target_accept: float = 0.8) -> TimedRun:
    """NUTS in Pyro (one chain: Pyro runs extra chains in separate processes)."""
    import pyro
    from pyro.infer import MCMC, NUTS

    check_data(sigma, y)
    _check_counts(num_warmup=num_warmup, num_samples=num_samples)
    pyro.set_rng_seed(seed)
    mcmc = MCMC(NUTS(pyro_model, target_accept_prob=target_accept, jit_compile=False),
                num_samples=num_samples, warmup_steps=num_warmup, num_chains=1,
                disable_progbar=True)
    t0 = time.perf_counter()
    mcmc.run(torch.as_tensor(np.asarray(sigma), dtype=torch.float32),
             torch.as_tensor(np.asarray(y), dtype=torch.float32), prior, centered)
    return TimedRun(mcmc, time.perf_counter() - t0)


def fit_pyro_svi(sigma, y, num_steps: int, lr: float = 0.02, seed: int = 0,
                 prior: Prior = DEFAULT_PRIOR) -> TimedRun:
    """SVI with an ``AutoNormal`` (mean-field Gaussian) guide; returns the guide and -ELBO."""
    import pyro
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal

    check_data(sigma, y)
    _check_counts(num_steps=num_steps)
    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    s = torch.as_tensor(np.asarray(sigma), dtype=torch.float32)
    obs = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    guide = AutoNormal(pyro_model)
    svi = SVI(pyro_model, guide, pyro.optim.ClippedAdam({"lr": lr, "lrd": 0.1 ** (1 / num_steps)}),
              Trace_ELBO(num_particles=4, vectorize_particles=True, max_plate_nesting=1))
    t0 = time.perf_counter()
    losses = np.array([svi.step(s, obs, prior) for _ in range(num_steps)])
    return TimedRun(guide, time.perf_counter() - t0, losses)


def fit_numpyro_svi(key, sigma, y, num_steps: int, lr: float = 0.02,
                    prior: Prior = DEFAULT_PRIOR) -> TimedRun:
    """The same SVI in NumPyro; ``result`` is ``(guide, params)``."""
    import numpyro
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    check_data(sigma, y)
    _check_counts(num_steps=num_steps)
    guide = AutoNormal(numpyro_model)
    optim = numpyro.optim.Adam(lambda i: lr * 0.1 ** (i / num_steps))  # same decay as Pyro's
    svi = SVI(numpyro_model, guide, optim, Trace_ELBO(num_particles=4))
    t0 = time.perf_counter()
    res = svi.run(key, num_steps, np.asarray(sigma, np.float32), np.asarray(y, np.float32),
                  prior, progress_bar=False)
    return TimedRun((guide, res.params), time.perf_counter() - t0, np.asarray(res.losses))

