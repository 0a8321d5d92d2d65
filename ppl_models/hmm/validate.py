"""Input checks shared by the HMM functions; every message names the offending argument."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..validation import check_int


class Checked(NamedTuple):
    """Validated inference inputs, all in one floating dtype on one device."""

    log_init: torch.Tensor  # (K,)
    log_trans: torch.Tensor  # (K, K)
    log_lik: torch.Tensor  # (..., T, K)
    mask: torch.Tensor | None  # (..., T) bool, None when every sequence has full length


def _tol(dtype: torch.dtype) -> float:
    return 1e-6 if dtype == torch.float64 else 1e-4


def check_tensor(x, name: str, ndim: int | None = None, min_ndim: int | None = None) -> torch.Tensor:
    """``x`` must be a floating torch tensor with the given number of dims."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dim(s), got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dims, got shape {tuple(x.shape)}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    return x


def check_log_probs(x: torch.Tensor, name: str) -> None:
    """Log-probabilities along the last dim: no ``+inf``, and they sum (in prob space) to one."""
    if torch.isposinf(x).any():
        raise ValueError(f"{name} contains +inf (a log-probability must be <= 0)")
    err = torch.logsumexp(x, dim=-1).abs().max().item()
    if not err <= _tol(x.dtype):
        raise ValueError(f"{name} must be log-probabilities whose rows sum to one "
                         f"(max |log sum| = {err:.2e})")


def check_probs(p, name: str) -> torch.Tensor:
    """Probabilities along the last dim: finite, non-negative, rows sum to one."""
    p = check_tensor(p, name, min_ndim=1)
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} contains infinite values")
    if (p < 0).any():
        raise ValueError(f"{name} contains negative probabilities")
    err = (p.sum(-1) - 1).abs().max().item()
    if not err <= _tol(p.dtype):
        raise ValueError(f"{name} rows must sum to one (max error {err:.2e})")
    return p


def check_lengths(lengths, batch_shape: torch.Size, n_steps: int, device) -> torch.Tensor | None:
    """``lengths`` ``(...)`` integers in ``[1, T]`` matching the batch shape; returns the (..., T) mask."""
    if lengths is None:
        return None
    if not torch.is_tensor(lengths) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError("lengths must be an integer torch.Tensor")
    if lengths.shape != batch_shape:
        raise ValueError(f"lengths must have the batch shape {tuple(batch_shape)}, "
                         f"got {tuple(lengths.shape)}")
    if lengths.numel() and (lengths.min() < 1 or lengths.max() > n_steps):
        raise ValueError(f"lengths must lie in [1, T={n_steps}] (zero-length sequences are not allowed)")
    steps = torch.arange(n_steps, device=device)
    return steps < lengths.to(device).unsqueeze(-1)


def check_inputs(log_init, log_trans, log_lik, lengths=None) -> Checked:
    """Validate ``(log_init (K,), log_trans (K, K), log_lik (..., T, K))`` and optional lengths."""
    log_init = check_tensor(log_init, "log_init", ndim=1)
    log_trans = check_tensor(log_trans, "log_trans", ndim=2)
    log_lik = check_tensor(log_lik, "log_lik", min_ndim=2)
    k = log_init.shape[0]
    if k < 1:
        raise ValueError("log_init must have at least one state")
    if log_trans.shape != (k, k):
        raise ValueError(f"log_trans must have shape (K, K) = ({k}, {k}) to match log_init, "
                         f"got {tuple(log_trans.shape)}")
    if log_lik.shape[-1] != k:
        raise ValueError(f"log_lik last dim must be K = {k} to match log_init, got {tuple(log_lik.shape)}")
    if log_lik.shape[-2] < 1:
        raise ValueError("log_lik must have at least one time step (zero-length sequence)")
    if torch.isposinf(log_lik).any():
        raise ValueError("log_lik contains +inf")
    check_log_probs(log_init, "log_init")
    check_log_probs(log_trans, "log_trans")
    dtype = torch.promote_types(torch.promote_types(log_init.dtype, log_trans.dtype), log_lik.dtype)
    dev = log_lik.device
    mask = check_lengths(lengths, log_lik.shape[:-2], log_lik.shape[-2], dev)
    return Checked(log_init.to(dev, dtype), log_trans.to(dev, dtype), log_lik.to(dtype), mask)


def check_positive_int(value, name: str) -> int:
    """``value`` must be an int >= 1."""
    return check_int(value, name, low=1)


def check_generator(generator, name: str = "generator") -> None:
    """``generator`` must be ``None`` or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
