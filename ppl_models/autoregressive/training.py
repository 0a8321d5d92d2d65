r"""Maximum-likelihood training of an autoregressive model, with early stopping on held-out images.

The loss is the exact negative log-likelihood per image, :math:`-\frac1B\sum_b \log p(x_b)`
(one network call per batch, :mod:`.likelihood`). With only a few thousand training images a
flexible model keeps lowering its training loss long after its held-out loss turned up, so the
run keeps the weights of the epoch with the lowest validation NLL and stops after ``patience``
epochs without improvement.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..train import torch_step, train
from .likelihood import bernoulli_log_prob, check_binary_x, nll_nats

__all__ = ["ARTrainConfig", "ARHistory", "train_autoregressive", "split_validation"]


@dataclass(frozen=True)
class ARTrainConfig:
    """Optimisation settings of :func:`train_autoregressive`."""

    n_epochs: int = 50           # most passes over the training images
    batch_size: int = 64         # images per step
    lr: float = 1e-3             # Adam learning rate
    weight_decay: float = 0.0    # AdamW decoupled weight decay
    n_val: int = 500             # training images held out for early stopping
    patience: int = 5            # epochs without a better validation NLL before stopping
    clip_grad_norm: float = 10.0  # gradient clipping (max global norm)
    seed: int = 0                # shuffling and dropout

    def __post_init__(self):
        for name in ("n_epochs", "batch_size", "n_val", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not self.clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be > 0, got {self.clip_grad_norm!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    def smoke(self) -> ARTrainConfig:
        """The tiny variant: 2 epochs, 100 validation images."""
        return replace(self, n_epochs=min(self.n_epochs, 2), n_val=min(self.n_val, 100))


@dataclass
class ARHistory:
    """Per-epoch training loss and validation NLL (nats per image), the best epoch, wall time."""

    train_nll: list[float] = field(default_factory=list)
    val_nll: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def split_validation(x: torch.Tensor, n_val: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x[:-n_val], x[-n_val:])``: the last ``n_val`` training rows become the validation set."""
    if isinstance(n_val, bool) or not isinstance(n_val, int) or not 1 <= n_val < x.shape[0]:
        raise ValueError(f"n_val must be an int in [1, {x.shape[0] - 1}], got {n_val!r}")
    return x[:-n_val], x[-n_val:]


def train_autoregressive(net: nn.Module, x_train: torch.Tensor, x_val: torch.Tensor, cfg: ARTrainConfig, *,
                         train_logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
                         val_logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
                         progress: bool | None = None) -> ARHistory:
    """Train ``net`` in place by exact maximum likelihood; it ends with its best validation weights.

    Args:
        net: maps ``(B, D)`` binary images to ``(B, D)`` logits (unless ``train_logits`` is given).
        x_train, x_val: ``(N, D)`` binary training and validation images.
        cfg: :class:`ARTrainConfig`.
        train_logits: the logits used for the loss (default ``net``; e.g. a random ordering per
            batch for an order-agnostic MADE). val_logits: those scored on ``x_val`` (default ``net``).

    Returns:
        :class:`ARHistory`.
    """
    if not isinstance(cfg, ARTrainConfig):
        raise ValueError(f"cfg must be an ARTrainConfig, got {type(cfg).__name__}")
    check_binary_x(x_train, "x_train")
    check_binary_x(x_val, "x_val", dim=x_train.shape[1])
    train_logits = net if train_logits is None else train_logits
    val_logits = net if val_logits is None else val_logits
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = torch_step(lambda xb: -bernoulli_log_prob(train_logits(xb), xb).mean(), opt,
                      clip_grad_norm=cfg.clip_grad_norm)
    hist, best, best_state = ARHistory(), float("inf"), None
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)                       # dropout masks
        for epoch in range(cfg.n_epochs):
            net.train()
            h = train(step, x_train, n_epochs=1, batch_size=cfg.batch_size, seed=cfg.seed + epoch,
                      progress=progress, desc=f"epoch {epoch + 1}")
            net.eval()
            hist.train_nll.append(h.loss[-1])
            hist.val_nll.append(nll_nats(val_logits, x_val))
            if hist.val_nll[-1] < best:
                best, hist.best_epoch = hist.val_nll[-1], epoch + 1
                best_state = copy.deepcopy(net.state_dict())
            elif epoch + 1 - hist.best_epoch >= cfg.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    hist.seconds = time.perf_counter() - t0
    return hist
