"""One training loop for torch modules and Pyro SVI.

The loop only needs a ``step(batch) -> float`` callable that takes one gradient step and
returns the loss, so the same code trains a Pyro model (``svi.step`` *is* such a callable) and
a plain torch module (wrap it with :func:`torch_step`)::

    svi = SVI(vae.model, vae.guide, Adam({"lr": 1e-3}), Trace_ELBO())
    hist = train(svi.step, data.x_train, n_epochs=50, batch_size=128)

    opt = torch.optim.Adam(net.parameters(), 1e-3)
    hist = train(torch_step(lambda x: loss_fn(net, x), opt), x, n_epochs=10)

The same loop trains data-parallel under ``torchrun`` (:mod:`ppl_models.distributed`), and
``python -m ppl_models.train <model>`` (:mod:`ppl_models.train.cli`) trains any chapter's cached
model into the checkpoint cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import distributed
from ..config import is_smoke

__all__ = ["TrainHistory", "train", "torch_step", "iterate_minibatches"]


@dataclass
class TrainHistory:
    """What a training run leaves behind.

    Attributes:
        loss: mean loss per epoch (``per="epoch"``) or per step (``per="step"``).
        step_loss: the loss of every step.
        evals: ``(step, result)`` pairs from the evaluation callback.
        steps: number of gradient steps taken.
        seconds: wall-clock time of the loop.
    """

    loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    evals: list[tuple[int, Any]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(len(self.loss), 1)


def torch_step(loss_fn: Callable[..., torch.Tensor], optimizer: torch.optim.Optimizer,
               clip_grad_norm: float | None = None, scheduler: Any = None,
               after_step: Callable[[], None] | None = None) -> Callable[..., float]:
    """Turn ``loss_fn(*batch) -> scalar tensor`` and an optimizer into a ``step`` callable.

    One step: zero the gradients, compute the loss, back-propagate, clip the gradient norm (if
    ``clip_grad_norm``), take the optimizer step, then ``scheduler.step()`` (if given) and
    ``after_step()`` (if given; e.g. an exponential moving average of the weights).

    Under ``torchrun`` (:mod:`ppl_models.distributed`) the parameters start from rank 0's values
    and the gradients are averaged over processes before clipping, as DistributedDataParallel
    does (parameters of a :func:`ppl_models.distributed.wrap` module are left to DDP).
    """
    params = [p for g in optimizer.param_groups for p in g["params"]]
    distributed.broadcast_parameters(params)

    def step(*batch) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*batch)
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar tensor, got shape {tuple(loss.shape)}")
        loss.backward()
        distributed.sync_gradients(params)
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if after_step is not None:
            after_step()
        return float(loss.detach())

    return step


def _as_tuple(data) -> tuple[torch.Tensor, ...]:
    tensors = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if not tensors or not all(torch.is_tensor(t) for t in tensors):
        raise ValueError("data must be a tensor or a tuple of tensors")
    n = tensors[0].shape[0]
    for i, t in enumerate(tensors):
        if t.ndim == 0 or t.shape[0] != n:
            raise ValueError(f"data[{i}] has {t.shape[0] if t.ndim else 0} rows, data[0] has {n}")
        if torch.is_floating_point(t) and torch.isnan(t).any():
            raise ValueError(f"data[{i}] contains NaN")
    return tensors


def iterate_minibatches(data, batch_size: int, generator: torch.Generator | None = None,
                        shuffle: bool = True):
    """Yield tuples of row-aligned mini-batches covering ``data`` once (last one may be short)."""
    tensors = _as_tuple(data)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    yield from _batches(tensors, batch_size, generator, shuffle)


def _batches(tensors: tuple[torch.Tensor, ...], batch_size: int, generator, shuffle: bool = True,
             shard: bool = False):
    """The unchecked loop behind :func:`iterate_minibatches` (data validated once by the caller).

    ``shard``: under torchrun, yield this process's ``batch_size / N`` rows of every global batch
    (:func:`ppl_models.distributed.shard_indices`); the permutation is the same on every process.
    """
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)  # device-free: moved next
    order = order.to(tensors[0].device)
    if shard and distributed.active():
        order = distributed.shard_indices(order)
        batch_size //= distributed.world_size()
        n = order.shape[0]
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(t[idx] for t in tensors)


def train(
    step: Callable[..., float],
    data: torch.Tensor | Sequence[torch.Tensor],
    n_epochs: int,
    batch_size: int = 128,
    *,
    seed: int = 0,
    transform: Callable[..., tuple] | None = None,
    eval_fn: Callable[[int], Any] | None = None,
    eval_every: int | None = None,
    checkpoint_fn: Callable[[int], None] | None = None,
    checkpoint_every: int | None = None,
    progress: bool | None = None,
    desc: str = "train",
) -> TrainHistory:
    """Run ``n_epochs`` passes of mini-batch training.

    Args:
        step: ``step(*batch) -> float`` takes one gradient step (``svi.step`` or
            :func:`torch_step`) and returns that step's loss.
        data: a tensor or a tuple of row-aligned tensors (e.g. ``(x, y)``).
        n_epochs: passes over the data.
        batch_size: rows per step. Under ``torchrun`` with N processes it stays the global batch:
            each process takes ``batch_size / N`` of its rows (must divide evenly) and the logged
            loss is the mean over processes; only rank 0 shows progress and calls ``checkpoint_fn``.
        seed: seeds the shuffling generator (independent of the global RNG).
        transform: applied to each batch tuple before ``step`` (e.g. dynamic binarisation).
        eval_fn: called as ``eval_fn(step_number)`` every ``eval_every`` steps and after the
            last step; its results are kept in ``history.evals``.
        checkpoint_fn: called as ``checkpoint_fn(step_number)`` every ``checkpoint_every``
            steps and at the end (e.g. a closure over :func:`ppl_models.checkpoint.save`).
        progress: show a tqdm bar; default: on, except in smoke/CI mode.

    Returns:
        A :class:`TrainHistory`.

    Raises:
        ValueError: bad arguments. FloatingPointError: a step returned a NaN or infinite
        loss; the message names the step and epoch.
    """
    if not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive int, got {n_epochs!r}")
    for name, every in (("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"{name} must be a positive int or None, got {every!r}")
    tensors = _as_tuple(data)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    world = distributed.world_size()
    if batch_size % world:
        raise ValueError(f"batch_size={batch_size} must be divisible by the number of processes ({world})")
    from tqdm.auto import tqdm

    show = ((not is_smoke()) if progress is None else progress) and distributed.is_main()
    gen = torch.Generator().manual_seed(int(seed))
    hist = TrainHistory()
    t0 = time.perf_counter()
    bar = tqdm(range(n_epochs), desc=desc, disable=not show, leave=False)
    for epoch in bar:
        total, count = 0.0, 0
        for batch in _batches(tensors, batch_size, gen, shard=True):  # validated once, above
            if transform is not None:
                batch = transform(*batch)
                batch = batch if isinstance(batch, tuple) else (batch,)
            loss = distributed.all_mean(step(*batch))
            hist.steps += 1
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss} at step {hist.steps} (epoch {epoch + 1}); lower the "
                    "learning rate, check the data for extreme values, or add gradient clipping"
                )
            hist.step_loss.append(loss)
            total += loss * batch[0].shape[0] * world
            count += batch[0].shape[0] * world
            if eval_fn is not None and eval_every and hist.steps % eval_every == 0:
                hist.evals.append((hist.steps, eval_fn(hist.steps)))
            if (checkpoint_fn is not None and checkpoint_every and hist.steps % checkpoint_every == 0
                    and distributed.is_main()):
                checkpoint_fn(hist.steps)
        hist.loss.append(total / count)
        bar.set_postfix(loss=f"{hist.loss[-1]:.4g}")
    hist.seconds = time.perf_counter() - t0
    if eval_fn is not None and (not hist.evals or hist.evals[-1][0] != hist.steps):
        hist.evals.append((hist.steps, eval_fn(hist.steps)))
    if checkpoint_fn is not None and distributed.is_main():
        checkpoint_fn(hist.steps)
    return hist

