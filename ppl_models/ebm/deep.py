r"""Deep energy-based models: contrastive divergence with short-run Langevin and a replay buffer.

A network :math:`E_\theta(x)` defines :math:`p_\theta(x) = e^{-E_\theta(x)} / Z_\theta`. The
gradient of the mean negative log-likelihood is a data term minus a model term,

.. math::

    \nabla_\theta \Big[\tfrac1N \textstyle\sum_n E_\theta(x_n) + \log Z_\theta\Big]
        = \mathbb E_\text{data}[\nabla_\theta E_\theta(x)] - \mathbb E_{p_\theta}[\nabla_\theta E_\theta(x)].

Contrastive divergence replaces the model expectation by samples :math:`x^-` of a few Langevin
steps (:func:`sample_langevin`, the package's ULA with optional clamping), started either from
noise every time (short-run, Nijkamp et al. 2019) or from a replay buffer of earlier samples of
which a fraction ``reinit_fraction`` is re-drawn from noise (persistent, Du & Mordatch 2019).
The loss whose gradient is that estimate, with Du & Mordatch's energy-magnitude regulariser, is

.. math::

    L = \overline{E_\theta(x^+)} - \overline{E_\theta(x^-)}
        + \alpha\big(\overline{E_\theta(x^+)^2} + \overline{E_\theta(x^-)^2}\big).

Without the :math:`\alpha` term only energy *differences* are trained, and both energies can
drift together without bound.

In two dimensions the model term is computable: :func:`grid_log_partition` sums
:math:`e^{-E_\theta}` on a fine grid, so :math:`\nabla_\theta \log Z_\theta` by autograd *is* the
exact model expectation :math:`-\sum_i p_i \nabla_\theta E_\theta(g_i)` with
:math:`p_i \propto e^{-E_\theta(g_i)}` (up to quadrature error). :func:`train_grid_ml` trains by that
exact maximum-likelihood gradient, the reference for contrastive divergence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch

from ..train import TrainHistory, torch_step, train
from ..validation import check_int, check_nonneg
from .langevin import LangevinResult, ula

__all__ = ["MODEL_VERSION", "DeepEBMConfig", "GridMLConfig", "ReplayBuffer", "EBMHistory", "uniform_noise",
           "sample_langevin", "contrastive_loss", "ebm_step", "train_ebm", "grid_points",
           "grid_log_partition", "grid_nll", "train_grid_ml"]

MODEL_VERSION = 1  # bump when training code changes what it produces (cached models retrain)

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def _check_float(value, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _check_box(low, high, name: str = "init_range") -> None:
    _check_float(low, f"{name}[0]")
    _check_float(high, f"{name}[1]")
    if not low < high:
        raise ValueError(f"{name} must have low < high, got ({low!r}, {high!r})")


@dataclass(frozen=True)
class DeepEBMConfig:
    """Everything that defines a contrastive-divergence run of a deep EBM (defaults: images in [-1, 1])."""

    n_steps: int = 40                   # Langevin steps per update (short-run)
    step_size: float = 20.0             # eps in x + eps/2 grad log p + sqrt(eps T) z (lambda = 10)
    temperature: float = 1.25e-6        # T of Du & Mordatch's noise std 0.005 at lambda = 10
    persistent: bool = True             # True: replay buffer; False: every chain starts from noise
    buffer_size: int = 10_000           # replay buffer rows
    reinit_fraction: float = 0.05       # share of each batch's chains re-drawn from noise
    alpha: float = 0.1                  # energy-magnitude regulariser alpha (E+^2 + E-^2); 0: none
    lr: float = 1e-4                    # Adam learning rate
    betas: tuple[float, float] = (0.0, 0.999)  # Adam betas (no momentum: the loss moves with the sampler)
    batch_size: int = 128               # data rows (and chains) per update
    n_epochs: int = 60                  # passes over the training data
    data_noise: float = 0.005           # std of Gaussian noise added to each data batch
    init_range: tuple[float, float] = (-1.0, 1.0)  # chains start uniform in this box
    clamp: bool = True                  # clamp chains to init_range after every step (pixels)
    clip_grad_norm: float | None = 0.1  # parameter-gradient clipping (None: off)
    seed: int = 0                       # seeds the buffer, the chains and the shuffling

    def __post_init__(self):
        for name in ("n_steps", "buffer_size", "batch_size", "n_epochs"):
            check_int(getattr(self, name), name)
        check_int(self.seed, "seed", low=0)
        for name in ("step_size", "temperature", "lr"):
            _check_float(getattr(self, name), name, positive=True)
        check_nonneg(self.alpha, "alpha")
        check_nonneg(self.data_noise, "data_noise")
        if not isinstance(self.reinit_fraction, (int, float)) or not 0 <= self.reinit_fraction <= 1:
            raise ValueError(f"reinit_fraction must be in [0, 1], got {self.reinit_fraction!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        _check_box(*self.init_range)
        if self.clip_grad_norm is not None:
            _check_float(self.clip_grad_norm, "clip_grad_norm", positive=True)
        if self.persistent and self.buffer_size < self.batch_size:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be >= batch_size ({self.batch_size})")

    def smoke(self) -> DeepEBMConfig:
        """The tiny variant: 2 epochs, 10 Langevin steps, a 512-row buffer."""
        return replace(self, n_epochs=min(self.n_epochs, 2), n_steps=min(self.n_steps, 10),
                       buffer_size=max(min(self.buffer_size, 512), self.batch_size))


def uniform_noise(n: int, event_shape: tuple[int, ...], low: float, high: float, *,
                  generator: torch.Generator, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` draws uniform in ``[low, high]``, shape ``(n, *event_shape)``."""
    check_int(n, "n")
    _check_box(low, high, "(low, high)")
    u = torch.rand((n, *event_shape), generator=generator, dtype=dtype, device=device)
    return low + (high - low) * u


@dataclass
class ReplayBuffer:
    """Persistent Langevin chains: ``x`` ``(capacity, ...)`` states, started uniform in ``(low, high)``."""

    x: torch.Tensor
    low: float
    high: float

    @classmethod
    def from_noise(cls, capacity: int, event_shape: tuple[int, ...], low: float, high: float, *,
                   generator: torch.Generator, dtype: torch.dtype = torch.float32,
                   device: torch.device | str = "cpu") -> ReplayBuffer:
        """A buffer of ``capacity`` uniform noise states."""
        x = uniform_noise(capacity, event_shape, low, high, generator=generator, dtype=dtype, device=device)
        return cls(x, low, high)

    def draw(self, n: int, reinit_fraction: float, *, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Starting states for ``n`` chains: ``n`` rows picked uniformly (without replacement), of
        which exactly :math:`\mathrm{round}(n \cdot \text{reinit\_fraction})`, at random positions,
        are replaced by fresh uniform noise.

        Returns:
            ``(x0 (n, ...), idx (n,))``: the states and the buffer rows they continue
            (:meth:`update` writes the chains' end states back there).
        """
        n = check_int(n, "n", high=self.x.shape[0])
        if not isinstance(reinit_fraction, (int, float)) or not 0 <= reinit_fraction <= 1:
            raise ValueError(f"reinit_fraction must be in [0, 1], got {reinit_fraction!r}")
        dev = self.x.device
        idx = torch.randperm(self.x.shape[0], generator=generator, device=dev)[:n]
        x0 = self.x[idx].clone()
        n_new = int(round(n * reinit_fraction))
        if n_new:
            rows = torch.randperm(n, generator=generator, device=dev)[:n_new]
            x0[rows] = uniform_noise(n_new, tuple(self.x.shape[1:]), self.low, self.high, generator=generator,
                                     dtype=self.x.dtype, device=dev)
        return x0, idx

    def update(self, idx: torch.Tensor, x: torch.Tensor) -> None:
        """Store the chains' states ``x`` ``(n, ...)`` in rows ``idx`` ``(n,)``."""
        if not torch.is_tensor(idx) or idx.ndim != 1 or x.shape != (idx.shape[0], *self.x.shape[1:]):
            raise ValueError(f"idx must be (n,) and x (n, *{tuple(self.x.shape[1:])}), got "
                             f"{getattr(idx, 'shape', idx)} and {getattr(x, 'shape', x)}")
        self.x[idx] = x.detach().to(self.x.dtype)


def sample_langevin(energy_fn: EnergyFn, x0: torch.Tensor, n_steps: int, step_size: float, *,
                    generator: torch.Generator, temperature: float = 1.0,
                    clamp: tuple[float, float] | None = None) -> LangevinResult:
    r"""Langevin chains on :math:`p \propto e^{-E}`:
    :math:`x' = x - \frac\epsilon2 \nabla E(x) + \sqrt{\epsilon T} z`.

    The package's :func:`~ppl_models.ebm.langevin.ula` with ``log_prob_fn = -energy_fn``; with
    ``clamp = (low, high)`` every state is clipped to the box after each step (pixels).

    Args:
        energy_fn: ``(N, ...) -> (N,)`` differentiable energy.
        x0: ``(N, ...)`` starting states. n_steps, step_size, temperature: as in ``ula``.
        generator: a ``torch.Generator`` on ``x0``'s device.
        clamp: ``(low, high)`` or None.

    Returns:
        A :class:`~ppl_models.ebm.langevin.LangevinResult` (``nfe = n_steps``).
    """
    def log_prob(y):
        return -energy_fn(y)

    if clamp is None:
        return ula(x0, n_steps, step_size, generator=generator, log_prob_fn=log_prob, temperature=temperature)
    _check_box(*clamp, "clamp")
    n_steps = check_int(n_steps, "n_steps")
    x = x0
    for _ in range(n_steps):
        x = ula(x, 1, step_size, generator=generator, log_prob_fn=log_prob, temperature=temperature).samples
        x = x.clamp(*clamp)
    return LangevinResult(x, 1.0, None, n_steps)


def contrastive_loss(e_pos: torch.Tensor, e_neg: torch.Tensor, alpha: float = 0.0) -> torch.Tensor:
    r""":math:`\overline{E^+} - \overline{E^-} + \alpha(\overline{(E^+)^2} + \overline{(E^-)^2})`.

    Args:
        e_pos: ``(B,)`` energies of data. e_neg: ``(M,)`` energies of model samples (treated as
            fixed points: their gradient flows only through the parameters). alpha: ``>= 0``.

    Returns:
        A scalar tensor.
    """
    for name, e in (("e_pos", e_pos), ("e_neg", e_neg)):
        if not torch.is_tensor(e) or e.ndim != 1 or e.shape[0] < 1:
            raise ValueError(f"{name} must be a non-empty 1-D tensor, got {getattr(e, 'shape', e)}")
        if not bool(torch.isfinite(e).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    alpha = check_nonneg(alpha, "alpha")
    return e_pos.mean() - e_neg.mean() + alpha * ((e_pos**2).mean() + (e_neg**2).mean())


class EBMHistory(NamedTuple):
    """A contrastive-divergence run: the loop's history, per-step mean energies, and the buffer."""

    history: TrainHistory
    e_pos: list[float]
    e_neg: list[float]
    buffer: ReplayBuffer | None


def ebm_step(energy_fn: EnergyFn, optimizer: torch.optim.Optimizer, cfg: DeepEBMConfig,
             generator: torch.Generator, buffer: ReplayBuffer | None,
             log: dict[str, list[float]]) -> Callable[[torch.Tensor], float]:
    """A ``step(x) -> float`` for :func:`ppl_models.train.train`: one contrastive-divergence update.

    Negative chains start in ``buffer`` (persistent) or in fresh noise, run ``cfg.n_steps``
    Langevin steps, and are written back; ``log["e_pos"]``/``log["e_neg"]`` get the step's mean
    energies. Inputs are not re-checked here (:func:`train_ebm` does).
    """
    box = cfg.init_range

    def loss_fn(x: torch.Tensor) -> torch.Tensor:
        if cfg.data_noise:
            x = x + cfg.data_noise * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x.clamp(*box) if cfg.clamp else x
        if buffer is not None:
            x0, idx = buffer.draw(x.shape[0], cfg.reinit_fraction, generator=generator)
        else:
            x0 = uniform_noise(x.shape[0], tuple(x.shape[1:]), *box, generator=generator, dtype=x.dtype,
                               device=x.device)
        x_neg = sample_langevin(energy_fn, x0, cfg.n_steps, cfg.step_size, generator=generator,
                                temperature=cfg.temperature, clamp=box if cfg.clamp else None).samples
        if buffer is not None:
            buffer.update(idx, x_neg)
        e = energy_fn(torch.cat([x, x_neg]))
        e_pos, e_neg = e[: x.shape[0]], e[x.shape[0]:]
        log["e_pos"].append(float(e_pos.detach().mean()))
        log["e_neg"].append(float(e_neg.detach().mean()))
        return contrastive_loss(e_pos, e_neg, cfg.alpha)

    return torch_step(loss_fn, optimizer, cfg.clip_grad_norm)


def _check_train_inputs(energy_fn, x) -> torch.Tensor:
    if not callable(energy_fn):
        raise ValueError(f"energy_fn must be callable, got {type(energy_fn).__name__}")
    if not torch.is_tensor(x) or x.ndim < 2 or x.shape[0] < 2 or not torch.is_floating_point(x):
        raise ValueError(f"x must be a floating-point (N, ...) tensor with N >= 2, "
                         f"got {getattr(x, 'shape', x)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    return x


def train_ebm(energy_fn: EnergyFn, parameters: Iterable[torch.Tensor], x: torch.Tensor, cfg: DeepEBMConfig, *,
              progress: bool | None = None) -> EBMHistory:
    """Train the energy ``energy_fn`` (its ``parameters``) on ``x`` ``(N, ...)`` by contrastive divergence.

    Adam (``cfg.lr``, ``cfg.betas``) through :func:`ppl_models.train.train`; chains and buffer
    draw from a generator seeded with ``cfg.seed`` on ``x``'s device; the buffer has
    ``cfg.buffer_size`` rows (``cfg.persistent``) or there is none.

    Returns:
        An :class:`EBMHistory`.
    """
    x = _check_train_inputs(energy_fn, x)
    if not isinstance(cfg, DeepEBMConfig):
        raise ValueError(f"cfg must be a DeepEBMConfig, got {type(cfg).__name__}")
    params = list(parameters)
    if not params:
        raise ValueError("parameters is empty")
    gen = torch.Generator(device=x.device).manual_seed(cfg.seed)
    buffer = ReplayBuffer.from_noise(cfg.buffer_size, tuple(x.shape[1:]), *cfg.init_range, generator=gen,
                                     dtype=x.dtype, device=x.device) if cfg.persistent else None
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
    log: dict[str, list[float]] = {"e_pos": [], "e_neg": []}
    step = ebm_step(energy_fn, opt, cfg, gen, buffer, log)
    hist = train(step, x, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress,
                 desc="PCD-EBM" if cfg.persistent else "CD-EBM")
    return EBMHistory(hist, log["e_pos"], log["e_neg"], buffer)


# ----------------------------------------------------------------------------- exact ML on a 2-D grid
@dataclass(frozen=True)
class GridMLConfig:
    """Exact maximum-likelihood training of a 2-D energy on a grid."""

    lim: tuple[float, float] = (-3.5, 3.5)  # the square box [lim] x [lim] that holds the density
    n_grid: int = 128                       # points per axis of the midpoint grid
    lr: float = 2e-3                        # Adam learning rate
    batch_size: int = 256                   # data rows per step
    n_epochs: int = 100                     # passes over the data
    seed: int = 0                           # seeds the shuffling

    def __post_init__(self):
        _check_box(*self.lim, "lim")
        for name in ("n_grid", "batch_size", "n_epochs"):
            check_int(getattr(self, name), name)
        check_int(self.seed, "seed", low=0)
        _check_float(self.lr, "lr", positive=True)

    def smoke(self) -> GridMLConfig:
        """The tiny variant: 3 epochs on a 48 x 48 grid."""
        return replace(self, n_grid=min(self.n_grid, 48), n_epochs=min(self.n_epochs, 3))


def grid_points(lim: tuple[float, float], n: int, *, dtype: torch.dtype = torch.float64,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, float]:
    r"""Cell centres ``(n*n, 2)`` of an ``n x n`` midpoint grid on ``[lim]^2`` and the cell area :math:`h^2`.

    Args:
        lim: ``(low, high)`` of both axes. n: points per axis (>= 2).
    """
    _check_box(*lim, "lim")
    n = check_int(n, "n", low=2)
    h = (lim[1] - lim[0]) / n
    axis = lim[0] + (torch.arange(n, dtype=dtype, device=device) + 0.5) * h
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([gx, gy], -1).reshape(-1, 2), h * h


def grid_log_partition(energy_fn: EnergyFn, points: torch.Tensor, cell_area: float) -> torch.Tensor:
    r"""Differentiable :math:`\log Z \approx \operatorname{logsumexp}_i(-E(g_i)) + \log h^2` on ``points``.

    Its gradient is :math:`-\sum_i p_i \nabla_\theta E(g_i)`, :math:`p_i = e^{-E(g_i)} h^2 / Z`:
    the model expectation of the maximum-likelihood gradient, computed exactly on the grid.
    """
    if not callable(energy_fn):
        raise ValueError(f"energy_fn must be callable, got {type(energy_fn).__name__}")
    if not torch.is_tensor(points) or points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 4:
        raise ValueError(f"points must be a (G, 2) tensor of grid points, "
                         f"got {getattr(points, 'shape', points)}")
    area = _check_float(cell_area, "cell_area", positive=True)
    e = energy_fn(points)
    if e.shape != (points.shape[0],):
        raise ValueError(f"energy_fn must return ({points.shape[0]},), got {tuple(e.shape)}")
    return torch.logsumexp(-e, 0) + math.log(area)


def grid_nll(energy_fn: EnergyFn, x: torch.Tensor, points: torch.Tensor, cell_area: float) -> torch.Tensor:
    r"""Differentiable mean NLL :math:`\frac1N\sum_n E(x_n) + \log Z` of ``x (N, 2)``, Z on the grid."""
    if not torch.is_tensor(x) or x.ndim != 2 or x.shape[1] != 2 or x.shape[0] < 1:
        raise ValueError(f"x must be an (N, 2) tensor, got {getattr(x, 'shape', x)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    return energy_fn(x).mean() + grid_log_partition(energy_fn, points, cell_area)


def train_grid_ml(energy_fn: EnergyFn, parameters: Iterable[torch.Tensor], x: torch.Tensor,
                  cfg: GridMLConfig, *, progress: bool | None = None) -> TrainHistory:
    """Train a 2-D energy by the exact maximum-likelihood gradient (:func:`grid_nll`) with Adam.

    Returns:
        The :class:`~ppl_models.train.TrainHistory`; ``loss`` is the mean training NLL per epoch.
    """
    x = _check_train_inputs(energy_fn, x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must be (N, 2), got {tuple(x.shape)}")
    if not isinstance(cfg, GridMLConfig):
        raise ValueError(f"cfg must be a GridMLConfig, got {type(cfg).__name__}")
    params = list(parameters)
    if not params:
        raise ValueError("parameters is empty")
    pts, area = grid_points(cfg.lim, cfg.n_grid, dtype=x.dtype, device=x.device)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    step = torch_step(lambda xb: grid_nll(energy_fn, xb, pts, area), opt)
    return train(step, x, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress, desc="grid-ML")
