"""Losses, ELBO weights, the DDPM bound with its discrete decoder, and classifier-free guidance."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from ppl_models import diffusion as dm

F64 = torch.float64


def _toy_eps(x, t):
    return 0.4 * torch.tanh(x) * (1 + t.view(-1, *[1] * (x.ndim - 1))) + 0.05 * torch.cos(2 * x)


def _sched(T=8):
    return dm.make_schedule("linear", T, beta_start=0.01, beta_end=0.3)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(50, generator=g, dtype=F64), torch.randn(50, generator=g, dtype=F64)
    v1, v2 = torch.randn(50, generator=g, dtype=F64), torch.randn(50, generator=g, dtype=F64)
    want = kl_divergence(Normal(m1, (0.5 * v1).exp()), Normal(m2, (0.5 * v2).exp()))
    torch.testing.assert_close(dm.gaussian_kl(m1, v1, m2, v2), want, rtol=1e-12, atol=1e-12)


def test_q_posterior_is_gaussian_conditioning():
    s = _sched()
    g = torch.Generator().manual_seed(1)
    x0, xn = torch.randn(7, 3, generator=g, dtype=F64), torch.randn(7, 3, generator=g, dtype=F64)
    n = torch.arange(1, 8)
    mean, var = dm.q_posterior(s, x0, xn, n)
    acp, b = s.alphas_cumprod[n - 1], s.betas[n]
    # prior x_{n-1} ~ N(sqrt(acp) x0, 1 - acp); likelihood x_n ~ N(sqrt(1 - b) x_{n-1}, b)
    prec = 1 / (1 - acp) + (1 - b) / b
    want_mean = (acp.sqrt().view(-1, 1) * x0 / (1 - acp).view(-1, 1)
                 + (1 - b).sqrt().view(-1, 1) * xn / b.view(-1, 1)) / prec.view(-1, 1)
    torch.testing.assert_close(var, 1 / prec, rtol=1e-12, atol=0)
    torch.testing.assert_close(mean, want_mean, rtol=1e-12, atol=1e-12)


def test_reverse_mean_is_ho_eq_11():
    s = _sched()
    g = torch.Generator().manual_seed(2)
    x, eps = torch.randn(8, 1, 2, 2, generator=g, dtype=F64), torch.randn(8, 1, 2, 2, generator=g, dtype=F64)
    n = torch.arange(8)
    mean, _ = dm.p_mean_logvar(s, eps, x, n)
    a, b = s.alphas[n].view(-1, 1, 1, 1), s.betas[n].view(-1, 1, 1, 1)
    ac = s.alphas_cumprod[n].view(-1, 1, 1, 1)
    torch.testing.assert_close(mean, (x - b / (1 - ac).sqrt() * eps) / a.sqrt(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_discrete_elbo_weight_gives_the_kl_term(prediction):
    s = _sched()
    g = torch.Generator().manual_seed(3)
    x0, noise = torch.randn(7, 2, generator=g, dtype=F64), torch.randn(7, 2, generator=g, dtype=F64)
    n = torch.arange(1, 8)
    x_n = s.add_noise(x0, n, noise)
    t = (n.to(F64) + 1) / s.T
    eps_hat = _toy_eps(x_n, t)
    ac = s.alphas_cumprod[n]
    alpha, sigma = ac.sqrt(), (1 - ac).sqrt()
    x0_hat = dm.to_x0(eps_hat, x_n, alpha, sigma, "eps")
    pred = {"eps": eps_hat, "x0": x0_hat,
            "v": alpha.view(-1, 1) * eps_hat - sigma.view(-1, 1) * x0_hat}[prediction]
    # the three parameterisations describe the same reverse step
    torch.testing.assert_close(dm.to_x0(pred, x_n, alpha, sigma, prediction), x0_hat)
    torch.testing.assert_close(dm.to_eps(pred, x_n, alpha, sigma, prediction), eps_hat)
    q_mean, q_var = dm.q_posterior(s, x0, x_n, n)
    p_mean, p_logvar = dm.p_mean_logvar(s, eps_hat, x_n, n, "posterior")
    want = kl_divergence(Normal(q_mean, q_var.sqrt().view(-1, 1)),
                         Normal(p_mean, (0.5 * p_logvar).exp().view(-1, 1))).sum(1)
    tgt = dm.target(x0, noise, alpha, sigma, prediction)
    got = dm.discrete_elbo_weight(s, n, prediction) * (pred - tgt).pow(2).sum(1)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    def model_fn(x, tt):
        e = _toy_eps(x, tt)
        return {"eps": e, "x0": dm.to_x0(e, x, alpha, sigma, "eps"),
                "v": alpha.view(-1, 1) * e - sigma.view(-1, 1) * dm.to_x0(e, x, alpha, sigma, "eps"),
                }[prediction]

    loss = dm.ddpm_loss(model_fn, x0, s, prediction, "elbo", n=n, noise=noise)
    torch.testing.assert_close(loss, (s.T - 1) * want, rtol=1e-10, atol=1e-12)
    simple = dm.ddpm_loss(model_fn, x0, s, prediction, "simple", n=n, noise=noise)
    torch.testing.assert_close(simple, (pred - tgt).pow(2).mean(1))


@pytest.mark.parametrize("process", [dm.VPSDE("linear"), dm.VPSDE("cosine"), dm.VESDE(0.01, 20.0)])
def test_continuous_elbo_weights_agree_across_parameterisations(process):
    g = torch.Generator().manual_seed(4)
    x0 = torch.randn(6, 1, 3, 3, generator=g, dtype=F64)
    noise = torch.randn(6, 1, 3, 3, generator=g, dtype=F64)
    t = torch.linspace(0.05, 0.95, 6, dtype=F64)

    def make(prediction):
        def model_fn(x, tt):
            a, s = process.marginal(tt)
            e = _toy_eps(x, tt)
            x0h = dm.to_x0(e, x, a, s, "eps")
            return {"eps": e, "x0": x0h, "v": a.view(-1, 1, 1, 1) * e - s.view(-1, 1, 1, 1) * x0h}[prediction]
        return model_fn

    losses = [dm.diffusion_loss(make(p), x0, process, p, "elbo", t=t, noise=noise, t_min=0.0)
              for p in ("eps", "x0", "v")]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(losses[2], losses[0], rtol=1e-9, atol=1e-12)
    # eps weight is -lambda'(t)/2 and the loss is that times the summed squared error
    a, s = process.marginal(t)
    x_t = a.view(-1, 1, 1, 1) * x0 + s.view(-1, 1, 1, 1) * noise
    sq = (_toy_eps(x_t, t) - noise).pow(2).sum((1, 2, 3))
    torch.testing.assert_close(losses[0], -0.5 * process.dlog_snr_dt(t) * sq, rtol=1e-12, atol=0)


def test_vp_elbo_weight_closed_form():
    sde = dm.VPSDE("linear")
    t = torch.linspace(0.01, 1.0, 50, dtype=F64)
    _, s = sde.marginal(t)
    torch.testing.assert_close(dm.elbo_weight(sde, t, "eps"), sde.beta(t) / (2 * s**2), rtol=1e-12, atol=0)


def test_continuous_loss_draws_t_and_noise_from_generator():
    sde = dm.VPSDE()
    x0 = torch.randn(16, 2, dtype=F64)
    a = dm.diffusion_loss(lambda x, t: 0 * x, x0, sde, generator=torch.Generator().manual_seed(0))
    b = dm.diffusion_loss(lambda x, t: 0 * x, x0, sde, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (16,)
    # a zero eps-prediction has simple loss = mean of noise^2
    g = torch.Generator().manual_seed(0)
    torch.rand(16, generator=g, dtype=F64)
    noise = torch.randn(x0.shape, generator=g, dtype=F64)
    torch.testing.assert_close(a, noise.pow(2).mean(1))


@pytest.mark.parametrize("levels", [2, 5, 256])
def test_discretized_decoder_is_a_pmf(levels):
    grid = torch.linspace(-1, 1, levels, dtype=F64)
    for mean, log_scale in [(0.0, -1.0), (0.93, -5.0), (-2.5, 0.3), (0.5, -9.0), (30.0, 0.0)]:
        lp = dm.discretized_gaussian_log_likelihood(grid, torch.tensor(mean, dtype=F64),
                                                    torch.tensor(log_scale, dtype=F64), levels)
        assert torch.isfinite(lp).all() or levels == 256
        total = torch.logsumexp(lp[torch.isfinite(lp)], 0)
        assert abs(total.item()) < 1e-10


def test_discretized_decoder_matches_cdf_differences_and_binary_case():
    grid = torch.linspace(-1, 1, 256, dtype=F64)
    mean, scale = torch.tensor(0.1, dtype=F64), torch.tensor(0.2, dtype=F64)
    d = Normal(mean, scale)
    h = 1 / 255
    upper = torch.where(grid > 1 - h / 2, torch.ones_like(grid), d.cdf(grid + h))
    lower = torch.where(grid < -1 + h / 2, torch.zeros_like(grid), d.cdf(grid - h))
    lp = dm.discretized_gaussian_log_likelihood(grid, mean, scale.log())
    torch.testing.assert_close(lp.exp(), upper - lower, rtol=1e-9, atol=1e-15)
    pm1 = torch.tensor([1.0, -1.0], dtype=F64)
    binary = dm.discretized_gaussian_log_likelihood(pm1, mean, scale.log(), 2)
    p_one = Normal(0.0, 1.0).cdf(mean / scale)          # P(u > 0), u ~ N(mean, scale^2)
    torch.testing.assert_close(binary.exp(), torch.stack([p_one, 1 - p_one]), rtol=1e-12, atol=0)


def _independent_vlb(eps_fn, x0, s, noise, variance, levels):
    """The same bound written with torch.distributions and Ho et al.'s formulas, one term at a time."""
    T, ac, b = s.T, s.alphas_cumprod, s.betas
    q_T = Normal(ac[-1].sqrt() * x0, (1 - ac[-1]).sqrt())
    prior = kl_divergence(q_T, Normal(0.0, 1.0)).flatten(1).sum(1)
    terms = []
    for n in range(T):
        x_n = ac[n].sqrt() * x0 + (1 - ac[n]).sqrt() * noise[n]
        eps = eps_fn(x_n, torch.full((x0.shape[0],), (n + 1) / T, dtype=F64))
        mu = (x_n - b[n] / (1 - ac[n]).sqrt() * eps) / (1 - b[n]).sqrt()
        pt = s.posterior_variance
        var = b[n] if variance == "beta" else (pt[1] if n == 0 else pt[n])
        p = Normal(mu, var.sqrt())
        if n == 0:
            h = 1 / (levels - 1)
            hi = torch.where(x0 > 1 - h / 2, torch.ones_like(x0), p.cdf(x0 + h))
            lo = torch.where(x0 < -1 + h / 2, torch.zeros_like(x0), p.cdf(x0 - h))
            terms.append(-(hi - lo).log().flatten(1).sum(1))
        else:
            acp = ac[n - 1]
            prec = 1 / (1 - acp) + (1 - b[n]) / b[n]
            q_mean = (acp.sqrt() * x0 / (1 - acp) + (1 - b[n]).sqrt() * x_n / b[n]) / prec
            terms.append(kl_divergence(Normal(q_mean, (1 / prec).sqrt()), p).flatten(1).sum(1))
    return prior + sum(terms), prior, torch.stack(terms[1:], 1), terms[0]


@pytest.mark.parametrize("variance", ["beta", "posterior"])
@pytest.mark.parametrize("levels", [256, 2])
def test_ddpm_vlb_equals_independent_computation(variance, levels):
    s = _sched(6)
    g = torch.Generator().manual_seed(5)
    k = torch.randint(0, levels, (4, 1, 2, 2), generator=g)
    x0 = -1 + 2 * k.to(F64) / (levels - 1)
    noise = torch.randn(6, 4, 1, 2, 2, generator=g, dtype=F64)
    out = dm.ddpm_vlb(_toy_eps, x0, s, variance, levels, noise=noise)
    total, prior, kl, dec = _independent_vlb(_toy_eps, x0, s, noise, variance, levels)
    assert out.nfe == 6 and out.kl.shape == (4, 5)
    for a, b in [(out.total, total), (out.prior, prior), (out.kl, kl), (out.decoder, dec)]:
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out.bits_per_dim, total / (4 * math.log(2)))


def test_ddpm_vlb_is_a_true_bound_on_a_binary_toy():
    """T = 2, one binary pixel: E_q[bound] >= -log p_theta(x0), the model's exact marginal by quadrature."""
    s = dm.make_schedule("linear", 2, beta_start=0.3, beta_end=0.6)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    z, w = torch.tensor(nodes, dtype=F64), torch.tensor(weights / math.sqrt(2 * math.pi), dtype=F64)

    def eps_fn(x, t):
        return 0.8 * torch.tanh(2 * x) * (0.5 + t.view(-1, 1)) - 0.4

    def reverse(x, n):  # mean and std of p(x_{n-1} | x_n), variance "beta"
        nn = torch.full((x.shape[0],), n)
        mean, logvar = dm.p_mean_logvar(s, eps_fn(x, (nn.to(F64) + 1) / 2), x, nn, "beta")
        return mean, (0.5 * logvar).exp().view(-1, 1)

    # p(x0 = 1) = E_{x2 ~ N(0,1)} E_{x1 ~ p(x1|x2)} Phi(mu_0(x1) / sigma_0)
    m2, s2 = reverse(z.view(-1, 1), 1)
    x1 = (m2 + s2 * z.view(1, -1)).reshape(-1, 1)
    m1, s1 = reverse(x1, 0)
    p1 = Normal(0.0, 1.0).cdf(m1 / s1).view(len(z), len(z))
    p_one = (w.view(-1, 1) * w.view(1, -1) * p1).sum()
    for x_val, p_model in [(1.0, p_one), (-1.0, 1 - p_one)]:
        x0 = torch.full((len(z) ** 2, 1), x_val, dtype=F64)
        noise = torch.stack([z.repeat_interleave(len(z)).view(-1, 1), z.repeat(len(z)).view(-1, 1)])
        out = dm.ddpm_vlb(eps_fn, x0, s, "beta", levels=2, noise=noise)
        expected_bound = ((w.repeat_interleave(len(z)) * w.repeat(len(z))) * out.total).sum()
        print(f"x0={x_val}: E[bound]={expected_bound.item():.6f} >= -log p={-math.log(p_model.item()):.6f}")
        assert expected_bound.item() >= -math.log(p_model.item()) - 1e-9
        assert expected_bound.item() < -math.log(p_model.item()) + 2.0


def test_drop_labels_frequency_and_determinism():
    y = torch.arange(10).repeat(2000)
    a = dm.drop_labels(y, 0.2, 10, torch.Generator().manual_seed(0))
    b = dm.drop_labels(y, 0.2, 10, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    dropped = (a == 10).double().mean().item()
    assert abs(dropped - 0.2) < 4 * math.sqrt(0.2 * 0.8 / y.numel())
    assert torch.equal(a[a != 10], y[a != 10])
    assert torch.equal(dm.drop_labels(y, 0.0, 10), y)
    assert bool((dm.drop_labels(y, 1.0, 10) == 10).all())


def test_guided_eps_fn_formula():
    def cond(x, t, y):
        return x * (y.view(-1, 1).to(x.dtype) + 1) + t.view(-1, 1)

    x = torch.randn(4, 2, dtype=F64)
    t = torch.full((4,), 0.3, dtype=F64)
    y = torch.tensor([0, 1, 2, 3])
    null = torch.full_like(y, 10)
    for w in (-1.0, 0.0, 1.5, 4.0):
        got = dm.guided_eps_fn(cond, y, w, 10)(x, t)
        torch.testing.assert_close(got, (1 + w) * cond(x, t, y) - w * cond(x, t, null))
    torch.testing.assert_close(dm.guided_eps_fn(cond, y, 0.0, 10)(x, t), cond(x, t, y))
    torch.testing.assert_close(dm.guided_eps_fn(cond, y, -1.0, 10)(x, t), cond(x, t, null))


def test_continuous_loss_on_the_grid_equals_ddpm_loss():
    s = dm.make_schedule("cosine", 20)
    g = torch.Generator().manual_seed(7)
    x0 = torch.randn(5, 1, 2, 2, generator=g, dtype=F64)
    noise = torch.randn(5, 1, 2, 2, generator=g, dtype=F64)
    n = torch.tensor([0, 3, 9, 15, 19])
    for prediction in ("eps", "x0", "v"):
        a = dm.ddpm_loss(_toy_eps, x0, s, prediction, n=n, noise=noise)
        b = dm.diffusion_loss(_toy_eps, x0, s, prediction, t=dm.step_to_time(n, 20), noise=noise)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
