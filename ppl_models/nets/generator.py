r"""A small convolutional generator :math:`G(z)`: ``z (B, Z) -> x (B, C, H, W)`` in ``[-1, 1]``.

A linear layer maps ``z`` to a ``(c_0, \lceil H/2^L \rceil, \lceil W/2^L \rceil)`` map; each of
the ``L = len(channels)`` levels doubles the sides (nearest-neighbour up-sampling, 3x3
convolution, batch norm, activation); a last 3x3 convolution and ``tanh`` give the image,
centre-cropped to ``(H, W)`` (28 = 7 * 4 and 8 = 2 * 4 need no crop). The output range is the
[-1, 1] pixel convention of the continuous image models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .common import activation as make_activation
from .common import check_x, seeded

__all__ = ["ConvGenerator"]


class ConvGenerator(nn.Module):
    """``z (B, z_dim) -> (B, C, H, W)`` in ``[-1, 1]``.

    Args:
        z_dim: latent size. image_shape: ``(H, W)`` of the output.
        channels: widths from the coarsest level up (each level doubles the sides).
        activation: hidden non-linearity. out_channels: image channels. seed: initial weights.
    """

    def __init__(self, z_dim: int, image_shape: Sequence[int] = (28, 28), channels: Sequence[int] = (64, 32),
                 activation: str = "relu", out_channels: int = 1, seed: int | None = 0):
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"image_shape must be (H, W) with positive sides, got {image_shape!r}")
        if z_dim < 1 or not channels or any(c < 1 for c in channels) or out_channels < 1:
            raise ValueError(f"z_dim, channels and out_channels must be positive, got {z_dim!r}, "
                             f"{channels!r}, {out_channels!r}")
        self.z_dim, self.image_shape = int(z_dim), shape
        scale = 2 ** len(channels)
        self.base = (math.ceil(shape[0] / scale), math.ceil(shape[1] / scale))
        with seeded(seed):
            self.fc = nn.Sequential(nn.Linear(z_dim, channels[0] * self.base[0] * self.base[1]),
                                    make_activation(activation))
            layers: list[nn.Module] = []
            prev = channels[0]
            for c in channels:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, c, 3, padding=1),
                           nn.BatchNorm2d(c), make_activation(activation)]
                prev = c
            layers += [nn.Conv2d(prev, out_channels, 3, padding=1), nn.Tanh()]
            self.net = nn.Sequential(*layers)
        self.channels0 = channels[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_x(z, "z", ndim=2, dim=self.z_dim)
        h = self.fc(z).view(z.shape[0], self.channels0, *self.base)
        x = self.net(h)  # (B, C, base * 2^L, ...)
        top = (x.shape[-2] - self.image_shape[0]) // 2
        left = (x.shape[-1] - self.image_shape[1]) // 2
        return x[..., top: top + self.image_shape[0], left: left + self.image_shape[1]]
