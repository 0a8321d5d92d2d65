"""Wall-clock timing of a call (training or sampling), synchronising an accelerator first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

__all__ = ["Timed", "timed"]


class Timed(NamedTuple):
    """``result`` of the call and its wall-clock ``seconds``."""

    result: Any
    seconds: float


def timed(fn: Callable[..., Any], *args: Any, device: torch.device | str | None = None,
          **kwargs: Any) -> Timed:
    """Run ``fn(*args, **kwargs)`` and time it with ``time.perf_counter``.

    On a CUDA ``device`` the queue is synchronised before and after, so the time covers the
    kernels and not only their launch.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    if cuda:
        torch.cuda.synchronize(device)
    return Timed(out, time.perf_counter() - start)
