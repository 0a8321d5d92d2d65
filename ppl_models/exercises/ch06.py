"""Exercises of chapter 06 (score matching and Langevin dynamics)."""

from __future__ import annotations

import math

import torch

from ..score import geometric_sigmas, overlap_ratio
from . import check_number, not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3", "solution_1", "solution_2",
           "solution_3"]


def solution_1(x: torch.Tensor, mu: torch.Tensor, s2: float, sigma: float) -> torch.Tensor:
    r"""Score of :math:`\mathcal N(\mu, s^2 I)` perturbed by :math:`\sigma`:
    :math:`\nabla_x\log p_\sigma(x) = -(x - \mu)/(s^2 + \sigma^2)`, ``x (B, D)`` -> ``(B, D)``."""
    return -(x - mu) / (s2 + sigma**2)


def solution_2(score_fn, x: torch.Tensor, sigmas: torch.Tensor, eps: float) -> torch.Tensor:
    r"""One annealed-Langevin sweep without noise and the final Tweedie step, ``(B, D)``.

    For each level :math:`\sigma_i` (largest first) one step
    :math:`x \leftarrow x + \tfrac{\alpha_i}{2} s(x, \sigma_i)` with
    :math:`\alpha_i = \epsilon\,\sigma_i^2/\sigma_L^2`, then :math:`x + \sigma_L^2 s(x, \sigma_L)`.
    """
    for s in sigmas.tolist():
        alpha = eps * s**2 / float(sigmas[-1]) ** 2
        x = x + 0.5 * alpha * score_fn(x, s)
    return x + float(sigmas[-1]) ** 2 * score_fn(x, float(sigmas[-1]))


def solution_3(dim: int = 3072, sigma_max: float = 50.0, sigma_min: float = 0.01) -> int:
    r"""Levels of a geometric ladder whose neighbours overlap (Song & Ermon 2020, technique 2):
    :math:`1 + \lceil\log(\sigma_{\max}/\sigma_{\min}) / \log\gamma\rceil` with :math:`\gamma`
    from :func:`ppl_models.score.overlap_ratio` (overlap 0.5)."""
    return 1 + math.ceil(math.log(sigma_max / sigma_min) / math.log(overlap_ratio(dim)))


def _gaussian_case(g: torch.Generator, shape: tuple[int, int]):
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    mu = torch.randn(shape[1], generator=g, dtype=torch.float64)
    return x, mu, float(torch.rand(1, generator=g, dtype=torch.float64)) + 0.1


def check_exercise_1(fn) -> bool:
    """``fn(x (B, D), mu (D,), s2, sigma) -> (B, D)``: the perturbed Gaussian's score."""
    label = "Exercise 1"
    if not_attempted(label, fn):
        return False
    if not callable(fn):
        raise AssertionError(f"{label}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for shape, sigma in (((7, 2), 0.5), ((1, 5), 0.0), ((30, 3), 3.0)):
        x, mu, s2 = _gaussian_case(g, shape)
        got = torch.as_tensor(fn(x, mu, s2, sigma), dtype=torch.float64)
        want = solution_1(x, mu, s2, sigma)
        if got.shape != want.shape or not torch.allclose(got, want, rtol=0, atol=1e-8):
            raise AssertionError(f"{label}: wrong values or shape. Hint: the perturbed density is "
                                 "N(mu, (s2 + sigma^2) I); its score points from x to mu")
    print(f"{label}: Correct")
    return True


def check_exercise_2(fn) -> bool:
    """``fn(score_fn, x, sigmas, eps) -> (B, D)``: deterministic annealed sweep plus Tweedie's step."""
    label = "Exercise 2"
    if not_attempted(label, fn):
        return False
    if not callable(fn):
        raise AssertionError(f"{label}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(1)
    x, mu, s2 = _gaussian_case(g, (20, 2))
    sigmas = geometric_sigmas(5.0, 0.1, 6)

    def score_fn(y, s):
        return solution_1(y, mu, s2, s)
    got = torch.as_tensor(fn(score_fn, x.clone(), sigmas, 0.05), dtype=torch.float64)
    want = solution_2(score_fn, x, sigmas, 0.05)
    if got.shape != want.shape or not torch.allclose(got, want, rtol=0, atol=1e-8):
        raise AssertionError(f"{label}: values differ from the reference. Hint: the step at level i is "
                             "eps * sigma_i^2 / sigma_L^2, the update adds half the step times the score, "
                             "and the last step adds sigma_L^2 times the score at sigma_L")
    print(f"{label}: Correct")
    return True


def check_exercise_3(answer) -> bool:
    """``answer``: the number of levels from sigma 50 to 0.01 for 32x32x3 images (overlap 0.5)."""
    return check_number("Exercise 3", answer, solution_3(), 0.5,
                        "solve for gamma with score.overlap_ratio(3072), then count how many factors "
                        "of gamma take 50 down to 0.01, plus one for the first level")
