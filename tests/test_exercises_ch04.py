"""Chapter 04's exercise checks accept the reference solutions and reject wrong answers."""

import math

import pytest
import torch

from ppl_models.exercises import ch04


def test_checks_accept_solutions(capsys):
    assert ch04.check_exercise_1(ch04.solution_1())
    assert ch04.check_exercise_2(ch04.solution_2)
    assert ch04.check_exercise_3(ch04.solution_3)
    assert capsys.readouterr().out.count("Correct") == 3


def test_solution_1_is_the_elbo_gap_by_quadrature():
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    n = torch.distributions.Normal
    log_q = n(0.0, 1.0).log_prob(z)
    integrand = log_q.exp() * (n(z, 1.0).log_prob(torch.tensor(1.0)) + n(0.0, 1.0).log_prob(z) - log_q)
    elbo = float(torch.trapezoid(integrand, z))
    log_px = float(n(0.0, math.sqrt(2.0)).log_prob(torch.tensor(1.0)))
    assert abs((log_px - elbo) - ch04.solution_1()) < 1e-7  # trapezoid error ~1e-8


def test_checks_reject_wrong_answers_and_accept_placeholders(capsys):
    with pytest.raises(AssertionError, match="Hint"):
        ch04.check_exercise_1(0.5)
    with pytest.raises(AssertionError, match="Hint"):
        ch04.check_exercise_2(lambda lw: lw.mean(0))  # that is the ELBO, not the IWAE bound
    with pytest.raises(AssertionError, match="Hint"):
        ch04.check_exercise_2(lambda lw: lw.exp().mean(0).log())  # underflows
    with pytest.raises(AssertionError, match="Hint"):
        ch04.check_exercise_3(lambda m, s: (0.5 * (m**2 + s**2 - 1)).sum(-1))
    with pytest.raises(AssertionError, match="function"):
        ch04.check_exercise_3(3.0)
    for check in (ch04.check_exercise_1, ch04.check_exercise_2, ch04.check_exercise_3):
        assert check(None) is False
    assert capsys.readouterr().out.count("not attempted") == 3
