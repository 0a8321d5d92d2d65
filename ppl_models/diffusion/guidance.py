r"""Classifier-free guidance (Ho & Salimans 2022).

Training: one network learns both the conditional :math:`\epsilon(x, t, y)` and the unconditional
:math:`\epsilon(x, t, \varnothing)` by replacing each label with the *null class* index with
probability ``p`` (:func:`drop_labels`).

Sampling (:func:`guided_eps_fn`), convention of Ho & Salimans eq. 6:

.. math:: \tilde\epsilon(x, t, y) = (1 + w)\,\epsilon(x, t, y) - w\,\epsilon(x, t, \varnothing),

so ``w = 0`` is the plain conditional model and ``w = -1`` the unconditional one. Many libraries
(``diffusers``, Stable Diffusion) use a *guidance scale* :math:`s = 1 + w` instead:
:math:`\tilde\epsilon = \epsilon_\varnothing + s(\epsilon_y - \epsilon_\varnothing)`; ``s = 1`` is unguided.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_fraction, check_generator, check_int

__all__ = ["drop_labels", "guided_eps_fn"]

CondEpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _check_labels(y, name: str = "y") -> torch.Tensor:
    if not torch.is_tensor(y) or y.dtype not in (torch.int64, torch.int32) or y.ndim != 1 or y.numel() < 1:
        raise ValueError(f"{name} must be a non-empty 1-D integer tensor of class labels")
    if bool((y < 0).any()):
        raise ValueError(f"{name} must be >= 0")
    return y


def drop_labels(y: torch.Tensor, p: float, null_index: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by ``null_index`` independently with probability ``p`` (a new tensor).

    Args:
        y: ``(B,)`` integer class labels.
        p: drop probability in ``[0, 1]`` (Ho & Salimans use 0.1-0.2).
        null_index: the index of the null class (usually ``n_classes``).
        generator: draws the Bernoulli mask.
    Returns:
        ``(B,)`` labels.
    """
    y = _check_labels(y)
    p = check_fraction(p, "p")
    null_index = check_int(null_index, "null_index", low=0)
    check_generator(generator)
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p
    return torch.where(drop, torch.full_like(y, null_index), y)


def guided_eps_fn(cond_eps_fn: CondEpsFn, y: torch.Tensor, w: float,
                  null_index: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    r"""An ``eps_fn(x, t)`` closure with guidance weight ``w`` for fixed labels ``y``.

    Each call evaluates ``cond_eps_fn`` once on a doubled batch ``(2B, ...)`` holding the
    conditional and the null-class inputs, so a sampler's NFE counts *calls*; each costs a
    batch twice as large (the cost of two unguided evaluations).

    Args:
        cond_eps_fn: ``cond_eps_fn(x, t, y) -> (B, ...)``, e.g. a U-Net trained with :func:`drop_labels`.
        y: ``(B,)`` labels of the samples to draw.
        w: guidance weight (``>= -1``; ``0`` = conditional, see module docstring).
        null_index: the null class index used in training.
    """
    if not callable(cond_eps_fn):
        raise ValueError("cond_eps_fn must be callable as cond_eps_fn(x, t, y)")
    y = _check_labels(y)
    w = check_fraction(w, "w", -1.0, 1e6)
    null_index = check_int(null_index, "null_index", low=0)
    null = torch.full_like(y, null_index)

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has batch {x.shape[0]} but y has {y.shape[0]} labels")
        both = cond_eps_fn(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))
        e_cond, e_null = both.chunk(2)
        return (1 + w) * e_cond - w * e_null

    return eps_fn
