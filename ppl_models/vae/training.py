r"""Training VAEs through the shared loop: Pyro ELBO losses, KL warm-up, M2's two batches.

KL warm-up (Bowman et al. 2016; Sønderby et al. 2016) multiplies the KL/rate term by
:math:`\beta_t = \beta\,\min(1, t / T_{\text{warm-up}})` so the decoder learns to use the
latents before the KL term can switch them off. The loss is minimised with a torch optimiser
on ``elbo.differentiable_loss(model, guide, ...)``: Pyro computes the ELBO estimator, the
gradient flows straight into the module's parameters (no global parameter store involved).
"""

from __future__ import annotations

import math

import pyro
import torch

from ..train import TrainHistory, torch_step, train
from .config import VAEConfig
from .variants import M2, one_hot

__all__ = ["kl_weight", "make_elbo", "train_vae", "train_m2"]


def kl_weight(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    r"""KL weight at gradient step ``step`` (0-based): :math:`\beta\min(1, (t+1)/T)`; ``T=0``: ``beta``."""
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be a non-negative int, got {warmup_steps!r}")
    if not (beta > 0):
        raise ValueError(f"beta must be > 0, got {beta!r}")
    return beta if warmup_steps == 0 else beta * min(1.0, (step + 1) / warmup_steps)


def make_elbo(name: str) -> pyro.infer.ELBO:
    """``"trace"`` -> ``Trace_ELBO`` (MC KL); ``"meanfield"`` -> ``TraceMeanField_ELBO`` (analytic KL)."""
    if name == "trace":
        return pyro.infer.Trace_ELBO()
    if name == "meanfield":
        return pyro.infer.TraceMeanField_ELBO()
    raise ValueError(f"name must be 'trace' or 'meanfield', got {name!r}")


def train_vae(vae: torch.nn.Module, x: torch.Tensor, cfg: VAEConfig, c: torch.Tensor | None = None,
              progress: bool | None = None, eval_fn=None, eval_every: int | None = None) -> TrainHistory:
    """Fit ``vae`` (with ``model(x, c, kl_weight)``/``guide``) to ``x (N, D)`` by the ELBO.

    Uses ``cfg.elbo``, Adam(``cfg.lr``), ``cfg.batch_size``, ``cfg.n_epochs`` and a linear KL
    warm-up over ``cfg.warmup_epochs`` epochs. ``history.loss`` is the warm-up-weighted
    negative ELBO per image.
    """
    if not isinstance(cfg, VAEConfig):
        raise ValueError(f"cfg must be a VAEConfig, got {type(cfg).__name__}")
    if not torch.is_tensor(x) or x.ndim != 2:
        raise ValueError(f"x must be an (N, D) tensor, got {getattr(x, 'shape', x)}")
    pyro.clear_param_store()
    torch.manual_seed(cfg.seed)
    elbo = make_elbo(cfg.elbo)
    warmup = cfg.warmup_epochs * math.ceil(x.shape[0] / cfg.batch_size)
    counter = {"step": 0}

    def loss_fn(xb, *cb):
        w = kl_weight(counter["step"], warmup, cfg.beta)
        counter["step"] += 1
        return elbo.differentiable_loss(vae.model, vae.guide, xb, *cb, kl_weight=w) / xb.shape[0]

    opt = torch.optim.Adam(vae.parameters(), lr=cfg.lr)
    data = x if c is None else (x, c)
    return train(torch_step(loss_fn, opt), data, cfg.n_epochs, cfg.batch_size, seed=cfg.seed,
                 progress=progress, eval_fn=eval_fn, eval_every=eval_every, desc="vae")


def train_m2(m2: M2, x_unlabelled: torch.Tensor, x_labelled: torch.Tensor, y_labelled: torch.Tensor,
             cfg: VAEConfig, progress: bool | None = None, eval_fn=None,
             eval_every: int | None = None) -> TrainHistory:
    """Fit M2: every step uses one unlabelled mini-batch and the whole labelled set.

    Each step minimises :meth:`M2.loss` on a mini-batch of ``cfg.batch_size`` rows of
    ``x_unlabelled`` (their labels are never used, so passing *all* training images, the labelled
    ones included, is allowed) and all of ``(x_labelled, y_labelled)``.

    Args:
        x_unlabelled: ``(N_u, D)``; x_labelled: ``(N_l, D)``; y_labelled: ``(N_l,)`` ints.
    """
    if not isinstance(m2, M2):
        raise ValueError(f"m2 must be an M2 model, got {type(m2).__name__}")
    if not torch.is_tensor(y_labelled) or y_labelled.shape != (x_labelled.shape[0],):
        raise ValueError("y_labelled must be (N_l,) integer labels matching x_labelled")
    y_l = one_hot(y_labelled, m2.n_classes, x_labelled.dtype)
    pyro.clear_param_store()
    torch.manual_seed(cfg.seed)
    elbo = pyro.infer.TraceEnum_ELBO(max_plate_nesting=1)
    opt = torch.optim.Adam(m2.parameters(), lr=cfg.lr)
    step = torch_step(lambda xb: m2.loss(xb, x_labelled, y_l, elbo), opt)
    return train(step, x_unlabelled, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, progress=progress,
                 eval_fn=eval_fn, eval_every=eval_every, desc="m2")
