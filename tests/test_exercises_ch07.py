"""Chapter 07's exercise checks accept the reference solutions and reject wrong answers."""

import math

import pytest
import torch

from ppl_models import diffusion as dm
from ppl_models.exercises import ch07

F64 = torch.float64


def test_checks_accept_solutions(capsys):
    assert ch07.check_exercise_1(ch07.solution_1)
    assert ch07.check_exercise_2(ch07.solution_2)
    assert ch07.check_exercise_3(ch07.solution_3)
    assert ch07.check_exercise_4(ch07.solution_4())
    assert capsys.readouterr().out.count("Correct") == 4


def test_solutions_equal_the_package():
    sched = dm.make_schedule("linear", 30, beta_start=1e-3, beta_end=0.2)
    mean_coef, std = ch07.solution_1(sched.betas)
    alpha, sigma = sched.marginal(dm.step_to_time(torch.arange(30), 30))
    torch.testing.assert_close(mean_coef, alpha, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std, sigma, rtol=1e-12, atol=1e-12)
    g = torch.Generator().manual_seed(0)
    n = torch.arange(1, 30)
    x0, xn = torch.randn(29, 1, generator=g, dtype=F64), torch.randn(29, 1, generator=g, dtype=F64)
    mean, var = dm.q_posterior(sched, x0, xn, n)
    ac = sched.alphas_cumprod
    m2, v2 = ch07.solution_2(ac[n - 1], ac[n], x0[:, 0], xn[:, 0])
    torch.testing.assert_close(m2, mean[:, 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(v2, var, rtol=1e-12, atol=1e-12)
    eps, x = torch.randn(29, 1, generator=g, dtype=F64), torch.randn(29, 1, generator=g, dtype=F64)
    a_t, a_s = ac[n], ac[n - 1]
    want = dm.ddim_step(eps, x, a_t.sqrt(), (1 - a_t).sqrt(), a_s.sqrt(), (1 - a_s).sqrt(), 0.0)
    got = ch07.solution_3(x[:, 0], eps[:, 0], a_t, a_s)
    torch.testing.assert_close(got, want[:, 0], rtol=1e-12, atol=1e-12)


def test_solution_2_is_gaussian_conditioning():
    """Condition the joint Gaussian of (x_{k-1}, x_k) given x_0 by the Schur complement."""
    ab_prev, ab, x0, xk = torch.tensor(0.7, dtype=F64), torch.tensor(0.6, dtype=F64), 0.3, -1.1
    a = ab / ab_prev
    c = a.sqrt() * (1 - ab_prev)
    cov = torch.tensor([[1 - ab_prev, c], [c, 1 - ab]], dtype=F64)
    mu = torch.tensor([ab_prev.sqrt() * x0, ab.sqrt() * x0], dtype=F64)
    mean = mu[0] + cov[0, 1] / cov[1, 1] * (xk - mu[1])
    var = cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1]
    m, v = ch07.solution_2(ab_prev, ab, torch.tensor(x0, dtype=F64), torch.tensor(xk, dtype=F64))
    assert abs(float(m - mean)) < 1e-12 and abs(float(v - var)) < 1e-12


def test_solution_4_equals_bits_per_dim():
    want = float(dm.bits_per_dim(torch.tensor([1500.0], dtype=F64), 784, 256)[0])
    assert math.isclose(ch07.solution_4(), want, rel_tol=0, abs_tol=1e-12)


def test_checks_reject_wrong_answers_and_accept_placeholders(capsys):
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_1(lambda b: (torch.cumprod(1 - b, 0), (1 - torch.cumprod(1 - b, 0))))  # no sqrt
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_1(lambda b: ((1 - b).sqrt(), b.sqrt()))  # one step, not the product
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_2(lambda ap, a, x0, xk: (a.sqrt() * x0, 1 - a))  # the marginal, not the posterior
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_3(lambda x, e, at, as_: (x - (1 - at).sqrt() * e) / at.sqrt())  # x0 only
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_4(1500.0 / (784 * math.log(2)))  # no dequantisation offset
    with pytest.raises(AssertionError, match="Hint"):
        ch07.check_exercise_4(-1500.0 / (784 * math.log(2)) + 8)  # the [0, 1] offset, not the [-1, 1] one
    with pytest.raises(AssertionError, match="function"):
        ch07.check_exercise_3(3.0)
    for check in (ch07.check_exercise_1, ch07.check_exercise_2, ch07.check_exercise_3, ch07.check_exercise_4):
        assert check(None) is False
