r"""A convolutional trunk shared by classifier, energy and discriminator heads.

:class:`ConvTrunk` maps images ``(B, C, H, W)`` to features ``(B, F)``: per level two 3x3
convolutions (optionally batch-normalised) and a 2x2 pooling (``ceil_mode``: any side works),
then an adaptive average pool to a fixed ``pool x pool`` grid, so the same trunk serves 8x8 and
28x28 images, and a linear layer to ``F`` features. Heads act on the features:

* :class:`ClassifierHead`: logits ``(B, K)``; :class:`ConvClassifier` = trunk + this head.
* :class:`ScalarHead`: one number per image ``(B,)`` (an energy :math:`E_\theta(x)` or a
  discriminator logit); :class:`ConvScalar` = trunk + this head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .common import activation as make_activation
from .common import check_x, seeded

__all__ = ["ConvTrunk", "ClassifierHead", "ScalarHead", "ConvClassifier", "ConvScalar"]

POOLING = ("max", "avg")


class ConvTrunk(nn.Module):
    """``x (B, C, H, W) -> (B, feature_dim)`` features.

    Args:
        channels: widths per level (each level halves the sides).
        feature_dim: size ``F`` of the output features.
        activation: non-linearity (``"relu"`` for classifiers, smooth ``"silu"`` for energies).
        pooling: ``"max"`` or ``"avg"`` down-sampling.
        pool: side of the adaptive average pool before the linear layer.
        in_channels: image channels.
        batch_norm: batch normalisation after each convolution (classifiers; not for energies,
            whose value must not depend on the rest of the batch).
    """

    def __init__(self, channels: Sequence[int] = (32, 64), feature_dim: int = 128, activation: str = "relu",
                 pooling: str = "max", pool: int = 4, in_channels: int = 1, batch_norm: bool = False):
        super().__init__()
        if not channels or any(c < 1 for c in channels) or feature_dim < 1 or pool < 1 or in_channels < 1:
            raise ValueError(f"channels, feature_dim, pool and in_channels must be positive, got "
                             f"{channels!r}, {feature_dim!r}, {pool!r}, {in_channels!r}")
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, got {pooling!r}")
        down = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        layers: list[nn.Module] = []
        prev = in_channels
        for c in channels:
            for a in (prev, c):
                layers += [nn.Conv2d(a, c, 3, padding=1), nn.BatchNorm2d(c) if batch_norm else nn.Identity(),
                           make_activation(activation)]
            layers.append(down(2, ceil_mode=True))
            prev = c
        layers += [nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(prev * pool * pool, feature_dim),
                   make_activation(activation)]
        self.net = nn.Sequential(*layers)
        self.in_channels, self.feature_dim = in_channels, feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_x(x, "x", ndim=4, channels=self.in_channels)
        return self.net(x)


class ClassifierHead(nn.Module):
    """``features (B, F) -> logits (B, K)`` (optionally after dropout)."""

    def __init__(self, feature_dim: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        if n_classes < 2 or not (0.0 <= dropout < 1.0):
            raise ValueError(f"n_classes must be >= 2 and dropout in [0, 1), got {n_classes!r}, {dropout!r}")
        self.drop, self.linear = nn.Dropout(dropout), nn.Linear(feature_dim, n_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(self.drop(h))


class ScalarHead(nn.Module):
    """``features (B, F) -> (B,)``: an energy or a discriminator logit."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).squeeze(-1)


class ConvClassifier(nn.Module):
    """A LeNet-like classifier: :class:`ConvTrunk` + :class:`ClassifierHead`, seeded by ``seed``."""

    def __init__(self, n_classes: int = 10, channels: Sequence[int] = (32, 64), feature_dim: int = 128,
                 dropout: float = 0.0, activation: str = "relu", in_channels: int = 1,
                 batch_norm: bool = True, seed: int | None = 0):
        super().__init__()
        with seeded(seed):
            self.trunk = ConvTrunk(channels, feature_dim, activation, "max", in_channels=in_channels,
                                   batch_norm=batch_norm)
            self.head = ClassifierHead(feature_dim, n_classes, dropout)
        self.n_classes = n_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(B, F)``."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)``."""
        return self.head(self.trunk(x))


class ConvScalar(nn.Module):
    """:class:`ConvTrunk` + :class:`ScalarHead`: ``x (B,C,H,W) -> (B,)``, seeded by ``seed``.

    Smooth ``"silu"`` activations and average pooling by default, as energy-based models need
    input gradients :math:`\\nabla_x E_\\theta(x)` that change smoothly.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), feature_dim: int = 128, activation: str = "silu",
                 pooling: str = "avg", in_channels: int = 1, seed: int | None = 0):
        super().__init__()
        with seeded(seed):
            self.trunk = ConvTrunk(channels, feature_dim, activation, pooling, in_channels=in_channels)
            self.head = ScalarHead(feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
