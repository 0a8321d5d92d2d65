"""Input checks of the score-matching family: each raises ``ValueError`` naming the argument.

The family works on batches ``x`` of shape ``(B, D)`` (2-D toy data) or ``(B, C, H, W)``
(images) and on noise levels ``sigma`` given as a number or a ``(B,)`` tensor; these helpers
turn both into the one broadcastable form the objectives and samplers use.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from ..validation import check_int

__all__ = ["check_batch", "check_sigma", "sigma_like", "check_generator", "check_reduction",
           "check_score_out", "check_positive", "check_callable", "reduce", "check_int"]

REDUCTIONS = ("mean", "none")


def check_batch(x, name: str = "x") -> torch.Tensor:
    """A finite floating-point tensor with a batch axis and at least one feature axis."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1 or x[0].numel() < 1:
        raise ValueError(f"{name} must have shape (B, D) or (B, C, H, W) with B >= 1, got {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_positive(value, name: str, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    bad = (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
           or value < 0 or (value == 0 and not allow_zero))
    if bad:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_sigma(sigma, x: torch.Tensor, name: str = "sigma", allow_zero: bool = False):
    """A noise level for the batch ``x``: a number (or 0-d tensor), or a ``(B,)`` tensor.

    Returns a float, or a ``(B,)`` tensor cast to ``x``'s dtype and device. Levels must be
    finite and ``> 0`` (``>= 0`` with ``allow_zero``, where 0 means the unperturbed data).
    """
    if torch.is_tensor(sigma) and sigma.ndim == 0:
        sigma = float(sigma)
    if not torch.is_tensor(sigma):
        return check_positive(sigma, name, allow_zero=allow_zero)
    if sigma.ndim != 1 or sigma.shape[0] != x.shape[0]:
        raise ValueError(f"{name} must be a number or a ({x.shape[0]},) tensor, got {tuple(sigma.shape)}")
    if not bool(torch.isfinite(sigma).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if bool((sigma < 0).any()) or (not allow_zero and bool((sigma == 0).any())):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} everywhere")
    return sigma.to(device=x.device, dtype=x.dtype)


def sigma_like(sigma, x: torch.Tensor) -> torch.Tensor:
    r"""``sigma`` as a tensor broadcastable against ``x``: shape ``(B, 1, ..., 1)`` or ``()``.

    Uses ``sigma.view(-1, *[1] * (x.ndim - 1))`` so 2-D points and images share code.
    """
    if torch.is_tensor(sigma):
        return sigma.view(-1, *[1] * (x.ndim - 1))
    return torch.tensor(sigma, device=x.device, dtype=x.dtype)


def check_generator(generator, x: torch.Tensor, name: str = "generator") -> torch.Generator:
    """An explicit ``torch.Generator`` on ``x``'s device type (the family never uses the global RNG)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"{name} must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != x.device.type:
        raise ValueError(f"{name} is on {generator.device} but x is on {x.device}")
    return generator


def check_reduction(reduction) -> str:
    """``'mean'`` (a scalar loss) or ``'none'`` (one value per example)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_callable(fn, name: str = "score_fn") -> Callable:
    """A callable (the ``score_fn(x, sigma)`` closure)."""
    if not callable(fn):
        raise ValueError(f"{name} must be callable as {name}(x, sigma), got {type(fn).__name__}")
    return fn


def check_score_out(s, x: torch.Tensor, name: str = "score_fn") -> torch.Tensor:
    """The closure's output: a tensor shaped like its input ``x``."""
    if not torch.is_tensor(s) or s.shape != x.shape:
        got = tuple(s.shape) if torch.is_tensor(s) else type(s).__name__
        raise ValueError(f"{name}(x, sigma) must return a tensor shaped like x {tuple(x.shape)}, got {got}")
    return s


def reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    """Mean over the batch (``'mean'``) or the ``(B,)`` values themselves (``'none'``)."""
    return per_example.mean() if reduction == "mean" else per_example
