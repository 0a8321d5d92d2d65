"""Posterior diagnostics: one API over arviz 0.x (Python 3.11) and 1.x (Python >= 3.12).

arviz 1.x dropped ``from_pyro`` and changed ``from_dict``'s signature, so this module builds
``InferenceData`` itself from what both Pyro's and NumPyro's ``MCMC`` objects expose
(``get_samples(group_by_chain=True)``) and hides the version difference::

    idata = diagnostics.to_inference_data(mcmc)
    diagnostics.summary(idata)          # mean, sd, hdi, ess_bulk, ess_tail, r_hat
    diagnostics.divergences(mcmc)       # divergent transitions per chain
    diagnostics.plot_trace(idata, ["mu", "tau"])
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ARVIZ_MAJOR", "to_inference_data", "summary", "divergences", "plot_trace",
           "split_rhat"]


def _arviz():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


ARVIZ_MAJOR = int(_arviz().__version__.split(".")[0])


def _is_mcmc(obj: Any) -> bool:
    return hasattr(obj, "get_samples") and callable(obj.get_samples)


def _chain_samples(mcmc) -> dict[str, np.ndarray]:
    samples = mcmc.get_samples(group_by_chain=True)
    out = {}
    for name, value in samples.items():
        arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if arr.ndim < 2:
            raise ValueError(f"samples of {name!r} must have (chain, draw, ...) dims, got {arr.shape}")
        out[name] = arr
    return out


def divergences(mcmc) -> np.ndarray:
    """Number of divergent transitions per chain, ``(n_chains,)`` int array.

    Works for NumPyro (``extra_fields=("diverging",)`` is added by default by NumPyro's NUTS)
    and for Pyro (from ``mcmc.diagnostics()``).
    """
    if not _is_mcmc(mcmc):
        raise ValueError(f"mcmc must be a Pyro or NumPyro MCMC object, got {type(mcmc).__name__}")
    if hasattr(mcmc, "get_extra_fields"):  # NumPyro
        fields = mcmc.get_extra_fields(group_by_chain=True)
        if "diverging" not in fields:
            raise ValueError("mcmc was run without extra_fields=('diverging',)")
        return np.asarray(fields["diverging"]).sum(axis=-1).astype(int)
    diag = mcmc.diagnostics()  # Pyro
    div = diag.get("divergences", {})
    return np.array([len(v) for _, v in sorted(div.items())], dtype=int)


def _sample_stats(mcmc) -> dict[str, np.ndarray]:
    if hasattr(mcmc, "get_extra_fields"):
        fields = mcmc.get_extra_fields(group_by_chain=True)
        if "diverging" in fields:
            return {"diverging": np.asarray(fields["diverging"]).astype(bool)}
        return {}
    try:
        diag = mcmc.diagnostics()
    except Exception:  # pragma: no cover - e.g. a single-draw run
        return {}
    samples = next(iter(_chain_samples(mcmc).values()))
    n_chain, n_draw = samples.shape[:2]
    div = np.zeros((n_chain, n_draw), dtype=bool)
    for c, (_, idx) in enumerate(sorted(diag.get("divergences", {}).items())):
        div[c, list(idx)] = True
    return {"diverging": div}


def to_inference_data(mcmc, extra_posterior: dict[str, np.ndarray] | None = None):
    """An arviz ``InferenceData``/``DataTree`` from a Pyro or NumPyro ``MCMC`` object.

    Args:
        mcmc: a fitted ``pyro.infer.MCMC`` or ``numpyro.infer.MCMC``.
        extra_posterior: more ``(chain, draw, ...)`` arrays to add to the posterior group
            (e.g. relabelled parameters).
    """
    if not _is_mcmc(mcmc):
        raise ValueError(f"mcmc must be a Pyro or NumPyro MCMC object, got {type(mcmc).__name__}")
    posterior = _chain_samples(mcmc)
    for name, arr in (extra_posterior or {}).items():
        arr = np.asarray(arr)
        if arr.shape[:2] != next(iter(posterior.values())).shape[:2]:
            raise ValueError(f"extra_posterior[{name!r}] must share the (chain, draw) dims")
        posterior[name] = arr
    stats = _sample_stats(mcmc)
    az = _arviz()
    if ARVIZ_MAJOR >= 1:
        groups = {"posterior": posterior}
        if stats:
            groups["sample_stats"] = stats
        return az.from_dict(groups)
    return az.from_dict(posterior=posterior, sample_stats=stats or None)


def _as_idata(obj):
    return to_inference_data(obj) if _is_mcmc(obj) else obj


def summary(obj, var_names: list[str] | None = None, round_to: int = 3):
    """Posterior summary table (mean, sd, hdi, ess_bulk, ess_tail, r_hat) as a DataFrame."""
    if var_names is not None and (isinstance(var_names, str) or not list(var_names)):
        raise ValueError("var_names must be a non-empty list of names or None")
    idata = _as_idata(obj)
    az = _arviz()
    return az.summary(idata, var_names=var_names, round_to=round_to)


def plot_trace(obj, var_names: list[str] | None = None, **kwargs):
    """Trace plot (marginal density + draws per chain) for the chosen variables."""
    idata = _as_idata(obj)
    az = _arviz()
    return az.plot_trace(idata, var_names=var_names, **kwargs)


def split_rhat(draws: np.ndarray) -> float:
    r"""Split-:math:`\hat R` (Gelman et al., BDA3 eq. 11.4) of a ``(chain, draw)`` array.

    A from-scratch reference for the arviz value (arviz's default is the rank-normalised
    version, which agrees closely on well-behaved chains).
    """
    x = np.asarray(draws, dtype=float)
    if x.ndim != 2 or x.shape[1] < 4:
        raise ValueError(f"draws must be (chain, draw) with at least 4 draws, got {x.shape}")
    if np.isnan(x).any():
        raise ValueError("draws contains NaN")
    half = x.shape[1] // 2
    chains = np.concatenate([x[:, :half], x[:, half : 2 * half]], axis=0)
    n = chains.shape[1]
    means = chains.mean(axis=1)
    w = chains.var(axis=1, ddof=1).mean()
    b = n * means.var(ddof=1)
    var_plus = (n - 1) / n * w + b / n
    return float(np.sqrt(var_plus / w))
