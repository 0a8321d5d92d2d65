r"""Exact references for 2-D toys: Gaussian mixtures with closed-form perturbed densities and scores.

A Gaussian mixture :math:`p(x) = \sum_k w_k \mathcal N(x; m_k, C_k)` stays a Gaussian mixture
under the scaling-plus-noise corruption every diffusion and score model uses:

.. math:: Y = s X + \sigma \varepsilon,\ \varepsilon \sim \mathcal N(0, I)
          \quad\Longrightarrow\quad
          p_{s,\sigma}(y) = \sum_k w_k \,\mathcal N\big(y;\ s\,m_k,\ s^2 C_k + \sigma^2 I\big).

So its log-density, score :math:`\nabla_y \log p_{s,\sigma}(y)`, samples and the posterior mean
:math:`\mathbb E[X \mid Y = y]` are all available in closed form: the oracle every estimator
(score, epsilon, velocity, likelihood, log Z) is checked against before it meets images.
:math:`s` and :math:`\sigma` may differ per row (a diffusion model's per-sample noise level).

:func:`normalize_on_grid` turns any unnormalised 2-D log-density (an energy model, a flow)
into a normalised one by quadrature, so a chapter can report a true test NLL in nats.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from .validation import check_int, check_nonneg

__all__ = ["GaussianMixture2D", "eight_gaussians", "two_component", "GridDensity", "normalize_on_grid",
           "grid_log_prob"]

Level = float | torch.Tensor


def _tol(dtype: torch.dtype) -> float:
    return math.sqrt(torch.finfo(dtype).eps)


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture2D:
    r"""A Gaussian mixture :math:`\sum_k w_k \mathcal N(m_k, C_k)` with exact perturbed densities.

    Named for its use on 2-D toys; any dimension D works. Device and dtype follow the stored
    tensors (inputs are moved to them); float64 is the default of the constructors below.

    Attributes:
        weights: ``(K,)`` non-negative, summing to 1. means: ``(K, D)``.
        covs: ``(K, D, D)`` symmetric positive definite.
    """

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    def __post_init__(self) -> None:
        w, m, c = self.weights, self.means, self.covs
        for name, t, nd in (("weights", w, 1), ("means", m, 2), ("covs", c, 3)):
            if not torch.is_tensor(t) or not torch.is_floating_point(t) or t.ndim != nd:
                raise ValueError(f"{name} must be a floating-point tensor with {nd} dimension(s), "
                                 f"got {getattr(t, 'shape', type(t).__name__)}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or infinite values")
            if t.dtype != w.dtype or t.device != w.device:
                raise ValueError(f"{name} must share the dtype and device of weights")
        k, d = m.shape
        if k < 1 or d < 1 or w.shape != (k,) or c.shape != (k, d, d):
            raise ValueError(f"weights (K,), means (K, D), covs (K, D, D) disagree: "
                             f"{tuple(w.shape)}, {tuple(m.shape)}, {tuple(c.shape)}")
        if bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > _tol(w.dtype):
            raise ValueError(f"weights must be >= 0 and sum to 1, got {w.tolist()}")
        if bool(((c - c.transpose(-1, -2)).abs() > _tol(c.dtype) * c.abs().amax()).any()):
            raise ValueError("covs must be symmetric")
        if bool((torch.linalg.cholesky_ex(c).info != 0).any()):
            raise ValueError("covs must be positive definite")

    # ------------------------------------------------------------------ basic facts
    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    @property
    def device(self) -> torch.device:
        return self.means.device

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> GaussianMixture2D:
        """The same mixture with its tensors on ``device`` and/or in ``dtype``."""
        return GaussianMixture2D(*(t.to(device=device, dtype=dtype)
                                   for t in (self.weights, self.means, self.covs)))

    def mean(self) -> torch.Tensor:
        r"""The mixture mean :math:`\sum_k w_k m_k`, shape ``(D,)``."""
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        r""":math:`\sum_k w_k (C_k + m_k m_k^\top) - \mu\mu^\top`, shape ``(D, D)``."""
        mu = self.mean()
        outer = self.means[:, :, None] * self.means[:, None, :]                               # (K, D, D)
        second = torch.einsum("k,kij->ij", self.weights, self.covs + outer)
        return second - torch.outer(mu, mu)

    def perturbed(self, sigma: float, scale: float = 1.0) -> GaussianMixture2D:
        r"""The law of :math:`sX + \sigma\varepsilon`: means :math:`s m_k`, covs :math:`s^2C_k + \sigma^2 I`.

        ``sigma`` and ``scale`` are floats here (per-row levels give no single mixture).
        """
        if torch.is_tensor(sigma) or torch.is_tensor(scale):
            raise ValueError("sigma and scale must be Python floats in perturbed(), not tensors")
        sigma, scale = check_nonneg(sigma, "sigma"), _check_scale(scale)
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return GaussianMixture2D(self.weights, scale * self.means, scale**2 * self.covs + sigma**2 * eye)

    # ------------------------------------------------------------------ densities
    def _levels(self, sigma: Level, scale: Level, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s, sigma)`` as ``(M,)`` tensors, ``M`` in ``{1, n}``."""
        out = []
        for name, v in (("sigma", sigma), ("scale", scale)):
            if torch.is_tensor(v):
                if v.ndim > 1 or (v.ndim == 1 and v.shape[0] not in (1, n)):
                    raise ValueError(f"{name} must be a float or a tensor of shape ({n},), "
                                     f"got {tuple(v.shape)}")
                v = v.to(device=self.device, dtype=self.dtype).reshape(-1)
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(f"{name} contains NaN or infinite values")
            else:
                v = torch.tensor([check_nonneg(v, name)], dtype=self.dtype, device=self.device)
            if bool((v < 0).any()) or (name == "scale" and bool((v <= 0).any())):
                raise ValueError(f"{name} must be {'> 0' if name == 'scale' else '>= 0'}")
            out.append(v)
        sig, s = out
        m = max(len(sig), len(s))
        return s.expand(m), sig.expand(m)

    def _components(self, x: torch.Tensor, sigma: Level, scale: Level):
        r"""Per-component pieces of the perturbed mixture at ``x``, in each :math:`C_k`'s eigenbasis.

        With :math:`C_k = U_k \operatorname{diag}(\lambda_k) U_k^\top`, the perturbed covariance is
        :math:`U_k \operatorname{diag}(s^2\lambda_k + \sigma^2) U_k^\top`, so per-row levels cost only
        elementwise work (no per-row factorisation).

        Returns ``(log_joint (N, K), evecs (K, D, D), evals (K, D), var (M, K, D), proj (N, K, D),
        s (M,))``: ``log_joint = log w_k + log N(x; s m_k, s^2 C_k + sigma^2 I)``, ``var`` the
        perturbed eigenvalues and ``proj = U_k^T (x - s m_k)``.
        """
        x = self._check_x(x)
        s, sig = self._levels(sigma, scale, x.shape[0])
        evals, evecs = torch.linalg.eigh(self.covs)                                # (K, D), (K, D, D)
        var = s.view(-1, 1, 1) ** 2 * evals + sig.view(-1, 1, 1) ** 2                         # (M, K, D)
        diff = x[:, None, :] - s.view(-1, 1, 1) * self.means                                  # (N, K, D)
        proj = torch.einsum("nkd,kde->nke", diff, evecs)                                      # (N, K, D)
        maha = (proj.pow(2) / var).sum(-1)                                                    # (N, K)
        log_norm = -0.5 * (self.dim * math.log(2 * math.pi) + var.log().sum(-1) + maha)
        return self.weights.log() + log_norm, evecs, evals, var, proj, s

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or x.ndim != 2 or x.shape[1] != self.dim or not torch.is_floating_point(x):
            raise ValueError(f"x must be a floating-point (N, {self.dim}) tensor, "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x contains NaN or infinite values")
        return x.to(device=self.device, dtype=self.dtype)

    def log_prob(self, x: torch.Tensor, sigma: Level = 0.0, scale: Level = 1.0) -> torch.Tensor:
        r"""Exact :math:`\log p_{s,\sigma}(x) = \log\sum_k w_k\,\mathcal N(x; s m_k, s^2C_k + \sigma^2 I)`.

        Args:
            x: ``(N, D)``. sigma: noise std >= 0, a float or ``(N,)`` tensor (one per row).
            scale: the factor :math:`s > 0` on the clean data, a float or ``(N,)`` tensor.

        Returns:
            ``(N,)`` log-densities.
        """
        return torch.logsumexp(self._components(x, sigma, scale)[0], dim=-1)

    def score(self, x: torch.Tensor, sigma: Level = 0.0, scale: Level = 1.0) -> torch.Tensor:
        r"""Exact score :math:`\nabla_x \log p_{s,\sigma}(x)` in closed form (no autograd).

        .. math:: \nabla_x \log p_{s,\sigma}(x) = -\sum_k r_k(x)\,(s^2C_k + \sigma^2 I)^{-1}(x - s\,m_k),
                  \qquad r_k(x) = \frac{w_k\mathcal N_k(x)}{\sum_j w_j\mathcal N_j(x)}

        Args: as :meth:`log_prob`. Returns: ``(N, D)``.
        """
        log_joint, evecs, _, var, proj, _ = self._components(x, sigma, scale)
        resp = torch.softmax(log_joint, dim=-1)                                                  # (N, K)
        prec_diff = torch.einsum("kde,nke->nkd", evecs, proj / var)                              # (N, K, D)
        return -(resp.unsqueeze(-1) * prec_diff).sum(1)

    def posterior_mean(self, x: torch.Tensor, sigma: Level, scale: Level = 1.0) -> torch.Tensor:
        r"""Exact :math:`\mathbb E[X \mid sX + \sigma\varepsilon = x]` by Gaussian conditioning.

        .. math:: \mathbb E[X \mid x] = \sum_k r_k(x)\,
                  \big(m_k + s\,C_k (s^2C_k + \sigma^2I)^{-1}(x - s\,m_k)\big)

        which equals Tweedie's formula :math:`(x + \sigma^2\nabla_x\log p_{s,\sigma}(x)) / s`.

        Args: as :meth:`log_prob`. Returns: ``(N, D)``.
        """
        log_joint, evecs, evals, var, proj, s = self._components(x, sigma, scale)
        resp = torch.softmax(log_joint, dim=-1)
        gain = torch.einsum("kde,nke->nkd", evecs, evals * proj / var)   # C_k (s^2 C_k + sigma^2 I)^{-1} diff
        cond = self.means + s.view(-1, 1, 1) * gain                                           # (N, K, D)
        return (resp.unsqueeze(-1) * cond).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None, sigma: Level = 0.0,
               scale: Level = 1.0) -> torch.Tensor:
        r"""``n`` draws of :math:`sX + \sigma\varepsilon`, shape ``(n, D)``.

        ``sigma``/``scale``: floats or ``(n,)`` tensors. ``generator`` must live on the mixture's
        device (a CPU generator for the default CPU mixture).
        """
        n = check_int(n, "n")
        s, sig = self._levels(sigma, scale, n)
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)       # (n,)
        z = torch.randn(n, self.dim, generator=generator, dtype=self.dtype, device=self.device)
        x = self.means[comp] + (torch.linalg.cholesky(self.covs)[comp] @ z.unsqueeze(-1)).squeeze(-1)
        if bool((sig > 0).any()):
            eps = torch.randn(n, self.dim, generator=generator, dtype=self.dtype, device=self.device)
            return s[:, None] * x + sig[:, None] * eps
        return s[:, None] * x


def _check_scale(scale) -> float:
    scale = check_nonneg(scale, "scale")
    if scale == 0:
        raise ValueError("scale must be > 0, got 0")
    return scale


# ----------------------------------------------------------------------------- constructors
def eight_gaussians(noise: float = 0.1, dtype: torch.dtype = torch.float64,
                    device: torch.device | str = "cpu") -> GaussianMixture2D:
    r"""The density behind ``data.make_toy_2d("eight_gaussians", noise=noise)``.

    Eight equally weighted isotropic Gaussians with std ``noise`` centred on the ring of radius 2
    at angles :math:`k\pi/4`, :math:`k = 0..7`.
    """
    noise = check_nonneg(noise, "noise")
    if noise == 0:
        raise ValueError("noise must be > 0 (a mixture of point masses has no density)")
    ang = torch.arange(8, dtype=dtype, device=device) * (math.pi / 4)
    means = 2.0 * torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)
    covs = noise**2 * torch.eye(2, dtype=dtype, device=device).expand(8, 2, 2).clone()
    return GaussianMixture2D(torch.full((8,), 1 / 8, dtype=dtype, device=device), means, covs)


def two_component(weights: tuple[float, float] = (0.8, 0.2),
                  means: tuple[tuple[float, float], tuple[float, float]] = ((5.0, 5.0), (-5.0, -5.0)),
                  std: float = 1.0, dtype: torch.dtype = torch.float64,
                  device: torch.device | str = "cpu") -> GaussianMixture2D:
    r"""Two isotropic Gaussians with unequal weights: the "Langevin gets the weights wrong" demo.

    The default is the example of Song & Ermon (2019, Sec. 3.2):
    :math:`p = \tfrac45\mathcal N((5,5), I) + \tfrac15\mathcal N((-5,-5), I)`. Far from both modes
    the score is dominated by the nearer component and barely depends on the weights, so Langevin
    dynamics from a broad start keeps roughly the initial split between the modes instead of 4:1;
    annealing through noise levels restores the weights.
    """
    std = check_nonneg(std, "std")
    if std == 0:
        raise ValueError("std must be > 0")
    w = torch.as_tensor(weights, dtype=dtype, device=device)
    m = torch.as_tensor(means, dtype=dtype, device=device)
    if w.shape != (2,) or m.shape != (2, 2):
        raise ValueError(f"weights must have 2 entries and means shape (2, 2), "
                         f"got {tuple(w.shape)}, {tuple(m.shape)}")
    return GaussianMixture2D(w, m, std**2 * torch.eye(2, dtype=dtype, device=device).expand(2, 2, 2).clone())


# ----------------------------------------------------------------------------- grid quadrature
class GridDensity(NamedTuple):
    """An unnormalised 2-D density normalised on a grid (unpacks as ``log_Z, density, grid``)."""

    log_Z: float
    density: torch.Tensor   # (n, n), density[i, j] at grid[i, j]
    grid: torch.Tensor      # (n, n, 2), grid[i, j] = (x_j, y_i): rows are y, columns are x

    def edge_mass(self) -> float:
        """Probability mass in the outermost ring of cells: should be ~0 if the box holds the density."""
        d = self.density
        cell = float((self.grid[0, 1, 0] - self.grid[0, 0, 0]) * (self.grid[1, 0, 1] - self.grid[0, 0, 1]))
        inner = d[1:-1, 1:-1].sum() if d.shape[0] > 2 else d.new_zeros(())
        return float(d.sum() - inner) * cell


def _check_lim(lim, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {lim!r}") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with low < high, got {lim!r}")
    return lo, hi


def _eval_log_density(log_density: Callable[[torch.Tensor], torch.Tensor], pts: torch.Tensor,
                      batch_size: int) -> torch.Tensor:
    if not callable(log_density):
        raise ValueError(f"log_density must be callable, got {type(log_density).__name__}")
    out = []
    with torch.no_grad():
        for i in range(0, pts.shape[0], batch_size):
            lp = log_density(pts[i : i + batch_size])
            if not torch.is_tensor(lp) or lp.shape != (min(batch_size, pts.shape[0] - i),):
                raise ValueError(f"log_density must return one value per row, got {getattr(lp, 'shape', lp)}")
            if bool(torch.isnan(lp).any() | (lp == math.inf).any()):
                raise ValueError("log_density returned NaN or +inf")
            out.append(lp.to(torch.float64))
    return torch.cat(out)


def normalize_on_grid(log_density: Callable[[torch.Tensor], torch.Tensor], xlim: tuple[float, float],
                      ylim: tuple[float, float], n: int = 400, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str = "cpu", batch_size: int = 65536) -> GridDensity:
    r"""Normalise an unnormalised 2-D log-density by the midpoint rule on an ``n x n`` grid.

    With cell centres :math:`(x_j, y_i)`, :math:`x_j = x_{lo} + (j + \tfrac12)h_x` (same for y):

    .. math:: Z \approx h_x h_y \sum_{i,j} e^{\log \tilde p(x_j, y_i)}, \qquad
              \log Z = \operatorname{logsumexp}_{i,j} \log\tilde p(x_j, y_i) + \log(h_x h_y),

    accumulated in float64. For a smooth density that is negligible at the box edge the midpoint
    rule converges very fast (like the trapezoid rule for such integrands); the error is the
    mass outside the box plus the quadrature error, so check :meth:`GridDensity.edge_mass`. The
    normalised log-density at test points is ``log_density(x) - log_Z`` (:func:`grid_log_prob`).

    Args:
        log_density: ``(B, 2) -> (B,)`` unnormalised log-density (may return -inf, not NaN/+inf).
        xlim, ylim: the box ``(low, high)``. n: points per axis (>= 2).
        dtype, device: of the grid points handed to ``log_density``. batch_size: points per call.

    Returns:
        ``GridDensity(log_Z, density (n, n), grid (n, n, 2))``.
    """
    (x0, x1), (y0, y1) = _check_lim(xlim, "xlim"), _check_lim(ylim, "ylim")
    n, batch_size = check_int(n, "n", low=2), check_int(batch_size, "batch_size")
    hx, hy = (x1 - x0) / n, (y1 - y0) / n
    xs = x0 + (torch.arange(n, dtype=torch.float64) + 0.5) * hx  # device-free: float64 grid, moved below
    ys = y0 + (torch.arange(n, dtype=torch.float64) + 0.5) * hy  # device-free: float64 grid, moved below
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)                        # (n, n, 2)
    grid = grid.to(device=device, dtype=dtype)
    lp = _eval_log_density(log_density, grid.reshape(-1, 2), batch_size)
    if bool((lp == -math.inf).all()):
        raise ValueError("log_density is -inf everywhere on the grid")
    log_z = float(torch.logsumexp(lp, 0)) + math.log(hx * hy)
    return GridDensity(log_z, (lp - log_z).exp().reshape(n, n).to(device=grid.device), grid)


def grid_log_prob(log_density: Callable[[torch.Tensor], torch.Tensor], log_Z: float, x: torch.Tensor,
                  batch_size: int = 65536) -> torch.Tensor:
    r"""Normalised log-density :math:`\log\tilde p(x) - \log Z` at ``x (N, 2)``, float64 ``(N,)``.

    Its negative mean is a test NLL in nats (up to the grid's quadrature error in ``log_Z``).
    """
    if isinstance(log_Z, bool) or not isinstance(log_Z, (int, float)) or not math.isfinite(log_Z):
        raise ValueError(f"log_Z must be a finite number, got {log_Z!r}")
    if not torch.is_tensor(x) or x.ndim != 2 or x.shape[0] < 1 or not bool(torch.isfinite(x).all()):
        raise ValueError(f"x must be a finite, non-empty (N, D) tensor, got {getattr(x, 'shape', x)}")
    return _eval_log_density(log_density, x, check_int(batch_size, "batch_size")) - log_Z
