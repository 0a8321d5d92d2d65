r"""A small U-Net :math:`f(x, t, y)` for one-channel images (8x8 digits, 28x28 MNIST).

Layout (``channels = (c_0, ..., c_{L-1})``; every block sees the embedding ``e(t, y)``)::

    x (B,1,H,W) -> conv -> [Res(c_0) -> down] -> ... -> [Res(c_{L-1}) -> down] -> Res (middle)
                  skips:   h_0 (H,W)            ...     h_{L-1} (H/2^{L-1})
    ... -> [up to h_{L-1}'s size, concat h_{L-1}, Res(c_{L-1})] -> ... -> [up, concat h_0, Res(c_0)]
        -> GroupNorm -> SiLU -> conv -> (B,1,H,W)

Down-sampling is a stride-2 convolution (padding 1: a side ``n`` becomes ``ceil(n/2)``) and
up-sampling is nearest-neighbour interpolation *to the skip's size*, so any ``H, W`` works
(28 -> 14 -> 7 and back, 8 -> 4 -> 2 and back). The embedding is
:math:`e = \mathrm{MLP}(\mathrm{sinusoid}(t)) + E[y]` with a learned row ``E[n_classes]`` for
the null label (classifier-free guidance drops labels to it); each residual block adds a
per-channel projection of ``e`` to its feature maps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_t, check_x, check_y, seeded
from .embedding import SinusoidalEmbedding

__all__ = ["UNetConfig", "UNet", "ResBlock"]


@dataclass(frozen=True)
class UNetConfig:
    """Sizes of a :class:`UNet`."""

    channels: tuple[int, ...] = (32, 64)   # widths per resolution level (one down-sampling each)
    time_dim: int = 32                     # sinusoidal embedding size of t
    time_scale: float = 1000.0             # t in [0, 1] is embedded like the DDPM step 1000 t
    n_classes: int = 0                     # labels 0..n_classes-1; n_classes = the null label
    groups: int = 8                        # GroupNorm groups (capped by the channel count)
    in_channels: int = 1                   # image channels (output has the same)
    seed: int = 0                          # seeds the initial weights

    def __post_init__(self):
        if not self.channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                                    for c in self.channels):
            raise ValueError(f"channels must be a non-empty tuple of positive ints, got {self.channels!r}")
        for name in ("time_dim", "groups", "in_channels"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.time_dim % 2:
            raise ValueError(f"time_dim must be even, got {self.time_dim}")
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int) or self.n_classes < 0:
            raise ValueError(f"n_classes must be a non-negative int, got {self.n_classes!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    def smoke(self) -> UNetConfig:
        """The tiny variant: widths (8, 16), a 16-dim time embedding."""
        return replace(self, channels=tuple(min(c, 8 * 2**i) for i, c in enumerate(self.channels)),
                       time_dim=min(self.time_dim, 16), groups=min(self.groups, 4))


def _norm(c: int, groups: int) -> nn.GroupNorm:
    g = groups
    while c % g:  # the largest divisor of c not above `groups`
        g -= 1
    return nn.GroupNorm(g, c)


class ResBlock(nn.Module):
    """``x (B,C_in,H,W), e (B,E) -> (B,C_out,H,W)``: two norm-SiLU-conv layers plus a skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = _norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(e).view(e.shape[0], -1, 1, 1)  # per-channel shift from e(t, y)
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    """``f(x, t, y)``: ``x (B,C,H,W)``, ``t (B,)``, ``y (B,)`` ints or None -> ``(B,C,H,W)``.

    Args:
        cfg: a :class:`UNetConfig`; the weights are seeded by ``cfg.seed``.
    """

    def __init__(self, cfg: UNetConfig | None = None):
        super().__init__()
        cfg = UNetConfig() if cfg is None else cfg
        if not isinstance(cfg, UNetConfig):
            raise ValueError(f"cfg must be a UNetConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        ch, emb, g = cfg.channels, 4 * cfg.channels[0], cfg.groups
        with seeded(cfg.seed):
            self.time_embed = nn.Sequential(SinusoidalEmbedding(cfg.time_dim, cfg.time_scale),
                                            nn.Linear(cfg.time_dim, emb), nn.SiLU(), nn.Linear(emb, emb))
            self.label_embed = nn.Embedding(cfg.n_classes + 1, emb) if cfg.n_classes else None
            self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
            ins = (ch[0], *ch[:-1])
            self.down = nn.ModuleList(ResBlock(a, b, emb, g) for a, b in zip(ins, ch, strict=True))
            self.pool = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in ch)
            self.mid = ResBlock(ch[-1], ch[-1], emb, g)
            ups, prev = [], ch[-1]
            for c in reversed(ch):
                ups.append(ResBlock(prev + c, c, emb, g))
                prev = c
            self.up = nn.ModuleList(ups)
            self.norm_out, self.conv_out = _norm(ch[0], g), nn.Conv2d(ch[0], cfg.in_channels, 3, padding=1)

    def embed(self, t: torch.Tensor, y: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
        """The conditioning vector ``e(t, y)``, ``(B, 4 c_0)``; ``y=None`` means the null label."""
        e = self.time_embed(t.to(dtype))
        if self.label_embed is not None:
            if y is None:
                y = torch.full(t.shape, self.cfg.n_classes, dtype=torch.int64, device=t.device)
            check_y(y, t.shape[0], self.cfg.n_classes)
            e = e + self.label_embed(y).to(dtype)
        elif y is not None:
            check_y(y, t.shape[0], 0)  # raises: no class conditioning
        return e

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_x(x, "x", ndim=4, channels=self.cfg.in_channels)
        check_t(t, x.shape[0])
        e = self.embed(t, y, x.dtype)  # (B, E)
        h, skips = self.conv_in(x), []
        for block, pool in zip(self.down, self.pool, strict=True):
            h = block(h, e)
            skips.append(h)
            h = pool(h)  # side n -> ceil(n / 2)
        h = self.mid(h, e)
        for block in self.up:
            s = skips.pop()
            h = F.interpolate(h, size=s.shape[-2:], mode="nearest")
            h = block(torch.cat([h, s], dim=1), e)
        return self.conv_out(F.silu(self.norm_out(h)))
