"""Gaussian-mixture EM: oracles (scikit-learn, scipy, brute force), monotonicity, degenerate
cases and bad input."""

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from ppl_models.mixtures import (
    EMPTY_COUNT,
    GMMConfig,
    GMMParams,
    fit_gmm,
    gmm_bic,
    gmm_component_log_prob,
    gmm_e_step,
    gmm_log_likelihood,
    gmm_m_step,
    gmm_n_parameters,
    gmm_responsibilities,
    gmm_sample,
    init_gmm,
    kmeans_plusplus,
    precision_cholesky,
)

TYPES = ["full", "diag"]



def _blobs(n=300, d=3, k=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.randn(k, d, generator=g, dtype=dtype)
    z = torch.randint(k, (n,), generator=g)
    scale = 0.5 + torch.rand(k, d, generator=g, dtype=dtype)
    return centres[z] + scale[z] * torch.randn(n, d, generator=g, dtype=dtype)


def _sklearn_from(params: GMMParams, max_iter: int, reg_covar=1e-6):
    cov = params.covariances.numpy()
    prec = np.linalg.inv(cov) if params.covariance_type == "full" else 1.0 / cov
    return GaussianMixture(params.n_components, covariance_type=params.covariance_type,
                           max_iter=max_iter, tol=0.0, reg_covar=reg_covar,
                           weights_init=params.weights.numpy(), means_init=params.means.numpy(),
                           precisions_init=prec)


@pytest.mark.parametrize("ct", TYPES)
def test_em_equals_sklearn_from_same_init(ct):
    X = _blobs()
    init = init_gmm(X, 3, ct, generator=torch.Generator().manual_seed(1))
    fit = fit_gmm(X, 3, ct, init=init, max_iter=25, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = _sklearn_from(init, 25).fit(X.numpy())
    np.testing.assert_allclose(fit.params.weights.numpy(), sk.weights_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.params.means.numpy(), sk.means_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.params.covariances.numpy(), sk.covariances_, rtol=0, atol=1e-9)
    # sklearn's lower_bounds_[i] is the mean log-likelihood entering iteration i + 1
    np.testing.assert_allclose(fit.history[:-1].numpy(), sk.lower_bounds_, rtol=0, atol=1e-9)
    assert abs(float(fit.history[-1]) - sk.score(X.numpy())) < 1e-9
    assert fit.n_iter == 25 and not fit.converged


@pytest.mark.parametrize("ct", TYPES)
def test_densities_equal_scipy_and_sklearn(ct):
    X = _blobs(n=50, d=4, seed=2)
    p = fit_gmm(X, 3, ct, max_iter=5, seed=3).params
    cov = p.covariances if ct == "full" else torch.diag_embed(p.covariances)
    brute = np.log(sum(float(p.weights[k]) * multivariate_normal(p.means[k].numpy(), cov[k].numpy())
                       .pdf(X.numpy()) for k in range(3)))
    np.testing.assert_allclose(gmm_log_likelihood(p, X).numpy(), brute, rtol=0, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = _sklearn_from(p, 1).fit(X.numpy())
    sk.weights_, sk.means_ = p.weights.numpy(), p.means.numpy()
    sk.covariances_ = p.covariances.numpy()
    sk.precisions_cholesky_ = precision_cholesky(p.covariances).numpy()
    np.testing.assert_allclose(gmm_responsibilities(p, X).numpy(), sk.predict_proba(X.numpy()),
                               rtol=0, atol=1e-9)
    assert abs(gmm_bic(p, X) - sk.bic(X.numpy())) < 1e-7
    assert gmm_n_parameters(p) == sk._n_parameters()


def test_chunking_does_not_change_results():
    X = _blobs(n=101, seed=4)
    p = fit_gmm(X, 3, "full", max_iter=3).params
    for ct_params in (p, GMMParams(p.weights, p.means, torch.diagonal(p.covariances, dim1=1, dim2=2))):
        a = gmm_component_log_prob(ct_params, X)
        b = gmm_component_log_prob(ct_params, X, chunk_size=7)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ct", TYPES)
def test_log_likelihood_never_decreases_on_random_problems(ct):
    for seed in range(30):
        g = torch.Generator().manual_seed(seed)
        n, d, k = 40 + 10 * seed, 1 + seed % 4, 2 + seed % 4
        X = torch.randn(n, d, generator=g, dtype=torch.float64) * (1 + seed % 3)
        fit = fit_gmm(X, k, ct, init="random" if seed % 2 else "kmeans++", max_iter=40, tol=0.0,
                      seed=seed)
        steps = torch.diff(fit.history)
        assert steps.min() > -1e-10, (seed, steps.min())


def test_em_step_functions_compose_to_fit():
    X = _blobs(n=120, seed=5)
    init = init_gmm(X, 3, "full", generator=torch.Generator().manual_seed(0))
    ll0, log_r = gmm_e_step(init, X)
    p1 = gmm_m_step(X, log_r.exp(), "full")
    fit = fit_gmm(X, 3, "full", init=init, max_iter=1, tol=0.0)
    assert abs(float(ll0) - float(fit.history[0])) < 1e-12
    for a, b in zip(p1, fit.params, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_restarts_keep_the_best_and_convergence_flag():
    X = _blobs(n=200, k=4, seed=6)
    singles = [fit_gmm(X, 4, "diag", seed=s, max_iter=200, tol=1e-8) for s in range(3)]
    best = fit_gmm(X, 4, "diag", n_init=3, seed=0, max_iter=200, tol=1e-8)
    assert float(best.history[-1]) >= max(float(f.history[-1]) for f in singles[:1]) - 1e-12
    assert best.converged and best.n_iter < 200
    assert abs(float(best.history[-1] - best.history[-2])) < 1e-8


def test_float32_matches_float64():
    X = _blobs(n=300, seed=7)
    init = init_gmm(X, 3, "full", generator=torch.Generator().manual_seed(0))
    f64 = fit_gmm(X, 3, "full", init=init, max_iter=20, tol=0.0)
    f32 = fit_gmm(X.float(), 3, "full", init=init.to(torch.float32), max_iter=20, tol=0.0)
    assert f32.params.means.dtype == torch.float32
    torch.testing.assert_close(f32.params.means.double(), f64.params.means, rtol=0, atol=1e-3)
    assert abs(float(f32.history[-1] - f64.history[-1])) < 1e-4


def test_empty_component_keeps_previous_parameters():
    X = _blobs(n=150, d=2, k=2, seed=8)
    init = init_gmm(X, 3, "full", generator=torch.Generator().manual_seed(0))
    far = init.means.clone()
    far[2] = 1e3  # this component explains no point at all
    init = GMMParams(init.weights, far, init.covariances)
    fit = fit_gmm(X, 3, "full", init=init, max_iter=10, tol=0.0)
    assert torch.isfinite(fit.history).all()
    assert float(fit.params.weights[2]) < EMPTY_COUNT / 150
    torch.testing.assert_close(fit.params.means[2], far[2])
    assert torch.diff(fit.history).min() > -1e-10


def test_empty_component_without_previous_gets_data_moments():
    X = _blobs(n=60, d=2, seed=9)
    resp = torch.zeros(60, 2, dtype=torch.float64)
    resp[:, 0] = 1.0
    p = gmm_m_step(X, resp, "diag")
    torch.testing.assert_close(p.means[1], X.mean(0))
    torch.testing.assert_close(p.covariances[1], X.var(0, unbiased=False) + 1e-6)


@pytest.mark.parametrize("ct", TYPES)
def test_duplicated_points_and_more_dims_than_points(ct):
    base = _blobs(n=4, d=3, seed=10)
    dup = base.repeat(25, 1)  # 4 distinct points, 100 rows
    fit = fit_gmm(dup, 4, ct, max_iter=20, seed=0)
    assert torch.isfinite(fit.history).all() and torch.isfinite(fit.params.covariances).all()
    wide = _blobs(n=10, d=30, seed=11)  # D > N
    fit = fit_gmm(wide, 2, ct, max_iter=20, reg_covar=1e-3)
    assert torch.isfinite(fit.history).all()
    assert torch.diff(fit.history).min() > -1e-8


def test_zero_reg_covar_on_singular_data_is_a_clear_error():
    dup = _blobs(n=3, d=2, seed=12).repeat(10, 1)
    with pytest.raises(ValueError, match="reg_covar"):
        fit_gmm(dup, 3, "full", reg_covar=0.0, max_iter=5)


def test_sample_moments_and_reproducibility():
    p = GMMParams(torch.tensor([0.3, 0.7], dtype=torch.float64),
                  torch.tensor([[-2.0, 0.0], [3.0, 1.0]], dtype=torch.float64),
                  torch.tensor([[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.2]]], dtype=torch.float64))
    s = gmm_sample(p, 40_000, torch.Generator().manual_seed(0))
    s2 = gmm_sample(p, 40_000, torch.Generator().manual_seed(0))
    assert torch.equal(s.x, s2.x) and s.x.shape == (40_000, 2) and s.z.dtype == torch.int64
    frac = (s.z == 0).double().mean()
    assert abs(float(frac) - 0.3) < 4 * (0.3 * 0.7 / 40_000) ** 0.5
    x0 = s.x[s.z == 0]
    se = (torch.diagonal(p.covariances[0]) / len(x0)).sqrt()
    assert ((x0.mean(0) - p.means[0]).abs() < 4 * se).all()
    torch.testing.assert_close(torch.cov(x0.T), p.covariances[0], rtol=0, atol=0.06)


def test_kmeans_plusplus_spreads_seeds():
    X = _blobs(n=300, d=2, k=3, seed=13) * 10.0
    labels = GaussianMixture(3, random_state=0).fit(X.numpy()).predict(X.numpy())
    idx = kmeans_plusplus(X, 3, torch.Generator().manual_seed(0))
    assert len(set(labels[idx.numpy()])) == 3
    assert torch.equal(idx, kmeans_plusplus(X, 3, torch.Generator().manual_seed(0)))


def test_config_smoke():
    cfg = GMMConfig(n_components=4)
    assert cfg.smoke().n_init == 1 and cfg.smoke().max_iter <= 30
    X = _blobs(n=80, seed=14)
    from dataclasses import asdict
    assert fit_gmm(X, **asdict(cfg.smoke())).params.n_components == 4


# ----------------------------------------------------------------------------- bad input
def _params():
    return fit_gmm(_blobs(n=30, seed=15), 2, "full", max_iter=2).params


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_components=0), "n_components"),
    (dict(n_components=31), "n_components"),
    (dict(n_components=2, covariance_type="tied"), "covariance_type"),
    (dict(n_components=2, init="bogus"), "init"),
    (dict(n_components=2, max_iter=-1), "max_iter"),
    (dict(n_components=2, tol=-1.0), "tol"),
    (dict(n_components=2, n_init=0), "n_init"),
    (dict(n_components=2, reg_covar=-1e-3), "reg_covar"),
    (dict(n_components=2, seed=-1), "seed"),
    (dict(n_components=2, chunk_size=0), "chunk_size"),
    (dict(n_components=3), "init"),  # init params with 2 components
])
def test_fit_gmm_bad_arguments(kwargs, match):
    X = _blobs(n=30, seed=15)
    if match == "init" and "init" not in kwargs:
        kwargs["init"] = _params()
    with pytest.raises(ValueError, match=match):
        fit_gmm(X, **kwargs)


def test_bad_data_is_rejected_everywhere():
    X = _blobs(n=30, seed=15)
    bad = X.clone()
    bad[0, 0] = float("nan")
    p = _params()
    free = [lambda Z: fit_gmm(Z, 2), lambda Z: kmeans_plusplus(Z, 2), lambda Z: init_gmm(Z, 2)]
    with_params = [lambda Z: gmm_log_likelihood(p, Z), lambda Z: gmm_responsibilities(p, Z),
                   lambda Z: gmm_component_log_prob(p, Z), lambda Z: gmm_e_step(p, Z),
                   lambda Z: gmm_bic(p, Z)]
    for fn in free + with_params:
        for Z in (bad, X[:, 0], X.long(), X[:0]):
            with pytest.raises(ValueError, match="X"):
                fn(Z)
    for fn in with_params:
        with pytest.raises(ValueError, match="X"):
            fn(X[:, :2])
    with pytest.raises(ValueError, match="X"):
        fit_gmm([[0.0, 1.0]], 1)


def test_bad_params_are_rejected():
    p = _params()
    X = _blobs(n=30, seed=15)
    cases = [
        (GMMParams(p.weights * 2, p.means, p.covariances), "weights"),
        (GMMParams(-p.weights, p.means, p.covariances), "weights"),
        (GMMParams(p.weights[:1], p.means, p.covariances), "weights"),
        (GMMParams(p.weights, p.means[:, :2], p.covariances), "covariances"),
        (GMMParams(p.weights, p.means, p.covariances[:, 0]), "covariances"),
        (GMMParams(p.weights, p.means.float(), p.covariances), "dtype"),
        (GMMParams(p.weights, p.means * float("nan"), p.covariances), "means"),
        ((p.weights, p.means), "params"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            gmm_log_likelihood(bad, X)
    not_pd = GMMParams(p.weights, p.means, -p.covariances)
    with pytest.raises(ValueError, match="covariances"):
        gmm_log_likelihood(not_pd, X)
    with pytest.raises(ValueError, match="covariances"):
        precision_cholesky(-p.covariances[:, 0])
    for n in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n"):
            gmm_sample(p, n)
    with pytest.raises(ValueError, match="params"):
        gmm_n_parameters((p.weights,))


def test_m_step_bad_arguments():
    X = _blobs(n=30, seed=15)
    r = torch.full((30, 2), 0.5, dtype=torch.float64)
    for kwargs, match in [(dict(resp=r[:5]), "resp"), (dict(resp=-r), "resp"),
                          (dict(resp=r, covariance_type="x"), "covariance_type"),
                          (dict(resp=r, reg_covar=-1.0), "reg_covar")]:
        with pytest.raises(ValueError, match=match):
            gmm_m_step(X, **kwargs)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_plusplus(X, 0)
    with pytest.raises(ValueError, match="n_components"):
        init_gmm(X, 40)
