r"""Memorisation: how close each sample is to its nearest training image.

.. math:: d(x) = \min_{n} \lVert x - x^{\text{train}}_n \rVert_2 ,

which on binary images is the square root of the number of pixels that differ. A sample that
copies a training image has :math:`d = 0`. What counts as "close" is read off held-out data: the
share of samples closer to the training set than the ``quantile`` of the test images' own
nearest-training distances (a fresh draw from the data distribution lands there with
probability ``quantile``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..validation import check_int, check_matrix

__all__ = ["nearest_distances", "copy_fraction", "Memorisation", "memorisation"]


def nearest_distances(x: torch.Tensor, reference: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    r"""Euclidean distance from each row of ``x`` to its nearest row of ``reference``: ``(N,)`` float64.

    Args:
        x: ``(N, D)`` samples. reference: ``(M, D)`` (e.g. the training images).
        batch_size: rows of ``x`` per distance matrix (memory ~ ``batch_size * M``).
    """
    x = check_matrix(x, "x", dtype=torch.float64)
    reference = check_matrix(reference, "reference", dim=x.shape[1], dtype=torch.float64).to(x.device)
    check_int(batch_size, "batch_size")
    out = [torch.cdist(x[i:i + batch_size], reference).min(1).values
           for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out)


def copy_fraction(d_samples: torch.Tensor, d_reference: torch.Tensor, quantile: float = 0.01) -> float:
    """Share of ``d_samples`` strictly below the ``quantile`` of ``d_reference`` (both 1-D, >= 0)."""
    for name, d in (("d_samples", d_samples), ("d_reference", d_reference)):
        if not torch.is_tensor(d) or d.ndim != 1 or d.numel() == 0:
            got = getattr(d, "shape", type(d).__name__)
            raise ValueError(f"{name} must be a non-empty 1-D tensor, got {got}")
        if not bool(torch.isfinite(d).all()) or bool((d < 0).any()):
            raise ValueError(f"{name} must be finite and non-negative")
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    threshold = torch.quantile(d_reference.double().cpu(), quantile)
    return float((d_samples.double().cpu() < threshold).double().mean())


class Memorisation(NamedTuple):
    """Median nearest-training distance of the samples (and of the test images), and the copy share."""

    median: float
    median_test: float
    copies: float
    quantile: float


def memorisation(samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor,
                 quantile: float = 0.01) -> Memorisation:
    """:func:`nearest_distances` of ``samples`` and ``test`` to ``train``, summarised."""
    d_s, d_t = nearest_distances(samples, train), nearest_distances(test, train)
    return Memorisation(float(d_s.median()), float(d_t.median()), copy_fraction(d_s, d_t, quantile), quantile)
