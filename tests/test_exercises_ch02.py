"""Chapter 02 exercise checks accept the reference solutions and reject wrong answers."""

import pytest
import torch

from ppl_models.exercises import ch02
from ppl_models.mixtures import gmm_log_likelihood, gmm_responsibilities


def test_not_attempted_prints_and_returns_false(capsys):
    for check in (ch02.check_exercise_1, ch02.check_exercise_2, ch02.check_exercise_3):
        assert check(None) is False
    assert capsys.readouterr().out.count("not attempted") == 3


def test_exercise_1():
    assert ch02.check_exercise_1(ch02.solution_1())
    with pytest.raises(AssertionError, match="Hint"):
        ch02.check_exercise_1(5 * 10 + 5 * 100 + 5)


def test_exercise_2():
    assert ch02.check_exercise_2(ch02.solution_2)
    with pytest.raises(AssertionError, match="Hint"):
        ch02.check_exercise_2(lambda w, m, c, X: torch.full((X.shape[0], len(w)), 1 / len(w)))
    with pytest.raises(AssertionError, match="function"):
        ch02.check_exercise_2(3.0)


def test_exercise_3_and_the_elbo_identity():
    assert ch02.check_exercise_3(ch02.solution_3)
    with pytest.raises(AssertionError, match="Hint"):  # forgets the entropy term
        ch02.check_exercise_3(lambda q, X, p: ch02.solution_3(q, X, p) + (q * q.log()).sum())
    params, X = ch02.exercise_problem()
    post = gmm_responsibilities(params, X)
    assert abs(float(ch02.solution_3(post, X, params) - gmm_log_likelihood(params, X).sum())) < 1e-9
