"""Exercises of chapter 04 (variational autoencoders)."""

from __future__ import annotations

import math

import torch

from . import check_number, not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3", "check_exercise_3_units",
           "solution_1", "solution_2", "solution_3", "solution_3_units"]


def solution_1() -> float:
    r"""The ELBO gap for :math:`z\sim\mathcal N(0,1)`, :math:`x|z\sim\mathcal N(z,1)`, :math:`x=1`,
    :math:`q=\mathcal N(0,1)`: :math:`\mathrm{KL}(\mathcal N(0,1)\,\|\,\mathcal N(1/2, 1/2))`."""
    m_q, v_q, m_p, v_p = 0.0, 1.0, 0.5, 0.5
    return 0.5 * (math.log(v_p / v_q) + (v_q + (m_q - m_p) ** 2) / v_p - 1.0)


def solution_2(log_w: torch.Tensor) -> torch.Tensor:
    r"""IWAE bound per column from ``(k, B)`` log-weights: :math:`\log\frac1k\sum_j e^{\log w_j}`."""
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


def solution_3(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu,\mathrm{diag}\,\sigma^2)\|\mathcal N(0,I))` per row, ``(B,)``."""
    return (0.5 * (loc**2 + scale**2 - 1.0) - torch.log(scale)).sum(-1)


def solution_3_units(encoder, x: torch.Tensor, threshold: float = 0.1) -> int:
    r"""Units whose KL to the prior, averaged over the images ``x (N, D)``, exceeds ``threshold`` nats.

    .. math:: \#\Big\{u : \tfrac1N\sum_n \mathrm{KL}\big(q(z_u \mid x_n)\,\|\,\mathcal N(0, 1)\big)
              > \text{threshold}\Big\}

    Args:
        encoder: maps ``x`` to ``(loc, scale)``, each ``(N, d)`` (e.g. ``vae.encoder``).
        x: ``(N, D)`` images; threshold: nats per unit.
    """
    if not callable(encoder):
        raise ValueError(f"encoder must be callable, got {type(encoder).__name__}")
    if not torch.is_tensor(x) or x.ndim != 2 or x.shape[0] == 0 or not torch.is_floating_point(x):
        got = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"x must be a non-empty (N, D) float tensor, got {got}")
    if not (threshold >= 0):
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    with torch.no_grad():
        loc, scale = encoder(x)
    per_unit = (0.5 * (loc**2 + scale**2 - 1.0) - torch.log(scale)).mean(0)  # (d,)
    return int((per_unit > threshold).sum())


def check_exercise_1(answer) -> bool:
    return check_number("Exercise 1", answer, solution_1(), 1e-4,
                        "log p(x) - ELBO = KL(q || p(z|x)); here p(z|x) = N(x/2, 1/2)")


def _check_fn(label: str, fn, reference, make_args, hint: str) -> bool:
    if not_attempted(label, fn):
        return False
    if not callable(fn):
        raise AssertionError(f"{label}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for shape in ((7, 3), (1, 5), (50, 2)):
        args = make_args(shape, g)
        got = torch.as_tensor(fn(*args), dtype=torch.float64)
        want = reference(*args)
        if got.shape != want.shape:
            raise AssertionError(f"{label}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if not torch.allclose(got, want, rtol=0, atol=1e-8):
            raise AssertionError(f"{label}: values differ from the reference. Hint: {hint}")
    print(f"{label}: Correct")
    return True


def check_exercise_2(fn) -> bool:
    """``fn(log_w (k, B)) -> (B,)`` must be the IWAE bound, stable for large log-weights."""
    def make(shape, g):
        return (30.0 * torch.randn(*shape, generator=g, dtype=torch.float64) - 1000.0,)
    return _check_fn("Exercise 2", fn, solution_2, make,
                     "average the weights, not the log-weights, and use torch.logsumexp for stability")


def check_exercise_3(fn) -> bool:
    """``fn(loc (B, d), scale (B, d)) -> (B,)`` must be the KL to the standard normal."""
    def make(shape, g):
        loc = torch.randn(*shape, generator=g, dtype=torch.float64)
        return loc, torch.rand(*shape, generator=g, dtype=torch.float64) + 0.1
    return _check_fn("Exercise 3", fn, solution_3, make,
                     "per coordinate 0.5 * (mu^2 + sigma^2 - 1) - log sigma, summed over the last axis")


def check_exercise_3_units(answer, encoder, x: torch.Tensor) -> bool:
    """``answer``: how many units of ``encoder`` carry more than 0.1 nats on average over ``x``."""
    return check_number("Exercise 3 (units)", answer, solution_3_units(encoder, x), 0.5,
                        "average each unit's KL over the images first, then count the units above 0.1 nats")
