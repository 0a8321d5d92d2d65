r"""Fully connected networks: the plain :class:`MLP` and the conditional :class:`TimeMLP`.

* :class:`MLP`: ``Linear -> act -> ... -> Linear`` on the last dimension (any leading dims);
  the VAE's encoders and decoders and M2's classifier are built from it.
* :class:`TimeMLP`: :math:`(x, t, y) \mapsto f(x, t, y)` shaped like ``x`` (or ``out_dim``)
  for 2-D toy data: the input is concatenated with a sinusoidal embedding of ``t`` and, if
  ``n_classes > 0``, a learned embedding of the label ``y``; ``y=None`` (or ``y = n_classes``)
  is the learned *null* label used by classifier-free guidance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .common import activation as make_activation
from .common import check_t, check_x, check_y, seeded
from .embedding import SinusoidalEmbedding

__all__ = ["MLP", "TimeMLP"]


class MLP(nn.Module):
    """A fully connected net ``in_dim -> hidden... -> out_dim`` acting on the last dimension."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "softplus",
                 seed: int | None = None):
        super().__init__()
        if in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"in_dim, out_dim and hidden must be >= 1, got {in_dim}, {hidden}, {out_dim}")
        sizes = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        with seeded(seed):
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                layers.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers.append(make_activation(activation))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class TimeMLP(nn.Module):
    r"""A conditional MLP :math:`f(x, t, y)` for vectors ``x (B, D)``, e.g. a 2-D score or velocity.

    Args:
        dim: data dimension ``D``.
        hidden: hidden layer sizes.
        out_dim: output size (default ``dim``: shaped like ``x``).
        time_dim: size of the sinusoidal time embedding (0: the network ignores ``t``).
        time_scale: multiplies ``t`` inside the embedding (1000 for ``t`` in [0, 1]).
        n_classes: number of labels (0: unconditional); label ``n_classes`` is the null label.
        activation: hidden non-linearity (smooth ``"silu"`` by default: scores need derivatives).
        seed: seeds the initial weights (None: the global RNG).
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), out_dim: int | None = None,
                 time_dim: int = 32, time_scale: float = 1000.0, n_classes: int = 0,
                 activation: str = "silu", seed: int | None = 0):
        super().__init__()
        for name, v in (("dim", dim), ("time_dim", time_dim), ("n_classes", n_classes)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "dim" else 0):
                kind = "positive" if name == "dim" else "non-negative"
                raise ValueError(f"{name} must be a {kind} int, got {v!r}")
        self.dim, self.out_dim, self.n_classes = dim, out_dim or dim, n_classes
        with seeded(seed):
            self.time_embed = SinusoidalEmbedding(time_dim, time_scale) if time_dim else None
            self.label_embed = nn.Embedding(n_classes + 1, max(time_dim, 16)) if n_classes else None
            in_dim = dim + time_dim + (self.label_embed.embedding_dim if n_classes else 0)
            self.net = MLP(in_dim, hidden, self.out_dim, activation)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, D)``, ``t (B,)``, ``y (B,)`` ints or None -> ``(B, out_dim)``."""
        check_x(x, "x", ndim=2, dim=self.dim)
        check_t(t, x.shape[0])
        parts = [x]
        if self.time_embed is not None:
            parts.append(self.time_embed(t.to(x.dtype)))
        if self.label_embed is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.n_classes, dtype=torch.int64, device=x.device)
            check_y(y, x.shape[0], self.n_classes)
            parts.append(self.label_embed(y).to(x.dtype))
        elif y is not None:
            check_y(y, x.shape[0], self.n_classes)  # raises: no class conditioning
        return self.net(torch.cat(parts, dim=-1))
