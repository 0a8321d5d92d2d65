import numpy as np
import pytest

from ppl_models.exercises import ch00, check_number, not_attempted


def test_placeholders_do_not_raise(capsys):
    assert ch00.check_exercise_1(None, {}) is False
    assert ch00.check_exercise_2(None) is False
    assert ch00.check_exercise_3(None) is False
    assert capsys.readouterr().out.count("not attempted") == 3


def test_solutions_pass_and_wrong_answers_fail():
    samples = {"theta": np.random.default_rng(0).normal(5, 5, size=(1000, 8))}
    assert ch00.check_exercise_1(ch00.solution_1(samples), samples)
    assert ch00.check_exercise_2(ch00.solution_2())
    assert ch00.check_exercise_3(ch00.solution_3())
    with pytest.raises(AssertionError, match="Exercise 1"):
        ch00.check_exercise_1(0.2, samples)
    with pytest.raises(AssertionError, match="probability"):
        ch00.check_exercise_1(1.5, samples)
    with pytest.raises(AssertionError, match="Exercise 2"):
        ch00.check_exercise_2(ch00.solution_2() + 1.0)
    with pytest.raises(AssertionError, match="Exercise 3"):
        ch00.check_exercise_3(float(np.mean([28, 8, -3, 7, -1, 1, 18, 12])))  # unweighted mean


def test_exercise_2_rejects_the_unchanged_prior_and_accepts_the_right_answer():
    from ppl_models import hierarchical as H

    d = H.load_eight_schools()
    unchanged = H.exact_posterior(d.se, d.effect).tau_mean          # HalfCauchy(5): 3.60
    right = ch00.solution_2()                                         # HalfNormal(5): 3.29
    assert unchanged - right > 2 * ch00.EXERCISE_2_ATOL
    with pytest.raises(AssertionError, match="unchanged"):
        ch00.check_exercise_2(unchanged)
    with pytest.raises(AssertionError, match="Exercise 2"):
        ch00.check_exercise_2(unchanged - 0.1)  # a Monte Carlo estimate under the old prior
    assert ch00.check_exercise_2(right)
    assert ch00.check_exercise_2(right + 0.1) and ch00.check_exercise_2(right - 0.1)  # MC error


def test_known_values():
    assert ch00.solution_3() == pytest.approx(7.6856, abs=1e-3)  # BDA3 section 5.5: 7.7
    assert 0 < ch00.solution_2() < 3.6  # a HalfNormal prior pulls tau below the HalfCauchy mean


def test_shared_helpers():
    assert not_attempted("x", None) and not not_attempted("x", 0)
    with pytest.raises(AssertionError, match="number"):
        check_number("x", "abc", 1.0, 0.1, "")
    with pytest.raises(AssertionError, match="not finite"):
        check_number("x", float("nan"), 1.0, 0.1, "")
