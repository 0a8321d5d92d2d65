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


def _prob_space_responsibilities(weights, means, covariances, X):
    """The naive answer: densities exponentiated, then normalised (underflows far away)."""
    comp = torch.distributions.MultivariateNormal(means, covariance_matrix=covariances)
    p = weights * comp.log_prob(X.unsqueeze(1)).exp()  # (N, K)
    return p / p.sum(-1, keepdim=True)


def test_exercise_2_far_points_underflow_in_probability_space():
    params, X = ch02.exercise_problem()
    far = ch02.far_points(params)
    # the naive answer is right on the ordinary points and 0/0 on the far ones ...
    naive = _prob_space_responsibilities(*params, X)
    assert torch.allclose(naive, gmm_responsibilities(params, X), atol=1e-9)
    assert torch.isnan(_prob_space_responsibilities(*params, far)).all()
    # ... while the log-space reference is a proper distribution there
    r = gmm_responsibilities(params, far)
    assert torch.isfinite(r).all() and torch.allclose(r.sum(-1), torch.ones(len(far), dtype=r.dtype))


def test_exercise_2_accepts_log_space_and_rejects_probability_space(capsys):
    def log_space(weights, means, covariances, X):
        comp = torch.distributions.MultivariateNormal(means, covariance_matrix=covariances)
        return torch.softmax(comp.log_prob(X.unsqueeze(1)) + weights.log(), -1)

    assert ch02.check_exercise_2(log_space)
    assert capsys.readouterr().out.count("Correct") == 1
    with pytest.raises(AssertionError, match="far from every component"):
        ch02.check_exercise_2(_prob_space_responsibilities)


def test_far_points_rejects_a_distance_that_does_not_underflow():
    params, _ = ch02.exercise_problem()
    with pytest.raises(ValueError, match="distance"):
        ch02.far_points(params, distance=1.0)
