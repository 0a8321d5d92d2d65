r"""Mode coverage of samples from a mixture with known modes (the eight-Gaussians ring).

A sample *belongs* to mode :math:`k` when it lies within ``n_sigma`` standard deviations of the
mode's mean (and of no nearer mode); it is *high quality* when it belongs to some mode. A mode
is *covered* when at least ``min_fraction`` of all samples belong to it (1% of the samples by
default, an eighth of the 12.5% a mode holds under the data).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..validation import check_nonneg

__all__ = ["ModeCoverage", "mode_coverage"]


class ModeCoverage(NamedTuple):
    """Attributes:
    counts: ``(K,)`` samples that belong to each mode. covered: ``(K,)`` bool.
    n_covered: number of covered modes. high_quality: share of samples that belong to a mode.
    """

    counts: torch.Tensor
    covered: torch.Tensor
    n_covered: int
    high_quality: float


def mode_coverage(samples: torch.Tensor, means: torch.Tensor, std: float, n_sigma: float = 3.0,
                  min_fraction: float = 0.01) -> ModeCoverage:
    r"""Which modes of an isotropic mixture the samples reach, and how many samples are on a mode.

    .. math:: \text{belongs}(x) = \arg\min_k \lVert x - \mu_k\rVert \ \text{ if }\
              \min_k \lVert x - \mu_k\rVert < n_\sigma\,\sigma, \text{ else none}.

    Args:
        samples: ``(N, D)``. means: ``(K, D)`` mode centres. std: the modes' standard deviation.
        n_sigma: radius in standard deviations. min_fraction: share of the ``N`` samples a
            mode needs to count as covered, in [0, 1].

    Returns:
        A :class:`ModeCoverage`.
    """
    if not torch.is_tensor(samples) or samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError(f"samples must be a non-empty (N, D) tensor, got "
                         f"{getattr(samples, 'shape', samples)}")
    if (not torch.is_tensor(means) or means.ndim != 2 or means.shape[1] != samples.shape[1]
            or means.shape[0] < 1):
        raise ValueError(f"means must be (K, {samples.shape[1]}), got {getattr(means, 'shape', means)}")
    if not bool(torch.isfinite(samples).all()):
        raise ValueError("samples contains NaN or infinite values")
    if check_nonneg(std, "std") == 0:
        raise ValueError("std must be > 0")
    if check_nonneg(n_sigma, "n_sigma") == 0:
        raise ValueError("n_sigma must be > 0")
    if not 0 <= check_nonneg(min_fraction, "min_fraction") <= 1:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    d = torch.cdist(samples.double(), means.to(samples.device).double())  # (N, K)
    dmin, nearest = d.min(1)
    on_mode = dmin < n_sigma * std
    counts = torch.bincount(nearest[on_mode], minlength=means.shape[0])
    covered = counts >= max(1, math.ceil(min_fraction * samples.shape[0]))
    return ModeCoverage(counts, covered, int(covered.sum()), float(on_mode.double().mean()))
