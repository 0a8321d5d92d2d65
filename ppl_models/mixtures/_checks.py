"""Input validation shared by the mixture functions (every error names its argument)."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def check_data(X, name: str = "X", dim: int | None = None, dtype: torch.dtype | None = None,
               min_rows: int = 1) -> torch.Tensor:
    """A finite floating ``(N, D)`` tensor (numpy arrays are converted; ``dtype`` casts)."""
    if isinstance(X, np.ndarray):
        X = torch.as_tensor(X)
    if not torch.is_tensor(X):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(X.shape)}")
    if not torch.is_floating_point(X):
        raise ValueError(f"{name} must be floating point, got {X.dtype}")
    if X.shape[0] < min_rows or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least {min_rows} row(s) and one column, got {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if dim is not None and X.shape[1] != dim:
        raise ValueError(f"{name} has {X.shape[1]} columns but the mixture has dimension {dim}")
    if dtype is not None and X.dtype != dtype:
        X = X.to(dtype)
    return X


def check_params(params) -> tuple[int, int]:
    """Validate a :class:`GMMParams`; return ``(K, D)``."""
    if not (isinstance(params, tuple) and len(params) == 3 and all(torch.is_tensor(t) for t in params)):
        raise ValueError("params must be a GMMParams(weights, means, covariances) of tensors")
    w, mu, cov = params
    if mu.ndim != 2 or mu.shape[0] < 1:
        raise ValueError(f"params.means must have shape (K, D), got {tuple(mu.shape)}")
    K, D = mu.shape
    if w.shape != (K,):
        raise ValueError(f"params.weights must have shape ({K},), got {tuple(w.shape)}")
    if cov.shape not in ((K, D, D), (K, D)):
        raise ValueError(f"params.covariances must have shape ({K}, {D}, {D}) or ({K}, {D}), "
                         f"got {tuple(cov.shape)}")
    if len({w.dtype, mu.dtype, cov.dtype}) != 1 or len({w.device, mu.device, cov.device}) != 1:
        raise ValueError("params tensors must share one dtype and device")
    for nm, t in (("weights", w), ("means", mu), ("covariances", cov)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"params.{nm} contains NaN or infinite values")
    if bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > 1e-4:
        raise ValueError("params.weights must be non-negative and sum to one")
    return int(K), int(D)


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """An int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return int(value)


def check_nonneg(value, name: str) -> float:
    """A finite float ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
