r"""Bayesian Poisson HMM in Pyro: discrete states summed out by enumeration inside ``pyro.markov``.

::

    trans_k ~ Dirichlet(c + s e_k)     init ~ Dirichlet(1)     d_k ~ Gamma(a, b), rate = cumsum(d)
           z_1 ---> z_2 ---> ... ---> z_T          (z_t | z_{t-1} ~ Categorical(trans[z_{t-1}]))
            |        |                 |
           x_1      x_2               x_T          (x_t | z_t ~ Poisson(rate[z_t]))

Ordering the rates (:math:`\lambda_1 < \dots < \lambda_K` as cumulative sums of positive increments)
removes label switching. The initial state is coded as an extra "start" row of the transition
table, so the first step needs no special case (as in NumPyro's ``hmm_enum`` example).
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO
from pyro.infer.autoguide import AutoNormal

from ppl_models.hmm.validate import check_positive_int

__all__ = ["GLOBALS", "poisson_hmm", "poisson_hmm_guide", "fit_svi"]

GLOBALS = ("init", "trans", "increments")


def _check_counts(counts, n_steps):
    if counts is None:
        return check_positive_int(n_steps, "n_steps")
    if not torch.is_tensor(counts) or counts.ndim != 1 or counts.numel() < 1:
        raise ValueError("counts must be a non-empty 1-D tensor (or None to sample from the prior)")
    if (counts < 0).any() or not torch.isfinite(counts).all():
        raise ValueError("counts must be finite and non-negative")
    return counts.shape[0]


def poisson_hmm(counts: torch.Tensor | None, n_states: int, n_steps: int | None = None,
                sticky: float = 5.0, rate_shape: float = 2.0, rate_rate: float = 0.2) -> None:
    """Pyro program for the Bayesian Poisson HMM above; ``counts=None`` samples from the prior.

    Args:
        counts: ``(T,)`` float counts, or ``None`` (then ``n_steps`` gives ``T``).
        n_states: ``K``.
        n_steps: length when sampling from the prior.
        sticky: extra Dirichlet mass ``s`` on staying in the same state.
        rate_shape, rate_rate: Gamma prior ``(a, b)`` on the rate increments.
    """
    check_positive_int(n_states, "n_states")
    n = _check_counts(counts, n_steps)
    k = n_states
    dt = counts.dtype if counts is not None else torch.get_default_dtype()
    dv = counts.device if counts is not None else None  # None: torch's default device
    init = pyro.sample("init", dist.Dirichlet(torch.ones(k, dtype=dt, device=dv)))
    trans = pyro.sample("trans", dist.Dirichlet(torch.ones(k, k, dtype=dt, device=dv)
                                                + sticky * torch.eye(k, dtype=dt, device=dv)).to_event(1))
    inc = pyro.sample("increments", dist.Gamma(torch.full((k,), rate_shape, dtype=dt, device=dv),
                                               torch.full((k,), rate_rate, dtype=dt, device=dv)).to_event(1))
    rates = pyro.deterministic("rates", inc.cumsum(-1), event_dim=1)
    table = torch.cat([trans, init.unsqueeze(-2)], -2)  # (K + 1, K): last row = start state
    z = k
    for t in pyro.markov(range(n)):
        z = pyro.sample(f"z_{t}", dist.Categorical(table[z]), infer={"enumerate": "parallel"})
        pyro.sample(f"x_{t}", dist.Poisson(rates[z]), obs=None if counts is None else counts[t])


def poisson_hmm_guide(n_states: int) -> AutoNormal:
    """Mean-field normal guide over the global sites only (the states are enumerated)."""
    check_positive_int(n_states, "n_states")
    return AutoNormal(poutine.block(poisson_hmm, expose=list(GLOBALS)))


def fit_svi(counts: torch.Tensor, n_states: int, n_steps: int, lr: float = 0.05,
            seed: int = 0, **model_kwargs) -> tuple[AutoNormal, list[float]]:
    """Fit :func:`poisson_hmm_guide` by SVI with ``TraceEnum_ELBO``; returns (guide, loss history)."""
    check_positive_int(n_steps, "n_steps")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    guide = poisson_hmm_guide(n_states)
    svi = SVI(poisson_hmm, guide, pyro.optim.Adam({"lr": lr}), TraceEnum_ELBO(max_plate_nesting=0))
    losses = [svi.step(counts, n_states, **model_kwargs) for _ in range(n_steps)]
    return guide, losses
