"""ppl_models.exact2d against autograd, scipy, quadrature, Monte Carlo and the toy data generator."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from ppl_models.data import make_toy_2d
from ppl_models.exact2d import (
    GaussianMixture2D,
    GridDensity,
    eight_gaussians,
    grid_log_prob,
    normalize_on_grid,
    two_component,
)

DT = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_mixture(k=3, d=2, seed=0):
    g = gen(seed)
    a = torch.randn(k, d, d, generator=g, dtype=DT)
    covs = a @ a.transpose(-1, -2) * 0.3 + 0.1 * torch.eye(d, dtype=DT)
    w = torch.rand(k, generator=g, dtype=DT) + 0.2
    return GaussianMixture2D(w / w.sum(), 2 * torch.randn(k, d, generator=g, dtype=DT), covs)


def levels(kind, n, g):
    """(sigma, scale) pairs: floats, per-row tensors, and mixes of both."""
    return {
        "clean": (0.0, 1.0),
        "float": (0.4, 0.8),
        "row_sigma": (0.05 + torch.rand(n, generator=g, dtype=DT), 1.0),
        "row_both": (torch.rand(n, generator=g, dtype=DT), 0.3 + torch.rand(n, generator=g, dtype=DT)),
        "scalar_tensor": (torch.tensor(0.7, dtype=DT), torch.tensor(1.3, dtype=DT)),
    }[kind]


KINDS = ["clean", "float", "row_sigma", "row_both", "scalar_tensor"]


# ----------------------------------------------------------------------------- density and score
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [2, 3])
def test_score_equals_autograd_of_log_prob(kind, d):
    gm = random_mixture(k=4, d=d, seed=d)
    x = 3 * torch.randn(64, d, generator=gen(1), dtype=DT)
    sigma, scale = levels(kind, 64, gen(2))
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(gm.log_prob(xg, sigma, scale).sum(), xg)
    torch.testing.assert_close(gm.score(x, sigma, scale), grad, rtol=0, atol=1e-8)
    assert (gm.score(x, sigma, scale) - grad).abs().max() < 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_equals_scipy_brute_force(kind):
    gm = random_mixture(k=3, d=2, seed=5)
    x = 3 * torch.randn(40, 2, generator=gen(6), dtype=DT)
    sigma, scale = levels(kind, 40, gen(7))
    sig = torch.as_tensor(sigma, dtype=DT).expand(40).numpy()
    s = torch.as_tensor(scale, dtype=DT).expand(40).numpy()
    w, m, c = gm.weights.numpy(), gm.means.numpy(), gm.covs.numpy()
    ref = [math.log(sum(w[k] * multivariate_normal(s[i] * m[k], s[i] ** 2 * c[k] + sig[i] ** 2 * np.eye(2))
                        .pdf(x[i].numpy()) for k in range(3))) for i in range(40)]
    np.testing.assert_allclose(gm.log_prob(x, sigma, scale).numpy(), ref, rtol=1e-12, atol=1e-12)


def test_perturbed_mixture_matches_per_call_levels():
    gm = random_mixture(seed=8)
    x = 2 * torch.randn(30, 2, generator=gen(9), dtype=DT)
    p = gm.perturbed(0.6, scale=0.7)
    torch.testing.assert_close(p.log_prob(x), gm.log_prob(x, sigma=0.6, scale=0.7), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(p.score(x), gm.score(x, sigma=0.6, scale=0.7), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(p.covariance(), 0.49 * gm.covariance() + 0.36 * torch.eye(2, dtype=DT))


@pytest.mark.parametrize("sigma, scale", [(0.0, 1.0), (0.5, 1.0), (0.3, 0.6), (1.5, 0.2)])
def test_perturbed_density_integrates_to_one(sigma, scale):
    gm = eight_gaussians(noise=0.2)
    res = normalize_on_grid(lambda p: gm.log_prob(p, sigma=sigma, scale=scale), (-9, 9), (-9, 9), n=600)
    assert abs(res.log_Z) < 1e-4 and res.edge_mass() < 1e-6
    assert abs(float(res.density.sum()) * (18 / 600) ** 2 - 1) < 1e-12


# ----------------------------------------------------------------------------- posterior mean
@pytest.mark.parametrize("kind", ["float", "row_sigma", "row_both", "scalar_tensor"])
def test_posterior_mean_satisfies_tweedie(kind):
    gm = random_mixture(seed=10)
    x = 2 * torch.randn(50, 2, generator=gen(11), dtype=DT)
    sigma, scale = levels(kind, 50, gen(12))
    sig = torch.as_tensor(sigma, dtype=DT).reshape(-1, 1)
    s = torch.as_tensor(scale, dtype=DT).reshape(-1, 1)
    tweedie = (x + sig**2 * gm.score(x, sigma, scale)) / s
    torch.testing.assert_close(gm.posterior_mean(x, sigma, scale), tweedie, rtol=0, atol=1e-10)


def test_posterior_mean_against_monte_carlo():
    """Self-normalised importance sampling with the prior as proposal, within 5 standard errors."""
    gm = random_mixture(seed=13)
    sigma, scale = 0.8, 0.9
    prior = gm.sample(400_000, generator=gen(14))
    y = gm.sample(5, generator=gen(15), sigma=sigma, scale=scale)
    exact = gm.posterior_mean(y, sigma, scale)
    for i in range(5):
        logw = -0.5 * (y[i] - scale * prior).pow(2).sum(1) / sigma**2
        w = torch.softmax(logw, 0)
        mean = w @ prior
        var = w @ (prior - mean) ** 2
        ess = 1 / w.pow(2).sum()
        se = (var / ess).sqrt()
        assert ess > 1000
        assert ((mean - exact[i]).abs() < 5 * se).all(), (mean, exact[i], se)
    assert (exact - y / scale).abs().max() > 0.1   # not the trivial answer


def test_posterior_mean_without_noise_is_the_rescaled_point():
    gm = random_mixture(seed=16)
    x = torch.randn(10, 2, generator=gen(17), dtype=DT)
    torch.testing.assert_close(gm.posterior_mean(x, 0.0, 2.0), x / 2, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- sampling and constructors
def _moment_z(samples, mean, cov):
    """z-scores of the sample mean and of the sample second moments about the true mean."""
    n = samples.shape[0]
    c = samples - mean
    zs = [(c.mean(0) / (cov.diagonal() / n).sqrt()).abs().max()]
    prods = c[:, :, None] * c[:, None, :]                      # (n, D, D)
    zs.append(((prods.mean(0) - cov) / (prods.std(0) / math.sqrt(n))).abs().max())
    return max(float(z) for z in zs)


@pytest.mark.parametrize("kind", ["clean", "float", "row_both"])
def test_sample_moments(kind):
    gm = random_mixture(seed=18)
    n = 200_000
    sigma, scale = levels(kind, n, gen(19))
    x = gm.sample(n, generator=gen(20), sigma=sigma, scale=scale)
    if kind == "row_both":
        # z_i = x_i - s_i mu = s_i (X_i - mu) + sigma_i eps_i: mean 0, second moment given the levels
        z = x - scale[:, None] * gm.mean()
        expected = (scale**2).mean() * gm.covariance() + (sigma**2).mean() * torch.eye(2, dtype=DT)
        assert _moment_z(z, torch.zeros(2, dtype=DT), expected) < 5
        return
    p = gm.perturbed(sigma, scale)
    assert _moment_z(x, p.mean(), p.covariance()) < 5
    assert torch.equal(x, gm.sample(n, generator=gen(20), sigma=sigma, scale=scale))   # reproducible


def test_eight_gaussians_matches_the_toy_data_generator():
    gm = eight_gaussians(noise=0.1)
    ang = torch.arange(8, dtype=DT) * math.pi / 4
    torch.testing.assert_close(gm.means, 2 * torch.stack([ang.cos(), ang.sin()], 1))
    torch.testing.assert_close(gm.covariance(), (4 / 2 + 0.01) * torch.eye(2, dtype=DT))
    n = 100_000
    toy = make_toy_2d("eight_gaussians", n, seed=3, device="cpu", dtype=DT)
    ours = gm.sample(n, generator=gen(4))
    for x in (toy, ours):
        assert _moment_z(x, gm.mean(), gm.covariance()) < 5
        comp = torch.cdist(x, gm.means).argmin(1)                  # nearest centre (noise 0.1 << spacing)
        counts = torch.bincount(comp, minlength=8).to(DT)
        se = math.sqrt(n * (1 / 8) * (7 / 8))
        assert ((counts - n / 8).abs() < 5 * se).all()
        within = (x - gm.means[comp]) / 0.1                      # the offsets are N(0, I)
        assert _moment_z(within, torch.zeros(2, dtype=DT), torch.eye(2, dtype=DT)) < 5
    # the same distribution: average log-density under the exact mixture agrees within MC error
    lt, lo = gm.log_prob(toy), gm.log_prob(ours)
    assert abs(float(lt.mean() - lo.mean())) < 5 * math.sqrt(float(lt.var() + lo.var()) / n)


def test_two_component_default_and_custom():
    gm = two_component()
    torch.testing.assert_close(gm.weights, torch.tensor([0.8, 0.2], dtype=DT))
    torch.testing.assert_close(gm.means, torch.tensor([[5.0, 5.0], [-5.0, -5.0]], dtype=DT))
    torch.testing.assert_close(gm.covs, torch.eye(2, dtype=DT).expand(2, 2, 2))
    x = gm.sample(100_000, generator=gen(21))
    frac = float((x.sum(1) > 0).to(DT).mean())
    assert abs(frac - 0.8) < 5 * math.sqrt(0.16 / 100_000)
    custom = two_component(weights=(0.3, 0.7), means=((1.0, 0.0), (-1.0, 0.0)), std=0.5)
    torch.testing.assert_close(custom.covs[1], 0.25 * torch.eye(2, dtype=DT))


def test_dtype_and_device_follow_the_tensors():
    gm = eight_gaussians().to(dtype=torch.float32)
    assert gm.dtype == torch.float32 and gm.device.type == "cpu" and gm.n_components == 8 and gm.dim == 2
    x = torch.randn(5, 2, dtype=DT)
    for out in (gm.log_prob(x), gm.score(x, sigma=0.1), gm.posterior_mean(x, 0.1), gm.sample(3)):
        assert out.dtype == torch.float32
    torch.testing.assert_close(gm.log_prob(x), eight_gaussians().log_prob(x).float(), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- grid normalisation
def test_normalize_on_grid_standard_gaussian():
    res = normalize_on_grid(lambda p: -0.5 * p.pow(2).sum(1), (-8, 8), (-8, 8), n=200)
    assert isinstance(res, GridDensity)
    log_z, density, grid = res
    assert abs(log_z - math.log(2 * math.pi)) < 1e-4
    assert abs(log_z - math.log(2 * math.pi)) < 1e-12       # midpoint rule: spectrally accurate here
    assert density.shape == (200, 200) and grid.shape == (200, 200, 2)
    assert grid[0, 0].tolist() == [-8 + 0.04, -8 + 0.04] and grid[0, 1, 0] > grid[0, 0, 0]   # columns are x
    assert grid[1, 0, 1] > grid[0, 0, 1]                                                     # rows are y
    torch.testing.assert_close(density, torch.exp(-0.5 * grid.pow(2).sum(-1)) / (2 * math.pi))


def test_normalize_on_grid_anisotropic_gaussian_and_test_nll():
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=DT)
    prec, mu = torch.linalg.inv(cov), torch.tensor([0.5, -0.3], dtype=DT)
    def log_unnorm(p):
        c = p - mu
        return -0.5 * ((c @ prec) * c).sum(1) + 3.0     # an arbitrary offset
    log_z, _, _ = normalize_on_grid(log_unnorm, (-7, 8), (-6, 5), n=300)
    exact = 3.0 + math.log(2 * math.pi) + 0.5 * math.log(float(torch.linalg.det(cov)))
    assert abs(log_z - exact) < 1e-8
    x = torch.randn(100, 2, generator=gen(22), dtype=DT)
    ref = torch.distributions.MultivariateNormal(mu, cov).log_prob(x)
    torch.testing.assert_close(grid_log_prob(log_unnorm, log_z, x, batch_size=7), ref, rtol=0, atol=1e-8)


def test_normalize_on_grid_batches_and_dtype():
    calls = []
    def f(p):
        calls.append((p.shape[0], p.dtype))
        return -0.5 * p.pow(2).sum(1)
    res = normalize_on_grid(f, (-8, 8), (-8, 8), n=50, dtype=torch.float32, batch_size=1000)
    assert [c[0] for c in calls] == [1000, 1000, 500] and all(c[1] == torch.float32 for c in calls)
    assert abs(res.log_Z - math.log(2 * math.pi)) < 1e-5


# ----------------------------------------------------------------------------- bad inputs
W, M = torch.tensor([0.5, 0.5], dtype=DT), torch.zeros(2, 2, dtype=DT)
C = torch.eye(2, dtype=DT).repeat(2, 1, 1)


@pytest.mark.parametrize("w, m, c, match", [
    (torch.tensor([0.6, 0.6], dtype=DT), M, C, "weights must be >= 0 and sum to 1"),
    (torch.tensor([1.5, -0.5], dtype=DT), M, C, "weights must be >= 0"),
    (W, M, torch.tensor([[[1.0, 0.5], [0.0, 1.0]]] * 2, dtype=DT), "covs must be symmetric"),
    (W, M, torch.tensor([[[1.0, 2.0], [2.0, 1.0]]] * 2, dtype=DT), "covs must be positive definite"),
    (W, torch.zeros(3, 2, dtype=DT), C, "disagree"),
    (W, M, torch.eye(3, dtype=DT).repeat(2, 1, 1), "disagree"),
    (W, M.clone().fill_(float("nan")), C, "means contains NaN"),
    (W, M.float(), C, "means must share the dtype"),
    ([0.5, 0.5], M, C, "weights must be a floating-point tensor"),
    (W, M[0], C, "means must be a floating-point tensor with 2"),
])
def test_mixture_bad_parameters(w, m, c, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture2D(w, m, c)


def test_method_bad_inputs():
    gm = eight_gaussians()
    x = torch.zeros(4, 2, dtype=DT)
    for fn in (gm.log_prob, gm.score, lambda y: gm.posterior_mean(y, 0.5)):
        with pytest.raises(ValueError, match="x must be"):
            fn(torch.zeros(4, 3, dtype=DT))
        with pytest.raises(ValueError, match="x must be"):
            fn(x.numpy())
        with pytest.raises(ValueError, match="x contains NaN"):
            fn(torch.full((4, 2), float("nan"), dtype=DT))
    with pytest.raises(ValueError, match="sigma"):
        gm.log_prob(x, sigma=-0.1)
    with pytest.raises(ValueError, match="sigma"):
        gm.score(x, sigma=torch.tensor([0.1, 0.2, -0.3, 0.1], dtype=DT))
    with pytest.raises(ValueError, match=r"sigma must be a float or a tensor of shape \(4,\)"):
        gm.score(x, sigma=torch.ones(3, dtype=DT))
    with pytest.raises(ValueError, match="sigma contains NaN"):
        gm.score(x, sigma=torch.full((4,), float("nan"), dtype=DT))
    with pytest.raises(ValueError, match="scale"):
        gm.log_prob(x, scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        gm.log_prob(x, scale=torch.zeros(4, dtype=DT))
    with pytest.raises(ValueError, match="n must"):
        gm.sample(0)
    with pytest.raises(ValueError, match="sigma"):
        gm.perturbed(torch.ones(2))
    with pytest.raises(ValueError, match="scale"):
        gm.perturbed(0.1, scale=-1.0)
    with pytest.raises(ValueError, match="noise"):
        eight_gaussians(noise=0.0)
    with pytest.raises(ValueError, match="std"):
        two_component(std=-1.0)
    with pytest.raises(ValueError, match="weights"):
        two_component(weights=(0.5, 0.4))
    with pytest.raises(ValueError, match="weights must have 2 entries"):
        two_component(weights=(0.5, 0.25, 0.25))


def test_grid_bad_inputs():
    f = lambda p: -0.5 * p.pow(2).sum(1)  # noqa: E731
    with pytest.raises(ValueError, match="xlim"):
        normalize_on_grid(f, (1, -1), (-1, 1))
    with pytest.raises(ValueError, match="ylim"):
        normalize_on_grid(f, (-1, 1), (-1, float("inf")))
    with pytest.raises(ValueError, match="ylim"):
        normalize_on_grid(f, (-1, 1), 3.0)
    with pytest.raises(ValueError, match="n must"):
        normalize_on_grid(f, (-1, 1), (-1, 1), n=1)
    with pytest.raises(ValueError, match="log_density must be callable"):
        normalize_on_grid("gauss", (-1, 1), (-1, 1))
    with pytest.raises(ValueError, match="one value per row"):
        normalize_on_grid(lambda p: p, (-1, 1), (-1, 1), n=10)
    with pytest.raises(ValueError, match="NaN"):
        normalize_on_grid(lambda p: p[:, 0] * float("nan"), (-1, 1), (-1, 1), n=10)
    with pytest.raises(ValueError, match="-inf everywhere"):
        normalize_on_grid(lambda p: p[:, 0] * 0 - math.inf, (-1, 1), (-1, 1), n=10)
    with pytest.raises(ValueError, match="log_Z"):
        grid_log_prob(f, float("nan"), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="x must be"):
        grid_log_prob(f, 0.0, torch.zeros(3))
