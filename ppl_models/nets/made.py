r"""MADE: a masked MLP whose output :math:`i` sees only the inputs before :math:`i` in an ordering.

Germain et al. (2015). Every unit carries a degree: input :math:`d` has degree
:math:`m^0(d) = \pi(d) \in \{1, \dots, D\}` (its rank in the ordering :math:`\pi`), hidden unit
:math:`k` of layer :math:`l` has a degree :math:`m^l(k) \in [\min m^{l-1}, D - 1]`, and

.. math::
    M^l_{k k'} = [\, m^l(k) \ge m^{l-1}(k') \,], \qquad
    M^{\mathrm{out}}_{d k} = [\, m^0(d) > m^L(k) \,],

so a path from input :math:`d'` to output :math:`d` exists only if :math:`m^0(d') < m^0(d)`:
the logit of pixel :math:`d` is a function of the pixels ranked before it. ``n_orders > 1``
keeps several orderings (and hidden degrees) in one set of weights (order-agnostic training).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .common import activation, check_x, seeded

__all__ = ["MADEConfig", "MADE", "MaskedLinear", "made_masks"]


@dataclass(frozen=True)
class MADEConfig:
    """Sizes of a :class:`MADE`."""

    dim: int = 784                    # D, the number of binary inputs
    hidden: tuple[int, ...] = (500,)  # hidden layer widths
    n_orders: int = 1                 # orderings sharing the weights (1: the raster order only)
    natural_first: bool = True        # ordering 0 is 0, 1, ..., D-1 (else a random permutation)
    direct: bool = True               # a masked direct input -> output connection (a logistic AR term)
    activation: str = "relu"          # hidden non-linearity
    seed: int = 0                     # seeds the weights, the orderings and the hidden degrees

    def __post_init__(self):
        for name in ("dim", "n_orders"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.dim < 2:
            raise ValueError(f"dim must be at least 2, got {self.dim}")
        if not self.hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1
                                  for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got {self.hidden!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    def smoke(self) -> MADEConfig:
        """The tiny variant: one hidden layer of at most 64 units."""
        return replace(self, hidden=(min(self.hidden[0], 64),))


class MaskedLinear(nn.Linear):
    """A linear layer :math:`y = (W \\odot M) x + b` with a fixed 0/1 mask ``M`` (a buffer)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(dim: int, hidden: tuple[int, ...], order: torch.Tensor,
               generator: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """The hidden masks (``(out, in)`` per layer), the output mask ``(D, H_L)`` and the input degrees.

    Args:
        dim: D. hidden: widths. order: ``(D,)`` permutation; ``order[r]`` is the pixel sampled
        r-th. generator: draws the hidden degrees.
    """
    deg_in = torch.empty(dim, dtype=torch.int64)  # device-free: masks are built on the CPU
    deg_in[order] = torch.arange(1, dim + 1)  # device-free: CPU mask construction
    masks, prev = [], deg_in
    for h in hidden:
        deg = torch.randint(int(prev.min()), dim, (h,), generator=generator)  # device-free: CPU masks
        masks.append((deg[:, None] >= prev[None, :]).float())
        prev = deg
    out = (deg_in[:, None] > prev[None, :]).float()
    return masks, out, deg_in


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation: ``(B, D)`` binary -> ``(B, D)`` Bernoulli logits.

    ``forward(x, order_index)`` uses ordering ``order_index`` (``self.orders[order_index]``).
    """

    def __init__(self, cfg: MADEConfig):
        super().__init__()
        if not isinstance(cfg, MADEConfig):
            raise ValueError(f"cfg must be a MADEConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        orders, hidden_masks, out_masks, direct_masks = [], [], [], []
        for r in range(cfg.n_orders):
            order = (torch.arange(cfg.dim) if (r == 0 and cfg.natural_first)  # device-free: CPU masks
                     else torch.randperm(cfg.dim, generator=gen))  # device-free: CPU masks
            masks, out, deg_in = made_masks(cfg.dim, cfg.hidden, order, gen)
            orders.append(order)
            hidden_masks.append(masks)
            out_masks.append(out)
            direct_masks.append((deg_in[:, None] > deg_in[None, :]).float())
        self.register_buffer("orders", torch.stack(orders))                       # (R, D)
        for li in range(len(cfg.hidden)):
            self.register_buffer(f"mask_h{li}", torch.stack([m[li] for m in hidden_masks]))
        self.register_buffer("mask_out", torch.stack(out_masks))                  # (R, D, H_L)
        self.register_buffer("mask_direct", torch.stack(direct_masks))            # (R, D, D)
        with seeded(cfg.seed):
            sizes = (cfg.dim, *cfg.hidden)
            self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
            self.out = nn.Linear(cfg.hidden[-1], cfg.dim)
            self.direct = nn.Linear(cfg.dim, cfg.dim, bias=False) if cfg.direct else None
        self.act = activation(cfg.activation)

    def forward(self, x: torch.Tensor, order_index: int = 0) -> torch.Tensor:
        check_x(x, "x", ndim=2, dim=self.cfg.dim)
        if not (isinstance(order_index, int) and 0 <= order_index < self.cfg.n_orders):
            raise ValueError(f"order_index must be an int in [0, {self.cfg.n_orders}), got {order_index!r}")
        h = x
        for li, lin in enumerate(self.hidden):
            h = self.act(F.linear(h, lin.weight * getattr(self, f"mask_h{li}")[order_index], lin.bias))
        out = F.linear(h, self.out.weight * self.mask_out[order_index], self.out.bias)   # (B, D)
        if self.direct is not None:
            out = out + F.linear(x, self.direct.weight * self.mask_direct[order_index])
        return out
