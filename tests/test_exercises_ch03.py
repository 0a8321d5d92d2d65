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


def test_plausible_wrong_backward_answers_fail():
    def wrong_axis(log_trans, log_lik):      # sums over the source state: uses A transposed
        return ch03.solution_3(log_trans.T, log_lik)

    def same_step_emission(log_trans, log_lik):   # p(x_t | j) instead of p(x_{t+1} | j)
        betas = [torch.zeros_like(log_lik[-1])]
        for t in range(log_lik.shape[0] - 2, -1, -1):
            betas.append(torch.logsumexp(log_trans + log_lik[t] + betas[-1], dim=-1))
        return torch.stack(betas[::-1])

    for wrong in (wrong_axis, same_step_emission):
        with pytest.raises(AssertionError, match="Exercise 3"):
            ch03.check_exercise_3(wrong)


def test_non_tensor_results_fail_with_a_message():
    with pytest.raises(AssertionError, match="returned NoneType"):
        ch03.check_exercise_2(lambda trans: None)
    with pytest.raises(AssertionError, match="returned NoneType"):
        ch03.check_exercise_3(lambda log_trans, log_lik: None)
    with pytest.raises(AssertionError, match="expected a function"):
        ch03.check_exercise_2(3.0)
