"""Variants: the linear-Gaussian VAE against PPCA, and M2's enumerated ELBO by brute force."""

import math

import pytest
import torch
from pyro.infer import TraceEnum_ELBO

from ppl_models import metrics
from ppl_models.ppca import ppca_log_likelihood, ppca_mle, ppca_posterior
from ppl_models.vae import M2, VAE, ConditionalVAE, LinearGaussianVAE, VAEConfig, one_hot, train_m2


@pytest.fixture(scope="module")
def data64():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    z = torch.randn(300, 2, generator=g, dtype=torch.float64)
    return z @ W.T + 0.3 * torch.randn(300, 6, generator=g, dtype=torch.float64) + 1.0


def _closed_form_ppca(X, q):
    """Tipping & Bishop by hand (an extra check on ppca_mle's role here)."""
    mu = X.mean(0)
    S = (X - mu).T @ (X - mu) / X.shape[0]
    lam, U = torch.linalg.eigh(S)
    lam, U = lam.flip(0), U.flip(1)
    s2 = lam[q:].mean()
    return mu, U[:, :q] * (lam[:q] - s2).sqrt(), s2


def test_elbo_at_ppca_solution_equals_exact_log_likelihood(data64):
    params = ppca_mle(data64, 2)
    vae = LinearGaussianVAE.from_ppca(params.mean, params.W, params.sigma2)
    exact = ppca_log_likelihood(params, data64)
    torch.testing.assert_close(vae.exact_log_likelihood(data64), exact, rtol=0, atol=1e-8)
    torch.testing.assert_close(vae.elbo(data64), exact, rtol=0, atol=1e-8)  # the bound is tight
    # every importance weight equals p(x): the estimator has zero variance
    lw = vae.log_weights(data64, 5)
    torch.testing.assert_close(lw, exact.expand(5, -1), rtol=0, atol=1e-8)
    # the guide is PPCA's posterior
    m, cov = ppca_posterior(params, data64)
    q = vae.posterior(data64)
    torch.testing.assert_close(q.mean, m, rtol=0, atol=1e-10)
    torch.testing.assert_close(q.covariance_matrix, cov.expand(300, 2, 2), rtol=0, atol=1e-10)
    # and ppca_mle is the Tipping-Bishop closed form
    mu, W, s2 = _closed_form_ppca(data64, 2)
    assert torch.allclose(W.abs(), params.W.abs(), atol=1e-8) and abs(float(s2 - params.sigma2)) < 1e-10


def _perturbed(data64):
    params = ppca_mle(data64, 2)
    vae = LinearGaussianVAE.from_ppca(params.mean, params.W, params.sigma2)
    with torch.no_grad():
        vae.A.mul_(0.8)
        vae.b.add_(0.2)
        vae.raw_tril.add_(0.3)
    return vae


def test_elbo_gap_is_kl_to_the_exact_posterior(data64):
    vae = _perturbed(data64)
    gap = vae.exact_log_likelihood(data64) - vae.elbo(data64)
    assert (gap > 1e-3).all()
    torch.testing.assert_close(gap, vae.kl_to_posterior(data64), rtol=0, atol=1e-8)
    # the Monte Carlo ELBO agrees with the closed form within its standard error
    torch.manual_seed(0)
    lw = vae.log_weights(data64[:20], 20000)
    se = lw.std(0) / math.sqrt(20000)
    assert ((lw.mean(0) - vae.elbo(data64[:20])).abs() < 5 * se).all()


def test_iwae_increases_with_k_and_stays_below_exact(data64):
    vae = _perturbed(data64)
    x = data64[:100]
    exact = float(vae.exact_log_likelihood(x).mean().detach())
    ladder = metrics.iwae_ladder(vae.log_weights, x, [1, 10, 100, 1000], particle_chunk=300)
    bounds = [-ladder[k] for k in (1, 10, 100, 1000)]
    assert all(a < b for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    assert bounds[-1] <= exact + 1e-9 and exact - bounds[-1] < 0.2 * (exact - bounds[0])
    mc = metrics.elbo(vae.log_weights, x, n_samples=4000)  # many samples: the ELBO itself
    assert abs(float(mc.mean()) - float(vae.elbo(x).mean().detach())) < 0.05


def test_linear_vae_bad_inputs(data64):
    with pytest.raises(ValueError, match="z_dim"):
        LinearGaussianVAE(3, 4)
    with pytest.raises(ValueError, match="sigma2"):
        LinearGaussianVAE.from_ppca(torch.zeros(3), torch.ones(3, 1), torch.tensor(0.0))
    with pytest.raises(ValueError, match="W"):
        LinearGaussianVAE.from_ppca(torch.zeros(4), torch.ones(3, 1), torch.tensor(1.0))
    vae = LinearGaussianVAE(6, 2, dtype=torch.float64)
    bad = data64[:3].clone()
    bad[1, 2] = math.nan
    for fn in (vae.exact_log_likelihood, vae.guide, vae.model, vae.exact_posterior):
        with pytest.raises(ValueError, match="x"):
            fn(bad)
    with pytest.raises(ValueError, match="x"):
        vae.log_weights(data64[:, :5], 2)


def _tiny_m2():
    torch.manual_seed(0)
    cfg = VAEConfig(image_shape=(2, 4), z_dim=2, hidden=(8,), batch_size=10, n_epochs=2)
    return M2(cfg, n_classes=3, alpha=2.0).double(), cfg


def test_m2_enumerated_elbo_equals_brute_force_sum_over_labels():
    m2, _ = _tiny_m2()
    x = (torch.rand(5, 8, dtype=torch.float64) < 0.5).double()
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    torch.manual_seed(7)
    loss = elbo.differentiable_loss(m2.model, m2.guide, x)
    torch.manual_seed(7)
    ys = torch.eye(3, dtype=torch.float64).unsqueeze(1)  # (K, 1, K): every label at once
    loc, scale = m2.encoder(x, ys)
    q_z = torch.distributions.Normal(loc, scale)
    z = q_z.rsample()  # (K, B, z)
    log_px = torch.distributions.Bernoulli(logits=m2.decoder(z, ys)).log_prob(x).sum(-1)
    log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    inner = log_px + log_pz - q_z.log_prob(z).sum(-1) - math.log(3)  # (K, B)
    log_qy = torch.log_softmax(m2.classifier(x), -1).T  # (K, B)
    brute = (log_qy.exp() * (inner - log_qy)).sum()
    torch.testing.assert_close(loss, -brute, rtol=0, atol=1e-10)


def test_m2_loss_train_predict_and_bad_inputs():
    m2, cfg = _tiny_m2()
    x = (torch.rand(30, 8, dtype=torch.float64) < 0.5).double()
    y = torch.arange(30) % 3
    hist = train_m2(m2, x, x[:6], y[:6], cfg, progress=False)
    assert len(hist.loss) == 2 and all(math.isfinite(v) for v in hist.loss)
    pred = m2.predict(x)
    assert pred.shape == (30,) and pred.dtype == torch.int64
    assert m2.generate(torch.tensor([0, 2])).shape == (2, 8)
    with pytest.raises(ValueError, match="y"):
        m2.model(x[:4], torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="x"):
        m2.guide(torch.full((2, 8), 3.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="x"):
        m2.loss(x, x[:, :5], one_hot(y[:6], 3))
    with pytest.raises(ValueError, match="y_labelled"):
        train_m2(m2, x, x[:6], y[:5], cfg)
    with pytest.raises(ValueError, match="m2"):
        train_m2("m2", x, x[:6], y[:6], cfg)
    with pytest.raises(ValueError, match="alpha"):
        M2(cfg, 3, alpha=-1.0)
    with pytest.raises(ValueError, match="n_classes"):
        M2(cfg, 1)


def _state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_same_config_same_initial_weights_whatever_the_global_rng(arch):
    cfg = VAEConfig(image_shape=(8, 8), z_dim=3, hidden=(16,), arch=arch, channels=4, seed=7)
    for build in (lambda c: VAE(c), lambda c: ConditionalVAE(c, n_classes=3), lambda c: M2(c, n_classes=3)):
        torch.manual_seed(0)
        a = build(cfg)
        torch.manual_seed(1)
        torch.rand(100)  # an earlier notebook cell drew random numbers
        state = torch.random.get_rng_state()
        b = build(cfg)
        assert _state_equal(a, b)
        assert torch.equal(torch.random.get_rng_state(), state)  # building leaves the global RNG alone
        assert not _state_equal(a, build(cfg.replace(seed=8)))
    torch.manual_seed(3)
    lin_a = LinearGaussianVAE(6, 2, seed=4)
    lin_b = LinearGaussianVAE(6, 2, seed=4)
    assert _state_equal(lin_a, lin_b) and not _state_equal(lin_a, LinearGaussianVAE(6, 2, seed=5))
    with pytest.raises(ValueError, match="seed"):
        VAEConfig(seed=-1)
    with pytest.raises(ValueError, match="seed"):
        LinearGaussianVAE(6, 2, seed=1.5)
