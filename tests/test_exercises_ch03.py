"""Chapter 03 exercise checks accept the reference solutions and reject wrong answers."""

import math

import pytest
import torch

from ppl_models.exercises import ch03


def test_not_attempted_prints_and_passes(capsys):
    for check in (ch03.check_exercise_1, ch03.check_exercise_2, ch03.check_exercise_3):
        assert check(None) is False
    assert capsys.readouterr().out.count("not attempted") == 3


def test_solutions_pass():
    assert ch03.check_exercise_1(ch03.solution_1())
    assert ch03.check_exercise_2(ch03.solution_2)
    assert ch03.check_exercise_3(ch03.solution_3)


def test_wrong_answers_fail():
    with pytest.raises(AssertionError, match="Exercise 1"):
        ch03.check_exercise_1(ch03.solution_1() + 0.01)
    with pytest.raises(AssertionError, match="Exercise 2"):
        ch03.check_exercise_2(lambda a: torch.full((a.shape[0],), 1.0 / a.shape[0], dtype=a.dtype))
    with pytest.raises(AssertionError, match="Exercise 3"):
        ch03.check_exercise_3(lambda lt, ll: ch03.solution_3(lt, ll) + 1.0)


def test_exercise_1_is_the_brute_force_sum():
    init, trans, em = ch03.casino()
    x = ch03.ROLLS
    total = 0.0
    for code in range(2 ** len(x)):
        z = [(code >> i) & 1 for i in range(len(x))]
        p = init[z[0]] * em.probs[z[0], x[0]]
        for t in range(1, len(x)):
            p = p * trans[z[t - 1], z[t]] * em.probs[z[t], x[t]]
        total += float(p)
    assert ch03.solution_1() == pytest.approx(math.log(total), abs=1e-9)
