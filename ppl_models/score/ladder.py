r"""The noise ladder of a noise-conditional score network (NCSN).

Song & Ermon (2019) use levels :math:`\sigma_1 > \sigma_2 > \dots > \sigma_L` in geometric
progression: :math:`\sigma_1` large enough that the perturbed modes overlap (so Langevin
dynamics can move between them), :math:`\sigma_L` small enough that :math:`p_{\sigma_L}` is
close to the data, and a constant ratio so neighbouring perturbed densities overlap.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_int, check_positive

__all__ = ["geometric_sigmas", "check_ladder", "overlap_ratio"]


def geometric_sigmas(sigma_max: float, sigma_min: float, L: int, *, dtype: torch.dtype = torch.float64,
                     device: torch.device | str | None = None) -> torch.Tensor:
    r"""A decreasing geometric ladder from ``sigma_max`` to ``sigma_min``.

    .. math::
        \sigma_i = \sigma_{\max}\Big(\frac{\sigma_{\min}}{\sigma_{\max}}\Big)^{(i-1)/(L-1)},
        \qquad i = 1, \dots, L,

    so :math:`\sigma_1 = \sigma_{\max}`, :math:`\sigma_L = \sigma_{\min}` and every ratio
    :math:`\sigma_{i+1}/\sigma_i = (\sigma_{\min}/\sigma_{\max})^{1/(L-1)}`.

    Args:
        sigma_max: largest level, ``> sigma_min``.
        sigma_min: smallest level, ``> 0``.
        L: number of levels, ``>= 2``.
        dtype, device: of the returned tensor.

    Returns:
        ``(L,)`` tensor, strictly decreasing.
    """
    sigma_max = check_positive(sigma_max, "sigma_max")
    sigma_min = check_positive(sigma_min, "sigma_min")
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must be > sigma_min, got sigma_max={sigma_max}, sigma_min={sigma_min}")
    L = check_int(L, "L", low=2)
    exponents = torch.linspace(0.0, 1.0, L, dtype=torch.float64, device=device)  # (i - 1) / (L - 1)
    sigmas = sigma_max * torch.exp(exponents * math.log(sigma_min / sigma_max))
    sigmas[0], sigmas[-1] = sigma_max, sigma_min  # exact endpoints
    return sigmas.to(dtype=dtype)


def check_ladder(sigmas, name: str = "sigmas") -> torch.Tensor:
    """A 1-D floating tensor of finite, positive, strictly decreasing noise levels."""
    if not torch.is_tensor(sigmas) or sigmas.ndim != 1 or sigmas.shape[0] < 1:
        got = tuple(sigmas.shape) if torch.is_tensor(sigmas) else type(sigmas).__name__
        raise ValueError(f"{name} must be a 1-D tensor of noise levels, got {got}")
    if not torch.is_floating_point(sigmas):
        raise ValueError(f"{name} must be a floating-point tensor, got {sigmas.dtype}")
    if not bool(torch.isfinite(sigmas).all()) or bool((sigmas <= 0).any()):
        raise ValueError(f"{name} must be finite and > 0")
    if sigmas.shape[0] > 1 and not bool((sigmas[1:] < sigmas[:-1]).all()):
        raise ValueError(f"{name} must be strictly decreasing (sigma_1 > ... > sigma_L)")
    return sigmas


def overlap_ratio(dim: int, overlap: float = 0.5) -> float:
    r"""The ladder ratio :math:`\gamma = \sigma_i/\sigma_{i+1}` at which neighbouring levels overlap.

    Song & Ermon (2020, technique 2): for data of dimension :math:`D`, a sample of
    :math:`\mathcal N(0, \sigma_i^2 I)` has norm about :math:`\sigma_i\sqrt D` with spread
    :math:`\sigma_i/\sqrt2`; requiring that level :math:`i+1`'s shell covers level :math:`i`'s
    norm with probability ``overlap`` gives

    .. math::
        \Phi\big(\sqrt{2D}(\gamma - 1) + 3\gamma\big) - \Phi\big(\sqrt{2D}(\gamma - 1) - 3\gamma\big)
        = \text{overlap},

    solved for :math:`\gamma > 1` by bisection (the left side decreases in :math:`\gamma` over the
    root's range). The number of levels between :math:`\sigma_{\max}` and :math:`\sigma_{\min}` is
    then :math:`1 + \lceil\log(\sigma_{\max}/\sigma_{\min})/\log\gamma\rceil`.

    Args:
        dim: data dimension :math:`D \ge 1`.
        overlap: the target probability, in ``(0, 1)`` and below the value at :math:`\gamma = 1`.

    Returns:
        :math:`\gamma > 1`.
    """
    dim = check_int(dim, "dim", low=1)
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not (0.0 < overlap < 1.0):
        raise ValueError(f"overlap must be a number in (0, 1), got {overlap!r}")
    root2d = math.sqrt(2.0 * dim)

    def coverage(g: float) -> float:
        phi = lambda u: 0.5 * math.erfc(-u / math.sqrt(2.0))  # noqa: E731  standard normal CDF
        return phi(root2d * (g - 1.0) + 3.0 * g) - phi(root2d * (g - 1.0) - 3.0 * g)

    if not overlap < coverage(1.0):
        raise ValueError(f"overlap must be < {coverage(1.0):.6f} (the coverage at gamma = 1), "
                         f"got {overlap!r}")
    lo, hi = 1.0, 2.0
    while coverage(hi) > overlap:
        hi *= 2.0
        if hi > 1e6:
            raise ValueError(f"dim={dim} is too small: the coverage never falls to overlap={overlap!r}")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if coverage(mid) > overlap else (lo, mid)
    return 0.5 * (lo + hi)
