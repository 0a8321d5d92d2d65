"""The numpy-BLAS route of the GMM E- and M-steps equals the torch route and the textbook formulas."""

import pytest
import torch

from ppl_models.mixtures import _blas, gmm_m_step, init_gmm
from ppl_models.mixtures.gmm import _log_gauss


def _data(n=500, d=4, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 5.0 * torch.randn(k, d, generator=g, dtype=torch.float64)
    z = torch.randint(k, (n,), generator=g)
    return centres[z] + torch.randn(n, d, generator=g, dtype=torch.float64), g


def test_numpy_ok_only_for_plain_cpu_float_tensors():
    x = torch.ones(2, 2, dtype=torch.float64)
    assert _blas.numpy_ok(x, x.float())
    assert not _blas.numpy_ok(x.requires_grad_())
    assert not _blas.numpy_ok(torch.ones(2, 2, dtype=torch.bfloat16))
    a = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(_blas.matmul(a.T, a), a.T @ a, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("ct", ["diag", "full"])
def test_log_gauss_numpy_route_equals_torch_route_and_scipy(ct):
    from scipy.stats import multivariate_normal

    X, g = _data()
    params = init_gmm(X, 3, ct, generator=g)
    fast = _log_gauss(params, X, chunk_size=128)
    slow = _log_gauss(params, X.clone().requires_grad_(), chunk_size=128).detach()  # torch route
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    for k in range(3):
        cov = params.covariances[k] if ct == "full" else torch.diag(params.covariances[k])
        ref = multivariate_normal(params.means[k].numpy(), cov.numpy()).logpdf(X.numpy())
        torch.testing.assert_close(fast[:, k], torch.as_tensor(ref), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ct", ["diag", "full"])
def test_m_step_numpy_route_equals_per_component_definition(ct):
    X, g = _data(n=700, d=5, k=4, seed=1)
    resp = torch.softmax(torch.randn(700, 4, generator=g, dtype=torch.float64), -1)
    fast = gmm_m_step(X, resp, ct, reg_covar=1e-6, chunk_size=100)
    slow = gmm_m_step(X.clone().requires_grad_(), resp, ct, reg_covar=1e-6, chunk_size=100)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-12, atol=1e-12)
    eps = 10 * torch.finfo(torch.float64).eps
    for k in range(4):  # Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg I
        nk = resp[:, k].sum() + eps
        mu = (resp[:, k:k + 1] * X).sum(0) / nk
        diff = X - mu
        cov = (resp[:, k, None] * diff).T @ diff / nk + 1e-6 * torch.eye(5, dtype=torch.float64)
        torch.testing.assert_close(fast.means[k], mu, rtol=1e-12, atol=1e-12)
        expect = cov if ct == "full" else torch.diagonal(cov)
        torch.testing.assert_close(fast.covariances[k], expect, rtol=1e-10, atol=1e-11)
    if ct == "full":
        assert torch.equal(fast.covariances, fast.covariances.transpose(-1, -2))
