"""Input validation shared by the PPCA and factor-analysis functions (messages name the argument)."""

from __future__ import annotations

import torch

from ..validation import check_int, check_matrix, check_nonneg, check_seed  # noqa: F401


def check_data(X, name: str = "X", min_rows: int = 2) -> torch.Tensor:
    """``X`` must be a finite floating-point ``(N, D)`` tensor with ``N >= min_rows``."""
    return check_matrix(X, name, min_rows=min_rows)


def check_q(q, dim: int) -> int:
    """The latent dimension must be an int with ``1 <= q < D``."""
    if isinstance(q, bool) or not isinstance(q, int):
        raise ValueError(f"q must be an int, got {q!r}")
    if not 1 <= q < dim:
        raise ValueError(f"q must satisfy 1 <= q < D = {dim}, got {q}")
    return q


def check_positive_int(value, name: str) -> int:
    return check_int(value, name, low=1)


def check_nonneg_float(value, name: str) -> float:
    return check_nonneg(value, name)


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
