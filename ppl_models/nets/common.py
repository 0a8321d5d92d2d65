r"""Helpers every network shares: seeded construction, parameter counts, input checks.

* :func:`seeded` builds a module with weights that depend only on a seed, never on the global
  RNG state left behind by earlier notebook cells (the global state is restored afterwards).
* :func:`count_parameters` / :func:`describe` state a model's size in a chapter.
* ``check_*`` validate the ``(x, t, y)`` arguments of a forward pass and raise ``ValueError``
  naming the argument. Value checks (NaN, label range) are skipped for tensors on the
  ``meta`` device, whose values do not exist; shapes are still checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["seeded", "count_parameters", "describe", "activation", "ACTIVATIONS", "check_x", "check_t",
           "check_y", "has_values"]

ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "silu": nn.SiLU,
               "gelu": nn.GELU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the body with torch's CPU RNG seeded by ``seed``; restore the global state afterwards.

    ``seed=None`` leaves the global RNG untouched (the caller seeds). Modules are built on the
    CPU (then moved with ``.to(device)``), so the CPU generator decides every initial weight.
    """
    if seed is None:
        yield
        return
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters of ``module``."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def describe(module: nn.Module) -> str:
    """One line for a chapter, e.g. ``"UNet: 123,456 parameters"``."""
    return f"{type(module).__name__}: {count_parameters(module):,} parameters"


def has_values(x: torch.Tensor) -> bool:
    """False for tensors without data (``meta`` device): value checks are skipped for them."""
    return x.device.type != "meta"


def check_x(x, name: str = "x", ndim: int | None = None, channels: int | None = None,
            dim: int | None = None) -> None:
    """A finite floating tensor; optionally with ``ndim`` dims, ``channels`` at dim 1, last dim ``dim``."""
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if channels is not None and (x.ndim < 2 or x.shape[1] != channels):
        raise ValueError(f"{name} must have {channels} channel(s) at dim 1, got shape {tuple(x.shape)}")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{name} must have last dimension {dim}, got shape {tuple(x.shape)}")
    if has_values(x) and not bool(torch.isfinite(x.sum())):  # NaN/inf propagate through the sum
        raise ValueError(f"{name} contains NaN or infinite values")


def check_t(t, batch: int, name: str = "t") -> None:
    """A finite floating ``(B,)`` tensor of times or noise levels."""
    if not torch.is_tensor(t) or not torch.is_floating_point(t):
        raise ValueError(f"{name} must be a floating-point tensor of shape (B,), got {type(t).__name__}")
    if t.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},) (one value per example), got {tuple(t.shape)}")
    if has_values(t) and not bool(torch.isfinite(t.sum())):
        raise ValueError(f"{name} contains NaN or infinite values")


def check_y(y, batch: int, n_classes: int, allow_null: bool = True, name: str = "y") -> None:
    """Integer labels ``(B,)`` in ``[0, n_classes)``, or ``n_classes`` (the null label) if allowed."""
    if n_classes == 0:
        raise ValueError(f"{name} was given but the network has no class conditioning (n_classes=0)")
    if not torch.is_tensor(y) or y.dtype not in (torch.int32, torch.int64) or y.shape != (batch,):
        raise ValueError(f"{name} must be an integer tensor of shape ({batch},), got "
                         f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
    top = n_classes if allow_null else n_classes - 1
    if has_values(y) and batch and not bool((y.min() >= 0) & (y.max() <= top)):
        raise ValueError(f"{name} must lie in [0, {top}] ({n_classes} = the null label)"
                         if allow_null else f"{name} must lie in [0, {top}]")
