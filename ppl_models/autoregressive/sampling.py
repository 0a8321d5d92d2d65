r"""Ancestral sampling, one pixel at a time: :math:`x_{\pi(1)} \sim p(x_{\pi(1)})`, then
:math:`x_{\pi(2)} \sim p(x_{\pi(2)} \mid x_{\pi(1)})`, and so on.

Scoring an image takes one network call; drawing one takes :math:`D` **sequential** calls, since
pixel :math:`i` must exist before the conditional of pixel :math:`i+1` can be evaluated. Both
samplers return the samples and the number of network evaluations (NFE). Completion
(inpainting) is the same loop started from observed pixels: the positions already given are
kept and only the rest are drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..nets import PixelTransformer
from .likelihood import check_binary_x

__all__ = ["Samples", "sample", "sample_transformer"]


class Samples(NamedTuple):
    """``x``: ``(N, D)`` binary samples; ``nfe``: sequential network evaluations used."""

    x: torch.Tensor
    nfe: int


def _check_common(n, dim, prefix, generator):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if prefix is not None:
        check_binary_x(prefix, "prefix")
        if prefix.shape[0] != n or prefix.shape[1] > dim:
            raise ValueError(f"prefix must have shape ({n}, k) with k <= {dim}, got {tuple(prefix.shape)}")


@torch.no_grad()
def sample(logits_fn: Callable[[torch.Tensor], torch.Tensor], n: int, dim: int, *, generator: torch.Generator,
           order: torch.Tensor | None = None, prefix: torch.Tensor | None = None,
           device: torch.device | str = "cpu") -> Samples:
    r"""Draw ``n`` samples of any autoregressive ``logits_fn`` by :math:`D` full network calls.

    Args:
        logits_fn: ``(n, D) -> (n, D)`` logits; position :math:`\pi(r)` may read only
            :math:`x_{\pi(1)}, \dots, x_{\pi(r-1)}`.
        n: samples. dim: D. generator: the random stream (on ``device``).
        order: ``(D,)`` permutation, the sampling order :math:`\pi` (default: raster order 0..D-1).
        prefix: ``(n, k)`` binary values of the first ``k`` positions *in the order* (completion
            of a partly observed image); those are kept and ``D - k`` pixels are drawn.

    Returns:
        :class:`Samples` ``(x (n, D), nfe = D - k)``.
    """
    _check_common(n, dim, prefix, generator)
    order = torch.arange(dim, device=device) if order is None else order.to(device)
    if order.shape != (dim,) or not torch.equal(order.sort().values, torch.arange(dim, device=device)):
        raise ValueError(f"order must be a permutation of 0..{dim - 1}")
    x = torch.zeros(n, dim, device=device)
    k = 0 if prefix is None else prefix.shape[1]
    if k:
        x[:, order[:k]] = prefix.to(device=device, dtype=x.dtype)
    for r in range(k, dim):
        i = order[r]
        p = torch.sigmoid(logits_fn(x)[:, i])
        x[:, i] = torch.bernoulli(p, generator=generator)
    return Samples(x, dim - k)


@torch.no_grad()
def sample_transformer(net: PixelTransformer, n: int, *, generator: torch.Generator,
                       prefix: torch.Tensor | None = None) -> Samples:
    """Raster-order samples of a :class:`~ppl_models.nets.PixelTransformer` with a key/value cache.

    Each of the :math:`D` steps processes one new position against the cached keys and values of
    the past (:math:`O(t)` work at step :math:`t` instead of a pass over the whole prefix).
    ``prefix`` ``(n, k)``: observed first pixels, fed through the cache, then kept.

    Returns:
        :class:`Samples` ``(x (n, D), nfe = D)`` (every position is one cached step).
    """
    if not isinstance(net, PixelTransformer):
        raise ValueError(f"net must be a PixelTransformer, got {type(net).__name__}")
    dim = net.cfg.seq_len
    _check_common(n, dim, prefix, generator)
    dev = net.pos.device
    x = torch.zeros(n, dim, device=dev)
    k = 0 if prefix is None else prefix.shape[1]
    if k:
        x[:, :k] = prefix.to(device=dev, dtype=x.dtype)
    caches = [{} for _ in net.blocks]
    prev = torch.zeros(n, device=dev)
    for t in range(dim):
        logit = net.step(prev, t, caches)
        if t >= k:
            x[:, t] = torch.bernoulli(torch.sigmoid(logit), generator=generator)
        prev = x[:, t]
    return Samples(x, dim)
