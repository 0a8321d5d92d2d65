"""Each chapter-01 check accepts its reference solution, rejects a wrong answer, skips None."""

import pytest
import torch

from ppl_models.exercises import ch01


def test_exercise_1():
    assert ch01.check_exercise_1(ch01.solution_1()) is True
    assert ch01.solution_1() == 3_077_200
    with pytest.raises(AssertionError, match="D\\(D\\+1\\)/2"):
        ch01.check_exercise_1(784 * 784 * 10)
    assert ch01.check_exercise_1(None) is False


def test_exercise_2():
    assert ch01.check_exercise_2(ch01.solution_2()) is True
    with pytest.raises(AssertionError, match="renormalise"):
        ch01.check_exercise_2(0.8)
    assert ch01.check_exercise_2(None) is False


def test_exercise_3():
    assert ch01.check_exercise_3(ch01.solution_3) is True

    def forgot_prior(means, cov, prior):
        w, b = ch01.solution_3(means, cov, prior)
        return w, b - torch.log(prior[1] / prior[0])

    with pytest.raises(AssertionError, match="log prior"):
        ch01.check_exercise_3(forgot_prior)
    with pytest.raises(AssertionError, match="raised"):
        ch01.check_exercise_3(lambda means, cov, prior: 1 / 0)
    assert ch01.check_exercise_3(None) is False
