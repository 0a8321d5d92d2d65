r"""Sample quality: distances between a set of generated samples and a reference set.

Every metric compares two sets of feature vectors, ``(N, F)`` torch tensors or numpy arrays
(e.g. the penultimate-layer activations of a classifier, or the raw coordinates of 2-D toy
data). Computation is in float64 numpy on the CPU whatever the input device.

- **Fréchet distance** (FD; FID with Inception features, Heusel et al. 2017) between the
  Gaussians with the sets' means and covariances:

  .. math:: \mathrm{FD} = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
            - 2\operatorname{tr}\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}.

- **Kernel distance** (KD; KID, Bińkowski et al. 2018): the unbiased estimate of
  :math:`\mathrm{MMD}^2` with the cubic polynomial kernel :math:`k(x,y) = (x^\top y/F + 1)^3`.
- **Precision / recall / density / coverage** on k-nearest-neighbour balls (Kynkäänniemi et
  al. 2019; Naeem et al. 2020), exactly as the reference ``prdc`` package computes them.
- **RBF-kernel MMD** with the median-heuristic bandwidth, and the **exact 2-Wasserstein
  distance** between two equal-size empirical samples (an optimal assignment).

:func:`floor` scores training images against test images: what a perfect model would get.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from ..validation import check_int, check_nonneg

__all__ = [
    "frechet_distance", "frechet_distance_from_moments", "kernel_distance", "kernel_distance_subsets",
    "PRDC", "prdc", "mmd_rbf", "wasserstein2_empirical", "SampleQuality", "sample_quality",
    "compute_features", "floor",
]

Array = torch.Tensor | np.ndarray


# ----------------------------------------------------------------------------- validation
def _as_float64(x, name: str, ndim: int) -> np.ndarray:
    """``x`` as a finite float64 numpy array with ``ndim`` dimensions (torch or numpy input)."""
    if torch.is_tensor(x):
        if x.is_complex():
            raise ValueError(f"{name} must be real, got {x.dtype}")
        x = x.detach().to("cpu", torch.float64).numpy()
    elif isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
            raise ValueError(f"{name} must be a real numeric array, got dtype {x.dtype}")
        x = x.astype(np.float64)
    else:
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _features(x, name: str, min_rows: int) -> np.ndarray:
    x = _as_float64(x, name, 2)
    if x.shape[0] < min_rows or x.shape[1] < 1:
        raise ValueError(f"{name} needs at least {min_rows} row(s) and 1 column, got shape {x.shape}")
    return x


def _pair(a, b, names: tuple[str, str], min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _features(a, names[0], min_rows), _features(b, names[1], min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[1]} has {b.shape[1]} features but {names[0]} has {a.shape[1]}")
    return a, b


def _describe(x) -> str:
    return f"shape {tuple(x.shape)}" if hasattr(x, "shape") else type(x).__name__


# ----------------------------------------------------------------------------- Fréchet distance
def _sqrtm_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix; rounding-negative eigenvalues -> 0."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _check_cov(sigma, name: str, dim: int) -> np.ndarray:
    s = _as_float64(sigma, name, 2)
    if s.shape != (dim, dim):
        raise ValueError(f"{name} must have shape {(dim, dim)}, got {s.shape}")
    scale = max(float(np.abs(s).max()), 1e-300)
    if np.abs(s - s.T).max() > 1e-8 * scale:
        raise ValueError(f"{name} must be symmetric")
    s = 0.5 * (s + s.T)
    if np.linalg.eigvalsh(s)[0] < -1e-8 * scale:
        raise ValueError(f"{name} must be positive semi-definite")
    return s


def frechet_distance_from_moments(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    r"""Fréchet (2-Wasserstein squared) distance between :math:`\mathcal N(\mu_1,\Sigma_1)` and
    :math:`\mathcal N(\mu_2,\Sigma_2)`.

    .. math:: d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
              - 2\operatorname{tr}\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}

    Computed in float64 without complex arithmetic: :math:`\Sigma_1^{1/2}` by a symmetric
    eigendecomposition, then the trace term as :math:`\sum_i \sqrt{\lambda_i}` over the eigenvalues
    of the symmetric PSD matrix :math:`M = \Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (which equal those
    of :math:`\Sigma_1\Sigma_2`, so this is the usual :math:`\operatorname{tr}\sqrt{\Sigma_1\Sigma_2}`).
    Eigenvalues that rounding makes slightly negative (singular covariances, e.g. fewer samples
    than features) are set to 0 before the square root, and a result of :math:`-10^{-12}` from
    cancellation is returned as 0. There is no imaginary part to discard.

    Args:
        mu1, mu2: ``(F,)`` means. sigma1, sigma2: ``(F, F)`` symmetric PSD covariances.

    Returns:
        the squared distance (a float >= 0).
    """
    m1 = _as_float64(mu1, "mu1", 1)
    m2 = _as_float64(mu2, "mu2", 1)
    if m1.shape != m2.shape or m1.shape[0] < 1:
        raise ValueError(f"mu2 has shape {m2.shape} but mu1 has {m1.shape} (need equal, non-empty)")
    s1 = _check_cov(sigma1, "sigma1", m1.shape[0])
    s2 = _check_cov(sigma2, "sigma2", m1.shape[0])
    s1h = _sqrtm_psd(s1)
    m = s1h @ s2 @ s1h
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (m + m.T)), 0.0, None)).sum()
    diff = m1 - m2
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean), 0.0)


def frechet_distance(feats_samples: Array, feats_reference: Array) -> float:
    r"""Fréchet distance between the Gaussians fitted to two feature sets (FID's formula).

    Means and unbiased covariances (divisor :math:`N-1`, as in pytorch-fid) of each set, then
    :func:`frechet_distance_from_moments`.

    Args:
        feats_samples: ``(N, F)`` features of generated samples. feats_reference: ``(M, F)``.
    """
    a, b = _pair(feats_samples, feats_reference, ("feats_samples", "feats_reference"), 2)
    return frechet_distance_from_moments(a.mean(0), np.atleast_2d(np.cov(a, rowvar=False)),
                                         b.mean(0), np.atleast_2d(np.cov(b, rowvar=False)))


# ----------------------------------------------------------------------------- kernel distances
def _sqeuclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` squared distances via one matrix product (rounding negatives clipped to 0)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.clip(sq, 0.0, None)


def _kid_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    def cubic(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        t = (u @ v.T) / x.shape[1] + 1.0
        return t * t * t

    kxx, kyy, kxy = cubic(x, x), cubic(y, y), cubic(x, y)
    m, n = x.shape[0], y.shape[0]
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kernel_distance(feats_samples: Array, feats_reference: Array) -> float:
    r"""Unbiased :math:`\mathrm{MMD}^2` with the cubic polynomial kernel (KID's estimator).

    .. math:: \widehat{\mathrm{MMD}}^2_u = \frac{\sum_{i\ne j}k(x_i,x_j)}{m(m-1)}
              + \frac{\sum_{i\ne j}k(y_i,y_j)}{n(n-1)} - \frac{2}{mn}\sum_{i,j}k(x_i,y_j),
              \qquad k(x,y) = \big(x^\top y / F + 1\big)^3

    Unbiased, so it averages to 0 between two samples of one distribution and can be negative.

    Args:
        feats_samples: ``(m, F)``, m >= 2. feats_reference: ``(n, F)``, n >= 2.
    """
    x, y = _pair(feats_samples, feats_reference, ("feats_samples", "feats_reference"), 2)
    return _kid_mmd2(x, y)


def kernel_distance_subsets(feats_samples: Array, feats_reference: Array, n_subsets: int = 100,
                            subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID as usually reported: :func:`kernel_distance` on ``n_subsets`` random subsets.

    Each subset draws ``subset_size`` rows of each set without replacement (numpy generator
    seeded with ``seed``).

    Returns:
        ``(mean, std)`` over the subsets (population std, as torch-fidelity reports it).
    """
    x, y = _pair(feats_samples, feats_reference, ("feats_samples", "feats_reference"), 2)
    check_int(n_subsets, "n_subsets", low=1)
    check_int(subset_size, "subset_size", low=2)
    if subset_size > min(len(x), len(y)):
        raise ValueError(f"subset_size must be <= the smaller set's size {min(len(x), len(y))}, "
                         f"got {subset_size}")
    check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    vals = [_kid_mmd2(x[rng.choice(len(x), subset_size, replace=False)],
                      y[rng.choice(len(y), subset_size, replace=False)]) for _ in range(n_subsets)]
    return float(np.mean(vals)), float(np.std(vals))


def mmd_rbf(x: Array, y: Array, bandwidth: float | None = None) -> float:
    r"""Squared maximum mean discrepancy with a Gaussian (RBF) kernel, V-statistic.

    .. math:: \mathrm{MMD}^2 = \overline{k(x,x')} + \overline{k(y,y')} - 2\,\overline{k(x,y)},
              \qquad k(a,b) = \exp\!\big(-\lVert a-b\rVert^2 / (2h^2)\big)

    with all pairs (diagonals included) averaged, so it is >= 0, exactly symmetric in
    ``(x, y)`` up to rounding, and 0 for identical samples. The default bandwidth ``h`` is the
    median heuristic: the median Euclidean distance between distinct rows of the pooled sample
    :math:`[x; y]` (pairs :math:`i<j`).

    Args:
        x: ``(m, F)``. y: ``(n, F)``. bandwidth: ``h > 0``, or None for the median heuristic.
    """
    a, b = _pair(x, y, ("x", "y"), 1)
    if bandwidth is None:
        z = np.concatenate([a, b])
        if len(z) < 2:
            raise ValueError("x and y need 2 rows in total for the median-heuristic bandwidth")
        dz = np.sqrt(_sqeuclidean(z, z)[np.triu_indices(len(z), 1)])
        bandwidth = float(np.median(dz))
        if bandwidth <= 0:
            raise ValueError("bandwidth: the median pairwise distance is 0; pass a bandwidth > 0")
    elif check_nonneg(bandwidth, "bandwidth") == 0:
        raise ValueError("bandwidth must be > 0 (or None for the median heuristic), got 0")
    g = -0.5 / float(bandwidth) ** 2
    kxx = np.exp(g * _sqeuclidean(a, a)).mean()
    kyy = np.exp(g * _sqeuclidean(b, b)).mean()
    kxy = np.exp(g * _sqeuclidean(a, b)).mean()
    return max(float(kxx + kyy - 2.0 * kxy), 0.0)


def wasserstein2_empirical(x: Array, y: Array) -> float:
    r"""Exact 2-Wasserstein distance between two empirical measures with ``N`` atoms each.

    .. math:: W_2 = \Big(\min_{\pi \in S_N} \frac1N \sum_{i=1}^N \lVert x_i - y_{\pi(i)}\rVert^2\Big)^{1/2}

    With equal uniform weights an optimal coupling is a permutation (Birkhoff), found by
    ``scipy.optimize.linear_sum_assignment`` on the squared-distance matrix (O(N^3); N = 1,000
    takes about half a second on one CPU core). The value is then summed from the matched
    pairs' differences. Any dimension F.

    Args:
        x, y: ``(N, F)`` with the same N and F.
    """
    a, b = _pair(x, y, ("x", "y"), 1)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"y has {b.shape[0]} rows but x has {a.shape[0]}; the assignment needs equal sizes")
    row, col = linear_sum_assignment(cdist(a, b, "sqeuclidean"))
    return math.sqrt(float(np.mean(np.sum((a[row] - b[col]) ** 2, axis=1))))


# ----------------------------------------------------------------------------- PRDC
@dataclasses.dataclass(frozen=True)
class PRDC:
    """Precision, recall, density and coverage of samples against a reference set."""

    precision: float
    recall: float
    density: float
    coverage: float


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(_sqeuclidean(a, b))


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row to its k-th nearest other row (the row itself counts as 0th)."""
    d = _euclidean(x, x)
    np.fill_diagonal(d, 0.0)
    return np.partition(d, k, axis=1)[:, k]


def prdc(feats_samples: Array, feats_reference: Array, k: int = 5) -> PRDC:
    r"""Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020).

    With :math:`r_k(u)` the distance from :math:`u` to its k-th nearest neighbour within its own
    set, reference points :math:`X_{1..N}` and samples :math:`Y_{1..M}`:

    .. math:: \mathrm{precision} = \tfrac1M\textstyle\sum_j
              \mathbb 1[\exists i: \lVert Y_j - X_i\rVert < r_k(X_i)],
              \qquad \mathrm{recall} = \tfrac1N\sum_i \mathbb 1[\exists j: \lVert X_i - Y_j\rVert < r_k(Y_j)],

    .. math:: \mathrm{density} = \tfrac{1}{kM}\textstyle\sum_j\sum_i
              \mathbb 1[\lVert Y_j - X_i\rVert < r_k(X_i)],
              \qquad \mathrm{coverage} = \tfrac1N\sum_i
              \mathbb 1[\min_j \lVert X_i - Y_j\rVert < r_k(X_i)].

    Equals ``prdc.compute_prdc(real_features=feats_reference, fake_features=feats_samples,
    nearest_k=k)``. Memory is O((N + M)^2) float64.

    Args:
        feats_samples: ``(M, F)`` generated samples' features. feats_reference: ``(N, F)`` real
            (e.g. test) features. k: neighbours defining each ball; both sets need >= k + 1 rows.
    """
    check_int(k, "k")
    fake, real = _pair(feats_samples, feats_reference, ("feats_samples", "feats_reference"), k + 1)
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = _euclidean(real, fake)  # (N, M)
    inside_real = d < r_real[:, None]
    return PRDC(precision=float(inside_real.any(0).mean()),
                recall=float((d < r_fake[None, :]).any(1).mean()),
                density=float(inside_real.sum(0).mean() / k),
                coverage=float((d.min(1) < r_real).mean()))


# ----------------------------------------------------------------------------- summary and floor
@dataclasses.dataclass(frozen=True)
class SampleQuality:
    """The course's standard sample-quality summary (FD, KD and PRDC with one ``k``)."""

    fd: float
    kd: float
    precision: float
    recall: float
    density: float
    coverage: float

    def as_dict(self) -> dict[str, float]:
        """``{"fd": ..., "kd": ..., "precision": ..., ...}``."""
        return dataclasses.asdict(self)

    def row(self, label: str) -> dict[str, float | str]:
        """One table row: ``{"model": label, **as_dict()}`` (e.g. for ``pandas.DataFrame``)."""
        if not isinstance(label, str):
            raise ValueError(f"label must be a str, got {type(label).__name__}")
        return {"model": label, **self.as_dict()}


def sample_quality(feats_samples: Array, feats_reference: Array, k: int = 5) -> SampleQuality:
    """FD, KD and PRDC (with ``k`` neighbours) of samples against a reference, in one call.

    Args:
        feats_samples: ``(M, F)``. feats_reference: ``(N, F)``; both need >= k + 1 rows.
    """
    check_int(k, "k")
    a, b = _pair(feats_samples, feats_reference, ("feats_samples", "feats_reference"), max(k + 1, 2))
    p = prdc(a, b, k)
    return SampleQuality(fd=frechet_distance(a, b), kd=kernel_distance(a, b), precision=p.precision,
                         recall=p.recall, density=p.density, coverage=p.coverage)


def compute_features(feature_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                     batch_size: int = 500) -> np.ndarray:
    """``feature_fn`` applied to ``x (N, ...)`` in batches under ``torch.no_grad()``: ``(N, F)`` float64."""
    if not callable(feature_fn):
        raise ValueError(f"feature_fn must be callable, got {type(feature_fn).__name__}")
    if not torch.is_tensor(x) or x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must be a non-empty (N, ...) tensor, got {_describe(x)}")
    check_int(batch_size, "batch_size", low=1)
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            f = feature_fn(x[s : s + batch_size])
            if not torch.is_tensor(f) or f.ndim != 2 or f.shape[0] != min(batch_size, x.shape[0] - s):
                raise ValueError(f"feature_fn must return a (B, F) tensor, got {getattr(f, 'shape', f)}")
            out.append(f.detach().to("cpu", torch.float64).numpy())
    return np.concatenate(out)


def floor(feature_fn: Callable[[torch.Tensor], torch.Tensor], x_train: torch.Tensor,
          x_test: torch.Tensor, n: int = 1000, seed: int = 0, k: int = 5) -> SampleQuality:
    """The metrics of a perfect model: ``n`` training images scored as if they were samples.

    The reference is the first ``n`` test images (the set chapters score their samples
    against); the "samples" are ``n`` training images drawn without replacement with a
    ``torch.Generator`` seeded by ``seed``. A model's FD/KD cannot be expected below these
    values, nor its precision/recall/density/coverage above them, at this ``n``.

    Args:
        feature_fn: ``(B, ...) -> (B, F)`` features (e.g. the shared MNIST classifier's).
        x_train: ``(N_train, ...)``. x_test: ``(N_test, ...)``, same trailing shape.
        n: set size, ``k + 1 <= n <= min(N_train, N_test)``.
    """
    if not callable(feature_fn):
        raise ValueError(f"feature_fn must be callable, got {type(feature_fn).__name__}")
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if not torch.is_tensor(x) or x.ndim < 2:
            raise ValueError(f"{name} must be a (N, ...) tensor, got {_describe(x)}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"x_test rows have shape {tuple(x_test.shape[1:])}, "
                         f"x_train rows {tuple(x_train.shape[1:])}")
    check_int(k, "k")
    check_int(n, "n", low=k + 1)
    if n > min(len(x_train), len(x_test)):
        raise ValueError(f"n must be <= min(len(x_train), len(x_test)) = {min(len(x_train), len(x_test))}, "
                         f"got {n}")
    check_int(seed, "seed", low=0)
    idx = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))[:n]  # device-free: CPU
    f_train = compute_features(feature_fn, x_train[idx.to(x_train.device)])
    f_test = compute_features(feature_fn, x_test[:n])
    return sample_quality(f_train, f_test, k)
