"""Input checks shared by the diffusion modules; each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import numbers

import torch

from ppl_models.validation import check_int, check_nonneg

__all__ = ["check_x", "check_t", "check_choice", "check_fraction", "check_int", "check_nonneg",
           "check_generator", "bcast"]


def check_x(x, name: str = "x", min_ndim: int = 2) -> torch.Tensor:
    """A finite floating-point tensor with a leading batch axis, e.g. ``(B, D)`` or ``(B, C, H, W)``."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.ndim < min_ndim or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B, ...) with at least {min_ndim} axes and B >= 1, "
                         f"got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_t(t, batch: int | None = None, name: str = "t", low: float = 0.0,
            high: float = 1.0) -> torch.Tensor:
    """A finite ``(B,)`` float tensor of times in ``[low, high]`` (any ``B >= 1`` if ``batch`` is None)."""
    want = "(B,)" if batch is None else f"({batch},)"
    if not torch.is_tensor(t) or not torch.is_floating_point(t):
        raise ValueError(f"{name} must be a floating-point torch.Tensor of shape {want}")
    if t.ndim != 1 or t.shape[0] < 1 or (batch is not None and t.shape[0] != batch):
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if bool((t < low).any()) or bool((t > high).any()):
        raise ValueError(f"{name} must lie in [{low}, {high}], got values in "
                         f"[{float(t.min()):.4g}, {float(t.max()):.4g}]")
    return t


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """One of a fixed set of names."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_fraction(value, name: str, low: float = 0.0, high: float = 1.0,
                   open_low: bool = False, open_high: bool = False) -> float:
    """A finite real number in the interval between ``low`` and ``high`` (ends open or closed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    bad_low = v <= low if open_low else v < low
    bad_high = v >= high if open_high else v > high
    if bad_low or bad_high:
        lb, rb = ("(" if open_low else "["), (")" if open_high else "]")
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{rb}, got {value!r}")
    return v


def check_generator(generator, name: str = "generator") -> torch.Generator | None:
    """``None`` or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-example ``(B,)`` tensor so it broadcasts against ``x`` of shape ``(B, ...)``."""
    return v.reshape(-1, *[1] * (x.ndim - 1))
