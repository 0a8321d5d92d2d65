"""Chapter 06's exercise checks accept the reference solutions and reject wrong answers."""

import math

import pytest
import torch

from ppl_models import score
from ppl_models.exercises import ch06


def test_checks_accept_solutions(capsys):
    assert ch06.check_exercise_1(ch06.solution_1)
    assert ch06.check_exercise_2(ch06.solution_2)
    assert ch06.check_exercise_3(ch06.solution_3())
    assert capsys.readouterr().out.count("Correct") == 3


def test_solution_1_is_the_autograd_score_of_the_perturbed_gaussian():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    mu, s2, sigma = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0.3, 0.7
    dist = torch.distributions.MultivariateNormal(mu, (s2 + sigma**2) * torch.eye(3, dtype=torch.float64))
    (grad,) = torch.autograd.grad(dist.log_prob(x).sum(), x)
    torch.testing.assert_close(ch06.solution_1(x.detach(), mu, s2, sigma), grad, rtol=1e-12, atol=1e-12)


def test_solution_2_tweedie_step_is_the_posterior_mean_for_a_gaussian():
    # with eps -> 0 the sweep does nothing and the result is E[x0 | x] = mu + s2 (x - mu) / (s2 + sigma_L^2)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    mu, s2, sigmas = torch.zeros(2, dtype=torch.float64), 0.5, score.geometric_sigmas(2.0, 0.3, 3)
    out = ch06.solution_2(lambda y, s: ch06.solution_1(y, mu, s2, s), x, sigmas, 1e-300)
    torch.testing.assert_close(out, s2 * x / (s2 + 0.09), rtol=1e-12, atol=1e-12)


def test_solution_3_counts_levels_at_the_overlap_ratio():
    for dim, hi, lo in ((784, 32.0, 0.02), (3072, 50.0, 0.01)):
        n = ch06.solution_3(dim, hi, lo)
        gamma = score.overlap_ratio(dim)
        assert gamma ** (n - 2) < hi / lo <= gamma ** (n - 1)
        assert n == 1 + math.ceil(math.log(hi / lo) / math.log(gamma))
    assert ch06.solution_3(3072, 50.0, 0.01) == 220


def test_checks_reject_wrong_answers_and_accept_placeholders(capsys):
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_1(lambda x, mu, s2, sigma: -(x - mu) / s2)  # forgot the noise
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_1(lambda x, mu, s2, sigma: (x - mu) / (s2 + sigma**2))  # wrong sign
    with pytest.raises(AssertionError, match="function"):
        ch06.check_exercise_1(1.0)
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_2(lambda f, x, sigmas, eps: x + float(sigmas[-1]) ** 2 * f(x, float(sigmas[-1])))
    wrong_step = lambda f, x, sigmas, eps: ch06.solution_2(f, x, sigmas, 2 * eps)  # noqa: E731
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_2(wrong_step)
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_3(ch06.solution_3() + 5)
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_3(ch06.solution_3(3072, 50.0, 0.01) - 1)  # forgot the first level
    with pytest.raises(AssertionError, match="Hint"):
        ch06.check_exercise_3(ch06.solution_3(784, 32.0, 0.02))  # the chapter's MNIST ladder
    for check in (ch06.check_exercise_1, ch06.check_exercise_2, ch06.check_exercise_3):
        assert check(None) is False
    assert capsys.readouterr().out.count("not attempted") == 3
