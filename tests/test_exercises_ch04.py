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


def _toy_encoder(loc, scale):
    return lambda x: (loc[: x.shape[0]], scale[: x.shape[0]])


def test_solution_3_units_matches_torch_kl_unit_by_unit():
    g = torch.Generator().manual_seed(1)
    loc = torch.randn(40, 6, generator=g, dtype=torch.float64) * torch.tensor([0.0, 0.1, 0.3, 0.5, 1.0, 2.0])
    scale = torch.rand(40, 6, generator=g, dtype=torch.float64) * 0.5 + 0.5
    x = torch.zeros(40, 3, dtype=torch.float64)
    d = torch.distributions
    std = d.Normal(0.0, 1.0)
    want = sum(float(d.kl_divergence(d.Normal(loc[:, u], scale[:, u]), std).mean()) > 0.1 for u in range(6))
    assert ch04.solution_3_units(_toy_encoder(loc, scale), x) == want
    assert 0 < want < 6  # the toy has units on both sides of the threshold


def test_check_exercise_3_units(capsys):
    loc = torch.tensor([[0.0, 2.0], [0.0, -2.0]])
    scale = torch.ones(2, 2)
    enc, x = _toy_encoder(loc, scale), torch.zeros(2, 5)
    assert ch04.check_exercise_3_units(1, enc, x)          # unit 2: KL = 2 nats; unit 1: 0
    with pytest.raises(AssertionError, match="Hint"):
        ch04.check_exercise_3_units(2, enc, x)
    assert ch04.check_exercise_3_units(None, enc, x) is False
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("encoder, x, match", [
    (3.0, torch.zeros(2, 5), "encoder"),
    (_toy_encoder(torch.zeros(2, 2), torch.ones(2, 2)), torch.zeros(5), "x must"),
    (_toy_encoder(torch.zeros(2, 2), torch.ones(2, 2)), torch.zeros(0, 5), "x must"),
    (_toy_encoder(torch.zeros(2, 2), torch.ones(2, 2)), torch.zeros(2, 5, dtype=torch.int64), "x must"),
])
def test_solution_3_units_rejects_bad_inputs(encoder, x, match):
    with pytest.raises(ValueError, match=match):
        ch04.solution_3_units(encoder, x)
