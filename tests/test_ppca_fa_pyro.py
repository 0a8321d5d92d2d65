"""Factor analysis against scikit-learn, and the Pyro PPCA program against the closed form."""

import warnings

import pyro
import pytest
import torch
from pyro.infer import Trace_ELBO
from sklearn.decomposition import FactorAnalysis

from ppl_models.ppca import (
    FAParams,
    fa_em,
    fa_log_likelihood,
    fa_sample,
    ppca_log_likelihood,
    ppca_mle,
    ppca_model,
    ppca_svi,
    principal_angles,
)

F64 = torch.float64



def make_fa_data(n=400, d=8, q=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d, q, generator=g, dtype=F64)
    psi = 0.3 + torch.rand(d, generator=g, dtype=F64)
    z = torch.randn(n, q, generator=g, dtype=F64)
    return z @ W.T + 2.0 + psi.sqrt() * torch.randn(n, d, generator=g, dtype=F64)


def fit_sklearn(X, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never "converges"
        return FactorAnalysis(q, tol=0.0, max_iter=2000).fit(X.numpy())


def test_fa_log_likelihood_equals_dense_gaussian_and_sklearn():
    X = make_fa_data()
    fa = fit_sklearn(X, 2)
    p = FAParams(torch.tensor(fa.mean_), torch.tensor(fa.components_.T), torch.tensor(fa.noise_variance_))
    C = p.W @ p.W.T + torch.diag(p.psi)
    ref = torch.distributions.MultivariateNormal(p.mean, C).log_prob(X)
    torch.testing.assert_close(fa_log_likelihood(p, X), ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(fa_log_likelihood(p, X), torch.tensor(fa.score_samples(X.numpy())),
                               rtol=0, atol=1e-10)


def test_fa_em_agrees_with_sklearn_at_convergence():
    X = make_fa_data()
    r = fa_em(X, 2, n_iter=600, tol=0.0)
    fa = fit_sklearn(X, 2)
    C = r.params.W @ r.params.W.T + torch.diag(r.params.psi)
    torch.testing.assert_close(C, torch.tensor(fa.get_covariance()), rtol=0, atol=1e-6)
    torch.testing.assert_close(r.params.psi, torch.tensor(fa.noise_variance_), rtol=0, atol=1e-6)
    assert principal_angles(r.params.W, torch.tensor(fa.components_.T)).max() < 1e-5
    assert abs(float(r.history[-1]) - fa.score(X.numpy())) < 1e-9


def test_fa_em_monotone_and_history_exact():
    for seed in range(8):
        X = make_fa_data(n=50 + 10 * seed, d=5 + seed % 3, q=1 + seed % 2, seed=seed)
        r = fa_em(X, 1 + seed % 2, n_iter=40, tol=0.0, seed=seed)
        assert (r.history.diff() > -1e-10).all(), seed
        assert abs(float(fa_log_likelihood(r.params, X).mean() - r.history[-1])) < 1e-10


def test_fa_sample_moments():
    X = make_fa_data(d=4)
    p = fa_em(X, 1, n_iter=50).params
    s = fa_sample(p, 100_000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.cov(s.T), p.W @ p.W.T + torch.diag(p.psi), rtol=0.03, atol=0.03)


def test_fa_bad_inputs():
    X = make_fa_data()
    p = fa_em(X, 2, n_iter=5).params
    with pytest.raises(ValueError, match="X"):
        fa_em(X[:, 0], 1)
    with pytest.raises(ValueError, match="q"):
        fa_em(X, 8)
    with pytest.raises(ValueError, match="min_psi"):
        fa_em(X, 2, min_psi=-1.0)
    with pytest.raises(ValueError, match="X"):
        fa_em(torch.cat([X, torch.ones(400, 1, dtype=F64)], 1), 2)  # constant column
    with pytest.raises(ValueError, match="psi"):
        fa_log_likelihood(FAParams(p.mean, p.W, -p.psi), X)
    with pytest.raises(ValueError, match="X"):
        fa_log_likelihood(p, X[:, :2])
    with pytest.raises(ValueError, match="n"):
        fa_sample(p, -3)


def test_pyro_elbo_is_exact_log_likelihood_at_mle():
    X = make_fa_data(n=100)
    p = ppca_mle(X, 2)
    pyro.clear_param_store()
    ppca_model(X, q=2)  # create the params, then overwrite them with the closed form
    store = pyro.get_param_store()
    store["mean"], store["W"], store["sigma"] = p.mean, p.W, p.sigma2.sqrt()
    loss = Trace_ELBO().loss(lambda x: ppca_model(x, q=2), lambda x: None, X)
    assert abs(loss + ppca_log_likelihood(p, X).sum().item()) < 1e-8


def test_pyro_svi_recovers_mle_subspace():
    X = make_fa_data(n=300, d=6)
    p = ppca_mle(X, 2)
    r = ppca_svi(X, 2, n_steps=300, lr=0.1, seed=0)
    assert principal_angles(r.params.W, p.W).max() < 1e-3
    assert abs(float(r.params.sigma2 / p.sigma2) - 1) < 1e-3
    assert r.history[-1] < r.history[0]
    assert abs(float(r.history[-1] + ppca_log_likelihood(p, X).mean())) < 1e-6


def test_pyro_latent_model_and_prior_sampling():
    X = make_fa_data(n=100, d=5).float()
    r = ppca_svi(X, 1, n_steps=100, lr=0.1, latent=True)
    assert principal_angles(r.params.W.double(), ppca_mle(X.double(), 1).W).max() < 0.1
    assert r.guide is not None
    pyro.clear_param_store()
    x = ppca_model(None, q=2, dim=5, n=7)
    assert x.shape == (7, 5)
    with pytest.raises(ValueError, match="dim"):
        ppca_model(None, q=2)


def test_pyro_bad_inputs():
    X = make_fa_data(n=20, d=4)
    with pytest.raises(ValueError, match="q"):
        ppca_svi(X, 4)
    with pytest.raises(ValueError, match="n_steps"):
        ppca_svi(X, 1, n_steps=0)
    with pytest.raises(ValueError, match="lr"):
        ppca_svi(X, 1, lr=0.0)
    with pytest.raises(ValueError, match="X"):
        ppca_svi(X[0], 1)
