"""Noise ladder, Tweedie's formula and (annealed) Langevin sampling with exact 2-D scores (float64)."""

import math

import pytest
import torch

from ppl_models import score
from ppl_models.exact2d import GaussianMixture2D, eight_gaussians, two_component

DT = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- ladder

def test_geometric_sigmas_endpoints_and_constant_ratio():
    s = score.geometric_sigmas(20.0, 0.01, 12)
    assert s.shape == (12,) and s.dtype == DT
    assert s[0].item() == 20.0 and s[-1].item() == 0.01
    ratios = s[1:] / s[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, (0.01 / 20.0) ** (1 / 11)), rtol=1e-13, atol=0)
    assert score.geometric_sigmas(2.0, 1.0, 2, dtype=torch.float32).dtype == torch.float32
    assert score.check_ladder(s) is s


# ---------------------------------------------------------------- Gaussian scores and Tweedie

def test_isotropic_gaussian_score_points_exactly_at_the_mean():
    mu, s = torch.tensor([[1.5, -0.5]], dtype=DT), 0.7
    gauss = GaussianMixture2D(torch.ones(1, dtype=DT), mu, s**2 * torch.eye(2, dtype=DT)[None])
    x = torch.randn(50, 2, generator=gen(1), dtype=DT) * 3
    sc = gauss.score(x)
    torch.testing.assert_close(sc, -(x - mu) / s**2, rtol=1e-12, atol=1e-12)
    # independently: autograd of torch's Gaussian log-density
    xr = x.clone().requires_grad_(True)
    lp = torch.distributions.MultivariateNormal(mu[0], s**2 * torch.eye(2, dtype=DT)).log_prob(xr)
    (auto,) = torch.autograd.grad(lp.sum(), xr)
    torch.testing.assert_close(sc, auto, rtol=1e-12, atol=1e-12)
    cos = torch.nn.functional.cosine_similarity(sc, mu - x, dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos), rtol=0, atol=1e-12)  # angle zero


def test_tweedie_on_a_gaussian_is_the_closed_form_posterior_mean():
    mu, s, sigma = torch.tensor([[1.5, -0.5]], dtype=DT), 0.7, 1.3
    gauss = GaussianMixture2D(torch.ones(1, dtype=DT), mu, s**2 * torch.eye(2, dtype=DT)[None])
    x = torch.randn(20, 2, generator=gen(2), dtype=DT) * 3
    out = score.tweedie_denoise(lambda y, sg: gauss.score(y, sigma=sg), x, sigma)
    torch.testing.assert_close(out, mu + s**2 / (s**2 + sigma**2) * (x - mu), rtol=1e-12, atol=1e-12)


def test_tweedie_matches_the_posterior_mean_of_a_mixture():
    """E[x0 | x] by self-normalised importance sampling from the prior vs x + sigma^2 score."""
    gm, sigma = eight_gaussians(noise=0.3), 0.6
    x = torch.tensor([[0.0, 0.0], [1.2, 0.4], [-1.0, 1.5], [2.5, -0.3]], dtype=DT)
    tw = score.tweedie_denoise(lambda y, sg: gm.score(y, sigma=sg), x, torch.full((4,), sigma, dtype=DT))
    torch.testing.assert_close(tw, gm.posterior_mean(x, sigma), rtol=1e-10, atol=1e-10)
    x0 = gm.sample(200_000, generator=gen(3))  # (M, 2) draws of the prior
    logw = -((x[:, None, :] - x0[None]) ** 2).sum(-1) / (2 * sigma**2)  # (4, M) likelihoods
    w = torch.softmax(logw, dim=1)
    mc = w @ x0  # (4, 2)
    se = ((w[..., None] ** 2) * (x0[None] - mc[:, None]) ** 2).sum(1).sqrt()  # delta method
    assert bool(((tw - mc).abs() < 4 * se).all()), (tw - mc, se)
    assert float(se.max()) < 1e-2


# ---------------------------------------------------------------- Langevin

# The two-component demo (Song & Ermon, 2019, Sec. 3.2): weight 0.8 on N((5, 5), I), 0.2 on
# N((-5, -5), I); chains start uniformly on [-8, 8]^2; both samplers get the same budget of
# 500 score evaluations.
DEMO = dict(n=2000, sigma_max=10.0, sigma_min=0.5, L=20, T=25, eps=0.05)


def _demo_mixture():
    return two_component(weights=(0.8, 0.2), means=((5.0, 5.0), (-5.0, -5.0)), std=1.0)


def _at_one_level(gm):
    """The exact score for a sampler that passes one level per row, all equal: evaluated at the
    float level (the oracle then factorises one covariance instead of one per row)."""
    def fn(y, sg):
        if torch.is_tensor(sg):
            assert bool((sg == sg[0]).all())
            sg = float(sg[0])
        return gm.score(y, sigma=sg)
    return fn


def _weight_of_upper_mode(x):
    return (x.sum(1) > 0).double().mean().item()


def test_annealed_langevin_recovers_the_weights_single_level_does_not():
    gm, d = _demo_mixture(), DEMO
    exact = _at_one_level(gm)
    x_init = torch.rand(d["n"], 2, generator=gen(4), dtype=DT) * 16 - 8
    sigmas = score.geometric_sigmas(d["sigma_max"], d["sigma_min"], d["L"])
    ann = score.annealed_langevin(exact, x_init, sigmas, eps=d["eps"], n_steps_each=d["T"], generator=gen(5),
                                  return_snapshots=True)
    assert ann.nfe == d["L"] * d["T"] + 1 and ann.snapshots.shape == (d["L"], d["n"], 2)
    single = score.langevin(exact, x_init, step=d["eps"], n_steps=d["L"] * d["T"], generator=gen(5))
    assert single.nfe == d["L"] * d["T"]
    w_ann, w_single = _weight_of_upper_mode(ann.samples), _weight_of_upper_mode(single.samples)
    assert abs(w_ann - 0.8) < 0.05, w_ann
    assert abs(w_single - 0.8) > 0.15, w_single
    # the denoised samples sit on the modes: per-mode spread below the unit component std
    upper = ann.samples[ann.samples.sum(1) > 0]
    assert (upper.mean(0) - 5.0).abs().max().item() < 0.15 and upper.std(0).max().item() < 1.0


def test_annealed_langevin_on_images_reaches_the_ula_stationary_variance():
    """Shape-agnostic: (B, 1, 2, 2) images, N(0, I) data; closed-form law of the last level."""
    sigmas, eps = score.geometric_sigmas(3.0, 0.5, 4), 0.2
    gauss = lambda y, sg: -y / (1 + sg.view(-1, 1, 1, 1) ** 2)  # noqa: E731  score of N(0, (1 + sigma^2) I)
    x_init = torch.rand(4000, 1, 2, 2, generator=gen(6), dtype=DT) * 6 - 3
    out = score.annealed_langevin(gauss, x_init, sigmas, eps=eps, n_steps_each=60, generator=gen(7),
                                  denoise=False)
    assert out.snapshots is None and out.nfe == 240 and out.samples.shape == x_init.shape
    v = 1 + 0.5**2  # ULA on N(0, v) with step eps is stationary at N(0, v / (1 - eps / (4 v)))
    expect = v / (1 - eps / (4 * v))
    assert abs(out.samples.var().item() / expect - 1) < 0.05
    den = score.annealed_langevin(gauss, x_init, sigmas, eps=eps, n_steps_each=60, generator=gen(7))
    torch.testing.assert_close(den.samples, out.samples / v, rtol=1e-12, atol=1e-12)  # Tweedie: x / (1 + s^2)


# ---------------------------------------------------------------- bad inputs

def test_bad_inputs_raise_value_errors_naming_the_argument():
    x = torch.zeros(4, 2, dtype=DT)
    ok = lambda y, sg: -y  # noqa: E731
    g, lad = gen(), score.geometric_sigmas(1.0, 0.1, 3)
    cases = [
        (lambda: score.geometric_sigmas(1.0, 1.0, 3), "sigma_max"),
        (lambda: score.geometric_sigmas(1.0, 0.0, 3), "sigma_min"),
        (lambda: score.geometric_sigmas(2.0, 1.0, 1), "L"),
        (lambda: score.check_ladder(torch.tensor([0.1, 0.5], dtype=DT)), "sigmas"),
        (lambda: score.check_ladder(torch.tensor([1.0, 1.0], dtype=DT)), "sigmas"),
        (lambda: score.check_ladder(torch.tensor([1.0, 0.0], dtype=DT)), "sigmas"),
        (lambda: score.check_ladder(torch.tensor([[1.0]], dtype=DT)), "sigmas"),
        (lambda: score.tweedie_denoise(ok, x, 0.0), "sigma"),
        (lambda: score.tweedie_denoise(ok, x, torch.ones(3, dtype=DT)), "sigma"),
        (lambda: score.tweedie_denoise(ok, x, torch.tensor([1.0, math.nan, 1.0, 1.0], dtype=DT)), "sigma"),
        (lambda: score.tweedie_denoise(ok, torch.zeros(4, dtype=DT), 1.0), "x"),
        (lambda: score.tweedie_denoise(lambda y, sg: y[:, :1], x, 1.0), "score_fn"),
        (lambda: score.langevin(ok, x, step=0.0, n_steps=3, generator=g), "step"),
        (lambda: score.langevin(ok, x, step=0.1, n_steps=0, generator=g), "n_steps"),
        (lambda: score.langevin(ok, x, step=0.1, n_steps=3, generator=None), "generator"),
        (lambda: score.langevin(ok, x, step=0.1, n_steps=3, generator=g, sigma=-1.0), "sigma"),
        (lambda: score.langevin(ok, x + math.nan, step=0.1, n_steps=3, generator=g), "x_init"),
        (lambda: score.langevin("f", x, step=0.1, n_steps=3, generator=g), "score_fn"),
        (lambda: score.annealed_langevin(ok, x, lad.flip(0), eps=0.1, n_steps_each=2, generator=g), "sigmas"),
        (lambda: score.annealed_langevin(ok, x, lad, eps=-0.1, n_steps_each=2, generator=g), "eps"),
        (lambda: score.annealed_langevin(ok, x, lad, eps=0.1, n_steps_each=0, generator=g), "n_steps_each"),
        (lambda: score.annealed_langevin(ok, x, lad, eps=0.1, n_steps_each=2, generator=1), "generator"),
        (lambda: score.annealed_langevin(ok, x.long(), lad, eps=0.1, n_steps_each=2, generator=g), "x_init"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            call()
