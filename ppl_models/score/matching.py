r"""Score matching without noise: explicit, implicit (Hyvärinen) and sliced (Song et al.).

Every objective takes a closure ``score_fn(x, sigma)`` that returns a tensor shaped like ``x``
(a network in a chapter, an exact oracle in a test) and a batch ``x`` of shape ``(B, D)`` or
``(B, C, H, W)``; ``sigma`` is passed to the closure unchanged (a number or a ``(B,)``
tensor; ``0`` means the unperturbed data). Squared norms sum over every non-batch axis.
The result is the batch mean (``reduction='mean'``) or one value per example (``'none'``).

The implicit and sliced objectives differentiate the model's output with respect to its
input example by example, so the closure must treat examples independently (no batch norm).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_generator,
    check_int,
    check_reduction,
    check_score_out,
    check_sigma,
    reduce,
)

__all__ = ["esm_loss", "ism_loss", "ssm_loss", "PROJECTIONS"]

ScoreFn = Callable[[torch.Tensor, "float | torch.Tensor"], torch.Tensor]
PROJECTIONS = ("gaussian", "rademacher")


def _sqnorm(v: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean norm over every non-batch axis: ``(B, ...) -> (B,)``."""
    return v.flatten(1).pow(2).sum(1)


def _score_with_grad(score_fn: ScoreFn, x: torch.Tensor, sigma) -> tuple[torch.Tensor, torch.Tensor]:
    """A leaf copy of ``x`` that requires grad, and the closure's output at it."""
    x = x.detach().requires_grad_(True)
    s = check_score_out(score_fn(x, sigma), x)
    if not s.requires_grad:
        raise ValueError("score_fn(x, sigma) must be differentiable with respect to x (its output "
                         "does not require grad)")
    return x, s


def esm_loss(score_fn: ScoreFn, x: torch.Tensor, true_score: torch.Tensor, sigma=0.0, *,
             reduction: str = "mean") -> torch.Tensor:
    r"""Explicit score matching: the squared distance to a known score (Fisher divergence).

    .. math::
        J_{\mathrm{ESM}}(\theta) = \tfrac12\,\mathbb E_{p(x)}
        \big\|s_\theta(x) - \nabla_x \log p(x)\big\|^2 .

    Only usable when the true score is known (an exact 2-D oracle); it is the reference that
    the implicit, sliced and denoising objectives equal up to a constant that does not depend
    on :math:`\theta`.

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``.
        x: ``(B, D)`` or ``(B, C, H, W)`` samples of :math:`p`.
        true_score: :math:`\nabla_x\log p(x)` at ``x``, shaped like ``x``.
        sigma: level passed to the closure: a number ``>= 0`` or a ``(B,)`` tensor.
        reduction: ``'mean'`` (scalar) or ``'none'`` (``(B,)``).

    Returns:
        The loss, a scalar or ``(B,)``.
    """
    check_callable(score_fn)
    x = check_batch(x)
    true_score = check_batch(true_score, "true_score")
    if true_score.shape != x.shape:
        raise ValueError(f"true_score must be shaped like x {tuple(x.shape)}, got {tuple(true_score.shape)}")
    sigma = check_sigma(sigma, x, allow_zero=True)
    check_reduction(reduction)
    s = check_score_out(score_fn(x, sigma), x)
    return reduce(0.5 * _sqnorm(s - true_score), reduction)


def _jacobian_trace(x: torch.Tensor, s: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """Exact :math:`\\mathrm{tr}\\,\\partial s/\\partial x` per example: one backward per dimension."""
    s_flat = s.flatten(1)  # (B, D)
    trace = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
    for d in range(s_flat.shape[1]):
        (g,) = torch.autograd.grad(s_flat[:, d].sum(), x, create_graph=create_graph, retain_graph=True,
                                   allow_unused=True)
        if g is not None:  # None: this output does not depend on x
            trace = trace + g.flatten(1)[:, d]
    return trace


def ism_loss(score_fn: ScoreFn, x: torch.Tensor, sigma=0.0, *, reduction: str = "mean",
             create_graph: bool = True) -> torch.Tensor:
    r"""Implicit score matching (Hyvärinen, 2005) with the exact trace of the Jacobian.

    Expanding the square of the explicit objective,

    .. math::
        \tfrac12\mathbb E\|s_\theta - \nabla\log p\|^2
        = \mathbb E\big[\tfrac12\|s_\theta\|^2\big] - \mathbb E\big[s_\theta^\top\nabla\log p\big]
          + \tfrac12\mathbb E\|\nabla\log p\|^2 ,

    and integrating the cross term by parts (:math:`p\,\nabla\log p = \nabla p`, with
    :math:`p\,s_\theta \to 0` at infinity),
    :math:`\mathbb E[s_\theta^\top\nabla\log p] = \int s_\theta^\top \nabla p\,dx
    = -\int p\,\nabla\!\cdot s_\theta\,dx`. Hence

    .. math::
        J_{\mathrm{ISM}}(\theta) = \mathbb E_{p(x)}\Big[\mathrm{tr}\,\nabla_x s_\theta(x)
        + \tfrac12\|s_\theta(x)\|^2\Big]
        = J_{\mathrm{ESM}}(\theta) - \tfrac12\,\mathbb E_{p}\|\nabla_x\log p(x)\|^2 ,

    which needs samples of :math:`p` only. The trace costs one backward pass per dimension
    :math:`D`, so this objective is for low-dimensional data; :func:`ssm_loss` replaces it by
    random projections.

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``; examples must be independent.
        x: ``(B, D)`` or ``(B, C, H, W)`` samples of :math:`p`.
        sigma: level passed to the closure: a number ``>= 0`` or a ``(B,)`` tensor.
        reduction: ``'mean'`` (scalar) or ``'none'`` (``(B,)``).
        create_graph: keep the graph of the trace so the loss can be differentiated with respect
            to the model's parameters (``False`` for evaluation only).

    Returns:
        The loss, a scalar or ``(B,)``.
    """
    check_callable(score_fn)
    x = check_batch(x)
    sigma = check_sigma(sigma, x, allow_zero=True)
    check_reduction(reduction)
    x, s = _score_with_grad(score_fn, x, sigma)
    trace = _jacobian_trace(x, s, create_graph)
    return reduce(trace + 0.5 * _sqnorm(s), reduction)


def _projections(x: torch.Tensor, projection: str, generator: torch.Generator) -> torch.Tensor:
    """Random directions shaped like ``x`` with :math:`\\mathbb E[vv^\\top] = I`."""
    v = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if projection == "rademacher":
        v = torch.sign(v)  # a symmetric variable's sign: +-1 with probability 1/2 each
    return v


def ssm_loss(score_fn: ScoreFn, x: torch.Tensor, sigma=0.0, *, generator: torch.Generator,
             projection: str = "rademacher", n_projections: int = 1, variance_reduction: bool = False,
             reduction: str = "mean", create_graph: bool = True) -> torch.Tensor:
    r"""Sliced score matching (Song, Garg, Shi & Ermon, 2019): the trace by random projections.

    For directions :math:`v` with :math:`\mathbb E[vv^\top] = I` (Gaussian or Rademacher),
    :math:`\mathbb E_v[v^\top A v] = \mathrm{tr}\,A` and
    :math:`\mathbb E_v[(v^\top s)^2] = \|s\|^2`, so

    .. math::
        J_{\mathrm{SSM}}(\theta) = \mathbb E_{p(x)}\mathbb E_{v}\Big[v^\top \nabla_x s_\theta(x)\,v
        + \tfrac12\big(v^\top s_\theta(x)\big)^2\Big] = J_{\mathrm{ISM}}(\theta),

    and the variance-reduced form (SSM-VR) keeps the exact :math:`\tfrac12\|s_\theta(x)\|^2`:

    .. math::
        J_{\mathrm{SSM\text{-}VR}}(\theta) = \mathbb E_{p(x)}\mathbb E_{v}\Big[v^\top
        \nabla_x s_\theta(x)\,v + \tfrac12\|s_\theta(x)\|^2\Big].

    :math:`v^\top\nabla_x s\,v = v^\top \nabla_x (v^\top s)` costs one backward pass per
    projection whatever the dimension. With ``n_projections = M`` each example is repeated
    :math:`M` times (one closure call on ``(M B, ...)``) and its :math:`M` terms averaged.

    Args:
        score_fn: closure ``score_fn(x, sigma) -> (B, ...)``; examples must be independent.
        x: ``(B, D)`` or ``(B, C, H, W)`` samples of :math:`p`.
        sigma: level passed to the closure: a number ``>= 0`` or a ``(B,)`` tensor (repeated
            with the examples).
        generator: draws the projections.
        projection: ``'rademacher'`` (entries :math:`\pm1`) or ``'gaussian'``.
        n_projections: projections per example, ``M >= 1``.
        variance_reduction: use the exact :math:`\tfrac12\|s\|^2` (SSM-VR).
        reduction: ``'mean'`` (scalar) or ``'none'`` (``(B,)``, averaged over projections).
        create_graph: keep the graph for a parameter gradient (``False`` for evaluation only).

    Returns:
        The loss, a scalar or ``(B,)``.
    """
    check_callable(score_fn)
    x = check_batch(x)
    sigma = check_sigma(sigma, x, allow_zero=True)
    check_generator(generator, x)
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
    m = check_int(n_projections, "n_projections", low=1)
    check_reduction(reduction)
    b = x.shape[0]
    xr = x.repeat(m, *[1] * (x.ndim - 1))  # (M B, ...): projection j of example i at row j B + i
    sr = sigma.repeat(m) if torch.is_tensor(sigma) else sigma
    v = _projections(xr, projection, generator)
    xr, s = _score_with_grad(score_fn, xr, sr)
    vs = (v * s).flatten(1).sum(1)  # (M B,)
    (grad_vs,) = torch.autograd.grad(vs.sum(), xr, create_graph=create_graph, allow_unused=True)
    vjv = (grad_vs * v).flatten(1).sum(1) if grad_vs is not None else torch.zeros_like(vs)  # v^T (ds/dx) v
    norm_term = 0.5 * _sqnorm(s) if variance_reduction else 0.5 * vs.pow(2)
    per_example = (vjv + norm_term).view(m, b).mean(0)
    return reduce(per_example, reduction)
