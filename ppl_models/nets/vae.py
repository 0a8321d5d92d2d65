r"""The VAE's encoder and decoder networks, defined once and shared by every VAE variant.

Every network maps flat inputs ``(..., D)`` (any number of leading batch dimensions, so the
same module serves a mini-batch, a stack of importance samples, or an enumerated label) and
may take an optional conditioning vector ``c`` (e.g. a one-hot label) of shape ``(..., C)``.

* the heads and the ``"mlp"`` bodies are :class:`~ppl_models.nets.mlp.MLP` networks.
* :class:`Encoder`: :math:`x \mapsto (\mu_\phi(x, c), \sigma_\phi(x, c))` of a diagonal
  Gaussian :math:`q_\phi(z \mid x, c)`; body ``"mlp"`` or ``"conv"``.
* :class:`Decoder`: :math:`z \mapsto \eta_\theta(z, c)`, the natural parameter of the pixel
  likelihood (Bernoulli logits or Gaussian means); body ``"mlp"`` or ``"conv"``.

The conv bodies are the small two-stride-2-layer nets of the VAE literature; they work for any
``(H, W)`` divisible by 4 (8x8 digits, 28x28 MNIST).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .common import activation as _activation
from .mlp import MLP

__all__ = ["Encoder", "Decoder", "ARCHITECTURES", "check_image_shape"]

ARCHITECTURES = ("mlp", "conv")


def check_image_shape(image_shape: Sequence[int], arch: str) -> tuple[int, int]:
    """Validate ``image_shape`` for ``arch``; returns it as a tuple ``(H, W)``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W) with positive sides, got {image_shape!r}")
    if arch == "conv" and (shape[0] % 4 or shape[1] % 4):
        raise ValueError(f"image_shape {shape} must have sides divisible by 4 for arch='conv'")
    return shape


def _cat(h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Concatenate ``h (..., A)`` and ``c (..., C)`` after broadcasting the leading dims."""
    if c is None:
        return h
    batch = torch.broadcast_shapes(h.shape[:-1], c.shape[:-1])
    return torch.cat([h.expand(*batch, h.shape[-1]), c.expand(*batch, c.shape[-1])], -1)


class _ConvBody(nn.Module):
    """``(..., H*W) -> (..., F)`` features: two stride-2 3x3 convolutions."""

    def __init__(self, image_shape: tuple[int, int], channels: int, activation: str):
        super().__init__()
        self.image_shape = image_shape
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, 2, 1), _activation(activation),
            nn.Conv2d(channels, 2 * channels, 3, 2, 1), _activation(activation),
        )
        self.out_dim = 2 * channels * (image_shape[0] // 4) * (image_shape[1] // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        h = self.net(x.reshape(-1, 1, *self.image_shape))  # (B, 2C, H/4, W/4)
        return h.reshape(*lead, self.out_dim)


class _ConvHead(nn.Module):
    """``(..., F) -> (..., H*W)``: linear to a ``(2C, H/4, W/4)`` map, two transposed convs."""

    def __init__(self, in_dim: int, image_shape: tuple[int, int], channels: int, activation: str):
        super().__init__()
        self.image_shape = image_shape
        self.map_shape = (2 * channels, image_shape[0] // 4, image_shape[1] // 4)
        n_map = self.map_shape[0] * self.map_shape[1] * self.map_shape[2]
        self.fc = nn.Sequential(nn.Linear(in_dim, n_map), _activation(activation))
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), _activation(activation),
            nn.ConvTranspose2d(channels, 1, 4, 2, 1),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        lead = h.shape[:-1]
        m = self.fc(h).reshape(-1, *self.map_shape)
        return self.net(m).reshape(*lead, self.image_shape[0] * self.image_shape[1])


class Encoder(nn.Module):
    r"""Amortised Gaussian encoder :math:`q_\phi(z\mid x, c)=\mathcal N(\mu, \mathrm{diag}\,\sigma^2)`.

    Args:
        image_shape: ``(H, W)``; inputs are flat ``(..., H*W)``.
        z_dim: latent size.
        hidden: hidden sizes of the MLP (for ``"conv"``: of the MLP after the conv body).
        arch: ``"mlp"`` or ``"conv"``.
        cond_dim: size of the conditioning vector ``c`` (0: none).
        channels: conv channels of the first layer (``"conv"`` only).
    """

    def __init__(self, image_shape: Sequence[int], z_dim: int, hidden: Sequence[int] = (400,),
                 arch: str = "mlp", cond_dim: int = 0, channels: int = 32, activation: str = "softplus"):
        super().__init__()
        self.image_shape = check_image_shape(image_shape, arch)
        self.x_dim = self.image_shape[0] * self.image_shape[1]
        self.cond_dim = int(cond_dim)
        self.body = _ConvBody(self.image_shape, channels, activation) if arch == "conv" else None
        feat = self.body.out_dim if self.body is not None else self.x_dim
        self.head = MLP(feat + self.cond_dim, hidden, 2 * z_dim, activation)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (..., D)``, ``c (..., C)`` -> ``loc, scale`` each ``(..., z_dim)``."""
        h = self.body(x) if self.body is not None else x
        loc, raw = self.head(_cat(h, c)).chunk(2, -1)
        return loc, F.softplus(raw) + 1e-4


class Decoder(nn.Module):
    r"""Decoder :math:`z \mapsto \eta_\theta(z, c)` of shape ``(..., H*W)`` (logits or means)."""

    def __init__(self, image_shape: Sequence[int], z_dim: int, hidden: Sequence[int] = (400,),
                 arch: str = "mlp", cond_dim: int = 0, channels: int = 32, activation: str = "softplus"):
        super().__init__()
        self.image_shape = check_image_shape(image_shape, arch)
        self.x_dim = self.image_shape[0] * self.image_shape[1]
        self.cond_dim = int(cond_dim)
        if arch == "conv":
            feat = hidden[-1] if hidden else z_dim + self.cond_dim
            pre = MLP(z_dim + self.cond_dim, hidden[:-1], feat, activation) if hidden else nn.Identity()
            self.net = nn.Sequential(pre, _activation(activation) if hidden else nn.Identity(),
                                     _ConvHead(feat, self.image_shape, channels, activation))
        else:
            self.net = MLP(z_dim + self.cond_dim, hidden, self.x_dim, activation)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """``z (..., z_dim)``, ``c (..., C)`` -> ``(..., H*W)``."""
        return self.net(_cat(z, c))
