"""ppl_models.hmm against hmmlearn (float64): score, predict_proba, decode and Baum-Welch steps."""

import numpy as np
import pytest
import torch
from hmmlearn import hmm as hl

from ppl_models import hmm
from ppl_models.hmm import parallel

K = 3
N_SEQ, T = 4, 40
TOL = 1e-6


def _rand_params(gen, k=K):
    init = torch.distributions.Dirichlet(torch.ones(k, dtype=torch.float64)).sample()
    trans = torch.distributions.Dirichlet(torch.ones(k, k, dtype=torch.float64) + 3 * torch.eye(k)).sample()
    return init, trans


def _case(family, seed=0, n_iter=1):
    """(emission, our params, data (N, T, ...), hmmlearn model with the same parameters)."""
    torch.manual_seed(seed)
    init, trans = _rand_params(None)
    gen = torch.Generator().manual_seed(seed)
    if family == "categorical":
        em = hmm.categorical_emission()
        probs = torch.distributions.Dirichlet(torch.ones(K, 5, dtype=torch.float64)).sample()
        ep = hmm.CategoricalParams(probs)
        model = hl.CategoricalHMM(n_components=K, n_features=5, init_params="",
                                  n_iter=n_iter, tol=-np.inf)
        model.emissionprob_ = ep.probs.numpy()
    elif family in ("diag", "full"):
        d = 2
        means = 2 * torch.randn(K, d, dtype=torch.float64)
        if family == "diag":
            em = hmm.gaussian_diag_emission(reg_covar=0.0)
            ep = hmm.GaussianDiagParams(means, 0.5 + torch.rand(K, d, dtype=torch.float64))
            cov = ep.variances.numpy()
        else:
            em = hmm.gaussian_full_emission(reg_covar=0.0)
            a = torch.randn(K, d, d, dtype=torch.float64)
            eye = torch.eye(d, dtype=torch.float64)
            ep = hmm.GaussianFullParams(means, a @ a.transpose(-1, -2) + 0.5 * eye)
            cov = ep.covariances.numpy()
        model = hl.GaussianHMM(n_components=K, covariance_type=family, init_params="",
                               n_iter=n_iter, tol=-np.inf,
                               covars_prior=0.0, covars_weight=1.0, min_covar=0.0)
        model.means_ = means.numpy()
        model.covars_ = cov
    else:
        em = hmm.poisson_emission()
        ep = hmm.PoissonParams(torch.tensor([[1.0, 4.0], [6.0, 2.0], [15.0, 9.0]], dtype=torch.float64))
        model = hl.PoissonHMM(n_components=K, init_params="", n_iter=n_iter, tol=-np.inf)
        model.lambdas_ = ep.rates.numpy()
    params = hmm.HMMParams(init, trans, ep)
    model.startprob_, model.transmat_ = init.numpy(), trans.numpy()
    _, x = hmm.sample_hmm(params, em, T, (N_SEQ,), gen)
    return em, params, x, model


def _to_hmmlearn(x):
    arr = x.numpy()
    arr = arr.reshape(-1, 1) if arr.ndim == 2 else arr.reshape(-1, arr.shape[-1])
    return arr.astype(np.int64) if arr.dtype.kind == "i" else arr, [x.shape[1]] * x.shape[0]


FAMILIES = ["categorical", "diag", "full", "poisson"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("impl", [hmm, parallel], ids=["sequential", "parallel"])
def test_inference_matches_hmmlearn(family, impl):
    em, params, x, model = _case(family)
    xs, lengths = _to_hmmlearn(x)
    terms = hmm.hmm_log_lik_terms(x, params, em)
    post = impl.hmm_smoother(*terms)
    vit = impl.hmm_viterbi(*terms)
    assert abs(float(post.marginal_loglik.sum()) - model.score(xs, lengths)) < TOL
    np.testing.assert_allclose(post.smoothed_probs.reshape(-1, K).numpy(), model.predict_proba(xs, lengths),
                               atol=TOL, rtol=0)
    lp, states = model.decode(xs, lengths, algorithm="viterbi")
    assert abs(float(vit.log_prob.sum()) - lp) < TOL
    np.testing.assert_array_equal(vit.path.reshape(-1).numpy(), states)


@pytest.mark.parametrize("family", FAMILIES)
def test_baum_welch_matches_hmmlearn(family):
    """Same start, same number of iterations -> same parameters and log-likelihood history."""
    n_iter = 5
    em, params, x, model = _case(family, seed=1, n_iter=n_iter)
    xs, lengths = _to_hmmlearn(x)
    model.fit(xs, lengths)
    fit = hmm.fit_hmm(x, K, em, init=params, n_restarts=1, n_iter=n_iter, tol=-np.inf)
    ours = fit.params
    assert len(fit.history) == n_iter == model.monitor_.iter
    hist = list(model.monitor_.history)  # hmmlearn keeps the last two E-step log-likelihoods
    np.testing.assert_allclose(fit.history[-len(hist):].numpy(), hist, atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.initial_probs.numpy(), model.startprob_, atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.transition_matrix.numpy(), model.transmat_, atol=TOL, rtol=0)
    ref = {"categorical": ("probs", "emissionprob_"), "poisson": ("rates", "lambdas_")}
    if family in ref:
        a, b = ref[family]
        np.testing.assert_allclose(getattr(ours.emission, a).numpy(), getattr(model, b), atol=TOL, rtol=0)
    else:
        np.testing.assert_allclose(ours.emission.means.numpy(), model.means_, atol=TOL, rtol=0)
        cov = ours.emission.variances if family == "diag" else ours.emission.covariances
        np.testing.assert_allclose(cov.numpy(), model._covars_, atol=TOL, rtol=0)
