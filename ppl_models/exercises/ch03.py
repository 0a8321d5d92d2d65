"""Exercises of chapter 03 (hidden Markov models)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..hmm import CategoricalParams, categorical_log_lik, hmm_log_likelihood, hmm_smoother
from . import check_number, not_attempted

__all__ = ["casino", "ROLLS", "check_exercise_1", "check_exercise_2", "check_exercise_3",
           "solution_1", "solution_2", "solution_3"]

ROLLS = (2, 5, 5, 5, 0, 5, 5, 3)  # die faces 1..6 coded 0..5


def casino() -> tuple[torch.Tensor, torch.Tensor, CategoricalParams]:
    """The chapter's dishonest casino: (initial probs, transition matrix, emission params), float64."""
    init = torch.tensor([0.5, 0.5], dtype=torch.float64)
    trans = torch.tensor([[0.95, 0.05], [0.10, 0.90]], dtype=torch.float64)
    fair = torch.full((6,), 1 / 6, dtype=torch.float64)
    loaded = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 0.5], dtype=torch.float64)
    return init, trans, CategoricalParams(torch.stack([fair, loaded]))


def solution_1() -> float:
    """log p(rolls) under the casino model, by the forward algorithm."""
    init, trans, em = casino()
    log_lik = categorical_log_lik(torch.tensor(ROLLS), em)
    return float(hmm_log_likelihood(init.log(), trans.log(), log_lik))


def solution_2(trans: torch.Tensor) -> torch.Tensor:
    r"""Stationary distribution: the left eigenvector :math:`\pi A = \pi` with eigenvalue 1, normalised."""
    vals, vecs = torch.linalg.eig(trans.T)
    v = vecs[:, torch.argmin((vals - 1).abs())].real
    return v / v.sum()


def solution_3(log_trans: torch.Tensor, log_lik: torch.Tensor) -> torch.Tensor:
    r"""Unnormalised log backward messages, ``log_lik (T, K)`` -> ``(T, K)``:
    :math:`\log\beta_t(i) = \log\sum_j A_{ij} p(x_{t+1}|j)\beta_{t+1}(j)`, :math:`\beta_T = 1`."""
    betas = [torch.zeros_like(log_lik[-1])]
    for t in range(log_lik.shape[0] - 2, -1, -1):
        betas.append(torch.logsumexp(log_trans + log_lik[t + 1] + betas[-1], dim=-1))
    return torch.stack(betas[::-1])


def check_exercise_1(answer) -> bool:
    """Exercise 1: log p(x) of the rolls ``ROLLS`` under the casino model (nats)."""
    return check_number("Exercise 1", answer, solution_1(), 1e-6,
                        "sum over both hidden paths with the forward recursion, in log space; "
                        "hmm.categorical_log_lik gives the (T, K) emission term")


def _result(label: str, answer: Callable, *args) -> torch.Tensor:
    """Call a learner's function and turn its result into a float64 tensor, or fail with a message."""
    if not callable(answer):
        raise AssertionError(f"{label}: expected a function, got {type(answer).__name__}")
    value = answer(*args)
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, RuntimeError, ValueError):
        kind = type(value).__name__
        raise AssertionError(f"{label}: your function returned {kind}, not a tensor") from None


def _problems():
    g = torch.Generator().manual_seed(3)
    for k in (2, 3, 5):
        yield torch.softmax(torch.randn(k, k, generator=g, dtype=torch.float64) * 2, -1)


def check_exercise_2(answer: Callable | None) -> bool:
    """Exercise 2: a function returning the stationary distribution of a transition matrix."""
    if not_attempted("Exercise 2", answer):
        return False
    for trans in _problems():
        got = _result("Exercise 2", answer, trans).reshape(-1)
        if got.shape != (trans.shape[0],) or not torch.allclose(got @ trans, got, atol=1e-8) \
                or abs(float(got.sum()) - 1) > 1e-8 or (got < -1e-12).any():
            raise AssertionError("Exercise 2: the answer is not a probability vector with pi A = pi. "
                                 "Hint: left eigenvector of A (eigenvector of A.T) for eigenvalue 1")
    print("Exercise 2: Correct")
    return True


def check_exercise_3(answer: Callable | None) -> bool:
    """Exercise 3: the backward recursion (unnormalised log beta, (T, K))."""
    if not_attempted("Exercise 3", answer):
        return False
    g = torch.Generator().manual_seed(4)
    k, t = 3, 6
    log_init = torch.log_softmax(torch.randn(k, generator=g, dtype=torch.float64), -1)
    log_trans = torch.log_softmax(torch.randn(k, k, generator=g, dtype=torch.float64), -1)
    log_lik = torch.randn(t, k, generator=g, dtype=torch.float64)
    got = _result("Exercise 3", answer, log_trans, log_lik)
    expected = solution_3(log_trans, log_lik)
    post = hmm_smoother(log_init, log_trans, log_lik)
    smoothed = torch.softmax(expected + torch.log(post.filtered_probs), -1)
    assert torch.allclose(smoothed, post.smoothed_probs, atol=1e-10)  # the solution itself is right
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-8):
        raise AssertionError("Exercise 3: wrong backward messages. Hint: beta_T = 0 in log space and "
                             "beta_t(i) = logsumexp_j(log A_ij + log p(x_{t+1}|j) + beta_{t+1}(j))")
    print("Exercise 3: Correct")
    return True
