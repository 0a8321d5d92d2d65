r"""Exact log-likelihoods of autoregressive models of binary data: the chain rule, scored in one pass.

A network ``logits_fn(x) -> (B, D)`` returns, at position :math:`i`, the logit :math:`\eta_i(x_{<i})`
of :math:`p(x_i = 1 \mid x_{<i})`; because :math:`\eta_i` never reads :math:`x_{\ge i}`, all
:math:`D` conditionals of a training image come out of **one** network call (teacher forcing):

.. math::
    \log p(x) = \sum_{i=1}^{D} \log p(x_i \mid x_{<i})
              = \sum_{i=1}^{D} \big[x_i \eta_i - \operatorname{softplus}(\eta_i)\big].
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

__all__ = ["bernoulli_log_prob", "log_prob", "mixture_log_prob", "nll_nats", "all_binary", "check_binary_x"]

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def check_binary_x(x, name: str = "x", dim: int | None = None) -> None:
    """``x`` must be a floating ``(B, D)`` tensor of zeros and ones (``dim``: the required ``D``)."""
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B, D) with B >= 1, got {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns, got shape {tuple(x.shape)}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must hold binary pixels (0 or 1)")


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Per-row :math:`\sum_i [x_i \eta_i - \operatorname{softplus}(\eta_i)]`: ``(B, D), (B, D) -> (B,)``."""
    if logits.shape != x.shape:
        raise ValueError(f"logits must have the shape of x {tuple(x.shape)}, got {tuple(logits.shape)}")
    return (x * logits - F.softplus(logits)).sum(-1)


def log_prob(logits_fn: LogitsFn, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Exact :math:`\\log p(x)` per row, in batches: ``(B, D) -> (B,)`` (no gradient if not needed).

    Args:
        logits_fn: ``(b, D) -> (b, D)`` autoregressive logits (e.g. a MADE, PixelCNN or Transformer).
        x: ``(B, D)`` binary data. batch_size: rows per network call.
    """
    check_binary_x(x)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return torch.cat([bernoulli_log_prob(logits_fn(xb), xb) for xb in x.split(batch_size)])


def mixture_log_prob(logits_fns: Sequence[LogitsFn], x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    r"""An equal-weight mixture of autoregressive models (e.g. MADE's orderings), exactly:
    :math:`\log \frac1R \sum_r p_r(x)`. ``(B, D) -> (B,)``."""
    if len(logits_fns) == 0:
        raise ValueError("logits_fns must hold at least one model")
    lp = torch.stack([log_prob(f, x, batch_size) for f in logits_fns])     # (R, B)
    return torch.logsumexp(lp, 0) - math.log(len(logits_fns))


def nll_nats(logits_fn: LogitsFn, x: torch.Tensor, batch_size: int = 500) -> float:
    """Mean negative log-likelihood in nats per image (no gradient)."""
    with torch.no_grad():
        return float(-log_prob(logits_fn, x, batch_size).mean())


def all_binary(dim: int, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """All :math:`2^D` binary vectors ``(2^D, D)`` (``dim <= 20``), for exact normalisation checks."""
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 20:
        raise ValueError(f"dim must be an int in [1, 20], got {dim!r}")
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=dim)), device=device, dtype=dtype)
