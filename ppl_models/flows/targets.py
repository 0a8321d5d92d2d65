r"""Two 2-D data densities with exact log-densities, matching :func:`ppl_models.data.make_toy_2d`.

* :class:`TwoMoons`: each of two half circles of radius 1 (the geometry of ``"two_moons"``) with
  probability 1/2, a uniform angle :math:`\theta \in [0, \pi]` and isotropic Gaussian noise ``noise``:

  .. math:: p(x) = \sum_{m=1}^2 \frac{1}{2\pi}\int_0^\pi \mathcal N(x;\ c_m(\theta),\ s^2 I)\,d\theta ,

  computed by Gauss–Legendre quadrature in :math:`\theta` (``n_nodes`` nodes; with 512 nodes the
  node spacing is far below the noise width, so the result is exact to float64 rounding for
  ``noise >= 0.02``).
* :class:`Checkerboard`: the uniform density on the 8 unit squares of ``"checkerboard"`` in
  :math:`[-2, 2]^2`, :math:`\log p = -\log 8` on them; with ``noise > 0`` the convolution with
  :math:`\mathcal N(0, s^2 I)` in closed form, a product of normal CDF differences per square.

Both offer ``log_prob(x) -> (N,)`` and ``sample(n, generator) -> (n, 2)`` in float64 by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..diffusion._checks import check_generator, check_int
from ..validation import check_nonneg

__all__ = ["TwoMoons", "Checkerboard"]

_MOON_SHIFT = (0.5, 0.25)


def _check_points(x) -> torch.Tensor:
    if not torch.is_tensor(x) or not torch.is_floating_point(x) or x.ndim != 2 or x.shape[1] != 2:
        got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"x must be a floating-point (N, 2) tensor, got {got}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    return x


@dataclass(frozen=True)
class TwoMoons:
    """The two-moons density of ``make_toy_2d("two_moons", noise=noise)`` (module docstring)."""

    noise: float = 0.05    # std of the Gaussian noise around the arcs
    n_nodes: int = 512     # Gauss-Legendre nodes on [0, pi]

    def __post_init__(self):
        if check_nonneg(self.noise, "noise") == 0:
            raise ValueError("noise must be > 0 (arcs without noise have no density in the plane)")
        check_int(self.n_nodes, "n_nodes", low=2)

    def centres(self, theta: torch.Tensor) -> torch.Tensor:
        """``(2, T, 2)`` points of both arcs at angles ``theta (T,)``."""
        c, s = torch.cos(theta), torch.sin(theta)
        a = torch.stack([c - _MOON_SHIFT[0], s - _MOON_SHIFT[1]], -1)
        b = torch.stack([1 - c - _MOON_SHIFT[0], 0.5 - s - _MOON_SHIFT[1]], -1)
        return torch.stack([a, b])

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``(N,)`` exact log-density (quadrature in the angle)."""
        x = _check_points(x)
        nodes, weights = np.polynomial.legendre.leggauss(self.n_nodes)
        theta = torch.as_tensor((nodes + 1) * math.pi / 2, dtype=x.dtype, device=x.device)
        log_w = torch.as_tensor(np.log(weights * math.pi / 2), dtype=x.dtype, device=x.device)
        cen = self.centres(theta).reshape(-1, 2)                                        # (2T, 2)
        out = []
        for s in range(0, x.shape[0], 4096):                                            # bounded memory
            sq = torch.cdist(x[s : s + 4096], cen).pow(2)                               # (n, 2T)
            log_n = -0.5 * sq / self.noise**2 - math.log(2 * math.pi * self.noise**2)
            out.append(torch.logsumexp(log_n + log_w.repeat(2), dim=1) - math.log(2 * math.pi))
        return torch.cat(out)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
               device=None) -> torch.Tensor:
        """``(n, 2)`` draws: a fair choice of arc, a uniform angle, Gaussian noise."""
        n = check_int(n, "n", low=1)
        check_generator(generator)
        theta = math.pi * torch.rand(n, generator=generator, dtype=dtype, device=device)
        arc = torch.randint(0, 2, (n,), generator=generator, device=device)
        cen = self.centres(theta)                                                       # (2, n, 2)
        pts = torch.where((arc == 0).unsqueeze(1), cen[0], cen[1])
        return pts + self.noise * torch.randn(n, 2, generator=generator, dtype=dtype, device=device)


@dataclass(frozen=True)
class Checkerboard:
    """The checkerboard density of ``make_toy_2d("checkerboard", noise=noise)`` (module docstring)."""

    noise: float = 0.0     # std of Gaussian noise convolved with the uniform squares

    def __post_init__(self):
        check_nonneg(self.noise, "noise")

    @staticmethod
    def squares() -> torch.Tensor:
        """``(8, 2)`` lower-left corners of the unit squares carrying the mass."""
        out = []
        for col in (-2, -1, 0, 1):
            off = col % 2
            out += [(col, -2 + off), (col, off)]
        return torch.tensor(out, dtype=torch.float64)  # device-free: constants, moved by the caller

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        r"""``(N,)`` bool: whether each point lies on one of the eight closed unit squares.

        :math:`x \in \bigcup_k [a_k, a_k + 1]^2` with :math:`a_k` the rows of :meth:`squares`; the
        noise is ignored (the support of the noise-free density). A uniform point of the box
        :math:`[-2, 2]^2` lands on a square with probability 1/2.
        """
        x = _check_points(x)
        d = x.unsqueeze(1) - self.squares().to(x.device, x.dtype)                      # (N, 8, 2)
        return ((d >= 0) & (d <= 1)).all(-1).any(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``(N,)`` exact log-density (``-inf`` off the squares when ``noise = 0``)."""
        x = _check_points(x)
        lo = self.squares().to(x.device, x.dtype)                                      # (8, 2)
        d = x.unsqueeze(1) - lo                                                         # (N, 8, 2)
        if self.noise == 0:
            inside = self.contains(x)
            return torch.where(inside, torch.full_like(x[:, 0], -math.log(8)),
                               torch.full_like(x[:, 0], -math.inf))
        std = torch.distributions.Normal(torch.zeros((), dtype=x.dtype, device=x.device), 1.0)
        mass = (std.cdf(d / self.noise) - std.cdf((d - 1) / self.noise)).prod(-1)      # (N, 8)
        return torch.log(mass.sum(-1) / 8)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
               device=None) -> torch.Tensor:
        """``(n, 2)`` draws: a uniform square, a uniform point in it, Gaussian noise."""
        n = check_int(n, "n", low=1)
        check_generator(generator)
        sq = torch.randint(0, 8, (n,), generator=generator, device=device)
        u = torch.rand(n, 2, generator=generator, dtype=dtype, device=device)
        x = self.squares().to(device=u.device, dtype=dtype)[sq] + u
        if self.noise > 0:
            x = x + self.noise * torch.randn(n, 2, generator=generator, dtype=dtype, device=device)
        return x
