"""ppl_models.metrics sample-quality metrics against closed forms, scipy, brute force and prdc."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ppl_models import metrics
from ppl_models.data import load_digits


def _rng(seed=0):
    return np.random.default_rng(seed)


def _spd(rng, f, cond=10.0):
    q, _ = np.linalg.qr(rng.standard_normal((f, f)))
    return (q * np.geomspace(1.0, cond, f)) @ q.T * rng.uniform(0.5, 2.0)


def _close(a, b, tol=1e-8):
    assert abs(a - b) <= tol * max(1.0, abs(b)), (a, b)


# ----------------------------------------------------------------------------- Fréchet distance
@pytest.mark.parametrize("f", [1, 3, 20])
def test_fd_diagonal_and_commuting_closed_form(f):
    rng = _rng(f)
    mu1, mu2 = rng.standard_normal(f), rng.standard_normal(f)
    a, b = rng.uniform(0.1, 3.0, f), rng.uniform(0.1, 3.0, f)
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    _close(metrics.frechet_distance_from_moments(mu1, np.diag(a), mu2, np.diag(b)), closed)
    q, _ = np.linalg.qr(rng.standard_normal((f, f)))  # commuting: shared eigenvectors
    _close(metrics.frechet_distance_from_moments(mu1, (q * a) @ q.T, mu2, (q * b) @ q.T), closed)


def test_fd_singular_covariance_closed_form():
    """Zero variances (a rank-deficient covariance) take the clipped-eigenvalue path."""
    a = np.array([0.0, 0.0, 1.5, 2.0, 0.3])
    b = np.array([1.0, 0.0, 0.5, 2.0, 0.0])
    closed = 4.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    mu2 = np.array([2.0, 0, 0, 0, 0])
    _close(metrics.frechet_distance_from_moments(np.zeros(5), np.diag(a), mu2, np.diag(b)), closed)


@pytest.mark.parametrize("f, seed", [(2, 0), (10, 1), (64, 2)])
def test_fd_general_against_scipy_sqrtm(f, seed):
    rng = _rng(seed)
    mu1, mu2 = rng.standard_normal(f), rng.standard_normal(f)
    s1, s2 = _spd(rng, f), _spd(rng, f)
    s1h = scipy.linalg.sqrtm(s1).real
    tr_a = np.trace(scipy.linalg.sqrtm(s1h @ s2 @ s1h).real)       # symmetric product
    tr_b = np.trace(scipy.linalg.sqrtm(s1 @ s2).real)               # pytorch-fid's form
    for tr in (tr_a, tr_b):
        ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr
        _close(metrics.frechet_distance_from_moments(mu1, s1, mu2, s2), ref)
        _close(metrics.frechet_distance_from_moments(torch.tensor(mu1), torch.tensor(s1),
                                                     torch.tensor(mu2), torch.tensor(s2)), ref)
    _close(metrics.frechet_distance_from_moments(mu2, s2, mu1, s1),
           metrics.frechet_distance_from_moments(mu1, s1, mu2, s2))


@pytest.mark.parametrize("n, m, f", [(50, 80, 3), (300, 200, 16), (20, 30, 40)])
def test_fd_from_features_equals_fd_from_empirical_moments(n, m, f):
    rng = _rng(n)
    x = rng.standard_normal((n, f)) @ rng.standard_normal((f, f))
    y = rng.standard_normal((m, f)) + 0.5
    ref = metrics.frechet_distance_from_moments(x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T))
    _close(metrics.frechet_distance(x, y), ref, 1e-12)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    _close(metrics.frechet_distance(torch.tensor(x32), torch.tensor(y32)),
           metrics.frechet_distance(x32, y32), 1e-12)
    assert abs(metrics.frechet_distance(x, x)) < 1e-9   # also when f > n (singular covariance)


# ----------------------------------------------------------------------------- PRDC
def _prdc_brute_force(real, fake, k):
    """Straight from the definitions, with loops and sorting (no partition, no matmul)."""
    def dist(u, v):
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(u, v, strict=True)))
    def radius(s, i):
        return sorted(dist(s[i], s[j]) for j in range(len(s)) if j != i)[k - 1]
    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    d = [[dist(x, y) for y in fake] for x in real]
    n, m = len(real), len(fake)
    precision = sum(any(d[i][j] < r_real[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(d[i][j] < r_fake[j] for j in range(m)) for i in range(n)) / n
    density = sum(d[i][j] < r_real[i] for i in range(n) for j in range(m)) / (k * m)
    coverage = sum(min(d[i]) < r_real[i] for i in range(n)) / n
    return precision, recall, density, coverage


@pytest.mark.parametrize("n, m, f, k", [(30, 40, 2, 1), (40, 25, 5, 3), (35, 35, 7, 5)])
def test_prdc_brute_force(n, m, f, k):
    rng = _rng(n + k)
    real, fake = rng.standard_normal((n, f)), 1.3 * rng.standard_normal((m, f)) + 0.4
    got = metrics.prdc(fake, real, k)
    np.testing.assert_allclose(
        [got.precision, got.recall, got.density, got.coverage], _prdc_brute_force(real, fake, k), atol=1e-12)


@pytest.mark.parametrize("n, m, f, k", [(100, 120, 5, 5), (200, 150, 32, 3), (60, 60, 2, 1),
                                        (300, 250, 84, 5), (150, 80, 128, 10)])
def test_prdc_equals_prdc_package(n, m, f, k):
    compute_prdc = pytest.importorskip("prdc").compute_prdc
    rng = _rng(n + m + f + k)
    real = rng.standard_normal((n, f))
    fake = 1.2 * rng.standard_normal((m, f)) + 0.3 * rng.standard_normal(f)
    ref = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    got = metrics.prdc(torch.tensor(fake), real, k)
    for name in ("precision", "recall", "density", "coverage"):
        assert abs(getattr(got, name) - float(ref[name])) < 1e-6, name
    assert 0 < got.precision < 1 and 0 < got.coverage < 1


# ----------------------------------------------------------------------------- kernel distances
def test_kernel_distance_brute_force():
    rng = _rng(3)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((9, 4)) + 0.2
    def k(a, b):
        return (np.dot(a, b) / 4 + 1) ** 3
    m, n = len(x), len(y)
    ref = (sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
           + sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
           - 2 * sum(k(a, b) for a in x for b in y) / (m * n))
    _close(metrics.kernel_distance(x, y), ref, 1e-12)


def test_kernel_distance_unbiased_and_positive():
    rng = _rng(4)
    same = [metrics.kernel_distance(rng.standard_normal((100, 5)), rng.standard_normal((100, 5)))
            for _ in range(200)]
    se = np.std(same, ddof=1) / math.sqrt(len(same))
    assert abs(np.mean(same)) < 3 * se
    assert min(same) < 0 < max(same)  # an unbiased estimator crosses zero
    diff = [metrics.kernel_distance(rng.standard_normal((100, 5)), rng.standard_normal((100, 5)) + 0.5)
            for _ in range(20)]
    assert np.mean(diff) > 20 * se and min(diff) > 0


def test_kernel_distance_subsets():
    rng = _rng(5)
    x, y = rng.standard_normal((60, 3)), rng.standard_normal((50, 3)) + 0.3
    full = metrics.kernel_distance(x, y)
    mean, std = metrics.kernel_distance_subsets(x, y, n_subsets=4, subset_size=50)
    g = np.random.default_rng(0)  # the documented draws: seed 0, x's rows then y's rows per subset
    ref = [metrics.kernel_distance(x[g.choice(60, 50, replace=False)], y[g.choice(50, 50, replace=False)])
           for _ in range(4)]
    _close(mean, np.mean(ref), 1e-12)
    _close(std, np.std(ref), 1e-12)
    # subsets of the full size are permutations, and the unbiased estimate ignores row order
    assert metrics.kernel_distance_subsets(x[:50], y, n_subsets=3, subset_size=50)[1] < 1e-12
    _close(metrics.kernel_distance_subsets(x[:50], y, n_subsets=3, subset_size=50)[0],
           metrics.kernel_distance(x[:50], y), 1e-12)
    assert full > 0


def test_mmd_rbf():
    rng = _rng(6)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((30, 3)) + 0.7
    assert abs(metrics.mmd_rbf(x, x)) < 1e-12
    _close(metrics.mmd_rbf(x, y), metrics.mmd_rbf(y, x), 1e-12)
    z = np.concatenate([x, y])
    h = np.median([np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(i + 1, len(z))])
    def k(a, b):
        return math.exp(-np.sum((a - b) ** 2) / (2 * h * h))
    ref = (np.mean([k(a, b) for a in x for b in x]) + np.mean([k(a, b) for a in y for b in y])
           - 2 * np.mean([k(a, b) for a in x for b in y]))
    _close(metrics.mmd_rbf(x, y), ref, 1e-12)
    w = rng.standard_normal((400, 3))
    assert metrics.mmd_rbf(w[:200], w[200:] + 0.7) > 10 * metrics.mmd_rbf(w[:200], w[200:])
    assert metrics.mmd_rbf(x, y, bandwidth=0.5) != metrics.mmd_rbf(x, y, bandwidth=2.0)


# ----------------------------------------------------------------------------- Wasserstein-2
def test_w2_one_dimensional_sorted_formula():
    rng = _rng(7)
    x, y = rng.standard_normal((200, 1)), rng.exponential(size=(200, 1))
    ref = math.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    _close(metrics.wasserstein2_empirical(x, y), ref, 1e-13)
    _close(metrics.wasserstein2_empirical(y, x), ref, 1e-13)


def test_w2_shift_and_brute_force():
    rng = _rng(8)
    x, v = rng.standard_normal((100, 5)), rng.standard_normal(5)
    _close(metrics.wasserstein2_empirical(x, x + v), float(np.linalg.norm(v)), 1e-12)
    assert metrics.wasserstein2_empirical(x, x[::-1]) == 0.0
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))   # all 720 couplings
    best = min(np.mean(np.sum((a - b[list(p)]) ** 2, axis=1)) for p in itertools.permutations(range(6)))
    _close(metrics.wasserstein2_empirical(torch.tensor(a), b), math.sqrt(best), 1e-13)


# ----------------------------------------------------------------------------- summary and floor
def test_sample_quality_combines_the_metrics():
    rng = _rng(9)
    s, r = rng.standard_normal((80, 6)) + 0.2, rng.standard_normal((90, 6))
    q = metrics.sample_quality(s, r, k=4)
    p = metrics.prdc(s, r, 4)
    assert q == metrics.SampleQuality(fd=metrics.frechet_distance(s, r), kd=metrics.kernel_distance(s, r),
                                      precision=p.precision, recall=p.recall, density=p.density,
                                      coverage=p.coverage)
    assert list(q.as_dict()) == ["fd", "kd", "precision", "recall", "density", "coverage"]
    assert q.row("model A") == {"model": "model A", **q.as_dict()}
    with pytest.raises(Exception):
        q.fd = 0.0  # frozen


def test_floor_on_digits():
    d = load_digits(device="cpu")
    calls = []
    def feats(x):
        calls.append(len(x))
        return x.reshape(len(x), -1)
    fl = metrics.floor(feats, d.x_train, d.x_test, n=300, seed=1)
    idx = torch.randperm(len(d.x_train), generator=torch.Generator().manual_seed(1))[:300]
    assert fl == metrics.sample_quality(d.x_train[idx].reshape(300, -1), d.x_test[:300].reshape(300, -1))
    assert fl == metrics.floor(feats, d.x_train, d.x_test, n=300, seed=1)
    assert calls == [300] * 4
    noise = torch.rand(300, 64, generator=torch.Generator().manual_seed(0))
    bad = metrics.sample_quality(noise, d.x_test[:300].reshape(300, -1))
    assert fl.fd < bad.fd / 5 and fl.precision > 0.5 > bad.precision and fl.coverage > bad.coverage


def test_compute_features_batches():
    x = torch.rand(30, 2, 3, dtype=torch.float64)
    calls = []
    def feats(b):
        calls.append(len(b))
        return b.reshape(len(b), -1) * 2
    out = metrics.compute_features(feats, x, batch_size=7)
    assert calls == [7, 7, 7, 7, 2] and out.dtype == np.float64
    np.testing.assert_array_equal(out, 2 * x.reshape(30, 6).numpy())


# ----------------------------------------------------------------------------- bad inputs
X = np.random.default_rng(0).standard_normal((20, 3))


@pytest.mark.parametrize("fn", [metrics.frechet_distance, metrics.kernel_distance, metrics.prdc,
                                metrics.sample_quality, metrics.kernel_distance_subsets])
def test_pairwise_metrics_bad_input(fn):
    names = ("x", "y") if fn is metrics.mmd_rbf else ("feats_samples", "feats_reference")
    with pytest.raises(ValueError, match=names[0]):
        fn(X[:, 0], X)                                      # not 2-D
    with pytest.raises(ValueError, match=names[1]):
        fn(X, X[:, :2])                                     # mismatched feature dims
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=f"{names[1]} contains NaN"):
        fn(X, bad)
    with pytest.raises(ValueError, match=names[0]):
        fn([[1.0, 2.0]] * 10, X[:, :2])                     # a list, not an array
    with pytest.raises(ValueError, match=names[0]):
        fn(X[:1], X)                                        # too few rows


@pytest.mark.parametrize("fn", [metrics.mmd_rbf, metrics.wasserstein2_empirical])
def test_xy_metrics_bad_input(fn):
    with pytest.raises(ValueError, match="x"):
        fn(X[None], X)
    with pytest.raises(ValueError, match="y"):
        fn(X, X[:, :1])
    with pytest.raises(ValueError, match="y contains NaN"):
        fn(X, np.full_like(X, np.inf))
    with pytest.raises(ValueError, match="x"):
        fn(np.array([["a", "b", "c"]]), X)


def test_specific_bad_inputs():
    with pytest.raises(ValueError, match="feats_reference needs at least 6"):
        metrics.prdc(X, X[:5], k=5)                         # n < k + 1
    for k in (0, True, 2.0):
        with pytest.raises(ValueError, match="k must"):
            metrics.prdc(X, X, k=k)
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.mmd_rbf(X, X, bandwidth=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.mmd_rbf(X, X, bandwidth=0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.mmd_rbf(np.ones((3, 2)), np.ones((3, 2)))   # median distance 0
    with pytest.raises(ValueError, match="y has 19 rows"):
        metrics.wasserstein2_empirical(X, X[:19])
    with pytest.raises(ValueError, match="subset_size"):
        metrics.kernel_distance_subsets(X, X, subset_size=21)
    with pytest.raises(ValueError, match="n_subsets"):
        metrics.kernel_distance_subsets(X, X, n_subsets=0, subset_size=5)
    with pytest.raises(ValueError, match="label"):
        metrics.sample_quality(X, X).row(3)


def test_frechet_moments_bad_input():
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="mu2"):
        metrics.frechet_distance_from_moments(mu, s, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="mu1"):
        metrics.frechet_distance_from_moments(s, s, mu, s)
    with pytest.raises(ValueError, match="sigma1 must have shape"):
        metrics.frechet_distance_from_moments(mu, np.eye(2), mu, s)
    with pytest.raises(ValueError, match="sigma2 must be symmetric"):
        metrics.frechet_distance_from_moments(mu, s, mu, np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="sigma1 must be positive semi-definite"):
        metrics.frechet_distance_from_moments(mu, -s, mu, s)
    with pytest.raises(ValueError, match="sigma2 contains NaN"):
        metrics.frechet_distance_from_moments(mu, s, mu, np.full((3, 3), np.nan))


def test_floor_and_features_bad_input():
    d = torch.rand(30, 4, 4)
    f = lambda x: x.reshape(len(x), -1)  # noqa: E731
    with pytest.raises(ValueError, match="feature_fn"):
        metrics.floor("flatten", d, d)
    with pytest.raises(ValueError, match="feature_fn must return"):
        metrics.floor(lambda x: x, d, d, n=10)
    with pytest.raises(ValueError, match="x_test"):
        metrics.floor(f, d, torch.rand(30, 4, 5), n=10)
    with pytest.raises(ValueError, match="x_train"):
        metrics.floor(f, d.numpy(), d, n=10)
    with pytest.raises(ValueError, match="n must be <="):
        metrics.floor(f, d, d[:20], n=25)
    with pytest.raises(ValueError, match="n must be"):
        metrics.floor(f, d, d, n=5)                          # n < k + 1
    with pytest.raises(ValueError, match="seed"):
        metrics.floor(f, d, d, n=10, seed=-1)
    with pytest.raises(ValueError, match="batch_size"):
        metrics.compute_features(f, d, batch_size=0)
    with pytest.raises(ValueError, match="x must be"):
        metrics.compute_features(f, d.numpy())
