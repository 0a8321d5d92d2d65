"""PPCA: closed form, EM, density, posterior and sampling against independent references."""

import math

import pytest
import torch
from sklearn.decomposition import PCA

from ppl_models.ppca import (
    PPCAParams,
    ppca_em,
    ppca_log_likelihood,
    ppca_mle,
    ppca_posterior,
    ppca_sample,
    principal_angles,
)

F64 = torch.float64



def make_data(n=400, d=8, q=2, noise=0.5, seed=0, dtype=F64):
    """Data from a PPCA model with a moderate signal-to-noise ratio (EM converges fast)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d, q, generator=g, dtype=F64)
    mu = torch.randn(d, generator=g, dtype=F64)
    z = torch.randn(n, q, generator=g, dtype=F64)
    x = z @ W.T + mu + noise * torch.randn(n, d, generator=g, dtype=F64)
    return x.to(dtype)


def full_cov(p: PPCAParams) -> torch.Tensor:
    return p.W @ p.W.T + p.sigma2 * torch.eye(p.W.shape[0], dtype=p.W.dtype)


def sklearn_params(pca: PCA) -> PPCAParams:
    """scikit-learn's PPCA: W = V (diag(explained_variance) - sigma^2)^{1/2}, from the n-1 covariance."""
    scale = (pca.explained_variance_ - pca.noise_variance_) ** 0.5
    return PPCAParams(torch.tensor(pca.mean_), torch.tensor(pca.components_.T * scale),
                      torch.tensor(pca.noise_variance_))


def test_log_likelihood_equals_dense_gaussian():
    X = make_data()
    p = ppca_mle(X, 2)
    ref = torch.distributions.MultivariateNormal(p.mean, full_cov(p)).log_prob(X)
    torch.testing.assert_close(ppca_log_likelihood(p, X), ref, rtol=0, atol=1e-10)


def test_log_likelihood_equals_sklearn_score_samples():
    X = make_data()
    pca = PCA(n_components=2, svd_solver="full").fit(X.numpy())
    ours = ppca_log_likelihood(sklearn_params(pca), X)
    torch.testing.assert_close(ours, torch.tensor(pca.score_samples(X.numpy())), rtol=0, atol=1e-9)


def test_mle_is_sklearn_rescaled_and_scores_higher():
    X = make_data(n=60)
    n = X.shape[0]
    p = ppca_mle(X, 2)
    pca = PCA(n_components=2, svd_solver="full").fit(X.numpy())
    # sklearn uses the 1/(n-1) covariance: the same solution scaled by n/(n-1)
    torch.testing.assert_close(full_cov(p) * n / (n - 1), torch.tensor(pca.get_covariance()),
                               rtol=0, atol=1e-10)
    assert math.isclose(float(p.sigma2) * n / (n - 1), pca.noise_variance_, rel_tol=1e-10)
    assert ppca_log_likelihood(p, X).mean() > ppca_log_likelihood(sklearn_params(pca), X).mean()


def test_mle_is_a_local_maximum():
    X = make_data(seed=3)
    p = ppca_mle(X, 2)
    best = ppca_log_likelihood(p, X).mean()
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        dW = 1e-3 * torch.randn(p.W.shape, generator=g, dtype=F64)
        for cand in (PPCAParams(p.mean, p.W + dW, p.sigma2), PPCAParams(p.mean, p.W, p.sigma2 * 1.001),
                     PPCAParams(p.mean + 1e-3, p.W, p.sigma2)):
            assert ppca_log_likelihood(cand, X).mean() < best


def test_em_converges_to_closed_form():
    X = make_data(noise=1.0)  # EM's rate is about 1 - 2 sigma^2 / lambda_q: slow at low noise
    p = ppca_mle(X, 2)
    r = ppca_em(X, 2, n_iter=300, tol=0.0, seed=0)
    torch.testing.assert_close(r.params.W @ r.params.W.T, p.W @ p.W.T, rtol=0, atol=1e-8)
    assert abs(float(r.params.sigma2 - p.sigma2)) < 1e-10
    assert principal_angles(r.params.W, p.W).max() < 1e-6
    assert abs(float(r.history[-1] - ppca_log_likelihood(p, X).mean())) < 1e-10
    assert r.history.shape == (301,)


def test_em_history_is_exact_and_monotone_on_random_problems():
    for seed in range(12):
        d = 4 + seed % 5
        X = make_data(n=30 + 7 * seed, d=d, q=1 + seed % 3, noise=0.2 + 0.1 * seed, seed=seed)
        r = ppca_em(X, 1 + seed % 3, n_iter=40, tol=0.0, seed=seed)
        assert (r.history.diff() > -1e-10).all(), seed
        ll = ppca_log_likelihood(r.params, X).mean()
        assert abs(float(ll - r.history[-1])) < 1e-10


def test_em_stops_at_tol_and_accepts_init():
    X = make_data()
    r = ppca_em(X, 2, n_iter=1000, tol=1e-6)
    assert r.converged and r.n_iter < 1000
    warm = ppca_em(X, 2, n_iter=5, tol=0.0, init=r.params)
    assert warm.history[0] >= r.history[-1] - 1e-12


def test_posterior_equals_gaussian_conditioning():
    X = make_data()[:20]
    p = ppca_mle(X, 2)
    C = full_cov(p)
    gain = torch.linalg.solve(C, p.W).T  # (q, D) = W^T C^{-1}
    ref_mean = (X - p.mean) @ gain.T
    ref_cov = torch.eye(2, dtype=F64) - gain @ p.W
    mean, cov = ppca_posterior(p, X)
    torch.testing.assert_close(mean, ref_mean, rtol=0, atol=1e-10)
    torch.testing.assert_close(cov, ref_cov, rtol=0, atol=1e-10)


def test_sample_moments_and_reproducibility():
    X = make_data(d=5)
    p = ppca_mle(X, 2)
    s = ppca_sample(p, 100_000, generator=torch.Generator().manual_seed(0))
    assert s.shape == (100_000, 5) and s.dtype == F64
    torch.testing.assert_close(s.mean(0), p.mean, rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(s.T), full_cov(p), rtol=0.03, atol=0.03)
    a = ppca_sample(p, 3, generator=torch.Generator().manual_seed(5))
    b = ppca_sample(p, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_float32_keeps_dtype():
    X = make_data(dtype=torch.float32)
    p = ppca_mle(X, 2)
    assert p.W.dtype == torch.float32 and p.sigma2.ndim == 0
    assert ppca_log_likelihood(p, X).dtype == torch.float32
    assert ppca_em(X, 2, n_iter=3).params.W.dtype == torch.float32


def test_principal_angles_known_values():
    e = torch.eye(3, dtype=F64)
    theta = 0.3
    b = torch.tensor([[math.cos(theta)], [math.sin(theta)], [0.0]], dtype=F64)
    torch.testing.assert_close(principal_angles(e[:, :1], b), torch.tensor([theta], dtype=F64))
    torch.testing.assert_close(principal_angles(e[:, :2], 5 * e[:, [1, 0]]), torch.zeros(2, dtype=F64),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(principal_angles(e[:, :1], e[:, 2:]), torch.tensor([math.pi / 2], dtype=F64))


def test_mle_singular_residual():
    X = make_data(n=3, d=6)  # the centred data span 2 dimensions
    with pytest.raises(ValueError, match="q"):
        ppca_mle(X, 2)
    p = ppca_mle(X, 2, min_sigma2=1e-3)
    assert float(p.sigma2) == pytest.approx(1e-3)


@pytest.mark.parametrize("bad, match", [
    (torch.ones(5), "X"), (torch.ones(5, 3, dtype=torch.int64), "X"),
    (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), "X"), ([[1.0, 2.0]], "X"),
])
def test_bad_data(bad, match):
    with pytest.raises(ValueError, match=match):
        ppca_mle(bad, 1)
    with pytest.raises(ValueError, match=match):
        ppca_em(bad, 1)


def test_bad_arguments():
    X = make_data()
    p = ppca_mle(X, 2)
    for q in (0, 8, 1.5, True):
        with pytest.raises(ValueError, match="q"):
            ppca_mle(X, q)
    with pytest.raises(ValueError, match="min_sigma2"):
        ppca_mle(X, 2, min_sigma2=-1.0)
    with pytest.raises(ValueError, match="n_iter"):
        ppca_em(X, 2, n_iter=0)
    with pytest.raises(ValueError, match="tol"):
        ppca_em(X, 2, tol=-1.0)
    with pytest.raises(ValueError, match="seed"):
        ppca_em(X, 2, seed=-1)
    with pytest.raises(ValueError, match="init"):
        ppca_em(X, 2, init=ppca_mle(X, 1))
    with pytest.raises(ValueError, match="X"):
        ppca_log_likelihood(p, X[:, :3])
    with pytest.raises(ValueError, match="sigma2"):
        ppca_log_likelihood(PPCAParams(p.mean, p.W, torch.tensor(-1.0, dtype=F64)), X)
    with pytest.raises(ValueError, match="W"):
        ppca_posterior(PPCAParams(p.mean, p.W[:3], p.sigma2), X)
    with pytest.raises(ValueError, match="X"):
        ppca_posterior(p, torch.full((2, 8), float("inf"), dtype=F64))
    with pytest.raises(ValueError, match="n"):
        ppca_sample(p, 0)
    with pytest.raises(ValueError, match="generator"):
        ppca_sample(p, 2, generator=0)
    with pytest.raises(ValueError, match="params"):
        ppca_sample((p.mean, p.W), 2)
    with pytest.raises(ValueError, match="A"):
        principal_angles(torch.ones(3), p.W)
    with pytest.raises(ValueError, match="rows"):
        principal_angles(p.W, p.W[:3])
