"""Exercises of chapter 01 (generative vs discriminative learning)."""

from __future__ import annotations

import torch

from ..generative_classifiers import fit_gaussian_classifier, predict_log_proba
from . import check_number, not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3",
           "solution_1", "solution_2", "solution_3"]


def solution_1() -> int:
    """Covariance parameters of a full-covariance class-conditional model of MNIST (10 x 784)."""
    d = 28 * 28
    return 10 * d * (d + 1) // 2


def solution_2() -> float:
    """p_new(y=1|x) for p_train(y=1|x) = 0.8, training prior (0.5, 0.5), test prior (0.9, 0.1)."""
    up, down = 0.8 * 0.1 / 0.5, 0.2 * 0.9 / 0.5
    return up / (up + down)


def solution_3(means: torch.Tensor, cov: torch.Tensor, prior: torch.Tensor):
    r"""LDA log-odds :math:`\log p(y=1|x)/p(y=0|x) = w^\top x + b` for two classes with a shared
    covariance: :math:`w = \Sigma^{-1}(\mu_1-\mu_0)`,
    :math:`b = -\tfrac12(\mu_1^\top\Sigma^{-1}\mu_1 - \mu_0^\top\Sigma^{-1}\mu_0) + \log\pi_1/\pi_0`."""
    w = torch.linalg.solve(cov, means[1] - means[0])
    b = -0.5 * (means[1] @ torch.linalg.solve(cov, means[1]) - means[0] @ torch.linalg.solve(cov, means[0]))
    return w, b + torch.log(prior[1] / prior[0])


def check_exercise_1(answer) -> bool:
    if not_attempted("Exercise 1", answer):
        return False
    if isinstance(answer, float) and answer != int(answer):
        raise AssertionError("Exercise 1: a parameter count is a whole number")
    return check_number("Exercise 1", answer, solution_1(), 0.5,
                        "a symmetric D x D matrix has D(D+1)/2 free entries; D = 28*28, and "
                        "there is one covariance per class")


def check_exercise_2(answer) -> bool:
    return check_number("Exercise 2", answer, solution_2(), 1e-3,
                        "multiply each class posterior by pi_new / pi_train, then renormalise "
                        "so the two probabilities sum to one")


def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(200, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 0.7]], dtype=torch.float64)
    y = (torch.arange(200) % 3 == 0).long()
    X = X + y.unsqueeze(1).double() * torch.tensor([1.0, -0.5, 0.8], dtype=torch.float64)
    return X, y


def check_exercise_3(answer) -> bool:
    """``answer(means (2, D), cov (D, D), prior (2,)) -> (w (D,), b scalar)``."""
    if not_attempted("Exercise 3", answer):
        return False
    X, y = _problem()
    p = fit_gaussian_classifier(X, y, "tied")
    try:
        w, b = answer(p.means, p.covariances[0], p.log_prior.exp())
        logits = X @ torch.as_tensor(w, dtype=X.dtype) + torch.as_tensor(b, dtype=X.dtype)
    except Exception as err:  # report the learner's error as a hint
        raise AssertionError(f"Exercise 3: your function raised {type(err).__name__}: {err}") from err
    lp = predict_log_proba(p, X)
    if not torch.allclose(logits, lp[:, 1] - lp[:, 0], atol=1e-8, rtol=0):
        raise AssertionError("Exercise 3: the log-odds do not match the tied-covariance classifier. "
                             "Hint: the quadratic terms x^T Sigma^-1 x cancel; keep the log prior ratio")
    print("Exercise 3: Correct")
    return True
