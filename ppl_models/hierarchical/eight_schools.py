r"""The eight-schools hierarchical model, written once in Pyro and once in NumPyro.

Generative story (non-centred form)::

      mu ~ N(m0, s0)      tau ~ HalfCauchy(t0)          (population of schools)
           \                 /
            theta_j = mu + tau * eta_j,  eta_j ~ N(0, 1)    j = 1..J   (school effects)
                       |
            y_j ~ N(theta_j, sigma_j)                         (observed, sigma_j known)

The centred form draws ``theta_j ~ N(mu, tau)`` directly; it is the same model but a harder
geometry for HMC (Neal's funnel), which chapter 00 shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import DATA_DIR

__all__ = ["EightSchools", "Prior", "FlatPrior", "DEFAULT_PRIOR", "load_eight_schools", "pyro_model",
           "numpyro_model", "pyro_log_joint", "numpyro_log_joint", "check_data"]

TAU_FAMILIES = ("half_cauchy", "half_normal")


@dataclass(frozen=True)
class Prior:
    """Hyper-priors: ``mu ~ N(mu_loc, mu_scale)``, ``tau ~ tau_family(tau_scale)``."""

    mu_loc: float = 0.0
    mu_scale: float = 5.0
    tau_scale: float = 5.0
    tau_family: str = "half_cauchy"  # or "half_normal"

    def __post_init__(self):
        if self.tau_family not in TAU_FAMILIES:
            raise ValueError(f"tau_family must be one of {TAU_FAMILIES}, got {self.tau_family!r}")
        if not (self.mu_scale > 0 and self.tau_scale > 0):
            raise ValueError("mu_scale and tau_scale must be positive")


DEFAULT_PRIOR = Prior()


@dataclass(frozen=True)
class FlatPrior:
    r"""The uniform prior :math:`p(\mu, \tau) \propto 1` of BDA3 section 5.5.

    Improper, so it has no evidence :math:`\log p(y)` and no Pyro/NumPyro model (which needs a
    distribution to sample from); only :func:`~.exact.exact_posterior` accepts it. The posterior
    is proper for eight schools because :math:`p(y \mid \tau)` decays like :math:`\tau^{-(J-1)}`.
    """


@dataclass(frozen=True)
class EightSchools:
    """The data: ``effect`` (J,) estimated effects and ``se`` (J,) their standard errors."""

    school: tuple[str, ...]
    effect: np.ndarray
    se: np.ndarray


def load_eight_schools() -> EightSchools:
    """Rubin (1981) / BDA3 Table 5.2, from ``data/eight_schools.csv``."""
    path = DATA_DIR / "eight_schools.csv"
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path.name} (expected in data/)")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    return EightSchools(tuple(r[0] for r in rows), np.array([float(r[1]) for r in rows]),
                        np.array([float(r[2]) for r in rows]))


def check_data(sigma, y=None) -> None:
    """Validate ``sigma`` (J,) positive finite and ``y`` (J,) finite (or None)."""
    s = np.asarray(sigma.detach().cpu() if torch.is_tensor(sigma) else sigma, dtype=float)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"sigma must be a non-empty 1-D array, got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("sigma must be finite and positive (standard errors)")
    if y is not None:
        v = np.asarray(y.detach().cpu() if torch.is_tensor(y) else y, dtype=float)
        if v.shape != s.shape:
            raise ValueError(f"y has shape {v.shape} but sigma has shape {s.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("y contains NaN or infinite values")


def pyro_model(sigma: torch.Tensor, y: torch.Tensor | None = None, prior: Prior = DEFAULT_PRIOR,
               centered: bool = False) -> None:
    """Eight schools in Pyro; ``y=None`` samples from the prior (predictive)."""
    import pyro
    import pyro.distributions as dist

    c = lambda v: torch.as_tensor(v, dtype=sigma.dtype, device=sigma.device)
    mu = pyro.sample("mu", dist.Normal(c(prior.mu_loc), c(prior.mu_scale)))
    tau_dist = (dist.HalfCauchy if prior.tau_family == "half_cauchy" else dist.HalfNormal)
    tau = pyro.sample("tau", tau_dist(c(prior.tau_scale)))
    with pyro.plate("schools", sigma.shape[-1]):
        if centered:
            theta = pyro.sample("theta", dist.Normal(mu, tau))
        else:
            eta = pyro.sample("eta", dist.Normal(c(0.0), c(1.0)))
            theta = pyro.deterministic("theta", mu + tau * eta)
        pyro.sample("y", dist.Normal(theta, sigma), obs=y)


def numpyro_model(sigma, y=None, prior: Prior = DEFAULT_PRIOR, centered: bool = False) -> None:
    """Eight schools in NumPyro, line for line the same as :func:`pyro_model`."""
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(prior.mu_loc, prior.mu_scale))
    tau_dist = (dist.HalfCauchy if prior.tau_family == "half_cauchy" else dist.HalfNormal)
    tau = numpyro.sample("tau", tau_dist(prior.tau_scale))
    with numpyro.plate("schools", sigma.shape[-1]):
        if centered:
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
        else:
            eta = numpyro.sample("eta", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * eta)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def pyro_log_joint(params: dict, sigma, y, prior: Prior = DEFAULT_PRIOR, centered: bool = False) -> float:
    r"""``log p(y, params)`` under :func:`pyro_model` (all sample sites, float64)."""
    import pyro.poutine as poutine

    check_data(sigma, y)
    p = {k: torch.as_tensor(np.asarray(v), dtype=torch.float64) for k, v in params.items()}
    s = torch.as_tensor(np.asarray(sigma), dtype=torch.float64)
    obs = torch.as_tensor(np.asarray(y), dtype=torch.float64)
    tr = poutine.trace(poutine.condition(pyro_model, data=p)).get_trace(s, obs, prior, centered)
    return float(tr.log_prob_sum())


def numpyro_log_joint(params: dict, sigma, y, prior: Prior = DEFAULT_PRIOR, centered: bool = False) -> float:
    r"""``log p(y, params)`` under :func:`numpyro_model` (needs ``jax_enable_x64`` for float64)."""
    import jax.numpy as jnp
    from numpyro.infer.util import log_density

    check_data(sigma, y)
    p = {k: jnp.asarray(np.asarray(v)) for k, v in params.items()}
    lp, _ = log_density(numpyro_model, (jnp.asarray(sigma), jnp.asarray(y), prior, centered), {}, p)
    return float(lp)
