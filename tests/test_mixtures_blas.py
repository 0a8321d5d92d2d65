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


@pytest.mark.parametrize("n,d,k,spread", [(500, 4, 3, 5.0), (2000, 8, 5, 5.0), (300, 2, 6, 5.0),
                                          (1500, 6, 4, 60.0)])  # 60: responsibilities far below 1e-308
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")  # the torch route's float(ll)
def test_diag_em_numpy_loop_equals_torch_route(n, d, k, spread):
    from ppl_models.mixtures import fit_gmm
    from ppl_models.mixtures.em import _DiagNumpyEM

    g = torch.Generator().manual_seed(n + k)
    centres = spread * torch.randn(k, d, generator=g, dtype=torch.float64)
    X = centres[torch.randint(k, (n,), generator=g)] + torch.randn(n, d, generator=g, dtype=torch.float64)
    init = init_gmm(X, k, "diag", generator=g)
    fast = fit_gmm(X, k, "diag", init=init, max_iter=12, tol=0.0)  # the numpy loop (_DiagNumpyEM)
    slow = fit_gmm(X.clone().requires_grad_(), k, "diag", init=init, max_iter=12, tol=0.0)  # torch route
    torch.testing.assert_close(fast.history, slow.history.detach(), rtol=1e-10, atol=1e-10)
    for a, b in zip(fast.params, slow.params, strict=True):
        assert a.dtype == b.dtype == torch.float64
        torch.testing.assert_close(a, b.detach(), rtol=1e-10, atol=1e-10)
    ll, resp = _DiagNumpyEM(X, 1e-6).e_step(fast.params)
    assert resp.min() == 0.0 or spread < 10  # flushed, not subnormal
    assert not ((resp > 0) & (resp < torch.finfo(torch.float64).tiny)).any()


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_diag_em_numpy_loop_keeps_empty_components():
    from ppl_models.mixtures import GMMParams, fit_gmm

    X, g = _data(n=400, d=3, k=2, seed=4)
    far = torch.tensor([[1e3, 1e3, 1e3]], dtype=torch.float64)  # a component no point can reach
    init = init_gmm(X, 2, "diag", generator=g)
    init = GMMParams(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64), torch.cat([init.means, far]),
                     torch.cat([init.covariances, torch.ones(1, 3, dtype=torch.float64)]))
    fast = fit_gmm(X, 3, "diag", init=init, max_iter=5, tol=0.0)
    slow = fit_gmm(X.clone().requires_grad_(), 3, "diag", init=init, max_iter=5, tol=0.0)
    assert torch.equal(fast.params.means[2], far[0])
    for a, b in zip(fast.params, slow.params, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-10, atol=1e-10)
