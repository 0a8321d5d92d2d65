"""Oracle tests for ppl_models.hmm inference (float64): brute force over all K^T paths, batching,
variable lengths, parallel scan == sequential, posterior sampling, and a T = 1,000,000 sequence."""

import itertools
import math

import pytest
import torch

from ppl_models.hmm import inference, parallel

TOL = 1e-6
IMPLS = [pytest.param(inference, id="sequential"), pytest.param(parallel, id="parallel")]



def _model(k, seed=0, batch=(), t=5):
    g = torch.Generator().manual_seed(seed)
    log_init = torch.log_softmax(torch.randn(k, generator=g, dtype=torch.float64), -1)
    log_trans = torch.log_softmax(torch.randn(k, k, generator=g, dtype=torch.float64), -1)
    log_lik = torch.randn(*batch, t, k, generator=g, dtype=torch.float64)
    return log_init, log_trans, log_lik


def _brute(log_init, log_trans, log_lik):
    """Every path's joint log-probability -> (log Z, marginals, counts, best path, best log-prob)."""
    t, k = log_lik.shape
    paths = torch.tensor(list(itertools.product(range(k), repeat=t)))  # (K^T, T)
    lp = log_init[paths[:, 0]] + log_lik[torch.arange(t), paths].sum(-1)
    lp = lp + log_trans[paths[:, :-1], paths[:, 1:]].sum(-1)
    log_z = torch.logsumexp(lp, 0)
    w = torch.exp(lp - log_z)
    onehot = torch.nn.functional.one_hot(paths, k).to(w.dtype)  # (P, T, K)
    marg = torch.einsum("p,ptk->tk", w, onehot)
    counts = torch.einsum("p,pti,ptj->ij", w, onehot[:, :-1], onehot[:, 1:])
    best = lp.argmax()
    return log_z, marg, counts, paths[best], lp[best], w, paths


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("k,t", [(2, 1), (2, 7), (3, 6), (4, 4)])
def test_against_brute_force(impl, k, t):
    log_init, log_trans, log_lik = _model(k, seed=k * 10 + t, t=t)
    log_z, marg, counts, path, best, _, _ = _brute(log_init, log_trans, log_lik)
    post = impl.hmm_smoother(log_init, log_trans, log_lik)
    assert abs(post.marginal_loglik - log_z) < TOL
    assert abs(impl.hmm_log_likelihood(log_init, log_trans, log_lik) - log_z) < TOL
    torch.testing.assert_close(post.smoothed_probs, marg, atol=TOL, rtol=0)
    torch.testing.assert_close(post.trans_counts, counts, atol=TOL, rtol=0)
    vit = impl.hmm_viterbi(log_init, log_trans, log_lik)
    assert torch.equal(vit.path, path)
    assert abs(vit.log_prob - best) < TOL
    # filtered marginal at the last step equals the smoothed one
    filt = impl.hmm_filter(log_init, log_trans, log_lik).filtered_probs
    torch.testing.assert_close(filt[-1], marg[-1], atol=TOL, rtol=0)


def test_filter_against_brute_force_prefixes():
    log_init, log_trans, log_lik = _model(3, seed=3, t=5)
    filt = inference.hmm_filter(log_init, log_trans, log_lik).filtered_probs
    for t in range(1, 6):
        _, marg, *_ = _brute(log_init, log_trans, log_lik[:t])
        torch.testing.assert_close(filt[t - 1], marg[-1], atol=TOL, rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
def test_batched_equals_one_at_a_time(impl):
    log_init, log_trans, log_lik = _model(3, seed=1, batch=(2, 3), t=12)
    post = impl.hmm_smoother(log_init, log_trans, log_lik)
    vit = impl.hmm_viterbi(log_init, log_trans, log_lik)
    for i, j in itertools.product(range(2), range(3)):
        one = impl.hmm_smoother(log_init, log_trans, log_lik[i, j])
        for a, b in zip(post, one, strict=True):
            torch.testing.assert_close(a[i, j], b, atol=1e-10, rtol=0)
        assert torch.equal(vit.path[i, j], impl.hmm_viterbi(log_init, log_trans, log_lik[i, j]).path)


@pytest.mark.parametrize("impl", IMPLS)
def test_masked_lengths_equal_separate_runs(impl):
    log_init, log_trans, log_lik = _model(3, seed=2, batch=(4,), t=9)
    lengths = torch.tensor([9, 1, 5, 8])
    post = impl.hmm_smoother(log_init, log_trans, log_lik, lengths)
    vit = impl.hmm_viterbi(log_init, log_trans, log_lik, lengths)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    draws = impl.hmm_sample_posterior(log_init, log_trans, log_lik, 3, g1, lengths)
    for b, n in enumerate(lengths.tolist()):
        one = impl.hmm_smoother(log_init, log_trans, log_lik[b, :n])
        assert abs(post.marginal_loglik[b] - one.marginal_loglik) < 1e-10
        for name in ("filtered_probs", "smoothed_probs"):
            torch.testing.assert_close(getattr(post, name)[b, :n], getattr(one, name), atol=1e-10, rtol=0)
            assert (getattr(post, name)[b, n:] == 0).all()
        torch.testing.assert_close(post.trans_counts[b], one.trans_counts, atol=1e-10, rtol=0)
        v1 = impl.hmm_viterbi(log_init, log_trans, log_lik[b, :n])
        assert torch.equal(vit.path[b, :n], v1.path) and (vit.path[b, n:] == -1).all()
        assert abs(vit.log_prob[b] - v1.log_prob) < 1e-10
        assert (draws[:, b, n:] == -1).all() and (draws[:, b, :n] >= 0).all()
    assert torch.equal(draws, inference.hmm_sample_posterior(log_init, log_trans, log_lik, 3, g2, lengths))


def test_parallel_equals_sequential_long_batch():
    log_init, log_trans, log_lik = _model(4, seed=4, batch=(3,), t=1500)
    lengths = torch.tensor([1500, 777, 1024])
    a = inference.hmm_smoother(log_init, log_trans, log_lik, lengths)
    b = parallel.hmm_smoother(log_init, log_trans, log_lik, lengths)
    torch.testing.assert_close(a.marginal_loglik, b.marginal_loglik, atol=1e-8, rtol=0)
    for x, y in zip(a[1:], b[1:], strict=True):
        torch.testing.assert_close(x, y, atol=1e-8, rtol=0)
    va = inference.hmm_viterbi(log_init, log_trans, log_lik, lengths)
    vb = parallel.hmm_viterbi(log_init, log_trans, log_lik, lengths)
    assert torch.equal(va.path, vb.path)
    torch.testing.assert_close(va.log_prob, vb.log_prob, atol=1e-8, rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
def test_posterior_samples_match_exact_path_posterior(impl):
    """Empirical path frequencies of 40,000 draws vs the brute-force posterior over 2^4 paths."""
    log_init, log_trans, log_lik = _model(2, seed=6, t=4)
    *_, w, paths = _brute(log_init, log_trans, log_lik)
    draws = impl.hmm_sample_posterior(log_init, log_trans, log_lik, 40_000, torch.Generator().manual_seed(0))
    codes = (draws * (2 ** torch.arange(3, -1, -1))).sum(-1)
    freq = torch.bincount(codes, minlength=16).double() / draws.shape[0]
    ref = w[(paths * (2 ** torch.arange(3, -1, -1))).sum(-1).argsort()]
    assert (freq - ref).abs().max() < 0.01  # > 4 standard errors for p <= 0.5 at n = 40,000


def test_parallel_samples_equal_sequential_samples():
    log_init, log_trans, log_lik = _model(3, seed=7, batch=(2,), t=50)
    a = inference.hmm_sample_posterior(log_init, log_trans, log_lik, 8, torch.Generator().manual_seed(3))
    b = parallel.hmm_sample_posterior(log_init, log_trans, log_lik, 8, torch.Generator().manual_seed(3))
    assert a.shape == (8, 2, 50) and torch.equal(a, b)


def _iid_states_model(k, t, seed):
    """Transition rows all equal to pi: log p(x) = sum_t logsumexp_k(log pi_k + log_lik_tk) exactly."""
    g = torch.Generator().manual_seed(seed)
    log_pi = torch.log_softmax(torch.randn(k, generator=g, dtype=torch.float64), -1)
    log_lik = -1.0 - torch.rand(t, k, generator=g, dtype=torch.float64)  # p(x) < e^-1 per step
    exact = torch.logsumexp(log_pi + log_lik, -1).sum()
    return log_pi, log_pi.expand(k, k).clone(), log_lik, exact


def test_sequential_no_underflow_long_sequence():
    """T = 10,000: p(x) < e^-10000 underflows any float; log space does not."""
    log_pi, log_trans, log_lik, exact = _iid_states_model(2, 10_000, seed=8)
    assert torch.exp(exact) == 0
    got = inference.hmm_log_likelihood(log_pi, log_trans, log_lik)
    assert abs(got - exact) < 1e-8 * abs(exact)


@pytest.mark.slow
def test_parallel_million_steps():
    """T = 1,000,000, K = 2 by the parallel scan (the sequential Python loop would take minutes on a
    shared CPU): finite, exact to 1e-9 relative, and a few hundred MB at most."""
    log_pi, log_trans, log_lik, exact = _iid_states_model(2, 1_000_000, seed=9)
    got = parallel.hmm_log_likelihood(log_pi, log_trans, log_lik)
    assert math.isfinite(got) and abs(got - exact) < 1e-9 * abs(exact)
