"""Input validation shared by the mixture functions (every error names its argument)."""

from __future__ import annotations

import torch

from ..validation import check_int, check_matrix, check_nonneg  # noqa: F401


def check_data(X, name: str = "X", dim: int | None = None, dtype: torch.dtype | None = None,
               min_rows: int = 1) -> torch.Tensor:
    """A finite floating ``(N, D)`` tensor (numpy arrays are converted; ``dtype`` casts)."""
    return check_matrix(X, name, min_rows=min_rows, dim=dim, dtype=dtype, allow_numpy=True)


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
