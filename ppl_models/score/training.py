r"""Training a noise-conditional score network with any of the four objectives.

A network :math:`f(x, t)` from :mod:`ppl_models.nets` becomes a score model through
:func:`noise_conditional_score`,

.. math::
    s_\theta(x, \sigma) = \frac{f_\theta(x, t(\sigma))}{\sigma}, \qquad
    t(\sigma) = \frac{\log(\sigma/\sigma_{\min})}{\log(\sigma_{\max}/\sigma_{\min})} \in [0, 1],

the output scaling of Song & Ermon (2020, technique 3: the optimal score's size is about
:math:`1/\sigma`), with the package's time convention (``t = 0`` the smallest level, nearest the
data; ``t = 1`` the largest). :func:`train_score_net` fits it on a ladder with the
:math:`\sigma^2`-weighted objective

.. math:: \mathcal L(\theta) = \mathbb E_{i}\,\sigma_i^2\, J(\theta;\sigma_i),

where :math:`J` is denoising (``"dsm"``, via :func:`.ncsn_loss`, one level per example) or
explicit / implicit / sliced score matching on the perturbed data
:math:`\tilde x = x + \sigma_i z`, every example with its own level (the ``(B,)`` levels are
passed to the closures, and to ``true_score`` for ``"esm"``). The optimiser is Adam with a linear
warm-up and gradient clipping through :func:`ppl_models.train.train`; the returned weights are an
exponential moving average (:class:`ppl_models.diffusion.training.EMA`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from .. import distributed
from ..diffusion.training import EMA
from ..train import TrainHistory, torch_step, train
from .denoising import ncsn_loss
from .ladder import check_ladder, geometric_sigmas
from .matching import PROJECTIONS, esm_loss, ism_loss, ssm_loss

__all__ = ["ScoreTrainConfig", "OBJECTIVES", "noise_conditional_score", "train_score_net", "TRAINING_VERSION"]

TRAINING_VERSION = 1  # bump when train_score_net changes what it produces (caches retrain)
OBJECTIVES = ("dsm", "esm", "ism", "ssm")


@dataclass(frozen=True)
class ScoreTrainConfig:
    """Ladder and optimisation settings of :func:`train_score_net` (defaults: a 2-D mixture)."""

    sigma_max: float = 4.0        # largest level (about the largest distance between data points)
    sigma_min: float = 0.05       # smallest level
    n_levels: int = 10            # L, geometric ladder
    objective: str = "dsm"        # one of OBJECTIVES
    n_epochs: int = 100           # passes over the training set
    batch_size: int = 512         # examples per step
    lr: float = 2e-3              # Adam learning rate (linear warm-up over `warmup` steps)
    warmup: int = 100             # warm-up steps
    ema_decay: float = 0.995      # EMA decay of the returned weights
    clip_grad_norm: float = 1.0   # gradient clipping (max global norm)
    projection: str = "rademacher"  # sliced SM projections (always with variance reduction)
    seed: int = 0                 # shuffling, levels, noise, projections

    def __post_init__(self):
        for name in ("n_epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("warmup", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {self.projection!r}")
        if not (0.0 <= self.ema_decay < 1.0) or not (0.0 < self.lr <= 1.0) or not (self.clip_grad_norm > 0):
            raise ValueError(f"need ema_decay in [0, 1), lr in (0, 1], clip_grad_norm > 0; got "
                             f"{self.ema_decay!r}, {self.lr!r}, {self.clip_grad_norm!r}")
        self.sigmas()  # validates sigma_max > sigma_min > 0 and n_levels >= 2

    def sigmas(self, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """The ``(L,)`` geometric ladder :func:`.geometric_sigmas` ``(sigma_max, sigma_min, n_levels)``."""
        return geometric_sigmas(self.sigma_max, self.sigma_min, self.n_levels, dtype=dtype, device=device)

    def smoke(self) -> ScoreTrainConfig:
        """The tiny variant: two epochs, no warm-up, a short EMA window."""
        return replace(self, n_epochs=min(self.n_epochs, 2), warmup=0, ema_decay=min(self.ema_decay, 0.9))


def noise_conditional_score(net: nn.Module, sigma_max: float, sigma_min: float
                            ) -> Callable[[torch.Tensor, float | torch.Tensor], torch.Tensor]:
    r"""The closure ``score_fn(x, sigma) = net(x, t(sigma)) / sigma`` (module docstring).

    Args:
        net: ``net(x, t)`` with ``t`` of shape ``(B,)``, returning a tensor shaped like ``x``.
        sigma_max, sigma_min: the ladder's end points (they fix the map :math:`t(\sigma)`).

    Returns:
        ``score_fn(x (B, ...), sigma)`` with ``sigma`` a number ``> 0`` or a ``(B,)`` tensor.
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not (0 < sigma_min < sigma_max) or not math.isfinite(sigma_max):
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min!r}, "
                         f"sigma_max={sigma_max!r}")
    log_ratio = math.log(sigma_max / sigma_min)

    def score_fn(x: torch.Tensor, sigma) -> torch.Tensor:
        if torch.is_tensor(sigma):
            sig = sigma.to(device=x.device, dtype=x.dtype).reshape(-1).expand(x.shape[0])  # (B,)
        else:
            if not sigma > 0:
                raise ValueError(f"sigma must be > 0, got {sigma!r}")
            sig = torch.full((x.shape[0],), float(sigma), device=x.device, dtype=x.dtype)  # (B,)
        t = torch.log(sig / sigma_min) / log_ratio  # (B,)
        return net(x, t) / sig.view(-1, *[1] * (x.ndim - 1))

    return score_fn


def _objective_loss(cfg: ScoreTrainConfig, score_fn, xb: torch.Tensor, sigmas: torch.Tensor,
                    gen: torch.Generator, true_score) -> torch.Tensor:
    """The sigma^2-weighted batch loss of ``cfg.objective`` (a scalar), one level per example."""
    if cfg.objective == "dsm":
        return ncsn_loss(score_fn, xb, sigmas, generator=gen)
    idx = torch.randint(sigmas.shape[0], (xb.shape[0],), generator=gen, device=xb.device)
    sigma = sigmas[idx]  # (B,)
    sig = sigma.view(-1, *[1] * (xb.ndim - 1))
    xt = xb + sig * torch.randn(xb.shape, generator=gen, device=xb.device, dtype=xb.dtype)
    if cfg.objective == "esm":
        per = esm_loss(score_fn, xt, true_score(xt, sigma), sigma, reduction="none")
    elif cfg.objective == "ism":
        per = ism_loss(score_fn, xt, sigma, reduction="none")
    else:
        per = ssm_loss(score_fn, xt, sigma, generator=gen, projection=cfg.projection, variance_reduction=True,
                       reduction="none")
    return (sigma**2 * per).mean()


def train_score_net(net: nn.Module, x: torch.Tensor, cfg: ScoreTrainConfig, *,
                    true_score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                    progress: bool | None = None) -> tuple[TrainHistory, dict[str, torch.Tensor]]:
    r"""Fit :func:`noise_conditional_score` ``(net)`` on ``cfg``'s ladder; return history and EMA weights.

    Args:
        net: ``net(x, t)`` (e.g. :class:`ppl_models.nets.TimeMLP` or :class:`~ppl_models.nets.UNet`);
            trained in place (it ends with the raw, non-averaged weights).
        x: ``(N, D)`` or ``(N, C, H, W)`` training data.
        cfg: a :class:`ScoreTrainConfig`.
        true_score: ``true_score(x_tilde, sigma (B,)) -> (B, ...)``, the exact perturbed score;
            required for ``objective="esm"`` only.
        progress: show a progress bar (default: the shared loop's choice).

    Returns:
        ``(history, ema_state)``: load ``ema_state`` into a copy of ``net`` to sample.
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(cfg, ScoreTrainConfig):
        raise ValueError(f"cfg must be a ScoreTrainConfig, got {type(cfg).__name__}")
    if not torch.is_tensor(x) or x.ndim < 2 or not torch.is_floating_point(x) or x.shape[0] < 1:
        raise ValueError(f"x must be a non-empty floating-point (N, ...) tensor, "
                         f"got {getattr(x, 'shape', x)}")
    if cfg.objective == "esm" and not callable(true_score):
        raise ValueError("true_score must be callable when objective='esm'")
    sigmas = check_ladder(cfg.sigmas(dtype=x.dtype, device=x.device))
    # DDP under torchrun for the one-forward objectives; ISM/SSM differentiate through the input, so
    # their gradients are averaged by torch_step instead (the same mean, without DDP's hooks)
    module = distributed.wrap(net) if cfg.objective in ("dsm", "esm") else net
    score_fn = noise_conditional_score(module, cfg.sigma_max, cfg.sigma_min)
    gen = torch.Generator(device=x.device).manual_seed(distributed.rank_seed(cfg.seed))  # noise per process
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(cfg.warmup, 1)))
    ema = EMA(net, cfg.ema_decay)

    step = torch_step(lambda xb: _objective_loss(cfg, score_fn, xb, sigmas, gen, true_score), opt,
                      cfg.clip_grad_norm, scheduler=sched, after_step=lambda: ema.update(net))

    hist = train(step, x, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress,
                 desc=f"score ({cfg.objective})")
    return hist, ema.state_dict()
