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

__all__ = ["TimedRun", "CompiledNuts", "compile_numpyro_nuts", "run_numpyro_nuts", "run_pyro_nuts",
           "fit_pyro_svi", "fit_numpyro_svi"]


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


class CompiledNuts(NamedTuple):
    """A NumPyro NUTS chain compiled once: ``run(key)`` returns ``(draws, seconds)``, where
    ``draws`` maps each latent site to ``(num_samples, ...)`` and ``seconds`` is the run time
    alone; ``compile_seconds`` is what tracing and compiling the chain cost."""

    run: object
    compile_seconds: float


def compile_numpyro_nuts(key, sigma, y, num_warmup: int, num_samples: int,
                         prior: Prior = DEFAULT_PRIOR, centered: bool = False,
                         target_accept: float = 0.8) -> CompiledNuts:
    r"""Compile one NUTS chain (warm-up and sampling) into a single XLA program, ahead of time.

    ``numpyro.infer.MCMC.run`` builds and compiles its sampling loop afresh on every call, so
    timing two calls measures two compilations. This uses NumPyro's functional kernel
    (``numpyro.infer.hmc.hmc``) and ``jax.jit(...).lower(...).compile()`` instead, so the
    compile cost is measured once and every ``run(key)`` reuses the compiled program. The
    kernel adapts the step size and a diagonal mass matrix during the first ``num_warmup``
    iterations, exactly as ``MCMC`` does; the chain starts from the same initial point
    (drawn with ``key``) on every run, and ``run``'s key drives the sampler.
    """
    import jax
    from numpyro.infer.hmc import hmc
    from numpyro.infer.util import initialize_model

    check_data(sigma, y)
    _check_counts(num_warmup=num_warmup, num_samples=num_samples)
    k_init, k_state = jax.random.split(key)
    args = (np.asarray(sigma, dtype=np.float32), np.asarray(y, dtype=np.float32), prior, centered)
    info = initialize_model(k_init, numpyro_model, model_args=args)
    init_kernel, sample_kernel = hmc(info.potential_fn, algo="NUTS")

    def init(k):
        return init_kernel(info.param_info, num_warmup=num_warmup,
                           target_accept_prob=target_accept, rng_key=k)

    def chain(state):
        def step(st, _):
            st = sample_kernel(st)
            return st, st.z
        _, zs = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        return jax.tree.map(lambda a: a[num_warmup:], zs)

    t0 = time.perf_counter()
    compiled = jax.jit(chain).lower(init(k_state)).compile()
    compile_seconds = time.perf_counter() - t0

    def run(k):
        t = time.perf_counter()
        zs = jax.block_until_ready(compiled(init(k)))
        draws = jax.vmap(info.postprocess_fn)(zs)
        return {name: np.asarray(v) for name, v in draws.items()}, time.perf_counter() - t

    return CompiledNuts(run, compile_seconds)


def run_pyro_nuts(sigma, y, num_warmup: int, num_samples: int, seed: int = 0,
                  prior: Prior = DEFAULT_PRIOR, centered: bool = False,
                  target_accept: float = 0.8, jit_compile: bool = False) -> TimedRun:
    """NUTS in Pyro (one chain: Pyro runs extra chains in separate processes).

    ``jit_compile=True`` traces the potential energy and its gradient with the PyTorch JIT
    once, then replays the trace at every leapfrog step; the tree building stays in Python.
    """
    import pyro
    from pyro.infer import MCMC, NUTS

    check_data(sigma, y)
    _check_counts(num_warmup=num_warmup, num_samples=num_samples)
    pyro.set_rng_seed(seed)
    mcmc = MCMC(NUTS(pyro_model, target_accept_prob=target_accept, jit_compile=bool(jit_compile),
                     ignore_jit_warnings=True),
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

