"""Exercises of chapter 05 (energy-based models)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import check_number, not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3", "solution_1", "solution_2",
           "solution_3"]


def solution_1() -> float:
    r"""The number of terms in :math:`Z` of a 28x28 binary image, in :math:`\log_{10}`.

    .. math:: \log_{10} 2^{784} = 784 \log_{10} 2
    """
    return 28 * 28 * math.log10(2.0)


def solution_2(v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r"""RBM free energy ``(N,)``.

    .. math:: F(v) = -b^\top v - \sum_j \mathrm{softplus}(c_j + v^\top W_{:,j})
    """
    return -(v @ b) - F.softplus(v @ W + c).sum(-1)


def solution_3() -> float:
    r"""Temperature of :math:`x - \lambda \nabla E(x) + \sigma z` at :math:`\lambda = 5`,
    :math:`\sigma = 0.01`: :math:`T = \sigma^2 / (2\lambda) = 10^{-5}`."""
    lam, sigma = 5.0, 0.01
    return sigma**2 / (2.0 * lam)


def check_exercise_1(answer) -> bool:
    """``answer``: log10 of the number of binary images of 28 x 28 pixels (the terms of Z)."""
    # 0.05 accepts 236, 236.0 and 236.04 (log10 2^784 = 236.04), rejects 237 (the digit count) and 235
    return check_number("Exercise 1", answer, solution_1(), 0.05,
                        "each of the 784 pixels doubles the count; log10(2 ** 784) = 784 * log10(2)")


def check_exercise_2(fn) -> bool:
    """``fn(v (N, V), W (V, H), b (V,), c (H,)) -> (N,)`` must be the RBM free energy."""
    if not_attempted("Exercise 2", fn):
        return False
    if not callable(fn):
        raise AssertionError(f"Exercise 2: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for n, V, H in ((5, 6, 3), (1, 4, 7), (20, 10, 10)):
        v = (torch.rand(n, V, generator=g, dtype=torch.float64) < 0.5).double()
        W = 2.0 * torch.randn(V, H, generator=g, dtype=torch.float64)
        b = torch.randn(V, generator=g, dtype=torch.float64)
        c = torch.randn(H, generator=g, dtype=torch.float64)
        got = torch.as_tensor(fn(v, W, b, c), dtype=torch.float64)
        want = solution_2(v, W, b, c)
        if got.shape != want.shape:
            raise AssertionError(f"Exercise 2: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if not torch.allclose(got, want, rtol=0, atol=1e-8):
            raise AssertionError("Exercise 2: values differ from the reference. Hint: sum out each hidden "
                                 "unit: log(1 + exp(c_j + v^T W_j)) per unit, and mind the signs")
    print("Exercise 2: Correct")
    return True


def check_exercise_3(answer) -> bool:
    """``answer``: the temperature T of the update x - 5 grad E(x) + 0.01 z."""
    return check_number("Exercise 3", answer, solution_3(), 1e-9,
                        "match x - lambda grad E + sigma z with x - (eps/2) grad E + sqrt(eps T) z")
