"""Input validation shared by the PPCA and factor-analysis functions (messages name the argument)."""

from __future__ import annotations

import torch


def check_data(X, name: str = "X", min_rows: int = 2) -> torch.Tensor:
    """``X`` must be a finite floating-point ``(N, D)`` tensor with ``N >= min_rows``."""
    if not torch.is_tensor(X):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(X.shape)}")
    if not torch.is_floating_point(X):
        raise ValueError(f"{name} must be a floating-point tensor, got {X.dtype}")
    if X.shape[0] < min_rows or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least {min_rows} rows and 1 column, got {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def check_q(q, dim: int) -> int:
    """The latent dimension must be an int with ``1 <= q < D``."""
    if isinstance(q, bool) or not isinstance(q, int):
        raise ValueError(f"q must be an int, got {q!r}")
    if not 1 <= q < dim:
        raise ValueError(f"q must satisfy 1 <= q < D = {dim}, got {q}")
    return q


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_nonneg_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def check_loading(mean, W, dim_name: str = "params") -> None:
    """``mean (D,)`` and ``W (D, q)`` must be finite, floating and agree on ``D``."""
    for arg, t, nd in (("mean", mean, 1), ("W", W, 2)):
        if not torch.is_tensor(t) or t.ndim != nd or not torch.is_floating_point(t):
            raise ValueError(f"{dim_name}.{arg} must be a floating {nd}-D tensor")
        if not torch.isfinite(t).all():
            raise ValueError(f"{dim_name}.{arg} contains NaN or infinite values")
    if W.shape[0] != mean.shape[0]:
        raise ValueError(f"{dim_name}.W has {W.shape[0]} rows but {dim_name}.mean has {mean.shape[0]}")


def check_matching(X, dim: int, name: str = "X") -> torch.Tensor:
    check_data(X, name, min_rows=1)
    if X.shape[1] != dim:
        raise ValueError(f"{name} has {X.shape[1]} columns but the model has D = {dim}")
    return X
