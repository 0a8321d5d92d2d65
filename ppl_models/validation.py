"""Input checks shared by every model family: each raises ``ValueError`` naming the argument.

Family-specific checks (probability vectors of an HMM, mixture parameters, ...) live beside
their family and build on these.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["check_matrix", "check_int", "check_nonneg", "check_seed"]


def check_matrix(X, name: str = "X", min_rows: int = 1, dim: int | None = None,
                 dtype: torch.dtype | None = None, allow_numpy: bool = False) -> torch.Tensor:
    """A finite floating-point ``(N, D)`` tensor with ``N >= min_rows`` (and ``D == dim``).

    Args:
        allow_numpy: convert a numpy array instead of rejecting it.
        dtype: cast to this dtype after the checks.
    """
    if allow_numpy and isinstance(X, np.ndarray):
        X = torch.as_tensor(X)
    if not torch.is_tensor(X):
        kinds = "a torch.Tensor or numpy array" if allow_numpy else "a torch.Tensor"
        raise ValueError(f"{name} must be {kinds}, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(X.shape)}")
    if not torch.is_floating_point(X):
        raise ValueError(f"{name} must be a floating-point tensor, got {X.dtype}")
    if X.shape[0] < min_rows or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least {min_rows} row(s) and 1 column, got {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if dim is not None and X.shape[1] != dim:
        raise ValueError(f"{name} has {X.shape[1]} columns but the model has dimension {dim}")
    if dtype is not None and X.dtype != dtype:
        X = X.to(dtype)
    return X


def check_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    """An int (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def check_nonneg(value, name: str) -> float:
    """A finite real number ``>= 0``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_seed(seed) -> int:
    """A non-negative int seed."""
    return check_int(seed, "seed", low=0)
