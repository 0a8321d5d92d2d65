r"""Training a velocity network by conditional flow matching, with an EMA of its weights.

The loop mirrors :func:`ppl_models.diffusion.train_denoiser` (same optimiser, warm-up, gradient
clipping, label dropout for classifier-free guidance and :class:`~ppl_models.diffusion.EMA`), so a
flow and a diffusion model trained with equal budgets differ only in their regression target:
:func:`.losses.cfm_loss` instead of :math:`L_\text{simple}`. With ``coupling="ot"`` every batch is
re-paired with its noise by :func:`.losses.ot_coupling`; with ``noise`` given (reflow), each data row
keeps its own noise row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from .. import distributed
from ..diffusion import EMA, drop_labels
from ..diffusion._checks import check_choice, check_fraction
from ..train import TrainHistory, torch_step, train
from .losses import cfm_loss, ot_coupling
from .paths import check_path

__all__ = ["FlowConfig", "train_flow", "COUPLINGS", "MODEL_VERSION"]

COUPLINGS = ("independent", "ot")
MODEL_VERSION = 1  # bump when train_flow changes what it produces (caches retrain)


@dataclass(frozen=True)
class FlowConfig:
    """Optimisation settings of :func:`train_flow` (defaults: those of chapter 07's MNIST U-Net)."""

    n_epochs: int = 70          # passes over the training set
    batch_size: int = 128       # examples per step
    lr: float = 2e-3            # Adam learning rate (linear warm-up over warmup steps)
    warmup: int = 100           # warm-up steps of the learning rate
    ema_decay: float = 0.995    # EMA decay d (window ~ 1 / (1 - d) steps)
    p_uncond: float = 0.2       # label dropout to the null class (used only with labels)
    t_min: float = 0.0          # t ~ U(t_min, 1) (the VP path needs t_min > 0)
    clip_grad_norm: float = 1.0  # gradient clipping (max global norm)
    coupling: str = "independent"  # "independent" noise, or "ot": exact mini-batch OT pairing
    seed: int = 0               # shuffling, times, noise and label dropout

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
        check_choice(self.coupling, "coupling", COUPLINGS)

    def smoke(self) -> FlowConfig:
        """The tiny variant: two epochs, no warm-up, a short EMA window."""
        return replace(self, n_epochs=2, warmup=0, ema_decay=0.9)


def train_flow(net: nn.Module, x: torch.Tensor, path, cfg: FlowConfig, y: torch.Tensor | None = None,
               null_index: int | None = None, noise: torch.Tensor | None = None,
               source: Callable[[int, torch.Generator], torch.Tensor] | None = None,
               progress: bool | None = None) -> tuple[TrainHistory, dict[str, torch.Tensor]]:
    r"""Fit ``net(x_t, t[, y])`` to the conditional velocity :math:`u_t`; return the history and EMA weights.

    Args:
        net: ``net(x, t)`` or, with labels, ``net(x, t, y)`` (e.g. :class:`ppl_models.nets.UNet`).
        x: ``(N, ...)`` training data (images in ``[-1, 1]``).
        path: a :class:`.CondOTPath` / :class:`.VPPath`.
        cfg: a :class:`FlowConfig`.
        y: ``(N,)`` integer labels (label dropout to ``null_index``) or None.
        noise: ``(N, ...)`` fixed noise paired row by row with ``x`` (reflow), or None (fresh draws).
        source: ``source(n, generator) -> (n, ...)`` draws of the source at ``t = 1`` (e.g.
            ``exact2d.eight_gaussians().sample``); default the standard normal.
    Returns:
        ``(history, ema_state)``; ``net`` itself ends with the raw weights.
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(cfg, FlowConfig):
        raise ValueError(f"cfg must be a FlowConfig, got {type(cfg).__name__}")
    check_path(path)
    if not torch.is_tensor(x) or x.ndim < 2 or not torch.is_floating_point(x):
        raise ValueError("x must be a floating-point (N, ...) tensor")
    if y is not None and (not torch.is_tensor(y) or y.shape != (x.shape[0],) or torch.is_floating_point(y)):
        raise ValueError(f"y must be an integer tensor of shape ({x.shape[0]},) or None")
    if y is not None and (isinstance(null_index, bool) or not isinstance(null_index, int) or null_index < 0):
        raise ValueError(f"null_index must be a non-negative int when y is given, got {null_index!r}")
    if noise is not None and (not torch.is_tensor(noise) or noise.shape != x.shape):
        raise ValueError(f"noise must be a tensor shaped like x {tuple(x.shape)} or None")
    if noise is not None and source is not None:
        raise ValueError("give at most one of noise (fixed pairs) and source (fresh draws)")
    if source is not None and not callable(source):
        raise ValueError("source must be callable as source(n, generator)")
    if noise is not None and cfg.coupling == "ot":
        raise ValueError("coupling='ot' re-pairs fresh noise; it cannot be combined with fixed noise pairs")
    gen = torch.Generator(device=x.device).manual_seed(distributed.rank_seed(cfg.seed))
    src_gen = torch.Generator().manual_seed(distributed.rank_seed(cfg.seed) + 1)  # CPU: exact2d samplers
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(cfg.warmup, 1)))
    ema = EMA(net, cfg.ema_decay)
    model = distributed.wrap(net)

    def loss_fn(xb: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        rest = list(rest)
        nb = rest.pop(0) if noise is not None else None
        yb = rest.pop(0) if y is not None else None
        if nb is None:
            if source is not None:
                nb = source(xb.shape[0], src_gen)
                if not torch.is_tensor(nb) or nb.shape != xb.shape:
                    raise ValueError(f"source(n, generator) must return a batch shaped {tuple(xb.shape)}")
                nb = nb.to(xb.device, xb.dtype)
            else:
                nb = torch.randn(xb.shape, generator=gen, dtype=xb.dtype, device=xb.device)
            if cfg.coupling == "ot":
                nb = ot_coupling(xb, nb)
        if yb is not None:
            yb = drop_labels(yb, cfg.p_uncond, null_index, gen)

            def model_fn(xt, t):
                return model(xt, t, yb)
        else:
            model_fn = model
        return cfm_loss(model_fn, xb, path, generator=gen, noise=nb, t_min=cfg.t_min).mean()

    step = torch_step(loss_fn, opt, cfg.clip_grad_norm, scheduler=sched, after_step=lambda: ema.update(net))
    data = (x,) + ((noise,) if noise is not None else ()) + ((y,) if y is not None else ())
    hist = train(step, data, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress, desc="flow")
    return hist, ema.state_dict()
