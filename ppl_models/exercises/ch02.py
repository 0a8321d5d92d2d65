"""Exercises of chapter 02 (latent-variable models: mixtures, EM, PPCA)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..mixtures import GMMParams, gmm_component_log_prob, gmm_n_parameters, gmm_responsibilities
from . import not_attempted

__all__ = ["check_exercise_1", "check_exercise_2", "check_exercise_3",
           "solution_1", "solution_2", "solution_3", "exercise_problem", "far_points"]


def exercise_problem(seed: int = 0, n: int = 40, d: int = 3, k: int = 3) -> tuple[GMMParams, torch.Tensor]:
    """A fixed float64 mixture with full covariances and ``n`` points to test answers on."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(k, d, d, generator=g, dtype=torch.float64)
    cov = A @ A.transpose(1, 2) + 0.5 * torch.eye(d, dtype=torch.float64)
    w = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
    params = GMMParams(w / w.sum(), 3 * torch.randn(k, d, generator=g, dtype=torch.float64), cov)
    X = 3 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return params, X


def solution_1(n_components: int = 5, dim: int = 10) -> int:
    """Free parameters of a full-covariance mixture: (K-1) + K D + K D (D+1) / 2."""
    return (n_components - 1) + n_components * dim + n_components * dim * (dim + 1) // 2


def solution_2(weights, means, covariances, X) -> torch.Tensor:
    """Responsibilities r_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j (...), computed in log space."""
    comp = torch.distributions.MultivariateNormal(means, covariance_matrix=covariances)
    lp = comp.log_prob(X.unsqueeze(1)) + weights.log()  # (N, K)
    return torch.softmax(lp, dim=-1)


def solution_3(q, X, params: GMMParams) -> torch.Tensor:
    """ELBO(q) = sum_n sum_k q_nk [log pi_k + log N(x_n | mu_k, Sigma_k) - log q_nk]."""
    lp = gmm_component_log_prob(params, X)
    return (q * (lp - q.clamp_min(1e-300).log())).sum()


def check_exercise_1(answer) -> bool:
    """Exercise 1: the number of free parameters for K = 5 components in D = 10 dimensions."""
    if not_attempted("Exercise 1", answer):
        return False
    expected = solution_1()
    params = GMMParams(torch.full((5,), 0.2), torch.zeros(5, 10), torch.eye(10).expand(5, 10, 10))
    assert expected == gmm_n_parameters(params)
    if int(answer) != expected or float(answer) != int(answer):
        raise AssertionError(f"Exercise 1: {answer} is not right. Hint: weights sum to one (K - 1 "
                             "free), each mean has D numbers, each symmetric covariance D(D+1)/2")
    print("Exercise 1: Correct")
    return True


def _check_function(label: str, answer: Callable, expected: torch.Tensor, got_fn: Callable,
                    hint: str, quiet: bool = False) -> bool:
    if not callable(answer):
        raise AssertionError(f"{label}: expected a function, got {type(answer).__name__}")
    got = torch.as_tensor(got_fn(answer), dtype=torch.float64)
    if got.shape != expected.shape or not torch.allclose(got, expected, rtol=0, atol=1e-6):
        raise AssertionError(f"{label}: your function disagrees with the reference. Hint: {hint}")
    if not quiet:
        print(f"{label}: Correct")
    return True


def far_points(params: GMMParams, n: int = 5, distance: float = 200.0, seed: int = 0) -> torch.Tensor:
    r"""``n`` points at ``distance`` from the origin, far from every component of ``params``.

    There every density :math:`\pi_k\,\mathcal N(x\mid\mu_k,\Sigma_k)` is below the smallest float64
    (:math:`\log` density :math:`\ll -745`), so a probability-space answer gives :math:`0/0`, while the
    log-space responsibilities stay well defined.

    Returns:
        ``(n, D)`` float64 points.
    """
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, params.means.shape[1], generator=g, dtype=torch.float64)
    x = distance * u / u.norm(dim=1, keepdim=True)
    if float(gmm_component_log_prob(params, x).max()) > -800.0:
        raise ValueError("distance is too small: some density does not underflow in float64")
    return x


def check_exercise_2(answer: Callable | None) -> bool:
    """Exercise 2: a function ``(weights, means, covariances, X) -> (N, K)`` responsibilities.

    It is tested on ordinary points and on points far from every component (:func:`far_points`),
    where a probability-space computation underflows to ``0/0``.
    """
    if not_attempted("Exercise 2", answer):
        return False
    params, X = exercise_problem()
    far = far_points(params)
    _check_function("Exercise 2", answer, gmm_responsibilities(params, X), lambda f: f(*params, X),
                    "r_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j)", quiet=True)
    return _check_function("Exercise 2", answer, gmm_responsibilities(params, far),
                           lambda f: f(*params, far),
                           "your answer is wrong on points far from every component: there every "
                           "density underflows to 0 in probability space; work with log-probabilities "
                           "and normalise with logsumexp/softmax")


def check_exercise_3(answer: Callable | None) -> bool:
    """Exercise 3: a function ``(q, X, params) -> ELBO`` (a scalar, summed over points)."""
    if not_attempted("Exercise 3", answer):
        return False
    params, X = exercise_problem(seed=1)
    g = torch.Generator().manual_seed(2)
    q = torch.softmax(torch.randn(X.shape[0], params.n_components, generator=g,
                                  dtype=torch.float64), -1)
    return _check_function("Exercise 3", answer, solution_3(q, X, params),
                           lambda f: f(q, X, params),
                           "ELBO = E_q[log p(x, z)] + H[q]; sum over points and components")
