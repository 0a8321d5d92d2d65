"""ppl_models.metrics against closed forms on a 1-D Gaussian model and brute-force sums."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from ppl_models import metrics

# z ~ N(0, 1), x | z ~ N(z, 1)  =>  p(x) = N(0, 2), p(z | x) = N(x / 2, 1 / 2)


def _log_weights(q_loc_fn, q_scale):
    def fn(x, k):
        xs = x[:, 0]
        q = torch.distributions.Normal(q_loc_fn(xs), q_scale)
        z = q.sample((k,))  # (k, B)
        normal = torch.distributions.Normal
        return normal(z, 1.0).log_prob(xs) + normal(0.0, 1.0).log_prob(z) - q.log_prob(z)
    return fn


X = torch.linspace(-3, 3, 13, dtype=torch.float64).unsqueeze(1)
EXACT = torch.as_tensor(norm(0, math.sqrt(2)).logpdf(X[:, 0].numpy()))


def test_iwae_is_exact_with_the_exact_posterior():
    fn = _log_weights(lambda x: x / 2, math.sqrt(0.5))
    for k in (1, 7, 5000):
        b = metrics.iwae_bound(fn, X, k, batch_size=5, particle_chunk=999)
        torch.testing.assert_close(b, EXACT, rtol=0, atol=1e-10)


def test_iwae_with_a_wrong_guide_increases_with_k_towards_exact():
    fn = _log_weights(lambda x: torch.zeros_like(x), 1.5)  # wider than p(z|x): bounded weights
    xs = X.repeat(10, 1)  # 130 points: the bounds' Monte Carlo noise averages out
    ladder = metrics.iwae_ladder(fn, xs, [1, 10, 100, 2000], batch_size=65, particle_chunk=700)
    nll = [ladder[k] for k in (1, 10, 100, 2000)]
    exact_nll = float(-EXACT.mean())
    assert all(a > b for a, b in zip(nll[:-1], nll[1:], strict=True))
    assert abs(nll[-1] - exact_nll) < 0.005  # L_2000 ~ log p(x) up to Monte Carlo noise
    fn = _log_weights(lambda x: 0.3 * x, 0.9)
    # closed-form ELBO with q = N(m, s^2), m = 0.3 x, s = 0.9:
    # E_q[log N(x; z, 1) + log N(z; 0, 1) - log N(z; m, s^2)]
    x0, m, s2 = X[:, 0], 0.3 * X[:, 0], 0.81
    elbo_cf = (-math.log(2 * math.pi) - 0.5 * ((x0 - m) ** 2 + s2) - 0.5 * (m**2 + s2)
               + 0.5 * math.log(2 * math.pi * math.e * s2))
    gap = EXACT - elbo_cf  # = KL(q || p(z|x)) >= 0
    assert (gap > 0).all()
    mc = metrics.elbo(fn, X, n_samples=40_000, batch_size=13)
    torch.testing.assert_close(mc, elbo_cf, rtol=0, atol=0.02)


def test_chunking_does_not_change_the_bound():
    table = torch.randn(50, 9, dtype=torch.float64)
    x = torch.arange(9, dtype=torch.float64).unsqueeze(1)
    state = {"used": 0}

    def fn(xb, m):
        rows = xb[:, 0].long()
        out = table[state["used"] : state["used"] + m][:, rows]
        state["used"] += m
        return out

    b = metrics.iwae_bound(fn, x, 50, batch_size=9, particle_chunk=7)
    torch.testing.assert_close(b, torch.logsumexp(table, 0) - math.log(50), rtol=0, atol=1e-12)
    torch.testing.assert_close(metrics.log_mean_exp(table, 0), torch.logsumexp(table, 0) - math.log(50))
    ref = np.log(np.mean(np.exp(table.numpy()), axis=1))
    np.testing.assert_allclose(metrics.log_mean_exp(table, 1).numpy(), ref, rtol=0, atol=1e-12)


def test_pyro_log_weights_matches_hand_written_weights():
    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(()).double(), 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x[:, 0])

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(x[:, 0] / 3, 0.8))

    fn = metrics.pyro_log_weights(model, guide)
    torch.manual_seed(4)
    a = fn(X, 6)
    torch.manual_seed(4)
    z = dist.Normal(X[:, 0] / 3, 0.8).expand([6, 13]).sample()
    b = dist.Normal(z, 1.0).log_prob(X[:, 0]) + dist.Normal(0.0, 1.0).log_prob(z)
    b = b - dist.Normal(X[:, 0] / 3, 0.8).log_prob(z)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_units_and_heldout_and_parzen():
    assert metrics.nats_per_image(torch.tensor([-1.0, -3.0])) == 2.0
    assert abs(metrics.bits_per_dim(784 * math.log(2), 784) - 1.0) < 1e-12
    mean, cov = np.array([0.5, -1.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    x = torch.randn(7, 2, dtype=torch.float64)
    mvn = torch.distributions.MultivariateNormal(torch.tensor(mean), torch.tensor(cov))
    ll = metrics.heldout_log_likelihood(mvn.log_prob, x, batch_size=3)
    ref = multivariate_normal(mean, cov).logpdf(x.numpy())
    np.testing.assert_allclose(ll.numpy(), ref, rtol=0, atol=1e-10)
    s = torch.randn(20, 2, dtype=torch.float64)
    got = metrics.parzen_log_likelihood(s, x, 0.7, batch_size=4)
    brute = [np.log(np.mean([multivariate_normal(si, 0.49 * np.eye(2)).pdf(xi) for si in s.numpy()]))
             for xi in x.numpy()]
    np.testing.assert_allclose(got.numpy(), brute, rtol=0, atol=1e-10)


def test_bad_inputs():
    fn = _log_weights(lambda x: x / 2, 1.0)
    nan_x = X.clone()
    nan_x[0, 0] = math.nan
    with pytest.raises(ValueError, match="x"):
        metrics.iwae_bound(fn, nan_x, 3)
    with pytest.raises(ValueError, match="x"):
        metrics.iwae_bound(fn, X[:, 0], 3)
    with pytest.raises(ValueError, match="k"):
        metrics.iwae_bound(fn, X, 0)
    with pytest.raises(ValueError, match="batch_size"):
        metrics.elbo(fn, X, batch_size=0)
    with pytest.raises(ValueError, match="particle_chunk"):
        metrics.iwae_bound(fn, X, 3, particle_chunk=0)
    with pytest.raises(ValueError, match="cond"):
        metrics.iwae_bound(lambda x, k, c: fn(x, k), X, 3, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="log_weight_fn"):
        metrics.iwae_bound(lambda x, k: torch.zeros(k), X, 3)
    with pytest.raises(ValueError, match="ks"):
        metrics.iwae_ladder(fn, X, [])
    with pytest.raises(ValueError, match="log_likelihoods"):
        metrics.nats_per_image(torch.tensor([math.nan]))
    with pytest.raises(ValueError, match="dim"):
        metrics.bits_per_dim(1.0, 0)
    with pytest.raises(ValueError, match="nats"):
        metrics.bits_per_dim(math.inf, 3)
    with pytest.raises(ValueError, match="a must"):
        metrics.log_mean_exp(torch.tensor(1.0))
    with pytest.raises(ValueError, match="log_prob_fn"):
        metrics.heldout_log_likelihood(lambda x: torch.zeros(2), X)
    with pytest.raises(ValueError, match="guide"):
        metrics.pyro_log_weights(lambda x: None, "guide")
    with pytest.raises(ValueError, match="k"):
        metrics.pyro_log_weights(lambda x: None, lambda x: None)(X, 0)
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.parzen_log_likelihood(X, X, 0.0)
    with pytest.raises(ValueError, match="x"):
        metrics.parzen_log_likelihood(torch.zeros(3, 2), torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="samples"):
        metrics.parzen_log_likelihood(torch.zeros(0, 2), torch.zeros(3, 2), 1.0)
