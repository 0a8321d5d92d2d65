"""Exercises of chapter 07 (diffusion models)."""

from __future__ import annotations

import math

import torch

from . import check_number, not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3", "check_exercise_4",
           "solution_1", "solution_2", "solution_3", "solution_4"]


def solution_1(betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean coefficient and std of :math:`q(x_k \mid x_0)` for ``k = 1..T``: :math:`\sqrt{\bar\alpha_k}`,
    :math:`\sqrt{1-\bar\alpha_k}` with :math:`\bar\alpha_k = \prod_{i\le k}(1-\beta_i)`."""
    ab = torch.cumprod(1.0 - betas, 0)
    return ab.sqrt(), (1.0 - ab).sqrt()


def solution_2(ab_prev: torch.Tensor, ab: torch.Tensor, x0: torch.Tensor,
               xk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean and variance of :math:`q(x_{k-1} \mid x_k, x_0)` given both noise levels.

    With :math:`\beta_k = 1 - \bar\alpha_k/\bar\alpha_{k-1}`:
    :math:`\tilde\mu = \frac{\sqrt{\bar\alpha_{k-1}}\beta_k}{1-\bar\alpha_k}x_0
    + \frac{\sqrt{\alpha_k}(1-\bar\alpha_{k-1})}{1-\bar\alpha_k}x_k`,
    :math:`\tilde\beta_k = \frac{1-\bar\alpha_{k-1}}{1-\bar\alpha_k}\beta_k`.
    """
    alpha = ab / ab_prev
    beta = 1.0 - alpha
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * xk
    return mean, (1 - ab_prev) / (1 - ab) * beta


def solution_3(x_t: torch.Tensor, eps: torch.Tensor, ab_t: torch.Tensor, ab_s: torch.Tensor) -> torch.Tensor:
    r"""Deterministic DDIM step (eta = 0).

    :math:`x_s = \sqrt{\bar\alpha_s}\hat x_0 + \sqrt{1-\bar\alpha_s}\hat\epsilon`,
    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\hat\epsilon)/\sqrt{\bar\alpha_t}`."""
    x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
    return ab_s.sqrt() * x0 + (1 - ab_s).sqrt() * eps


def solution_4() -> float:
    r"""Bits/dim of :math:`\log p(y) = 1500` nats on dequantised 28x28 images in [-1, 1] with 256 levels:
    :math:`(-\log p(y) + D\log(256/2))/(D\ln 2)`."""
    d = 784
    return (-1500.0 + d * math.log(128.0)) / (d * math.log(2.0))


def _tensors(label: str, got, want) -> None:
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    if len(got) != len(want):
        raise AssertionError(f"{label}: expected {len(want)} output(s), got {len(got)}")
    for g, w in zip(got, want, strict=True):
        g = torch.as_tensor(g, dtype=torch.float64)
        if g.shape != w.shape:
            raise AssertionError(f"{label}: shape {tuple(g.shape)}, expected {tuple(w.shape)}")
        if not torch.allclose(g, w, rtol=1e-8, atol=1e-10):
            raise AssertionError(f"{label}: values differ from the reference. Hint: " + _HINTS[label])


_HINTS = {
    "Exercise 1": "alpha_bar is the cumulative product of (1 - beta); return sqrt(alpha_bar) and "
                  "sqrt(1 - alpha_bar)",
    "Exercise 2": "beta_k = 1 - alpha_bar_k / alpha_bar_{k-1}; complete the square in x_{k-1} (or "
                  "condition the joint Gaussian of x_{k-1}, x_k given x_0)",
    "Exercise 3": "first predict x0 from x_t and eps, then re-noise it to level s with the same eps",
}


def _check_fn(label: str, fn, make_args, reference) -> bool:
    if not_attempted(label, fn):
        return False
    if not callable(fn):
        raise AssertionError(f"{label}: expected a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(0)
    for size in (1, 7, 40):
        args = make_args(size, g)
        _tensors(label, fn(*args), reference(*args))
    print(f"{label}: Correct")
    return True


def _betas(size, g):
    return (torch.rand(size, generator=g, dtype=torch.float64) * 0.2 + 1e-3,)


def _levels(size, g):
    u = torch.rand(size + 1, generator=g, dtype=torch.float64) * 0.98 + 0.01
    ab = torch.sort(u, descending=True).values
    return ab[:-1], ab[1:]


def check_exercise_1(fn) -> bool:
    """``fn(betas (T,)) -> (mean_coef (T,), std (T,))`` of q(x_k | x_0), k = 1..T."""
    return _check_fn("Exercise 1", fn, _betas, solution_1)


def check_exercise_2(fn) -> bool:
    """``fn(ab_prev, ab, x0, xk) -> (mean, var)`` of q(x_{k-1} | x_k, x_0), elementwise."""
    def make(size, g):
        ab_prev, ab = _levels(size, g)
        return (ab_prev, ab, torch.randn(size, generator=g, dtype=torch.float64),
                torch.randn(size, generator=g, dtype=torch.float64))
    return _check_fn("Exercise 2", fn, make, solution_2)


def check_exercise_3(fn) -> bool:
    """``fn(x_t, eps, ab_t, ab_s) -> x_s``, the deterministic DDIM step from level t to the less noisy s."""
    def make(size, g):
        ab_s, ab_t = _levels(size, g)
        return (torch.randn(size, generator=g, dtype=torch.float64),
                torch.randn(size, generator=g, dtype=torch.float64), ab_t, ab_s)
    return _check_fn("Exercise 3", fn, make, solution_3)


def check_exercise_4(answer) -> bool:
    """Bits/dim (a number) for log p(y) = 1500 nats on dequantised 28x28 images in [-1, 1], 256 levels."""
    return check_number("Exercise 4", answer, solution_4(), 1e-3,
                        "add the dequantisation offset D log(256 / 2) (bins of width 2/256) before dividing "
                        "by D ln 2")
