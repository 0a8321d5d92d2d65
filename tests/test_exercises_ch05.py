"""Chapter 05's exercise checks accept the reference solutions and reject wrong answers."""

import itertools
import math

import pytest
import torch

from ppl_models.ebm import RBM, langevin_temperature
from ppl_models.exercises import ch05


def test_checks_accept_solutions(capsys):
    assert ch05.check_exercise_1(ch05.solution_1())
    assert ch05.check_exercise_2(ch05.solution_2)
    assert ch05.check_exercise_3(ch05.solution_3())
    assert capsys.readouterr().out.count("Correct") == 3


def test_solutions_against_independent_references():
    assert abs(ch05.solution_1() - math.log10(2**784)) < 1e-9
    assert ch05.solution_3() == pytest.approx(langevin_temperature(5.0, 0.01)[1], rel=1e-12)
    g = torch.Generator().manual_seed(1)
    rbm = RBM.random(4, 3, weight_std=1.0, bias_std=1.0, generator=g, dtype=torch.float64)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    e = torch.stack([rbm.energy(v, hh.expand(16, 3)) for hh in h], 1)          # (16, 8) by brute force
    with torch.no_grad():
        brute = -torch.logsumexp(-e, 1)
        assert torch.allclose(ch05.solution_2(v, rbm.W, rbm.b, rbm.c), brute, atol=1e-12)


def test_exercise_1_accepts_rounded_answers_and_rejects_the_digit_count(capsys):
    for rounded in (236, 236.0, 236.04):                      # the chapter prints 10^236.0
        assert ch05.check_exercise_1(rounded)
    for wrong in (237, 235, 784 * math.log(2)):               # digits of 2^784; off by one; natural log
        with pytest.raises(AssertionError, match="Hint"):
            ch05.check_exercise_1(wrong)


def test_checks_reject_wrong_answers_and_accept_placeholders(capsys):
    with pytest.raises(AssertionError, match="Hint"):
        ch05.check_exercise_1(784.0)
    with pytest.raises(AssertionError, match="Hint"):
        ch05.check_exercise_2(lambda v, W, b, c: -(v @ b) - (v @ W + c).sum(-1))   # drops the softplus
    with pytest.raises(AssertionError, match="function"):
        ch05.check_exercise_2(3.0)
    with pytest.raises(AssertionError, match="Hint"):
        ch05.check_exercise_3(0.01**2 / 5.0)                                    # forgot the factor 2
    for check in (ch05.check_exercise_1, ch05.check_exercise_2, ch05.check_exercise_3):
        assert check(None) is False
