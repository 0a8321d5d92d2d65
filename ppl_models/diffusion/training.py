r"""Training an eps-prediction network, with an exponential moving average (EMA) of its weights.

The loss is :func:`.losses.diffusion_loss` (continuous ``t ~ U(t_min, 1)``, ``weighting="simple"``,
Ho et al.'s :math:`L_\text{simple}`) through the shared loop :func:`ppl_models.train.train`. With
``log_t_fraction = f > 0`` a share ``f`` of each batch draws :math:`\log t \sim U(\log t_{\min}, 0)`
instead, which puts more training signal on the low-noise levels that dominate likelihoods
(the loss is then :math:`L_\text{simple}` under the mixture density of ``t``). With
labels, each label is replaced by the null class with probability ``p_uncond`` (classifier-free
guidance, :func:`.guidance.drop_labels`), so one network learns :math:`\epsilon(x, t, y)` and
:math:`\epsilon(x, t, \varnothing)`.

EMA (Polyak averaging as in Ho et al. 2020 and every later image model): after optimizer step
:math:`k` (1-based) the shadow weights are

.. math:: \bar\theta_k = d_k\,\bar\theta_{k-1} + (1 - d_k)\,\theta_k, \qquad
          d_k = \min\Big(d,\ \frac{1 + k}{10 + k}\Big), \qquad \bar\theta_0 = \theta_0,

the warm-up :math:`d_k` of TensorFlow's ``ExponentialMovingAverage(num_updates=k)`` so that a short
run is not dominated by its random initial weights. Samples are drawn with the shadow weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from .. import distributed
from ..train import TrainHistory, torch_step, train
from ._checks import check_fraction
from .guidance import drop_labels
from .losses import diffusion_loss
from .sde import check_process

__all__ = ["DenoiserConfig", "EMA", "train_denoiser", "TRAINING_VERSION"]

TRAINING_VERSION = 1  # bump when train_denoiser changes what it produces (caches retrain)


@dataclass(frozen=True)
class DenoiserConfig:
    """Optimisation settings of :func:`train_denoiser` (defaults: the MNIST-5k U-Net)."""

    n_epochs: int = 70          # passes over the training set
    batch_size: int = 128       # examples per step
    lr: float = 2e-3            # Adam learning rate (linear warm-up over warmup steps)
    warmup: int = 100           # warm-up steps of the learning rate
    ema_decay: float = 0.995    # EMA decay d (window ~ 1 / (1 - d) steps)
    p_uncond: float = 0.2       # label dropout to the null class (used only with labels)
    t_min: float = 1e-5         # t ~ U(t_min, 1)
    clip_grad_norm: float = 1.0  # gradient clipping (max global norm)
    seed: int = 0               # shuffling, times, noise and label dropout
    log_t_fraction: float = 0.0  # share of each batch with log t ~ U(log t_min, 0) (more low-noise steps)

    def __post_init__(self):
        for name in ("n_epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be a non-negative int, got {self.warmup!r}")
        check_fraction(self.lr, "lr", 0.0, 1.0, open_low=True)
        check_fraction(self.ema_decay, "ema_decay", 0.0, 1.0, open_high=True)
        check_fraction(self.p_uncond, "p_uncond", 0.0, 1.0)
        check_fraction(self.t_min, "t_min", 0.0, 1.0, open_high=True)
        check_fraction(self.clip_grad_norm, "clip_grad_norm", 0.0, 1e6, open_low=True)
        check_fraction(self.log_t_fraction, "log_t_fraction", 0.0, 1.0)
        if self.log_t_fraction > 0 and self.t_min <= 0:
            raise ValueError("log_t_fraction > 0 needs t_min > 0 (log t is uniform on [log t_min, 0])")

    def smoke(self) -> DenoiserConfig:
        """The tiny variant: two epochs, no warm-up, a short EMA window."""
        return replace(self, n_epochs=2, warmup=0, ema_decay=0.9)


class EMA:
    """Shadow copy of a module's floating-point parameters and buffers (module docstring).

    Args:
        module: the network being trained; the shadow starts equal to its weights.
        decay: the target decay ``d`` in ``[0, 1)``.
    """

    def __init__(self, module: nn.Module, decay: float):
        if not isinstance(module, nn.Module):
            raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.decay = check_fraction(decay, "decay", 0.0, 1.0, open_high=True)
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def current_decay(self) -> float:
        r""":math:`d_k = \min(d, (1 + k)/(10 + k))` for the next update ``k``."""
        k = self.updates + 1
        return min(self.decay, (1.0 + k) / (10.0 + k))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """One EMA step towards the module's current weights (integer buffers are copied)."""
        d = self.current_decay()
        for k, v in module.state_dict().items():
            if k not in self.shadow or self.shadow[k].shape != v.shape:
                raise ValueError(f"module has a parameter {k!r} the EMA was not built with")
            if torch.is_floating_point(v):
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.shadow[k].copy_(v)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the shadow weights (load them with ``module.load_state_dict``)."""
        return {k: v.clone() for k, v in self.shadow.items()}


def _draw_times(x: torch.Tensor, cfg: DenoiserConfig, gen: torch.Generator) -> torch.Tensor | None:
    """``None`` (diffusion_loss draws ``t ~ U(t_min, 1)``) or the log-uniform mixture of the config."""
    if cfg.log_t_fraction == 0.0:
        return None
    b = x.shape[0]
    u = torch.rand(b, generator=gen, dtype=x.dtype, device=x.device)
    uniform = cfg.t_min + (1.0 - cfg.t_min) * u
    log_uniform = torch.exp(math.log(cfg.t_min) * (1.0 - u))
    use_log = torch.rand(b, generator=gen, device=x.device) < cfg.log_t_fraction
    return torch.where(use_log, log_uniform, uniform).clamp(cfg.t_min, 1.0)


def train_denoiser(net: nn.Module, x: torch.Tensor, process, cfg: DenoiserConfig,
                   y: torch.Tensor | None = None, null_index: int | None = None,
                   progress: bool | None = None) -> tuple[TrainHistory, dict[str, torch.Tensor]]:
    r"""Fit ``net(x_t, t[, y])`` to the noise by :math:`L_\text{simple}`; return the history and EMA weights.

    Args:
        net: a network ``net(x, t)`` or, with labels, ``net(x, t, y)`` (e.g. :class:`ppl_models.nets.UNet`).
        x: ``(N, ...)`` training data (images in ``[-1, 1]``).
        process: a :class:`.VPSDE`, :class:`.VESDE` or :class:`.DiscreteSchedule`.
        cfg: a :class:`DenoiserConfig`.
        y: ``(N,)`` integer labels (class-conditional training with label dropout) or None.
        null_index: the null label (required with ``y``; the U-Net's is ``n_classes``).
    Returns:
        ``(history, ema_state)``; ``net`` itself ends with the raw (non-averaged) weights.
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(cfg, DenoiserConfig):
        raise ValueError(f"cfg must be a DenoiserConfig, got {type(cfg).__name__}")
    check_process(process)
    if not torch.is_tensor(x) or x.ndim < 2 or not torch.is_floating_point(x):
        raise ValueError("x must be a floating-point (N, ...) tensor")
    if y is not None and (not torch.is_tensor(y) or y.shape != (x.shape[0],) or torch.is_floating_point(y)):
        raise ValueError(f"y must be an integer tensor of shape ({x.shape[0]},) or None")
    if y is not None and (isinstance(null_index, bool) or not isinstance(null_index, int) or null_index < 0):
        raise ValueError(f"null_index must be a non-negative int when y is given, got {null_index!r}")
    gen = torch.Generator(device=x.device).manual_seed(distributed.rank_seed(cfg.seed))  # noise per process
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(cfg.warmup, 1)))
    ema = EMA(net, cfg.ema_decay)
    model = distributed.wrap(net)          # DistributedDataParallel under torchrun, net itself otherwise

    def loss_fn(xb: torch.Tensor, yb: torch.Tensor | None = None) -> torch.Tensor:
        if yb is not None:
            yb = drop_labels(yb, cfg.p_uncond, null_index, gen)

            def model_fn(xt, t):
                return model(xt, t, yb)
        else:
            model_fn = model
        return diffusion_loss(model_fn, xb, process, generator=gen, t_min=cfg.t_min,
                              t=_draw_times(xb, cfg, gen)).mean()

    step = torch_step(loss_fn, opt, cfg.clip_grad_norm, scheduler=sched, after_step=lambda: ema.update(net))

    data = x if y is None else (x, y)
    hist = train(step, data, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress, desc="denoiser")
    return hist, ema.state_dict()
