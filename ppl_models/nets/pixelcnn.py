r"""PixelCNN: masked convolutions, and the two-stack (vertical + horizontal) fix of the blind spot.

Both networks map flat binary images ``(B, H*W)`` (raster order) to Bernoulli logits
``(B, H*W)``; the logit of pixel :math:`(i, j)` depends only on pixels before it in raster
order. van den Oord et al. (2016).

* :class:`PixelCNN` (the original stack): a ``k x k`` masked convolution of type A (the centre
  pixel excluded) then type B layers (centre included)::

        type A (5x5)    type B (3x3)
        1 1 1 1 1       1 1 1
        1 1 1 1 1       1 1 0
        1 1 0 0 0       0 0 0
        0 0 0 0 0
        0 0 0 0 0

  Stacking these masks leaves a **blind spot**: pixels up and to the right of the current one
  that no depth of the stack ever sees.
* :class:`GatedPixelCNN`: a vertical stack (rows above, all columns in reach) feeds a horizontal
  stack (the current row, columns to the left), with gated activations
  :math:`\tanh(W_f * h) \odot \sigma(W_g * h)`. The receptive field has no blind spot, but it
  is not the whole causal past: it is the part of the past within reach of the stacks. With
  :math:`a` = ``first_kernel // 2``, :math:`b` = ``kernel // 2`` and :math:`L` = ``n_layers``,
  the logit of pixel :math:`(i, j)` sees every pixel of rows :math:`i - (a + 1 + L b)` to
  :math:`i - 1` in columns :math:`j - (a + L b)` to :math:`j + a + L b`, and pixels
  :math:`j - (a + 1 + L b)` to :math:`j - 1` of its own row, clipped at the image's edges
  (chapter 10's ``first_kernel=7, kernel=3, n_layers=5``: 9 rows above; checked in
  ``tests/test_autoregressive.py``).
  Both stacks are written as plain convolutions on shifted, padded inputs (no wasted masked
  weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_x, seeded

__all__ = ["PixelCNNConfig", "MaskedConv2d", "PixelCNN", "GatedPixelCNN", "GatedLayer", "causal_mask"]


@dataclass(frozen=True)
class PixelCNNConfig:
    """Sizes of a :class:`PixelCNN` or :class:`GatedPixelCNN`."""

    image_shape: tuple[int, int] = (28, 28)   # (H, W); inputs are flat (B, H*W)
    channels: int = 32                        # feature maps per layer
    n_layers: int = 6                         # layers after the first (type A) one
    first_kernel: int = 7                     # odd kernel side of the first layer
    kernel: int = 3                           # odd kernel side of the later layers
    dropout: float = 0.0                      # dropout on the features of every layer (training only)
    seed: int = 0                             # seeds the initial weights

    def __post_init__(self):
        if (len(self.image_shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                                              for s in self.image_shape)):
            raise ValueError(f"image_shape must be two positive ints, got {self.image_shape!r}")
        for name in ("channels", "n_layers", "first_kernel", "kernel"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("first_kernel", "kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")
        if not (0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def dim(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def smoke(self) -> PixelCNNConfig:
        """The tiny variant: 8 channels, 2 later layers."""
        return replace(self, channels=min(self.channels, 8), n_layers=min(self.n_layers, 2))


def causal_mask(kernel: int, mask_type: str) -> torch.Tensor:
    """The ``(k, k)`` 0/1 mask of a type ``"A"`` (centre excluded) or ``"B"`` masked convolution."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    m = torch.ones(kernel, kernel)  # device-free: CPU mask construction
    c = kernel // 2
    m[c, c + (mask_type == "B"):] = 0
    m[c + 1:] = 0
    return m


class MaskedConv2d(nn.Conv2d):
    """A ``k x k`` same-padded convolution whose weights are multiplied by a type A or B mask."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        self.register_buffer("mask", causal_mask(kernel, mask_type)[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def _image(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    check_x(x, "x", ndim=2, dim=shape[0] * shape[1])
    return x.view(x.shape[0], 1, *shape)


class PixelCNN(nn.Module):
    """The original PixelCNN stack: type A, then residual type B layers, then two 1x1 layers."""

    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        if not isinstance(cfg, PixelCNNConfig):
            raise ValueError(f"cfg must be a PixelCNNConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        c = cfg.channels
        with seeded(cfg.seed):
            self.first = MaskedConv2d(1, c, cfg.first_kernel, "A")
            self.layers = nn.ModuleList(MaskedConv2d(c, c, cfg.kernel, "B") for _ in range(cfg.n_layers))
            self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, 1, 1))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(_image(x, self.cfg.image_shape))               # (B, C, H, W)
        for layer in self.layers:
            h = h + self.drop(layer(F.relu(h)))
        return self.head(h).view(x.shape[0], -1)                       # (B, H*W)


def _shift_down(h: torch.Tensor) -> torch.Tensor:  # row i takes row i - 1 (zeros on top)
    return F.pad(h, (0, 0, 1, 0))[:, :, :-1]


def _shift_right(h: torch.Tensor) -> torch.Tensor:
    return F.pad(h, (1, 0, 0, 0))[:, :, :, :-1]


class _StackConv(nn.Module):
    """Vertical ``(k//2+1, k)`` or horizontal ``(1, k//2+1)`` convolution, padded to stay causal.

    Vertical: output row i sees rows i - k//2 .. i (``shift``: rows strictly above).
    Horizontal: output column j sees columns j - k//2 .. j of its row (``shift``: strictly left).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, vertical: bool, shift: bool):
        super().__init__()
        r = kernel // 2
        self.vertical, self.shift = vertical, shift
        self.pad = (r, r, r, 0) if vertical else (r, 0, 0, 0)
        self.conv = nn.Conv2d(c_in, c_out, (r + 1, kernel) if vertical else (1, r + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(F.pad(x, self.pad))
        if self.shift:
            h = _shift_down(h) if self.vertical else _shift_right(h)
        return h


class GatedLayer(nn.Module):
    """One gated two-stack layer: ``(v, h) -> (v', h')`` with a residual connection on ``h``."""

    def __init__(self, c: int, kernel: int, dropout: float):
        super().__init__()
        self.v_conv = _StackConv(c, 2 * c, kernel, vertical=True, shift=False)
        self.h_conv = _StackConv(c, 2 * c, kernel, vertical=False, shift=False)
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        self.drop = nn.Dropout(dropout)

    @staticmethod
    def _gate(a: torch.Tensor) -> torch.Tensor:
        f, g = a.chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_feat = self.v_conv(v)              # rows <= i of v, each of which sees input rows above it
        h_feat = self.h_conv(h) + self.v_to_h(v_feat)
        return self._gate(v_feat), h + self.drop(self.h_out(self._gate(h_feat)))


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN (vertical + horizontal stacks): no blind spot."""

    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        if not isinstance(cfg, PixelCNNConfig):
            raise ValueError(f"cfg must be a PixelCNNConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        c = cfg.channels
        with seeded(cfg.seed):
            self.v_first = _StackConv(1, c, cfg.first_kernel, vertical=True, shift=True)
            self.h_first = _StackConv(1, c, cfg.first_kernel, vertical=False, shift=True)
            self.layers = nn.ModuleList(GatedLayer(c, cfg.kernel, cfg.dropout) for _ in range(cfg.n_layers))
            self.head = nn.Sequential(nn.ELU(), nn.Conv2d(c, c, 1), nn.ELU(), nn.Conv2d(c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img = _image(x, self.cfg.image_shape)
        v, h = self.v_first(img), self.h_first(img)                    # rows < i; row i, columns < j
        h = h + v
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h).view(x.shape[0], -1)
