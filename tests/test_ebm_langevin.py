"""Langevin samplers: the update convention, ULA's closed-form bias, MALA's exactness and its MH ratio."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.optimize import linear_sum_assignment

from ppl_models.ebm import LangevinResult, langevin_temperature, langevin_update_scales, mala, ula
from ppl_models.exact2d import eight_gaussians

f64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def gaussian(s2):
    """log N(0, s2 I) up to a constant, and its score."""
    return (lambda x: -(x**2).flatten(1).sum(1) / (2 * s2)), (lambda x: -x / s2)


def exact_gaussian(n, d, s2, seed):
    return math.sqrt(s2) * torch.randn(n, d, generator=gen(seed), dtype=f64)


# ---------------------------------------------------------------- the update convention
def test_ula_step_is_the_documented_update():
    log_p, score = gaussian(2.0)
    x0 = exact_gaussian(5, 3, 2.0, 1)
    eps, T = 0.3, 0.7
    out = ula(x0, 3, eps, log_prob_fn=log_p, temperature=T, generator=gen(4))
    g, x = gen(4), x0
    for _ in range(3):
        x = x + eps / 2 * score(x) + math.sqrt(eps * T) * torch.randn(x.shape, generator=g, dtype=f64)
    torch.testing.assert_close(out.samples, x, rtol=0, atol=1e-12)
    by_score = ula(x0, 3, eps, score_fn=score, temperature=T, generator=gen(4))
    torch.testing.assert_close(by_score.samples, out.samples, rtol=0, atol=1e-12)   # autograd = score
    assert out.nfe == 3 and out.acceptance_rate == 1.0 and out.chain is None


def test_temperature_helper_converts_a_mismatched_update_and_round_trips():
    assert langevin_temperature(10.0, 0.005) == pytest.approx((20.0, 1.25e-6), rel=1e-12)
    for lam, sigma in ((10.0, 0.005), (0.01, 0.1414), (0.5, 1.0)):
        eps, T = langevin_temperature(lam, sigma)
        assert langevin_update_scales(eps, T) == pytest.approx((lam, sigma), rel=1e-12)
    # the (eps, T) it returns reproduces "x + lam * grad + sigma * z" step for step
    log_p, score = gaussian(1.0)
    x0 = exact_gaussian(4, 2, 1.0, 2)
    lam, sigma = 10.0, 0.005
    eps, T = langevin_temperature(lam, sigma)
    out = ula(x0, 2, eps, score_fn=score, temperature=T, generator=gen(3))
    g, x = gen(3), x0
    for _ in range(2):
        x = x + lam * score(x) + sigma * torch.randn(x.shape, generator=g, dtype=f64)
    torch.testing.assert_close(out.samples, x, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- ULA's bias
@pytest.mark.parametrize(("eps", "T"), [(0.4, 1.0), (1.6, 1.0), (3.2, 1.0), (1.6, 0.5)])
def test_ula_stationary_variance_matches_closed_form(eps, T):
    """For N(0, s^2): x' = (1 - eps/(2 s^2)) x + sqrt(eps T) z, an AR(1) with variance
    eps T / (1 - (1 - eps/(2 s^2))^2) = T s^2 / (1 - eps / (4 s^2))."""
    s2 = 2.0
    log_p, _ = gaussian(s2)
    out = ula(exact_gaussian(20_000, 2, s2, 5), 80, eps, log_prob_fn=log_p, temperature=T, generator=gen(6))
    theory = T * s2 / (1 - eps / (4 * s2))
    assert abs(float(out.samples.var()) / theory - 1) < 0.03
    assert abs(theory - T * s2) / (T * s2) > 0.05   # the bias is larger than the tolerance


# ---------------------------------------------------------------- MALA
def test_mala_is_exact_where_ula_is_biased():
    s2, eps = 2.0, 3.2
    log_p, _ = gaussian(s2)
    out = mala(exact_gaussian(20_000, 2, s2, 7), 100, eps, log_prob_fn=log_p, generator=gen(8))
    assert abs(float(out.samples.var()) / s2 - 1) < 0.03     # ULA: s2 / (1 - 0.4) = 1.67 s2
    assert abs(float(out.samples.mean())) < 0.03
    assert out.nfe == 101 and 0.0 < out.acceptance_rate < 1.0


def test_mala_tempered_target():
    s2, T = 1.0, 0.25
    log_p, _ = gaussian(s2)
    out = mala(exact_gaussian(20_000, 2, T * s2, 9), 60, 0.5, log_prob_fn=log_p, temperature=T,
               generator=gen(10))
    assert abs(float(out.samples.var()) / (T * s2) - 1) < 0.03   # p^(1/T) = N(0, T s2)


def test_mala_acceptance_decreases_with_step_size():
    log_p, _ = gaussian(2.0)
    x0 = exact_gaussian(4000, 2, 2.0, 11)
    rates = [mala(x0, 20, eps, log_prob_fn=log_p, generator=gen(12)).acceptance_rate
             for eps in (0.2, 1, 3, 6)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False)), rates
    assert rates[0] > 0.95 and rates[-1] < 0.8


def test_mala_one_step_acceptance_equals_quadrature_of_the_mh_ratio():
    """Non-Gaussian target log p(x) = -x^4/4 + x: E_z[min(1, alpha)] by scipy quadrature."""
    x0, eps, T = 0.7, 0.5, 0.8

    def log_p(x):
        return -(x**4) / 4 + x

    def grad(x):
        return -(x**3) + 1

    def accept_prob(z):
        xp = x0 + eps / 2 * grad(x0) + math.sqrt(eps * T) * z
        log_q_fwd = -(xp - x0 - eps / 2 * grad(x0)) ** 2 / (2 * eps * T)
        log_q_bwd = -(x0 - xp - eps / 2 * grad(xp)) ** 2 / (2 * eps * T)
        la = (log_p(xp) - log_p(x0)) / T + log_q_bwd - log_q_fwd
        return min(1.0, math.exp(la)) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    expected, _ = integrate.quad(accept_prob, -12, 12, limit=200, points=np.linspace(-3, 3, 13).tolist())
    n = 100_000
    out = mala(torch.full((n, 1), x0, dtype=f64), 1, eps, log_prob_fn=lambda x: log_p(x[:, 0]),
               temperature=T, generator=gen(13))
    assert abs(out.acceptance_rate - expected) < 5 * math.sqrt(expected * (1 - expected) / n)
    assert 0.3 < expected < 0.99


def test_shape_agnostic_and_chain():
    log_p, _ = gaussian(1.0)
    x0 = exact_gaussian(50, 4, 1.0, 14)
    flat = mala(x0, 6, 0.5, log_prob_fn=log_p, generator=gen(15), return_chain=True, thin=2)
    img = mala(x0.view(50, 1, 2, 2), 6, 0.5, log_prob_fn=log_p, generator=gen(15))
    torch.testing.assert_close(img.samples.reshape(50, 4), flat.samples, rtol=0, atol=1e-12)
    assert img.acceptance_rate == flat.acceptance_rate
    assert isinstance(flat, LangevinResult) and flat.chain.shape == (4, 50, 4)
    assert torch.equal(flat.chain[0], x0) and torch.equal(flat.chain[-1], flat.samples)
    u = ula(x0.view(50, 1, 2, 2), 3, 0.5, log_prob_fn=log_p, generator=gen(1), return_chain=True)
    assert u.chain.shape == (4, 50, 1, 2, 2)


# ---------------------------------------------------------------- exact 2-D mixture
def w2(a, b):
    """Exact 2-Wasserstein distance between two equal-size point sets (optimal assignment)."""
    cost = torch.cdist(a, b).pow(2).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def test_autograd_gradient_equals_closed_form_mixture_score():
    mix = eight_gaussians(0.1)
    x0 = mix.sample(200, gen(20))
    a = ula(x0, 5, 0.002, log_prob_fn=mix.log_prob, generator=gen(21))
    b = ula(x0, 5, 0.002, score_fn=mix.score, generator=gen(21))
    torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=1e-10)


def test_mala_keeps_eight_gaussians_exact_where_ula_widens_the_modes():
    """Modes 15 std apart: no Langevin chain crosses between them, so chains start at exact
    samples and every comparison keeps those samples' mode labels (exact references are drawn
    with the same labels). MALA's samples are then as close to an exact sample as a second exact
    sample is; ULA at the same step size widens each mode to std 0.1 / sqrt(1 - eps / (4 * 0.01)) = 0.2."""
    mix = eight_gaussians(0.1)
    n, eps = 500, 0.03
    x0 = mix.sample(n, gen(22))
    labels = torch.cdist(x0, mix.means).argmin(1)
    same_modes = lambda seed: mix.means[labels] + 0.1 * torch.randn(n, 2, generator=gen(seed), dtype=f64)
    ref = same_modes(23)
    floor = max(w2(ref, same_modes(s)) for s in (24, 25, 26))   # exact vs exact, same size
    m = mala(x0, 100, eps, log_prob_fn=mix.log_prob, generator=gen(27))
    u = ula(x0, 100, eps, score_fn=mix.score, generator=gen(27))
    assert torch.equal(torch.cdist(m.samples, mix.means).argmin(1), labels)
    assert w2(m.samples, ref) < 1.5 * floor, (w2(m.samples, ref), floor)
    assert w2(u.samples, ref) > 2.5 * floor, (w2(u.samples, ref), floor)
    assert 0.2 < m.acceptance_rate < 0.8


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_value_errors_naming_the_argument():
    log_p, score = gaussian(1.0)
    x = torch.zeros(3, 2, dtype=f64)
    g = gen()
    bad = [
        (lambda: ula(torch.zeros(3, dtype=f64), 1, 0.1, log_prob_fn=log_p, generator=g), "x0"),
        (lambda: ula(torch.full((3, 2), math.nan), 1, 0.1, log_prob_fn=log_p, generator=g), "x0"),
        (lambda: ula(torch.zeros(3, 2, dtype=torch.int64), 1, 0.1, log_prob_fn=log_p, generator=g), "x0"),
        (lambda: ula(x, 0, 0.1, log_prob_fn=log_p, generator=g), "n_steps"),
        (lambda: ula(x, 1, 0.0, log_prob_fn=log_p, generator=g), "step_size"),
        (lambda: ula(x, 1, math.nan, log_prob_fn=log_p, generator=g), "step_size"),
        (lambda: ula(x, 1, 0.1, log_prob_fn=log_p, temperature=-1.0, generator=g), "temperature"),
        (lambda: ula(x, 1, 0.1, generator=g), "exactly one"),
        (lambda: ula(x, 1, 0.1, log_prob_fn=log_p, score_fn=score, generator=g), "exactly one"),
        (lambda: ula(x, 1, 0.1, log_prob_fn=lambda y: y.sum(), generator=g), "log_prob_fn"),
        (lambda: ula(x, 1, 0.1, score_fn=lambda y: y[:, 0], generator=g), "score_fn"),
        (lambda: ula(x, 1, 0.1, log_prob_fn=log_p, generator=None), "generator"),
        (lambda: ula(x, 2, 0.1, log_prob_fn=log_p, generator=g, thin=0), "thin"),
        (lambda: mala(x, 1, 0.1, log_prob_fn=None, generator=g), "log_prob_fn"),
        (lambda: mala(x, 1, 0.1, log_prob_fn=lambda y: y, generator=g), "log_prob_fn"),
        (lambda: langevin_temperature(0.0, 0.1), "grad_step"),
        (lambda: langevin_temperature(1.0, -0.1), "noise_std"),
        (lambda: langevin_update_scales(1.0, 0.0), "temperature"),
    ]
    for fn, word in bad:
        with pytest.raises(ValueError, match=word):
            fn()
