r"""A DCGAN-style image discriminator (Radford et al. 2016): strided convolutions, no pooling.

Each of the ``L = len(channels)`` levels is a 4x4 convolution with stride 2 (padding 1, so the
sides halve, rounding down: 28 -> 14 -> 7 -> 3) and a leaky ReLU of slope 0.2; a linear layer
maps the last map to one logit per image. No batch normalisation, so each logit depends on its own
image only (as the gradient penalty of WGAN-GP requires). Cheaper than
:class:`~ppl_models.nets.ConvScalar`, whose levels hold two full-resolution 3x3 convolutions each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .common import check_x, seeded

__all__ = ["ConvDiscriminator"]


class ConvDiscriminator(nn.Module):
    """``x (B, C, H, W) -> (B,)`` logits (or critic scores).

    Args:
        image_shape: ``(H, W)`` of the input. channels: widths per level (each halves the sides).
        in_channels: image channels. seed: initial weights.
    """

    def __init__(self, image_shape: Sequence[int] = (28, 28), channels: Sequence[int] = (32, 64),
                 in_channels: int = 1, seed: int | None = 0):
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"image_shape must be (H, W) with positive sides, got {image_shape!r}")
        if not channels or any(c < 1 for c in channels) or in_channels < 1:
            raise ValueError(f"channels and in_channels must be positive, got {channels!r}, {in_channels!r}")
        h, w = shape
        layers: list[nn.Module] = []
        prev = in_channels
        with seeded(seed):
            for c in channels:
                layers += [nn.Conv2d(prev, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
                prev, h, w = c, math.floor(h / 2), math.floor(w / 2)
            if min(h, w) < 1:
                raise ValueError(f"image_shape {shape} is too small for {len(channels)} levels")
            layers += [nn.Flatten(), nn.Linear(prev * h * w, 1)]
            self.net = nn.Sequential(*layers)
        self.in_channels, self.image_shape = in_channels, shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_x(x, "x", ndim=4, channels=self.in_channels)
        return self.net(x).squeeze(-1)
