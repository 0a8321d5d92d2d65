"""Baum-Welch: monotone log-likelihood, restarts, recovery of a known model, sampling and BIC."""

import math

import pytest
import torch

from ppl_models import hmm
from ppl_models.hmm import parallel

F64 = torch.float64



def _truth():
    trans = torch.tensor([[0.95, 0.05], [0.1, 0.9]], dtype=F64)
    return hmm.HMMParams(torch.tensor([0.7, 0.3], dtype=F64), trans,
                         hmm.PoissonParams(torch.tensor([[2.0], [12.0]], dtype=F64)))


def test_sample_hmm_statistics():
    params, em = _truth(), hmm.poisson_emission()
    z, x = hmm.sample_hmm(params, em, 400, (50,), torch.Generator().manual_seed(0))
    assert z.shape == (50, 400) and x.shape == (50, 400, 1)
    trans = torch.zeros(2, 2, dtype=F64).index_put_((z[:, :-1].reshape(-1), z[:, 1:].reshape(-1)),
                                                    torch.ones(50 * 399, dtype=F64), accumulate=True)
    freq = trans / trans.sum(-1, keepdim=True)
    torch.testing.assert_close(freq, params.transition_matrix, atol=0.01, rtol=0)
    for k, rate in enumerate([2.0, 12.0]):
        assert abs(x[z == k].mean() - rate) < 0.1 * math.sqrt(rate)


def test_em_monotone_and_recovers_truth():
    params, em = _truth(), hmm.poisson_emission()
    _, x = hmm.sample_hmm(params, em, 300, (4,), torch.Generator().manual_seed(1))
    fit = hmm.fit_hmm(x, 2, em, n_restarts=3, n_iter=200, tol=1e-8, seed=0)
    assert (fit.history.diff() >= -1e-9).all() and fit.converged
    assert fit.log_likelihood == pytest.approx(float(fit.restart_log_likelihoods.max()))
    order = fit.params.emission.rates[:, 0].argsort()  # undo label switching
    torch.testing.assert_close(fit.params.emission.rates[order], params.emission.rates, atol=0.5, rtol=0)
    torch.testing.assert_close(fit.params.transition_matrix[order][:, order], params.transition_matrix,
                               atol=0.05, rtol=0)
    # the fit is at least as likely as the truth (it maximises the likelihood)
    truth_ll = float(hmm.hmm_log_likelihood(*hmm.hmm_log_lik_terms(x, params, em)).sum())
    assert fit.log_likelihood >= truth_ll


def test_em_with_parallel_smoother_and_lengths_equals_sequential():
    params, em = _truth(), hmm.poisson_emission()
    _, x = hmm.sample_hmm(params, em, 60, (3,), torch.Generator().manual_seed(2))
    lengths = torch.tensor([60, 35, 12])
    a = hmm.fit_hmm(x, 2, em, lengths=lengths, n_restarts=2, n_iter=10, tol=-1.0)
    b = hmm.fit_hmm(x, 2, em, lengths=lengths, n_restarts=2, n_iter=10, tol=-1.0,
                    smoother=parallel.hmm_smoother)
    torch.testing.assert_close(a.restart_log_likelihoods, b.restart_log_likelihoods, atol=1e-8, rtol=0)
    # one restart, so near-tied (label-switched) restarts cannot pick different winners
    a = hmm.fit_hmm(x, 2, em, lengths=lengths, n_restarts=1, n_iter=10, tol=-1.0)
    b = hmm.fit_hmm(x, 2, em, lengths=lengths, n_restarts=1, n_iter=10, tol=-1.0,
                    smoother=parallel.hmm_smoother)
    torch.testing.assert_close(a.history, b.history, atol=1e-8, rtol=0)
    torch.testing.assert_close(a.params.emission.rates, b.params.emission.rates, atol=1e-8, rtol=0)
    # padded steps are ignored: the sequences cut to length give the same E-step log-likelihood
    parts = [hmm.hmm_log_likelihood(*hmm.hmm_log_lik_terms(x[i, :n], a.params, em))
             for i, n in enumerate([60, 35, 12])]
    total = float(hmm.hmm_log_likelihood(*hmm.hmm_log_lik_terms(x, a.params, em), lengths).sum())
    assert total == pytest.approx(float(sum(parts)), abs=1e-8)


@pytest.mark.parametrize("factory", [hmm.categorical_emission, hmm.gaussian_diag_emission,
                                     hmm.gaussian_full_emission])
def test_fit_runs_for_every_emission(factory):
    em = factory()
    x = torch.randint(0, 4, (2, 30)) if em.event_dims == 0 else torch.randn(2, 30, 2, dtype=F64)
    fit = hmm.fit_hmm(x, 2, em, n_restarts=2, n_iter=15)
    assert (fit.history.diff() >= -1e-9).all() and math.isfinite(fit.log_likelihood)


def test_bic_counts_parameters():
    params, em = _truth(), hmm.poisson_emission()
    n_free = 1 + 2 + 2  # initial, transitions, rates
    assert hmm.bic(-100.0, params, em, 50) == pytest.approx(200.0 + n_free * math.log(50))
