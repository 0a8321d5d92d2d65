r"""Sinusoidal embedding of a time or noise level (Vaswani et al. 2017; Ho et al. 2020).

For a scalar :math:`s = \text{scale}\cdot t` and :math:`k = 0, \dots, d/2 - 1`,

.. math:: e(t) = \big[\sin(s\,\omega_k),\ \cos(s\,\omega_k)\big]_k, \qquad
          \omega_k = \text{max\_period}^{-k/(d/2)},

so every coordinate lies in :math:`[-1, 1]` and nearby times get nearby embeddings. With
``scale=1000`` a time :math:`t \in [0, 1]` is embedded like the integer DDPM step
:math:`1000\,t`; for a noise level :math:`\sigma` pass e.g. :math:`t = \tfrac14\log\sigma`
(EDM's ``c_noise``) with ``scale=1``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import check_t

__all__ = ["SinusoidalEmbedding"]


class SinusoidalEmbedding(nn.Module):
    """``t (B,) -> (B, dim)`` sinusoidal features (no parameters).

    Args:
        dim: embedding size (even, >= 2).
        scale: multiplies ``t`` before the sinusoids (1000 for ``t`` in [0, 1]).
        max_period: the slowest frequency's period.
    """

    def __init__(self, dim: int, scale: float = 1000.0, max_period: float = 10_000.0):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
        if not (scale > 0) or not (max_period > 1):
            raise ValueError(f"scale must be > 0 and max_period > 1, got {scale!r}, {max_period!r}")
        self.dim, self.scale, self.max_period = dim, float(scale), float(max_period)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """``t (B,)`` float -> ``(B, dim)`` in ``[-1, 1]``."""
        check_t(t, t.shape[0] if torch.is_tensor(t) and t.ndim >= 1 else -1)
        half = self.dim // 2
        k = torch.arange(half, device=t.device, dtype=t.dtype)
        freqs = torch.exp(-math.log(self.max_period) * k / half)  # (half,)
        arg = (self.scale * t).unsqueeze(-1) * freqs  # (B, half)
        return torch.cat([arg.sin(), arg.cos()], dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, scale={self.scale:g}, max_period={self.max_period:g}"
